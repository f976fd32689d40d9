// Lane-generic helpers shared by every family's math header.
//
// Each helper is a template over V, the type the math computes on: a scalar
// (float or double; CUDA threads and loop tails) or a GCC vector of them (the
// CPU kernels). Only arithmetic, comparisons, `?:` and bit casts are used,
// which mean the same lane by lane on both.
#ifndef TF_APPROX_CC_COMMON_LANES_H_
#define TF_APPROX_CC_COMMON_LANES_H_

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "cc/common/platform.h"

namespace tf_approx {

// The element type of V: V itself for a scalar.
template <typename V, typename = void>
struct ScalarOf {
  using type = V;
};
template <typename V>
struct ScalarOf<V, std::void_t<decltype(std::declval<V>()[0])>> {
  using type =
      std::remove_cv_t<std::remove_reference_t<decltype(std::declval<V>()[0])>>;
};
template <typename V>
using ScalarOfT = typename ScalarOf<V>::type;

// Every lane set to s.
template <typename V, typename S>
TFA_INLINE V Splat(S s) {
  V zero = {};
  return zero + s;
}

// The integer type as wide as V's lanes, lane for lane.
template <typename S>
struct IntLane;
template <>
struct IntLane<float> {
  typedef int32_t type;
};
template <>
struct IntLane<double> {
  typedef int64_t type;
};

template <typename V, bool kScalar = std::is_same_v<V, ScalarOfT<V>>>
struct IntOf {
  typedef typename IntLane<V>::type type;
};
template <typename V>
struct IntOf<V, false> {
  typedef typename IntLane<ScalarOfT<V>>::type type
      __attribute__((vector_size(sizeof(V))));
};
template <typename V>
using IntOfT = typename IntOf<V>::type;

template <typename To, typename From>
TFA_INLINE To BitCast(From from) {
  static_assert(sizeof(To) == sizeof(From), "BitCast needs equal sizes");
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

// Whether a comparison is true in any lane (a scalar bool: itself).
template <typename M>
TFA_INLINE bool AnyLane(M condition) {
  if constexpr (std::is_same_v<M, bool>) {
    return condition;
  } else {
    const M none = {};
    return std::memcmp(&condition, &none, sizeof(M)) != 0;
  }
}

// |x|: the sign bit cleared, one AND on a vector (a compare and a select
// would take three). Abs(-0) = +0; NaN stays NaN.
template <typename V>
TFA_INLINE V Abs(V x) {
  using I = IntOfT<V>;
  using Lane = typename IntLane<ScalarOfT<V>>::type;
  const I magnitude_bits = I{} + std::numeric_limits<Lane>::max();
  return BitCast<V>(BitCast<I>(x) & magnitude_bits);
}

// -1, 0 or 1 (0 at 0, as tf.sign; also 0 for NaN).
template <typename V>
TFA_INLINE V Sign(V x) {
  const V zero = {};
  const V one = zero + 1;
  // Two flat selects: GCC 12 fails on the nested form for some vector ISAs.
  const V positive = x > 0 ? one : zero;
  const V negative = x < 0 ? one : zero;
  return positive - negative;
}

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_LANES_H_
