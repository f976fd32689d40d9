// CPU evaluation of the noisy activations over contiguous arrays.
//
// x is viewed as rows of `width` columns (the last row may be short); column c
// uses p[c]. A per-unit p has width = units; a shared one width = kLanes<S>
// with the same p in every column, so that both run the same vectorised loop.
// Each entry point is compiled once per instruction set (AVX-512, AVX2+FMA,
// baseline x86-64) and chosen at run time.
#ifndef TF_APPROX_CC_NOISY_NOISY_CPU_H_
#define TF_APPROX_CC_NOISY_NOISY_CPU_H_

#include <cstdint>

#include "cc/noisy/noisy.h"

namespace tf_approx {
namespace noisy {

template <typename S>
struct Problem {
  Params<S> params;
  Where where = Where::kOutput;
  bool training = false;  // draw noise (else eps = its mean)
  bool half_normal = false;
  NoiseKey key;
  int64_t size = 0;      // elements of x
  int64_t width = 1;     // columns
  const S* p = nullptr;  // [width]

  int64_t Rows() const { return width == 0 ? 0 : (size + width - 1) / width; }
};

// y = phi(x) for the elements of rows [row_begin, row_end).
void Forward(const Problem<float>& p, const float* x, float* y,
             int64_t row_begin, int64_t row_end);
void Forward(const Problem<double>& p, const double* x, double* y,
             int64_t row_begin, int64_t row_end);

// dx = dy phi'(x) for rows [row_begin, row_end), and adds dy dphi/dp of those
// rows to dp[width]. The order of every sum depends only on the rows given, so
// fixed row ranges give bitwise-reproducible results.
void Backward(const Problem<float>& p, const float* x, const float* dy,
              float* dx, int64_t row_begin, int64_t row_end, double* dp);
void Backward(const Problem<double>& p, const double* x, const double* dy,
              double* dx, int64_t row_begin, int64_t row_end, double* dp);

}  // namespace noisy
}  // namespace tf_approx

#endif  // TF_APPROX_CC_NOISY_NOISY_CPU_H_
