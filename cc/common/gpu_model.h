// What the per-thread logic of a GPU kernel sees, so that the same logic runs
// on the GPU and, driven by a loop over every block and thread, on the CPU
// (the native module's `gpu_model`, tested against the CPU kernels where no
// GPU is available).
//
// A kernel in `<family>_gpu.cu.cc` is a thin __global__ wrapper: it builds
// its Thread from CUDA's built-ins and calls a TFA_HOST_DEVICE function of
// `<family>_gpu.h` that takes the Thread explicitly. Elements are read and
// written through Load and Store, which convert the half types in software,
// bit for bit as Eigen does on the CPU (round to nearest even), so that a
// half result depends on the float32 result alone on either device.
#ifndef TF_APPROX_CC_COMMON_GPU_MODEL_H_
#define TF_APPROX_CC_COMMON_GPU_MODEL_H_

#include <cstdint>

#include "cc/common/device.h"
#include "cc/common/lanes.h"
#include "cc/common/platform.h"

namespace tf_approx {

// A thread of a one-dimensional launch of `blocks` blocks of `threads`.
struct Thread {
  int64_t block = 0;
  int64_t thread = 0;
  int64_t blocks = 1;
  int64_t threads = 1;

  // The first element of a grid-stride loop, and its stride.
  TFA_INLINE int64_t First() const { return block * threads + thread; }
  TFA_INLINE int64_t Stride() const { return blocks * threads; }
};

#if !defined(__CUDA_ARCH__)
// The CPU model of a launch whose threads do not communicate: fn(thread) for
// every thread of `blocks` blocks of `threads`, one after another.
template <typename Fn>
inline void RunGrid(int64_t blocks, int64_t threads, Fn&& fn) {
  Thread t;
  t.blocks = blocks;
  t.threads = threads;
  for (t.block = 0; t.block < blocks; ++t.block) {
    for (t.thread = 0; t.thread < threads; ++t.thread) fn(t);
  }
}
#endif

#if defined(__CUDACC__)
__device__ __forceinline__ Thread ThisThread() {
  Thread t;
  t.block = blockIdx.x;
  t.thread = threadIdx.x;
  t.blocks = gridDim.x;
  t.threads = blockDim.x;
  return t;
}
#endif

// Elements as ComputeType<T>, and back.
TFA_INLINE float Load(const Half* p) {
  const uint32_t h = p->bits;
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {  // inf, NaN (quiet, payload kept)
    bits = sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = 113;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e) << 23) | ((mantissa & 0x3ff) << 13);
  }
  return BitCast<float>(bits);
}

TFA_INLINE void Store(Half* p, float value) {
  const uint32_t f = BitCast<uint32_t>(value);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t magnitude = f & 0x7fffffffu;
  uint32_t h;
  if (magnitude > 0x7f800000u) {  // NaN: the quiet NaN, as Eigen
    h = 0x7e00u;
  } else if (magnitude >= 0x477ff000u) {  // rounds to or beyond 65520: inf
    h = 0x7c00u;
  } else if (magnitude >= 0x38800000u) {  // normal half
    const uint32_t rounded =
        magnitude + 0xfffu + ((magnitude >> 13) & 1);  // nearest even
    h = (rounded - 0x38000000u) >> 13;
  } else if (magnitude > 0x33000000u) {  // subnormal half (> 2^-25)
    const uint32_t e = magnitude >> 23;
    const uint32_t m = (magnitude & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14..24
    const uint32_t half_ulp = 1u << (shift - 1);
    const uint32_t rest = m & ((1u << shift) - 1);
    h = m >> shift;
    if (rest > half_ulp || (rest == half_ulp && (h & 1))) ++h;
  } else {
    h = 0;  // 2^-25 and below round to zero (ties to even)
  }
  p->bits = static_cast<uint16_t>(sign | h);
}

TFA_INLINE float Load(const BFloat16* p) {
  return BitCast<float>(static_cast<uint32_t>(p->bits) << 16);
}

TFA_INLINE void Store(BFloat16* p, float value) {
  const uint32_t f = BitCast<uint32_t>(value);
  if ((f & 0x7fffffffu) > 0x7f800000u) {  // NaN: the quiet NaN, as Eigen
    p->bits = static_cast<uint16_t>(((f >> 16) & 0x8000u) | 0x7fc0u);
  } else {
    p->bits = static_cast<uint16_t>((f + 0x7fffu + ((f >> 16) & 1)) >> 16);
  }
}

template <typename S>
TFA_INLINE S Load(const S* p) {
  return *p;
}

template <typename S>
TFA_INLINE void Store(S* p, S value) {
  *p = value;
}

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_GPU_MODEL_H_
