"""The approximated activations composed from plain TensorFlow ops.

The twin of the native kernels: the oracle the tests compare them with, and
what runs under XLA (which cannot compile custom ops) or with
`TF_APPROX_PY_OPS=1`. Gradients come from autodiff, except word2vec's table,
whose gradient is the documented choice of the native kernel, and fastexp's,
which is the kernel's closed form (autodiff through the squarings would give
inf * 0 = NaN once (1 - x/n)^n overflows, where f' underflows to 0). As in
the kernels, NaN in gives NaN out, for the value and for the gradient.

Unlike the native kernels, the rationals here are evaluated in Horner form
only, so |x| beyond ~1e9 (float32) can overflow to NaN where the native
kernel switches to an exact 1/x form.
"""

import numpy as np
import tensorflow as tf

_HALF_TYPES = (tf.float16, tf.bfloat16)
WORD2VEC_TABLE_SIZE = 1000


def word2vec_table():
  """word2vec.c's expTable: e / (e + 1), e = exp((i / 1000.f * 2 - 1) * 6)."""
  i = np.arange(WORD2VEC_TABLE_SIZE, dtype=np.float32)
  arg = (i / np.float32(1000) * np.float32(2) - np.float32(1)) * np.float32(6)
  e = np.exp(arg.astype(np.float64)).astype(np.float32)
  return e / (e + np.float32(1))


def _horner(coefficients, x):
  acc = tf.fill(tf.shape(x), tf.constant(coefficients[-1], x.dtype))
  for c in reversed(coefficients[:-1]):
    acc = acc * x + c
  return acc


def _rational(spec, x):
  return (_horner(spec.numerator, x) / _horner(spec.denominator, x) +
          spec.offset)


def _fastexp_sigmoid(spec, x):
  """1 / (1 + e), e = b^n, b = 1 - x/n; f' = b^(n-1) / (1 + e)^2."""

  @tf.custom_gradient
  def sigmoid(x):
    e = 1.0 - x / float(2**spec.squarings)
    power = tf.ones_like(e)  # b^(n-1), the product of b, b^2, b^4, ...
    for _ in range(spec.squarings):
      power = power * e
      e = e * e
    r = 1.0 / (1.0 + e)

    def grad(dy):
      # e = inf (|x| far beyond n): f' underflows; inf * 0 would not.
      d = tf.where(tf.equal(e, np.inf), tf.zeros_like(e), power * r * r)
      return dy * d

    return r, grad

  return sigmoid(x)


def _ultra_fast_sigmoid(spec, x):
  del spec
  half = 0.5 * x
  z = tf.abs(half)
  # Near 0 the curve is written with x rather than |x| in the numerator:
  # autodiff takes |x|'s slope at 0 as 0, which would zero the gradient
  # there. The clip keeps the unselected branch finite for any x.
  inner_x = tf.clip_by_value(half, -1.7, 1.7)
  inner = 1.5 * inner_x / (1.0 + tf.abs(inner_x))
  outer = tf.where(
      z < 3.0, 0.935409070603099 + 0.0458812946797165 * (z - 1.7),
      tf.fill(tf.shape(z), tf.constant(0.99505475368673, x.dtype)))
  y = tf.where(z < 1.7, 0.5 + 0.5 * inner,
               tf.where(x < 0, 0.5 - 0.5 * outer, 0.5 + 0.5 * outer))
  # NaN fails every comparison, which selects a constant.
  return tf.where(tf.math.is_nan(x), x, y)


def _word2vec_sigmoid(spec, x):
  del spec
  table = tf.constant(word2vec_table(), x.dtype)

  @tf.custom_gradient
  def lookup(x):
    inside = tf.logical_and(x >= -6.0, x <= 6.0)
    # NaN would cast to INT_MIN, out of the table: look up 0 there instead
    # (the lookup is then replaced by NaN below).
    index = tf.cast((tf.where(inside, x, tf.zeros_like(x)) + 6.0) * 83.0,
                    tf.int32)
    y = tf.where(x > 6.0, tf.ones_like(x),
                 tf.where(x < -6.0, tf.zeros_like(x), tf.gather(table, index)))
    y = tf.where(tf.math.is_nan(x), x, y)

    def grad(dy):
      # The table is piecewise constant; the gradient is the sigmoid's
      # y (1 - y) at the looked-up value (see cc/activations/activations.h).
      d = tf.where(inside, y * (1.0 - y), tf.zeros_like(y))
      return dy * tf.where(tf.math.is_nan(x), x, d)

    return y, grad

  return lookup(x)


def _hard_tanh(spec, x):
  del spec
  return tf.clip_by_value(x, -1.0, 1.0)


def _hard_sigmoid(spec, x):
  del spec
  return tf.clip_by_value(0.25 * x + 0.5, 0.0, 1.0)


_FUNCTIONS = {
    "rational": _rational,
    "fastexp_sigmoid": _fastexp_sigmoid,
    "ultra_fast_sigmoid": _ultra_fast_sigmoid,
    "word2vec_sigmoid": _word2vec_sigmoid,
    "hard_tanh": _hard_tanh,
    "hard_sigmoid": _hard_sigmoid,
}


@tf.custom_gradient
def _nan_gradient_at_nan(x):
  """x, whose gradient is NaN where x is NaN (f'(NaN) = NaN, as the kernel).

  Autodiff would give dy f'(NaN), finite where f' does not depend on x (a
  linear piece, or a clip's gradient of 0).
  """
  return tf.identity(x), lambda dy: tf.where(tf.math.is_nan(x), x, dy)


def activation(x, spec):
  """The approximation `spec` (an `ActivationSpec`) from plain TF ops."""
  x = _nan_gradient_at_nan(tf.convert_to_tensor(x))
  dtype = x.dtype
  if dtype in _HALF_TYPES:
    x = tf.cast(x, tf.float32)
  if spec.clip is not None:
    x = tf.clip_by_value(x, *spec.clip)
  y = _FUNCTIONS[spec.kind](spec, x)
  return tf.cast(y, dtype) if dtype in _HALF_TYPES else y
