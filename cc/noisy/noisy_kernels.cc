// Kernels of TfApprox>NoisyActivation and TfApprox>NoisyActivationGrad:
// validate the attrs and shapes and call functor::Noisy<Device, T>. Compiled
// twice: into the op library with the CPU functor, and with GOOGLE_CUDA=1
// into the GPU kernel library with the GPU functor (the noisy_gpu.cu.cc
// launchers).
//
// The CPU functor lays p out as noisy_cpu.h expects and shards rows over
// TensorFlow's intra-op pool. The gradient is split into chunks fixed by the
// shapes alone, each chunk's dp sums go to their own slot, and the slots are
// added in order: the result does not depend on the number of threads. Half
// types are converted to float32.
//
// The GPU functor reads no tensor values on the host: `p`, `scale` and
// `seed` live in GPU variables during training, and the kernels read them
// from device memory. Only their shapes are checked here; a negative `first`
// in `seed` is not rejected on the GPU (see the op's doc string). Its dp sums
// are deterministic too (noisy_gpu.h: fixed order, no atomics).
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/common/device.h"
#include "cc/common/kernel_util.h"
#include "cc/noisy/noisy.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/register_types.h"
#include "tensorflow/core/framework/tensor.h"
#include "unsupported/Eigen/CXX11/Tensor"
#if GOOGLE_CUDA
#include "cc/noisy/noisy_gpu.h"
#else
#include "cc/common/cpu_vector.h"
#include "cc/noisy/noisy_cpu.h"
#endif

namespace tf_approx {
namespace {

using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;

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

// Checks the shapes of p, scale and seed against x's (the values are the
// functors' business: the GPU one never sees them on the host).
absl::Status CheckShapes(const Tensor& x, const Tensor& p, const Tensor& scale,
                         const Tensor& seed) {
  if (p.dims() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "noisy_activation: `p` must be a scalar or have shape [channels], "
        "got ",
        p.shape().DebugString()));
  }
  if (p.dims() == 1 &&
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
  if (seed.dims() != 1 ||
      (seed.NumElements() != 2 && seed.NumElements() != 3)) {
    return absl::InvalidArgumentError(
        absl::StrCat("noisy_activation: `seed` must have shape [2] (seed, "
                     "step) or [3] (seed, step, first element), got ",
                     seed.shape().DebugString()));
  }
  return absl::OkStatus();
}

namespace functor {

template <typename Device, typename T>
struct Noisy;

#if GOOGLE_CUDA
template <typename T>
struct Noisy<GPUDevice, T> {
  using C = ComputeType<T>;

  static noisy::GpuProblem<C> MakeProblem(const Attrs& attrs, const Tensor& x,
                                          const Tensor& p,
                                          const Tensor& seed) {
    noisy::GpuProblem<C> prob;
    // scale = 0 here: the kernels read it.
    prob.params = noisy::MakeParams<C>(attrs.base, static_cast<C>(attrs.alpha),
                                       C(0), attrs.half_normal);
    prob.where = attrs.where;
    prob.training = attrs.training;
    prob.half_normal = attrs.half_normal;
    prob.size = x.NumElements();
    prob.channels = p.dims() == 1 ? p.dim_size(0) : 1;
    prob.seed_size = static_cast<int>(seed.NumElements());
    return prob;
  }

  static noisy::GpuInputs<GpuType<T>> Inputs(const Tensor& p,
                                             const Tensor& scale,
                                             const Tensor& seed) {
    noisy::GpuInputs<GpuType<T>> in;
    in.p = GpuData<T>(p);
    in.scale = GpuData<T>(scale);
    in.seed = seed.flat<int64_t>().data();
    return in;
  }

  static absl::Status Forward(OpKernelContext* ctx, const Attrs& attrs,
                              const Tensor& x, const Tensor& p,
                              const Tensor& scale, const Tensor& seed,
                              Tensor* y) {
    if (x.NumElements() == 0) return absl::OkStatus();
    return LaunchStatus(
        "noisy_activation",
        noisy::LaunchForward(StreamOf(ctx), MakeProblem(attrs, x, p, seed),
                             Inputs(p, scale, seed), GpuData<T>(x),
                             GpuData<T>(y)));
  }

  static absl::Status Backward(OpKernelContext* ctx, const Attrs& attrs,
                               const Tensor& dy, const Tensor& x,
                               const Tensor& p, const Tensor& scale,
                               const Tensor& seed, Tensor* dx, Tensor* dp) {
    const noisy::GpuProblem<C> prob = MakeProblem(attrs, x, p, seed);
    if (prob.channels == 0) return absl::OkStatus();  // no p, hence no x
    const noisy::SumLayout layout =
        noisy::MakeSumLayout(prob.size, prob.channels);
    Tensor partial;
    TF_RETURN_IF_ERROR(ctx->allocate_temp(
        ::tensorflow::DT_DOUBLE, ::tensorflow::TensorShape({layout.TempSize()}),
        &partial));
    return LaunchStatus(
        "noisy_activation gradient",
        noisy::LaunchBackward(StreamOf(ctx), prob, Inputs(p, scale, seed),
                              GpuData<T>(x), GpuData<T>(dy), GpuData<T>(dx),
                              GpuData<T>(dp), partial.flat<double>().data()));
  }
};
#else
// Gradient chunks: about kChunkElements elements each (DeterministicRowSums).
constexpr int64_t kChunkElements = 16384;

template <typename T>
struct Noisy<CPUDevice, T> {
  using C = ComputeType<T>;

  // A Problem and the p table it points into.
  struct Setup {
    noisy::Problem<C> problem;
    std::vector<C> table;
  };

