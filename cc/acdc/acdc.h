// The math of ACDC (thesis §3.10), written once.
//
// One ACDC layer maps a row x of length n to
//   h1 = x ⊙ a,  h2 = C h1,  h3 = h2 ⊙ d + bias,  y = C^T h3
// with C the orthonormal DCT-II (C^T = C^-1 the orthonormal DCT-III), and its
// gradients (thesis eq. 3.28-3.32) are
//   g = C dy,  dd = h2 ⊙ g,  dbias = g,  t = C^T (d ⊙ g),  da = x ⊙ t,
//   dx = a ⊙ t
// (never dividing by a; h2 is recomputed, not stored).
//
// Each DCT goes through one complex FFT (Makhoul, 1980): for real v (x
// reordered even-indices-then-odd-reversed), C x = Re(e^{-iπk/2n} FFT(v))
// scaled, and its inverse runs the same steps backwards. For even n the real
// v of length n is packed into a complex sequence of length n/2 (even
// samples as the real part, odd ones as the imaginary part) and the spectrum
// of v is split out of that half-length FFT; for odd n, v goes through a
// length-n FFT with a zero imaginary part. A complex FFT never carries two
// independent transforms: a transform's rounding errors scale with its own
// input alone, and a NaN or Inf stays in its own row. The FFT is a
// power-of-two decimation-in-time FFT (two stages per pass) when its length
// is a power of two, otherwise Bluestein's chirp-z convolution through a
// power of two m >= 2 len - 1: O(n log n) for every n.
//
// Every function is a template over V, a scalar or a GCC vector whose lanes
// hold *different rows* (the CPU kernels transform kLanes rows at once with
// the same twiddles); arrays of V are split into real and imaginary parts.
// Every loop of the transforms is a phase (SerialPhase below): the CPU runs
// its iterations in order, a GPU thread block spreads them over its threads
// and meets at a barrier, with the same result. The tables (Plan) are built
// on the host in double precision. No TensorFlow includes: shared by the CPU
// kernels and the CUDA kernels.
#ifndef TF_APPROX_CC_ACDC_ACDC_H_
#define TF_APPROX_CC_ACDC_ACDC_H_

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "cc/common/dispatch.h"
#include "cc/common/platform.h"
#include "cc/common/row_sums.h"

namespace tf_approx {
namespace acdc {


// The length of the complex FFT of a DCT of length n: n / 2 for even n (the
// real sequence packed into half as many complex numbers), n for odd n.
inline int64_t ComplexLength(int64_t n) { return n % 2 == 0 ? n / 2 : n; }

// The length of the power-of-two FFT that computes a complex FFT of length
// n: n itself if a power of two, else the smallest power of two >= 2n - 1
// (Bluestein).
inline int64_t FftLength(int64_t n) {
  if (IsPowerOfTwo(n)) return n;
  int64_t m = 1;
  while (m < 2 * n - 1) m <<= 1;
  return m;
}

// Read-only views of the tables of a length-n transform (complex numbers as
// separate real and imaginary arrays).
template <typename S>
struct Plan {
  int64_t n = 1;
  int64_t fft_n = 1;  // ComplexLength(n)
  int64_t m = 1;      // FftLength(fft_n)
  // exp(-2πi j / m), j < m / 2.
  const S* twiddle_re = nullptr;
  const S* twiddle_im = nullptr;
  // DCT-II post-twiddle with the orthonormal scale: c_k e^{-iπk/2n}, k < n,
  // c_0 = sqrt(1/n), c_k = sqrt(2/n); halved for even n (the halves of the
  // spectrum split, exact).
  const S* shift_re = nullptr;
  const S* shift_im = nullptr;
  // DCT-III pre-twiddle, with the inverse FFT's 1/n: e^{iπk/2n} / (c_k n).
  const S* ishift_re = nullptr;
  const S* ishift_im = nullptr;
  // Even n only: exp(-2πi k / n), k < n / 2, which splits the spectrum of
  // the packed half-length sequence into that of the real one.
  const S* split_re = nullptr;
  const S* split_im = nullptr;
  // Bluestein only (m != fft_n): the chirp w_k = e^{-iπk²/fft_n},
  // k < fft_n, and the FFT of the wrapped conjugate chirp, divided by m.
  const S* chirp_re = nullptr;
  const S* chirp_im = nullptr;
  const S* kernel_re = nullptr;
  const S* kernel_im = nullptr;

