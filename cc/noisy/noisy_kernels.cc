// CPU kernels of TfApprox>NoisyActivation and TfApprox>NoisyActivationGrad.
//
// The kernels validate the inputs, lay p out as noisy_cpu.h expects, and shard
// rows over TensorFlow's intra-op pool. The gradient is split into chunks fixed
// by the shapes alone, each chunk's dp sums go to their own slot, and the slots
// are added in order: the result does not depend on the number of threads.
// Half types are converted to float32.
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/common/cpu_vector.h"
#include "cc/common/kernel_util.h"
#include "cc/noisy/noisy_cpu.h"
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

// Gradient chunks: about kChunkElements elements each (DeterministicRowSums).
constexpr int64_t kChunkElements = 16384;

// The attrs shared by both ops.
struct Attrs {
  noisy::Base base = noisy::Base::kTanh;
  noisy::Where where = noisy::Where::kOutput;
  bool half_normal = false;
  float alpha = 1;
  bool training = false;

  explicit Attrs(OpKernelConstruction* ctx) {
    std::string name;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("base", &name));
    OP_REQUIRES(ctx, noisy::ParseBase(name.c_str(), &base),
                absl::InvalidArgumentError(absl::StrCat(
                    "noisy_activation: unknown `base` '", name, "'")));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("where", &name));
    OP_REQUIRES(ctx, noisy::ParseWhere(name.c_str(), &where),
                absl::InvalidArgumentError(absl::StrCat(
                    "noisy_activation: unknown `where` '", name, "'")));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("noise", &name));
    half_normal = name == "half_normal";
    OP_REQUIRES_OK(ctx, ctx->GetAttr("alpha", &alpha));
    OP_REQUIRES(ctx, std::isfinite(alpha),
                absl::InvalidArgumentError(absl::StrCat(
                    "noisy_activation: `alpha` must be finite, got ", alpha)));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("training", &training));
  }
};

// A Problem and the p table it points into.
template <typename C>
struct Setup {
  noisy::Problem<C> problem;
  std::vector<C> table;
};

// Validates the inputs and fills `setup`.
template <typename T>
absl::Status MakeSetup(const Attrs& attrs, const Tensor& x, const Tensor& p,
                       const Tensor& scale, const Tensor& seed,
                       Setup<ComputeType<T>>* setup) {
  using C = ComputeType<T>;
  if (p.dims() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "noisy_activation: `p` must be a scalar or have shape [channels], "
        "got ",
        p.shape().DebugString()));
  }
  const bool per_channel = p.dims() == 1;
  if (per_channel &&
      (x.dims() < 1 || x.dim_size(x.dims() - 1) != p.dim_size(0))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "noisy_activation: per-channel `p` ", p.shape().DebugString(),
        " must have as many values as `x` ", x.shape().DebugString(),
        " has channels in its last axis"));
  }
  if (scale.dims() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("noisy_activation: `scale` must be a scalar, got ",
                     scale.shape().DebugString()));
  }
  noisy::Problem<C>& prob = setup->problem;
  TF_RETURN_IF_ERROR(NoiseKeyFromSeed("noisy_activation", seed, &prob.key));
  prob.params = noisy::MakeParams<C>(attrs.base, static_cast<C>(attrs.alpha),
                                     static_cast<C>(scale.scalar<T>()()),
                                     attrs.half_normal);
  prob.where = attrs.where;
  prob.training = attrs.training;
  prob.half_normal = attrs.half_normal;
  prob.size = x.NumElements();
  prob.width = per_channel ? p.dim_size(0) : kLanes<C>;
  setup->table.resize(prob.width);
  const T* values = p.flat<T>().data();
  for (int64_t c = 0; c < prob.width; ++c)
    setup->table[c] = static_cast<C>(values[per_channel ? c : 0]);
  prob.p = setup->table.data();
  return absl::OkStatus();
}

// Cycles per element, for Eigen's cost model.
template <typename C>
double CyclesPerElement(const noisy::Problem<C>& p, bool backward) {
  const double ops = (backward ? 60.0 : 40.0) + (p.training ? 60.0 : 0.0);
  return ops / kLanes<C>;
}

