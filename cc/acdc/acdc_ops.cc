// Op registrations for ACDC (thesis §3.10) and the orthonormal DCTs it is built
// from.
//
// TfApprox>Acdc computes a whole layer per row in one pass; TfApprox>AcdcGrad
// returns dx, da, dd and dbias in one pass, recomputing DCT(x ⊙ a) instead of
// storing it. TfApprox>Dct is the orthonormal DCT-II (inverse = false) or
// DCT-III (inverse = true) of the last axis; each is the other's gradient.
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tf_approx {
namespace {

using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

absl::Status CheckRows(InferenceContext* c, int input, const char* op) {
  const ShapeHandle x = c->input(input);
  if (c->RankKnown(x) && c->Rank(x) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(op,
                     ": `x` must have rank >= 1 (the last axis is "
                     "transformed), got a scalar"));
  }
  return absl::OkStatus();
}

// x at `x_input`, then a, d, bias: vectors of x's last-axis length.
absl::Status AcdcShapes(InferenceContext* c, int x_input) {
  TF_RETURN_IF_ERROR(CheckRows(c, x_input, "acdc"));
  const ShapeHandle x = c->input(x_input);
  DimensionHandle n = c->RankKnown(x) ? c->Dim(x, -1) : c->UnknownDim();
  const char* names[] = {"a", "d", "bias"};
  for (int i = 0; i < 3; ++i) {
    const ShapeHandle v = c->input(x_input + 1 + i);
    if (!c->RankKnown(v)) continue;
    DimensionHandle merged;
    if (c->Rank(v) != 1 || !c->Merge(n, c->Dim(v, 0), &merged).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "acdc: `", names[i],
          "` must be a vector of the length of the last axis of `x`, [",
          c->DebugString(n), "], got ", c->DebugString(v)));
    }
    n = merged;
  }
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("TfApprox>Acdc")
    .Input("x: T")
    .Input("a: T")
    .Input("d: T")
    .Input("bias: T")
    .Output("y: T")
    .Attr("T: {half, bfloat16, float, double}")
    .SetShapeFn([](InferenceContext* c) {
      TF_RETURN_IF_ERROR(AcdcShapes(c, 0));
      c->set_output(0, c->input(0));
      return absl::OkStatus();
    })
    .Doc(R"doc(
One ACDC layer (thesis §3.10) on every row x of the last axis (length n):
y = C^T (C (x * a) * d + bias), C the orthonormal DCT-II. a, d, bias: [n].
Half types are computed in float32.
)doc");

REGISTER_OP("TfApprox>AcdcGrad")
    .Input("dy: T")
    .Input("x: T")
    .Input("a: T")
    .Input("d: T")
    .Output("dx: T")
    .Output("da: T")
    .Output("dd: T")
    .Output("dbias: T")
    .Attr("T: {half, bfloat16, float, double}")
    .SetShapeFn([](InferenceContext* c) {
      TF_RETURN_IF_ERROR(CheckRows(c, 1, "acdc gradient"));
      ShapeHandle x;
      TF_RETURN_IF_ERROR(c->Merge(c->input(0), c->input(1), &x));
      for (int i = 2; i < 4; ++i) {
        ShapeHandle v;
        TF_RETURN_IF_ERROR(c->WithRank(c->input(i), 1, &v));
      }
      c->set_output(0, x);
      for (int i = 1; i < 4; ++i) c->set_output(i, c->input(2));
      return absl::OkStatus();
    })
    .Doc(R"doc(
The gradients of TfApprox>Acdc in one pass (thesis eq. 3.28-3.32): with
g = C dy and t = C^T (d * g), dx = a * t, da = sum over rows of x * t,
dd = sum of C (x * a) * g, dbias = sum of g. The sums are deterministic.
)doc");

REGISTER_OP("TfApprox>Dct")
    .Input("x: T")
    .Output("y: T")
    .Attr("T: {half, bfloat16, float, double}")
    .Attr("inverse: bool = false")
    .SetShapeFn([](InferenceContext* c) {
      TF_RETURN_IF_ERROR(CheckRows(c, 0, "dct"));
      c->set_output(0, c->input(0));
      return absl::OkStatus();
    })
    .Doc(R"doc(
The orthonormal DCT-II of the last axis (scipy.fft.dct(x, norm='ortho')), or
with inverse the orthonormal DCT-III, its inverse and transpose. O(n log n)
for every n. Half types are computed in float32.
)doc");

}  // namespace tf_approx
