// CPU evaluation of the approximated activations over contiguous arrays.
//
// Each entry point is compiled once per instruction set (AVX-512, AVX2+FMA,
// baseline x86-64) and the loader picks one at run time, so one binary runs on
// any x86-64 and uses the widest vectors the machine has.
#ifndef TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_CPU_H_
#define TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_CPU_H_

#include <cstdint>

#include "cc/activations/activations.h"

namespace tf_approx {
namespace activations {

// y[i] = f(x[i]).
void Forward(const Params<float>& p, const float* x, float* y, int64_t n);
void Forward(const Params<double>& p, const double* x, double* y, int64_t n);

// dx[i] = dy[i] * f'(x[i]).
void Backward(const Params<float>& p, const float* x, const float* dy,
              float* dx, int64_t n);
void Backward(const Params<double>& p, const double* x, const double* dy,
              double* dx, int64_t n);

// Forward and Backward on `rows` rows of n elements, row r of x at
// x + r * ldx (and so on): y[r][i] = f(x[r][i]), dx[r][i] = dy[r][i] f'(x[r][i]).
void ForwardRows(const Params<float>& p, const float* x, int64_t ldx,
                 float* y, int64_t ldy, int64_t rows, int64_t n);
void ForwardRows(const Params<double>& p, const double* x, int64_t ldx,
                 double* y, int64_t ldy, int64_t rows, int64_t n);
void BackwardRows(const Params<float>& p, const float* x, int64_t ldx,
                  const float* dy, int64_t lddy, float* dx, int64_t lddx,
                  int64_t rows, int64_t n);
void BackwardRows(const Params<double>& p, const double* x, int64_t ldx,
                  const double* dy, int64_t lddy, double* dx, int64_t lddx,
                  int64_t rows, int64_t n);

}  // namespace activations
}  // namespace tf_approx

#endif  // TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_CPU_H_
