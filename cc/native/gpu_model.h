// `_native.gpu_model` (gpu_model.cc).
#ifndef TF_APPROX_CC_NATIVE_GPU_MODEL_H_
#define TF_APPROX_CC_NATIVE_GPU_MODEL_H_

#include <pybind11/pybind11.h>

namespace tf_approx {

// Adds the submodule `gpu_model` to `parent`.
void DefineGpuModel(pybind11::module_& parent);

}  // namespace tf_approx

#endif  // TF_APPROX_CC_NATIVE_GPU_MODEL_H_
