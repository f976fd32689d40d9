// CPU kernels of TfApprox>Pau and TfApprox>PauGrad.
//
// The kernels validate the inputs, lay the coefficients out as pau_cpu.h
// expects, and shard rows over TensorFlow's intra-op pool. The gradient is
// split into chunks fixed by the shapes alone, each chunk's coefficient sums
// go to their own slot, and the slots are added in order: the result does
// not depend on the number of threads. Half types are converted to float32.
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/common/cpu_vector.h"
#include "cc/common/kernel_util.h"
#include "cc/pau/pau_cpu.h"
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
using ::tensorflow::TensorShape;

// Gradient chunks: about kChunkElements elements each (DeterministicRowSums).
constexpr int64_t kChunkElements = 16384;

// The attrs shared by both ops.
struct Attrs {
  pau::Denominator denominator = pau::Denominator::kSafe;
  float alpha = 0;

  explicit Attrs(OpKernelConstruction* ctx) {
    std::string kind;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("denominator_kind", &kind));
    OP_REQUIRES(ctx, pau::ParseDenominator(kind.c_str(), &denominator),
                absl::InvalidArgumentError(absl::StrCat(
                    "pau: unknown `denominator_kind` '", kind, "'")));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("randomized", &alpha));
    OP_REQUIRES(
        ctx, std::isfinite(alpha) && alpha >= 0,
        absl::InvalidArgumentError(absl::StrCat(
            "pau: `randomized` must be a finite alpha >= 0, got ", alpha)));
  }
};

// A Problem and the coefficient table it points into.
template <typename C>
struct Setup {
  pau::Problem<C> problem;
  std::vector<C> table;
  bool per_channel = false;
};

// Validates x and the coefficients and fills `setup`.
template <typename T>
absl::Status MakeSetup(const Attrs& attrs, const Tensor& x,
                       const Tensor& numerator, const Tensor& denominator,
                       const Tensor& seed, Setup<ComputeType<T>>* setup) {
  using C = ComputeType<T>;
  const int rank = numerator.dims();
  if (rank < 1 || rank > 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pau: `numerator` must have shape [m + 1] or [channels, m + 1], got ",
        numerator.shape().DebugString()));
  }
  if (denominator.dims() != rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pau: `denominator` must have rank ", rank,
        " like `numerator` (shared: [n], per channel: [channels, n]), got ",
        denominator.shape().DebugString()));
  }
  const int64_t num_count = numerator.dim_size(rank - 1);
  const int64_t den_count = denominator.dim_size(rank - 1);
  if (num_count < 2 || num_count > pau::kMaxOrder + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pau: `numerator` must have 2 to ", pau::kMaxOrder + 1,
                     " coefficients a_0..a_m, got ", num_count));
  }
  if (den_count < 1 || den_count > pau::kMaxOrder) {
    return absl::InvalidArgumentError(
        absl::StrCat("pau: `denominator` must have 1 to ", pau::kMaxOrder,
                     " coefficients b_1..b_n, got ", den_count));
  }
  setup->per_channel = rank == 2;
  int64_t channels = 1;
  if (setup->per_channel) {
    channels = numerator.dim_size(0);
    if (x.dims() < 1 || x.dim_size(x.dims() - 1) != channels ||
        denominator.dim_size(0) != channels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pau: per-channel `numerator` ", numerator.shape().DebugString(),
          " and `denominator` ", denominator.shape().DebugString(),
          " must have as many rows as `x` ", x.shape().DebugString(),
          " has channels in its last axis"));
    }
  }
  pau::Problem<C>& p = setup->problem;
  TF_RETURN_IF_ERROR(NoiseKeyFromSeed("pau", seed, &p.key));
  p.m = static_cast<int>(num_count - 1);
  p.n = static_cast<int>(den_count);
  p.denominator = attrs.denominator;
  p.size = x.NumElements();
  p.width = setup->per_channel ? channels : kLanes<C>;
  const int count = p.NumCoefficients();
  setup->table.assign(count * p.width, C(0));
  const T* a = numerator.flat<T>().data();
  const T* b = denominator.flat<T>().data();
  double largest = 0;
  for (int64_t c = 0; c < p.width; ++c) {
    const int64_t set = setup->per_channel ? c : 0;
    for (int j = 0; j < count; ++j) {
      const C value = static_cast<C>(j <= p.m ? a[set * (p.m + 1) + j]
                                              : b[set * p.n + (j - p.m - 1)]);
      setup->table[j * p.width + c] = value;
      largest = std::max(largest, std::fabs(static_cast<double>(value)));
      if (std::isnan(value)) largest = NAN;
    }
  }
  p.coefficients = setup->table.data();
  p.randomized = attrs.alpha > 0;
  p.alpha = static_cast<C>(attrs.alpha);
  p.far = pau::FarRadius<C>(largest * (1.0 + attrs.alpha), p.m, p.n);
  return absl::OkStatus();
}

