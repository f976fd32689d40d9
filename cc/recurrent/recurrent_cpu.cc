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

// V's elements at p: a vector, or the scalar of a loop tail.
template <typename V, typename S>
TFA_INLINE V LoadAs(const S* p) {
  if constexpr (std::is_same_v<V, S>) {
    return *p;
  } else {
    return Load(p);
  }
}

template <typename V, typename S>
TFA_INLINE void StoreAs(S* p, V v) {
  if constexpr (std::is_same_v<V, S>) {
    *p = v;
  } else {
    Store(p, v);
  }
}

// body(i, V{}) for i in [0, n): vectors, then a scalar tail.
template <typename S, typename Body>
TFA_INLINE void Elementwise(int64_t n, Body&& body) {
  int64_t i = 0;
  for (; i + kLanes<S> <= n; i += kLanes<S>) body(i, Vec<S>{});
  for (; i < n; ++i) body(i, S{});
}

// y = f(x) for n elements.
template <typename S>
TFA_INLINE void Apply(const FunctionOf<S>& f, const S* x, S* y, int64_t n) {
  if (f.function == Function::kApproximation) {
    activations::Forward(f.approximation, x, y, n);
    return;
  }
  const Function exact = f.function;
  Elementwise<S>(n, [&](int64_t i, auto v) TFA_LAMBDA_INLINE {
    using V = decltype(v);
    StoreAs(y + i, ExactValue(exact, LoadAs<V>(x + i)));
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
  Elementwise<S>(n, [&](int64_t i, auto v) TFA_LAMBDA_INLINE {
    using V = decltype(v);
    StoreAs(dx + i, LoadAs<V>(dy + i) *
                        ExactDerivativeFromValue(exact, LoadAs<V>(y + i)));
  });
}

// The activated gates of every row from z: ra on all four, then a on g.
template <typename S>
TFA_INLINE void ActivateGates(const LstmProblem<S>& p, const S* z, S* act) {
  const int64_t units = p.units, gates = p.Gates();
  Apply(p.recurrent_activation, z, act, p.batch * gates);
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t g = b * gates + 2 * units;
    Apply(p.activation, z + g, act + g, units);
  }
}

template <typename S>
TFA_INLINE void ForwardImpl(const LstmProblem<S>& p, const S* x,
                            const S* kernel, const S* h0, const S* c0,
                            S* outputs, S* h, S* c, S* gates, S* cells,
                            S* scratch) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t state = batch * units;
  S* act = scratch;              // [batch, 4 units]
  S* a_c = act + batch * width;  // [batch, units]
  for (int64_t s = 0; s < p.time; ++s) {
    const int64_t t = p.StepTime(s), prev = p.PreviousTime(t);
    const S* h_prev = prev < 0 ? h0 : outputs + prev * state;
    const S* c_prev = prev < 0 ? c0 : cells + prev * state;
    S* z = gates + t * batch * width;
    S* c_t = cells + t * state;
    S* h_t = outputs + t * state;
    std::memcpy(z, x + t * batch * width, sizeof(S) * batch * width);
    gemm::Multiply(h_prev, units, kernel, width, z, width, batch, units,
                   width, /*accumulate=*/true);
    ActivateGates(p, z, act);
    for (int64_t b = 0; b < batch; ++b) {
      const S* a = act + b * width;
      const S* cp = c_prev + b * units;
      S* cb = c_t + b * units;
      Elementwise<S>(units, [&](int64_t u, auto v) TFA_LAMBDA_INLINE {
        using V = decltype(v);
        StoreAs(cb + u, CellState(LoadAs<V>(a + u), LoadAs<V>(a + units + u),
                                  LoadAs<V>(a + 2 * units + u),
                                  LoadAs<V>(cp + u)));
      });
    }
    Apply(p.activation, c_t, a_c, state);
    for (int64_t b = 0; b < batch; ++b) {
      const S* o = act + b * width + 3 * units;
      const S* ac = a_c + b * units;
      S* hb = h_t + b * units;
      Elementwise<S>(units, [&](int64_t u, auto v) TFA_LAMBDA_INLINE {
        using V = decltype(v);
        StoreAs(hb + u, LoadAs<V>(o + u) * LoadAs<V>(ac + u));
      });
      if (!p.Active(t, b)) {
        std::memcpy(hb, h_prev + b * units, sizeof(S) * units);
        std::memcpy(c_t + b * units, c_prev + b * units, sizeof(S) * units);
      }
    }
  }
  const int64_t last = p.time == 0 ? -1 : p.StepTime(p.time - 1);
  std::memcpy(h, last < 0 ? h0 : outputs + last * state, sizeof(S) * state);
  std::memcpy(c, last < 0 ? c0 : cells + last * state, sizeof(S) * state);
}

