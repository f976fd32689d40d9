"""The fast Walsh–Hadamard transform composed from plain TensorFlow ops.

The twin of the native kernel (thesis §3.9): the oracle the tests compare it with,
and what runs under XLA or with `TF_APPROX_PY_OPS=1`. Each stage is one
reshape and one stack of the butterflies (a + b, a - b), in the kernel's
order, so float32 and float64 results match the kernel bitwise. Gradients
come from autodiff.
"""

import math

import tensorflow as tf

_HALF_TYPES = (tf.float16, tf.bfloat16)


def fast_walsh_hadamard(x, normalize=False):
  """H_d x along the last axis (d = 2^k), scaled by 1/sqrt(d) if `normalize`.

  Args:
    x: float tensor of rank >= 1 whose last axis is a static power of two.
    normalize: scale by 1/sqrt(d), which makes the transform orthonormal.

  Returns:
    A tensor like x. Half types are computed in float32.

  Raises:
    ValueError: x is a scalar or its last axis is not a static power of two.
  """
  x = tf.convert_to_tensor(x)
  if x.shape.rank == 0:
    raise ValueError("`x` must have rank >= 1 (the last axis is transformed),"
                     " got a scalar")
  d = x.shape[-1]
  if d is None or d < 1 or d & (d - 1):
    raise ValueError(f"the last axis of `x` must be a static power of two "
                     f"(1, 2, 4, ...), got {d} (shape {x.shape})")
  out_dtype = x.dtype
  if out_dtype in _HALF_TYPES:
    x = tf.cast(x, tf.float32)
  leading = tf.shape(x)[:-1]
  y = tf.reshape(x, [-1, d])
  h = 1
  while h < d:
    pairs = tf.reshape(y, [-1, d // (2 * h), 2, h])
    a, b = pairs[:, :, 0, :], pairs[:, :, 1, :]
    y = tf.reshape(tf.stack([a + b, a - b], axis=2), [-1, d])
    h *= 2
  if normalize:
    y = y * tf.constant(1.0 / math.sqrt(d), y.dtype)
  y = tf.reshape(y, tf.concat([leading, [d]], axis=0))
  return tf.cast(y, out_dtype)


def fastfood(x, s, g, b, permutation, units, normalize=False):
  """Adaptive Fastfood, as TfApprox>Fastfood computes it.

  Block k of the output is S_k H G_k Π_k H B_k x for every row x (the last
  axis, zero-padded to d), (Π_k v)_i = v[permutation[k, i]]; the blocks are
  stacked and truncated to `units`.

  Args:
    x: float tensor [..., n_in], n_in <= d.
    s, g, b: the diagonals, [blocks, d] each, blocks = ceil(units / d), d a
      static power of two.
    permutation: int tensor [blocks, d], a permutation of 0..d-1 per row.
    units: the number of outputs.
    normalize: scale each H by 1/sqrt(d).

  Returns:
    A tensor [..., units] of x's dtype. Half types are computed in float32.
  """
  x = tf.convert_to_tensor(x)
  out_dtype = x.dtype
  compute = tf.float32 if out_dtype in _HALF_TYPES else out_dtype
  x = tf.cast(x, compute)
  s, g, b = (tf.cast(v, compute) for v in (s, g, b))
  blocks, d = s.shape
  n_in = x.shape[-1]
  leading = tf.shape(x)[:-1]
  # The row count is explicit: -1 is ambiguous for n_in = 0.
  rows = tf.reshape(x, tf.stack([tf.reduce_prod(leading), n_in]))
  rows = tf.pad(rows, [[0, 0], [0, d - n_in]])
  v = rows[None, :, :] * b[:, None, :]  # [blocks, rows, d]
  v = fast_walsh_hadamard(v, normalize)
  v = tf.gather(v, tf.cast(permutation, tf.int32), axis=2, batch_dims=1)
  v = fast_walsh_hadamard(v * g[:, None, :], normalize) * s[:, None, :]
  y = tf.reshape(tf.transpose(v, [1, 0, 2]), [-1, blocks * d])[:, :units]
  y = tf.reshape(y, tf.concat([leading, [units]], axis=0))
  return tf.cast(y, out_dtype)