template <typename T>
class NoisyActivationOp : public OpKernel {
 public:
  explicit NoisyActivationOp(OpKernelConstruction* ctx)
      : OpKernel(ctx), attrs_(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
    const Tensor& x = ctx->input(0);
    Setup<C> setup;
    OP_REQUIRES_OK(ctx, MakeSetup<T>(attrs_, x, ctx->input(1), ctx->input(2),
                                     ctx->input(3), &setup));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    const noisy::Problem<C>& p = setup.problem;
    if (p.size == 0) return;
    ComputeInput<T> in;
    ComputeOutput<T> out;
    OP_REQUIRES_OK(ctx, in.Init(ctx, x));
    OP_REQUIRES_OK(ctx, out.Init(ctx, y));
    const Eigen::TensorOpCost cost(sizeof(T) * p.width, sizeof(T) * p.width,
                                   CyclesPerElement(p, false) * p.width);
    ParallelFor(ctx, p.Rows(), cost, [&](int64_t begin, int64_t end) {
      noisy::Forward(p, in.data(), out.data(), begin, end);
    });
    out.Finish();
  }

 private:
  Attrs attrs_;
};

template <typename T>
class NoisyActivationGradOp : public OpKernel {
 public:
  explicit NoisyActivationGradOp(OpKernelConstruction* ctx)
      : OpKernel(ctx), attrs_(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    const Tensor& p_in = ctx->input(2);
    OP_REQUIRES(
        ctx, dy.shape() == x.shape(),
        absl::InvalidArgumentError(absl::StrCat(
            "noisy_activation gradient: `dy` must have the shape of `x`, ",
            x.shape().DebugString(), ", got ", dy.shape().DebugString())));
    Setup<C> setup;
    OP_REQUIRES_OK(ctx, MakeSetup<T>(attrs_, x, p_in, ctx->input(3),
                                     ctx->input(4), &setup));
    const noisy::Problem<C>& p = setup.problem;

    ComputeInput<T> x_in, dy_in;
    OP_REQUIRES_OK(ctx, x_in.Init(ctx, x));
    OP_REQUIRES_OK(ctx, dy_in.Init(ctx, dy));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &dx));
    ComputeOutput<T> dx_out;
    OP_REQUIRES_OK(ctx, dx_out.Init(ctx, dx));

    const Eigen::TensorOpCost row_cost(2 * sizeof(T) * p.width,
                                       sizeof(T) * p.width,
                                       CyclesPerElement(p, true) * p.width);
    const std::vector<double> total = DeterministicRowSums<double>(
        ctx, p.Rows(), kChunkElements / std::max<int64_t>(1, p.width), p.width,
        row_cost, [&](int64_t row_begin, int64_t row_end, double* sums) {
          noisy::Backward(p, x_in.data(), dy_in.data(), dx_out.data(),
                          row_begin, row_end, sums);
        });
    dx_out.Finish();

    Tensor* dp = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, p_in.shape(), &dp));
    T* dp_out = dp->flat<T>().data();
    if (p_in.dims() == 1) {
      for (int64_t c = 0; c < p.width; ++c)
        dp_out[c] = static_cast<T>(total[c]);
    } else {
      double sum = 0;
      for (int64_t c = 0; c < p.width; ++c) sum += total[c];
      dp_out[0] = static_cast<T>(sum);
    }
  }

 private:
  Attrs attrs_;
};

#define TFA_REGISTER_CPU(T)                                     \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>NoisyActivation")      \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          NoisyActivationOp<T>);                \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>NoisyActivationGrad")  \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          NoisyActivationGradOp<T>);

TFA_REGISTER_CPU(Eigen::half);
TFA_REGISTER_CPU(Eigen::bfloat16);
TFA_REGISTER_CPU(float);
TFA_REGISTER_CPU(double);

#undef TFA_REGISTER_CPU

}  // namespace
}  // namespace tf_approx
