// Kernels of TfApprox>FastWalshHadamard, TfApprox>Fastfood and
// TfApprox>FastfoodGrad: validate the attrs and shapes on the host and call
// functor::Fwht<Device, T> and functor::Fastfood<Device, T>. Built into the
// op library with the CPU functors, and compiled a second time with
// GOOGLE_CUDA=1 into the GPU kernel library with the GPU functors (the
// fastfood_gpu.cu.cc launchers; the half types through float32 buffers).
//
// The CPU FWHT shards the transform over TensorFlow's intra-op pool: whole
// rows when there are enough of them (or they fit one block), otherwise (a
// few long rows) every block of every row in parallel and then every strip
// (fastfood_cpu.h), which splits the large strides of one row over threads.
// Half types are converted to float32 in a scratch buffer, transformed there
// in place, and converted back; the GPU functors go through float32 buffers
// too.
//
// The CPU Fastfood checks the permutation's values on the host
// (CheckPermutation), then shards rows; its gradient splits the rows into
// chunks fixed by the shapes alone, each chunk's parameter sums go to their
// own slot, and the slots are added in order: the result does not depend on
// the thread count.
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/common/device.h"
#include "cc/common/kernel_util.h"
#include "cc/fastfood/fastfood.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/register_types.h"
#include "tensorflow/core/framework/tensor.h"
#include "unsupported/Eigen/CXX11/Tensor"
#if GOOGLE_CUDA
#include "cc/fastfood/fastfood_gpu.h"
#else
#include "cc/common/cpu_vector.h"
#include "cc/fastfood/fastfood_cpu.h"
#endif

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

// The shapes of one Fastfood call and its inputs, shapes checked (the values
// are the functors' business).
struct FastfoodInputs {
  int64_t n_in = 1;    // input features, <= d
  int64_t units = 1;   // outputs
  int64_t d = 1;       // block size, a power of two
  int64_t blocks = 1;  // ceil(units / d)
  bool normalize = false;
  const Tensor* x = nullptr;
  const Tensor* s = nullptr;  // s, g, b and permutation: [blocks, d]
  const Tensor* g = nullptr;
  const Tensor* b = nullptr;
  const Tensor* perm = nullptr;
};

// Validates the shapes of TfApprox>Fastfood's inputs (x at index `first`)
// and fills `in`.
absl::Status CheckFastfood(OpKernelContext* ctx, int first, int64_t units,
                           bool normalize, FastfoodInputs* in) {
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
  in->n_in = n_in;
  in->units = units;
  in->d = d;
  in->blocks = blocks;
  in->normalize = normalize;
  in->x = &x;
  in->s = &s;
  in->g = &ctx->input(first + 2);
  in->b = &ctx->input(first + 3);
  in->perm = &ctx->input(first + 4);
  return absl::OkStatus();
}

namespace functor {

// `in`'s parameters as ComputeType<T> on Device (their buffers held here for
// the call), and its shapes, in p.
template <typename Device, typename T>
struct FastfoodParameters {
  using C = ComputeType<T>;
  ComputeInput<Device, T> s, g, b;
  fastfood::Problem<C> p;

  absl::Status Init(OpKernelContext* ctx, const char* op,
                    const FastfoodInputs& in) {
    TF_RETURN_IF_ERROR(s.Init(ctx, op, *in.s));
    TF_RETURN_IF_ERROR(g.Init(ctx, op, *in.g));
    TF_RETURN_IF_ERROR(b.Init(ctx, op, *in.b));
    p.n_in = in.n_in;
    p.units = in.units;
    p.d = in.d;
    p.blocks = in.blocks;
    p.scale =
        in.normalize ? static_cast<C>(1.0 / std::sqrt(double(in.d))) : C(1);
    p.s = s.data();
    p.g = g.data();
    p.b = b.data();
    p.perm = in.perm->flat<int32_t>().data();
    return absl::OkStatus();
  }
};

template <typename Device, typename T>
struct Fwht;

template <typename Device, typename T>
struct Fastfood;

#if GOOGLE_CUDA
// y = H x (scaled) over rows of d: the fastfood_gpu.cu.cc passes on the op's
// stream (in place when TensorFlow forwarded x's buffer to y).
template <typename T>
struct Fwht<GPUDevice, T> {
  using C = ComputeType<T>;

