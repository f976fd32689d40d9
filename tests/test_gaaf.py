"""GAAF: the native ops against their composite twin and exact arithmetic."""

from fractions import Fraction
import math

import numpy as np
import pytest
import scipy.special
import tensorflow as tf

import tf_approx
from tf_approx.reference import gaaf as reference

BASES = reference.BASES
SHAPE_FUNCTIONS = reference.SHAPES
DTYPES = [tf.float16, tf.bfloat16, tf.float32, tf.float64]
SHAPES = [(), (0,), (7,), (3, 5, 17), (2, 0, 3), (1000,)]
TOLERANCE = {tf.float16: 1e-2, tf.bfloat16: 4e-2, tf.float32: 2e-6,
             tf.float64: 1e-12}
K = 10000.0


def _inputs(shape, seed=0, scale=3.0):
  return np.random.default_rng(seed).normal(size=shape) * scale


def _phi(base, x):
  return {"tanh": np.tanh, "sigmoid": scipy.special.expit,
          "relu": lambda v: np.maximum(v, 0)}[base](x)


def _shape(shape, x, center=0.0, width=1.0):
  a = (x - center) / width
  if shape == "exp":
    return np.exp(-np.abs(a))
  if shape == "sigmoid":
    return 1 / (1 + np.exp(a))
  return np.ones_like(x)


def _exact_sawtooth(x, k=K):
  """g(x) by exact rational arithmetic, for any float x."""
  out = []
  for v in np.ravel(x):
    product = Fraction(float(v)) * Fraction(k)
    out.append(float((product - math.floor(product) - Fraction(1, 2)) /
                     Fraction(k)))
  return np.reshape(out, np.shape(x))


