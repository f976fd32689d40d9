"""The ACDC and SELL Keras layers: init, structure, config, saving."""

import json

import keras
import numpy as np
import pytest
import scipy.fft
import tensorflow as tf

import tf_approx

FEATURES = 12


def _data(seed=0, n=256, features=FEATURES):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, features)).astype(np.float32)
  y = (np.sin(x[:, :3]).sum(axis=1) > 0).astype(np.int32)
  return x, y


def _numpy_acdc(x, a, d, bias):
  h2 = scipy.fft.dct(x * a, norm="ortho", axis=-1)
  return scipy.fft.idct(h2 * d + bias, norm="ortho", axis=-1)


def _built(layer, shape):
  layer.build(shape)
  return layer


def test_acdc_init_and_function():
  layer = _built(tf_approx.layers.ACDC(seed=1), (None, 4096))
  a, d, bias = (w.numpy() for w in (layer.a, layer.d, layer.bias))
  for v in (a, d):
    assert abs(v.mean() - 1) < 0.01 and abs(v.std() - 0.1) < 0.01
  assert not np.allclose(a, d)
  np.testing.assert_array_equal(bias, 0)
  x = np.random.default_rng(0).normal(size=(3, 4096))
  np.testing.assert_allclose(layer(x).numpy(), _numpy_acdc(x, a, d, bias),
                             atol=1e-4)
  # N(1, 0.1²) diagonals: close to the identity map.
  assert np.linalg.norm(layer(x).numpy() - x) < 0.3 * np.linalg.norm(x)


def test_mean_zero_initialisation():
  layer = _built(tf_approx.layers.SELL(depth=2, mean=0.0, sigma=1e-3,
                                       seed=0), (None, 64))
  for w in (layer.a, layer.d):
    assert abs(w.numpy().mean()) < 1e-3 and abs(w.numpy().std() - 1e-3) < 2e-4
  assert tf_approx.layers.SELL.from_config(layer.get_config()).mean == 0.0


def test_acdc_sigma_and_no_bias():
  layer = _built(tf_approx.layers.ACDC(sigma=0.0, use_bias=False),
                 (None, 10))
  assert [w.name for w in layer.trainable_weights] == ["a", "d"]
  x = np.random.default_rng(1).normal(size=(4, 10)).astype(np.float32)
  np.testing.assert_allclose(layer(x).numpy(), x, atol=1e-5)


def test_sell_structure_and_function():
  layer = _built(tf_approx.layers.SELL(depth=3, activation="relu", seed=4,
                                       dtype="float64"), (None, 20))
  assert layer.a.shape == (3, 20) and layer.permutations.shape == (2, 20)
  for row in layer.permutations.numpy():
    np.testing.assert_array_equal(np.sort(row), np.arange(20))
  assert layer.count_params() == 3 * 3 * 20 + 2 * 20
  x = np.random.default_rng(2).normal(size=(5, 20))
  h = x
  for k in range(3):
    if k:
      h = h[:, layer.permutations.numpy()[k - 1]]
    h = np.maximum(_numpy_acdc(h, layer.a.numpy()[k], layer.d.numpy()[k],
                               layer.bias.numpy()[k]), 0)
  np.testing.assert_allclose(layer(x).numpy(), h, atol=1e-12)


@pytest.mark.parametrize("n_in, units", [(8, 20), (20, 8), (12, None)])
def test_sell_pads_or_truncates(n_in, units):
  layer = tf_approx.layers.SELL(depth=2, units=units, seed=0,
                                dtype="float64")
  x = np.random.default_rng(3).normal(size=(4, n_in))
  y = layer(x).numpy()
  width = max(n_in, units or n_in)
  assert layer.a.shape == (2, width)
  assert y.shape == (4, units or n_in)
  padded = np.pad(x, [[0, 0], [0, width - n_in]])
  h = _numpy_acdc(padded, *(w.numpy()[0] for w in (layer.a, layer.d,
                                                   layer.bias)))
  h = h[:, layer.permutations.numpy()[0]]
  h = _numpy_acdc(h, *(w.numpy()[1] for w in (layer.a, layer.d,
                                              layer.bias)))
  np.testing.assert_allclose(y, h[:, :units or n_in], atol=1e-12)
  assert layer.compute_output_shape((None, n_in)) == (None, units or n_in)


def test_depth_one_has_no_permutation():
  layer = tf_approx.layers.SELL(depth=1, seed=0)
  x = _data()[0]
  assert layer(x).shape == x.shape
  assert layer.permutations.shape == (0, FEATURES)


def test_same_seed_same_function():
  x = _data()[0]
  a = tf_approx.layers.SELL(depth=3, seed=9)(x).numpy()
  np.testing.assert_array_equal(tf_approx.layers.SELL(depth=3, seed=9)(x), a)
  assert not np.allclose(tf_approx.layers.SELL(depth=3, seed=10)(x), a)


