// pybind11 module exposing the family math on numpy arrays, without
// TensorFlow: exhaustive float32 sweeps for the accuracy report, benchmarks
// without op overhead, and cross-checks of the TF kernels.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "cc/acdc/acdc_cpu.h"
#include "cc/activations/activations_cpu.h"
#include "cc/common/counter_noise.h"
#include "cc/common/cpu_vector.h"
#include "cc/common/isa.h"
#include "cc/common/small_gemm.h"
#include "cc/fastfood/fastfood_cpu.h"
#include "cc/gaaf/gaaf_cpu.h"
#include "cc/native/activation_spec.h"
#include "cc/native/gpu_model.h"
#include "cc/native/problems.h"
#include "cc/native/recurrent_bindings.h"
#include "cc/noisy/noisy_cpu.h"
#include "cc/pau/pau_cpu.h"
#include "cc/recurrent/recurrent_cpu.h"

namespace py = pybind11;
namespace act = tf_approx::activations;

namespace {

using Spec = ::tf_approx::ActivationSpec;

template <typename S>
using Array = py::array_t<S, py::array::c_style | py::array::forcecast>;

template <typename S>
Array<S> Forward(const Spec& spec, Array<S> x) {
  const act::Params<S> p = spec.ToParams<S>();
  Array<S> y(x.request().shape);
  {
    py::gil_scoped_release release;
    act::Forward(p, x.data(), y.mutable_data(), x.size());
  }
  return y;
}

template <typename S>
Array<S> Backward(const Spec& spec, Array<S> x, Array<S> dy) {
  if (x.size() != dy.size()) throw py::value_error("`dy` must match `x`");
  const act::Params<S> p = spec.ToParams<S>();
  Array<S> dx(x.request().shape);
  {
    py::gil_scoped_release release;
    act::Backward(p, x.data(), dy.data(), dx.mutable_data(), x.size());
  }
  return dx;
}

// H x in place on every row of the last axis (a power of two), on the calling
// thread: the kernel the TF op runs, without TensorFlow, for the benchmark
// against other FWHT libraries (which are called the same way).
template <typename S>
void FastWalshHadamardInPlace(py::array_t<S> x, bool normalize) {
  if (x.ndim() < 1) throw py::value_error("`x` must have rank >= 1");
  if (!(x.flags() & py::array::c_style) || !x.writeable()) {
    throw py::value_error("`x` must be a writeable C-contiguous array");
  }
  const int64_t d = x.shape(x.ndim() - 1);
  if (!tf_approx::IsPowerOfTwo(d)) {
    throw py::value_error(
        "the last axis of `x` must be a power of two (1, 2, 4, ...), got " +
        std::to_string(d));
  }
  tf_approx::fastfood::FwhtLayout<S> layout;
  layout.d = d;
  layout.scale = normalize ? S(1) / std::sqrt(static_cast<S>(d)) : S(1);
  S* data = x.mutable_data();
  const int64_t rows = x.size() / d;
  py::gil_scoped_release release;
  tf_approx::fastfood::FwhtRows(layout, data, data, 0, rows);
}

// ---------------------------------------------------------------------------
// Exhaustive float32 sweep. Every non-NaN float except -0 is visited in
// increasing order: ordinal o in [-kInfBits, kInfBits] maps to the float with
// bits o (o >= 0) or the sign bit | -o (o < 0).

constexpr int64_t kInfBits = 0x7F800000;

float FromOrdinal(int64_t o) {
  uint32_t bits = o >= 0 ? static_cast<uint32_t>(o)
                         : 0x80000000u | static_cast<uint32_t>(-o);
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// The functions a sweep measures against. tanh and sigmoid are the paper's;
// the others are today's activations (ELU with alpha 1, SELU with Klambauer
// et al.'s constants).
enum class Reference { kTanh, kSigmoid, kGelu, kSilu, kMish, kSoftplus, kElu,
                       kSelu };

constexpr const char* kReferenceNames[] = {
    "tanh", "sigmoid", "gelu", "silu", "mish", "softplus", "elu", "selu"};

Reference ParseReference(const std::string& name) {
  std::string known;
  for (int i = 0; i < 8; ++i) {
    if (name == kReferenceNames[i]) return static_cast<Reference>(i);
    known += std::string(i ? ", '" : "'") + kReferenceNames[i] + "'";
  }
  throw py::value_error("`reference` must be one of " + known + ", got '" +
                        name + "'");
}

// Today's activations are measured as their picks are made: absolute error
// on [lo, hi], beyond it relative to max(1, |f|) (x R(x) multiplies R's
// error by |x|; where f tends to 0 the error stays absolute). tanh and
// sigmoid keep the absolute error everywhere (|f| <= 1 there, so the two
// measures agree anyway).
constexpr bool RelativeBeyond(Reference r) {
  return r != Reference::kTanh && r != Reference::kSigmoid;
}

// log(1 + e^x) without overflow or cancellation.
double Softplus(double x) {
  return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0);
}

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

// The target in float64. Where the float64 value is known without calling
// tanh, exp, erfc, ... it is returned directly: for |x| < 2^-28 (the first
// terms of the series; the next are below half an ulp) and where the target
// saturates (1 - tanh(20) and 1 - sigmoid(40) are below 2^-54; sigmoid(-746)
// is below half the smallest subnormal; 1 - Phi(10) < 2^-53 and
// 40 Phi(-40) underflows; e^-40 is below half an ulp of -1 and of 40). About
// 85% of the floats lie there, and the calls were most of a sweep's time.
template <Reference R>
double ReferenceValue(float x) {
  const double xd = x, a = std::fabs(xd);
  switch (R) {
    case Reference::kTanh:
      if (a < 0x1p-28) return xd;
      if (a > 20) return xd > 0 ? 1.0 : -1.0;
      return std::tanh(xd);
    case Reference::kSigmoid:
      if (a < 0x1p-28) return 0.5 + 0.25 * xd;
      if (xd > 40) return 1.0;
      if (xd < -746) return 0.0;
      return 1.0 / (1.0 + std::exp(-xd));
    case Reference::kGelu:  // x Phi(x), Phi through erfc for the tails
      if (a < 0x1p-28) return xd * (0.5 + 0.3989422804014327 * xd);
      if (xd > 10) return xd;
      if (xd < -40) return 0.0;
      return 0.5 * xd * std::erfc(-xd * 0.70710678118654752440);
    case Reference::kSilu: {  // x sigmoid(x)
      if (a < 0x1p-28) return xd * (0.5 + 0.25 * xd);
      if (xd > 40) return xd;
      if (xd < -750) return 0.0;
      if (xd >= 0) return xd / (1.0 + std::exp(-xd));
      const double e = std::exp(xd);
      return xd * e / (1.0 + e);
    }
    case Reference::kMish:  // x tanh(softplus(x)); tanh(log 2) = 0.6
      if (a < 0x1p-28) return xd * (0.6 + 0.32 * xd);
      if (xd > 20) return xd;
      if (xd < -750) return 0.0;
      return xd * std::tanh(Softplus(xd));
    case Reference::kSoftplus:
      if (a < 0x1p-28) return 0.69314718055994530942 + 0.5 * xd;
      if (xd > 40) return xd;
      if (xd < -746) return 0.0;
      return Softplus(xd);
    case Reference::kElu:
    case Reference::kSelu: {
      const double scale = R == Reference::kSelu ? kSeluScale : 1.0;
      const double alpha = R == Reference::kSelu ? kSeluAlpha : 1.0;
      if (xd > 0) return scale * xd;
      if (a < 0x1p-28) return scale * alpha * (xd + 0.5 * xd * xd);
      if (xd < -40) return -scale * alpha;
      return scale * alpha * std::expm1(xd);
    }
  }
  return 0.0;
}

struct SweepPart {
  double max_error = 0, max_error_x = 0;      // over all finite x
  double range_error = 0, range_error_x = 0;  // over [lo, hi]
  int64_t nan_outputs = 0;                    // for non-NaN x
  double first_nan_x = std::numeric_limits<double>::quiet_NaN();
  int64_t decreases = 0;  // f(next) < f(x)
  double first_decrease_x = std::numeric_limits<double>::quiet_NaN();
  float first_value = 0, last_value = 0;
  double min_value = std::numeric_limits<double>::infinity();
  double max_value = -std::numeric_limits<double>::infinity();
};

template <Reference R>
SweepPart SweepRange(const act::Params<float>& p, double lo, double hi,
                     int64_t begin, int64_t end) {
  constexpr int64_t kChunk = 1 << 14;
  std::vector<float> x(kChunk), y(kChunk);
  SweepPart part;
  bool have_previous = false;
  float previous = 0;
  for (int64_t start = begin; start < end; start += kChunk) {
    const int64_t len = std::min(kChunk, end - start);
    for (int64_t i = 0; i < len; ++i) x[i] = FromOrdinal(start + i);
    act::Forward(p, x.data(), y.data(), len);
    for (int64_t i = 0; i < len; ++i) {
      const float xi = x[i], yi = y[i];
      if (std::isnan(yi)) {
        if (part.nan_outputs++ == 0) part.first_nan_x = xi;
        continue;
      }
      if (!have_previous) part.first_value = yi;
      if (have_previous && yi < previous && part.decreases++ == 0)
        part.first_decrease_x = xi;
      have_previous = true;
      previous = yi;
      part.min_value = std::min<double>(part.min_value, yi);
      part.max_value = std::max<double>(part.max_value, yi);
      if (std::isinf(xi)) continue;
      const double f = ReferenceValue<R>(xi);
      const bool inside = xi >= lo && xi <= hi;
      // inf where f rounds to inf in float32 (SELU's scale x near the
      // largest float) is exact.
      double error = std::isinf(yi) && yi == static_cast<float>(f)
                         ? 0.0
                         : std::fabs(yi - f);
      if (RelativeBeyond(R) && !inside) error /= std::max(1.0, std::fabs(f));
      if (error > part.max_error) {
        part.max_error = error;
        part.max_error_x = xi;
      }
      if (inside && error > part.range_error) {
        part.range_error = error;
        part.range_error_x = xi;
      }
    }
  }
  part.last_value = previous;
  return part;
}

// fn(std::integral_constant<Reference, ref>()): the reference chosen once,
// outside the loops, which are compiled for each.
template <typename Fn>
auto WithReference(Reference ref, Fn&& fn) {
  using R = Reference;
  switch (ref) {
    case R::kTanh: return fn(std::integral_constant<R, R::kTanh>());
    case R::kSigmoid: return fn(std::integral_constant<R, R::kSigmoid>());
    case R::kGelu: return fn(std::integral_constant<R, R::kGelu>());
    case R::kSilu: return fn(std::integral_constant<R, R::kSilu>());
    case R::kMish: return fn(std::integral_constant<R, R::kMish>());
    case R::kSoftplus: return fn(std::integral_constant<R, R::kSoftplus>());
    case R::kElu: return fn(std::integral_constant<R, R::kElu>());
    case R::kSelu: return fn(std::integral_constant<R, R::kSelu>());
  }
  throw std::logic_error("unknown reference");
}

py::dict SweepFloat32(const Spec& spec, const std::string& reference, double lo,
                      double hi, int threads) {
  const Reference ref = ParseReference(reference);
  const act::Params<float> p = spec.ToParams<float>();
  threads = std::max(1, threads);
  std::vector<SweepPart> parts(threads);
  {
    py::gil_scoped_release release;
    std::vector<std::thread> workers;
    const int64_t total = 2 * kInfBits + 1;
    for (int t = 0; t < threads; ++t) {
      const int64_t begin = -kInfBits + total * t / threads;
      const int64_t end = -kInfBits + total * (t + 1) / threads;
      workers.emplace_back([&, t, begin, end] {
        parts[t] = WithReference(ref, [&](auto r) {
          return SweepRange<decltype(r)::value>(p, lo, hi, begin, end);
        });
      });
    }
    for (auto& w : workers) w.join();
  }
  SweepPart all;
  for (int t = 0; t < threads; ++t) {
    const SweepPart& q = parts[t];
    if (q.max_error > all.max_error) {
      all.max_error = q.max_error;
      all.max_error_x = q.max_error_x;
    }
    if (q.range_error > all.range_error) {
      all.range_error = q.range_error;
      all.range_error_x = q.range_error_x;
    }
    if (q.nan_outputs > 0 && all.nan_outputs == 0)
      all.first_nan_x = q.first_nan_x;
    all.nan_outputs += q.nan_outputs;
    // A decrease across the boundary between two parts counts too.
    const bool boundary_decrease =
        t > 0 && q.first_value < parts[t - 1].last_value;
    const int64_t decreases = q.decreases + (boundary_decrease ? 1 : 0);
    if (decreases > 0 && all.decreases == 0)
      all.first_decrease_x =
          boundary_decrease
              ? FromOrdinal(-kInfBits + (2 * kInfBits + 1) * t / threads)
              : q.first_decrease_x;
    all.decreases += decreases;
    all.min_value = std::min(all.min_value, q.min_value);
    all.max_value = std::max(all.max_value, q.max_value);
  }
  // NaN in, NaN out: quiet and signalling payloads of both signs.
  const uint32_t nan_bits[] = {0x7FC00000u, 0xFFC00000u, 0x7F800001u,
                               0x7FFFFFFFu, 0xFFBFFFFFu};
  bool nan_propagates = true;
  for (uint32_t bits : nan_bits) {
    float xn, yn;
    std::memcpy(&xn, &bits, sizeof(xn));
    act::Forward(p, &xn, &yn, 1);
    nan_propagates &= std::isnan(yn);
  }
  py::dict result;
  result["max_abs_error_all"] = all.max_error;
  result["argmax_all"] = all.max_error_x;
  result["max_abs_error_range"] = all.range_error;
  result["argmax_range"] = all.range_error_x;
  result["nan_outputs"] = all.nan_outputs;
  result["first_nan_input"] = all.first_nan_x;
  result["decreasing_steps"] = all.decreases;
  result["first_decrease"] = all.first_decrease_x;
  result["min_value"] = all.min_value;
  result["max_value"] = all.max_value;
  result["nan_propagates"] = nan_propagates;
  float inf = std::numeric_limits<float>::infinity(), ends[2] = {-inf, inf},
        out[2];
  act::Forward(p, ends, out, 2);
  result["value_at_neg_inf"] = out[0];
  result["value_at_pos_inf"] = out[1];
  result["inputs"] = 2 * kInfBits + 1;
  result["relative_beyond"] = RelativeBeyond(ref);
  return result;
}

// The reference function at float32 inputs, in float64: for tests.
Array<double> ReferenceAt(const std::string& reference, Array<float> x) {
  const Reference ref = ParseReference(reference);
  Array<double> y(x.request().shape);
  const float* in = x.data();
  double* out = y.mutable_data();
  WithReference(ref, [&](auto r) {
    for (py::ssize_t i = 0; i < x.size(); ++i)
      out[i] = ReferenceValue<decltype(r)::value>(in[i]);
    return 0;
  });
  return y;
}


// ---------------------------------------------------------------------------
// The other families' CPU loops, called as the op kernels call them (one
// range covering every row, on the calling thread): for the sanitizer run
// (tools/sanitize_native.sh) and cross-checks, without TensorFlow.

void Require(bool ok, const std::string& message) {
  if (!ok) throw py::value_error(message);
}

template <typename S>
Array<S> EmptyLike(const Array<S>& x) {
  return Array<S>(x.request().shape);
}

// The number of rows of `x` taking the last axis as the row.
template <typename S>
int64_t Rows(const Array<S>& x, const char* op) {
  Require(x.ndim() >= 1, std::string(op) + ": `x` must have rank >= 1");
  const int64_t width = x.shape(x.ndim() - 1);
  return width == 0 ? 0 : x.size() / width;
}

// PAU: numerator [m + 1] or [channels, m + 1], denominator [n] or
// [channels, n], as TfApprox>Pau.
template <typename S>
struct PauSetup {
  tf_approx::pau::Problem<S> problem;
  std::vector<S> table;
  bool per_channel = false;
};

template <typename S>
PauSetup<S> MakePau(const Array<S>& x, const Array<S>& numerator,
                    const Array<S>& denominator, const std::string& kind,
                    double alpha, std::pair<int64_t, int64_t> seed) {
  namespace pau = tf_approx::pau;
  PauSetup<S> setup;
  pau::Problem<S>& p = setup.problem;
  Require(pau::ParseDenominator(kind.c_str(), &p.denominator),
          "pau: unknown `denominator_kind` '" + kind + "'");
  const int rank = numerator.ndim();
  Require((rank == 1 || rank == 2) && denominator.ndim() == rank,
          "pau: `numerator` and `denominator` must both have rank 1 or 2");
  const int64_t num_count = numerator.shape(rank - 1);
  const int64_t den_count = denominator.shape(rank - 1);
  Require(num_count >= 2 && num_count <= pau::kMaxOrder + 1 &&
              den_count >= 1 && den_count <= pau::kMaxOrder,
          "pau: orders must be 1..10");
  setup.per_channel = rank == 2;
  if (setup.per_channel) {
    Require(x.ndim() >= 1 && x.shape(x.ndim() - 1) == numerator.shape(0) &&
                denominator.shape(0) == numerator.shape(0),
            "pau: per-channel coefficients need one row per channel of `x`");
  }
  p.key = tf_approx::MakeNoiseKey(seed.first, seed.second);
  p.m = static_cast<int>(num_count - 1);
  p.n = static_cast<int>(den_count);
  p.size = x.size();
  p.width = setup.per_channel ? numerator.shape(0) : tf_approx::kLanes<S>;
  const int count = p.NumCoefficients();
  setup.table.assign(count * p.width, S(0));
  double largest = 0;
  for (int64_t c = 0; c < p.width; ++c) {
    const int64_t set = setup.per_channel ? c : 0;
    for (int j = 0; j < count; ++j) {
      const S value = j <= p.m ? numerator.data()[set * (p.m + 1) + j]
                               : denominator.data()[set * p.n + j - p.m - 1];
      setup.table[j * p.width + c] = value;
      largest = std::max(largest, std::fabs(static_cast<double>(value)));
      if (std::isnan(value)) largest = NAN;
    }
  }
  p.coefficients = setup.table.data();
  p.randomized = alpha > 0;
  p.alpha = static_cast<S>(alpha);
  p.far = pau::FarRadius<S>(largest * (1.0 + alpha), p.m, p.n);
  return setup;
}

template <typename S>
Array<S> Pau(Array<S> x, Array<S> numerator, Array<S> denominator,
             const std::string& kind, double alpha,
             std::pair<int64_t, int64_t> seed) {
  const PauSetup<S> setup = MakePau(x, numerator, denominator, kind, alpha,
                                    seed);
  Array<S> y = EmptyLike(x);
  py::gil_scoped_release release;
  tf_approx::pau::Forward(setup.problem, x.data(), y.mutable_data(), 0,
                          setup.problem.Rows());
  return y;
}

template <typename S>
py::tuple PauGrad(Array<S> dy, Array<S> x, Array<S> numerator,
                  Array<S> denominator, const std::string& kind,
                  std::pair<int64_t, int64_t> seed) {
  Require(dy.size() == x.size(), "pau gradient: `dy` must match `x`");
  const PauSetup<S> setup = MakePau(x, numerator, denominator, kind, 0.0,
                                    seed);
  const tf_approx::pau::Problem<S>& p = setup.problem;
  Array<S> dx = EmptyLike(x);
  std::vector<double> sums(p.NumCoefficients() * p.width, 0.0);
  {
    py::gil_scoped_release release;
    tf_approx::pau::Backward(p, x.data(), dy.data(), dx.mutable_data(), 0,
                             p.Rows(), sums.data());
  }
  Array<S> dnum(numerator.request().shape), dden(denominator.request().shape);
  std::fill_n(dnum.mutable_data(), dnum.size(), S(0));
  std::fill_n(dden.mutable_data(), dden.size(), S(0));
  for (int j = 0; j < p.NumCoefficients(); ++j) {
    for (int64_t c = 0; c < p.width; ++c) {
      const int64_t set = setup.per_channel ? c : 0;
      S* out = j <= p.m ? dnum.mutable_data() + set * (p.m + 1) + j
                        : dden.mutable_data() + set * p.n + j - p.m - 1;
      *out += static_cast<S>(sums[j * p.width + c]);
    }
  }
  return py::make_tuple(dx, dnum, dden);
}

// Noisy activation: p a scalar (shape []) or one value per channel.
template <typename S>
struct NoisySetup {
  tf_approx::noisy::Problem<S> problem;
  std::vector<S> table;
};

template <typename S>
NoisySetup<S> MakeNoisy(const Array<S>& x, const Array<S>& p_values, S scale,
                        std::pair<int64_t, int64_t> seed,
                        const std::string& base, const std::string& where,
                        const std::string& noise, double alpha, bool training) {
  namespace noisy = tf_approx::noisy;
  NoisySetup<S> setup;
  noisy::Problem<S>& p = setup.problem;
  noisy::Base parsed_base;
  Require(noisy::ParseBase(base.c_str(), &parsed_base),
          "noisy_activation: unknown `base` '" + base + "'");
  Require(noisy::ParseWhere(where.c_str(), &p.where),
          "noisy_activation: unknown `where` '" + where + "'");
  Require(noise == "normal" || noise == "half_normal",
          "noisy_activation: `noise` must be 'normal' or 'half_normal'");
  Require(p_values.ndim() <= 1, "noisy_activation: `p` must have rank <= 1");
  const bool per_channel = p_values.ndim() == 1;
  if (per_channel) {
    Require(x.ndim() >= 1 && x.shape(x.ndim() - 1) == p_values.shape(0),
            "noisy_activation: per-channel `p` needs one value per channel");
  }
  p.key = tf_approx::MakeNoiseKey(seed.first, seed.second);
  p.half_normal = noise == "half_normal";
  p.params = noisy::MakeParams<S>(parsed_base, static_cast<S>(alpha), scale,
                                  p.half_normal);
  p.training = training;
  p.size = x.size();
  p.width = per_channel ? p_values.shape(0) : tf_approx::kLanes<S>;
  setup.table.resize(p.width);
  for (int64_t c = 0; c < p.width; ++c)
    setup.table[c] = p_values.data()[per_channel ? c : 0];
  p.p = setup.table.data();
  return setup;
}

template <typename S>
Array<S> Noisy(Array<S> x, Array<S> p_values, S scale,
               std::pair<int64_t, int64_t> seed, const std::string& base,
               const std::string& where, const std::string& noise,
               double alpha, bool training) {
  const NoisySetup<S> setup = MakeNoisy(x, p_values, scale, seed, base, where,
                                        noise, alpha, training);
  Array<S> y = EmptyLike(x);
  py::gil_scoped_release release;
  tf_approx::noisy::Forward(setup.problem, x.data(), y.mutable_data(), 0,
                            setup.problem.Rows());
  return y;
}

template <typename S>
py::tuple NoisyGrad(Array<S> dy, Array<S> x, Array<S> p_values, S scale,
                    std::pair<int64_t, int64_t> seed, const std::string& base,
                    const std::string& where, const std::string& noise,
                    double alpha, bool training) {
  Require(dy.size() == x.size(), "noisy_activation gradient: `dy` must match");
  const NoisySetup<S> setup = MakeNoisy(x, p_values, scale, seed, base, where,
                                        noise, alpha, training);
  const tf_approx::noisy::Problem<S>& p = setup.problem;
  Array<S> dx = EmptyLike(x);
  std::vector<double> sums(p.width, 0.0);
  {
    py::gil_scoped_release release;
    tf_approx::noisy::Backward(p, x.data(), dy.data(), dx.mutable_data(), 0,
                               p.Rows(), sums.data());
  }
  Array<S> dp(p_values.request().shape);
  std::fill_n(dp.mutable_data(), dp.size(), S(0));
  for (int64_t c = 0; c < p.width; ++c)
    dp.mutable_data()[p_values.ndim() == 1 ? c : 0] += static_cast<S>(sums[c]);
  return py::make_tuple(dx, dp);
}

// GAAF.
template <typename S>
tf_approx::gaaf::Problem<S> MakeGaaf(const std::string& base,
                                     const std::string& shape, double k,
                                     double center, double width) {
  tf_approx::gaaf::Problem<S> p;
  const char* error = tf_approx::gaaf::MakeProblem(
      base.c_str(), shape.c_str(), k, center, width, &p);
  Require(error == nullptr, error ? error : "");
  return p;
}

template <typename S>
Array<S> Gaaf(Array<S> x, const std::string& base, const std::string& shape,
              double k, double center, double width) {
  const auto p = MakeGaaf<S>(base, shape, k, center, width);
  Array<S> y = EmptyLike(x);
  py::gil_scoped_release release;
  tf_approx::gaaf::Forward(p, x.data(), y.mutable_data(), 0, x.size());
  return y;
}

template <typename S>
Array<S> GaafGrad(Array<S> dy, Array<S> x, const std::string& base,
                  const std::string& shape, double k, double center,
                  double width) {
  Require(dy.size() == x.size(), "gaaf gradient: `dy` must match `x`");
  const auto p = MakeGaaf<S>(base, shape, k, center, width);
  Array<S> dx = EmptyLike(x);
  py::gil_scoped_release release;
  tf_approx::gaaf::Backward(p, x.data(), dy.data(), dx.mutable_data(), 0,
                            x.size());
  return dx;
}

// The fused LSTM and GRU (recurrent_bindings.h), their CPU steps run as
// the op's threads run them, units in blocks of `unit_block` (0: all at
// once), one block after another on this thread.
namespace rec = ::tf_approx::recurrent;

struct CpuSteps {
  int64_t unit_block = 0;

