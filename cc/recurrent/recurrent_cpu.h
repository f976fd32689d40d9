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

// Scratch elements of the forward and backward passes.
template <typename S>
int64_t LstmScratch(const LstmProblem<S>& p) {
  return p.units * p.Gates() + 2 * p.batch * p.Gates() +
         4 * p.batch * p.units;
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

// The backward pass's phase `phase` of LstmBackwardPhases(p) (recurrent.h)
// for units [begin, end).
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

// Scratch elements of the forward and backward passes.
template <typename S>
int64_t GruScratch(const GruProblem<S>& p) {
  const int64_t state = p.batch * p.units, steps = p.time * p.batch;
  return p.units * p.Gates() + 3 * p.batch * p.Gates() + 2 * state +
         steps * p.units;
}

// The forward pass's step `step` for units [begin, end), in two parts: the
// gates z and r (with reset_after also the candidate's recurrent product),
// then the candidate and the new state (without reset_after this needs every
// unit's r h_prev, so it is a phase of its own).
void GruForwardGates(const GruProblem<float>& p, const GruData<float>& d,
                     int64_t step, int64_t begin, int64_t end);
void GruForwardGates(const GruProblem<double>& p, const GruData<double>& d,
                     int64_t step, int64_t begin, int64_t end);
void GruForwardState(const GruProblem<float>& p, const GruData<float>& d,
                     int64_t step, int64_t begin, int64_t end);
void GruForwardState(const GruProblem<double>& p, const GruData<double>& d,
                     int64_t step, int64_t begin, int64_t end);

// Before the backward pass: d's scratch copy of the kernel's transpose, rows
// [begin, end) of the kernel.
void GruBackwardBegin(const GruProblem<float>& p, const GruData<float>& d,
                      int64_t begin, int64_t end);
void GruBackwardBegin(const GruProblem<double>& p, const GruData<double>& d,
                      int64_t begin, int64_t end);

// The backward pass's step through the gates for units [begin, end): dx of
// the step's columns of those units (without reset_after, those of z and hh
// only: r's needs every unit's dx of hh, and is GruBackwardReset's).
void GruBackwardGates(const GruProblem<float>& p, const GruData<float>& d,
                      int64_t step, int64_t begin, int64_t end);
void GruBackwardGates(const GruProblem<double>& p, const GruData<double>& d,
                      int64_t step, int64_t begin, int64_t end);
void GruBackwardReset(const GruProblem<float>& p, const GruData<float>& d,
                      int64_t step, int64_t begin, int64_t end);
void GruBackwardReset(const GruProblem<double>& p, const GruData<double>& d,
                      int64_t step, int64_t begin, int64_t end);

// Then dh for units [begin, end): the direct part plus the gates' gradients
// times the kernel's transpose (needs every unit's).
void GruBackwardState(const GruProblem<float>& p, const GruData<float>& d,
                      int64_t step, int64_t begin, int64_t end);
void GruBackwardState(const GruProblem<double>& p, const GruData<double>& d,
                      int64_t step, int64_t begin, int64_t end);

// After every step: rows [begin, end) of d_kernel and the columns of those
// units of d_bias.
void GruKernelGradient(const GruProblem<float>& p, const GruData<float>& d,
                       int64_t begin, int64_t end);
void GruKernelGradient(const GruProblem<double>& p, const GruData<double>& d,
                       int64_t begin, int64_t end);

// The forward pass's phase `phase` of GruForwardPhases(p) (recurrent.h) for
// units [begin, end).
template <typename S>
void GruForwardPhase(const GruProblem<S>& p, const GruData<S>& d,
                     int64_t phase, int64_t begin, int64_t end) {
  const int64_t step = phase / p.PhasesPerStep();
  if (phase % p.PhasesPerStep() == 0) GruForwardGates(p, d, step, begin, end);
  if (p.reset_after || phase % 2 == 1) GruForwardState(p, d, step, begin, end);
}

// The backward pass's phase `phase` of GruBackwardPhases(p) (recurrent.h)
// for units [begin, end).
template <typename S>
void GruBackwardPhase(const GruProblem<S>& p, const GruData<S>& d,
                      int64_t phase, int64_t begin, int64_t end) {
  if (phase == 0) {
    GruBackwardBegin(p, d, begin, end);
  } else if (phase == GruBackwardPhases(p) - 1) {
    GruKernelGradient(p, d, begin, end);
  } else {
    const int64_t done = (phase - 1) / p.PhasesPerStep();  // steps finished
    const int64_t s = p.time - 1 - done;
    if ((phase - 1) % p.PhasesPerStep() == 1) {
      GruBackwardReset(p, d, s, begin, end);
      return;
    }
    if (s + 1 < p.time) GruBackwardState(p, d, s + 1, begin, end);
    if (s >= 0) GruBackwardGates(p, d, s, begin, end);
  }
}

}  // namespace recurrent
}  // namespace tf_approx

#endif  // TF_APPROX_CC_RECURRENT_RECURRENT_CPU_H_
