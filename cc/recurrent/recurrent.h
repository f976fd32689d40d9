// The math of the fused recurrent layers, written once: an LSTM (Hochreiter
// and Schmidhuber) and a GRU (Cho et al.), in Keras' formulations and weight
// layouts, whose functions are the exact tanh and sigmoid or any
// approximation of the activations family (Timmons and Rice, Approximating
// Activation Functions).
//
// One LSTM step of an example, units u, gates in Keras' order i, f, c, o:
//   z = x_t + h W_h                     (x_t = input W + b, computed before)
//   i = ra(z_i), f = ra(z_f), g = a(z_c), o = ra(z_o)
//   c = f c_prev + i g,  h = o a(c)
// One GRU step, gates in Keras' order z, r, h, with reset_after (cuDNN's
// form, Keras' default):
//   m = h W_h + b_h
//   z = ra(x_z + m_z), r = ra(x_r + m_r), hh = a(x_h + r m_h)
// and without it:
//   z = ra(x_z + h W_z + b_z), r = ra(x_r + h W_r + b_r),
//   hh = a(x_h + (r h) W_hh + b_hh)
// and then h = z h_prev + (1 - z) hh.
// a is the activation and ra the recurrent activation. Steps t >= length of
// an example are masked: the states are carried unchanged. The backward
// passes recompute the gates from the saved pre-activations, and use the
// derivative of each function as implemented (the approximation's own, not
// the exact one's).
//
// Every elementwise function is a template over V, a scalar or a GCC vector
// (cc/common/lanes.h); FunctionValue and FunctionGradient are one element's,
// for the GPU kernels. No TensorFlow includes: shared by the CPU kernels, the
// GPU kernels (recurrent_gpu.h) and the native module.
#ifndef TF_APPROX_CC_RECURRENT_RECURRENT_H_
#define TF_APPROX_CC_RECURRENT_RECURRENT_H_

#include <cstdint>

#include "cc/activations/activations.h"
#include "cc/common/dispatch.h"
#include "cc/common/lanes.h"
#include "cc/common/platform.h"
#include "cc/common/vector_math.h"

namespace tf_approx {
namespace recurrent {

// How one of a layer's functions is computed.
enum class Function : int {
  kTanh,           // exact (cc/common/vector_math.h: a few ulps)
  kSigmoid,        // exact
  kApproximation,  // an activations::Params
};

template <typename S>
struct FunctionOf {
  Function function = Function::kTanh;
  activations::Params<S> approximation;  // kApproximation only
};

// The exact functions and their derivatives from their values.
template <typename V>
TFA_INLINE V ExactValue(Function f, V x) {
  return f == Function::kTanh ? Tanh(x) : Sigmoid(x);
}

template <typename V>
TFA_INLINE V ExactDerivativeFromValue(Function f, V y) {
  return f == Function::kTanh ? 1 - y * y : y * (1 - y);
}

// One element of f: y = f(x), and dy f'(x) given y (the exact functions'
// derivatives are computed from it), as the CPU loops compute them in lanes.
template <typename S>
TFA_HOST_DEVICE S FunctionValue(const FunctionOf<S>& f, S x) {
  if (f.function != Function::kApproximation) return ExactValue(f.function, x);
  S y = x;
  activations::VisitKind(f.approximation, [&](const auto& form)
                                              TFA_LAMBDA_INLINE {
    y = activations::ScalarValue(form, f.approximation, x);
  });
  return y;
}

template <typename S>
TFA_HOST_DEVICE S FunctionGradient(const FunctionOf<S>& f, S x, S y, S dy) {
  if (f.function != Function::kApproximation) {
    return dy * ExactDerivativeFromValue(f.function, y);
  }
  S dx = dy;
  activations::VisitKind(f.approximation, [&](const auto& form)
                                              TFA_LAMBDA_INLINE {
    dx = activations::ScalarGradient(form, f.approximation, x, dy);
  });
  return dx;
}

// What the layers' sequences share: the sizes, the direction, the functions
// and the masks. States are [batch, units]; `lengths` [batch], each in
// [0, time].
template <typename S>
struct Sequence {
  int64_t time = 0;
  int64_t batch = 0;
  int64_t units = 0;
  bool reverse = false;  // steps t = time - 1 down to 0
  FunctionOf<S> activation;
  FunctionOf<S> recurrent_activation;
  const int32_t* lengths = nullptr;

