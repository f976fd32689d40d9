"""Finds and loads the op library, `_ops.so`.

The library is loaded eagerly when `tf_approx` is imported, so that a
SavedModel using its ops loads in any process that imported `tf_approx`.
Setting `TF_APPROX_PY_OPS=1` skips it: every function then runs its
composite twin from `tf_approx.reference` (slower, but needs no native code).
`TF_APPROX_ISA` forces which instruction set its CPU loops run with (see
`selected_isa` and cc/common/isa.cc).
"""

import ctypes
import functools
import os
import re
import warnings
from pathlib import Path

import tensorflow as tf

PY_OPS_ENV = "TF_APPROX_PY_OPS"
ISA_ENV = "TF_APPROX_ISA"
LIBRARY_PATH = Path(__file__).with_name("_ops.so")
REBUILD_COMMAND = "pip install --force-reinstall --no-deps --no-cache-dir ."

_BUILD_MARKER = re.compile(rb"TF_APPROX_BUILT_WITH_TENSORFLOW=([^;\x00]+);")


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
