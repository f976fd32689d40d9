// The vector type of the CPU kernels: 64-byte GCC vectors.
//
// One AVX-512 register, two AVX ones or four SSE ones: the wider-than-native
// cases give dependent chains (Horner, powers) independent work to overlap.
// CPU-only: the CUDA kernels compute one scalar per thread.
#ifndef TF_APPROX_CC_COMMON_CPU_VECTOR_H_
#define TF_APPROX_CC_COMMON_CPU_VECTOR_H_

#include <cstdint>
#include <cstring>
#include <utility>

#include "cc/common/platform.h"

namespace tf_approx {

template <typename S>
struct Vector;
template <>
struct Vector<float> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct Vector<double> {
  typedef double type __attribute__((vector_size(64)));
};

template <typename S>
using Vec = typename Vector<S>::type;
template <typename S>
constexpr int64_t kLanes = sizeof(Vec<S>) / sizeof(S);

// Integer vectors with one lane per lane of Vec<S>: __builtin_shuffle masks.
template <typename S>
struct MaskOf;
template <>
struct MaskOf<float> {
  typedef int32_t lane;
  typedef int32_t type __attribute__((vector_size(64)));
};
template <>
struct MaskOf<double> {
  typedef int64_t lane;
  typedef int64_t type __attribute__((vector_size(64)));
};

// Vectors with one uint32 / float lane per lane of Vec<S>: the hashes and
// uniforms of the counter noise (cc/common/counter_noise.h).
template <typename S>
struct NoiseLanes {
  typedef uint32_t Hash __attribute__((vector_size(4 * kLanes<S>)));
  typedef float Float __attribute__((vector_size(4 * kLanes<S>)));
};

// The vector {0, 1, 2, ...}, as a constant.
template <typename U, uint32_t... kLane>
TFA_INLINE U Iota(std::integer_sequence<uint32_t, kLane...>) {
  return U{kLane...};
}

// The low and high 32-bit words of the counters start .. start +
// kLanes<S> - 1 (NoiseKey::Counter of consecutive elements).
template <typename S>
TFA_INLINE void IndexWords(uint64_t start, typename NoiseLanes<S>::Hash* lo,
                           typename NoiseLanes<S>::Hash* hi) {
  using Hash = typename NoiseLanes<S>::Hash;
  if ((start & 0xffffffffu) <= 0xffffffffu - kLanes<S>) {
    // The common case: no carry into the high word within the vector.
    *lo = Iota<Hash>(std::make_integer_sequence<uint32_t, kLanes<S>>()) +
          static_cast<uint32_t>(start);
    *hi = Hash{} + static_cast<uint32_t>(start >> 32);
    return;
  }
  for (int l = 0; l < kLanes<S>; ++l) {
    const uint64_t i = start + l;
    (*lo)[l] = static_cast<uint32_t>(i);
    (*hi)[l] = static_cast<uint32_t>(i >> 32);
  }
}

// Compiles an entry point once per instruction set (AVX-512, AVX2+FMA,
// baseline x86-64); the loader picks one at run time, so one binary runs on
// any x86-64, and TF_APPROX_ISA can force the choice (cc/common/isa.cc, which
// also reports it: SelectedIsa). Only code inlined into the entry point
// (TFA_INLINE, TFA_LAMBDA_INLINE) is compiled for the chosen instruction set.
#define TFA_CPU_CLONES \
  __attribute__((target_clones("avx512f", "fma", "default")))

// target_clones cannot apply to templates: every family defines its entry
// points for float and double with one macro of the element type S,
// applied by TFA_FOR_EACH_CPU_TYPE(TFA_ENTRY_POINTS).
#define TFA_FOR_EACH_CPU_TYPE(DEFINE) \
  DEFINE(float)                       \
  DEFINE(double)

// Unaligned loads and stores.
template <typename S>
TFA_INLINE Vec<S> Load(const S* p) {
  Vec<S> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename S>
TFA_INLINE void Store(S* p, Vec<S> v) {
  std::memcpy(p, &v, sizeof(v));
}

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_CPU_VECTOR_H_