  static absl::Status Compute(OpKernelContext* ctx, bool normalize, int64_t d,
                              const Tensor& x, Tensor* y) {
    constexpr const char* kOp = "fast_walsh_hadamard";
    const C scale =
        normalize ? static_cast<C>(1.0 / std::sqrt(double(d))) : C(1);
    ComputeInput<GPUDevice, T> in;
    TF_RETURN_IF_ERROR(in.Init(ctx, kOp, x));
    ComputeOutput<GPUDevice, T> out;
    TF_RETURN_IF_ERROR(out.Init(ctx, y));
    TF_RETURN_IF_ERROR(LaunchStatus(
        kOp, fastfood::LaunchFwht<C>(StreamOf(ctx), in.data(), out.data(),
                                     x.NumElements() / d, fastfood::Log2(d),
                                     scale)));
    return out.Finish(ctx, kOp);
  }
};

// The fastfood_gpu.cu.cc kernels on the op's stream: fused where a unit's
// row fits the device's shared memory, staged through memory beyond. The
// permutation is not checked (its values are on the GPU; the kernels take
// its entries modulo d).
template <typename T>
struct Fastfood<GPUDevice, T> {
  using C = ComputeType<T>;

  // The launchers' scratch for `rows` rows, max_log2 the fused kernels'
  // limit the launch is given.
  static absl::Status Scratch(OpKernelContext* ctx,
                              const fastfood::Problem<C>& p, int64_t rows,
                              bool gradient, int max_log2, Tensor* scratch) {
    const int64_t elements = fastfood::FastfoodScratchElements(
        rows, p.blocks * p.d, p.d, gradient, max_log2);
    return ctx->allocate_temp(::tensorflow::DataTypeToEnum<C>::value,
                              ::tensorflow::TensorShape({elements}), scratch);
  }

  static absl::Status Forward(OpKernelContext* ctx, const FastfoodInputs& in,
                              Tensor* y) {
    constexpr const char* kOp = "fastfood";
    const int64_t rows = y->NumElements() / in.units;
    if (rows == 0) return absl::OkStatus();
    FastfoodParameters<GPUDevice, T> params;
    TF_RETURN_IF_ERROR(params.Init(ctx, kOp, in));
    ComputeInput<GPUDevice, T> x;
    TF_RETURN_IF_ERROR(x.Init(ctx, kOp, *in.x));
    ComputeOutput<GPUDevice, T> out;
    TF_RETURN_IF_ERROR(out.Init(ctx, y));
    // Asked once: the scratch is sized for the path the launch takes.
    const int max_log2 = fastfood::DeviceMaxFastfoodLog2<C>();
    Tensor scratch;
    TF_RETURN_IF_ERROR(
        Scratch(ctx, params.p, rows, false, max_log2, &scratch));
    TF_RETURN_IF_ERROR(LaunchStatus(
        kOp, fastfood::LaunchFastfood<C>(StreamOf(ctx), params.p, rows,
                                         x.data(), out.data(),
                                         scratch.flat<C>().data(), max_log2)));
    return out.Finish(ctx, kOp);
  }

  // dparams: ds, dg, db ([blocks, d] each).
  static absl::Status Backward(OpKernelContext* ctx, const FastfoodInputs& in,
                               const Tensor& dy, Tensor* dx,
                               Tensor* const dparams[3]) {
    constexpr const char* kOp = "fastfood gradient";
    const int64_t rows = dy.NumElements() / in.units;
    FastfoodParameters<GPUDevice, T> params;
    TF_RETURN_IF_ERROR(params.Init(ctx, kOp, in));
    ComputeInput<GPUDevice, T> x, dy_in;
    TF_RETURN_IF_ERROR(x.Init(ctx, kOp, *in.x));
    TF_RETURN_IF_ERROR(dy_in.Init(ctx, kOp, dy));
    ComputeOutput<GPUDevice, T> outs[4];
    TF_RETURN_IF_ERROR(outs[0].Init(ctx, dx));
    for (int i = 0; i < 3; ++i)
      TF_RETURN_IF_ERROR(outs[1 + i].Init(ctx, dparams[i]));
    const int max_log2 = fastfood::DeviceMaxFastfoodLog2<C>();
    Tensor scratch;
    TF_RETURN_IF_ERROR(Scratch(ctx, params.p, rows, true, max_log2, &scratch));
    fastfood::FastfoodGrads<C> grads;
    grads.ds = outs[1].data();
    grads.dg = outs[2].data();
    grads.db = outs[3].data();
    TF_RETURN_IF_ERROR(LaunchStatus(
        kOp, fastfood::LaunchFastfoodGrad<C>(
                 StreamOf(ctx), params.p, rows, dy_in.data(), x.data(),
                 outs[0].data(), scratch.flat<C>().data(), grads, max_log2)));
    for (ComputeOutput<GPUDevice, T>& out : outs)
      TF_RETURN_IF_ERROR(out.Finish(ctx, kOp));
    return absl::OkStatus();
  }
};
#else
// Cycles to transform n elements through `stages` stages, for Eigen's cost
// model: about one vector butterfly per cycle.
template <typename C>
double Cycles(int64_t n, int stages) {
  return static_cast<double>(n) * std::max(stages, 1) / kLanes<C>;
}

// y = H x (scaled) over rows of d: the fastfood_cpu.cc phases on the intra-op
// pool.
template <typename T>
struct Fwht<CPUDevice, T> {
  using C = ComputeType<T>;