VARIANTS = {
    "acdc": ("ACDC", dict(seed=2)),
    "acdc_no_bias": ("ACDC", dict(sigma=0.2, use_bias=False)),
    "sell_relu": ("SELL", dict(depth=4, activation="relu", seed=3)),
    "sell_wide": ("SELL", dict(depth=2, units=20, activation="tanh_pade_4_4",
                               seed=5)),
    "sell_regularized": ("SELL", dict(
        depth=2, seed=6,
        diagonal_initializer=keras.initializers.RandomUniform(0.9, 1.1,
                                                              seed=7),
        diagonal_regularizer=keras.regularizers.L2(1e-3),
        diagonal_constraint=keras.constraints.MaxNorm(10.0, axis=-1))),
}


def _layer(key):
  cls, kwargs = VARIANTS[key]
  return getattr(tf_approx.layers, cls)(**kwargs)


def _model(layer, seed=0):
  keras.utils.set_random_seed(seed)
  return keras.Sequential([keras.Input((FEATURES,)), layer,
                           keras.layers.Dense(2)])


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_model_trains(key):
  x, y = _data()
  model = _model(_layer(key))
  model.compile(keras.optimizers.Adam(0.01),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  losses = model.fit(x, y, epochs=8, batch_size=32, verbose=0
                     ).history["loss"]
  assert np.all(np.isfinite(losses)) and losses[-1] < 0.8 * losses[0], losses


def test_deep_stack_stays_trainable_with_identity_like_init():
  # The thesis' point: N(1, ·) keeps a deep linear stack near the identity,
  # so gradients neither vanish nor explode.
  x = tf.constant(_data(features=64)[0])
  layer = tf_approx.layers.SELL(depth=16, seed=1)
  with tf.GradientTape() as tape:
    y = layer(x)
    loss = tf.reduce_mean(y**2)
  grads = tape.gradient(loss, layer.trainable_weights)
  ratio = np.linalg.norm(y.numpy()) / np.linalg.norm(x.numpy())
  assert 0.5 < ratio < 2, ratio
  assert all(np.all(np.isfinite(g.numpy())) for g in grads)


def test_mixed_precision_runs_in_float16():
  x = tf.constant(_data()[0])
  layer = tf_approx.layers.SELL(depth=2, seed=4, dtype="mixed_float16")
  y = layer(x)
  assert y.dtype == tf.float16 and layer.a.dtype == "float32"
  np.testing.assert_allclose(
      y.numpy(), tf_approx.layers.SELL(depth=2, seed=4)(x).numpy(),
      rtol=2e-2, atol=2e-2)


def test_fit_with_jit_compile_runs():
  x, y = _data()
  model = _model(_layer("sell_relu"))
  model.compile("adam",
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                jit_compile=True)
  losses = model.fit(x, y, epochs=2, verbose=0).history["loss"]
  assert np.all(np.isfinite(losses))


def test_xla_function_uses_composite_twin():
  layer = _layer("sell_wide")
  x = tf.constant(_data()[0])
  compiled = tf.function(lambda v: layer(v), jit_compile=True)
  np.testing.assert_allclose(compiled(x).numpy(), layer(x).numpy(),
                             rtol=1e-5, atol=1e-5)
  graph = compiled.get_concrete_function(x).graph
  assert not any(op.type.startswith("TfApprox")
                 for op in graph.get_operations())


@pytest.mark.parametrize("cls, kwargs, message", [
    ("SELL", dict(depth=0), "depth"),
    ("SELL", dict(depth=2, units=0), "units"),
    ("SELL", dict(depth=2, activation="no_such_fn"), "no_such_fn"),
    ("SELL", dict(depth=2, sigma=-0.1), "sigma"),
    ("ACDC", dict(mean=float("nan")), "mean"),
])
def test_bad_arguments(cls, kwargs, message):
  with pytest.raises(ValueError, match=message):
    getattr(tf_approx.layers, cls)(**kwargs)


@pytest.mark.parametrize("cls, kwargs, message", [
    ("SELL", dict(depth=2.5), "`depth` must be an int"),
    ("ACDC", dict(sigma="wide"), "`sigma` must be a finite number"),
])
def test_bad_argument_types(cls, kwargs, message):
  with pytest.raises(TypeError, match=message):
    getattr(tf_approx.layers, cls)(**kwargs)


def test_needs_a_known_last_axis():
  for layer in (tf_approx.layers.ACDC(), tf_approx.layers.SELL(depth=2)):
    with pytest.raises(ValueError, match="last axis"):
      layer.build((None, None))


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_config_round_trip(key):
  layer = _layer(key)
  config = layer.get_config()
  json.dumps(config)
  clone = type(layer).from_config(config)
  assert clone.get_config() == config
  if layer.seed is not None:
    x = _data()[0]
    np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())


def test_keras_file_and_export_load_in_fresh_process(
    assert_reloads_in_fresh_process):
  x, y = _data()
  models = {}
  for key in VARIANTS:
    model = _model(_layer(key))
    model.compile("adam",
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)  # move the weights off their init
    models[key] = model
  assert_reloads_in_fresh_process(models, x)


