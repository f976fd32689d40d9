// The approximated activations' GPU kernels: their per-thread logic, which
// the CUDA kernels of activations_gpu.cu.cc run and the native module's
// `gpu_model` runs on the CPU, and the launchers' declarations.
// TensorFlow-free and CUDA-free.
//
// Each thread takes elements t.First(), + t.Stride(), ... (a grid-stride
// loop) and computes each as the CPU kernels' scalar path does
// (ScalarValue, ScalarGradient of activations.h): the clip, then the fast
// form, or the form in 1/x beyond p.far, element by element. The CPU's SIMD
// path computes the same operations in lanes, so the two differ only where a
// compiler contracts multiply-adds into FMAs differently.
#ifndef TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_GPU_H_
#define TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_GPU_H_

#include <cstdint>

#include "cc/activations/activations.h"
#include "cc/common/device.h"
#include "cc/common/gpu_model.h"

namespace tf_approx {
namespace activations {

// y = f(x) for thread t's elements of [0, n). x and y may alias. For
// word2vec_sigmoid, p.table must be readable by the thread (the launcher
// points it at the device's copy).
template <typename T>
TFA_INLINE void ForwardThread(const Thread& t, const Params<ComputeType<T>>& p,
                              const T* x, T* y, int64_t n) {
  using C = ComputeType<T>;
  VisitKind(p, [&](const auto& f) TFA_LAMBDA_INLINE {
    for (int64_t i = t.First(); i < n; i += t.Stride()) {
      const C v = Load(x + i);
      Store(y + i, ScalarValue(f, p, v));
    }
  });
}

// dx = dy f'(x) for thread t's elements of [0, n) (0 outside the clip
// range). dx may alias dy or x.
template <typename T>
TFA_INLINE void BackwardThread(const Thread& t,
                               const Params<ComputeType<T>>& p, const T* x,
                               const T* dy, T* dx, int64_t n) {
  using C = ComputeType<T>;
  VisitKind(p, [&](const auto& f) TFA_LAMBDA_INLINE {
    for (int64_t i = t.First(); i < n; i += t.Stride()) {
      const C v = Load(x + i);
      const C g = Load(dy + i);
      Store(dx + i, ScalarGradient(f, p, v, g));
    }
  });
}

// The launchers (activations_gpu.cu.cc), for T = float, double, Half and
// BFloat16: enqueue the kernel on `stream` and return nullptr, or the CUDA
// error's description if the launch failed. p.table is ignored: for
// word2vec_sigmoid the kernels read the device's own copy of the table,
// which the first such launch on a device fills from Word2VecTable().
template <typename T>
const char* LaunchForward(GpuStream stream, const Params<ComputeType<T>>& p,
                          const T* x, T* y, int64_t n);
template <typename T>
const char* LaunchBackward(GpuStream stream, const Params<ComputeType<T>>& p,
                           const T* x, const T* dy, T* dx, int64_t n);

// p as kernels take it (for S = float and double): p with its table
// pointer, where the kind reads one (word2vec_sigmoid), at the device's copy
// of the table, which the first such call on a device fills. nullptr, or the
// CUDA error's description. The fused recurrent layers' launchers use it too.
template <typename S>
const char* DeviceParams(GpuStream stream, const Params<S>& p,
                         Params<S>* device_p);

}  // namespace activations
}  // namespace tf_approx

#endif  // TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_GPU_H_
