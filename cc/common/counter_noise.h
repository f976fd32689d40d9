// A counter-based noise generator shared by the families that draw noise
// (RPAU coefficients, noisy activations): two rounds of the "lowbias32"
// integer hash of (seed, step, element counter), so a backward pass
// regenerates the forward pass's noise instead of storing it, and the numbers
// do not depend on how the work is split. An element's counter is its flat
// index plus the key's `first`: a replica passes the global index of its
// slice's first element, so each example of a global batch draws the noise it
// would draw on one device. U is uint32_t or a GCC vector of it.
// tf_approx/reference/counter_noise.py computes the same numbers with
// TensorFlow ops.
#ifndef TF_APPROX_CC_COMMON_COUNTER_NOISE_H_
#define TF_APPROX_CC_COMMON_COUNTER_NOISE_H_

#include <cstdint>

#include "cc/common/platform.h"
#include "cc/common/vector_math.h"

namespace tf_approx {

template <typename U>
TFA_INLINE U Mix(U h) {
  h ^= h >> 16;
  h *= 0x7feb352dU;
  h ^= h >> 15;
  h *= 0x846ca68bU;
  h ^= h >> 16;
  return h;
}

struct NoiseKey {
  uint32_t k0 = 0;
  uint32_t k1 = 0;
  uint64_t first = 0;  // the counter of flat index 0

  // The counter of the element at flat `index`.
  TFA_INLINE uint64_t Counter(int64_t index) const {
    return first + static_cast<uint64_t>(index);
  }
};

TFA_INLINE NoiseKey MakeNoiseKey(int64_t seed, int64_t step,
                                 int64_t first = 0) {
  const uint64_t s = static_cast<uint64_t>(seed);
  const uint64_t t = static_cast<uint64_t>(step);
  NoiseKey key;
  key.k0 = Mix(static_cast<uint32_t>(s) ^
               Mix(static_cast<uint32_t>(t) ^ 0x85ebca6bU));
  key.k1 = Mix(static_cast<uint32_t>(s >> 32) ^
               Mix(static_cast<uint32_t>(t >> 32) ^ 0xc2b2ae35U) ^ key.k0);
  key.first = static_cast<uint64_t>(first);
  return key;
}

// The per-element hash, from the low and high 32 bits of the element's
// counter (NoiseKey::Counter).
template <typename U>
TFA_INLINE U ElementHash(const NoiseKey& key, U index_lo, U index_hi) {
  return Mix(Mix(index_lo ^ key.k0) ^ index_hi ^ key.k1);
}

// The hash of coefficient j (0..m for a_j, m + k for b_k) of one element.
template <typename U>
TFA_INLINE U CoefficientHash(U element_hash, int j) {
  return Mix(element_hash + static_cast<uint32_t>(j + 1) * 0x9e3779b9U);
}

// u = (hash >> 8) * kNoiseScale + kNoiseShift: uniform in (-1, 1), computed
// in float32 (exactly: a 24-bit integer times a power of two, plus a constant
// that keeps it exact) and then converted to the op's type.
constexpr float kNoiseScale = 1.0f / 8388608.0f;          // 2^-23
constexpr float kNoiseShift = 1.0f / 16777216.0f - 1.0f;  // 2^-24 - 1

// F is float for a uint32_t hash, the float vector of U's lane count for a
// vector U.
template <typename F = float, typename U>
TFA_INLINE F NoiseUniform(U hash) {
  return Convert<F>(hash >> 8) * kNoiseScale + kNoiseShift;
}

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_COUNTER_NOISE_H_