  // The time index of the s-th step taken.
  TFA_INLINE int64_t StepTime(int64_t s) const {
    return reverse ? time - 1 - s : s;
  }
  // The time index of the step before the one at t (-1: the initial state).
  TFA_INLINE int64_t PreviousTime(int64_t t) const {
    if (reverse) return t + 1 < time ? t + 1 : -1;
    return t - 1;
  }
  TFA_INLINE bool Active(int64_t t, int64_t b) const { return t < lengths[b]; }
};

// The [batch, units] state a step at time index t starts from: `initial`,
// or the step before's in `states` [time, batch, units].
template <typename S>
TFA_INLINE const S* PreviousState(const Sequence<S>& p, const S* initial,
                                  const S* states, int64_t t) {
  const int64_t prev = p.PreviousTime(t);
  return prev < 0 ? initial : states + prev * p.batch * p.units;
}

// The state after the last step taken (`initial` if none).
template <typename S>
TFA_INLINE const S* FinalState(const Sequence<S>& p, const S* initial,
                               const S* states) {
  const int64_t last = p.time == 0 ? -1 : p.StepTime(p.time - 1);
  return last < 0 ? initial : states + last * p.batch * p.units;
}

// One LSTM sequence: x [time, batch, 4 units], the kernel [units, 4 units].
template <typename S>
struct LstmProblem : Sequence<S> {
  TFA_INLINE int64_t Gates() const { return 4 * this->units; }
};

// One GRU sequence: x [time, batch, 3 units], the kernel [units, 3 units],
// the recurrent bias [3 units].
template <typename S>
struct GruProblem : Sequence<S> {
  bool reset_after = true;

