#include "cc/acdc/acdc_cpu.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "cc/common/cpu_vector.h"
#include "cc/common/lanes.h"

namespace tf_approx {
namespace acdc {
namespace {

template <typename V>
constexpr int64_t kLanesOf = sizeof(V) / sizeof(ScalarOfT<V>);

// `size` vectors of scratch, 64-byte aligned (std::vector<V> is not
// guaranteed to honour V's alignment in every clone).
template <typename V>
class Scratch {
 public:
  explicit Scratch(int64_t size) : raw_(size * sizeof(V) + 64) {}
  V* data() {
    const uintptr_t address = reinterpret_cast<uintptr_t>(raw_.data());
    return reinterpret_cast<V*>((address + 63) & ~uintptr_t{63});
  }

 private:
  std::vector<unsigned char> raw_;
};

// One step of the recursive transpose of a kL x kL tile held in kL vectors:
// swaps the off-diagonal kK x kK blocks of every 2kK x 2kK block.
template <typename V, int64_t kK, size_t... kT>
TFA_INLINE void SwapBlocks(V* r, std::index_sequence<kT...>) {
  using S = ScalarOfT<V>;
  using M = typename MaskOf<S>::type;
  using Lane = typename MaskOf<S>::lane;
  constexpr int64_t kL = kLanesOf<V>;
  const M low = {static_cast<Lane>((kT & kK) ? kT - kK + kL : kT)...};
  const M high = {static_cast<Lane>((kT & kK) ? kT + kL : kT + kK)...};
  for (int64_t i = 0; i < kL; ++i) {
    if (i & kK) continue;
    const V a = r[i];
    const V b = r[i + kK];
    r[i] = __builtin_shuffle(a, b, low);
    r[i + kK] = __builtin_shuffle(a, b, high);
  }
}

// r[i] lane c <-> r[c] lane i, in registers (log2 kL shuffle steps).
template <typename V, int64_t kK = kLanesOf<V> / 2>
TFA_INLINE void TransposeTile(V* r) {
  if constexpr (kK >= 1) {
    SwapBlocks<V, kK>(r, std::make_index_sequence<kLanesOf<V>>());
    TransposeTile<V, kK / 2>(r);
  }
}

// dst[j], lane l = src[l][j] * scale[j] (scale may be null) for the `count`
// rows of src ([count, n]); lanes from `count` up are zero. Whole kL x kL
// tiles are transposed in registers, the last n % kL columns one by one.
template <typename V, typename S>
TFA_INLINE void Gather(const S* src, int64_t n, int64_t count, const S* scale,
                       V* dst) {
  constexpr int64_t kL = kLanesOf<V>;
  const V zero = {};
  const int64_t tiled = kL > 1 ? n - n % kL : 0;
  if constexpr (kL > 1) {
    for (int64_t j = 0; j < tiled; j += kL) {
      V r[kL];
      for (int64_t l = 0; l < kL; ++l) {
        r[l] = l < count ? Load(src + l * n + j) : zero;
      }
      TransposeTile(r);
      for (int64_t c = 0; c < kL; ++c) {
        dst[j + c] = scale == nullptr ? r[c] : r[c] * scale[j + c];
      }
    }
  }
  S* flat = reinterpret_cast<S*>(dst);
  for (int64_t j = tiled; j < n; ++j) {
    for (int64_t l = 0; l < kL; ++l) {
      const S value = l < count ? src[l * n + j] : S(0);
      flat[j * kL + l] = scale == nullptr ? value : value * scale[j];
    }
  }
}

// The inverse of Gather without a scale: dst[l][j] = src[j], lane l.
template <typename V, typename S>
TFA_INLINE void Scatter(const V* src, int64_t n, int64_t count, S* dst) {
  constexpr int64_t kL = kLanesOf<V>;
  const int64_t tiled = kL > 1 ? n - n % kL : 0;
  if constexpr (kL > 1) {
    for (int64_t j = 0; j < tiled; j += kL) {
      V r[kL];
      for (int64_t c = 0; c < kL; ++c) r[c] = src[j + c];
      TransposeTile(r);
      for (int64_t l = 0; l < count; ++l) Store(dst + l * n + j, r[l]);
    }
  }
  const S* flat = reinterpret_cast<const S*>(src);
  for (int64_t l = 0; l < count; ++l) {
    for (int64_t j = tiled; j < n; ++j) dst[l * n + j] = flat[j * kL + l];
  }
}

// Rows [begin, end) in units of one lane group (kL rows, one per lane):
// fn(row, count).
template <typename V, typename Fn>
TFA_INLINE void ForEachUnit(int64_t begin, int64_t end, Fn&& fn) {
  constexpr int64_t kL = kLanesOf<V>;
  for (int64_t row = begin; row < end; row += kL) {
    fn(row, std::min(kL, end - row));
  }
}

template <typename V, typename S>
TFA_INLINE void ForwardImpl(const Problem<S>& p, const S* x, S* y,
                            int64_t begin, int64_t end) {
  const Plan<S>& plan = p.plan;
  const int64_t n = plan.n;
  Scratch<V> buffer(n + ScratchSize(plan));
  V* u = buffer.data();
  V* work = u + n;
  ForEachUnit<V>(begin, end,
                 [&](int64_t row, int64_t count) TFA_LAMBDA_INLINE {
                   Gather(x + row * n, n, count, p.a, u);
                   ForwardSteps(p, u, work, SerialPhase());
                   Scatter(u, n, count, y + row * n);
                 });
}

// Adds the lanes of acc[j] to sum[j], lowest lane first.
template <typename V, typename S>
TFA_INLINE void AddLanes(const V* acc, int64_t n, S* sum) {
  constexpr int64_t kL = kLanesOf<V>;
  const S* flat = reinterpret_cast<const S*>(acc);
  for (int64_t j = 0; j < n; ++j) {
    S total = sum[j];
    for (int64_t l = 0; l < kL; ++l) total += flat[j * kL + l];
    sum[j] = total;
  }
}

template <typename V, typename S>
TFA_INLINE void BackwardImpl(const Problem<S>& p, const S* dy, const S* x,
                             S* dx, int64_t begin, int64_t end, S* grad) {
  const Plan<S>& plan = p.plan;
  const int64_t n = plan.n;
  Scratch<V> buffer(6 * n + ScratchSize(plan));
  V* xs = buffer.data();
  V* g = xs + n;
  V* h = g + n;
  V* da = h + n;  // per-lane sums
  V* dd = da + n;
  V* dbias = dd + n;
  V* work = dbias + n;
  const V zero = {};
  std::fill(da, da + 3 * n, zero);
  const S* no_scale = nullptr;
  ForEachUnit<V>(begin, end, [&](int64_t row, int64_t count)
                                 TFA_LAMBDA_INLINE {
    Gather(x + row * n, n, count, no_scale, xs);
    Gather(dy + row * n, n, count, no_scale, g);
    for (int64_t j = 0; j < n; ++j) h[j] = xs[j] * p.a[j];
    BackwardSteps(
        p, h, g, work, SerialPhase(),
        [&](int64_t j, V h2, V g_j) TFA_LAMBDA_INLINE {
          dd[j] += h2 * g_j;
          dbias[j] += g_j;
        },
        [&](int64_t j, V t) TFA_LAMBDA_INLINE { da[j] += xs[j] * t; });
    Scatter(h, n, count, dx + row * n);
  });
  AddLanes(da, n, grad);
  AddLanes(dd, n, grad + n);
  AddLanes(dbias, n, grad + 2 * n);
}

template <typename V, typename S>
TFA_INLINE void Transform(const Plan<S>& plan, bool inverse, const S* x, S* y,
                          int64_t begin, int64_t end) {
  const int64_t n = plan.n;
  Scratch<V> buffer(n + ScratchSize(plan));
  V* u = buffer.data();
  V* work = u + n;
  const S* no_scale = nullptr;
  ForEachUnit<V>(begin, end,
                 [&](int64_t row, int64_t count) TFA_LAMBDA_INLINE {
                   Gather(x + row * n, n, count, no_scale, u);
                   if (inverse) {
                     Dct3(plan, u, work);
                   } else {
                     Dct2(plan, u, work);
                   }
                   Scatter(u, n, count, y + row * n);
                 });
}

}  // namespace

static_assert(sizeof(Vec<float>) == kVectorBytes &&
                  sizeof(Vec<double>) == kVectorBytes,
              "acdc.h's RowsPerUnit and the gradient's lanes are Vec's");

// Rows up to kMaxVectorLength long go a vector of rows at a time, longer
// ones a scalar (row) at a time.
#define TFA_ENTRY_POINTS(S)                                                    \
  TFA_CPU_CLONES void Forward(const Problem<S>& p, const S* x, S* y,           \
                              int64_t row_begin, int64_t row_end) {            \
    if (p.plan.n <= kMaxVectorLength) {                                        \
      ForwardImpl<Vec<S>>(p, x, y, row_begin, row_end);                        \
    } else {                                                                   \
      ForwardImpl<S>(p, x, y, row_begin, row_end);                             \
    }                                                                          \
  }                                                                            \
  TFA_CPU_CLONES void Backward(const Problem<S>& p, const S* dy, const S* x,   \
                               S* dx, int64_t row_begin, int64_t row_end,      \
                               S* grad) {                                      \
    if (p.plan.n <= kMaxVectorLength) {                                        \
      BackwardImpl<Vec<S>>(p, dy, x, dx, row_begin, row_end, grad);            \
    } else {                                                                   \
      BackwardImpl<S>(p, dy, x, dx, row_begin, row_end, grad);                 \
    }                                                                          \
  }                                                                            \
  TFA_CPU_CLONES void Dct(const Plan<S>& plan, bool inverse, const S* x, S* y, \
                          int64_t row_begin, int64_t row_end) {                \
    if (plan.n <= kMaxVectorLength) {                                          \
      Transform<Vec<S>>(plan, inverse, x, y, row_begin, row_end);              \
    } else {                                                                   \
      Transform<S>(plan, inverse, x, y, row_begin, row_end);                   \
    }                                                                          \
  }

TFA_FOR_EACH_CPU_TYPE(TFA_ENTRY_POINTS)

#undef TFA_ENTRY_POINTS

}  // namespace acdc
}  // namespace tf_approx
