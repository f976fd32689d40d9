// Kernels of TfApprox>Acdc, TfApprox>AcdcGrad and TfApprox>Dct: validate the
// shapes on the host and call functor::Acdc<Device, T> and
// functor::Dct<Device, T>. Built into the op library with the CPU functors,
// and compiled a second time with GOOGLE_CUDA=1 into the GPU kernel library
// with the GPU functors (the acdc_gpu.cu.cc launchers; the half types
// through float32 buffers).
//
// The DCT tables of a length are built on the host once per kernel and kept
// (PlanCache; on a GPU, copied to device memory once). The CPU functors
// shard rows over TensorFlow's intra-op pool in
// units of acdc::RowsPerUnit rows (a vector of rows). The gradient splits the
// rows into chunks fixed by the shapes alone, each chunk's parameter sums go
// to their own slot, and the slots are added in order: the result does not
// depend on the thread count. Half types are computed in float32.
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>  // NOLINT: std::mutex guards a per-kernel cache
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/acdc/acdc.h"
#include "cc/common/device.h"
#include "cc/common/kernel_util.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/register_types.h"
#include "tensorflow/core/framework/tensor.h"
#include "unsupported/Eigen/CXX11/Tensor"
#if GOOGLE_CUDA
#include "cc/acdc/acdc_gpu.h"
#else
#include "cc/acdc/acdc_cpu.h"
#include "cc/common/cpu_vector.h"
#endif

namespace tf_approx {
namespace {

using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;

// The tables of every length a kernel has seen, built once on the host and
// kept (on a GPU, in device memory, copied once on the op's stream).
template <typename C>
class PlanCache {
 public:
  // *plan: the plan of rows of n, its tables kept as long as the cache.
  absl::Status Get(OpKernelContext* ctx, int64_t n, acdc::Plan<C>* plan) {
    std::lock_guard<std::mutex> lock(mu_);
    auto found = plans_.find(n);
    if (found == plans_.end()) {
      Entry entry;
      entry.host = std::make_unique<acdc::PlanTables<C>>(n);
      entry.plan = entry.host->plan();
#if GOOGLE_CUDA
      TF_RETURN_IF_ERROR(ctx->allocate_temp(
          ::tensorflow::DataTypeToEnum<C>::value,
          ::tensorflow::TensorShape({acdc::TableElements(entry.plan)}),
          &entry.device));
      TF_RETURN_IF_ERROR(LaunchStatus(
          "acdc", acdc::LaunchCopyPlan<C>(StreamOf(ctx), entry.host->plan(),
                                          entry.device.template flat<C>().data(),
                                          &entry.plan)));
#endif
      found = plans_.emplace(n, std::move(entry)).first;
    }
    *plan = found->second.plan;
    return absl::OkStatus();
  }

 private:
  struct Entry {
    std::unique_ptr<const acdc::PlanTables<C>> host;
    Tensor device;  // GPU: the tables, which `plan` points to
    acdc::Plan<C> plan;
  };

  std::mutex mu_;
  std::map<int64_t, Entry> plans_;
};

// Validates x (rank >= 1) and returns the length of its last axis.
absl::Status CheckX(const Tensor& x, const char* op, int64_t* n) {
  if (x.dims() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(op,
                     ": `x` must have rank >= 1 (the last axis is "
                     "transformed), got a scalar"));
  }
  *n = x.dim_size(x.dims() - 1);
  return absl::OkStatus();
}

absl::Status CheckVector(const Tensor& v, const char* name, int64_t n) {
  if (v.dims() != 1 || v.dim_size(0) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("acdc: `", name,
                     "` must be a vector of the length of the last axis "
                     "of `x`, [",
                     n, "], got ", v.shape().DebugString()));
  }
  return absl::OkStatus();
}

namespace functor {

// A call's Problem: the plan of n columns, and a, d and (where given) bias
// as ComputeType<T> on Device, their buffers held here for the call.
template <typename Device, typename T>
struct AcdcParameters {
  using C = ComputeType<T>;
  ComputeInput<Device, T> a, d, bias;
  acdc::Problem<C> p;

