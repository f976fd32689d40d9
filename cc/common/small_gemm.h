// A small dense matrix product on GCC vectors, for the recurrent layers: one
// time step multiplies a [batch, units] state by a [units, 4 units] kernel,
// too small for a library call's overhead and needed inside one op.
//
// C = D + A B, with D zero, C itself or another matrix (see Start), A
// row-major or transposed (see Left), B and C row-major with leading
// dimensions, any sizes. Blocks of rows by vectors of C stay in registers
// while k runs; every element of C is computed by the same vector
// operations, summing over k in increasing order, whatever the blocking, so
// a caller that splits C's rows or columns among threads gets the same bits
// for any split, and one that splits k into consecutive products resuming
// from C gets those of one product. Compiled into the caller: call it from a
// function with TFA_CPU_CLONES (cc/common/cpu_vector.h) to get each
// instruction set's code.
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

// A, the left factor: its element (i, p) at data[i * row + p * column]. A
// row-major matrix has row = its leading dimension and column = 1; its
// transpose (e.g. states stored [steps, units] multiplied as [units, steps])
// row = 1 and column = the leading dimension, with no copy.
template <typename S>
struct Left {
  const S* data;
  int64_t row;
  int64_t column = 1;

  TFA_INLINE S operator()(int64_t i, int64_t p) const {
    return data[i * row + p * column];
  }
  // The matrix from element (i, p) on.
  TFA_INLINE Left From(int64_t i, int64_t p) const {
    return {data + i * row + p * column, row, column};
  }
};

// What C starts from before A B is added: zero (data null), or the rows of
// a matrix at data + i * ld: C itself (C += A B), another matrix (C = D +
// A B, with no copy of D into C first), or with ld = 0 one row for every i
// (a bias).
template <typename S>
struct Start {
  const S* data = nullptr;
  int64_t ld = 0;

  // The start from row i and column j on.
  TFA_INLINE Start From(int64_t i, int64_t j) const {
    return data == nullptr ? *this : Start{data + i * ld + j, ld};
  }
};

// A kRows x kVectors-vectors block of C; with `part` > 0 one vector of which
// only the first `part` columns exist (the columns past a multiple of the
// lanes: computed with the same vector operations as the others, so that an
// element's bits do not depend on where a caller's column split falls).
template <int kRows, int kVectors, typename S>
TFA_INLINE void Block(Left<S> a, const S* b, int64_t ldb, S* c, int64_t ldc,
                      Start<S> start, int64_t k, int64_t part = 0) {
  using V = Vec<S>;
  auto load = [part](const S* q) TFA_LAMBDA_INLINE {
    return part > 0 ? LoadPart(q, part) : Load(q);
  };
  V acc[kRows][kVectors];
  for (int r = 0; r < kRows; ++r) {
    for (int v = 0; v < kVectors; ++v) {
      acc[r][v] = start.data != nullptr
                      ? load(start.data + r * start.ld + v * kLanes<S>)
                      : V{};
    }
  }
  for (int64_t p = 0; p < k; ++p) {
    const S* row = b + p * ldb;
    V bv[kVectors];
    for (int v = 0; v < kVectors; ++v) bv[v] = load(row + v * kLanes<S>);
    for (int r = 0; r < kRows; ++r) {
      const V ar = Splat<V>(a(r, p));
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
TFA_INLINE void Strip(Left<S> a, const S* b, int64_t ldb, S* c, int64_t ldc,
                      Start<S> start, int64_t m, int64_t k,
                      int64_t part = 0) {
  // Six rows by four vectors: 24 accumulators, the most that leave registers
  // for B's vectors with 32 vector registers (measured on an AMD EPYC with
  // AVX-512: ~100 GFLOPS float32 on one core at [50, 128] x [128, 512], as
  // TensorFlow's MatMul).
  constexpr int kRows = 6;
  int64_t i = 0;
  for (; i + kRows <= m; i += kRows) {
    Block<kRows, kVectors>(a.From(i, 0), b, ldb, c + i * ldc, ldc,
                           start.From(i, 0), k, part);
  }
  for (; i < m; ++i) {
    Block<1, kVectors>(a.From(i, 0), b, ldb, c + i * ldc, ldc,
                       start.From(i, 0), k, part);
  }
}

// C[m, n] = start + A[m, k] B[k, n] for k <= kDepth.
template <typename S>
TFA_INLINE void MultiplyPanel(Left<S> a, const S* b, int64_t ldb, S* c,
                              int64_t ldc, Start<S> start, int64_t m,
                              int64_t k, int64_t n) {
  constexpr int64_t kLanesS = kLanes<S>;
  int64_t j = 0;
  for (; j + 4 * kLanesS <= n; j += 4 * kLanesS) {
    Strip<4>(a, b + j, ldb, c + j, ldc, start.From(0, j), m, k);
  }
  for (; j + kLanesS <= n; j += kLanesS) {
    Strip<1>(a, b + j, ldb, c + j, ldc, start.From(0, j), m, k);
  }
  if (j < n) {
    Strip<1>(a, b + j, ldb, c + j, ldc, start.From(0, j), m, k, n - j);
  }
}

// Rows of B taken at a time: a strip of them (kDepth x 4 vectors, 32 KB of
// float32) stays in the L1 cache while every row block of A passes it.
constexpr int64_t kDepth = 128;

// C[m, n] = start + A[m, k] B[k, n], k in panels of kDepth added to C in
// turn. C's bits are those of one pass over k: a later panel resumes from
// the C the one before stored.
template <typename S>
TFA_INLINE void Product(Left<S> a, const S* b, int64_t ldb, S* c,
                        int64_t ldc, Start<S> start, int64_t m, int64_t k,
                        int64_t n) {
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        c[i * ldc + j] =
            start.data == nullptr ? S(0) : start.data[i * start.ld + j];
      }
    }
  }
  for (int64_t p = 0; p < k; p += kDepth) {
    MultiplyPanel(a.From(0, p), b + p * ldb, ldb, c, ldc,
                  p == 0 ? start : Start<S>{c, ldc}, m,
                  k - p < kDepth ? k - p : kDepth, n);
  }
}

// C[m, n] = A[m, k] B[k, n] (accumulate: C += A B), all row-major.
template <typename S>
TFA_INLINE void Multiply(const S* a, int64_t lda, const S* b, int64_t ldb,
                         S* c, int64_t ldc, int64_t m, int64_t k, int64_t n,
                         bool accumulate) {
  Product(Left<S>{a, lda}, b, ldb, c, ldc,
          accumulate ? Start<S>{c, ldc} : Start<S>{}, m, k, n);
}

}  // namespace gemm
}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_SMALL_GEMM_H_
