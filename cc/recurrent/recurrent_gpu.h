// The fused recurrent layers' GPU kernels: their per-thread logic, which the
// CUDA kernels of recurrent_gpu.cu.cc run and the native module's `gpu_model`
// runs on the CPU, and the launchers' declarations. TensorFlow-free and
// CUDA-free.
//
// A sequence is a series of launches, one per phase, in the order of the CPU
// kernels' phases (recurrent_cpu.h: LstmBackwardPhase, GruForwardPhase,
// GruBackwardPhase), so that the two share their structure. Where the CPU
// gives a phase's work to threads by ranges of units, here every thread of a
// phase takes elements (b, u) of the [batch, units] state in a grid-stride
// loop, and for each computes what the CPU computes for that element: the
// gate pre-activations as dot products over the previous state, the
// functions one element at a time (FunctionValue, FunctionGradient), the
// cell or state update and the mask. What a thread reads from other
// elements was written by an earlier launch; within a launch it reads and
// writes only its own (b, u), so no launch has a race and any grid gives the
// same bits.
//
// Every sum has an order fixed by the shapes alone: a dot product over the
// units in index order, and the kernel's and the bias's gradients over the
// steps (time index, then batch row) in order, one thread per entry. So the
// results are the same for any grid and any run; they differ from the CPU
// kernels' by the rounding of the sums' order (the CPU's products are
// blocked and vectorised), within a few ulps per sum.
#ifndef TF_APPROX_CC_RECURRENT_RECURRENT_GPU_H_
#define TF_APPROX_CC_RECURRENT_RECURRENT_GPU_H_

#include <cstdint>

#include "cc/common/device.h"
#include "cc/common/gpu_model.h"
#include "cc/recurrent/recurrent.h"

