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

// y = f(x) on `rows` rows of n elements, row r at x + r * ldx and
// y + r * ldy: one call of the approximation's loops for them all.
template <typename S>
TFA_INLINE void Apply(const FunctionOf<S>& f, const S* x, int64_t ldx, S* y,
                      int64_t ldy, int64_t rows, int64_t n) {
  if (f.function == Function::kApproximation) {
    activations::ForwardRows(f.approximation, x, ldx, y, ldy, rows, n);
    return;
  }
  const Function exact = f.function;
  for (int64_t r = 0; r < rows; ++r) {
    const S* xr = x + r * ldx;
    S* yr = y + r * ldy;
    Elementwise<S>(n, [&](int64_t i, auto lanes) TFA_LAMBDA_INLINE {
      StoreLanes(yr + i, ExactValue(exact, LoadLanes(xr + i, lanes)), lanes);
    });
  }
}

// dx = dy f'(x) on rows as Apply's (all four with leading dimension ld);
// y = f(x), what the exact functions' derivatives are computed from.
template <typename S>
TFA_INLINE void ApplyGradient(const FunctionOf<S>& f, const S* x,
                              const S* y, const S* dy, S* dx, int64_t ld,
                              int64_t rows, int64_t n) {
  if (f.function == Function::kApproximation) {
    activations::BackwardRows(f.approximation, x, ld, dy, ld, dx, ld, rows,
                              n);
    return;
  }
  const Function exact = f.function;
  for (int64_t r = 0; r < rows; ++r) {
    const S* yr = y + r * ld;
    const S* dyr = dy + r * ld;
    S* dxr = dx + r * ld;
    Elementwise<S>(n, [&](int64_t i, auto lanes) TFA_LAMBDA_INLINE {
      StoreLanes(dxr + i,
                 LoadLanes(dyr + i, lanes) *
                     ExactDerivativeFromValue(exact, LoadLanes(yr + i, lanes)),
                 lanes);
    });
  }
}

// kernel_t = the transpose of kernel [units, width], rows [begin, end) of
// the kernel.
template <typename S>
TFA_INLINE void TransposeKernel(const S* kernel, S* kernel_t, int64_t units,
                                int64_t width, int64_t begin, int64_t end) {
  for (int64_t u = begin; u < end; ++u) {
    for (int64_t j = 0; j < width; ++j) {
      kernel_t[j * units + u] = kernel[u * width + j];
    }
  }
}

// A [time * batch, units] sequence of states (time index t's rows from
// t * batch) as the left factor of a product over its steps, transposed in
// place: rows [begin, end), the units.
template <typename S>
TFA_INLINE gemm::Left<S> StatesTransposed(const Sequence<S>& p,
                                          const S* states, int64_t begin) {
  return {states + begin, 1, p.units};
}

// C = the sum over time indices t, in increasing order, of h_prev(t)^T G_t
// for units [begin, end) (C's rows): h_prev(t) the state time index t
// multiplied (PreviousState: `initial` or a row block of `states`), G_t the
// batch rows of g from t * batch (n columns, leading dimension ldg).
// Without a copy of the states: `initial` is the first or the last index's,
// `states` a run of the others'.
template <typename S>
TFA_INLINE void PreviousStatesTimes(const Sequence<S>& p, const S* initial,
                                    const S* states, const S* g, int64_t ldg,
                                    int64_t n, S* c, int64_t ldc,
                                    int64_t begin, int64_t end) {
  const int64_t m = end - begin, batch = p.batch;
  const gemm::Left<S> first = StatesTransposed(p, initial, begin);
  if (p.time == 0) {
    gemm::Product(first, g, ldg, c, ldc, {}, m, 0, n);
    return;
  }
  const int64_t later = (p.time - 1) * batch;  // rows of the other indices
  const gemm::Start<S> resume{c, ldc};
  if (!p.reverse) {
    // t = 0 multiplied `initial`; t >= 1 the states of t - 1.
    gemm::Product(first, g, ldg, c, ldc, {}, m, batch, n);
    gemm::Product(StatesTransposed(p, states, begin), g + batch * ldg, ldg, c,
                  ldc, resume, m, later, n);
  } else {
    // t < time - 1 multiplied the states of t + 1; the last t `initial`.
    gemm::Product(StatesTransposed(p, states + batch * p.units, begin), g,
                  ldg, c, ldc, {}, m, later, n);
    gemm::Product(first, g + later * ldg, ldg, c, ldc, resume, m, batch, n);
  }
}