def _assert_close(actual, expected, dtype, scale=1.0):
  actual = tf.cast(actual, tf.float64).numpy()
  expected = tf.cast(expected, tf.float64).numpy()
  tol = TOLERANCE[dtype] * scale
  np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("shape_function", SHAPE_FUNCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("center, width", [(0.5, 1.5), (0.0, 1.0)])
def test_matches_reference(base, shape_function, dtype, center, width):
  # (0, 1) with 'exp' runs the kernels' shared-exponential path.
  for shape in SHAPES:
    x = tf.constant(_inputs(shape), dtype)
    kwargs = dict(base=base, shape=shape_function, k=K, center=center,
                  width=width)
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf_approx.ops.gaaf(x, **kwargs)
    dx = tape.gradient(y, x)
    assert y.dtype == dtype and y.shape == shape
    with tf.GradientTape() as tape:
      tape.watch(x)
      want = reference.gaaf(x, **kwargs)
    _assert_close(y, want, dtype)
    if shape and 0 not in shape:
      _assert_close(dx, tape.gradient(want, x), dtype)


@pytest.mark.parametrize("base", BASES)
def test_forward_is_within_half_over_k_of_phi(base):
  x = _inputs((100000,), seed=1)
  y = tf_approx.ops.gaaf(tf.constant(x), base=base).numpy()
  assert np.max(np.abs(y - _phi(base, x))) <= 0.5 / K * (1 + 1e-12)
  assert np.max(np.abs(y - _phi(base, x))) > 0.4 / K  # g is really there


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("shape_function", SHAPE_FUNCTIONS)
def test_matches_exact_arithmetic_float64(base, shape_function):
  x = np.concatenate([_inputs((500,), seed=2),
                      [1234.56789, -98765.4321, 3e7 + 0.123, 1e12 + 0.77]])
  y = tf_approx.ops.gaaf(tf.constant(x), base=base, shape=shape_function,
                         center=0.5, width=2.0).numpy()
  want = _phi(base, x) + _exact_sawtooth(x) * _shape(shape_function, x, 0.5,
                                                      2.0)
  np.testing.assert_allclose(y, want, rtol=1e-13, atol=1e-16)


def test_sawtooth_is_exact_for_large_float32_inputs():
  # float32 x K keeps no fractional part beyond |x| ~ 1700; the kernel's g is
  # still exact, where a float32 evaluation is not.
  x = np.array([812.3457, -1234.5678, 65432.1, 3.0e7, -7.7e9, 1.0e30],
               np.float32)
  shape = _shape("none", x)
  y = tf_approx.ops.gaaf(tf.constant(x), base="relu", shape="none").numpy()
  g = _exact_sawtooth(x.astype(np.float64))
  np.testing.assert_allclose(y.astype(np.float64),
                             (np.maximum(x, 0) + g * shape).astype(np.float32),
                             rtol=0, atol=0)
  naive_product = x * np.float32(K)
  naive = (naive_product - np.floor(naive_product) - 0.5) / np.float32(K)
  assert not np.allclose(naive[:3], g[:3], rtol=0, atol=1e-6)
  # The same with the sawtooth visible (x near 0, where float32 keeps g).
  small = np.float32(0.123456)
  y = tf_approx.ops.gaaf(tf.constant([small]), base="tanh").numpy()
  want = np.tanh(np.float64(small)) + _exact_sawtooth(
      np.float64(small)) * np.exp(-np.float64(small))
  np.testing.assert_allclose(y, want, rtol=2e-7)


def _phi_prime(base, x):
  if base == "tanh":
    return 1 - np.tanh(x) ** 2
  if base == "sigmoid":
    s = scipy.special.expit(x)
    return s * (1 - s)
  return (x > 0).astype(np.float64)


def _shape_prime(shape, x, center, width):
  a = (x - center) / width
  if shape == "exp":
    return -np.sign(a) / width * np.exp(-np.abs(a))
  if shape == "sigmoid":
    s = scipy.special.expit(-a)
    return -s * (1 - s) / width
  return np.zeros_like(x)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("shape_function", SHAPE_FUNCTIONS)
@pytest.mark.parametrize("center, width", [(-0.25, 0.75), (0.0, 1.0)])
def test_gradient_float64(base, shape_function, center, width):
  # g rises with slope 1 between its jumps every 1/K, so finite differences
  # see phi' + s + g s' too, as long as no step crosses a jump: the inputs
  # keep xK at least 0.3 from an integer, a step of 1e-7 moves it by 1e-3.
  x = _inputs((3, 5), seed=3)
  frac = x * K - np.floor(x * K)
  x = x + (np.clip(frac, 0.3, 0.7) - frac) / K
  kwargs = dict(base=base, shape=shape_function, center=center, width=width)
  theoretical, numerical = tf.test.compute_gradient(
      lambda v: tf_approx.ops.gaaf(v, **kwargs), [tf.constant(x)],
      delta=1e-7)
  np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-5,
                             atol=1e-6)
  v = x.ravel()
  want = (_phi_prime(base, v) + _shape(shape_function, v, center, width) +
          _exact_sawtooth(v) * _shape_prime(shape_function, v, center, width))
  np.testing.assert_allclose(np.diag(theoretical[0]), want, rtol=1e-13,
                             atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("base", BASES)
def test_nan_in_nan_out(dtype, base):
  x = tf.constant([np.nan] * 40 + [0.5], dtype)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = tf_approx.ops.gaaf(x, base=base)
  dx = tf.cast(tape.gradient(y, x), tf.float32).numpy()
  y = tf.cast(y, tf.float32).numpy()
  assert np.all(np.isnan(y[:40])) and np.isfinite(y[40])
  assert np.isfinite(dx[40])
  if base != "relu":  # relu'(NaN) = 0 (NaN > 0 is false), as tf.nn.relu
    assert np.all(np.isnan(dx[:40]))


def test_infinite_inputs():
  x = tf.constant([np.inf, -np.inf], tf.float64)
  np.testing.assert_array_equal(
      tf_approx.ops.gaaf(x, base="tanh").numpy(), [1.0, -1.0])
  np.testing.assert_array_equal(
      tf_approx.ops.gaaf(x, base="sigmoid").numpy(), [1.0, 0.0])


def test_xla_uses_the_composite_twin():
  x = tf.constant(_inputs((8, 16), seed=4), tf.float32)

  @tf.function(jit_compile=True)
  def compiled(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf_approx.ops.gaaf(x)
    return y, tape.gradient(y, x)

  y, dx = compiled(x)
  with tf.GradientTape() as tape:
    tape.watch(x)
    want = tf_approx.ops.gaaf(x)
  np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(dx.numpy(), tape.gradient(want, x).numpy(),
                             rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("attrs, message", [
    (dict(k=0.0), "`k` must be a finite number > 0"),
    (dict(k=float("inf")), "`k` must be a finite number > 0"),
    (dict(width=-1.0), "`width` must be a finite number > 0"),
    (dict(center=float("nan")), "`center` must be finite"),
])
def test_bad_attrs_raise_invalid_argument(attrs, message):
  library = tf_approx.load_ops()
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    library.tf_approx_gaaf(tf.zeros([3]), **attrs)


def test_gradient_shape_mismatch_raises_invalid_argument():
  library = tf_approx.load_ops()
  with pytest.raises(tf.errors.InvalidArgumentError, match="`dy` must have"):
    library.tf_approx_gaaf_grad(tf.zeros([3]), tf.zeros([4]))


def test_bad_python_arguments_raise():
  x = tf.zeros([3])
  for kwargs, message in [(dict(base="elu"), "`base` must be one of"),
                          (dict(shape="gauss"), "`shape` must be one of"),
                          (dict(k=-1.0), "`k` must be"),
                          (dict(width=0.0), "`width` must be"),
                          (dict(center=float("inf")), "`center` must be")]:
    with pytest.raises(ValueError, match=message):
      tf_approx.ops.gaaf(x, **kwargs)
