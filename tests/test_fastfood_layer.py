"""The Fastfood and FastfoodRBF Keras layers: init, kernel, config, saving."""

import json

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

import tf_approx
from tf_approx.layers import fastfood as fastfood_layers

FEATURES = 12


def _data(seed=0, n=256, features=FEATURES):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, features)).astype(np.float32)
  y = (np.sin(x[:, :3]).sum(axis=1) > 0).astype(np.int32)
  return x, y


def _dense_matrix(layer):
  """The layer's V as a dense [units, n_in] matrix, from its weights."""
  s, g, b = (w.numpy().astype(np.float64) for w in (layer.s, layer.g,
                                                    layer.b))
  permutation = layer.permutation.numpy()
  blocks, d = s.shape
  h = scipy.linalg.hadamard(d) / np.sqrt(d)
  rows = [np.diag(s[k]) @ h @ np.diag(g[k]) @ np.eye(d)[permutation[k]] @ h
          @ np.diag(b[k]) for k in range(blocks)]
  return np.concatenate(rows)


VARIANTS = {
    "adaptive_relu": dict(units=40, activation="relu"),
    "fixed_tanh_pade": dict(units=16, adaptive=False,
                            activation="tanh_pade_4_4", seed=3),
    "no_bias_stddev": dict(units=7, use_bias=False, stddev=0.2),
    "regularized": dict(units=20, diagonal_regularizer="l2",
                        diagonal_constraint="non_neg",
                        bias_initializer="ones", bias_regularizer="l1",
                        bias_constraint="non_neg", seed=2),
}


def _model(seed=0, layer=None):
  keras.utils.set_random_seed(seed)
  return keras.Sequential([
      keras.Input((FEATURES,)),
      layer or tf_approx.layers.Fastfood(32, activation="relu", seed=seed),
      keras.layers.Dense(2),
  ])


@pytest.mark.parametrize("n_in, units", [(12, 40), (16, 16), (5, 3), (1, 4)])
def test_fastfood_is_its_dense_matrix(n_in, units):
  layer = tf_approx.layers.Fastfood(units, use_bias=False, dtype="float64",
                                    seed=1)
  x = np.random.default_rng(0).normal(size=(6, n_in))
  w = _dense_matrix(layer_built(layer, (None, n_in)))
  np.testing.assert_allclose(layer(x).numpy(),
                             x @ w[:units, :n_in].T, rtol=1e-12, atol=1e-12)


def layer_built(layer, shape):
  layer.build(shape)
  return layer


def test_weights_shapes_and_trainability():
  adaptive = layer_built(tf_approx.layers.Fastfood(40), (None, 12))
  assert {w.name: tuple(w.shape) for w in adaptive.weights} == {
      "s": (3, 16), "g": (3, 16), "b": (3, 16), "permutation": (3, 16),
      "bias": (40,)}
  assert {w.name for w in adaptive.trainable_weights} == {"s", "g", "b",
                                                          "bias"}
  assert adaptive.permutation.dtype == "int32"
  fixed = layer_built(tf_approx.layers.Fastfood(40, adaptive=False),
                      (None, 12))
  assert [w.name for w in fixed.trainable_weights] == ["bias"]
  assert fixed.count_params() == 3 * 3 * 16 + 3 * 16 + 40
  rbf = layer_built(tf_approx.layers.FastfoodRBF(40), (None, 12))
  assert not rbf.trainable_weights and rbf.s.shape == (2, 16)


def test_init_follows_le_et_al():
  layer = layer_built(tf_approx.layers.Fastfood(4096, seed=5), (None, 1024))
  s, g, b = (w.numpy() for w in (layer.s, layer.g, layer.b))
  assert set(np.unique(b)) == {-1.0, 1.0}
  assert abs(g.mean()) < 0.05 and abs(g.std() - 1) < 0.05
  for row in layer.permutation.numpy():
    np.testing.assert_array_equal(np.sort(row), np.arange(1024))
  # S_ii ||G||_F / (stddev sqrt(d)) ~ chi(d): mean ~ sqrt(d - 1/2).
  chi = s * np.linalg.norm(g, axis=1, keepdims=True) * np.sqrt(1024) / 32
  assert abs(chi.mean() - np.sqrt(1023.5)) < 0.1
  assert abs(chi.std() - np.sqrt(0.5)) < 0.05