  absl::Status Init(OpKernelContext* ctx, const char* op,
                    PlanCache<C>* plans, int64_t n, const Tensor& a_tensor,
                    const Tensor& d_tensor, const Tensor* bias_tensor) {
    TF_RETURN_IF_ERROR(a.Init(ctx, op, a_tensor));
    TF_RETURN_IF_ERROR(d.Init(ctx, op, d_tensor));
    if (bias_tensor != nullptr) {
      TF_RETURN_IF_ERROR(bias.Init(ctx, op, *bias_tensor));
      p.bias = bias.data();
    }
    TF_RETURN_IF_ERROR(plans->Get(ctx, n, &p.plan));
    p.a = a.data();
    p.d = d.data();
    return absl::OkStatus();
  }
};

template <typename Device, typename T>
struct Acdc;

template <typename Device, typename T>
struct Dct;

#if GOOGLE_CUDA
// The acdc_gpu.cu.cc kernels on the op's stream: a row a thread block.
template <typename T>
struct Acdc<GPUDevice, T> {
  using C = ComputeType<T>;

  // The scratch `launch` needs for `rows` rows of n columns.
  static absl::Status Scratch(OpKernelContext* ctx,
                              const acdc::RowLaunch& launch, int64_t rows,
                              int64_t n, bool gradient, Tensor* scratch) {
    return ctx->allocate_temp(
        ::tensorflow::DataTypeToEnum<C>::value,
        ::tensorflow::TensorShape(
            {acdc::ScratchElements(launch, rows, n, gradient)}),
        scratch);
  }

  // y = Acdc(x) for x of n columns (n > 0, x not empty).
  static absl::Status Forward(OpKernelContext* ctx, PlanCache<C>* plans,
                              int64_t n, const Tensor& x, const Tensor& a,
                              const Tensor& d, const Tensor& bias, Tensor* y) {
    constexpr const char* kOp = "acdc";
    ComputeInput<GPUDevice, T> x_in;
    TF_RETURN_IF_ERROR(x_in.Init(ctx, kOp, x));
    AcdcParameters<GPUDevice, T> params;
    TF_RETURN_IF_ERROR(params.Init(ctx, kOp, plans, n, a, d, &bias));
    const acdc::Problem<C>& p = params.p;
    ComputeOutput<GPUDevice, T> out;
    TF_RETURN_IF_ERROR(out.Init(ctx, y));
    const int64_t rows = x.NumElements() / n;
    const acdc::RowLaunch launch = acdc::PlanRows(p.plan, rows, false);
    Tensor scratch;
    TF_RETURN_IF_ERROR(Scratch(ctx, launch, rows, n, false, &scratch));
    TF_RETURN_IF_ERROR(LaunchStatus(
        kOp, acdc::LaunchAcdc<C>(StreamOf(ctx), p, rows, launch, x_in.data(),
                                 out.data(), scratch.flat<C>().data())));
    return out.Finish(ctx, kOp);
  }

