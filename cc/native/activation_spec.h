// The attrs of TfApprox>Activation as the native module takes them (its
// Python class `Spec`), shared by the CPU loops' bindings (native_module.cc)
// and the GPU kernels' (gpu_model.cc).
#ifndef TF_APPROX_CC_NATIVE_ACTIVATION_SPEC_H_
#define TF_APPROX_CC_NATIVE_ACTIVATION_SPEC_H_

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

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
  std::vector<double> spline;

  // The attrs of any object with the attributes of _native.Spec (kind,
  // numerator, ..., above), such as a _native.Spec.
  static ActivationSpec FromAttributes(const pybind11::object& spec) {
    ActivationSpec s;
    s.kind = spec.attr("kind").cast<std::string>();
    s.numerator = spec.attr("numerator").cast<std::vector<double>>();
    s.denominator = spec.attr("denominator").cast<std::vector<double>>();
    s.offset = spec.attr("offset").cast<double>();
    s.squarings = spec.attr("squarings").cast<int>();
    s.clip = spec.attr("clip").cast<bool>();
    s.clip_min = spec.attr("clip_min").cast<double>();
    s.clip_max = spec.attr("clip_max").cast<double>();
    s.product = spec.attr("product").cast<bool>();
    s.input_scale = spec.attr("input_scale").cast<double>();
    s.output_scale = spec.attr("output_scale").cast<double>();
    s.slope = spec.attr("slope").cast<double>();
    s.below = spec.attr("below").cast<std::vector<double>>();
    s.above = spec.attr("above").cast<std::vector<double>>();
    s.spline = spec.attr("spline").cast<std::vector<double>>();
    return s;
  }

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
        squarings, clip, clip_min, clip_max, spline.data(),
        static_cast<int>(spline.size()), activations::Word2VecTable(), &p);
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
