// LaunchConvert (convert_gpu.h): a grid-stride copy through Load and Store.
#include "cc/common/convert_gpu.h"
#include "cc/common/gpu_launch.h"
#include "cc/common/gpu_model.h"

namespace tf_approx {
namespace {

template <typename From, typename To>
__global__ void ConvertKernel(const From* from, To* to, int64_t n) {
  const Thread t = ThisThread();
  for (int64_t i = t.First(); i < n; i += t.Stride()) Store(to + i, Load(from + i));
}

}  // namespace

template <typename From, typename To>
const char* LaunchConvert(GpuStream stream, const From* from, To* to,
                          int64_t n) {
  return LaunchElementwise(ConvertKernel<From, To>, n, stream, from, to, n);
}

#define TFA_INSTANTIATE(T)                                                   \
  template const char* LaunchConvert<T, float>(GpuStream, const T*, float*,  \
                                               int64_t);                     \
  template const char* LaunchConvert<float, T>(GpuStream, const float*, T*,  \
                                               int64_t);
TFA_INSTANTIATE(Half)
TFA_INSTANTIATE(BFloat16)
#undef TFA_INSTANTIATE

}  // namespace tf_approx
