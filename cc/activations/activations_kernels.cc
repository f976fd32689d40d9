// Kernels of TfApprox>Activation and TfApprox>ActivationGrad: validate the
// attrs and shapes and call functor::Activation<Device, T>. Compiled twice:
// into the op library with the CPU functor (the activations_cpu.cc loops
// sharded over TensorFlow's intra-op pool; half types converted to float32 in
// small chunks on the stack), and with GOOGLE_CUDA=1 into the GPU kernel
// library with the GPU functor (the activations_gpu.cu.cc launchers). The
// attrs are all host constants: nothing is read back from the device.
#define EIGEN_USE_THREADS

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/activations/activations.h"
#include "cc/activations/activations_attrs.h"
#include "cc/common/device.h"
#include "cc/common/kernel_util.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/register_types.h"
#include "tensorflow/core/framework/tensor.h"
#include "unsupported/Eigen/CXX11/Tensor"
#if GOOGLE_CUDA
#include "cc/activations/activations_gpu.h"
#else
#include "cc/activations/activations_cpu.h"
#endif

namespace tf_approx {
namespace {

using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
namespace act = ::tf_approx::activations;

// Reads and validates the attrs shared by the forward and gradient ops.
template <typename C>
void ReadParams(OpKernelConstruction* ctx, act::Params<C>* params) {
  std::string kind;
  OP_REQUIRES_OK(ctx, ctx->GetAttr("kind", &kind));
  ReadActivationParams(ctx, "", kind, params);
}

namespace functor {

template <typename Device, typename T>
struct Activation;

#if GOOGLE_CUDA
template <typename T>
struct Activation<GPUDevice, T> {
  using C = ComputeType<T>;

  static absl::Status Forward(OpKernelContext* ctx, const act::Params<C>& p,
                              const Tensor& x, Tensor* y) {
    return LaunchStatus(
        "tf_approx activation",
        act::LaunchForward(StreamOf(ctx), p, GpuData<T>(x), GpuData<T>(y),
                           x.NumElements()));
  }

  static absl::Status Backward(OpKernelContext* ctx, const act::Params<C>& p,
                               const Tensor& x, const Tensor& dy, Tensor* dx) {
    return LaunchStatus(
        "tf_approx activation gradient",
        act::LaunchBackward(StreamOf(ctx), p, GpuData<T>(x), GpuData<T>(dy),
                            GpuData<T>(dx), x.NumElements()));
  }
};
#else
// Elements one thread handles at a time for the half types.
constexpr int64_t kChunk = 1024;

template <typename T, typename C>
void ForwardRange(const act::Params<C>& p, const T* x, T* y, int64_t n) {
  if constexpr (std::is_same<T, C>::value) {
    act::Forward(p, x, y, n);
  } else {
    C in[kChunk], out[kChunk];
    for (int64_t start = 0; start < n; start += kChunk) {
      const int64_t len = std::min(kChunk, n - start);
      for (int64_t i = 0; i < len; ++i) in[i] = static_cast<C>(x[start + i]);
      act::Forward(p, in, out, len);
      for (int64_t i = 0; i < len; ++i) y[start + i] = static_cast<T>(out[i]);
    }
  }
}

template <typename T, typename C>
void BackwardRange(const act::Params<C>& p, const T* x, const T* dy, T* dx,
                   int64_t n) {
  if constexpr (std::is_same<T, C>::value) {
    act::Backward(p, x, dy, dx, n);
  } else {
    C in[kChunk], grad_in[kChunk], out[kChunk];
    for (int64_t start = 0; start < n; start += kChunk) {
      const int64_t len = std::min(kChunk, n - start);
      for (int64_t i = 0; i < len; ++i) {
        in[i] = static_cast<C>(x[start + i]);
        grad_in[i] = static_cast<C>(dy[start + i]);
      }
      act::Backward(p, in, grad_in, out, len);
      for (int64_t i = 0; i < len; ++i) dx[start + i] = static_cast<T>(out[i]);
    }
  }
}

// Runs fn(begin, end) over [0, n) on the intra-op pool. Ranges are aligned to
// whole vectors so that only the last one has a scalar tail. `inputs` is 1 for
// the forward op and 2 for the gradient, which also computes about twice the
// operations.
template <typename T, typename Fn>
void ParallelFor(OpKernelContext* ctx, const act::Params<ComputeType<T>>& p,
                 int64_t n, int inputs, Fn&& fn) {
  // Vector instructions per 16 elements, about three retired per cycle: what
  // the float32 kernels measured on one core (AMD EPYC Zen 5; tanh_pade_4_4
  // forward 0.4 cycles per element, gradient 0.9). Eigen's cost model then
  // keeps tensors below about 110K (forward) and 70K (gradient) elements on
  // the calling thread, where handing work to the pool costs more than it
  // saves.
  const double vector_ops = p.kind == act::Kind::kRational
                                ? 2.0 * (p.num_len + p.den_len) + 6
                                : 2.0 * p.squarings + 8;
  const double cycles = inputs * vector_ops / 16 / 3;
  const Eigen::TensorOpCost cost(inputs * sizeof(T), sizeof(T), cycles);
  ctx->eigen_device<Eigen::ThreadPoolDevice>().parallelFor(
      n, cost, [](Eigen::Index size) { return (size + 63) / 64 * 64; },
      [&fn](Eigen::Index begin, Eigen::Index end) { fn(begin, end); });
}

template <typename T>
struct Activation<CPUDevice, T> {
  using C = ComputeType<T>;

