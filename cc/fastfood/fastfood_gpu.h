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
  // Shared memory for E elements a thread (every row of the block).
  TFA_INLINE size_t RowsBytes() const {
    return (size_t{1} << (threads_log2 + e)) * sizeof(C);
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

// The stages of stride below 2^shape.k on the registers `v` of every thread
// of the block: each group of 2^shape.row_threads_log2 threads holds a row,
// 2^kE contiguous elements a thread, in thread order. Uses `send` and
// `received` and, for rows wider than a warp, the block's shared memory (E
// elements a thread); ends with every thread past its last shared read.
template <int kE, typename C, typename R, typename B>
TFA_INLINE void FwhtStagesInBlock(B& b, const BlockShape<C>& shape) {
  constexpr int kCount = 1 << kE;
  const int64_t row_threads = int64_t{1} << shape.row_threads_log2;
  b.Threads([&](const Thread&, R& r) TFA_LAMBDA_INLINE {
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
  C* shared = b.template Shared<C>();
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
}

// Where a thread's elements lie in a block pass: its group (of
// RowsPerBlock() a block), its group's row `unit` among all of them, and the
// position of its first element in that row.
template <typename C>
struct BlockPlace {
  int64_t group_row = 0;  // the thread's row among the block's
  int64_t unit = 0;       // the row among all rows
  int64_t first = 0;      // of the thread's 2^e elements in the row

  TFA_INLINE BlockPlace(const BlockShape<C>& shape, int64_t group,
                        const Thread& t) {
    group_row = t.thread >> shape.row_threads_log2;
    unit = group * shape.RowsPerBlock() + group_row;
    first = (t.thread & ((int64_t{1} << shape.row_threads_log2) - 1))
            << shape.e;
  }
};

// Calls fn(group) for each group of rows [0, rows) that block b takes:
// b.Block(), + b.Blocks(), ... The same count for every thread of a block,
// so barriers stay uniform.
template <typename C, typename B, typename Fn>
TFA_INLINE void ForEachGroup(B& b, const BlockShape<C>& shape, int64_t rows,
                             Fn&& fn) {
  const int64_t groups =
      (rows + shape.RowsPerBlock() - 1) / shape.RowsPerBlock();
  for (int64_t group = b.Block(); group < groups; group += b.Blocks()) {
    fn(group);
  }
}

// The stages of stride below 2^shape.k on rows [0, rows) of 2^shape.k
// elements of x (each a run of a longer row, or a whole row), times scale,
// into y: block b takes groups of RowsPerBlock() rows (BlockPlace). x may
// equal y.
template <int kE, typename C, typename B>
TFA_INLINE void FwhtBlock(B& b, const BlockShape<C>& shape, int64_t rows,
                          C scale, const C* x, C* y) {
  using R = BlockRegisters<C, kE>;
  constexpr int kCount = 1 << kE;
  const int64_t d = int64_t{1} << shape.k;
  ForEachGroup(b, shape, rows, [&](int64_t group) TFA_LAMBDA_INLINE {
    b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
      const BlockPlace<C> at(shape, group, t);
      const bool live = at.unit < rows;
      TFA_UNROLL
      for (int j = 0; j < kCount; ++j) {
        r.v[j] = live ? x[at.unit * d + at.first + j] : C(0);
      }
    });
    FwhtStagesInBlock<kE, C, R>(b, shape);
    b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
      const BlockPlace<C> at(shape, group, t);
      if (at.unit >= rows) return;
      TFA_UNROLL
      for (int j = 0; j < kCount; ++j) {
        y[at.unit * d + at.first + j] = r.v[j] * scale;
      }
    });
  });
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

// ---------------------------------------------------------------------------
// Adaptive Fastfood (fastfood.h): one block pass over "units", unit u being
// block k = u mod p.blocks of batch row u / p.blocks, d = p.d = 2^shape.k
// elements; the whole S H G Π H B chain of a unit stays on chip. Shared memory
// holds every row of the block (BlockShape::RowsBytes): the permutation is a
// gather (forward) or a scatter (backward) across the row. The GPU does not
// check the permutation (that would copy it to the host every call): its
// entries are taken modulo d, so a wrong one gives wrong values, never an
// access out of bounds.

