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

// The largest block pass whose shared memory, (shape.*bytes)() (the
// transform's, or every row's for Fastfood), fits `max_shared_bytes`.
template <typename C>
TFA_INLINE int MaxBlockLog2(
    size_t max_shared_bytes,
    size_t (BlockShape<C>::*bytes)() const = &BlockShape<C>::SharedBytes) {
  int k = kMaxBlockLog2;
  while (k > 0 && (BlockShape<C>(k).*bytes)() > max_shared_bytes) --k;
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

// Where the parameter gradients go: dE/dS, dE/dG, dE/dB, [blocks * d] each.
template <typename C>
struct FastfoodGrads {
  C* ds = nullptr;
  C* dg = nullptr;
  C* db = nullptr;

  TFA_INLINE C* operator[](int64_t q) const {
    return q == 0 ? ds : q == 1 ? dg : db;
  }
};

// The parameter gradients: grads[q][i] = the chunks' partial[.][q][i] added
// in chunk order, in double, for thread t's entries q * params + i.
template <typename T, typename C>
TFA_INLINE void FastfoodSumThread(const Thread& t, int64_t chunks,
                                  int64_t params, const C* partial,
                                  const FastfoodGrads<T>& grads) {
  const int64_t size = 3 * params;
  for (int64_t e = t.First(); e < size; e += t.Stride()) {
    double total = 0;
    for (int64_t c = 0; c < chunks; ++c) total += partial[c * size + e];
    grads[e / params][e % params] = static_cast<T>(total);
  }
}

// ---------------------------------------------------------------------------
// Adaptive Fastfood, staged: where a unit's row does not fit the device's
// shared memory (d above 2^DeviceMaxFastfoodLog2), the chain runs through
// global memory, a slab of batch rows at a time: grid-stride steps
// (StagedSlab::Run) between transforms (LaunchFwht's passes), each unit's
// vectors in scratch buffers h[] of slab x blocks x d. Every step does the
// fused kernels' operations on the same operands in the same order (the
// transforms are the same butterflies), so the results are the fused
// kernels'. The parameter sums go row after row into the chunks' slots of
// `partial` (zeroed first), which FastfoodSumThread then adds as before.

// Elements of a scratch buffer: at most this many, or one row's units.
constexpr int64_t kStagedElements = int64_t{1} << 23;

// Whether rows of d take the staged path where the fused kernels hold rows
// of at most 2^max_log2.
TFA_INLINE bool IsStaged(int64_t d, int max_log2) { return Log2(d) > max_log2; }

// Batch rows a slab, for `rows` rows of `params` = blocks * d parameters
// and buffers of at most max_elements.
TFA_INLINE int64_t StagedSlabRows(int64_t rows, int64_t params,
                                  int64_t max_elements = kStagedElements) {
  const int64_t slab = max_elements / params;
  if (slab < 1) return 1;
  return slab < rows ? slab : rows;
}

// The steps, in the order RunFastfoodStaged takes them. Forward: h0 = B x,
// transformed (h_pi); h1 = G Π h_pi, transformed (h_s); y = S h_s. Backward:
// h0 = h_pi as before; h1 = h_g = Π h_pi, h2 = G h_g, transformed (h_s);
// dE/dS += dy h_s; h2 = S dy, transformed (work); dE/dG += work h_g;
// h0 = Π^T G work, transformed (work2); dE/dB += work2 x; dx = Σ_k B work2.
enum class Step {
  kLoad,
  kGather,      // forward: h1 = G Π h0
  kGatherKeep,  // backward: h1 = Π h0, h2 = G h1
  kStore,
  kSumS,
  kScaleDy,
  kSumG,
  kScatter,
  kSumB,
  kDx,
};

template <Step kStep>
using StepConstant = std::integral_constant<Step, kStep>;

// One slab of a staged call: what every step reads and writes.
template <typename C>
struct StagedSlab {
  Problem<C> p;
  int64_t rows = 0;   // of the batch
  int64_t first = 0;  // the slab's first batch row
  int64_t slab = 0;   // and its number of rows
  const C* x = nullptr;
  const C* dy = nullptr;  // backward
  C* out = nullptr;       // y (forward) or dx (backward)
  C* h[3] = {};
  C* partial = nullptr;  // backward: the chunks' slots, [chunks][3][params]

  // A forward call's: y = Fastfood(x) over `rows` rows.
  static TFA_INLINE StagedSlab Forward(const Problem<C>& p, int64_t rows,
                                       const C* x, C* y) {
    StagedSlab s;
    s.p = p;
    s.rows = rows;
    s.x = x;
    s.out = y;
    return s;
  }

  // A gradient call's: dx, and the parameters' sums into `partial` (zeroed).
  static TFA_INLINE StagedSlab Backward(const Problem<C>& p, int64_t rows,
                                        const C* dy, const C* x, C* dx,
                                        C* partial) {
    StagedSlab s = Forward(p, rows, x, dx);
    s.dy = dy;
    s.partial = partial;
    return s;
  }

  TFA_INLINE int64_t Params() const { return p.blocks * p.d; }
  TFA_INLINE int64_t ChunkRowsOf() const { return ChunkRows(rows, Params()); }
  // The chunks with rows in the slab: [FirstChunk(), LastChunk()].
  TFA_INLINE int64_t FirstChunk() const { return first / ChunkRowsOf(); }
  TFA_INLINE int64_t LastChunk() const {
    return (first + slab - 1) / ChunkRowsOf();
  }

  // The threads' worth of work of a step (a grid-stride loop's length).
  TFA_INLINE int64_t Size(Step step) const {
    switch (step) {
      case Step::kSumS:
      case Step::kSumG:
      case Step::kSumB:
        return (LastChunk() - FirstChunk() + 1) * Params();
      case Step::kDx:
        return slab * p.n_in;
      default:
        return slab * Params();
    }
  }

  template <Step kStep>
  TFA_INLINE void Run(const Thread& t) const {
    const int64_t size = Size(kStep);
    for (int64_t e = t.First(); e < size; e += t.Stride()) {
      if constexpr (kStep == Step::kSumS || kStep == Step::kSumG ||
                    kStep == Step::kSumB) {
        Sum<kStep>(e);
      } else if constexpr (kStep == Step::kDx) {
        Dx(e);
      } else {
        Element<kStep>(e);
      }
    }
  }

 private:
  // Element e of the slab's [slab][blocks][d]: parameter q = e mod params
  // (k d + i) of batch row first + e / params.
  template <Step kStep>
  TFA_INLINE void Element(int64_t e) const {
    const int64_t params = Params();
    const int64_t row = first + e / params;
    const int64_t q = e % params;
    const int64_t i = q & (p.d - 1);
    const int64_t base = e - i;  // the unit's element 0
    if constexpr (kStep == Step::kLoad) {
      h[0][e] = i < p.n_in ? p.b[q] * x[row * p.n_in + i] : C(0);
    } else if constexpr (kStep == Step::kGather) {
      h[1][e] = p.g[q] * h[0][base + (p.perm[q] & (p.d - 1))];
    } else if constexpr (kStep == Step::kGatherKeep) {
      const C h_g = h[0][base + (p.perm[q] & (p.d - 1))];
      h[1][e] = h_g;
      h[2][e] = p.g[q] * h_g;
    } else if constexpr (kStep == Step::kStore) {
      if (q < p.units) out[row * p.units + q] = p.s[q] * h[1][e];
    } else if constexpr (kStep == Step::kScaleDy) {
      h[2][e] = q < p.units ? p.s[q] * dy[row * p.units + q] : C(0);
    } else if constexpr (kStep == Step::kScatter) {
      h[0][base + (p.perm[q] & (p.d - 1))] = p.g[q] * h[2][e];
    }
  }

  // Slot entry e of the slab's chunks ([chunk][params]): the chunk's sum of
  // one parameter's gradient, continued over the chunk's rows in the slab.
  template <Step kStep>
  TFA_INLINE void Sum(int64_t e) const {
    const int64_t params = Params();
    const int64_t chunk_rows = ChunkRowsOf();
    const int64_t chunk = FirstChunk() + e / params;
    const int64_t q = e % params;
    const int64_t i = q & (p.d - 1);
    constexpr int kWhich =
        kStep == Step::kSumS ? 0 : kStep == Step::kSumG ? 1 : 2;
    if (kWhich == 0 && q >= p.units) return;
    if (kWhich == 2 && i >= p.n_in) return;
    int64_t begin = chunk * chunk_rows;
    int64_t end = begin + chunk_rows;
    if (begin < first) begin = first;
    if (end > first + slab) end = first + slab;
    if (end > rows) end = rows;
    C* slot = partial + (chunk * 3 + kWhich) * params + q;
    C sum = *slot;
    for (int64_t row = begin; row < end; ++row) {
      const int64_t at = (row - first) * params + q;
      if constexpr (kWhich == 0) {
        sum += dy[row * p.units + q] * h[2][at];  // dy h_s
      } else if constexpr (kWhich == 1) {
        sum += h[2][at] * h[1][at];  // work h_g
      } else {
        sum += h[0][at] * x[row * p.n_in + i];  // work2 x
      }
    }
    *slot = sum;
  }

  // dx of feature e mod n_in of batch row first + e / n_in: B work2, summed
  // over the blocks in order.
  TFA_INLINE void Dx(int64_t e) const {
    const int64_t r = e / p.n_in;
    const int64_t i = e % p.n_in;
    C sum = C(0);
    for (int64_t k = 0; k < p.blocks; ++k) {
      const int64_t q = k * p.d + i;
      sum += p.b[q] * h[0][r * Params() + q];
    }
    out[(first + r) * p.n_in + i] = sum;
  }
};

// Scratch buffers of a staged call.
TFA_INLINE int StagedBuffers(bool gradient) { return gradient ? 3 : 2; }

// Runs the staged steps of s over all of its rows, slab_rows at a time
// (s.first and s.slab are set here; s.h[] hold slab_rows units of blocks x
// d each): launch(step, s)
// for each step (a StepConstant; a grid-stride launch of s.Size(step)
// threads running s.Run<step>), transform(h, units) for each transform of
// `units` rows of d in place. Returns the first non-null result.
template <typename C, typename Launch, typename Transform>
inline const char* RunFastfoodStaged(StagedSlab<C> s, int64_t slab_rows,
                                     bool gradient, Launch&& launch,
                                     Transform&& transform) {
  const char* error = nullptr;
  for (s.first = 0; s.first < s.rows && error == nullptr;
       s.first += slab_rows) {
    s.slab = s.rows - s.first < slab_rows ? s.rows - s.first : slab_rows;
    const int64_t units = s.slab * s.p.blocks;
    const auto step = [&](auto constant) {
      if (error == nullptr) error = launch(constant, s);
    };
    const auto fwht = [&](C* h) {
      if (error == nullptr) error = transform(h, units);
    };
    step(StepConstant<Step::kLoad>());
    fwht(s.h[0]);
    if (!gradient) {
      step(StepConstant<Step::kGather>());
      fwht(s.h[1]);
      step(StepConstant<Step::kStore>());
      continue;
    }
    step(StepConstant<Step::kGatherKeep>());
    fwht(s.h[2]);
    step(StepConstant<Step::kSumS>());
    step(StepConstant<Step::kScaleDy>());
    fwht(s.h[2]);
    step(StepConstant<Step::kSumG>());
    step(StepConstant<Step::kScatter>());
    fwht(s.h[0]);
    step(StepConstant<Step::kSumB>());
    step(StepConstant<Step::kDx>());
  }
  return error;
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

// Elements (of C) of the scratch LaunchFastfood (gradient false) or
// LaunchFastfoodGrad (true) needs for `rows` rows of `params` = blocks * d
// parameters, max_log2 the fused kernels' limit (DeviceMaxFastfoodLog2):
// the gradient's chunk slots, then, where d exceeds 2^max_log2, the staged
// path's buffers.
TFA_INLINE int64_t FastfoodScratchElements(int64_t rows, int64_t params,
                                           int64_t d, bool gradient,
                                           int max_log2) {
  if (rows == 0) return 0;
  int64_t elements = 0;
  if (gradient) {
    const int64_t chunk_rows = ChunkRows(rows, params);
    elements += (rows + chunk_rows - 1) / chunk_rows * 3 * params;
  }
  if (IsStaged(d, max_log2)) {
    elements += StagedBuffers(gradient) * StagedSlabRows(rows, params) * params;
  }
  return elements;
}

// y = Fastfood(x) over `rows` rows (x [rows, p.n_in], y [rows, p.units]),
// p's parameters in device memory: one fused kernel where d is at most
// 2^max_log2 (< 0: DeviceMaxFastfoodLog2<C>()), else the staged path, its
// transforms' block passes also at most 2^max_log2. `scratch`: of
// FastfoodScratchElements(..., false, that limit).
template <typename C>
const char* LaunchFastfood(GpuStream stream, const Problem<C>& p,
                           int64_t rows, const C* x, C* y, C* scratch,
                           int max_log2 = -1);

// dx (written) and the parameter gradients `grads`, the sums in ChunkRows'
// fixed order; fused or staged as LaunchFastfood. `scratch`: of
// FastfoodScratchElements(..., true, that limit).
template <typename C>
const char* LaunchFastfoodGrad(GpuStream stream, const Problem<C>& p,
                               int64_t rows, const C* dy, const C* x, C* dx,
                               C* scratch, const FastfoodGrads<C>& grads,
                               int max_log2 = -1);

}  // namespace fastfood
}  // namespace tf_approx

#endif  // TF_APPROX_CC_FASTFOOD_FASTFOOD_GPU_H_
