// Kernels of TfApprox>Gaaf and TfApprox>GaafGrad: validate the attrs and
// shapes and call functor::Gaaf<Device, T>. Compiled twice: into the op
// library with the CPU functor (the gaaf_cpu.cc loops sharded over
// TensorFlow's intra-op pool; half types converted to float32), and with
// GOOGLE_CUDA=1 into the GPU kernel library with the GPU functor (the
// gaaf_gpu.cu.cc launchers). The attrs are all host constants: nothing is
// read back from the device.
#define EIGEN_USE_THREADS

#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/common/device.h"
#include "cc/common/kernel_util.h"
#include "cc/gaaf/gaaf.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/register_types.h"
#include "tensorflow/core/framework/tensor.h"
#include "unsupported/Eigen/CXX11/Tensor"
#if GOOGLE_CUDA
#include "cc/gaaf/gaaf_gpu.h"
#else
#include "cc/common/cpu_vector.h"
#include "cc/gaaf/gaaf_cpu.h"
#endif

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

 private:
  gaaf::Base base_ = gaaf::Base::kTanh;
  gaaf::Shape shape_ = gaaf::Shape::kExp;
  float k_ = 10000;
  float center_ = 0;
  float width_ = 1;
};

namespace functor {

template <typename Device, typename T>
struct Gaaf;

#if GOOGLE_CUDA
template <typename T>
struct Gaaf<GPUDevice, T> {
  using C = ComputeType<T>;

  static absl::Status Forward(OpKernelContext* ctx, const gaaf::Problem<C>& p,
                              const Tensor& x, Tensor* y) {
    return LaunchStatus(
        "gaaf", gaaf::LaunchForward(StreamOf(ctx), p, GpuData<T>(x),
                                    GpuData<T>(y), x.NumElements()));
  }

  static absl::Status Backward(OpKernelContext* ctx,
                               const gaaf::Problem<C>& p, const Tensor& x,
                               const Tensor& dy, Tensor* dx) {
    return LaunchStatus(
        "gaaf gradient",
        gaaf::LaunchBackward(StreamOf(ctx), p, GpuData<T>(x), GpuData<T>(dy),
                             GpuData<T>(dx), x.NumElements()));
  }
};
#else
template <typename T>
struct Gaaf<CPUDevice, T> {
  using C = ComputeType<T>;

  static Eigen::TensorOpCost Cost(bool backward) {
    const double cycles = (backward ? 70.0 : 60.0) / kLanes<C>;
    return Eigen::TensorOpCost((backward ? 2 : 1) * sizeof(T), sizeof(T),
                               cycles);
  }

  static absl::Status Forward(OpKernelContext* ctx, const gaaf::Problem<C>& p,
                              const Tensor& x, Tensor* y) {
    constexpr const char* kOp = "gaaf";
    ComputeInput<CPUDevice, T> in;
    ComputeOutput<CPUDevice, T> out;
    TF_RETURN_IF_ERROR(in.Init(ctx, kOp, x));
    TF_RETURN_IF_ERROR(out.Init(ctx, y));
    ParallelFor(ctx, x.NumElements(), Cost(false),
                [&](int64_t begin, int64_t end) {
                  gaaf::Forward(p, in.data(), out.data(), begin, end);
                });
    TF_RETURN_IF_ERROR(out.Finish(ctx, kOp));
    return absl::OkStatus();
  }

  static absl::Status Backward(OpKernelContext* ctx,
                               const gaaf::Problem<C>& p, const Tensor& x,
                               const Tensor& dy, Tensor* dx) {
    constexpr const char* kOp = "gaaf gradient";
    ComputeInput<CPUDevice, T> x_in, dy_in;
    ComputeOutput<CPUDevice, T> out;
    TF_RETURN_IF_ERROR(x_in.Init(ctx, kOp, x));
    TF_RETURN_IF_ERROR(dy_in.Init(ctx, kOp, dy));
    TF_RETURN_IF_ERROR(out.Init(ctx, dx));
    ParallelFor(ctx, x.NumElements(), Cost(true),
                [&](int64_t begin, int64_t end) {
                  gaaf::Backward(p, x_in.data(), dy_in.data(), out.data(),
                                 begin, end);
                });
    TF_RETURN_IF_ERROR(out.Finish(ctx, kOp));
    return absl::OkStatus();
  }
};
#endif  // GOOGLE_CUDA

}  // namespace functor

template <typename Device, typename T>
class GaafOp : public GaafKernel {
 public:
  using GaafKernel::GaafKernel;

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    Tensor* y = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    if (x.NumElements() == 0) return;
    OP_REQUIRES_OK(ctx, functor::Gaaf<Device, T>::Forward(
                            ctx, MakeProblem<ComputeType<T>>(), x, y));
  }
};

template <typename Device, typename T>
class GaafGradOp : public GaafKernel {
 public:
  using GaafKernel::GaafKernel;

  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    OP_REQUIRES_OK(ctx, CheckDyShape("gaaf gradient", dy, x));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &dx));
    if (x.NumElements() == 0) return;
    OP_REQUIRES_OK(ctx, functor::Gaaf<Device, T>::Backward(
                            ctx, MakeProblem<ComputeType<T>>(), x, dy, dx));
  }
};

#define TFA_REGISTER(T)                                                  \
  TFA_REGISTER_KERNEL("TfApprox>Gaaf", GaafOp, KernelDevice, T);         \
  TFA_REGISTER_KERNEL("TfApprox>GaafGrad", GaafGradOp, KernelDevice, T);
TFA_FOR_EACH_FLOAT_TYPE(TFA_REGISTER)
#undef TFA_REGISTER

}  // namespace
}  // namespace tf_approx
