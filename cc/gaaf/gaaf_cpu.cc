#include "cc/gaaf/gaaf_cpu.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "cc/common/cpu_vector.h"

namespace tf_approx {
namespace gaaf {
namespace {

// g is computed for blocks of kBlock elements first, then phi and s: the
// (heavy) double-precision sawtooth is compiled once per entry point rather
// than once per base and shape.
constexpr int64_t kBlock = 256;

// g for x[0, n) into g[0, n), a Vec<double> at a time. A float32 x needs no
// split (24 significant bits); K = 10^4 neither.
template <bool kSplitK, typename S>
TFA_INLINE void SawtoothBlock(const Params<S>& q, const S* x, S* g, int64_t n) {
  using W = Vec<double>;
  constexpr int64_t kW = kLanes<double>;
  constexpr bool kSplitX = !std::is_same_v<S, float>;
  typedef S Narrow __attribute__((vector_size(sizeof(S) * kW)));
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    Narrow v;
    std::memcpy(&v, x + i, sizeof(v));
    const W w = __builtin_convertvector(v, W);
    const Narrow r =
        __builtin_convertvector((Sawtooth<kSplitX, kSplitK>(q, w)), Narrow);
    std::memcpy(g + i, &r, sizeof(r));
  }
  for (; i < n; ++i) {
    g[i] = static_cast<S>(
        Sawtooth<kSplitX, kSplitK>(q, static_cast<double>(x[i])));
  }
}

template <typename S>
TFA_INLINE void SawtoothBlock(const Params<S>& q, const S* x, S* g, int64_t n) {
  if (q.k_lo == 0) {
    SawtoothBlock<false>(q, x, g, n);
  } else {
    SawtoothBlock<true>(q, x, g, n);
  }
}

template <Base B, Shape H, typename S>
TFA_INLINE void ForwardLoop(const Params<S>& q, const S* x, const S* g, S* y,
                            int64_t n) {
  int64_t i = 0;
  for (; i + kLanes<S> <= n; i += kLanes<S>)
    Store(y + i, Forward<B, H>(q, Load(x + i), Load(g + i)));
  for (; i < n; ++i) y[i] = Forward<B, H>(q, x[i], g[i]);
}

template <Base B, Shape H, typename S>
TFA_INLINE void BackwardLoop(const Params<S>& q, const S* x, const S* g,
                             const S* dy, S* dx, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes<S> <= n; i += kLanes<S>)
    Store(dx + i, Backward<B, H>(q, Load(x + i), Load(g + i), Load(dy + i)));
  for (; i < n; ++i) dx[i] = Backward<B, H>(q, x[i], g[i], dy[i]);
}

template <typename S>
TFA_INLINE void ForwardImpl(const Problem<S>& p, const S* x, S* y,
                            int64_t begin, int64_t end) {
  alignas(64) S g[kBlock];
  for (int64_t b = begin; b < end; b += kBlock) {
    const int64_t n = std::min(kBlock, end - b);
    SawtoothBlock(p.params, x + b, g, n);  // before y (which may be x)
    VisitBaseAndShape(
        p.base, p.shape, [&](auto base, auto shape) TFA_LAMBDA_INLINE {
          ForwardLoop<decltype(base)::kValue, decltype(shape)::kValue>(
              p.params, x + b, g, y + b, n);
        });
  }
}

template <typename S>
TFA_INLINE void BackwardImpl(const Problem<S>& p, const S* x, const S* dy,
                             S* dx, int64_t begin, int64_t end) {
  alignas(64) S g[kBlock];
  for (int64_t b = begin; b < end; b += kBlock) {
    const int64_t n = std::min(kBlock, end - b);
    SawtoothBlock(p.params, x + b, g, n);
    VisitBaseAndShape(
        p.base, p.shape, [&](auto base, auto shape) TFA_LAMBDA_INLINE {
          BackwardLoop<decltype(base)::kValue, decltype(shape)::kValue>(
              p.params, x + b, g, dy + b, dx + b, n);
        });
  }
}

}  // namespace

#define TFA_ENTRY_POINTS(S)                                                \
  TFA_CPU_CLONES void Forward(const Problem<S>& p, const S* x, S* y,       \
                              int64_t begin, int64_t end) {                \
    ForwardImpl(p, x, y, begin, end);                                      \
  }                                                                        \
  TFA_CPU_CLONES void Backward(const Problem<S>& p, const S* x,            \
                               const S* dy, S* dx, int64_t begin,          \
                               int64_t end) {                              \
    BackwardImpl(p, x, dy, dx, begin, end);                                \
  }
TFA_FOR_EACH_CPU_TYPE(TFA_ENTRY_POINTS)
#undef TFA_ENTRY_POINTS

}  // namespace gaaf
}  // namespace tf_approx
