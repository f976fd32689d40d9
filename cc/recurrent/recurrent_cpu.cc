#include "cc/recurrent/recurrent_cpu.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "cc/activations/activations_cpu.h"
#include "cc/common/cpu_vector.h"
#include "cc/common/small_gemm.h"

namespace tf_approx {
namespace recurrent {
namespace {

// Which lanes of a vector at i exist: all, or the first `count` (the tail of
// a row). Tails take the same vector operations as the rest, so an element's
// bits do not depend on where a thread's range of units begins or ends.
struct Whole {};
struct Part {
  int64_t count;
};

template <typename S>
TFA_INLINE Vec<S> LoadLanes(const S* p, Whole) {
  return Load(p);
}

template <typename S>
TFA_INLINE Vec<S> LoadLanes(const S* p, Part part) {
  return gemm::LoadPart(p, part.count);
}

template <typename S>
TFA_INLINE void StoreLanes(S* p, Vec<S> v, Whole) {
  Store(p, v);
}

template <typename S>
TFA_INLINE void StoreLanes(S* p, Vec<S> v, Part part) {
  gemm::StorePart(p, v, part.count);
}

// body(i, lanes) for the vectors at i in [0, n).
template <typename S, typename Body>
TFA_INLINE void Elementwise(int64_t n, Body&& body) {
  int64_t i = 0;
  for (; i + kLanes<S> <= n; i += kLanes<S>) body(i, Whole{});
  if (i < n) body(i, Part{n - i});
}

// y = f(x) for n elements.
template <typename S>
TFA_INLINE void Apply(const FunctionOf<S>& f, const S* x, S* y, int64_t n) {
  if (f.function == Function::kApproximation) {
    activations::Forward(f.approximation, x, y, n);
    return;
  }
  const Function exact = f.function;
  Elementwise<S>(n, [&](int64_t i, auto lanes) TFA_LAMBDA_INLINE {
    using V = Vec<S>;
    StoreLanes(y + i, ExactValue(exact, LoadLanes(x + i, lanes)), lanes);
  });
}

// dx = dy f'(x) for n elements; y = f(x) (what the exact functions' derivatives
// are computed from).
template <typename S>
TFA_INLINE void ApplyGradient(const FunctionOf<S>& f, const S* x, const S* y,
                              const S* dy, S* dx, int64_t n) {
  if (f.function == Function::kApproximation) {
    activations::Backward(f.approximation, x, dy, dx, n);
    return;
  }
  const Function exact = f.function;
  Elementwise<S>(n, [&](int64_t i, auto lanes) TFA_LAMBDA_INLINE {
    using V = Vec<S>;
    StoreLanes(dx + i, LoadLanes(dy + i, lanes) *
                        ExactDerivativeFromValue(exact, LoadLanes(y + i, lanes)), lanes);
  });
}

// d's scratch, cut up.
template <typename S>
struct Scratch {
  S* kernel_t;   // [4 units, units]
  S* act;        // [batch, 4 units]: the activated gates
  S* gate_grad;  // [batch, 4 units]
  S* a_c;        // [batch, units]: a(c)
  S* tmp;        // [batch, units]
  S* dc_t;       // [batch, units]
  S* dh_new;     // [batch, units]
  S* h_prev_t;   // [units, time * batch]: each step's h_prev, transposed

