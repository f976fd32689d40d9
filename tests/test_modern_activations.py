"""Today's activations (GELU, SiLU, Mish, softplus, ELU, SELU), approximated.

Their accuracy is measured on the function itself: absolute on [-8, 8], and
beyond it relative to max(1, |f|) (an x R(x) form multiplies R's error by
|x|; where f tends to 0 the error is absolute). The picks in
`tf_approx.activations.MODERN_SAFE` / `MODERN_RANGED` must meet their rule,
and no cheaper name of their family may.
"""

import math

import keras
import numpy as np
import pytest
from scipy import special
import tensorflow as tf

import tf_approx
from tf_approx import activations

EXACT = {
    "gelu": lambda x: x * special.ndtr(x),
    "silu": lambda x, beta=1.0: x * special.expit(beta * x),
    "mish": lambda x: x * np.tanh(np.logaddexp(0.0, x)),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "elu": lambda x, alpha=1.0: np.where(
        x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))),
    "selu": lambda x: activations.SELU_SCALE * np.where(
        x > 0, x, activations.SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
}
FUNCTIONS = sorted(EXACT)
SAFE_RANGE = 8.0
SAFE_ERROR = 1e-3
RANGED_RANGE = 4.0
RANGED_ERROR = 1e-2
# A dense grid of [-8, 8], and far out to the largest floats and +-inf.
INSIDE = np.linspace(-SAFE_RANGE, SAFE_RANGE, 160001)
OUTSIDE = np.concatenate([
    s * np.geomspace(SAFE_RANGE, 3e38, 20000) for s in (1.0, -1.0)])


def _function(name):
  return name.split("_", 1)[0]


def _apply(name, x, dtype=tf.float64, **arguments):
  fn = activations.get(name, **arguments)
  return fn(tf.constant(x, dtype)).numpy().astype(np.float64)


def _error(name, x, dtype=tf.float64, **arguments):
  """The measure above, at each x."""
  with np.errstate(all="ignore"):
    f = EXACT[_function(name)](x, **arguments)
    error = np.abs(_apply(name, x, dtype, **arguments) - f)
    return np.where(np.abs(x) <= SAFE_RANGE, error,
                    error / np.maximum(1.0, np.abs(f)))


def _safe_error(name, dtype=tf.float64):
  return max(_error(name, INSIDE, dtype).max(),
             _error(name, OUTSIDE, dtype).max())


def _ranged_error(name):
  x = np.linspace(-RANGED_RANGE, RANGED_RANGE, 80001)
  return _error(name, x).max()


def _cost(name):
  """Multiply-adds of Horner's rule in x^2 (rationals), or squarings."""
  spec = activations.spec(name)
  if spec.kind != "rational":
    return spec.squarings
  count = lambda c: len(np.trim_zeros(np.asarray(c), "b")[::2]) or 1
  return count(spec.numerator) + count(spec.denominator)


def _family(name):
  """Every name of `name`'s family and form (clamped or not)."""
  clamp = name.endswith("_clamp")
  base = name[:-len("_clamp")] if clamp else name
  prefix = base.rsplit("_", 2 if "_pade_" in base else 1)[0] + "_"
  return [n for n in activations.names()
          if n.startswith(prefix) and n.endswith("_clamp") == clamp]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_safe_pick_is_within_1e3_everywhere(function):
  name = activations.MODERN_SAFE[function]
  assert name.endswith("_clamp")
  for dtype in (tf.float32, tf.float64):
    assert _safe_error(name, dtype) <= SAFE_ERROR, (name, dtype)
  # The exact asymptotes at +-inf.
  y = _apply(name, [math.inf, -math.inf])
  assert y[0] == math.inf
  # (SELU's -scale * alpha as a float32 attr.)
  assert y[1] == pytest.approx(EXACT[function](np.array(-1e300)), abs=1e-7)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_safe_pick_is_the_cheapest_that_is_safe(function):
  pick = activations.MODERN_SAFE[function]
  cheaper = [n for n in _family(pick) if _cost(n) < _cost(pick)]
  for name in cheaper:
    assert _safe_error(name) > SAFE_ERROR, f"{name} is cheaper and safe"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_ranged_pick_is_the_cheapest_within_1e2_on_4(function):
  pick = activations.MODERN_RANGED[function]
  assert _ranged_error(pick) <= RANGED_ERROR, pick
  for name in _family(pick):
    if _cost(name) < _cost(pick):
      assert _ranged_error(name) > RANGED_ERROR, f"{name} is cheaper"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_fast_pick_meets_the_safe_rule(function):
  name = activations.MODERN_FAST[function]
  assert activations.spec(name).kind == "spline"
  for dtype in (tf.float32, tf.float64):
    assert _safe_error(name, dtype) <= SAFE_ERROR, (name, dtype)
  y = _apply(name, [math.inf, -math.inf, math.nan])
  assert y[0] == math.inf and np.isnan(y[2])
  assert y[1] == pytest.approx(EXACT[function](np.array(-1e300)), abs=1e-7)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_fast_pick_is_the_fewest_pieces_that_is_safe(function):
  pick = activations.MODERN_FAST[function]
  pieces = int(pick.rsplit("_", 1)[1])
  for fewer in activations.SPLINE_PIECES:
    if fewer < pieces:
      name = f"{function}_spline_{fewer}"
      assert _safe_error(name) > SAFE_ERROR, f"{name} is safe"