  TFA_INLINE int64_t Gates() const { return 3 * this->units; }
  // Without reset_after a step's candidate needs every unit's r h first: two
  // phases, where reset_after takes one.
  TFA_INLINE int64_t PhasesPerStep() const { return reset_after ? 1 : 2; }
};

// The passes as phases: a phase's work for a range of units (the CPU's
// threads) or for one element (a GPU thread) needs what the phases before it
// wrote for any unit, and only its own range's or element's from its own
// phase, so a phase runs once the one before has finished everywhere.
//
// The LSTM's backward pass: phase 0 transposes the kernel; phase i in
// [1, time + 1] finishes step s = time + 1 - i (its dh for a range of units
// needs every unit's dz of step s) and starts step s - 1 (whose gates for the
// range need only the range's dh); the last phase is the kernel's gradient.
// (Its forward pass is one phase per step.)
template <typename S>
TFA_INLINE int64_t LstmBackwardPhases(const LstmProblem<S>& p) {
  return p.time + 3;
}

// The GRU's forward pass: PhasesPerStep() per step.
template <typename S>
TFA_INLINE int64_t GruForwardPhases(const GruProblem<S>& p) {
  return p.time * p.PhasesPerStep();
}

// The GRU's backward pass: phase 0 transposes the kernel; then per step s,
// from the last, the first of its phases finishes step s + 1 (its dh) and
// starts step s, and without reset_after a second one takes r's gradient of
// step s; then step 0 is finished; the last phase is the kernel's gradient.
template <typename S>
TFA_INLINE int64_t GruBackwardPhases(const GruProblem<S>& p) {
  return p.time * p.PhasesPerStep() + 3;
}

// The tensors of one LSTM sequence (see TfApprox>Lstm and TfApprox>LstmGrad):
// x [time, batch, 4 units], kernel [units, 4 units], h0 and c0 [batch, units];
// the forward pass writes outputs [time, batch, units] (the carried h at
// masked steps), gates [time, batch, 4 units] (z) and cells [time, batch,
// units] (c); the backward pass reads them with the gradients d_outputs, dh
// and dc (dh and dc are updated in place, step by step, and end as the
// gradients of h0 and c0) and writes dx [time, batch, 4 units] (the gradient
// of z, 0 at masked steps) and d_kernel.
template <typename S>
struct LstmData {
  const S* x = nullptr;
  const S* kernel = nullptr;
  const S* h0 = nullptr;
  const S* c0 = nullptr;
  S* outputs = nullptr;
  S* gates = nullptr;
  S* cells = nullptr;
  const S* d_outputs = nullptr;
  S* dh = nullptr;
  S* dc = nullptr;
  S* dx = nullptr;
  S* d_kernel = nullptr;
  // LstmScratch(p) elements on the CPU, GpuLstmScratch(p) on the GPU.
  S* scratch = nullptr;
};

// The tensors of one GRU sequence (see TfApprox>Gru and TfApprox>GruGrad):
// x [time, batch, 3 units], kernel [units, 3 units], bias (the recurrent
// bias) [3 units], h0 [batch, units]; the forward pass writes outputs [time,
// batch, units] (the carried h at masked steps), gates [time, batch, 3 units]
// (the pre-activations of z, r and hh) and reset [time, batch, units] (m_h
// with reset_after, r h_prev without); the backward pass reads them with the
// gradients d_outputs and dh (dh is updated in place, step by step, and ends
// as the gradient of h0) and writes dx [time, batch, 3 units] (the gradient
// of x, 0 at masked steps), d_kernel and d_bias.
template <typename S>
struct GruData {
  const S* x = nullptr;
  const S* kernel = nullptr;
  const S* bias = nullptr;
  const S* h0 = nullptr;
  S* outputs = nullptr;
  S* gates = nullptr;
  S* reset = nullptr;
  const S* d_outputs = nullptr;
  S* dh = nullptr;
  S* dx = nullptr;
  S* d_kernel = nullptr;
  S* d_bias = nullptr;
  // GruScratch(p) elements on the CPU, GpuGruScratch(p) on the GPU.
  S* scratch = nullptr;
};

// The cell state from the activated gates.
template <typename V>
TFA_INLINE V CellState(V i, V f, V g, V c_prev) {
  return f * c_prev + i * g;
}

// The backward step of one unit: given dc (the cell state's gradient, the
// output's already included) and dh, the gradients of the gates' activated
// values (each multiplied by its function's derivative afterwards) and of the
// previous cell state.
template <typename V>
TFA_INLINE void GateGradients(V dh, V dc, V i, V f, V g, V a_c, V c_prev,
                              V* di, V* df, V* dg, V* d_o, V* dc_prev) {
  *di = dc * g;
  *df = dc * c_prev;
  *dg = dc * i;
  *d_o = dh * a_c;
  *dc_prev = dc * f;
}

// The GRU's new state from its update gate and candidate.
template <typename V>
TFA_INLINE V GruState(V z, V hh, V h_prev) {
  return z * h_prev + (1 - z) * hh;
}

// The backward step of GruState: given dh, the gradients of z and hh (each
// multiplied by its function's derivative afterwards) and the part of the
// previous state's that does not pass through the gates.
template <typename V>
TFA_INLINE void GruStateGradients(V dh, V z, V hh, V h_prev, V* dz, V* dhh,
                                  V* dh_prev) {
  *dz = dh * (h_prev - hh);
  *dhh = dh * (1 - z);
  *dh_prev = dh * z;
}

}  // namespace recurrent
}  // namespace tf_approx

#endif  // TF_APPROX_CC_RECURRENT_RECURRENT_H_
