// Kernels of TfApprox>Lstm, TfApprox>Gru and their gradients: validate the
// attrs and shapes, allocate the outputs and scratch, and run the sequence
// with functor::Recurrent<Device, S>. Compiled twice: into the op library
// with the CPU functor, which runs the phases of recurrent_cpu.h on the
// intra-op pool; and with GOOGLE_CUDA=1 into the GPU kernel library with the
// GPU functor (the recurrent_gpu.cu.cc launchers, one launch per phase).
// `lengths` is host memory on either device: the kernels check it there.
// (With exact tanh and sigmoid the layers hand a GPU's work to Keras' cuDNN
// path instead: tf_approx/layers/recurrent.py.)
#define EIGEN_USE_THREADS

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/activations/activations_attrs.h"
#include "cc/common/kernel_util.h"
#include "cc/common/device.h"
#include "cc/recurrent/recurrent.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "unsupported/Eigen/CXX11/Tensor"
#if GOOGLE_CUDA
#include "cc/recurrent/recurrent_gpu.h"
#else
#include "cc/recurrent/recurrent_cpu.h"
#endif

namespace tf_approx {
namespace {

using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;

constexpr char kLstm[] = "tf_approx lstm";
constexpr char kGru[] = "tf_approx gru";
constexpr char kLstmGrad[] = "tf_approx lstm gradient";
constexpr char kGruGrad[] = "tf_approx gru gradient";

// One of the layer's functions from the attrs behind `prefix`.
template <typename S>
void ReadFunction(OpKernelConstruction* ctx, const std::string& prefix,
                  recurrent::FunctionOf<S>* f) {
  std::string kind;
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "kind", &kind));
  if (kind == "tanh") {
    f->function = recurrent::Function::kTanh;
  } else if (kind == "sigmoid") {
    f->function = recurrent::Function::kSigmoid;
  } else {
    f->function = recurrent::Function::kApproximation;
    ReadActivationParams(ctx, prefix, kind, &f->approximation);
  }
}

template <typename S>
void ReadSequence(OpKernelConstruction* ctx, recurrent::Sequence<S>* p) {
  OP_REQUIRES_OK(ctx, ctx->GetAttr("reverse", &p->reverse));
  ReadFunction(ctx, "activation_", &p->activation);
  if (!ctx->status().ok()) return;
  ReadFunction(ctx, "recurrent_activation_", &p->recurrent_activation);
}

template <typename S>
void ReadProblem(OpKernelConstruction* ctx, recurrent::LstmProblem<S>* p) {
  ReadSequence(ctx, p);
}

template <typename S>
void ReadProblem(OpKernelConstruction* ctx, recurrent::GruProblem<S>* p) {
  ReadSequence(ctx, p);
  if (!ctx->status().ok()) return;
  OP_REQUIRES_OK(ctx, ctx->GetAttr("reset_after", &p->reset_after));
}

absl::Status CheckShape(const char* op, const Tensor& t, const char* name,
                        const TensorShape& want) {
  if (t.shape() == want) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(op, ": `", name, "` must have shape ", want.DebugString(),
                   ", got ", t.shape().DebugString()));
}

// The inputs of ctx that every op of a layer takes, by index.
struct SequenceInputs {
  int x;  // [time, batch, gates * units] (dx's shape for the gradients)
  int kernel;  // [units, gates * units]
  std::initializer_list<std::pair<int, const char*>> states;  // [batch, units]
  int lengths;  // [batch]
};

