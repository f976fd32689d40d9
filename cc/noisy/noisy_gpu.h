// The noisy activations' GPU kernels: their per-thread logic, which the CUDA
// kernels of noisy_gpu.cu.cc run and the native module's `gpu_model` runs on
// the CPU, and the launchers' declarations. TensorFlow-free and CUDA-free.
//
// Each element is computed as the CPU kernels' scalar path computes it (the
// same functions of noisy.h, in ComputeType<T>), with the same counter noise
// (cc/common/counter_noise.h) for the same seed, step and element: the hash
// and the uniform variate are integer and exact float32 arithmetic, so
// bitwise the CPU's on any device; the normal variate is float32 polynomial
// arithmetic, equal up to contraction into FMAs.
//
// `p`, `scale` and `seed` are read by the threads from device memory (during
// training they are GPU variables): nothing is copied to the host. A seed of
// [seed, step, first] with first < 0 is not rejected here (the CPU kernel
// rejects it): the counters then wrap modulo 2^64.
//
// The gradient's dp sums take no atomics and an order fixed by the shapes
// alone (SumLayout), in three launches:
//   1. x is viewed as rows of W "lanes" (W a multiple of the channels, at
//      least kMinLanes: a shared p has one channel), cut into chunks of
//      chunk_rows rows. One thread per (chunk, lane) computes dx of its
//      elements and sums their dp terms, row by row, in double, into
//      partial[chunk][lane] (adjacent threads take adjacent lanes, so their
//      reads coalesce).
//   2. One thread per lane sums partial[0..chunks)[lane] in chunk order into
//      total[lane] (partial[chunks][lane]).
//   3. One thread per channel c sums total[c], total[c + channels], ... in
//      order and stores dp[c].
#ifndef TF_APPROX_CC_NOISY_NOISY_GPU_H_
#define TF_APPROX_CC_NOISY_NOISY_GPU_H_

#include <cstdint>

#include "cc/common/counter_noise.h"
#include "cc/common/device.h"
#include "cc/common/gpu_model.h"
#include "cc/noisy/noisy.h"

namespace tf_approx {
namespace noisy {

// What the host knows: the attrs and the shapes. params.scale is unset (the
// threads read `scale`).
template <typename C>
struct GpuProblem {
  Params<C> params;
  Where where = Where::kOutput;
  bool training = false;  // draw noise (else eps = its mean)
  bool half_normal = false;
  int64_t size = 0;      // elements of x
  int64_t channels = 1;  // values of p: x's last axis, or 1 for a shared p
  int seed_size = 2;     // 2: [seed, step]; 3: [seed, step, first]
};

// The device-memory inputs every thread reads.
template <typename T>
struct GpuInputs {
  const T* p = nullptr;          // [channels]
  const T* scale = nullptr;      // []
  const int64_t* seed = nullptr;  // [seed_size]
};

// The order of the dp sums (see the header comment): a function of `size`
// and `channels` alone.
constexpr int64_t kMinLanes = 32;
constexpr int64_t kGpuSumThreads = 1 << 16;  // stage 1's threads, about
constexpr int64_t kMaxGpuSumChunks = 1024;  // stage 2's sums, at most

struct SumLayout {
  int64_t lanes = 0;       // W
  int64_t rows = 0;        // ceil(size / W); the last may be short
  int64_t chunk_rows = 1;  // rows of a chunk (the last may be short)
  int64_t chunks = 0;

