// `_gpu_harness`: the GPU launchers of cc/<family>/<family>_gpu.cu.cc on
// numpy data, without TensorFlow, for tools/gpu_check.py on a GPU machine.
//
// Data lives in DeviceArray (upload, download). Each family's function
// checks its arguments and returns a Launch: a closure that enqueues the
// kernel once on the default stream when called, and that `time` calls
// `repeats` times between two CUDA events (so launch overhead from Python
// does not enter the time). bfloat16 arrays travel as uint16 bit patterns
// with bfloat16=True, as in `_native.gpu_model`.
#include <cuda_runtime.h>
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "cc/acdc/acdc.h"
#include "cc/acdc/acdc_gpu.h"
#include "cc/activations/activations_gpu.h"
#include "cc/common/convert_gpu.h"
#include "cc/common/device.h"
#include "cc/common/gpu_model.h"
#include "cc/fastfood/fastfood.h"
#include "cc/fastfood/fastfood_gpu.h"
#include "cc/gaaf/gaaf.h"
#include "cc/gaaf/gaaf_gpu.h"
#include "cc/native/activation_spec.h"
#include "cc/native/block_programs.h"
#include "cc/native/problems.h"
#include "cc/native/recurrent_bindings.h"
#include "cc/noisy/noisy.h"
#include "cc/noisy/noisy_gpu.h"
#include "cc/pau/pau.h"
#include "cc/pau/pau_gpu.h"
#include "cc/recurrent/recurrent_gpu.h"

namespace tf_approx {
namespace {

namespace py = pybind11;

void Check(cudaError_t error, const char* what) {
  if (error != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " +
                             cudaGetErrorString(error));
  }
}

using native::GaafProblem;
using native::Require;

// A buffer in device memory with a numpy dtype and shape.
class DeviceArray {
 public:
  DeviceArray(py::dtype dtype, std::vector<py::ssize_t> shape, bool bfloat16)
      : dtype_(std::move(dtype)), shape_(std::move(shape)),
        bfloat16_(bfloat16) {
    size_ = 1;
    for (py::ssize_t d : shape_) size_ *= d;
    bytes_ = static_cast<size_t>(size_) * dtype_.itemsize();
    if (bytes_ > 0) Check(cudaMalloc(&data_, bytes_), "cudaMalloc");
  }
  ~DeviceArray() {
    if (data_ != nullptr) cudaFree(data_);
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  static std::shared_ptr<DeviceArray> Upload(const py::array& host,
                                             bool bfloat16) {
    const py::array a = py::array::ensure(host, py::array::c_style);
    auto array = std::make_shared<DeviceArray>(
        a.dtype(), std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()),
        bfloat16);
    if (array->bytes_ > 0) {
      Check(cudaMemcpy(array->data_, a.data(), array->bytes_,
                       cudaMemcpyHostToDevice),
            "cudaMemcpy to the device");
    }
    return array;
  }

  std::shared_ptr<DeviceArray> EmptyLike() const {
    return std::make_shared<DeviceArray>(dtype_, shape_, bfloat16_);
  }

  py::array Download() const {
    py::array out(dtype_, shape_);
    if (bytes_ > 0) {
      Check(cudaMemcpy(out.mutable_data(), data_, bytes_,
                       cudaMemcpyDeviceToHost),
            "cudaMemcpy to the host");
    }
    return out;
  }

  template <typename T>
  T* data() const {
    return static_cast<T*>(data_);
  }
  void* raw() const { return data_; }
  int64_t size() const { return size_; }
  const std::vector<py::ssize_t>& shape() const { return shape_; }
  size_t bytes() const { return bytes_; }
  bool bfloat16() const { return bfloat16_; }
  const py::dtype& dtype() const { return dtype_; }

