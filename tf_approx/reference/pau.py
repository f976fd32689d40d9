"""Padé Activation Units composed from plain TensorFlow ops.

The twin of the native PAU kernels (Molina et al., Padé Activation Units): the oracle the tests compare
them with, and what runs under XLA or with `TF_APPROX_PY_OPS=1`. Gradients
come from autodiff. RPAU noise is computed with the same counter-based hash as
cc/common/counter_noise.h, so the twin and the kernel draw identical noise.

For |x| > 1, P and Q are both divided by |x|^d, d the degree of the highest
nonzero b_k (of the highest nonzero coefficient where F overflows), and a zero
coefficient's term is left out where its power overflows; the kernels do the
same beyond a radius that depends on the coefficients. So F is finite
wherever it is finite mathematically (and has the right sign where it
overflows), and both agree there.
"""

import numpy as np
import tensorflow as tf

from tf_approx.reference.counter_noise import noise_uniform

DENOMINATORS = ("safe", "abs_of_sum", "unsafe")
_HALF_TYPES = (tf.float16, tf.bfloat16)


def pau(x, numerator, denominator, denominator_kind="safe", randomized=0.0,
        seed=(0, 0)):
  """F(x) = P(x) / Q(x), as TfApprox>Pau computes it.

  Args:
    x: float tensor of any shape.
    numerator: a_0..a_m, shape [m + 1] or [channels, m + 1].
    denominator: b_1..b_n, shape [n] or [channels, n].
    denominator_kind: 'safe', 'abs_of_sum' or 'unsafe'.
    randomized: RPAU's alpha; 0 for a plain PAU.
    seed: [seed, step] for the RPAU noise.

  Returns:
    A tensor like x.
  """
  if denominator_kind not in DENOMINATORS:
    raise ValueError(f"`denominator_kind` must be one of {DENOMINATORS}, got "
                     f"{denominator_kind!r}")
  x = tf.convert_to_tensor(x)
  out_dtype = x.dtype
  compute = tf.float32 if out_dtype in _HALF_TYPES else out_dtype
  x = tf.cast(x, compute)
  a = tf.cast(tf.convert_to_tensor(numerator), compute)
  b = tf.cast(tf.convert_to_tensor(denominator), compute)
  m = a.shape[-1] - 1
  n = b.shape[-1]
  # Coefficient j as a tensor broadcasting against x: a scalar (shared) or a
  # [channels] vector (per channel, x's last axis).
  coefficients = tf.unstack(tf.concat([a, b], axis=-1), axis=-1)
  if randomized:
    alpha = float(np.float32(randomized))  # a float32 attr of the op
    u = noise_uniform(tf.size(x, out_type=tf.int64), m + 1 + n, seed)
    u = tf.reshape(tf.cast(u, compute), tf.concat([tf.shape(x), [m + 1 + n]], 0))
    noisy = []
    for j, c in enumerate(coefficients):
      # The noise is a constant for the gradient (the paper: "replace the
      # coefficients by their noisy counterparts").
      noisy.append(c + tf.stop_gradient(alpha * tf.abs(c) * u[..., j]))
    coefficients = noisy
  power = _ScaledPowers(x, coefficients[:m + 1], coefficients[m + 1:])
  terms = [power.term(c, j) for j, c in enumerate(coefficients[:m + 1])]
  p = tf.add_n(terms)
  b_terms = [power.term(c, k + 1) for k, c in enumerate(coefficients[m + 1:])]
  if denominator_kind == "safe":
    # |b_k| |w_k|, written so that autodiff gives sign(b_k) |w_k|.
    b_terms = [tf.abs(t) for t in b_terms]
  r = tf.add_n(b_terms)
  q = power.unit + (tf.abs(r) if denominator_kind == "abs_of_sum" else r)
  return tf.cast(p / q, out_dtype)


def _scaled_power(magnitude, sign, j, d):
  """sign^j |x|^(j - d), differentiated as c x^j with c = |x|^-d constant.

  c cancels in F = cP / cQ; differentiating it too adds terms to both that
  cancel only to rounding, far larger than F' (1% off at x = 2 where
  F' ~ 1e-6).
  """

  @tf.custom_gradient
  def power(magnitude):
    value = tf.pow(magnitude, j - d)
    if j % 2:
      value *= sign

    def grad(upstream):
      if j == 0:
        return tf.zeros_like(magnitude)
      # d(c x^j)/d|x| = sign(x) d(c x^j)/dx = j sign^j |x|^(j - 1 - d).
      lower = tf.pow(magnitude, j - 1 - d)
      if j % 2:
        lower *= sign
      return upstream * j * lower

    return value, grad

  return power(magnitude)


def _leading_degree(coefficients, first):
  """The degree of the highest nonzero coefficient (NaN counts), elementwise;
  `first` is the degree of coefficients[0]."""
  degree = tf.zeros_like(coefficients[0])
  for j, c in enumerate(coefficients):
    degree = tf.where(tf.not_equal(c, 0.0),
                      tf.constant(j + first, degree.dtype), degree)
  return degree


class _ScaledPowers:
  """w_j = c x^j: c = 1 where |x| <= 1, else |x|^-d.

  tf.where differentiates both of its branches, so each branch is computed
  from inputs that are safe for it: otherwise a branch that is not taken
  (an overflowing power) makes the gradient NaN.
  """

  def __init__(self, x, a, b):
    self.far = tf.abs(x) > 1.0
    self.near_x = tf.where(self.far, tf.zeros_like(x), x)
    far_x = tf.where(self.far, x, 2.0 * tf.ones_like(x))
    self.magnitude, self.sign = tf.abs(far_x), tf.sign(far_x)
    # d = n keeps cQ -> |b_n|, nothing underflows; where |x|^(m - n) would
    # overflow, and F with it, d = max(m, n) keeps cP finite (F's sign).
    leading_m, leading_n = _leading_degree(a, 0), _leading_degree(b, 1)
    limit = np.log(np.finfo(x.dtype.as_numpy_dtype).max / 16)
    overflows = (leading_m - leading_n) * tf.math.log(self.magnitude) > limit
    self.d = tf.where(overflows, tf.maximum(leading_m, leading_n), leading_n)
    self.unit = self.term(tf.ones_like(x), 0)

  def term(self, c, j):
    """c w_j; 0 where c = 0 and w_j overflows (0 * inf would be NaN)."""
    exponent = j - self.d
    keep = tf.logical_or(
        tf.not_equal(c, 0.0),
        tf.math.is_finite(tf.stop_gradient(tf.pow(self.magnitude, exponent))))
    magnitude = tf.where(keep, self.magnitude, tf.ones_like(self.magnitude))
    far = _scaled_power(magnitude, self.sign, j, self.d)
    near = self.near_x**j if j else tf.ones_like(self.near_x)
    w = tf.where(self.far, far, near)
    return c * tf.where(keep, w, tf.zeros_like(w))