// Validates a layer's inputs (`gates` gate blocks per unit) and sets p's
// sizes and lengths.
template <typename S>
absl::Status CheckInputs(OpKernelContext* ctx, const char* op, int gates,
                         const SequenceInputs& in,
                         recurrent::Sequence<S>* p) {
  const Tensor& x = ctx->input(in.x);
  const Tensor& kernel = ctx->input(in.kernel);
  if (kernel.dims() != 2 ||
      kernel.dim_size(1) != gates * kernel.dim_size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": `recurrent_kernel` must have shape [units, ", gates,
        " units], got ", kernel.shape().DebugString()));
  }
  if (x.dims() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": `x` must have shape [time, batch, ", gates, " units], got ",
        x.shape().DebugString()));
  }
  p->time = x.dim_size(0);
  p->batch = x.dim_size(1);
  p->units = kernel.dim_size(0);
  TF_RETURN_IF_ERROR(CheckShape(
      op, x, "x", TensorShape({p->time, p->batch, gates * p->units})));
  const TensorShape state({p->batch, p->units});
  for (const auto& [index, name] : in.states) {
    TF_RETURN_IF_ERROR(CheckShape(op, ctx->input(index), name, state));
  }
  const Tensor& lengths = ctx->input(in.lengths);
  TF_RETURN_IF_ERROR(
      CheckShape(op, lengths, "lengths", TensorShape({p->batch})));
  const auto values = lengths.flat<int32_t>();
  for (int64_t b = 0; b < p->batch; ++b) {
    if (values(b) < 0 || values(b) > p->time) {
      return absl::InvalidArgumentError(absl::StrCat(
          op, ": `lengths` must be in [0, time = ", p->time, "], got ",
          values(b), " at index ", b));
    }
  }
  p->lengths = values.data();
  return absl::OkStatus();
}

namespace functor {

// Runs a layer's passes on Device: given the problem, the tensors (d's
// scratch holds Scratch(p) elements), writes the outputs d points to.
template <typename Device, typename S>
struct Recurrent;

#if GOOGLE_CUDA
template <typename S>
struct Recurrent<GPUDevice, S> {
  template <typename Problem>
  static int64_t LstmScratch(const Problem& p) {
    return recurrent::GpuLstmScratch(p);
  }
  template <typename Problem>
  static int64_t GruScratch(const Problem& p) {
    return recurrent::GpuGruScratch(p);
  }

  static absl::Status LstmForward(OpKernelContext* ctx,
                                  const recurrent::LstmProblem<S>& p,
                                  const recurrent::LstmData<S>& d, S* h,
                                  S* c) {
    Tensor lengths;
    TF_RETURN_IF_ERROR(DeviceLengths(ctx, p, &lengths));
    return LaunchStatus(kLstm, recurrent::LaunchLstm(
                                   StreamOf(ctx), p, d,
                                   lengths.flat<int32_t>().data(), h, c));
  }

  static absl::Status LstmBackward(OpKernelContext* ctx,
                                   const recurrent::LstmProblem<S>& p,
                                   const recurrent::LstmData<S>& d,
                                   const S* dh, const S* dc) {
    Tensor lengths;
    TF_RETURN_IF_ERROR(DeviceLengths(ctx, p, &lengths));
    return LaunchStatus(kLstmGrad,
                        recurrent::LaunchLstmGrad(
                            StreamOf(ctx), p, d,
                            lengths.flat<int32_t>().data(), dh, dc));
  }

  static absl::Status GruForward(OpKernelContext* ctx,
                                 const recurrent::GruProblem<S>& p,
                                 const recurrent::GruData<S>& d, S* h) {
    Tensor lengths;
    TF_RETURN_IF_ERROR(DeviceLengths(ctx, p, &lengths));
    return LaunchStatus(kGru, recurrent::LaunchGru(
                                  StreamOf(ctx), p, d,
                                  lengths.flat<int32_t>().data(), h));
  }

  static absl::Status GruBackward(OpKernelContext* ctx,
                                  const recurrent::GruProblem<S>& p,
                                  const recurrent::GruData<S>& d,
                                  const S* dh) {
    Tensor lengths;
    TF_RETURN_IF_ERROR(DeviceLengths(ctx, p, &lengths));
    return LaunchStatus(kGruGrad, recurrent::LaunchGruGrad(
                                      StreamOf(ctx), p, d,
                                      lengths.flat<int32_t>().data(), dh));
  }