namespace tf_approx {
namespace recurrent {

// Scratch elements of a GPU pass: the kernel's transpose [gates units,
// units]; for the GRU also the direct part of dh [batch, units] and the
// gradient of m_h at every step [time, batch, units] (reset_after).
template <typename S>
TFA_INLINE int64_t GpuLstmScratch(const LstmProblem<S>& p) {
  return p.Gates() * p.units;
}

template <typename S>
TFA_INLINE int64_t GpuGruScratch(const GruProblem<S>& p) {
  return p.Gates() * p.units + (1 + p.time) * p.batch * p.units;
}

// The threads a launch covers: the state's elements, or for a backward
// pass's first and last phases (the kernel's transpose and gradient) the
// kernel's, if more.
template <typename P>
TFA_INLINE int64_t GpuPhaseWork(const P& p, bool kernel_phase) {
  const int64_t state = p.batch * p.units, kernel = p.units * p.Gates();
  return kernel_phase && kernel > state ? kernel : state;
}

// sum_j a[j] b[j * ldb] for j in [0, n), in order, after `sum`.
template <typename S>
TFA_INLINE S Dot(const S* a, const S* b, int64_t ldb, int64_t n, S sum) {
  for (int64_t j = 0; j < n; ++j) sum += a[j] * b[j * ldb];
  return sum;
}

// kernel_t [width, units] = the transpose of kernel [units, width].
template <typename S>
TFA_INLINE void TransposeThread(const Thread& th, const S* kernel,
                                S* kernel_t, int64_t units, int64_t width) {
  for (int64_t q = th.First(); q < units * width; q += th.Stride()) {
    const int64_t u = q / width, j = q % width;
    kernel_t[j * units + u] = kernel[q];
  }
}

// sum over every step (time index, then batch row) of
// left[t][b * ld_left + i] * right[t][b * ld_right + j], where left[t] is
// left_of(t) and right[t] is right + t * batch * ld_right.
template <typename S, typename LeftOf>
TFA_INLINE S StepSum(const Sequence<S>& p, LeftOf&& left_of, int64_t ld_left,
                     int64_t i, const S* right, int64_t ld_right, int64_t j) {
  S sum = 0;
  for (int64_t t = 0; t < p.time; ++t) {
    const S* left = left_of(t);
    const S* r = right + t * p.batch * ld_right;
    for (int64_t b = 0; b < p.batch; ++b) {
      sum += left[b * ld_left + i] * r[b * ld_right + j];
    }
  }
  return sum;
}

// ---------------------------------------------------------------------------
// LSTM

// The forward pass's step `step`: z, c and h of thread th's elements.
template <typename S>
TFA_INLINE void LstmForwardThread(const Thread& th, const LstmProblem<S>& p,
                                  const LstmData<S>& d, int64_t step) {
  const int64_t units = p.units, width = p.Gates(), state = p.batch * units;
  const int64_t t = p.StepTime(step);
  const S* h_prev = PreviousState(p, d.h0, d.outputs, t);
  const S* c_prev = PreviousState(p, d.c0, d.cells, t);
  for (int64_t q = th.First(); q < state; q += th.Stride()) {
    const int64_t b = q / units, u = q % units;
    const int64_t row = (t * p.batch + b) * width;
    S act[4];
    for (int k = 0; k < 4; ++k) {
      const int64_t col = k * units + u;
      const S z = Dot(h_prev + b * units, d.kernel + col, width, units,
                      d.x[row + col]);
      d.gates[row + col] = z;
      act[k] = FunctionValue(k == 2 ? p.activation : p.recurrent_activation, z);
    }
    S c = CellState(act[0], act[1], act[2], c_prev[q]);
    S h = act[3] * FunctionValue(p.activation, c);
    if (!p.Active(t, b)) {
      h = h_prev[q];
      c = c_prev[q];
    }
    d.cells[t * state + q] = c;
    d.outputs[t * state + q] = h;
  }
}

// The backward pass's step through the gates: dh += the output's gradient,
// then dx of the step and dc (of active rows) for thread th's elements.
template <typename S>
TFA_INLINE void LstmBackwardGatesThread(const Thread& th,
                                        const LstmProblem<S>& p,
                                        const LstmData<S>& d, int64_t step) {
  const int64_t units = p.units, width = p.Gates(), state = p.batch * units;
  const int64_t t = p.StepTime(step);
  const S* c_prev = PreviousState(p, d.c0, d.cells, t);
  for (int64_t q = th.First(); q < state; q += th.Stride()) {
    const int64_t b = q / units, u = q % units;
    const int64_t row = (t * p.batch + b) * width;
    S z[4], act[4];
    for (int k = 0; k < 4; ++k) {
      z[k] = d.gates[row + k * units + u];
      act[k] = FunctionValue(k == 2 ? p.activation : p.recurrent_activation,
                             z[k]);
    }
    const S c = d.cells[t * state + q];
    const S a_c = FunctionValue(p.activation, c);
    const S dh = d.dh[q] + d.d_outputs[t * state + q];
    d.dh[q] = dh;
    const S dc_t = FunctionGradient(p.activation, c, a_c, dh * act[3]);
    S grads[4], dc_prev;
    GateGradients(dh, dc_t + d.dc[q], act[0], act[1], act[2], a_c, c_prev[q],
                  &grads[0], &grads[1], &grads[2], &grads[3], &dc_prev);
    const bool active = p.Active(t, b);
    if (active) d.dc[q] = dc_prev;
    for (int k = 0; k < 4; ++k) {
      const FunctionOf<S>& f = k == 2 ? p.activation : p.recurrent_activation;
      d.dx[row + k * units + u] =
          active ? FunctionGradient(f, z[k], act[k], grads[k]) : S(0);
    }
  }
}

// Then dh = dx W_h^T of the step for thread th's elements of active rows
// (every unit's dx: the launch after the gates').
template <typename S>
TFA_INLINE void LstmBackwardStateThread(const Thread& th,
                                        const LstmProblem<S>& p,
                                        const LstmData<S>& d, int64_t step) {
  const int64_t units = p.units, width = p.Gates(), state = p.batch * units;
  const int64_t t = p.StepTime(step);
  for (int64_t q = th.First(); q < state; q += th.Stride()) {
    const int64_t b = q / units, u = q % units;
    if (!p.Active(t, b)) continue;
    d.dh[q] = Dot(d.dx + (t * p.batch + b) * width, d.scratch + u, units,
                  width, S(0));
  }
}

// After every step: d_kernel[i][j] = sum over the steps of h_prev[b][i]
// dx[b][j], one entry a thread.
template <typename S>
TFA_INLINE void LstmKernelGradientThread(const Thread& th,
                                         const LstmProblem<S>& p,
                                         const LstmData<S>& d) {
  const int64_t width = p.Gates();
  const auto h_prev = [&](int64_t t) {
    return PreviousState(p, d.h0, d.outputs, t);
  };
  for (int64_t q = th.First(); q < p.units * width; q += th.Stride()) {
    d.d_kernel[q] = StepSum(p, h_prev, p.units, q / width, d.dx, width,
                            q % width);
  }
}

// The backward pass's phase `phase` of LstmBackwardPhases(p), as the CPU's
// LstmBackwardPhase: the kernel's transpose (into d.scratch), then per step
// the state of the step after and the gates of the step, then the kernel's
// gradient. d.dh and d.dc start as the given gradients.
template <typename S>
TFA_INLINE void LstmBackwardPhaseThread(const Thread& th,
                                        const LstmProblem<S>& p,
                                        const LstmData<S>& d, int64_t phase) {
  if (phase == 0) {
    TransposeThread(th, d.kernel, d.scratch, p.units, p.Gates());
  } else if (phase == p.time + 2) {
    LstmKernelGradientThread(th, p, d);
  } else {
    const int64_t s = p.time + 1 - phase;
    if (s < p.time) LstmBackwardStateThread(th, p, d, s);
    if (s > 0) LstmBackwardGatesThread(th, p, d, s - 1);
  }
}

// ---------------------------------------------------------------------------
// GRU

// The GPU scratch, cut up.
template <typename S>
struct GpuGruScratchParts {
  S* kernel_t;   // [3 units, units]
  S* dh_direct;  // [batch, units]
  S* dm_h;       // [time, batch, units]

