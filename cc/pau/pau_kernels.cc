// Kernels of TfApprox>Pau and TfApprox>PauGrad: validate the attrs and
// shapes and call functor::Pau<Device, T>. Compiled twice: into the op
// library with the CPU functor, which reads the seed and the coefficients on
// the host, lays the coefficients out as pau_cpu.h expects and shards rows
// over TensorFlow's intra-op pool (the gradient split into chunks fixed by
// the shapes alone, each chunk's coefficient sums in their own slot, the
// slots added in order: the result does not depend on the number of
// threads); and with GOOGLE_CUDA=1 into the GPU kernel library with the GPU
// functor (the pau_gpu.cu.cc launchers), which reads nothing back from the
// device. Half types are computed in float32.
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/common/device.h"
#include "cc/common/kernel_util.h"
#include "cc/pau/pau.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/register_types.h"
#include "tensorflow/core/framework/tensor.h"
#include "unsupported/Eigen/CXX11/Tensor"
#if GOOGLE_CUDA
#include "cc/pau/pau_gpu.h"
#else
#include "cc/common/cpu_vector.h"
#include "cc/pau/pau_cpu.h"
#endif

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

// The orders and layout read from the shapes.
struct Shapes {
  int m = 5;
  int n = 4;
  bool per_channel = false;
  int64_t channels = 1;  // per channel: x's last axis
};

// Validates the shapes of x, the coefficients and the seed (the values are
// the functors' business).
absl::Status CheckShapes(const Tensor& x, const Tensor& numerator,
                         const Tensor& denominator, const Tensor& seed,
                         Shapes* shapes) {
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
  shapes->per_channel = rank == 2;
  shapes->channels = 1;
  if (shapes->per_channel) {
    shapes->channels = numerator.dim_size(0);
    if (x.dims() < 1 || x.dim_size(x.dims() - 1) != shapes->channels ||
        denominator.dim_size(0) != shapes->channels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pau: per-channel `numerator` ", numerator.shape().DebugString(),
          " and `denominator` ", denominator.shape().DebugString(),
          " must have as many rows as `x` ", x.shape().DebugString(),
          " has channels in its last axis"));
    }
  }
  if (seed.dims() != 1 ||
      (seed.NumElements() != 2 && seed.NumElements() != 3)) {
    // NoiseKeyFromSeed's message (the CPU functor reads the values with it).
    NoiseKey unused;
    return NoiseKeyFromSeed("pau", seed, &unused);
  }
  shapes->m = static_cast<int>(num_count - 1);
  shapes->n = static_cast<int>(den_count);
  return absl::OkStatus();
}

// The inputs of one op call, shapes checked.
struct Inputs {
  const Attrs* attrs;
  Shapes shapes;
  const Tensor* x;
  const Tensor* numerator;
  const Tensor* denominator;
  const Tensor* seed;
};

namespace functor {

template <typename Device, typename T>
struct Pau;

#if GOOGLE_CUDA
// Reads nothing back from the device: the threads read the coefficients and
// the seed themselves (pau_gpu.h).
template <typename T>
struct Pau<GPUDevice, T> {
  using C = ComputeType<T>;

  static pau::GpuProblem<GpuType<T>> Problem(const Inputs& in) {
    pau::GpuProblem<GpuType<T>> p;
    p.m = in.shapes.m;
    p.n = in.shapes.n;
    p.denominator = in.attrs->denominator;
    p.size = in.x->NumElements();
    p.channels = in.shapes.per_channel ? in.shapes.channels : 0;
    p.alpha = in.attrs->alpha;
    p.numerator = GpuData<T>(*in.numerator);
    p.denominator_b = GpuData<T>(*in.denominator);
    p.seed = in.seed->flat<int64_t>().data();
    p.seed_count = static_cast<int>(in.seed->NumElements());
    return p;
  }

  static absl::Status Forward(OpKernelContext* ctx, const Inputs& in,
                              Tensor* y) {
    if (in.x->NumElements() == 0) return absl::OkStatus();
    return LaunchStatus("pau", pau::LaunchForward(StreamOf(ctx), Problem(in),
                                                  GpuData<T>(*in.x),
                                                  GpuData<T>(y)));
  }

  static absl::Status Backward(OpKernelContext* ctx, const Inputs& in,
                               const Tensor& dy, Tensor* dx, Tensor* dnum,
                               Tensor* dden) {
    // Per channel with no channels: every output is empty.
    if (dnum->NumElements() == 0) return absl::OkStatus();
    const auto p = Problem(in);
    Tensor partial, total;
    TF_RETURN_IF_ERROR(ctx->allocate_temp(
        ::tensorflow::DataTypeToEnum<C>::value,
        TensorShape({std::max<int64_t>(
            1, p.Chunks() * p.NumCoefficients() * p.Lanes())}),
        &partial));
    TF_RETURN_IF_ERROR(ctx->allocate_temp(
        ::tensorflow::DT_DOUBLE,
        TensorShape({p.NumCoefficients() * p.Lanes()}), &total));
    return LaunchStatus(
        "pau gradient",
        pau::LaunchBackward(StreamOf(ctx), p, GpuData<T>(*in.x),
                            GpuData<T>(dy), GpuData<T>(dx), GpuData<T>(dnum),
                            GpuData<T>(dden), partial.flat<C>().data(),
                            total.flat<double>().data()));
  }
};
#else
// A Problem and the coefficient table it points into.
template <typename C>
struct Setup {
  pau::Problem<C> problem;
  std::vector<C> table;
  bool per_channel = false;
};

// Reads the seed and the coefficients and fills `setup`.
template <typename T>
absl::Status MakeSetup(const Inputs& in, Setup<ComputeType<T>>* setup) {
  using C = ComputeType<T>;
  setup->per_channel = in.shapes.per_channel;
  pau::Problem<C>& p = setup->problem;
  TF_RETURN_IF_ERROR(NoiseKeyFromSeed("pau", *in.seed, &p.key));
  p.m = in.shapes.m;
  p.n = in.shapes.n;
  p.denominator = in.attrs->denominator;
  p.size = in.x->NumElements();
  p.width = setup->per_channel ? in.shapes.channels : kLanes<C>;
  const int count = p.NumCoefficients();
  setup->table.assign(count * p.width, C(0));
  const T* a = in.numerator->flat<T>().data();
  const T* b = in.denominator->flat<T>().data();
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
  p.randomized = in.attrs->alpha > 0;
  p.alpha = static_cast<C>(in.attrs->alpha);
  p.far = pau::FarRadius<C>(largest * (1.0 + in.attrs->alpha), p.m, p.n);
  return absl::OkStatus();
}

// Cycles per element, for Eigen's cost model.
template <typename C>
double CyclesPerElement(const pau::Problem<C>& p, bool backward) {
  const double ops = (backward ? 5.0 : 2.5) * p.NumCoefficients() +
                     (p.randomized ? 6.0 * p.NumCoefficients() : 0);
  return ops / kLanes<C>;
}

// The pau_cpu.cc loops, rows sharded over the intra-op pool; the gradient's
// chunks fixed by the shapes alone (DeterministicRowSums).
template <typename T>
struct Pau<CPUDevice, T> {
  using C = ComputeType<T>;

