// CPU evaluation of the fused recurrent layers: a whole sequence per call.
//
// The recurrent products run on cc/common/small_gemm.h and the functions on
// the activations family's loops; each entry point is compiled once per
// instruction set (AVX-512, AVX2+FMA, baseline x86-64) and chosen at run time.
// Every sum has a fixed order, so the results (the kernel's gradient too) are
// the same bits for any thread count.
#ifndef TF_APPROX_CC_RECURRENT_RECURRENT_CPU_H_
#define TF_APPROX_CC_RECURRENT_RECURRENT_CPU_H_

#include <cstdint>

#include "cc/recurrent/recurrent.h"

namespace tf_approx {
namespace recurrent {

// The tensors of one LSTM sequence (see TfApprox>Lstm and TfApprox>LstmGrad):
// x [time, batch, 4 units], kernel [units, 4 units], h0 and c0 [batch, units];
// the forward pass writes outputs [time, batch, units] (the carried h at
// masked steps), gates [time, batch, 4 units] (z) and cells [time, batch,
// units] (c); the backward pass reads them with the gradients d_outputs, dh
// and dc (dh and dc are updated in place, step by step, and end as the
// gradients of h0 and c0) and writes dx [time, batch, 4 units] (the gradient
// of z, 0 at masked steps) and d_kernel.
template <typename S>
struct LstmData {
  const S* x = nullptr;
  const S* kernel = nullptr;
  const S* h0 = nullptr;
  const S* c0 = nullptr;
  S* outputs = nullptr;
  S* gates = nullptr;
  S* cells = nullptr;
  const S* d_outputs = nullptr;
  S* dh = nullptr;
  S* dc = nullptr;
  S* dx = nullptr;
  S* d_kernel = nullptr;
  S* scratch = nullptr;  // LstmScratch(p) elements
};

// Scratch elements of the forward and backward passes.
template <typename S>
int64_t LstmScratch(const LstmProblem<S>& p) {
  return p.units * p.Gates() + 2 * p.batch * p.Gates() +
         4 * p.batch * p.units + p.units * p.time * p.batch;
}

// Units are split among threads in blocks of kUnitBlock: a step's work for
// units [begin, end) touches only their columns, so the calls for disjoint
// ranges may run at once, and each result is the same for any split.
constexpr int64_t kUnitBlock = 16;

// The forward pass's step `step` (its s-th step: time index p.StepTime(s))
// for units [begin, end).
void LstmForwardStep(const LstmProblem<float>& p, const LstmData<float>& d,
                     int64_t step, int64_t begin, int64_t end);
void LstmForwardStep(const LstmProblem<double>& p, const LstmData<double>& d,
                     int64_t step, int64_t begin, int64_t end);

// Before the backward pass: d's scratch copy of the kernel's transpose, rows
// [begin, end) of the kernel.
void LstmBackwardBegin(const LstmProblem<float>& p, const LstmData<float>& d,
                       int64_t begin, int64_t end);
void LstmBackwardBegin(const LstmProblem<double>& p, const LstmData<double>& d,
                       int64_t begin, int64_t end);

// The backward pass's step through the gates for units [begin, end): dx of
// the step's columns of those units, and dc.
void LstmBackwardGates(const LstmProblem<float>& p, const LstmData<float>& d,
                       int64_t step, int64_t begin, int64_t end);
void LstmBackwardGates(const LstmProblem<double>& p, const LstmData<double>& d,
                       int64_t step, int64_t begin, int64_t end);

// Then dh for units [begin, end): dx W_h^T (needs every unit's dx).
void LstmBackwardState(const LstmProblem<float>& p, const LstmData<float>& d,
                       int64_t step, int64_t begin, int64_t end);
void LstmBackwardState(const LstmProblem<double>& p, const LstmData<double>& d,
                       int64_t step, int64_t begin, int64_t end);

// After every step: rows [begin, end) of d_kernel.
void LstmKernelGradient(const LstmProblem<float>& p, const LstmData<float>& d,
                        int64_t begin, int64_t end);
void LstmKernelGradient(const LstmProblem<double>& p,
                        const LstmData<double>& d, int64_t begin, int64_t end);

// The backward pass as phases of the calls above, each for every range of
// units, a phase after the one before has finished: phase 0 transposes the
// kernel; phase i in [1, time + 1] finishes step s = time + 1 - i (its dh for
// a range of units needs every unit's dz of step s) and starts step s - 1
// (whose gates for the range need only the range's dh); the last phase is
// the kernel's gradient.
template <typename S>
int64_t LstmBackwardPhases(const LstmProblem<S>& p) {
  return p.time + 3;
}

template <typename S>
void LstmBackwardPhase(const LstmProblem<S>& p, const LstmData<S>& d,
                       int64_t phase, int64_t begin, int64_t end) {
  if (phase == 0) {
    LstmBackwardBegin(p, d, begin, end);
  } else if (phase == p.time + 2) {
    LstmKernelGradient(p, d, begin, end);
  } else {
    const int64_t s = p.time + 1 - phase;
    if (s < p.time) LstmBackwardState(p, d, s, begin, end);
    if (s > 0) LstmBackwardGates(p, d, s - 1, begin, end);
  }
}

}  // namespace recurrent
}  // namespace tf_approx

#endif  // TF_APPROX_CC_RECURRENT_RECURRENT_CPU_H_
