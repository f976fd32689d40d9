// The CUDA kernels and launchers of the fast Walsh–Hadamard transform and
// of Adaptive Fastfood: thin wrappers around the per-thread logic of
// fastfood_gpu.h. No TensorFlow headers (fastfood_kernels.cc calls these).
#include "cc/common/gpu_launch.h"
#include "cc/fastfood/fastfood_gpu.h"

namespace tf_approx {
namespace fastfood {
namespace {

// Up to 1024 threads a block: at most 64 registers a thread.
template <int kE, typename C>
__global__ void __launch_bounds__(1 << kMaxBlockThreadsLog2)
    BlockKernel(BlockShape<C> shape, int64_t rows, C scale,
                            const C* x, C* y) {
  extern __shared__ __align__(16) unsigned char shared[];
  GpuBlock<BlockRegisters<C, kE>> b(shared);
  FwhtBlock<kE>(b, shape, rows, scale, x, y);
}

template <int kC, typename C>
__global__ void StridedKernel(int64_t n, int first, C scale, C* x) {
  FwhtStridedThread<kC>(ThisThread(), n, first, scale, x);
}

template <int kE, typename C>
__global__ void __launch_bounds__(1 << kMaxBlockThreadsLog2)
    FastfoodForwardKernel(BlockShape<C> shape, Problem<C> p, int64_t rows,
                          const C* x, C* y) {
  extern __shared__ __align__(16) unsigned char shared[];
  GpuBlock<FastfoodRegisters<C, kE>> b(shared);
  FastfoodForward<kE>(b, shape, p, rows, x, y);
}

template <int kE, typename C>
__global__ void __launch_bounds__(1 << kMaxBlockThreadsLog2)
    FastfoodBackwardKernel(BlockShape<C> shape, Problem<C> p, int64_t rows,
                           const C* dy, const C* x, C* dx, C* partial) {
  extern __shared__ __align__(16) unsigned char shared[];
  GpuBlock<FastfoodRegisters<C, kE>> b(shared);
  FastfoodBackward<kE>(b, shape, p, rows, dy, x, dx, partial);
}

template <typename C>
__global__ void FastfoodSumKernel(int64_t chunks, int64_t params,
                                  const C* partial, FastfoodGrads<C> grads) {
  FastfoodSumThread(ThisThread(), chunks, params, partial, grads);
}

// Blocks of a block pass: one per group of rows, at most this many (each
// then loops over the groups a grid apart).
constexpr int64_t kMaxBlocks = 65535;

// Launches kernel_of(kE)(args...), kE the block shape's, over `groups`
// groups of rows with `shared` bytes of shared memory (past 48 KiB opted
// in): one block a group, at most kMaxBlocks.
template <typename C, typename KernelOf, typename... Args>
const char* LaunchRows(cudaStream_t stream, const BlockShape<C>& shape,
                       int64_t groups, size_t shared, KernelOf&& kernel_of,
                       Args... args) {
  const int64_t blocks = groups < kMaxBlocks ? groups : kMaxBlocks;
  const char* error = nullptr;
  VisitLog2<kMaxElementsLog2>(shape.e, [&](auto e) {
    error = LaunchWithShared(kernel_of(e), blocks, shape.Threads(), shared,
                             stream, args...);
  });
  return error;
}

template <typename C>
const char* LaunchBlock(cudaStream_t stream, const BlockShape<C>& shape,
                        int64_t rows, C scale, const C* x, C* y) {
  return LaunchRows(
      stream, shape, (rows + shape.RowsPerBlock() - 1) / shape.RowsPerBlock(),
      shape.SharedBytes(),
      [](auto e) { return BlockKernel<decltype(e)::value, C>; }, shape, rows,
      scale, x, y);
}

template <typename C>
const char* LaunchStrided(cudaStream_t stream, int64_t n, int first,
                          int stages, C scale, C* x) {
  const char* error = nullptr;
  VisitLog2<kMaxStridedLog2>(stages, [&](auto c) {
    constexpr int kC = decltype(c)::value;
    if constexpr (kC > 0) {
      StridedKernel<kC, C><<<ElementwiseBlocks(n >> kC), kElementwiseThreads,
                             0, stream>>>(n, first, scale, x);
      error = LaunchError();
    }
  });
  return error;
}

}  // namespace

template <typename C>
int DeviceMaxBlockLog2() {
  return MaxBlockLog2<C>(static_cast<size_t>(DeviceMaxSharedBytes()));
}

template <typename C>
int DeviceMaxFastfoodLog2() {
  return MaxBlockLog2<C>(static_cast<size_t>(DeviceMaxSharedBytes()),
                         &BlockShape<C>::RowsBytes);
}

namespace {

template <typename C, Step kStep>
__global__ void StagedKernel(StagedSlab<C> slab) {
  slab.template Run<kStep>(ThisThread());
}

// The staged path (RunFastfoodStaged) on `stream`, scratch holding its
// buffers.
template <typename C>
const char* LaunchStaged(cudaStream_t stream, StagedSlab<C> slab,
                         bool gradient, C* scratch, int max_log2) {
  const int64_t slab_rows = StagedSlabRows(slab.rows, slab.Params());
  for (int i = 0; i < StagedBuffers(gradient); ++i)
    slab.h[i] = scratch + i * slab_rows * slab.Params();
  return RunFastfoodStaged(
      slab, slab_rows, gradient,
      [&](auto step, const StagedSlab<C>& s) {
        constexpr Step kStep = decltype(step)::value;
        StagedKernel<C, kStep>
            <<<ElementwiseBlocks(s.Size(kStep)), kElementwiseThreads, 0,
               stream>>>(s);
        return LaunchError();
      },
      [&](C* h, int64_t units) {
        return LaunchFwht<C>(stream, h, h, units, Log2(slab.p.d), slab.p.scale,
                             max_log2);
      });
}

}  // namespace

template <typename C>
const char* LaunchFastfood(GpuStream stream, const Problem<C>& p,
                           int64_t rows, const C* x, C* y, C* scratch,
                           int max_log2) {
  if (rows == 0) return nullptr;
  if (max_log2 < 0) max_log2 = DeviceMaxFastfoodLog2<C>();
  const cudaStream_t s = ToCudaStream(stream);
  if (IsStaged(p.d, max_log2)) {
    return LaunchStaged(s, StagedSlab<C>::Forward(p, rows, x, y), false,
                        scratch, max_log2);
  }
  const BlockShape<C> shape(Log2(p.d));
  const int64_t units = rows * p.blocks;
  return LaunchRows(
      s, shape, (units + shape.RowsPerBlock() - 1) / shape.RowsPerBlock(),
      shape.RowsBytes(),
      [](auto e) { return FastfoodForwardKernel<decltype(e)::value, C>; },
      shape, p, rows, x, y);
}

template <typename C>
const char* LaunchFastfoodGrad(GpuStream stream, const Problem<C>& p,
                               int64_t rows, const C* dy, const C* x, C* dx,
                               C* scratch, const FastfoodGrads<C>& grads,
                               int max_log2) {
  const int64_t params = p.blocks * p.d;
  const cudaStream_t s = ToCudaStream(stream);
  if (rows == 0) {
    for (int q = 0; q < 3; ++q)
      cudaMemsetAsync(grads[q], 0, params * sizeof(C), s);
    return LaunchError();
  }
  if (max_log2 < 0) max_log2 = DeviceMaxFastfoodLog2<C>();
  const int64_t chunk_rows = ChunkRows(rows, params);
  const int64_t chunks = (rows + chunk_rows - 1) / chunk_rows;
  C* partial = scratch;
  if (IsStaged(p.d, max_log2)) {
    cudaMemsetAsync(partial, 0, chunks * 3 * params * sizeof(C), s);
    if (const char* error = LaunchStaged(
            s, StagedSlab<C>::Backward(p, rows, dy, x, dx, partial), true,
            partial + chunks * 3 * params, max_log2)) {
      return error;
    }
  } else {
    const BlockShape<C> shape(Log2(p.d));
    if (const char* error = LaunchRows(
            s, shape,
            (chunks + shape.RowsPerBlock() - 1) / shape.RowsPerBlock(),
            shape.RowsBytes(),
            [](auto e) {
              return FastfoodBackwardKernel<decltype(e)::value, C>;
            },
            shape, p, rows, dy, x, dx, partial)) {
      return error;
    }
  }
  FastfoodSumKernel<C><<<ElementwiseBlocks(3 * params), kElementwiseThreads, 0,
                         s>>>(chunks, params, partial, grads);
  return LaunchError();
}

template <typename C>
const char* LaunchFwht(GpuStream stream, const C* x, C* y, int64_t rows,
                       int log2_d, C scale, int max_block_log2) {
  if (rows == 0) return nullptr;
  FwhtPlan plan;
  plan.k = log2_d;
  plan.max_block_log2 =
      max_block_log2 < 0 ? DeviceMaxBlockLog2<C>() : max_block_log2;
  const cudaStream_t s = ToCudaStream(stream);
  return RunFwhtPlan(
      plan, rows, scale,
      [&](const BlockShape<C>& shape, int64_t runs, C block_scale) {
        // The first pass reads x; any later ones work on y in place.
        return LaunchBlock(s, shape, runs, block_scale, x, y);
      },
      [&](int64_t n, int first, int stages, C pass_scale) {
        return LaunchStrided(s, n, first, stages, pass_scale, y);
      });
}

#define TFA_INSTANTIATE(C)                                                  \
  template int DeviceMaxBlockLog2<C>();                                     \
  template int DeviceMaxFastfoodLog2<C>();                                  \
  template const char* LaunchFwht<C>(GpuStream, const C*, C*, int64_t, int,  \
                                     C, int);                               \
  template const char* LaunchFastfood<C>(GpuStream, const Problem<C>&,      \
                                         int64_t, const C*, C*, C*, int);   \
  template const char* LaunchFastfoodGrad<C>(GpuStream, const Problem<C>&,  \
                                             int64_t, const C*, const C*,   \
                                             C*, C*,                        \
                                             const FastfoodGrads<C>&, int);
TFA_INSTANTIATE(float)
TFA_INSTANTIATE(double)
#undef TFA_INSTANTIATE

}  // namespace fastfood
}  // namespace tf_approx
