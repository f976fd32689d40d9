// The math of the approximated activation functions (Timmons and Rice,
// "Approximating Activation Functions", 2020), written once.
//
// Every function is a template over V, the type it computes on: a scalar S
// (float or double; CUDA threads and loop tails) or a GCC vector of S (the CPU
// kernels). Only arithmetic, comparisons and `?:` are used, which mean the
// same lane by lane on both. No TensorFlow includes: this header is shared by
// the CPU kernels, the CUDA kernels and the pybind11 native module.
//
// Conventions that hold for every kind:
//   * NaN in gives NaN out, for the value and for the derivative.
//   * A clamped function is f(clip(x, lo, hi)); its derivative is f'(x) on the
//     closed interval and 0 outside (what tf.clip_by_value's gradient gives).
//   * Derivatives are of the approximation as implemented, not of tanh/sigmoid.
#ifndef TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_H_
#define TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_H_

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "cc/common/dispatch.h"
#include "cc/common/lanes.h"
#include "cc/common/platform.h"
#include "cc/common/vector_math.h"

namespace tf_approx {
namespace activations {

enum class Kind : int {
  kRational = 0,          // P(x) / Q(x) + offset; polynomials have Q = 1
  kFastExpSigmoid = 1,    // 1 / (1 + (1 - x/n)^n), n = 2^squarings
  kUltraFastSigmoid = 2,  // Theano's piecewise sigmoid
  kWord2VecSigmoid = 3,   // word2vec's 1000-entry table
  kHardTanh = 4,          // clip(x, -1, 1)
  kHardSigmoid = 5,       // clip(x / 4 + 1/2, 0, 1)
  kFastExpExpm1 = 6,      // (1 + x/n)^n - 1, n = 2^squarings (for ELU)
  kFastExpMish = 7,       // tanh(softplus(x)) with exp(x) ~ (1 + x/n)^n
  kSpline = 8,            // cubic pieces between the form's two lines
};

// Up to degree 15: tanh_taylor_15 is the largest polynomial name (docs/accuracy.md).
constexpr int kMaxCoefficients = 16;
constexpr int kMaxSquarings = 12;  // sigm_fastexp_4096
constexpr int kWord2VecTableSize = 1000;
// A spline's pieces: one 64-byte register pair of float32 coefficients each
// (one shuffle gathers a lane's coefficient; two and a select for double).
constexpr int kMaxPieces = 32;

// A line y = slope x + intercept that replaces the function beyond `at`: an
// asymptote (GELU's 0 and x), or a piece of the formula (ELU's x for x > 0).
template <typename S>
struct Line {
  bool active = false;
  S at = 0, slope = 0, intercept = 0;

  // Slope 0 gives the intercept even at x = +-inf (not inf * 0).
  template <typename V>
  TFA_INLINE V Value(V x) const {
    return slope == S(0) ? Splat<V>(intercept) : x * slope + intercept;
  }
};

// Everything a kernel needs to evaluate one function. Plain data, so that it
// can be passed by value to a CUDA kernel (whose launcher points `table` at
// the device's copy of word2vec's table).
template <typename S>
struct Params {
  Kind kind = Kind::kRational;
  // Rational: coefficients in ascending powers, trailing zeros trimmed, so
  // num[num_len - 1] and den[den_len - 1] are the leading coefficients.
  int num_len = 1;
  int den_len = 1;
  S num[kMaxCoefficients] = {};
  S den[kMaxCoefficients] = {};
  S offset = 0;
  // Beyond |x| > far the Horner form could overflow (inf / inf); the rational
  // is then evaluated in 1/x, which is exact and gives the limits at +-inf.
  S far = 0;
  // Every built-in fit has parity (P odd or even, Q even or odd), so P(x) =
  // x^num_shift p(x^2): Horner on x^2 takes half the multiply-adds.
  bool parity = false;
  int num_shift = 0, den_shift = 0;
  int num_sq_len = 0, den_sq_len = 0;
  S num_sq[kMaxCoefficients] = {};
  S den_sq[kMaxCoefficients] = {};
  int squarings = 0;  // fastexp: n = 2^squarings
  bool clip = false;
  S clip_lo = 0;
  S clip_hi = 0;
  const float* table = nullptr;  // word2vec: kWord2VecTableSize entries
  // The form around the kind's function g, for the functions that are x times
  // a sigmoid-like factor (GELU, SiLU, Mish), have a linear part (softplus)
  // or a scale (ELU, SELU), with u = input_scale x:
  //   y = output_scale (product ? x g(u) : g(u)) + slope x,
  // replaced by the line `below` for x < below.at and by `above` for
  // x > above.at where they are active. `form` is false when all of this is
  // y = g(x); FormFn evaluates it (the kinds above kHardSigmoid and the
  // rationals and fastexp sigmoids only). `far` is in units of x.
  bool form = false;
  bool product = false;
  S input_scale = 1, output_scale = 1, slope = 0;
  Line<S> below, above;
  // Spline: `pieces` cubics on equal intervals of x between the lines'
  // points (below.at and above.at). Piece k's centre is at w = k, w = x
  // spline_scale + spline_shift; its value is c0 + t (c1 + t (c2 + t c3)),
  // c_j = spline[j][k], and its derivative d0 + t (d1 + t d2), d_j =
  // spline_slope[j][k], at t = w - k in [-1/2, 1/2]. InitParams rewrites
  // the `spline` attr's cubics (in the position over [0, 1] within the
  // piece) about their centres, in double; InitForm folds output_scale in
  // (output_scale is then 1 here) and derives d from c and spline_scale.
  // The lines take over where w < -1/2 or w >= pieces - 1/2 (SplineFn), so
  // k is always a piece the table has.
  int pieces = 0;
  S spline_scale = 0, spline_shift = 0;
  S spline[4][kMaxPieces] = {};
  S spline_slope[3][kMaxPieces] = {};
};

// Horner evaluation of c[0] + c[1] x + ... and of its derivative.
template <typename V, typename S>
TFA_INLINE V Horner(const S* c, int len, V x) {
  V acc = Splat<V>(c[len - 1]);
  for (int i = len - 2; i >= 0; --i) acc = acc * x + c[i];
  return acc;
}

template <typename V, typename S>
TFA_INLINE void HornerWithDerivative(const S* c, int len, V x, V* value,
                                     V* derivative) {
  V p = Splat<V>(c[len - 1]);
  V dp = Splat<V, S>(0);
  for (int i = len - 2; i >= 0; --i) {
    dp = dp * x + p;
    p = p * x + c[i];
  }
  *value = p;
  *derivative = dp;
}

// The reversed polynomial c[len-1] + c[len-2] t + ... (P(x) = x^deg P~(1/x)).
template <typename S>
TFA_INLINE void ReversedHorner(const S* c, int len, S t, S* value,
                               S* derivative) {
  S p = c[0];
  S dp = 0;
  for (int i = 1; i < len; ++i) {
    dp = dp * t + p;
    p = p * t + c[i];
  }
  *value = p;
  *derivative = dp;
}

// value * x^k for |x| > 1, one factor of x at a time: the intermediates then
// move monotonically towards the result, so none overflows (or becomes
// subnormal, which TensorFlow's denormals-are-zero mode would flush) unless
// the result does. x^k formed first overflowed where the result is finite
// (tanh_taylor_15 at x = 1000: x^15 = 1e45, the result -1.65e36).
template <typename S>
TFA_INLINE S ScaleByPower(S value, S x, int k) {
  for (int i = 0; i < k; ++i) value *= x;
  for (int i = 0; i > k; --i) value /= x;
  return value;
}

// ---------------------------------------------------------------------------
// One functor per kind. Value and Derivative take the already-clipped input.
// kHasFar says whether some inputs need the scalar ValueFar/DerivativeFar
// path; kVectorizable is false where a lane needs a table lookup;
// kPlacesLines (the kinds with a form) is true where the kind decides where
// the form's lines take over (FormFn).

template <typename S>
struct RationalFn {
  static constexpr bool kHasFar = true;
  static constexpr bool kVectorizable = true;
  static constexpr bool kPlacesLines = false;
  const Params<S>& p;

