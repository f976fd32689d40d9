// The fused LSTM and GRU on numpy arrays, shared by the CPU steps' bindings
// (native_module.cc: `_native.lstm` ...) and the GPU kernels' model
// (gpu_model.cc: `_native.gpu_model.lstm` ...): the arguments checked and
// turned into a problem, the outputs allocated, and the passes run by a
// Runner, which is what differs:
//
//   struct Runner {
//     template <typename S> int64_t LstmScratch(const LstmProblem<S>&);
//     template <typename S> void LstmForward(const LstmProblem<S>&,
//                                            const LstmData<S>&);
//     template <typename S> void LstmBackward(...);  // d.dh, d.dc set
//     ... and the same for the GRU;
//     template <typename S> S Fill();  // the scratch's values before use
//   };
//
// A function is "tanh" or "sigmoid" (exact) or a Spec (any object with its
// attributes: ActivationSpec::FromAttributes). Errors are ValueError.
#ifndef TF_APPROX_CC_NATIVE_RECURRENT_BINDINGS_H_
#define TF_APPROX_CC_NATIVE_RECURRENT_BINDINGS_H_

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cc/native/activation_spec.h"
#include "cc/recurrent/recurrent.h"

namespace tf_approx {
namespace native {

namespace recurrent_bindings {

namespace py = pybind11;
namespace rec = ::tf_approx::recurrent;

template <typename S>
using Array = py::array_t<S, py::array::c_style | py::array::forcecast>;
using Lengths = Array<int32_t>;

inline void Check(bool condition, const std::string& message) {
  if (!condition) throw py::value_error(message);
}

template <typename S>
rec::FunctionOf<S> RecurrentFunction(const py::object& f) {
  rec::FunctionOf<S> out;
  if (py::isinstance<py::str>(f)) {
    const std::string name = f.cast<std::string>();
    Check(name == "tanh" || name == "sigmoid",
          "lstm, gru: a function is 'tanh', 'sigmoid' or a Spec");
    out.function = name == "tanh" ? rec::Function::kTanh
                                  : rec::Function::kSigmoid;
  } else {
    out.function = rec::Function::kApproximation;
    out.approximation = ActivationSpec::FromAttributes(f).ToParams<S>();
  }
  return out;
}

// Checks `lengths` against p's sizes and sets what the layers share besides
// them; `layer` names the layer in errors.
template <typename S>
void SetSequence(const std::string& layer, const Lengths& lengths,
                 const py::object& activation,
                 const py::object& recurrent_activation, bool reverse,
                 rec::Sequence<S>* p) {
  Check(lengths.size() == p->batch, layer + ": `lengths` must be [batch]");
  for (int64_t b = 0; b < p->batch; ++b) {
    Check(lengths.data()[b] >= 0 && lengths.data()[b] <= p->time,
          layer + ": `lengths` must be in [0, time]");
  }
  p->lengths = lengths.data();
  p->reverse = reverse;
  p->activation = RecurrentFunction<S>(activation);
  p->recurrent_activation = RecurrentFunction<S>(recurrent_activation);
}

template <typename S>
rec::LstmProblem<S> MakeLstm(const Array<S>& x, const Array<S>& kernel,
                             const Array<S>& h0, const Array<S>& c0,
                             const Lengths& lengths,
                             const py::object& activation,
                             const py::object& recurrent_activation,
                             bool reverse) {
  rec::LstmProblem<S> p;
  Check(x.ndim() == 3 && kernel.ndim() == 2 &&
            kernel.shape(1) == 4 * kernel.shape(0) &&
            x.shape(2) == kernel.shape(1),
        "lstm: `x` must be [time, batch, 4 units], `kernel` [units, 4 units]");
  p.time = x.shape(0);
  p.batch = x.shape(1);
  p.units = kernel.shape(0);
  Check(h0.size() == p.batch * p.units && c0.size() == p.batch * p.units,
        "lstm: `h0` and `c0` must be [batch, units]");
  SetSequence("lstm", lengths, activation, recurrent_activation, reverse, &p);
  return p;
}

template <typename S>
rec::GruProblem<S> MakeGru(const Array<S>& x, const Array<S>& kernel,
                           const Array<S>& h0, const Lengths& lengths,
                           const py::object& activation,
                           const py::object& recurrent_activation,
                           bool reset_after, bool reverse) {
  rec::GruProblem<S> p;
  Check(x.ndim() == 3 && kernel.ndim() == 2 &&
            kernel.shape(1) == 3 * kernel.shape(0) &&
            x.shape(2) == kernel.shape(1),
        "gru: `x` must be [time, batch, 3 units], `kernel` [units, 3 units]");
  p.time = x.shape(0);
  p.batch = x.shape(1);
  p.units = kernel.shape(0);
  Check(h0.size() == p.batch * p.units, "gru: `h0` must be [batch, units]");
  SetSequence("gru", lengths, activation, recurrent_activation, reverse, &p);
  p.reset_after = reset_after;
  return p;
}

}  // namespace recurrent_bindings

// (outputs, gates, cells) of TfApprox>Lstm.
template <typename S, typename Runner>
pybind11::tuple Lstm(recurrent_bindings::Array<S> x,
                     recurrent_bindings::Array<S> kernel,
                     recurrent_bindings::Array<S> h0,
                     recurrent_bindings::Array<S> c0,
                     recurrent_bindings::Lengths lengths,
                     pybind11::object activation,
                     pybind11::object recurrent_activation, bool reverse,
                     Runner&& run) {
  using namespace recurrent_bindings;
  const auto p = MakeLstm<S>(x, kernel, h0, c0, lengths, activation,
                             recurrent_activation, reverse);
  Array<S> outputs({p.time, p.batch, p.units});
  Array<S> gates({p.time, p.batch, 4 * p.units});
  Array<S> cells({p.time, p.batch, p.units});
  std::vector<S> scratch(run.LstmScratch(p), run.template Fill<S>());
  rec::LstmData<S> d;
  d.x = x.data();
  d.kernel = kernel.data();
  d.h0 = h0.data();
  d.c0 = c0.data();
  d.outputs = outputs.mutable_data();
  d.gates = gates.mutable_data();
  d.cells = cells.mutable_data();
  d.scratch = scratch.data();
  {
    py::gil_scoped_release release;
    run.LstmForward(p, d);
  }
  return py::make_tuple(outputs, gates, cells);
}

// (dx, d_kernel, dh0, dc0) of TfApprox>LstmGrad.
template <typename S, typename Runner>
pybind11::tuple LstmGrad(
    recurrent_bindings::Array<S> d_outputs, recurrent_bindings::Array<S> dh,
    recurrent_bindings::Array<S> dc, recurrent_bindings::Array<S> kernel,
    recurrent_bindings::Array<S> h0, recurrent_bindings::Array<S> c0,
    recurrent_bindings::Lengths lengths, recurrent_bindings::Array<S> outputs,
    recurrent_bindings::Array<S> gates, recurrent_bindings::Array<S> cells,
    pybind11::object activation, pybind11::object recurrent_activation,
    bool reverse, Runner&& run) {
  using namespace recurrent_bindings;
  const auto p = MakeLstm<S>(gates, kernel, h0, c0, lengths, activation,
                             recurrent_activation, reverse);
  const int64_t state = p.batch * p.units, sequence = p.time * state;
  Check(d_outputs.size() == sequence && outputs.size() == sequence &&
            cells.size() == sequence && dh.size() == state &&
            dc.size() == state,
        "lstm gradient: the shapes do not match the forward pass's");
  Array<S> dx({p.time, p.batch, 4 * p.units});
  Array<S> d_kernel({p.units, 4 * p.units});
  Array<S> dh0({p.batch, p.units});
  Array<S> dc0({p.batch, p.units});
  std::copy_n(dh.data(), state, dh0.mutable_data());
  std::copy_n(dc.data(), state, dc0.mutable_data());
  std::vector<S> scratch(run.LstmScratch(p), run.template Fill<S>());
  rec::LstmData<S> d;
  d.d_outputs = d_outputs.data();
  d.kernel = kernel.data();
  d.h0 = h0.data();
  d.c0 = c0.data();
  d.outputs = const_cast<S*>(outputs.data());
  d.gates = const_cast<S*>(gates.data());
  d.cells = const_cast<S*>(cells.data());
  d.dh = dh0.mutable_data();
  d.dc = dc0.mutable_data();
  d.dx = dx.mutable_data();
  d.d_kernel = d_kernel.mutable_data();
  d.scratch = scratch.data();
  {
    py::gil_scoped_release release;
    run.LstmBackward(p, d);
  }
  return py::make_tuple(dx, d_kernel, dh0, dc0);
}

// (outputs, gates, reset) of TfApprox>Gru.
template <typename S, typename Runner>
pybind11::tuple Gru(recurrent_bindings::Array<S> x,
                    recurrent_bindings::Array<S> kernel,
                    recurrent_bindings::Array<S> bias,
                    recurrent_bindings::Array<S> h0,
                    recurrent_bindings::Lengths lengths,
                    pybind11::object activation,
                    pybind11::object recurrent_activation, bool reset_after,
                    bool reverse, Runner&& run) {
  using namespace recurrent_bindings;
  const auto p = MakeGru<S>(x, kernel, h0, lengths, activation,
                            recurrent_activation, reset_after, reverse);
  Check(bias.size() == p.Gates(), "gru: `bias` must be [3 units]");
  Array<S> outputs({p.time, p.batch, p.units});
  Array<S> gates({p.time, p.batch, p.Gates()});
  Array<S> reset({p.time, p.batch, p.units});
  std::vector<S> scratch(run.GruScratch(p), run.template Fill<S>());
  rec::GruData<S> d;
  d.x = x.data();
  d.kernel = kernel.data();
  d.bias = bias.data();
  d.h0 = h0.data();
  d.outputs = outputs.mutable_data();
  d.gates = gates.mutable_data();
  d.reset = reset.mutable_data();
  d.scratch = scratch.data();
  {
    py::gil_scoped_release release;
    run.GruForward(p, d);
  }
  return py::make_tuple(outputs, gates, reset);
}

// (dx, d_kernel, d_bias, dh0) of TfApprox>GruGrad.
template <typename S, typename Runner>
pybind11::tuple GruGrad(
    recurrent_bindings::Array<S> d_outputs, recurrent_bindings::Array<S> dh,
    recurrent_bindings::Array<S> kernel, recurrent_bindings::Array<S> h0,
    recurrent_bindings::Lengths lengths, recurrent_bindings::Array<S> outputs,
    recurrent_bindings::Array<S> gates, recurrent_bindings::Array<S> reset,
    pybind11::object activation, pybind11::object recurrent_activation,
    bool reset_after, bool reverse, Runner&& run) {
  using namespace recurrent_bindings;
  const auto p = MakeGru<S>(gates, kernel, h0, lengths, activation,
                            recurrent_activation, reset_after, reverse);
  const int64_t state = p.batch * p.units, sequence = p.time * state;
  Check(d_outputs.size() == sequence && outputs.size() == sequence &&
            reset.size() == sequence && dh.size() == state,
        "gru gradient: the shapes do not match the forward pass's");
  Array<S> dx({p.time, p.batch, p.Gates()});
  Array<S> d_kernel({p.units, p.Gates()});
  Array<S> d_bias({p.Gates()});
  Array<S> dh0({p.batch, p.units});
  std::copy_n(dh.data(), state, dh0.mutable_data());
  std::vector<S> scratch(run.GruScratch(p), run.template Fill<S>());
  rec::GruData<S> d;
  d.d_outputs = d_outputs.data();
  d.kernel = kernel.data();
  d.h0 = h0.data();
  d.outputs = const_cast<S*>(outputs.data());
  d.gates = const_cast<S*>(gates.data());
  d.reset = const_cast<S*>(reset.data());
  d.dh = dh0.mutable_data();
  d.dx = dx.mutable_data();
  d.d_kernel = d_kernel.mutable_data();
  d.d_bias = d_bias.mutable_data();
  d.scratch = scratch.data();
  {
    py::gil_scoped_release release;
    run.GruBackward(p, d);
  }
  return py::make_tuple(dx, d_kernel, d_bias, dh0);
}

}  // namespace native
}  // namespace tf_approx

#endif  // TF_APPROX_CC_NATIVE_RECURRENT_BINDINGS_H_