  TFA_INLINE GpuGruScratchParts(const GruProblem<S>& p, S* base) {
    kernel_t = base;
    dh_direct = kernel_t + p.Gates() * p.units;
    dm_h = dh_direct + p.batch * p.units;
  }
};

// The forward pass's step through the gates: the pre-activations of z and r
// (with reset_after also the candidate's, x_h + r m_h) and `reset`.
template <typename S>
TFA_INLINE void GruForwardGatesThread(const Thread& th, const GruProblem<S>& p,
                                      const GruData<S>& d, int64_t step) {
  const int64_t units = p.units, width = p.Gates(), state = p.batch * units;
  const int64_t t = p.StepTime(step);
  const S* h_prev = PreviousState(p, d.h0, d.outputs, t);
  for (int64_t q = th.First(); q < state; q += th.Stride()) {
    const int64_t b = q / units, u = q % units;
    const int64_t row = (t * p.batch + b) * width;
    S m[3];
    for (int k = 0; k < (p.reset_after ? 3 : 2); ++k) {
      const int64_t col = k * units + u;
      m[k] = Dot(h_prev + b * units, d.kernel + col, width, units,
                 d.bias[col]);
      if (k < 2) d.gates[row + col] = d.x[row + col] + m[k];
    }
    const S r = FunctionValue(p.recurrent_activation, d.gates[row + units + u]);
    if (p.reset_after) {
      d.reset[t * state + q] = m[2];
      d.gates[row + 2 * units + u] = d.x[row + 2 * units + u] + r * m[2];
    } else {
      d.reset[t * state + q] = r * h_prev[q];
    }
  }
}

// Then the candidate and the new state (without reset_after the
// candidate's pre-activation first, from every unit's r h_prev: the launch
// after the gates').
template <typename S>
TFA_INLINE void GruForwardStateThread(const Thread& th, const GruProblem<S>& p,
                                      const GruData<S>& d, int64_t step) {
  const int64_t units = p.units, width = p.Gates(), state = p.batch * units;
  const int64_t t = p.StepTime(step);
  const S* h_prev = PreviousState(p, d.h0, d.outputs, t);
  for (int64_t q = th.First(); q < state; q += th.Stride()) {
    const int64_t b = q / units, u = q % units;
    const int64_t row = (t * p.batch + b) * width, col = 2 * units + u;
    if (!p.reset_after) {
      // x_h + ((r h_prev) W_hh + b_h), as Keras adds them.
      d.gates[row + col] =
          d.x[row + col] + Dot(d.reset + t * state + b * units,
                               d.kernel + col, width, units, d.bias[col]);
    }
    const S z = FunctionValue(p.recurrent_activation, d.gates[row + u]);
    const S hh = FunctionValue(p.activation, d.gates[row + col]);
    d.outputs[t * state + q] =
        p.Active(t, b) ? GruState(z, hh, h_prev[q]) : h_prev[q];
  }
}

// The forward pass's phase `phase` of GruForwardPhases(p), as the CPU's
// GruForwardPhase.
template <typename S>
TFA_INLINE void GruForwardPhaseThread(const Thread& th, const GruProblem<S>& p,
                                      const GruData<S>& d, int64_t phase) {
  const int64_t step = phase / p.PhasesPerStep();
  if (phase % p.PhasesPerStep() == 0) GruForwardGatesThread(th, p, d, step);
  if (p.reset_after || phase % 2 == 1) GruForwardStateThread(th, p, d, step);
}

// The backward pass's step through the gates: dh += the output's gradient,
// then dx of z and hh, the direct part of dh, and with reset_after dx of r
// and dm_h.
template <typename S>
TFA_INLINE void GruBackwardGatesThread(const Thread& th,
                                       const GruProblem<S>& p,
                                       const GruData<S>& d, int64_t step) {
  const int64_t units = p.units, width = p.Gates(), state = p.batch * units;
  const GpuGruScratchParts<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  const S* h_prev = PreviousState(p, d.h0, d.outputs, t);
  for (int64_t q = th.First(); q < state; q += th.Stride()) {
    const int64_t b = q / units, u = q % units;
    const int64_t row = (t * p.batch + b) * width;
    const S* pre = d.gates + row;
    S* dx = d.dx + row;
    const S z = FunctionValue(p.recurrent_activation, pre[u]);
    const S r = FunctionValue(p.recurrent_activation, pre[units + u]);
    const S hh = FunctionValue(p.activation, pre[2 * units + u]);
    const S dh = d.dh[q] + d.d_outputs[t * state + q];
    d.dh[q] = dh;
    S dz, dhh, direct;
    GruStateGradients(dh, z, hh, h_prev[q], &dz, &dhh, &direct);
    w.dh_direct[q] = direct;
    const bool active = p.Active(t, b);
    dx[u] = active ? FunctionGradient(p.recurrent_activation, pre[u], z, dz)
                   : S(0);
    const S dx_h =
        active ? FunctionGradient(p.activation, pre[2 * units + u], hh, dhh)
               : S(0);
    dx[2 * units + u] = dx_h;
    if (p.reset_after) {
      // The candidate's x_h + r m_h: dm_h = dx_h r, dr = dx_h m_h.
      w.dm_h[t * state + q] = dx_h * r;
      const S dr = dx_h * d.reset[t * state + q];
      dx[units + u] =
          active ? FunctionGradient(p.recurrent_activation, pre[units + u], r,
                                    dr)
                 : S(0);
    }
  }
}

// Without reset_after, then r's gradient: d(r h_prev) = dx_h W_hh^T (every
// unit's dx_h: the launch after the gates'), dx of r and the rest of the
// direct part of dh.
template <typename S>
TFA_INLINE void GruBackwardResetThread(const Thread& th,
                                       const GruProblem<S>& p,
                                       const GruData<S>& d, int64_t step) {
  const int64_t units = p.units, width = p.Gates(), state = p.batch * units;
  const GpuGruScratchParts<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  const S* h_prev = PreviousState(p, d.h0, d.outputs, t);
  for (int64_t q = th.First(); q < state; q += th.Stride()) {
    const int64_t b = q / units, u = q % units;
    const int64_t row = (t * p.batch + b) * width;
    const S* pre = d.gates + row;
    const S g = Dot(d.dx + row + 2 * units, w.kernel_t + 2 * units * units + u,
                    units, units, S(0));
    const S r = FunctionValue(p.recurrent_activation, pre[units + u]);
    w.dh_direct[q] += g * r;
    d.dx[row + units + u] =
        p.Active(t, b) ? FunctionGradient(p.recurrent_activation,
                                          pre[units + u], r, g * h_prev[q])
                       : S(0);
  }
}

// Then dh = the direct part + [dz, dr] W_zr^T (+ dm_h W_h^T) of the step for
// thread th's elements of active rows.
template <typename S>
TFA_INLINE void GruBackwardStateThread(const Thread& th,
                                       const GruProblem<S>& p,
                                       const GruData<S>& d, int64_t step) {
  const int64_t units = p.units, width = p.Gates(), state = p.batch * units;
  const GpuGruScratchParts<S> w(p, d.scratch);
  const int64_t t = p.StepTime(step);
  for (int64_t q = th.First(); q < state; q += th.Stride()) {
    const int64_t b = q / units, u = q % units;
    if (!p.Active(t, b)) continue;
    S sum = Dot(d.dx + (t * p.batch + b) * width, w.kernel_t + u, units,
                2 * units, w.dh_direct[q]);
    if (p.reset_after) {
      sum = Dot(w.dm_h + t * state + b * units,
                w.kernel_t + 2 * units * units + u, units, units, sum);
    }
    d.dh[q] = sum;
  }
}

// After every step: d_kernel, one entry a thread, and d_bias, one column a
// thread. The gradient of m at every step is dx's z and r blocks and dm_h
// (with reset_after) or dx's hh block, whose left factor is r h_prev.
template <typename S>
TFA_INLINE void GruKernelGradientThread(const Thread& th,
                                        const GruProblem<S>& p,
                                        const GruData<S>& d) {
  const int64_t units = p.units, width = p.Gates(), state = p.batch * units;
  const GpuGruScratchParts<S> w(p, d.scratch);
  const auto h_prev = [&](int64_t t) {
    return PreviousState(p, d.h0, d.outputs, t);
  };
  const auto reset = [&](int64_t t) { return d.reset + t * state; };
  for (int64_t q = th.First(); q < units * width; q += th.Stride()) {
    const int64_t i = q / width, j = q % width;
    if (j < 2 * units) {
      d.d_kernel[q] = StepSum(p, h_prev, units, i, d.dx, width, j);
    } else if (p.reset_after) {
      d.d_kernel[q] = StepSum(p, h_prev, units, i, w.dm_h, units, j - 2 * units);
    } else {
      d.d_kernel[q] = StepSum(p, reset, units, i, d.dx, width, j);
    }
  }
  const bool from_dm_h = p.reset_after;
  for (int64_t j = th.First(); j < width; j += th.Stride()) {
    const bool h_block = j >= 2 * units && from_dm_h;
    const S* g = h_block ? w.dm_h + (j - 2 * units) : d.dx + j;
    const int64_t ld = h_block ? units : width;
    S sum = 0;
    for (int64_t i = 0; i < p.time * p.batch; ++i) sum += g[i * ld];
    d.d_bias[j] = sum;
  }
}

// The backward pass's phase `phase` of GruBackwardPhases(p), as the CPU's
// GruBackwardPhase. d.dh starts as the given gradient.
template <typename S>
TFA_INLINE void GruBackwardPhaseThread(const Thread& th,
                                       const GruProblem<S>& p,
                                       const GruData<S>& d, int64_t phase) {
  if (phase == 0) {
    TransposeThread(th, d.kernel, d.scratch, p.units, p.Gates());
  } else if (phase == GruBackwardPhases(p) - 1) {
    GruKernelGradientThread(th, p, d);
  } else {
    const int64_t done = (phase - 1) / p.PhasesPerStep();  // steps finished
    const int64_t s = p.time - 1 - done;
    if ((phase - 1) % p.PhasesPerStep() == 1) {
      GruBackwardResetThread(th, p, d, s);
      return;
    }
    if (s + 1 < p.time) GruBackwardStateThread(th, p, d, s + 1);
    if (s >= 0) GruBackwardGatesThread(th, p, d, s);
  }
}

// The launchers (recurrent_gpu.cu.cc), for S = float and double: enqueue
// every phase's kernel on `stream` and return nullptr, or the CUDA error's
// description if a copy or launch failed. p.lengths is host memory: it is
// copied into `lengths` ([batch] int32 on the device; pageable host memory,
// so the copy has read it when the call returns). d's pointers and d.scratch
// (GpuLstmScratch(p) resp. GpuGruScratch(p) elements) are device memory; the
// forward passes also write the final states (h, and c for the LSTM), and
// the backward passes start from dh_in (and dc_in), which d.dh (d.dc) end
// as the initial states' gradients.
template <typename S>
const char* LaunchLstm(GpuStream stream, const LstmProblem<S>& p,
                       const LstmData<S>& d, int32_t* lengths, S* h, S* c);
template <typename S>
const char* LaunchLstmGrad(GpuStream stream, const LstmProblem<S>& p,
                           const LstmData<S>& d, int32_t* lengths,
                           const S* dh_in, const S* dc_in);
template <typename S>
const char* LaunchGru(GpuStream stream, const GruProblem<S>& p,
                      const GruData<S>& d, int32_t* lengths, S* h);
template <typename S>
const char* LaunchGruGrad(GpuStream stream, const GruProblem<S>& p,
                          const GruData<S>& d, int32_t* lengths,
                          const S* dh_in);

}  // namespace recurrent
}  // namespace tf_approx

#endif  // TF_APPROX_CC_RECURRENT_RECURRENT_GPU_H_