  TFA_INLINE bool bluestein() const { return m != fft_n; }
  TFA_INLINE bool packed() const { return fft_n != n; }

  // fn(&table, count) for each table the plan uses (so that a copy of the
  // tables, e.g. in device memory, can be pointed to).
  template <typename Fn>
  void ForEachTable(Fn&& fn) {
    const int64_t half = m / 2 > 0 ? m / 2 : 1;
    fn(&twiddle_re, half);
    fn(&twiddle_im, half);
    fn(&shift_re, n);
    fn(&shift_im, n);
    fn(&ishift_re, n);
    fn(&ishift_im, n);
    if (packed()) {
      fn(&split_re, fft_n);
      fn(&split_im, fft_n);
    }
    if (bluestein()) {
      fn(&chirp_re, fft_n);
      fn(&chirp_im, fft_n);
      fn(&kernel_re, m);
      fn(&kernel_im, m);
    }
  }
};

// The loops of the transforms below are phases: phase(count, body) calls
// body(i) for every i in [0, count) and returns when all are done, in any
// order and on any threads (a GPU thread block's threads take the i's and
// meet at a barrier). No two calls of one phase's body touch the same
// element, so every schedule gives SerialPhase's result, bitwise.
struct SerialPhase {
  template <typename Body>
  TFA_INLINE void operator()(int64_t count, Body&& body) const {
    for (int64_t i = 0; i < count; ++i) body(i);
  }
};

TFA_INLINE int Log2Of(int64_t m) {
  int k = 0;
  while ((int64_t{1} << k) < m) ++k;
  return k;
}

// i's lowest `bits` bits reversed.
TFA_INLINE int64_t BitReverse(int64_t i, int bits) {
  int64_t r = 0;
  for (int b = 0; b < bits; ++b, i >>= 1) r = (r << 1) | (i & 1);
  return r;
}

template <typename V>
TFA_INLINE void Swap(V* re, V* im, int64_t i, int64_t j) {
  const V tr = re[i], ti = im[i];
  re[i] = re[j];
  im[i] = im[j];
  re[j] = tr;
  im[j] = ti;
}

template <typename Phase>
constexpr bool kIsSerial =
    std::is_same<std::decay_t<Phase>, SerialPhase>::value;

// (re, im)[i] <-> (re, im)[BitReverse(i)] for i < m (a power of two): moves
// only, so any order gives the same bits. The serial loop steps the reversed
// index along; other phases reverse each index.
template <typename V, typename Phase>
TFA_INLINE void BitReversal(int64_t m, V* re, V* im, Phase&& phase) {
  if constexpr (kIsSerial<Phase>) {
    for (int64_t i = 1, j = 0; i < m; ++i) {
      int64_t bit = m >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) Swap(re, im, i, j);
    }
  } else {
    const int bits = Log2Of(m);
    phase(m, [&](int64_t i) TFA_LAMBDA_INLINE {
      const int64_t j = BitReverse(i, bits);
      if (i < j) Swap(re, im, i, j);
    });
  }
}

// The first two decimation-in-time stages (twiddles 1 and -i) on the four
// elements from r, i.
template <typename V>
TFA_INLINE void FftFirstTwoStages(V* r, V* i) {
  const V a0r = r[0] + r[1], a0i = i[0] + i[1];
  const V a1r = r[0] - r[1], a1i = i[0] - i[1];
  const V a2r = r[2] + r[3], a2i = i[2] + i[3];
  const V a3r = r[2] - r[3], a3i = i[2] - i[3];
  r[0] = a0r + a2r;
  i[0] = a0i + a2i;
  r[2] = a0r - a2r;
  i[2] = a0i - a2i;
  // a3 (-i) = (a3i, -a3r).
  r[1] = a1r + a3i;
  i[1] = a1i - a3r;
  r[3] = a1r - a3i;
  i[3] = a1i + a3r;
}

// Stages len and 2 len (L = len) at once on elements j, j + L/2, j + L and
// j + 3L/2 from r0, i0 (a 2L block): both butterflies in registers. Stage
// 2L's twiddle for the second pair is W_2L^j (-i).
template <typename V, typename T>
TFA_INLINE void FftTwoStages(int64_t m, int64_t len, const T* tw_re,
                             const T* tw_im, V* r0, V* i0, int64_t j) {
  const int64_t quarter = len >> 1;
  const int64_t step1 = m / len;
  const int64_t step2 = step1 >> 1;
  V* r1 = r0 + quarter;
  V* i1 = i0 + quarter;
  V* r2 = r0 + len;
  V* i2 = i0 + len;
  V* r3 = r2 + quarter;
  V* i3 = i2 + quarter;
  const T w1r = tw_re[j * step1], w1i = tw_im[j * step1];
  const T w2r = tw_re[j * step2], w2i = tw_im[j * step2];
  const V tr = r1[j] * w1r - i1[j] * w1i;
  const V ti = r1[j] * w1i + i1[j] * w1r;
  const V ur = r3[j] * w1r - i3[j] * w1i;
  const V ui = r3[j] * w1i + i3[j] * w1r;
  const V q0r = r0[j] + tr, q0i = i0[j] + ti;
  const V q1r = r0[j] - tr, q1i = i0[j] - ti;
  const V q2r = r2[j] + ur, q2i = i2[j] + ui;
  const V q3r = r2[j] - ur, q3i = i2[j] - ui;
  const V vr = q2r * w2r - q2i * w2i;
  const V vi = q2r * w2i + q2i * w2r;
  // z = q3 W_2L^j (-i) = (im, -re) of q3 W_2L^j.
  const V zr = q3r * w2i + q3i * w2r;
  const V zi = -(q3r * w2r - q3i * w2i);
  r0[j] = q0r + vr;
  i0[j] = q0i + vi;
  r2[j] = q0r - vr;
  i2[j] = q0i - vi;
  r1[j] = q1r + zr;
  i1[j] = q1i + zi;
  r3[j] = q1r - zr;
  i3[j] = q1i - zi;
}

// The last stage alone (len = m, an odd number of stages), pair j.
template <typename V, typename T>
TFA_INLINE void FftLastStage(int64_t m, const T* tw_re, const T* tw_im, V* re,
                             V* im, int64_t j) {
  const int64_t half = m >> 1;
  const T w_re = tw_re[j], w_im = tw_im[j];
  const V t_re = re[half + j] * w_re - im[half + j] * w_im;
  const V t_im = re[half + j] * w_im + im[half + j] * w_re;
  re[half + j] = re[j] - t_re;
  im[half + j] = im[j] - t_im;
  re[j] = re[j] + t_re;
  im[j] = im[j] + t_im;
}

// In-place forward FFT of length m (a power of two) of (re, im), with
// tw = exp(-2πi j / m), j < m / 2: bit-reversal permutation, then the
// decimation-in-time stages, two per phase.
template <typename V, typename T, typename Phase>
TFA_INLINE void FftRadix2(int64_t m, const T* tw_re, const T* tw_im, V* re,
                          V* im, Phase&& phase) {
  BitReversal(m, re, im, phase);
  int64_t len = 2;
  if (m >= 4) {
    phase(m / 4, [&](int64_t q) TFA_LAMBDA_INLINE {
      FftFirstTwoStages(re + 4 * q, im + 4 * q);
    });
    len = 8;
  }
  for (; 2 * len <= m; len <<= 2) {
    // j < len / 2 in each block of 2 len: m / 4 items. The serial loops
    // keep each block's pointers and step its twiddles along.
    if constexpr (kIsSerial<Phase>) {
      for (int64_t start = 0; start < m; start += 2 * len) {
        for (int64_t j = 0; j < (len >> 1); ++j) {
          FftTwoStages(m, len, tw_re, tw_im, re + start, im + start, j);
        }
      }
    } else {
      const int quarter_bits = Log2Of(len >> 1);
      phase(m / 4, [&](int64_t item) TFA_LAMBDA_INLINE {
        const int64_t start = (item >> quarter_bits) * 2 * len;
        FftTwoStages(m, len, tw_re, tw_im, re + start, im + start,
                     item & ((len >> 1) - 1));
      });
    }
  }
  if (len <= m) {
    phase(len >> 1, [&](int64_t j) TFA_LAMBDA_INLINE {
      FftLastStage(m, tw_re, tw_im, re, im, j);
    });
  }
}

template <typename V, typename T>
TFA_INLINE void FftRadix2(int64_t m, const T* tw_re, const T* tw_im, V* re,
                          V* im) {
  FftRadix2(m, tw_re, tw_im, re, im, SerialPhase());
}

// Owns the tables of a Plan (host memory).
template <typename S>
class PlanTables {
 public:
  explicit PlanTables(int64_t n)
      : n_(n), fft_n_(ComplexLength(n)), m_(FftLength(fft_n_)) {
    const double pi = 3.14159265358979323846;
    const int64_t half = m_ / 2 > 0 ? m_ / 2 : 1;
    std::vector<double> twiddle(2 * half);
    for (int64_t j = 0; j < half; ++j) {
      twiddle[2 * j] = std::cos(-2 * pi * j / m_);
      twiddle[2 * j + 1] = std::sin(-2 * pi * j / m_);
    }
    Split(twiddle, &twiddle_re_, &twiddle_im_);
    const bool packed = fft_n_ != n_;
    std::vector<double> shift(2 * n), ishift(2 * n);
    for (int64_t k = 0; k < n; ++k) {
      const double c = k == 0 ? std::sqrt(1.0 / n) : std::sqrt(2.0 / n);
      const double angle = pi * k / (2.0 * n);
      const double scale = packed ? c / 2 : c;
      shift[2 * k] = scale * std::cos(-angle);
      shift[2 * k + 1] = scale * std::sin(-angle);
      ishift[2 * k] = std::cos(angle) / (c * n);
      ishift[2 * k + 1] = std::sin(angle) / (c * n);
    }
    Split(shift, &shift_re_, &shift_im_);
    Split(ishift, &ishift_re_, &ishift_im_);
    if (packed) {
      std::vector<double> split(2 * fft_n_);
      for (int64_t k = 0; k < fft_n_; ++k) {
        split[2 * k] = std::cos(-2 * pi * k / n_);
        split[2 * k + 1] = std::sin(-2 * pi * k / n_);
      }
      Split(split, &split_re_, &split_im_);
    }
    if (m_ != fft_n_) BuildBluestein(pi);
  }