  template <typename V>
  TFA_INLINE V Value(V x) const {
    return Horner(p.num, p.num_len, x) / Horner(p.den, p.den_len, x) + p.offset;
  }

  // f' = (P' - f Q') / Q, one division, no Q^2 that could overflow early.
  template <typename V>
  TFA_INLINE V Derivative(V x) const {
    V value, derivative;
    ValueAndDerivative(x, &value, &derivative);
    return derivative;
  }

  // f (as P/Q through one reciprocal, so Value may differ in the last bit)
  // and f', for FormFn's x g(x).
  template <typename V>
  TFA_INLINE void ValueAndDerivative(V x, V* value, V* derivative) const {
    V num, dnum, den, dden;
    HornerWithDerivative(p.num, p.num_len, x, &num, &dnum);
    HornerWithDerivative(p.den, p.den_len, x, &den, &dden);
    V r = Splat<V, S>(1) / den;
    V ratio = num * r;
    *value = ratio + p.offset;
    *derivative = (dnum - ratio * dden) * r;
  }

  TFA_INLINE bool IsFar(S x) const { return Abs(x) > p.far; }

  // With t = 1/x and k = deg P - deg Q: P/Q = x^k P~(t)/Q~(t). Exact, and at
  // x = +-inf (t = 0) it gives the limit of the formula.
  TFA_INLINE S ValueFar(S x) const {
    S t = S(1) / x;
    S pn, dpn, pd, dpd;
    ReversedHorner(p.num, p.num_len, t, &pn, &dpn);
    ReversedHorner(p.den, p.den_len, t, &pd, &dpd);
    return ScaleByPower(pn / pd, x, p.num_len - p.den_len) + p.offset;
  }

  // d/dx [x^k R(t)] = x^(k-1) (k R(t) - t R'(t)).
  TFA_INLINE S DerivativeFar(S x) const {
    S t = S(1) / x;
    S pn, dpn, pd, dpd;
    ReversedHorner(p.num, p.num_len, t, &pn, &dpn);
    ReversedHorner(p.den, p.den_len, t, &pd, &dpd);
    int k = p.num_len - p.den_len;
    S ratio = pn / pd;
    S dratio = (dpn - ratio * dpd) / pd;
    return ScaleByPower(S(k) * ratio - t * dratio, x, k - 1);
  }
};

// The shape of a parity rational: the lengths of its polynomials in x^2 and
// the powers of x (0 or 1) they are multiplied by. Read from Params, or fixed
// at compile time, where the Horner loops unroll (the CPU kernels fix the
// shapes of the paper's picks).
struct RuntimeShape {
  template <typename S>
  static TFA_INLINE int NumLen(const Params<S>& p) {
    return p.num_sq_len;
  }
  template <typename S>
  static TFA_INLINE int NumShift(const Params<S>& p) {
    return p.num_shift;
  }
  template <typename S>
  static TFA_INLINE int DenLen(const Params<S>& p) {
    return p.den_sq_len;
  }
  template <typename S>
  static TFA_INLINE int DenShift(const Params<S>& p) {
    return p.den_shift;
  }
};

template <int kNumLen, int kNumShift, int kDenLen, int kDenShift>
struct FixedShape {
  template <typename S>
  static TFA_INLINE bool Matches(const Params<S>& p) {
    return p.parity && p.num_sq_len == kNumLen && p.num_shift == kNumShift &&
           p.den_sq_len == kDenLen && p.den_shift == kDenShift;
  }
  template <typename S>
  static constexpr TFA_INLINE int NumLen(const Params<S>&) {
    return kNumLen;
  }
  template <typename S>
  static constexpr TFA_INLINE int NumShift(const Params<S>&) {
    return kNumShift;
  }
  template <typename S>
  static constexpr TFA_INLINE int DenLen(const Params<S>&) {
    return kDenLen;
  }
  template <typename S>
  static constexpr TFA_INLINE int DenShift(const Params<S>&) {
    return kDenShift;
  }
};

// The same function for parity coefficients, evaluated in z = x^2.
template <typename S, typename Shape = RuntimeShape>
struct ParityRationalFn : RationalFn<S> {
  using RationalFn<S>::p;

