// The math of the fast Walsh–Hadamard transform and Adaptive Fastfood
// (thesis §3.9), written once.
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

#include "cc/common/dispatch.h"
#include "cc/common/platform.h"
#include "cc/common/row_sums.h"

namespace tf_approx {
namespace fastfood {

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

// Adaptive Fastfood on rows of x ([rows, n_in]) giving rows of y
// ([rows, units]): `blocks` = ceil(units / d) independent blocks
// S_k H G_k Π_k H B_k, stacked and truncated to units (below).
template <typename S>
struct Problem {
  int64_t n_in = 1;    // input features, <= d
  int64_t units = 1;   // outputs
  int64_t d = 1;       // block size, a power of two
  int64_t blocks = 1;  // ceil(units / d)
  S scale = 1;         // of each H: 1, or 1/sqrt(d)
  // [blocks, d] each.
  const S* s = nullptr;
  const S* g = nullptr;
  const S* b = nullptr;
  const int32_t* perm = nullptr;
};

// The parameter gradients' sums over rows (batch) run in chunks fixed by the
// shapes alone, on either device (row_sums.h): about kChunkElements /
// (blocks * d) rows each; the chunks' sums are added in order, in double.
constexpr int64_t kChunkElements = 65536;

// Rows a chunk, for `rows` rows of `params` = blocks * d parameters.
TFA_INLINE int64_t ChunkRows(int64_t rows, int64_t params) {
  return SumChunkRows(rows, kChunkElements / params);
}

// ---------------------------------------------------------------------------
// Adaptive Fastfood, one block of d outputs: y = S H G Π H B x, x zero-padded
// from n_in <= d to d, S, G, B diagonal (vectors of d), (Π v)_i = v_perm[i].
// `transform(v)` applies c H to d contiguous elements in place, c = 1 or
// 1/sqrt(d); the CPU passes its blocked FWHT, a GPU thread block its own.

// The forward pass, keeping what the backward pass needs (thesis eq. 3.12):
// h_g = Π c H B x and h_s = c H G h_g; the block's output is S h_s. h_pi is
// scratch. All buffers hold d elements.
template <typename S, typename Transform>
TFA_INLINE void ForwardBlock(const S* x, int64_t n_in, int64_t d, const S* b,
                             const S* g, const int32_t* perm, S* h_pi, S* h_g,
                             S* h_s, Transform&& transform) {
  for (int64_t i = 0; i < n_in; ++i) h_pi[i] = b[i] * x[i];
  for (int64_t i = n_in; i < d; ++i) h_pi[i] = S(0);
  transform(h_pi);
  for (int64_t i = 0; i < d; ++i) {
    h_g[i] = h_pi[perm[i]];
    h_s[i] = g[i] * h_g[i];
  }
  transform(h_s);
}

// The backward pass of one block (thesis eq. 3.11, 3.13), given the first
// n_out <= d output gradients dy (the rest were truncated away: zero) and
// h_g, h_s from ForwardBlock: adds dE/dS, dE/dG, dE/dB to ds, dg, db and
// dE/dx to dx[0, n_in). work and work2 are scratch of d elements.
template <typename S, typename Transform>
TFA_INLINE void BackwardBlock(
    const S* dy, int64_t n_out, const S* x, int64_t n_in, int64_t d, const S* s,
    const S* g, const S* b, const int32_t* perm, const S* h_g, const S* h_s,
    S* work, S* work2, S* dx, S* ds, S* dg, S* db, Transform&& transform) {
  for (int64_t i = 0; i < n_out; ++i) {
    ds[i] += dy[i] * h_s[i];
    work[i] = s[i] * dy[i];
  }
  for (int64_t i = n_out; i < d; ++i) work[i] = S(0);
  transform(work);  // dE/dh_H1 = c H^T S dy
  for (int64_t i = 0; i < d; ++i) {
    dg[i] += work[i] * h_g[i];
    work2[perm[i]] = g[i] * work[i];  // dE/dh_Pi = Π^T G dE/dh_H1
  }
  transform(work2);  // dE/dh_H2 = c H^T dE/dh_Pi
  for (int64_t i = 0; i < n_in; ++i) {
    db[i] += work2[i] * x[i];
    dx[i] += b[i] * work2[i];
  }
}

}  // namespace fastfood
}  // namespace tf_approx

#endif  // TF_APPROX_CC_FASTFOOD_FASTFOOD_H_