@pytest.mark.parametrize("cls, kwargs, error, message", [
    ("ACDC", dict(seed=2**70), ValueError,
     r"`seed` must be an int seed in \[0, 2\*\*63 - 2\], got 1180"),
    ("ACDC", dict(seed=2**63 - 1), ValueError, r"\[0, 2\*\*63 - 2\]"),
    ("ACDC", dict(seed=-1), ValueError, "`seed` must be an int seed in"),
    ("ACDC", dict(seed=1.0), TypeError, "`seed` must be an int seed, got "
     "float"),
    ("SELL", dict(depth=2, seed=-1), ValueError,
     r"`seed` must be an int seed in \[0, 2\*\*63 - 2\], got -1"),
    ("SELL", dict(depth=2, seed=2.5), TypeError, "`seed`"),
    ("SELL", dict(depth=2, seed=True), TypeError, "`seed`"),
    ("SELL", dict(depth=np.int64(0)), ValueError, "`depth`"),
    ("ACDC", dict(diagonal_initializer="ones", sigma=0.2), ValueError,
     "`sigma` describes the default"),
    ("SELL", dict(depth=2, diagonal_initializer="ones", mean=0.0), ValueError,
     "`mean` describes the default"),
])
def test_bad_arguments_name_the_argument(cls, kwargs, error, message):
  with pytest.raises(error, match=message):
    getattr(tf_approx.layers, cls)(**kwargs)


def test_largest_seed_and_numpy_ints_work():
  layer = tf_approx.layers.ACDC(seed=np.int64(2**63 - 2))
  assert type(layer.seed) is int
  layer(tf.ones([2, 4]))
  tf_approx.layers.SELL(depth=2, seed=2**63 - 2)(tf.ones([2, 4]))


def test_built_layers_refuse_another_input_width_and_ints():
  for layer in (tf_approx.layers.ACDC(), tf_approx.layers.SELL(depth=2)):
    layer(tf.zeros([2, 5]))
    assert layer.input_spec.axes == {-1: 5}
    with pytest.raises(ValueError, match="expected axis -1 of input shape to "
                       "have value 5"):
      layer(tf.zeros([2, 8]))
    with pytest.raises(TypeError, match="needs float `inputs`, got int32"):
      layer(tf.zeros([2, 5], tf.int32))


@pytest.mark.parametrize("cls, kwargs, shape", [
    ("ACDC", {}, (6,)), ("SELL", dict(depth=3), (3, 6))])
def test_diagonal_initializer_regularizer_constraint(cls, kwargs, shape):
  layer = getattr(tf_approx.layers, cls)(
      diagonal_initializer="ones", diagonal_regularizer=keras.regularizers.L1(
          0.25), diagonal_constraint="non_neg", **kwargs)
  assert layer.sigma is None and layer.mean is None
  layer.build((None, 6))
  for weight in (layer.a, layer.d):
    assert tuple(weight.shape) == shape
    np.testing.assert_array_equal(weight.numpy(), np.ones(shape))
    assert weight.constraint is not None
  np.testing.assert_allclose(float(sum(layer.losses)),
                             2 * 0.25 * np.prod(shape))
  layer.a.assign(-layer.a)
  model = keras.Sequential([keras.Input((6,)), layer])
  model.compile("sgd", "mse")
  model.fit(np.ones((4, 6), np.float32), np.zeros((4, 6), np.float32),
            verbose=0)
  assert np.all(layer.a.numpy() >= 0)  # the constraint ran after the update
  config = layer.get_config()
  assert config["diagonal_initializer"]["class_name"] == "Ones"
  assert config["diagonal_regularizer"]["config"]["l1"] == 0.25
  assert config["diagonal_constraint"]["class_name"] == "NonNeg"


def test_default_initialisation_is_unchanged_by_the_new_arguments():
  config = tf_approx.layers.ACDC(seed=1).get_config()
  assert (config["sigma"], config["mean"]) == (0.1, 1.0)
  assert config["diagonal_initializer"] is None
  explicit = tf_approx.layers.ACDC(sigma=0.1, mean=1.0, seed=1)
  x = _data()[0]
  np.testing.assert_array_equal(
      tf_approx.layers.ACDC.from_config(config)(x).numpy(),
      explicit(x).numpy())


def test_sell_set_weights_refuses_permutations_that_wrap_or_are_floats():
  layer = tf_approx.layers.SELL(depth=3, seed=1)
  layer.build((None, 4))
  weights = layer.get_weights()
  index = [w.dtype for w in weights].index(np.int32)
  wrapped = weights[index].astype(np.int64) + 2**32
  with pytest.raises(ValueError, match="`permutations` must hold a "
                     "permutation of range"):
    layer.set_weights(weights[:index] + [wrapped] + weights[index + 1:])
  with pytest.raises(TypeError, match="`permutations` must hold ints"):
    layer.set_weights(weights[:index] + [weights[index] * 1.0]
                      + weights[index + 1:])
