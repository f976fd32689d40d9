// Helpers shared by the OpKernels of every family (TensorFlow-dependent: only
// the *_kernels.cc files include this).
#ifndef TF_APPROX_CC_COMMON_KERNEL_UTIL_H_
#define TF_APPROX_CC_COMMON_KERNEL_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cc/common/counter_noise.h"
#include "cc/common/device.h"
#include "cc/common/row_sums.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/types.h"
#include "unsupported/Eigen/CXX11/Tensor"
#if GOOGLE_CUDA
#include "cc/common/convert_gpu.h"
#include "xla/stream_executor/stream.h"
#endif

namespace tf_approx {

// The device this compilation of a `<family>_kernels.cc` registers kernels
// for: each is compiled twice, into the op library (CPU kernels) and, with
// GOOGLE_CUDA=1, into the GPU kernel library (see cc/common/device.h).
#if GOOGLE_CUDA
using KernelDevice = GPUDevice;
#else
using KernelDevice = CPUDevice;
#endif

template <typename Device>
const char* DeviceName() {
  return std::is_same<Device, GPUDevice>::value ? ::tensorflow::DEVICE_GPU
                                                : ::tensorflow::DEVICE_CPU;
}

// Registers Kernel<D, T> as op `op`'s kernel for dtype T on device D, with
// any further KernelDefBuilder calls (e.g. `.HostMemory("units")`) after it.
#define TFA_REGISTER_KERNEL(op, Kernel, D, T, ...)                  \
  REGISTER_KERNEL_BUILDER(Name(op)                                  \
                              .Device(::tf_approx::DeviceName<D>()) \
                              .TypeConstraint<T>("T") __VA_ARGS__,  \
                          Kernel<D, T>)

// Calls REGISTER(T) for every dtype the ops take.
#define TFA_FOR_EACH_FLOAT_TYPE(REGISTER) \
  REGISTER(Eigen::half)                   \
  REGISTER(Eigen::bfloat16)               \
  REGISTER(float)                         \
  REGISTER(double)

// The element type a GPU launcher takes for T (cc/common/device.h).
template <typename T>
struct GpuTypeOf {
  using type = T;
};
template <>
struct GpuTypeOf<Eigen::half> {
  using type = Half;
};
template <>
struct GpuTypeOf<Eigen::bfloat16> {
  using type = BFloat16;
};
template <typename T>
using GpuType = typename GpuTypeOf<T>::type;

// A tensor's elements as the GPU launchers take them.
template <typename T>
const GpuType<T>* GpuData(const ::tensorflow::Tensor& t) {
  return reinterpret_cast<const GpuType<T>*>(t.flat<T>().data());
}
template <typename T>
GpuType<T>* GpuData(::tensorflow::Tensor* t) {
  return reinterpret_cast<GpuType<T>*>(t->flat<T>().data());
}

#if GOOGLE_CUDA
// The CUDA stream the op runs on.
inline GpuStream StreamOf(::tensorflow::OpKernelContext* ctx) {
  return ctx->op_device_context()->stream()->platform_specific_handle().stream;
}

// An error for a GPU launcher's failure (`error` is CUDA's description).
inline absl::Status LaunchStatus(const char* op, const char* error) {
  if (error == nullptr) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(op, ": the CUDA kernel failed to launch: ", error));
}
#endif  // GOOGLE_CUDA

// `to` = `from` converted from From to To (a half type to float32, or back;
// both tensors of one shape) on Device: Eigen's cast on the host,
// convert_gpu.h's LaunchConvert (the same bits) on the op's stream.
template <typename Device>
struct Conversion;

template <>
struct Conversion<CPUDevice> {
  template <typename From, typename To>
  static absl::Status Run(::tensorflow::OpKernelContext*, const char*,
                          const ::tensorflow::Tensor& from,
                          ::tensorflow::Tensor* to) {
    to->flat<To>() = from.flat<From>().template cast<To>();
    return absl::OkStatus();
  }
};

#if GOOGLE_CUDA
template <>
struct Conversion<GPUDevice> {
  template <typename From, typename To>
  static absl::Status Run(::tensorflow::OpKernelContext* ctx, const char* op,
                          const ::tensorflow::Tensor& from,
                          ::tensorflow::Tensor* to) {
    return LaunchStatus(op, LaunchConvert(StreamOf(ctx), GpuData<From>(from),
                                          GpuData<To>(to),
                                          from.NumElements()));
  }
};
#endif  // GOOGLE_CUDA

// A tensor's elements as ComputeType<T> in Device's memory: its own buffer,
// or a converted copy (the half types, in float32).
template <typename Device, typename T>
class ComputeInput {
 public:
  using C = ComputeType<T>;

  absl::Status Init(::tensorflow::OpKernelContext* ctx, const char* op,
                    const ::tensorflow::Tensor& t) {
    if constexpr (std::is_same<T, C>::value) {
      data_ = t.flat<T>().data();
      return absl::OkStatus();
    } else {
      TF_RETURN_IF_ERROR(ctx->allocate_temp(
          ::tensorflow::DataTypeToEnum<C>::value, t.shape(), &scratch_));
      data_ = scratch_.flat<C>().data();
      return Conversion<Device>::template Run<T, C>(ctx, op, t, &scratch_);
    }
  }

  const C* data() const { return data_; }

 private:
  ::tensorflow::Tensor scratch_;
  const C* data_ = nullptr;
};

