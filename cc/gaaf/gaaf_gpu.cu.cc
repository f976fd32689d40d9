// GAAF's CUDA kernels and launchers: thin wrappers around the per-thread
// logic of gaaf_gpu.h. No TensorFlow headers (gaaf_kernels.cc calls these).
#include "cc/common/gpu_launch.h"
#include "cc/gaaf/gaaf_gpu.h"

namespace tf_approx {
namespace gaaf {
namespace {

template <typename T>
__global__ void ForwardKernel(Problem<ComputeType<T>> p, const T* x, T* y,
                              int64_t n) {
  ForwardThread(ThisThread(), p, x, y, n);
}

template <typename T>
__global__ void BackwardKernel(Problem<ComputeType<T>> p, const T* x,
                               const T* dy, T* dx, int64_t n) {
  BackwardThread(ThisThread(), p, x, dy, dx, n);
}

}  // namespace

template <typename T>
const char* LaunchForward(GpuStream stream, const Problem<ComputeType<T>>& p,
                          const T* x, T* y, int64_t n) {
  return LaunchElementwise(ForwardKernel<T>, n, stream, p, x, y, n);
}

template <typename T>
const char* LaunchBackward(GpuStream stream, const Problem<ComputeType<T>>& p,
                           const T* x, const T* dy, T* dx, int64_t n) {
  return LaunchElementwise(BackwardKernel<T>, n, stream, p, x, dy, dx, n);
}

#define TFA_INSTANTIATE(T)                                                  \
  template const char* LaunchForward<T>(GpuStream,                          \
                                        const Problem<ComputeType<T>>&,     \
                                        const T*, T*, int64_t);             \
  template const char* LaunchBackward<T>(GpuStream,                         \
                                         const Problem<ComputeType<T>>&,    \
                                         const T*, const T*, T*, int64_t);
TFA_INSTANTIATE(float)
TFA_INSTANTIATE(double)
TFA_INSTANTIATE(Half)
TFA_INSTANTIATE(BFloat16)
#undef TFA_INSTANTIATE

}  // namespace gaaf
}  // namespace tf_approx
