// Helpers shared by the op registrations (*_ops.cc) of every family.
#ifndef TF_APPROX_CC_COMMON_OP_UTIL_H_
#define TF_APPROX_CC_COMMON_OP_UTIL_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tf_approx {

// The `seed` input of the ops that draw counter noise (cc/common/
// counter_noise.h): [seed, step], or [seed, step, first] where `first` is the
// global index of the input's first element.
inline absl::Status CheckSeedShape(
    ::tensorflow::shape_inference::InferenceContext* c, int input,
    const char* op) {
  ::tensorflow::shape_inference::ShapeHandle shape;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(input), 1, &shape));
  const auto size = c->Dim(shape, 0);
  if (c->ValueKnown(size) && c->Value(size) != 2 && c->Value(size) != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": `seed` must have shape [2] (seed, step) or [3] (seed, step, "
            "first element), got [",
        c->Value(size), "]"));
  }
  return absl::OkStatus();
}

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_OP_UTIL_H_
