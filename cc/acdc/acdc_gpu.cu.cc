// The CUDA kernels and launchers of ACDC and the DCT: thin wrappers around
// the per-thread logic of acdc_gpu.h. No TensorFlow headers
// (acdc_kernels.cc calls these).
#include "cc/acdc/acdc_gpu.h"
#include "cc/common/gpu_launch.h"

namespace tf_approx {
namespace acdc {
namespace {

template <typename C>
__global__ void __launch_bounds__(kMaxBlockThreads)
    ForwardKernel(Problem<C> p, int64_t rows, const C* x, C* y, C* global) {
  extern __shared__ __align__(16) unsigned char shared[];
  GpuBlock<NoRegisters> b(shared);
  ForwardBlock(b, p, rows, x, y, global);
}

template <typename C>
__global__ void __launch_bounds__(kMaxBlockThreads)
    BackwardKernel(Problem<C> p, int64_t rows, const C* dy, const C* x,
                   C* dx, Terms<C> terms, C* global) {
  extern __shared__ __align__(16) unsigned char shared[];
  GpuBlock<NoRegisters> b(shared);
  BackwardBlock(b, p, rows, dy, x, dx, terms, global);
}

template <typename C>
__global__ void __launch_bounds__(kMaxBlockThreads)
    DctKernel(Plan<C> plan, bool inverse, int64_t rows, const C* x, C* y,
              C* global) {
  extern __shared__ __align__(16) unsigned char shared[];
  GpuBlock<NoRegisters> b(shared);
  DctBlock(b, plan, inverse, rows, x, y, global);
}

template <typename C>
__global__ void SumKernel(Terms<C> terms, int64_t unit, AcdcGrads<C> grads) {
  SumThread(ThisThread(), terms, unit, grads);
}

// At most this many blocks, each looping over rows a grid apart; and, where
// a row's memory is global, at most about kGlobalElements of it in all.
constexpr int64_t kMaxBlocks = 65535;
constexpr int64_t kGlobalElements = int64_t{1} << 24;

}  // namespace

template <typename C>
RowLaunch PlanRows(const Plan<C>& p, int64_t rows, bool gradient) {
  RowLaunch launch;
  launch.elements = RowElements(p, gradient);
  const size_t bytes = static_cast<size_t>(launch.elements) * sizeof(C);
  int64_t blocks = rows < kMaxBlocks ? rows : kMaxBlocks;
  if (bytes <= static_cast<size_t>(DeviceMaxSharedBytes())) {
    launch.shared_bytes = bytes;
  } else {
    launch.global = true;
    const int64_t fit = kGlobalElements / launch.elements;
    if (blocks > fit) blocks = fit;
  }
  launch.blocks = blocks < 1 ? 1 : blocks;
  return launch;
}

template <typename C>
const char* LaunchCopyPlan(GpuStream stream, const Plan<C>& host, C* device,
                           Plan<C>* plan) {
  *plan = host;
  const char* error = nullptr;
  int64_t offset = 0;
  plan->ForEachTable([&](const C** table, int64_t count) {
    if (error == nullptr &&
        cudaMemcpyAsync(device + offset, *table, count * sizeof(C),
                        cudaMemcpyHostToDevice,
                        ToCudaStream(stream)) != cudaSuccess) {
      error = LaunchError();
    }
    *table = device + offset;
    offset += count;
  });
  return error;
}

template <typename C>
const char* LaunchAcdc(GpuStream stream, const Problem<C>& p, int64_t rows,
                       const RowLaunch& launch, const C* x, C* y, C* scratch) {
  if (rows == 0) return nullptr;
  return LaunchWithShared(ForwardKernel<C>, launch.blocks,
                          BlockThreads(p.plan), launch.shared_bytes,
                          ToCudaStream(stream), p, rows, x, y,
                          launch.global ? scratch : nullptr);
}

template <typename C>
const char* LaunchAcdcGrad(GpuStream stream, const Problem<C>& p,
                           int64_t rows, const RowLaunch& launch, const C* dy,
                           const C* x, C* dx, C* scratch,
                           const AcdcGrads<C>& grads) {
  const int64_t n = p.plan.n;
  const cudaStream_t s = ToCudaStream(stream);
  if (rows == 0) {
    for (int q = 0; q < 3; ++q) cudaMemsetAsync(grads[q], 0, n * sizeof(C), s);
    return LaunchError();
  }
  Terms<C> terms;
  terms.data = scratch;
  terms.rows = rows;
  terms.n = n;
  if (const char* error = LaunchWithShared(
          BackwardKernel<C>, launch.blocks, BlockThreads(p.plan),
          launch.shared_bytes, s, p, rows, dy, x, dx, terms,
          launch.global ? scratch + 3 * rows * n : nullptr)) {
    return error;
  }
  return LaunchElementwise(SumKernel<C>, 3 * n, stream, terms,
                           RowsPerUnit(n, sizeof(C) == 8), grads);
}

template <typename C>
const char* LaunchDct(GpuStream stream, const Plan<C>& plan, bool inverse,
                      int64_t rows, const RowLaunch& launch, const C* x, C* y,
                      C* scratch) {
  if (rows == 0) return nullptr;
  return LaunchWithShared(DctKernel<C>, launch.blocks, BlockThreads(plan),
                          launch.shared_bytes, ToCudaStream(stream), plan,
                          inverse, rows, x, y,
                          launch.global ? scratch : nullptr);
}

#define TFA_INSTANTIATE(C)                                                  \
  template const char* LaunchCopyPlan<C>(GpuStream, const Plan<C>&, C*,     \
                                         Plan<C>*);                         \
  template RowLaunch PlanRows<C>(const Plan<C>&, int64_t, bool);            \
  template const char* LaunchAcdc<C>(GpuStream, const Problem<C>&, int64_t, \
                                     const RowLaunch&, const C*, C*, C*);   \
  template const char* LaunchAcdcGrad<C>(                                   \
      GpuStream, const Problem<C>&, int64_t, const RowLaunch&, const C*,    \
      const C*, C*, C*, const AcdcGrads<C>&);                               \
  template const char* LaunchDct<C>(GpuStream, const Plan<C>&, bool,        \
                                    int64_t, const RowLaunch&, const C*,    \
                                    C*, C*);
TFA_INSTANTIATE(float)
TFA_INSTANTIATE(double)
#undef TFA_INSTANTIATE

}  // namespace acdc
}  // namespace tf_approx