 private:
  py::dtype dtype_;
  std::vector<py::ssize_t> shape_;
  bool bfloat16_ = false;
  int64_t size_ = 0;
  size_t bytes_ = 0;
  void* data_ = nullptr;
};

using Array = std::shared_ptr<DeviceArray>;
using Launch = std::function<void()>;

void RequireLike(const Array& a, const Array& b, const char* what) {
  Require(a->size() == b->size() && a->dtype().is(b->dtype()) &&
              a->bfloat16() == b->bfloat16(),
          std::string(what) + " must match x in size and dtype");
}

void RequireDtypeOf(const Array& a, const Array& b, const char* what) {
  Require(a->dtype().is(b->dtype()) && a->bfloat16() == b->bfloat16(),
          std::string(what) + " must have x's dtype");
}

// Calls fn(T{}) with T the element type of `a`.
template <typename Fn>
Launch DispatchType(const Array& a, Fn&& fn) {
  return native::DispatchType(a->dtype().kind(), a->dtype().itemsize(),
                              a->bfloat16(), fn);
}

std::vector<int64_t> ShapeOf(const Array& a) {
  return std::vector<int64_t>(a->shape().begin(), a->shape().end());
}

void ThrowIfFailed(const char* error) {
  if (error != nullptr) throw std::runtime_error(error);
}

// The approximated activations. `spec` is any object with the attributes of
// _native.Spec (ActivationSpec::FromAttributes).
Launch Activation(Array x, Array y, const py::object& spec) {
  RequireLike(x, y, "y");
  const ActivationSpec s = ActivationSpec::FromAttributes(spec);
  return DispatchType(x, [&](auto type) -> Launch {
    using T = decltype(type);
    const auto p = s.ToParams<ComputeType<T>>();
    return [=] {
      ThrowIfFailed(activations::LaunchForward<T>(
          nullptr, p, x->data<T>(), y->data<T>(), x->size()));
    };
  });
}

Launch ActivationGrad(Array x, Array dy, Array dx, const py::object& spec) {
  RequireLike(x, dy, "dy");
  RequireLike(x, dx, "dx");
  const ActivationSpec s = ActivationSpec::FromAttributes(spec);
  return DispatchType(x, [&](auto type) -> Launch {
    using T = decltype(type);
    const auto p = s.ToParams<ComputeType<T>>();
    return [=] {
      ThrowIfFailed(activations::LaunchBackward<T>(
          nullptr, p, x->data<T>(), dy->data<T>(), dx->data<T>(), x->size()));
    };
  });
}

// GAAF.
Launch Gaaf(Array x, Array y, const std::string& base,
            const std::string& shape, double k, double center, double width) {
  RequireLike(x, y, "y");
  return DispatchType(x, [&](auto type) -> Launch {
    using T = decltype(type);
    const auto p = GaafProblem<ComputeType<T>>(base, shape, k, center, width);
    return [=] {
      ThrowIfFailed(gaaf::LaunchForward<T>(nullptr, p, x->data<T>(),
                                           y->data<T>(), x->size()));
    };
  });
}

Launch GaafGrad(Array x, Array dy, Array dx, const std::string& base,
                const std::string& shape, double k, double center,
                double width) {
  RequireLike(x, dy, "dy");
  RequireLike(x, dx, "dx");
  return DispatchType(x, [&](auto type) -> Launch {
    using T = decltype(type);
    const auto p = GaafProblem<ComputeType<T>>(base, shape, k, center, width);
    return [=] {
      ThrowIfFailed(gaaf::LaunchBackward<T>(nullptr, p, x->data<T>(),
                                            dy->data<T>(), dx->data<T>(),
                                            x->size()));
    };
  });
}

// TfApprox>FastWalshHadamard's launches as its GPU functor makes them: the
// half types through a float32 buffer. max_block_log2 < 0 takes the
// device's limit.
Launch FastWalshHadamard(Array x, Array y, bool normalize,
                         int max_block_log2) {
  RequireLike(x, y, "y");
  Require(!x->shape().empty(), "x must have rank >= 1");
  const int64_t d = x->shape().back();
  Require(d > 0 && (d & (d - 1)) == 0,
          "the last axis of x must be a power of two");
  Require(max_block_log2 <= fastfood::kMaxBlockLog2,
          "max_block_log2 must be at most 15");
  return DispatchType(x, [&](auto type) -> Launch {
    using T = decltype(type);
    using C = ComputeType<T>;
    const int64_t size = x->size();
    const int64_t rows = size / d;
    const int k = fastfood::Log2(d);
    const C scale =
        normalize ? static_cast<C>(1.0 / std::sqrt(double(d))) : C(1);
    if constexpr (std::is_same<T, C>::value) {
      return [=] {
        ThrowIfFailed(fastfood::LaunchFwht<C>(nullptr, x->data<C>(),
                                              y->data<C>(), rows, k, scale,
                                              max_block_log2));
      };
    } else {
      auto work = std::make_shared<DeviceArray>(py::dtype::of<float>(),
                                                x->shape(), false);
      return [=] {
        float* w = work->data<float>();
        ThrowIfFailed(
            LaunchConvert(nullptr, x->data<T>(), w, size));
        ThrowIfFailed(fastfood::LaunchFwht<float>(nullptr, w, w, rows, k,
                                                  scale, max_block_log2));
        ThrowIfFailed(LaunchConvert(
            nullptr, static_cast<const float*>(w), y->data<T>(), size));
      };
    }
  });
}

// Noisy activations: p ([channels] or a single value), scale (one value)
// and seed (int64 [seed, step] or [seed, step, first]) are device arrays, as
// they are GPU variables in training.
template <typename T>
noisy::GpuProblem<ComputeType<T>> NoisyProblem(
    const Array& x, const Array& p, const Array& scale, const Array& seed,
    const std::string& base, const std::string& where,
    const std::string& noise, double alpha, bool training) {
  using C = ComputeType<T>;
  Require(p->dtype().is(x->dtype()) && p->bfloat16() == x->bfloat16() &&
              scale->dtype().is(x->dtype()) &&
              scale->bfloat16() == x->bfloat16() && scale->size() == 1,
          "noisy_activation: p and scale must have x's dtype, scale one value");
  Require(p->size() >= 1 && x->size() % p->size() == 0,
          "noisy_activation: x must have p's size as its last axis");
  Require(seed->dtype().kind() == 'i' && seed->dtype().itemsize() == 8,
          "noisy_activation: seed must be int64 [2] or [3]");
  return native::NoisyProblem<C>(base, where, noise, alpha, training,
                                 x->size(), p->size(), seed->size());
}

template <typename T>
noisy::GpuInputs<T> NoisyInputs(const Array& p, const Array& scale,
                                const Array& seed) {
  noisy::GpuInputs<T> in;
  in.p = p->data<T>();
  in.scale = scale->data<T>();
  in.seed = seed->data<int64_t>();
  return in;
}

Launch Noisy(Array x, Array y, Array p, Array scale, Array seed,
             const std::string& base, const std::string& where,
             const std::string& noise, double alpha, bool training) {
  RequireLike(x, y, "y");
  return DispatchType(x, [&](auto type) -> Launch {
    using T = decltype(type);
    const auto prob = NoisyProblem<T>(x, p, scale, seed, base, where, noise,
                                      alpha, training);
    return [=] {
      ThrowIfFailed(noisy::LaunchForward<T>(
          nullptr, prob, NoisyInputs<T>(p, scale, seed), x->data<T>(),
          y->data<T>()));
    };
  });
}

Launch NoisyGrad(Array x, Array dy, Array dx, Array p, Array dp, Array scale,
                 Array seed, const std::string& base, const std::string& where,
                 const std::string& noise, double alpha, bool training) {
  RequireLike(x, dy, "dy");
  RequireLike(x, dx, "dx");
  RequireLike(p, dp, "dp");
  return DispatchType(x, [&](auto type) -> Launch {
    using T = decltype(type);
    const auto prob = NoisyProblem<T>(x, p, scale, seed, base, where, noise,
                                      alpha, training);
    const noisy::SumLayout s = noisy::MakeSumLayout(prob.size, prob.channels);
    // The temp memory, allocated once (as TensorFlow's allocator would
    // hand it out).
    const Array partial = std::make_shared<DeviceArray>(
        py::dtype::of<double>(),
        std::vector<py::ssize_t>{static_cast<py::ssize_t>(s.TempSize())},
        false);
    return [=] {
      ThrowIfFailed(noisy::LaunchBackward<T>(
          nullptr, prob, NoisyInputs<T>(p, scale, seed), x->data<T>(),
          dy->data<T>(), dx->data<T>(), dp->data<T>(),
          partial->data<double>()));
    };
  });
}

// PAU: the coefficients (x's dtype) and the seed come as numpy arrays and
// are uploaded once; each Launch keeps its device copies, and the
// gradient's coefficient outputs and temp memory, which it discards (the
// coefficient sums are checked on the CPU model: tests/test_gpu_model.py).
template <typename T>
pau::GpuProblem<T> PauProblem(const Array& x, const Array& numerator,
                                 const Array& denominator,
                                 const std::string& kind, double alpha,
                                 const Array& seed) {
  Require(numerator->dtype().is(x->dtype()) &&
              denominator->dtype().is(x->dtype()),
          "pau: the coefficients must have x's dtype");
  pau::GpuProblem<T> p =
      native::PauProblem<T>(ShapeOf(x), ShapeOf(numerator),
                            ShapeOf(denominator), seed->size(), kind, alpha);
  p.numerator = numerator->data<T>();
  p.denominator_b = denominator->data<T>();
  p.seed = seed->data<int64_t>();
  return p;
}

Array UploadSeed(const std::vector<int64_t>& seed) {
  return DeviceArray::Upload(
      py::array_t<int64_t>(static_cast<py::ssize_t>(seed.size()),
                           seed.data()),
      false);
}

Launch Pau(Array x, Array y, const py::array& numerator_host,
           const py::array& denominator_host, const std::string& kind,
           double alpha, const std::vector<int64_t>& seed_host) {
  RequireLike(x, y, "y");
  const Array numerator = DeviceArray::Upload(numerator_host, x->bfloat16());
  const Array denominator =
      DeviceArray::Upload(denominator_host, x->bfloat16());
  const Array seed = UploadSeed(seed_host);
  return DispatchType(x, [&](auto type) -> Launch {
    using T = decltype(type);
    const auto p = PauProblem<T>(x, numerator, denominator, kind, alpha, seed);
    return [=] {
      (void)numerator, (void)denominator, (void)seed;  // kept alive
      ThrowIfFailed(
          pau::LaunchForward<T>(nullptr, p, x->data<T>(), y->data<T>()));
    };
  });
}

Launch PauGrad(Array x, Array dy, Array dx, const py::array& numerator_host,
               const py::array& denominator_host, const std::string& kind,
               const std::vector<int64_t>& seed_host, double alpha) {
  RequireLike(x, dy, "dy");
  RequireLike(x, dx, "dx");
  const Array numerator = DeviceArray::Upload(numerator_host, x->bfloat16());
  const Array denominator =
      DeviceArray::Upload(denominator_host, x->bfloat16());
  const Array seed = UploadSeed(seed_host);
  const Array dnumerator = numerator->EmptyLike();
  const Array ddenominator = denominator->EmptyLike();
  return DispatchType(x, [&](auto type) -> Launch {
    using T = decltype(type);
    using C = ComputeType<T>;
    const auto p = PauProblem<T>(x, numerator, denominator, kind, alpha, seed);
    const Array partial = std::make_shared<DeviceArray>(
        py::dtype::of<C>(),
        std::vector<py::ssize_t>{std::max<py::ssize_t>(
            1, p.Chunks() * p.NumCoefficients() * p.Lanes())},
        false);
    const Array total = std::make_shared<DeviceArray>(
        py::dtype::of<double>(),
        std::vector<py::ssize_t>{p.NumCoefficients() * p.Lanes()}, false);
    return [=] {
      (void)numerator, (void)denominator, (void)seed;  // kept alive
      ThrowIfFailed(pau::LaunchBackward<T>(
          nullptr, p, x->data<T>(), dy->data<T>(), dx->data<T>(),
          dnumerator->data<T>(), ddenominator->data<T>(), partial->data<C>(),
          total->data<double>()));
    };
  });
}

// The block programs of block_programs.h (the cooperative model's test
// programs), as _native.gpu_model runs them on the CPU.

template <typename S>
__global__ void BlockShuffleKernel(block_programs::ShuffleKind kind, int arg,
                                   const S* x, S* y) {
  GpuBlock<block_programs::Registers<S>> b(nullptr);
  block_programs::Shuffle(b, kind, arg, x, y);
}

template <typename S>
__global__ void BlockFwhtKernel(int64_t n, const S* x, S* y) {
  extern __shared__ __align__(16) unsigned char shared[];
  GpuBlock<block_programs::Registers<S>> b(shared);
  block_programs::Fwht(b, n, x, y);
}

template <typename S>
__global__ void BlockSumKernel(int64_t threads, const S* x, int64_t n,
                               S* sums) {
  extern __shared__ __align__(16) unsigned char shared[];
  GpuBlock<block_programs::Registers<S>> b(shared);
  block_programs::Sum(b, threads, x, n, sums);
}

// Calls fn(S{}) with S float or double, the element type of `a`.
template <typename Fn>
Launch DispatchFloat(const Array& a, Fn&& fn) {
  Require(!a->bfloat16() && a->dtype().kind() == 'f' &&
              (a->dtype().itemsize() == 4 || a->dtype().itemsize() == 8),
          "block programs take float32 or float64");
  if (a->dtype().itemsize() == 4) return fn(float{});
  return fn(double{});
}

// Adaptive Fastfood: s, g, b ([blocks, d]) and the permutation (int32) are
// device arrays, as GPU variables are; grads is [3, blocks, d] (dS, dG, dB).
// max_log2 < 0 takes the device's limit of the fused kernels.
template <typename S>
struct FastfoodCall {
  fastfood::Problem<S> p;
  int64_t rows = 0;
  int max_log2 = 0;
  std::shared_ptr<DeviceArray> scratch;

