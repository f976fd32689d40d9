// The math of Padé Activation Units (Molina et al., Padé Activation Units), written once.
//
// F(x) = P(x) / Q(x), P = sum_{j=0..m} a_j x^j, with one of three denominators
// (k = 1..n):
//   safe        Q = 1 + sum |b_k| |x|^k      (the paper's "safe" PAU)
//   abs_of_sum  Q = 1 + |sum b_k x^k|
//   unsafe      Q = 1 + sum b_k x^k          (may have poles)
//
// Every function is a template over V, a scalar or a GCC vector of one (see
// cc/common/lanes.h); coefficients are passed as V too, because per-channel
// and randomized PAUs have a different coefficient in every lane. No
// TensorFlow includes: shared by the CPU kernels, the CUDA kernels and the
// native module.
//
// Overflow. The terms are written with "scaled powers" w_j = c x^j and a unit
// c: every quantity computed (F, the derivative, the coefficient gradients) is
// a ratio in which c cancels. Near 0, c = 1 and w_j = x^j. For |x| beyond a
// radius where x^j could overflow, c = |x|^-d and w_j = sign(x)^j |x|^(j-d)
// (FarPowers), d the degree of the highest nonzero b_k (FarDegree), and F is
// summed up to the highest nonzero coefficients (LeadingDegrees): the same
// formulas then stay finite wherever F is, and give the limits at +-inf.
//
// Randomized PAU (RPAU): each coefficient of each element is c + alpha |c| u,
// u uniform in (-1, 1) from a counter-based hash of (seed, step, element index,
// coefficient index), so the backward pass regenerates the noise instead of
// storing it and the result does not depend on how the work is split.
#ifndef TF_APPROX_CC_PAU_PAU_H_
#define TF_APPROX_CC_PAU_PAU_H_

#include <cmath>
#include <cstdint>
#include <limits>

#include "cc/common/counter_noise.h"
#include "cc/common/dispatch.h"
#include "cc/common/lanes.h"
#include "cc/common/platform.h"