 private:
  // The device's copy of the lengths (at least one element: the launchers
  // copy none for no batch).
  static absl::Status DeviceLengths(OpKernelContext* ctx,
                                    const recurrent::Sequence<S>& p,
                                    Tensor* lengths) {
    return ctx->allocate_temp(::tensorflow::DT_INT32,
                              {std::max<int64_t>(1, p.batch)}, lengths);
  }
};
#else
// Runs `phases` phases, each fn(phase, begin, end) for ranges of the units
// [begin, end) that cover them; a phase starts once every range of the one
// before has finished. With one range per intra-op thread (whole blocks of
// recurrent::kUnitBlock units) where a phase's product (`flops`) is worth
// sharing, else all units on the calling thread.
//
// The tasks (phase, range) are claimed in order from one counter by the
// calling thread and by helpers scheduled on the intra-op pool, and a task
// waits (spinning, then yielding) until the phase before it is done. A
// helper that starts late takes the next task, or none: no thread ever waits
// for a task nobody has claimed, so the calling thread alone finishes the
// sequence when the pool is busy. A step's hand-off is then one atomic
// increment rather than a pool task per step (which measured about as slow
// as the step's work: a sleeping worker wakes in tens of µs on a VM).
// Every split gives the same results.
struct PhaseTasks {
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  int64_t total = 0;
  int64_t ranges = 1;
  std::function<void(int64_t)> run;  // runs task `id`

  void Work() {
    for (;;) {
      const int64_t id = next.fetch_add(1, std::memory_order_relaxed);
      if (id >= total) return;
      WaitFor(id / ranges * ranges);
      run(id);
      done.fetch_add(1, std::memory_order_release);
    }
  }

  // Until `count` tasks are done.
  void WaitFor(int64_t count) const {
    for (int spins = 0; done.load(std::memory_order_acquire) < count;
         ++spins) {
      if (spins < 2000) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      } else {
        std::this_thread::yield();
      }
    }
  }
};

template <typename S, typename Fn>
void RunPhases(OpKernelContext* ctx, const recurrent::Sequence<S>& p,
               int64_t phases, double flops, Fn&& fn) {
  constexpr int64_t kBlock = recurrent::kUnitBlock;
  // About 30 µs of one core's work: below it a split saves too little.
  constexpr double kMinParallelFlops = 3e6;
  const auto* threads = ctx->device()->tensorflow_cpu_worker_threads();
  const int64_t blocks = (p.units + kBlock - 1) / kBlock;
  const int64_t ranges =
      flops < kMinParallelFlops
          ? 1
          : std::max<int64_t>(1, std::min<int64_t>(threads->num_threads,
                                                   blocks));
  if (ranges == 1) {
    for (int64_t phase = 0; phase < phases; ++phase) fn(phase, 0, p.units);
    return;
  }
  auto tasks = std::make_shared<PhaseTasks>();
  tasks->total = phases * ranges;
  tasks->ranges = ranges;
  tasks->run = [&fn, &p, blocks, ranges](int64_t id) {
    const int64_t r = id % ranges;
    fn(id / ranges, blocks * r / ranges * kBlock,
       std::min<int64_t>(p.units, blocks * (r + 1) / ranges * kBlock));
  };
  for (int64_t helper = 1; helper < ranges; ++helper) {
    threads->workers->Schedule([tasks] { tasks->Work(); });
  }
  tasks->Work();
  tasks->WaitFor(tasks->total);
}

// Flops of one step's product, [batch, units] x [units, gates units].
template <typename Problem>
double StepFlops(const Problem& p) {
  return 2.0 * p.batch * p.units * p.Gates();
}

template <typename S>
struct Recurrent<CPUDevice, S> {
  template <typename Problem>
  static int64_t LstmScratch(const Problem& p) {
    return recurrent::LstmScratch(p);
  }
  template <typename Problem>
  static int64_t GruScratch(const Problem& p) {
    return recurrent::GruScratch(p);
  }