def test_matrix_entries_look_gaussian_with_stddev():
  layer = layer_built(tf_approx.layers.Fastfood(1024, stddev=0.3, seed=2,
                                                dtype="float64"), (None, 512))
  w = _dense_matrix(layer)[:, :512]
  assert abs(w.std() - 0.3) < 0.01 and abs(w.mean()) < 0.01
  # Row lengths like those of Gaussian vectors of d = 512 entries.
  norms = np.linalg.norm(_dense_matrix(layer), axis=1)
  assert abs(norms.mean() / (0.3 * np.sqrt(512)) - 1) < 0.01


def test_default_stddev_keeps_activations_scale():
  x = _data(n=512, features=300)[0]
  y = tf_approx.layers.Fastfood(2048, use_bias=False, seed=0)(x).numpy()
  # LeCun-normal-like: output variance ~ mean squared input.
  assert abs(y.var() / np.mean(x**2) - 1) < 0.1


def test_same_seed_same_function_other_seed_differs():
  x = _data()[0]
  a = tf_approx.layers.Fastfood(20, seed=9)(x).numpy()
  np.testing.assert_array_equal(tf_approx.layers.Fastfood(20, seed=9)(x), a)
  assert not np.allclose(tf_approx.layers.Fastfood(20, seed=10)(x), a)


@pytest.mark.parametrize("sigma", [0.5, 2.0])
def test_rbf_gram_approximates_the_gaussian_kernel(sigma):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(60, 20)) * sigma / np.sqrt(20)
  distances = ((x[:, None, :] - x[None, :, :])**2).sum(-1)
  exact = np.exp(-distances / (2 * sigma**2))
  errors = []
  for units in (64, 1024, 16384):
    trials = []
    for seed in range(3):
      z = tf_approx.layers.FastfoodRBF(units, sigma=sigma, seed=seed,
                                       dtype="float64")(x).numpy()
      trials.append(np.sqrt(np.mean((z @ z.T - exact)**2)))
    errors.append(np.mean(trials))
  # Monte Carlo: the error falls as 1 / sqrt(units) (16x more -> ~4x less).
  assert errors[0] > 2.5 * errors[1] > 6 * errors[2], errors
  assert errors[2] < 0.02, errors
  # Features have unit norm: z(x) . z(x) = 1 = k(x, x).
  np.testing.assert_allclose(np.sum(z**2, axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_model_trains(variant):
  x, y = _data()
  model = _model(layer=tf_approx.layers.Fastfood(**VARIANTS[variant]))
  model.compile(keras.optimizers.Adam(0.01),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  losses = model.fit(x, y, epochs=8, batch_size=32, verbose=0
                     ).history["loss"]
  assert np.all(np.isfinite(losses)) and losses[-1] < 0.8 * losses[0], losses


def test_adaptive_trains_s_g_b_and_fixed_does_not():
  x, y = _data()
  for adaptive in (True, False):
    layer = tf_approx.layers.Fastfood(32, adaptive=adaptive,
                                      activation="relu", seed=1)
    model = _model(layer=layer)
    before = [w.numpy().copy() for w in (layer.s, layer.g, layer.b,
                                         layer.permutation)]
    model.compile("adam",
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)
    after = [w.numpy() for w in (layer.s, layer.g, layer.b,
                                 layer.permutation)]
    for name, old, new in zip("sgb", before, after):
      assert np.array_equal(old, new) != adaptive, name
    np.testing.assert_array_equal(before[3], after[3])


def test_any_leading_shape():
  layer = tf_approx.layers.Fastfood(10, seed=0)
  x = np.random.default_rng(0).normal(size=(2, 3, 5)).astype(np.float32)
  y = layer(x)
  assert y.shape == (2, 3, 10)
  np.testing.assert_allclose(y.numpy().reshape(6, 10),
                             layer(x.reshape(6, 5)).numpy(), rtol=1e-6)
  assert layer.compute_output_shape((None, 3, 5)) == (None, 3, 10)
  assert tf_approx.layers.FastfoodRBF(8)(x).shape == (2, 3, 8)


def test_mixed_precision_runs_in_float16():
  x = tf.constant(_data()[0])
  layer = tf_approx.layers.Fastfood(24, seed=4, dtype="mixed_float16")
  y = layer(x)
  assert y.dtype == tf.float16 and layer.s.dtype == "float32"
  np.testing.assert_allclose(
      y.numpy(), tf_approx.layers.Fastfood(24, seed=4)(x).numpy(),
      rtol=2e-2, atol=2e-2)


def test_fit_with_jit_compile_runs():
  x, y = _data()
  model = _model()
  model.compile("adam",
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                jit_compile=True)
  losses = model.fit(x, y, epochs=2, verbose=0).history["loss"]
  assert np.all(np.isfinite(losses))


def test_xla_function_uses_composite_twin():
  layer = tf_approx.layers.Fastfood(40, activation="relu", seed=0)
  x = tf.constant(_data()[0])
  compiled = tf.function(lambda v: layer(v), jit_compile=True)
  np.testing.assert_allclose(compiled(x).numpy(), layer(x).numpy(),
                             rtol=1e-5, atol=1e-5)
  graph = compiled.get_concrete_function(x).graph
  assert not any(op.type.startswith("TfApprox")
                 for op in graph.get_operations())


@pytest.mark.parametrize("kwargs, message", [
    (dict(units=0), "units"),
    (dict(units=-3), "units"),
    (dict(units=8, stddev=0.0), "stddev"),
    (dict(units=8, activation="no_such_activation"), "no_such_activation"),
])
def test_fastfood_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    tf_approx.layers.Fastfood(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(units=2.5), "`units` must be an int"),
    (dict(units=True), "`units` must be an int"),
    (dict(units=8, stddev="wide"), "`stddev` must be a finite number"),
])
def test_fastfood_bad_argument_types(kwargs, message):
  with pytest.raises(TypeError, match=message):
    tf_approx.layers.Fastfood(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(units=0), "units"),
    (dict(units=7), "even"),
    (dict(units=8, sigma=-1.0), "sigma"),
    (dict(units=8, sigma=float("inf")), "sigma"),
])
def test_rbf_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    tf_approx.layers.FastfoodRBF(**kwargs)


