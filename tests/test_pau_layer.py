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
    (dict(init=("a", "b")), "init numerator"),
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
