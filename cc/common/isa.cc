// TF_APPROX_ISA: forces which TFA_CPU_CLONES clone the CPU entry points run.
//
// Each entry point is a GCC target_clones ifunc. Its resolver, run by the
// dynamic loader while it relocates this library, calls __cpu_indicator_init
// and then tests the AVX-512F and FMA bits of __cpu_model. Both symbols come
// from libgcc.a and are linked into every library privately (`readelf -s`
// lists them LOCAL), so this library's copy is its own and changing it changes
// no other code in the process. setup.py and BUILD link with
// -Wl,--wrap=__cpu_indicator_init, which sends the resolvers' calls to
// __wrap___cpu_indicator_init below: it runs libgcc's detection, then clears
// the feature bits above the instruction set TF_APPROX_ISA names, so every
// resolver (and SelectedIsa) sees a CPU without them. An unknown value, or
// one this CPU cannot run, forces nothing; IsaSwitchError says why and
// tf_approx refuses to load.
//
// The alternative, our own dispatch, would need every entry point written out
// once per instruction set plus a table of pointers, where target_clones
// needs one attribute and its resolvers already consult one piece of state.
//
// The resolvers run before this library's constructors and possibly before
// its calls into libc are bound, so the wrapper reads `environ` itself and
// calls nothing but libgcc's detection.
#include "cc/common/isa.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>

#include "cc/activations/activations_cpu.h"

extern "C" {

// libgcc's __processor_model. Its layout and the bit numbers of
// processor_features (gcc/common/config/i386/i386-cpuinfo.h) are an ABI:
// __builtin_cpu_supports reads them inline in code compiled by any GCC.
struct TfApproxProcessorModel {
  unsigned int vendor;
  unsigned int type;
  unsigned int subtype;
  unsigned int features[1];
};
extern TfApproxProcessorModel __cpu_model __attribute__((visibility("hidden")));

int __real___cpu_indicator_init(void);
int __wrap___cpu_indicator_init(void);

}  // extern "C"

namespace tf_approx {
namespace {

constexpr unsigned int Bit(int feature) { return 1u << feature; }

// FEATURE_AVX512F (15) and the AVX-512 extensions numbered 20 to 31.
constexpr unsigned int kAvx512Bits = Bit(15) | 0xFFF00000u;
// FEATURE_AVX, _AVX2, _FMA4, _XOP and _FMA.
constexpr unsigned int kAvxBits = Bit(9) | Bit(10) | Bit(12) | Bit(13) | Bit(14);

// The clones, best first, and the bits each needs; GCC's resolvers test them
// in this order (target_clones("avx512f", "fma", "default")).
struct Isa {
  const char* name;
  const char* alias;
  unsigned int needs;   // a bit the CPU must have
  unsigned int clears;  // the bits a forced choice hides from the resolvers
};
constexpr Isa kIsas[] = {
    {"avx512f", "avx512f", Bit(15), 0},
    {"fma", "avx2", Bit(14), kAvx512Bits},
    {"default", "baseline", 0, kAvx512Bits | kAvxBits},
};
constexpr int kNumIsas = sizeof(kIsas) / sizeof(kIsas[0]);

enum class Outcome { kUnset, kForced, kUnknown, kUnsupported };

struct State {
  bool initialized = false;
  unsigned int cpu_features = 0;  // as detected, before any clearing
  char requested[32] = {};
  Outcome outcome = Outcome::kUnset;
};
State state;

bool Equal(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

// getenv without libc; copies the value (truncated) into `out`.
bool ReadEnv(const char* name, char* out, int capacity) {
  if (environ == nullptr) return false;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const char* e = *entry;
    const char* n = name;
    while (*n != '\0' && *e == *n) ++e, ++n;
    if (*n != '\0' || *e != '=') continue;
    ++e;
    int i = 0;
    while (e[i] != '\0' && i < capacity - 1) out[i] = e[i], ++i;
    out[i] = '\0';
    return true;
  }
  return false;
}

void Initialize() {
  if (state.initialized) return;
  __wrap___cpu_indicator_init();
}

}  // namespace

const char* SelectedIsa() {
  Initialize();
  for (const Isa& isa : kIsas) {
    if ((__cpu_model.features[0] & isa.needs) == isa.needs) return isa.name;
  }
  return kIsas[kNumIsas - 1].name;
}

const char* SupportedIsas() {
  Initialize();
  static char list[64];
  if (list[0] == '\0') {
    int n = 0;
    for (const Isa& isa : kIsas) {
      if ((state.cpu_features & isa.needs) != isa.needs) continue;
      n += std::snprintf(list + n, sizeof(list) - n, "%s%s", n ? "," : "",
                         isa.name);
    }
  }
  return list;
}

const char* IsaSwitchError() {
  Initialize();
  static char message[512];
  switch (state.outcome) {
    case Outcome::kUnset:
    case Outcome::kForced:
      return nullptr;
    case Outcome::kUnknown:
      std::snprintf(message, sizeof(message),
                    "%s='%s' names no instruction set tf_approx is compiled "
                    "for: expected avx512f, fma (or avx2) or default (or "
                    "baseline); unset it to let the loader choose.",
                    kIsaEnv, state.requested);
      break;
    case Outcome::kUnsupported:
      std::snprintf(message, sizeof(message),
                    "%s='%s' asks for code this CPU cannot run: it runs %s "
                    "(from %s's clones avx512f, fma, default).",
                    kIsaEnv, state.requested, SupportedIsas(), kIsaEnv);
      break;
  }
  return message;
}

}  // namespace tf_approx

extern "C" int __wrap___cpu_indicator_init(void) {
  using tf_approx::state;
  const int result = __real___cpu_indicator_init();
  if (state.initialized) return result;
  state.initialized = true;
  state.cpu_features = __cpu_model.features[0];
  if (!tf_approx::ReadEnv(tf_approx::kIsaEnv, state.requested,
                          sizeof(state.requested)) ||
      state.requested[0] == '\0') {
    return result;
  }
  state.outcome = tf_approx::Outcome::kUnknown;
  for (const tf_approx::Isa& isa : tf_approx::kIsas) {
    if (!tf_approx::Equal(state.requested, isa.name) &&
        !tf_approx::Equal(state.requested, isa.alias)) {
      continue;
    }
    if ((state.cpu_features & isa.needs) != isa.needs) {
      state.outcome = tf_approx::Outcome::kUnsupported;
    } else {
      state.outcome = tf_approx::Outcome::kForced;
      __cpu_model.features[0] &= ~isa.clears;
    }
    break;
  }
  return result;
}

// For Python's ctypes: the op library has no Python module of its own.
extern "C" __attribute__((visibility("default"))) const char*
tf_approx_selected_isa() {
  return tf_approx::SelectedIsa();
}
extern "C" __attribute__((visibility("default"))) const char*
tf_approx_supported_isas() {
  return tf_approx::SupportedIsas();
}
extern "C" __attribute__((visibility("default"))) const char*
tf_approx_isa_error() {
  return tf_approx::IsaSwitchError();
}

// For tests/test_isa.py: the address the loader bound for one entry point,
// which names the clone it chose (Forward.avx512f, .fma or .default in the
// library's symbol table).
extern "C" __attribute__((visibility("default"))) const void*
tf_approx_isa_probe() {
  void (*forward)(const tf_approx::activations::Params<float>&, const float*,
                  float*, int64_t) = &tf_approx::activations::Forward;
  return reinterpret_cast<const void*>(forward);
}
