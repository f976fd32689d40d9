"""Helpers shared by the op wrappers of every family."""

import tensorflow as tf
from tensorflow.python.ops import control_flow_util  # pylint: disable=g-direct-tensorflow-import

from tf_approx import _library

SUPPORTED_DTYPES = (tf.float16, tf.bfloat16, tf.float32, tf.float64)


def in_xla_context():
  """True while tracing a function that XLA will compile (jit_compile=True)."""
  if tf.executing_eagerly():
    return False
  graph = tf.compat.v1.get_default_graph()
  return control_flow_util.GraphOrParentsInXlaContext(graph)


def native_library():
  """The loaded op library, or None where the composite twin must run.

  None under `TF_APPROX_PY_OPS=1` and inside an XLA context, which cannot
  compile custom ops.
  """
  library = _library.load_ops()
  if library is None or in_xla_context():
    return None
  return library


def check_dtype(x, name="x"):
  """Raises TypeError unless `x` has one of the supported float dtypes."""
  if x.dtype not in SUPPORTED_DTYPES:
    raise TypeError(
        f"`{name}` must be one of "
        f"{', '.join(d.name for d in SUPPORTED_DTYPES)}; got {x.dtype.name}")


def op_attrs(op, names):
  """{name: op's attr} for `names`, string attrs decoded from bytes: the
  keyword arguments with which a gradient calls the op's wrappers again."""
  attrs = {}
  for name in names:
    value = op.get_attr(name)
    attrs[name] = value.decode() if isinstance(value, bytes) else value
  return attrs