  template <typename V>
  TFA_INLINE V Value(V x) const {
    V z = x * x;
    V num = Horner(p.num_sq, Shape::NumLen(p), z);
    V den = Horner(p.den_sq, Shape::DenLen(p), z);
    if (Shape::NumShift(p)) num = num * x;
    if (Shape::DenShift(p)) den = den * x;
    return num / den + p.offset;
  }

  template <typename V>
  TFA_INLINE V Derivative(V x) const {
    V value, derivative;
    ValueAndDerivative(x, &value, &derivative);
    return derivative;
  }

  template <typename V>
  TFA_INLINE void ValueAndDerivative(V x, V* value, V* derivative) const {
    V z = x * x;
    V num, dnum, den, dden;
    Expand(p.num_sq, Shape::NumLen(p), Shape::NumShift(p), x, z, &num, &dnum);
    Expand(p.den_sq, Shape::DenLen(p), Shape::DenShift(p), x, z, &den, &dden);
    V r = Splat<V, S>(1) / den;
    V ratio = num * r;
    *value = ratio + p.offset;
    *derivative = (dnum - ratio * dden) * r;
  }

  // P = x^s c(z) and P' = s c(z) + 2 x^(s+1) c'(z), for s in {0, 1}.
  template <typename V>
  static TFA_INLINE void Expand(const S* c, int len, int shift, V x, V z,
                                V* value, V* derivative) {
    V q, dq;
    HornerWithDerivative(c, len, z, &q, &dq);
    if (shift) {
      *value = x * q;
      *derivative = q + S(2) * z * dq;
    } else {
      *value = q;
      *derivative = S(2) * x * dq;
    }
  }
};

// e = b^n and power = b^(n-1), n = 2^squarings, by squarings: b^(n-1) is the
// product of the squares b, b^2, b^4, ... formed on the way.
template <typename V>
TFA_INLINE void RaiseBySquaring(V b, int squarings, V* e, V* power) {
  V p = Splat<V>(ScalarOfT<V>(1));
  for (int i = 0; i < squarings; ++i) {
    p = p * b;
    b = b * b;
  }
  *e = b;
  *power = p;
}

// The fastexp kinds: exp(+-x) ~ e = b^n, b = 1 +- x/n, taken by `squarings`
// squarings. kSquarings > 0 fixes the count at compile time (the CPU
// kernels' common ones); 0 reads p.squarings. Each kind F defines Value and
// ValueAndDerivative; this base derives the rest from them.
template <typename S, int kSquarings, typename F>
struct FastExpFn {
  static constexpr bool kHasFar = false;
  static constexpr bool kVectorizable = true;
  static constexpr bool kPlacesLines = false;
  const Params<S>& p;

  TFA_INLINE int Squarings() const {
    return kSquarings > 0 ? kSquarings : p.squarings;
  }
  TFA_INLINE S InverseN() const { return S(1) / S(1 << Squarings()); }

  // e = (1 + x/n)^n ~ exp(x), and power = (1 + x/n)^(n-1).
  template <typename V>
  TFA_INLINE void RisingPower(V x, V* e, V* power) const {
    RaiseBySquaring(Splat<V, S>(1) + x * InverseN(), Squarings(), e, power);
  }

  template <typename V>
  TFA_INLINE V Derivative(V x) const {
    V value, derivative;
    static_cast<const F&>(*this).ValueAndDerivative(x, &value, &derivative);
    return derivative;
  }

  TFA_INLINE bool IsFar(S) const { return false; }
  TFA_INLINE S ValueFar(S x) const {
    return static_cast<const F&>(*this).Value(x);
  }
  TFA_INLINE S DerivativeFar(S x) const { return Derivative(x); }
};

// sigmoid(x) = 1 / (1 + exp(-x)) with exp(-x) ~ e = b^n, b = 1 - x/n; f' =
// b^(n-1) / (1 + e)^2.
template <typename S, int kSquarings = 0>
struct FastExpSigmoidFn
    : FastExpFn<S, kSquarings, FastExpSigmoidFn<S, kSquarings>> {
  using FastExpFn<S, kSquarings, FastExpSigmoidFn>::InverseN;
  using FastExpFn<S, kSquarings, FastExpSigmoidFn>::Squarings;

  template <typename V>
  TFA_INLINE V Value(V x) const {
    V e = Splat<V, S>(1) - x * InverseN();
    for (int i = 0; i < Squarings(); ++i) e = e * e;
    return Splat<V, S>(1) / (Splat<V, S>(1) + e);
  }

  template <typename V>
  TFA_INLINE void ValueAndDerivative(V x, V* value, V* derivative) const {
    V e, power;  // b^n, b^(n-1)
    RaiseBySquaring(Splat<V, S>(1) - x * InverseN(), Squarings(), &e, &power);
    V r = Splat<V, S>(1) / (Splat<V, S>(1) + e);
    *value = r;
    // e = inf (x far below -n): the true value underflows; inf * 0 would not.
    *derivative = e == std::numeric_limits<S>::infinity() ? Splat<V, S>(0)
                                                          : power * r * r;
  }
};

// exp(x) - 1 with exp(x) ~ e = b^n, b = 1 + x/n (ELU's negative side); f' =
// b^(n-1). Below x = -n the base is negative (inherent; ELU's `_clamp` names
// take the asymptote there, where e = 0 meets it).
template <typename S, int kSquarings = 0>
struct FastExpExpm1Fn
    : FastExpFn<S, kSquarings, FastExpExpm1Fn<S, kSquarings>> {
  using FastExpFn<S, kSquarings, FastExpExpm1Fn>::RisingPower;

  template <typename V>
  TFA_INLINE V Value(V x) const {
    V e, power;
    RisingPower(x, &e, &power);
    return e - S(1);
  }

  template <typename V>
  TFA_INLINE void ValueAndDerivative(V x, V* value, V* derivative) const {
    V e;
    RisingPower(x, &e, derivative);
    *value = e - S(1);
  }
};

// Mish's factor tanh(softplus(x)) = m / (m + 2), m = e (e + 2), with exp(x) ~
// e = b^n, b = 1 + x/n. Written 1 / (1 + 2/m), which is 1 where m overflows
// and keeps its relative precision where e is tiny. f' = 4 (e + 1) b^(n-1) /
// (m + 2)^2. Below x = -n the base is negative (inherent; the `_clamp` names
// take the asymptote there, where e = 0 meets it).
template <typename S, int kSquarings = 0>
struct FastExpMishFn : FastExpFn<S, kSquarings, FastExpMishFn<S, kSquarings>> {
  using FastExpFn<S, kSquarings, FastExpMishFn>::RisingPower;