// Zeroes gate block k's columns of units [begin, end) of a step's dx at the
// masked rows.
template <typename P, typename S>
TFA_INLINE void ZeroMasked(const P& p, int64_t t, S* dx, int k, int64_t begin,
                           int64_t end) {
  for (int64_t b = 0; b < p.batch; ++b) {
    if (p.Active(t, b)) continue;
    S* row = dx + b * p.Gates() + k * p.units;
    std::fill(row + begin, row + end, S(0));
  }
}

// The LSTM's scratch, cut up.
template <typename S>
struct LstmScratchParts {
  S* kernel_t;   // [4 units, units]
  S* act;        // [batch, 4 units]: the activated gates
  S* gate_grad;  // [batch, 4 units]
  S* a_c;        // [batch, units]: a(c)
  S* tmp;        // [batch, units]
  S* dc_t;       // [batch, units]
  S* dh_new;     // [batch, units]

  LstmScratchParts(const LstmProblem<S>& p, S* base) {
    const int64_t state = p.batch * p.units, gates = p.batch * p.Gates();
    kernel_t = base;
    act = kernel_t + p.units * p.Gates();
    gate_grad = act + gates;
    a_c = gate_grad + gates;
    tmp = a_c + state;
    dc_t = tmp + state;
    dh_new = dc_t + state;
  }
};

// The activated gates of units [begin, end) of every row from z: ra on i, f
// and o, a on g.
template <typename S>
TFA_INLINE void ActivateGates(const LstmProblem<S>& p, const S* z, S* act,
                              int64_t begin, int64_t end) {
  const int64_t units = p.units, width = p.Gates();
  for (int k = 0; k < 4; ++k) {
    const int64_t col = k * units + begin;
    Apply(k == 2 ? p.activation : p.recurrent_activation, z + col, width,
          act + col, width, p.batch, end - begin);
  }
}

template <typename S>
TFA_INLINE void ForwardStepImpl(const LstmProblem<S>& p,
                                const LstmData<S>& d, int64_t step,
                                int64_t begin, int64_t end) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t state = batch * units, n = end - begin;
  const LstmScratchParts<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  const S* h_prev = PreviousState(p, d.h0, d.outputs, t);
  const S* c_prev = PreviousState(p, d.c0, d.cells, t);
  S* z = d.gates + t * batch * width;
  const S* x = d.x + t * batch * width;
  S* c_t = d.cells + t * state;
  S* h_t = d.outputs + t * state;
  // z = x + h_prev W, the product starting from x (no copy of x first).
  for (int k = 0; k < 4; ++k) {
    const int64_t col = k * units + begin;
    gemm::Product(gemm::Left<S>{h_prev, units}, d.kernel + col, width,
                  z + col, width, {x + col, width}, batch, units, n);
  }
  ActivateGates(p, z, w.act, begin, end);
  for (int64_t b = 0; b < batch; ++b) {
    const S* a = w.act + b * width;
    const S* cp = c_prev + b * units;
    S* cb = c_t + b * units;
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      const int64_t u = begin + j;
      StoreLanes(cb + u,
                 CellState(LoadLanes(a + u, lanes),
                           LoadLanes(a + units + u, lanes),
                           LoadLanes(a + 2 * units + u, lanes),
                           LoadLanes(cp + u, lanes)),
                 lanes);
    });
  }
  Apply(p.activation, c_t + begin, units, w.a_c + begin, units, batch, n);
  for (int64_t b = 0; b < batch; ++b) {
    const S* o = w.act + b * width + 3 * units;
    const S* ac = w.a_c + b * units;
    S* hb = h_t + b * units;
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      const int64_t u = begin + j;
      StoreLanes(hb + u, LoadLanes(o + u, lanes) * LoadLanes(ac + u, lanes),
                 lanes);
    });
    if (!p.Active(t, b)) {
      std::copy_n(h_prev + b * units + begin, n, hb + begin);
      std::copy_n(c_prev + b * units + begin, n, c_t + b * units + begin);
    }
  }
}