template <typename C, int kE>
struct FastfoodRegisters {
  C v[1 << kE];
  C send;
  C received;
  C h_g[1 << kE];  // the backward pass's recomputed Π c H B x
  C dx[1 << kE];   // the backward pass's dx, summed over the blocks
};

// Where a unit's data lie.
struct FastfoodUnit {
  int64_t row = 0;  // of the batch
  int64_t o = 0;    // the block's offset in the parameters, k * d

  TFA_INLINE FastfoodUnit(int64_t unit, int64_t blocks, int64_t d)
      : row(unit / blocks), o((unit % blocks) * d) {}
};

// A thread's place in a Fastfood pass: its BlockPlace, its unit
// (unit_of(place); -1: none) and where that unit's data lie (unit 0's if it
// has none).
template <typename C>
struct FastfoodPlace {
  BlockPlace<C> at;
  int64_t unit;
  FastfoodUnit u;

  template <typename UnitOf>
  TFA_INLINE FastfoodPlace(const BlockShape<C>& shape, int64_t group,
                           const Thread& t, const Problem<C>& p,
                           UnitOf&& unit_of)
      : at(shape, group, t),
        unit(unit_of(at)),
        u(unit < 0 ? 0 : unit, p.blocks, p.d) {}
};

// h_pi = c H B x of each thread's unit, unit_of(place) (-1: none, zeros),
// then h_g = Π h_pi, kept in `h_g` when kKeep, and G h_g into `v`. The
// block's shared memory holds each of its rows' h_pi meanwhile.
template <bool kKeep, int kE, typename C, typename R, typename B,
          typename UnitOf>
TFA_INLINE void FastfoodFirstHalf(B& b, const BlockShape<C>& shape,
                                  const Problem<C>& p, int64_t group,
                                  const C* x, UnitOf&& unit_of) {
  constexpr int kCount = 1 << kE;
  const int64_t d = p.d;
  C* shared = b.template Shared<C>();
  b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
    const FastfoodPlace<C> f(shape, group, t, p, unit_of);
    TFA_UNROLL
    for (int j = 0; j < kCount; ++j) {
      const int64_t i = f.at.first + j;
      r.v[j] = f.unit >= 0 && i < p.n_in
                   ? p.b[f.u.o + i] * x[f.u.row * p.n_in + i]
                   : C(0);
    }
  });
  FwhtStagesInBlock<kE, C, R>(b, shape);
  b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
    const BlockPlace<C> at(shape, group, t);
    TFA_UNROLL
    for (int j = 0; j < kCount; ++j) {
      shared[at.group_row * d + at.first + j] = r.v[j] * p.scale;
    }
  });
  b.Barrier();
  b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
    const FastfoodPlace<C> f(shape, group, t, p, unit_of);
    TFA_UNROLL
    for (int j = 0; j < kCount; ++j) {
      const int64_t i = f.u.o + f.at.first + j;
      const C h_g =
          f.unit >= 0 ? shared[f.at.group_row * d + (p.perm[i] & (d - 1))]
                      : C(0);
      if constexpr (kKeep) r.h_g[j] = h_g;
      r.v[j] = f.unit >= 0 ? p.g[i] * h_g : C(0);
    }
  });
  b.Barrier();  // before the stages' shared memory overwrites h_pi
}

// y = Fastfood(x) for rows [0, rows) of x: each unit's outputs k d ..
// min((k + 1) d, units) of its row.
template <int kE, typename C, typename B>
TFA_INLINE void FastfoodForward(B& b, const BlockShape<C>& shape,
                                const Problem<C>& p, int64_t rows, const C* x,
                                C* y) {
  using R = FastfoodRegisters<C, kE>;
  constexpr int kCount = 1 << kE;
  const int64_t units = rows * p.blocks;
  const auto unit_of = [&](const BlockPlace<C>& at) TFA_LAMBDA_INLINE {
    return at.unit < units ? at.unit : int64_t{-1};
  };
  ForEachGroup(b, shape, units, [&](int64_t group) TFA_LAMBDA_INLINE {
    FastfoodFirstHalf<false, kE, C, R>(b, shape, p, group, x, unit_of);
    FwhtStagesInBlock<kE, C, R>(b, shape);  // h_s = c H G h_g
    b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
      const BlockPlace<C> at(shape, group, t);
      if (unit_of(at) < 0) return;
      const FastfoodUnit u(at.unit, p.blocks, p.d);
      TFA_UNROLL
      for (int j = 0; j < kCount; ++j) {
        const int64_t i = u.o + at.first + j;
        if (i < p.units) y[u.row * p.units + i] = p.s[i] * (r.v[j] * p.scale);
      }
    });
  });
}

