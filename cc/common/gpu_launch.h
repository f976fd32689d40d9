// Launch helpers shared by the `<family>_gpu.cu.cc` files (nvcc only).
#ifndef TF_APPROX_CC_COMMON_GPU_LAUNCH_H_
#define TF_APPROX_CC_COMMON_GPU_LAUNCH_H_

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "cc/common/device.h"

namespace tf_approx {

// Grid-stride launches of elementwise kernels: kThreads a block, at most
// kMaxBlocks blocks (enough to fill any current GPU several times over; each
// thread then loops over the elements a grid apart).
constexpr int kElementwiseThreads = 256;
constexpr int64_t kElementwiseMaxBlocks = 8192;

inline int ElementwiseBlocks(int64_t n) {
  const int64_t blocks =
      (n + kElementwiseThreads - 1) / kElementwiseThreads;
  return static_cast<int>(std::min(std::max<int64_t>(blocks, 1),
                                   kElementwiseMaxBlocks));
}

inline cudaStream_t ToCudaStream(GpuStream stream) {
  return static_cast<cudaStream_t>(stream);
}

// nullptr if the last launch succeeded, else CUDA's description of the error.
inline const char* LaunchError() {
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? nullptr : cudaGetErrorString(error);
}

// Enqueues kernel(args...) on `stream` as a grid-stride launch over n
// threads' worth of work (ElementwiseBlocks(n) blocks of
// kElementwiseThreads); returns LaunchError().
template <typename... Params, typename... Args>
const char* LaunchElementwise(void (*kernel)(Params...), int64_t n,
                              GpuStream stream, Args&&... args) {
  kernel<<<ElementwiseBlocks(n), kElementwiseThreads, 0,
           ToCudaStream(stream)>>>(std::forward<Args>(args)...);
  return LaunchError();
}

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_GPU_LAUNCH_H_