  template <typename V>
  TFA_INLINE V Value(V x) const {
    V e, power;
    RisingPower(x, &e, &power);
    return Splat<V, S>(1) / (Splat<V, S>(1) + S(2) / (e * (e + S(2))));
  }

  template <typename V>
  TFA_INLINE void ValueAndDerivative(V x, V* value, V* derivative) const {
    V e, power;
    RisingPower(x, &e, &power);
    V m = e * (e + S(2));
    *value = Splat<V, S>(1) / (Splat<V, S>(1) + S(2) / m);
    V r = Splat<V, S>(1) / (m + S(2));
    // e = inf: f' underflows; inf * 0 would not.
    *derivative = e == std::numeric_limits<S>::infinity()
                      ? Splat<V, S>(0)
                      : S(4) * (e + S(1)) * r * (power * r);
  }
};

// Theano's ultra_fast_sigmoid (theano/tensor/nnet/sigm.py), constants verbatim:
// z = |x|/2; t = 1.5z/(1+z) below 1.7, a line up to 3, then constant.
template <typename S>
struct UltraFastSigmoidFn {
  static constexpr bool kHasFar = false;
  static constexpr bool kVectorizable = true;
  const Params<S>& p;

  template <typename V>
  TFA_INLINE V Value(V x) const {
    V z = Abs(x) * S(0.5);
    V curve = S(1.5) * z / (z + S(1));
    V line = S(0.935409070603099) + S(0.0458812946797165) * (z - S(1.7));
    V t =
        z < S(1.7) ? curve : (z < S(3) ? line : Splat<V, S>(0.99505475368673));
    V half_t = S(0.5) * t;
    V y = x < S(0) ? S(0.5) - half_t : S(0.5) + half_t;
    return x != x ? x : y;
  }

  // dy/dx = t'(z) / 4 (the two sign factors cancel).
  template <typename V>
  TFA_INLINE V Derivative(V x) const {
    V z = Abs(x) * S(0.5);
    V zp1 = z + S(1);
    V curve = S(0.375) / (zp1 * zp1);
    V d = z < S(1.7) ? curve
                     : (z < S(3) ? Splat<V, S>(0.0458812946797165 / 4)
                                 : Splat<V, S>(0));
    return x != x ? x : d;
  }

  TFA_INLINE bool IsFar(S) const { return false; }
  TFA_INLINE S ValueFar(S x) const { return Value(x); }
  TFA_INLINE S DerivativeFar(S x) const { return Derivative(x); }
};

// word2vec.c: expTable[i] = e / (e + 1), e = exp((i / 1000.f * 2 - 1) * 6),
// looked up at (int)((x + 6) * (1000 / 6 / 2)), and 0 / 1 beyond +-6. The
// table is piecewise constant; its derivative is taken as y (1 - y) of the
// looked-up y (the sigmoid's own identity, which word2vec's update relies on)
// inside [-6, 6] and 0 outside, where the C code saturates.
TFA_HOST_DEVICE inline float Word2VecTableEntry(int i) {
  float e = static_cast<float>(
      std::exp(static_cast<double>((i / 1000.0f * 2 - 1) * 6)));
  return e / (e + 1);
}

template <typename S>
struct Word2VecSigmoidFn {
  static constexpr bool kHasFar = false;
  static constexpr bool kVectorizable = false;
  const Params<S>& p;

  TFA_INLINE S Lookup(S x) const {
    return p.table[static_cast<int>((x + S(6)) * S(1000 / 6 / 2))];
  }
  TFA_INLINE S Value(S x) const {
    if (x != x) return x;
    if (x > S(6)) return S(1);
    if (x < S(-6)) return S(0);
    return Lookup(x);
  }
  TFA_INLINE S Derivative(S x) const {
    if (x != x) return x;
    if (x > S(6) || x < S(-6)) return S(0);
    S y = Lookup(x);
    return y * (S(1) - y);
  }
  TFA_INLINE bool IsFar(S) const { return false; }
  TFA_INLINE S ValueFar(S x) const { return Value(x); }
  TFA_INLINE S DerivativeFar(S x) const { return Derivative(x); }
};

// hard_tanh = clip(x, -1, 1), hard_sigmoid = clip(x/4 + 1/2, 0, 1): slope
// `scale` where the clip is inactive, 0 where it is.
template <typename S>
struct HardFn {
  static constexpr bool kHasFar = false;
  static constexpr bool kVectorizable = true;
  const Params<S>& p;
  S scale, shift, lower, upper;

