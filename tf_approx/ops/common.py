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


def twin_gradient(twin, inputs, dy):
  """The gradients of `twin(*inputs)` with respect to `inputs`, given `dy`.

  What a registered gradient returns where the native gradient op cannot
  run (inside XLA, or under `TF_APPROX_PY_OPS=1`): the gradient of the
  composite twin. An input the twin does not use gets zeros.
  """
  inputs = list(inputs)
  with tf.GradientTape() as tape:
    tape.watch(inputs)
    y = twin(*inputs)
  return tape.gradient(y, inputs, output_gradients=dy,
                       unconnected_gradients=tf.UnconnectedGradients.ZERO)


def check_dtype(x, name="x"):
  """Raises TypeError unless `x` has one of the supported float dtypes."""
  if x.dtype not in SUPPORTED_DTYPES:
    raise TypeError(
        f"`{name}` must be one of "
        f"{', '.join(d.name for d in SUPPORTED_DTYPES)}; got {x.dtype.name}")


def noise_seed(seed, x, draws=True):
  """The `seed` input of an op that draws counter noise for `x`.

  `seed` is [seed, step] (None: [0, 0]) or [seed, step, first]. The noise of
  an element is keyed by its flat index plus `first`, the global index of
  x's first element. Inside a replica of a tf.distribute strategy with more
  than one replica, [seed, step] gets `first` = the elements of the replicas
  before this one (their sizes are gathered), so every example of the global
  batch draws the noise it would draw on one device, and no two replicas
  draw the same. Nothing is gathered where the op draws no noise
  (`draws` False).
  """
  if seed is None:
    seed = tf.zeros([2], tf.int64)
  try:
    seed = tf.convert_to_tensor(seed)
  except (TypeError, ValueError) as e:
    raise ValueError(f"`seed` must be int64 values [seed, step], got {seed!r}"
                     f" ({e})") from None
  if not seed.dtype.is_integer:
    raise TypeError(f"`seed` must hold integers, got {seed.dtype.name} "
                    "(a float seed would be truncated)")
  seed = tf.cast(seed, tf.int64)
  context = tf.distribute.get_replica_context()
  # Other shapes are left to the op, which names `seed` in its error.
  if (not draws or seed.shape.rank != 1 or seed.shape[0] != 2
      or context is None or context.num_replicas_in_sync == 1):
    return seed
  sizes = context.all_gather(
      tf.reshape(tf.size(x, out_type=tf.int64), [1]), axis=0)
  before = tf.range(context.num_replicas_in_sync) < (
      context.replica_id_in_sync_group)
  first = tf.reduce_sum(tf.where(before, sizes, tf.zeros_like(sizes)))
  return tf.concat([seed, [first]], 0)


def op_attrs(op, names):
  """{name: op's attr} for `names`, string attrs decoded from bytes: the
  keyword arguments with which a gradient calls the op's wrappers again."""
  attrs = {}
  for name in names:
    value = op.get_attr(name)
    attrs[name] = value.decode() if isinstance(value, bytes) else value
  return attrs
