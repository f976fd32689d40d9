// Records which TensorFlow the op library was compiled against, as a string
// Python can find in the file without loading it: a library built for another
// TensorFlow fails to load, and the error should still say what it was built
// for. The GPU kernel library also records its CUDA version and the compute
// capabilities it has kernels for, which decide whether it is loaded.
#ifndef TF_APPROX_TF_VERSION
#error "setup.py (or Bazel) defines TF_APPROX_TF_VERSION"
#endif

namespace tf_approx {

#if GOOGLE_CUDA
#if !defined(TF_APPROX_CUDA_VERSION) || !defined(TF_APPROX_CUDA_ARCHS)
#error "setup.py defines TF_APPROX_CUDA_VERSION and TF_APPROX_CUDA_ARCHS"
#endif
extern "C" __attribute__((used, visibility("default")))
const char tf_approx_build_info[] =
    "TF_APPROX_BUILT_WITH_TENSORFLOW=" TF_APPROX_TF_VERSION
    ";TF_APPROX_BUILT_WITH_CUDA=" TF_APPROX_CUDA_VERSION
    ";TF_APPROX_CUDA_ARCHS=" TF_APPROX_CUDA_ARCHS ";";
#else
extern "C" __attribute__((used, visibility("default")))
const char tf_approx_build_info[] =
    "TF_APPROX_BUILT_WITH_TENSORFLOW=" TF_APPROX_TF_VERSION ";";
#endif

}  // namespace tf_approx
