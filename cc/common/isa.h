// Which instruction set the CPU entry points (TFA_CPU_CLONES) run with, and
// the TF_APPROX_ISA switch that forces one; see cc/common/isa.cc.
#ifndef TF_APPROX_CC_COMMON_ISA_H_
#define TF_APPROX_CC_COMMON_ISA_H_

namespace tf_approx {

// The environment variable read when the library loads.
constexpr char kIsaEnv[] = "TF_APPROX_ISA";

// The clone this library's loader picked: "avx512f", "fma" or "default".
const char* SelectedIsa();

// The clones this CPU can run, best first, comma-separated: e.g.
// "avx512f,fma,default".
const char* SupportedIsas();

// Null when TF_APPROX_ISA is unset, empty or was honoured; otherwise why it
// was not (an unknown value, or one this CPU cannot run), and then the loader
// picked the clone as if it were unset.
const char* IsaSwitchError();

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_ISA_H_
