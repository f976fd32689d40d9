#include "cc/pau/pau_cpu.h"

#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

#include "cc/common/cpu_vector.h"
#include "cc/common/vector_math.h"

namespace tf_approx {
namespace pau {
namespace {

// Coefficient gradients are summed in S over at most this many elements per
// column before being added to the double totals.
constexpr int64_t kFlushElements = 4096;

// The coefficients of `column` for the element at flat `index`.
template <typename S>
TFA_INLINE void ScalarCoefficients(const Problem<S>& p, int64_t column,
                                   int64_t index, S* coef) {
  const int count = p.NumCoefficients();
  for (int j = 0; j < count; ++j)
    coef[j] = p.coefficients[j * p.width + column];
  if (p.randomized) {
    const uint64_t i = p.key.Counter(index);
    const uint32_t h = ElementHash(p.key, static_cast<uint32_t>(i),
                                   static_cast<uint32_t>(i >> 32));
    for (int j = 0; j < count; ++j)
      coef[j] = Randomize(coef[j], p.alpha,
                          static_cast<S>(NoiseUniform(CoefficientHash(h, j))));
  }
}

// The same for the kLanes<S> columns from `column`, elements from `index`.
template <typename S>
TFA_INLINE void VectorCoefficients(const Problem<S>& p, int64_t column,
                                   int64_t index, Vec<S>* coef) {
  using V = Vec<S>;
  using Hash = typename NoiseLanes<S>::Hash;
  using Float = typename NoiseLanes<S>::Float;
  const int count = p.NumCoefficients();
  for (int j = 0; j < count; ++j)
    coef[j] = Load(p.coefficients + j * p.width + column);
  if (p.randomized) {
    Hash lo, hi;
    IndexWords<S>(p.key.Counter(index), &lo, &hi);
    const Hash h = ElementHash(p.key, lo, hi);
    const V alpha = Splat<V>(p.alpha);
    for (int j = 0; j < count; ++j) {
      const Float u = NoiseUniform<Float>(CoefficientHash(h, j));
      coef[j] = Randomize(coef[j], alpha, __builtin_convertvector(u, V));
    }
  }
}

// The scalar paths (far inputs, column tails): pau.h's ScalarValue and
// ScalarGradient, which the GPU threads take for every element.
template <Denominator D, typename S>
TFA_INLINE S ScalarForwardImpl(const Problem<S>& p, S x, int64_t column,
                               int64_t index) {
  S coef[kMaxCoefficients];
  ScalarCoefficients(p, column, index, coef);
  return ScalarValue<D>(p.m, p.n, coef, p.far, x);
}

// Returns dx; adds the coefficient gradients to acc[j * width + column].
template <Denominator D, typename S>
TFA_INLINE S ScalarBackwardImpl(const Problem<S>& p, S x, S dy, int64_t column,
                                int64_t index, S* acc) {
  S coef[kMaxCoefficients], grad[kMaxCoefficients] = {};
  ScalarCoefficients(p, column, index, coef);
  const S dx = ScalarGradient<D>(p.m, p.n, coef, p.far, x, dy, grad);
  for (int j = 0; j < p.NumCoefficients(); ++j)
    acc[j * p.width + column] += grad[j];
  return dx;
}

// Out of line (inlined into every vector loop they would multiply the build
// time for little gain), and compiled for the same instruction sets as the
// loops, so that an element's value does not depend on which path took it
// (FMA contraction). target_clones cannot apply to templates: one function
// per type, the denominator read at run time. (y and dx start at 0: GCC
// cannot see that the switch covers every denominator.)
#define TFA_SCALAR_ENTRY_POINTS(S)                                         \
  TFA_CPU_CLONES TFA_NOINLINE S ScalarForward(const Problem<S>& p, S x,    \
                                              int64_t column,              \
                                              int64_t index) {             \
    S y = 0;                                                               \
    VisitDenominator(p.denominator, [&](auto tag) TFA_LAMBDA_INLINE {      \
      y = ScalarForwardImpl<decltype(tag)::kValue>(p, x, column, index);   \
    });                                                                    \
    return y;                                                              \
  }                                                                        \
  TFA_CPU_CLONES TFA_NOINLINE S ScalarBackward(const Problem<S>& p, S x,   \
                                               S dy, int64_t column,       \
                                               int64_t index, S* acc) {    \
    S dx = 0;                                                              \
    VisitDenominator(p.denominator, [&](auto tag) TFA_LAMBDA_INLINE {      \
      dx = ScalarBackwardImpl<decltype(tag)::kValue>(p, x, dy, column,     \
                                                     index, acc);          \
    });                                                                    \
    return dx;                                                             \
  }
TFA_FOR_EACH_CPU_TYPE(TFA_SCALAR_ENTRY_POINTS)
#undef TFA_SCALAR_ENTRY_POINTS

// Rows are handled in blocks of about kBlockElements; a block is checked for
// inputs beyond p.far before it is computed, so that the common case needs no
// per-vector check.
constexpr int64_t kBlockElements = 512;

// Whether any of x[0, n) has |x| > far (NaN does not count).
template <typename S>
TFA_INLINE bool AnyFar(const S* x, int64_t n, S far) {
  using V = Vec<S>;
  V largest = {};
  int64_t i = 0;
  for (; i + kLanes<S> <= n; i += kLanes<S>) {
    const V a = Abs(Load(x + i));
    largest = a > largest ? a : largest;
  }
  bool any = false;
  for (int l = 0; l < kLanes<S>; ++l) any |= largest[l] > far;
  for (; i < n; ++i) any |= Abs(x[i]) > far;
  return any;
}

// The orders of the vector loops: read from the problem, or compile-time
// constants for the paper's default (5, 4), whose loops then unroll fully.
struct RuntimeOrder {
  template <typename S>
  static int M(const Problem<S>& p) {
    return p.m;
  }
  template <typename S>
  static int N(const Problem<S>& p) {
    return p.n;
  }
};

template <int kM, int kN>
struct FixedOrder {
  template <typename S>
  static constexpr int M(const Problem<S>&) {
    return kM;
  }
  template <typename S>
  static constexpr int N(const Problem<S>&) {
    return kN;
  }
};

// Calls fn(order) with the order type for p. Float32 only, where speed
// matters: each fixed order multiplies the instantiations (and build time).
template <typename S, typename Fn>
TFA_INLINE void VisitOrder(const Problem<S>& p, Fn&& fn) {
  if constexpr (std::is_same<S, float>::value) {
    if (p.m == 5 && p.n == 4) {
      fn(FixedOrder<5, 4>());
      return;
    }
  }
  fn(RuntimeOrder());
}

// Walks the rows [row_begin, row_end) in blocks of about kBlockElements and
// calls, in element order, near(offset, column, v) for each full vector of
// inputs within p.far and scalar(offset, column) for every other element;
// after each block, block_done(rows done so far, whether it was the last).
template <typename S, typename Near, typename Scalar, typename BlockDone>
TFA_INLINE void VisitRows(const Problem<S>& p, const S* x, int64_t row_begin,
                          int64_t row_end, Near&& near, Scalar&& scalar,
                          BlockDone&& block_done) {
  using V = Vec<S>;
  constexpr int64_t kL = kLanes<S>;
  const int64_t block_rows = std::max<int64_t>(1, kBlockElements / p.width);
  for (int64_t block = row_begin; block < row_end; block += block_rows) {
    const int64_t block_end = std::min(row_end, block + block_rows);
    const int64_t first = block * p.width;
    const int64_t last = std::min(p.size, block_end * p.width);
    const bool far = AnyFar(x + first, last - first, p.far);
    if (!far && p.width % kL == 0 && last == block_end * p.width) {
      // Whole vectors only: a loop without calls, whose constants can stay
      // in registers.
      int64_t column = 0;
      for (int64_t i = first; i < last; i += kL) {
        near(i, column, Load(x + i));
        column += kL;
        if (column == p.width) column = 0;
      }
      block_done(block_end - row_begin, block_end == row_end);
      continue;
    }
    for (int64_t row = block; row < block_end; ++row) {
      const int64_t start = row * p.width;
      const int64_t len = std::min(p.width, p.size - start);
      int64_t c = 0;
      for (; c + kL <= len; c += kL) {
        const V v = Load(x + start + c);
        if (far && AnyLane(Abs(v) > p.far)) {
          for (int64_t l = c; l < c + kL; ++l) scalar(start + l, l);
        } else {
          near(start + c, c, v);
        }
      }
      for (; c < len; ++c) scalar(start + c, c);
    }
    block_done(block_end - row_begin, block_end == row_end);
  }
}

// kShared: one coefficient set in every column (width == kLanes, no noise),
// loaded once. x and y may alias: each element is read before it is written.
template <Denominator D, bool kShared, typename O, typename S>
TFA_INLINE void ForwardBlocks(const Problem<S>& p, const S* x, S* y,
                              int64_t row_begin, int64_t row_end) {
  using V = Vec<S>;
  const int m = O::M(p), n = O::N(p);
  V coef[kMaxCoefficients];
  if (kShared) VectorCoefficients(p, 0, 0, coef);
  VisitRows(
      p, x, row_begin, row_end,
      [&](int64_t i, int64_t column, V v) TFA_LAMBDA_INLINE {
        if (!kShared) VectorCoefficients(p, column, i, coef);
        Store(y + i, NearValue<D>(m, n, coef, coef + m + 1, v));
      },
      [&](int64_t i, int64_t column)
          TFA_LAMBDA_INLINE { y[i] = ScalarForward(p, x[i], column, i); },
      [](int64_t, bool) TFA_LAMBDA_INLINE {});
}

template <Denominator D, typename S>
TFA_INLINE void ForwardRows(const Problem<S>& p, const S* x, S* y,
                            int64_t row_begin, int64_t row_end) {
  VisitOrder(p, [&](auto order) TFA_LAMBDA_INLINE {
    using O = decltype(order);
    if (!p.randomized && p.width == kLanes<S>) {
      ForwardBlocks<D, true, O>(p, x, y, row_begin, row_end);
    } else {
      ForwardBlocks<D, false, O>(p, x, y, row_begin, row_end);
    }
  });
}

// The same for the gradient; kShared also keeps the coefficient sums in
// registers between flushes. dx may alias dy.
template <Denominator D, bool kShared, typename O, typename S>
TFA_INLINE void BackwardBlocks(const Problem<S>& p, const S* x, const S* dy,
                               S* dx, int64_t row_begin, int64_t row_end,
                               double* grad) {
  using V = Vec<S>;
  const int m = O::M(p), n = O::N(p), top = std::max(m, n);
  const int count = m + 1 + n;  // a compile-time constant for FixedOrder
  // Sums in S over at most about kFlushElements elements per column, then
  // added to the double totals.
  const int64_t block_rows = std::max<int64_t>(1, kBlockElements / p.width);
  const int64_t flush_rows =
      std::max<int64_t>(1, kFlushElements / p.width / block_rows) * block_rows;
  std::vector<S> acc(count * p.width, S(0));
  V coef[kMaxCoefficients], sums[kMaxCoefficients];
  HoistedFactors<D, V> shared;
  if (kShared) {
    VectorCoefficients(p, 0, 0, coef);
    shared = HoistedFactors<D, V>::Of(m, n, coef, coef + m + 1);
  }
  for (int j = 0; j < count; ++j) sums[j] = V{};
  // kShared: the sums of a block are formed after its dx, from the inputs
  // and weights kept here: with the coefficients, their factors and the
  // sums all live at once, the loop would keep the sums on the stack.
  struct Deferred {
    V x, ga, gb, gf;
  };
  Deferred deferred[kShared ? kBlockElements / kLanes<S> : 1];
  int deferred_count = 0;
  VisitRows(
      p, x, row_begin, row_end,
      [&](int64_t i, int64_t column, V v) TFA_LAMBDA_INLINE {
        const V g = Load(dy + i);
        Powers<V> pw;
        NearPowers<V, S>(v, top, &pw);
        if (kShared) {
          const Weights<V> w =
              BackwardWeights<D>(m, n, coef, coef + m + 1, shared, pw, g);
          Store(dx + i, w.dx);
          deferred[deferred_count++] = {v, w.ga, w.gb, w.gf};
          return;
        }
        VectorCoefficients(p, column, i, coef);
        for (int j = 0; j < count; ++j)
          sums[j] = Load(acc.data() + j * p.width + column);
        const V* b = coef + m + 1;
        const V d = Backward<D>(m, n, coef, b, InlineFactors<D, V>{coef, b}, pw,
                                g, sums, sums + m + 1);
        for (int j = 0; j < count; ++j)
          Store(acc.data() + j * p.width + column, sums[j]);
        Store(dx + i, d);
      },
      [&](int64_t i, int64_t column) TFA_LAMBDA_INLINE {
        dx[i] = ScalarBackward(p, x[i], dy[i], column, i, acc.data());
      },
      [&](int64_t rows_done, bool last) TFA_LAMBDA_INLINE {
        for (int k = 0; k < deferred_count; ++k) {
          Powers<V> pw;
          NearPowers<V, S>(deferred[k].x, top, &pw);
          AddCoefficientGradients<D>(m, n, shared, pw, deferred[k].ga,
                                     deferred[k].gb, deferred[k].gf, sums,
                                     sums + m + 1);
        }
        deferred_count = 0;
        if (rows_done % flush_rows != 0 && !last) return;
        if (kShared) {
          for (int j = 0; j < count; ++j) {
            V sum = sums[j];
            if (HoistedFactors<D, V>::kSignBAtFlush && j > m)
              sum = sum * shared.SignB(j - m);
            Store(acc.data() + j * p.width,
                  Load(acc.data() + j * p.width) + sum);
            sums[j] = V{};
          }
        }
        for (size_t k = 0; k < acc.size(); ++k) {
          grad[k] += acc[k];
          acc[k] = 0;
        }
      });
}

template <Denominator D, typename S>
TFA_INLINE void BackwardRows(const Problem<S>& p, const S* x, const S* dy,
                             S* dx, int64_t row_begin, int64_t row_end,
                             double* grad) {
  VisitOrder(p, [&](auto order) TFA_LAMBDA_INLINE {
    using O = decltype(order);
    if (!p.randomized && p.width == kLanes<S>) {
      BackwardBlocks<D, true, O>(p, x, dy, dx, row_begin, row_end, grad);
    } else {
      BackwardBlocks<D, false, O>(p, x, dy, dx, row_begin, row_end, grad);
    }
  });
}

template <typename S>
TFA_INLINE void ForwardImpl(const Problem<S>& p, const S* x, S* y,
                            int64_t row_begin, int64_t row_end) {
  VisitDenominator(p.denominator, [&](auto tag) TFA_LAMBDA_INLINE {
    ForwardRows<decltype(tag)::kValue>(p, x, y, row_begin, row_end);
  });
}

template <typename S>
TFA_INLINE void BackwardImpl(const Problem<S>& p, const S* x, const S* dy,
                             S* dx, int64_t row_begin, int64_t row_end,
                             double* grad) {
  VisitDenominator(p.denominator, [&](auto tag) TFA_LAMBDA_INLINE {
    BackwardRows<decltype(tag)::kValue>(p, x, dy, dx, row_begin, row_end, grad);
  });
}

}  // namespace

#define TFA_ENTRY_POINTS(S)                                                \
  TFA_CPU_CLONES void Forward(const Problem<S>& p, const S* x, S* y,       \
                              int64_t row_begin, int64_t row_end) {        \
    ForwardImpl(p, x, y, row_begin, row_end);                              \
  }                                                                        \
  TFA_CPU_CLONES void Backward(const Problem<S>& p, const S* x,            \
                               const S* dy, S* dx, int64_t row_begin,      \
                               int64_t row_end, double* grad) {            \
    BackwardImpl(p, x, dy, dx, row_begin, row_end, grad);                  \
  }
TFA_FOR_EACH_CPU_TYPE(TFA_ENTRY_POINTS)
#undef TFA_ENTRY_POINTS

}  // namespace pau
}  // namespace tf_approx
