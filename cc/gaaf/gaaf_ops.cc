// Op registrations for GAAF, gradient acceleration in activation functions
// (Hahn and Choi, 2018). The forward op and its gradient op share the attrs
// that pick the base function, the shape function and its parameters.
#include "absl/status/status.h"
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tf_approx {

using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

#define TFA_GAAF_ATTRS                                    \
  Attr("T: {half, bfloat16, float, double}")              \
      .Attr("base: {'tanh', 'sigmoid', 'relu'} = 'tanh'") \
      .Attr("shape: {'none', 'exp', 'sigmoid'} = 'exp'")  \
      .Attr("k: float = 10000.0")                         \
      .Attr("center: float = 0.0")                        \
      .Attr("width: float = 1.0")

REGISTER_OP("TfApprox>Gaaf")
    .Input("x: T")
    .Output("y: T")
    .TFA_GAAF_ATTRS.SetShapeFn(::tensorflow::shape_inference::UnchangedShape)
    .Doc(R"doc(
GAAF (Hahn and Choi): y = phi(x) + g(x) s(x) elementwise, g(x) = (xk - floor(xk)
- 1/2) / k, phi = base, s the shape function: 'exp' exp(-|x - center| /
width), 'sigmoid' sigmoid(-(x - center) / width), 'none' 1. g is computed in
double from exact partial products, so it stays accurate for large |x|. Half
types are computed in float32.
)doc");

REGISTER_OP("TfApprox>GaafGrad")
    .Input("dy: T")
    .Input("x: T")
    .Output("dx: T")
    .TFA_GAAF_ATTRS
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x;
      TF_RETURN_IF_ERROR(c->Merge(c->input(0), c->input(1), &x));
      c->set_output(0, x);
      return absl::OkStatus();
    })
    .Doc(R"doc(
Gradient of TfApprox>Gaaf: dx = dy (phi'(x) + s(x) + g(x) s'(x)), taking
g' = 1 (true everywhere but at the jumps of g).
)doc");

#undef TFA_GAAF_ATTRS

}  // namespace tf_approx
