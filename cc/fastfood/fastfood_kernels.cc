// CPU kernels of TfApprox>FastWalshHadamard, TfApprox>Fastfood and
// TfApprox>FastfoodGrad.
//
// Validates x, then shards the transform over TensorFlow's intra-op pool:
// whole rows when there are enough of them (or they fit one block), otherwise
// (a few long rows) every block of every row in parallel and then every strip
// (fastfood_cpu.h), which splits the large strides of one row over threads.
// Half types are converted to float32 in a scratch buffer, transformed there
// in place, and converted back.
//
// Fastfood shards rows; its gradient splits the rows into chunks fixed by the
// shapes alone, each chunk's parameter sums go to their own slot, and the
// slots are added in order: the result does not depend on the thread count.
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/common/cpu_vector.h"
#include "cc/common/kernel_util.h"
#include "cc/fastfood/fastfood_cpu.h"
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

// Validates x and returns the length of its last axis.
absl::Status CheckInput(const Tensor& x, int64_t* d) {
  if (x.dims() == 0) {
    return absl::InvalidArgumentError(
        "fast_walsh_hadamard: `x` must have rank >= 1 (the last axis is "
        "transformed), got a scalar");
  }
  *d = x.dim_size(x.dims() - 1);
  if (!IsPowerOfTwo(*d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fast_walsh_hadamard: the last axis of `x` must be a power of two "
        "(1, 2, 4, ...), got ",
        *d, " (shape ", x.shape().DebugString(), ")"));
  }
  return absl::OkStatus();
}

// Cycles to transform n elements through `stages` stages, for Eigen's cost
// model: about one vector butterfly per cycle.
template <typename C>
double Cycles(int64_t n, int stages) {
  return static_cast<double>(n) * std::max(stages, 1) / kLanes<C>;
}

template <typename T>
class FastWalshHadamardOp : public OpKernel {
 public:
  explicit FastWalshHadamardOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("normalize", &normalize_));
  }

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
    const Tensor& x = ctx->input(0);
    int64_t d = 0;
    OP_REQUIRES_OK(ctx, CheckInput(x, &d));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    const int64_t size = x.NumElements();
    if (size == 0) return;
    const auto& device = ctx->eigen_device<Eigen::ThreadPoolDevice>();

    ComputeOutput<T> out;
    OP_REQUIRES_OK(ctx, out.Init(ctx, y));
    const C* src = nullptr;
    if constexpr (std::is_same<T, C>::value) {
      src = x.flat<T>().data();
    } else {
      Eigen::TensorMap<Eigen::Tensor<C, 1, Eigen::RowMajor>> scratch(out.data(),
                                                                     size);
      scratch.device(device) = x.flat<T>().template cast<C>();
      src = out.data();
    }
    C* dst = out.data();

    fastfood::FwhtLayout<C> layout;
    layout.d = d;
    layout.scale = normalize_ ? static_cast<C>(1.0 / std::sqrt(double(d))) : 1;
    const int64_t rows = size / d;
    const int stages = fastfood::Log2(d);
    const int threads =
        ctx->device()->tensorflow_cpu_worker_threads()->num_threads;
    if (!layout.HasStrips() || rows >= threads) {
      const Eigen::TensorOpCost cost(sizeof(C) * d, sizeof(C) * d,
                                     Cycles<C>(d, stages));
      ParallelFor(ctx, rows, cost, [&](int64_t begin, int64_t end) {
        fastfood::FwhtRows(layout, src, dst, begin, end);
      });
    } else {
      const int64_t block = layout.BlockSize();
      const int block_stages = fastfood::Log2(block);
      ParallelFor(ctx, size / block,
                  Eigen::TensorOpCost(sizeof(C) * block, sizeof(C) * block,
                                      Cycles<C>(block, block_stages)),
                  [&](int64_t begin, int64_t end) {
                    fastfood::FwhtBlocks(layout, src, dst, begin, end);
                  });
      const int64_t strip = size / (rows * layout.StripsPerRow());
      ParallelFor(ctx, rows * layout.StripsPerRow(),
                  Eigen::TensorOpCost(sizeof(C) * strip, sizeof(C) * strip,
                                      Cycles<C>(strip, stages - block_stages)),
                  [&](int64_t begin, int64_t end) {
                    fastfood::FwhtStrips(layout, dst, begin, end);
                  });
    }
    out.Finish();
  }

 private:
  bool normalize_ = false;
};

