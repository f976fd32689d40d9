// The fast Walsh–Hadamard transform's GPU kernels: their per-thread logic,
// which the CUDA kernels of fastfood_gpu.cu.cc run and the native module's
// `gpu_model` runs on the CPU, the launch plan both follow, and the
// launchers' declarations. TensorFlow-free and CUDA-free.
//
// A row of d = 2^k elements is transformed in passes, each of which reads
// its elements once into registers, does a run of consecutive stages there
// and writes them once:
//   block    the stages of stride below 2^b, b = min(k, the block limit), on
//            each run of 2^b elements (a whole row when k <= b). A block
//            program (cc/common/gpu_model.h): a thread keeps E = 2^e
//            contiguous elements in registers and does the strides below E
//            there, the strides up to a warp's worth by shuffles and the rest
//            through shared memory (E elements a thread), a barrier apart.
//   strided  the stages of strides 2^s .. 2^(s + c - 1), c <= 5: a thread
//            takes the 2^c elements 2^s apart that those stages combine,
//            consecutive threads consecutive elements (coalesced).
// The block limit is 15 (32768 elements) where the device's shared memory
// holds a row of them (float32 on sm_80 and later), less where it does not
// (float64, older GPUs): the launcher asks the device, the CPU model takes it
// as an argument. Every butterfly adds and subtracts the same operands as
// Fwht (fastfood.h), stage after stage in ascending stride order, so the
// result is bitwise the CPU kernels'; the scale (1/sqrt(d) when normalized)
// multiplies the elements after the last stage, in the last pass. A thread
// reads all of its elements before it writes any, of the same positions, so
// the transform may run in place. The half types are converted to float32
// in a scratch buffer first, as on the CPU (the OpKernel does it).
#ifndef TF_APPROX_CC_FASTFOOD_FASTFOOD_GPU_H_
#define TF_APPROX_CC_FASTFOOD_FASTFOOD_GPU_H_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "cc/common/device.h"
#include "cc/common/gpu_model.h"
#include "cc/common/platform.h"
#include "cc/fastfood/fastfood.h"

#if defined(__CUDACC__)
#define TFA_UNROLL _Pragma("unroll")
#else
#define TFA_UNROLL
#endif

namespace tf_approx {
namespace fastfood {

// The block pass: at most 2^kMaxElementsLog2 elements a thread and
// 2^kMaxBlockThreadsLog2 threads a row, so rows of up to 2^kMaxBlockLog2.
constexpr int kMaxElementsLog2 = 5;
constexpr int kMaxBlockThreadsLog2 = 10;
constexpr int kMaxBlockLog2 = kMaxElementsLog2 + kMaxBlockThreadsLog2;
// A block has at least this many threads (several short rows a block).
constexpr int kMinBlockThreadsLog2 = 7;
constexpr int kWarpSizeLog2 = 5;
// The strided pass: at most 2^kMaxStridedLog2 elements a thread.
constexpr int kMaxStridedLog2 = 5;

// Elements a thread of the block pass keeps for rows of 2^k: 32 bytes' worth
// (8 floats, 4 doubles) or the whole row if shorter, more only to keep a row
// within kMaxBlockThreadsLog2 threads.
template <typename C>
TFA_INLINE int BlockElementsLog2(int k) {
  const int bytes32 = sizeof(C) == 4 ? 3 : 2;
  if (k <= bytes32) return k;
  return k - kMaxBlockThreadsLog2 > bytes32 ? k - kMaxBlockThreadsLog2
                                            : bytes32;
}

// The shape of a block pass over rows of 2^k.
template <typename C>
struct BlockShape {
  int k = 0;         // log2 of the row
  int e = 0;         // log2 of a thread's elements
  int row_threads_log2 = 0;
  int threads_log2 = 0;  // of the block: a row, or several short ones