  FastfoodCall(const Array& x, const Array& s, const Array& g, const Array& b,
               const Array& perm, int64_t units, bool normalize, int limit,
               bool gradient) {
    RequireDtypeOf(x, s, "s");
    for (const Array* a : {&s, &g, &b}) RequireLike(s, *a, "g and b");
    Require(perm->dtype().is(py::dtype::of<int32_t>()),
            "the permutation must be int32");
    Require(limit <= fastfood::kMaxBlockLog2, "max_log2 must be at most 15");
    const auto shape = [](const Array& a) {
      return std::vector<int64_t>(a->shape().begin(), a->shape().end());
    };
    p = native::FastfoodProblem<S>(shape(x), shape(s), g->size(), b->size(),
                                   perm->size(), nullptr, units, normalize);
    p.s = s->data<S>();
    p.g = g->data<S>();
    p.b = b->data<S>();
    p.perm = perm->data<int32_t>();
    rows = x->size() / p.n_in;
    max_log2 = limit < 0 ? fastfood::DeviceMaxFastfoodLog2<S>() : limit;
    scratch = std::make_shared<DeviceArray>(
        x->dtype(),
        std::vector<py::ssize_t>{static_cast<py::ssize_t>(
            fastfood::FastfoodScratchElements(rows, p.blocks * p.d, p.d,
                                              gradient, max_log2))},
        false);
  }