// An output written as ComputeType<T> in Device's memory: the output's own
// buffer, or a float32 one (the half types) that Finish converts into it.
template <typename Device, typename T>
class ComputeOutput {
 public:
  using C = ComputeType<T>;

  absl::Status Init(::tensorflow::OpKernelContext* ctx,
                    ::tensorflow::Tensor* out) {
    out_ = out;
    if constexpr (std::is_same<T, C>::value) {
      data_ = out->flat<T>().data();
    } else {
      TF_RETURN_IF_ERROR(ctx->allocate_temp(
          ::tensorflow::DataTypeToEnum<C>::value, out->shape(), &scratch_));
      data_ = scratch_.flat<C>().data();
    }
    return absl::OkStatus();
  }

  C* data() { return data_; }

  absl::Status Finish(::tensorflow::OpKernelContext* ctx, const char* op) {
    if constexpr (std::is_same<T, C>::value) {
      return absl::OkStatus();
    } else {
      return Conversion<Device>::template Run<C, T>(ctx, op, scratch_, out_);
    }
  }

 private:
  ::tensorflow::Tensor* out_ = nullptr;
  ::tensorflow::Tensor scratch_;
  C* data_ = nullptr;
};

// The counter noise's key from op `op`'s `seed` input: [seed, step], or
// [seed, step, first] with `first` the counter of the input's first element.
inline absl::Status NoiseKeyFromSeed(const char* op,
                                     const ::tensorflow::Tensor& seed,
                                     NoiseKey* key) {
  if (seed.dims() != 1 || (seed.NumElements() != 2 && seed.NumElements() != 3)) {
    return absl::InvalidArgumentError(
        absl::StrCat(op,
                     ": `seed` must have shape [2] (seed, step) or [3] (seed, "
                     "step, first element), got ",
                     seed.shape().DebugString()));
  }
  const auto values = seed.flat<int64_t>();
  if (seed.NumElements() == 3 && values(2) < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": `seed`'s first element index must be >= 0, got ", values(2)));
  }
  *key = MakeNoiseKey(values(0), values(1),
                      seed.NumElements() == 3 ? values(2) : 0);
  return absl::OkStatus();
}

// OK if a gradient op's `dy` has the shape of its `x`; else the error of op
// `op` (e.g. "gaaf gradient") that says so.
inline absl::Status CheckDyShape(const char* op, const ::tensorflow::Tensor& dy,
                                 const ::tensorflow::Tensor& x) {
  if (dy.shape() == x.shape()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      op, ": `dy` must have the shape of `x`, ", x.shape().DebugString(),
      ", got ", dy.shape().DebugString()));
}

// Work below this many cycles (about 80 µs at 3 GHz) runs on the calling
// thread. Handing a job to the intra-op pool costs tens of µs where waking a
// sleeping worker is slow (measured on a 2-vCPU VM: FWHT of 128 x 1024 floats
// took 27 µs on one thread and 57 µs split over two; tf.sin on the same
// tensor 115 and 127 µs), more than Eigen's cost model assumes.
constexpr double kMinParallelCycles = 250000;

// Runs fn(begin, end) over [0, n) on the intra-op pool (`cost` per unit, for
// Eigen's cost model), or inline when the job is below kMinParallelCycles.
template <typename Fn>
void ParallelFor(::tensorflow::OpKernelContext* ctx, int64_t n,
                 const Eigen::TensorOpCost& cost, Fn&& fn) {
  if (n <= 0) return;
  if (static_cast<double>(n) * cost.compute_cycles() < kMinParallelCycles) {
    fn(0, n);
    return;
  }
  ctx->eigen_device<Eigen::ThreadPoolDevice>().parallelFor(
      n, cost, [&fn](Eigen::Index begin, Eigen::Index end) { fn(begin, end); });
}

// Parameter-gradient sums that do not depend on the number of threads. Rows
// [0, rows) are cut into chunks fixed by the shapes alone: about
// `chunk_rows` rows each (row_sums.h's SumChunkRows). fn(row_begin, row_end,
// slot) adds a chunk's sums to its own zeroed slot of `slot_size` Acc
// values; chunks run on the intra-op pool (`row_cost` is one row for Eigen's
// cost model). The slots are then added in chunk order, in double, which is
// what is returned.
template <typename Acc, typename Fn>
std::vector<double> DeterministicRowSums(::tensorflow::OpKernelContext* ctx,
                                         int64_t rows, int64_t chunk_rows,
                                         int64_t slot_size,
                                         const Eigen::TensorOpCost& row_cost,
                                         Fn&& fn) {
  chunk_rows = SumChunkRows(rows, chunk_rows);
  const int64_t chunks = rows == 0 ? 0 : (rows + chunk_rows - 1) / chunk_rows;
  std::vector<Acc> partial(chunks * slot_size, Acc(0));
  ParallelFor(ctx, chunks, row_cost * static_cast<double>(chunk_rows),
              [&](int64_t begin, int64_t end) {
                for (int64_t chunk = begin; chunk < end; ++chunk) {
                  fn(chunk * chunk_rows,
                     std::min(rows, (chunk + 1) * chunk_rows),
                     partial.data() + chunk * slot_size);
                }
              });
  std::vector<double> total(slot_size, 0.0);
  for (int64_t chunk = 0; chunk < chunks; ++chunk)
    for (int64_t i = 0; i < slot_size; ++i)
      total[i] += partial[chunk * slot_size + i];
  return total;
}

}  // namespace tf_approx

#endif  // TF_APPROX_CC_COMMON_KERNEL_UTIL_H_
