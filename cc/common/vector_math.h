// Elementary functions on scalars and GCC vectors: exp, expm1, log, log1p,
// tanh, sigmoid, softplus, floor, rounding, and the standard normal of a
// uniform.
//
// libm has no vector entry points GCC will call without -ffast-math, so the
// families that need these functions in their vector loops (noisy activations,
// GAAF) use these: range reduction plus a polynomial, with the exponent
// handled through the bits of the float. Every function is a template over V,
// a float or double scalar (CUDA threads, loop tails) or a GCC vector of them,
// and is accurate to a few ulps of V's scalar type unless said otherwise. NaN
// in gives NaN out.
#ifndef TF_APPROX_CC_COMMON_VECTOR_MATH_H_
#define TF_APPROX_CC_COMMON_VECTOR_MATH_H_

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "cc/common/lanes.h"
#include "cc/common/platform.h"

namespace tf_approx {

// The lanes of `from` converted to the lane type of To (same lane count).
template <typename To, typename From>
TFA_INLINE To Convert(From from) {
#if defined(__CUDACC__)
  return static_cast<To>(from);
#else
  if constexpr (std::is_same_v<From, ScalarOfT<From>>) {
    return static_cast<To>(from);
  } else {
    return __builtin_convertvector(from, To);
  }
#endif
}

namespace vector_math_internal {

template <typename S>
struct Constants;

template <>
struct Constants<float> {
  static constexpr int kMantissaBits = 23;
  static constexpr int kBias = 127;
  // 1.5 * 2^23: x + kRound - kRound is x rounded to an integer, which is also
  // in the low mantissa bits of x + kRound.
  static constexpr float kRound = 12582912.0f;
  // exp(x) is computed for x in [kExpLow, kExpHigh]: 2^(n - 1) stays normal.
  static constexpr float kExpHigh = 88.72283905206835f;  // log(FLT_MAX)
  static constexpr float kExpLow = -86.0f;
  // ln 2 = kLn2Hi + kLn2Lo, kLn2Hi with trailing zero bits (n kLn2Hi exact).
  static constexpr float kLn2Hi = 0.693359375f;
  static constexpr float kLn2Lo = -2.12194440e-4f;
  static constexpr float kLog2e = 1.44269504088896341f;
  static constexpr int kExpDegree = 7;  // Taylor terms of e^r - 1
  static constexpr int kLogTerms = 5;   // of atanh(s) / s in s^2
};

template <>
struct Constants<double> {
  static constexpr int kMantissaBits = 52;
  static constexpr int kBias = 1023;
  static constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double kExpHigh = 709.782712893383973;
  static constexpr double kExpLow = -707.0;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kLog2e = 1.44269504088896338700e+00;
  static constexpr int kExpDegree = 13;
  static constexpr int kLogTerms = 11;
};

}  // namespace vector_math_internal

// x rounded to the nearest integer k (ties to even), for |x| <
// 2^(mantissa_bits - 1), and the bits of x + 1.5 * 2^mantissa_bits, the sum
// that rounds it: k is in their low mantissa bits (their low bits are k
// modulo 2^(mantissa_bits - 1); minus the bits of 1.5 * 2^mantissa_bits they
// are k). Beyond that range, and for inf and NaN, both are unspecified values
// (never undefined behaviour, as a conversion would be).
template <typename V>
TFA_INLINE V RoundToInteger(V x, IntOfT<V>* bits) {
  using S = ScalarOfT<V>;
  const S round = vector_math_internal::Constants<S>::kRound;
  const V shifted = x + round;
  *bits = BitCast<IntOfT<V>>(shifted);
  return shifted - round;
}

namespace vector_math_internal {

// x = n ln 2 + r, |r| <= ln 2 / 2 (about); n as V and as integers. x must be
// in [kExpLow, kExpHigh] or NaN.
template <typename V>
struct Reduced {
  V n;
  IntOfT<V> bits_n;
  V r;
};

template <typename V>
TFA_INLINE Reduced<V> Reduce(V x) {
  using S = ScalarOfT<V>;
  using K = Constants<S>;
  using I = IntOfT<V>;
  Reduced<V> red;
  I bits;
  red.n = RoundToInteger(x * K::kLog2e, &bits);
  red.bits_n = bits - BitCast<I>(Splat<V, S>(K::kRound));
  red.r = (x - red.n * K::kLn2Hi) - red.n * K::kLn2Lo;
  return red;
}

// e^r - 1 for |r| <= ln 2 / 2, by its Taylor series (no cancellation).
template <typename V>
TFA_INLINE V Expm1Reduced(V r) {
  using S = ScalarOfT<V>;
  constexpr int kDegree = Constants<S>::kExpDegree;
  S coefficient[kDegree + 1];  // 1 / k!
  coefficient[0] = 1;
  for (int k = 1; k <= kDegree; ++k) coefficient[k] = coefficient[k - 1] / k;
  V p = Splat<V, S>(coefficient[kDegree]);
  for (int k = kDegree - 1; k >= 1; --k) p = p * r + coefficient[k];
  return p * r;
}

// 2^k for integer lanes k with k + kBias in [1, 2 kBias]. The mask changes
// no such lane; it keeps the shift defined (non-negative) in the lanes of a
// NaN input, whose results are NaN whatever this returns.
template <typename V>
TFA_INLINE V Pow2(IntOfT<V> k) {
  using S = ScalarOfT<V>;
  using K = Constants<S>;
  return BitCast<V>(((k + K::kBias) & (2 * K::kBias + 1)) << K::kMantissaBits);
}

}  // namespace vector_math_internal

template <typename V>
TFA_INLINE V Exp(V x) {
  using S = ScalarOfT<V>;
  using K = vector_math_internal::Constants<S>;
  const V high = Splat<V, S>(K::kExpHigh), low = Splat<V, S>(K::kExpLow);
  V clamped = x > high ? high : x;
  clamped = clamped < low ? low : clamped;
  const auto red = vector_math_internal::Reduce(clamped);
  // 2 * 2^(n - 1): n can be 2^kBias at the top of the range.
  const V y = (vector_math_internal::Expm1Reduced(red.r) + 1) *
              vector_math_internal::Pow2<V>(red.bits_n - 1) * 2;
  const V zero = {};
  const V infinity = Splat<V, S>(std::numeric_limits<S>::infinity());
  const V tiny = x < low ? zero : y;  // underflow (below ~1e-37 in float)
  return x > high ? infinity : tiny;
}

// e^x and e^x - 1 for x <= 0 from one range reduction and one polynomial:
// for callers that need both (GAAF's tanh with its exponential shape).
template <typename V>
TFA_INLINE void ExpAndExpm1NonPositive(V x, V* exp, V* expm1) {
  using S = ScalarOfT<V>;
  using K = vector_math_internal::Constants<S>;
  const V low = Splat<V, S>(K::kExpLow);
  const V clamped = x < low ? low : x;
  const auto red = vector_math_internal::Reduce(clamped);
  const V scale = vector_math_internal::Pow2<V>(red.bits_n);
  const V scaled = scale * vector_math_internal::Expm1Reduced(red.r);
  const V zero = {};
  *exp = x < low ? zero : scaled + scale;
  *expm1 = x < low ? Splat<V, S>(-1) : scaled + (scale - 1);
}

// e^x - 1 for x <= 0, without cancellation near 0.
template <typename V>
TFA_INLINE V Expm1NonPositive(V x) {
  V exp, expm1;  // the unused e^x is dropped by the compiler
  ExpAndExpm1NonPositive(x, &exp, &expm1);
  return expm1;
}

// The natural logarithm of x >= 0 (0 gives about -88 resp. -709, not -inf;
// negative x gives NaN; subnormal x is not supported).
template <typename V>
TFA_INLINE V Log(V x) {
  using S = ScalarOfT<V>;
  using K = vector_math_internal::Constants<S>;
  using I = IntOfT<V>;
  const I bits = BitCast<I>(x);
  const I mantissa_mask = (I{} + 1) << K::kMantissaBits;
  // x = m 2^e with m in [1, 2), then folded into [sqrt(1/2), sqrt(2)).
  I e = (bits >> K::kMantissaBits) - K::kBias;
  V m = BitCast<V>((bits & (mantissa_mask - 1)) |
                   ((I{} + K::kBias) << K::kMantissaBits));
  const V sqrt2 = Splat<V, S>(1.41421356237309504880);
  const V big = m > sqrt2 ? Splat<V, S>(1) : V{};
  m = m * (1 - big * 0.5);
  e = e + Convert<I>(big);
  // log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716.
  const V s = (m - 1) / (m + 1);
  const V s2 = s * s;
  V series = Splat<V, S>(S(1) / (2 * K::kLogTerms - 1));
  for (int k = K::kLogTerms - 2; k >= 0; --k)
    series = series * s2 + S(1) / (2 * k + 1);
  const V log_m = 2 * s * series;
  const V n = Convert<V>(e);
  const V y = (n * K::kLn2Hi + log_m) + n * K::kLn2Lo;
  const V nan = Splat<V, S>(std::numeric_limits<S>::quiet_NaN());
  const V infinity = Splat<V, S>(std::numeric_limits<S>::infinity());
  return x < 0 || x != x ? nan : (x == infinity ? infinity : y);
}

// log(1 + x) for x >= 0, accurate for small x too (Goldberg's trick: the
// rounding of 1 + x is undone by the ratio x / ((1 + x) - 1)).
template <typename V>
TFA_INLINE V Log1pNonNegative(V x) {
  const V one_plus = x + 1;
  const V rounded = one_plus - 1;
  const V safe = rounded == 0 ? Splat<V, ScalarOfT<V>>(1) : rounded;
  const V y = Log(one_plus) * (x / safe);
  return rounded == 0 ? x : y;
}

// tanh(x) = -sign(x) em / (2 + em), em = e^(-2|x|) - 1.
template <typename V>
TFA_INLINE V Tanh(V x) {
  const V em = Expm1NonPositive(-2 * Abs(x));
  const V magnitude = (0 - em) / (2 + em);  // +0 at 0, NaN for NaN x
  return x < 0 ? -magnitude : magnitude;
}

// 1 / (1 + e^-x), from e = e^-|x| (no overflow, accurate in both tails).
template <typename V>
TFA_INLINE V Sigmoid(V x) {
  const V e = Exp(-Abs(x));
  const V r = 1 / (1 + e);
  return x < 0 ? e * r : r;
}

// sigmoid(x) - 1/2 = sign(x) (1 - e) / (2 (1 + e)), e = e^-|x|, without the
// cancellation of the subtraction near 0.
template <typename V>
TFA_INLINE V SigmoidMinusHalf(V x) {
  const V em = Expm1NonPositive(-Abs(x));
  const V magnitude = (0 - em) / (2 * (2 + em));  // +0 at 0, NaN for NaN
  return x < 0 ? -magnitude : magnitude;
}

// log(1 + e^x), accurate in both tails.
template <typename V>
TFA_INLINE V Softplus(V x) {
  const V zero = {};
  return (x > 0 ? x : zero) + Log1pNonNegative(Exp(-Abs(x)));
}

// The largest integer <= x, exactly (x itself beyond 2^mantissa_bits).
template <typename V>
TFA_INLINE V Floor(V x) {
  using S = ScalarOfT<V>;
  const S two_to_mantissa =
      S(1) *
      static_cast<S>(int64_t{1}
                     << vector_math_internal::Constants<S>::kMantissaBits);
  const V magnitude = Abs(x);
  // Round |x| to an integer by adding and subtracting 2^mantissa_bits.
  const V rounded_magnitude = (magnitude + two_to_mantissa) - two_to_mantissa;
  V rounded = x < 0 ? -rounded_magnitude : rounded_magnitude;
  rounded = rounded > x ? rounded - 1 : rounded;
  return magnitude < two_to_mantissa ? rounded : x;
}

// sqrt(x) for x in [1, 64], float32 accuracy: the inverse square root by the
// bit trick and three Newton steps.
template <typename V>
TFA_INLINE V SqrtFloat(V x) {
  using I = IntOfT<V>;
  static_assert(sizeof(ScalarOfT<V>) == 4, "SqrtFloat is for float lanes");
  V y = BitCast<V>((I{} + 0x5f3759df) - (BitCast<I>(x) >> 1));
  for (int step = 0; step < 3; ++step) y = y * (1.5f - 0.5f * x * y * y);
  return x * y;
}

// sqrt(2) erfinv(u) for u in (-1, 1) with |u| <= 1 - 2^-24: a standard normal
// variate from a uniform one, in float32 (M. Giles, "Approximating the erfinv
// function", GPU Computing Gems, 2011: relative error below 4e-7 plus
// rounding).
template <typename V>
TFA_INLINE V StandardNormal(V u) {
  static_assert(sizeof(ScalarOfT<V>) == 4, "StandardNormal is float32");
  const V w = -Log((1 - u) * (1 + u));
  const V c = w - 2.5f;
  V central = Splat<V, float>(2.81022636e-08f);
  central = central * c + 3.43273939e-07f;
  central = central * c - 3.5233877e-06f;
  central = central * c - 4.39150654e-06f;
  central = central * c + 0.00021858087f;
  central = central * c - 0.00125372503f;
  central = central * c - 0.00417768164f;
  central = central * c + 0.246640727f;
  central = central * c + 1.50140941f;
  // Both branches, the tail (w >= 5: |xi| > ~2.9) selected: testing whether
  // any lane needs the tail costs as much as computing it.
  const V big = w < 5.0f ? Splat<V, float>(5.0f) : w;  // sqrt's range
  const V t = SqrtFloat(big) - 3.0f;
  V tail = Splat<V, float>(-0.000200214257f);
  tail = tail * t + 0.000100950558f;
  tail = tail * t + 0.00134934322f;
  tail = tail * t - 0.00367342844f;
  tail = tail * t + 0.00573950773f;
  tail = tail * t - 0.0076224613f;
  tail = tail * t + 0.00943887047f;
  tail = tail * t + 1.00167406f;
  tail = tail * t + 2.83297682f;
  const V erfinv = (w < 5.0f ? central : tail) * u;
  return erfinv * 1.41421356237309504880f;
}

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_VECTOR_MATH_H_
