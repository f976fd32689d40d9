// Op registrations for the noisy activation functions (thesis §4.3).
//
// One forward op and one fused gradient op (dx and dp in one pass) serve every
// variant: the base function, where the noise goes and its distribution are
// attrs; the noise is regenerated from `seed` in the gradient rather than
// stored. `scale` (c or sigma) is an input so that a callback can anneal it.
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

absl::Status CheckInputs(InferenceContext* c, int x_input) {
  const int p = x_input + 1, scale = x_input + 2, seed = x_input + 3;
  ShapeHandle p_shape = c->input(p);
  TF_RETURN_IF_ERROR(c->WithRankAtMost(p_shape, 1, &p_shape));
  if (c->RankKnown(p_shape) && c->Rank(p_shape) == 1) {
    ShapeHandle x = c->input(x_input);
    TF_RETURN_IF_ERROR(c->WithRankAtLeast(x, 1, &x));
    if (c->RankKnown(x)) {
      DimensionHandle merged;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(x, -1), c->Dim(p_shape, 0), &merged));
    }
  }
  ShapeHandle unused;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(scale), 0, &unused));
  return CheckSeedShape(c, seed, "noisy_activation");
}

}  // namespace

#define TFA_NOISY_ATTRS                                                     \
  Attr("T: {half, bfloat16, float, double}")                                \
      .Attr("base: {'tanh', 'sigmoid'} = 'tanh'")                           \
      .Attr(                                                                \
          "where: {'output', 'input', 'input_learned', 'input_saturated'} " \
          "= 'output'")                                                     \
      .Attr("noise: {'normal', 'half_normal'} = 'normal'")                  \
      .Attr("alpha: float = 1.0")                                           \
      .Attr("training: bool = false")

REGISTER_OP("TfApprox>NoisyActivation")
    .Input("x: T")
    .Input("p: T")
    .Input("scale: T")
    .Input("seed: int64")
    .Output("y: T")
    .TFA_NOISY_ATTRS
    .SetShapeFn([](InferenceContext* c) {
      TF_RETURN_IF_ERROR(CheckInputs(c, 0));
      c->set_output(0, c->input(0));
      return absl::OkStatus();
    })
    .Doc(R"doc(
A noisy hard-saturating activation (Gulcehre et al., 2016), elementwise.

base: hard 'tanh' (u = x, h = clip(u, -1, 1)) or hard 'sigmoid'
(u = x / 4 + 1/2, h = clip(u, 0, 1)); Delta = h - u. where:
'output' (NAN/NAH): alpha h + (1 - alpha) u - sign(x) sign(1 - alpha)
  scale (sigmoid(p Delta) - 1/2)^2 eps;
'input' (NANI): h(x + scale eps);
'input_learned' (NANIL): h(x + scale softplus(p |Delta|) eps);
'input_saturated' (NANIS): h(x + scale eps) where h saturates, else h(x).
p is a scalar or one value per channel of x's last axis ([channels]); scale
is a scalar. eps = xi ~ N(0, 1) ('normal') or |xi| ('half_normal'), drawn
from a counter-based hash of seed = [seed, step] and the element's index when
training, else its mean (0 or sqrt(2/pi)); with seed = [seed, step, first] the
element's index counts from `first` (its replica's offset in a global batch).
Half types are computed in float32. On a GPU, p, scale and seed are read by
the kernel from device memory (they may be GPU variables) and their values are
not checked there: a negative `first`, which the CPU kernel rejects, counts
modulo 2^64 on the GPU.
)doc");

REGISTER_OP("TfApprox>NoisyActivationGrad")
    .Input("dy: T")
    .Input("x: T")
    .Input("p: T")
    .Input("scale: T")
    .Input("seed: int64")
    .Output("dx: T")
    .Output("dp: T")
    .TFA_NOISY_ATTRS
    .SetShapeFn([](InferenceContext* c) {
      TF_RETURN_IF_ERROR(CheckInputs(c, 1));
      ShapeHandle x;
      TF_RETURN_IF_ERROR(c->Merge(c->input(0), c->input(1), &x));
      c->set_output(0, x);
      c->set_output(1, c->input(2));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Gradients of TfApprox>NoisyActivation in one pass: dx = dy dphi/dx and dp the
sum of dy dphi/dp over the elements sharing p, with the forward pass's noise
(regenerated from seed, treated as a constant). The sums are taken in an order
fixed by the shapes alone, so they are bitwise reproducible for any thread
count (on a GPU too: no atomics, the same order for any launch; the GPU's order
differs from the CPU's, so the two agree to rounding). As the forward op, the
GPU kernels do not check the values of seed.
)doc");

#undef TFA_NOISY_ATTRS

}  // namespace tf_approx