  // fn(begin, end) for every block of units.
  template <typename S, typename Fn>
  void ForUnitBlocks(const rec::Sequence<S>& p,
                     Fn&& fn) const {
    const int64_t block = unit_block <= 0 ? p.units : unit_block;
    for (int64_t begin = 0; begin < p.units; begin += block) {
      fn(begin, std::min(p.units, begin + block));
    }
    if (p.units == 0) fn(0, 0);
  }

  template <typename S>
  S Fill() const {
    return S(0);
  }
  template <typename P>
  int64_t LstmScratch(const P& p) const {
    return rec::LstmScratch(p);
  }
  template <typename P>
  int64_t GruScratch(const P& p) const {
    return rec::GruScratch(p);
  }

  template <typename S>
  void LstmForward(const rec::LstmProblem<S>& p,
                   const rec::LstmData<S>& d) const {
    for (int64_t s = 0; s < p.time; ++s) {
      ForUnitBlocks(p, [&](int64_t begin, int64_t end) {
        rec::LstmForwardStep(p, d, s, begin, end);
      });
    }
  }

  template <typename S>
  void LstmBackward(const rec::LstmProblem<S>& p,
                    const rec::LstmData<S>& d) const {
    for (int64_t phase = 0; phase < rec::LstmBackwardPhases(p); ++phase) {
      ForUnitBlocks(p, [&](int64_t begin, int64_t end) {
        rec::LstmBackwardPhase(p, d, phase, begin, end);
      });
    }
  }

