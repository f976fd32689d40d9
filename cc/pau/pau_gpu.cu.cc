// PAU's CUDA kernels and launchers: thin wrappers around the per-thread
// logic of pau_gpu.h. No TensorFlow headers (pau_kernels.cc calls these).
#include "cc/common/gpu_launch.h"
#include "cc/pau/pau_gpu.h"

namespace tf_approx {
namespace pau {
namespace {

template <typename T>
__global__ void ForwardKernel(DeviceProblem<T> p, const T* x, T* y) {
  ForwardThread(ThisThread(), p, x, y);
}

template <typename T>
__global__ void BackwardKernel(DeviceProblem<T> p, const T* x, const T* dy,
                               T* dx, ComputeType<T>* partial) {
  BackwardThread(ThisThread(), p, x, dy, dx, partial);
}

template <typename T>
__global__ void SumChunksKernel(DeviceProblem<T> p,
                                const ComputeType<T>* partial, double* total) {
  SumChunksThread(ThisThread(), p, partial, total);
}

template <typename T>
__global__ void FinishKernel(DeviceProblem<T> p, const double* total,
                             T* dnumerator, T* ddenominator) {
  FinishThread(ThisThread(), p, total, dnumerator, ddenominator);
}

}  // namespace

template <typename T>
const char* LaunchForward(GpuStream stream, const DeviceProblem<T>& p,
                          const T* x, T* y) {
  ForwardKernel<T><<<ElementwiseBlocks(p.size), kElementwiseThreads, 0,
                     ToCudaStream(stream)>>>(p, x, y);
  return LaunchError();
}

template <typename T>
const char* LaunchBackward(GpuStream stream, const DeviceProblem<T>& p,
                           const T* x, const T* dy, T* dx, T* dnumerator,
                           T* ddenominator, ComputeType<T>* partial,
                           double* total) {
  const cudaStream_t s = ToCudaStream(stream);
  const int64_t count = p.NumCoefficients();
  BackwardKernel<T><<<ElementwiseBlocks(p.Chunks() * p.Lanes()),
                      kElementwiseThreads, 0, s>>>(p, x, dy, dx, partial);
  if (const char* error = LaunchError()) return error;
  SumChunksKernel<T><<<ElementwiseBlocks(count * p.Lanes()),
                       kElementwiseThreads, 0, s>>>(p, partial, total);
  if (const char* error = LaunchError()) return error;
  FinishKernel<T><<<ElementwiseBlocks(count * p.Sets()), kElementwiseThreads,
                    0, s>>>(p, total, dnumerator, ddenominator);
  return LaunchError();
}

#define TFA_INSTANTIATE(T)                                                 \
  template const char* LaunchForward<T>(GpuStream, const DeviceProblem<T>&, \
                                        const T*, T*);                     \
  template const char* LaunchBackward<T>(                                  \
      GpuStream, const DeviceProblem<T>&, const T*, const T*, T*, T*, T*,  \
      ComputeType<T>*, double*);
TFA_INSTANTIATE(float)
TFA_INSTANTIATE(double)
TFA_INSTANTIATE(Half)
TFA_INSTANTIATE(BFloat16)
#undef TFA_INSTANTIATE

}  // namespace pau
}  // namespace tf_approx
