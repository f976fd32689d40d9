// CPU loops of ACDC and of the orthonormal DCTs (acdc.h).
//
// Rows are transformed kLanes at a time, one row per vector lane, so the FFT
// runs on full vectors whatever n is; each lane computes its own row only. A
// group's rows are gathered into a transposed scratch, every step of the
// layer is done there, and the results are scattered back: each row is read
// and written once. Rows longer than kMaxVectorLength go one at a time
// instead, to keep the scratch small. Each entry point is compiled once per
// instruction set and chosen at run time.
#ifndef TF_APPROX_CC_ACDC_ACDC_CPU_H_
#define TF_APPROX_CC_ACDC_ACDC_CPU_H_

#include <cstdint>

#include "cc/acdc/acdc.h"

namespace tf_approx {
namespace acdc {

// y = IDCT(DCT(x ⊙ a) ⊙ d + bias) for rows [row_begin, row_end) of x and y
// ([rows, n]).
void Forward(const Problem<float>& p, const float* x, float* y,
             int64_t row_begin, int64_t row_end);
void Forward(const Problem<double>& p, const double* x, double* y,
             int64_t row_begin, int64_t row_end);

// dx for rows [row_begin, row_end), and adds those rows' gradients of a, d
// and bias to grad ([3][n]: da, dd, dbias), summed in a fixed order. h2 is
// recomputed from x, never stored.
void Backward(const Problem<float>& p, const float* dy, const float* x,
              float* dx, int64_t row_begin, int64_t row_end, float* grad);
void Backward(const Problem<double>& p, const double* dy, const double* x,
              double* dx, int64_t row_begin, int64_t row_end, double* grad);

// The orthonormal DCT-II (inverse = false) or DCT-III (inverse = true) of
// rows [row_begin, row_end) of x into y ([rows, n]; x may equal y).
void Dct(const Plan<float>& plan, bool inverse, const float* x, float* y,
         int64_t row_begin, int64_t row_end);
void Dct(const Plan<double>& plan, bool inverse, const double* x, double* y,
         int64_t row_begin, int64_t row_end);

}  // namespace acdc
}  // namespace tf_approx

#endif  // TF_APPROX_CC_ACDC_ACDC_CPU_H_
