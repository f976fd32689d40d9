// Op registrations for the fast Walsh–Hadamard transform (SPEC §3).
//
// TfApprox>FastWalshHadamard is its own gradient (H is symmetric), so it needs
// no gradient op: the Python gradient calls it again on dy.
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tf_approx {
namespace {

using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;

bool IsPowerOfTwo(int64_t d) { return d > 0 && (d & (d - 1)) == 0; }

absl::Status FwhtShape(InferenceContext* c) {
  const auto x = c->input(0);
  if (c->RankKnown(x)) {
    if (c->Rank(x) == 0) {
      return absl::InvalidArgumentError(
          "fast_walsh_hadamard: `x` must have rank >= 1 (the last axis is "
          "transformed), got a scalar");
    }
    const DimensionHandle d = c->Dim(x, -1);
    if (c->ValueKnown(d) && !IsPowerOfTwo(c->Value(d))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fast_walsh_hadamard: the last axis of `x` must be a power of two "
          "(1, 2, 4, ...), got ",
          c->Value(d), " (shape ", c->DebugString(x), ")"));
    }
  }
  c->set_output(0, x);
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("TfApprox>FastWalshHadamard")
    .Input("x: T")
    .Output("y: T")
    .Attr("T: {half, bfloat16, float, double}")
    .Attr("normalize: bool = false")
    .SetShapeFn(FwhtShape)
    .Doc(R"doc(
Fast Walsh–Hadamard transform of the last axis: y = H_d x for every row x,
d = 2^k (k >= 0), H in Sylvester order (H_1 = [1], H_2d = [[H_d, H_d],
[H_d, -H_d]]); with normalize, y = H_d x / sqrt(d). O(d log d) per row,
batched over any leading shape. Half types are computed in float32.
)doc");

}  // namespace tf_approx