@pytest.mark.parametrize("shape", [(None, None), (), (4, 0)])
def test_needs_a_known_nonempty_last_axis(shape):
  with pytest.raises(ValueError, match="last axis|input feature"):
    tf_approx.layers.Fastfood(8).build(shape)


def test_block_size_and_init_are_deterministic():
  assert [fastfood_layers.block_size(n) for n in (1, 2, 3, 512, 513)] == [
      1, 2, 4, 512, 1024]
  first = fastfood_layers.fastfood_init(100, 300, 0.1, seed=4)
  second = fastfood_layers.fastfood_init(100, 300, 0.1, seed=4)
  assert first[0].shape == (3, 128)
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a, b)


ALL_VARIANTS = {
    **{key: ("Fastfood", kwargs) for key, kwargs in VARIANTS.items()},
    "rbf": ("FastfoodRBF", dict(units=24, sigma=2.0, seed=1)),
}


def _layer(key):
  cls, kwargs = ALL_VARIANTS[key]
  return getattr(tf_approx.layers, cls)(**kwargs)


@pytest.mark.parametrize("key", sorted(ALL_VARIANTS))
def test_config_round_trip(key):
  layer = _layer(key)
  config = layer.get_config()
  json.dumps(config)
  clone = type(layer).from_config(config)
  assert clone.get_config() == config
  x = _data()[0]
  np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())


def test_seed_is_drawn_once_and_kept():
  layer = tf_approx.layers.Fastfood(8)
  assert tf_approx.layers.Fastfood.from_config(
      layer.get_config()).seed == layer.seed


def test_keras_file_and_export_load_in_fresh_process(
    assert_reloads_in_fresh_process):
  x, y = _data()
  models = {}
  for key in ALL_VARIANTS:
    model = _model(layer=_layer(key))
    model.compile("adam",
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)  # move the weights off their init
    models[key] = model
  assert_reloads_in_fresh_process(models, x)


@pytest.mark.parametrize("units", [10**12, 2**31, 2**63 - 1])
def test_units_past_the_bound_name_units_before_allocating(units):
  for cls in (tf_approx.layers.Fastfood, tf_approx.layers.FastfoodRBF):
    with pytest.raises(ValueError, match=r"`units` must be an int in "
                       r"\[1, 2\*\*31 - 1\], got " + str(units)):
      cls(units)