  S* Scratch() const { return scratch->data<S>(); }
};

Launch Fastfood(Array x, Array y, Array s, Array g, Array b, Array perm,
                int64_t units, bool normalize, int max_log2) {
  return DispatchFloat(x, [&](auto type) -> Launch {
    using S = decltype(type);
    const FastfoodCall<S> call(x, s, g, b, perm, units, normalize, max_log2,
                               false);
    Require(y->size() == call.rows * units && y->dtype().is(x->dtype()),
            "y must be [rows, units] of x's dtype");
    return [=] {
      ThrowIfFailed(fastfood::LaunchFastfood<S>(
          nullptr, call.p, call.rows, x->data<S>(), y->data<S>(),
          call.Scratch(), call.max_log2));
    };
  });
}

Launch FastfoodGrad(Array x, Array dy, Array dx, Array s, Array g, Array b,
                    Array perm, Array grads, int64_t units, bool normalize,
                    int max_log2) {
  RequireLike(x, dx, "dx");
  return DispatchFloat(x, [&](auto type) -> Launch {
    using S = decltype(type);
    const FastfoodCall<S> call(x, s, g, b, perm, units, normalize, max_log2,
                               true);
    Require(dy->size() == call.rows * units && dy->dtype().is(x->dtype()),
            "dy must be [rows, units] of x's dtype");
    Require(grads->size() == 3 * call.p.blocks * call.p.d &&
                grads->dtype().is(x->dtype()),
            "grads must be [3, blocks, d] of x's dtype");
    return [=] {
      const int64_t params = call.p.blocks * call.p.d;
      fastfood::FastfoodGrads<S> out;
      out.ds = grads->data<S>();
      out.dg = out.ds + params;
      out.db = out.dg + params;
      ThrowIfFailed(fastfood::LaunchFastfoodGrad<S>(
          nullptr, call.p, call.rows, dy->data<S>(), x->data<S>(),
          dx->data<S>(), call.Scratch(), out, call.max_log2));
    };
  });
}

// ACDC and the DCT: a, d and bias are device arrays ([n]), grads is [3, n]
// (dE/da, dE/dd, dE/dbias); the plan's tables are copied to the device when
// the Launch is made.
template <typename S>
struct AcdcCall {
  int64_t rows = 0;
  acdc::Plan<S> plan;
  acdc::RowLaunch launch;  // the scratch is sized for it
  std::shared_ptr<DeviceArray> tables;
  std::shared_ptr<DeviceArray> scratch;

  AcdcCall(const Array& x, bool gradient) {
    Require(!x->shape().empty() && x->shape().back() >= 1,
            "x must have rank >= 1 and a last axis of length >= 1");
    const int64_t n = x->shape().back();
    rows = x->size() / n;
    const acdc::PlanTables<S> host(n);
    tables = std::make_shared<DeviceArray>(
        x->dtype(),
        std::vector<py::ssize_t>{
            static_cast<py::ssize_t>(acdc::TableElements(host.plan()))},
        false);
    ThrowIfFailed(acdc::LaunchCopyPlan<S>(nullptr, host.plan(),
                                          tables->data<S>(), &plan));
    Check(cudaDeviceSynchronize(), "copying the tables");
    launch = acdc::PlanRows(plan, rows, gradient);
    scratch = std::make_shared<DeviceArray>(
        x->dtype(),
        std::vector<py::ssize_t>{static_cast<py::ssize_t>(
            acdc::ScratchElements(launch, rows, n, gradient))},
        false);
  }

  S* Scratch() const { return scratch->data<S>(); }

