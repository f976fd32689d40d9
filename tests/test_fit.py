"""tf_approx.activations.fit: the paper's method for any function.

The fit must reproduce the committed table (the same code path as
tools/fit_coefficients.py), register names Keras and `.keras` files resolve,
report errors an independent numpy evaluation confirms, and refuse taken
names. The all-float32 sweep is exercised on a slice of the bit patterns
(the whole sweep takes minutes).
"""

import json

import keras
import numpy as np
import pytest
from scipy import special
import tensorflow as tf

import tf_approx
from tf_approx import activations
from tf_approx import fitting

GELU = lambda x: x * special.ndtr(x)  # pylint: disable=unnecessary-lambda-assignment
TABLE = json.loads(activations.COEFFICIENTS_PATH.read_text())["functions"]


@pytest.fixture
def registered():
  """Names registered by a test, removed again afterwards."""
  names = []
  yield names
  from keras.src import activations as keras_activations  # pylint: disable=g-import-not-at-top
  for name in names:
    for each in (name, name + "_clamp"):
      activations._user_specs.pop(each, None)  # pylint: disable=protected-access
      keras_activations.ALL_OBJECTS_DICT.pop(each, None)


def _fit(registered, fn, name, **kwargs):
  registered.append(name)
  return activations.fit(fn, name, **kwargs)


def _table_coefficients(name):
  return TABLE[name]["numerator"], TABLE[name]["denominator"]


def test_tanh_reproduces_the_table(registered):
  result = _fit(registered, np.tanh, "fit_tanh_4_4", orders=(4, 4))
  numerator, denominator = _table_coefficients("tanh_pade_4_4")
  np.testing.assert_allclose(result.numerator, numerator, rtol=1e-5,
                             atol=1e-12)
  np.testing.assert_allclose(result.denominator, denominator, rtol=1e-5,
                             atol=1e-12)
  assert result.parity == "odd" and result.offset == 0.0
  assert result.max_error_range == pytest.approx(
      TABLE["tanh_pade_4_4"]["max_abs_error_dense"], rel=1e-3)


def test_gelu_product_form_reproduces_the_table(registered):
  result = _fit(registered, GELU, "fit_gelu_5_6", orders=(5, 6),
                range=(-5, 5), form="product",
                asymptotes={"below": (0, 0), "above": (1, 0)})
  numerator, denominator = _table_coefficients("gelu_pade_5_6")
  np.testing.assert_allclose(result.numerator, numerator, rtol=1e-5,
                             atol=1e-12)
  np.testing.assert_allclose(result.denominator, denominator, rtol=1e-5,
                             atol=1e-12)
  assert result.product and result.offset == 0.5
  # Continuous in value where it switches to 0 and x.
  assert max(result.switch_gaps.values()) < 1e-6
  x = tf.constant([-1e30, -6.0, 6.0, 1e30], tf.float64)
  np.testing.assert_allclose(result.clamp_function(x), [0, 0, 6, 1e30])


def test_product_form_beats_plain_form_on_gelu(registered):
  product = _fit(registered, GELU, "fit_gelu_product", orders=(3, 2),
                 range=(-5, 5), form="product")
  plain = _fit(registered, GELU, "fit_gelu_plain", orders=(3, 2),
               range=(-5, 5))
  table = TABLE["gelu_pade_3_2"]["max_abs_error_dense"]
  # The table's fit also meets the asymptote at 5, where |x| magnifies the
  # factor's error most; without it the max error is a little larger.
  assert product.max_error_range <= 1.5 * table
  assert product.max_error_range < plain.max_error_range


def test_new_function_is_a_keras_activation_and_survives_a_keras_file(
    registered, tmp_path):
  result = _fit(registered, np.arctan, "fit_arctan_3_4", orders=(3, 4),
                range=(-6, 6))
  assert result.parity == "odd"
  # Independent check of the reported error: the coefficients in numpy.
  x = np.linspace(-6, 6, activations.FIT_DENSE_POINTS)
  approx = (np.polynomial.polynomial.polyval(x, result.numerator) /
            np.polynomial.polynomial.polyval(x, result.denominator))
  assert result.max_error_range == pytest.approx(
      np.abs(approx - np.arctan(x)).max(), rel=1e-4)
  assert result.max_error_range_float32 == pytest.approx(
      result.max_error_range, rel=1e-2)
  assert result.max_error_range < 0.02

  model = keras.Sequential([keras.Input((3,)),
                            keras.layers.Activation("fit_arctan_3_4")])
  x = np.array([[-2.0, 0.5, 3.0]], np.float32)
  expected = model(x).numpy()
  np.testing.assert_allclose(expected, np.arctan(x), atol=0.02)
  path = tmp_path / "arctan.keras"
  model.save(path)
  loaded = keras.models.load_model(path)
  np.testing.assert_array_equal(loaded(x).numpy(), expected)


