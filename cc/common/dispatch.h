// The vocabulary every family's math header uses to choose its code: a
// run-time choice (an enum attr) becomes a compile-time one (a template
// argument, through a switch that calls a generic lambda with a ValueTag),
// and attr names become enums through a table. Host and device code alike,
// except ParseName (host).
//
// The names every family uses for them:
//   Parse<Enum>(name, &value)   a static Named<Enum> table and ParseName.
//   Visit<Enum>(value, fn)      a switch calling fn(ValueTag<value>()); a
//                               visitor over two enums names both
//                               (VisitBaseAndShape). Switches, not a generic
//                               fold over the enum: that once changed codegen.
//   Params<S>                   the math's parameters;
//   Problem<S>                  one call of the CPU entry points (Forward,
//                               Backward), GpuProblem<T> one GPU launch where
//                               it holds more (device pointers, sizes).
#ifndef TF_APPROX_CC_COMMON_DISPATCH_H_
#define TF_APPROX_CC_COMMON_DISPATCH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cc/common/platform.h"

namespace tf_approx {

// A value as a type: a generic lambda called with ValueTag<V>() reads
// decltype(tag)::kValue as a constant expression.
template <auto V>
struct ValueTag {
  static constexpr auto kValue = V;
};

// An attr's name and the enum value it selects.
template <typename E>
struct Named {
  const char* name;
  E value;
};

// Sets *value to the entry of `table` named `name`; false if none is.
template <typename E, size_t N>
bool ParseName(const char* name, const Named<E> (&table)[N], E* value) {
  for (const Named<E>& entry : table) {
    if (std::strcmp(name, entry.name) == 0) {
      *value = entry.value;
      return true;
    }
  }
  return false;
}

TFA_INLINE bool IsPowerOfTwo(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_DISPATCH_H_