namespace tf_approx {
namespace pau {

enum class Denominator : int { kSafe = 0, kAbsOfSum = 1, kUnsafe = 2 };

constexpr int kMaxOrder = 10;
// a_0..a_m, then b_1..b_n.
constexpr int kMaxCoefficients = 2 * kMaxOrder + 1;

// Scaled powers of one input (see the header comment).
template <typename V>
struct Powers {
  V w[kMaxOrder + 1];  // w[j] = c x^j, j = 0..K
  V unit;              // c
  V sign;              // sign(x), 0 at 0
};

// c = 1: plain powers. Exact for |x| below FarRadius.
template <typename V, typename S>
TFA_INLINE void NearPowers(V x, int top, Powers<V>* pw) {
  pw->unit = Splat<V, S>(1);
  pw->sign = Sign(x);
  pw->w[0] = pw->unit;
  for (int j = 1; j <= top; ++j) pw->w[j] = pw->w[j - 1] * x;
}

// c = |x|^-d, w_j = sign(x)^j |x|^(j - d). Scalar only: used for the rare
// inputs beyond FarRadius, with d from FarDegree. At x = +-inf, w_j = 0 for
// every j != d: the limit for j < d, and for j > d the terms of coefficients
// that FarDegree found to be zero.
template <typename S>
TFA_INLINE void FarPowers(S x, int top, int d, Powers<S>* pw) {
  const S s = x < 0 ? S(-1) : S(1);
  const S magnitude = x < 0 ? -x : x;
  const S t = S(1) / magnitude;  // NaN stays NaN
  S power = 1;                   // |x|^(j - d), downwards from j = d
  for (int j = d; j >= 0; --j) {
    pw->w[j] = (j % 2 == 1 ? s : S(1)) * power;
    power *= t;
  }
  const S growth = magnitude == std::numeric_limits<S>::infinity() ? S(0)
                                                                   : magnitude;
  power = 1;
  for (int j = d + 1; j <= top; ++j) {
    power *= growth;
    pw->w[j] = (j % 2 == 1 ? s : S(1)) * power;
  }
  pw->unit = pw->w[0];
  pw->sign = Sign(x);
}

// The degrees of P and of the denominator's sum without their zero leading
// coefficients (0 where all are zero; a NaN coefficient counts as nonzero).
// Beyond FarRadius, F is evaluated with these degrees: a term whose
// coefficient is zero would otherwise be formed as 0 * inf = NaN where its
// power overflows.
struct Degrees {
  int m;
  int n;
};

template <typename S>
TFA_INLINE Degrees LeadingDegrees(int m, int n, const S* a, const S* b) {
  while (m > 0 && a[m] == S(0)) --m;
  while (n > 0 && b[n - 1] == S(0)) --n;
  return {m, n};
}

// The d of FarPowers for an input beyond FarRadius: the leading degree n of
// the denominator, so that cQ tends to |b_n| (nonzero) and cP to a finite
// value wherever F is finite; at +-inf, max(m, n) of the leading degrees,
// which leaves exactly the leading terms and gives F's limit.
template <typename S>
TFA_INLINE int FarDegree(S x, const Degrees& leading) {
  const bool finite = (x < 0 ? -x : x) < std::numeric_limits<S>::infinity();
  return finite ? leading.n : (leading.m > leading.n ? leading.m : leading.n);
}

// The parts of F at one input, from which value and gradients follow.
template <typename V>
struct Parts {
  V p;  // c P
  V q;  // c Q
  V r;  // c sum b_k x^k (abs_of_sum, unsafe) or c sum |b_k| |x|^k (safe)
};

template <Denominator D, typename V>
TFA_INLINE V DenominatorTerm(V b, V w) {
  if constexpr (D == Denominator::kSafe) {
    return Abs(b) * Abs(w);  // |b_k| |c x^k|, c > 0
  } else {
    return b * w;
  }
}

template <Denominator D, typename V>
TFA_INLINE Parts<V> Evaluate(int m, int n, const V* a, const V* b,
                             const Powers<V>& pw) {
  Parts<V> parts;
  parts.p = a[0] * pw.w[0];
  for (int j = 1; j <= m; ++j) parts.p += a[j] * pw.w[j];
  parts.r = DenominatorTerm<D>(b[0], pw.w[1]);
  for (int k = 2; k <= n; ++k) parts.r += DenominatorTerm<D>(b[k - 1], pw.w[k]);
  if constexpr (D == Denominator::kAbsOfSum) {
    // |r| as r sign(r) (NaN stays NaN): GCC 12 crashes on Abs next to Sign
    // of the same value in the AVX-512 clone.
    parts.q = pw.unit + parts.r * Sign(parts.r);
  } else {
    parts.q = pw.unit + parts.r;
  }
  return parts;
}

template <Denominator D, typename V>
TFA_INLINE V Value(int m, int n, const V* a, const V* b, const Powers<V>& pw) {
  const Parts<V> parts = Evaluate<D>(m, n, a, b, pw);
  return parts.p / parts.q;
}

// F at an input within the far radius (c = 1), by Horner's rule: fewer
// operations than the power sums, which only the backward pass needs.
template <Denominator D, typename V>
TFA_INLINE V NearValue(int m, int n, const V* a, const V* b, V x) {
  using S = ScalarOfT<V>;
  V p = a[m];
  for (int j = m - 1; j >= 0; --j) p = p * x + a[j];
  // R in u = |x| (safe, with |b_k|) or in x.
  const V u = D == Denominator::kSafe ? Abs(x) : x;
  const V one = Splat<V, S>(1);
  V r = DenominatorTerm<D>(b[n - 1], one);
  for (int k = n - 1; k >= 1; --k)
    r = r * u + DenominatorTerm<D>(b[k - 1], one);
  r = r * u;
  if constexpr (D == Denominator::kAbsOfSum) r = r * Sign(r);  // see Evaluate
  return p / (one + r);
}

// The factors of the backward pass that depend on the coefficients alone,
// computed where they are used: for coefficients that change from vector to
// vector (per-channel and randomized PAUs, the scalar paths).
//   Ja(j)    = j a_j                  (P' = sum_j Ja(j) w_{j-1})
//   Kb(k)    = k b_k, k |b_k| (safe)  (R' = sum_k Kb(k) w_{k-1})
//   SignB(k) = sign(b_k)              (safe: dQ/db_k = sign(b_k) |x|^k)
template <Denominator D, typename V>
struct InlineFactors {
  using S = ScalarOfT<V>;
  const V* a;
  const V* b;
  TFA_INLINE V Ja(int j) const { return a[j] * S(j); }
  TFA_INLINE V Kb(int k) const {
    return DenominatorTerm<D>(b[k - 1], Splat<V, S>(k));
  }
  TFA_INLINE V SignB(int k) const { return Sign(b[k - 1]); }
  static constexpr bool kSignBAtFlush = false;
};

// The same factors formed once, for a coefficient set that every vector
// shares: recomputed per element, they cost about a tenth of the backward.
// For the safe denominator, sign(b_k) is left out of the grad_b sums and
// applied once when the caller flushes them (kSignBAtFlush): it is -1, 0 or
// 1, so the product of the sum equals the sum of the products, bit for bit.
template <Denominator D, typename V>
struct HoistedFactors {
  static constexpr bool kSignBAtFlush = D == Denominator::kSafe;
  V ja[kMaxOrder + 1], kb[kMaxOrder + 1], sign_b[kMaxOrder + 1];

