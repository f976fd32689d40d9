// Op registrations for the fused recurrent layers: a whole LSTM or GRU
// sequence in one op, its gradient in another (the math:
// cc/recurrent/recurrent.h).
//
// The input projection x W + b of every step is computed before the op (one
// large matmul); the op runs the recurrence. Its two functions are the exact
// tanh or sigmoid, or any approximation of the activation op, given by the
// activation op's attrs behind the prefixes `activation_` and
// `recurrent_activation_`.
#include <initializer_list>

#include "absl/status/status.h"
#include "cc/activations/activations_attrs.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tf_approx {

using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

#define TFA_RECURRENT_ATTRS                                              \
  Attr("T: {float, double}")                                             \
      .Attr("reverse: bool = false")                                     \
      .Attr("activation_kind: {'tanh', 'sigmoid', " TFA_ACTIVATION_KINDS \
            "} = 'tanh'")                                                \
      .TFA_ACTIVATION_FORM_ATTRS("activation_")                          \
      .Attr("recurrent_activation_kind: {'tanh', 'sigmoid', "            \
            TFA_ACTIVATION_KINDS "} = 'sigmoid'")                        \
      .TFA_ACTIVATION_FORM_ATTRS("recurrent_activation_")

namespace {

// Shapes of the inputs every op of a layer takes: x [time, batch, gates
// units], kernel [units, gates units], the states [batch, units] and
// lengths [batch].
absl::Status SequenceShapes(InferenceContext* c, int gates, int x, int kernel,
                            std::initializer_list<int> states, int lengths,
                            DimensionHandle* time, DimensionHandle* batch,
                            DimensionHandle* units) {
  ShapeHandle x_shape, kernel_shape, state;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(x), 3, &x_shape));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(kernel), 2, &kernel_shape));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(*states.begin()), 2, &state));
  for (int s : states) {
    TF_RETURN_IF_ERROR(c->Merge(state, c->input(s), &state));
  }
  ShapeHandle lengths_shape;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(lengths), 1, &lengths_shape));
  DimensionHandle width;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(x_shape, 2), c->Dim(kernel_shape, 1),
                              &width));
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(kernel_shape, 0), c->Dim(state, 1),
                              units));
  DimensionHandle gate_units;
  TF_RETURN_IF_ERROR(c->Multiply(*units, gates, &gate_units));
  TF_RETURN_IF_ERROR(c->Merge(width, gate_units, &width));
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(x_shape, 1), c->Dim(state, 0), batch));
  TF_RETURN_IF_ERROR(c->Merge(*batch, c->Dim(lengths_shape, 0), batch));
  *time = c->Dim(x_shape, 0);
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("TfApprox>Lstm")
    .Input("x: T")
    .Input("recurrent_kernel: T")
    .Input("h0: T")
    .Input("c0: T")
    .Input("lengths: int32")
    .Output("outputs: T")
    .Output("h: T")
    .Output("c: T")
    .Output("gates: T")
    .Output("cells: T")
    .TFA_RECURRENT_ATTRS
    .SetShapeFn([](InferenceContext* c) {
      DimensionHandle time, batch, units;
      TF_RETURN_IF_ERROR(
          SequenceShapes(c, 4, 0, 1, {2, 3}, 4, &time, &batch, &units));
      DimensionHandle width;
      TF_RETURN_IF_ERROR(c->Multiply(units, 4, &width));
      c->set_output(0, c->MakeShape({time, batch, units}));
      c->set_output(1, c->MakeShape({batch, units}));
      c->set_output(2, c->MakeShape({batch, units}));
      c->set_output(3, c->MakeShape({time, batch, width}));
      c->set_output(4, c->MakeShape({time, batch, units}));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Runs an LSTM over a whole sequence (Keras' formulation and gate order i, f, c,
o): per step z = x[t] + h recurrent_kernel, i = ra(z_i), f = ra(z_f),
g = a(z_c), o = ra(z_o), c = f c + i g, h = o a(c), with a the activation and
ra the recurrent activation ('tanh' and 'sigmoid' exact, any other kind an
approximation as in TfApprox>Activation).

x: [time, batch, 4 units], the input projection of every step.
recurrent_kernel: [units, 4 units].
h0, c0: [batch, units], the initial states.
lengths: [batch], in [0, time]: steps t >= lengths[b] are masked (h and c
  carried unchanged; outputs[t, b] is the carried h).
reverse: take the steps from t = time - 1 down to 0.
outputs: [time, batch, units], h at every step.
h, c: the states after the last step.
gates, cells: z and c at every step, for the gradient.
)doc");

REGISTER_OP("TfApprox>LstmGrad")
    .Input("d_outputs: T")
    .Input("dh: T")
    .Input("dc: T")
    .Input("recurrent_kernel: T")
    .Input("h0: T")
    .Input("c0: T")
    .Input("lengths: int32")
    .Input("outputs: T")
    .Input("gates: T")
    .Input("cells: T")
    .Output("dx: T")
    .Output("d_recurrent_kernel: T")
    .Output("dh0: T")
    .Output("dc0: T")
    .TFA_RECURRENT_ATTRS
    .SetShapeFn([](InferenceContext* c) {
      DimensionHandle time, batch, units;
      TF_RETURN_IF_ERROR(SequenceShapes(c, 4, 8, 3, {4, 5, 1, 2}, 6, &time,
                                        &batch, &units));
      c->set_output(0, c->input(8));
      c->set_output(1, c->input(3));
      c->set_output(2, c->input(4));
      c->set_output(3, c->input(5));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Gradient of TfApprox>Lstm from the gradients of its outputs, h and c and what
it saved (outputs, gates, cells): dx (the gradient of z at every step, 0 at
masked steps), d_recurrent_kernel, dh0 and dc0. Uses the derivative of each
function as implemented.
)doc");

REGISTER_OP("TfApprox>Gru")
    .Input("x: T")
    .Input("recurrent_kernel: T")
    .Input("recurrent_bias: T")
    .Input("h0: T")
    .Input("lengths: int32")
    .Output("outputs: T")
    .Output("h: T")
    .Output("gates: T")
    .Output("reset: T")
    .TFA_RECURRENT_ATTRS
    .Attr("reset_after: bool = true")
    .SetShapeFn([](InferenceContext* c) {
      DimensionHandle time, batch, units;
      TF_RETURN_IF_ERROR(
          SequenceShapes(c, 3, 0, 1, {3}, 4, &time, &batch, &units));
      ShapeHandle bias;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &bias));
      DimensionHandle width;
      TF_RETURN_IF_ERROR(c->Multiply(units, 3, &width));
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(bias, 0), width, &width));
      c->set_output(0, c->MakeShape({time, batch, units}));
      c->set_output(1, c->MakeShape({batch, units}));
      c->set_output(2, c->MakeShape({time, batch, width}));
      c->set_output(3, c->MakeShape({time, batch, units}));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Runs a GRU over a whole sequence (Keras' formulation and gate order z, r, h).
With reset_after, per step m = h recurrent_kernel + recurrent_bias,
z = ra(x_z + m_z), r = ra(x_r + m_r), hh = a(x_h + r m_h); without it
z = ra(x_z + h W_z + b_z), r = ra(x_r + h W_r + b_r),
hh = a(x_h + (r h) W_hh + b_hh); then h = z h + (1 - z) hh. a is the
activation and ra the recurrent activation ('tanh' and 'sigmoid' exact, any
other kind an approximation as in TfApprox>Activation).

x: [time, batch, 3 units], the input projection of every step.
recurrent_kernel: [units, 3 units].
recurrent_bias: [3 units].
h0: [batch, units], the initial state.
lengths: [batch], in [0, time]: steps t >= lengths[b] are masked (h carried
  unchanged; outputs[t, b] is the carried h).
reverse: take the steps from t = time - 1 down to 0.
reset_after: apply the reset gate after the recurrent product (cuDNN's form).
outputs: [time, batch, units], h at every step.
h: the state after the last step.
gates, reset: the pre-activations of z, r and hh, and m_h (reset_after) or
  r h (without), at every step, for the gradient.
)doc");

REGISTER_OP("TfApprox>GruGrad")
    .Input("d_outputs: T")
    .Input("dh: T")
    .Input("recurrent_kernel: T")
    .Input("h0: T")
    .Input("lengths: int32")
    .Input("outputs: T")
    .Input("gates: T")
    .Input("reset: T")
    .Output("dx: T")
    .Output("d_recurrent_kernel: T")
    .Output("d_recurrent_bias: T")
    .Output("dh0: T")
    .TFA_RECURRENT_ATTRS
    .Attr("reset_after: bool = true")
    .SetShapeFn([](InferenceContext* c) {
      DimensionHandle time, batch, units;
      TF_RETURN_IF_ERROR(
          SequenceShapes(c, 3, 6, 2, {3, 1}, 4, &time, &batch, &units));
      DimensionHandle width;
      TF_RETURN_IF_ERROR(c->Multiply(units, 3, &width));
      c->set_output(0, c->input(6));
      c->set_output(1, c->input(2));
      c->set_output(2, c->MakeShape({width}));
      c->set_output(3, c->input(3));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Gradient of TfApprox>Gru from the gradients of its outputs and h and what it
saved (outputs, gates, reset): dx (0 at masked steps), d_recurrent_kernel,
d_recurrent_bias and dh0. Uses the derivative of each function as
implemented.
)doc");

#undef TFA_RECURRENT_ATTRS

}  // namespace tf_approx
