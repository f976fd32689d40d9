"""Finds and loads the op library, `_ops.so`.

The library is loaded eagerly when `tf_approx` is imported, so that a
SavedModel using its ops loads in any process that imported `tf_approx`.
Setting `TF_APPROX_PY_OPS=1` skips it: every function then runs its
composite twin from `tf_approx.reference` (slower, but needs no native code).
`TF_APPROX_ISA` forces which instruction set its CPU loops run with (see
`selected_isa` and cc/common/isa.cc).

The GPU kernels live in a library of their own, `_ops_gpu.so` (built where
the CUDA toolkit was found, see setup.py). Once TensorFlow has a GPU kernel
for an op it places the op on the GPU, so that library is loaded only where
its kernels can run: a GPU is visible, the NVIDIA driver supports the CUDA
version it was built with, and every visible GPU's compute capability has a
kernel image in it. Otherwise the CPU kernels serve, after one warning that
says why; `gpu_status()` reports what happened.
"""

import ctypes
import dataclasses
import functools
import os
import re
import warnings
from pathlib import Path

import tensorflow as tf

PY_OPS_ENV = "TF_APPROX_PY_OPS"
ISA_ENV = "TF_APPROX_ISA"
LIBRARY_PATH = Path(__file__).with_name("_ops.so")
GPU_LIBRARY_PATH = Path(__file__).with_name("_ops_gpu.so")
REBUILD_COMMAND = "pip install --force-reinstall --no-deps --no-cache-dir ."

_BUILD_MARKER = re.compile(rb"TF_APPROX_BUILT_WITH_TENSORFLOW=([^;\x00]+);")
_CUDA_MARKER = re.compile(
    rb"TF_APPROX_BUILT_WITH_CUDA=([^;\x00]+);TF_APPROX_CUDA_ARCHS=([^;\x00]+);")


class OpLibraryError(ImportError):
  """The op library is missing or does not match the installed TensorFlow."""


def use_python_ops():
  """True when `TF_APPROX_PY_OPS` asks for the composite implementations."""
  return os.environ.get(PY_OPS_ENV, "").strip().lower() in ("1", "true", "yes")


def built_tensorflow_version(path=LIBRARY_PATH):
  """The TensorFlow version the library at `path` was compiled against."""
  match = _BUILD_MARKER.search(Path(path).read_bytes())
  return match.group(1).decode() if match else None


def _major_minor(version):
  return tuple(version.split(".")[:2])


def _error(problem, built=None):
  built_text = built or "unknown"
  return OpLibraryError(
      f"tf_approx: {problem}\n"
      f"  op library: {LIBRARY_PATH}\n"
      f"  built for TensorFlow {built_text}; installed TensorFlow is "
      f"{tf.__version__}.\n"
      f"  Rebuild it against the installed TensorFlow, from the tf_approx "
      f"source tree:\n    {REBUILD_COMMAND}\n"
      f"  or set {PY_OPS_ENV}=1 to run the slower composite implementations.")


def check_library(path=LIBRARY_PATH, installed=None):
  """Raises OpLibraryError unless `path` exists and matches TensorFlow."""
  installed = installed or tf.__version__
  if not Path(path).exists():
    raise _error("the op library was not built (is this a source checkout "
                 "without `pip install -e .`?).")
  built = built_tensorflow_version(path)
  if built is None or _major_minor(built) != _major_minor(installed):
    raise _error(
        "the op library was built for another TensorFlow version.", built)
  return built


@functools.cache
def load_ops():
  """Loads the op library once and returns its module of op wrappers.

  Returns None when `TF_APPROX_PY_OPS` is set (after warning once).

  Raises:
    OpLibraryError: the library is missing, was built for another
      TensorFlow, or fails to load; the message says which and how to rebuild.
  """
  if use_python_ops():
    warnings.warn(
        f"{PY_OPS_ENV} is set: tf_approx runs composite TensorFlow "
        "implementations instead of its native kernels.", stacklevel=2)
    return None
  built = check_library()
  try:
    library = tf.load_op_library(str(LIBRARY_PATH))
  except tf.errors.NotFoundError as e:
    raise _error(f"the op library failed to load: {e}", built) from e
  # The loader has picked the CPU clones by now, as if TF_APPROX_ISA were
  # unset when its value was refused.
  error = _isa_function("tf_approx_isa_error")()
  if error is not None:
    raise OpLibraryError(f"tf_approx: {error.decode()}")
  _load_gpu_kernels()
  return library


@functools.cache
def _isa_function(name):
  # dlopen of the loaded library's path returns the handle TensorFlow opened
  # (one more reference to it, which ctypes never drops: so once a name).
  function = getattr(ctypes.CDLL(str(LIBRARY_PATH)), name)
  function.restype = ctypes.c_char_p
  function.argtypes = []
  return function


def selected_isa():
  """The instruction set the op library's CPU kernels run with.

  One of "avx512f", "fma" (AVX2 and FMA) or "default" (baseline x86-64): the
  best this CPU supports, or the one `TF_APPROX_ISA` forced when the library
  loaded. None when `TF_APPROX_PY_OPS` runs the composite implementations.

  Raises:
    OpLibraryError: as `load_ops`.
  """
  if load_ops() is None:
    return None
  return _isa_function("tf_approx_selected_isa")().decode()