  static TFA_INLINE HoistedFactors Of(int m, int n, const V* a, const V* b) {
    const InlineFactors<D, V> f{a, b};
    HoistedFactors h;
    for (int j = 1; j <= m; ++j) h.ja[j] = f.Ja(j);
    for (int k = 1; k <= n; ++k) {
      h.kb[k] = f.Kb(k);
      h.sign_b[k] = f.SignB(k);
    }
    return h;
  }
  TFA_INLINE V Ja(int j) const { return ja[j]; }
  TFA_INLINE V Kb(int k) const { return kb[k]; }
  TFA_INLINE V SignB(int k) const { return sign_b[k]; }
};

// The backward pass at one input, in two parts: BackwardWeights gives
//   dx = dy dF/dx = dy (P'/Q - Q' P/Q^2)
// and the weights ga = dy/Q, gb, gf of the coefficient gradients, which
// AddCoefficientGradients forms as
//   dy dF/da_j = ga x^j
//   dy dF/db_k = (gb dQ/db_k) gf, dQ/db_k = sign(b_k)|x|^k (safe), x^k
//                (otherwise)
// (sign(R) x^k for abs_of_sum, the sign being in gb; sign(0) = 0). Of the
// three factors of dy dF/db_k = -(dy/Q) F dQ/db_k, the two multiplied first
// are chosen so that their product cannot flush to zero (or overflow) where
// the result is a normal number: with |dQ/db_k| <= 1 (|x| <= 1) gb = -dy F/Q
// and gf = 1; with |dQ/db_k| > 1 gb = dy/Q and gf = -F, since -dy F/Q may
// lie below the smallest normal number where |x|^k lifts the product above
// it (float32 x = 6, F = 2.6e-35, Q = 3.4e5: dF/db_4 = -9.8e-38). `factors`
// is an InlineFactors or HoistedFactors of a and b; with
// Factors::kSignBAtFlush the grad_b sums are left without sign(b_k).
template <typename V>
struct Weights {
  V dx;
  V ga;
  V gb;
  V gf;
  V f;  // F
};

template <Denominator D, typename V, typename Factors>
TFA_INLINE Weights<V> BackwardWeights(int m, int n, const V* a, const V* b,
                                      const Factors& factors,
                                      const Powers<V>& pw, V dy) {
  using S = ScalarOfT<V>;
  const Parts<V> parts = Evaluate<D>(m, n, a, b, pw);
  V dp = factors.Ja(1) * pw.w[0];
  for (int j = 2; j <= m; ++j) dp += factors.Ja(j) * pw.w[j - 1];
  // dQ/dx without the outer sign of safe / abs_of_sum.
  V dr = factors.Kb(1) * pw.w[0];
  for (int k = 2; k <= n; ++k) {
    if constexpr (D == Denominator::kSafe) {
      dr += factors.Kb(k) * Abs(pw.w[k - 1]);  // Kb = k |b_k|
    } else {
      dr += factors.Kb(k) * pw.w[k - 1];
    }
  }
  const V r_sign = Sign(parts.r);
  V dq = dr;
  if constexpr (D == Denominator::kSafe) dq = pw.sign * dr;
  if constexpr (D == Denominator::kAbsOfSum) dq = r_sign * dr;

  const V inv_q = S(1) / parts.q;
  const V f = parts.p * inv_q;
  const V g = dy * inv_q;
  // Within the far radius (c = 1), |dQ/db_k| > 1 for every k >= 1 where
  // |w_1| > c, i.e. |x| > 1. Beyond it AddCoefficientGradients<kSorted>
  // orders the three factors itself.
  const auto lifts = Abs(pw.w[1]) > pw.unit;
  const V one = Splat<V, S>(1);
  V gb = lifts ? g : -(g * f);
  const V gf = lifts ? -f : one;
  // sign(R) is -1, 0 or 1: folding it into gb changes no bit of gb x^k.
  if constexpr (D == Denominator::kAbsOfSum) gb = gb * r_sign;
  return {g * (dp - f * dq), g, gb, gf, f};
}

// u v w for scalars, the factor of largest magnitude times the smallest
// first: no partial product overflows or flushes to zero where u v w is a
// normal number (and u, v, w are).
template <typename S>
TFA_INLINE S ProductOfThree(S u, S v, S w) {
  const S mu = Abs(u), mv = Abs(v), mw = Abs(w);
  if ((mu >= mv) == (mu <= mw)) return (v * w) * u;  // u in the middle
  if ((mv >= mu) == (mv <= mw)) return (u * w) * v;
  return (u * v) * w;
}

// kSorted (scalars only): the grad_b terms by ProductOfThree, for the far
// inputs, whose scaled |dQ/db_k| = |x|^(k - d) lies on either side of 1.
template <Denominator D, bool kSorted = false, typename V, typename Factors>
TFA_INLINE void AddCoefficientGradients(int m, int n, const Factors& factors,
                                        const Powers<V>& pw, V ga, V gb,
                                        V gf, V* grad_a, V* grad_b) {
  for (int j = 0; j <= m; ++j) grad_a[j] += ga * pw.w[j];
  for (int k = 1; k <= n; ++k) {
    V dq_db = pw.w[k];
    if constexpr (D == Denominator::kSafe) {
      dq_db = Abs(dq_db);
      if constexpr (!Factors::kSignBAtFlush) dq_db = factors.SignB(k) * dq_db;
    }
    if constexpr (kSorted) {
      grad_b[k - 1] += ProductOfThree(gb, dq_db, gf);
    } else {
      grad_b[k - 1] += (gb * dq_db) * gf;
    }
  }
}

// Both parts: returns dx and adds the coefficient gradients to grad_a[j] and
// grad_b[k - 1].
template <Denominator D, typename V, typename Factors>
TFA_INLINE V Backward(int m, int n, const V* a, const V* b,
                      const Factors& factors, const Powers<V>& pw, V dy,
                      V* grad_a, V* grad_b) {
  const Weights<V> w = BackwardWeights<D>(m, n, a, b, factors, pw, dy);
  AddCoefficientGradients<D>(m, n, factors, pw, w.ga, w.gb, w.gf, grad_a,
                             grad_b);
  return w.dx;
}

// Calls fn(ValueTag<d>()): the denominator as a compile-time constant.
template <typename Fn>
TFA_INLINE void VisitDenominator(Denominator d, Fn&& fn) {
  switch (d) {
    case Denominator::kSafe:
      fn(ValueTag<Denominator::kSafe>());
      break;
    case Denominator::kAbsOfSum:
      fn(ValueTag<Denominator::kAbsOfSum>());
      break;
    case Denominator::kUnsafe:
      fn(ValueTag<Denominator::kUnsafe>());
      break;
  }
}

// RPAU noise: cc/common/counter_noise.h, one uniform per coefficient of each
// element (CoefficientHash(element_hash, j)).

// The noisy coefficient c + alpha |c| u.
template <typename V>
TFA_INLINE V Randomize(V c, V alpha, V u) {
  return c + alpha * Abs(c) * u;
}

// The radius below which NearPowers cannot overflow, for coefficients of
// magnitude at most `largest` (randomization included): every product the
// backward pass forms stays below max / 16. At least 1; NaN coefficients give
// NaN, which sends every input down the near path (and NaN out).
template <typename S>
TFA_INLINE S FarRadius(double largest, int m, int n) {
  const int top = m > n ? m : n;
  const double c = largest > 1 ? largest : 1;
  const double bound = static_cast<double>(std::numeric_limits<S>::max()) /
                       (16.0 * c * c * (top + 1) * (top + 1) * (top + 1));
#if defined(__CUDA_ARCH__)
  const double radius = ::pow(bound, 1.0 / (2 * top));
#else
  const double radius = std::pow(bound, 1.0 / (2 * top));
#endif
  return static_cast<S>(radius > 1 || radius != radius ? radius : 1.0);
}

// One element by the scalar path of the CPU kernels (far inputs, column
// tails), which each GPU thread takes for every element. `coef` holds
// a_0..a_m, b_1..b_n of the element (randomized, for RPAU); `far` is the
// FarRadius. Below it (and for NaN) plain powers; beyond, powers scaled by
// |x|^-FarDegree and F evaluated with the leading degrees (the sums' degree
// n at least 1: Evaluate starts with b_1's term, which is 0 there).
template <Denominator D, typename S>
TFA_INLINE S ScalarValue(int m_all, int n_all, const S* coef, S far, S x) {
  constexpr S kInf = std::numeric_limits<S>::infinity();
  const S* b = coef + m_all + 1;
  const int top = m_all > n_all ? m_all : n_all;
  const Degrees leading = LeadingDegrees(m_all, n_all, coef, b);
  const int m = leading.m, n = leading.n > 1 ? leading.n : 1;
  Powers<S> pw;
  S y;
  if (!(Abs(x) > far)) {
    // The vector loops' form: an element's value does not depend on which
    // loop computed it.
    y = NearValue<D>(m_all, n_all, coef, b, x);
  } else {
    FarPowers(x, top, FarDegree(x, leading), &pw);
    y = Value<D>(m, n, coef, b, pw);
  }
  if (Abs(y) < kInf || !(Abs(x) < kInf)) return y;
  // F overflows (or two overflowing terms cancelled into NaN): the powers
  // scaled by |x|^-max(m, n) are all finite and give the signed infinity.
  FarPowers(x, top, leading.m > leading.n ? leading.m : leading.n, &pw);
  return Value<D>(m, n, coef, b, pw);
}

// Returns dx = dy F'(x) and adds the element's coefficient gradients to
// grad[0, m + 1 + n) (every coefficient's, zero ones included: x^j / Q may be
// large).
template <Denominator D, typename S>
TFA_INLINE S ScalarGradient(int m, int n, const S* coef, S far, S x, S dy,
                            S* grad) {
  const S* b = coef + m + 1;
  const InlineFactors<D, S> factors{coef, b};
  const int top = m > n ? m : n;
  Powers<S> pw;
  Weights<S> w;
  if (!(Abs(x) > far)) {
    NearPowers<S, S>(x, top, &pw);
    w = BackwardWeights<D>(m, n, coef, b, factors, pw, dy);
    AddCoefficientGradients<D>(m, n, factors, pw, w.ga, w.gb, w.gf, grad,
                               grad + m + 1);
  } else {
    const Degrees leading = LeadingDegrees(m, n, coef, b);
    FarPowers(x, top, FarDegree(x, leading), &pw);
    w = BackwardWeights<D>(leading.m, leading.n > 1 ? leading.n : 1, coef, b,
                           factors, pw, dy);
    AddCoefficientGradients<D, true>(m, n, factors, pw, w.ga, w.gb, w.gf,
                                     grad, grad + m + 1);
  }
  return w.dx;
}

// Host-side helpers, shared by the op kernels and the native modules: plain
// functions, which nvcc compiles for the host only (device code cannot call
// them), so host code in a .cu file may call them.

inline bool ParseDenominator(const char* name, Denominator* d) {
  static constexpr Named<Denominator> kNames[] = {
      {"safe", Denominator::kSafe},
      {"abs_of_sum", Denominator::kAbsOfSum},
      {"unsafe", Denominator::kUnsafe}};
  return ParseName(name, kNames, d);
}

}  // namespace pau
}  // namespace tf_approx

#endif  // TF_APPROX_CC_PAU_PAU_H_