template <typename S>
TFA_INLINE void BackwardBeginImpl(const LstmProblem<S>& p,
                                  const LstmData<S>& d, int64_t begin,
                                  int64_t end) {
  TransposeKernel(d.kernel, LstmScratchParts<S>(p, d.scratch).kernel_t, p.units,
                  p.Gates(), begin, end);
}

template <typename S>
TFA_INLINE void BackwardGatesImpl(const LstmProblem<S>& p,
                                  const LstmData<S>& d, int64_t step,
                                  int64_t begin, int64_t end) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t state = batch * units, n = end - begin;
  const LstmScratchParts<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  const S* c_prev = PreviousState(p, d.c0, d.cells, t);
  const S* z = d.gates + t * batch * width;
  const S* c_here = d.cells + t * state;
  const S* dy = d.d_outputs + t * state;
  S* dz = d.dx + t * batch * width;
  ActivateGates(p, z, w.act, begin, end);
  Apply(p.activation, c_here + begin, units, w.a_c + begin, units, batch, n);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t row = b * units;
    S* dh = d.dh + row;
    const S* o = w.act + b * width + 3 * units;
    S* tmp = w.tmp + row;
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      const int64_t u = begin + j;
      const Vec<S> dh_total =
          LoadLanes(dh + u, lanes) + LoadLanes(dy + row + u, lanes);
      StoreLanes(dh + u, dh_total, lanes);
      StoreLanes(tmp + u, dh_total * LoadLanes(o + u, lanes), lanes);
    });
  }
  // dc_t = dh o a'(c), then the gate gradients.
  ApplyGradient(p.activation, c_here + begin, w.a_c + begin, w.tmp + begin,
                w.dc_t + begin, units, batch, n);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t row = b * units;
    const S* dh = d.dh + row;
    S* dc = d.dc + row;
    const S* a = w.act + b * width;
    const S* ac = w.a_c + row;
    const S* dc_t = w.dc_t + row;
    const S* cp = c_prev + row;
    S* gg = w.gate_grad + b * width;
    const bool active = p.Active(t, b);
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      using V = Vec<S>;
      const int64_t u = begin + j;
      const V dc_total = LoadLanes(dc_t + u, lanes) + LoadLanes(dc + u, lanes);
      V di, df, dg, d_o, dc_prev;
      GateGradients(LoadLanes(dh + u, lanes), dc_total,
                    LoadLanes(a + u, lanes), LoadLanes(a + units + u, lanes),
                    LoadLanes(a + 2 * units + u, lanes),
                    LoadLanes(ac + u, lanes), LoadLanes(cp + u, lanes), &di,
                    &df, &dg, &d_o, &dc_prev);
      StoreLanes(gg + u, di, lanes);
      StoreLanes(gg + units + u, df, lanes);
      StoreLanes(gg + 2 * units + u, dg, lanes);
      StoreLanes(gg + 3 * units + u, d_o, lanes);
      if (active) StoreLanes(dc + u, dc_prev, lanes);
    });
  }
  for (int k = 0; k < 4; ++k) {
    const int64_t col = k * units + begin;
    ApplyGradient(k == 2 ? p.activation : p.recurrent_activation, z + col,
                  w.act + col, w.gate_grad + col, dz + col, width, batch, n);
  }
  for (int k = 0; k < 4; ++k) ZeroMasked(p, t, dz, k, begin, end);
}

