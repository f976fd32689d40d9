// The approximated activations' CUDA kernels and launchers: thin wrappers
// around the per-thread logic of activations_gpu.h. No TensorFlow headers
// (activations_kernels.cc calls these).
#include <mutex>
#include <vector>

#include "cc/activations/activations_gpu.h"
#include "cc/common/gpu_launch.h"

namespace tf_approx {
namespace activations {
namespace {

// word2vec's table on the device: global memory (read through the L1 cache)
// rather than __constant__, whose reads serialise when the threads of a warp
// look up different entries, as they do here.
__device__ float word2vec_table[kWord2VecTableSize];

// The current device's copy of word2vec's table in *table, filled from the
// host's Word2VecTable() by the first call on each device (on `stream`,
// waited for, so that kernels on any stream see it). nullptr, or the CUDA
// error's description.
const char* DeviceWord2VecTable(GpuStream stream, const float** table) {
  static std::mutex mutex;
  static std::vector<const float*> tables;  // by device; nullptr: not yet
  int device = 0;
  cudaError_t error = cudaGetDevice(&device);
  if (error != cudaSuccess) return cudaGetErrorString(error);
  std::lock_guard<std::mutex> lock(mutex);
  if (static_cast<size_t>(device) < tables.size() && tables[device]) {
    *table = tables[device];
    return nullptr;
  }
  void* address = nullptr;
  error = cudaGetSymbolAddress(&address, word2vec_table);
  if (error == cudaSuccess) {
    error = cudaMemcpyToSymbolAsync(
        word2vec_table, Word2VecTable(), sizeof(float) * kWord2VecTableSize,
        0, cudaMemcpyHostToDevice, ToCudaStream(stream));
  }
  if (error == cudaSuccess) error = cudaStreamSynchronize(ToCudaStream(stream));
  if (error != cudaSuccess) return cudaGetErrorString(error);
  if (tables.size() <= static_cast<size_t>(device)) tables.resize(device + 1);
  tables[device] = static_cast<const float*>(address);
  *table = tables[device];
  return nullptr;
}

template <typename T>
__global__ void ForwardKernel(Params<ComputeType<T>> p, const T* x, T* y,
                              int64_t n) {
  ForwardThread(ThisThread(), p, x, y, n);
}

template <typename T>
__global__ void BackwardKernel(Params<ComputeType<T>> p, const T* x,
                               const T* dy, T* dx, int64_t n) {
  BackwardThread(ThisThread(), p, x, dy, dx, n);
}

}  // namespace

template <typename S>
const char* DeviceParams(GpuStream stream, const Params<S>& p,
                         Params<S>* device_p) {
  *device_p = p;
  device_p->table = nullptr;
  if (p.kind != Kind::kWord2VecSigmoid) return nullptr;
  return DeviceWord2VecTable(stream, &device_p->table);
}

template <typename T>
const char* LaunchForward(GpuStream stream, const Params<ComputeType<T>>& p,
                          const T* x, T* y, int64_t n) {
  Params<ComputeType<T>> device_p;
  if (const char* error = DeviceParams(stream, p, &device_p)) return error;
  return LaunchElementwise(ForwardKernel<T>, n, stream, device_p, x, y, n);
}

template <typename T>
const char* LaunchBackward(GpuStream stream, const Params<ComputeType<T>>& p,
                           const T* x, const T* dy, T* dx, int64_t n) {
  Params<ComputeType<T>> device_p;
  if (const char* error = DeviceParams(stream, p, &device_p)) return error;
  return LaunchElementwise(BackwardKernel<T>, n, stream, device_p, x, dy, dx,
                           n);
}

#define TFA_INSTANTIATE(T)                                                   \
  template const char* LaunchForward<T>(GpuStream,                           \
                                        const Params<ComputeType<T>>&,       \
                                        const T*, T*, int64_t);              \
  template const char* LaunchBackward<T>(GpuStream,                          \
                                         const Params<ComputeType<T>>&,      \
                                         const T*, const T*, T*, int64_t);
TFA_INSTANTIATE(float)
TFA_INSTANTIATE(double)
TFA_INSTANTIATE(Half)
TFA_INSTANTIATE(BFloat16)
#undef TFA_INSTANTIATE

template const char* DeviceParams<float>(GpuStream, const Params<float>&,
                                         Params<float>*);
template const char* DeviceParams<double>(GpuStream, const Params<double>&,
                                          Params<double>*);

}  // namespace activations
}  // namespace tf_approx
