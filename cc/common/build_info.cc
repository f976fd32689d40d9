// Records which TensorFlow the op library was compiled against, as a string
// Python can find in the file without loading it: a library built for another
// TensorFlow fails to load, and the error should still say what it was built
// for.
#ifndef TF_APPROX_TF_VERSION
#error "setup.py (or Bazel) defines TF_APPROX_TF_VERSION"
#endif

namespace tf_approx {

extern "C" __attribute__((used, visibility("default")))
const char tf_approx_build_info[] =
    "TF_APPROX_BUILT_WITH_TENSORFLOW=" TF_APPROX_TF_VERSION ";";

}  // namespace tf_approx