def test_spline_has_no_clamp_name():
  assert "gelu_spline_16" in activations.names()
  for name in ("gelu_spline_16_clamp", "gelu_spline_12", "gelu_spline_64",
               "tanh_spline_16"):
    with pytest.raises(ValueError):
      activations.spec(name)


@pytest.mark.parametrize("name", ["gelu_spline_16", "silu_spline_32",
                                  "mish_spline_32", "elu_spline_4"])
def test_spline_gradient_matches_numerical_float64(name):
  # Points inside the pieces and beyond the lines: at a knot the pieces
  # meet only up to their float32 coefficients' rounding, which a
  # difference quotient over 2e-6 magnifies.
  spec = activations.spec(name)
  lo, hi = spec.below[0], spec.above[0]
  h = (hi - lo) / (len(spec.spline) // 4)
  x = np.concatenate([np.arange(lo, hi, h) + 0.37 * h, [lo - 1.3, hi + 2.1]])
  fn = activations.get(name)
  theoretical, numerical = tf.test.compute_gradient(
      fn, [tf.constant(x, tf.float64)], delta=1e-6)
  np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-6,
                             atol=1e-7)


@pytest.mark.parametrize("name", ["gelu_spline_16", "silu_spline_32"])
def test_spline_derivative_is_continuous_at_its_knots(name):
  # Hermite pieces: value and slope meet at every knot, up to the float32
  # coefficients' rounding.
  spec = activations.spec(name)
  lo, hi = spec.below[0], spec.above[0]
  pieces = len(spec.spline) // 4
  knots = np.linspace(lo, hi, pieces + 1)
  x = np.concatenate([knots - 1e-9, knots + 1e-9])
  fn = activations.get(name)
  x_tensor = tf.constant(x, tf.float64)
  with tf.GradientTape() as tape:
    tape.watch(x_tensor)
    y = fn(x_tensor)
  d = tape.gradient(y, x_tensor).numpy()
  y = y.numpy()
  half = len(knots)
  assert np.abs(y[:half] - y[half:]).max() < 2e-6
  assert np.abs(d[:half] - d[half:]).max() < 1e-5


@pytest.mark.parametrize("name", [
    "gelu_pade_5_6_clamp", "gelu_pade_3_2_clamp", "silu_pade_5_4_clamp",
    "softplus_pade_6_4_clamp", "silu_fastexp_1024_clamp",
    "mish_fastexp_1024_clamp", "elu_fastexp_512_clamp",
    "selu_fastexp_512_clamp", "gelu_spline_16", "silu_spline_32",
    "mish_spline_32", "softplus_spline_16", "elu_spline_16",
    "selu_spline_16"])
def test_clamp_is_continuous_at_the_switch(name):
  spec = activations.spec(name)
  for line in (spec.below, spec.above):
    if line is None:
      continue
    at = line[0]
    x = np.array([np.nextafter(at, -np.inf), at, np.nextafter(at, np.inf)])
    y = _apply(name, x)
    # The fits meet the asymptote up to their float32 coefficients'
    # rounding; fastexp meets it exactly (e = 0), or within 2^-n.
    assert np.abs(np.diff(y)).max() <= 2e-6 * max(1.0, abs(at)), (name, y)