  static absl::Status Forward(OpKernelContext* ctx, const Inputs& inputs,
                              Tensor* y) {
    constexpr const char* kOp = "pau";
    Setup<C> setup;
    TF_RETURN_IF_ERROR(MakeSetup<T>(inputs, &setup));
    const pau::Problem<C>& p = setup.problem;
    if (p.size == 0) return absl::OkStatus();
    ComputeInput<CPUDevice, T> in;
    ComputeOutput<CPUDevice, T> out;
    TF_RETURN_IF_ERROR(in.Init(ctx, kOp, *inputs.x));
    TF_RETURN_IF_ERROR(out.Init(ctx, y));
    const Eigen::TensorOpCost cost(sizeof(T) * p.width, sizeof(T) * p.width,
                                   CyclesPerElement(p, false) * p.width);
    ParallelFor(ctx, p.Rows(), cost, [&](int64_t begin, int64_t end) {
      pau::Forward(p, in.data(), out.data(), begin, end);
    });
    TF_RETURN_IF_ERROR(out.Finish(ctx, kOp));
    return absl::OkStatus();
  }

  static absl::Status Backward(OpKernelContext* ctx, const Inputs& inputs,
                               const Tensor& dy, Tensor* dx, Tensor* dnum,
                               Tensor* dden) {
    constexpr const char* kOp = "pau gradient";
    Setup<C> setup;
    TF_RETURN_IF_ERROR(MakeSetup<T>(inputs, &setup));
    const pau::Problem<C>& p = setup.problem;
    ComputeInput<CPUDevice, T> x_in, dy_in;
    TF_RETURN_IF_ERROR(x_in.Init(ctx, kOp, *inputs.x));
    TF_RETURN_IF_ERROR(dy_in.Init(ctx, kOp, dy));
    ComputeOutput<CPUDevice, T> dx_out;
    TF_RETURN_IF_ERROR(dx_out.Init(ctx, dx));

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
    TF_RETURN_IF_ERROR(dx_out.Finish(ctx, kOp));

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
    return absl::OkStatus();
  }
};
#endif  // GOOGLE_CUDA

}  // namespace functor

template <typename Device, typename T>
class PauOp : public OpKernel {
 public:
  explicit PauOp(OpKernelConstruction* ctx) : OpKernel(ctx), attrs_(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    Inputs in{&attrs_, {}, &x, &ctx->input(1), &ctx->input(2),
              &ctx->input(3)};
    OP_REQUIRES_OK(ctx, CheckShapes(x, *in.numerator, *in.denominator,
                                    *in.seed, &in.shapes));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    OP_REQUIRES_OK(ctx, functor::Pau<Device, T>::Forward(ctx, in, y));
  }

 private:
  Attrs attrs_;
};

template <typename Device, typename T>
class PauGradOp : public OpKernel {
 public:
  explicit PauGradOp(OpKernelConstruction* ctx) : OpKernel(ctx), attrs_(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    OP_REQUIRES_OK(ctx, CheckDyShape("pau gradient", dy, x));
    Inputs in{&attrs_, {}, &x, &ctx->input(2), &ctx->input(3),
              &ctx->input(4)};
    OP_REQUIRES_OK(ctx, CheckShapes(x, *in.numerator, *in.denominator,
                                    *in.seed, &in.shapes));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &dx));
    Tensor* dnum = nullptr;
    Tensor* dden = nullptr;
    OP_REQUIRES_OK(ctx,
                   ctx->allocate_output(1, in.numerator->shape(), &dnum));
    OP_REQUIRES_OK(ctx,
                   ctx->allocate_output(2, in.denominator->shape(), &dden));
    OP_REQUIRES_OK(
        ctx, functor::Pau<Device, T>::Backward(ctx, in, dy, dx, dnum, dden));
  }

 private:
  Attrs attrs_;
};

#define TFA_REGISTER(T)                                                \
  TFA_REGISTER_KERNEL("TfApprox>Pau", PauOp, KernelDevice, T);         \
  TFA_REGISTER_KERNEL("TfApprox>PauGrad", PauGradOp, KernelDevice, T);
TFA_FOR_EACH_FLOAT_TYPE(TFA_REGISTER)
#undef TFA_REGISTER

}  // namespace
}  // namespace tf_approx
