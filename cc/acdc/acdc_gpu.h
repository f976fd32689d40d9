// ACDC's and the DCT's GPU kernels: their per-thread logic, which the CUDA
// kernels of acdc_gpu.cu.cc run and the native module's `gpu_model` runs on
// the CPU, and the launchers' declarations. TensorFlow-free and CUDA-free.
//
// A thread block takes a row at a time (rows b, b + blocks, ... for block
// b) and runs acdc.h's steps on it, each loop of the FFT and the DCTs a phase
// whose iterations its threads share, a barrier after each (BlockPhase): the
// same operations on the same operands as the CPU kernels, so the results
// are theirs where neither compiler contracts a multiply-add. The row and
// the DCT's scratch (RowElements) live in shared memory where they fit, else
// in a global buffer of that many elements per block, with the same code.
// The gradient writes each row's terms of the parameter gradients
// (x ⊙ t, h2 ⊙ g, g) to a buffer, and a last launch sums them over the rows
// in the CPU kernel's order (acdc.h's ChunkRows): deterministic, no atomics.
#ifndef TF_APPROX_CC_ACDC_ACDC_GPU_H_
#define TF_APPROX_CC_ACDC_ACDC_GPU_H_

#include <cstddef>
#include <cstdint>

#include "cc/acdc/acdc.h"
#include "cc/common/device.h"
#include "cc/common/gpu_model.h"
#include "cc/common/platform.h"

namespace tf_approx {
namespace acdc {

// A block keeps nothing in registers across phases.
struct NoRegisters {};

// A phase (acdc.h) of a thread block: thread i of T takes iterations i,
// i + T, ..., then the block meets at a barrier.
template <typename B>
struct BlockPhase {
  B& b;

  template <typename Body>
  TFA_INLINE void operator()(int64_t count, Body&& body) const {
    b.Threads([&](const Thread& t, NoRegisters&) TFA_LAMBDA_INLINE {
      for (int64_t i = t.thread; i < count; i += t.threads) body(i);
    });
    b.Barrier();
  }
};

// Threads a block: enough for the FFT's m / 4 butterfly groups, a whole
// number of warps, at most kMaxBlockThreads.
constexpr int64_t kMaxBlockThreads = 256;

template <typename S>
TFA_INLINE int64_t BlockThreads(const Plan<S>& p) {
  int64_t threads = kWarpSize;
  while (threads < kMaxBlockThreads && 4 * threads < p.m) threads *= 2;
  return threads;
}

// Elements a block works in: the row (two for the gradient: x ⊙ a and dy)
// and the DCT's scratch.
template <typename S>
TFA_INLINE int64_t RowElements(const Plan<S>& p, bool gradient) {
  return (gradient ? 2 : 1) * p.n + ScratchSize(p);
}

// The block's memory: its shared memory (global == nullptr), or its slice of
// `global` (RowElements a block).
template <typename C, typename B>
TFA_INLINE C* BlockMemory(B& b, C* global, int64_t elements) {
  return global == nullptr ? b.template Shared<C>()
                           : global + b.Block() * elements;
}

// y = C^T (C (x ⊙ a) ⊙ d + bias) for rows [0, rows) of x and y ([rows, n]).
template <typename C, typename B>
TFA_INLINE void ForwardBlock(B& b, const Problem<C>& p, int64_t rows,
                             const C* x, C* y, C* global) {
  const int64_t n = p.plan.n;
  C* u = BlockMemory(b, global, RowElements(p.plan, false));
  C* work = u + n;
  const BlockPhase<B> phase{b};
  for (int64_t row = b.Block(); row < rows; row += b.Blocks()) {
    const C* x_row = x + row * n;
    phase(n, [&](int64_t j) TFA_LAMBDA_INLINE { u[j] = x_row[j] * p.a[j]; });
    ForwardSteps(p, u, work, phase);
    C* y_row = y + row * n;
    phase(n, [&](int64_t j) TFA_LAMBDA_INLINE { y_row[j] = u[j]; });
  }
}

// The orthonormal DCT-II (inverse: DCT-III) of rows [0, rows) of x into y.
template <typename C, typename B>
TFA_INLINE void DctBlock(B& b, const Plan<C>& plan, bool inverse,
                         int64_t rows, const C* x, C* y, C* global) {
  const int64_t n = plan.n;
  C* u = BlockMemory(b, global, RowElements(plan, false));
  C* work = u + n;
  const BlockPhase<B> phase{b};
  for (int64_t row = b.Block(); row < rows; row += b.Blocks()) {
    const C* x_row = x + row * n;
    phase(n, [&](int64_t j) TFA_LAMBDA_INLINE { u[j] = x_row[j]; });
    if (inverse) {
      Dct3(plan, u, work, phase);
    } else {
      Dct2(plan, u, work, phase);
    }
    C* y_row = y + row * n;
    phase(n, [&](int64_t j) TFA_LAMBDA_INLINE { y_row[j] = u[j]; });
  }
}

// The gradient's terms of row r ([3][rows][n]): the terms of dE/da, dE/dd
// and dE/dbias, x ⊙ t, h2 ⊙ g and g.
template <typename C>
struct Terms {
  C* data = nullptr;
  int64_t rows = 0;
  int64_t n = 0;

