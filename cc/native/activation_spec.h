// The attrs of TfApprox>Activation as the native module takes them (its
// Python class `Spec`), shared by the CPU loops' bindings (native_module.cc)
// and the GPU kernels' (gpu_model.cc).
#ifndef TF_APPROX_CC_NATIVE_ACTIVATION_SPEC_H_
#define TF_APPROX_CC_NATIVE_ACTIVATION_SPEC_H_

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "cc/activations/activations.h"

namespace tf_approx {

// The same attrs as the TF op, as keyword arguments.
struct ActivationSpec {
  std::string kind = "rational";
  std::vector<double> numerator{1.0};
  std::vector<double> denominator{1.0};
  double offset = 0;
  int squarings = 0;
  bool clip = false;
  double clip_min = 0;
  double clip_max = 0;
  bool product = false;
  double input_scale = 1;
  double output_scale = 1;
  double slope = 0;
  std::vector<double> below;
  std::vector<double> above;

  static activations::Kind ParseKind(const std::string& name) {
    activations::Kind kind;
    if (!activations::ParseKind(name.c_str(), &kind))
      throw pybind11::value_error("unknown kind '" + name + "'");
    return kind;
  }

  // The kernels' parameters (the host's word2vec table); ValueError if the
  // attrs are invalid.
  template <typename S>
  activations::Params<S> ToParams() const {
    activations::Params<S> p;
    const char* error = activations::InitParams(
        ParseKind(kind), numerator.data(), static_cast<int>(numerator.size()),
        denominator.data(), static_cast<int>(denominator.size()), offset,
        squarings, clip, clip_min, clip_max, activations::Word2VecTable(), &p);
    if (error == nullptr) {
      error = activations::InitForm(
          product, input_scale, output_scale, slope, below.data(),
          static_cast<int>(below.size()), above.data(),
          static_cast<int>(above.size()), &p);
    }
    if (error != nullptr) throw pybind11::value_error(error);
    return p;
  }
};

}  // namespace tf_approx

#endif  // TF_APPROX_CC_NATIVE_ACTIVATION_SPEC_H_