template <typename S>
TFA_INLINE void BackwardImpl(const LstmProblem<S>& p, const S* d_outputs,
                             const S* dh_in, const S* dc_in, const S* kernel,
                             const S* h0, const S* c0, const S* outputs,
                             const S* gates, const S* cells, S* dx,
                             S* d_kernel, S* dh0, S* dc0, S* scratch) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t state = batch * units, steps = p.time * batch;
  S* kernel_t = scratch;                // [4 units, units]
  S* act = kernel_t + width * units;    // [batch, 4 units]
  S* gate_grad = act + batch * width;   // [batch, 4 units]
  S* a_c = gate_grad + batch * width;   // [batch, units]
  S* dh = a_c + state;                  // [batch, units]
  S* dc = dh + state;                   // [batch, units]
  S* tmp = dc + state;                  // [batch, units]
  S* dc_t = tmp + state;                // [batch, units]
  S* h_prev_t = dc_t + state;           // [units, time * batch]
  for (int64_t u = 0; u < units; ++u) {
    for (int64_t j = 0; j < width; ++j) {
      kernel_t[j * units + u] = kernel[u * width + j];
    }
  }
  std::memcpy(dh, dh_in, sizeof(S) * state);
  std::memcpy(dc, dc_in, sizeof(S) * state);
  for (int64_t s = p.time - 1; s >= 0; --s) {
    const int64_t t = p.StepTime(s), prev = p.PreviousTime(t);
    const S* h_prev = prev < 0 ? h0 : outputs + prev * state;
    const S* c_prev = prev < 0 ? c0 : cells + prev * state;
    const S* z = gates + t * batch * width;
    const S* c_here = cells + t * state;
    S* dz = dx + t * batch * width;
    const S* dy = d_outputs + t * state;
    Elementwise<S>(state, [&](int64_t i, auto v) TFA_LAMBDA_INLINE {
      using V = decltype(v);
      StoreAs(dh + i, LoadAs<V>(dh + i) + LoadAs<V>(dy + i));
    });
    ActivateGates(p, z, act);
    Apply(p.activation, c_here, a_c, state);
    for (int64_t b = 0; b < batch; ++b) {
      const S* o = act + b * width + 3 * units;
      Elementwise<S>(units, [&](int64_t u, auto v) TFA_LAMBDA_INLINE {
        using V = decltype(v);
        const int64_t i = b * units + u;
        StoreAs(tmp + i, LoadAs<V>(dh + i) * LoadAs<V>(o + u));
      });
    }
    // dc_t = dc + dh o a'(c).
    ApplyGradient(p.activation, c_here, a_c, tmp, dc_t, state);
    for (int64_t b = 0; b < batch; ++b) {
      const S* a = act + b * width;
      S* gg = gate_grad + b * width;
      const bool active = p.Active(t, b);
      Elementwise<S>(units, [&](int64_t u, auto v) TFA_LAMBDA_INLINE {
        using V = decltype(v);
        const int64_t i = b * units + u;
        const V dc_total = LoadAs<V>(dc_t + i) + LoadAs<V>(dc + i);
        V di, df, dg, d_o, dc_prev;
        GateGradients(LoadAs<V>(dh + i), dc_total, LoadAs<V>(a + u),
                      LoadAs<V>(a + units + u), LoadAs<V>(a + 2 * units + u),
                      LoadAs<V>(a_c + i), LoadAs<V>(c_prev + i), &di, &df,
                      &dg, &d_o, &dc_prev);
        StoreAs(gg + u, di);
        StoreAs(gg + units + u, df);
        StoreAs(gg + 2 * units + u, dg);
        StoreAs(gg + 3 * units + u, d_o);
        if (active) StoreAs(dc + i, dc_prev);
      });
    }
    ApplyGradient(p.recurrent_activation, z, act, gate_grad, dz,
                  batch * width);
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t g = b * width + 2 * units;
      ApplyGradient(p.activation, z + g, act + g, gate_grad + g, dz + g,
                    units);
      if (!p.Active(t, b)) std::fill(dz + b * width, dz + (b + 1) * width, S(0));
    }
    // dh_prev = dz W_h^T; masked rows carry dh (and dc, above).
    gemm::Multiply(dz, width, kernel_t, units, tmp, units, batch, width, units,
                   /*accumulate=*/false);
    for (int64_t b = 0; b < batch; ++b) {
      if (p.Active(t, b)) {
        std::memcpy(dh + b * units, tmp + b * units, sizeof(S) * units);
      }
    }
    // Column t * batch + b of h_prev_t: the state this step multiplied.
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t u = 0; u < units; ++u) {
        h_prev_t[u * steps + t * batch + b] = h_prev[b * units + u];
      }
    }
  }
  std::memcpy(dh0, dh, sizeof(S) * state);
  std::memcpy(dc0, dc, sizeof(S) * state);
  // d W_h = sum over steps of h_prev^T dz: one product over all of them.
  gemm::Multiply(h_prev_t, steps, dx, width, d_kernel, width, units, steps,
                 width, /*accumulate=*/false);
}

}  // namespace

#define TFA_ENTRY_POINTS(S)                                                   \
  TFA_CPU_CLONES void LstmForward(const LstmProblem<S>& p, const S* x,        \
                                  const S* kernel, const S* h0, const S* c0,  \
                                  S* outputs, S* h, S* c, S* gates, S* cells, \
                                  S* scratch) {                               \
    ForwardImpl(p, x, kernel, h0, c0, outputs, h, c, gates, cells, scratch);  \
  }                                                                           \
  TFA_CPU_CLONES void LstmBackward(                                           \
      const LstmProblem<S>& p, const S* d_outputs, const S* dh, const S* dc,  \
      const S* kernel, const S* h0, const S* c0, const S* outputs,            \
      const S* gates, const S* cells, S* dx, S* d_kernel, S* dh0, S* dc0,     \
      S* scratch) {                                                           \
    BackwardImpl(p, d_outputs, dh, dc, kernel, h0, c0, outputs, gates, cells, \
                 dx, d_kernel, dh0, dc0, scratch);                            \
  }
TFA_FOR_EACH_CPU_TYPE(TFA_ENTRY_POINTS)
#undef TFA_ENTRY_POINTS

}  // namespace recurrent
}  // namespace tf_approx