// The backward pass for the rows of each chunk (ChunkRows(rows, params)
// rows each, params = blocks * d; a group of the block pass is a chunk): dx
// of those rows, and their sums of dE/dS, dE/dG, dE/dB into the chunk's
// partial[chunk] ([3][params]), row after row and block after block, as the
// CPU kernel sums a chunk (fastfood.h's BackwardBlock after ForwardBlock).
template <int kE, typename C, typename B>
TFA_INLINE void FastfoodBackward(B& b, const BlockShape<C>& shape,
                                 const Problem<C>& p, int64_t rows,
                                 const C* dy, const C* x, C* dx, C* partial) {
  using R = FastfoodRegisters<C, kE>;
  constexpr int kCount = 1 << kE;
  const int64_t d = p.d;
  const int64_t params = p.blocks * d;
  const int64_t chunk_rows = ChunkRows(rows, params);
  const int64_t chunks = (rows + chunk_rows - 1) / chunk_rows;
  C* shared = b.template Shared<C>();
  ForEachGroup(b, shape, chunks, [&](int64_t group) TFA_LAMBDA_INLINE {
    b.Threads([&](const Thread& t, R&) TFA_LAMBDA_INLINE {
      const BlockPlace<C> at(shape, group, t);
      if (at.unit >= chunks) return;
      C* sums = partial + at.unit * 3 * params;
      for (int64_t o = 0; o < 3 * params; o += d) {
        TFA_UNROLL
        for (int j = 0; j < kCount; ++j) sums[o + at.first + j] = C(0);
      }
    });
    for (int64_t n = 0; n < chunk_rows; ++n) {
      // The thread's batch row: row n of its chunk, if the chunk has one.
      const auto row_of = [&](const BlockPlace<C>& at) TFA_LAMBDA_INLINE {
        const int64_t row = at.unit * chunk_rows + n;
        return at.unit < chunks && row < rows ? row : int64_t{-1};
      };
      b.Threads([&](const Thread&, R& r) TFA_LAMBDA_INLINE {
        TFA_UNROLL
        for (int j = 0; j < kCount; ++j) r.dx[j] = C(0);
      });
      for (int64_t k = 0; k < p.blocks; ++k) {
        const int64_t o = k * d;
        const auto unit_of = [&](const BlockPlace<C>& at) TFA_LAMBDA_INLINE {
          const int64_t row = row_of(at);
          return row < 0 ? int64_t{-1} : row * p.blocks + k;
        };
        FastfoodFirstHalf<true, kE, C, R>(b, shape, p, group, x, unit_of);
        FwhtStagesInBlock<kE, C, R>(b, shape);  // h_s = c H G h_g
        // dE/dS += dy h_s; work = S dy, then c H^T work.
        b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
          const BlockPlace<C> at(shape, group, t);
          const int64_t row = row_of(at);
          C* ds = partial + at.unit * 3 * params + o;
          TFA_UNROLL
          for (int j = 0; j < kCount; ++j) {
            const int64_t i = at.first + j;
            const bool out = row >= 0 && o + i < p.units;
            if (out) ds[i] += dy[row * p.units + o + i] * (r.v[j] * p.scale);
            r.v[j] = out ? p.s[o + i] * dy[row * p.units + o + i] : C(0);
          }
        });
        FwhtStagesInBlock<kE, C, R>(b, shape);
        // dE/dG += work h_g; work2 = Π^T G work, scattered through shared
        // memory, then c H^T work2.
        b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
          const BlockPlace<C> at(shape, group, t);
          const int64_t row = row_of(at);
          C* dg = partial + (at.unit * 3 + 1) * params + o;
          TFA_UNROLL
          for (int j = 0; j < kCount; ++j) {
            const int64_t i = at.first + j;
            const C work = r.v[j] * p.scale;
            if (row >= 0) {
              dg[i] += work * r.h_g[j];
              shared[at.group_row * d + (p.perm[o + i] & (d - 1))] =
                  p.g[o + i] * work;
            } else {
              shared[at.group_row * d + i] = C(0);
            }
          }
        });
        b.Barrier();
        b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
          const BlockPlace<C> at(shape, group, t);
          TFA_UNROLL
          for (int j = 0; j < kCount; ++j) {
            r.v[j] = shared[at.group_row * d + at.first + j];
          }
        });
        b.Barrier();  // before the stages' shared memory overwrites it
        FwhtStagesInBlock<kE, C, R>(b, shape);
        // dE/dB += work2 x, dx += B work2.
        b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
          const BlockPlace<C> at(shape, group, t);
          const int64_t row = row_of(at);
          if (row < 0) return;
          C* db = partial + (at.unit * 3 + 2) * params + o;
          TFA_UNROLL
          for (int j = 0; j < kCount; ++j) {
            const int64_t i = at.first + j;
            if (i < p.n_in) {
              const C work2 = r.v[j] * p.scale;
              db[i] += work2 * x[row * p.n_in + i];
              r.dx[j] += p.b[o + i] * work2;
            }
          }
        });
      }
      b.Threads([&](const Thread& t, R& r) TFA_LAMBDA_INLINE {
        const BlockPlace<C> at(shape, group, t);
        const int64_t row = row_of(at);
        if (row < 0) return;
        TFA_UNROLL
        for (int j = 0; j < kCount; ++j) {
          const int64_t i = at.first + j;
          if (i < p.n_in) dx[row * p.n_in + i] = r.dx[j];
        }
      });
    }
  });
}

