// `_native.gpu_model`: the GPU kernels' per-thread logic (cc/<family>/
// <family>_gpu.h), run on the CPU over every thread of a launch of the given
// shape. Tests compare it with the CPU kernels, so that the GPU kernels'
// indexing, tails, conversions and reduction order are checked on machines
// without a GPU; tools/gpu_check.py then compares the GPU with the CPU.
//
// Arrays are float32, float64, float16 or, with bfloat16=True, uint16 bit
// patterns of bfloat16 values (numpy has no bfloat16).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cc/acdc/acdc.h"
#include "cc/acdc/acdc_gpu.h"
#include "cc/activations/activations_gpu.h"
#include "cc/common/device.h"
#include "cc/common/gpu_model.h"
#include "cc/fastfood/fastfood.h"
#include "cc/fastfood/fastfood_gpu.h"
#include "cc/gaaf/gaaf_gpu.h"
#include "cc/native/activation_spec.h"
#include "cc/native/block_programs.h"
#include "cc/native/gpu_model.h"
#include "cc/native/problems.h"
#include "cc/native/recurrent_bindings.h"
#include "cc/noisy/noisy_gpu.h"
#include "cc/pau/pau.h"
#include "cc/pau/pau_gpu.h"
#include "cc/recurrent/recurrent_gpu.h"

