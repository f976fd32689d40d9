"""Padé Activation Units composed from plain TensorFlow ops.

The twin of the native PAU kernels (Molina et al., Padé Activation Units): the
oracle the tests compare them with, and what runs under XLA or with
`TF_APPROX_PY_OPS=1`. RPAU noise is computed with the same counter-based hash
as cc/common/counter_noise.h, so the twin and the kernel draw identical noise.

For |x| > 1, P and Q are both divided by |x|^d, d the degree of the highest
nonzero b_k (of the highest nonzero coefficient where F overflows that way),
and a zero coefficient's term is left out (its power may overflow); the
kernels do the same beyond a radius that depends on the coefficients. So F is
finite wherever it is finite mathematically (and has the right sign where it
overflows), and both agree there.

The gradient is the paper's closed form (a custom gradient, not autodiff of
P/Q): dF/dx = (P' - F Q') / Q, dF/da_j = x^j / Q, dF/db_k = -F (dQ/db_k) / Q,
with the signs of x, b_k and the denominator's sum taken from those values
themselves (sign(0) = 0). Autodiff would form dF/dQ = -P/Q^2, which overflows
or flushes to zero where the gradients are normal numbers, and would take
sign(b_k x^k) as 0 where that product flushes to zero.
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
  y = _pau_function(m, denominator_kind)(x, *coefficients)
  return tf.cast(y, out_dtype)


def _pau_function(m, kind):
  """F(x, a_0..a_m, b_1..b_n) with its closed-form gradient."""

  @tf.custom_gradient
  def function(x, *coefficients):
    a, b = coefficients[:m + 1], coefficients[m + 1:]
    powers = _Powers(x, a, b)
    y_scaled = _evaluate(kind, a, b, powers.scaled)
    y_far = _evaluate(kind, a, b, powers.highest)
    # F overflows (or two overflowing terms cancel into NaN) with the powers
    # scaled by |x|^-n: those scaled by |x|^-max(m, n) give its sign.
    y = tf.where(tf.math.is_finite(y_scaled) | ~powers.far, y_scaled, y_far)

    def grad(dy):
      return _gradients(kind, x, coefficients, m, powers.scaled, dy)

    return y, grad

  return function


def _masked(c, term, pw):
  """term, but 0 for a zero coefficient where |x| > 1: its power may overflow
  there (0 * inf would be NaN). A NaN coefficient counts as nonzero."""
  keep = tf.not_equal(c, 0.0) | ~pw.far
  return tf.where(keep, term, tf.zeros_like(term))


def _denominator_term(kind, b, w):
  return tf.abs(b) * tf.abs(w) if kind == "safe" else b * w


def _parts(kind, a, b, pw):
  """c P, c Q and c R (the denominator's sum) from the scaled powers."""
  p = tf.add_n([_masked(c, c * pw.w[j], pw) for j, c in enumerate(a)])
  r = tf.add_n([_masked(c, _denominator_term(kind, c, pw.w[k]), pw)
                for k, c in enumerate(b, start=1)])
  q = pw.unit + (tf.abs(r) if kind == "abs_of_sum" else r)
  return p, q, r


def _evaluate(kind, a, b, pw):
  p, q, _ = _parts(kind, a, b, pw)
  return p / q


def _gradients(kind, x, coefficients, m, pw, dy):
  """dy dF/dx and dy dF/dc for every coefficient c, reduced to c's shape."""
  a, b = coefficients[:m + 1], coefficients[m + 1:]
  p, q, r = _parts(kind, a, b, pw)
  g = dy / q
  f = p / q
  dp = tf.add_n([tf.zeros_like(x)] + [
      _masked(c, c * j * pw.w[j - 1], pw) for j, c in enumerate(a) if j])
  if kind == "safe":
    dr = tf.add_n([_masked(c, tf.abs(c) * k * tf.abs(pw.w[k - 1]), pw)
                   for k, c in enumerate(b, start=1)])
    dq = tf.sign(x) * dr
  else:
    dr = tf.add_n([_masked(c, c * k * pw.w[k - 1], pw)
                   for k, c in enumerate(b, start=1)])
    dq = tf.sign(r) * dr if kind == "abs_of_sum" else dr
  dx = g * (dp - f * dq)
  grads = [g * pw.w[j] for j in range(m + 1)]
  for k, c in enumerate(b, start=1):
    if kind == "safe":
      dq_db = tf.sign(c) * tf.abs(pw.w[k])
    elif kind == "abs_of_sum":
      dq_db = tf.sign(r) * pw.w[k]
    else:
      dq_db = pw.w[k]
    grads.append(_product_of_three(g, -f, dq_db))
  return [_reduce_to(dx, x)] + [
      _reduce_to(grad, c) for grad, c in zip(grads, coefficients)]


def _product_of_three(u, v, w):
  """u v w, the largest factor times the smallest first: no intermediate
  overflows or flushes to zero where the product is a normal number (and the
  factors are)."""
  mu, mv, mw = tf.abs(u), tf.abs(v), tf.abs(w)
  u_middle = tf.equal(mu >= mv, mu <= mw)
  v_middle = tf.equal(mv >= mu, mv <= mw) & ~u_middle
  return tf.where(u_middle, (v * w) * u,
                  tf.where(v_middle, (u * w) * v, (u * v) * w))


def _reduce_to(gradient, like):
  """gradient, shaped like x, summed over the axes `like` was broadcast on."""
  axes, _ = tf.raw_ops.BroadcastGradientArgs(s0=tf.shape(like),
                                             s1=tf.shape(gradient))
  return tf.reshape(tf.reduce_sum(gradient, axis=axes), tf.shape(like))


def _leading_degree(coefficients, first):
  """The degree of the highest nonzero coefficient (NaN counts), elementwise;
  `first` is the degree of coefficients[0]."""
  degree = tf.zeros_like(coefficients[0])
  for j, c in enumerate(coefficients):
    degree = tf.where(tf.not_equal(c, 0.0),
                      tf.constant(j + first, degree.dtype), degree)
  return degree


class _ScaledPowers:
  """w[j] = c x^j for j = 0..top, the unit c, and where |x| > 1."""

  def __init__(self, w, far):
    self.w = w
    self.unit = w[0]
    self.far = far


class _Powers:
  """The scaled powers of x: c = 1 where |x| <= 1, else |x|^-d.

  `scaled` has d = n, the degree of the highest nonzero b_k (d = max(m, n),
  m that of the highest nonzero a_j, at +-inf), so cQ -> |b_n| and nothing
  underflows; `highest` has d = max(m, n), which keeps cP finite where F
  overflows and gives its sign. Each power is computed once.
  """

  def __init__(self, x, a, b):
    top = max(len(a) - 1, len(b))
    self.far = tf.abs(x) > 1.0
    near_x = tf.where(self.far, tf.zeros_like(x), x)
    near = [tf.ones_like(x)] + [near_x**j for j in range(1, top + 1)]
    far_x = tf.where(self.far, x, 2.0 * tf.ones_like(x))
    magnitude, sign = tf.abs(far_x), tf.sign(far_x)
    leading_m, leading_n = _leading_degree(a, 0), _leading_degree(b, 1)
    highest = tf.maximum(leading_m, leading_n)
    finite = tf.math.is_finite(magnitude)
    self.scaled = self._powers(near, magnitude, sign,
                               tf.where(finite, leading_n, highest), top)
    self.highest = self._powers(near, magnitude, sign, highest, top)

  def _powers(self, near, magnitude, sign, d, top):
    w = []
    finite = tf.math.is_finite(magnitude)
    for j in range(top + 1):
      far = tf.pow(magnitude, j - d)
      # At +-inf the terms above d (zero coefficients) are 0, as in the
      # kernels, so that their gradients x^j / Q are too.
      far = tf.where(finite | (j <= d), far, tf.zeros_like(far))
      if j % 2:
        far *= sign
      w.append(tf.where(self.far, far, near[j]))
    return _ScaledPowers(w, self.far)