@pytest.mark.parametrize("fn, parity, offset, slope", [
    (np.tanh, "odd", 0.0, 0.0),
    (special.expit, "odd", 0.5, 0.0),
    (lambda x: np.logaddexp(0.0, x), "even", 0.0, 0.5),
    (lambda x: np.exp(-x * x), "even", 0.0, 0.0),
    (lambda x: np.exp(x), None, 0.0, 0.0),
])
def test_parity_is_found_from_the_samples(fn, parity, offset, slope):
  found = fitting.fit_function(fn, orders=(3, 2), fit_range=(-4, 4))
  assert found.parity == parity
  assert found.offset == pytest.approx(offset, abs=1e-12)
  assert found.slope == pytest.approx(slope, abs=1e-12)
  if parity == "odd":
    assert not any(found.rational.numerator[::2])
  if parity is not None:
    assert not any(found.rational.denominator[1::2])


def test_taylor_kind_and_imposed_parity():
  for parity in (None, "odd"):
    result = fitting.fit_function(np.sin, kind="taylor", orders=5,
                                  fit_range=(-3, 3), parity=parity)
    assert result.rational.denominator == (1.0,)
    assert len(result.rational.numerator) == 6
    assert result.rational.method == "polynomial-ls"
    x = np.linspace(-3, 3, 1001)
    assert np.abs(result(x) - np.sin(x)).max() < 0.02
  assert not any(result.rational.numerator[::2])
  # Imposed on a function without it: the fit has that parity anyway.
  even = fitting.fit_function(np.exp, orders=(2, 2), fit_range=(-1, 1),
                              parity="even")
  assert even.parity == "even" and not any(even.rational.numerator[1::2])


@pytest.mark.parametrize("name", ["gelu", "relu", "tanh_pade_4_4", "1x"])
def test_refuses_taken_or_bad_names(name):
  with pytest.raises(ValueError, match="`name`"):
    activations.fit(np.tanh, name)


def test_refuses_duplicates_unless_overwrite(registered):
  _fit(registered, np.tanh, "fit_dup", orders=(2, 2))
  with pytest.raises(ValueError, match="already registered"):
    activations.fit(np.tanh, "fit_dup", orders=(3, 2))
  result = activations.fit(np.tanh, "fit_dup", orders=(3, 2), overwrite=True)
  assert activations.spec("fit_dup") == result.spec
  # The _clamp name is checked before anything is registered.
  _fit(registered, np.tanh, "fit_dup2_clamp", orders=(2, 2))
  with pytest.raises(ValueError, match="already registered"):
    activations.fit(np.tanh, "fit_dup2", asymptotes={"above": (0, 1)})
  assert "fit_dup2" not in activations.names()


@pytest.mark.parametrize("kwargs, argument", [
    (dict(kind="chebyshev"), "`kind`"),
    (dict(orders=(4,)), "`orders`"),
    (dict(orders=(4, 0)), "`orders`"),
    (dict(orders=(16, 2)), "`orders`"),
    (dict(range=(1, -1)), "`range`"),
    (dict(range=(0, np.inf)), "`range`"),
    (dict(form="auto"), "`form`"),
    (dict(parity="both"), "`parity`"),
    (dict(asymptotes={"left": (0, 0)}), "`asymptotes`"),
    (dict(asymptotes={"above": (1,)}), "`asymptotes"),
    (dict(samples=3), "`samples`"),
])
def test_bad_arguments_name_the_argument(kwargs, argument):
  with pytest.raises(ValueError, match=argument):
    activations.fit(np.tanh, "fit_bad", **kwargs)
  assert "fit_bad" not in activations.names()


def _op(function, x):
  return function(tf.constant(x, tf.float64)).numpy()


def _hermite(spec, x):
  """The spline of `spec` evaluated in numpy, independently of the op."""
  c = np.asarray(spec.spline).reshape(-1, 4)
  lo, hi = spec.below[0], spec.above[0]
  w = (x - lo) * len(c) / (hi - lo)
  k = np.clip(np.floor(w), 0, len(c) - 1).astype(int)
  t = w - k
  y = ((c[k, 3] * t + c[k, 2]) * t + c[k, 1]) * t + c[k, 0]
  y = np.where(x < lo, spec.below[1] * x + spec.below[2], y)
  return np.where(x > hi, spec.above[1] * x + spec.above[2], y)