template <typename S>
TFA_INLINE void BackwardStateImpl(const LstmProblem<S>& p,
                                  const LstmData<S>& d, int64_t step,
                                  int64_t begin, int64_t end) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t n = end - begin;
  const LstmScratchParts<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  const S* dz = d.dx + t * batch * width;
  // dh_prev = dz W_h^T; masked rows carry dh.
  gemm::Multiply(dz, width, w.kernel_t + begin, units, w.dh_new + begin,
                 units, batch, width, n, /*accumulate=*/false);
  for (int64_t b = 0; b < batch; ++b) {
    if (p.Active(t, b)) {
      std::copy_n(w.dh_new + b * units + begin, n, d.dh + b * units + begin);
    }
  }
}

template <typename S>
TFA_INLINE void KernelGradientImpl(const LstmProblem<S>& p,
                                   const LstmData<S>& d, int64_t begin,
                                   int64_t end) {
  const int64_t width = p.Gates();
  // d W_h = sum over steps of h_prev^T dz: one product over all of them.
  PreviousStatesTimes(p, d.h0, d.outputs, d.dx, width, width,
                      d.d_kernel + begin * width, width, begin, end);
}

// The GRU's scratch, cut up.
template <typename S>
struct GruScratchParts {
  S* kernel_t;   // [3 units, units]
  S* act;        // [batch, 3 units]: z, r and hh
  S* gate_grad;  // [batch, 3 units]
  S* m;          // [batch, 3 units]: the recurrent products and bias
  S* dh_direct;  // [batch, units]
  S* d_reset;    // [batch, units]: the gradient of r h_prev
  S* dm_h;       // [time * batch, units]: the gradient of m_h (reset_after)

  GruScratchParts(const GruProblem<S>& p, S* base) {
    const int64_t state = p.batch * p.units, gates = p.batch * p.Gates();
    kernel_t = base;
    act = kernel_t + p.units * p.Gates();
    gate_grad = act + gates;
    m = gate_grad + gates;
    dh_direct = m + gates;
    d_reset = dh_direct + state;
    dm_h = d_reset + state;
  }
};

// m = b + h_prev W for the columns of units [begin, end) of gate blocks
// [first, last).
template <typename S>
TFA_INLINE void GruRecurrentProduct(const GruProblem<S>& p,
                                    const GruData<S>& d, const S* h,
                                    S* m, int first, int last, int64_t begin,
                                    int64_t end) {
  const int64_t units = p.units, width = p.Gates(), n = end - begin;
  for (int k = first; k < last; ++k) {
    const int64_t col = k * units + begin;
    gemm::Product(gemm::Left<S>{h, units}, d.kernel + col, width, m + col,
                  width, {d.bias + col, 0}, p.batch, units, n);
  }
}

// pre = x + m for the columns of units [begin, end) of gate blocks [first,
// last), every row.
template <typename S>
TFA_INLINE void GruPreActivations(const GruProblem<S>& p, const S* x,
                                  const S* m, S* pre, int first, int last,
                                  int64_t begin, int64_t end) {
  const int64_t width = p.Gates();
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int k = first; k < last; ++k) {
      const int64_t i = b * width + k * p.units + begin;
      Elementwise<S>(end - begin, [&](int64_t j, auto lanes)
                                      TFA_LAMBDA_INLINE {
        StoreLanes(pre + i + j,
                   LoadLanes(x + i + j, lanes) + LoadLanes(m + i + j, lanes),
                   lanes);
      });
    }
  }
}

