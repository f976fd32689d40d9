"""GAAF composed from plain TensorFlow ops (Kim et al., GAAF; cc/gaaf/gaaf.h).

The twin of the native kernels: the oracle the tests compare them with, and
what runs under XLA or with `TF_APPROX_PY_OPS=1`. g(x) = (xK - floor(xK) -
1/2) / K is computed in float64 with slope 1 (a custom gradient), which is
exact for float32 inputs (xK is an exact double) but, unlike the kernel's
split products, loses g for float64 |x| beyond about 2^53 / K.
"""

import numpy as np
import tensorflow as tf

BASES = ("tanh", "sigmoid", "relu")
SHAPES = ("exp", "sigmoid", "none")
DEFAULT_SHAPES = {"tanh": "exp", "sigmoid": "exp", "relu": "sigmoid"}
_HALF_TYPES = (tf.float16, tf.bfloat16)
_BASES = {"tanh": tf.tanh, "sigmoid": tf.sigmoid, "relu": tf.nn.relu}


def sawtooth(x, k):
  """g(x) with dg/dx = 1, computed in float64, returned in x's dtype."""
  k = float(np.float32(k))  # a float32 attr of the op

  @tf.custom_gradient
  def g(x):
    scaled = tf.cast(x, tf.float64) * k
    value = (scaled - tf.floor(scaled) - 0.5) / k
    # inf - inf is NaN, which s(x) = 0 would not cancel: g is bounded, so
    # take 0 where x K overflows (phi(x) is then the result, as in the
    # kernel); NaN x still gives NaN through phi.
    value = tf.where(tf.math.is_finite(scaled), value, tf.zeros_like(value))
    return tf.cast(value, x.dtype), lambda dy: dy

  return g(x)


def shape_function(shape, x, center, width):
  a = (x - center) / width
  if shape == "exp":
    return tf.exp(-tf.abs(a))
  if shape == "sigmoid":
    return tf.sigmoid(-a)
  return tf.ones_like(x)


def gaaf(x, base="tanh", shape="exp", k=10000.0, center=0.0, width=1.0):
  """phi(x) + g(x) s(x), as TfApprox>Gaaf computes it."""
  x = tf.convert_to_tensor(x)
  out_dtype = x.dtype
  compute = tf.float32 if out_dtype in _HALF_TYPES else out_dtype
  x = tf.cast(x, compute)
  # The op's attrs are float32.
  center, width = float(np.float32(center)), float(np.float32(width))
  y = _BASES[base](x) + sawtooth(x, k) * shape_function(shape, x, center,
                                                         width)
  return tf.cast(y, out_dtype)
