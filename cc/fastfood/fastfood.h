// The math of the fast Walsh–Hadamard transform and Adaptive Fastfood
// (SPEC §3), written once.
//
// H_1 = [1], H_2d = [[H_d, H_d], [H_d, -H_d]] (Sylvester order, as
// scipy.linalg.hadamard). H_d x is computed in place by log2(d) stages of
// butterflies (a, b) -> (a + b, a - b); stage s pairs the elements 2^s apart.
// H is symmetric and H H = d I, so the transform is its own gradient and,
// scaled by 1/sqrt(d), its own inverse.
//
// Every CPU path (vectorised, blocked, split over threads) performs the same
// additions on the same operands in the same order as Fwht below, only
// scheduled differently: results are bitwise identical to it, for any
// blocking and thread count. No TensorFlow includes: shared by the CPU
// kernels, the CUDA kernels and the native module.
#ifndef TF_APPROX_CC_FASTFOOD_FASTFOOD_H_
#define TF_APPROX_CC_FASTFOOD_FASTFOOD_H_

#include <cstdint>

#include "cc/common/platform.h"

namespace tf_approx {
namespace fastfood {

TFA_INLINE bool IsPowerOfTwo(int64_t d) { return d > 0 && (d & (d - 1)) == 0; }

// log2(d) for a power of two d.
TFA_INLINE int Log2(int64_t d) {
  int k = 0;
  while ((int64_t{1} << k) < d) ++k;
  return k;
}

// (a, b) -> (a + b, a - b). V is a scalar or a GCC vector of them.
template <typename V>
TFA_INLINE void Butterfly(V* a, V* b) {
  const V sum = *a + *b;
  *b = *a - *b;
  *a = sum;
}

// The stages with strides first, 2 first, ... below `last` on x[0, n), n a
// multiple of 2 (last / 2): with first = 1 and last = n, x <- H_n x.
template <typename S>
TFA_INLINE void FwhtStages(S* x, int64_t n, int64_t first, int64_t last) {
  for (int64_t h = first; h < last; h *= 2) {
    for (int64_t i = 0; i < n; i += 2 * h) {
      for (int64_t j = i; j < i + h; ++j) Butterfly(x + j, x + j + h);
    }
  }
}

// x <- H_d x, d a power of two.
template <typename S>
TFA_INLINE void Fwht(S* x, int64_t d) {
  FwhtStages(x, d, 1, d);
}

}  // namespace fastfood
}  // namespace tf_approx

#endif  // TF_APPROX_CC_FASTFOOD_FASTFOOD_H_