  // Reads the values of p, scale and seed (shapes checked) into `setup`.
  static absl::Status MakeSetup(const Attrs& attrs, const Tensor& x,
                                const Tensor& p, const Tensor& scale,
                                const Tensor& seed, Setup* setup) {
    const bool per_channel = p.dims() == 1;
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
  static double CyclesPerElement(const noisy::Problem<C>& p, bool backward) {
    const double ops = (backward ? 60.0 : 40.0) + (p.training ? 60.0 : 0.0);
    return ops / kLanes<C>;
  }

  static absl::Status Forward(OpKernelContext* ctx, const Attrs& attrs,
                              const Tensor& x, const Tensor& p_in,
                              const Tensor& scale, const Tensor& seed,
                              Tensor* y) {
    constexpr const char* kOp = "noisy_activation";
    Setup setup;
    TF_RETURN_IF_ERROR(MakeSetup(attrs, x, p_in, scale, seed, &setup));
    const noisy::Problem<C>& p = setup.problem;
    if (p.size == 0) return absl::OkStatus();
    ComputeInput<CPUDevice, T> in;
    ComputeOutput<CPUDevice, T> out;
    TF_RETURN_IF_ERROR(in.Init(ctx, kOp, x));
    TF_RETURN_IF_ERROR(out.Init(ctx, y));
    const Eigen::TensorOpCost cost(sizeof(T) * p.width, sizeof(T) * p.width,
                                   CyclesPerElement(p, false) * p.width);
    ParallelFor(ctx, p.Rows(), cost, [&](int64_t begin, int64_t end) {
      noisy::Forward(p, in.data(), out.data(), begin, end);
    });
    TF_RETURN_IF_ERROR(out.Finish(ctx, kOp));
    return absl::OkStatus();
  }

  static absl::Status Backward(OpKernelContext* ctx, const Attrs& attrs,
                               const Tensor& dy, const Tensor& x,
                               const Tensor& p_in, const Tensor& scale,
                               const Tensor& seed, Tensor* dx, Tensor* dp) {
    constexpr const char* kOp = "noisy_activation gradient";
    Setup setup;
    TF_RETURN_IF_ERROR(MakeSetup(attrs, x, p_in, scale, seed, &setup));
    const noisy::Problem<C>& p = setup.problem;
    ComputeInput<CPUDevice, T> x_in, dy_in;
    TF_RETURN_IF_ERROR(x_in.Init(ctx, kOp, x));
    TF_RETURN_IF_ERROR(dy_in.Init(ctx, kOp, dy));
    ComputeOutput<CPUDevice, T> dx_out;
    TF_RETURN_IF_ERROR(dx_out.Init(ctx, dx));
    const Eigen::TensorOpCost row_cost(2 * sizeof(T) * p.width,
                                       sizeof(T) * p.width,
                                       CyclesPerElement(p, true) * p.width);
    const std::vector<double> total = DeterministicRowSums<double>(
        ctx, p.Rows(), kChunkElements / std::max<int64_t>(1, p.width), p.width,
        row_cost, [&](int64_t row_begin, int64_t row_end, double* sums) {
          noisy::Backward(p, x_in.data(), dy_in.data(), dx_out.data(),
                          row_begin, row_end, sums);
        });
    TF_RETURN_IF_ERROR(dx_out.Finish(ctx, kOp));
    T* dp_out = dp->flat<T>().data();
    if (p_in.dims() == 1) {
      for (int64_t c = 0; c < p.width; ++c)
        dp_out[c] = static_cast<T>(total[c]);
    } else {
      double sum = 0;
      for (int64_t c = 0; c < p.width; ++c) sum += total[c];
      dp_out[0] = static_cast<T>(sum);
    }
    return absl::OkStatus();
  }
};
#endif  // GOOGLE_CUDA

}  // namespace functor

template <typename Device, typename T>
class NoisyActivationOp : public OpKernel {
 public:
  explicit NoisyActivationOp(OpKernelConstruction* ctx)
      : OpKernel(ctx), attrs_(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& p = ctx->input(1);
    const Tensor& scale = ctx->input(2);
    const Tensor& seed = ctx->input(3);
    OP_REQUIRES_OK(ctx, CheckShapes(x, p, scale, seed));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    OP_REQUIRES_OK(ctx, functor::Noisy<Device, T>::Forward(ctx, attrs_, x, p,
                                                           scale, seed, y));
  }

 private:
  Attrs attrs_;
};

template <typename Device, typename T>
class NoisyActivationGradOp : public OpKernel {
 public:
  explicit NoisyActivationGradOp(OpKernelConstruction* ctx)
      : OpKernel(ctx), attrs_(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    const Tensor& p = ctx->input(2);
    const Tensor& scale = ctx->input(3);
    const Tensor& seed = ctx->input(4);
    OP_REQUIRES_OK(ctx, CheckDyShape("noisy_activation gradient", dy, x));
    OP_REQUIRES_OK(ctx, CheckShapes(x, p, scale, seed));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &dx));
    Tensor* dp = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, p.shape(), &dp));
    OP_REQUIRES_OK(ctx, functor::Noisy<Device, T>::Backward(
                            ctx, attrs_, dy, x, p, scale, seed, dx, dp));
  }

 private:
  Attrs attrs_;
};

#define TFA_REGISTER(T)                                                \
  TFA_REGISTER_KERNEL("TfApprox>NoisyActivation", NoisyActivationOp,   \
                      KernelDevice, T);                                \
  TFA_REGISTER_KERNEL("TfApprox>NoisyActivationGrad",                  \
                      NoisyActivationGradOp, KernelDevice, T);
TFA_FOR_EACH_FLOAT_TYPE(TFA_REGISTER)
#undef TFA_REGISTER

}  // namespace
}  // namespace tf_approx