  // Doubles of temp memory: partial[chunks][W] and total[W].
  TFA_INLINE int64_t TempSize() const { return (chunks + 1) * lanes; }
};

TFA_INLINE SumLayout MakeSumLayout(int64_t size, int64_t channels) {
  SumLayout s;
  if (channels <= 0) return s;
  s.lanes = channels * ((kMinLanes + channels - 1) / channels);
  s.rows = (size + s.lanes - 1) / s.lanes;
  int64_t target = kGpuSumThreads / s.lanes;
  if (target > kMaxGpuSumChunks) target = kMaxGpuSumChunks;
  if (target < 1) target = 1;
  s.chunk_rows = (s.rows + target - 1) / target;
  if (s.chunk_rows < 1) s.chunk_rows = 1;
  s.chunks = (s.rows + s.chunk_rows - 1) / s.chunk_rows;
  return s;
}

// The scalars of the problem, with scale read from the device.
template <typename T>
TFA_INLINE Params<ComputeType<T>> ParamsOf(
    const GpuProblem<ComputeType<T>>& prob, const GpuInputs<T>& in) {
  Params<ComputeType<T>> q = prob.params;
  q.scale = Load(in.scale);
  return q;
}

// The noise key from the device's seed (as NoiseKeyFromSeed on the host).
template <typename C, typename T>
TFA_INLINE NoiseKey KeyOf(const GpuProblem<C>& prob, const GpuInputs<T>& in) {
  return MakeNoiseKey(in.seed[0], in.seed[1],
                      prob.seed_size == 3 ? in.seed[2] : 0);
}

// eps of the element at flat `index`, as the CPU kernels' scalar path draws
// it.
template <typename C>
TFA_INLINE C EpsOf(const GpuProblem<C>& prob, const Params<C>& q,
                   const NoiseKey& key, int64_t index) {
  if (!prob.training) return q.noise_mean;
  const uint64_t i = key.Counter(index);
  return static_cast<C>(Noise<float>(key, static_cast<uint32_t>(i),
                                     static_cast<uint32_t>(i >> 32),
                                     prob.half_normal));
}

// y = phi(x) for thread t's elements. x and y may alias.
template <typename T>
TFA_INLINE void ForwardThread(const Thread& t,
                              const GpuProblem<ComputeType<T>>& prob,
                              const GpuInputs<T>& in, const T* x, T* y) {
  using C = ComputeType<T>;
  const Params<C> q = ParamsOf(prob, in);
  const NoiseKey key = KeyOf(prob, in);
  VisitWhere(prob.where, [&](auto tag) TFA_LAMBDA_INLINE {
    constexpr Where W = decltype(tag)::kValue;
    for (int64_t i = t.First(); i < prob.size; i += t.Stride()) {
      const C p = Load(in.p + (prob.channels == 1 ? 0 : i % prob.channels));
      Store(y + i, Forward<W>(q, C(Load(x + i)), p, EpsOf(prob, q, key, i)));
    }
  });
}

// Stage 1 of the gradient: dx of thread t's (chunk, lane) pairs' elements,
// and their dp sums into partial[chunk * W + lane]. dx may alias dy.
template <typename T>
TFA_INLINE void BackwardThread(const Thread& t,
                               const GpuProblem<ComputeType<T>>& prob,
                               const GpuInputs<T>& in, const SumLayout& s,
                               const T* x, const T* dy, T* dx,
                               double* partial) {
  using C = ComputeType<T>;
  const Params<C> q = ParamsOf(prob, in);
  const NoiseKey key = KeyOf(prob, in);
  VisitWhere(prob.where, [&](auto tag) TFA_LAMBDA_INLINE {
    constexpr Where W = decltype(tag)::kValue;
    for (int64_t pair = t.First(); pair < s.chunks * s.lanes;
         pair += t.Stride()) {
      const int64_t chunk = pair / s.lanes;
      const int64_t lane = pair - chunk * s.lanes;
      const C p = Load(in.p + lane % prob.channels);
      const int64_t row_end = chunk * s.chunk_rows + s.chunk_rows < s.rows
                                  ? chunk * s.chunk_rows + s.chunk_rows
                                  : s.rows;
      double sum = 0;
      for (int64_t row = chunk * s.chunk_rows; row < row_end; ++row) {
        const int64_t i = row * s.lanes + lane;
        if (i >= prob.size) break;  // the short last row
        C dp;
        Store(dx + i, Backward<W>(q, C(Load(x + i)), p, EpsOf(prob, q, key, i),
                                  C(Load(dy + i)), &dp));
        sum += static_cast<double>(dp);
      }
      partial[pair] = sum;
    }
  });
}

// Stage 2: total[lane] = the sum of partial[chunk][lane] in chunk order.
TFA_INLINE void LaneSumThread(const Thread& t, const SumLayout& s,
                              double* partial) {
  for (int64_t lane = t.First(); lane < s.lanes; lane += t.Stride()) {
    double sum = 0;
    for (int64_t chunk = 0; chunk < s.chunks; ++chunk)
      sum += partial[chunk * s.lanes + lane];
    partial[s.chunks * s.lanes + lane] = sum;
  }
}

// Stage 3: dp[c] = the sum of total[c + k channels] in order, rounded as the
// CPU kernel rounds its double sums (to ComputeType<T>, then to T).
template <typename T>
TFA_INLINE void ChannelSumThread(const Thread& t, const SumLayout& s,
                                 int64_t channels, const double* partial,
                                 T* dp) {
  using C = ComputeType<T>;
  const double* total = partial + s.chunks * s.lanes;
  for (int64_t c = t.First(); c < channels; c += t.Stride()) {
    double sum = 0;
    for (int64_t lane = c; lane < s.lanes; lane += channels) sum += total[lane];
    Store(dp + c, static_cast<C>(sum));
  }
}

// The launchers (noisy_gpu.cu.cc), for T = float, double, Half and
// BFloat16: enqueue the kernels on `stream` and return nullptr, or the CUDA
// error's description if a launch failed. LaunchBackward runs the three
// stages; `partial` is device memory of MakeSumLayout(prob.size,
// prob.channels).TempSize() doubles.
template <typename T>
const char* LaunchForward(GpuStream stream,
                          const GpuProblem<ComputeType<T>>& prob,
                          const GpuInputs<T>& in, const T* x, T* y);
template <typename T>
const char* LaunchBackward(GpuStream stream,
                           const GpuProblem<ComputeType<T>>& prob,
                           const GpuInputs<T>& in, const T* x, const T* dy,
                           T* dx, T* dp, double* partial);

}  // namespace noisy
}  // namespace tf_approx

#endif  // TF_APPROX_CC_NOISY_NOISY_GPU_H_
