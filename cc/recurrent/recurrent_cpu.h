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

// Scratch elements LstmForward and LstmBackward need.
template <typename S>
int64_t LstmForwardScratch(const LstmProblem<S>& p) {
  return p.batch * p.Gates() + p.batch * p.units;
}

template <typename S>
int64_t LstmBackwardScratch(const LstmProblem<S>& p) {
  return p.units * p.Gates() + 2 * p.batch * p.Gates() +
         5 * p.batch * p.units + p.units * p.time * p.batch;
}

// The forward pass. In: x [time, batch, 4 units], kernel [units, 4 units], h0
// and c0 [batch, units]. Out: outputs [time, batch, units] (the carried h at
// masked steps), h and c [batch, units] (the states after the last step),
// gates [time, batch, 4 units] (z) and cells [time, batch, units] (c), saved
// for LstmBackward.
void LstmForward(const LstmProblem<float>& p, const float* x,
                 const float* kernel, const float* h0, const float* c0,
                 float* outputs, float* h, float* c, float* gates,
                 float* cells, float* scratch);
void LstmForward(const LstmProblem<double>& p, const double* x,
                 const double* kernel, const double* h0, const double* c0,
                 double* outputs, double* h, double* c, double* gates,
                 double* cells, double* scratch);

// The backward pass from the gradients of outputs, h and c and what the
// forward pass saved: dx [time, batch, 4 units] (the gradient of z at every
// step, 0 at masked steps), d_kernel [units, 4 units], dh0 and dc0.
void LstmBackward(const LstmProblem<float>& p, const float* d_outputs,
                  const float* dh, const float* dc, const float* kernel,
                  const float* h0, const float* c0, const float* outputs,
                  const float* gates, const float* cells, float* dx,
                  float* d_kernel, float* dh0, float* dc0, float* scratch);
void LstmBackward(const LstmProblem<double>& p, const double* d_outputs,
                  const double* dh, const double* dc, const double* kernel,
                  const double* h0, const double* c0, const double* outputs,
                  const double* gates, const double* cells, double* dx,
                  double* d_kernel, double* dh0, double* dc0,
                  double* scratch);

}  // namespace recurrent
}  // namespace tf_approx

#endif  // TF_APPROX_CC_RECURRENT_RECURRENT_CPU_H_
