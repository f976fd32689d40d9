// The GPU kernels' arguments as the native modules take them (attr names,
// shapes, seed lengths), checked and turned into each family's problem in one
// place for `_native.gpu_model` (gpu_model.cc, compiled by g++) and
// `_gpu_harness` (gpu_harness.cu.cc, compiled by nvcc). Host code only; no
// TensorFlow and no pybind11: arrays are described by their numpy dtype kind,
// item size and shape. Errors are std::invalid_argument, which pybind11 raises
// as ValueError.
#ifndef TF_APPROX_CC_NATIVE_PROBLEMS_H_
#define TF_APPROX_CC_NATIVE_PROBLEMS_H_

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cc/common/device.h"
#include "cc/common/gpu_model.h"
#include "cc/fastfood/fastfood.h"
#include "cc/gaaf/gaaf.h"
#include "cc/noisy/noisy.h"
#include "cc/noisy/noisy_gpu.h"
#include "cc/pau/pau.h"
#include "cc/pau/pau_gpu.h"

namespace tf_approx {
namespace native {

inline void Require(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument(message);
}

// The block size of a block program (cc/native/block_programs.h): whole
// warps, at most CUDA's 1024 threads.
inline void CheckBlock(int64_t threads) {
  Require(threads >= kWarpSize && threads <= 1024 && threads % kWarpSize == 0,
          "threads must be a multiple of 32 in [32, 1024]");
}

// Calls fn(T{}) with T the element type of an array of numpy dtype kind `kind`
// and `itemsize` bytes: float16, float32, float64, or with `bfloat16` the
// uint16 bit patterns of bfloat16 values (numpy has no bfloat16).
template <typename Fn>
auto DispatchType(char kind, int64_t itemsize, bool bfloat16, Fn&& fn)
    -> decltype(fn(float{})) {
  if (bfloat16) {
    Require(kind == 'u' && itemsize == 2,
            "bfloat16 values are passed as their uint16 bit patterns");
    return fn(BFloat16{});
  }
  Require(kind == 'f' && (itemsize == 2 || itemsize == 4 || itemsize == 8),
          "x must be float16, float32 or float64");
  if (itemsize == 2) return fn(Half{});
  if (itemsize == 4) return fn(float{});
  return fn(double{});
}

// GAAF's attrs.
template <typename C>
gaaf::Problem<C> GaafProblem(const std::string& base, const std::string& shape,
                             double k, double center, double width) {
  gaaf::Problem<C> p;
  const char* error =
      gaaf::MakeProblem(base.c_str(), shape.c_str(), k, center, width, &p);
  Require(error == nullptr, error ? error : "");
  return p;
}

// The noisy activations' attrs, for an x of `size` elements, `channels`
// values of p (1 for a shared p) and a seed of `seed_size` values.
template <typename C>
noisy::GpuProblem<C> NoisyProblem(const std::string& base,
                                  const std::string& where,
                                  const std::string& noise, double alpha,
                                  bool training, int64_t size,
                                  int64_t channels, int64_t seed_size) {
  noisy::GpuProblem<C> prob;
  noisy::Base parsed_base;
  Require(noisy::ParseBase(base.c_str(), &parsed_base),
          "noisy_activation: unknown `base` '" + base + "'");
  Require(noisy::ParseWhere(where.c_str(), &prob.where),
          "noisy_activation: unknown `where` '" + where + "'");
  Require(noise == "normal" || noise == "half_normal",
          "noisy_activation: `noise` must be 'normal' or 'half_normal'");
  Require(seed_size == 2 || seed_size == 3,
          "noisy_activation: `seed` must be [seed, step] or [seed, step, "
          "first]");
  prob.half_normal = noise == "half_normal";
  prob.params = noisy::MakeParams<C>(parsed_base, static_cast<C>(alpha), C(0),
                                     prob.half_normal);
  prob.training = training;
  prob.size = size;
  prob.channels = channels;
  prob.seed_size = static_cast<int>(seed_size);
  return prob;
}

// PAU's attrs and shapes (the coefficients: rank 1 shared, rank 2 one row per
// channel of x's last axis). The data pointers are left for the caller.
template <typename T>
pau::GpuProblem<T> PauProblem(const std::vector<int64_t>& x_shape,
                              const std::vector<int64_t>& numerator_shape,
                              const std::vector<int64_t>& denominator_shape,
                              int64_t seed_size, const std::string& kind,
                              double alpha) {
  pau::GpuProblem<T> p;
  Require(pau::ParseDenominator(kind.c_str(), &p.denominator),
          "pau: unknown `denominator_kind` '" + kind + "'");
  const std::vector<int64_t>& ns = numerator_shape;
  const std::vector<int64_t>& ds = denominator_shape;
  Require((ns.size() == 1 || ns.size() == 2) && ds.size() == ns.size(),
          "pau: `numerator` and `denominator` must both have rank 1 or 2");
  Require(ns.back() >= 2 && ns.back() <= pau::kMaxOrder + 1 &&
              ds.back() >= 1 && ds.back() <= pau::kMaxOrder,
          "pau: orders must be 1..10");
  if (ns.size() == 2) {
    Require(!x_shape.empty() && x_shape.back() == ns[0] && ds[0] == ns[0] &&
                ns[0] > 0,
            "pau: per-channel coefficients need one row per channel of `x`");
    p.channels = ns[0];
  }
  Require(seed_size == 2 || seed_size == 3,
          "pau: `seed` must be (seed, step) or (seed, step, first)");
  Require(std::isfinite(alpha) && alpha >= 0, "pau: `randomized` must be >= 0");
  int64_t size = 1;
  for (int64_t d : x_shape) size *= d;
  p.m = static_cast<int>(ns.back() - 1);
  p.n = static_cast<int>(ds.back());
  p.size = size;
  p.alpha = static_cast<float>(alpha);
  p.seed_count = static_cast<int>(seed_size);
  return p;
}

// Fastfood's problem for x of shape x_shape and s of shape s_shape ([blocks,
// d], blocks = ceil(units / d)), g, b and the permutation of s's size: the
// shapes checked, and each row of the permutation a permutation of 0..d-1
// (unless `perm` is null: in device memory). The caller points p.s, p.g and
// p.b (and p.perm, if null here) at the parameters.
template <typename S>
fastfood::Problem<S> FastfoodProblem(const std::vector<int64_t>& x_shape,
                                     const std::vector<int64_t>& s_shape,
                                     int64_t g_size, int64_t b_size,
                                     int64_t perm_size, const int32_t* perm,
                                     int64_t units, bool normalize) {
  Require(!x_shape.empty() && s_shape.size() == 2, "fastfood: bad ranks");
  const int64_t d = s_shape[1];
  Require(d > 0 && (d & (d - 1)) == 0, "fastfood: d must be a power of two");
  Require(units >= 1, "fastfood: `units` must be >= 1");
  const int64_t blocks = (units + d - 1) / d;
  const int64_t size = s_shape[0] * d;
  Require(s_shape[0] == blocks && g_size == size && b_size == size &&
              perm_size == size,
          "fastfood: s, g, b, permutation must be [ceil(units / d), d]");
  const int64_t n_in = x_shape.back();
  Require(n_in <= d, "fastfood: the last axis of `x` must be at most d");
  for (int64_t k = 0; perm != nullptr && k < blocks; ++k) {
    std::vector<bool> seen(d, false);
    for (int64_t i = 0; i < d; ++i) {
      const int32_t j = perm[k * d + i];
      Require(j >= 0 && j < d && !seen[j],
              "fastfood: rows of `permutation` must be permutations");
      seen[j] = true;
    }
  }
  fastfood::Problem<S> p;
  p.n_in = n_in;
  p.units = units;
  p.d = d;
  p.blocks = blocks;
  p.scale = normalize ? static_cast<S>(1.0 / std::sqrt(double(d))) : S(1);
  p.perm = perm;
  return p;
}

}  // namespace native
}  // namespace tf_approx

#endif  // TF_APPROX_CC_NATIVE_PROBLEMS_H_