// Gradient chunks: about kChunkElements parameter-sized rows of work each
// (DeterministicRowSums).
constexpr int64_t kChunkElements = 65536;

// Validates the inputs of TfApprox>Fastfood (x at index `first`) and fills
// the shapes of `p` (the data pointers are set by the caller).
template <typename C>
absl::Status CheckFastfood(OpKernelContext* ctx, int first, int64_t units,
                           bool normalize, fastfood::FastfoodProblem<C>* p) {
  const Tensor& x = ctx->input(first);
  const Tensor& s = ctx->input(first + 1);
  if (x.dims() == 0) {
    return absl::InvalidArgumentError(
        "fastfood: `x` must have rank >= 1 (features in the last axis), got "
        "a scalar");
  }
  if (s.dims() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("fastfood: `s` must have shape [blocks, d], got ",
                     s.shape().DebugString()));
  }
  const char* names[] = {"g", "b", "permutation"};
  for (int i = 0; i < 3; ++i) {
    const Tensor& other = ctx->input(first + 2 + i);
    if (other.shape() != s.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fastfood: `", names[i], "` must have the shape of `s`, ",
          s.shape().DebugString(), ", got ", other.shape().DebugString()));
    }
  }
  const int64_t d = s.dim_size(1);
  if (!IsPowerOfTwo(d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fastfood: the last axis of `s` (the block size d) must be a power of "
        "two, got ",
        d));
  }
  const int64_t blocks = (units + d - 1) / d;
  if (s.dim_size(0) != blocks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fastfood: `s` must have ceil(units / d) = ", blocks,
        " rows (units = ", units, ", d = ", d, "), got ", s.dim_size(0)));
  }
  const int64_t n_in = x.dim_size(x.dims() - 1);
  if (n_in > d) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fastfood: the last axis of `x` must be at most the block size d = ", d,
        ", got ", n_in));
  }
  const auto perm = ctx->input(first + 4).flat<int32_t>();
  std::vector<bool> seen(d);
  for (int64_t k = 0; k < blocks; ++k) {
    seen.assign(d, false);
    for (int64_t i = 0; i < d; ++i) {
      const int32_t j = perm(k * d + i);
      if (j < 0 || j >= d || seen[j]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "fastfood: every row of `permutation` must be a permutation of 0.."
            "d-1 = ",
            d - 1, "; row ", k, " has ", j, " at ", i,
            j < 0 || j >= d ? " (out of range)" : " (repeated)"));
      }
      seen[j] = true;
    }
  }
  p->n_in = n_in;
  p->units = units;
  p->d = d;
  p->blocks = blocks;
  p->scale = normalize ? static_cast<C>(1.0 / std::sqrt(double(d))) : C(1);
  p->perm = perm.data();
  return absl::OkStatus();
}

// Cycles per row, for Eigen's cost model: two transforms and a few diagonal
// passes per block.
template <typename C>
double FastfoodCycles(const fastfood::FastfoodProblem<C>& p) {
  return p.blocks *
         (2 * Cycles<C>(p.d, fastfood::Log2(p.d)) + 8.0 * p.d / kLanes<C>);
}

template <typename T>
class FastfoodOp : public OpKernel {
 public:
  explicit FastfoodOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("units", &units_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("normalize", &normalize_));
  }

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
    fastfood::FastfoodProblem<C> p;
    OP_REQUIRES_OK(ctx, CheckFastfood(ctx, 0, units_, normalize_, &p));
    const Tensor& x = ctx->input(0);
    ::tensorflow::TensorShape shape = x.shape();
    shape.set_dim(shape.dims() - 1, units_);
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &y));
    const int64_t rows = shape.num_elements() / units_;
    if (rows == 0) return;
    ComputeInput<T> x_in, s_in, g_in, b_in;
    OP_REQUIRES_OK(ctx, x_in.Init(ctx, x));
    OP_REQUIRES_OK(ctx, s_in.Init(ctx, ctx->input(1)));
    OP_REQUIRES_OK(ctx, g_in.Init(ctx, ctx->input(2)));
    OP_REQUIRES_OK(ctx, b_in.Init(ctx, ctx->input(3)));
    p.s = s_in.data();
    p.g = g_in.data();
    p.b = b_in.data();
    ComputeOutput<T> out;
    OP_REQUIRES_OK(ctx, out.Init(ctx, y));
    const Eigen::TensorOpCost cost(sizeof(T) * p.n_in, sizeof(T) * p.units,
                                   FastfoodCycles(p));
    ParallelFor(ctx, rows, cost, [&](int64_t begin, int64_t end) {
      fastfood::FastfoodForward(p, x_in.data(), out.data(), begin, end);
    });
    out.Finish();
  }

 private:
  int64_t units_ = 1;
  bool normalize_ = false;
};