  // dx, and the gradients of a, d and bias (dparams, [n] each; zero when x
  // has no rows).
  static absl::Status Backward(OpKernelContext* ctx, PlanCache<C>* plans,
                               int64_t n, const Tensor& dy, const Tensor& x,
                               const Tensor& a, const Tensor& d, Tensor* dx,
                               Tensor* const dparams[3]) {
    constexpr const char* kOp = "acdc gradient";
    if (n == 0) return absl::OkStatus();  // every output is empty
    ComputeInput<GPUDevice, T> dy_in, x_in;
    TF_RETURN_IF_ERROR(dy_in.Init(ctx, kOp, dy));
    TF_RETURN_IF_ERROR(x_in.Init(ctx, kOp, x));
    AcdcParameters<GPUDevice, T> params;
    TF_RETURN_IF_ERROR(params.Init(ctx, kOp, plans, n, a, d, nullptr));
    const acdc::Problem<C>& p = params.p;
    ComputeOutput<GPUDevice, T> outs[4];
    TF_RETURN_IF_ERROR(outs[0].Init(ctx, dx));
    for (int i = 0; i < 3; ++i)
      TF_RETURN_IF_ERROR(outs[1 + i].Init(ctx, dparams[i]));
    const int64_t rows = x.NumElements() / n;
    const acdc::RowLaunch launch = acdc::PlanRows(p.plan, rows, true);
    Tensor scratch;
    TF_RETURN_IF_ERROR(Scratch(ctx, launch, rows, n, true, &scratch));
    acdc::AcdcGrads<C> grads;
    grads.da = outs[1].data();
    grads.dd = outs[2].data();
    grads.dbias = outs[3].data();
    TF_RETURN_IF_ERROR(LaunchStatus(
        kOp, acdc::LaunchAcdcGrad<C>(StreamOf(ctx), p, rows, launch,
                                     dy_in.data(), x_in.data(), outs[0].data(),
                                     scratch.flat<C>().data(), grads)));
    for (ComputeOutput<GPUDevice, T>& out : outs)
      TF_RETURN_IF_ERROR(out.Finish(ctx, kOp));
    return absl::OkStatus();
  }
};

// The orthonormal DCT-II (or, inverse, DCT-III) of rows of n, a row a
// thread block.
template <typename T>
struct Dct<GPUDevice, T> {
  using C = ComputeType<T>;

  // x of n columns (n > 0, x not empty).
  static absl::Status Compute(OpKernelContext* ctx, PlanCache<C>* plans,
                              bool inverse, int64_t n, const Tensor& x,
                              Tensor* y) {
    constexpr const char* kOp = "dct";
    ComputeInput<GPUDevice, T> x_in;
    TF_RETURN_IF_ERROR(x_in.Init(ctx, kOp, x));
    ComputeOutput<GPUDevice, T> out;
    TF_RETURN_IF_ERROR(out.Init(ctx, y));
    acdc::Plan<C> plan;
    TF_RETURN_IF_ERROR(plans->Get(ctx, n, &plan));
    const int64_t rows = x.NumElements() / n;
    const acdc::RowLaunch launch = acdc::PlanRows(plan, rows, false);
    Tensor scratch;
    TF_RETURN_IF_ERROR(Acdc<GPUDevice, T>::Scratch(ctx, launch, rows, n, false,
                                                   &scratch));
    TF_RETURN_IF_ERROR(LaunchStatus(
        kOp, acdc::LaunchDct<C>(StreamOf(ctx), plan, inverse, rows, launch,
                                x_in.data(), out.data(),
                                scratch.flat<C>().data())));
    return out.Finish(ctx, kOp);
  }
};
#else
// Cycles per unit of rows for Eigen's cost model: the FFTs (about five
// vector operations per butterfly) and the transposes.
template <typename C>
double UnitCycles(const acdc::Plan<C>& plan, int ffts) {
  const double m = static_cast<double>(plan.m);
  const double stages = std::max(1.0, std::log2(m));
  const double fft = (plan.bluestein() ? 2 : 1) * 5.0 * m / 2 * stages;
  return ffts * fft + 4.0 * plan.n * kLanes<C>;
}

// Runs fn(row_begin, row_end) over the rows in whole units.
template <typename C, typename Fn>
void ForEachRowRange(OpKernelContext* ctx, const acdc::Plan<C>& plan,
                     int64_t rows, int ffts, Fn&& fn) {
  const int64_t unit = acdc::RowsPerUnit(plan.n, sizeof(C) == 8);
  const int64_t units = (rows + unit - 1) / unit;
  const Eigen::TensorOpCost cost(sizeof(C) * plan.n * unit,
                                 sizeof(C) * plan.n * unit,
                                 UnitCycles(plan, ffts));
  ParallelFor(ctx, units, cost, [&](int64_t begin, int64_t end) {
    fn(begin * unit, std::min(rows, end * unit));
  });
}

// The acdc_cpu.cc loops, rows sharded over the intra-op pool; the gradient's
// chunks fixed by the shapes alone (DeterministicRowSums).
template <typename T>
struct Acdc<CPUDevice, T> {
  using C = ComputeType<T>;

