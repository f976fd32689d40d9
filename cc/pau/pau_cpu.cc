#include "cc/pau/pau_cpu.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "cc/common/cpu_vector.h"

namespace tf_approx {
namespace pau {
namespace {

// Coefficient gradients are summed in S over at most this many elements per
// column before being added to the double totals.
constexpr int64_t kFlushElements = 4096;

// Vectors with one uint32 / float lane per lane of Vec<S>, for the noise.
template <typename S>
struct NoiseLanes {
  typedef uint32_t Hash __attribute__((vector_size(4 * kLanes<S>)));
  typedef float Float __attribute__((vector_size(4 * kLanes<S>)));
};

template <typename S>
constexpr S kInfinity = std::numeric_limits<S>::infinity();

template <typename V>
TFA_INLINE bool AnyLane(V mask) {
  V none = {};
  return std::memcmp(&mask, &none, sizeof(V)) != 0;
}

// The coefficients of `column` for the element at flat `index`.
template <typename S>
TFA_INLINE void ScalarCoefficients(const Problem<S>& p, int64_t column,
                                   int64_t index, S* coef) {
  const int count = p.NumCoefficients();
  for (int j = 0; j < count; ++j)
    coef[j] = p.coefficients[j * p.width + column];
  if (p.randomized) {
    const uint64_t i = static_cast<uint64_t>(index);
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
    for (int l = 0; l < kLanes<S>; ++l) {
      const uint64_t i = static_cast<uint64_t>(index + l);
      lo[l] = static_cast<uint32_t>(i);
      hi[l] = static_cast<uint32_t>(i >> 32);
    }
    const Hash h = ElementHash(p.key, lo, hi);
    const V alpha = Splat<V>(p.alpha);
    for (int j = 0; j < count; ++j) {
      const Float u =
          __builtin_convertvector(CoefficientHash(h, j) >> 8, Float) *
              kNoiseScale +
          kNoiseShift;
      coef[j] = Randomize(coef[j], alpha, __builtin_convertvector(u, V));
    }
  }
}

// Near powers below p.far (and for NaN); beyond, powers scaled by |x|^-n.
template <typename S>
TFA_INLINE void ScalarPowers(const Problem<S>& p, S x, Powers<S>* pw) {
  const int top = std::max(p.m, p.n);
  if (!(Abs(x) > p.far)) {
    NearPowers<S, S>(x, top, pw);
  } else {
    FarPowers(x, top, Abs(x) < kInfinity<S> ? p.n : top, pw);
  }
}

template <Denominator D, typename S>
TFA_INLINE S ScalarForward(const Problem<S>& p, S x, int64_t column,
                           int64_t index) {
  S coef[kMaxCoefficients];
  ScalarCoefficients(p, column, index, coef);
  Powers<S> pw;
  ScalarPowers(p, x, &pw);
  const S y = Value<D>(p.m, p.n, coef, coef + p.m + 1, pw);
  if (Abs(y) < kInfinity<S> || !(Abs(x) < kInfinity<S>)) return y;
  // F overflows (or two overflowing terms cancelled into NaN): the powers
  // scaled by |x|^-max(m, n) are all finite and give the signed infinity.
  FarPowers(x, std::max(p.m, p.n), std::max(p.m, p.n), &pw);
  return Value<D>(p.m, p.n, coef, coef + p.m + 1, pw);
}

// Returns dx; adds the coefficient gradients to acc[j * width + column].
template <Denominator D, typename S>
TFA_INLINE S ScalarBackward(const Problem<S>& p, S x, S dy, int64_t column,
                            int64_t index, S* acc) {
  S coef[kMaxCoefficients], grad[kMaxCoefficients] = {};
  ScalarCoefficients(p, column, index, coef);
  Powers<S> pw;
  ScalarPowers(p, x, &pw);
  const S dx =
      Backward<D>(p.m, p.n, coef, coef + p.m + 1, pw, dy, grad, grad + p.m + 1);
  for (int j = 0; j < p.NumCoefficients(); ++j)
    acc[j * p.width + column] += grad[j];
  return dx;
}

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

// The rows [row_begin, row_end), in blocks. kShared: one coefficient set in
// every column (width == kLanes, no noise), loaded once.
// x and y may alias: each vector is read before it is written.
template <Denominator D, bool kShared, typename S>
TFA_INLINE void ForwardBlocks(const Problem<S>& p, const S* x, S* y,
                              int64_t row_begin, int64_t row_end) {
  using V = Vec<S>;
  constexpr int64_t kL = kLanes<S>;
  const int top = std::max(p.m, p.n);
  const int64_t block_rows = std::max<int64_t>(1, kBlockElements / p.width);
  V coef[kMaxCoefficients];
  if (kShared) VectorCoefficients(p, 0, 0, coef);
  for (int64_t block = row_begin; block < row_end; block += block_rows) {
    const int64_t block_end = std::min(row_end, block + block_rows);
    const int64_t first = block * p.width;
    const int64_t last = std::min(p.size, block_end * p.width);
    const bool far = AnyFar(x + first, last - first, p.far);
    for (int64_t row = block; row < block_end; ++row) {
      const int64_t start = row * p.width;
      const int64_t len = std::min(p.width, p.size - start);
      int64_t c = 0;
      for (; c + kL <= len; c += kL) {
        const V v = Load(x + start + c);
        if (far && AnyLane(Abs(v) > p.far)) {
          for (int64_t l = c; l < c + kL; ++l)
            y[start + l] = ScalarForward<D>(p, x[start + l], l, start + l);
          continue;
        }
        if (!kShared) VectorCoefficients(p, c, start + c, coef);
        Powers<V> pw;
        NearPowers<V, S>(v, top, &pw);
        Store(y + start + c, Value<D>(p.m, p.n, coef, coef + p.m + 1, pw));
      }
      for (; c < len; ++c)
        y[start + c] = ScalarForward<D>(p, x[start + c], c, start + c);
    }
  }
}

template <Denominator D, typename S>
TFA_INLINE void ForwardRows(const Problem<S>& p, const S* x, S* y,
                            int64_t row_begin, int64_t row_end) {
  if (!p.randomized && p.width == kLanes<S>) {
    ForwardBlocks<D, true>(p, x, y, row_begin, row_end);
  } else {
    ForwardBlocks<D, false>(p, x, y, row_begin, row_end);
  }
}

// The same for the gradient; kShared also keeps the coefficient sums in
// registers between flushes. dx may alias dy.
template <Denominator D, bool kShared, typename S>
TFA_INLINE void BackwardBlocks(const Problem<S>& p, const S* x, const S* dy,
                               S* dx, int64_t row_begin, int64_t row_end,
                               double* grad) {
  using V = Vec<S>;
  constexpr int64_t kL = kLanes<S>;
  const int top = std::max(p.m, p.n);
  const int count = p.NumCoefficients();
  const int64_t block_rows = std::max<int64_t>(1, kBlockElements / p.width);
  // Sums in S over at most kFlushElements elements per column, then added
  // to the double totals.
  const int64_t flush_rows =
      std::max<int64_t>(1, kFlushElements / p.width / block_rows) * block_rows;
  std::vector<S> acc(count * p.width, S(0));
  V coef[kMaxCoefficients], sums[kMaxCoefficients];
  if (kShared) VectorCoefficients(p, 0, 0, coef);
  for (int j = 0; j < count; ++j) sums[j] = V{};
  auto flush = [&]() TFA_LAMBDA_INLINE {
    if (kShared) {
      for (int j = 0; j < count; ++j) {
        Store(acc.data() + j * p.width,
              Load(acc.data() + j * p.width) + sums[j]);
        sums[j] = V{};
      }
    }
    for (size_t i = 0; i < acc.size(); ++i) {
      grad[i] += acc[i];
      acc[i] = 0;
    }
  };
  for (int64_t block = row_begin; block < row_end; block += block_rows) {
    const int64_t block_end = std::min(row_end, block + block_rows);
    const int64_t first = block * p.width;
    const int64_t last = std::min(p.size, block_end * p.width);
    const bool far = AnyFar(x + first, last - first, p.far);
    for (int64_t row = block; row < block_end; ++row) {
      const int64_t start = row * p.width;
      const int64_t len = std::min(p.width, p.size - start);
      int64_t c = 0;
      for (; c + kL <= len; c += kL) {
        const V v = Load(x + start + c);
        if (far && AnyLane(Abs(v) > p.far)) {
          for (int64_t l = c; l < c + kL; ++l)
            dx[start + l] = ScalarBackward<D>(p, x[start + l], dy[start + l], l,
                                              start + l, acc.data());
          continue;
        }
        const V g = Load(dy + start + c);
        Powers<V> pw;
        NearPowers<V, S>(v, top, &pw);
        if (kShared) {
          Store(dx + start + c, Backward<D>(p.m, p.n, coef, coef + p.m + 1, pw,
                                            g, sums, sums + p.m + 1));
          continue;
        }
        VectorCoefficients(p, c, start + c, coef);
        for (int j = 0; j < count; ++j)
          sums[j] = Load(acc.data() + j * p.width + c);
        const V d = Backward<D>(p.m, p.n, coef, coef + p.m + 1, pw, g, sums,
                                sums + p.m + 1);
        for (int j = 0; j < count; ++j)
          Store(acc.data() + j * p.width + c, sums[j]);
        Store(dx + start + c, d);
      }
      for (; c < len; ++c)
        dx[start + c] = ScalarBackward<D>(p, x[start + c], dy[start + c], c,
                                          start + c, acc.data());
    }
    if ((block_end - row_begin) % flush_rows == 0 || block_end == row_end)
      flush();
  }
}

template <Denominator D, typename S>
TFA_INLINE void BackwardRows(const Problem<S>& p, const S* x, const S* dy,
                             S* dx, int64_t row_begin, int64_t row_end,
                             double* grad) {
  if (!p.randomized && p.width == kLanes<S>) {
    BackwardBlocks<D, true>(p, x, dy, dx, row_begin, row_end, grad);
  } else {
    BackwardBlocks<D, false>(p, x, dy, dx, row_begin, row_end, grad);
  }
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

TFA_CPU_CLONES void Forward(const Problem<float>& p, const float* x, float* y,
                            int64_t row_begin, int64_t row_end) {
  ForwardImpl(p, x, y, row_begin, row_end);
}

TFA_CPU_CLONES void Forward(const Problem<double>& p, const double* x,
                            double* y, int64_t row_begin, int64_t row_end) {
  ForwardImpl(p, x, y, row_begin, row_end);
}

TFA_CPU_CLONES void Backward(const Problem<float>& p, const float* x,
                             const float* dy, float* dx, int64_t row_begin,
                             int64_t row_end, double* grad) {
  BackwardImpl(p, x, dy, dx, row_begin, row_end, grad);
}

TFA_CPU_CLONES void Backward(const Problem<double>& p, const double* x,
                             const double* dy, double* dx, int64_t row_begin,
                             int64_t row_end, double* grad) {
  BackwardImpl(p, x, dy, dx, row_begin, row_end, grad);
}

}  // namespace pau
}  // namespace tf_approx
