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

// The strides 1, 2, 4, ... below `rows` down the columns of a [rows, width]
// matrix whose rows lie `pitch` elements apart (width a multiple of kLanes):
// two stages per pass over the data (radix 4), then one more if their number
// is odd. Stage order and operands are those of FwhtStages.
template <typename S>
TFA_INLINE void ColumnStages(S* x, int64_t rows, int64_t pitch, int64_t width) {
  using V = Vec<S>;
  constexpr int64_t kL = kLanes<S>;
  int64_t h = 1;
  for (; 4 * h <= rows; h *= 4) {
    const int64_t step = h * pitch;
    for (int64_t i = 0; i < rows; i += 4 * h) {
      for (int64_t r = i; r < i + h; ++r) {
        S* p = x + r * pitch;
        for (int64_t c = 0; c < width; c += kL) {
          V a0 = Load(p + c), a1 = Load(p + step + c);
          V a2 = Load(p + 2 * step + c), a3 = Load(p + 3 * step + c);
          Butterfly(&a0, &a1);
          Butterfly(&a2, &a3);
          Butterfly(&a0, &a2);
          Butterfly(&a1, &a3);
          Store(p + c, a0);
          Store(p + step + c, a1);
          Store(p + 2 * step + c, a2);
          Store(p + 3 * step + c, a3);
        }
      }
    }
  }
  if (h < rows) {
    const int64_t step = h * pitch;
    for (int64_t i = 0; i < rows; i += 2 * h) {
      for (int64_t r = i; r < i + h; ++r) {
        S* p = x + r * pitch;
        for (int64_t c = 0; c < width; c += kL) {
          V a = Load(p + c), b = Load(p + step + c);
          Butterfly(&a, &b);
          Store(p + c, a);
          Store(p + step + c, b);
        }
      }
    }
  }
}

template <typename S>
TFA_INLINE void Scale(S* x, int64_t n, S scale) {
  using V = Vec<S>;
  constexpr int64_t kL = kLanes<S>;
  if (scale == S(1)) return;
  int64_t i = 0;
  const V s = Splat<V>(scale);
  for (; i + kL <= n; i += kL) Store(x + i, Load(x + i) * s);
  for (; i < n; ++i) x[i] *= scale;
}

// y[0, n) <- H_n x[0, n) for n <= BlockElements, unscaled.
template <typename S>
TFA_INLINE void Block(const S* x, S* y, int64_t n) {
  constexpr int64_t kL = kLanes<S>;
  if (n < kL) {
    if (x != y) std::memcpy(y, x, n * sizeof(S));
    Fwht(y, n);
    return;
  }
  for (int64_t i = 0; i < n; i += kL)
    Store(y + i, InVectorStages<S>(Load(x + i)));
  ColumnStages(y, n / kL, kL, kL);
}

template <typename S>
TFA_INLINE void Blocks(const FwhtLayout<S>& layout, const S* x, S* y,
                       int64_t begin, int64_t end) {
  const int64_t n = layout.BlockSize();
  for (int64_t b = begin; b < end; ++b) {
    Block(x + b * n, y + b * n, n);
    if (!layout.HasStrips()) Scale(y + b * n, n, layout.scale);
  }
}

// A strip's rows lie BlockElements (32 KiB) apart, so they all map to
// the same few cache sets: transformed in place they would evict one another.
// Each strip is gathered into `scratch` ([rows, kWidth], contiguous), done
// there, and scattered back scaled.
template <typename S>
TFA_INLINE void Strips(const FwhtLayout<S>& layout, S* y, int64_t begin,
                       int64_t end, S* scratch) {
  using V = Vec<S>;
  constexpr int64_t kL = kLanes<S>;
  constexpr int64_t kWidth = StripWidth<S>();
  const int64_t per_row = layout.StripsPerRow();
  constexpr int64_t kPitch = BlockElements<S>();
  const int64_t rows = layout.d / kPitch;
  const V scale = Splat<V>(layout.scale);
  for (int64_t s = begin; s < end; ++s) {
    S* strip = y + (s / per_row) * layout.d + (s % per_row) * kWidth;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < kWidth; c += kL)
        Store(scratch + r * kWidth + c, Load(strip + r * kPitch + c));
    }
    ColumnStages(scratch, rows, kWidth, kWidth);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < kWidth; c += kL)
        Store(strip + r * kPitch + c, Load(scratch + r * kWidth + c) * scale);
    }
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
TFA_INLINE FwhtLayout<S> BlockLayout(const FastfoodProblem<S>& p) {
  FwhtLayout<S> layout;
  layout.d = p.d;
  layout.scale = p.scale;
  return layout;
}

template <typename S>
TFA_INLINE void Forward(const FastfoodProblem<S>& p, const S* x, S* y,
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
      FastfoodForwardBlock(xr, p.n_in, d, p.b + o, p.g + o, p.perm + o, h_pi,
                           h_g, h_s, transform);
      const int64_t n_out = std::min(d, p.units - o);
      const S* s = p.s + o;
      for (int64_t i = 0; i < n_out; ++i) yr[o + i] = s[i] * h_s[i];
    }
  }
}

template <typename S>
TFA_INLINE void Backward(const FastfoodProblem<S>& p, const S* dy, const S* x,
                         S* dx, int64_t row_begin, int64_t row_end, S* grad) {
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
      FastfoodForwardBlock(xr, p.n_in, d, p.b + o, p.g + o, p.perm + o, h_pi,
                           h_g, h_s, transform);
      FastfoodBackwardBlock(dyr + o, std::min(d, p.units - o), xr, p.n_in, d,
                            p.s + o, p.g + o, p.b + o, p.perm + o, h_g, h_s,
                            work, work2, dxr, grad + o, grad + params + o,
                            grad + 2 * params + o, transform);
    }
  }
}

}  // namespace

#define TFA_FWHT_ENTRY_POINTS(S)                                              \
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
  }

TFA_FWHT_ENTRY_POINTS(float)
TFA_FWHT_ENTRY_POINTS(double)

#undef TFA_FWHT_ENTRY_POINTS

#define TFA_FASTFOOD_ENTRY_POINTS(S)                                           \
  TFA_CPU_CLONES void FastfoodForward(const FastfoodProblem<S>& p, const S* x, \
                                      S* y, int64_t row_begin,                 \
                                      int64_t row_end) {                       \
    Forward(p, x, y, row_begin, row_end);                                      \
  }                                                                            \
  TFA_CPU_CLONES void FastfoodBackward(                                        \
      const FastfoodProblem<S>& p, const S* dy, const S* x, S* dx,             \
      int64_t row_begin, int64_t row_end, S* grad) {                           \
    Backward(p, dy, x, dx, row_begin, row_end, grad);                          \
  }

TFA_FASTFOOD_ENTRY_POINTS(float)
TFA_FASTFOOD_ENTRY_POINTS(double)

#undef TFA_FASTFOOD_ENTRY_POINTS

}  // namespace fastfood
}  // namespace tf_approx
