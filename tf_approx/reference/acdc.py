"""ACDC and the orthonormal DCTs composed from plain TensorFlow ops.

The twins of the native kernels (thesis §3.10): the oracles the tests compare them
with, and what runs under XLA or with `TF_APPROX_PY_OPS=1`. They use
`tf.signal.dct` / `tf.signal.idct` (type II, norm='ortho'), which compute
through an FFT of twice the length; gradients come from autodiff.
"""

import tensorflow as tf

_HALF_TYPES = (tf.float16, tf.bfloat16)


def _compute_dtype(dtype):
  return tf.float32 if dtype in _HALF_TYPES else dtype


def dct(x, inverse=False):
  """The orthonormal DCT-II of the last axis, or DCT-III with `inverse`.

  Args:
    x: float tensor of rank >= 1.
    inverse: compute the DCT-III, the inverse (and transpose) of the DCT-II.

  Returns:
    A tensor like x. Half types are computed in float32.

  Raises:
    ValueError: x is a scalar.
  """
  x = tf.convert_to_tensor(x)
  if x.shape.rank == 0:
    raise ValueError("`x` must have rank >= 1 (the last axis is "
                     "transformed), got a scalar")
  out_dtype = x.dtype
  x = tf.cast(x, _compute_dtype(out_dtype))
  transform = tf.signal.idct if inverse else tf.signal.dct
  # tf.signal's DCTs fail on empty inputs (a negative padding for n = 0, an
  # RFFT length check for no rows); an empty input is its own transform.
  count = x.shape.num_elements()
  if count == 0:
    y = x
  elif count is None:  # rows known at run time only
    y = tf.cond(tf.size(x) > 0, lambda: transform(x, type=2, norm="ortho"),
                lambda: x)
  else:
    y = transform(x, type=2, norm="ortho")
  return tf.cast(y, out_dtype)


def acdc(x, a, d, bias):
  """One ACDC layer: IDCT(DCT(x * a) * d + bias) along the last axis.

  Args:
    x: float tensor [..., n].
    a, d, bias: [n] each.

  Returns:
    A tensor like x. Half types are computed in float32.
  """
  x = tf.convert_to_tensor(x)
  out_dtype = x.dtype
  compute = _compute_dtype(out_dtype)
  x = tf.cast(x, compute)
  a, d, bias = (tf.cast(v, compute) for v in (a, d, bias))
  y = dct(dct(x * a) * d + bias, inverse=True)
  return tf.cast(y, out_dtype)