  Plan<S> plan() const {
    Plan<S> p;
    p.n = n_;
    p.fft_n = fft_n_;
    p.m = m_;
    p.twiddle_re = twiddle_re_.data();
    p.twiddle_im = twiddle_im_.data();
    p.shift_re = shift_re_.data();
    p.shift_im = shift_im_.data();
    p.ishift_re = ishift_re_.data();
    p.ishift_im = ishift_im_.data();
    if (fft_n_ != n_) {
      p.split_re = split_re_.data();
      p.split_im = split_im_.data();
    }
    if (m_ != fft_n_) {
      p.chirp_re = chirp_re_.data();
      p.chirp_im = chirp_im_.data();
      p.kernel_re = kernel_re_.data();
      p.kernel_im = kernel_im_.data();
    }
    return p;
  }

 private:
  static void Split(const std::vector<double>& interleaved, std::vector<S>* re,
                    std::vector<S>* im) {
    const size_t size = interleaved.size() / 2;
    re->resize(size);
    im->resize(size);
    for (size_t i = 0; i < size; ++i) {
      (*re)[i] = static_cast<S>(interleaved[2 * i]);
      (*im)[i] = static_cast<S>(interleaved[2 * i + 1]);
    }
  }

  // The chirp of length fft_n, and the FFT of its wrapped conjugate,
  // computed in double by FftRadix2.
  void BuildBluestein(double pi) {
    const int64_t len = fft_n_;
    std::vector<double> chirp(2 * len);
    for (int64_t k = 0; k < len; ++k) {
      // k² mod 2 len keeps the angle exact for large k.
      const int64_t r = (k * k) % (2 * len);
      chirp[2 * k] = std::cos(-pi * r / len);
      chirp[2 * k + 1] = std::sin(-pi * r / len);
    }
    Split(chirp, &chirp_re_, &chirp_im_);
    std::vector<double> re(m_, 0.0), im(m_, 0.0);
    for (int64_t k = 0; k < len; ++k) {
      re[k] = chirp[2 * k];
      im[k] = -chirp[2 * k + 1];
      if (k > 0) {
        re[m_ - k] = re[k];
        im[m_ - k] = im[k];
      }
    }
    std::vector<double> tw_re(m_ / 2), tw_im(m_ / 2);
    for (int64_t j = 0; j < m_ / 2; ++j) {
      tw_re[j] = std::cos(-2 * pi * j / m_);
      tw_im[j] = std::sin(-2 * pi * j / m_);
    }
    FftRadix2(m_, tw_re.data(), tw_im.data(), re.data(), im.data());
    kernel_re_.resize(m_);
    kernel_im_.resize(m_);
    for (int64_t j = 0; j < m_; ++j) {
      kernel_re_[j] = static_cast<S>(re[j] / m_);
      kernel_im_[j] = static_cast<S>(im[j] / m_);
    }
  }

