// GAAF's GPU kernels: their per-thread logic, which the CUDA kernels of
// gaaf_gpu.cu.cc run and the native module's `gpu_model` runs on the CPU,
// and the launchers' declarations. TensorFlow-free and CUDA-free.
//
// Each thread takes elements t.First(), + t.Stride(), ... (a grid-stride
// loop) and computes them as the CPU kernels' scalar path does: the same
// sawtooth in double (exact, so bitwise the CPU's) and phi + g s in
// ComputeType<T>.
#ifndef TF_APPROX_CC_GAAF_GAAF_GPU_H_
#define TF_APPROX_CC_GAAF_GAAF_GPU_H_

#include <cstdint>
#include <type_traits>

#include "cc/common/device.h"
#include "cc/common/gpu_model.h"
#include "cc/gaaf/gaaf.h"

namespace tf_approx {
namespace gaaf {

// g(x) in C, as gaaf_cpu.cc computes it: a float32 x needs no split.
template <typename C>
TFA_INLINE C SawtoothOf(const Params<C>& q, C x) {
  constexpr bool kSplitX = !std::is_same<C, float>::value;
  const double g = q.k_lo == 0
                       ? Sawtooth<kSplitX, false>(q, static_cast<double>(x))
                       : Sawtooth<kSplitX, true>(q, static_cast<double>(x));
  return static_cast<C>(g);
}

// y = phi(x) + g(x) s(x) for thread t's elements of [0, n). x and y may
// alias.
template <typename T>
TFA_INLINE void ForwardThread(const Thread& t,
                              const Problem<ComputeType<T>>& p, const T* x,
                              T* y, int64_t n) {
  using C = ComputeType<T>;
  VisitBaseAndShape(
      p.base, p.shape, [&](auto base, auto shape) TFA_LAMBDA_INLINE {
        constexpr Base B = decltype(base)::kValue;
        constexpr Shape H = decltype(shape)::kValue;
        for (int64_t i = t.First(); i < n; i += t.Stride()) {
          const C v = Load(x + i);
          Store(y + i, Forward<B, H>(p.params, v, SawtoothOf(p.params, v)));
        }
      });
}

// dx = dy (phi'(x) + s(x) + g(x) s'(x)) for thread t's elements of [0, n).
// dx may alias dy.
template <typename T>
TFA_INLINE void BackwardThread(const Thread& t,
                               const Problem<ComputeType<T>>& p, const T* x,
                               const T* dy, T* dx, int64_t n) {
  using C = ComputeType<T>;
  VisitBaseAndShape(
      p.base, p.shape, [&](auto base, auto shape) TFA_LAMBDA_INLINE {
        constexpr Base B = decltype(base)::kValue;
        constexpr Shape H = decltype(shape)::kValue;
        for (int64_t i = t.First(); i < n; i += t.Stride()) {
          const C v = Load(x + i);
          const C g = SawtoothOf(p.params, v);
          Store(dx + i, Backward<B, H>(p.params, v, g, C(Load(dy + i))));
        }
      });
}

// The launchers (gaaf_gpu.cu.cc), for T = float, double, Half and BFloat16:
// enqueue the kernel on `stream` and return nullptr, or the CUDA error's
// description if the launch failed.
template <typename T>
const char* LaunchForward(GpuStream stream, const Problem<ComputeType<T>>& p,
                          const T* x, T* y, int64_t n);
template <typename T>
const char* LaunchBackward(GpuStream stream, const Problem<ComputeType<T>>& p,
                           const T* x, const T* dy, T* dx, int64_t n);

}  // namespace gaaf
}  // namespace tf_approx

#endif  // TF_APPROX_CC_GAAF_GAAF_GPU_H_
