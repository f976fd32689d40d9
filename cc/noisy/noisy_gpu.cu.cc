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
  ForwardKernel<T><<<ElementwiseBlocks(prob.size), kElementwiseThreads, 0,
                     ToCudaStream(stream)>>>(prob, in, x, y);
  return LaunchError();
}

template <typename T>
const char* LaunchBackward(GpuStream stream,
                           const GpuProblem<ComputeType<T>>& prob,
                           const GpuInputs<T>& in, const T* x, const T* dy,
                           T* dx, T* dp, double* partial) {
  const SumLayout s = MakeSumLayout(prob.size, prob.channels);
  const cudaStream_t cuda_stream = ToCudaStream(stream);
  BackwardKernel<T><<<ElementwiseBlocks(s.chunks * s.lanes),
                      kElementwiseThreads, 0, cuda_stream>>>(
      prob, in, s, x, dy, dx, partial);
  if (const char* error = LaunchError()) return error;
  LaneSumKernel<<<ElementwiseBlocks(s.lanes), kElementwiseThreads, 0,
                  cuda_stream>>>(s, partial);
  if (const char* error = LaunchError()) return error;
  ChannelSumKernel<T><<<ElementwiseBlocks(prob.channels), kElementwiseThreads,
                        0, cuda_stream>>>(s, prob.channels, partial, dp);
  return LaunchError();
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
