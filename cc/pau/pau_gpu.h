// PAU's GPU kernels: their per-thread logic, which the CUDA kernels of
// pau_gpu.cu.cc run and the native module's `gpu_model` runs on the CPU, and
// the launchers' declarations. TensorFlow-free and CUDA-free.
//
// The coefficients and the seed stay where they are (device memory during
// training): each thread reads its element's coefficient set itself and
// forms from it what the CPU kernel forms on the host, the FarRadius (from
// the set's largest |coefficient|) and, for RPAU, the noise key. Each
// element is computed as the CPU kernels' scalar path does (pau.h's
// ScalarValue and ScalarGradient).
//
// The coefficient gradients are summed without atomics, in an order fixed by
// the shapes alone (bitwise the same for any grid):
//   stage 1  x is viewed as rows of W lanes (W = channels per channel; for a
//            shared set W = kSharedLanes virtual lanes, element i in lane
//            i % W). The rows are cut into Chunks() of ChunkRows() rows; one
//            thread per (chunk, lane) walks its rows in order, writes dx and
//            sums each coefficient's gradient in ComputeType<T> into
//            partial[chunk][j][lane].
//   stage 2  one thread per (j, lane) adds partial[*][j][lane] in chunk
//            order, in double, into total[j][lane].
//   finish   one thread per output coefficient: total[j][lane] of its
//            channel, or for a shared set the W lanes added in lane order in
//            double; converted to T.
#ifndef TF_APPROX_CC_PAU_PAU_GPU_H_
#define TF_APPROX_CC_PAU_PAU_GPU_H_

#include <cstdint>

#include "cc/common/counter_noise.h"
#include "cc/common/device.h"
#include "cc/common/gpu_model.h"
#include "cc/pau/pau.h"

namespace tf_approx {
namespace pau {

// The virtual lanes of a shared coefficient set's gradient sums.
constexpr int64_t kSharedLanes = 32;
// Stage 1: at least this many rows a chunk, and at most kMaxChunks chunks.
constexpr int64_t kMinChunkRows = 16;
constexpr int64_t kMaxChunks = 4096;

// One launch's inputs, as they lie in device memory. T is float, double,
// Half or BFloat16.
template <typename T>
struct GpuProblem {
  int m = 5;  // numerator degree
  int n = 4;  // denominator degree
  Denominator denominator = Denominator::kSafe;
  int64_t size = 0;      // elements of x
  int64_t channels = 0;  // per channel: x's last axis; 0 for a shared set
  float alpha = 0;       // RPAU's alpha (the attr); 0 for a plain PAU
  const T* numerator = nullptr;    // [sets][m + 1]
  const T* denominator_b = nullptr;  // [sets][n]
  const int64_t* seed = nullptr;   // [seed, step] or [seed, step, first]
  int seed_count = 2;

  TFA_INLINE int NumCoefficients() const { return m + 1 + n; }
  TFA_INLINE bool PerChannel() const { return channels > 0; }
  TFA_INLINE int64_t Sets() const { return PerChannel() ? channels : 1; }
  // Stage 1's lanes W and rows.
  TFA_INLINE int64_t Lanes() const {
    return PerChannel() ? channels : kSharedLanes;
  }
  TFA_INLINE int64_t Rows() const {
    return (size + Lanes() - 1) / Lanes();
  }
  TFA_INLINE int64_t ChunkRows() const {
    const int64_t rows = Rows();
    const int64_t even = (rows + kMaxChunks - 1) / kMaxChunks;
    return even > kMinChunkRows ? even : kMinChunkRows;
  }
  TFA_INLINE int64_t Chunks() const {
    return (Rows() + ChunkRows() - 1) / ChunkRows();
  }
};

// The coefficient set `set` in C, and its FarRadius as the CPU kernel forms
// it from the largest |coefficient| (times 1 + alpha; NaN if any is NaN).
template <typename T, typename C = ComputeType<T>>
struct CoefficientSet {
  C base[kMaxCoefficients];
  C far;
  int64_t set = -1;

