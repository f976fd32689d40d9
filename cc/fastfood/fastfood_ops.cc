// Op registrations for the fast Walsh–Hadamard transform and Adaptive
// Fastfood (thesis §3.9).
//
// TfApprox>FastWalshHadamard is its own gradient (H is symmetric), so it needs
// no gradient op: the Python gradient calls it again on dy. TfApprox>Fastfood
// has a fused gradient op computing dx, dS, dG and dB in one pass.
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/fastfood/fastfood.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tf_approx {
namespace {

using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;
using ::tf_approx::IsPowerOfTwo;

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

// Checks x ([..., n_in]) and s, g, b, permutation ([blocks, d] each) at the
// given input indices; sets *out to x's shape with the last axis `units`.
absl::Status FastfoodShapes(InferenceContext* c, int x_input,
                            ShapeHandle* out) {
  ShapeHandle x = c->input(x_input);
  if (c->RankKnown(x) && c->Rank(x) == 0) {
    return absl::InvalidArgumentError(
        "fastfood: `x` must have rank >= 1 (features in the last axis), got "
        "a scalar");
  }
  ShapeHandle params;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(x_input + 1), 2, &params));
  const char* names[] = {"g", "b", "permutation"};
  for (int i = 0; i < 3; ++i) {
    ShapeHandle other;
    TF_RETURN_IF_ERROR(c->WithRank(c->input(x_input + 2 + i), 2, &other));
    if (!c->Merge(params, other, &params).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fastfood: `", names[i], "` must have the shape of `s`, ",
          c->DebugString(c->input(x_input + 1)), ", got ",
          c->DebugString(other)));
    }
  }
  int64_t units = 0;
  TF_RETURN_IF_ERROR(c->GetAttr("units", &units));
  const DimensionHandle blocks = c->Dim(params, 0);
  const DimensionHandle d = c->Dim(params, 1);
  if (c->ValueKnown(d)) {
    const int64_t dv = c->Value(d);
    if (!IsPowerOfTwo(dv)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fastfood: the last axis of `s` (the block size d) must be a power "
          "of two, got ",
          dv));
    }
    if (c->ValueKnown(blocks) && c->Value(blocks) != (units + dv - 1) / dv) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fastfood: `s` must have ceil(units / d) = ", (units + dv - 1) / dv,
          " rows (units = ", units, ", d = ", dv, "), got ", c->Value(blocks)));
    }
    if (c->RankKnown(x) && c->ValueKnown(c->Dim(x, -1)) &&
        c->Value(c->Dim(x, -1)) > dv) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fastfood: the last axis of `x` must be at most the block size d = ",
          dv, ", got ", c->Value(c->Dim(x, -1))));
    }
  }
  if (!c->RankKnown(x)) {
    *out = c->UnknownShape();
    return absl::OkStatus();
  }
  return c->ReplaceDim(x, -1, c->MakeDim(units), out);
}

}  // namespace

REGISTER_OP("TfApprox>Fastfood")
    .Input("x: T")
    .Input("s: T")
    .Input("g: T")
    .Input("b: T")
    .Input("permutation: int32")
    .Output("y: T")
    .Attr("T: {half, bfloat16, float, double}")
    .Attr("units: int >= 1")
    .Attr("normalize: bool = false")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle y;
      TF_RETURN_IF_ERROR(FastfoodShapes(c, 0, &y));
      c->set_output(0, y);
      return absl::OkStatus();
    })
    .Doc(R"doc(
Adaptive Fastfood (thesis §3.9): for every row x of n_in <= d features,
zero-padded to d, block k of the output is S_k H G_k Π_k H B_k x, with
(Π_k v)_i = v_{permutation[k, i]}, H the unnormalised Walsh–Hadamard matrix
(each scaled by 1/sqrt(d) with normalize). The blocks = ceil(units / d)
blocks are stacked and truncated to units. s, g, b, permutation: [blocks, d].
Half types are computed in float32.
)doc");

REGISTER_OP("TfApprox>FastfoodGrad")
    .Input("dy: T")
    .Input("x: T")
    .Input("s: T")
    .Input("g: T")
    .Input("b: T")
    .Input("permutation: int32")
    .Output("dx: T")
    .Output("ds: T")
    .Output("dg: T")
    .Output("db: T")
    .Attr("T: {half, bfloat16, float, double}")
    .Attr("units: int >= 1")
    .Attr("normalize: bool = false")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle y;
      TF_RETURN_IF_ERROR(FastfoodShapes(c, 1, &y));
      TF_RETURN_IF_ERROR(c->Merge(c->input(0), y, &y));
      c->set_output(0, c->input(1));
      for (int i = 1; i <= 3; ++i) c->set_output(i, c->input(1 + i));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Gradients of TfApprox>Fastfood in one pass over the rows (thesis eq.
3.11-3.13): dx, and ds, dg, db summed over the rows in an order fixed by the
shapes alone. Each row's forward pass is recomputed instead of stored.
)doc");

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
