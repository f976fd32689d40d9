// Portability macros shared by every family's math header.
//
// The math headers compile three ways: into the CPU kernels (host, vectorised
// with GCC vector extensions), into the CUDA kernels (nvcc, scalar per thread)
// and into the pybind11 native module. Only these macros differ between them.
#ifndef TF_APPROX_CC_COMMON_PLATFORM_H_
#define TF_APPROX_CC_COMMON_PLATFORM_H_

#if defined(__CUDACC__)
#define TFA_HOST_DEVICE __host__ __device__
#define TFA_INLINE __host__ __device__ __forceinline__
#define TFA_NOINLINE __host__ __device__ __noinline__
#else
#define TFA_HOST_DEVICE
// Forced inlining matters for speed, not correctness: the CPU entry points are
// compiled once per instruction set (target_clones) and only code inlined into
// them is compiled for that instruction set.
#define TFA_INLINE inline __attribute__((always_inline))
// For rare paths that would only bloat the vector loops they are called from.
#define TFA_NOINLINE __attribute__((noinline))
#endif

// The same for lambdas, which GCC may otherwise leave out of line (and then
// compile for the baseline instruction set). nvcc inlines them anyway.
#if defined(__CUDACC__)
#define TFA_LAMBDA_INLINE
#else
#define TFA_LAMBDA_INLINE __attribute__((always_inline))
#endif

#endif  // TF_APPROX_CC_COMMON_PLATFORM_H_
