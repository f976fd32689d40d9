// A small dense matrix product on GCC vectors, for the recurrent layers: one
// time step multiplies a [batch, units] state by a [units, 4 units] kernel,
// too small for a library call's overhead and needed inside one op.
//
// C = A B (or C += A B), row-major with leading dimensions, any sizes. Blocks
// of kRows rows by kCols vectors of C stay in registers while k runs; every
// element of C is the sum over k in increasing order whatever the blocking,
// so a caller that splits C's rows or columns among threads gets the same
// bits for any split. Compiled into the caller: call it from a function with
// TFA_CPU_CLONES (cc/common/cpu_vector.h) to get each instruction set's code.
#ifndef TF_APPROX_CC_COMMON_SMALL_GEMM_H_
#define TF_APPROX_CC_COMMON_SMALL_GEMM_H_

#include <cstdint>

#include "cc/common/cpu_vector.h"
#include "cc/common/lanes.h"

namespace tf_approx {
namespace gemm {

// A rows x kVectors-vectors block of C (kVectors = 0: one column).
template <int kRows, int kVectors, typename S>
TFA_INLINE void Block(const S* a, int64_t lda, const S* b, int64_t ldb, S* c,
                      int64_t ldc, int64_t k, bool accumulate) {
  if constexpr (kVectors == 0) {
    for (int r = 0; r < kRows; ++r) {
      S acc = accumulate ? c[r * ldc] : S(0);
      for (int64_t p = 0; p < k; ++p) acc += a[r * lda + p] * b[p * ldb];
      c[r * ldc] = acc;
    }
  } else {
    using V = Vec<S>;
    V acc[kRows][kVectors];
    for (int r = 0; r < kRows; ++r) {
      for (int v = 0; v < kVectors; ++v) {
        acc[r][v] = accumulate ? Load(c + r * ldc + v * kLanes<S>) : V{};
      }
    }
    for (int64_t p = 0; p < k; ++p) {
      const S* row = b + p * ldb;
      V bv[kVectors];
      for (int v = 0; v < kVectors; ++v) bv[v] = Load(row + v * kLanes<S>);
      for (int r = 0; r < kRows; ++r) {
        const V ar = Splat<V>(a[r * lda + p]);
        for (int v = 0; v < kVectors; ++v) acc[r][v] += ar * bv[v];
      }
    }
    for (int r = 0; r < kRows; ++r) {
      for (int v = 0; v < kVectors; ++v) {
        Store(c + r * ldc + v * kLanes<S>, acc[r][v]);
      }
    }
  }
}

// The rows [0, m) of one column strip of kVectors vectors (or one column).
template <int kVectors, typename S>
TFA_INLINE void Strip(const S* a, int64_t lda, const S* b, int64_t ldb, S* c,
                      int64_t ldc, int64_t m, int64_t k, bool accumulate) {
  // Six rows by four vectors: 24 accumulators, the most that leave registers
  // for B's vectors with 32 vector registers (measured on Zen 5: ~100 GFLOPS
  // float32 on one core at [50, 128] x [128, 512], TensorFlow's MatMul 97).
  constexpr int kRows = kVectors == 0 ? 1 : 6;
  int64_t i = 0;
  for (; i + kRows <= m; i += kRows) {
    Block<kRows, kVectors>(a + i * lda, lda, b, ldb, c + i * ldc, ldc, k,
                           accumulate);
  }
  for (; i < m; ++i) {
    Block<1, kVectors>(a + i * lda, lda, b, ldb, c + i * ldc, ldc, k,
                       accumulate);
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
  for (; j < n; ++j) {
    Strip<0>(a, lda, b + j, ldb, c + j, ldc, m, k, accumulate);
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