  static absl::Status Forward(OpKernelContext* ctx, const act::Params<C>& p,
                              const Tensor& x, Tensor* y) {
    const T* in = x.flat<T>().data();
    T* out = y->flat<T>().data();
    ParallelFor<T>(ctx, p, x.NumElements(), 1,
                   [&](int64_t begin, int64_t end) {
                     ForwardRange(p, in + begin, out + begin, end - begin);
                   });
    return absl::OkStatus();
  }

  static absl::Status Backward(OpKernelContext* ctx, const act::Params<C>& p,
                               const Tensor& x, const Tensor& dy, Tensor* dx) {
    const T* in = x.flat<T>().data();
    const T* grad_in = dy.flat<T>().data();
    T* out = dx->flat<T>().data();
    ParallelFor<T>(ctx, p, x.NumElements(), 2,
                   [&](int64_t begin, int64_t end) {
                     BackwardRange(p, in + begin, grad_in + begin,
                                   out + begin, end - begin);
                   });
    return absl::OkStatus();
  }
};
#endif  // GOOGLE_CUDA

}  // namespace functor

template <typename Device, typename T>
class ActivationOp : public OpKernel {
 public:
  explicit ActivationOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    ReadParams(ctx, &params_);
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    Tensor* y = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    if (x.NumElements() == 0) return;
    OP_REQUIRES_OK(ctx, functor::Activation<Device, T>::Forward(ctx, params_,
                                                                 x, y));
  }

 private:
  act::Params<ComputeType<T>> params_;
};

template <typename Device, typename T>
class ActivationGradOp : public OpKernel {
 public:
  explicit ActivationGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    ReadParams(ctx, &params_);
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    OP_REQUIRES_OK(ctx, CheckDyShape("tf_approx activation gradient", dy, x));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &dx));
    if (x.NumElements() == 0) return;
    OP_REQUIRES_OK(ctx, functor::Activation<Device, T>::Backward(
                            ctx, params_, x, dy, dx));
  }

 private:
  act::Params<ComputeType<T>> params_;
};

#define TFA_REGISTER(T)                                               \
  TFA_REGISTER_KERNEL("TfApprox>Activation", ActivationOp, KernelDevice, T); \
  TFA_REGISTER_KERNEL("TfApprox>ActivationGrad", ActivationGradOp,          \
                      KernelDevice, T);
TFA_FOR_EACH_FLOAT_TYPE(TFA_REGISTER)
#undef TFA_REGISTER

}  // namespace
}  // namespace tf_approx