  acdc::Problem<S> Problem(const Array& x, const Array& a, const Array& d,
                           const S* bias) const {
    RequireDtypeOf(x, a, "a");
    RequireDtypeOf(x, d, "d");
    Require(a->size() == plan.n && d->size() == plan.n,
            "a and d must be [n], n the last axis of x");
    acdc::Problem<S> p;
    p.plan = plan;
    p.a = a->data<S>();
    p.d = d->data<S>();
    p.bias = bias;
    return p;
  }
};

Launch Acdc(Array x, Array y, Array a, Array d, Array bias) {
  RequireLike(x, y, "y");
  RequireDtypeOf(x, bias, "bias");
  return DispatchFloat(x, [&](auto type) -> Launch {
    using S = decltype(type);
    const AcdcCall<S> call(x, false);
    Require(bias->size() == call.plan.n, "bias must be [n]");
    const acdc::Problem<S> p = call.Problem(x, a, d, bias->data<S>());
    return [=] {
      ThrowIfFailed(acdc::LaunchAcdc<S>(nullptr, p, call.rows, call.launch,
                                        x->data<S>(), y->data<S>(),
                                        call.Scratch()));
    };
  });
}

Launch AcdcGrad(Array x, Array dy, Array dx, Array a, Array d, Array grads) {
  RequireLike(x, dy, "dy");
  RequireLike(x, dx, "dx");
  RequireDtypeOf(x, grads, "grads");
  return DispatchFloat(x, [&](auto type) -> Launch {
    using S = decltype(type);
    const AcdcCall<S> call(x, true);
    Require(dy->size() == x->size() && dx->size() == x->size(),
            "dy and dx must have x's shape");
    Require(grads->size() == 3 * call.plan.n, "grads must be [3, n]");
    const acdc::Problem<S> p =
        call.Problem(x, a, d, static_cast<const S*>(nullptr));
    return [=] {
      acdc::AcdcGrads<S> out;
      out.da = grads->data<S>();
      out.dd = out.da + call.plan.n;
      out.dbias = out.dd + call.plan.n;
      ThrowIfFailed(acdc::LaunchAcdcGrad<S>(
          nullptr, p, call.rows, call.launch, dy->data<S>(), x->data<S>(),
          dx->data<S>(), call.Scratch(), out));
    };
  });
}

Launch Dct(Array x, Array y, bool inverse) {
  RequireLike(x, y, "y");
  return DispatchFloat(x, [&](auto type) -> Launch {
    using S = decltype(type);
    const AcdcCall<S> call(x, false);
    return [=] {
      ThrowIfFailed(acdc::LaunchDct<S>(nullptr, call.plan, inverse, call.rows,
                                       call.launch, x->data<S>(), y->data<S>(),
                                       call.Scratch()));
    };
  });
}

Launch BlockShuffle(Array x, Array y, const std::string& kind, int arg,
                    int64_t threads) {
  RequireLike(x, y, "y");
  native::CheckBlock(threads);
  Require(x->size() % threads == 0, "x must be whole blocks of `threads`");
  Require(arg >= 0 && arg < kWarpSize, "arg must be in [0, 32)");
  block_programs::ShuffleKind k;
  Require(block_programs::ParseShuffleKind(kind.c_str(), &k),
          "kind must be 'xor', 'down' or 'index'");
  return DispatchFloat(x, [&](auto type) -> Launch {
    using S = decltype(type);
    const int64_t blocks = x->size() / threads;
    return [=] {
      if (blocks == 0) return;
      BlockShuffleKernel<S><<<blocks, threads>>>(k, arg, x->data<S>(),
                                                 y->data<S>());
      Check(cudaGetLastError(), "BlockShuffleKernel");
    };
  });
}

Launch BlockFwht(Array x, Array y) {
  RequireLike(x, y, "y");
  Require(x->shape().size() == 2, "x must have rank 2 (rows, n)");
  const int64_t n = x->shape()[1];
  native::CheckBlock(n);
  Require((n & (n - 1)) == 0, "n must be a power of two");
  return DispatchFloat(x, [&](auto type) -> Launch {
    using S = decltype(type);
    const int64_t rows = x->shape()[0];
    return [=] {
      if (rows == 0) return;
      BlockFwhtKernel<S><<<rows, n, n * sizeof(S)>>>(n, x->data<S>(),
                                                     y->data<S>());
      Check(cudaGetLastError(), "BlockFwhtKernel");
    };
  });
}

Launch BlockSum(Array x, Array sums, int64_t threads) {
  native::CheckBlock(threads);
  Require(x->shape().size() == 1, "x must have rank 1");
  const int64_t blocks =
      std::max<int64_t>(1, (x->size() + threads - 1) / threads);
  Require(sums->size() == blocks && sums->dtype().is(x->dtype()),
          "sums must have one element of x's dtype per block");
  return DispatchFloat(x, [&](auto type) -> Launch {
    using S = decltype(type);
    return [=] {
      BlockSumKernel<S><<<blocks, threads, threads / kWarpSize * sizeof(S)>>>(
          threads, x->data<S>(), x->size(), sums->data<S>());
      Check(cudaGetLastError(), "BlockSumKernel");
    };
  });
}

// Seconds per call of `launch`, on the GPU, over `repeats` calls after
// `warmup` more.
double Time(const Launch& launch, int repeats, int warmup) {
  Require(repeats >= 1 && warmup >= 0, "repeats >= 1, warmup >= 0");
  for (int i = 0; i < warmup; ++i) launch();
  cudaEvent_t start, stop;
  Check(cudaEventCreate(&start), "cudaEventCreate");
  Check(cudaEventCreate(&stop), "cudaEventCreate");
  Check(cudaEventRecord(start), "cudaEventRecord");
  for (int i = 0; i < repeats; ++i) launch();
  Check(cudaEventRecord(stop), "cudaEventRecord");
  Check(cudaEventSynchronize(stop), "the timed kernels");
  float ms = 0;
  Check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms * 1e-3 / repeats;
}

// The fused LSTM and GRU (recurrent_bindings.h), their passes on the GPU:
// the arrays a pass reads uploaded, the launchers run on the default stream
// (then `repeats` more times between CUDA events, where `seconds` is
// given: the passes start from their inputs each time), the results
// downloaded into the host arrays the bindings return. The final states the
// forward launchers write are checked against the last step's outputs.
template <typename V>
class Buffer {
 public:
  explicit Buffer(int64_t size) : size_(size) {
    if (size_ > 0) {
      Check(cudaMalloc(&data_, sizeof(V) * size_), "cudaMalloc");
    }
  }
  Buffer(const V* host, int64_t size) : Buffer(size) {
    if (size_ > 0) {
      Check(cudaMemcpy(data_, host, sizeof(V) * size_, cudaMemcpyHostToDevice),
            "cudaMemcpy to the device");
    }
  }
  ~Buffer() {
    if (data_ != nullptr) cudaFree(data_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void Download(V* host) const {
    if (size_ > 0) {
      Check(cudaMemcpy(host, data_, sizeof(V) * size_, cudaMemcpyDeviceToHost),
            "cudaMemcpy to the host");
    }
  }
  V* get() const { return data_; }

 private:
  int64_t size_ = 0;
  V* data_ = nullptr;
};

namespace rec = ::tf_approx::recurrent;

struct DevicePasses {
  int repeats = 0;
  double* seconds = nullptr;  // per call, if repeats > 0

  template <typename S>
  S Fill() const {
    return S(0);
  }
  // The host scratch is unused: the launchers' is on the device.
  template <typename P>
  int64_t LstmScratch(const P&) const {
    return 0;
  }
  template <typename P>
  int64_t GruScratch(const P&) const {
    return 0;
  }

  template <typename Call>
  void Run(Call&& call) const {
    ThrowIfFailed(call());
    Check(cudaDeviceSynchronize(), "the recurrent kernels");
    if (repeats > 0) *seconds = Time([&] { ThrowIfFailed(call()); }, repeats, 0);
  }

  // The state after the last step, downloaded from `final`, must be the
  // host's outputs (or states) at that step, or the initial state.
  template <typename S>
  static void CheckFinal(const rec::Sequence<S>& p, const Buffer<S>& final,
                         const S* initial, const S* states, const char* what) {
    const int64_t state = p.batch * p.units;
    std::vector<S> got(state);
    final.Download(got.data());
    const S* want = rec::FinalState(p, initial, states);
    if (!std::equal(got.begin(), got.end(), want, [](S a, S b) {
          return a == b || (a != a && b != b);
        })) {
      throw std::runtime_error(std::string(what) +
                               ": the final state is not the last step's");
    }
  }

  template <typename S>
  void LstmForward(const rec::LstmProblem<S>& p,
                   const rec::LstmData<S>& d) const {
    const int64_t state = p.batch * p.units, sequence = p.time * state;
    const int64_t gates = p.time * p.batch * p.Gates();
    Buffer<S> x(d.x, gates), kernel(d.kernel, p.units * p.Gates());
    Buffer<S> h0(d.h0, state), c0(d.c0, state);
    Buffer<S> outputs(sequence), z(gates), cells(sequence), h(state),
        c(state), scratch(rec::GpuLstmScratch(p));
    Buffer<int32_t> lengths(std::max<int64_t>(1, p.batch));
    rec::LstmData<S> dd;
    dd.x = x.get();
    dd.kernel = kernel.get();
    dd.h0 = h0.get();
    dd.c0 = c0.get();
    dd.outputs = outputs.get();
    dd.gates = z.get();
    dd.cells = cells.get();
    dd.scratch = scratch.get();
    Run([&] {
      return rec::LaunchLstm<S>(nullptr, p, dd, lengths.get(), h.get(),
                                c.get());
    });
    outputs.Download(d.outputs);
    z.Download(d.gates);
    cells.Download(d.cells);
    CheckFinal(p, h, d.h0, d.outputs, "lstm h");
    CheckFinal(p, c, d.c0, d.cells, "lstm c");
  }

  template <typename S>
  void LstmBackward(const rec::LstmProblem<S>& p,
                    const rec::LstmData<S>& d) const {
    const int64_t state = p.batch * p.units, sequence = p.time * state;
    const int64_t gates = p.time * p.batch * p.Gates();
    const int64_t kernel_size = p.units * p.Gates();
    Buffer<S> d_outputs(d.d_outputs, sequence), kernel(d.kernel, kernel_size);
    Buffer<S> h0(d.h0, state), c0(d.c0, state), outputs(d.outputs, sequence),
        z(d.gates, gates), cells(d.cells, sequence);
    Buffer<S> dh_in(d.dh, state), dc_in(d.dc, state);
    Buffer<S> dh(state), dc(state), dx(gates), d_kernel(kernel_size),
        scratch(rec::GpuLstmScratch(p));
    Buffer<int32_t> lengths(std::max<int64_t>(1, p.batch));
    rec::LstmData<S> dd;
    dd.d_outputs = d_outputs.get();
    dd.kernel = kernel.get();
    dd.h0 = h0.get();
    dd.c0 = c0.get();
    dd.outputs = outputs.get();
    dd.gates = z.get();
    dd.cells = cells.get();
    dd.dh = dh.get();
    dd.dc = dc.get();
    dd.dx = dx.get();
    dd.d_kernel = d_kernel.get();
    dd.scratch = scratch.get();
    Run([&] {
      return rec::LaunchLstmGrad<S>(nullptr, p, dd, lengths.get(),
                                    dh_in.get(), dc_in.get());
    });
    dx.Download(d.dx);
    d_kernel.Download(d.d_kernel);
    dh.Download(d.dh);
    dc.Download(d.dc);
  }

  template <typename S>
  void GruForward(const rec::GruProblem<S>& p,
                  const rec::GruData<S>& d) const {
    const int64_t state = p.batch * p.units, sequence = p.time * state;
    const int64_t gates = p.time * p.batch * p.Gates();
    Buffer<S> x(d.x, gates), kernel(d.kernel, p.units * p.Gates()),
        bias(d.bias, p.Gates()), h0(d.h0, state);
    Buffer<S> outputs(sequence), pre(gates), reset(sequence), h(state),
        scratch(rec::GpuGruScratch(p));
    Buffer<int32_t> lengths(std::max<int64_t>(1, p.batch));
    rec::GruData<S> dd;
    dd.x = x.get();
    dd.kernel = kernel.get();
    dd.bias = bias.get();
    dd.h0 = h0.get();
    dd.outputs = outputs.get();
    dd.gates = pre.get();
    dd.reset = reset.get();
    dd.scratch = scratch.get();
    Run([&] {
      return rec::LaunchGru<S>(nullptr, p, dd, lengths.get(), h.get());
    });
    outputs.Download(d.outputs);
    pre.Download(d.gates);
    reset.Download(d.reset);
    CheckFinal(p, h, d.h0, d.outputs, "gru h");
  }

  template <typename S>
  void GruBackward(const rec::GruProblem<S>& p,
                   const rec::GruData<S>& d) const {
    const int64_t state = p.batch * p.units, sequence = p.time * state;
    const int64_t gates = p.time * p.batch * p.Gates();
    const int64_t kernel_size = p.units * p.Gates();
    Buffer<S> d_outputs(d.d_outputs, sequence), kernel(d.kernel, kernel_size);
    Buffer<S> h0(d.h0, state), outputs(d.outputs, sequence),
        pre(d.gates, gates), reset(d.reset, sequence), dh_in(d.dh, state);
    Buffer<S> dh(state), dx(gates), d_kernel(kernel_size),
        d_bias(p.Gates()), scratch(rec::GpuGruScratch(p));
    Buffer<int32_t> lengths(std::max<int64_t>(1, p.batch));
    rec::GruData<S> dd;
    dd.d_outputs = d_outputs.get();
    dd.kernel = kernel.get();
    dd.h0 = h0.get();
    dd.outputs = outputs.get();
    dd.gates = pre.get();
    dd.reset = reset.get();
    dd.dh = dh.get();
    dd.dx = dx.get();
    dd.d_kernel = d_kernel.get();
    dd.d_bias = d_bias.get();
    dd.scratch = scratch.get();
    Run([&] {
      return rec::LaunchGruGrad<S>(nullptr, p, dd, lengths.get(),
                                   dh_in.get());
    });
    dx.Download(d.dx);
    d_kernel.Download(d.d_kernel);
    d_bias.Download(d.d_bias);
    dh.Download(d.dh);
  }
};

template <typename S>
using HostArray = py::array_t<S, py::array::c_style | py::array::forcecast>;

// Each returns (the pass's results..., seconds per call or 0).
template <typename S>
py::tuple Lstm(HostArray<S> x, HostArray<S> kernel, HostArray<S> h0,
               HostArray<S> c0, HostArray<int32_t> lengths,
               py::object activation, py::object recurrent_activation,
               bool reverse, int repeats) {
  double seconds = 0;
  py::tuple out = native::Lstm<S>(x, kernel, h0, c0, lengths, activation,
                                  recurrent_activation, reverse,
                                  DevicePasses{repeats, &seconds});
  return py::make_tuple(out[0], out[1], out[2], seconds);
}

template <typename S>
py::tuple LstmGrad(HostArray<S> d_outputs, HostArray<S> dh, HostArray<S> dc,
                   HostArray<S> kernel, HostArray<S> h0, HostArray<S> c0,
                   HostArray<int32_t> lengths, HostArray<S> outputs,
                   HostArray<S> gates, HostArray<S> cells,
                   py::object activation, py::object recurrent_activation,
                   bool reverse, int repeats) {
  double seconds = 0;
  py::tuple out = native::LstmGrad<S>(
      d_outputs, dh, dc, kernel, h0, c0, lengths, outputs, gates, cells,
      activation, recurrent_activation, reverse,
      DevicePasses{repeats, &seconds});
  return py::make_tuple(out[0], out[1], out[2], out[3], seconds);
}

template <typename S>
py::tuple Gru(HostArray<S> x, HostArray<S> kernel, HostArray<S> bias,
              HostArray<S> h0, HostArray<int32_t> lengths,
              py::object activation, py::object recurrent_activation,
              bool reset_after, bool reverse, int repeats) {
  double seconds = 0;
  py::tuple out = native::Gru<S>(x, kernel, bias, h0, lengths, activation,
                                 recurrent_activation, reset_after, reverse,
                                 DevicePasses{repeats, &seconds});
  return py::make_tuple(out[0], out[1], out[2], seconds);
}

template <typename S>
py::tuple GruGrad(HostArray<S> d_outputs, HostArray<S> dh,
                  HostArray<S> kernel, HostArray<S> h0,
                  HostArray<int32_t> lengths, HostArray<S> outputs,
                  HostArray<S> gates, HostArray<S> reset,
                  py::object activation, py::object recurrent_activation,
                  bool reset_after, bool reverse, int repeats) {
  double seconds = 0;
  py::tuple out = native::GruGrad<S>(
      d_outputs, dh, kernel, h0, lengths, outputs, gates, reset, activation,
      recurrent_activation, reset_after, reverse,
      DevicePasses{repeats, &seconds});
  return py::make_tuple(out[0], out[1], out[2], out[3], seconds);
}

template <typename S>
void DefineRecurrent(py::module_& m) {
  m.def("lstm", &Lstm<S>, py::arg("x"), py::arg("kernel"), py::arg("h0"),
        py::arg("c0"), py::arg("lengths"), py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reverse") = false, py::arg("repeats") = 0,
        "TfApprox>Lstm's kernels: (outputs, gates, cells, seconds per "
        "call over `repeats` calls, or 0).");
  m.def("lstm_grad", &LstmGrad<S>, py::arg("d_outputs"), py::arg("dh"),
        py::arg("dc"), py::arg("kernel"), py::arg("h0"), py::arg("c0"),
        py::arg("lengths"), py::arg("outputs"), py::arg("gates"),
        py::arg("cells"), py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reverse") = false, py::arg("repeats") = 0,
        "TfApprox>LstmGrad's kernels: (dx, d_kernel, dh0, dc0, seconds).");
  m.def("gru", &Gru<S>, py::arg("x"), py::arg("kernel"), py::arg("bias"),
        py::arg("h0"), py::arg("lengths"), py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reset_after") = true, py::arg("reverse") = false,
        py::arg("repeats") = 0,
        "TfApprox>Gru's kernels: (outputs, gates, reset, seconds).");
  m.def("gru_grad", &GruGrad<S>, py::arg("d_outputs"), py::arg("dh"),
        py::arg("kernel"), py::arg("h0"), py::arg("lengths"),
        py::arg("outputs"), py::arg("gates"), py::arg("reset"),
        py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reset_after") = true, py::arg("reverse") = false,
        py::arg("repeats") = 0,
        "TfApprox>GruGrad's kernels: (dx, d_kernel, d_bias, dh0, seconds).");
}

}  // namespace
}  // namespace tf_approx

PYBIND11_MODULE(_gpu_harness, m) {
  namespace py = pybind11;
  using tf_approx::Array;
  using tf_approx::DeviceArray;
  m.doc() = "tf_approx's GPU launchers on numpy data, without TensorFlow.";
  py::class_<DeviceArray, Array>(m, "DeviceArray")
      .def_property_readonly("size", &DeviceArray::size)
      .def_property_readonly("nbytes", &DeviceArray::bytes)
      .def("download", &DeviceArray::Download,
           "The data, copied to a new numpy array.")
      .def("empty_like", &DeviceArray::EmptyLike,
           "An uninitialised device array of the same dtype and shape.");
  m.def("upload", &DeviceArray::Upload, py::arg("array"),
        py::arg("bfloat16") = false, "Copies a numpy array to the device.");
  m.def(
      "device_name",
      [] {
        int device = 0;
        tf_approx::Check(cudaGetDevice(&device), "cudaGetDevice");
        cudaDeviceProp prop;
        tf_approx::Check(cudaGetDeviceProperties(&prop, device),
                         "cudaGetDeviceProperties");
        return std::string(prop.name) + " (compute capability " +
               std::to_string(prop.major) + "." + std::to_string(prop.minor) +
               ")";
      },
      "The current device's name and compute capability.");
  m.def(
      "device_count",
      [] {
        int count = 0;
        return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
      },
      "How many GPUs the CUDA runtime sees (0 where it sees none).");
  m.def(
      "synchronize",
      [] { tf_approx::Check(cudaDeviceSynchronize(), "the launched kernels"); },
      "Waits for the device; raises RuntimeError if a kernel failed.");
  m.def(
      "copy",
      [](Array dst, Array src) -> tf_approx::Launch {
        tf_approx::Require(dst->bytes() == src->bytes(),
                           "copy needs arrays of equal size");
        return [=] {
          tf_approx::Check(cudaMemcpyAsync(dst->raw(), src->raw(), src->bytes(),
                                           cudaMemcpyDeviceToDevice),
                           "cudaMemcpyAsync");
        };
      },
      py::arg("dst"), py::arg("src"),
      "A Launch of a device-to-device copy: the memory-bound baseline.");
  m.def("time", &tf_approx::Time, py::arg("launch"), py::arg("repeats") = 20,
        py::arg("warmup") = 3,
        "Seconds per call of `launch` on the GPU (CUDA events around "
        "`repeats` calls made from C++).");
  m.def("activation", &tf_approx::Activation, py::arg("x"), py::arg("y"),
        py::arg("spec"),
        "A Launch of TfApprox>Activation's kernel (`spec`: a _native.Spec).");
  m.def("activation_grad", &tf_approx::ActivationGrad, py::arg("x"),
        py::arg("dy"), py::arg("dx"), py::arg("spec"),
        "A Launch of TfApprox>ActivationGrad's kernel.");
  m.def("gaaf", &tf_approx::Gaaf, py::arg("x"), py::arg("y"),
        py::arg("base") = "tanh", py::arg("shape") = "exp",
        py::arg("k") = 10000.0, py::arg("center") = 0.0,
        py::arg("width") = 1.0, "A Launch of TfApprox>Gaaf's kernel.");
  m.def("gaaf_grad", &tf_approx::GaafGrad, py::arg("x"), py::arg("dy"),
        py::arg("dx"), py::arg("base") = "tanh", py::arg("shape") = "exp",
        py::arg("k") = 10000.0, py::arg("center") = 0.0,
        py::arg("width") = 1.0, "A Launch of TfApprox>GaafGrad's kernel.");
  m.def("noisy_activation", &tf_approx::Noisy, py::arg("x"), py::arg("y"),
        py::arg("p"), py::arg("scale"), py::arg("seed"),
        py::arg("base") = "tanh", py::arg("where") = "output",
        py::arg("noise") = "normal", py::arg("alpha") = 1.0,
        py::arg("training") = false,
        "A Launch of TfApprox>NoisyActivation's kernel.");
  m.def("noisy_activation_grad", &tf_approx::NoisyGrad, py::arg("x"),
        py::arg("dy"), py::arg("dx"), py::arg("p"), py::arg("dp"),
        py::arg("scale"), py::arg("seed"), py::arg("base") = "tanh",
        py::arg("where") = "output", py::arg("noise") = "normal",
        py::arg("alpha") = 1.0, py::arg("training") = false,
        "A Launch of TfApprox>NoisyActivationGrad's kernels (three stages).");
  m.def("pau", &tf_approx::Pau, py::arg("x"), py::arg("y"),
        py::arg("numerator"), py::arg("denominator"),
        py::arg("denominator_kind") = "safe", py::arg("randomized") = 0.0,
        py::arg("seed") = std::vector<int64_t>{0, 0},
        "A Launch of TfApprox>Pau's kernel.");
  m.def("pau_grad", &tf_approx::PauGrad, py::arg("x"), py::arg("dy"),
        py::arg("dx"), py::arg("numerator"), py::arg("denominator"),
        py::arg("denominator_kind") = "safe",
        py::arg("seed") = std::vector<int64_t>{0, 0},
        py::arg("randomized") = 0.0,
        "A Launch of TfApprox>PauGrad's kernels (dx kept, the coefficient "
        "gradients discarded).");
  m.def("fastfood", &tf_approx::Fastfood, py::arg("x"), py::arg("y"),
        py::arg("s"), py::arg("g"), py::arg("b"), py::arg("permutation"),
        py::arg("units"), py::arg("normalize") = false,
        py::arg("max_log2") = -1,
        "A Launch of TfApprox>Fastfood's kernels: fused for d up to "
        "2^max_log2 (< 0: the device's limit), staged beyond.");
  m.def("fastfood_grad", &tf_approx::FastfoodGrad, py::arg("x"), py::arg("dy"),
        py::arg("dx"), py::arg("s"), py::arg("g"), py::arg("b"),
        py::arg("permutation"), py::arg("grads"), py::arg("units"),
        py::arg("normalize") = false, py::arg("max_log2") = -1,
        "A Launch of TfApprox>FastfoodGrad's kernels; grads [3, blocks, d].");
  m.def("acdc", &tf_approx::Acdc, py::arg("x"), py::arg("y"), py::arg("a"),
        py::arg("d"), py::arg("bias"), "A Launch of TfApprox>Acdc's kernel.");
  m.def("acdc_grad", &tf_approx::AcdcGrad, py::arg("x"), py::arg("dy"),
        py::arg("dx"), py::arg("a"), py::arg("d"), py::arg("grads"),
        "A Launch of TfApprox>AcdcGrad's kernels; grads [3, n].");
  m.def("dct", &tf_approx::Dct, py::arg("x"), py::arg("y"),
        py::arg("inverse") = false, "A Launch of TfApprox>Dct's kernel.");
  m.def("fast_walsh_hadamard", &tf_approx::FastWalshHadamard, py::arg("x"),
        py::arg("y"), py::arg("normalize") = false,
        py::arg("max_block_log2") = -1,
        "A Launch of TfApprox>FastWalshHadamard's kernels (y may be x).");
  tf_approx::DefineRecurrent<float>(m);
  tf_approx::DefineRecurrent<double>(m);
  m.def("block_shuffle", &tf_approx::BlockShuffle, py::arg("x"), py::arg("y"),
        py::arg("kind"), py::arg("arg"), py::arg("threads") = 32,
        "A Launch of the shuffle block program (_native.gpu_model's "
        "block_shuffle).");
  m.def("block_fwht", &tf_approx::BlockFwht, py::arg("x"), py::arg("y"),
        "A Launch of the block Walsh-Hadamard program on x [rows, n].");
  m.def("block_sum", &tf_approx::BlockSum, py::arg("x"), py::arg("sums"),
        py::arg("threads") = 256,
        "A Launch of the block sum program (one sum per block).");
}
