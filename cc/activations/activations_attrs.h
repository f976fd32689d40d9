// The attrs of one approximation, shared by the ops that take one: the
// activation ops (`kind`, `numerator`, ...) and the recurrent layers' ops,
// which take two (`activation_kind`, ..., `recurrent_activation_kind`, ...).
// Op registrations use the macros; kernels read the attrs back into
// activations::Params with ReadActivationParams.
#ifndef TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_ATTRS_H_
#define TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_ATTRS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/activations/activations.h"
#include "tensorflow/core/framework/op_kernel.h"

// The kinds of the activation op, as the body of a string attr's choices.
#define TFA_ACTIVATION_KINDS                                         \
  "'rational', 'fastexp_sigmoid', 'ultra_fast_sigmoid', "            \
  "'word2vec_sigmoid', 'hard_tanh', 'hard_sigmoid', 'fastexp_expm1', " \
  "'fastexp_mish', 'spline'"

// Every attr of an approximation but its kind, each name after `prefix` (a
// string literal). All have defaults, so that SavedModels written before an
// attr existed still load.
#define TFA_ACTIVATION_FORM_ATTRS(prefix)                   \
  Attr(prefix "numerator: list(float) = [1.0]")             \
      .Attr(prefix "denominator: list(float) = [1.0]")      \
      .Attr(prefix "offset: float = 0.0")                   \
      .Attr(prefix "squarings: int = 0")                    \
      .Attr(prefix "clip: bool = false")                    \
      .Attr(prefix "clip_min: float = 0.0")                 \
      .Attr(prefix "clip_max: float = 0.0")                 \
      .Attr(prefix "product: bool = false")                 \
      .Attr(prefix "input_scale: float = 1.0")              \
      .Attr(prefix "output_scale: float = 1.0")             \
      .Attr(prefix "slope: float = 0.0")                    \
      .Attr(prefix "below: list(float) = []")               \
      .Attr(prefix "above: list(float) = []")              \
      .Attr(prefix "spline: list(float) = []")

namespace tf_approx {

// Reads and validates the attrs of one approximation, each named `prefix`
// followed by the activation op's name for it (TFA_ACTIVATION_FORM_ATTRS);
// `kind` is read by the caller. Errors name the attr as the op spells it.
// `message` with `prefix` put before every `name` it quotes.
inline std::string Prefixed(const std::string& message,
                            const std::string& prefix) {
  std::string out;
  bool open = false;
  for (char ch : message) {
    out += ch;
    if (ch == '`') {
      open = !open;
      if (open) out += prefix;
    }
  }
  return out;
}

template <typename C>
void ReadActivationParams(::tensorflow::OpKernelConstruction* ctx,
                          const std::string& prefix, const std::string& kind,
                          activations::Params<C>* params) {
  std::vector<float> numerator, denominator;
  float offset, clip_min, clip_max;
  int squarings;
  bool clip;
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "numerator", &numerator));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "denominator", &denominator));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "offset", &offset));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "squarings", &squarings));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "clip", &clip));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "clip_min", &clip_min));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "clip_max", &clip_max));
  bool product;
  float input_scale, output_scale, slope;
  std::vector<float> below, above, spline;
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "product", &product));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "input_scale", &input_scale));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "output_scale", &output_scale));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "slope", &slope));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "below", &below));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "above", &above));
  OP_REQUIRES_OK(ctx, ctx->GetAttr(prefix + "spline", &spline));
  activations::Kind parsed = activations::Kind::kRational;
  OP_REQUIRES(ctx, activations::ParseKind(kind.c_str(), &parsed),
              absl::InvalidArgumentError(absl::StrCat(
                  "tf_approx activation: unknown `", prefix, "kind` '", kind,
                  "'")));
  OP_REQUIRES(
      ctx,
      parsed != activations::Kind::kRational ||
          (!numerator.empty() && !denominator.empty()),
      absl::InvalidArgumentError(absl::StrCat(
          "tf_approx activation: `", prefix, "numerator` and `", prefix,
          "denominator` must be non-empty, got ",
          numerator.size(), " and ", denominator.size(), " coefficients")));
  std::vector<double> num(numerator.begin(), numerator.end());
  std::vector<double> den(denominator.begin(), denominator.end());
  std::vector<double> pieces(spline.begin(), spline.end());
  const char* error = activations::InitParams(
      parsed, num.data(), static_cast<int>(num.size()), den.data(),
      static_cast<int>(den.size()), offset, squarings, clip, clip_min, clip_max,
      pieces.data(), static_cast<int>(pieces.size()),
      activations::Word2VecTable(), params);
  if (error == nullptr) {
    std::vector<double> lo(below.begin(), below.end());
    std::vector<double> hi(above.begin(), above.end());
    error = activations::InitForm(product, input_scale, output_scale, slope,
                          lo.data(), static_cast<int>(lo.size()), hi.data(),
                          static_cast<int>(hi.size()), params);
  }
  OP_REQUIRES(
      ctx, error == nullptr,
      absl::InvalidArgumentError(absl::StrCat(
          "tf_approx activation (", prefix, "kind '", kind, "'): ",
          Prefixed(error ? error : "", prefix))));
}

}  // namespace tf_approx

#endif  // TF_APPROX_CC_ACTIVATIONS_ACTIVATIONS_ATTRS_H_
