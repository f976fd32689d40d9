// CPU fast Walsh–Hadamard transform over rows of d contiguous elements.
//
// A row is transformed in two phases, each in cache:
//   blocks  the strides below B = BlockElements<S>(), one B-element block
//           (or the whole row, when d <= B) at a time, in L1;
//   strips  the strides from B up (d > B only): the row viewed as a
//           [d / B, B] matrix is transformed down its columns, a
//           strip of StripWidth<S>() columns at a time, in L2.
// Blocks and strips are independent of one another, so a kernel may run all
// blocks of a tensor in parallel and then all strips (one large row split
// over threads), or whole rows in parallel. Strides within a GCC vector are
// done with shuffles as a block is first read, larger ones up to three stages
// (radix 8) per pass over the data. Results are bitwise identical to
// fastfood::Fwht (then scaled) however the work is split. Each entry point is
// compiled once per instruction set and chosen at run time.
#ifndef TF_APPROX_CC_FASTFOOD_FASTFOOD_CPU_H_
#define TF_APPROX_CC_FASTFOOD_FASTFOOD_CPU_H_

#include <cstdint>

#include "cc/fastfood/fastfood.h"

namespace tf_approx {
namespace fastfood {

// Elements per block: 32 KiB, inside a 48 KiB L1. (Measured on a 48 KiB-L1
// Xeon, one thread: against 16 KiB blocks, rows of 2^16-2^19 floats took
// 5-20% less time, 2^20 the same; 4 KiB blocks were 20% slower at 2^20.)
template <typename S>
constexpr int64_t BlockElements() {
  return 32768 / sizeof(S);
}

// Columns per strip: 512 bytes (eight 64-byte vectors) of every block row. A
// strip of a 2^20-element float row is then 64 KiB, inside L2.
template <typename S>
constexpr int64_t StripWidth() {
  return 512 / sizeof(S);
}

template <typename S>
struct FwhtLayout {
  int64_t d = 1;  // row length, a power of two
  S scale = 1;    // applied to the result: 1, or 1/sqrt(d) when normalized

  // Elements of one block: BlockElements, or d if smaller.
  int64_t BlockSize() const {
    return d < BlockElements<S>() ? d : BlockElements<S>();
  }
  bool HasStrips() const { return d > BlockElements<S>(); }
  int64_t StripsPerRow() const {
    return HasStrips() ? BlockElements<S>() / StripWidth<S>() : 0;
  }
};

// y <- H x (scaled) for rows [row_begin, row_end). x may equal y.
void FwhtRows(const FwhtLayout<float>& layout, const float* x, float* y,
              int64_t row_begin, int64_t row_end);
void FwhtRows(const FwhtLayout<double>& layout, const double* x, double* y,
              int64_t row_begin, int64_t row_end);

// Phase one on blocks [begin, end) of the flat array (block b holds elements
// [b, b + 1) * BlockSize()): copies them from x to y and applies the strides
// below BlockSize(); when !HasStrips() this is the whole transform. x may
// equal y.
void FwhtBlocks(const FwhtLayout<float>& layout, const float* x, float* y,
                int64_t begin, int64_t end);
void FwhtBlocks(const FwhtLayout<double>& layout, const double* x, double* y,
                int64_t begin, int64_t end);

// Phase two, in place on y, for strips [begin, end) (strip s is strip
// s % StripsPerRow() of row s / StripsPerRow()): the strides from BlockElements
// up, then the scale. Requires HasStrips() and phase one done on those rows.
void FwhtStrips(const FwhtLayout<float>& layout, float* y, int64_t begin,
                int64_t end);
void FwhtStrips(const FwhtLayout<double>& layout, double* y, int64_t begin,
                int64_t end);

// y = Fastfood(x) for rows [row_begin, row_end).
void Forward(const Problem<float>& p, const float* x, float* y,
             int64_t row_begin, int64_t row_end);
void Forward(const Problem<double>& p, const double* x, double* y,
             int64_t row_begin, int64_t row_end);

// dx for rows [row_begin, row_end), and adds those rows' gradients of S, G
// and B to grad ([3][blocks * d]: ds, dg, db). Each row's forward pass is
// recomputed, in cache, instead of stored.
void Backward(const Problem<float>& p, const float* dy, const float* x,
              float* dx, int64_t row_begin, int64_t row_end, float* grad);
void Backward(const Problem<double>& p, const double* dy, const double* x,
              double* dx, int64_t row_begin, int64_t row_end, double* grad);

}  // namespace fastfood
}  // namespace tf_approx

#endif  // TF_APPROX_CC_FASTFOOD_FASTFOOD_CPU_H_