@pytest.mark.parametrize("name", [
    "gelu_pade_5_6", "gelu_pade_5_6_clamp", "silu_pade_5_4_clamp",
    "softplus_pade_6_4_clamp", "silu_fastexp_8_clamp", "mish_fastexp_16",
    "mish_fastexp_16_clamp", "elu_fastexp_16_clamp", "selu_fastexp_16"])
def test_gradient_matches_numerical_float64(name):
  # Points away from the switches, where the derivative jumps.
  x = tf.constant(np.linspace(-7.3, 7.1, 37), tf.float64)
  fn = activations.get(name)
  theoretical, numerical = tf.test.compute_gradient(fn, [x], delta=1e-6)
  np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-6,
                             atol=1e-7)


def test_silu_beta_is_an_argument():
  x = np.linspace(-10, 10, 2001)
  for beta in (0.5, 1.702, 3.0):
    for name in ("silu_pade_5_4_clamp", "silu_fastexp_1024_clamp",
                 "silu_spline_32"):
      error = np.abs(_apply(name, x, beta=beta) -
                     EXACT["silu"](x, beta=beta)).max()
      assert error <= SAFE_ERROR / min(beta, 1.0), (name, beta, error)
  assert (activations.get("silu_pade_5_4", beta=2.0) !=
          activations.get("silu_pade_5_4"))
  with pytest.raises(ValueError, match="beta"):
    activations.get("silu_pade_5_4", beta=-1.0)
  with pytest.raises(ValueError, match="alpha"):
    activations.get("silu_pade_5_4", alpha=2.0)
  with pytest.raises(ValueError, match="takes no arguments|not `beta`"):
    activations.get("gelu_pade_5_6", beta=2.0)


def test_elu_alpha_is_an_argument():
  x = np.linspace(-10, 3, 1301)
  y = _apply("elu_fastexp_512_clamp", x, alpha=0.3)
  assert np.abs(y - EXACT["elu"](x, alpha=0.3)).max() < 1e-3
  y = _apply("elu_spline_16", x, alpha=0.3)
  assert np.abs(y - EXACT["elu"](x, alpha=0.3)).max() < 1e-3
  assert _apply("elu_fastexp_512_clamp", [-1e30], alpha=0.3)[0] == (
      np.float64(np.float32(-0.3)))


def test_arguments_survive_get_config_and_keras_files(tmp_path):
  fn = activations.get("silu_pade_5_4_clamp", beta=1.702)
  assert fn.get_config() == {"name": "silu_pade_5_4_clamp",
                             "arguments": {"beta": 1.702}}
  model = keras.Sequential([keras.Input((3,)), keras.layers.Activation(fn)])
  model.save(tmp_path / "m.keras")
  loaded = keras.models.load_model(tmp_path / "m.keras")
  x = np.linspace(-5, 5, 12, dtype=np.float32).reshape(4, 3)
  np.testing.assert_array_equal(loaded.predict(x, verbose=0),
                                model.predict(x, verbose=0))
  assert loaded.layers[0].activation.spec == fn.spec


@pytest.mark.parametrize("keras_name",
                         ["gelu", "silu", "swish", "mish", "softplus", "elu",
                          "selu"])
def test_keras_names_stay_keras_own(keras_name):
  fn = keras.activations.get(keras_name)
  assert not isinstance(fn, activations.Approximation)
  with pytest.raises(ValueError):
    activations.spec(keras_name)


@pytest.mark.parametrize("name", ["gelu_pade_5_6_clamp", "silu_pade_5_4",
                                  "mish_fastexp_1024_clamp",
                                  "softplus_pade_6_4_clamp",
                                  "selu_fastexp_512_clamp", "gelu_spline_16",
                                  "mish_spline_32"])
@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16, tf.float32,
                                   tf.float64])
