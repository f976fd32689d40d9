// The noisy activations' CUDA kernels and launchers: thin wrappers around the
// per-thread logic of noisy_gpu.h. No TensorFlow headers (noisy_kernels.cc
// calls these).
#include "cc/common/gpu_launch.h"
#include "cc/noisy/noisy_gpu.h"

namespace tf_approx {
namespace noisy {
namespace {

template <typename T>
__global__ void ForwardKernel(GpuProblem<ComputeType<T>> prob,
                              GpuInputs<T> in, const T* x, T* y) {
  ForwardThread(ThisThread(), prob, in, x, y);
}

template <typename T>
__global__ void BackwardKernel(GpuProblem<ComputeType<T>> prob,
                               GpuInputs<T> in, SumLayout s, const T* x,
                               const T* dy, T* dx, double* partial) {
  BackwardThread(ThisThread(), prob, in, s, x, dy, dx, partial);
}

__global__ void LaneSumKernel(SumLayout s, double* partial) {
  LaneSumThread(ThisThread(), s, partial);
}

template <typename T>
__global__ void ChannelSumKernel(SumLayout s, int64_t channels,
                                 const double* partial, T* dp) {
  ChannelSumThread(ThisThread(), s, channels, partial, dp);
}

}  // namespace

template <typename T>
const char* LaunchForward(GpuStream stream,
                          const GpuProblem<ComputeType<T>>& prob,
                          const GpuInputs<T>& in, const T* x, T* y) {
  return LaunchElementwise(ForwardKernel<T>, prob.size, stream, prob, in, x, y);
}

template <typename T>
const char* LaunchBackward(GpuStream stream,
                           const GpuProblem<ComputeType<T>>& prob,
                           const GpuInputs<T>& in, const T* x, const T* dy,
                           T* dx, T* dp, double* partial) {
  const SumLayout s = MakeSumLayout(prob.size, prob.channels);
  if (const char* error =
          LaunchElementwise(BackwardKernel<T>, s.chunks * s.lanes, stream,
                            prob, in, s, x, dy, dx, partial)) {
    return error;
  }
  if (const char* error =
          LaunchElementwise(LaneSumKernel, s.lanes, stream, s, partial)) {
    return error;
  }
  return LaunchElementwise(ChannelSumKernel<T>, prob.channels, stream, s,
                           prob.channels, partial, dp);
}

#define TFA_INSTANTIATE(T)                                                   \
  template const char* LaunchForward<T>(                                    \
      GpuStream, const GpuProblem<ComputeType<T>>&, const GpuInputs<T>&,     \
      const T*, T*);                                                         \
  template const char* LaunchBackward<T>(                                   \
      GpuStream, const GpuProblem<ComputeType<T>>&, const GpuInputs<T>&,     \
      const T*, const T*, T*, T*, double*);
TFA_INSTANTIATE(float)
TFA_INSTANTIATE(double)
TFA_INSTANTIATE(Half)
TFA_INSTANTIATE(BFloat16)
#undef TFA_INSTANTIATE

}  // namespace noisy
}  // namespace tf_approx