  Scratch(const LstmProblem<S>& p, S* base) {
    const int64_t state = p.batch * p.units, gates = p.batch * p.Gates();
    kernel_t = base;
    act = kernel_t + p.units * p.Gates();
    gate_grad = act + gates;
    a_c = gate_grad + gates;
    tmp = a_c + state;
    dc_t = tmp + state;
    dh_new = dc_t + state;
    h_prev_t = dh_new + state;
  }
};

// The activated gates of row b's units [begin, end) from z: ra on i, f and
// o, a on g.
template <typename S>
TFA_INLINE void ActivateGates(const LstmProblem<S>& p, const S* z, S* act,
                              int64_t begin, int64_t end) {
  const int64_t units = p.units, n = end - begin;
  for (int k = 0; k < 4; ++k) {
    const int64_t col = k * units + begin;
    Apply(k == 2 ? p.activation : p.recurrent_activation, z + col, act + col,
          n);
  }
}

template <typename S>
TFA_INLINE void ForwardStepImpl(const LstmProblem<S>& p,
                                const LstmData<S>& d, int64_t step,
                                int64_t begin, int64_t end) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t state = batch * units, n = end - begin;
  const Scratch<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step), prev = p.PreviousTime(t);
  const S* h_prev = prev < 0 ? d.h0 : d.outputs + prev * state;
  const S* c_prev = prev < 0 ? d.c0 : d.cells + prev * state;
  S* z = d.gates + t * batch * width;
  const S* x = d.x + t * batch * width;
  S* c_t = d.cells + t * state;
  S* h_t = d.outputs + t * state;
  for (int k = 0; k < 4; ++k) {
    const int64_t col = k * units + begin;
    for (int64_t b = 0; b < batch; ++b) {
      std::memcpy(z + b * width + col, x + b * width + col, sizeof(S) * n);
    }
    gemm::Multiply(h_prev, units, d.kernel + col, width, z + col, width,
                   batch, units, n, /*accumulate=*/true);
  }
  for (int64_t b = 0; b < batch; ++b) {
    S* a = w.act + b * width;
    ActivateGates(p, z + b * width, a, begin, end);
    const S* cp = c_prev + b * units;
    S* cb = c_t + b * units;
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      using V = Vec<S>;
      const int64_t u = begin + j;
      StoreLanes(cb + u, CellState(LoadLanes(a + u, lanes), LoadLanes(a + units + u, lanes),
                                LoadLanes(a + 2 * units + u, lanes),
                                LoadLanes(cp + u, lanes)), lanes);
    });
    S* ac = w.a_c + b * units;
    Apply(p.activation, cb + begin, ac + begin, n);
    S* hb = h_t + b * units;
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      using V = Vec<S>;
      const int64_t u = begin + j;
      StoreLanes(hb + u, LoadLanes(a + 3 * units + u, lanes) * LoadLanes(ac + u, lanes), lanes);
    });
    if (!p.Active(t, b)) {
      std::memcpy(hb + begin, h_prev + b * units + begin, sizeof(S) * n);
      std::memcpy(cb + begin, cp + begin, sizeof(S) * n);
    }
  }
}

template <typename S>
TFA_INLINE void BackwardBeginImpl(const LstmProblem<S>& p,
                                  const LstmData<S>& d, int64_t begin,
                                  int64_t end) {
  const int64_t units = p.units, width = p.Gates();
  const Scratch<S> w(p, d.scratch);
  for (int64_t u = begin; u < end; ++u) {
    for (int64_t j = 0; j < width; ++j) {
      w.kernel_t[j * units + u] = d.kernel[u * width + j];
    }
  }
}

template <typename S>
TFA_INLINE void BackwardGatesImpl(const LstmProblem<S>& p,
                                  const LstmData<S>& d, int64_t step,
                                  int64_t begin, int64_t end) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t state = batch * units, n = end - begin;
  const int64_t steps = p.time * batch;
  const Scratch<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step), prev = p.PreviousTime(t);
  const S* h_prev = prev < 0 ? d.h0 : d.outputs + prev * state;
  const S* c_prev = prev < 0 ? d.c0 : d.cells + prev * state;
  const S* z = d.gates + t * batch * width;
  const S* c_here = d.cells + t * state;
  const S* dy = d.d_outputs + t * state;
  S* dz = d.dx + t * batch * width;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t row = b * units;
    S* dh = d.dh + row;
    S* dc = d.dc + row;
    const S* a = w.act + b * width;
    S* ac = w.a_c + row;
    S* tmp = w.tmp + row;
    S* dc_t = w.dc_t + row;
    S* gg = w.gate_grad + b * width;
    const S* cp = c_prev + row;
    ActivateGates(p, z + b * width, w.act + b * width, begin, end);
    Apply(p.activation, c_here + row + begin, ac + begin, n);
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      using V = Vec<S>;
      const int64_t u = begin + j;
      const V dh_total = LoadLanes(dh + u, lanes) + LoadLanes(dy + row + u, lanes);
      StoreLanes(dh + u, dh_total, lanes);
      StoreLanes(tmp + u, dh_total * LoadLanes(a + 3 * units + u, lanes), lanes);
    });
    // dc_t = dh o a'(c), then the gate gradients.
    ApplyGradient(p.activation, c_here + row + begin, ac + begin, tmp + begin,
                  dc_t + begin, n);
    const bool active = p.Active(t, b);
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      using V = Vec<S>;
      const int64_t u = begin + j;
      const V dc_total = LoadLanes(dc_t + u, lanes) + LoadLanes(dc + u, lanes);
      V di, df, dg, d_o, dc_prev;
      GateGradients(LoadLanes(dh + u, lanes), dc_total, LoadLanes(a + u, lanes),
                    LoadLanes(a + units + u, lanes), LoadLanes(a + 2 * units + u, lanes),
                    LoadLanes(ac + u, lanes), LoadLanes(cp + u, lanes), &di, &df, &dg, &d_o,
                    &dc_prev);
      StoreLanes(gg + u, di, lanes);
      StoreLanes(gg + units + u, df, lanes);
      StoreLanes(gg + 2 * units + u, dg, lanes);
      StoreLanes(gg + 3 * units + u, d_o, lanes);
      if (active) StoreLanes(dc + u, dc_prev, lanes);
    });
    S* dzb = dz + b * width;
    for (int k = 0; k < 4; ++k) {
      const int64_t col = k * units + begin;
      if (active) {
        ApplyGradient(k == 2 ? p.activation : p.recurrent_activation,
                      z + b * width + col, a + col, gg + col, dzb + col, n);
      } else {
        std::fill(dzb + col, dzb + col + n, S(0));
      }
    }
  }
  // Column t * batch + b of h_prev_t: the state this step multiplied.
  for (int64_t u = begin; u < end; ++u) {
    for (int64_t b = 0; b < batch; ++b) {
      w.h_prev_t[u * steps + t * batch + b] = h_prev[b * units + u];
    }
  }
}

