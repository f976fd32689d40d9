// The math of GAAF, gradient acceleration in activation functions (Hahn and
// Choi, 2018), written once.
//
//   phi_new(x) = phi(x) + g(x) s(x),   g(x) = (xK - floor(xK) - 1/2) / K
//
// phi is tanh, sigmoid or relu; s a shape function:
//   exp      s(x) = exp(-|x - center| / width)      (the paper's choice for
//   tanh) sigmoid  s(x) = sigmoid(-(x - center) / width)  (its "shifted
//   sigmoid", relu) none     s(x) = 1
// |g| <= 1/(2K), so the forward pass differs from phi by at most 1/(2K); g' = 1
// almost everywhere, so the gradient is phi'(x) + s(x) + g(x) s'(x).
//
// g needs the fractional part of xK, which float32 loses beyond |x| ~ 800
// (K = 10^4). It is computed in double from exact pieces: x and K are split
// into a high part of 26 significant bits and a low part of 27, so that the
// partial products are exact doubles (x_lo k_lo, 54 bits, is the exception:
// its rounding costs 2^-52 |xK| 2^-53 at most, and it is 0 for K = 10^4,
// whose significand has 14 bits); their fractional parts are exact, and their
// sum is exact to a few 2^-52. So g is accurate for every float32 input and
// for float64 inputs alike. Each product's fractional part is taken towards
// zero (exact, of the product's sign, even for a tiny negative product, whose
// fractional part 1 - |p| is not a double); the sum of those is reduced to
// [0, 1) only once, at the end, with a single rounding, which may round up to
// 1: g = 1/(2K) is then the correctly rounded value of (1/2 - |xK|) / K, not
// -1/(2K).
//
// At x = +-inf g has no limit (the sawtooth keeps oscillating), so it is
// NaN there. Where s(+-inf) = 0 (shape exp, and sigmoid at +inf) the terms
// g s and g s' take their limit 0 and the result is phi's; where s(+-inf)
// is not 0 (shape none, and sigmoid at -inf) the value and the gradient are
// NaN.
//
// Every function is a template over V (S lanes: a scalar or a GCC vector of
// one) or W (double lanes). No TensorFlow includes: shared by the CPU kernels,
// the CUDA kernels and the native module.
#ifndef TF_APPROX_CC_GAAF_GAAF_H_
#define TF_APPROX_CC_GAAF_GAAF_H_

#include <limits>

#include "cc/common/dispatch.h"
#include "cc/common/lanes.h"
#include "cc/common/platform.h"
#include "cc/common/vector_math.h"

