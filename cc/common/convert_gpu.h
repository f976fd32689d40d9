// Conversions between the half types and float32 on the GPU, for the
// kernels that compute the half types in float32 buffers (Fastfood, ACDC):
// declared here (TensorFlow-free and CUDA-free), defined in
// convert_gpu.cu.cc.
#ifndef TF_APPROX_CC_COMMON_CONVERT_GPU_H_
#define TF_APPROX_CC_COMMON_CONVERT_GPU_H_

#include <cstdint>

#include "cc/common/device.h"

namespace tf_approx {

// to[i] = from[i] for i in [0, n), converted as Load and Store do (bitwise
// Eigen's conversions), on `stream`; nullptr, or CUDA's description of the
// error. From -> To: Half or BFloat16 to float, or back.
template <typename From, typename To>
const char* LaunchConvert(GpuStream stream, const From* from, To* to,
                          int64_t n);

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_CONVERT_GPU_H_
