"""The approximated activations composed from plain TensorFlow ops.

The twin of the native kernels: the oracle the tests compare them with, and
what runs under XLA (which cannot compile custom ops) or with
`TF_APPROX_PY_OPS=1`. Gradients come from autodiff, except word2vec's table,
whose gradient is the documented choice of the native kernel, fastexp's,
which is the kernel's closed form (autodiff through the squarings would give
inf * 0 = NaN once (1 - x/n)^n overflows, where f' underflows to 0), and the
rationals', which are the kernel's forms too (autodiff through Horner's rule
multiplies the adjoint by x at each step, x^(n-1) in all, which overflows
where f' does not). As in the kernels, NaN in gives NaN out, for the value
and for the gradient.

As the native kernels do, the rationals switch from Horner's form to an exact
1/x form beyond the radius where Horner's could overflow, so value and
gradient stay finite wherever they are, with the formula's limits at +-inf.
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


def _horner(coefficients, x, derivative=False):
  """c[0] + c[1] x + ... by Horner's rule; with `derivative`, also its slope.

  The slope is carried along as in the kernel (dp = dp x + p), not taken by
  autodiff, whose adjoint x^(n-1) overflows where the sum does not
  (tanh_taylor_13 at bfloat16 x = 1712: x^12 = 6.3e38).
  """
  acc = tf.fill(tf.shape(x), tf.constant(coefficients[-1], x.dtype))
  slope = tf.zeros_like(acc)
  for c in reversed(coefficients[:-1]):
    if derivative:
      slope = slope * x + acc
    acc = acc * x + c
  return (acc, slope) if derivative else acc


def _trimmed(coefficients):
  """Without trailing zeros (as the kernel): the last one leads."""
  coefficients = list(coefficients)
  while len(coefficients) > 1 and coefficients[-1] == 0:
    coefficients.pop()
  return coefficients


def _is_parity(coefficients):
  return (all(c == 0 for c in coefficients[0::2]) or
          all(c == 0 for c in coefficients[1::2]))


def far_radius(spec, dtype):
  """The radius beyond which the rational `spec` is evaluated in 1/x.

  The kernel's (cc/activations/activations.h, HornerSafeRadius): the largest
  power of two R with sum |c_i| (i + 1) R^i <= max / 16 for P and Q, so that
  Horner's value and slope cannot overflow below it; for parity coefficients
  (evaluated in x^2 by the kernel) at most sqrt(max / 16). `max` is that of
  the dtype computed in: float32 for half types.
  """
  if dtype in _HALF_TYPES:
    dtype = tf.float32
  return _far_radius(_trimmed(spec.numerator), _trimmed(spec.denominator),
                     dtype)


def _far_radius(numerator, denominator, dtype):
  limit = float(dtype.max) / 16

  def bound(c, r):
    total, power = 0.0, 1.0
    for i, ci in enumerate(c):
      total += abs(ci) * (i + 1) * power
      power *= r
    return total

  def safe(r):
    return bound(numerator, r) <= limit and bound(denominator, r) <= limit

  if not safe(1.0):
    return 0.0
  r = 1.0
  while r < limit and safe(2 * r):
    r *= 2
  if _is_parity(numerator) and _is_parity(denominator):
    r = min(r, float(np.array(np.sqrt(float(dtype.max) / 16),
                              dtype.as_numpy_dtype)))
  return r


def _scale_by_power(value, x, k):
  """value x^k one factor at a time (the kernel's ScaleByPower): for |x| > 1
  the intermediates move towards the result, so none overflows unless it does.
  """
  for _ in range(k):
    value = value * x
  for _ in range(-k):
    value = value / x
  return value


def _with_gradient(parts):
  """The function whose value and derivative `parts(x)` returns, as one
  custom gradient: dx = dy f'(x). `parts` returns the derivative as a
  function, called in the gradient only (so that a graph without the
  gradient does not hold its ops)."""

  @tf.custom_gradient
  def f(x):
    y, derivative = parts(x)
    return y, lambda dy: dy * derivative()

  return f


def _rational_parts(spec, x):
  """P(x) / Q(x) + offset and its derivative, in the kernel's two forms.

  Up to the kernel's radius `far` Horner's form, f' = (P' - f Q') / Q (one
  division: no Q^2 to overflow early); beyond it, with t = 1/x and k = deg P
  - deg Q, f = x^k P~(t) / Q~(t) and f' = x^(k-1) (k R - t R'), R = P~/Q~
  (P~, Q~ the reversed polynomials), which are finite wherever f and f' are
  and give the limits at +-inf.
  """
  num, den = _trimmed(spec.numerator), _trimmed(spec.denominator)
  far = _far_radius(num, den, x.dtype)
  k = len(num) - len(den)
  is_far = tf.abs(x) > far
  # Each form at a harmless argument where the other one is selected.
  near_x = tf.where(is_far, tf.zeros_like(x), x)
  t = 1.0 / tf.where(is_far, x, tf.ones_like(x))
  p, dp = _horner(num, near_x, derivative=True)
  q, dq = _horner(den, near_x, derivative=True)
  pt, dpt = _horner(num[::-1], t, derivative=True)
  qt, dqt = _horner(den[::-1], t, derivative=True)
  ratio_t = pt / qt
  y = tf.where(is_far, _scale_by_power(ratio_t, x, k), p / q) + spec.offset

  def derivative():
    r = 1.0 / q  # the kernel's rounding: one division
    near = (dp - p * r * dq) * r
    far_slope = _scale_by_power(
        k * ratio_t - t * ((dpt - ratio_t * dqt) / qt), x, k - 1)
    return tf.where(is_far, far_slope, near)

  return y, derivative


def _raise_by_squaring(b, squarings):
  """b^n and b^(n-1), n = 2^squarings, as the kernel forms them."""
  power = tf.ones_like(b)  # b^(n-1), the product of b, b^2, b^4, ...
  for _ in range(squarings):
    power = power * b
    b = b * b
  return b, power


def _zero_where_inf(e, value):
  """value, and 0 where e = inf (f' underflows there; inf * 0 would not)."""
  return tf.where(tf.equal(e, np.inf), tf.zeros_like(value), value)


def _fastexp_sigmoid_parts(spec, x):
  """1 / (1 + e), e = b^n, b = 1 - x/n; f' = b^(n-1) / (1 + e)^2."""
  e, power = _raise_by_squaring(1.0 - x / float(2**spec.squarings),
                                spec.squarings)
  r = 1.0 / (1.0 + e)
  return r, lambda: _zero_where_inf(e, power * r * r)


def _fastexp_expm1_parts(spec, x):
  """e - 1, e = b^n, b = 1 + x/n; f' = b^(n-1)."""
  e, power = _raise_by_squaring(1.0 + x / float(2**spec.squarings),
                                spec.squarings)
  return e - 1.0, lambda: power


def _fastexp_mish_parts(spec, x):
  """tanh(softplus(x)) = 1 / (1 + 2/m), m = e (e + 2), e = b^n, b = 1 + x/n;
  f' = 4 (e + 1) b^(n-1) / (m + 2)^2."""
  e, power = _raise_by_squaring(1.0 + x / float(2**spec.squarings),
                                spec.squarings)
  m = e * (e + 2.0)
  r = 1.0 / (m + 2.0)
  return 1.0 / (1.0 + 2.0 / m), lambda: _zero_where_inf(
      e, 4.0 * (e + 1.0) * r * (power * r))


def spline_scale_and_shift(spec):
  """The kernel's w = x scale + shift of a spline, in double (InitForm):
  piece k's centre is at w = k, and the pieces span [below[0], above[0]]."""
  pieces = len(spec.spline) // 4
  scale = pieces / (spec.above[0] - spec.below[0])
  return scale, -spec.below[0] * scale - 0.5


def folded_spline_coefficients(spec, dtype):
  """The kernel's coefficients, [pieces, 4], of each piece in s = t - 1/2
  (InitParams re-expands the attr's pieces about their centres, in double,
  and rounds them to `dtype`), output_scale then folded in (InitForm, which
  rounds again)."""
  c = np.asarray(spec.spline, np.float64).reshape(-1, 4).T
  centred = np.stack([c[0] + 0.5 * (c[1] + 0.5 * (c[2] + 0.5 * c[3])),
                      c[1] + (c[2] + 0.75 * c[3]), c[2] + 1.5 * c[3], c[3]])
  rounded = centred.astype(dtype.as_numpy_dtype).astype(np.float64)
  folded = (rounded * spec.output_scale).astype(dtype.as_numpy_dtype)
  return folded.T


def spline_slope_coefficients(spec, dtype):
  """The kernel's derivative coefficients, [pieces, 3], in units of x
  (InitForm: (j + 1) c_(j+1) scale from the folded c)."""
  c = folded_spline_coefficients(spec, dtype).astype(np.float64)
  scale, _ = spline_scale_and_shift(spec)
  return np.stack([(j + 1) * c[:, j + 1] * scale for j in range(3)],
                  -1).astype(dtype.as_numpy_dtype)


def spline_coordinate(spec, u):
  """w = u scale + shift as the kernel computes it (one rounding, as a fused
  multiply-add: in double, then rounded to u's dtype)."""
  scale, shift = spline_scale_and_shift(spec)
  wide = tf.cast(u, tf.float64)
  w = (wide * tf.cast(tf.constant(scale, u.dtype), tf.float64) +
       tf.cast(tf.constant(shift, u.dtype), tf.float64))
  return tf.cast(w, u.dtype)


def spline_beyond(spec, x):
  """Where a spline's lines take over (SplineFn::Below, Above): w before its
  first piece or from its last one's end."""
  w = spline_coordinate(spec, x)
  return tf.less(w, -0.5), tf.greater_equal(w, len(spec.spline) // 4 - 0.5)


def _spline_parts(spec, u):
  """Piece k = the nearest integer to w (ties to even), as c0 + s (c1 + s (c2
  + s c3)) at s = w - k, and its derivative d0 + s (d1 + s d2) (the folded
  and derivative coefficients above). Where the lines take over the pieces
  are not evaluated (k is clipped to a piece the table has); NaN x: s is NaN.
  The coefficients include output_scale (the form then takes it as 1)."""
  coefficients = folded_spline_coefficients(spec, u.dtype)
  slopes = spline_slope_coefficients(spec, u.dtype)
  last = float(len(coefficients) - 1)
  w = spline_coordinate(spec, u)
  k_float = tf.math.round(tf.clip_by_value(w, 0.0, last))
  k = tf.cast(tf.where(tf.math.is_nan(w), tf.zeros_like(w), k_float),
              tf.int32)
  s = w - tf.cast(k, u.dtype)
  c = [tf.gather(tf.constant(coefficients[:, j], u.dtype), k)
       for j in range(4)]
  d = [tf.gather(tf.constant(slopes[:, j], u.dtype), k) for j in range(3)]
  y = ((c[3] * s + c[2]) * s + c[1]) * s + c[0]
  return y, lambda: (d[2] * s + d[1]) * s + d[0]


_PARTS = {
    "rational": _rational_parts,
    "spline": _spline_parts,
    "fastexp_sigmoid": _fastexp_sigmoid_parts,
    "fastexp_expm1": _fastexp_expm1_parts,
    "fastexp_mish": _fastexp_mish_parts,
}


def _rational(spec, x):
  return _with_gradient(lambda x: _rational_parts(spec, x))(x)


def _fastexp_sigmoid(spec, x):
  return _with_gradient(lambda x: _fastexp_sigmoid_parts(spec, x))(x)


def _times(x, a):
  """x a, and 0 where a is 0 (the kernel's: not inf * 0 at x = +-inf)."""
  return tf.where(tf.equal(a, 0.0), tf.zeros_like(a), x * a)


def _form_parts(spec, x):
  """The form around the kind's g (see ActivationSpec), value and derivative,
  in the kernel's order of operations."""
  g, g_derivative = _PARTS[spec.kind](spec, spec.input_scale * x)
  # A spline's coefficients hold output_scale (folded_spline_coefficients).
  output_scale = 1.0 if spec.kind == "spline" else spec.output_scale
  y = (_times(x, g) if spec.product else g) * output_scale
  if spec.slope != 0:
    y = y + x * spec.slope
  if spec.kind == "spline":
    beyond = spline_beyond(spec, x)
  else:
    beyond = [tf.less(x, spec.below[0]) if spec.below else None,
              tf.greater(x, spec.above[0]) if spec.above else None]
  lines = [(line, outside)
           for line, outside in zip((spec.below, spec.above), beyond)
           if line is not None]
  for (_, slope, intercept), outside in lines:
    value = (tf.fill(tf.shape(x), tf.constant(intercept, x.dtype))
             if slope == 0 else x * slope + intercept)
    y = tf.where(outside, value, y)

  def derivative():
    d = g_derivative() * spec.input_scale
    if spec.product:
      d = g + _times(x, d)
    d = d * output_scale
    if spec.slope != 0:
      d = d + spec.slope
    for (_, slope, _), outside in lines:
      d = tf.where(outside, tf.fill(tf.shape(x), tf.constant(slope, x.dtype)),
                   d)
    return d

  return y, derivative


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
    "fastexp_expm1":
        lambda spec, x: _with_gradient(
            lambda x: _fastexp_expm1_parts(spec, x))(x),
    "fastexp_mish":
        lambda spec, x: _with_gradient(
            lambda x: _fastexp_mish_parts(spec, x))(x),
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
  if spec.has_form:
    y = _with_gradient(lambda x: _form_parts(spec, x))(x)
  else:
    y = _FUNCTIONS[spec.kind](spec, x)
  return tf.cast(y, dtype) if dtype in _HALF_TYPES else y