namespace tf_approx {
namespace gaaf {

enum class Base : int { kTanh = 0, kSigmoid = 1, kRelu = 2 };
enum class Shape : int {
  kNone = 0,
  kExp = 1,
  kSigmoid = 2,
  // kExp with center 0 and width 1 (the default), which the kernels pick
  // themselves: s = e^-|x| then shares its exponential with tanh or sigmoid.
  kExpUnit = 3,
};

// Beyond this |x| xK is an integer for any K > 2^-100: its fractional part
// is 0.
constexpr double kIntegralBeyond = 0x1p900;

// x with the low 27 bits of its significand cleared: 26 significant bits,
// and x - HighBits(x) is exact with at most 27. By masking rather than
// Veltkamp's x * (2^27 + 1), which the compiler may contract into an FMA
// (-ffp-contract=fast is GCC's C++ default) and so break.
template <typename W>
TFA_INLINE W HighBits(W x) {
  using I = IntOfT<W>;
  constexpr int64_t kMask = ~((int64_t{1} << 27) - 1);
  return BitCast<W>(BitCast<I>(x) & (I{} + kMask));
}

template <typename S>
struct Params {
  S center = 0;
  S inv_width = 1;
  double k_hi = 0;  // K = k_hi + k_lo, k_hi = HighBits(K)
  double k_lo = 0;
  double inv_k = 0;
};

template <typename S>
TFA_HOST_DEVICE inline Params<S> MakeParams(double k, double center,
                                            double width) {
  Params<S> q;
  q.center = static_cast<S>(center);
  q.inv_width = static_cast<S>(1.0 / width);
  q.k_hi = HighBits(k);
  q.k_lo = k - q.k_hi;
  q.inv_k = 1.0 / k;
  return q;
}

// a - trunc(a): the fractional part towards zero, of a's sign; exact.
template <typename W>
TFA_INLINE W SignedFraction(W a) {
  const W magnitude = Abs(a);
  const W fraction = magnitude - Floor(magnitude);
  return a < 0 ? -fraction : fraction;
}

// g(x) = (frac(xK) - 1/2) / K on double lanes. kSplitX = false where x has
// at most 26 significant bits (a float32 input: x_lo = 0); kSplitK = false
// where K has (k_lo = 0, as for K = 10^4). Each dropped partial product is 0.
template <bool kSplitX = true, bool kSplitK = true, typename W, typename S>
TFA_INLINE W Sawtooth(const Params<S>& q, W x) {
  const W x_hi = kSplitX ? HighBits(x) : x;
  // sum = xK - (an integer), |sum| < 4.
  W sum = SignedFraction(x_hi * q.k_hi);
  if constexpr (kSplitK) sum += SignedFraction(x_hi * q.k_lo);
  if constexpr (kSplitX) {
    const W x_lo = x - x_hi;
    sum += SignedFraction(x_lo * q.k_hi);
    if constexpr (kSplitK) sum += SignedFraction(x_lo * q.k_lo);
  }
  // frac(xK) - 1/2 = sum - (floor(sum) + 1/2), one rounding: in [-1/2, 1/2].
  const W centered = sum - (Floor(sum) + 0.5);
  const W integral = Splat<W, double>(-0.5);  // beyond kIntegralBeyond
  const W nan = Splat<W, double>(std::numeric_limits<double>::quiet_NaN());
  const W infinity = Splat<W, double>(std::numeric_limits<double>::infinity());
  W result = Abs(x) < kIntegralBeyond ? centered : integral;
  result = Abs(x) == infinity ? nan : result;  // no limit at +-inf
  return result * q.inv_k;
}

// phi and phi' at x.
template <Base B, typename V>
struct BaseValue {
  V value;
  V slope;
};

template <Base B, typename V>
TFA_INLINE BaseValue<B, V> EvaluateBase(V x) {
  BaseValue<B, V> r;
  const V zero = {};
  if constexpr (B == Base::kTanh) {
    r.value = Tanh(x);
    r.slope = 1 - r.value * r.value;
  } else if constexpr (B == Base::kSigmoid) {
    const V e = Exp(-Abs(x));
    const V inv = 1 / (1 + e);
    r.value = x < 0 ? e * inv : inv;
    r.slope = e * inv * inv;  // sigmoid (1 - sigmoid) without cancellation
  } else {
    r.value = x < 0 ? zero : x;  // NaN stays NaN
    r.slope = x > 0 ? Splat<V, ScalarOfT<V>>(1) : zero;
  }
  return r;
}

// s and s' at x.
template <Shape H, typename V>
struct ShapeValue {
  V value;
  V slope;
};

template <Shape H, typename V, typename S>
TFA_INLINE ShapeValue<H, V> EvaluateShape(const Params<S>& q, V x) {
  ShapeValue<H, V> r;
  if constexpr (H == Shape::kNone) {
    r.value = Splat<V, S>(1);
    r.slope = V{};
  } else {
    const V a = (x - q.center) * q.inv_width;
    if constexpr (H == Shape::kExp || H == Shape::kExpUnit) {
      r.value = Exp(-Abs(a));
      r.slope = -Sign(a) * q.inv_width * r.value;
    } else {
      // sigmoid(-a) and its derivative -sigmoid(a) sigmoid(-a) / width.
      const V e = Exp(-Abs(a));
      const V inv = 1 / (1 + e);
      r.value = a > 0 ? e * inv : inv;
      r.slope = -(e * inv * inv) * q.inv_width;
    }
  }
  return r;
}

// phi, phi', s and s' at x: apart, or sharing one exponential when s is
// e^-|x| (Shape::kExpUnit) and phi is tanh or sigmoid.
template <Base B, Shape H, typename V, typename S>
TFA_INLINE void Evaluate(const Params<S>& q, V x, BaseValue<B, V>* phi,
                         ShapeValue<H, V>* s) {
  if constexpr (H == Shape::kExpUnit && B != Base::kRelu) {
    V e, em;  // e^-|x|, e^-|x| - 1
    ExpAndExpm1NonPositive(-Abs(x), &e, &em);
    s->value = e;
    s->slope = -Sign(x) * e;
    if constexpr (B == Base::kTanh) {
      // tanh|x| = -em2 / (2 + em2), em2 = e^-2|x| - 1 = em (em + 2).
      const V em2 = em * (em + 2);
      const V magnitude = (0 - em2) / (2 + em2);  // NaN for NaN x
      phi->value = x < 0 ? -magnitude : magnitude;
      phi->slope = 1 - phi->value * phi->value;
    } else {
      const V inv = 1 / (1 + e);
      phi->value = x < 0 ? e * inv : inv;
      phi->slope = e * inv * inv;
    }
  } else {
    *phi = EvaluateBase<B>(x);
    *s = EvaluateShape<H>(q, x);
  }
}

// g v where s != 0, 0 where s = 0 (where s' = 0 too): g = NaN at +-inf
// then gives the limit 0 of g s and g s'. For finite x this is g v.
template <typename V>
TFA_INLINE V TimesSawtooth(V g, V s, V v) {
  const V zero = {};
  return s == 0 ? zero : g * v;
}

// phi(x) + g s(x), with g = Sawtooth(x) converted to V.
template <Base B, Shape H, typename V, typename S>
TFA_INLINE V Forward(const Params<S>& q, V x, V g) {
  BaseValue<B, V> phi;
  ShapeValue<H, V> s;
  Evaluate(q, x, &phi, &s);
  return phi.value + TimesSawtooth(g, s.value, s.value);
}

// dy (phi'(x) + s(x) + g s'(x)); at +-inf, where s != 0, g s' = NaN 0 is
// NaN.
template <Base B, Shape H, typename V, typename S>
TFA_INLINE V Backward(const Params<S>& q, V x, V g, V dy) {
  BaseValue<B, V> phi;
  ShapeValue<H, V> s;
  Evaluate(q, x, &phi, &s);
  return dy * (phi.slope + s.value + TimesSawtooth(g, s.value, s.slope));
}

// What the kernels evaluate: the parameters, phi and the shape they run.
template <typename S>
struct Problem {
  Params<S> params;
  Base base = Base::kTanh;
  Shape shape = Shape::kExp;
};

// Calls fn(ValueTag<base>(), ValueTag<shape>()).
template <typename Fn>
TFA_INLINE void VisitBaseAndShape(Base base, Shape shape, Fn&& fn) {
  auto with_shape = [&](auto base_tag) TFA_LAMBDA_INLINE {
    switch (shape) {
      case Shape::kNone:
        fn(base_tag, ValueTag<Shape::kNone>());
        break;
      case Shape::kExp:
        fn(base_tag, ValueTag<Shape::kExp>());
        break;
      case Shape::kSigmoid:
        fn(base_tag, ValueTag<Shape::kSigmoid>());
        break;
      case Shape::kExpUnit:
        fn(base_tag, ValueTag<Shape::kExpUnit>());
        break;
    }
  };
  switch (base) {
    case Base::kTanh:
      with_shape(ValueTag<Base::kTanh>());
      break;
    case Base::kSigmoid:
      with_shape(ValueTag<Base::kSigmoid>());
      break;
    case Base::kRelu:
      with_shape(ValueTag<Base::kRelu>());
      break;
  }
}

// The shape the kernels run: kExpUnit for kExp with center 0 and width 1.
template <typename S>
TFA_HOST_DEVICE inline Shape KernelShape(Shape shape, const Params<S>& q) {
  return shape == Shape::kExp && q.center == 0 && q.inv_width == 1
             ? Shape::kExpUnit
             : shape;
}

// Host-side helpers, shared by the op kernels and the native modules: plain
// functions, which nvcc compiles for the host only (device code cannot call
// them), so host code in a .cu file may call them.

inline bool ParseBase(const char* name, Base* base) {
  static constexpr Named<Base> kNames[] = {{"tanh", Base::kTanh},
                                           {"sigmoid", Base::kSigmoid},
                                           {"relu", Base::kRelu}};
  return ParseName(name, kNames, base);
}

inline bool ParseShape(const char* name, Shape* shape) {
  static constexpr Named<Shape> kNames[] = {{"none", Shape::kNone},
                                            {"exp", Shape::kExp},
                                            {"sigmoid", Shape::kSigmoid}};
  return ParseName(name, kNames, shape);
}

// The Problem for attrs given by name, as the native modules take them:
// nullptr, or what is wrong with them.
template <typename S>
const char* MakeProblem(const char* base, const char* shape, double k,
                        double center, double width, Problem<S>* p) {
  Shape parsed;
  if (!ParseBase(base, &p->base)) return "gaaf: unknown `base`";
  if (!ParseShape(shape, &parsed)) return "gaaf: unknown `shape`";
  if (!(k > 0 && k < std::numeric_limits<double>::infinity()) ||
      !(width > 0 && width < std::numeric_limits<double>::infinity()) ||
      !(center - center == 0)) {
    return "gaaf: `k` and `width` must be finite and > 0, `center` finite";
  }
  p->params = MakeParams<S>(k, center, width);
  p->shape = KernelShape(parsed, p->params);
  return nullptr;
}

}  // namespace gaaf
}  // namespace tf_approx

#endif  // TF_APPROX_CC_GAAF_GAAF_H_