template <typename S>
TFA_INLINE void GruForwardGatesImpl(const GruProblem<S>& p,
                                    const GruData<S>& d, int64_t step,
                                    int64_t begin, int64_t end) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t n = end - begin;
  const GruScratchParts<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  const S* h_prev = PreviousState(p, d.h0, d.outputs, t);
  const S* x = d.x + t * batch * width;
  S* pre = d.gates + t * batch * width;
  S* reset = d.reset + t * batch * units;
  GruRecurrentProduct(p, d, h_prev, w.m, 0, p.reset_after ? 3 : 2, begin,
                      end);
  GruPreActivations(p, x, w.m, pre, 0, 2, begin, end);
  for (int k = 0; k < 2; ++k) {
    const int64_t col = k * units + begin;
    Apply(p.recurrent_activation, pre + col, width, w.act + col, width, batch,
          n);
  }
  // reset: m_h, and the candidate's pre-activation x_h + r m_h; or r h_prev.
  for (int64_t b = 0; b < batch; ++b) {
    const S* r = w.act + b * width + units;
    const S* m_h = w.m + b * width + 2 * units;
    const S* x_h = x + b * width + 2 * units;
    const S* hb = h_prev + b * units;
    S* pre_h = pre + b * width + 2 * units;
    S* rb = reset + b * units;
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      const int64_t u = begin + j;
      if (p.reset_after) {
        const Vec<S> mv = LoadLanes(m_h + u, lanes);
        StoreLanes(rb + u, mv, lanes);
        StoreLanes(pre_h + u,
                   LoadLanes(x_h + u, lanes) + LoadLanes(r + u, lanes) * mv,
                   lanes);
      } else {
        StoreLanes(rb + u, LoadLanes(r + u, lanes) * LoadLanes(hb + u, lanes),
                   lanes);
      }
    });
  }
}

template <typename S>
TFA_INLINE void GruForwardStateImpl(const GruProblem<S>& p,
                                    const GruData<S>& d, int64_t step,
                                    int64_t begin, int64_t end) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t n = end - begin, col = 2 * units + begin;
  const GruScratchParts<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  const S* h_prev = PreviousState(p, d.h0, d.outputs, t);
  const S* x = d.x + t * batch * width;
  S* pre = d.gates + t * batch * width;
  S* h_t = d.outputs + t * batch * units;
  if (!p.reset_after) {
    // x_h + ((r h_prev) W_hh + b_h), as Keras adds them.
    GruRecurrentProduct(p, d, d.reset + t * batch * units, w.m, 2, 3, begin,
                        end);
    GruPreActivations(p, x, w.m, pre, 2, 3, begin, end);
  }
  Apply(p.activation, pre + col, width, w.act + col, width, batch, n);
  for (int64_t b = 0; b < batch; ++b) {
    const S* z = w.act + b * width;
    const S* hh = z + 2 * units;
    const S* hp = h_prev + b * units;
    S* hb = h_t + b * units;
    if (!p.Active(t, b)) {
      std::copy_n(hp + begin, n, hb + begin);
      continue;
    }
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      const int64_t u = begin + j;
      StoreLanes(hb + u,
                 GruState(LoadLanes(z + u, lanes), LoadLanes(hh + u, lanes),
                          LoadLanes(hp + u, lanes)),
                 lanes);
    });
  }
}

template <typename S>
TFA_INLINE void GruBackwardBeginImpl(const GruProblem<S>& p,
                                     const GruData<S>& d, int64_t begin,
                                     int64_t end) {
  TransposeKernel(d.kernel, GruScratchParts<S>(p, d.scratch).kernel_t,
                  p.units, p.Gates(), begin, end);
}

