// CPU kernels of TfApprox>Gaaf and TfApprox>GaafGrad: validate the attrs and
// shapes, and shard the elements over TensorFlow's intra-op pool. Half types
// are converted to float32.
#define EIGEN_USE_THREADS

#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/common/cpu_vector.h"
#include "cc/common/kernel_util.h"
#include "cc/gaaf/gaaf_cpu.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/register_types.h"
#include "tensorflow/core/framework/tensor.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace tf_approx {
namespace {

using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;

// Reads and checks the attrs shared by both ops.
class GaafKernel : public OpKernel {
 public:
  explicit GaafKernel(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string name;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("base", &name));
    OP_REQUIRES(ctx, gaaf::ParseBase(name.c_str(), &base_),
                absl::InvalidArgumentError(
                    absl::StrCat("gaaf: unknown `base` '", name, "'")));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("shape", &name));
    OP_REQUIRES(ctx, gaaf::ParseShape(name.c_str(), &shape_),
                absl::InvalidArgumentError(
                    absl::StrCat("gaaf: unknown `shape` '", name, "'")));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("k", &k_));
    OP_REQUIRES(ctx, std::isfinite(k_) && k_ > 0,
                absl::InvalidArgumentError(absl::StrCat(
                    "gaaf: `k` must be a finite number > 0, got ", k_)));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("center", &center_));
    OP_REQUIRES(ctx, std::isfinite(center_),
                absl::InvalidArgumentError(absl::StrCat(
                    "gaaf: `center` must be finite, got ", center_)));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("width", &width_));
    OP_REQUIRES(
        ctx, std::isfinite(width_) && width_ > 0,
        absl::InvalidArgumentError(absl::StrCat(
            "gaaf: `width` must be a finite number > 0, got ", width_)));
  }

 protected:
  template <typename C>
  gaaf::Problem<C> MakeProblem() const {
    gaaf::Problem<C> p;
    p.params = gaaf::MakeParams<C>(k_, center_, width_);
    p.base = base_;
    p.shape = gaaf::KernelShape(shape_, p.params);
    return p;
  }

  template <typename T>
  static Eigen::TensorOpCost Cost(bool backward) {
    using C = ComputeType<T>;
    const double cycles = (backward ? 70.0 : 60.0) / kLanes<C>;
    return Eigen::TensorOpCost((backward ? 2 : 1) * sizeof(T), sizeof(T),
                               cycles);
  }

 private:
  gaaf::Base base_ = gaaf::Base::kTanh;
  gaaf::Shape shape_ = gaaf::Shape::kExp;
  float k_ = 10000;
  float center_ = 0;
  float width_ = 1;
};

template <typename T>
class GaafOp : public GaafKernel {
 public:
  using GaafKernel::GaafKernel;

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
    const Tensor& x = ctx->input(0);
    Tensor* y = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    const int64_t n = x.NumElements();
    if (n == 0) return;
    ComputeInput<T> in;
    ComputeOutput<T> out;
    OP_REQUIRES_OK(ctx, in.Init(ctx, x));
    OP_REQUIRES_OK(ctx, out.Init(ctx, y));
    const gaaf::Problem<C> p = MakeProblem<C>();
    ParallelFor(ctx, n, Cost<T>(false), [&](int64_t begin, int64_t end) {
      gaaf::Forward(p, in.data(), out.data(), begin, end);
    });
    out.Finish();
  }
};

template <typename T>
class GaafGradOp : public GaafKernel {
 public:
  using GaafKernel::GaafKernel;

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    OP_REQUIRES(
        ctx, dy.shape() == x.shape(),
        absl::InvalidArgumentError(absl::StrCat(
            "gaaf gradient: `dy` must have the shape of `x`, ",
            x.shape().DebugString(), ", got ", dy.shape().DebugString())));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &dx));
    const int64_t n = x.NumElements();
    if (n == 0) return;
    ComputeInput<T> x_in, dy_in;
    ComputeOutput<T> out;
    OP_REQUIRES_OK(ctx, x_in.Init(ctx, x));
    OP_REQUIRES_OK(ctx, dy_in.Init(ctx, dy));
    OP_REQUIRES_OK(ctx, out.Init(ctx, dx));
    const gaaf::Problem<C> p = MakeProblem<C>();
    ParallelFor(ctx, n, Cost<T>(true), [&](int64_t begin, int64_t end) {
      gaaf::Backward(p, x_in.data(), dy_in.data(), out.data(), begin, end);
    });
    out.Finish();
  }
};

#define TFA_REGISTER_CPU(T)                                     \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>Gaaf")                 \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          GaafOp<T>);                           \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>GaafGrad")             \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          GaafGradOp<T>);

TFA_REGISTER_CPU(Eigen::half);
TFA_REGISTER_CPU(Eigen::bfloat16);
TFA_REGISTER_CPU(float);
TFA_REGISTER_CPU(double);

#undef TFA_REGISTER_CPU

}  // namespace
}  // namespace tf_approx
