// The math of the noisy activation functions (thesis §4.3), written
// once.
//
// h is a hard-saturating function and u its linearisation at 0:
//   hard_tanh:    u(x) = x,           h = clip(u, -1, 1), saturated for |x| > 1
//   hard_sigmoid: u(x) = x / 4 + 1/2, h = clip(u, 0, 1),  saturated for |x| > 2
// and Delta(x) = h(x) - u(x), zero wherever h is linear. With eps the noise
// (xi ~ N(0, 1) or |xi|; at inference its mean, 0 or sqrt(2 / pi)):
//   output          (NAN, NAH; eq. 4.15)
//                   phi = alpha h + (1 - alpha) u + d(x) sigma(x) eps,
//                   sigma = c (sigmoid(p Delta) - 1/2)^2,
//                   d = -sign(x) sign(1 - alpha)
//   input           (NANI; eq. 4.18)   phi = h(x + sigma eps), sigma fixed
//   input_learned   (NANIL)            the same with sigma(x) = c softplus(
//                                      p |Delta(x)|), p learned
//   input_saturated (NANIS; eq. 4.19)  phi = h(x + [|x| >= x_t] sigma eps)
// `scale` is c for output and input_learned, sigma for input and
// input_saturated. Gradients treat eps as a constant (the thesis' eq. 4.11).
// At |x| = x_t exactly h counts as linear (slope u').
//
// Every function is a template over V, a scalar or a GCC vector of one (see
// cc/common/lanes.h). No TensorFlow includes: shared by the CPU kernels, the
// CUDA kernels and the native module. The noise itself is counter-based
// (cc/common/counter_noise.h): the backward pass regenerates it.
#ifndef TF_APPROX_CC_NOISY_NOISY_H_
#define TF_APPROX_CC_NOISY_NOISY_H_


#include "cc/common/counter_noise.h"
#include "cc/common/dispatch.h"
#include "cc/common/lanes.h"
#include "cc/common/platform.h"
#include "cc/common/vector_math.h"

