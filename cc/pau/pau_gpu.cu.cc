// PAU's CUDA kernels and launchers: thin wrappers around the per-thread
// logic of pau_gpu.h. No TensorFlow headers (pau_kernels.cc calls these).
#include "cc/common/gpu_launch.h"
#include "cc/pau/pau_gpu.h"

namespace tf_approx {
namespace pau {
namespace {

template <typename T>
__global__ void ForwardKernel(GpuProblem<T> p, const T* x, T* y) {
  ForwardThread(ThisThread(), p, x, y);
}

template <typename T>
__global__ void BackwardKernel(GpuProblem<T> p, const T* x, const T* dy,
                               T* dx, ComputeType<T>* partial) {
  BackwardThread(ThisThread(), p, x, dy, dx, partial);
}

template <typename T>
__global__ void SumChunksKernel(GpuProblem<T> p,
                                const ComputeType<T>* partial, double* total) {
  SumChunksThread(ThisThread(), p, partial, total);
}

template <typename T>
__global__ void FinishKernel(GpuProblem<T> p, const double* total,
                             T* dnumerator, T* ddenominator) {
  FinishThread(ThisThread(), p, total, dnumerator, ddenominator);
}

}  // namespace

template <typename T>
const char* LaunchForward(GpuStream stream, const GpuProblem<T>& p,
                          const T* x, T* y) {
  return LaunchElementwise(ForwardKernel<T>, p.size, stream, p, x, y);
}

template <typename T>
const char* LaunchBackward(GpuStream stream, const GpuProblem<T>& p,
                           const T* x, const T* dy, T* dx, T* dnumerator,
                           T* ddenominator, ComputeType<T>* partial,
                           double* total) {
  const int64_t count = p.NumCoefficients();
  if (const char* error =
          LaunchElementwise(BackwardKernel<T>, p.Chunks() * p.Lanes(), stream,
                            p, x, dy, dx, partial)) {
    return error;
  }
  if (const char* error = LaunchElementwise(
          SumChunksKernel<T>, count * p.Lanes(), stream, p, partial, total)) {
    return error;
  }
  return LaunchElementwise(FinishKernel<T>, count * p.Sets(), stream, p, total,
                           dnumerator, ddenominator);
}

#define TFA_INSTANTIATE(T)                                                 \
  template const char* LaunchForward<T>(GpuStream, const GpuProblem<T>&, \
                                        const T*, T*);                     \
  template const char* LaunchBackward<T>(                                  \
      GpuStream, const GpuProblem<T>&, const T*, const T*, T*, T*, T*,  \
      ComputeType<T>*, double*);
TFA_INSTANTIATE(float)
TFA_INSTANTIATE(double)
TFA_INSTANTIATE(Half)
TFA_INSTANTIATE(BFloat16)
#undef TFA_INSTANTIATE

}  // namespace pau
}  // namespace tf_approx