  TFA_INLINE explicit BlockShape(int log2_row) : k(log2_row) {
    e = BlockElementsLog2<C>(k);
    row_threads_log2 = k - e;
    threads_log2 = row_threads_log2 > kMinBlockThreadsLog2
                       ? row_threads_log2
                       : kMinBlockThreadsLog2;
  }
  TFA_INLINE int64_t Threads() const { return int64_t{1} << threads_log2; }
  TFA_INLINE int64_t RowsPerBlock() const {
    return int64_t{1} << (threads_log2 - row_threads_log2);
  }
  // Shared memory: none while a row fits a warp, else E elements a thread.
  TFA_INLINE size_t SharedBytes() const {
    return row_threads_log2 > kWarpSizeLog2
               ? (size_t{1} << (threads_log2 + e)) * sizeof(C)
               : 0;
  }
};

// The largest block pass whose shared memory fits `max_shared_bytes`.
template <typename C>
TFA_INLINE int MaxBlockLog2(size_t max_shared_bytes) {
  int k = kMaxBlockLog2;
  while (k > 0 && BlockShape<C>(k).SharedBytes() > max_shared_bytes) --k;
  return k;
}

// The passes for rows of 2^k with block passes of at most 2^max_block_log2:
// a block pass of 2^BlockLog2(), then StridedPasses() passes, pass i doing
// StridedStages(i) stages from stride 2^StridedFirst(i).
struct FwhtPlan {
  int k = 0;
  int max_block_log2 = kMaxBlockLog2;

  TFA_INLINE int BlockLog2() const {
    return k < max_block_log2 ? k : max_block_log2;
  }
  TFA_INLINE int StridedPasses() const {
    return (k - BlockLog2() + kMaxStridedLog2 - 1) / kMaxStridedLog2;
  }
  TFA_INLINE int StridedFirst(int i) const {
    return BlockLog2() + i * kMaxStridedLog2;
  }
  TFA_INLINE int StridedStages(int i) const {
    const int left = k - StridedFirst(i);
    return left < kMaxStridedLog2 ? left : kMaxStridedLog2;
  }
};

// Walks the passes of `plan` over `rows` rows, for the launcher and the CPU
// model alike: block(shape, runs, scale) for the block pass over `runs` runs
// of 2^shape.k, then strided(n, first, stages, scale) for each strided pass
// over all n elements; the scale goes to the last pass, 1 to the others.
// Stops at, and returns, the first non-null result of a pass.
template <typename C, typename Block, typename Strided>
inline const char* RunFwhtPlan(const FwhtPlan& plan, int64_t rows, C scale,
                                   Block&& block, Strided&& strided) {
  const int passes = plan.StridedPasses();
  const BlockShape<C> shape(plan.BlockLog2());
  if (const char* error = block(shape, rows << (plan.k - plan.BlockLog2()),
                                passes == 0 ? scale : C(1))) {
    return error;
  }
  for (int i = 0; i < passes; ++i) {
    if (const char* error =
            strided(rows << plan.k, plan.StridedFirst(i),
                    plan.StridedStages(i), i + 1 == passes ? scale : C(1))) {
      return error;
    }
  }
  return nullptr;
}

// A block pass's registers: a thread's elements, and one value on its way
// through a shuffle.
template <typename C, int kE>
struct BlockRegisters {
  C v[1 << kE];
  C send;
  C received;
};

// Butterflies of the pairs (v[i], v[i + h]), i's bit h clear.
template <int kCountLog2, typename C>
TFA_INLINE void RegisterStage(C* v, int h) {
  TFA_UNROLL
  for (int i = 0; i < (1 << kCountLog2); ++i) {
    if ((i & h) == 0) Butterfly(v + i, v + i + h);
  }
}

// The stages of stride below 2^shape.k on rows [0, rows) of 2^shape.k
// elements of x (each a run of a longer row, or a whole row), times scale,
// into y: block b, thread t takes row b * RowsPerBlock() + t / (threads a
// row) while it is below rows (then b + blocks, ...), and of it the 2^kE
// elements from (t mod threads a row) * 2^kE. x may equal y.
template <int kE, typename C, typename B>
TFA_INLINE void FwhtBlock(B& b, const BlockShape<C>& shape, int64_t rows,
                          C scale, const C* x, C* y) {
  using R = BlockRegisters<C, kE>;
  constexpr int kCount = 1 << kE;
  const int64_t row_threads = int64_t{1} << shape.row_threads_log2;
  const int64_t d = int64_t{1} << shape.k;
  const int64_t groups =
      (rows + shape.RowsPerBlock() - 1) / shape.RowsPerBlock();
  C* shared = b.template Shared<C>();
  // The same count for every thread of a block: barriers stay uniform.
  for (int64_t group = b.Block(); group < groups; group += b.Blocks()) {
    const auto row_of = [&](const Thread& t) TFA_LAMBDA_INLINE {
      return group * shape.RowsPerBlock() + (t.thread >> shape.row_threads_log2);
    };
    const auto first = [&](const Thread& t) TFA_LAMBDA_INLINE {
      return row_of(t) * d + (t.thread & (row_threads - 1)) * kCount;
    };
    b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
      const bool live = row_of(t) < rows;
      TFA_UNROLL
      for (int j = 0; j < kCount; ++j) r.v[j] = live ? x[first(t) + j] : C(0);
      TFA_UNROLL
      for (int h = 1; h < kCount; h <<= 1) RegisterStage<kE>(r.v, h);
    });
    for (int m = 1; m < row_threads && m < kWarpSize; m <<= 1) {
      TFA_UNROLL
      for (int j = 0; j < kCount; ++j) {
        b.Threads([&](const Thread&, R& r)
                      TFA_LAMBDA_INLINE { r.send = r.v[j]; });
        b.ShuffleXor(&R::send, &R::received, m);
        b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
          r.v[j] = (t.Lane() & m) ? r.received - r.v[j] : r.v[j] + r.received;
        });
      }
    }
    const int64_t threads = shape.Threads();
    for (int64_t m = kWarpSize; m < row_threads; m <<= 1) {
      b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
        TFA_UNROLL
        for (int j = 0; j < kCount; ++j) shared[j * threads + t.thread] = r.v[j];
      });
      b.Barrier();
      b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
        TFA_UNROLL
        for (int j = 0; j < kCount; ++j) {
          const C partner = shared[j * threads + (t.thread ^ m)];
          r.v[j] = (t.thread & m) ? partner - r.v[j] : r.v[j] + partner;
        }
      });
      b.Barrier();  // before the next stride overwrites what was read
    }
    b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
      if (row_of(t) >= rows) return;
      TFA_UNROLL
      for (int j = 0; j < kCount; ++j) y[first(t) + j] = r.v[j] * scale;
    });
  }
}

