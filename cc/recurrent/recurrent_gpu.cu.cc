// The fused recurrent layers' CUDA kernels and launchers: thin wrappers
// around the per-thread logic of recurrent_gpu.h, one launch per phase. No
// TensorFlow headers (recurrent_kernels.cc calls these).
#include "cc/activations/activations_gpu.h"
#include "cc/common/gpu_launch.h"
#include "cc/recurrent/recurrent_gpu.h"

namespace tf_approx {
namespace recurrent {
namespace {

template <typename S>
__global__ void LstmForwardKernel(LstmProblem<S> p, LstmData<S> d,
                                  int64_t step) {
  LstmForwardThread(ThisThread(), p, d, step);
}

template <typename S>
__global__ void LstmBackwardKernel(LstmProblem<S> p, LstmData<S> d,
                                   int64_t phase) {
  LstmBackwardPhaseThread(ThisThread(), p, d, phase);
}

template <typename S>
__global__ void GruForwardKernel(GruProblem<S> p, GruData<S> d,
                                 int64_t phase) {
  GruForwardPhaseThread(ThisThread(), p, d, phase);
}

template <typename S>
__global__ void GruBackwardKernel(GruProblem<S> p, GruData<S> d,
                                  int64_t phase) {
  GruBackwardPhaseThread(ThisThread(), p, d, phase);
}

const char* CopyError(cudaError_t error) {
  return error == cudaSuccess ? nullptr : cudaGetErrorString(error);
}

// Copies `count` elements on the stream (a no-op for none).
template <typename V>
const char* Copy(GpuStream stream, V* to, const V* from, int64_t count,
                 cudaMemcpyKind kind) {
  if (count == 0) return nullptr;
  return CopyError(cudaMemcpyAsync(to, from, sizeof(V) * count, kind,
                                   ToCudaStream(stream)));
}

// p as the kernels take it: lengths copied to the device, each
// approximation's table (word2vec's) the device's copy.
template <typename Problem>
const char* DeviceProblem(GpuStream stream, const Problem& p,
                          int32_t* lengths, Problem* device_p) {
  *device_p = p;
  if (const char* error = Copy(stream, lengths, p.lengths, p.batch,
                               cudaMemcpyHostToDevice)) {
    return error;
  }
  device_p->lengths = lengths;
  for (auto* f : {&device_p->activation, &device_p->recurrent_activation}) {
    if (f->function != Function::kApproximation) continue;
    if (const char* error = activations::DeviceParams(
            stream, f->approximation, &f->approximation)) {
      return error;
    }
  }
  return nullptr;
}

// Launches kernel(p, d, phase) for every phase in [0, phases); a backward
// pass's first and last phases work on the kernel's entries.
template <typename Problem, typename Data>
const char* LaunchPhases(void (*kernel)(Problem, Data, int64_t),
                         GpuStream stream, const Problem& p, const Data& d,
                         int64_t phases, bool backward) {
  for (int64_t phase = 0; phase < phases; ++phase) {
    const bool kernel_phase = backward && (phase == 0 || phase == phases - 1);
    if (const char* error = LaunchElementwise(
            kernel, GpuPhaseWork(p, kernel_phase), stream, p, d, phase)) {
      return error;
    }
  }
  return nullptr;
}

// The state after the last step taken (the initial one if none) into out.
template <typename S>
const char* CopyFinalState(GpuStream stream, const Sequence<S>& p,
                           const S* initial, const S* states, S* out) {
  return Copy(stream, out, FinalState(p, initial, states), p.batch * p.units,
              cudaMemcpyDeviceToDevice);
}

}  // namespace

template <typename S>
const char* LaunchLstm(GpuStream stream, const LstmProblem<S>& p,
                       const LstmData<S>& d, int32_t* lengths, S* h, S* c) {
  LstmProblem<S> dp;
  if (const char* error = DeviceProblem(stream, p, lengths, &dp)) return error;
  if (const char* error =
          LaunchPhases(LstmForwardKernel<S>, stream, dp, d, p.time,
                       /*backward=*/false)) {
    return error;
  }
  if (const char* error = CopyFinalState(stream, p, d.h0, d.outputs, h)) {
    return error;
  }
  return CopyFinalState(stream, p, d.c0, d.cells, c);
}

template <typename S>
const char* LaunchLstmGrad(GpuStream stream, const LstmProblem<S>& p,
                           const LstmData<S>& d, int32_t* lengths,
                           const S* dh_in, const S* dc_in) {
  LstmProblem<S> dp;
  if (const char* error = DeviceProblem(stream, p, lengths, &dp)) return error;
  const int64_t state = p.batch * p.units;
  if (const char* error =
          Copy(stream, d.dh, dh_in, state, cudaMemcpyDeviceToDevice)) {
    return error;
  }
  if (const char* error =
          Copy(stream, d.dc, dc_in, state, cudaMemcpyDeviceToDevice)) {
    return error;
  }
  return LaunchPhases(LstmBackwardKernel<S>, stream, dp, d,
                      LstmBackwardPhases(p), /*backward=*/true);
}

template <typename S>
const char* LaunchGru(GpuStream stream, const GruProblem<S>& p,
                      const GruData<S>& d, int32_t* lengths, S* h) {
  GruProblem<S> dp;
  if (const char* error = DeviceProblem(stream, p, lengths, &dp)) return error;
  if (const char* error = LaunchPhases(GruForwardKernel<S>, stream, dp, d,
                                       GruForwardPhases(p),
                                       /*backward=*/false)) {
    return error;
  }
  return CopyFinalState(stream, p, d.h0, d.outputs, h);
}

template <typename S>
const char* LaunchGruGrad(GpuStream stream, const GruProblem<S>& p,
                          const GruData<S>& d, int32_t* lengths,
                          const S* dh_in) {
  GruProblem<S> dp;
  if (const char* error = DeviceProblem(stream, p, lengths, &dp)) return error;
  if (const char* error = Copy(stream, d.dh, dh_in, p.batch * p.units,
                               cudaMemcpyDeviceToDevice)) {
    return error;
  }
  return LaunchPhases(GruBackwardKernel<S>, stream, dp, d,
                      GruBackwardPhases(p), /*backward=*/true);
}

#define TFA_INSTANTIATE(S)                                                   \
  template const char* LaunchLstm<S>(GpuStream, const LstmProblem<S>&,      \
                                     const LstmData<S>&, int32_t*, S*, S*);  \
  template const char* LaunchLstmGrad<S>(GpuStream, const LstmProblem<S>&,  \
                                         const LstmData<S>&, int32_t*,       \
                                         const S*, const S*);                \
  template const char* LaunchGru<S>(GpuStream, const GruProblem<S>&,        \
                                    const GruData<S>&, int32_t*, S*);        \
  template const char* LaunchGruGrad<S>(GpuStream, const GruProblem<S>&,    \
                                        const GruData<S>&, int32_t*,         \
                                        const S*);
TFA_INSTANTIATE(float)
TFA_INSTANTIATE(double)
#undef TFA_INSTANTIATE

}  // namespace recurrent
}  // namespace tf_approx