template <typename S>
TFA_INLINE void BackwardStateImpl(const LstmProblem<S>& p,
                                  const LstmData<S>& d, int64_t step,
                                  int64_t begin, int64_t end) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t n = end - begin;
  const Scratch<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  const S* dz = d.dx + t * batch * width;
  // dh_prev = dz W_h^T; masked rows carry dh.
  gemm::Multiply(dz, width, w.kernel_t + begin, units, w.dh_new + begin,
                 units, batch, width, n, /*accumulate=*/false);
  for (int64_t b = 0; b < batch; ++b) {
    if (p.Active(t, b)) {
      std::memcpy(d.dh + b * units + begin, w.dh_new + b * units + begin,
                  sizeof(S) * n);
    }
  }
}

template <typename S>
TFA_INLINE void KernelGradientImpl(const LstmProblem<S>& p,
                                   const LstmData<S>& d, int64_t begin,
                                   int64_t end) {
  const int64_t width = p.Gates(), steps = p.time * p.batch;
  const Scratch<S> w(p, d.scratch);
  // d W_h = sum over steps of h_prev^T dz: one product over all of them.
  gemm::Multiply(w.h_prev_t + begin * steps, steps, d.dx, width,
                 d.d_kernel + begin * width, width, end - begin, steps, width,
                 /*accumulate=*/false);
}

}  // namespace

#define TFA_ENTRY_POINTS(S)                                                   \
  TFA_CPU_CLONES void LstmForwardStep(const LstmProblem<S>& p,                \
                                      const LstmData<S>& d, int64_t step,     \
                                      int64_t begin, int64_t end) {           \
    ForwardStepImpl(p, d, step, begin, end);                                  \
  }                                                                           \
  TFA_CPU_CLONES void LstmBackwardBegin(const LstmProblem<S>& p,              \
                                        const LstmData<S>& d, int64_t begin,  \
                                        int64_t end) {                        \
    BackwardBeginImpl(p, d, begin, end);                                      \
  }                                                                           \
  TFA_CPU_CLONES void LstmBackwardGates(const LstmProblem<S>& p,              \
                                        const LstmData<S>& d, int64_t step,   \
                                        int64_t begin, int64_t end) {         \
    BackwardGatesImpl(p, d, step, begin, end);                                \
  }                                                                           \
  TFA_CPU_CLONES void LstmBackwardState(const LstmProblem<S>& p,              \
                                        const LstmData<S>& d, int64_t step,   \
                                        int64_t begin, int64_t end) {         \
    BackwardStateImpl(p, d, step, begin, end);                                \
  }                                                                           \
  TFA_CPU_CLONES void LstmKernelGradient(const LstmProblem<S>& p,             \
                                         const LstmData<S>& d, int64_t begin, \
                                         int64_t end) {                       \
    KernelGradientImpl(p, d, begin, end);                                     \
  }
TFA_FOR_EACH_CPU_TYPE(TFA_ENTRY_POINTS)
#undef TFA_ENTRY_POINTS

}  // namespace recurrent
}  // namespace tf_approx
