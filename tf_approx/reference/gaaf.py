"""GAAF composed from plain TensorFlow ops (Hahn and Choi; cc/gaaf/gaaf.h).

The twin of the native kernels: the oracle the tests compare them with, and
what runs under XLA or with `TF_APPROX_PY_OPS=1`. g(x) = (xK - floor(xK) -
1/2) / K is computed in float64 with slope 1 (a custom gradient), from xK as
an unevaluated sum hi + lo of two doubles (an error-free product: x and K are
split into 26 and 27 significant bits, as in the kernel), so that the
fractional part of xK is exact to a few 2^-53 for float64 inputs as well
(a float32 x gives lo = 0).
"""

import numpy as np
import tensorflow as tf

BASES = ("tanh", "sigmoid", "relu")
SHAPES = ("exp", "sigmoid", "none")
DEFAULT_SHAPES = {"tanh": "exp", "sigmoid": "exp", "relu": "sigmoid"}
_HALF_TYPES = (tf.float16, tf.bfloat16)
_BASES = {"tanh": tf.tanh, "sigmoid": tf.sigmoid, "relu": tf.nn.relu}


def _high_bits(x):
  """float64 x with the low 27 bits of its significand cleared.

  26 significant bits are left, and x - _high_bits(x) is exact with at most
  27. By masking, as the kernel does, rather than Veltkamp's x (2^27 + 1),
  which overflows for huge x and which a fused multiply-add would break.
  """
  bits = tf.bitcast(x, tf.int64)
  mask = tf.constant(~((1 << 27) - 1), tf.int64)
  return tf.bitcast(tf.bitwise.bitwise_and(bits, mask), tf.float64)


def _fraction_of_product(x, k):
  """xK - floor(xK) in [0, 1] for float64 x and K, without rounding xK first.

  xK = hi + lo, hi = fl(xK), lo from the split products (Dekker's exact
  product; only x_lo k_lo, 54 bits, may round, by 2^-105 |xK|). Where hi
  is an integer the fraction is lo's; elsewhere it is frac(hi) + lo, which
  stays in [0, 1] since |lo| <= ulp(hi) / 2 <= frac(hi) (frac(hi) is exact
  for |hi| >= 1). A fraction that rounds to 1 stays 1 (it is within 2^-53
  of 1; wrapping it to 0 would be off by 1).
  """
  k = tf.constant(k, tf.float64)
  k_hi, x_hi = _high_bits(k), _high_bits(x)
  k_lo, x_lo = k - k_hi, x - x_hi
  hi = x * k
  lo = (((x_hi * k_hi - hi) + x_hi * k_lo) + x_lo * k_hi) + x_lo * k_lo
  floor = tf.floor(hi)
  return tf.where(hi == floor, lo - tf.floor(lo), (hi - floor) + lo)


def sawtooth(x, k):
  """g(x) with dg/dx = 1, computed in float64, returned in x's dtype."""
  k = float(np.float32(k))  # a float32 attr of the op

  @tf.custom_gradient
  def g(x):
    x64 = tf.cast(x, tf.float64)
    scaled = x64 * k
    value = (_fraction_of_product(x64, k) - 0.5) / k
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


def _nan_where(mask, y):
  """y, and its gradient, with NaN where mask holds."""

  @tf.custom_gradient
  def f(y):
    nan = tf.constant(np.nan, y.dtype)
    return tf.where(mask, nan, y), lambda dy: tf.where(mask, nan, dy)

  return f(y)


def gaaf(x, base="tanh", shape="exp", k=10000.0, center=0.0, width=1.0):
  """phi(x) + g(x) s(x), as TfApprox>Gaaf computes it.

  g has no limit at x = +-inf: where s(+-inf) = 0 the product g s takes its
  limit 0 (the result is phi's), elsewhere (shape 'none', 'sigmoid' at -inf)
  the result and its gradient are NaN.
  """
  x = tf.convert_to_tensor(x)
  out_dtype = x.dtype
  compute = tf.float32 if out_dtype in _HALF_TYPES else out_dtype
  x = tf.cast(x, compute)
  # The op's attrs are float32.
  center, width = float(np.float32(center)), float(np.float32(width))
  s = shape_function(shape, x, center, width)
  y = _BASES[base](x) + sawtooth(x, k) * s
  y = _nan_where(tf.math.is_inf(x) & tf.not_equal(s, 0), y)
  return tf.cast(y, out_dtype)
