// CPU kernel of TfApprox>FastWalshHadamard.
//
// Validates x, then shards the transform over TensorFlow's intra-op pool:
// whole rows when there are enough of them (or they fit one block), otherwise
// (a few long rows) every block of every row in parallel and then every strip
// (fastfood_cpu.h), which splits the large strides of one row over threads.
// Half types are converted to float32 in a scratch buffer, transformed there
// in place, and converted back.
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <type_traits>

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
  if (!fastfood::IsPowerOfTwo(*d)) {
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
      device.parallelFor(rows, cost, [&](Eigen::Index begin, Eigen::Index end) {
        fastfood::FwhtRows(layout, src, dst, begin, end);
      });
    } else {
      const int64_t block = layout.BlockSize();
      const int block_stages = fastfood::Log2(block);
      device.parallelFor(
          size / block,
          Eigen::TensorOpCost(sizeof(C) * block, sizeof(C) * block,
                              Cycles<C>(block, block_stages)),
          [&](Eigen::Index begin, Eigen::Index end) {
            fastfood::FwhtBlocks(layout, src, dst, begin, end);
          });
      const int64_t strip = size / (rows * layout.StripsPerRow());
      device.parallelFor(
          rows * layout.StripsPerRow(),
          Eigen::TensorOpCost(sizeof(C) * strip, sizeof(C) * strip,
                              Cycles<C>(strip, stages - block_stages)),
          [&](Eigen::Index begin, Eigen::Index end) {
            fastfood::FwhtStrips(layout, dst, begin, end);
          });
    }
    out.Finish();
  }

 private:
  bool normalize_ = false;
};

#define TFA_REGISTER_CPU(T)                                     \
  REGISTER_KERNEL_BUILDER(Name("TfApprox>FastWalshHadamard")    \
                              .Device(::tensorflow::DEVICE_CPU) \
                              .TypeConstraint<T>("T"),          \
                          FastWalshHadamardOp<T>);

TFA_REGISTER_CPU(Eigen::half);
TFA_REGISTER_CPU(Eigen::bfloat16);
TFA_REGISTER_CPU(float);
TFA_REGISTER_CPU(double);

#undef TFA_REGISTER_CPU

}  // namespace
}  // namespace tf_approx
