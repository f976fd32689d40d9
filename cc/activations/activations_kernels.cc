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
  std::vector<float> numerator, denominator;
  float offset, clip_min, clip_max;
  int squarings;
  bool clip;
  OP_REQUIRES_OK(ctx, ctx->GetAttr("kind", &kind));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("numerator", &numerator));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("denominator", &denominator));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("offset", &offset));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("squarings", &squarings));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("clip", &clip));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("clip_min", &clip_min));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("clip_max", &clip_max));
  bool product;
  float input_scale, output_scale, slope;
  std::vector<float> below, above;
  OP_REQUIRES_OK(ctx, ctx->GetAttr("product", &product));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("input_scale", &input_scale));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("output_scale", &output_scale));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("slope", &slope));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("below", &below));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("above", &above));
  act::Kind parsed = act::Kind::kRational;
  OP_REQUIRES(ctx, act::ParseKind(kind.c_str(), &parsed),
              absl::InvalidArgumentError(absl::StrCat(
                  "tf_approx activation: unknown `kind` '", kind, "'")));
  OP_REQUIRES(
      ctx,
      parsed != act::Kind::kRational ||
          (!numerator.empty() && !denominator.empty()),
      absl::InvalidArgumentError(absl::StrCat(
          "tf_approx activation: `numerator` and `denominator` must "
          "be non-empty, got ",
          numerator.size(), " and ", denominator.size(), " coefficients")));
  std::vector<double> num(numerator.begin(), numerator.end());
  std::vector<double> den(denominator.begin(), denominator.end());
  const char* error = act::InitParams(
      parsed, num.data(), static_cast<int>(num.size()), den.data(),
      static_cast<int>(den.size()), offset, squarings, clip, clip_min, clip_max,
      act::Word2VecTable(), params);
  if (error == nullptr) {
    std::vector<double> lo(below.begin(), below.end());
    std::vector<double> hi(above.begin(), above.end());
    error = act::InitForm(product, input_scale, output_scale, slope,
                          lo.data(), static_cast<int>(lo.size()), hi.data(),
                          static_cast<int>(hi.size()), params);
  }
  OP_REQUIRES(
      ctx, error == nullptr,
      absl::InvalidArgumentError(absl::StrCat(
          "tf_approx activation (kind '", kind, "'): ", error ? error : "")));
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