  static absl::Status LstmForward(OpKernelContext* ctx,
                                  const recurrent::LstmProblem<S>& p,
                                  const recurrent::LstmData<S>& d, S* h,
                                  S* c) {
    RunPhases(ctx, p, p.time, StepFlops(p),
              [&](int64_t s, int64_t begin, int64_t end) {
                recurrent::LstmForwardStep(p, d, s, begin, end);
              });
    CopyFinalState(p, d.h0, d.outputs, h);
    CopyFinalState(p, d.c0, d.cells, c);
    return absl::OkStatus();
  }

  static absl::Status LstmBackward(OpKernelContext* ctx,
                                   const recurrent::LstmProblem<S>& p,
                                   const recurrent::LstmData<S>& d,
                                   const S* dh, const S* dc) {
    std::copy_n(dh, p.batch * p.units, d.dh);
    std::copy_n(dc, p.batch * p.units, d.dc);
    RunPhases(ctx, p, recurrent::LstmBackwardPhases(p), StepFlops(p),
              [&](int64_t phase, int64_t begin, int64_t end) {
                recurrent::LstmBackwardPhase(p, d, phase, begin, end);
              });
    return absl::OkStatus();
  }

  static absl::Status GruForward(OpKernelContext* ctx,
                                 const recurrent::GruProblem<S>& p,
                                 const recurrent::GruData<S>& d, S* h) {
    RunPhases(ctx, p, recurrent::GruForwardPhases(p), StepFlops(p),
              [&](int64_t phase, int64_t begin, int64_t end) {
                recurrent::GruForwardPhase(p, d, phase, begin, end);
              });
    CopyFinalState(p, d.h0, d.outputs, h);
    return absl::OkStatus();
  }

  static absl::Status GruBackward(OpKernelContext* ctx,
                                  const recurrent::GruProblem<S>& p,
                                  const recurrent::GruData<S>& d,
                                  const S* dh) {
    std::copy_n(dh, p.batch * p.units, d.dh);
    RunPhases(ctx, p, recurrent::GruBackwardPhases(p), StepFlops(p),
              [&](int64_t phase, int64_t begin, int64_t end) {
                recurrent::GruBackwardPhase(p, d, phase, begin, end);
              });
    return absl::OkStatus();
  }

 private:
  // The state after the last step taken (the initial one if none).
  static void CopyFinalState(const recurrent::Sequence<S>& p,
                             const S* initial, const S* states, S* out) {
    std::copy_n(recurrent::FinalState(p, initial, states), p.batch * p.units,
                out);
  }
};
#endif  // GOOGLE_CUDA

}  // namespace functor

template <typename Device, typename S>
class LstmOp : public OpKernel {
 public:
  explicit LstmOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    ReadProblem(ctx, &problem_);
  }

  void Compute(OpKernelContext* ctx) override {
    recurrent::LstmProblem<S> p = problem_;
    OP_REQUIRES_OK(ctx, CheckInputs(ctx, kLstm, 4,
                                    {0, 1, {{2, "h0"}, {3, "c0"}}, 4}, &p));
    const int64_t time = p.time, batch = p.batch, units = p.units;
    Tensor *outputs, *h, *c, *gates, *cells;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {time, batch, units},
                                             &outputs));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {batch, units}, &h));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, {batch, units}, &c));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, {time, batch, 4 * units},
                                             &gates));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, {time, batch, units},
                                             &cells));
    Tensor scratch;
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(
                            ::tensorflow::DataTypeToEnum<S>::value,
                            {Functor::LstmScratch(p)}, &scratch));
    recurrent::LstmData<S> d;
    d.x = ctx->input(0).flat<S>().data();
    d.kernel = ctx->input(1).flat<S>().data();
    d.h0 = ctx->input(2).flat<S>().data();
    d.c0 = ctx->input(3).flat<S>().data();
    d.outputs = outputs->flat<S>().data();
    d.gates = gates->flat<S>().data();
    d.cells = cells->flat<S>().data();
    d.scratch = scratch.flat<S>().data();
    OP_REQUIRES_OK(ctx, Functor::LstmForward(ctx, p, d, h->flat<S>().data(),
                                             c->flat<S>().data()));
  }

 private:
  using Functor = functor::Recurrent<Device, S>;
  recurrent::LstmProblem<S> problem_;
};