def test_rbf_sigma_too_small_for_float32_is_refused():
  with pytest.raises(ValueError, match="`sigma` must be a finite number >= "
                     "2.93874e-39, got 1e-300"):
    tf_approx.layers.FastfoodRBF(8, sigma=1e-300)
  # What passes that bound but still overflows the weights' dtype is caught
  # when the weights are drawn.
  layer = tf_approx.layers.FastfoodRBF(8, sigma=1e-6, dtype="float16")
  with pytest.raises(ValueError, match="`sigma` is out of range for float16 "
                     "weights"):
    layer.build((None, 4))
  with pytest.raises(ValueError, match="`stddev` is out of range for float32"):
    tf_approx.layers.Fastfood(8, stddev=1e300).build((None, 4))


def test_built_layers_refuse_another_input_width():
  for layer in (tf_approx.layers.Fastfood(4), tf_approx.layers.FastfoodRBF(4)):
    layer(tf.zeros([2, 5]))
    assert layer.input_spec.axes == {-1: 5}
    with pytest.raises(ValueError, match="expected axis -1 of input shape to "
                       "have value 5, but received input with shape"):
      layer(tf.zeros([2, 8]))  # d = 8 would fit the op, silently
    with pytest.raises(TypeError, match="needs float `inputs`, got int32"):
      layer(tf.zeros([2, 5], tf.int32))


@pytest.mark.parametrize("seed, error", [
    (3.7, TypeError), (3.0, TypeError), (True, TypeError), ("3", TypeError),
    (-1, ValueError), (2**63, ValueError)])
def test_bad_seeds_name_seed(seed, error):
  for cls in (tf_approx.layers.Fastfood, tf_approx.layers.FastfoodRBF):
    with pytest.raises(error, match="`seed` must be an int seed"):
      cls(4, seed=seed)


def test_set_weights_refuses_permutations_that_wrap_or_are_floats():
  layer = layer_built(tf_approx.layers.Fastfood(4, seed=1), (None, 5))
  weights = layer.get_weights()
  index = [w.dtype for w in weights].index(np.int32)
  before = weights[index].copy()
  wrapped = weights[index].astype(np.int64)
  wrapped[0, 0] += 2**32  # Keras would store it as the same permutation
  for bad, error, message in (
      (wrapped, ValueError, r"`permutation` must hold a permutation of "
       r"range\(8\) in every row, got \[429496"),
      (weights[index] + 0.5, TypeError, "`permutation` must hold ints")):
    with pytest.raises(error, match=message):
      layer.set_weights(weights[:index] + [bad] + weights[index + 1:])
  np.testing.assert_array_equal(layer.permutation.numpy(), before)
  swapped = before[:, ::-1].astype(np.int64)
  layer.set_weights(weights[:index] + [swapped] + weights[index + 1:])
  np.testing.assert_array_equal(layer.permutation.numpy(), swapped)


def test_diagonal_regularizer_and_constraint_apply_to_s_g_b():
  layer = tf_approx.layers.Fastfood(
      8, diagonal_regularizer=keras.regularizers.L2(0.5),
      diagonal_constraint="non_neg", bias_initializer="ones", seed=3)
  layer.build((None, 5))
  expected = 0.5 * sum(float(np.sum(w.numpy()**2))
                       for w in (layer.s, layer.g, layer.b))
  np.testing.assert_allclose(float(sum(layer.losses)), expected, rtol=1e-5)
  np.testing.assert_array_equal(layer.bias.numpy(), np.ones(8))
  for weight in (layer.s, layer.g, layer.b):
    assert weight.constraint is not None
  model = keras.Sequential([keras.Input((5,)), layer])
  model.compile("sgd", "mse")
  x = np.random.default_rng(0).normal(size=(32, 5)).astype(np.float32)
  model.fit(x, np.zeros((32, 8), np.float32), epochs=1, verbose=0)
  for weight in (layer.s, layer.g, layer.b):
    assert np.all(weight.numpy() >= 0)


@pytest.mark.parametrize("arg", ["diagonal_regularizer",
                                 "diagonal_constraint"])
def test_diagonal_arguments_need_adaptive(arg):
  with pytest.raises(ValueError, match=f"`{arg}` applies to the trainable"):
    tf_approx.layers.Fastfood(8, adaptive=False, **{arg: "l2" if "reg" in arg
                                                    else "non_neg"})