// The stages of strides 2^first .. 2^(first + kC - 1) on x[0, n) (n a
// multiple of 2^(first + kC)), in place, then times scale, for thread t's
// groups: group g takes the 2^kC elements 2^first apart from
// (g >> first) * 2^(first + kC) + (g mod 2^first).
template <int kC, typename C>
TFA_INLINE void FwhtStridedThread(const Thread& t, int64_t n, int first,
                                  C scale, C* x) {
  constexpr int kCount = 1 << kC;
  const int64_t stride = int64_t{1} << first;
  C v[kCount];
  for (int64_t g = t.First(); g < (n >> kC); g += t.Stride()) {
    const int64_t base = ((g >> first) << (first + kC)) + (g & (stride - 1));
    TFA_UNROLL
    for (int m = 0; m < kCount; ++m) v[m] = x[base + m * stride];
    TFA_UNROLL
    for (int h = 1; h < kCount; h <<= 1) RegisterStage<kC>(v, h);
    TFA_UNROLL
    for (int m = 0; m < kCount; ++m) x[base + m * stride] = v[m] * scale;
  }
}

// Calls fn(std::integral_constant<int, n>) for n in [0, kMax], n = value.
template <int kMax, typename Fn>
TFA_INLINE void VisitLog2(int value, Fn&& fn) {
  if constexpr (kMax >= 0) {
    if (value == kMax) {
      fn(std::integral_constant<int, kMax>());
    } else {
      VisitLog2<kMax - 1>(value, fn);
    }
  }
}

// Launchers (fastfood_gpu.cu.cc), on `stream`; each returns nullptr, or
// CUDA's description of the error.

// The largest block pass the current device's shared memory allows for C.
template <typename C>
int DeviceMaxBlockLog2();

// y = H x (times scale) over `rows` rows of 2^log2_d elements; y may equal
// x. max_block_log2 < 0 takes DeviceMaxBlockLog2<C>().
template <typename C>
const char* LaunchFwht(GpuStream stream, const C* x, C* y, int64_t rows,
                       int log2_d, C scale, int max_block_log2 = -1);

// to[i] = from[i] for i in [0, n), converted as Load and Store do (bitwise
// Eigen's conversions).
template <typename From, typename To>
const char* LaunchConvert(GpuStream stream, const From* from, To* to,
                          int64_t n);

}  // namespace fastfood
}  // namespace tf_approx

#endif  // TF_APPROX_CC_FASTFOOD_FASTFOOD_GPU_H_
