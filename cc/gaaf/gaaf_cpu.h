// CPU evaluation of GAAF over contiguous arrays. Each entry point is compiled
// once per instruction set (AVX-512, AVX2+FMA, baseline x86-64) and chosen at
// run time.
#ifndef TF_APPROX_CC_GAAF_GAAF_CPU_H_
#define TF_APPROX_CC_GAAF_GAAF_CPU_H_

#include <cstdint>

#include "cc/gaaf/gaaf.h"

namespace tf_approx {
namespace gaaf {

// y = phi(x) + g(x) s(x) for elements [begin, end). x and y may alias.
void Forward(const Problem<float>& p, const float* x, float* y, int64_t begin,
             int64_t end);
void Forward(const Problem<double>& p, const double* x, double* y,
             int64_t begin, int64_t end);

// dx = dy (phi'(x) + s(x) + g(x) s'(x)) for elements [begin, end). dx may
// alias dy.
void Backward(const Problem<float>& p, const float* x, const float* dy,
              float* dx, int64_t begin, int64_t end);
void Backward(const Problem<double>& p, const double* x, const double* dy,
              double* dx, int64_t begin, int64_t end);

}  // namespace gaaf
}  // namespace tf_approx

#endif  // TF_APPROX_CC_GAAF_GAAF_CPU_H_
