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

#include <cstddef>
#include <cstdint>
#include <cstring>
#if !defined(__CUDA_ARCH__)
#include <vector>
#endif

#include "cc/common/device.h"
#include "cc/common/lanes.h"
#include "cc/common/platform.h"

namespace tf_approx {

constexpr int kWarpSize = 32;

// A thread of a one-dimensional launch of `blocks` blocks of `threads`.
struct Thread {
  int64_t block = 0;
  int64_t thread = 0;
  int64_t blocks = 1;
  int64_t threads = 1;

  // The first element of a grid-stride loop, and its stride.
  TFA_INLINE int64_t First() const { return block * threads + thread; }
  TFA_INLINE int64_t Stride() const { return blocks * threads; }
  // The thread's warp in its block, and its lane in the warp.
  TFA_INLINE int64_t Warp() const { return thread / kWarpSize; }
  TFA_INLINE int Lane() const { return static_cast<int>(thread % kWarpSize); }
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

// Cooperative kernels, whose threads exchange values: through shared memory,
// between barriers, or within a warp by shuffles. Their logic is written once,
// as a block program over an executor `B` and a struct `R` of the values a
// thread keeps in registers:
//
//   template <typename B>
//   TFA_INLINE void Program(B& b, const float* x, float* y) {
//     float* shared = b.template Shared<float>();
//     b.Threads([&](const Thread& t, Regs& r) { r.v = x[t.First()]; });
//     b.ShuffleXor(&Regs::v, &Regs::partner, 16);  // partner = lane^16's v
//     b.Threads([&](const Thread& t, Regs& r) { shared[t.thread] = ...; });
//     b.Barrier();
//     ...
//   }
//
// On the GPU (GpuBlock) each thread runs the program for itself: Threads
// calls fn once, Barrier is __syncthreads() and a shuffle is __shfl_*_sync
// over the full warp. On the CPU (CpuBlock, RunBlocks) the program runs once
// per block: Threads calls fn for every thread in turn (a phase), and a
// shuffle moves values between the threads' registers as the warp does at
// once. So the CPU model is the GPU's result wherever the program is free of
// races: a phase must not read shared memory that another thread of the
// block writes in the same phase (a barrier must separate them; on a GPU,
// compute-sanitizer's racecheck finds what is missing). Every thread of the
// block reaches every Barrier and shuffle (none under a condition), and a
// block is a whole number of warps. The CPU model fills shared memory with
// NaN bytes (0xff) before each block, so that reading what no thread wrote
// shows.

#if !defined(__CUDA_ARCH__)
template <typename R>
class CpuBlock {
 public:
  CpuBlock(int64_t block, int64_t blocks, int64_t threads, void* shared)
      : regs_(static_cast<size_t>(threads)), shared_(shared) {
    thread_.block = block;
    thread_.blocks = blocks;
    thread_.threads = threads;
  }

  template <typename V>
  V* Shared() const {
    return static_cast<V*>(shared_);
  }

  // The block's index in the launch, and the launch's blocks.
  int64_t Block() const { return thread_.block; }
  int64_t Blocks() const { return thread_.blocks; }

  // One phase: fn(thread, registers) for every thread of the block.
  template <typename Fn>
  void Threads(Fn&& fn) {
    Thread t = thread_;
    for (t.thread = 0; t.thread < t.threads; ++t.thread) fn(t, regs_[t.thread]);
  }

  void Barrier() {}  // every phase ends before the next starts

  // target = source of lane (lane ^ mask), mask < kWarpSize.
  template <typename V>
  void ShuffleXor(V R::*source, V R::*target, int mask) {
    Shuffle(source, target, [mask](int lane) { return lane ^ mask; });
  }

  // target = source of lane + delta; a lane with none there keeps its own.
  template <typename V>
  void ShuffleDown(V R::*source, V R::*target, int delta) {
    Shuffle(source, target, [delta](int lane) {
      return lane + delta < kWarpSize ? lane + delta : lane;
    });
  }

  // target = source of lane `from` of the same warp, for every lane.
  template <typename V>
  void ShuffleIndex(V R::*source, V R::*target, int from) {
    Shuffle(source, target, [from](int) { return from; });
  }

 private:
  template <typename V, typename Source>
  void Shuffle(V R::*source, V R::*target, Source&& lane_of) {
    for (size_t warp = 0; warp < regs_.size(); warp += kWarpSize) {
      V values[kWarpSize];
      for (int lane = 0; lane < kWarpSize; ++lane) {
        values[lane] = regs_[warp + lane_of(lane)].*source;
      }
      for (int lane = 0; lane < kWarpSize; ++lane) {
        regs_[warp + lane].*target = values[lane];
      }
    }
  }

  Thread thread_;
  std::vector<R> regs_;
  void* shared_;
};

// The CPU model of a launch of a block program: program(block) for every
// block in turn, each with `shared_bytes` of shared memory. threads must be
// a multiple of kWarpSize.
template <typename R, typename Program>
void RunBlocks(int64_t blocks, int64_t threads, size_t shared_bytes,
               Program&& program) {
  std::vector<std::max_align_t> shared(
      (shared_bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t));
  for (int64_t block = 0; block < blocks; ++block) {
    if (!shared.empty()) {  // memset(nullptr, ...) is undefined even for 0
      std::memset(shared.data(), 0xff, shared.size() * sizeof(shared[0]));
    }
    CpuBlock<R> b(block, blocks, threads, shared.data());
    program(b);
  }
}
#endif

#if defined(__CUDACC__)
template <typename R>
class GpuBlock {
 public:
  __device__ explicit GpuBlock(void* shared)
      : thread_(ThisThread()), shared_(shared) {}

  template <typename V>
  __device__ V* Shared() const {
    return static_cast<V*>(shared_);
  }

  __device__ int64_t Block() const { return thread_.block; }
  __device__ int64_t Blocks() const { return thread_.blocks; }

  template <typename Fn>
  __device__ void Threads(Fn&& fn) {
    fn(thread_, regs_);
  }

  __device__ void Barrier() { __syncthreads(); }

  template <typename V>
  __device__ void ShuffleXor(V R::*source, V R::*target, int mask) {
    regs_.*target = __shfl_xor_sync(0xffffffffu, regs_.*source, mask);
  }

  template <typename V>
  __device__ void ShuffleDown(V R::*source, V R::*target, int delta) {
    regs_.*target = __shfl_down_sync(0xffffffffu, regs_.*source, delta);
  }

  template <typename V>
  __device__ void ShuffleIndex(V R::*source, V R::*target, int from) {
    regs_.*target = __shfl_sync(0xffffffffu, regs_.*source, from);
  }

 private:
  Thread thread_;
  R regs_{};
  void* shared_;
};
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
