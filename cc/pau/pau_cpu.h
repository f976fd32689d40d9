// CPU evaluation of Padé Activation Units over contiguous arrays.
//
// x is viewed as rows of `width` columns (the last row may be short); column c
// uses coefficient set c. A per-channel PAU has width = channels; a shared one
// has width = kLanes<S> with the same set in every column, so that both run
// the same vectorised loop. Each entry point is compiled once per instruction
// set (AVX-512, AVX2+FMA, baseline x86-64) and chosen at run time.
#ifndef TF_APPROX_CC_PAU_PAU_CPU_H_
#define TF_APPROX_CC_PAU_PAU_CPU_H_

#include <cstdint>

#include "cc/pau/pau.h"

namespace tf_approx {
namespace pau {

template <typename S>
struct Problem {
  int m = 5;  // numerator degree
  int n = 4;  // denominator degree
  Denominator denominator = Denominator::kSafe;
  int64_t size = 0;   // elements of x
  int64_t width = 1;  // columns
  // [m + 1 + n][width]: a_0..a_m then b_1..b_n, coefficient j of column c at
  // coefficients[j * width + c].
  const S* coefficients = nullptr;
  S far = 1;  // FarRadius
  bool randomized = false;
  S alpha = 0;
  NoiseKey key;

  int NumCoefficients() const { return m + 1 + n; }
  int64_t Rows() const { return width == 0 ? 0 : (size + width - 1) / width; }
};

// y = F(x) for the elements of rows [row_begin, row_end).
void Forward(const Problem<float>& p, const float* x, float* y,
             int64_t row_begin, int64_t row_end);
void Forward(const Problem<double>& p, const double* x, double* y,
             int64_t row_begin, int64_t row_end);

// dx = dy F'(x) for rows [row_begin, row_end), and adds the coefficient
// gradients of those rows to grad ([m + 1 + n][width], laid out as
// coefficients). The order of every sum depends only on the rows given, so
// fixed row ranges give bitwise-reproducible results.
void Backward(const Problem<float>& p, const float* x, const float* dy,
              float* dx, int64_t row_begin, int64_t row_end, double* grad);
void Backward(const Problem<double>& p, const double* x, const double* dy,
              double* dx, int64_t row_begin, int64_t row_end, double* grad);

}  // namespace pau
}  // namespace tf_approx

#endif  // TF_APPROX_CC_PAU_PAU_CPU_H_
