#include "cc/fastfood/fastfood_cpu.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "cc/common/cpu_vector.h"
#include "cc/common/lanes.h"

namespace tf_approx {
namespace fastfood {
namespace {

// The stage of stride kH < kLanes within one vector: lane l's partner is
// l ^ kH, and p + sign v gives v_l + v_(l+h) in the low lanes and v_(l-h) -
// v_l in the high ones, the same sums as Butterfly (sign v is exact, so a
// fused multiply-add rounds once, like the plain sum).
template <typename S, int64_t kH, size_t... kL>
TFA_INLINE Vec<S> InVectorStage(Vec<S> v, std::index_sequence<kL...>) {
  using M = typename MaskOf<S>::type;
  using Lane = typename MaskOf<S>::lane;
  const M partner = {static_cast<Lane>(kL ^ kH)...};
  const Vec<S> sign = {((kL & kH) != 0 ? S(-1) : S(1))...};
  return __builtin_shuffle(v, partner) + sign * v;
}

// Every stage of stride below kLanes<S>, on one vector.
template <typename S, int64_t kH = 1>
TFA_INLINE Vec<S> InVectorStages(Vec<S> v) {
  if constexpr (kH < kLanes<S>) {
    v = InVectorStage<S, kH>(v, std::make_index_sequence<kLanes<S>>());
    return InVectorStages<S, 2 * kH>(v);
  } else {
    return v;
  }
}

// The vector map that changes nothing.
struct Unchanged {
  template <typename V>
  TFA_INLINE V operator()(V v) const {
    return v;
  }
};

// The stages with strides h, 2h, ... (kStages of them, 0 to 3) down the
// columns of a [rows, width] matrix (width a multiple of kLanes), in one pass:
// each group of 2^kStages vectors is read from src, whose rows lie src_pitch
// elements apart, each vector mapped by `in`, transformed in registers, and
// written to the same rows of dst (dst_pitch apart) mapped by `out`. src may
// equal dst. Stage order and operands are those of FwhtStages.
template <int kStages, typename S, typename In, typename Out>
TFA_INLINE void ColumnPass(const S* src, int64_t src_pitch, S* dst,
                           int64_t dst_pitch, int64_t rows, int64_t width,
                           int64_t h, In in, Out out) {
  constexpr int kRadix = 1 << kStages;
  constexpr int64_t kL = kLanes<S>;
  for (int64_t i = 0; i < rows; i += kRadix * h) {
    for (int64_t r = i; r < i + h; ++r) {
      for (int64_t c = 0; c < width; c += kL) {
        Vec<S> a[kRadix];
#pragma GCC unroll 8
        for (int k = 0; k < kRadix; ++k)
          a[k] = in(Load(src + (r + k * h) * src_pitch + c));
#pragma GCC unroll 4
        for (int s = 1; s < kRadix; s *= 2) {
#pragma GCC unroll 8
          for (int k = 0; k < kRadix; ++k) {
            if ((k & s) == 0) Butterfly(&a[k], &a[k + s]);
          }
        }
#pragma GCC unroll 8
        for (int k = 0; k < kRadix; ++k)
          Store(dst + (r + k * h) * dst_pitch + c, out(a[k]));
      }
    }
  }
}

template <typename S, typename In, typename Out>
TFA_INLINE void ColumnPass(int stages, const S* src, int64_t src_pitch, S* dst,
                           int64_t dst_pitch, int64_t rows, int64_t width,
                           int64_t h, In in, Out out) {
  switch (stages) {
    case 0:
      return ColumnPass<0>(src, src_pitch, dst, dst_pitch, rows, width, h, in,
                           out);
    case 1:
      return ColumnPass<1>(src, src_pitch, dst, dst_pitch, rows, width, h, in,
                           out);
    case 2:
      return ColumnPass<2>(src, src_pitch, dst, dst_pitch, rows, width, h, in,
                           out);
    default:
      return ColumnPass<3>(src, src_pitch, dst, dst_pitch, rows, width, h, in,
                           out);
  }
}

// Every stage down the columns of a [rows, width] matrix, rows a power of
// two, in passes of up to three stages (radix 8): the first reads src and
// maps its vectors by `in`, the others work in place on `work`, and the last
// writes dst, its vectors mapped by `out` (one pass goes straight from src to
// dst). Each matrix has its own pitch (elements between rows); any two may be
// the same memory.
template <typename S, typename In, typename Out>
TFA_INLINE void ColumnStages(const S* src, int64_t src_pitch, S* work,
                             int64_t work_pitch, S* dst, int64_t dst_pitch,
                             int64_t rows, int64_t width, In in, Out out) {
  int stages = Log2(rows);
  if (stages <= 3) {
    ColumnPass(stages, src, src_pitch, dst, dst_pitch, rows, width, 1, in, out);
    return;
  }
  ColumnPass<3>(src, src_pitch, work, work_pitch, rows, width, 1, in,
                Unchanged());
  int64_t h = 8;
  for (stages -= 3; stages > 3; stages -= 3, h *= 8)
    ColumnPass<3>(work, work_pitch, work, work_pitch, rows, width, h,
                  Unchanged(), Unchanged());
  ColumnPass(stages, work, work_pitch, dst, dst_pitch, rows, width, h,
             Unchanged(), out);
}

template <typename S>
TFA_INLINE void Scale(S* x, int64_t n, S scale) {
  if (scale == S(1)) return;
  for (int64_t i = 0; i < n; ++i) x[i] *= scale;
}

// y[0, n) <- c H_n x[0, n) for n <= BlockElements: the strides below kLanes
// within each vector as it is first loaded, the rest down the columns of x
// seen as [n / kLanes, kLanes].
template <typename S>
TFA_INLINE void Block(const S* x, S* y, int64_t n, S c) {
  constexpr int64_t kL = kLanes<S>;
  if (n < kL) {
    if (x != y) std::memcpy(y, x, n * sizeof(S));
    Fwht(y, n);
    Scale(y, n, c);
    return;
  }
  const Vec<S> scale = Splat<Vec<S>>(c);
  ColumnStages(
      x, kL, y, kL, y, kL, n / kL, kL,
      [](Vec<S> v) TFA_LAMBDA_INLINE { return InVectorStages<S>(v); },
      [scale](Vec<S> v) TFA_LAMBDA_INLINE { return v * scale; });
}

template <typename S>
TFA_INLINE void Blocks(const FwhtLayout<S>& layout, const S* x, S* y,
                       int64_t begin, int64_t end) {
  const int64_t n = layout.BlockSize();
  const S scale = layout.HasStrips() ? S(1) : layout.scale;
  for (int64_t b = begin; b < end; ++b) Block(x + b * n, y + b * n, n, scale);
}

// A strip's rows lie BlockElements (32 KiB) apart, so they all map to
// the same few cache sets: transformed in place they would evict one another.
// With more than three stages a strip is therefore gathered into `scratch`
// ([rows, kWidth], contiguous) by its first pass and scattered back, scaled,
// by its last.
template <typename S>
TFA_INLINE void Strips(const FwhtLayout<S>& layout, S* y, int64_t begin,
                       int64_t end, S* scratch) {
  using V = Vec<S>;
  constexpr int64_t kWidth = StripWidth<S>();
  const int64_t per_row = layout.StripsPerRow();
  constexpr int64_t kPitch = BlockElements<S>();
  const int64_t rows = layout.d / kPitch;
  const V scale = Splat<V>(layout.scale);
  for (int64_t s = begin; s < end; ++s) {
    S* strip = y + (s / per_row) * layout.d + (s % per_row) * kWidth;
    ColumnStages(strip, kPitch, scratch, kWidth, strip, kPitch, rows, kWidth,
                 Unchanged(),
                 [scale](V v) TFA_LAMBDA_INLINE { return v * scale; });
  }
}

template <typename S>
TFA_INLINE void Rows(const FwhtLayout<S>& layout, const S* x, S* y,
                     int64_t row_begin, int64_t row_end, S* scratch) {
  const int64_t blocks = layout.d / layout.BlockSize();
  const int64_t strips = layout.StripsPerRow();
  for (int64_t row = row_begin; row < row_end; ++row) {
    Blocks(layout, x, y, row * blocks, (row + 1) * blocks);
    if (layout.HasStrips())
      Strips(layout, y, row * strips, (row + 1) * strips, scratch);
  }
}

template <typename S>
int64_t StripScratch(const FwhtLayout<S>& layout) {
  return layout.HasStrips() ? layout.d / BlockElements<S>() * StripWidth<S>()
                            : 0;
}

template <typename S>
TFA_INLINE FwhtLayout<S> BlockLayout(const Problem<S>& p) {
  FwhtLayout<S> layout;
  layout.d = p.d;
  layout.scale = p.scale;
  return layout;
}

template <typename S>
TFA_INLINE void ForwardImpl(const Problem<S>& p, const S* x, S* y,
                            int64_t row_begin, int64_t row_end) {
  const FwhtLayout<S> layout = BlockLayout(p);
  const int64_t d = p.d;
  std::vector<S> buffer(3 * d + StripScratch(layout));
  S* h_pi = buffer.data();
  S* h_g = h_pi + d;
  S* h_s = h_g + d;
  S* strip = h_s + d;
  auto transform = [&](S* v)
                       TFA_LAMBDA_INLINE { Rows(layout, v, v, 0, 1, strip); };
  for (int64_t row = row_begin; row < row_end; ++row) {
    const S* xr = x + row * p.n_in;
    S* yr = y + row * p.units;
    for (int64_t k = 0; k < p.blocks; ++k) {
      const int64_t o = k * d;
      ForwardBlock(xr, p.n_in, d, p.b + o, p.g + o, p.perm + o, h_pi, h_g,
                   h_s, transform);
      const int64_t n_out = std::min(d, p.units - o);
      const S* s = p.s + o;
      for (int64_t i = 0; i < n_out; ++i) yr[o + i] = s[i] * h_s[i];
    }
  }
}

template <typename S>
TFA_INLINE void BackwardImpl(const Problem<S>& p, const S* dy, const S* x,
                             S* dx, int64_t row_begin, int64_t row_end,
                             S* grad) {
  const FwhtLayout<S> layout = BlockLayout(p);
  const int64_t d = p.d;
  const int64_t params = p.blocks * d;
  std::vector<S> buffer(5 * d + StripScratch(layout));
  S* h_pi = buffer.data();
  S* h_g = h_pi + d;
  S* h_s = h_g + d;
  S* work = h_s + d;
  S* work2 = work + d;
  S* strip = work2 + d;
  auto transform = [&](S* v)
                       TFA_LAMBDA_INLINE { Rows(layout, v, v, 0, 1, strip); };
  for (int64_t row = row_begin; row < row_end; ++row) {
    const S* xr = x + row * p.n_in;
    const S* dyr = dy + row * p.units;
    S* dxr = dx + row * p.n_in;
    for (int64_t i = 0; i < p.n_in; ++i) dxr[i] = S(0);
    for (int64_t k = 0; k < p.blocks; ++k) {
      const int64_t o = k * d;
      ForwardBlock(xr, p.n_in, d, p.b + o, p.g + o, p.perm + o, h_pi, h_g,
                   h_s, transform);
      BackwardBlock(dyr + o, std::min(d, p.units - o), xr, p.n_in, d, p.s + o,
                    p.g + o, p.b + o, p.perm + o, h_g, h_s, work, work2, dxr,
                    grad + o, grad + params + o, grad + 2 * params + o,
                    transform);
    }
  }
}

}  // namespace

// The FWHT's phases and Adaptive Fastfood, for S = float and double.
#define TFA_ENTRY_POINTS(S)                                                   \
  TFA_CPU_CLONES void FwhtRows(const FwhtLayout<S>& layout, const S* x, S* y, \
                               int64_t row_begin, int64_t row_end) {          \
    std::vector<S> scratch(StripScratch(layout));                             \
    Rows(layout, x, y, row_begin, row_end, scratch.data());                   \
  }                                                                           \
  TFA_CPU_CLONES void FwhtBlocks(const FwhtLayout<S>& layout, const S* x,     \
                                 S* y, int64_t begin, int64_t end) {          \
    Blocks(layout, x, y, begin, end);                                         \
  }                                                                           \
  TFA_CPU_CLONES void FwhtStrips(const FwhtLayout<S>& layout, S* y,           \
                                 int64_t begin, int64_t end) {                \
    std::vector<S> scratch(StripScratch(layout));                             \
    Strips(layout, y, begin, end, scratch.data());                            \
  }                                                                           \
  TFA_CPU_CLONES void Forward(const Problem<S>& p, const S* x, S* y,          \
                              int64_t row_begin, int64_t row_end) {           \
    ForwardImpl(p, x, y, row_begin, row_end);                                 \
  }                                                                           \
  TFA_CPU_CLONES void Backward(const Problem<S>& p, const S* dy, const S* x,  \
                               S* dx, int64_t row_begin, int64_t row_end,     \
                               S* grad) {                                     \
    BackwardImpl(p, dy, x, dx, row_begin, row_end, grad);                     \
  }

TFA_FOR_EACH_CPU_TYPE(TFA_ENTRY_POINTS)

#undef TFA_ENTRY_POINTS

}  // namespace fastfood
}  // namespace tf_approx