  static absl::Status Compute(OpKernelContext* ctx, bool normalize, int64_t d,
                              const Tensor& x, Tensor* y) {
    constexpr const char* kOp = "fast_walsh_hadamard";
    const int64_t size = x.NumElements();
    const auto& device = ctx->eigen_device<Eigen::ThreadPoolDevice>();

    ComputeOutput<CPUDevice, T> out;
    TF_RETURN_IF_ERROR(out.Init(ctx, y));
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
    layout.scale = normalize ? static_cast<C>(1.0 / std::sqrt(double(d))) : 1;
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
    TF_RETURN_IF_ERROR(out.Finish(ctx, kOp));
    return absl::OkStatus();
  }
};

// Checks on the host that every row of `permutation` ([blocks, d]) is a
// permutation of 0..d-1: the CPU loops index with it unchecked. Reads the
// tensor's values, so a GPU functor must not call it (it would copy them to
// the host every call).
absl::Status CheckPermutation(const FastfoodInputs& in) {
  const int64_t d = in.d;
  const auto perm = in.perm->flat<int32_t>();
  std::vector<bool> seen(d);
  for (int64_t k = 0; k < in.blocks; ++k) {
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
  return absl::OkStatus();
}

// Cycles per row, for Eigen's cost model: two transforms and a few diagonal
// passes per block.
template <typename C>
double FastfoodCycles(const fastfood::Problem<C>& p) {
  return p.blocks *
         (2 * Cycles<C>(p.d, fastfood::Log2(p.d)) + 8.0 * p.d / kLanes<C>);
}

// The fastfood_cpu.cc loops, rows sharded over the intra-op pool; the
// gradient's chunks fixed by the shapes alone (DeterministicRowSums).
template <typename T>
struct Fastfood<CPUDevice, T> {
  using C = ComputeType<T>;

  static absl::Status Forward(OpKernelContext* ctx, const FastfoodInputs& in,
                              Tensor* y) {
    constexpr const char* kOp = "fastfood";
    TF_RETURN_IF_ERROR(CheckPermutation(in));
    const int64_t rows = y->NumElements() / in.units;
    if (rows == 0) return absl::OkStatus();
    FastfoodParameters<CPUDevice, T> parameters;
    TF_RETURN_IF_ERROR(parameters.Init(ctx, kOp, in));
    const fastfood::Problem<C>& p = parameters.p;
    ComputeInput<CPUDevice, T> x_in;
    TF_RETURN_IF_ERROR(x_in.Init(ctx, kOp, *in.x));
    ComputeOutput<CPUDevice, T> out;
    TF_RETURN_IF_ERROR(out.Init(ctx, y));
    const Eigen::TensorOpCost cost(sizeof(T) * p.n_in, sizeof(T) * p.units,
                                   FastfoodCycles(p));
    ParallelFor(ctx, rows, cost, [&](int64_t begin, int64_t end) {
      fastfood::Forward(p, x_in.data(), out.data(), begin, end);
    });
    TF_RETURN_IF_ERROR(out.Finish(ctx, kOp));
    return absl::OkStatus();
  }

  // dparams: ds, dg, db ([blocks, d] each).
  static absl::Status Backward(OpKernelContext* ctx, const FastfoodInputs& in,
                               const Tensor& dy, Tensor* dx,
                               Tensor* const dparams[3]) {
    constexpr const char* kOp = "fastfood gradient";
    TF_RETURN_IF_ERROR(CheckPermutation(in));
    const int64_t rows = dy.NumElements() / in.units;
    FastfoodParameters<CPUDevice, T> parameters;
    TF_RETURN_IF_ERROR(parameters.Init(ctx, kOp, in));
    const fastfood::Problem<C>& p = parameters.p;
    ComputeInput<CPUDevice, T> dy_in, x_in;
    TF_RETURN_IF_ERROR(dy_in.Init(ctx, kOp, dy));
    TF_RETURN_IF_ERROR(x_in.Init(ctx, kOp, *in.x));
    ComputeOutput<CPUDevice, T> dx_out;
    TF_RETURN_IF_ERROR(dx_out.Init(ctx, dx));

    const int64_t params = p.blocks * p.d;
    const Eigen::TensorOpCost row_cost(sizeof(T) * (p.n_in + p.units),
                                       sizeof(T) * p.n_in,
                                       2 * FastfoodCycles(p));
    const std::vector<double> total = DeterministicRowSums<C>(
        ctx, rows, fastfood::kChunkElements / params, 3 * params, row_cost,
        [&](int64_t row_begin, int64_t row_end, C* sums) {
          fastfood::Backward(p, dy_in.data(), x_in.data(), dx_out.data(),
                             row_begin, row_end, sums);
        });
    TF_RETURN_IF_ERROR(dx_out.Finish(ctx, kOp));

    for (int i = 0; i < 3; ++i) {
      T* out = dparams[i]->flat<T>().data();
      for (int64_t j = 0; j < params; ++j)
        out[j] = static_cast<T>(total[i * params + j]);
    }
    return absl::OkStatus();
  }
};
#endif  // GOOGLE_CUDA

}  // namespace functor

template <typename Device, typename T>
class FastWalshHadamardOp : public OpKernel {
 public:
  explicit FastWalshHadamardOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("normalize", &normalize_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    int64_t d = 0;
    OP_REQUIRES_OK(ctx, CheckInput(x, &d));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(
        ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    if (x.NumElements() == 0) return;
    OP_REQUIRES_OK(ctx, functor::Fwht<Device, T>::Compute(ctx, normalize_, d,
                                                          x, y));
  }

 private:
  bool normalize_ = false;
};

template <typename Device, typename T>
class FastfoodOp : public OpKernel {
 public:
  explicit FastfoodOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("units", &units_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("normalize", &normalize_));
  }