  TFA_INLINE void Read(const GpuProblem<T>& p, int64_t s) {
    if (s == set) return;
    set = s;
    double largest = 0;
    for (int j = 0; j < p.NumCoefficients(); ++j) {
      const C value =
          j <= p.m ? C(Load(p.numerator + s * (p.m + 1) + j))
                   : C(Load(p.denominator_b + s * p.n + (j - p.m - 1)));
      base[j] = value;
      const double magnitude = value < 0 ? -static_cast<double>(value)
                                         : static_cast<double>(value);
      largest = magnitude > largest ? magnitude : largest;
      if (value != value) largest = static_cast<double>(value);  // NaN
    }
    far = FarRadius<C>(largest * (1.0 + static_cast<double>(p.alpha)), p.m,
                       p.n);
  }
};

// The noise key of an RPAU (unused for a plain PAU).
template <typename T>
TFA_INLINE NoiseKey KeyOf(const GpuProblem<T>& p) {
  if (p.alpha == 0) return NoiseKey();
  return MakeNoiseKey(p.seed[0], p.seed[1], p.seed_count == 3 ? p.seed[2] : 0);
}

// Element `index`'s coefficients: the set's, randomized for an RPAU as the
// CPU kernel does.
template <typename T, typename C>
TFA_INLINE void ElementCoefficients(const GpuProblem<T>& p,
                                    const NoiseKey& key,
                                    const CoefficientSet<T, C>& set,
                                    int64_t index, C* coef) {
  const int count = p.NumCoefficients();
  for (int j = 0; j < count; ++j) coef[j] = set.base[j];
  if (p.alpha > 0) {
    const uint64_t i = key.Counter(index);
    const uint32_t h = ElementHash(key, static_cast<uint32_t>(i),
                                   static_cast<uint32_t>(i >> 32));
    const C alpha = static_cast<C>(p.alpha);
    for (int j = 0; j < count; ++j)
      coef[j] = Randomize(coef[j], alpha,
                          static_cast<C>(NoiseUniform(CoefficientHash(h, j))));
  }
}

template <typename T>
TFA_INLINE int64_t SetOf(const GpuProblem<T>& p, int64_t index) {
  return p.PerChannel() ? index % p.channels : 0;
}

// y = F(x) for thread t's elements of [0, size). x and y may alias.
template <typename T>
TFA_INLINE void ForwardThread(const Thread& t, const GpuProblem<T>& p,
                              const T* x, T* y) {
  using C = ComputeType<T>;
  const NoiseKey key = KeyOf(p);
  CoefficientSet<T> set;
  VisitDenominator(p.denominator, [&](auto tag) TFA_LAMBDA_INLINE {
    constexpr Denominator D = decltype(tag)::kValue;
    for (int64_t i = t.First(); i < p.size; i += t.Stride()) {
      set.Read(p, SetOf(p, i));
      C coef[kMaxCoefficients];
      ElementCoefficients(p, key, set, i, coef);
      Store(y + i, ScalarValue<D>(p.m, p.n, coef, set.far, C(Load(x + i))));
    }
  });
}

// Stage 1 of the gradient: for thread t's (chunk, lane) pairs of
// [0, Chunks() * Lanes()), dx = dy F'(x) of the chunk's elements in the lane
// and the sums of their coefficient gradients, in
// partial[(chunk * NumCoefficients() + j) * Lanes() + lane]. dx may alias
// dy.
template <typename T>
TFA_INLINE void BackwardThread(const Thread& t, const GpuProblem<T>& p,
                               const T* x, const T* dy, T* dx,
                               ComputeType<T>* partial) {
  using C = ComputeType<T>;
  const NoiseKey key = KeyOf(p);
  const int count = p.NumCoefficients();
  const int64_t lanes = p.Lanes(), rows = p.Rows();
  const int64_t chunk_rows = p.ChunkRows();
  const int64_t pairs = p.Chunks() * lanes;
  CoefficientSet<T> set;
  VisitDenominator(p.denominator, [&](auto tag) TFA_LAMBDA_INLINE {
    constexpr Denominator D = decltype(tag)::kValue;
    for (int64_t q = t.First(); q < pairs; q += t.Stride()) {
      const int64_t chunk = q / lanes, lane = q % lanes;
      set.Read(p, p.PerChannel() ? lane : 0);
      C sums[kMaxCoefficients];
      for (int j = 0; j < count; ++j) sums[j] = C(0);
      const int64_t end = chunk * chunk_rows + chunk_rows < rows
                              ? chunk * chunk_rows + chunk_rows
                              : rows;
      for (int64_t row = chunk * chunk_rows; row < end; ++row) {
        const int64_t i = row * lanes + lane;
        if (i >= p.size) break;  // the last row's tail
        C coef[kMaxCoefficients], grad[kMaxCoefficients];
        for (int j = 0; j < count; ++j) grad[j] = C(0);
        ElementCoefficients(p, key, set, i, coef);
        const C d = ScalarGradient<D>(p.m, p.n, coef, set.far, C(Load(x + i)),
                                      C(Load(dy + i)), grad);
        Store(dx + i, d);
        for (int j = 0; j < count; ++j) sums[j] += grad[j];
      }
      for (int j = 0; j < count; ++j)
        partial[(chunk * count + j) * lanes + lane] = sums[j];
    }
  });
}

// Stage 2: total[j * Lanes() + lane] = the chunks' partial sums, added in
// chunk order in double, for thread t's (j, lane) pairs.
template <typename T>
TFA_INLINE void SumChunksThread(const Thread& t, const GpuProblem<T>& p,
                                const ComputeType<T>* partial, double* total) {
  const int count = p.NumCoefficients();
  const int64_t lanes = p.Lanes(), chunks = p.Chunks();
  for (int64_t q = t.First(); q < count * lanes; q += t.Stride()) {
    const int64_t j = q / lanes, lane = q % lanes;
    double sum = 0;
    for (int64_t chunk = 0; chunk < chunks; ++chunk)
      sum += static_cast<double>(partial[(chunk * count + j) * lanes + lane]);
    total[q] = sum;
  }
}

// Finish: dnumerator [sets][m + 1] and ddenominator [sets][n] from total,
// a shared set's lanes added in lane order in double.
template <typename T>
TFA_INLINE void FinishThread(const Thread& t, const GpuProblem<T>& p,
                             const double* total, T* dnumerator,
                             T* ddenominator) {
  using C = ComputeType<T>;
  const int count = p.NumCoefficients();
  const int64_t lanes = p.Lanes();
  for (int64_t q = t.First(); q < p.Sets() * count; q += t.Stride()) {
    const int64_t set = q / count;
    const int j = static_cast<int>(q % count);
    double sum;
    if (p.PerChannel()) {
      sum = total[j * lanes + set];
    } else {
      sum = 0;
      for (int64_t lane = 0; lane < lanes; ++lane)
        sum += total[j * lanes + lane];
    }
    // double -> C -> T, as Eigen converts a double to a half type.
    const C value = static_cast<C>(sum);
    if (j <= p.m) {
      Store(dnumerator + set * (p.m + 1) + j, value);
    } else {
      Store(ddenominator + set * p.n + (j - p.m - 1), value);
    }
  }
}

// The launchers (pau_gpu.cu.cc), for T = float, double, Half and BFloat16:
// enqueue the kernels on `stream` and return nullptr, or the CUDA error's
// description if a launch failed. LaunchBackward's `partial` holds
// Chunks() * NumCoefficients() * Lanes() values and `total`
// NumCoefficients() * Lanes() (temp memory of the caller's).
template <typename T>
const char* LaunchForward(GpuStream stream, const GpuProblem<T>& p,
                          const T* x, T* y);
template <typename T>
const char* LaunchBackward(GpuStream stream, const GpuProblem<T>& p,
                           const T* x, const T* dy, T* dx, T* dnumerator,
                           T* ddenominator, ComputeType<T>* partial,
                           double* total);

}  // namespace pau
}  // namespace tf_approx

#endif  // TF_APPROX_CC_PAU_PAU_GPU_H_