  template <typename V>
  TFA_INLINE V Value(V x) const {
    V u = x * scale + shift;
    return u < lower ? Splat<V>(lower) : (u > upper ? Splat<V>(upper) : u);
  }

  // One comparison of u with its clipped value: GCC 12 computes an OR of two
  // comparison masks lane by lane in target_clones functions. NaN compares
  // unequal; the last select keeps it.
  template <typename V>
  TFA_INLINE V Derivative(V x) const {
    V u = x * scale + shift;
    V d = Value(x) == u ? Splat<V>(scale) : Splat<V, S>(0);
    return x != x ? x : d;
  }

  TFA_INLINE bool IsFar(S) const { return false; }
  TFA_INLINE S ValueFar(S x) const { return Value(x); }
  TFA_INLINE S DerivativeFar(S x) const { return Derivative(x); }
};

// Lane l of table[index[l] mod kMaxPieces] (table has kMaxPieces entries;
// `index` may hold any bits: the lanes the caller uses are in [0, pieces)).
// A scalar indexes; a vector gathers with one shuffle per register, or pair
// of registers, of the table (a shuffle takes its indices modulo its
// inputs' size), selecting among the pairs by the index's high bits.
// kRegisters fixes the table's registers at compile time: 1 (up to one
// vector's lanes of pieces: one single-input shuffle, vpermps, which unlike
// the two-input vpermt2ps leaves its inputs intact) or 2 (up to two
// vectors': one pair); 0 reads `pieces`.
template <int kRegisters, typename V, typename S>
TFA_INLINE V Gather(const S* table, int pieces, IntOfT<V> index) {
  if constexpr (std::is_same_v<V, S>) {
    return table[index & (kMaxPieces - 1)];
  } else if constexpr (kRegisters == 1) {
    V entries;
    std::memcpy(&entries, table, sizeof(V));
    return __builtin_shuffle(entries, index);
  } else {
    using I = IntOfT<V>;
    constexpr int kLanes = sizeof(V) / sizeof(S);
    constexpr int kPair = 2 * kLanes;
    const int pairs =
        kRegisters > 0 ? kRegisters / 2 : (pieces + kPair - 1) / kPair;
    if (pairs > 1) index &= kMaxPieces - 1;
    V result = {};
    for (int pair = 0; pair < pairs; ++pair) {
      V lo, hi;
      std::memcpy(&lo, table + pair * kPair, sizeof(V));
      std::memcpy(&hi, table + pair * kPair + kLanes, sizeof(V));
      const V gathered = __builtin_shuffle(lo, hi, index);
      if (pairs == 1) return gathered;
      result = (index & (I{} - kPair)) == I{} + pair * kPair ? gathered
                                                             : result;
    }
    return result;
  }
}

// The cubic pieces of a spline (Params). Its value and derivative beyond
// the range are the lines', which every spline has (InitForm): the spline
// itself says where they take over (kPlacesLines), by the same w that
// picks its piece. kRegisters: see Gather.
template <typename S, int kRegisters = 0>
struct SplineFn {
  static constexpr bool kHasFar = false;
  static constexpr bool kVectorizable = true;
  static constexpr bool kPlacesLines = true;
  const Params<S>& p;

  template <typename V>
  TFA_INLINE V Coordinate(V u) const {
    return u * p.spline_scale + p.spline_shift;
  }

  // Before the first piece and from the last one's end: x beyond below.at
  // and above.at, up to w's rounding. NaN is neither.
  template <typename V>
  TFA_INLINE auto Below(V u) const {
    return Coordinate(u) < S(-0.5);
  }
  template <typename V>
  TFA_INLINE auto Above(V u) const {
    return Coordinate(u) >= S(p.pieces) - S(0.5);
  }

  // u's piece, in the low bits of an integer (Gather), and t = w - k. Where
  // the lines do not take over, k is in [0, pieces) and t in [-1/2, 1/2];
  // elsewhere both are unspecified values, and t is NaN where u is.
  template <typename V>
  TFA_INLINE void Locate(V u, IntOfT<V>* piece, V* t) const {
    const V w = Coordinate(u);
    *t = w - RoundToInteger(w, piece);
  }

  template <typename V>
  TFA_INLINE V Entry(const S* table, IntOfT<V> piece) const {
    return Gather<kRegisters, V>(table, p.pieces, piece);
  }

  template <typename V>
  TFA_INLINE V Value(V u) const {
    IntOfT<V> k;
    V t;
    Locate(u, &k, &t);
    V y = Entry<V>(p.spline[3], k) * t + Entry<V>(p.spline[2], k);
    y = y * t + Entry<V>(p.spline[1], k);
    return y * t + Entry<V>(p.spline[0], k);
  }

  template <typename V>
  TFA_INLINE V Derivative(V u) const {
    IntOfT<V> k;
    V t;
    Locate(u, &k, &t);
    V d = Entry<V>(p.spline_slope[2], k) * t + Entry<V>(p.spline_slope[1], k);
    return d * t + Entry<V>(p.spline_slope[0], k);
  }

  template <typename V>
  TFA_INLINE void ValueAndDerivative(V u, V* value, V* derivative) const {
    *value = Value(u);
    *derivative = Derivative(u);
  }

  TFA_INLINE bool IsFar(S) const { return false; }
  TFA_INLINE S ValueFar(S x) const { return Value(x); }
  TFA_INLINE S DerivativeFar(S x) const { return Derivative(x); }
};

// p's form around the function g of a kind (see Params): value, derivative,
// and the far path of g's in units of x. kLines: p is known to have the
// form of every built-in spline (no product, no slope, scales of 1 once
// InitForm has folded the output's, a flat line below and a sloped one
// above), so that the loops test none of p's fields.
template <typename S, typename G, bool kLines = false>
struct FormFn {
  static constexpr bool kHasFar = G::kHasFar;
  static constexpr bool kVectorizable = G::kVectorizable;
  G g;
  const Params<S>& p;

