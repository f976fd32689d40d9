// The devices every family's functors are specialised for, and the types
// their GPU launchers take. TensorFlow-free and CUDA-free: included by the
// OpKernels (g++), the CUDA kernels (nvcc) and the native module alike.
//
// Each family's OpKernel is a template over <Device, T> that validates its
// inputs and calls functor::<Family><Device, T>. The CPU specialisation runs
// the `<family>_cpu.cc` loops on TensorFlow's intra-op pool; the GPU one, in
// the same `<family>_kernels.cc` compiled a second time with GOOGLE_CUDA=1
// into the GPU kernel library, calls the plain launchers of
// `<family>_gpu.cu.cc` on the op's stream.
#ifndef TF_APPROX_CC_COMMON_DEVICE_H_
#define TF_APPROX_CC_COMMON_DEVICE_H_

#include <cstdint>
#include <type_traits>

namespace tf_approx {

struct CPUDevice {};
struct GPUDevice {};

// A CUDA stream (cudaStream_t), as the launchers take it.
using GpuStream = void*;

// The half types as the launchers see them: their bit patterns (IEEE
// binary16 and bfloat16), which Eigen::half and Eigen::bfloat16 share.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

// The type a kernel computes in: double for double, float for float and the
// half types.
template <typename T>
using ComputeType =
    typename std::conditional<std::is_same<T, double>::value, double,
                              float>::type;

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_DEVICE_H_
