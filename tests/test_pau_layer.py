"""The PAU Keras layer: inits, RPAU, config, saving, XLA fallback."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_approx
from tf_approx import pau_inits
from tf_approx.reference import pau as reference

FEATURES = 12


def _data(seed=0, n=256):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, FEATURES)).astype(np.float32)
  y = (np.sin(x[:, :3]).sum(axis=1) > 0).astype(np.int32)
  return x, y


def _model(seed=0, **pau_kwargs):
  keras.utils.set_random_seed(seed)
  return keras.Sequential([
      keras.Input((FEATURES,)),
      keras.layers.Dense(16),
      tf_approx.layers.PAU(**pau_kwargs),
      keras.layers.Dense(2),
  ])


VARIANTS = {
    "default": {},
    "per_channel_swish_6_4": dict(order=(6, 4), init="swish",
                                  per_channel=True),
    "rpau": dict(randomized=0.01, seed=7),
    "abs_of_sum": dict(denominator="abs_of_sum", init="tanh"),
    "unsafe": dict(denominator="unsafe", init="sigmoid", order=(3, 2)),
    "initializer_regularized": dict(
        order=(3, 2), per_channel=True,
        coefficient_initializer=keras.initializers.RandomNormal(0.5, 0.1,
                                                                seed=4),
        coefficient_regularizer=keras.regularizers.L2(1e-3),
        coefficient_constraint=keras.constraints.MaxNorm(5.0)),
}


@pytest.mark.parametrize("init", pau_inits.INIT_NAMES)
def test_named_init_approximates_its_function(init):
  layer = tf_approx.layers.PAU(init=init)
  x = np.linspace(-3, 3, 601).astype(np.float32)
  exact = {
      "leaky_relu": lambda v: np.where(v > 0, v, 0.01 * v),
      "relu": lambda v: np.maximum(v, 0),
      "tanh": np.tanh,
      "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
      "swish": lambda v: v / (1 + np.exp(-v)),
      "identity": lambda v: v,
  }[init](x)
  error = np.max(np.abs(layer(x).numpy() - exact))
  assert error <= pau_inits.max_error(init, (5, 4), "safe") * 1.01 + 1e-6


def test_default_is_safe_5_4_leaky_relu_shared():
  layer = tf_approx.layers.PAU()
  layer.build((None, 8))
  assert layer.order == (5, 4) and layer.denominator == "safe"
  assert layer.numerator.shape == (6,) and layer.denominator_coefficients.shape == (4,)
  a, b = pau_inits.init_coefficients("leaky_relu", (5, 4), "safe")
  np.testing.assert_allclose(layer.numerator.numpy(), a, rtol=1e-7)
  np.testing.assert_allclose(layer.denominator_coefficients.numpy(), b,
                             rtol=1e-7)
  assert len(layer.trainable_weights) == 2


def test_per_channel_has_one_set_per_channel():
  layer = tf_approx.layers.PAU(per_channel=True, order=(3, 2))
  layer.build((None, 5, 9))
  assert layer.numerator.shape == (9, 4)
  assert layer.denominator_coefficients.shape == (9, 2)


def test_explicit_coefficient_lists():
  a, b = [0.0, 1.0, 0.5], [0.25]
  layer = tf_approx.layers.PAU(init=(a, b))
  assert layer.order == (2, 1)
  x = np.linspace(-2, 2, 9)
  np.testing.assert_allclose(layer(x).numpy(),
                             (a[0] + a[1] * x + a[2] * x**2) /
                             (1 + 0.25 * np.abs(x)), rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(order=(0, 4)), "order"),
    (dict(order=(5, 11)), "order"),
    (dict(order=(5,)), "order"),
    (dict(init="elu"), "init"),
    (dict(init=([0.0, 1.0], [1.0]), order=(2, 1)), "order"),
    (dict(init=([0.0] * 12, [1.0])), "`init` lists must hold 2 to 11"),
    (dict(init=([0.0, 1.0], [])), "`init` lists must hold 2 to 11"),
    (dict(denominator="positive"), "denominator"),
    (dict(randomized=-1.0), "randomized"),
])
def test_bad_arguments_raise_value_error(kwargs, message):
  with pytest.raises(ValueError, match=message):
    tf_approx.layers.PAU(**kwargs)


def test_per_channel_needs_known_last_axis():
  layer = tf_approx.layers.PAU(per_channel=True)
  with pytest.raises(ValueError, match="last axis"):
    layer.build((None, None))


def test_rpau_noise_only_in_training_and_reproducible():
  x = np.random.default_rng(1).normal(size=(64, 8)).astype(np.float32)
  layer = tf_approx.layers.PAU(randomized=0.1, seed=3)
  twin = tf_approx.layers.PAU(randomized=0.1, seed=3)
  plain = tf_approx.layers.PAU()
  inference = layer(x, training=False).numpy()
  np.testing.assert_array_equal(inference, plain(x).numpy())
  np.testing.assert_array_equal(layer(x, training=False).numpy(), inference)
  first = layer(x, training=True).numpy()
  assert not np.allclose(first, inference)
  # Same seed, same step: same noise. The next step draws new noise.
  np.testing.assert_array_equal(twin(x, training=True).numpy(), first)
  second = layer(x, training=True).numpy()
  assert not np.allclose(second, first)
  assert int(layer.step.numpy()) == 2
  # Noise of relative size alpha on each coefficient.
  assert np.max(np.abs(first - inference)) < 0.1 * np.max(np.abs(x)) * 2


def test_rpau_gradient_uses_the_forward_noise():
  x = tf.constant(np.random.default_rng(2).normal(size=(50, 8)), tf.float64)
  layer = tf_approx.layers.PAU(randomized=0.1, seed=5, dtype="float64")
  layer.build(x.shape)
  with tf.GradientTape() as tape:
    y = layer(x, training=True)
  grads = tape.gradient(y, [layer.numerator, layer.denominator_coefficients])
  seed = tf.constant([5, 0], tf.int64)
  a = tf.convert_to_tensor(layer.numerator)
  b = tf.convert_to_tensor(layer.denominator_coefficients)
  with tf.GradientTape() as tape:
    tape.watch([a, b])
    y_ref = reference.pau(x, a, b, "safe", 0.1, seed)
  want = tape.gradient(y_ref, [a, b])
  np.testing.assert_allclose(y.numpy(), y_ref.numpy(), rtol=1e-6)
  for got, w in zip(grads, want):
    np.testing.assert_allclose(got.numpy(), w.numpy(), rtol=1e-6)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_model_trains(variant):
  x, y = _data()
  model = _model(**VARIANTS[variant])
  model.compile(keras.optimizers.Adam(0.01),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
  losses = history.history["loss"]
  assert np.all(np.isfinite(losses)) and losses[-1] < 0.8 * losses[0], losses


def test_fit_with_jit_compile_runs():
  x, y = _data()
  model = _model(per_channel=True)
  model.compile("adam",
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                jit_compile=True)
  losses = model.fit(x, y, epochs=2, verbose=0).history["loss"]
  assert np.all(np.isfinite(losses))


@pytest.mark.parametrize("variant", ["default", "per_channel_swish_6_4",
                                     "unsafe"])
def test_xla_function_uses_composite_twin(variant):
  layer = tf_approx.layers.PAU(**VARIANTS[variant])
  x = tf.constant(_data()[0])
  layer.build(x.shape)
  compiled = tf.function(lambda v: layer(v), jit_compile=True)
  np.testing.assert_allclose(compiled(x).numpy(), layer(x).numpy(),
                             rtol=2e-5, atol=2e-6)
  graph = tf.function(lambda v: layer(v), jit_compile=True
                      ).get_concrete_function(x).graph
  assert not any(op.type.startswith("TfApprox") for op in
                 graph.get_operations())


def test_mixed_precision_runs_in_float16():
  layer = tf_approx.layers.PAU(dtype="mixed_float16")
  x = tf.constant(_data()[0])
  y = layer(x)
  assert y.dtype == tf.float16
  assert layer.numerator.dtype == "float32"
  np.testing.assert_allclose(y.numpy(), tf_approx.layers.PAU()(x).numpy(),
                             rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_config_round_trip(variant):
  layer = tf_approx.layers.PAU(**VARIANTS[variant])
  config = layer.get_config()
  json.dumps(config)
  clone = tf_approx.layers.PAU.from_config(config)
  assert clone.get_config() == config
  x = _data()[0]
  np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())


def test_seed_is_drawn_once_and_kept():
  layer = tf_approx.layers.PAU(randomized=0.01)
  assert tf_approx.layers.PAU.from_config(layer.get_config()).seed == layer.seed


def test_keras_file_and_export_load_in_fresh_process(
    assert_reloads_in_fresh_process):
  x, y = _data()
  models = {}
  for key in VARIANTS:
    model = _model(**VARIANTS[key])
    model.compile("adam",
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)  # move the weights off their init
    models[key] = model
  assert_reloads_in_fresh_process(models, x)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(seed="x"), TypeError, "`seed` must be an int seed, got str"),
    (dict(seed=1.5), TypeError, "`seed` must be an int seed, got float"),
    (dict(seed=-1), ValueError, "`seed` must be an int seed in"),
    # Failed only when the layer was called in training.
    (dict(randomized=0.1, seed=2**64 - 1), ValueError,
     r"`seed` must be an int seed in \[0, 2\*\*63 - 1\], got "
     "18446744073709551615"),
    (dict(randomized=np.float32(-0.5)), ValueError, "`randomized`"),
    (dict(randomized="0.1"), TypeError, "`randomized`"),
    (dict(init=("a", "b")), TypeError, "`init numerator` must hold real"),
    (dict(init=([0, 1 + 1j], [1j])), TypeError,
     "`init numerator` must hold real floats.*got complex128"),
    (dict(init=(np.array([0.0, 1.0]), np.array([1j]))), TypeError,
     "`init denominator` must hold real floats.*got complex128"),
    (dict(denominator=None), TypeError, "`denominator` must be one of"),
    (dict(init="elu"), ValueError, r"`init` must be one of \('leaky_relu'"),
    (dict(init=3), TypeError, "`init` must be an init name or a pair"),
    (dict(init=([0.0, 1.0], [1.0], [2.0])), ValueError,
     "`init` must be an init name or a pair"),
    (dict(init="tanh", coefficient_initializer="zeros"), ValueError,
     "give `init` or `coefficient_initializer`, not both"),
])
def test_bad_arguments_name_the_argument(kwargs, error, message):
  with pytest.raises(error, match=message):
    tf_approx.layers.PAU(**kwargs)


def test_numpy_scalars_and_largest_seed():
  layer = tf_approx.layers.PAU(randomized=np.float32(0.25),
                               seed=np.int64(2**63 - 1))
  assert (layer.randomized, layer.seed) == (0.25, 2**63 - 1)
  assert type(layer.randomized) is float and type(layer.seed) is int
  layer(tf.ones([2, 3]), training=True)


def test_coefficient_initializer_replaces_init():
  layer = tf_approx.layers.PAU(order=(3, 2), coefficient_initializer="ones",
                               per_channel=True)
  assert layer.init is None
  layer.build((None, 4))
  np.testing.assert_array_equal(layer.numerator.numpy(), np.ones((4, 4)))
  np.testing.assert_array_equal(layer.denominator_coefficients.numpy(),
                                np.ones((4, 2)))
  config = layer.get_config()
  assert config["init"] is None
  assert config["coefficient_initializer"]["class_name"] == "Ones"
  # Safe PAU (5, 4) with every coefficient 1: F(1) = 6 / 5.
  ones = tf_approx.layers.PAU(
      coefficient_initializer=keras.initializers.Constant(1.0))
  np.testing.assert_allclose(ones(np.float32([1.0])).numpy(), [6.0 / 5.0])
  # Without either, init is leaky_relu, as before.
  default = tf_approx.layers.PAU()
  assert default.init == "leaky_relu" and default.order == (5, 4)
  assert default.get_config()["coefficient_initializer"] is None
  a, b = pau_inits.init_coefficients("leaky_relu")
  default.build((None, 4))
  np.testing.assert_allclose(default.numerator.numpy(), a, rtol=1e-6)
  np.testing.assert_allclose(default.denominator_coefficients.numpy(), b,
                             rtol=1e-6)


def test_coefficient_regularizer_and_constraint():
  layer = tf_approx.layers.PAU(
      coefficient_regularizer=keras.regularizers.L1(0.5),
      coefficient_constraint="non_neg", init="identity")
  layer.build((None, FEATURES))
  want = 0.5 * (np.abs(layer.numerator.numpy()).sum()
                + np.abs(layer.denominator_coefficients.numpy()).sum())
  np.testing.assert_allclose(float(sum(layer.losses)), want, rtol=1e-6)
  layer.numerator.assign(-np.abs(layer.numerator.numpy()) - 1)
  model = keras.Sequential([keras.Input((FEATURES,)), layer])
  model.compile("sgd", "mse")
  x = _data()[0]
  model.fit(x, x, epochs=1, batch_size=64, verbose=0)
  assert np.all(layer.numerator.numpy() >= 0)
  assert layer.get_config()["coefficient_constraint"]["class_name"] == (
      "NonNeg")


def test_input_spec_and_int_inputs():
  shared = tf_approx.layers.PAU()
  shared(tf.zeros([2, 4]))
  shared(tf.zeros([3]))  # one coefficient set: any shape
  per_channel = tf_approx.layers.PAU(per_channel=True)
  per_channel(tf.zeros([2, 4]))
  assert per_channel.input_spec.axes == {-1: 4}
  with pytest.raises(ValueError, match="expected axis -1 of input shape to "
                     "have value 4"):
    per_channel(tf.zeros([2, 5]))
  with pytest.raises(TypeError, match="PAU needs float `inputs`, got int32"):
    shared(tf.zeros([2, 4], tf.int32))