  template <typename S>
  void GruForward(const rec::GruProblem<S>& p,
                  const rec::GruData<S>& d) const {
    for (int64_t phase = 0; phase < rec::GruForwardPhases(p); ++phase) {
      ForUnitBlocks(p, [&](int64_t begin, int64_t end) {
        rec::GruForwardPhase(p, d, phase, begin, end);
      });
    }
  }

  template <typename S>
  void GruBackward(const rec::GruProblem<S>& p,
                   const rec::GruData<S>& d) const {
    for (int64_t phase = 0; phase < rec::GruBackwardPhases(p); ++phase) {
      ForUnitBlocks(p, [&](int64_t begin, int64_t end) {
        rec::GruBackwardPhase(p, d, phase, begin, end);
      });
    }
  }
};

template <typename S>
py::tuple Lstm(Array<S> x, Array<S> kernel, Array<S> h0, Array<S> c0,
               Array<int32_t> lengths, py::object activation,
               py::object recurrent_activation, bool reverse,
               int64_t unit_block) {
  return tf_approx::native::Lstm<S>(x, kernel, h0, c0, lengths, activation,
                                    recurrent_activation, reverse,
                                    CpuSteps{unit_block});
}

template <typename S>
py::tuple LstmGrad(Array<S> d_outputs, Array<S> dh, Array<S> dc,
                   Array<S> kernel, Array<S> h0, Array<S> c0,
                   Array<int32_t> lengths, Array<S> outputs, Array<S> gates,
                   Array<S> cells, py::object activation,
                   py::object recurrent_activation, bool reverse,
                   int64_t unit_block) {
  return tf_approx::native::LstmGrad<S>(
      d_outputs, dh, dc, kernel, h0, c0, lengths, outputs, gates, cells,
      activation, recurrent_activation, reverse, CpuSteps{unit_block});
}

template <typename S>
py::tuple Gru(Array<S> x, Array<S> kernel, Array<S> bias, Array<S> h0,
              Array<int32_t> lengths, py::object activation,
              py::object recurrent_activation, bool reset_after, bool reverse,
              int64_t unit_block) {
  return tf_approx::native::Gru<S>(x, kernel, bias, h0, lengths, activation,
                                   recurrent_activation, reset_after, reverse,
                                   CpuSteps{unit_block});
}

template <typename S>
py::tuple GruGrad(Array<S> d_outputs, Array<S> dh, Array<S> kernel,
                  Array<S> h0, Array<int32_t> lengths, Array<S> outputs,
                  Array<S> gates, Array<S> reset, py::object activation,
                  py::object recurrent_activation, bool reset_after,
                  bool reverse, int64_t unit_block) {
  return tf_approx::native::GruGrad<S>(
      d_outputs, dh, kernel, h0, lengths, outputs, gates, reset, activation,
      recurrent_activation, reset_after, reverse, CpuSteps{unit_block});
}

// Fastfood: s, g, b and permutation [blocks, d], blocks = ceil(units / d).
template <typename S>
tf_approx::fastfood::Problem<S> MakeFastfood(
    const Array<S>& x, const Array<S>& s, const Array<S>& g, const Array<S>& b,
    const py::array_t<int32_t, py::array::c_style | py::array::forcecast>&
        perm,
    int64_t units, bool normalize) {
  auto p = tf_approx::native::FastfoodProblem<S>(
      std::vector<int64_t>(x.shape(), x.shape() + x.ndim()),
      std::vector<int64_t>(s.shape(), s.shape() + s.ndim()), g.size(),
      b.size(), perm.size(), perm.data(), units, normalize);
  p.s = s.data();
  p.g = g.data();
  p.b = b.data();
  return p;
}

using Perm = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

template <typename S>
Array<S> Fastfood(Array<S> x, Array<S> s, Array<S> g, Array<S> b, Perm perm,
                  int64_t units, bool normalize) {
  const auto p = MakeFastfood(x, s, g, b, perm, units, normalize);
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  shape.back() = units;
  Array<S> y(shape);
  const int64_t rows = y.size() / units;
  py::gil_scoped_release release;
  tf_approx::fastfood::Forward(p, x.data(), y.mutable_data(), 0, rows);
  return y;
}

template <typename S>
py::tuple FastfoodGrad(Array<S> dy, Array<S> x, Array<S> s, Array<S> g,
                       Array<S> b, Perm perm, int64_t units, bool normalize) {
  const auto p = MakeFastfood(x, s, g, b, perm, units, normalize);
  const int64_t rows = x.shape(x.ndim() - 1) == 0
                           ? dy.size() / units
                           : x.size() / x.shape(x.ndim() - 1);
  Require(dy.size() == rows * units,
          "fastfood gradient: `dy` must have `units` columns per row of `x`");
  Array<S> dx = EmptyLike(x);
  const int64_t params = p.blocks * p.d;
  std::vector<S> sums(3 * params, S(0));
  {
    py::gil_scoped_release release;
    tf_approx::fastfood::Backward(p, dy.data(), x.data(), dx.mutable_data(),
                                  0, rows, sums.data());
  }
  py::tuple result(4);
  result[0] = dx;
  for (int i = 0; i < 3; ++i) {
    Array<S> out(s.request().shape);
    std::copy_n(sums.data() + i * params, params, out.mutable_data());
    result[1 + i] = out;
  }
  return result;
}

// ACDC: a, d and bias [n], n the last axis of x.
template <typename S>
Array<S> Acdc(Array<S> x, Array<S> a, Array<S> d, Array<S> bias) {
  const int64_t rows = Rows(x, "acdc");
  const int64_t n = x.shape(x.ndim() - 1);
  Require(n >= 1 && a.size() == n && d.size() == n && bias.size() == n,
          "acdc: a, d and bias must have the length of the last axis of x");
  const tf_approx::acdc::PlanTables<S> tables(n);
  tf_approx::acdc::Problem<S> p;
  p.plan = tables.plan();
  p.a = a.data();
  p.d = d.data();
  p.bias = bias.data();
  Array<S> y = EmptyLike(x);
  py::gil_scoped_release release;
  tf_approx::acdc::Forward(p, x.data(), y.mutable_data(), 0, rows);
  return y;
}

template <typename S>
py::tuple AcdcGrad(Array<S> dy, Array<S> x, Array<S> a, Array<S> d) {
  const int64_t rows = Rows(x, "acdc gradient");
  const int64_t n = x.shape(x.ndim() - 1);
  Require(n >= 1 && a.size() == n && d.size() == n && dy.size() == x.size(),
          "acdc gradient: a and d must have the length of the last axis of x, "
          "dy the shape of x");
  const tf_approx::acdc::PlanTables<S> tables(n);
  tf_approx::acdc::Problem<S> p;
  p.plan = tables.plan();
  p.a = a.data();
  p.d = d.data();
  Array<S> dx = EmptyLike(x);
  std::vector<S> sums(3 * n, S(0));
  {
    py::gil_scoped_release release;
    tf_approx::acdc::Backward(p, dy.data(), x.data(), dx.mutable_data(), 0,
                              rows, sums.data());
  }
  py::tuple result(4);
  result[0] = dx;
  for (int i = 0; i < 3; ++i) {
    Array<S> out(std::vector<py::ssize_t>{n});
    std::copy_n(sums.data() + i * n, n, out.mutable_data());
    result[1 + i] = out;
  }
  return result;
}

template <typename S>
Array<S> Dct(Array<S> x, bool inverse) {
  const int64_t rows = Rows(x, "dct");
  const int64_t n = x.shape(x.ndim() - 1);
  Require(n >= 1, "dct: the last axis of `x` must not be empty");
  const tf_approx::acdc::PlanTables<S> tables(n);
  const tf_approx::acdc::Plan<S> plan = tables.plan();
  Array<S> y = EmptyLike(x);
  py::gil_scoped_release release;
  tf_approx::acdc::Dct(plan, inverse, x.data(), y.mutable_data(), 0, rows);
  return y;
}

// The recurrent layers' matrix product, cc/common/small_gemm.h: C = start
// + A B with A [m, k] (`transposed`: A's transpose, stored [k, m], read in
// place), B [k, n]; `start` empty (zero), [m, n], or [n] (one row repeated:
// a bias). `split` in (0, k): k in two products, the second resuming from
// the first's C, as the kernel gradients sum their steps.
template <typename S>
Array<S> GemmProduct(Array<S> a, Array<S> b, Array<S> start, bool transposed,
                     int64_t split) {
  Require(a.ndim() == 2 && b.ndim() == 2,
          "gemm_product: `a` and `b` must be matrices");
  const int64_t m = a.shape(transposed ? 1 : 0);
  const int64_t k = a.shape(transposed ? 0 : 1), n = b.shape(1);
  Require(b.shape(0) == k, "gemm_product: `b` must have k rows");
  Require(start.size() == 0 || start.size() == n || start.size() == m * n,
          "gemm_product: `start` must be empty, [n] or [m, n]");
  Require(split >= 0 && split < std::max<int64_t>(k, 1),
          "gemm_product: `split` must be in [0, k)");
  namespace gemm = ::tf_approx::gemm;
  const gemm::Left<S> left =
      transposed ? gemm::Left<S>{a.data(), 1, m} : gemm::Left<S>{a.data(), k};
  const gemm::Start<S> from =
      start.size() == 0 ? gemm::Start<S>{}
                        : gemm::Start<S>{start.data(),
                                         start.size() == n && m != 1 ? 0 : n};
  Array<S> c(std::vector<py::ssize_t>{m, n});
  S* out = c.mutable_data();
  py::gil_scoped_release release;
  if (split == 0) {
    gemm::Product(left, b.data(), n, out, n, from, m, k, n);
  } else {
    gemm::Product(left, b.data(), n, out, n, from, m, split, n);
    gemm::Product(left.From(0, split), b.data() + split * n, n, out, n,
                  gemm::Start<S>{out, n}, m, k - split, n);
  }
  return c;
}

template <typename S>
void DefineFamilies(py::module_& m) {
  using Seed = std::pair<int64_t, int64_t>;
  m.def("pau", &Pau<S>, py::arg("x"), py::arg("numerator"),
        py::arg("denominator"), py::arg("denominator_kind") = "safe",
        py::arg("randomized") = 0.0, py::arg("seed") = Seed{0, 0},
        "TfApprox>Pau's CPU loop: y = P(x) / Q(x).");
  m.def("pau_grad", &PauGrad<S>, py::arg("dy"), py::arg("x"),
        py::arg("numerator"), py::arg("denominator"),
        py::arg("denominator_kind") = "safe", py::arg("seed") = Seed{0, 0},
        "TfApprox>PauGrad's CPU loop: (dx, dnumerator, ddenominator).");
  m.def("noisy_activation", &Noisy<S>, py::arg("x"), py::arg("p"),
        py::arg("scale"), py::arg("seed") = Seed{0, 0},
        py::arg("base") = "tanh", py::arg("where") = "output",
        py::arg("noise") = "normal", py::arg("alpha") = 1.0,
        py::arg("training") = false,
        "TfApprox>NoisyActivation's CPU loop.");
  m.def("noisy_activation_grad", &NoisyGrad<S>, py::arg("dy"), py::arg("x"),
        py::arg("p"), py::arg("scale"), py::arg("seed") = Seed{0, 0},
        py::arg("base") = "tanh", py::arg("where") = "output",
        py::arg("noise") = "normal", py::arg("alpha") = 1.0,
        py::arg("training") = false,
        "TfApprox>NoisyActivationGrad's CPU loop: (dx, dp).");
  m.def("gaaf", &Gaaf<S>, py::arg("x"), py::arg("base") = "tanh",
        py::arg("shape") = "exp", py::arg("k") = 10000.0,
        py::arg("center") = 0.0, py::arg("width") = 1.0,
        "TfApprox>Gaaf's CPU loop.");
  m.def("gaaf_grad", &GaafGrad<S>, py::arg("dy"), py::arg("x"),
        py::arg("base") = "tanh", py::arg("shape") = "exp",
        py::arg("k") = 10000.0, py::arg("center") = 0.0,
        py::arg("width") = 1.0, "TfApprox>GaafGrad's CPU loop: dx.");
  m.def("fastfood", &Fastfood<S>, py::arg("x"), py::arg("s"), py::arg("g"),
        py::arg("b"), py::arg("permutation"), py::arg("units"),
        py::arg("normalize") = true, "TfApprox>Fastfood's CPU loop.");
  m.def("fastfood_grad", &FastfoodGrad<S>, py::arg("dy"), py::arg("x"),
        py::arg("s"), py::arg("g"), py::arg("b"), py::arg("permutation"),
        py::arg("units"), py::arg("normalize") = true,
        "TfApprox>FastfoodGrad's CPU loop: (dx, ds, dg, db).");
  m.def("acdc", &Acdc<S>, py::arg("x"), py::arg("a"), py::arg("d"),
        py::arg("bias"), "TfApprox>Acdc's CPU loop.");
  m.def("acdc_grad", &AcdcGrad<S>, py::arg("dy"), py::arg("x"), py::arg("a"),
        py::arg("d"), "TfApprox>AcdcGrad's CPU loop: (dx, da, dd, dbias).");
  m.def("lstm", &Lstm<S>, py::arg("x"), py::arg("kernel"), py::arg("h0"),
        py::arg("c0"), py::arg("lengths"), py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reverse") = false, py::arg("unit_block") = 0,
        "TfApprox>Lstm's CPU steps, units in blocks of `unit_block` (0: "
        "all): (outputs, gates, cells).");
  m.def("lstm_grad", &LstmGrad<S>, py::arg("d_outputs"), py::arg("dh"),
        py::arg("dc"), py::arg("kernel"), py::arg("h0"), py::arg("c0"),
        py::arg("lengths"), py::arg("outputs"), py::arg("gates"),
        py::arg("cells"), py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reverse") = false, py::arg("unit_block") = 0,
        "TfApprox>LstmGrad's CPU steps: (dx, d_kernel, dh0, dc0).");
  m.def("gru", &Gru<S>, py::arg("x"), py::arg("kernel"), py::arg("bias"),
        py::arg("h0"), py::arg("lengths"), py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reset_after") = true, py::arg("reverse") = false,
        py::arg("unit_block") = 0,
        "TfApprox>Gru's CPU steps, units in blocks of `unit_block` (0: all): "
        "(outputs, gates, reset).");
  m.def("gru_grad", &GruGrad<S>, py::arg("d_outputs"), py::arg("dh"),
        py::arg("kernel"), py::arg("h0"), py::arg("lengths"),
        py::arg("outputs"), py::arg("gates"), py::arg("reset"),
        py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reset_after") = true, py::arg("reverse") = false,
        py::arg("unit_block") = 0,
        "TfApprox>GruGrad's CPU steps: (dx, d_kernel, d_bias, dh0).");
  m.def("gemm_product", &GemmProduct<S>, py::arg("a"), py::arg("b"),
        py::arg("start"), py::arg("transposed") = false, py::arg("split") = 0,
        "cc/common/small_gemm.h's Product: C = start + A B.");
  m.def("dct", &Dct<S>, py::arg("x"), py::arg("inverse") = false,
        "TfApprox>Dct's CPU loop: orthonormal DCT-II (inverse: DCT-III).");
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "tf_approx math on numpy arrays, without TensorFlow.";
  // The loader has already picked the clones, as if TF_APPROX_ISA were unset.
  if (const char* error = ::tf_approx::IsaSwitchError()) {
    throw py::import_error(std::string("tf_approx._native: ") + error);
  }
  py::class_<Spec>(m, "Spec",
                   "The attrs of TfApprox>Activation, as a plain object.")
      .def(py::init([](const std::string& kind, std::vector<double> numerator,
                       std::vector<double> denominator, double offset,
                       int squarings, bool clip, double clip_min,
                       double clip_max, bool product, double input_scale,
                       double output_scale, double slope,
                       std::vector<double> below, std::vector<double> above,
                       std::vector<double> spline) {
             Spec s{kind,      std::move(numerator), std::move(denominator),
                    offset,    squarings,            clip,
                    clip_min,  clip_max,             product,
                    input_scale, output_scale,       slope,
                    std::move(below), std::move(above), std::move(spline)};
             s.ToParams<double>();  // validate now, not at first use
             return s;
           }),
           py::arg("kind") = "rational",
           py::arg("numerator") = std::vector<double>{1.0},
           py::arg("denominator") = std::vector<double>{1.0},
           py::arg("offset") = 0.0, py::arg("squarings") = 0,
           py::arg("clip") = false, py::arg("clip_min") = 0.0,
           py::arg("clip_max") = 0.0, py::arg("product") = false,
           py::arg("input_scale") = 1.0, py::arg("output_scale") = 1.0,
           py::arg("slope") = 0.0,
           py::arg("below") = std::vector<double>{},
           py::arg("above") = std::vector<double>{},
           py::arg("spline") = std::vector<double>{})
      .def_readonly("kind", &Spec::kind)
      .def_readonly("numerator", &Spec::numerator)
      .def_readonly("denominator", &Spec::denominator)
      .def_readonly("offset", &Spec::offset)
      .def_readonly("squarings", &Spec::squarings)
      .def_readonly("clip", &Spec::clip)
      .def_readonly("clip_min", &Spec::clip_min)
      .def_readonly("clip_max", &Spec::clip_max)
      .def_readonly("product", &Spec::product)
      .def_readonly("input_scale", &Spec::input_scale)
      .def_readonly("output_scale", &Spec::output_scale)
      .def_readonly("slope", &Spec::slope)
      .def_readonly("below", &Spec::below)
      .def_readonly("above", &Spec::above)
      .def_readonly("spline", &Spec::spline);
  m.def("forward", &Forward<float>, py::arg("spec"), py::arg("x"));
  m.def("forward", &Forward<double>, py::arg("spec"), py::arg("x"),
        "y = f(x) elementwise, float32 or float64.");
  m.def("gradient", &Backward<float>, py::arg("spec"), py::arg("x"),
        py::arg("dy"));
  m.def("gradient", &Backward<double>, py::arg("spec"), py::arg("x"),
        py::arg("dy"), "dx = dy * f'(x) elementwise.");
  m.def("sweep_float32", &SweepFloat32, py::arg("spec"), py::arg("reference"),
        py::arg("lo") = -5.5, py::arg("hi") = 5.5,
        py::arg("threads") =
            static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
        "Evaluates f at every non-NaN float32 (2^32 - 2^24 inputs) and "
        "reports the error against `reference` ('tanh', 'sigmoid', 'gelu', "
        "'silu', 'mish', 'softplus', 'elu' or 'selu', in float64), NaN/inf "
        "behaviour and monotonicity. The error is absolute for tanh and "
        "sigmoid; for the others absolute on [lo, hi] and relative to "
        "max(1, |f|) beyond (`relative_beyond` in the result).");
  m.def("sweep_reference", &ReferenceAt, py::arg("reference"), py::arg("x"),
        "The float64 reference `sweep_float32` measures against, at float32 "
        "inputs `x`.");
  m.def("fast_walsh_hadamard_", &FastWalshHadamardInPlace<float>,
        py::arg("x").noconvert(), py::arg("normalize") = false);
  m.def("fast_walsh_hadamard_", &FastWalshHadamardInPlace<double>,
        py::arg("x").noconvert(), py::arg("normalize") = false,
        "x <- H x (scaled by 1/sqrt(d) if normalize) in place along the last "
        "axis of a C-contiguous float32 or float64 array, on one thread.");
  DefineFamilies<float>(m);
  DefineFamilies<double>(m);
  ::tf_approx::DefineGpuModel(m);
  m.def("selected_isa", &::tf_approx::SelectedIsa,
        "The instruction set the CPU kernels run with: 'avx512f', 'fma' or "
        "'default'; the loader's choice, or the one TF_APPROX_ISA forced.");
  m.def(
      "supported_isas",
      [] {
        std::vector<std::string> names;
        std::string list = ::tf_approx::SupportedIsas();
        for (size_t start = 0; start <= list.size();) {
          size_t end = std::min(list.find(',', start), list.size());
          names.push_back(list.substr(start, end - start));
          start = end + 1;
        }
        return names;
      },
      "The instruction sets this CPU can run, best first: the values "
      "TF_APPROX_ISA accepts here.");
}
