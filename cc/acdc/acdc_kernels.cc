// CPU kernels of TfApprox>Acdc, TfApprox>AcdcGrad and TfApprox>Dct.
//
// Rows are sharded over TensorFlow's intra-op pool in units of
// acdc::RowsPerUnit rows (a vector of rows). The DCT tables of a length
// are built once per kernel and kept. The gradient splits the rows into
// chunks fixed by the shapes alone, each chunk's parameter sums go to their
// own slot, and the slots are added in order: the result does not depend on
// the thread count. Half types are computed in float32.
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>  // NOLINT: std::mutex guards a per-kernel cache
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/acdc/acdc_cpu.h"
#include "cc/common/cpu_vector.h"
#include "cc/common/kernel_util.h"
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

// The tables of every length a kernel has seen, built once.
template <typename C>
class PlanCache {
 public:
  std::shared_ptr<const acdc::PlanTables<C>> Get(int64_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& tables = tables_[n];
    if (tables == nullptr) tables = std::make_shared<acdc::PlanTables<C>>(n);
    return tables;
  }

 private:
  std::mutex mu_;
  std::map<int64_t, std::shared_ptr<const acdc::PlanTables<C>>> tables_;
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

template <typename T>
class AcdcOp : public OpKernel {
 public:
  explicit AcdcOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
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
    ComputeInput<T> x_in, a_in, d_in, bias_in;
    OP_REQUIRES_OK(ctx, x_in.Init(ctx, x));
    OP_REQUIRES_OK(ctx, a_in.Init(ctx, ctx->input(1)));
    OP_REQUIRES_OK(ctx, d_in.Init(ctx, ctx->input(2)));
    OP_REQUIRES_OK(ctx, bias_in.Init(ctx, ctx->input(3)));
    ComputeOutput<T> out;
    OP_REQUIRES_OK(ctx, out.Init(ctx, y));
    const auto tables = plans_.Get(n);
    acdc::AcdcProblem<C> p;
    p.plan = tables->plan();
    p.a = a_in.data();
    p.d = d_in.data();
    p.bias = bias_in.data();
    ForEachRowRange(ctx, p.plan, x.NumElements() / n, 2,
                    [&](int64_t begin, int64_t end) {
                      acdc::AcdcForward(p, x_in.data(), out.data(), begin, end);
                    });
    out.Finish();
  }

 private:
  PlanCache<ComputeType<T>> plans_;
};

// Rows per gradient chunk: about kChunkElements elements, whole units, and
// at most kMaxSumChunks chunks.
constexpr int64_t kChunkElements = 65536;

int64_t ChunkRows(int64_t rows, int64_t n, int64_t unit) {
  int64_t chunk = std::max<int64_t>(1, kChunkElements / n);
  chunk = std::max(chunk, (rows + kMaxSumChunks - 1) / kMaxSumChunks);
  return (chunk + unit - 1) / unit * unit;
}

template <typename T>
class AcdcGradOp : public OpKernel {
 public:
  explicit AcdcGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
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
    const int64_t rows = n == 0 ? 0 : x.NumElements() / n;
    std::vector<double> total(3 * n, 0.0);
    if (rows > 0) {
      ComputeInput<T> dy_in, x_in, a_in, d_in;
      OP_REQUIRES_OK(ctx, dy_in.Init(ctx, dy));
      OP_REQUIRES_OK(ctx, x_in.Init(ctx, x));
      OP_REQUIRES_OK(ctx, a_in.Init(ctx, ctx->input(2)));
      OP_REQUIRES_OK(ctx, d_in.Init(ctx, ctx->input(3)));
      ComputeOutput<T> dx_out;
      OP_REQUIRES_OK(ctx, dx_out.Init(ctx, dx));
      const auto tables = plans_.Get(n);
      acdc::AcdcProblem<C> p;
      p.plan = tables->plan();
      p.a = a_in.data();
      p.d = d_in.data();
      const int64_t unit = acdc::RowsPerUnit(n, sizeof(C) == 8);
      const Eigen::TensorOpCost row_cost(sizeof(C) * 2 * n, sizeof(C) * n,
                                         UnitCycles(p.plan, 3) / unit);
      total = DeterministicRowSums<C>(
          ctx, rows, ChunkRows(rows, n, unit), 3 * n, row_cost,
          [&](int64_t begin, int64_t end, C* sums) {
            acdc::AcdcBackward(p, dy_in.data(), x_in.data(), dx_out.data(),
                               begin, end, sums);
          });
      dx_out.Finish();
    }
    for (int i = 0; i < 3; ++i) {
      T* out = dparams[i]->flat<T>().data();
      for (int64_t j = 0; j < n; ++j) {
        out[j] = static_cast<T>(total[i * n + j]);
      }
    }
  }

 private:
  PlanCache<ComputeType<T>> plans_;
};

template <typename T>
class DctOp : public OpKernel {
 public:
  explicit DctOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("inverse", &inverse_));
  }

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
    const Tensor& x = ctx->input(0);
    int64_t n = 0;
    OP_REQUIRES_OK(ctx, CheckX(x, "dct", &n));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    if (x.NumElements() == 0) return;
    ComputeInput<T> x_in;
    OP_REQUIRES_OK(ctx, x_in.Init(ctx, x));
    ComputeOutput<T> out;
    OP_REQUIRES_OK(ctx, out.Init(ctx, y));
    const auto tables = plans_.Get(n);
    const acdc::Plan<C> plan = tables->plan();
    ForEachRowRange(
        ctx, plan, x.NumElements() / n, 1, [&](int64_t begin, int64_t end) {
          acdc::Dct(plan, inverse_, x_in.data(), out.data(), begin, end);
        });
    out.Finish();
  }

 private:
  bool inverse_ = false;
  PlanCache<ComputeType<T>> plans_;
};

#define TFA_REGISTER_CPU(T)                                     \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>Acdc")                 \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          AcdcOp<T>);                           \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>AcdcGrad")             \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          AcdcGradOp<T>);                       \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>Dct")                  \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          DctOp<T>);

TFA_REGISTER_CPU(Eigen::half);
TFA_REGISTER_CPU(Eigen::bfloat16);
TFA_REGISTER_CPU(float);
TFA_REGISTER_CPU(double);

#undef TFA_REGISTER_CPU

}  // namespace
}  // namespace tf_approx