template <typename Device, typename S>
class LstmGradOp : public OpKernel {
 public:
  explicit LstmGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    ReadProblem(ctx, &problem_);
  }

  void Compute(OpKernelContext* ctx) override {
    recurrent::LstmProblem<S> p = problem_;
    // Inputs: d_outputs, dh, dc, recurrent_kernel, h0, c0, lengths,
    // outputs, gates, cells.
    OP_REQUIRES_OK(ctx, CheckInputs(ctx, kLstm, 4,
                                    {8, 3, {{1, "dh"}, {2, "dc"}, {4, "h0"},
                                            {5, "c0"}}, 6},
                                    &p));
    const TensorShape sequence({p.time, p.batch, p.units});
    const TensorShape state({p.batch, p.units});
    OP_REQUIRES_OK(ctx,
                   CheckShape(kLstm, ctx->input(0), "d_outputs", sequence));
    OP_REQUIRES_OK(ctx, CheckShape(kLstm, ctx->input(7), "outputs", sequence));
    OP_REQUIRES_OK(ctx, CheckShape(kLstm, ctx->input(9), "cells", sequence));
    Tensor *dx, *d_kernel, *dh0, *dc0;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, ctx->input(8).shape(), &dx));
    OP_REQUIRES_OK(ctx,
                   ctx->allocate_output(1, ctx->input(3).shape(), &d_kernel));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, state, &dh0));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, state, &dc0));
    Tensor scratch;
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(
                            ::tensorflow::DataTypeToEnum<S>::value,
                            {Functor::LstmScratch(p)}, &scratch));
    auto in = [ctx](int i) { return ctx->input(i).flat<S>().data(); };
    recurrent::LstmData<S> d;
    d.d_outputs = in(0);
    d.kernel = in(3);
    d.h0 = in(4);
    d.c0 = in(5);
    d.outputs = const_cast<S*>(in(7));
    d.gates = const_cast<S*>(in(8));
    d.cells = const_cast<S*>(in(9));
    d.dh = dh0->flat<S>().data();
    d.dc = dc0->flat<S>().data();
    d.dx = dx->flat<S>().data();
    d.d_kernel = d_kernel->flat<S>().data();
    d.scratch = scratch.flat<S>().data();
    // dh and dc start as the given gradients and end as dh0 and dc0.
    OP_REQUIRES_OK(ctx, Functor::LstmBackward(ctx, p, d, in(1), in(2)));
  }

 private:
  using Functor = functor::Recurrent<Device, S>;
  recurrent::LstmProblem<S> problem_;
};

template <typename Device, typename S>
class GruOp : public OpKernel {
 public:
  explicit GruOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    ReadProblem(ctx, &problem_);
  }

  void Compute(OpKernelContext* ctx) override {
    recurrent::GruProblem<S> p = problem_;
    // Inputs: x, recurrent_kernel, recurrent_bias, h0, lengths.
    OP_REQUIRES_OK(ctx, CheckInputs(ctx, kGru, 3, {0, 1, {{3, "h0"}}, 4}, &p));
    OP_REQUIRES_OK(ctx, CheckShape(kGru, ctx->input(2), "recurrent_bias",
                                   TensorShape({p.Gates()})));
    const int64_t time = p.time, batch = p.batch, units = p.units;
    Tensor *outputs, *h, *gates, *reset;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {time, batch, units},
                                             &outputs));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {batch, units}, &h));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, ctx->input(0).shape(),
                                             &gates));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, {time, batch, units},
                                             &reset));
    Tensor scratch;
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(
                            ::tensorflow::DataTypeToEnum<S>::value,
                            {Functor::GruScratch(p)}, &scratch));
    recurrent::GruData<S> d;
    d.x = ctx->input(0).flat<S>().data();
    d.kernel = ctx->input(1).flat<S>().data();
    d.bias = ctx->input(2).flat<S>().data();
    d.h0 = ctx->input(3).flat<S>().data();
    d.outputs = outputs->flat<S>().data();
    d.gates = gates->flat<S>().data();
    d.reset = reset->flat<S>().data();
    d.scratch = scratch.flat<S>().data();
    OP_REQUIRES_OK(ctx, Functor::GruForward(ctx, p, d, h->flat<S>().data()));
  }

 private:
  using Functor = functor::Recurrent<Device, S>;
  recurrent::GruProblem<S> problem_;
};

