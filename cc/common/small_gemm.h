// A small dense matrix product on GCC vectors, for the recurrent layers: one
// time step multiplies a [batch, units] state by a [units, 4 units] kernel,
// too small for a library call's overhead and needed inside one op.
//
// C = A B (or C += A B), row-major with leading dimensions, any sizes. Blocks
// of rows by vectors of C stay in registers while k runs; every element of C
// is computed by the same vector operations, summing over k in increasing
// order, whatever the blocking, so a caller that splits C's rows or columns
// among threads gets the same bits for any split. Compiled into the caller: call it from a function with
// TFA_CPU_CLONES (cc/common/cpu_vector.h) to get each instruction set's code.
#ifndef TF_APPROX_CC_COMMON_SMALL_GEMM_H_
#define TF_APPROX_CC_COMMON_SMALL_GEMM_H_

#include <cstdint>
#include <cstring>

#include "cc/common/cpu_vector.h"
#include "cc/common/lanes.h"

namespace tf_approx {
namespace gemm {

// The first `count` lanes of a vector at p (the rest 0), and their store.
template <typename S>
TFA_INLINE Vec<S> LoadPart(const S* p, int64_t count) {
  Vec<S> v = {};
  std::memcpy(&v, p, sizeof(S) * count);
  return v;
}

template <typename S>
TFA_INLINE void StorePart(S* p, Vec<S> v, int64_t count) {
  std::memcpy(p, &v, sizeof(S) * count);
}

// A kRows x kVectors-vectors block of C; with `part` > 0 one vector of which
// only the first `part` columns exist (the columns past a multiple of the
// lanes: computed with the same vector operations as the others, so that an
// element's bits do not depend on where a caller's column split falls).
template <int kRows, int kVectors, typename S>
TFA_INLINE void Block(const S* a, int64_t lda, const S* b, int64_t ldb, S* c,
                      int64_t ldc, int64_t k, bool accumulate,
                      int64_t part = 0) {
  using V = Vec<S>;
  auto load = [part](const S* q) TFA_LAMBDA_INLINE {
    return part > 0 ? LoadPart(q, part) : Load(q);
  };
  V acc[kRows][kVectors];
  for (int r = 0; r < kRows; ++r) {
    for (int v = 0; v < kVectors; ++v) {
      acc[r][v] = accumulate ? load(c + r * ldc + v * kLanes<S>) : V{};
    }
  }
  for (int64_t p = 0; p < k; ++p) {
    const S* row = b + p * ldb;
    V bv[kVectors];
    for (int v = 0; v < kVectors; ++v) bv[v] = load(row + v * kLanes<S>);
    for (int r = 0; r < kRows; ++r) {
      const V ar = Splat<V>(a[r * lda + p]);
      for (int v = 0; v < kVectors; ++v) acc[r][v] += ar * bv[v];
    }
  }
  for (int r = 0; r < kRows; ++r) {
    for (int v = 0; v < kVectors; ++v) {
      if (part > 0) {
        StorePart(c + r * ldc + v * kLanes<S>, acc[r][v], part);
      } else {
        Store(c + r * ldc + v * kLanes<S>, acc[r][v]);
      }
    }
  }
}

// The rows [0, m) of one column strip of kVectors vectors (part: see Block).
template <int kVectors, typename S>
TFA_INLINE void Strip(const S* a, int64_t lda, const S* b, int64_t ldb, S* c,
                      int64_t ldc, int64_t m, int64_t k, bool accumulate,
                      int64_t part = 0) {
  // Six rows by four vectors: 24 accumulators, the most that leave registers
  // for B's vectors with 32 vector registers (measured on Zen 5: ~100 GFLOPS
  // float32 on one core at [50, 128] x [128, 512], TensorFlow's MatMul 97).
  constexpr int kRows = 6;
  int64_t i = 0;
  for (; i + kRows <= m; i += kRows) {
    Block<kRows, kVectors>(a + i * lda, lda, b, ldb, c + i * ldc, ldc, k,
                           accumulate, part);
  }
  for (; i < m; ++i) {
    Block<1, kVectors>(a + i * lda, lda, b, ldb, c + i * ldc, ldc, k,
                       accumulate, part);
  }
}

// C[m, n] = A[m, k] B[k, n] (accumulate: C += A B) for k <= kDepth.
template <typename S>
TFA_INLINE void MultiplyPanel(const S* a, int64_t lda, const S* b, int64_t ldb,
                              S* c, int64_t ldc, int64_t m, int64_t k,
                              int64_t n, bool accumulate) {
  constexpr int64_t kLanesS = kLanes<S>;
  int64_t j = 0;
  for (; j + 4 * kLanesS <= n; j += 4 * kLanesS) {
    Strip<4>(a, lda, b + j, ldb, c + j, ldc, m, k, accumulate);
  }
  for (; j + kLanesS <= n; j += kLanesS) {
    Strip<1>(a, lda, b + j, ldb, c + j, ldc, m, k, accumulate);
  }
  if (j < n) {
    Strip<1>(a, lda, b + j, ldb, c + j, ldc, m, k, accumulate, n - j);
  }
}

// Rows of B taken at a time: a strip of them (kDepth x 4 vectors, 32 KB of
// float32) stays in the L1 cache while every row block of A passes it.
constexpr int64_t kDepth = 128;

// C[m, n] = A[m, k] B[k, n] (accumulate: C += A B), k in panels of kDepth
// added to C in turn.
template <typename S>
TFA_INLINE void Multiply(const S* a, int64_t lda, const S* b, int64_t ldb,
                         S* c, int64_t ldc, int64_t m, int64_t k, int64_t n,
                         bool accumulate) {
  if (k == 0 && !accumulate) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = S(0);
    }
  }
  for (int64_t p = 0; p < k; p += kDepth) {
    MultiplyPanel(a + p, lda, b + p * ldb, ldb, c, ldc, m,
                  k - p < kDepth ? k - p : kDepth, n, accumulate || p > 0);
  }
}

}  // namespace gemm
}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_SMALL_GEMM_H_
