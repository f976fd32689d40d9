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
#include <vector>

#include "cc/activations/activations_cpu.h"
#include "cc/common/cpu_vector.h"
#include "cc/fastfood/fastfood_cpu.h"

namespace py = pybind11;
namespace act = tf_approx::activations;

namespace {

act::Kind ParseKind(const std::string& name) {
  act::Kind kind;
  if (!act::ParseKind(name.c_str(), &kind))
    throw py::value_error("unknown kind '" + name + "'");
  return kind;
}

// The same attrs as the TF op, as keyword arguments.
struct Spec {
  std::string kind = "rational";
  std::vector<double> numerator{1.0};
  std::vector<double> denominator{1.0};
  double offset = 0;
  int squarings = 0;
  bool clip = false;
  double clip_min = 0;
  double clip_max = 0;

  template <typename S>
  act::Params<S> ToParams() const {
    act::Params<S> p;
    const char* error = act::InitParams(
        ParseKind(kind), numerator.data(), static_cast<int>(numerator.size()),
        denominator.data(), static_cast<int>(denominator.size()), offset,
        squarings, clip, clip_min, clip_max, act::Word2VecTable(), &p);
    if (error != nullptr) throw py::value_error(error);
    return p;
  }
};

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
Array<S> Gradient(const Spec& spec, Array<S> x, Array<S> dy) {
  if (x.size() != dy.size()) throw py::value_error("`dy` must match `x`");
  const act::Params<S> p = spec.ToParams<S>();
  Array<S> dx(x.request().shape);
  {
    py::gil_scoped_release release;
    act::Gradient(p, x.data(), dy.data(), dx.mutable_data(), x.size());
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
  if (!tf_approx::fastfood::IsPowerOfTwo(d)) {
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

// The target in float64. Where the float64 value is known without calling
// tanh or exp it is returned directly: for |x| < 2^-28 (x, or 1/2 + x/4: the
// next terms are below half an ulp) and where the target saturates (1 -
// tanh(20) and 1 - sigmoid(40) are below 2^-54; sigmoid(-746) is below half
// the smallest subnormal). About 85% of the floats lie there, and the calls
// were most of a sweep's time.
template <bool kTanh>
double Reference(float x) {
  const double xd = x, a = std::fabs(xd);
  if (kTanh) {
    if (a < 0x1p-28) return xd;
    if (a > 20) return xd > 0 ? 1.0 : -1.0;
    return std::tanh(xd);
  }
  if (a < 0x1p-28) return 0.5 + 0.25 * xd;
  if (xd > 40) return 1.0;
  if (xd < -746) return 0.0;
  return 1.0 / (1.0 + std::exp(-xd));
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

template <bool kTanh>
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
      const double error = std::fabs(yi - Reference<kTanh>(xi));
      if (error > part.max_error) {
        part.max_error = error;
        part.max_error_x = xi;
      }
      if (xi >= lo && xi <= hi && error > part.range_error) {
        part.range_error = error;
        part.range_error_x = xi;
      }
    }
  }
  part.last_value = previous;
  return part;
}

py::dict SweepFloat32(const Spec& spec, const std::string& reference, double lo,
                      double hi, int threads) {
  if (reference != "tanh" && reference != "sigmoid")
    throw py::value_error("`reference` must be 'tanh' or 'sigmoid'");
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
        parts[t] = reference == "tanh"
                       ? SweepRange<true>(p, lo, hi, begin, end)
                       : SweepRange<false>(p, lo, hi, begin, end);
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
  return result;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "tf_approx math on numpy arrays, without TensorFlow.";
  py::class_<Spec>(m, "Spec",
                   "The attrs of TfApprox>Activation, as a plain object.")
      .def(py::init([](const std::string& kind, std::vector<double> numerator,
                       std::vector<double> denominator, double offset,
                       int squarings, bool clip, double clip_min,
                       double clip_max) {
             Spec s{kind,
                    std::move(numerator),
                    std::move(denominator),
                    offset,
                    squarings,
                    clip,
                    clip_min,
                    clip_max};
             s.ToParams<double>();  // validate now, not at first use
             return s;
           }),
           py::arg("kind") = "rational",
           py::arg("numerator") = std::vector<double>{1.0},
           py::arg("denominator") = std::vector<double>{1.0},
           py::arg("offset") = 0.0, py::arg("squarings") = 0,
           py::arg("clip") = false, py::arg("clip_min") = 0.0,
           py::arg("clip_max") = 0.0);
  m.def("forward", &Forward<float>, py::arg("spec"), py::arg("x"));
  m.def("forward", &Forward<double>, py::arg("spec"), py::arg("x"),
        "y = f(x) elementwise, float32 or float64.");
  m.def("gradient", &Gradient<float>, py::arg("spec"), py::arg("x"),
        py::arg("dy"));
  m.def("gradient", &Gradient<double>, py::arg("spec"), py::arg("x"),
        py::arg("dy"), "dx = dy * f'(x) elementwise.");
  m.def("sweep_float32", &SweepFloat32, py::arg("spec"), py::arg("reference"),
        py::arg("lo") = -5.5, py::arg("hi") = 5.5,
        py::arg("threads") =
            static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
        "Evaluates f at every non-NaN float32 (2^32 - 2^24 inputs) and "
        "reports the error against tanh or sigmoid, NaN/inf behaviour and "
        "monotonicity.");
  m.def("fast_walsh_hadamard_", &FastWalshHadamardInPlace<float>,
        py::arg("x").noconvert(), py::arg("normalize") = false);
  m.def("fast_walsh_hadamard_", &FastWalshHadamardInPlace<double>,
        py::arg("x").noconvert(), py::arg("normalize") = false,
        "x <- H x (scaled by 1/sqrt(d) if normalize) in place along the last "
        "axis of a C-contiguous float32 or float64 array, on one thread.");
  m.def("selected_isa", &::tf_approx::SelectedIsa,
        "The instruction set the CPU kernels run with on this machine.");
}