// The parameter gradients: out[q][i] = the chunks' partial[.][q][i] added in
// chunk order, in double, for thread t's entries i of 3 * params.
template <typename T, typename C>
TFA_INLINE void FastfoodSumThread(const Thread& t, int64_t chunks,
                                  int64_t size, const C* partial, T* out) {
  for (int64_t i = t.First(); i < size; i += t.Stride()) {
    double total = 0;
    for (int64_t c = 0; c < chunks; ++c) total += partial[c * size + i];
    out[i] = static_cast<T>(total);
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

// The largest d = 2^k whose Fastfood rows fit the current device's shared
// memory for C (every row of a block: BlockShape::RowsBytes).
template <typename C>
int DeviceMaxFastfoodLog2();

// Elements of LaunchFastfoodGrad's `partial`: ChunkRows' chunks of
// 3 * blocks * d.
TFA_INLINE int64_t FastfoodPartialElements(int64_t rows, int64_t params) {
  if (rows == 0) return 0;
  const int64_t chunk_rows = ChunkRows(rows, params);
  return (rows + chunk_rows - 1) / chunk_rows * 3 * params;
}

// y = Fastfood(x) over `rows` rows (x [rows, p.n_in], y [rows, p.units]),
// p's parameters in device memory. p.d must be at most
// 2^DeviceMaxFastfoodLog2<C>() (else an error, launching nothing).
template <typename C>
const char* LaunchFastfood(GpuStream stream, const Problem<C>& p,
                           int64_t rows, const C* x, C* y);

// dx (written) and the parameter gradients grad ([3][blocks * d]: dS, dG,
// dB), through `partial` (FastfoodPartialElements of C).
template <typename C>
const char* LaunchFastfoodGrad(GpuStream stream, const Problem<C>& p,
                               int64_t rows, const C* dy, const C* x, C* dx,
                               C* partial, C* grad);

// to[i] = from[i] for i in [0, n), converted as Load and Store do (bitwise
// Eigen's conversions).
template <typename From, typename To>
const char* LaunchConvert(GpuStream stream, const From* from, To* to,
                          int64_t n);

}  // namespace fastfood
}  // namespace tf_approx

#endif  // TF_APPROX_CC_FASTFOOD_FASTFOOD_GPU_H_