template <typename T>
class FastfoodGradOp : public OpKernel {
 public:
  explicit FastfoodGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("units", &units_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("normalize", &normalize_));
  }

  void Compute(OpKernelContext* ctx) override {
    using C = ComputeType<T>;
    fastfood::FastfoodProblem<C> p;
    OP_REQUIRES_OK(ctx, CheckFastfood(ctx, 1, units_, normalize_, &p));
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    ::tensorflow::TensorShape y_shape = x.shape();
    y_shape.set_dim(y_shape.dims() - 1, units_);
    OP_REQUIRES(
        ctx, dy.shape() == y_shape,
        absl::InvalidArgumentError(absl::StrCat(
            "fastfood gradient: `dy` must have shape ", y_shape.DebugString(),
            ", got ", dy.shape().DebugString())));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    Tensor* dparams[3];
    for (int i = 0; i < 3; ++i) {
      OP_REQUIRES_OK(
          ctx, ctx->allocate_output(1 + i, ctx->input(2).shape(), &dparams[i]));
    }
    const int64_t rows = y_shape.num_elements() / units_;
    ComputeInput<T> dy_in, x_in, s_in, g_in, b_in;
    OP_REQUIRES_OK(ctx, dy_in.Init(ctx, dy));
    OP_REQUIRES_OK(ctx, x_in.Init(ctx, x));
    OP_REQUIRES_OK(ctx, s_in.Init(ctx, ctx->input(2)));
    OP_REQUIRES_OK(ctx, g_in.Init(ctx, ctx->input(3)));
    OP_REQUIRES_OK(ctx, b_in.Init(ctx, ctx->input(4)));
    p.s = s_in.data();
    p.g = g_in.data();
    p.b = b_in.data();
    ComputeOutput<T> dx_out;
    OP_REQUIRES_OK(ctx, dx_out.Init(ctx, dx));

    const int64_t params = p.blocks * p.d;
    const Eigen::TensorOpCost row_cost(sizeof(T) * (p.n_in + p.units),
                                       sizeof(T) * p.n_in,
                                       2 * FastfoodCycles(p));
    const std::vector<double> total = DeterministicRowSums<C>(
        ctx, rows, kChunkElements / params, 3 * params, row_cost,
        [&](int64_t row_begin, int64_t row_end, C* sums) {
          fastfood::FastfoodBackward(p, dy_in.data(), x_in.data(),
                                     dx_out.data(), row_begin, row_end, sums);
        });
    dx_out.Finish();

    for (int i = 0; i < 3; ++i) {
      T* out = dparams[i]->flat<T>().data();
      for (int64_t j = 0; j < params; ++j)
        out[j] = static_cast<T>(total[i * params + j]);
    }
  }

 private:
  int64_t units_ = 1;
  bool normalize_ = false;
};

#define TFA_REGISTER_CPU(T)                                     \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>FastWalshHadamard")    \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          FastWalshHadamardOp<T>);              \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>Fastfood")             \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          FastfoodOp<T>);                       \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>FastfoodGrad")         \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          FastfoodGradOp<T>);

TFA_REGISTER_CPU(Eigen::half);
TFA_REGISTER_CPU(Eigen::bfloat16);
TFA_REGISTER_CPU(float);
TFA_REGISTER_CPU(double);

#undef TFA_REGISTER_CPU

}  // namespace
}  // namespace tf_approx