// Cycles per element, for Eigen's cost model.
template <typename C>
double CyclesPerElement(const pau::Problem<C>& p, bool backward) {
  const double ops = (backward ? 5.0 : 2.5) * p.NumCoefficients() +
                     (p.randomized ? 6.0 * p.NumCoefficients() : 0);
  return ops / kLanes<C>;
}

template <typename T>
class PauOp : public OpKernel {
 public:
  explicit PauOp(OpKernelConstruction* ctx) : OpKernel(ctx), attrs_(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
    const Tensor& x = ctx->input(0);
    Setup<C> setup;
    OP_REQUIRES_OK(ctx, MakeSetup<T>(attrs_, x, ctx->input(1), ctx->input(2),
                                     ctx->input(3), &setup));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    const pau::Problem<C>& p = setup.problem;
    if (p.size == 0) return;
    ComputeInput<T> in;
    ComputeOutput<T> out;
    OP_REQUIRES_OK(ctx, in.Init(ctx, x));
    OP_REQUIRES_OK(ctx, out.Init(ctx, y));
    const Eigen::TensorOpCost cost(sizeof(T) * p.width, sizeof(T) * p.width,
                                   CyclesPerElement(p, false) * p.width);
    ParallelFor(ctx, p.Rows(), cost, [&](int64_t begin, int64_t end) {
      pau::Forward(p, in.data(), out.data(), begin, end);
    });
    out.Finish();
  }

 private:
  Attrs attrs_;
};

template <typename T>
class PauGradOp : public OpKernel {
 public:
  explicit PauGradOp(OpKernelConstruction* ctx) : OpKernel(ctx), attrs_(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    const Tensor& numerator = ctx->input(2);
    const Tensor& denominator = ctx->input(3);
    OP_REQUIRES(
        ctx, dy.shape() == x.shape(),
        absl::InvalidArgumentError(absl::StrCat(
            "pau gradient: `dy` must have the shape of `x`, ",
            x.shape().DebugString(), ", got ", dy.shape().DebugString())));
    Setup<C> setup;
    OP_REQUIRES_OK(ctx, MakeSetup<T>(attrs_, x, numerator, denominator,
                                     ctx->input(4), &setup));
    const pau::Problem<C>& p = setup.problem;

    ComputeInput<T> x_in, dy_in;
    OP_REQUIRES_OK(ctx, x_in.Init(ctx, x));
    OP_REQUIRES_OK(ctx, dy_in.Init(ctx, dy));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &dx));
    ComputeOutput<T> dx_out;
    OP_REQUIRES_OK(ctx, dx_out.Init(ctx, dx));

    const int64_t slot = static_cast<int64_t>(p.NumCoefficients()) * p.width;
    const Eigen::TensorOpCost row_cost(2 * sizeof(T) * p.width,
                                       sizeof(T) * p.width,
                                       CyclesPerElement(p, true) * p.width);
    const std::vector<double> total = DeterministicRowSums<double>(
        ctx, p.Rows(), kChunkElements / std::max<int64_t>(1, p.width), slot,
        row_cost, [&](int64_t row_begin, int64_t row_end, double* sums) {
          pau::Backward(p, x_in.data(), dy_in.data(), dx_out.data(), row_begin,
                        row_end, sums);
        });
    dx_out.Finish();

    Tensor* dnum = nullptr;
    Tensor* dden = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, numerator.shape(), &dnum));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, denominator.shape(), &dden));
    T* dnum_out = dnum->flat<T>().data();
    T* dden_out = dden->flat<T>().data();
    const int count = p.NumCoefficients();
    for (int j = 0; j < count; ++j) {
      const double* row = total.data() + j * p.width;
      if (setup.per_channel) {
        for (int64_t c = 0; c < p.width; ++c) {
          const T value = static_cast<T>(row[c]);
          if (j <= p.m) {
            dnum_out[c * (p.m + 1) + j] = value;
          } else {
            dden_out[c * p.n + (j - p.m - 1)] = value;
          }
        }
      } else {
        double sum = 0;
        for (int64_t c = 0; c < p.width; ++c) sum += row[c];
        (j <= p.m ? dnum_out[j] : dden_out[j - p.m - 1]) = static_cast<T>(sum);
      }
    }
  }

 private:
  Attrs attrs_;
};

#define TFA_REGISTER_CPU(T)                                     \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>Pau")                  \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          PauOp<T>);                            \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>PauGrad")              \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          PauGradOp<T>);

TFA_REGISTER_CPU(Eigen::half);
TFA_REGISTER_CPU(Eigen::bfloat16);
TFA_REGISTER_CPU(float);
TFA_REGISTER_CPU(double);

#undef TFA_REGISTER_CPU

}  // namespace
}  // namespace tf_approx