namespace tf_approx {
namespace noisy {

enum class Base : int { kTanh = 0, kSigmoid = 1 };
enum class Where : int {
  kOutput = 0,
  kInput = 1,
  kInputLearned = 2,
  kInputSaturated = 3,
};

// The scalars every element shares.
template <typename S>
struct Params {
  // h and u: u = slope x + offset, h = clip(u, low, high), linear for
  // |x| <= threshold.
  S slope = 1;
  S offset = 0;
  S low = -1;
  S high = 1;
  S threshold = 1;
  S alpha = 1;       // output: the leak
  S direction = 0;   // output: sign(1 - alpha)
  S scale = 0;       // c or sigma (see the header comment)
  S noise_mean = 0;  // eps at inference: 0, or sqrt(2 / pi) for |xi|
};

template <typename S>
TFA_HOST_DEVICE inline Params<S> MakeParams(Base base, S alpha, S scale,
                                            bool half_normal) {
  Params<S> q;
  if (base == Base::kSigmoid) {
    q.slope = S(0.25);
    q.offset = S(0.5);
    q.low = 0;
    q.threshold = 2;
  }
  q.alpha = alpha;
  q.direction = alpha < 1 ? S(1) : (alpha > 1 ? S(-1) : S(0));
  q.scale = scale;
  q.noise_mean = half_normal ? S(0.79788456080286535588) : S(0);
  return q;
}

// h, its slope, and Delta = h - u with its slope, at one input.
template <typename V>
struct Hard {
  V h;
  V u;
  V dh;      // h'(x): slope where linear, else 0
  V delta;   // h - u
  V ddelta;  // Delta'(x) = h' - u'
};

template <typename V, typename S>
TFA_INLINE Hard<V> EvaluateHard(const Params<S>& q, V x) {
  const V zero = {};
  Hard<V> r;
  r.u = x * q.slope + q.offset;
  const V low = Splat<V, S>(q.low), high = Splat<V, S>(q.high);
  const V clipped = r.u < low ? low : r.u;  // NaN stays NaN
  r.h = clipped > high ? high : clipped;
  r.dh = Abs(x) <= q.threshold ? Splat<V, S>(q.slope) : zero;
  r.delta = r.h - r.u;
  r.ddelta = r.dh - q.slope;
  return r;
}

// ---------------------------------------------------------------------------
// where = output (NAN, NAH).

template <typename V, typename S>
TFA_INLINE V OutputForward(const Params<S>& q, V x, V p, V eps) {
  const Hard<V> hard = EvaluateHard(q, x);
  const V half = SigmoidMinusHalf(p * hard.delta);
  const V sigma = half * half * q.scale;
  const V d = Sign(x) * (-q.direction);
  return hard.h * q.alpha + hard.u * (1 - q.alpha) + d * sigma * eps;
}

// Returns dy dphi/dx; *dp = dy dphi/dp.
template <typename V, typename S>
TFA_INLINE V OutputBackward(const Params<S>& q, V x, V p, V eps, V dy, V* dp) {
  const Hard<V> hard = EvaluateHard(q, x);
  const V half = SigmoidMinusHalf(p * hard.delta);
  // d sigma / d(p Delta) = 2 c (s - 1/2) s (1 - s), s (1 - s) = 1/4 - half^2.
  const V dsigma = half * (S(0.25) - half * half) * (2 * q.scale);
  const V noise = Sign(x) * (-q.direction) * eps * dsigma * dy;
  *dp = noise * hard.delta;
  return dy * (hard.dh * q.alpha + (1 - q.alpha) * q.slope) +
         noise * p * hard.ddelta;
}

// ---------------------------------------------------------------------------
// where = input, input_learned, input_saturated (NANI, NANIL, NANIS).

// sigma(x) and, for input_learned, its derivatives in x and p.
template <Where W, typename V>
struct InputSigma {
  V sigma;
  V dx;  // d sigma / dx
  V dp;  // d sigma / dp
};

template <Where W, typename V, typename S>
TFA_INLINE InputSigma<W, V> EvaluateInputSigma(const Params<S>& q, V x, V p) {
  const V zero = {};
  InputSigma<W, V> r;
  r.dx = zero;
  r.dp = zero;
  if constexpr (W == Where::kInput) {
    r.sigma = Splat<V, S>(q.scale);
  } else if constexpr (W == Where::kInputSaturated) {
    r.sigma = Abs(x) >= q.threshold ? Splat<V, S>(q.scale) : zero;
  } else {
    const Hard<V> hard = EvaluateHard(q, x);
    const V magnitude = Abs(hard.delta);
    const V t = p * magnitude;
    r.sigma = Softplus(t) * q.scale;
    const V slope = Sigmoid(t) * q.scale;  // c softplus'(t)
    r.dx = slope * p * Sign(hard.delta) * hard.ddelta;
    r.dp = slope * magnitude;
  }
  return r;
}

template <Where W, typename V, typename S>
TFA_INLINE V InputForward(const Params<S>& q, V x, V p, V eps) {
  const InputSigma<W, V> s = EvaluateInputSigma<W>(q, x, p);
  return EvaluateHard(q, x + s.sigma * eps).h;
}

template <Where W, typename V, typename S>
TFA_INLINE V InputBackward(const Params<S>& q, V x, V p, V eps, V dy, V* dp) {
  const InputSigma<W, V> s = EvaluateInputSigma<W>(q, x, p);
  const V z = x + s.sigma * eps;
  const V zero = {};
  const V g = Abs(z) <= q.threshold ? dy * q.slope : zero;  // dy h'(z)
  *dp = g * eps * s.dp;
  if constexpr (W == Where::kInputLearned) {
    return g * (1 + eps * s.dx);
  } else {
    return g;
  }
}

// Dispatch on where at compile time.
template <Where W, typename V, typename S>
TFA_INLINE V Forward(const Params<S>& q, V x, V p, V eps) {
  if constexpr (W == Where::kOutput) {
    return OutputForward(q, x, p, eps);
  } else {
    return InputForward<W>(q, x, p, eps);
  }
}

template <Where W, typename V, typename S>
TFA_INLINE V Backward(const Params<S>& q, V x, V p, V eps, V dy, V* dp) {
  if constexpr (W == Where::kOutput) {
    return OutputBackward(q, x, p, eps, dy, dp);
  } else {
    return InputBackward<W>(q, x, p, eps, dy, dp);
  }
}

// Calls fn(ValueTag<where>()), so that the element loops are compiled once
// per variant.
template <typename Fn>
TFA_INLINE void VisitWhere(Where where, Fn&& fn) {
  switch (where) {
    case Where::kOutput:
      fn(ValueTag<Where::kOutput>());
      break;
    case Where::kInput:
      fn(ValueTag<Where::kInput>());
      break;
    case Where::kInputLearned:
      fn(ValueTag<Where::kInputLearned>());
      break;
    case Where::kInputSaturated:
      fn(ValueTag<Where::kInputSaturated>());
      break;
  }
}

// The noise of the element with flat index (lo, hi) as float32 lanes F (a
// scalar float or a float vector; U the matching uint32 type): xi ~ N(0, 1),
// or |xi| for half-normal noise.
template <typename F, typename U>
TFA_INLINE F Noise(const NoiseKey& key, U index_lo, U index_hi,
                   bool half_normal) {
  const F u =
      NoiseUniform<F>(CoefficientHash(ElementHash(key, index_lo, index_hi), 0));
  const F xi = StandardNormal(u);
  return half_normal ? Abs(xi) : xi;
}

// Host helpers, shared by the op kernels and the native modules (plain host
// functions, visible to nvcc's device pass so that host code in a .cu file
// can call them).

inline bool ParseBase(const char* name, Base* base) {
  static constexpr Named<Base> kNames[] = {{"tanh", Base::kTanh},
                                           {"sigmoid", Base::kSigmoid}};
  return ParseName(name, kNames, base);
}

inline bool ParseWhere(const char* name, Where* where) {
  static constexpr Named<Where> kNames[] = {
      {"output", Where::kOutput},
      {"input", Where::kInput},
      {"input_learned", Where::kInputLearned},
      {"input_saturated", Where::kInputSaturated}};
  return ParseName(name, kNames, where);
}

}  // namespace noisy
}  // namespace tf_approx

#endif  // TF_APPROX_CC_NOISY_NOISY_H_
