// The fixed order of the parameter gradients' sums over rows, shared by the
// CPU kernels (cc/common/kernel_util.h's DeterministicRowSums) and the GPU
// kernels that follow it. TensorFlow-free and CUDA-free.
#ifndef TF_APPROX_CC_COMMON_ROW_SUMS_H_
#define TF_APPROX_CC_COMMON_ROW_SUMS_H_

#include <cstdint>

#include "cc/common/platform.h"

namespace tf_approx {

// Rows are summed in chunks fixed by the shapes alone, each chunk's sum in
// its own slot, the slots added in order in double: at most this many.
constexpr int64_t kMaxSumChunks = 64;

// Rows a chunk, for `rows` rows: about `target` (at least 1), more where
// that would make more than kMaxSumChunks chunks, rounded up to whole units
// of `unit` rows.
TFA_INLINE int64_t SumChunkRows(int64_t rows, int64_t target,
                                int64_t unit = 1) {
  int64_t chunk = target < 1 ? 1 : target;
  const int64_t spread = (rows + kMaxSumChunks - 1) / kMaxSumChunks;
  if (chunk < spread) chunk = spread;
  return (chunk + unit - 1) / unit * unit;
}

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_ROW_SUMS_H_