def test_spline_kind_fits_gelu_and_meets_its_asymptotes(registered, tmp_path):
  result = _fit(registered, GELU, "fit_gelu_spline", kind="spline", pieces=16,
                range=(-4, 4), asymptotes={"below": (0, 0), "above": (1, 0)})
  assert result.spec.kind == "spline" and result.clamp_name is None
  # Least squares on the knots beats interpolating them (gelu_spline_16).
  assert result.max_error_range < 2.2e-4
  assert max(result.switch_gaps.values()) < 1e-6
  x = np.linspace(-6, 6, 1201)
  y = _op(result.function, x)
  np.testing.assert_allclose(y, _hermite(result.spec, x), atol=1e-6)
  assert np.abs(y - GELU(x))[np.abs(x) <= 4].max() == pytest.approx(
      result.max_error_range, rel=0.05)
  np.testing.assert_array_equal(y[x > 4], x[x > 4])
  np.testing.assert_array_equal(y[x < -4], 0.0)
  model = keras.Sequential([keras.Input((4,)),
                            keras.layers.Activation("fit_gelu_spline")])
  model.save(tmp_path / "m.keras")
  loaded = keras.models.load_model(tmp_path / "m.keras")
  inputs = np.linspace(-5, 5, 8, dtype=np.float32).reshape(2, 4)
  np.testing.assert_array_equal(loaded.predict(inputs, verbose=0),
                                model.predict(inputs, verbose=0))


def test_spline_without_asymptotes_continues_along_its_end_tangents(
    registered):
  result = _fit(registered, np.arctan, "fit_arctan_spline", kind="spline",
                pieces=8, range=(-3, 3))
  assert result.max_error_range < 1e-3
  below, above = result.spec.below, result.spec.above
  assert below[0] == -3 and above[0] == 3
  x = np.array([-3.0, 3.0])
  ends = _op(result.function, x)
  np.testing.assert_allclose(ends, [below[1] * -3 + below[2],
                                    above[1] * 3 + above[2]], atol=1e-6)
  far = _op(result.function, np.array([5.0]))
  assert far[0] == pytest.approx(ends[1] + 2 * above[1], abs=1e-6)


@pytest.mark.parametrize("kwargs, argument", [
    (dict(pieces=0), "`pieces`"),
    (dict(pieces=33), "`pieces`"),
    (dict(pieces=2.5), "`pieces`"),
    (dict(form="product"), "`form`"),
    (dict(samples=30, pieces=16), "`samples`"),
])
def test_spline_bad_arguments_name_the_argument(kwargs, argument):
  with pytest.raises(ValueError, match=argument):
    activations.fit(np.tanh, "fit_bad", kind="spline", **kwargs)
  assert "fit_bad" not in activations.names()


def test_function_must_be_finite_on_the_range():
  with pytest.raises(ValueError, match="`fn` must be finite"):
    activations.fit(np.log, "fit_log", range=(-1, 1))


def test_sweep_matches_numpy_on_a_slice_of_float32(registered):
  result = _fit(registered, np.arctan, "fit_sweep", orders=(3, 4),
                range=(-6, 6), asymptotes={"below": (0, -np.pi / 2),
                                           "above": (0, np.pi / 2)})
  # 1.0 .. 2^15 (bit patterns 0x3F800000 ..) and the negative side's twin.
  start, count = 0x3F800000, 1 << 22
  for first in (start, start | 0x80000000):
    swept = fitting.sweep_float32(result.clamp_spec.attrs(), np.arctan, -6,
                                  6, bits=(first, first + count),
                                  chunk=1 << 20)
    x = np.arange(first, first + count, dtype=np.uint32).view(np.float32)
    y = result.clamp_function(tf.constant(x)).numpy().astype(np.float64)
    x = x.astype(np.float64)
    error = np.abs(y - np.arctan(x))
    error = np.where(np.abs(x) <= 6, error,
                     error / np.maximum(1.0, np.abs(np.arctan(x))))
    assert swept["inputs"] == count
    assert swept["max_error"] == error.max()
    assert swept["argmax"] == x[np.argmax(error)]


def test_sweep_covers_every_non_nan_float32_and_flags_nan_outputs():
  attrs = activations.ActivationSpec(numerator=(0.0, 1.0),
                                     denominator=(1.0, -1.0)).attrs()
  # x / (1 - x) against x: at +inf the kernel gives NaN (inf / -inf), which
  # the measure flags as an infinite error.
  swept = fitting.sweep_float32(attrs, lambda x: x, -2, 2,
                                bits=(0x7F7FFFF0, 0x80000010))
  # 16 largest floats and +inf, the NaN patterns left out, then -0 and 15
  # negative denormals.
  assert swept["inputs"] == 17 + 16
  assert swept["max_error"] == np.inf and swept["argmax"] == np.inf
  finite = fitting.sweep_float32(attrs, lambda x: x, -2, 2,
                                 bits=(0x7F7FFFF0, 0x7F800000))
  # Beyond the range the error is relative: |x / (1 - x) - x| / |x| ~ 1.
  assert finite["max_error"] == pytest.approx(1.0)
  nan_out = fitting.function_error(np.array([1.0, np.inf]),
                                   np.array([np.nan, 1.0]),
                                   np.array([1.0, np.inf]), -1, 1)
  assert np.all(np.isinf(nan_out))


def test_fit_is_in_the_package():
  assert tf_approx.activations.fit is activations.fit
