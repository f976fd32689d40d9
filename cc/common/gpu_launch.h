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

// The shared memory a block may opt in to on the current device (48 KiB,
// which every GPU has, where the query fails).
inline int DeviceMaxSharedBytes() {
  int device = 0;
  int bytes = 48 * 1024;
  if (cudaGetDevice(&device) == cudaSuccess) {
    cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                           device);
  }
  cudaGetLastError();  // a failed query leaves the 48 KiB
  return bytes;
}

// Launches kernel<<<blocks, threads, shared_bytes, stream>>>(args...),
// opting in to more than 48 KiB of shared memory where asked; returns
// LaunchError().
template <typename... Params, typename... Args>
const char* LaunchWithShared(void (*kernel)(Params...), int64_t blocks,
                             int64_t threads, size_t shared_bytes,
                             cudaStream_t stream, Args&&... args) {
  if (shared_bytes > 48 * 1024 &&
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(shared_bytes)) != cudaSuccess) {
    return LaunchError();
  }
  kernel<<<static_cast<int>(blocks), static_cast<int>(threads), shared_bytes,
           stream>>>(std::forward<Args>(args)...);
  return LaunchError();
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
