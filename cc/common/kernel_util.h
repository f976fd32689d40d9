// Helpers shared by the CPU OpKernels of every family (TensorFlow-dependent:
// only the *_kernels.cc files include this).
#ifndef TF_APPROX_CC_COMMON_KERNEL_UTIL_H_
#define TF_APPROX_CC_COMMON_KERNEL_UTIL_H_

#include <type_traits>

#include "absl/status/status.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"

namespace tf_approx {

// The type a kernel computes in: double for double, float for float and the
// half types.
template <typename T>
using ComputeType = typename std::conditional<std::is_same<T, double>::value,
                                              double, float>::type;

// A tensor's elements as ComputeType<T>: its own buffer, or a converted copy.
template <typename T>
class ComputeInput {
 public:
  using C = ComputeType<T>;

  absl::Status Init(::tensorflow::OpKernelContext* ctx,
                    const ::tensorflow::Tensor& t) {
    if constexpr (std::is_same<T, C>::value) {
      data_ = t.flat<T>().data();
    } else {
      TF_RETURN_IF_ERROR(ctx->allocate_temp(
          ::tensorflow::DataTypeToEnum<C>::value, t.shape(), &scratch_));
      scratch_.flat<C>() = t.flat<T>().template cast<C>();
      data_ = scratch_.flat<C>().data();
    }
    return absl::OkStatus();
  }

  const C* data() const { return data_; }

 private:
  ::tensorflow::Tensor scratch_;
  const C* data_ = nullptr;
};

// An output written as ComputeType<T>: the output's own buffer, or a scratch
// buffer that Finish() converts into it.
template <typename T>
class ComputeOutput {
 public:
  using C = ComputeType<T>;

  absl::Status Init(::tensorflow::OpKernelContext* ctx,
                    ::tensorflow::Tensor* out) {
    out_ = out;
    if constexpr (std::is_same<T, C>::value) {
      data_ = out->flat<T>().data();
    } else {
      TF_RETURN_IF_ERROR(ctx->allocate_temp(
          ::tensorflow::DataTypeToEnum<C>::value, out->shape(), &scratch_));
      data_ = scratch_.flat<C>().data();
    }
    return absl::OkStatus();
  }

  C* data() { return data_; }

  void Finish() {
    if constexpr (!std::is_same<T, C>::value) {
      out_->flat<T>() = scratch_.flat<C>().template cast<T>();
    }
  }

 private:
  ::tensorflow::Tensor* out_ = nullptr;
  ::tensorflow::Tensor scratch_;
  C* data_ = nullptr;
};

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_KERNEL_UTIL_H_