@dataclasses.dataclass(frozen=True)
class GpuStatus:
  """What `gpu_status()` reports.

  Attributes:
    built: whether the GPU kernel library was built (`_ops_gpu.so` exists).
    cuda_version: the CUDA version it was built with, e.g. "13.0"; None if
      not built.
    archs: the compute capabilities it has machine code for, e.g. (75, 80,
      90), the last also as PTX that newer GPUs compile at load time.
    loaded: whether its kernels are registered: ops placed on a GPU run
      there.
    reason: why it was not loaded (None if it was).
  """
  built: bool
  cuda_version: str | None
  archs: tuple
  loaded: bool
  reason: str | None


_gpu_status = None


def gpu_status():
  """Whether tf_approx's ops run on the GPU here, and if not, why.

  Returns:
    A `GpuStatus`. Loads the op library first (see `load_ops`).
  """
  load_ops()
  if _gpu_status is None:  # TF_APPROX_PY_OPS: nothing native is loaded
    return GpuStatus(GPU_LIBRARY_PATH.exists(), None, (), False,
                     f"{PY_OPS_ENV} is set")
  return _gpu_status


def gpu_build_info(path=GPU_LIBRARY_PATH):
  """(CUDA version, archs) the GPU library at `path` was built with."""
  match = _CUDA_MARKER.search(Path(path).read_bytes())
  if match is None:
    return None, ()
  archs = tuple(int(a) for a in match.group(2).decode().split(","))
  return match.group(1).decode(), archs


def _driver_cuda_version():
  """The CUDA version the NVIDIA driver supports (e.g. 13000), or None."""
  try:
    libcuda = ctypes.CDLL("libcuda.so.1")
  except OSError:
    return None
  version = ctypes.c_int(0)
  if libcuda.cuDriverGetVersion(ctypes.byref(version)) != 0:
    return None
  return version.value


def has_kernel_image(capability, archs):
  """Whether a GPU of compute capability (major, minor) runs code for `archs`.

  Machine code for sm_XY runs on X.Y and later minor versions of X; the PTX
  of the last arch is compiled by the driver for any later GPU.
  """
  major, minor = capability
  if any(a // 10 == major and a % 10 <= minor for a in archs):
    return True
  return bool(archs) and (major * 10 + minor) >= archs[-1]


def gpu_unusable_reason(cuda_version, archs, driver_version, capabilities):
  """Why the GPU kernels cannot run here, or None if they can.

  Args:
    cuda_version: the library's CUDA version, "major.minor".
    archs: the compute capabilities it has kernels for.
    driver_version: the driver's CUDA version (cuDriverGetVersion: 1000 *
      major + 10 * minor), or None where the driver could not be asked.
    capabilities: the visible GPUs' (major, minor) compute capabilities
      (None for one TensorFlow could not read).
  """
  if not capabilities:
    return "no GPU is visible to TensorFlow"
  major, minor = (int(v) for v in cuda_version.split(".")[:2])
  if driver_version is None:
    return "the NVIDIA driver's CUDA version could not be read (libcuda.so.1)"
  if driver_version < 1000 * major + 10 * minor:
    return (f"the kernels were built with CUDA {cuda_version}, which needs an "
            f"NVIDIA driver for CUDA {cuda_version} or later (driver 580 or "
            f"later for CUDA 13); this driver supports CUDA "
            f"{driver_version // 1000}.{driver_version % 1000 // 10}")
  for capability in capabilities:
    if capability is None:
      return "a GPU's compute capability could not be read"
    if not has_kernel_image(capability, archs):
      return (f"a GPU of compute capability {capability[0]}.{capability[1]} "
              f"has no kernel image (built for "
              f"{', '.join(f'{a // 10}.{a % 10}' for a in archs)}; rebuild "
              f"with TF_APPROX_CUDA_ARCHS)")
  return None


def _load_gpu_kernels():
  """Loads `_ops_gpu.so` where its kernels can run (module docstring)."""
  global _gpu_status
  if not GPU_LIBRARY_PATH.exists():
    _gpu_status = GpuStatus(False, None, (), False,
                            "built without CUDA (see README, GPU)")
    return
  cuda_version, archs = gpu_build_info()
  status = functools.partial(GpuStatus, True, cuda_version, archs)
  gpus = tf.config.list_physical_devices("GPU")
  capabilities = [
      tf.config.experimental.get_device_details(gpu).get(
          "compute_capability") for gpu in gpus]
  if not gpus:
    # Nothing to warn about: there is no GPU to use.
    _gpu_status = status(False, "no GPU is visible to TensorFlow")
    return
  reason = gpu_unusable_reason(cuda_version, archs, _driver_cuda_version(),
                               capabilities)
  if reason is None:
    try:
      tf.load_library(str(GPU_LIBRARY_PATH))
    except tf.errors.NotFoundError as e:
      reason = f"the GPU kernel library failed to load: {e}"
  if reason is not None:
    warnings.warn(f"tf_approx: its ops run on the CPU: {reason}.",
                  stacklevel=3)
    _gpu_status = status(False, reason)
    return
  _gpu_status = status(True, None)