  int64_t n_, fft_n_, m_;
  std::vector<S> twiddle_re_, twiddle_im_, shift_re_, shift_im_, ishift_re_,
      ishift_im_, split_re_, split_im_, chirp_re_, chirp_im_, kernel_re_,
      kernel_im_;
};

// Scratch (in V elements) that Dct2 and Dct3 need.
template <typename S>
TFA_INLINE int64_t ScratchSize(const Plan<S>& p) {
  return 2 * p.m;
}

// In-place forward FFT of length fft_n of (re, im), through Bluestein when
// fft_n is not a power of two; (re, im) must hold m elements (the first
// fft_n the input).
template <typename V, typename S, typename Phase>
TFA_INLINE void Fft(const Plan<S>& p, V* re, V* im, Phase&& phase) {
  const int64_t len = p.fft_n;
  if (!p.bluestein()) {
    FftRadix2(len, p.twiddle_re, p.twiddle_im, re, im, phase);
    return;
  }
  phase(len, [&](int64_t k) TFA_LAMBDA_INLINE {  // a_k = z_k w_k
    const V r = re[k] * p.chirp_re[k] - im[k] * p.chirp_im[k];
    im[k] = re[k] * p.chirp_im[k] + im[k] * p.chirp_re[k];
    re[k] = r;
  });
  phase(p.m - len, [&](int64_t k) TFA_LAMBDA_INLINE {
    re[len + k] = im[len + k] = V{};
  });
  FftRadix2(p.m, p.twiddle_re, p.twiddle_im, re, im, phase);
  // Multiply by the kernel's FFT; conjugate, so that a forward FFT computes
  // the inverse (scaled by m, which the kernel's 1/m cancels).
  phase(p.m, [&](int64_t j) TFA_LAMBDA_INLINE {
    const V r = re[j] * p.kernel_re[j] - im[j] * p.kernel_im[j];
    const V i = re[j] * p.kernel_im[j] + im[j] * p.kernel_re[j];
    re[j] = r;
    im[j] = -i;
  });
  FftRadix2(p.m, p.twiddle_re, p.twiddle_im, re, im, phase);
  phase(len, [&](int64_t k) TFA_LAMBDA_INLINE {  // X_k = w_k conj(result_k)
    const V r = re[k], i = -im[k];
    re[k] = r * p.chirp_re[k] - i * p.chirp_im[k];
    im[k] = r * p.chirp_im[k] + i * p.chirp_re[k];
  });
}

// Makhoul's reordering v of x: even indices ascending, then odd ones
// descending (v_i = x_{2i} for i < ceil(n/2), v_{n-1-i} = x_{2i+1}).
TFA_INLINE int64_t MakhoulSource(int64_t n, int64_t i) {
  return 2 * i < n ? 2 * i : 2 * (n - i) - 1;
}

// Orthonormal DCT-II of the real sequence u of length n, in place; scratch:
// ScratchSize(p).
template <typename V, typename S, typename Phase>
TFA_INLINE void Dct2(const Plan<S>& p, V* u, V* scratch, Phase&& phase) {
  const int64_t n = p.n;
  V* re = scratch;
  V* im = scratch + p.m;
  if (!p.packed()) {
    // Odd n: V = FFT(v) with a zero imaginary part; X_k = Re(shift_k V_k).
    phase(n, [&](int64_t i) TFA_LAMBDA_INLINE {
      re[i] = u[MakhoulSource(n, i)];
      im[i] = V{};
    });
    Fft(p, re, im, phase);
    phase(n, [&](int64_t k) TFA_LAMBDA_INLINE {
      u[k] = re[k] * p.shift_re[k] - im[k] * p.shift_im[k];
    });
    return;
  }
  // Even n: z_j = v_{2j} + i v_{2j+1}, j < h = n/2, and Z = FFT_h(z).
  const int64_t h = p.fft_n;
  phase(h, [&](int64_t j) TFA_LAMBDA_INLINE {
    re[j] = u[MakhoulSource(n, 2 * j)];
    im[j] = u[MakhoulSource(n, 2 * j + 1)];
  });
  Fft(p, re, im, phase);
  // The spectrum of v (twice it: the shift holds the 1/2): with
  // E_k = Z_k + conj Z_{h-k}, O_k = (Z_k - conj Z_{h-k}) / i,
  // V_k = E_k + W^k O_k and V_{k+h} = E_k - W^k O_k (W = e^{-2πi/n});
  // then X_k = Re(shift_k V_k).
  phase(h, [&](int64_t k) TFA_LAMBDA_INLINE {
    const int64_t r = k == 0 ? 0 : h - k;
    const V e_re = re[k] + re[r];
    const V e_im = im[k] - im[r];
    const V o_re = im[k] + im[r];
    const V o_im = re[r] - re[k];
    const S w_re = p.split_re[k], w_im = p.split_im[k];
    const V t_re = o_re * w_re - o_im * w_im;
    const V t_im = o_re * w_im + o_im * w_re;
    u[k] = (e_re + t_re) * p.shift_re[k] - (e_im + t_im) * p.shift_im[k];
    u[k + h] =
        (e_re - t_re) * p.shift_re[k + h] - (e_im - t_im) * p.shift_im[k + h];
  });
}

template <typename V, typename S>
TFA_INLINE void Dct2(const Plan<S>& p, V* u, V* scratch) {
  Dct2(p, u, scratch, SerialPhase());
}

// Orthonormal DCT-III (the inverse of Dct2) of the real sequence u of length
// n, in place; scratch: ScratchSize(p).
template <typename V, typename S, typename Phase>
TFA_INLINE void Dct3(const Plan<S>& p, V* u, V* scratch, Phase&& phase) {
  const int64_t n = p.n;
  V* re = scratch;
  V* im = scratch + p.m;
  // U_k = ishift_k (X_k - i X_{n-k}) (X_n = 0), which has the 1/n of the
  // inverse FFT: v_j = sum_k U_k e^{2πijk/n}, computed as
  // conj(FFT(conj(.))).
  if (!p.packed()) {
    phase(n, [&](int64_t k) TFA_LAMBDA_INLINE {
      const V x = u[k], y = k == 0 ? V{} : u[n - k];
      re[k] = x * p.ishift_re[k] + y * p.ishift_im[k];
      im[k] = y * p.ishift_re[k] - x * p.ishift_im[k];  // conjugated
    });
    Fft(p, re, im, phase);
    phase(n, [&](int64_t i) TFA_LAMBDA_INLINE {
      u[MakhoulSource(n, i)] = re[i];
    });
    return;
  }
  // Even n: z_j = v_{2j} + i v_{2j+1} = sum_{k<h} Z_k e^{2πijk/h} with
  // Z_k = (U_k + U_{k+h}) + i e^{2πik/n} (U_k - U_{k+h}).
  const int64_t h = p.fft_n;
  phase(h, [&](int64_t k) TFA_LAMBDA_INLINE {
    const V x = u[k], y = k == 0 ? V{} : u[n - k];
    const V a_re = x * p.ishift_re[k] + y * p.ishift_im[k];
    const V a_im = x * p.ishift_im[k] - y * p.ishift_re[k];
    const V xh = u[k + h], yh = u[h - k];
    const V b_re = xh * p.ishift_re[k + h] + yh * p.ishift_im[k + h];
    const V b_im = xh * p.ishift_im[k + h] - yh * p.ishift_re[k + h];
    const V d_re = a_re - b_re, d_im = a_im - b_im;
    const S w_re = p.split_re[k], w_im = p.split_im[k];
    // q = (U_k - U_{k+h}) conj(W^k).
    const V q_re = d_re * w_re + d_im * w_im;
    const V q_im = d_im * w_re - d_re * w_im;
    re[k] = (a_re + b_re) - q_im;
    im[k] = -((a_im + b_im) + q_re);  // conjugated
  });
  Fft(p, re, im, phase);
  phase(h, [&](int64_t j) TFA_LAMBDA_INLINE {
    u[MakhoulSource(n, 2 * j)] = re[j];
    u[MakhoulSource(n, 2 * j + 1)] = -im[j];
  });
}

template <typename V, typename S>
TFA_INLINE void Dct3(const Plan<S>& p, V* u, V* scratch) {
  Dct3(p, u, scratch, SerialPhase());
}

// ---------------------------------------------------------------------------
// The layer, on one row (or a vector of rows) at a time.

template <typename S>
struct Problem {
  Plan<S> plan;  // of the row length n
  // [n] each.
  const S* a = nullptr;
  const S* d = nullptr;
  const S* bias = nullptr;
};

// The CPU kernels transform a vector of rows at a time, a row per lane of a
// kVectorBytes vector, for rows of up to kMaxVectorLength, and a row at a
// time beyond (to keep their scratch small): RowsPerUnit rows. The
// gradient's sums follow those lanes on either device (ChunkRows).
constexpr int64_t kMaxVectorLength = 65536;
constexpr int64_t kVectorBytes = 64;

TFA_INLINE int64_t RowsPerUnit(int64_t n, bool is_double) {
  if (n > kMaxVectorLength) return 1;
  return kVectorBytes / (is_double ? 8 : 4);
}

// The parameter gradients' sums over rows run in chunks fixed by the shapes
// alone (row_sums.h): about kChunkElements / n rows each, whole units of
// RowsPerUnit rows. Within a chunk each lane sums its rows (lane l: rows l,
// l + unit, ... of the chunk) from zero, the lanes are added to the chunk's
// sum lowest first, and the chunks' sums are added in order in double
// (cc/common/kernel_util.h's DeterministicRowSums on the CPU).
constexpr int64_t kChunkElements = 65536;

TFA_INLINE int64_t ChunkRows(int64_t rows, int64_t n, int64_t unit) {
  return SumChunkRows(rows, kChunkElements / n, unit);
}

// u <- C^T (C u ⊙ d + bias), u = x ⊙ a on entry; work: ScratchSize(p.plan).
template <typename V, typename S, typename Phase>
TFA_INLINE void ForwardSteps(const Problem<S>& p, V* u, V* work,
                             Phase&& phase) {
  Dct2(p.plan, u, work, phase);
  phase(p.plan.n, [&](int64_t j) TFA_LAMBDA_INLINE {
    u[j] = u[j] * p.d[j] + p.bias[j];
  });
  Dct3(p.plan, u, work, phase);
}

// The gradient of one row (or vector of rows), h = x ⊙ a and g = dy on
// entry: h2 = C h and g = C dy, each through its own FFT; add_g(j, h2_j,
// g_j) takes dd += h2 ⊙ g and dbias += g; t = C^T (d ⊙ g), add_t(j, t_j)
// takes da += x ⊙ t; h = dx = a ⊙ t on return. work: ScratchSize(p.plan).
template <typename V, typename S, typename Phase, typename AddG,
          typename AddT>
TFA_INLINE void BackwardSteps(const Problem<S>& p, V* h, V* g, V* work,
                              Phase&& phase, AddG&& add_g, AddT&& add_t) {
  const int64_t n = p.plan.n;
  Dct2(p.plan, h, work, phase);
  Dct2(p.plan, g, work, phase);
  phase(n, [&](int64_t j) TFA_LAMBDA_INLINE {
    add_g(j, h[j], g[j]);
    h[j] = g[j] * p.d[j];
  });
  Dct3(p.plan, h, work, phase);
  phase(n, [&](int64_t j) TFA_LAMBDA_INLINE {
    add_t(j, h[j]);
    h[j] = h[j] * p.a[j];
  });
}

}  // namespace acdc
}  // namespace tf_approx

#endif  // TF_APPROX_CC_ACDC_ACDC_H_