def test_dtypes_shapes_empty_and_nan(name, dtype):
  fn = activations.get(name)
  for shape in [(0,), (2, 0, 3), (), (3, 1, 5)]:
    x = tf.cast(tf.reshape(tf.linspace(-9.0, 9.0, int(np.prod(shape))),
                           shape), dtype)
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = fn(x)
    dx = tape.gradient(y, x)
    assert y.shape == shape and y.dtype == dtype
    assert dx.shape == shape and dx.dtype == dtype
  x = tf.constant([math.nan, 1.0], dtype)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = fn(x)
  dx = tape.gradient(y, x)
  assert np.isnan(y.numpy()[0].astype(np.float32))
  assert np.isnan(dx.numpy()[0].astype(np.float32))


def test_bad_form_attrs_name_the_argument():
  spec = tf_approx.ops.ActivationSpec
  for kwargs, arg in [(dict(kind="hard_tanh", product=True), "product"),
                      (dict(input_scale=math.inf), "input_scale"),
                      (dict(below=(1.0, 2.0)), "below"),
                      (dict(below=(1.0, 0.0, 0.0), above=(0.0, 1.0, 0.0)),
                       "below"),
                      (dict(slope=math.nan), "slope"),
                      (dict(kind="spline", spline=(0.0,) * 5,
                            below=(-1.0, 0.0, 0.0), above=(1.0, 1.0, 0.0)),
                       "spline"),
                      (dict(kind="spline", spline=(0.0,) * 4,
                            below=(-1.0, 0.0, 0.0)), "below"),
                      (dict(kind="spline", spline=(0.0,) * 4,
                            below=(-1.0, 0.0, 0.0), above=(1.0, 1.0, 0.0),
                            input_scale=0.0), "input_scale"),
                      (dict(spline=(0.0,) * 4), "spline")]:
    with pytest.raises(ValueError, match=arg):
      spec(**kwargs)
  # The op itself, past the Python checks.
  library = tf_approx.ops.common.native_library()
  with pytest.raises(tf.errors.InvalidArgumentError, match="above"):
    library.tf_approx_activation(tf.zeros([2]), kind="rational",
                                 above=[1.0, 2.0])
  with pytest.raises(tf.errors.InvalidArgumentError, match="product"):
    library.tf_approx_activation(tf.zeros([2]), kind="hard_tanh",
                                 product=True)


def test_selu_overflows_only_where_selu_does():
  # Its x > 0 slope is a float32 attr: rounded to nearest (above the exact
  # scale) it overflowed for x in (max / scale_f32, max / scale].
  largest = np.finfo(np.float32).max
  x = np.float32(largest / activations.SELU_SCALE) * np.array(
      [1.0, 1.0 - 2**-23, 1.0 - 2**-22], np.float32)
  y = _apply("selu_fastexp_512_clamp", x, tf.float32)
  exact = activations.SELU_SCALE * x.astype(np.float64)
  assert np.all(np.isfinite(y[exact <= largest])), y
  np.testing.assert_allclose(y, exact, rtol=1e-6)


@pytest.mark.parametrize("name, arguments", [
    ("gelu_pade_5_6_clamp", {}), ("silu_pade_5_4_clamp", {"beta": 1.702}),
    ("mish_fastexp_1024_clamp", {}), ("elu_fastexp_512_clamp", {"alpha": 0.5}),
    ("gelu_spline_16", {}), ("silu_spline_32", {"beta": 1.702}),
    ("elu_spline_16", {"alpha": 0.5}), ("selu_spline_16", {})])
def test_xla_runs_the_composite_twin(name, arguments):
  """Under jit_compile the forms and splines run their twin: no native op in
  the graph, the op's values and gradients (to float32 rounding)."""
  fn = activations.get(name, **arguments)
  x = tf.constant(np.concatenate([np.linspace(-20.0, 20.0, 4001),
                                  [-1e30, 1e30, -np.inf, np.inf]]),
                  tf.float32)

  def value_and_gradient(v):
    with tf.GradientTape() as tape:
      tape.watch(v)
      y = fn(v)
    return y, tape.gradient(y, v)

  compiled = tf.function(value_and_gradient, jit_compile=True)
  graph = compiled.get_concrete_function(x).graph
  assert not any(op.type.startswith("TfApprox")
                 for op in graph.get_operations())
  for got, want in zip(compiled(x), value_and_gradient(x)):
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6,
                               atol=1e-6)