namespace tf_approx {
namespace {

namespace py = pybind11;

using native::GaafProblem;
using native::Require;

// Calls fn(T{}) with T the element type of `x` (see the module docstring).
template <typename Fn>
py::array DispatchType(const py::array& x, bool bfloat16, Fn&& fn) {
  return native::DispatchType(x.dtype().kind(), x.dtype().itemsize(), bfloat16,
                              fn);
}

std::vector<int64_t> ShapeOf(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

template <typename T>
const T* DataOf(const py::array& a) {
  return reinterpret_cast<const T*>(a.data());
}

template <typename T>
T* MutableDataOf(py::array& a) {
  return reinterpret_cast<T*>(a.mutable_data());
}

py::array Contiguous(const py::array& a) {
  return py::array::ensure(a, py::array::c_style);
}

py::array EmptyLike(const py::array& a) {
  return py::array(a.dtype(), std::vector<py::ssize_t>(
                                  a.shape(), a.shape() + a.ndim()));
}

void CheckGrid(int64_t blocks, int64_t threads) {
  Require(blocks >= 1 && threads >= 1, "blocks and threads must be >= 1");
}

py::array Gaaf(py::array x, bool bfloat16, const std::string& base,
               const std::string& shape, double k, double center, double width,
               int64_t blocks, int64_t threads) {
  CheckGrid(blocks, threads);
  x = Contiguous(x);
  return DispatchType(x, bfloat16, [&](auto type) {
    using T = decltype(type);
    const auto p = GaafProblem<ComputeType<T>>(base, shape, k, center, width);
    py::array y = EmptyLike(x);
    const T* in = DataOf<T>(x);
    T* out = MutableDataOf<T>(y);
    RunGrid(blocks, threads, [&](const Thread& t) {
      gaaf::ForwardThread(t, p, in, out, x.size());
    });
    return y;
  });
}

py::array GaafGrad(py::array dy, py::array x, bool bfloat16,
                   const std::string& base, const std::string& shape, double k,
                   double center, double width, int64_t blocks,
                   int64_t threads) {
  CheckGrid(blocks, threads);
  x = Contiguous(x);
  dy = Contiguous(dy);
  Require(dy.size() == x.size() && dy.dtype().is(x.dtype()),
          "gaaf gradient: `dy` must match `x`");
  return DispatchType(x, bfloat16, [&](auto type) {
    using T = decltype(type);
    const auto p = GaafProblem<ComputeType<T>>(base, shape, k, center, width);
    py::array dx = EmptyLike(x);
    const T* x_in = DataOf<T>(x);
    const T* dy_in = DataOf<T>(dy);
    T* out = MutableDataOf<T>(dx);
    RunGrid(blocks, threads, [&](const Thread& t) {
      gaaf::BackwardThread(t, p, x_in, dy_in, out, x.size());
    });
    return dx;
  });
}

// Noisy activations. p is a scalar (shape []) or one value per channel of
// x's last axis; scale is converted to x's type first, as the op takes it;
// seed is [seed, step] or [seed, step, first].
template <typename T>
struct NoisyModel {
  noisy::GpuProblem<ComputeType<T>> prob;
  T scale;
  std::vector<int64_t> seed;
  py::array p;

  noisy::GpuInputs<T> Inputs() const {
    noisy::GpuInputs<T> in;
    in.p = DataOf<T>(p);
    in.scale = &scale;
    in.seed = seed.data();
    return in;
  }
};

template <typename T>
NoisyModel<T> MakeNoisyModel(const py::array& x, py::array p, double scale,
                             const std::vector<int64_t>& seed,
                             const std::string& base, const std::string& where,
                             const std::string& noise, double alpha,
                             bool training) {
  using C = ComputeType<T>;
  NoisyModel<T> m;
  m.prob = native::NoisyProblem<C>(
      base, where, noise, alpha, training, x.size(),
      p.ndim() == 1 ? p.shape(0) : 1, static_cast<int64_t>(seed.size()));
  p = Contiguous(p);
  Require(p.dtype().is(x.dtype()), "noisy_activation: `p` must match `x`");
  Require(p.ndim() <= 1, "noisy_activation: `p` must have rank <= 1");
  if (p.ndim() == 1) {
    Require(x.ndim() >= 1 && x.shape(x.ndim() - 1) == p.shape(0),
            "noisy_activation: per-channel `p` needs one value per channel");
  }
  Store(&m.scale, static_cast<C>(scale));
  m.seed = seed;
  m.p = p;
  return m;
}

py::array NoisyActivation(py::array x, py::array p, double scale,
                          const std::vector<int64_t>& seed,
                          const std::string& base, const std::string& where,
                          const std::string& noise, double alpha,
                          bool training, bool bfloat16, int64_t blocks,
                          int64_t threads) {
  CheckGrid(blocks, threads);
  x = Contiguous(x);
  return DispatchType(x, bfloat16, [&](auto type) {
    using T = decltype(type);
    const NoisyModel<T> m = MakeNoisyModel<T>(x, p, scale, seed, base, where,
                                              noise, alpha, training);
    py::array y = EmptyLike(x);
    const T* in = DataOf<T>(x);
    T* out = MutableDataOf<T>(y);
    const noisy::GpuInputs<T> inputs = m.Inputs();
    RunGrid(blocks, threads, [&](const Thread& t) {
      noisy::ForwardThread(t, m.prob, inputs, in, out);
    });
    return y;
  });
}

// (dx, dp), each stage of the gradient a launch of `blocks` x `threads`.
py::tuple NoisyActivationGrad(py::array dy, py::array x, py::array p,
                              double scale, const std::vector<int64_t>& seed,
                              const std::string& base,
                              const std::string& where,
                              const std::string& noise, double alpha,
                              bool training, bool bfloat16, int64_t blocks,
                              int64_t threads) {
  CheckGrid(blocks, threads);
  x = Contiguous(x);
  dy = Contiguous(dy);
  Require(dy.size() == x.size() && dy.dtype().is(x.dtype()),
          "noisy_activation gradient: `dy` must match `x`");
  py::array dx = EmptyLike(x);
  py::array dp;
  DispatchType(x, bfloat16, [&](auto type) {
    using T = decltype(type);
    const NoisyModel<T> m = MakeNoisyModel<T>(x, p, scale, seed, base, where,
                                              noise, alpha, training);
    dp = EmptyLike(m.p);
    const noisy::SumLayout s = noisy::MakeSumLayout(m.prob.size,
                                                    m.prob.channels);
    // Garbage, as allocate_temp's memory: every slot read is written first.
    std::vector<double> partial(s.TempSize(), std::nan(""));
    const noisy::GpuInputs<T> inputs = m.Inputs();
    const T* x_in = DataOf<T>(x);
    const T* dy_in = DataOf<T>(dy);
    T* dx_out = MutableDataOf<T>(dx);
    T* dp_out = MutableDataOf<T>(dp);
    if (m.prob.channels == 0) return dx;
    RunGrid(blocks, threads, [&](const Thread& t) {
      noisy::BackwardThread(t, m.prob, inputs, s, x_in, dy_in, dx_out,
                            partial.data());
    });
    RunGrid(blocks, threads, [&](const Thread& t) {
      noisy::LaneSumThread(t, s, partial.data());
    });
    RunGrid(blocks, threads, [&](const Thread& t) {
      noisy::ChannelSumThread(t, s, m.prob.channels, partial.data(), dp_out);
    });
    return dx;
  });
  return py::make_tuple(dx, dp);
}

// The approximated activations. p.table is the host's word2vec table, as the
// launchers' is the device's copy of it.

py::array Activation(py::array x, const ActivationSpec& spec, bool bfloat16,
                     int64_t blocks, int64_t threads) {
  CheckGrid(blocks, threads);
  x = Contiguous(x);
  return DispatchType(x, bfloat16, [&](auto type) {
    using T = decltype(type);
    const auto p = spec.ToParams<ComputeType<T>>();
    py::array y = EmptyLike(x);
    const T* in = DataOf<T>(x);
    T* out = MutableDataOf<T>(y);
    RunGrid(blocks, threads, [&](const Thread& t) {
      activations::ForwardThread(t, p, in, out, x.size());
    });
    return y;
  });
}

py::array ActivationGrad(py::array dy, py::array x, const ActivationSpec& spec,
                         bool bfloat16, int64_t blocks, int64_t threads) {
  CheckGrid(blocks, threads);
  x = Contiguous(x);
  dy = Contiguous(dy);
  Require(dy.size() == x.size() && dy.dtype().is(x.dtype()),
          "activation gradient: `dy` must match `x`");
  return DispatchType(x, bfloat16, [&](auto type) {
    using T = decltype(type);
    const auto p = spec.ToParams<ComputeType<T>>();
    py::array dx = EmptyLike(x);
    const T* x_in = DataOf<T>(x);
    const T* dy_in = DataOf<T>(dy);
    T* out = MutableDataOf<T>(dx);
    RunGrid(blocks, threads, [&](const Thread& t) {
      activations::BackwardThread(t, p, x_in, dy_in, out, x.size());
    });
    return dx;
  });
}

// PAU: the arrays as TfApprox>Pau takes them (seed [seed, step] or
// [seed, step, first]). The problem points into them.
template <typename T>
pau::GpuProblem<T> PauProblem(const py::array& x, const py::array& numerator,
                                 const py::array& denominator,
                                 const std::string& kind, double alpha,
                                 const std::vector<int64_t>& seed) {
  Require(numerator.dtype().is(x.dtype()) && denominator.dtype().is(x.dtype()),
          "pau: the coefficients must have x's dtype");
  pau::GpuProblem<T> p = native::PauProblem<T>(
      ShapeOf(x), ShapeOf(numerator), ShapeOf(denominator),
      static_cast<int64_t>(seed.size()), kind, alpha);
  p.numerator = DataOf<T>(numerator);
  p.denominator_b = DataOf<T>(denominator);
  p.seed = seed.data();
  return p;
}

py::array Pau(py::array x, py::array numerator, py::array denominator,
              const std::string& kind, double alpha,
              const std::vector<int64_t>& seed, bool bfloat16, int64_t blocks,
              int64_t threads) {
  CheckGrid(blocks, threads);
  x = Contiguous(x);
  numerator = Contiguous(numerator);
  denominator = Contiguous(denominator);
  return DispatchType(x, bfloat16, [&](auto type) {
    using T = decltype(type);
    const auto p =
        PauProblem<T>(x, numerator, denominator, kind, alpha, seed);
    py::array y = EmptyLike(x);
    const T* in = DataOf<T>(x);
    T* out = MutableDataOf<T>(y);
    RunGrid(blocks, threads,
            [&](const Thread& t) { pau::ForwardThread(t, p, in, out); });
    return y;
  });
}

// The three launches of the gradient, one after another, each over the
// given grid.
py::tuple PauGrad(py::array dy, py::array x, py::array numerator,
                  py::array denominator, const std::string& kind,
                  const std::vector<int64_t>& seed, double alpha,
                  bool bfloat16, int64_t blocks, int64_t threads) {
  CheckGrid(blocks, threads);
  x = Contiguous(x);
  dy = Contiguous(dy);
  numerator = Contiguous(numerator);
  denominator = Contiguous(denominator);
  Require(dy.size() == x.size() && dy.dtype().is(x.dtype()),
          "pau gradient: `dy` must match `x`");
  py::array dx = EmptyLike(x);
  py::array dnum = EmptyLike(numerator);
  py::array dden = EmptyLike(denominator);
  DispatchType(x, bfloat16, [&](auto type) {
    using T = decltype(type);
    using C = ComputeType<T>;
    const auto p =
        PauProblem<T>(x, numerator, denominator, kind, alpha, seed);
    std::vector<C> partial(p.Chunks() * p.NumCoefficients() * p.Lanes());
    std::vector<double> total(p.NumCoefficients() * p.Lanes());
    const T* x_in = DataOf<T>(x);
    const T* dy_in = DataOf<T>(dy);
    T* dx_out = MutableDataOf<T>(dx);
    RunGrid(blocks, threads, [&](const Thread& t) {
      pau::BackwardThread(t, p, x_in, dy_in, dx_out, partial.data());
    });
    RunGrid(blocks, threads, [&](const Thread& t) {
      pau::SumChunksThread(t, p, partial.data(), total.data());
    });
    RunGrid(blocks, threads, [&](const Thread& t) {
      pau::FinishThread(t, p, total.data(), MutableDataOf<T>(dnum),
                        MutableDataOf<T>(dden));
    });
    return dx;
  });
  return py::make_tuple(dx, dnum, dden);
}

// The fused LSTM and GRU (recurrent_bindings.h): every phase a launch of
// `blocks` x `threads`, one after another. The scratch starts as NaN, as
// allocate_temp's memory is garbage: whatever is read before it is written
// shows.
namespace rec = ::tf_approx::recurrent;

struct GpuPhases {
  int64_t blocks = 1;
  int64_t threads = 256;

  template <typename Fn>
  void Launches(int64_t phases, Fn&& fn) const {
    for (int64_t phase = 0; phase < phases; ++phase) {
      RunGrid(blocks, threads, [&](const Thread& t) { fn(t, phase); });
    }
  }

  template <typename S>
  S Fill() const {
    return std::numeric_limits<S>::quiet_NaN();
  }
  template <typename P>
  int64_t LstmScratch(const P& p) const {
    return rec::GpuLstmScratch(p);
  }
  template <typename P>
  int64_t GruScratch(const P& p) const {
    return rec::GpuGruScratch(p);
  }

  template <typename S>
  void LstmForward(const rec::LstmProblem<S>& p,
                   const rec::LstmData<S>& d) const {
    Launches(p.time, [&](const Thread& t, int64_t step) {
      rec::LstmForwardThread(t, p, d, step);
    });
  }

  template <typename S>
  void LstmBackward(const rec::LstmProblem<S>& p,
                    const rec::LstmData<S>& d) const {
    Launches(rec::LstmBackwardPhases(p), [&](const Thread& t, int64_t phase) {
      rec::LstmBackwardPhaseThread(t, p, d, phase);
    });
  }

  template <typename S>
  void GruForward(const rec::GruProblem<S>& p,
                  const rec::GruData<S>& d) const {
    Launches(rec::GruForwardPhases(p), [&](const Thread& t, int64_t phase) {
      rec::GruForwardPhaseThread(t, p, d, phase);
    });
  }

  template <typename S>
  void GruBackward(const rec::GruProblem<S>& p,
                   const rec::GruData<S>& d) const {
    Launches(rec::GruBackwardPhases(p), [&](const Thread& t, int64_t phase) {
      rec::GruBackwardPhaseThread(t, p, d, phase);
    });
  }
};

template <typename S>
using Array = py::array_t<S, py::array::c_style | py::array::forcecast>;

template <typename S>
py::tuple Lstm(Array<S> x, Array<S> kernel, Array<S> h0, Array<S> c0,
               Array<int32_t> lengths, py::object activation,
               py::object recurrent_activation, bool reverse, int64_t blocks,
               int64_t threads) {
  CheckGrid(blocks, threads);
  return native::Lstm<S>(x, kernel, h0, c0, lengths, activation,
                         recurrent_activation, reverse,
                         GpuPhases{blocks, threads});
}

template <typename S>
py::tuple LstmGrad(Array<S> d_outputs, Array<S> dh, Array<S> dc,
                   Array<S> kernel, Array<S> h0, Array<S> c0,
                   Array<int32_t> lengths, Array<S> outputs, Array<S> gates,
                   Array<S> cells, py::object activation,
                   py::object recurrent_activation, bool reverse,
                   int64_t blocks, int64_t threads) {
  CheckGrid(blocks, threads);
  return native::LstmGrad<S>(d_outputs, dh, dc, kernel, h0, c0, lengths,
                             outputs, gates, cells, activation,
                             recurrent_activation, reverse,
                             GpuPhases{blocks, threads});
}

template <typename S>
py::tuple Gru(Array<S> x, Array<S> kernel, Array<S> bias, Array<S> h0,
              Array<int32_t> lengths, py::object activation,
              py::object recurrent_activation, bool reset_after, bool reverse,
              int64_t blocks, int64_t threads) {
  CheckGrid(blocks, threads);
  return native::Gru<S>(x, kernel, bias, h0, lengths, activation,
                        recurrent_activation, reset_after, reverse,
                        GpuPhases{blocks, threads});
}

template <typename S>
py::tuple GruGrad(Array<S> d_outputs, Array<S> dh, Array<S> kernel,
                  Array<S> h0, Array<int32_t> lengths, Array<S> outputs,
                  Array<S> gates, Array<S> reset, py::object activation,
                  py::object recurrent_activation, bool reset_after,
                  bool reverse, int64_t blocks, int64_t threads) {
  CheckGrid(blocks, threads);
  return native::GruGrad<S>(d_outputs, dh, kernel, h0, lengths, outputs,
                            gates, reset, activation, recurrent_activation,
                            reset_after, reverse, GpuPhases{blocks, threads});
}

// Binds the recurrent functions for S.
template <typename S>
void DefineRecurrent(py::module_& m) {
  m.def("lstm", &Lstm<S>, py::arg("x"), py::arg("kernel"), py::arg("h0"),
        py::arg("c0"), py::arg("lengths"), py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reverse") = false, py::arg("blocks") = 1,
        py::arg("threads") = 256,
        "TfApprox>Lstm's GPU kernels, a launch per step: (outputs, gates, "
        "cells).");
  m.def("lstm_grad", &LstmGrad<S>, py::arg("d_outputs"), py::arg("dh"),
        py::arg("dc"), py::arg("kernel"), py::arg("h0"), py::arg("c0"),
        py::arg("lengths"), py::arg("outputs"), py::arg("gates"),
        py::arg("cells"), py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reverse") = false, py::arg("blocks") = 1,
        py::arg("threads") = 256,
        "TfApprox>LstmGrad's GPU kernels, a launch per phase: (dx, "
        "d_kernel, dh0, dc0).");
  m.def("gru", &Gru<S>, py::arg("x"), py::arg("kernel"), py::arg("bias"),
        py::arg("h0"), py::arg("lengths"), py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reset_after") = true, py::arg("reverse") = false,
        py::arg("blocks") = 1, py::arg("threads") = 256,
        "TfApprox>Gru's GPU kernels, a launch per phase: (outputs, gates, "
        "reset).");
  m.def("gru_grad", &GruGrad<S>, py::arg("d_outputs"), py::arg("dh"),
        py::arg("kernel"), py::arg("h0"), py::arg("lengths"),
        py::arg("outputs"), py::arg("gates"), py::arg("reset"),
        py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid",
        py::arg("reset_after") = true, py::arg("reverse") = false,
        py::arg("blocks") = 1, py::arg("threads") = 256,
        "TfApprox>GruGrad's GPU kernels, a launch per phase: (dx, d_kernel, "
        "d_bias, dh0).");
}

// The fast Walsh-Hadamard transform's passes (fastfood_gpu.h) over `rows`
// rows of 2^k, as LaunchFwht runs them: the block pass (runs of up to
// 2^max_block_log2) on at most `max_blocks` blocks (0: one per group of
// rows), the strided passes on `strided_blocks` x `strided_threads`. out may
// equal in.
struct FwhtGrid {
  int max_block_log2 = fastfood::kMaxBlockLog2;
  int64_t max_blocks = 0;
  int64_t strided_blocks = 1;
  int64_t strided_threads = 256;
};

template <typename C>
void RunFwht(const FwhtGrid& grid, const C* in, C* out, int64_t rows, int k,
             C scale) {
  fastfood::FwhtPlan plan;
  plan.k = k;
  plan.max_block_log2 = grid.max_block_log2;
  fastfood::RunFwhtPlan(
      plan, rows, scale,
      [&](const fastfood::BlockShape<C>& shape, int64_t runs,
          C block_scale) -> const char* {
        const int64_t groups =
            (runs + shape.RowsPerBlock() - 1) / shape.RowsPerBlock();
        const int64_t blocks =
            grid.max_blocks > 0 ? std::min(groups, grid.max_blocks) : groups;
        fastfood::VisitLog2<fastfood::kMaxElementsLog2>(shape.e, [&](auto e) {
          constexpr int kE = decltype(e)::value;
          RunBlocks<fastfood::BlockRegisters<C, kE>>(
              blocks, shape.Threads(), shape.SharedBytes(), [&](auto& b) {
                fastfood::FwhtBlock<kE>(b, shape, runs, block_scale, in, out);
              });
        });
        return nullptr;
      },
      [&](int64_t n, int first, int stages, C pass_scale) -> const char* {
        fastfood::VisitLog2<fastfood::kMaxStridedLog2>(stages, [&](auto c) {
          constexpr int kC = decltype(c)::value;
          if constexpr (kC > 0) {
            RunGrid(grid.strided_blocks, grid.strided_threads,
                    [&](const Thread& t) {
                      fastfood::FwhtStridedThread<kC>(t, n, first, pass_scale,
                                                      out);
                    });
          }
        });
        return nullptr;
      });
}

// The transform along x's last axis, as the GPU functor runs it: float32
// and float64 straight from x to y, the half types through float32.
py::array Fwht(py::array x, bool bfloat16, bool normalize, int max_block_log2,
               int64_t max_blocks, int64_t strided_blocks,
               int64_t strided_threads) {
  CheckGrid(strided_blocks, strided_threads);
  Require(max_blocks >= 0, "max_blocks must be >= 0");
  Require(max_block_log2 >= 0 && max_block_log2 <= fastfood::kMaxBlockLog2,
          "max_block_log2 must be in [0, 15]");
  Require(x.ndim() >= 1, "x must have rank >= 1");
  const int64_t d = x.shape(x.ndim() - 1);
  Require(d > 0 && (d & (d - 1)) == 0,
          "the last axis of x must be a power of two");
  x = Contiguous(x);
  const FwhtGrid grid{max_block_log2, max_blocks, strided_blocks,
                      strided_threads};
  return DispatchType(x, bfloat16, [&](auto type) {
    using T = decltype(type);
    using C = ComputeType<T>;
    py::array y = EmptyLike(x);
    const int64_t size = x.size();
    if (size == 0) return y;
    std::vector<C> work;
    const C* in;
    C* out;
    if constexpr (std::is_same<T, C>::value) {
      in = DataOf<C>(x);
      out = MutableDataOf<C>(y);
    } else {
      work.resize(size);
      for (int64_t i = 0; i < size; ++i) work[i] = Load(DataOf<T>(x) + i);
      in = out = work.data();
    }
    const C scale = normalize ? static_cast<C>(1.0 / std::sqrt(double(d)))
                              : C(1);
    RunFwht(grid, in, out, size / d, fastfood::Log2(d), scale);
    if constexpr (!std::is_same<T, C>::value) {
      T* result = MutableDataOf<T>(y);
      for (int64_t i = 0; i < size; ++i) Store(result + i, work[i]);
    }
    return y;
  });
}

// Adaptive Fastfood's GPU kernels (fastfood_gpu.h), float32 and float64, as
// LaunchFastfood and LaunchFastfoodGrad run them: for d up to 2^max_log2,
// one fused block pass over the units (batch row, block), on at most
// `max_blocks` blocks (0: one per group), the gradient's chunks likewise;
// beyond it the staged path, its steps and transforms' strided passes on
// `blocks` x `threads`, its transforms' block passes of at most 2^max_log2,
// its buffers of at most `staged_elements` (slabs of that many rows' units,
// at least one row). The gradient's sums then run on `blocks` x `threads`.
template <typename S>
using FastfoodArray = py::array_t<S, py::array::c_style | py::array::forcecast>;
using FastfoodPerm =
    py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

struct FastfoodGrid {
  int max_log2 = fastfood::kMaxBlockLog2;
  int64_t max_blocks = 0;
  int64_t blocks = 1;
  int64_t threads = 256;
  int64_t staged_elements = fastfood::kStagedElements;  // a buffer's limit

  void Check() const {
    CheckGrid(blocks, threads);
    Require(staged_elements >= 1, "staged_elements must be >= 1");
    Require(max_blocks >= 0, "max_blocks must be >= 0");
    Require(max_log2 >= 0 && max_log2 <= fastfood::kMaxBlockLog2,
            "max_log2 must be in [0, 15]");
  }
};

template <typename S>
fastfood::Problem<S> FastfoodModelProblem(
    const FastfoodArray<S>& x, const FastfoodArray<S>& s,
    const FastfoodArray<S>& g, const FastfoodArray<S>& b,
    const FastfoodPerm& perm, int64_t units, bool normalize) {
  auto p = native::FastfoodProblem<S>(ShapeOf(x), ShapeOf(s), g.size(),
                                      b.size(), perm.size(), perm.data(),
                                      units, normalize);
  p.s = s.data();
  p.g = g.data();
  p.b = b.data();
  return p;
}

// Runs program(b) over `groups` groups on the CPU model, as the launchers'
// LaunchRows does (kE the shape's).
template <typename S, typename Program>
void RunFastfoodRows(const fastfood::BlockShape<S>& shape, int64_t groups,
                     int64_t max_blocks, Program&& program) {
  if (groups == 0) return;
  const int64_t blocks =
      max_blocks > 0 ? std::min(groups, max_blocks) : groups;
  fastfood::VisitLog2<fastfood::kMaxElementsLog2>(shape.e, [&](auto e) {
    constexpr int kE = decltype(e)::value;
    RunBlocks<fastfood::FastfoodRegisters<S, kE>>(
        blocks, shape.Threads(), shape.RowsBytes(),
        [&](auto& b) { program(b, e); });
  });
}

// The staged path for slab's problem and rows (RunFastfoodStaged), its
// buffers in `scratch`.
template <typename S>
void RunFastfoodStaged(const FastfoodGrid& grid, fastfood::StagedSlab<S> slab,
                       bool gradient, std::vector<S>* scratch) {
  const int64_t slab_rows = fastfood::StagedSlabRows(
      slab.rows, slab.Params(), grid.staged_elements);
  const int64_t buffer = slab_rows * slab.Params();
  scratch->assign(fastfood::StagedBuffers(gradient) * buffer,
                  std::numeric_limits<S>::quiet_NaN());
  for (int i = 0; i < fastfood::StagedBuffers(gradient); ++i)
    slab.h[i] = scratch->data() + i * buffer;
  const FwhtGrid fwht{grid.max_log2, grid.max_blocks, grid.blocks,
                      grid.threads};
  fastfood::RunFastfoodStaged(
      slab, slab_rows, gradient,
      [&](auto step, const fastfood::StagedSlab<S>& s) -> const char* {
        RunGrid(grid.blocks, grid.threads, [&](const Thread& t) {
          s.template Run<decltype(step)::value>(t);
        });
        return nullptr;
      },
      [&](S* h, int64_t units) -> const char* {
        RunFwht(fwht, h, h, units, fastfood::Log2(slab.p.d), slab.p.scale);
        return nullptr;
      });
}

template <typename S>
FastfoodArray<S> FastfoodModel(FastfoodArray<S> x, FastfoodArray<S> s,
                               FastfoodArray<S> g, FastfoodArray<S> b,
                               FastfoodPerm perm, int64_t units,
                               bool normalize, int max_log2,
                               int64_t max_blocks, int64_t blocks,
                               int64_t threads, int64_t staged_elements) {
  const FastfoodGrid grid{max_log2, max_blocks, blocks, threads,
                          staged_elements};
  grid.Check();
  const auto p = FastfoodModelProblem(x, s, g, b, perm, units, normalize);
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  shape.back() = units;
  FastfoodArray<S> y(shape);
  const int64_t rows = y.size() / units;
  if (rows == 0) return y;
  const S* in = x.data();
  S* out = y.mutable_data();
  if (fastfood::IsStaged(p.d, max_log2)) {
    std::vector<S> scratch;
    RunFastfoodStaged(grid, fastfood::StagedSlab<S>::Forward(p, rows, in, out),
                      false, &scratch);
    return y;
  }
  const fastfood::BlockShape<S> block(fastfood::Log2(p.d));
  const int64_t units_total = rows * p.blocks;
  RunFastfoodRows(block, (units_total + block.RowsPerBlock() - 1) /
                             block.RowsPerBlock(),
                  max_blocks, [&](auto& b, auto e) {
                    fastfood::FastfoodForward<decltype(e)::value>(
                        b, block, p, rows, in, out);
                  });
  return y;
}

template <typename S>
py::tuple FastfoodGradModel(FastfoodArray<S> dy, FastfoodArray<S> x,
                            FastfoodArray<S> s, FastfoodArray<S> g,
                            FastfoodArray<S> b, FastfoodPerm perm,
                            int64_t units, bool normalize, int max_log2,
                            int64_t max_blocks, int64_t blocks,
                            int64_t threads, int64_t staged_elements) {
  const FastfoodGrid grid{max_log2, max_blocks, blocks, threads,
                          staged_elements};
  grid.Check();
  const auto p = FastfoodModelProblem(x, s, g, b, perm, units, normalize);
  const int64_t rows = dy.size() / units;
  Require(dy.size() == rows * units && x.size() == rows * p.n_in,
          "fastfood gradient: `dy` must have `units` columns per row of `x`");
  FastfoodArray<S> dx(ShapeOf(x));
  const int64_t params = p.blocks * p.d;
  const int64_t chunk_rows = fastfood::ChunkRows(rows, params);
  const int64_t chunks = rows == 0 ? 0 : (rows + chunk_rows - 1) / chunk_rows;
  const S* dy_in = dy.data();
  const S* x_in = x.data();
  S* dx_out = dx.mutable_data();
  std::vector<S> partial;
  if (rows > 0 && fastfood::IsStaged(p.d, max_log2)) {
    partial.assign(chunks * 3 * params, S(0));  // the launcher's memset
    std::vector<S> scratch;
    RunFastfoodStaged(grid,
                      fastfood::StagedSlab<S>::Backward(
                          p, rows, dy_in, x_in, dx_out, partial.data()),
                      true, &scratch);
  } else {
    partial.assign(chunks * 3 * params, std::numeric_limits<S>::quiet_NaN());
    const fastfood::BlockShape<S> block(fastfood::Log2(p.d));
    RunFastfoodRows(block, (chunks + block.RowsPerBlock() - 1) /
                               block.RowsPerBlock(),
                    max_blocks, [&](auto& b, auto e) {
                      fastfood::FastfoodBackward<decltype(e)::value>(
                          b, block, p, rows, dy_in, x_in, dx_out,
                          partial.data());
                    });
  }
  FastfoodArray<S> ds(ShapeOf(s)), dg(ShapeOf(s)), db(ShapeOf(s));
  fastfood::FastfoodGrads<S> grads;
  grads.ds = ds.mutable_data();
  grads.dg = dg.mutable_data();
  grads.db = db.mutable_data();
  RunGrid(blocks, threads, [&](const Thread& t) {
    fastfood::FastfoodSumThread(t, chunks, params, partial.data(), grads);
  });
  return py::make_tuple(dx, ds, dg, db);
}

// ACDC's and the DCT's GPU kernels (acdc_gpu.h), float32 and float64: a
// row a block, on at most `max_blocks` blocks (0: one a row), the row's
// memory in shared memory or (global) in a buffer of RowElements a block;
// the gradient's sums then on `blocks` x `threads`.
template <typename S>
using AcdcArray = py::array_t<S, py::array::c_style | py::array::forcecast>;

// Runs program(b, global) over rows of `plan` on the CPU model, global the
// blocks' buffer (nullptr: shared memory).
template <typename S, typename Program>
void RunAcdcRows(const acdc::Plan<S>& plan, int64_t rows, bool gradient,
                 bool global, int64_t max_blocks, Program&& program) {
  Require(max_blocks >= 0, "max_blocks must be >= 0");
  if (rows == 0) return;
  const int64_t blocks = max_blocks > 0 ? std::min(rows, max_blocks) : rows;
  const int64_t elements = acdc::RowElements(plan, gradient);
  std::vector<S> buffer(global ? blocks * elements : 0,
                        std::numeric_limits<S>::quiet_NaN());
  RunBlocks<acdc::NoRegisters>(
      blocks, acdc::BlockThreads(plan),
      global ? 0 : static_cast<size_t>(elements) * sizeof(S),
      [&](auto& b) { program(b, global ? buffer.data() : nullptr); });
}

template <typename S>
acdc::Problem<S> AcdcModelProblem(const acdc::PlanTables<S>& tables,
                                  const AcdcArray<S>& a, const AcdcArray<S>& d,
                                  const S* bias) {
  const int64_t n = tables.plan().n;
  Require(a.size() == n && d.size() == n,
          "acdc: a, d and bias must have the length of the last axis of x");
  acdc::Problem<S> p;
  p.plan = tables.plan();
  p.a = a.data();
  p.d = d.data();
  p.bias = bias;
  return p;
}

template <typename S>
int64_t AcdcLength(const AcdcArray<S>& x) {
  Require(x.ndim() >= 1 && x.shape(x.ndim() - 1) >= 1,
          "acdc: x must have rank >= 1 and a last axis of length >= 1");
  return x.shape(x.ndim() - 1);
}

template <typename S>
AcdcArray<S> AcdcModel(AcdcArray<S> x, AcdcArray<S> a, AcdcArray<S> d,
                       AcdcArray<S> bias, bool global, int64_t max_blocks) {
  const int64_t n = AcdcLength(x);
  Require(bias.size() == n, "acdc: bias must have the length of x's last axis");
  const acdc::PlanTables<S> tables(n);
  const auto p = AcdcModelProblem(tables, a, d, bias.data());
  AcdcArray<S> y(ShapeOf(x));
  const int64_t rows = x.size() / n;
  const S* in = x.data();
  S* out = y.mutable_data();
  RunAcdcRows(p.plan, rows, false, global, max_blocks,
              [&](auto& b, S* buffer) {
                acdc::ForwardBlock(b, p, rows, in, out, buffer);
              });
  return y;
}

template <typename S>
py::tuple AcdcGradModel(AcdcArray<S> dy, AcdcArray<S> x, AcdcArray<S> a,
                        AcdcArray<S> d, bool global, int64_t max_blocks,
                        int64_t blocks, int64_t threads) {
  CheckGrid(blocks, threads);
  const int64_t n = AcdcLength(x);
  Require(dy.size() == x.size(), "acdc gradient: dy must have x's shape");
  const acdc::PlanTables<S> tables(n);
  const auto p = AcdcModelProblem(tables, a, d, static_cast<const S*>(nullptr));
  const int64_t rows = x.size() / n;
  AcdcArray<S> dx(ShapeOf(x));
  std::vector<S> terms_buffer(3 * rows * n,
                              std::numeric_limits<S>::quiet_NaN());
  acdc::Terms<S> terms;
  terms.data = terms_buffer.data();
  terms.rows = rows;
  terms.n = n;
  const S* dy_in = dy.data();
  const S* x_in = x.data();
  S* dx_out = dx.mutable_data();
  RunAcdcRows(p.plan, rows, true, global, max_blocks,
              [&](auto& b, S* buffer) {
                acdc::BackwardBlock(b, p, rows, dy_in, x_in, dx_out, terms,
                                    buffer);
              });
  AcdcArray<S> da(std::vector<py::ssize_t>{n}), dd(std::vector<py::ssize_t>{n}),
      dbias(std::vector<py::ssize_t>{n});
  acdc::AcdcGrads<S> grads;
  grads.da = da.mutable_data();
  grads.dd = dd.mutable_data();
  grads.dbias = dbias.mutable_data();
  const int64_t unit = acdc::RowsPerUnit(n, sizeof(S) == 8);
  RunGrid(blocks, threads, [&](const Thread& t) {
    acdc::SumThread(t, terms, unit, grads);
  });
  return py::make_tuple(dx, da, dd, dbias);
}

template <typename S>
AcdcArray<S> DctModel(AcdcArray<S> x, bool inverse, bool global,
                      int64_t max_blocks) {
  const int64_t n = AcdcLength(x);
  const acdc::PlanTables<S> tables(n);
  const acdc::Plan<S> plan = tables.plan();
  AcdcArray<S> y(ShapeOf(x));
  const int64_t rows = x.size() / n;
  const S* in = x.data();
  S* out = y.mutable_data();
  RunAcdcRows(plan, rows, false, global, max_blocks,
              [&](auto& b, S* buffer) {
                acdc::DctBlock(b, plan, inverse, rows, in, out, buffer);
              });
  return y;
}

// The block programs of block_programs.h, on the CPU model of cooperative
// launches (RunBlocks).

template <typename S>
py::array_t<S> BlockShuffle(py::array_t<S, py::array::c_style> x,
                            const std::string& kind, int arg,
                            int64_t threads) {
  native::CheckBlock(threads);
  Require(x.size() % threads == 0, "x must be whole blocks of `threads`");
  Require(arg >= 0 && arg < kWarpSize, "arg must be in [0, 32)");
  block_programs::ShuffleKind k;
  Require(block_programs::ParseShuffleKind(kind.c_str(), &k),
          "kind must be 'xor', 'down' or 'index'");
  py::array_t<S> y(x.size());
  const S* in = x.data();
  S* out = y.mutable_data();
  RunBlocks<block_programs::Registers<S>>(
      x.size() / threads, threads, 0,
      [&](auto& b) { block_programs::Shuffle(b, k, arg, in, out); });
  return y;
}

template <typename S>
py::array_t<S> BlockFwht(py::array_t<S, py::array::c_style> x) {
  Require(x.ndim() == 2, "x must have rank 2 (rows, n)");
  const int64_t n = x.shape(1);
  native::CheckBlock(n);
  Require((n & (n - 1)) == 0, "n must be a power of two");
  py::array_t<S> y({x.shape(0), n});
  const S* in = x.data();
  S* out = y.mutable_data();
  RunBlocks<block_programs::Registers<S>>(
      x.shape(0), n, n * sizeof(S),
      [&](auto& b) { block_programs::Fwht(b, n, in, out); });
  return y;
}

template <typename S>
py::array_t<S> BlockSum(py::array_t<S, py::array::c_style> x,
                        int64_t threads) {
  native::CheckBlock(threads);
  Require(x.ndim() == 1, "x must have rank 1");
  const int64_t blocks =
      std::max<int64_t>(1, (x.size() + threads - 1) / threads);
  py::array_t<S> sums(blocks);
  const S* in = x.data();
  S* out = sums.mutable_data();
  RunBlocks<block_programs::Registers<S>>(
      blocks, threads, threads / kWarpSize * sizeof(S), [&](auto& b) {
        block_programs::Sum(b, threads, in, x.size(), out);
      });
  return sums;
}

// Load and Store of the half types, for testing them against numpy's and
// ml_dtypes' conversions.
py::array HalfToFloat(py::array bits, bool bfloat16) {
  bits = Contiguous(bits);
  Require(bits.dtype().kind() == 'u' && bits.dtype().itemsize() == 2,
          "bits must be uint16");
  py::array_t<float> out(bits.size());
  const uint16_t* in = DataOf<uint16_t>(bits);
  float* values = out.mutable_data();
  for (py::ssize_t i = 0; i < bits.size(); ++i) {
    values[i] = bfloat16 ? Load(reinterpret_cast<const BFloat16*>(in + i))
                         : Load(reinterpret_cast<const Half*>(in + i));
  }
  return out;
}

py::array FloatToHalf(py::array_t<float, py::array::c_style |
                                             py::array::forcecast> values,
                      bool bfloat16) {
  py::array_t<uint16_t> out(values.size());
  uint16_t* bits = out.mutable_data();
  for (py::ssize_t i = 0; i < values.size(); ++i) {
    if (bfloat16) {
      Store(reinterpret_cast<BFloat16*>(bits + i), values.data()[i]);
    } else {
      Store(reinterpret_cast<Half*>(bits + i), values.data()[i]);
    }
  }
  return out;
}

}  // namespace

void DefineGpuModel(py::module_& parent) {
  py::module_ m = parent.def_submodule(
      "gpu_model",
      "The GPU kernels' per-thread logic, run on the CPU over every thread "
      "of a launch of `blocks` blocks of `threads`.");
  m.def("gaaf", &Gaaf, py::arg("x"), py::arg("bfloat16") = false,
        py::arg("base") = "tanh", py::arg("shape") = "exp",
        py::arg("k") = 10000.0, py::arg("center") = 0.0,
        py::arg("width") = 1.0, py::arg("blocks") = 1,
        py::arg("threads") = 256, "TfApprox>Gaaf's GPU kernel.");
  m.def("gaaf_grad", &GaafGrad, py::arg("dy"), py::arg("x"),
        py::arg("bfloat16") = false, py::arg("base") = "tanh",
        py::arg("shape") = "exp", py::arg("k") = 10000.0,
        py::arg("center") = 0.0, py::arg("width") = 1.0,
        py::arg("blocks") = 1, py::arg("threads") = 256,
        "TfApprox>GaafGrad's GPU kernel.");
  m.def("noisy_activation", &NoisyActivation, py::arg("x"), py::arg("p"),
        py::arg("scale"), py::arg("seed") = std::vector<int64_t>{0, 0},
        py::arg("base") = "tanh", py::arg("where") = "output",
        py::arg("noise") = "normal", py::arg("alpha") = 1.0,
        py::arg("training") = false, py::arg("bfloat16") = false,
        py::arg("blocks") = 1, py::arg("threads") = 256,
        "TfApprox>NoisyActivation's GPU kernel.");
  m.def("noisy_activation_grad", &NoisyActivationGrad, py::arg("dy"),
        py::arg("x"), py::arg("p"), py::arg("scale"),
        py::arg("seed") = std::vector<int64_t>{0, 0},
        py::arg("base") = "tanh", py::arg("where") = "output",
        py::arg("noise") = "normal", py::arg("alpha") = 1.0,
        py::arg("training") = false, py::arg("bfloat16") = false,
        py::arg("blocks") = 1, py::arg("threads") = 256,
        "TfApprox>NoisyActivationGrad's GPU kernels (three stages): "
        "(dx, dp).");
  m.def("pau", &Pau, py::arg("x"), py::arg("numerator"),
        py::arg("denominator"), py::arg("denominator_kind") = "safe",
        py::arg("randomized") = 0.0,
        py::arg("seed") = std::vector<int64_t>{0, 0},
        py::arg("bfloat16") = false, py::arg("blocks") = 1,
        py::arg("threads") = 256, "TfApprox>Pau's GPU kernel.");
  m.def("pau_grad", &PauGrad, py::arg("dy"), py::arg("x"),
        py::arg("numerator"), py::arg("denominator"),
        py::arg("denominator_kind") = "safe",
        py::arg("seed") = std::vector<int64_t>{0, 0},
        py::arg("randomized") = 0.0, py::arg("bfloat16") = false,
        py::arg("blocks") = 1, py::arg("threads") = 256,
        "TfApprox>PauGrad's GPU kernels (the gradient of x, then the two "
        "stages of the coefficient sums and their finish): (dx, dnumerator, "
        "ddenominator).");
  m.def("activation", &Activation, py::arg("x"), py::arg("spec"),
        py::arg("bfloat16") = false, py::arg("blocks") = 1,
        py::arg("threads") = 256,
        "TfApprox>Activation's GPU kernel (`spec`: a _native.Spec).");
  m.def("activation_grad", &ActivationGrad, py::arg("dy"), py::arg("x"),
        py::arg("spec"), py::arg("bfloat16") = false, py::arg("blocks") = 1,
        py::arg("threads") = 256,
        "TfApprox>ActivationGrad's GPU kernel: dx = dy f'(x).");
  m.def("fastfood", &FastfoodModel<float>, py::arg("x"), py::arg("s"),
        py::arg("g"), py::arg("b"), py::arg("permutation"), py::arg("units"),
        py::arg("normalize") = false,
        py::arg("max_log2") = fastfood::kMaxBlockLog2,
        py::arg("max_blocks") = 0, py::arg("blocks") = 1,
        py::arg("threads") = 256,
        py::arg("staged_elements") = fastfood::kStagedElements,
        "TfApprox>Fastfood's GPU kernels: S H G Π H B on chip, a unit (batch "
        "row, block) a group of threads, for d up to 2^max_log2; the staged "
        "path through memory beyond.");
  m.def("fastfood", &FastfoodModel<double>, py::arg("x"), py::arg("s"),
        py::arg("g"), py::arg("b"), py::arg("permutation"), py::arg("units"),
        py::arg("normalize") = false,
        py::arg("max_log2") = fastfood::kMaxBlockLog2,
        py::arg("max_blocks") = 0, py::arg("blocks") = 1,
        py::arg("threads") = 256,
        py::arg("staged_elements") = fastfood::kStagedElements);
  m.def("fastfood_grad", &FastfoodGradModel<float>, py::arg("dy"),
        py::arg("x"), py::arg("s"), py::arg("g"), py::arg("b"),
        py::arg("permutation"), py::arg("units"), py::arg("normalize") = false,
        py::arg("max_log2") = fastfood::kMaxBlockLog2,
        py::arg("max_blocks") = 0, py::arg("blocks") = 1,
        py::arg("threads") = 256,
        py::arg("staged_elements") = fastfood::kStagedElements,
        "TfApprox>FastfoodGrad's GPU kernels: (dx, ds, dg, db), the sums in "
        "the CPU kernel's chunks; fused or staged as `fastfood`.");
  m.def("fastfood_grad", &FastfoodGradModel<double>, py::arg("dy"),
        py::arg("x"), py::arg("s"), py::arg("g"), py::arg("b"),
        py::arg("permutation"), py::arg("units"), py::arg("normalize") = false,
        py::arg("max_log2") = fastfood::kMaxBlockLog2,
        py::arg("max_blocks") = 0, py::arg("blocks") = 1,
        py::arg("threads") = 256,
        py::arg("staged_elements") = fastfood::kStagedElements);
  m.def("acdc", &AcdcModel<float>, py::arg("x"), py::arg("a"), py::arg("d"),
        py::arg("bias"), py::arg("global_memory") = false,
        py::arg("max_blocks") = 0,
        "TfApprox>Acdc's GPU kernel: a row a block, its memory shared (or "
        "global), each FFT and DCT loop a phase of the block's threads.");
  m.def("acdc", &AcdcModel<double>, py::arg("x"), py::arg("a"), py::arg("d"),
        py::arg("bias"), py::arg("global_memory") = false,
        py::arg("max_blocks") = 0);
  m.def("acdc_grad", &AcdcGradModel<float>, py::arg("dy"), py::arg("x"),
        py::arg("a"), py::arg("d"), py::arg("global_memory") = false,
        py::arg("max_blocks") = 0, py::arg("blocks") = 1,
        py::arg("threads") = 256,
        "TfApprox>AcdcGrad's GPU kernels: (dx, da, dd, dbias), the sums in "
        "the CPU kernel's chunks and lanes.");
  m.def("acdc_grad", &AcdcGradModel<double>, py::arg("dy"), py::arg("x"),
        py::arg("a"), py::arg("d"), py::arg("global_memory") = false,
        py::arg("max_blocks") = 0, py::arg("blocks") = 1,
        py::arg("threads") = 256);
  m.def("dct", &DctModel<float>, py::arg("x"), py::arg("inverse") = false,
        py::arg("global_memory") = false, py::arg("max_blocks") = 0,
        "TfApprox>Dct's GPU kernel: the orthonormal DCT-II (inverse: "
        "DCT-III) of each row, a row a block.");
  m.def("dct", &DctModel<double>, py::arg("x"), py::arg("inverse") = false,
        py::arg("global_memory") = false, py::arg("max_blocks") = 0);
  m.def("fast_walsh_hadamard", &Fwht, py::arg("x"),
        py::arg("bfloat16") = false, py::arg("normalize") = false,
        py::arg("max_block_log2") = fastfood::kMaxBlockLog2,
        py::arg("max_blocks") = 0, py::arg("strided_blocks") = 1,
        py::arg("strided_threads") = 256,
        "TfApprox>FastWalshHadamard's GPU kernels: a block pass of rows (or "
        "runs) of up to 2^max_block_log2, then strided passes.");
  DefineRecurrent<float>(m);
  DefineRecurrent<double>(m);
  m.def("block_shuffle", &BlockShuffle<float>, py::arg("x"), py::arg("kind"),
        py::arg("arg"), py::arg("threads") = 32,
        "The cooperative model's shuffles: y[i] = x[the lane a shuffle of "
        "`kind` ('xor', 'down', 'index') with `arg` reads for lane i].");
  m.def("block_shuffle", &BlockShuffle<double>, py::arg("x"), py::arg("kind"),
        py::arg("arg"), py::arg("threads") = 32);
  m.def("block_fwht", &BlockFwht<float>, py::arg("x"),
        "The Walsh-Hadamard transform of each row of x [rows, n] by a block "
        "of n threads: shuffles within warps, shared memory across them.");
  m.def("block_fwht", &BlockFwht<double>, py::arg("x"));
  m.def("block_sum", &BlockSum<float>, py::arg("x"), py::arg("threads") = 256,
        "The sum of each block of `threads` elements of x, by shuffles and "
        "shared memory, in a fixed order.");
  m.def("block_sum", &BlockSum<double>, py::arg("x"), py::arg("threads") = 256);
  m.def("half_to_float", &HalfToFloat, py::arg("bits"),
        py::arg("bfloat16") = false,
        "The GPU kernels' conversion of float16 (bfloat16) bits to float32.");
  m.def("float_to_half", &FloatToHalf, py::arg("values"),
        py::arg("bfloat16") = false,
        "The GPU kernels' conversion of float32 to float16 (bfloat16) bits.");
}

}  // namespace tf_approx
