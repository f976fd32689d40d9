// Block programs (cc/common/gpu_model.h) that test the cooperative model:
// shuffles, shared-memory phases and barriers, run by `_native.gpu_model` on
// the CPU and by the GPU harness on a GPU, each checked against numpy
// (tests/test_gpu_model.py, tools/gpu_check.py). A block transform that
// butterflies within a warp by shuffles and across warps through shared
// memory is the shape of the Walsh-Hadamard transform's GPU kernel.
#ifndef TF_APPROX_CC_NATIVE_BLOCK_PROGRAMS_H_
#define TF_APPROX_CC_NATIVE_BLOCK_PROGRAMS_H_

#include <cstdint>

#include "cc/common/dispatch.h"
#include "cc/common/gpu_model.h"
#include "cc/common/platform.h"

namespace tf_approx {
namespace block_programs {

enum class ShuffleKind { kXor, kDown, kIndex };

inline bool ParseShuffleKind(const char* name, ShuffleKind* kind) {
  static constexpr Named<ShuffleKind> kNames[] = {
      {"xor", ShuffleKind::kXor},
      {"down", ShuffleKind::kDown},
      {"index", ShuffleKind::kIndex}};
  return ParseName(name, kNames, kind);
}

template <typename S>
struct Registers {
  S value;
  S other;
};

// y[i] = x[j], where lane j is the lane that a shuffle of `kind` with `arg`
// reads for lane i (one element per thread).
template <typename S, typename B>
TFA_INLINE void Shuffle(B& b, ShuffleKind kind, int arg, const S* x, S* y) {
  using R = Registers<S>;
  b.Threads([&](const Thread& t, R& r) { r.value = x[t.First()]; });
  switch (kind) {
    case ShuffleKind::kXor:
      b.ShuffleXor(&R::value, &R::other, arg);
      break;
    case ShuffleKind::kDown:
      b.ShuffleDown(&R::value, &R::other, arg);
      break;
    case ShuffleKind::kIndex:
      b.ShuffleIndex(&R::value, &R::other, arg);
      break;
  }
  b.Threads([&](const Thread& t, R& r) { y[t.First()] = r.other; });
}

// The unnormalised Walsh-Hadamard transform of each row of x (one row of
// `threads` elements per block, one element per thread, threads a power of
// two): the butterflies of distance below a warp by shuffles, the others
// through shared memory (threads elements of S). Pair (a, b), a at the lower
// index, becomes (a + b, a - b).
template <typename S, typename B>
TFA_INLINE void Fwht(B& b, int64_t threads, const S* x, S* y) {
  using R = Registers<S>;
  b.Threads([&](const Thread& t, R& r) { r.value = x[t.First()]; });
  for (int h = 1; h < kWarpSize && h < threads; h <<= 1) {
    b.ShuffleXor(&R::value, &R::other, h);
    b.Threads([&](const Thread& t, R& r) {
      r.value = (t.Lane() & h) ? r.other - r.value : r.value + r.other;
    });
  }
  S* shared = b.template Shared<S>();
  for (int64_t h = kWarpSize; h < threads; h <<= 1) {
    b.Threads([&](const Thread& t, R& r) { shared[t.thread] = r.value; });
    b.Barrier();
    b.Threads([&](const Thread& t, R& r) {
      const S partner = shared[t.thread ^ h];
      r.value = (t.thread & h) ? partner - r.value : r.value + partner;
    });
    b.Barrier();  // before the next distance overwrites what was read
  }
  b.Threads([&](const Thread& t, R& r) { y[t.First()] = r.value; });
}

// sums[block] = the sum of the block's elements of x (one per thread; those
// at n and beyond count as 0), in a fixed order: each warp's by shuffles
// (offsets 16, 8, 4, 2, 1: lane 0 ends with its warp's sum), then the warps'
// sums, through shared memory (threads / kWarpSize elements of S), by the
// first warp in the same way.
template <typename S, typename B>
TFA_INLINE void Sum(B& b, int64_t threads, const S* x, int64_t n, S* sums) {
  using R = Registers<S>;
  S* shared = b.template Shared<S>();
  const auto warp_sum = [&] {
    for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
      b.ShuffleDown(&R::value, &R::other, offset);
      b.Threads([&](const Thread&, R& r) { r.value += r.other; });
    }
  };
  b.Threads([&](const Thread& t, R& r) {
    r.value = t.First() < n ? x[t.First()] : S(0);
  });
  warp_sum();
  b.Threads([&](const Thread& t, R& r) {
    if (t.Lane() == 0) shared[t.Warp()] = r.value;
  });
  b.Barrier();
  b.Threads([&](const Thread& t, R& r) {
    r.value = t.thread < threads / kWarpSize ? shared[t.thread] : S(0);
  });
  warp_sum();
  b.Threads([&](const Thread& t, R& r) {
    if (t.thread == 0) sums[t.block] = r.value;
  });
}

}  // namespace block_programs
}  // namespace tf_approx

#endif  // TF_APPROX_CC_NATIVE_BLOCK_PROGRAMS_H_
