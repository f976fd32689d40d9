#include "cc/activations/activations_cpu.h"

#include <array>

#include "cc/common/cpu_vector.h"

namespace tf_approx {
namespace activations {
namespace {

template <typename S>
TFA_INLINE Vec<S> ClipVector(const Params<S>& p, Vec<S> x) {
  return x < p.clip_lo ? Splat<Vec<S>>(p.clip_lo)
                       : (x > p.clip_hi ? Splat<Vec<S>>(p.clip_hi) : x);
}

// The fast form is exact below p.far. Each block is checked before it is
// computed, so x and y may alias (TensorFlow forwards buffers in place).
constexpr int64_t kBlock = 512;

template <typename F, typename S>
TFA_INLINE bool BlockNeedsFar(const Params<S>& p, const S* x, int64_t n) {
  if constexpr (!F::kHasFar) {
    return false;
  } else {
    using V = Vec<S>;
    V largest = {};
    for (int64_t i = 0; i + kLanes<S> <= n; i += kLanes<S>) {
      V v = Load(x + i);
      if (p.clip) v = ClipVector(p, v);
      V a = Abs(v);
      largest = a > largest ? a : largest;  // NaN takes the fast form
    }
    bool any = false;
    for (int64_t i = 0; i < kLanes<S>; ++i) any |= largest[i] > p.far;
    return any;
  }
}

// Blocks of at most kBlock elements.
template <typename S, typename F>
TFA_INLINE void ForwardBlock(const F& f, const Params<S>& p, const S* x, S* y,
                             int64_t n) {
  int64_t i = 0;
  if constexpr (F::kVectorizable) {
    if (!BlockNeedsFar<F>(p, x, n)) {
      for (; i + kLanes<S> <= n; i += kLanes<S>) {
        Vec<S> v = Load(x + i);
        if (p.clip) v = ClipVector(p, v);
        Store(y + i, f.Value(v));
      }
    }
  }
  for (; i < n; ++i) y[i] = ScalarValue(f, p, x[i]);
}

template <typename S, typename F>
TFA_INLINE void GradientBlock(const F& f, const Params<S>& p, const S* x,
                              const S* dy, S* dx, int64_t n) {
  int64_t i = 0;
  if constexpr (F::kVectorizable) {
    if (!BlockNeedsFar<F>(p, x, n)) {
      using V = Vec<S>;
      for (; i + kLanes<S> <= n; i += kLanes<S>) {
        V v = Load(x + i);
        V g = Load(dy + i) * f.Derivative(v);
        if (p.clip) g = (v < p.clip_lo) | (v > p.clip_hi) ? Splat<V, S>(0) : g;
        Store(dx + i, g);
      }
    }
  }
  for (; i < n; ++i) dx[i] = ScalarGradient(f, p, x[i], dy[i]);
}

template <typename S, typename F>
TFA_INLINE void ForwardLoop(const F& f, const Params<S>& p, const S* x, S* y,
                            int64_t n) {
  for (int64_t b = 0; b < n; b += kBlock)
    ForwardBlock(f, p, x + b, y + b, n - b < kBlock ? n - b : kBlock);
}

template <typename S, typename F>
TFA_INLINE void GradientLoop(const F& f, const Params<S>& p, const S* x,
                             const S* dy, S* dx, int64_t n) {
  for (int64_t b = 0; b < n; b += kBlock)
    GradientBlock(f, p, x + b, dy + b, dx + b, n - b < kBlock ? n - b : kBlock);
}

template <typename S>
TFA_INLINE void ForwardImpl(const Params<S>& p, const S* x, S* y, int64_t n) {
  VisitFunction(
      p, [&](const auto& f) TFA_LAMBDA_INLINE { ForwardLoop(f, p, x, y, n); });
}

template <typename S>
TFA_INLINE void GradientImpl(const Params<S>& p, const S* x, const S* dy, S* dx,
                             int64_t n) {
  VisitFunction(p, [&](const auto& f)
                       TFA_LAMBDA_INLINE { GradientLoop(f, p, x, dy, dx, n); });
}

}  // namespace

TFA_CPU_CLONES void Forward(const Params<float>& p, const float* x, float* y,
                            int64_t n) {
  ForwardImpl(p, x, y, n);
}

TFA_CPU_CLONES void Forward(const Params<double>& p, const double* x, double* y,
                            int64_t n) {
  ForwardImpl(p, x, y, n);
}

TFA_CPU_CLONES void Gradient(const Params<float>& p, const float* x,
                             const float* dy, float* dx, int64_t n) {
  GradientImpl(p, x, dy, dx, n);
}

TFA_CPU_CLONES void Gradient(const Params<double>& p, const double* x,
                             const double* dy, double* dx, int64_t n) {
  GradientImpl(p, x, dy, dx, n);
}

const float* Word2VecTable() {
  static const std::array<float, kWord2VecTableSize> table = [] {
    std::array<float, kWord2VecTableSize> t;
    for (int i = 0; i < kWord2VecTableSize; ++i) t[i] = Word2VecTableEntry(i);
    return t;
  }();
  return table.data();
}

}  // namespace activations
}  // namespace tf_approx