  void Compute(OpKernelContext* ctx) override {
    FastfoodInputs in;
    OP_REQUIRES_OK(ctx, CheckFastfood(ctx, 0, units_, normalize_, &in));
    ::tensorflow::TensorShape shape = in.x->shape();
    shape.set_dim(shape.dims() - 1, units_);
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &y));
    OP_REQUIRES_OK(ctx, functor::Fastfood<Device, T>::Forward(ctx, in, y));
  }

 private:
  int64_t units_ = 1;
  bool normalize_ = false;
};

template <typename Device, typename T>
class FastfoodGradOp : public OpKernel {
 public:
  explicit FastfoodGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("units", &units_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("normalize", &normalize_));
  }

  void Compute(OpKernelContext* ctx) override {
    FastfoodInputs in;
    OP_REQUIRES_OK(ctx, CheckFastfood(ctx, 1, units_, normalize_, &in));
    const Tensor& dy = ctx->input(0);
    ::tensorflow::TensorShape y_shape = in.x->shape();
    y_shape.set_dim(y_shape.dims() - 1, units_);
    OP_REQUIRES(
        ctx, dy.shape() == y_shape,
        absl::InvalidArgumentError(absl::StrCat(
            "fastfood gradient: `dy` must have shape ", y_shape.DebugString(),
            ", got ", dy.shape().DebugString())));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, in.x->shape(), &dx));
    Tensor* dparams[3];
    for (int i = 0; i < 3; ++i) {
      OP_REQUIRES_OK(ctx,
                     ctx->allocate_output(1 + i, in.s->shape(), &dparams[i]));
    }
    OP_REQUIRES_OK(ctx, functor::Fastfood<Device, T>::Backward(ctx, in, dy, dx,
                                                               dparams));
  }

 private:
  int64_t units_ = 1;
  bool normalize_ = false;
};

#define TFA_REGISTER(T)                                                     \
  TFA_REGISTER_KERNEL("TfApprox>FastWalshHadamard", FastWalshHadamardOp,    \
                      KernelDevice, T);                                     \
  TFA_REGISTER_KERNEL("TfApprox>Fastfood", FastfoodOp, KernelDevice, T);    \
  TFA_REGISTER_KERNEL("TfApprox>FastfoodGrad", FastfoodGradOp, KernelDevice, \
                      T);
TFA_FOR_EACH_FLOAT_TYPE(TFA_REGISTER)
#undef TFA_REGISTER

}  // namespace
}  // namespace tf_approx
