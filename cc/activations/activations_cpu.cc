#include "cc/activations/activations_cpu.h"

#include <algorithm>
#include <type_traits>

#include "cc/common/cpu_vector.h"

namespace tf_approx {
namespace activations {
namespace {

// x clipped to [lo, hi] lane by lane; NaN stays NaN.
template <typename V>
TFA_INLINE V ClipTo(V x, V lo, V hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

// Lanes with x < lo or x > hi (not NaN). As one comparison, |clip(x) - x| >
// 0: GCC 12 merges two comparisons of x into an OR of masks that it then
// computes lane by lane in target_clones functions (8x slower).
template <typename V>
TFA_INLINE auto Outside(V x, V lo, V hi) {
  return Abs(ClipTo(x, lo, hi) - x) > V{};
}

// The scalar path: loop tails, functions that look up tables, and vectors
// with an input beyond p.far. Out of line: it would only bloat the loops; and
// compiled for the same instruction set, so that an element's value does not
// depend on which path took it (FMA contraction).
template <typename S>
TFA_INLINE void ScalarForwardImpl(const Params<S>& p, const S* x, S* y,
                                  int64_t n) {
  VisitKind(p, [&](const auto& f) TFA_LAMBDA_INLINE {
    for (int64_t i = 0; i < n; ++i) y[i] = ScalarValue(f, p, x[i]);
  });
}

template <typename S>
TFA_INLINE void ScalarBackwardImpl(const Params<S>& p, const S* x, const S* dy,
                                   S* dx, int64_t n) {
  VisitKind(p, [&](const auto& f) TFA_LAMBDA_INLINE {
    for (int64_t i = 0; i < n; ++i) dx[i] = ScalarGradient(f, p, x[i], dy[i]);
  });
}

#define TFA_SCALAR_ENTRY_POINTS(S)                                         \
  TFA_CPU_CLONES TFA_NOINLINE void ScalarForward(const Params<S>& p,       \
                                                 const S* x, S* y,         \
                                                 int64_t n) {              \
    ScalarForwardImpl(p, x, y, n);                                         \
  }                                                                        \
  TFA_CPU_CLONES TFA_NOINLINE void ScalarBackward(                         \
      const Params<S>& p, const S* x, const S* dy, S* dx, int64_t n) {     \
    ScalarBackwardImpl(p, x, dy, dx, n);                                   \
  }
TFA_FOR_EACH_CPU_TYPE(TFA_SCALAR_ENTRY_POINTS)
#undef TFA_SCALAR_ENTRY_POINTS

// The fast form is exact below p.far. Inputs are taken in blocks, each
// checked before it is computed (a vector check per vector would cost more:
// a lane reduction), so that x and y may alias (TensorFlow forwards buffers
// in place): a block with an input beyond p.far takes the scalar path, which
// reads each element before writing it.
constexpr int64_t kBlock = 512;

// Whether a block can hold an input beyond p.far that reaches the fast form.
// Not when the clip range lies within p.far: such inputs are clipped first
// (forward) or have a zero gradient.
// Nor when both lines of p's form lie within p.far: beyond them the far
// path's value is replaced (the fast form's inf or NaN there is not).
template <typename F, bool kClip, typename S>
TFA_INLINE bool MayBeFar(const Params<S>& p) {
  return F::kHasFar &&
         !(kClip && Abs(p.clip_lo) <= p.far && Abs(p.clip_hi) <= p.far) &&
         !(p.form && p.below.active && p.above.active &&
           Abs(p.below.at) <= p.far && Abs(p.above.at) <= p.far);
}

// Whether any of x[0, n) has |x| > far (NaN does not count); n is a multiple
// of the vector length.
template <typename S>
TFA_INLINE bool AnyFar(const S* x, int64_t n, S far) {
  using V = Vec<S>;
  V largest = {};
  for (int64_t i = 0; i < n; i += kLanes<S>) {
    const V a = Abs(Load(x + i));
    largest = a > largest ? a : largest;
  }
  bool any = false;
  for (int l = 0; l < kLanes<S>; ++l) any |= largest[l] > far;
  return any;
}

// Walks x[0, n): vector(i) computes the vector at i; scalar(begin, count)
// computes [begin, begin + count) on the scalar path (blocks with an input
// beyond p.far, the tail, functions that do not vectorise).
template <typename F, bool kClip, typename S, typename VectorFn,
          typename ScalarFn>
TFA_INLINE void VisitBlocks(const Params<S>& p, const S* x, int64_t n,
                            VectorFn&& vector, ScalarFn&& scalar) {
  int64_t vectors = 0;
  if constexpr (F::kVectorizable) {
    const bool may_be_far = MayBeFar<F, kClip>(p);
    vectors = n / kLanes<S> * kLanes<S>;
    for (int64_t block = 0; block < vectors; block += kBlock) {
      const int64_t count = std::min(kBlock, vectors - block);
      if (may_be_far && AnyFar(x + block, count, p.far)) {
        scalar(block, count);
        continue;
      }
      for (int64_t i = block; i < block + count; i += kLanes<S>) vector(i);
    }
  }
  if (vectors < n) scalar(vectors, n - vectors);
}

// The vector lambdas are generic (auto i, and so auto v) so that their bodies
// are compiled only for functions that vectorise.
template <bool kClip, typename S, typename F>
TFA_INLINE void ForwardLoop(const F& f, const Params<S>& p, const S* x, S* y,
                            int64_t n) {
  using V = Vec<S>;
  const V lo = Splat<V>(p.clip_lo), hi = Splat<V>(p.clip_hi);
  VisitBlocks<F, kClip>(
      p, x, n,
      [&](auto i) TFA_LAMBDA_INLINE {
        auto v = Load(x + i);
        if (kClip) v = ClipTo(v, lo, hi);
        Store(y + i, f.Value(v));
      },
      [&](int64_t begin, int64_t count) {
        ScalarForward(p, x + begin, y + begin, count);
      });
}

template <bool kClip, typename S, typename F>
TFA_INLINE void BackwardLoop(const F& f, const Params<S>& p, const S* x,
                             const S* dy, S* dx, int64_t n) {
  using V = Vec<S>;
  const V lo = Splat<V>(p.clip_lo), hi = Splat<V>(p.clip_hi);
  VisitBlocks<F, kClip>(
      p, x, n,
      [&](auto i) TFA_LAMBDA_INLINE {
        const auto v = Load(x + i);
        auto g = Load(dy + i) * f.Derivative(v);
        if (kClip) g = Outside(v, lo, hi) ? V{} : g;
        Store(dx + i, g);
      },
      [&](int64_t begin, int64_t count) {
        ScalarBackward(p, x + begin, dy + begin, dx + begin, count);
      });
}

// Like VisitKind, with compile-time shapes for the float32 functions the
// paper recommends and their relatives (serp and tanh_cont_2: [1/2];
// tanh_pade_4_4, sigm_pade_4_4, tanh_cont_4: [3/4]; [5/6]; fastexp n = 2 and
// 512) and for today's safe picks, whose loops then unroll fully. Each shape multiplies the loops
// compiled (and build time), so double and other shapes share RuntimeShape.
template <typename S, typename Fn>
TFA_INLINE void VisitCpuKind(const Params<S>& p, Fn&& fn) {
  if constexpr (std::is_same_v<S, float>) {
    using Odd12 = FixedShape<1, 1, 2, 0>;
    using Odd23 = FixedShape<2, 1, 3, 0>;
    using Odd34 = FixedShape<3, 1, 4, 0>;
    // Today's safe picks (a form around the rational): gelu_pade_5_6
    // (Odd34), silu_pade_5_4, softplus_pade_6_4.
    using Odd33 = FixedShape<3, 1, 3, 0>;
    using Even43 = FixedShape<4, 0, 3, 0>;
    if (p.kind == Kind::kRational && !p.form) {
      if (Odd12::Matches(p)) return fn(ParityRationalFn<S, Odd12>{{p}});
      if (Odd23::Matches(p)) return fn(ParityRationalFn<S, Odd23>{{p}});
      if (Odd34::Matches(p)) return fn(ParityRationalFn<S, Odd34>{{p}});
    }
    if (p.kind == Kind::kRational && p.form) {
      if (Odd34::Matches(p))
        return VisitForm(p, ParityRationalFn<S, Odd34>{{p}}, fn);
      if (Odd33::Matches(p))
        return VisitForm(p, ParityRationalFn<S, Odd33>{{p}}, fn);
      if (Even43::Matches(p))
        return VisitForm(p, ParityRationalFn<S, Even43>{{p}}, fn);
    }
    if (p.kind == Kind::kFastExpSigmoid && !p.form) {
      if (p.squarings == 1) return fn(FastExpSigmoidFn<S, 1>{{p}});
      if (p.squarings == 9) return fn(FastExpSigmoidFn<S, 9>{{p}});
    }
  }
  // A spline's table in one register (up to 16 float32 pieces, 8 double)
  // or one pair (every float32 spline, double ones of up to 16 pieces), in
  // the built-in splines' form (InitForm has set both scales to 1).
  if (p.kind == Kind::kSpline && p.pieces <= 2 * kLanes<S> && !p.product &&
      p.slope == S(0) && p.below.slope == S(0) && p.above.slope != S(0)) {
    if (p.pieces <= kLanes<S>)
      return fn(FormFn<S, SplineFn<S, 1>, true>{SplineFn<S, 1>{p}, p});
    return fn(FormFn<S, SplineFn<S, 2>, true>{SplineFn<S, 2>{p}, p});
  }
  VisitKind(p, fn);
}

// f is built on a copy of p, a local whose address does not escape (the
// scalar path gets p), so that its coefficients stay in registers across the
// stores to y: p itself could alias y as far as the compiler knows.
// Forward and Backward on `rows` rows of n elements at leading dimensions
// ld*: one dispatch of the kind for them all (the recurrent layers' gates are
// columns of a [batch, 4 units] matrix). The flat entry points call them for
// one row, so that the loops are compiled once per kind and instruction set,
// not twice (they dominate the build).
template <typename S>
TFA_INLINE void ForwardRowsImpl(const Params<S>& p, const S* x, int64_t ldx,
                                S* y, int64_t ldy, int64_t rows, int64_t n) {
  const Params<S> copy = p;
  VisitCpuKind(copy, [&](const auto& f) TFA_LAMBDA_INLINE {
    for (int64_t r = 0; r < rows; ++r) {
      if (p.clip) {
        ForwardLoop<true>(f, p, x + r * ldx, y + r * ldy, n);
      } else {
        ForwardLoop<false>(f, p, x + r * ldx, y + r * ldy, n);
      }
    }
  });
}

template <typename S>
TFA_INLINE void BackwardRowsImpl(const Params<S>& p, const S* x, int64_t ldx,
                                 const S* dy, int64_t lddy, S* dx,
                                 int64_t lddx, int64_t rows, int64_t n) {
  const Params<S> copy = p;
  VisitCpuKind(copy, [&](const auto& f) TFA_LAMBDA_INLINE {
    for (int64_t r = 0; r < rows; ++r) {
      if (p.clip) {
        BackwardLoop<true>(f, p, x + r * ldx, dy + r * lddy, dx + r * lddx, n);
      } else {
        BackwardLoop<false>(f, p, x + r * ldx, dy + r * lddy, dx + r * lddx,
                            n);
      }
    }
  });
}

}  // namespace

#define TFA_ROWS_ENTRY_POINTS(S)                                            \
  TFA_CPU_CLONES void ForwardRows(const Params<S>& p, const S* x,           \
                                  int64_t ldx, S* y, int64_t ldy,           \
                                  int64_t rows, int64_t n) {                \
    ForwardRowsImpl(p, x, ldx, y, ldy, rows, n);                            \
  }                                                                         \
  TFA_CPU_CLONES void BackwardRows(const Params<S>& p, const S* x,          \
                                   int64_t ldx, const S* dy, int64_t lddy,  \
                                   S* dx, int64_t lddx, int64_t rows,       \
                                   int64_t n) {                             \
    BackwardRowsImpl(p, x, ldx, dy, lddy, dx, lddx, rows, n);               \
  }
TFA_FOR_EACH_CPU_TYPE(TFA_ROWS_ENTRY_POINTS)
#undef TFA_ROWS_ENTRY_POINTS

#define TFA_ENTRY_POINTS(S)                                                \
  TFA_CPU_CLONES void Forward(const Params<S>& p, const S* x, S* y,        \
                              int64_t n) {                                 \
    ForwardRows(p, x, n, y, n, 1, n);                                      \
  }                                                                        \
  TFA_CPU_CLONES void Backward(const Params<S>& p, const S* x,             \
                               const S* dy, S* dx, int64_t n) {            \
    BackwardRows(p, x, n, dy, n, dx, n, 1, n);                             \
  }
TFA_FOR_EACH_CPU_TYPE(TFA_ENTRY_POINTS)
#undef TFA_ENTRY_POINTS

}  // namespace activations
}  // namespace tf_approx