template <typename S>
TFA_INLINE void GruBackwardGatesImpl(const GruProblem<S>& p,
                                     const GruData<S>& d, int64_t step,
                                     int64_t begin, int64_t end) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t state = batch * units, n = end - begin;
  const GruScratchParts<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  const S* h_prev = PreviousState(p, d.h0, d.outputs, t);
  const S* pre = d.gates + t * batch * width;
  const S* reset = d.reset + t * state;
  const S* dy = d.d_outputs + t * state;
  S* dx = d.dx + t * batch * width;
  S* dm_h = w.dm_h + t * state;
  for (int k = 0; k < 3; ++k) {
    const int64_t col = k * units + begin;
    Apply(k == 2 ? p.activation : p.recurrent_activation, pre + col, width,
          w.act + col, width, batch, n);
  }
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t row = b * units;
    S* dh = d.dh + row;
    const S* z = w.act + b * width;
    const S* hh = z + 2 * units;
    const S* hp = h_prev + row;
    S* gg = w.gate_grad + b * width;
    S* direct = w.dh_direct + row;
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      using V = Vec<S>;
      const int64_t u = begin + j;
      const V dh_total =
          LoadLanes(dh + u, lanes) + LoadLanes(dy + row + u, lanes);
      StoreLanes(dh + u, dh_total, lanes);
      V dz, dhh, dh_prev;
      GruStateGradients(dh_total, LoadLanes(z + u, lanes),
                        LoadLanes(hh + u, lanes), LoadLanes(hp + u, lanes),
                        &dz, &dhh, &dh_prev);
      StoreLanes(gg + u, dz, lanes);
      StoreLanes(gg + 2 * units + u, dhh, lanes);
      StoreLanes(direct + u, dh_prev, lanes);
    });
  }
  for (int k = 0; k < 3; k += 2) {
    const int64_t col = k * units + begin;
    ApplyGradient(k == 2 ? p.activation : p.recurrent_activation, pre + col,
                  w.act + col, w.gate_grad + col, dx + col, width, batch, n);
    ZeroMasked(p, t, dx, k, begin, end);
  }
  if (p.reset_after) {
    // The candidate's x_h + r m_h: dm_h = dx_h r, dr = dx_h m_h.
    for (int64_t b = 0; b < batch; ++b) {
      const S* r = w.act + b * width + units;
      const S* dx_h = dx + b * width + 2 * units;
      const S* m_h = reset + b * units;
      S* dr = w.gate_grad + b * width + units;
      S* dmb = dm_h + b * units;
      Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
        const int64_t u = begin + j;
        const Vec<S> g = LoadLanes(dx_h + u, lanes);
        StoreLanes(dmb + u, g * LoadLanes(r + u, lanes), lanes);
        StoreLanes(dr + u, g * LoadLanes(m_h + u, lanes), lanes);
      });
    }
    const int64_t col = units + begin;
    ApplyGradient(p.recurrent_activation, pre + col, w.act + col,
                  w.gate_grad + col, dx + col, width, batch, n);
    ZeroMasked(p, t, dx, 1, begin, end);
  }
}

template <typename S>
TFA_INLINE void GruBackwardResetImpl(const GruProblem<S>& p,
                                     const GruData<S>& d, int64_t step,
                                     int64_t begin, int64_t end) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t n = end - begin;
  const GruScratchParts<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  const S* h_prev = PreviousState(p, d.h0, d.outputs, t);
  const S* pre = d.gates + t * batch * width;
  S* dx = d.dx + t * batch * width;
  // d(r h_prev) = dx_h W_hh^T (every unit's dx_h).
  gemm::Multiply(dx + 2 * units, width, w.kernel_t + 2 * units * units + begin,
                 units, w.d_reset + begin, units, batch, units, n,
                 /*accumulate=*/false);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t row = b * units;
    const S* r = w.act + b * width + units;
    const S* hp = h_prev + row;
    const S* dr_h = w.d_reset + row;
    S* dr = w.gate_grad + b * width + units;
    S* direct = w.dh_direct + row;
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      const int64_t u = begin + j;
      const Vec<S> g = LoadLanes(dr_h + u, lanes);
      StoreLanes(dr + u, g * LoadLanes(hp + u, lanes), lanes);
      StoreLanes(direct + u,
                 LoadLanes(direct + u, lanes) + g * LoadLanes(r + u, lanes),
                 lanes);
    });
  }
  const int64_t col = units + begin;
  ApplyGradient(p.recurrent_activation, pre + col, w.act + col,
                w.gate_grad + col, dx + col, width, batch, n);
  ZeroMasked(p, t, dx, 1, begin, end);
}

