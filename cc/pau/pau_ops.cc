// Op registrations for Padé Activation Units (Molina et al., Padé Activation Units).
//
// One forward op and one fused gradient op (dx and both coefficient gradients
// in one pass over the data) serve every order, denominator and coefficient
// layout: orders are read from the coefficient shapes, the denominator from an
// attr, and RPAU noise is regenerated from `seed` rather than stored.
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/common/op_util.h"
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tf_approx {
namespace {

using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

constexpr int kMaxOrder = 10;

// Checks one coefficient input: [count] or [channels, count] with count in
// [lo, hi], channels matching x's last axis.
absl::Status CheckCoefficients(InferenceContext* c, int input, const char* arg,
                               int lo, int hi, int x_input) {
  ShapeHandle coefficients = c->input(input);
  TF_RETURN_IF_ERROR(c->WithRankAtLeast(coefficients, 1, &coefficients));
  TF_RETURN_IF_ERROR(c->WithRankAtMost(coefficients, 2, &coefficients));
  if (!c->RankKnown(coefficients)) return absl::OkStatus();
  const int rank = c->Rank(coefficients);
  DimensionHandle count = c->Dim(coefficients, rank - 1);
  if (c->ValueKnown(count) && (c->Value(count) < lo || c->Value(count) > hi)) {
    return absl::InvalidArgumentError(
        absl::StrCat("pau: `", arg, "` must have ", lo, " to ", hi,
                     " coefficients in its last axis, got ", c->Value(count)));
  }
  if (rank == 2) {
    ShapeHandle x = c->input(x_input);
    TF_RETURN_IF_ERROR(c->WithRankAtLeast(x, 1, &x));
    if (c->RankKnown(x)) {
      DimensionHandle merged;
      TF_RETURN_IF_ERROR(
          c->Merge(c->Dim(x, -1), c->Dim(coefficients, 0), &merged));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckInputs(InferenceContext* c, int x_input) {
  const int num = x_input + 1, den = x_input + 2, seed = x_input + 3;
  TF_RETURN_IF_ERROR(
      CheckCoefficients(c, num, "numerator", 2, kMaxOrder + 1, x_input));
  TF_RETURN_IF_ERROR(
      CheckCoefficients(c, den, "denominator", 1, kMaxOrder, x_input));
  if (c->RankKnown(c->input(num)) && c->RankKnown(c->input(den)) &&
      c->Rank(c->input(num)) != c->Rank(c->input(den))) {
    return absl::InvalidArgumentError(
        "pau: `numerator` and `denominator` must both be shared (rank 1) or "
        "both per channel (rank 2)");
  }
  return CheckSeedShape(c, seed, "pau");
}

}  // namespace

#define TFA_PAU_ATTRS                                                      \
  Attr("T: {half, bfloat16, float, double}")                               \
      .Attr("denominator_kind: {'safe', 'abs_of_sum', 'unsafe'} = 'safe'") \
      .Attr("randomized: float = 0.0")

REGISTER_OP("TfApprox>Pau")
    .Input("x: T")
    .Input("numerator: T")
    .Input("denominator: T")
    .Input("seed: int64")
    .Output("y: T")
    .TFA_PAU_ATTRS
    .SetShapeFn([](InferenceContext* c) {
      TF_RETURN_IF_ERROR(CheckInputs(c, 0));
      c->set_output(0, c->input(0));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Padé Activation Unit: y = P(x) / Q(x) elementwise.

numerator holds a_0..a_m (m = 1..10), denominator b_1..b_n (n = 1..10), both
either shared ([m + 1], [n]) or one set per channel of x's last axis
([channels, m + 1], [channels, n]). denominator_kind: 'safe' Q = 1 + sum
|b_k| |x|^k; 'abs_of_sum' Q = 1 + |sum b_k x^k|; 'unsafe' Q = 1 + sum b_k x^k.
With randomized = alpha > 0 (RPAU), every coefficient c of every element is
replaced by c + alpha |c| u, u uniform in (-1, 1) from a counter-based hash of
seed = [seed, step], the element's index and the coefficient's index; with
seed = [seed, step, first] the element's index counts from `first` (its
replica's offset in a global batch). Half types are computed in float32.

On a GPU the kernels read the coefficients and the seed from device memory
themselves; nothing is copied to the host, so two things differ from the
CPU kernel. A negative `first` in seed is not rejected (the CPU kernel
raises InvalidArgument; the GPU counts from it modulo 2^64). And the radius
beyond which an input is evaluated in scaled powers, against overflow, is
formed by each thread from its own channel's coefficients rather than from
the largest over all channels: per-channel results may differ in the last
bits for inputs between the two radii (for shared coefficients the radius is
the CPU's).
)doc");

REGISTER_OP("TfApprox>PauGrad")
    .Input("dy: T")
    .Input("x: T")
    .Input("numerator: T")
    .Input("denominator: T")
    .Input("seed: int64")
    .Output("dx: T")
    .Output("dnumerator: T")
    .Output("ddenominator: T")
    .TFA_PAU_ATTRS
    .SetShapeFn([](InferenceContext* c) {
      TF_RETURN_IF_ERROR(CheckInputs(c, 1));
      ShapeHandle x;
      TF_RETURN_IF_ERROR(c->Merge(c->input(0), c->input(1), &x));
      c->set_output(0, x);
      c->set_output(1, c->input(2));
      c->set_output(2, c->input(3));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Gradients of TfApprox>Pau in one pass: dx = dy dF/dx, and dnumerator,
ddenominator the sums of dy dF/dcoefficient over the elements sharing each
coefficient (with the same noise as the forward pass when randomized > 0; the
noise itself is treated as a constant). The sums are taken in an order fixed
by the shapes alone, so they are bitwise reproducible for any thread count
(on a GPU: for any launch shape, without atomics; the order differs from the
CPU's). On a GPU, as for TfApprox>Pau: seed's `first` is not checked and the
overflow radius is formed per channel.
)doc");

#undef TFA_PAU_ATTRS

}  // namespace tf_approx