  TFA_INLINE C* Of(int q, int64_t row) const {
    return data + (q * rows + row) * n;
  }
};

// dx for rows [0, rows), and each row's terms of the parameter gradients.
template <typename C, typename B>
TFA_INLINE void BackwardBlock(B& b, const Problem<C>& p, int64_t rows,
                              const C* dy, const C* x, C* dx,
                              const Terms<C>& terms, C* global) {
  const int64_t n = p.plan.n;
  C* h = BlockMemory(b, global, RowElements(p.plan, true));
  C* g = h + n;
  C* work = g + n;
  const BlockPhase<B> phase{b};
  for (int64_t row = b.Block(); row < rows; row += b.Blocks()) {
    const C* x_row = x + row * n;
    const C* dy_row = dy + row * n;
    phase(n, [&](int64_t j) TFA_LAMBDA_INLINE {
      h[j] = x_row[j] * p.a[j];
      g[j] = dy_row[j];
    });
    C* da = terms.Of(0, row);
    C* dd = terms.Of(1, row);
    C* dbias = terms.Of(2, row);
    BackwardSteps(
        p, h, g, work, phase,
        [&](int64_t j, C h2, C g_j) TFA_LAMBDA_INLINE {
          dd[j] = h2 * g_j;
          dbias[j] = g_j;
        },
        [&](int64_t j, C t) TFA_LAMBDA_INLINE { da[j] = x_row[j] * t; });
    C* dx_row = dx + row * n;
    phase(n, [&](int64_t j) TFA_LAMBDA_INLINE { dx_row[j] = h[j]; });
  }
}

// Where the parameter gradients go: dE/da, dE/dd, dE/dbias, [n] each.
template <typename T>
struct AcdcGrads {
  T* da = nullptr;
  T* dd = nullptr;
  T* dbias = nullptr;

  TFA_INLINE T* operator[](int64_t q) const {
    return q == 0 ? da : q == 1 ? dd : dbias;
  }
};

// The parameter gradients from the terms, for thread t's entries q n + j:
// over ChunkRows' chunks (rows in units of `unit` = RowsPerUnit), each lane
// of a chunk sums its rows from zero, the chunk adds its lanes lowest first,
// and the chunks' sums are added in order in double: the CPU kernel's order.
template <typename T, typename C>
TFA_INLINE void SumThread(const Thread& t, const Terms<C>& terms, int64_t unit,
                          const AcdcGrads<T>& grads) {
  const int64_t n = terms.n;
  const int64_t rows = terms.rows;
  const int64_t chunk_rows = ChunkRows(rows, n, unit);
  for (int64_t e = t.First(); e < 3 * n; e += t.Stride()) {
    const int q = static_cast<int>(e / n);
    const int64_t j = e % n;
    double total = 0;
    for (int64_t begin = 0; begin < rows; begin += chunk_rows) {
      const int64_t end = begin + chunk_rows < rows ? begin + chunk_rows : rows;
      C chunk = C(0);
      for (int64_t lane = 0; lane < unit; ++lane) {
        C sum = C(0);
        for (int64_t row = begin + lane; row < end; row += unit) {
          sum += terms.Of(q, row)[j];
        }
        chunk += sum;
      }
      total += chunk;
    }
    grads[q][j] = static_cast<T>(total);
  }
}

// Elements of a plan's tables.
template <typename S>
int64_t TableElements(Plan<S> plan) {
  int64_t elements = 0;
  plan.ForEachTable([&](const S**, int64_t count) { elements += count; });
  return elements;
}

// How the rows of a call run: blocks, and whether a row's memory is shared
// (shared_bytes a block) or global (`elements` a block, in the scratch).
struct RowLaunch {
  int64_t blocks = 1;
  size_t shared_bytes = 0;
  bool global = false;
  int64_t elements = 0;

  int64_t GlobalElements() const { return global ? blocks * elements : 0; }
};

// Launchers (acdc_gpu.cu.cc), on `stream`; each returns nullptr, or CUDA's
// description of the error. The plan's tables and the parameters are in
// device memory. A caller plans the rows once (PlanRows), sizes the scratch
// for that plan (ScratchElements) and hands the same plan to the launcher.

// Copies the tables of `host` (host memory, which may be released when this
// returns) to `device` (TableElements of them) and points *plan, a copy of
// host, there.
template <typename C>
const char* LaunchCopyPlan(GpuStream stream, const Plan<C>& host, C* device,
                           Plan<C>* plan);

// How `rows` rows of p (the gradient's, or the forward's and the DCT's) run
// on the current device: a row's RowElements in shared memory where the
// device has that much for a block, else in the scratch.
template <typename C>
RowLaunch PlanRows(const Plan<C>& p, int64_t rows, bool gradient);

// Elements of the scratch a launch of `rows` rows of n columns needs (the
// gradient: its terms, then any rows' memory).
inline int64_t ScratchElements(const RowLaunch& launch, int64_t rows,
                               int64_t n, bool gradient) {
  if (rows == 0) return 0;
  return (gradient ? 3 * rows * n : 0) + launch.GlobalElements();
}

template <typename C>
const char* LaunchAcdc(GpuStream stream, const Problem<C>& p, int64_t rows,
                       const RowLaunch& launch, const C* x, C* y, C* scratch);

template <typename C>
const char* LaunchAcdcGrad(GpuStream stream, const Problem<C>& p,
                           int64_t rows, const RowLaunch& launch, const C* dy,
                           const C* x, C* dx, C* scratch,
                           const AcdcGrads<C>& grads);

template <typename C>
const char* LaunchDct(GpuStream stream, const Plan<C>& plan, bool inverse,
                      int64_t rows, const RowLaunch& launch, const C* x, C* y,
                      C* scratch);

}  // namespace acdc
}  // namespace tf_approx

#endif  // TF_APPROX_CC_ACDC_ACDC_GPU_H_