template <typename S>
TFA_INLINE void GruBackwardStateImpl(const GruProblem<S>& p,
                                     const GruData<S>& d, int64_t step,
                                     int64_t begin, int64_t end) {
  const int64_t batch = p.batch, units = p.units, width = p.Gates();
  const int64_t n = end - begin;
  const GruScratchParts<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  const S* dx = d.dx + t * batch * width;
  // dh_prev = direct + [dz, dr] W_zr^T (+ dm_h W_h^T); masked rows carry dh.
  gemm::Multiply(dx, width, w.kernel_t + begin, units, w.dh_direct + begin,
                 units, batch, 2 * units, n, /*accumulate=*/true);
  if (p.reset_after) {
    gemm::Multiply(w.dm_h + t * batch * units, units,
                   w.kernel_t + 2 * units * units + begin, units,
                   w.dh_direct + begin, units, batch, units, n,
                   /*accumulate=*/true);
  }
  for (int64_t b = 0; b < batch; ++b) {
    if (p.Active(t, b)) {
      std::copy_n(w.dh_direct + b * units + begin, n,
                  d.dh + b * units + begin);
    }
  }
}

template <typename S>
TFA_INLINE void GruKernelGradientImpl(const GruProblem<S>& p,
                                      const GruData<S>& d, int64_t begin,
                                      int64_t end) {
  const int64_t units = p.units, width = p.Gates(), n = end - begin;
  const int64_t steps = p.time * p.batch;
  const GruScratchParts<S> w(p, d.scratch);
  // The gradient of m at every step: dx's z and r blocks, and dm_h (with
  // reset_after) or dx's hh block, whose left factor is r h_prev.
  const S* dm_h = p.reset_after ? w.dm_h : d.dx + 2 * units;
  const int64_t ld_h = p.reset_after ? units : width;
  S* dk = d.d_kernel + begin * width;
  PreviousStatesTimes(p, d.h0, d.outputs, d.dx, width, 2 * units, dk, width,
                      begin, end);
  if (p.reset_after) {
    PreviousStatesTimes(p, d.h0, d.outputs, dm_h, ld_h, units,
                        dk + 2 * units, width, begin, end);
  } else {
    gemm::Product(StatesTransposed(p, d.reset, begin), dm_h, ld_h,
                  dk + 2 * units, width, {}, n, steps, units);
  }
  // d_bias: the sum of those over every step, in a fixed order.
  for (int k = 0; k < 3; ++k) {
    const S* g = k < 2 ? d.dx + k * units : dm_h;
    const int64_t ld = k < 2 ? width : ld_h;
    S* db = d.d_bias + k * units;
    Elementwise<S>(n, [&](int64_t j, auto lanes) TFA_LAMBDA_INLINE {
      const int64_t u = begin + j;
      Vec<S> sum{};
      for (int64_t i = 0; i < steps; ++i) sum += LoadLanes(g + i * ld + u, lanes);
      StoreLanes(db + u, sum, lanes);
    });
  }
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

#define TFA_GRU_STEP(S, Name)                                                \
  TFA_CPU_CLONES void Gru##Name(const GruProblem<S>& p, const GruData<S>& d, \
                                int64_t step, int64_t begin, int64_t end) {  \
    Gru##Name##Impl(p, d, step, begin, end);                                 \
  }
#define TFA_GRU_ENTRY_POINTS(S)                                              \
  TFA_GRU_STEP(S, ForwardGates)                                              \
  TFA_GRU_STEP(S, ForwardState)                                              \
  TFA_GRU_STEP(S, BackwardGates)                                             \
  TFA_GRU_STEP(S, BackwardReset)                                             \
  TFA_GRU_STEP(S, BackwardState)                                             \
  TFA_CPU_CLONES void GruBackwardBegin(const GruProblem<S>& p,               \
                                       const GruData<S>& d, int64_t begin,   \
                                       int64_t end) {                        \
    GruBackwardBeginImpl(p, d, begin, end);                                  \
  }                                                                          \
  TFA_CPU_CLONES void GruKernelGradient(const GruProblem<S>& p,              \
                                        const GruData<S>& d, int64_t begin,  \
                                        int64_t end) {                       \
    GruKernelGradientImpl(p, d, begin, end);                                 \
  }
TFA_FOR_EACH_CPU_TYPE(TFA_GRU_ENTRY_POINTS)
#undef TFA_GRU_ENTRY_POINTS
#undef TFA_GRU_STEP

}  // namespace recurrent
}  // namespace tf_approx