  // y = Acdc(x) for x of n columns (n > 0, x not empty).
  static absl::Status Forward(OpKernelContext* ctx, PlanCache<C>* plans,
                              int64_t n, const Tensor& x, const Tensor& a,
                              const Tensor& d, const Tensor& bias, Tensor* y) {
    constexpr const char* kOp = "acdc";
    ComputeInput<CPUDevice, T> x_in;
    TF_RETURN_IF_ERROR(x_in.Init(ctx, kOp, x));
    AcdcParameters<CPUDevice, T> params;
    TF_RETURN_IF_ERROR(params.Init(ctx, kOp, plans, n, a, d, &bias));
    const acdc::Problem<C>& p = params.p;
    ComputeOutput<CPUDevice, T> out;
    TF_RETURN_IF_ERROR(out.Init(ctx, y));
    ForEachRowRange(ctx, p.plan, x.NumElements() / n, 2,
                    [&](int64_t begin, int64_t end) {
                      acdc::Forward(p, x_in.data(), out.data(), begin, end);
                    });
    TF_RETURN_IF_ERROR(out.Finish(ctx, kOp));
    return absl::OkStatus();
  }

  // dx, and the gradients of a, d and bias (dparams, [n] each; zero when x
  // has no rows).
  static absl::Status Backward(OpKernelContext* ctx, PlanCache<C>* plans,
                               int64_t n, const Tensor& dy, const Tensor& x,
                               const Tensor& a, const Tensor& d, Tensor* dx,
                               Tensor* const dparams[3]) {
    constexpr const char* kOp = "acdc gradient";
    const int64_t rows = n == 0 ? 0 : x.NumElements() / n;
    std::vector<double> total(3 * n, 0.0);
    if (rows > 0) {
      ComputeInput<CPUDevice, T> dy_in, x_in;
      TF_RETURN_IF_ERROR(dy_in.Init(ctx, kOp, dy));
      TF_RETURN_IF_ERROR(x_in.Init(ctx, kOp, x));
      AcdcParameters<CPUDevice, T> params;
      TF_RETURN_IF_ERROR(params.Init(ctx, kOp, plans, n, a, d, nullptr));
      const acdc::Problem<C>& p = params.p;
      ComputeOutput<CPUDevice, T> dx_out;
      TF_RETURN_IF_ERROR(dx_out.Init(ctx, dx));
      const int64_t unit = acdc::RowsPerUnit(n, sizeof(C) == 8);
      const Eigen::TensorOpCost row_cost(sizeof(C) * 2 * n, sizeof(C) * n,
                                         UnitCycles(p.plan, 3) / unit);
      total = DeterministicRowSums<C>(
          ctx, rows, acdc::ChunkRows(rows, n, unit), 3 * n, row_cost,
          [&](int64_t begin, int64_t end, C* sums) {
            acdc::Backward(p, dy_in.data(), x_in.data(), dx_out.data(), begin,
                           end, sums);
          });
      TF_RETURN_IF_ERROR(dx_out.Finish(ctx, kOp));
    }
    for (int i = 0; i < 3; ++i) {
      T* out = dparams[i]->flat<T>().data();
      for (int64_t j = 0; j < n; ++j) {
        out[j] = static_cast<T>(total[i * n + j]);
      }
    }
    return absl::OkStatus();
  }
};

// The orthonormal DCT-II (or, inverse, DCT-III) of rows of n, sharded as
// ACDC's.
template <typename T>
struct Dct<CPUDevice, T> {
  using C = ComputeType<T>;