  // The branches test p's fields, the same for every element: a loop pays
  // a predicted branch for each, not the operations they skip (multiplies by
  // 1, most of all).
  template <typename V>
  TFA_INLINE V Value(V x) const {
    return Outer(x, g.Value(Scaled(x)));
  }

  // g itself only for a product (g + s x g').
  template <typename V>
  TFA_INLINE V Derivative(V x) const {
    V gu = {}, dgu;
    if (!kLines && p.product) {
      g.ValueAndDerivative(Scaled(x), &gu, &dgu);
    } else {
      dgu = g.Derivative(Scaled(x));
    }
    return OuterDerivative(x, gu, dgu);
  }

  TFA_INLINE bool IsFar(S x) const { return Abs(x) > p.far; }
  TFA_INLINE S ValueFar(S x) const { return Outer(x, g.ValueFar(Scaled(x))); }
  TFA_INLINE S DerivativeFar(S x) const {
    const S u = Scaled(x);
    return OuterDerivative(x, g.ValueFar(u), g.DerivativeFar(u));
  }

  template <typename V>
  TFA_INLINE V Scaled(V x) const {
    return kLines || p.input_scale == S(1) ? x : x * p.input_scale;
  }

  // x a, and 0 where a is 0 (at x = +-inf too: the limit of x g(x) where g
  // decays, rather than inf * 0). With both lines active no infinite x gets
  // here.
  template <typename V>
  TFA_INLINE V Times(V x, V a) const {
    if (p.below.active && p.above.active) return x * a;
    return a == S(0) ? Splat<V, S>(0) : x * a;
  }

  // Where the lines take over: beyond their points, or where g places
  // them (kPlacesLines: a spline, whose input_scale is 1).
  template <typename V>
  TFA_INLINE auto Below(V x) const {
    if constexpr (G::kPlacesLines) {
      return g.Below(x);
    } else {
      return x < p.below.at;
    }
  }
  template <typename V>
  TFA_INLINE auto Above(V x) const {
    if constexpr (G::kPlacesLines) {
      return g.Above(x);
    } else {
      return x > p.above.at;
    }
  }

  template <typename V>
  TFA_INLINE V Outer(V x, V gu) const {
    if constexpr (kLines) {
      return Below(x) ? Splat<V>(p.below.intercept)
                      : (Above(x) ? x * p.above.slope + p.above.intercept
                                  : gu);
    }
    V y = p.product ? Times(x, gu) : gu;
    if (p.output_scale != S(1)) y = y * p.output_scale;
    if (p.slope != S(0)) y = y + x * p.slope;
    if (p.below.active) y = Below(x) ? p.below.Value(x) : y;
    if (p.above.active) y = Above(x) ? p.above.Value(x) : y;
    return y;
  }

