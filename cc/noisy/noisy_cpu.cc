#include "cc/noisy/noisy_cpu.h"

#include <algorithm>
#include <vector>

#include "cc/common/cpu_vector.h"

namespace tf_approx {
namespace noisy {
namespace {

// dp is summed in S over at most this many rows before being added to the
// double totals.
constexpr int64_t kFlushRows = 1024;

// eps for the kLanes<S> elements from flat `index`.
template <typename S>
TFA_INLINE Vec<S> VectorEps(const Problem<S>& p, int64_t index) {
  using V = Vec<S>;
  if (!p.training) return Splat<V, S>(p.params.noise_mean);
  using Hash = typename NoiseLanes<S>::Hash;
  using Float = typename NoiseLanes<S>::Float;
  Hash lo, hi;
  IndexWords<S>(p.key.Counter(index), &lo, &hi);
  return __builtin_convertvector(Noise<Float>(p.key, lo, hi, p.half_normal), V);
}

template <typename S>
TFA_INLINE S ScalarEps(const Problem<S>& p, int64_t index) {
  if (!p.training) return p.params.noise_mean;
  const uint64_t i = p.key.Counter(index);
  return static_cast<S>(Noise<float>(p.key, static_cast<uint32_t>(i),
                                     static_cast<uint32_t>(i >> 32),
                                     p.half_normal));
}

// x and y may alias: each element is read before it is written.
template <Where W, typename S>
TFA_INLINE void ForwardRows(const Problem<S>& p, const S* x, S* y,
                            int64_t row_begin, int64_t row_end) {
  constexpr int64_t kL = kLanes<S>;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t start = row * p.width;
    const int64_t len = std::min(p.width, p.size - start);
    int64_t c = 0;
    for (; c + kL <= len; c += kL) {
      const int64_t i = start + c;
      Store(y + i,
            Forward<W>(p.params, Load(x + i), Load(p.p + c), VectorEps(p, i)));
    }
    for (; c < len; ++c) {
      const int64_t i = start + c;
      y[i] = Forward<W>(p.params, x[i], p.p[c], ScalarEps(p, i));
    }
  }
}

// dx may alias dy.
template <Where W, typename S>
TFA_INLINE void BackwardRows(const Problem<S>& p, const S* x, const S* dy,
                             S* dx, int64_t row_begin, int64_t row_end,
                             double* dp) {
  using V = Vec<S>;
  constexpr int64_t kL = kLanes<S>;
  std::vector<S> acc(p.width, S(0));
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t start = row * p.width;
    const int64_t len = std::min(p.width, p.size - start);
    int64_t c = 0;
    for (; c + kL <= len; c += kL) {
      const int64_t i = start + c;
      V dpv;
      Store(dx + i, Backward<W>(p.params, Load(x + i), Load(p.p + c),
                                VectorEps(p, i), Load(dy + i), &dpv));
      Store(acc.data() + c, Load(acc.data() + c) + dpv);
    }
    for (; c < len; ++c) {
      const int64_t i = start + c;
      S dps;
      dx[i] = Backward<W>(p.params, x[i], p.p[c], ScalarEps(p, i), dy[i], &dps);
      acc[c] += dps;
    }
    if ((row - row_begin + 1) % kFlushRows == 0 || row + 1 == row_end) {
      for (int64_t k = 0; k < p.width; ++k) {
        dp[k] += acc[k];
        acc[k] = 0;
      }
    }
  }
}

template <typename S>
TFA_INLINE void ForwardImpl(const Problem<S>& p, const S* x, S* y,
                            int64_t row_begin, int64_t row_end) {
  VisitWhere(p.where, [&](auto tag) TFA_LAMBDA_INLINE {
    ForwardRows<decltype(tag)::kValue>(p, x, y, row_begin, row_end);
  });
}

template <typename S>
TFA_INLINE void BackwardImpl(const Problem<S>& p, const S* x, const S* dy,
                             S* dx, int64_t row_begin, int64_t row_end,
                             double* dp) {
  VisitWhere(p.where, [&](auto tag) TFA_LAMBDA_INLINE {
    BackwardRows<decltype(tag)::kValue>(p, x, dy, dx, row_begin, row_end, dp);
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
                               int64_t row_end, double* dp) {              \
    BackwardImpl(p, x, dy, dx, row_begin, row_end, dp);                    \
  }
TFA_FOR_EACH_CPU_TYPE(TFA_ENTRY_POINTS)
#undef TFA_ENTRY_POINTS

}  // namespace noisy
}  // namespace tf_approx