  // x of n columns (n > 0, x not empty).
  static absl::Status Compute(OpKernelContext* ctx, PlanCache<C>* plans,
                              bool inverse, int64_t n, const Tensor& x,
                              Tensor* y) {
    constexpr const char* kOp = "dct";
    ComputeInput<CPUDevice, T> x_in;
    TF_RETURN_IF_ERROR(x_in.Init(ctx, kOp, x));
    ComputeOutput<CPUDevice, T> out;
    TF_RETURN_IF_ERROR(out.Init(ctx, y));
    acdc::Plan<C> plan;
    TF_RETURN_IF_ERROR(plans->Get(ctx, n, &plan));
    ForEachRowRange(
        ctx, plan, x.NumElements() / n, 1, [&](int64_t begin, int64_t end) {
          acdc::Dct(plan, inverse, x_in.data(), out.data(), begin, end);
        });
    TF_RETURN_IF_ERROR(out.Finish(ctx, kOp));
    return absl::OkStatus();
  }
};
#endif  // GOOGLE_CUDA

}  // namespace functor

template <typename Device, typename T>
class AcdcOp : public OpKernel {
 public:
  explicit AcdcOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    int64_t n = 0;
    OP_REQUIRES_OK(ctx, CheckX(x, "acdc", &n));
    const char* names[] = {"a", "d", "bias"};
    for (int i = 0; i < 3; ++i) {
      OP_REQUIRES_OK(ctx, CheckVector(ctx->input(1 + i), names[i], n));
    }
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    if (x.NumElements() == 0) return;
    OP_REQUIRES_OK(ctx, functor::Acdc<Device, T>::Forward(
                            ctx, &plans_, n, x, ctx->input(1), ctx->input(2),
                            ctx->input(3), y));
  }

 private:
  PlanCache<ComputeType<T>> plans_;
};

template <typename Device, typename T>
class AcdcGradOp : public OpKernel {
 public:
  explicit AcdcGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    int64_t n = 0;
    OP_REQUIRES_OK(ctx, CheckX(x, "acdc gradient", &n));
    OP_REQUIRES(
        ctx, dy.shape() == x.shape(),
        absl::InvalidArgumentError(absl::StrCat(
            "acdc gradient: `dy` must have the shape of `x`, ",
            x.shape().DebugString(), ", got ", dy.shape().DebugString())));
    OP_REQUIRES_OK(ctx, CheckVector(ctx->input(2), "a", n));
    OP_REQUIRES_OK(ctx, CheckVector(ctx->input(3), "d", n));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    Tensor* dparams[3];
    for (int i = 0; i < 3; ++i) {
      OP_REQUIRES_OK(
          ctx, ctx->allocate_output(1 + i, ctx->input(2).shape(), &dparams[i]));
    }
    OP_REQUIRES_OK(ctx, functor::Acdc<Device, T>::Backward(
                            ctx, &plans_, n, dy, x, ctx->input(2),
                            ctx->input(3), dx, dparams));
  }

 private:
  PlanCache<ComputeType<T>> plans_;
};

template <typename Device, typename T>
class DctOp : public OpKernel {
 public:
  explicit DctOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("inverse", &inverse_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    int64_t n = 0;
    OP_REQUIRES_OK(ctx, CheckX(x, "dct", &n));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    if (x.NumElements() == 0) return;
    OP_REQUIRES_OK(ctx, functor::Dct<Device, T>::Compute(ctx, &plans_,
                                                         inverse_, n, x, y));
  }

 private:
  bool inverse_ = false;
  PlanCache<ComputeType<T>> plans_;
};

#define TFA_REGISTER(T)                                                  \
  TFA_REGISTER_KERNEL("TfApprox>Acdc", AcdcOp, KernelDevice, T);         \
  TFA_REGISTER_KERNEL("TfApprox>AcdcGrad", AcdcGradOp, KernelDevice, T); \
  TFA_REGISTER_KERNEL("TfApprox>Dct", DctOp, KernelDevice, T);
TFA_FOR_EACH_FLOAT_TYPE(TFA_REGISTER)
#undef TFA_REGISTER

}  // namespace
}  // namespace tf_approx