  // (x g(s x))' = g + s x g'; the lines' slopes beyond them.
  template <typename V>
  TFA_INLINE V OuterDerivative(V x, V gu, V dgu) const {
    if constexpr (kLines) {
      return Below(x) ? Splat<V>(p.below.slope)
                      : (Above(x) ? Splat<V>(p.above.slope) : dgu);
    }
    V d = p.input_scale == S(1) ? dgu : dgu * p.input_scale;
    if (p.product) d = gu + Times(x, d);
    if (p.output_scale != S(1)) d = d * p.output_scale;
    if (p.slope != S(0)) d = d + p.slope;
    if (p.below.active) d = Below(x) ? Splat<V>(p.below.slope) : d;
    if (p.above.active) d = Above(x) ? Splat<V>(p.above.slope) : d;
    return d;
  }
};

// Calls fn(g), or fn(FormFn{g}) where p has a form.
template <typename S, typename G, typename Fn>
TFA_INLINE void VisitForm(const Params<S>& p, const G& g, Fn&& fn) {
  if (p.form) {
    fn(FormFn<S, G>{g, p});
  } else {
    fn(g);
  }
}

// Calls fn(functor) with the functor of p.kind, so that loops are compiled
// once per kind rather than switching per element. (Its argument is p rather
// than the kind: the functor reads p.)
template <typename S, typename Fn>
TFA_INLINE void VisitKind(const Params<S>& p, Fn&& fn) {
  switch (p.kind) {
    case Kind::kRational:
      if (p.parity) {
        VisitForm(p, ParityRationalFn<S>{{p}}, fn);
      } else {
        VisitForm(p, RationalFn<S>{p}, fn);
      }
      break;
    case Kind::kFastExpSigmoid:
      VisitForm(p, FastExpSigmoidFn<S>{{p}}, fn);
      break;
    case Kind::kFastExpExpm1:
      VisitForm(p, FastExpExpm1Fn<S>{{p}}, fn);
      break;
    case Kind::kFastExpMish:
      VisitForm(p, FastExpMishFn<S>{{p}}, fn);
      break;
    case Kind::kSpline:
      VisitForm(p, SplineFn<S>{p}, fn);
      break;
    case Kind::kUltraFastSigmoid:
      fn(UltraFastSigmoidFn<S>{p});
      break;
    case Kind::kWord2VecSigmoid:
      fn(Word2VecSigmoidFn<S>{p});
      break;
    case Kind::kHardTanh:
      fn(HardFn<S>{p, S(1), S(0), S(-1), S(1)});
      break;
    case Kind::kHardSigmoid:
      fn(HardFn<S>{p, S(0.25), S(0.5), S(0), S(1)});
      break;
  }
}

// ---------------------------------------------------------------------------
// Scalar evaluation with clipping and the far path: what a CUDA thread or a
// loop tail computes for one element.

template <typename S>
TFA_INLINE S Clip(const Params<S>& p, S x) {
  if (!p.clip) return x;
  return x < p.clip_lo ? p.clip_lo : (x > p.clip_hi ? p.clip_hi : x);
}

template <typename S>
TFA_INLINE bool OutsideClip(const Params<S>& p, S x) {
  return p.clip && (x < p.clip_lo || x > p.clip_hi);
}

template <typename S, typename F>
TFA_INLINE S ScalarValue(const F& f, const Params<S>& p, S x) {
  S xc = Clip(p, x);
  return F::kHasFar && f.IsFar(xc) ? f.ValueFar(xc) : f.Value(xc);
}

template <typename S, typename F>
TFA_INLINE S ScalarGradient(const F& f, const Params<S>& p, S x, S dy) {
  if (OutsideClip(p, x)) return S(0);
  S d = F::kHasFar && f.IsFar(x) ? f.DerivativeFar(x) : f.Derivative(x);
  return dy * d;
}

// Host-side construction and validation, shared by the op kernels, the
// native modules and the CUDA launchers' host code (plain host functions,
// which nvcc's device pass parses but never compiles for the device). Returns
// nullptr on success or a message naming the argument.

// The kind named by the ops' `kind` attr; false for any other name.
inline bool ParseKind(const char* name, Kind* kind) {
  static constexpr Named<Kind> kNames[] = {
      {"rational", Kind::kRational},
      {"fastexp_sigmoid", Kind::kFastExpSigmoid},
      {"ultra_fast_sigmoid", Kind::kUltraFastSigmoid},
      {"word2vec_sigmoid", Kind::kWord2VecSigmoid},
      {"hard_tanh", Kind::kHardTanh},
      {"hard_sigmoid", Kind::kHardSigmoid},
      {"fastexp_expm1", Kind::kFastExpExpm1},
      {"fastexp_mish", Kind::kFastExpMish},
      {"spline", Kind::kSpline}};
  return ParseName(name, kNames, kind);
}

inline bool IsFastExp(Kind kind) {
  return kind == Kind::kFastExpSigmoid || kind == Kind::kFastExpExpm1 ||
         kind == Kind::kFastExpMish;
}

// Largest power of two R such that Horner sums of |c_i| i R^i stay far below
// the largest S: below R the fast form cannot overflow.
template <typename S>
inline S HornerSafeRadius(const S* num, int num_len, const S* den,
                          int den_len) {
#if defined(__CUDA_ARCH__)
  // Never compiled for the device (a host function); hides the long doubles,
  // which are double there, from nvcc's device pass.
  return 0;
#else
  auto bound = [](const S* c, int len, long double r) {
    long double sum = 0, power = 1;
    for (int i = 0; i < len; ++i, power *= r)
      sum += std::fabs(static_cast<long double>(c[i])) * (i + 1) * power;
    return sum;
  };
  const long double limit =
      static_cast<long double>(std::numeric_limits<S>::max()) / 16;
  long double r = 1;
  if (bound(num, num_len, r) > limit || bound(den, den_len, r) > limit)
    return 0;
  while (r < limit && bound(num, num_len, 2 * r) <= limit &&
         bound(den, den_len, 2 * r) <= limit)
    r *= 2;
  return static_cast<S>(r);
#endif
}

// If c has only even or only odd powers, writes them as coefficients in x^2
// and the power of x they are multiplied by.
template <typename S>
inline bool SplitParity(const S* c, int len, S* squared, int* squared_len,
                        int* shift) {
  bool even = true, odd = true;
  for (int i = 0; i < len; ++i) {
    if (c[i] != 0) (i % 2 == 0 ? odd : even) = false;
  }
  if (!even && !odd) return false;
  *shift = even ? 0 : 1;
  *squared_len = 0;
  for (int i = *shift; i < len; i += 2) squared[(*squared_len)++] = c[i];
  if (*squared_len == 0) squared[(*squared_len)++] = 0;
  return true;
}

template <typename S>
inline const char* InitParams(Kind kind, const double* num, int num_len,
                              const double* den, int den_len, double offset,
                              int squarings, bool clip, double clip_lo,
                              double clip_hi, const double* spline,
                              int spline_len, const float* table,
                              Params<S>* p) {
  *p = Params<S>();
  p->kind = kind;
  p->offset = static_cast<S>(offset);
  p->table = table;
  p->clip = clip;
  p->clip_lo = static_cast<S>(clip_lo);
  p->clip_hi = static_cast<S>(clip_hi);
  if (clip && !(clip_lo <= clip_hi))
    return "`clip_min` must not exceed `clip_max`";
  if (kind == Kind::kRational) {
    while (num_len > 1 && num[num_len - 1] == 0) --num_len;
    while (den_len > 1 && den[den_len - 1] == 0) --den_len;
    if (num_len < 1 || num_len > kMaxCoefficients)
      return "`numerator` must have 1 to 16 coefficients";
    if (den_len < 1 || den_len > kMaxCoefficients)
      return "`denominator` must have 1 to 16 coefficients";
    if (den[den_len - 1] == 0) return "`denominator` must not be all zeros";
    for (int i = 0; i < num_len; ++i) p->num[i] = static_cast<S>(num[i]);
    for (int i = 0; i < den_len; ++i) p->den[i] = static_cast<S>(den[i]);
    p->num_len = num_len;
    p->den_len = den_len;
    p->far = HornerSafeRadius(p->num, num_len, p->den, den_len);
    p->parity =
        SplitParity(p->num, num_len, p->num_sq, &p->num_sq_len,
                    &p->num_shift) &&
        SplitParity(p->den, den_len, p->den_sq, &p->den_sq_len, &p->den_shift);
    // The parity form squares x first, even for degree 1: z = x^2 (and
    // 2 z c'(z)) must stay finite too.
    if (p->parity) {
      const S z_limit = static_cast<S>(
          std::sqrt(static_cast<double>(std::numeric_limits<S>::max()) / 16));
      if (p->far > z_limit) p->far = z_limit;
    }
  }
  if (IsFastExp(kind)) {
    if (squarings < 1 || squarings > kMaxSquarings)
      return "`squarings` must be in [1, 12] (n = 2 ... 4096)";
    p->squarings = squarings;
  }
  if (kind == Kind::kWord2VecSigmoid && table == nullptr)
    return "word2vec_sigmoid needs its table";
  if (kind == Kind::kSpline) {
    if (spline_len < 4 || spline_len > 4 * kMaxPieces || spline_len % 4 != 0)
      return "`spline` must have 4 coefficients per piece, 1 to 32 pieces";
    p->pieces = spline_len / 4;
    for (int i = 0; i < spline_len; ++i) {
      if (!std::isfinite(spline[i])) return "`spline` must be finite";
    }
    // c(t) on [0, 1] rewritten in s = t - 1/2 (Params), in double.
    for (int k = 0; k < p->pieces; ++k) {
      const double* c = spline + 4 * k;
      const double centred[4] = {
          c[0] + 0.5 * (c[1] + 0.5 * (c[2] + 0.5 * c[3])),
          c[1] + (c[2] + 0.75 * c[3]), c[2] + 1.5 * c[3], c[3]};
      for (int j = 0; j < 4; ++j) p->spline[j][k] = static_cast<S>(centred[j]);
    }
    if (clip) return "`clip` does not apply to the kind 'spline'";
  } else if (spline_len != 0) {
    return "`spline` applies to the kind 'spline' only";
  }
  return nullptr;
}

// Sets p's form (see Params) after InitParams: `below` and `above` are empty
// or {at, slope, intercept}.
template <typename S>
inline const char* InitForm(bool product, double input_scale,
                            double output_scale, double slope,
                            const double* below, int below_len,
                            const double* above, int above_len, Params<S>* p) {
  auto finite = [](double v) { return std::isfinite(v); };
  if (!finite(input_scale)) return "`input_scale` must be finite";
  if (!finite(output_scale)) return "`output_scale` must be finite";
  if (!finite(slope)) return "`slope` must be finite";
  Line<S>* lines[2] = {&p->below, &p->above};
  const double* values[2] = {below, above};
  const int lengths[2] = {below_len, above_len};
  for (int i = 0; i < 2; ++i) {
    if (lengths[i] == 0) continue;
    if (lengths[i] != 3) {
      return i == 0 ? "`below` must be empty or [at, slope, intercept]"
                    : "`above` must be empty or [at, slope, intercept]";
    }
    for (int j = 0; j < 3; ++j) {
      if (!finite(values[i][j]))
        return i == 0 ? "`below` must be finite" : "`above` must be finite";
    }
    *lines[i] = Line<S>{true, static_cast<S>(values[i][0]),
                        static_cast<S>(values[i][1]),
                        static_cast<S>(values[i][2])};
  }
  if (p->below.active && p->above.active && !(p->below.at <= p->above.at))
    return "`below`'s point must not exceed `above`'s";
  p->product = product;
  p->input_scale = static_cast<S>(input_scale);
  p->output_scale = static_cast<S>(output_scale);
  p->slope = static_cast<S>(slope);
  p->form = product || input_scale != 1 || output_scale != 1 || slope != 0 ||
            p->below.active || p->above.active;
  if (p->form && p->kind != Kind::kRational && !IsFastExp(p->kind) &&
      p->kind != Kind::kSpline) {
    return "`product`, `input_scale`, `output_scale`, `slope`, `below` and "
           "`above` apply to the kinds 'rational', 'fastexp_*' and 'spline' "
           "only";
  }
  if (p->kind == Kind::kSpline) {
    // The pieces span [below.at, above.at]. output_scale multiplies the
    // coefficients once here rather than every value in the loops.
    if (!p->below.active || !p->above.active || !(p->below.at < p->above.at))
      return "the kind 'spline' needs `below` and `above`, `below`'s point "
             "less than `above`'s";
    if (input_scale != 1)
      return "`input_scale` must be 1 for the kind 'spline' (its lines place "
             "its pieces)";
    const double scale = p->pieces / (above[0] - below[0]);
    if (!std::isfinite(scale)) return "the spline's range is too narrow";
    p->spline_scale = static_cast<S>(scale);
    p->spline_shift = static_cast<S>(-below[0] * scale - 0.5);
    for (auto& coefficients : p->spline) {
      for (S& c : coefficients) c = static_cast<S>(c * output_scale);
    }
    // The derivative's coefficients, in units of x, from the folded ones.
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < p->pieces; ++k) {
        p->spline_slope[j][k] =
            static_cast<S>((j + 1) * static_cast<double>(p->spline[j + 1][k]) *
                           scale);
      }
    }
    p->output_scale = 1;
  }
  // The far path's radius, in units of x.
  if (p->form && p->kind == Kind::kRational) {
    const S scale = Abs(p->input_scale);
    const S largest = std::numeric_limits<S>::max();
    p->far = p->far < largest * scale ? p->far / scale : largest;
  }
  return nullptr;
}

// word2vec's table on the host, built once on first use; the GPU kernels read
// a device copy of it (activations_gpu.cu.cc).
inline const float* Word2VecTable() {
  static const std::array<float, kWord2VecTableSize> table = [] {
    std::array<float, kWord2VecTableSize> t;
    for (int i = 0; i < kWord2VecTableSize; ++i) t[i] = Word2VecTableEntry(i);
    return t;
  }();
  return table.data();
}

}  // namespace activations
}  // namespace tf_approx

#endif  // TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_H_
