// Op registrations for the approximated activations (Timmons and Rice, Approximating Activation Functions).
//
// One forward op and one gradient op serve every approximation: the function
// is chosen by attrs (kind + coefficients), so a user-registered rational runs
// on the same kernels and a SavedModel carries its coefficients in the graph.
#include "absl/status/status.h"
#include "cc/activations/activations_attrs.h"
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tf_approx {

using ::tensorflow::shape_inference::InferenceContext;

#define TFA_ACTIVATION_ATTRS                              \
  Attr("T: {half, bfloat16, float, double}")              \
      .Attr("kind: {" TFA_ACTIVATION_KINDS "}")           \
      .TFA_ACTIVATION_FORM_ATTRS("")

REGISTER_OP("TfApprox>Activation")
    .Input("x: T")
    .Output("y: T")
    .TFA_ACTIVATION_ATTRS
    .SetShapeFn(::tensorflow::shape_inference::UnchangedShape)
    .Doc(R"doc(
Applies an approximated activation function elementwise.

kind selects the family: 'rational' computes numerator(x) / denominator(x) +
offset (coefficients in ascending powers); 'fastexp_sigmoid' computes
1 / (1 + (1 - x/n)^n) with n = 2^squarings; the others are the fixed
comparators of the same names; 'fastexp_expm1' computes (1 + x/n)^n - 1 and
'fastexp_mish' tanh(softplus(x)) with exp(x) ~ (1 + x/n)^n. With clip, x is
first clipped to [clip_min, clip_max]. The form attrs put the kind's function
g in y = output_scale * (product ? x * g(u) : g(u)) + slope * x, u =
input_scale * x, replaced by the line slope * x + intercept below `below`'s
point and above `above`'s ([at, slope, intercept]; empty: none). Half types
are computed in float32.
)doc");

REGISTER_OP("TfApprox>ActivationGrad")
    .Input("dy: T")
    .Input("x: T")
    .Output("dx: T")
    .TFA_ACTIVATION_ATTRS
    .SetShapeFn([](InferenceContext* c) {
      ::tensorflow::shape_inference::ShapeHandle shape;
      TF_RETURN_IF_ERROR(c->Merge(c->input(0), c->input(1), &shape));
      c->set_output(0, shape);
      return absl::OkStatus();
    })
    .Doc(R"doc(
Gradient of TfApprox>Activation: dx = dy * f'(x), the analytic derivative of
the approximation as implemented (0 where clip is active).
)doc");

#undef TFA_ACTIVATION_ATTRS

}  // namespace tf_approx