template <typename Device, typename S>
class GruGradOp : public OpKernel {
 public:
  explicit GruGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    ReadProblem(ctx, &problem_);
  }

  void Compute(OpKernelContext* ctx) override {
    recurrent::GruProblem<S> p = problem_;
    // Inputs: d_outputs, dh, recurrent_kernel, h0, lengths, outputs, gates,
    // reset.
    OP_REQUIRES_OK(ctx, CheckInputs(ctx, kGru, 3,
                                    {6, 2, {{1, "dh"}, {3, "h0"}}, 4}, &p));
    const TensorShape sequence({p.time, p.batch, p.units});
    OP_REQUIRES_OK(ctx,
                   CheckShape(kGru, ctx->input(0), "d_outputs", sequence));
    OP_REQUIRES_OK(ctx, CheckShape(kGru, ctx->input(5), "outputs", sequence));
    OP_REQUIRES_OK(ctx, CheckShape(kGru, ctx->input(7), "reset", sequence));
    Tensor *dx, *d_kernel, *d_bias, *dh0;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, ctx->input(6).shape(), &dx));
    OP_REQUIRES_OK(ctx,
                   ctx->allocate_output(1, ctx->input(2).shape(), &d_kernel));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, {p.Gates()}, &d_bias));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, {p.batch, p.units}, &dh0));
    Tensor scratch;
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(
                            ::tensorflow::DataTypeToEnum<S>::value,
                            {Functor::GruScratch(p)}, &scratch));
    auto in = [ctx](int i) { return ctx->input(i).flat<S>().data(); };
    recurrent::GruData<S> d;
    d.d_outputs = in(0);
    d.kernel = in(2);
    d.h0 = in(3);
    d.outputs = const_cast<S*>(in(5));
    d.gates = const_cast<S*>(in(6));
    d.reset = const_cast<S*>(in(7));
    d.dh = dh0->flat<S>().data();
    d.dx = dx->flat<S>().data();
    d.d_kernel = d_kernel->flat<S>().data();
    d.d_bias = d_bias->flat<S>().data();
    d.scratch = scratch.flat<S>().data();
    // dh starts as the given gradient and ends as dh0.
    OP_REQUIRES_OK(ctx, Functor::GruBackward(ctx, p, d, in(1)));
  }

 private:
  using Functor = functor::Recurrent<Device, S>;
  recurrent::GruProblem<S> problem_;
};

// `lengths` stays in host memory on a GPU too: CheckInputs reads it.
#define TFA_REGISTER(S)                                                 \
  TFA_REGISTER_KERNEL("TfApprox>Lstm", LstmOp, KernelDevice, S,         \
                      .HostMemory("lengths"));                          \
  TFA_REGISTER_KERNEL("TfApprox>LstmGrad", LstmGradOp, KernelDevice, S, \
                      .HostMemory("lengths"));                          \
  TFA_REGISTER_KERNEL("TfApprox>Gru", GruOp, KernelDevice, S,           \
                      .HostMemory("lengths"));                          \
  TFA_REGISTER_KERNEL("TfApprox>GruGrad", GruGradOp, KernelDevice, S,   \
                      .HostMemory("lengths"));
TFA_REGISTER(float)
TFA_REGISTER(double)
#undef TFA_REGISTER

}  // namespace
}  // namespace tf_approx
