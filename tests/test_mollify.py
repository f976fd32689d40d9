"""The mollified activation and the mollifying block: maths, limits, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_approx.layers import mollify
from tf_approx.layers.mollify import MollifiedActivation
from tf_approx.layers.mollify import MollifyingBlock
from tf_approx.reference import counter_noise

ACTIVATIONS = ("sigmoid", "tanh")


def _centred(x, activation):
  if activation == "sigmoid":
    return 1 / (1 + np.exp(-x)) - 0.5, x / 4
  return np.tanh(x), x


def _psi(x, a, p, c, activation, xi):
  """Algorithm 2, line by line (+ 1/2 back on the sigmoid)."""
  f, u = _centred(x, activation)
  delta = u - f
  sigma = (1 / (1 + np.exp(-a * delta)) - 0.5) ** 2
  s = p * c * sigma * np.abs(xi)
  sgn = np.where(u >= 0, 1.0, -1.0)
  psi = sgn * np.minimum(np.abs(u), np.abs(f + sgn * np.abs(s)))
  return psi + 0.5 if activation == "sigmoid" else psi


def _expected_psi(x, a, p, c, activation):
  """E over ξ of `_psi`, by quadrature over the half-normal |ξ|."""
  z = np.linspace(0.0, 12.0, 120001)
  density = np.sqrt(2 / np.pi) * np.exp(-z * z / 2)
  values = _psi(x[..., None], a[..., None], p, c, activation, z)
  return np.trapezoid(values * density, z, axis=-1)


def _inputs(shape=(6, 5), seed=0, scale=3.0):
  return np.random.default_rng(seed).normal(0, scale, shape)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_function_matches_algorithm_2_at_fixed_noise(activation):
  rng = np.random.default_rng(1)
  x, xi = rng.normal(0, 3, (2, 50, 8))
  x[0, :3] = 0.0
  a = rng.uniform(-2, 2, 8)
  got = mollify.mollified_activation(x, a, 0.7, 10.0, activation, xi)
  np.testing.assert_allclose(got, _psi(x, a, 0.7, 10.0, activation, xi),
                             rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_expectation_is_the_mean_over_the_noise(activation):
  x = np.concatenate([np.linspace(-8, 8, 33), [1e-4, -1e-3]])
  a = np.random.default_rng(2).uniform(-2, 2, x.shape)
  for p, c in ((1.0, 10.0), (0.3, 1.0), (0.05, 30.0)):
    got = mollify.mollified_activation(x, a, p, c, activation)
    np.testing.assert_allclose(got, _expected_psi(x, a, p, c, activation),
                               atol=1e-7)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_level_zero_is_the_nonlinearity(activation):
  layer = MollifiedActivation(activation, mollification=0.0, seed=3)
  x = _inputs().astype(np.float32)
  want = keras.activations.get(activation)(x)
  for training in (False, True):
    np.testing.assert_allclose(layer(x, training=training), want,
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_large_noise_is_the_linearisation(activation):
  # p = 1 and c large: ψ reaches u except where σ(x) is ~0 (near x = 0,
  # where f and u agree anyway).
  layer = MollifiedActivation(activation, c=1e7, a_initializer="ones",
                              dtype="float64")
  x = _inputs(scale=4.0)
  _, u = _centred(x, activation)
  want = u + 0.5 if activation == "sigmoid" else u
  np.testing.assert_allclose(layer(x), want, atol=1e-4)
  np.testing.assert_allclose(layer(x, training=True), want, atol=2e-3)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_stay_finite_at_tiny_levels(activation):
  x = tf.constant([0.0, 1e-6, 1e-3, 0.01, 0.1, 3.0, -20.0, 80.0])
  a = tf.Variable(tf.fill(x.shape, 1e-3))
  noise = tf.random.stateless_normal(x.shape, [0, 1])
  for p in (0.0, 1e-30, 1e-12, 1e-6, 1.0):
    for xi in (None, noise):
      with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = mollify.mollified_activation(x, a, p, 10.0, activation, xi)
      for gradient in tape.gradient(y, [x, a]):
        assert np.all(np.isfinite(gradient)), (p, xi is None, gradient)


def test_output_lies_between_function_and_linearisation():
  layer = MollifiedActivation("tanh", seed=4, dtype="float64")
  x = _inputs((200, 5), scale=4.0)
  f, u = _centred(x, "tanh")
  for training in (False, True):
    y = layer(x, training=training).numpy()
    assert np.all(np.minimum(f, u) - 1e-12 <= y)
    assert np.all(y <= np.maximum(f, u) + 1e-12)


def test_training_noise_comes_from_seed_and_step():
  layer = MollifiedActivation("sigmoid", mollification=0.6, seed=11,
                              dtype="float64")
  x = _inputs((4, 7))
  a = None
  for step in range(2):
    y = layer(x, training=True).numpy()
    a = layer.a.numpy()
    # The counter noise of the noisy activations, keyed by (seed, step) and
    # the element's flat index.
    xi = counter_noise.standard_normal(
        x.size, tf.constant([11, step], tf.int64)).numpy().reshape(x.shape)
    p = float(layer.mollification.numpy())  # 0.6 in float32
    np.testing.assert_allclose(y, _psi(x, a, p, mollify.DEFAULT_C,
                                       "sigmoid", xi), rtol=1e-12)
  assert int(layer.step.numpy()) == 2
  # Inference neither draws nor counts, and is deterministic.
  np.testing.assert_array_equal(layer(x), layer(x))
  assert int(layer.step.numpy()) == 2
  # The same seed reproduces the run.
  again = MollifiedActivation("sigmoid", mollification=0.6, seed=11,
                              dtype="float64")
  again.build(x.shape)
  np.testing.assert_array_equal(again.a.numpy(), a)
  again(x, training=True)
  np.testing.assert_array_equal(again(x, training=True), y)


def test_default_a_is_uniform_on_minus_two_two():
  layer = MollifiedActivation(seed=5)
  layer.build((None, 4000))
  a = layer.a.numpy()
  assert -2 <= a.min() < -1.9 and 1.9 < a.max() <= 2
  assert layer.mollification.dtype == "float32"
  assert layer.mollification.shape == ()
  assert not layer.mollification.trainable
  assert [w.name for w in layer.trainable_weights] == ["a"]


def _skip(layer, x):
  if layer.projection_kernel is not None:
    return x @ layer.projection_kernel.numpy()
  return np.pad(x, [(0, 0), (0, layer.units - x.shape[-1])])


def _block_reference(layer, x, training, step=0):
  """The block's output by eq. 4.27-4.30 in numpy (the counter noise)."""
  w, a = layer.kernel.numpy(), layer.a.numpy()
  z = x @ w + (layer.bias.numpy() if layer.use_bias else 0)
  p = float(layer.mollification.numpy())
  skip = _skip(layer, x)
  if training:
    # Two uniforms u in (-1, 1) per element: ξ from the first, π from the
    # second, compared in float32 as the layer does.
    u = counter_noise.noise_uniform(
        z.size, 2, tf.constant([layer.seed, step], tf.int64))
    xi = counter_noise.normal_from_uniform(u[:, 0]).numpy().reshape(z.shape)
    uniform = np.float32(0.5) * (u[:, 1].numpy() + np.float32(1))
    gate = (uniform < np.float32(p)).astype(np.float64).reshape(z.shape)
    y = gate * skip + (1 - gate) * _psi(z, a, p, layer.c, layer.activation,
                                        xi)
  else:
    y = p * skip + (1 - p) * _expected_psi(z, a, p, layer.c,
                                           layer.activation)
  return y + skip if layer.residual else y


@pytest.mark.parametrize("kwargs", [
    dict(activation="sigmoid"),
    dict(activation="tanh", residual=True),
    dict(activation="tanh", projection="linear"),
])
def test_block_matches_equations(kwargs):
  layer = MollifyingBlock(8, seed=6, mollification=0.5, dtype="float64",
                          bias_initializer="random_normal", **kwargs)
  x = _inputs((5, 3))
  got = layer(x, training=True).numpy()
  np.testing.assert_allclose(got, _block_reference(layer, x, True),
                             rtol=1e-10, atol=1e-12)
  # Some units copied the input, the others did not.
  skip = _skip(layer, x)
  copied = np.isclose(got - skip if layer.residual else got, skip)
  assert 0 < copied.mean() < 1
  np.testing.assert_allclose(layer(x), _block_reference(layer, x, False),
                             atol=1e-7)


def test_block_limits():
  x = _inputs((6, 4)).astype(np.float32)
  layer = MollifyingBlock(7, seed=7)
  padded = np.pad(x, [(0, 0), (0, 3)])
  # p = 1 (the start): the identity map, padded to the units.
  for training in (False, True):
    np.testing.assert_array_equal(layer(x, training=training), padded)
  # p = 0: Dense(units, sigmoid).
  layer.mollification.assign(0.0)
  dense = keras.activations.sigmoid(x @ layer.kernel.numpy()
                                    + layer.bias.numpy())
  for training in (False, True):
    np.testing.assert_allclose(layer(x, training=training), dense,
                               rtol=1e-5, atol=1e-6)


def test_block_same_width_has_no_projection():
  layer = MollifyingBlock(4, projection="linear", seed=8)
  x = _inputs((3, 4)).astype(np.float32)
  np.testing.assert_array_equal(layer(x), x)
  assert layer.projection_kernel is None
  assert [w.name for w in layer.trainable_weights] == ["kernel", "bias", "a"]


def test_block_linear_projection_and_shapes():
  layer = MollifyingBlock(3, projection="linear", use_bias=False, seed=9)
  y = layer(_inputs((2, 5, 6)).astype(np.float32))
  assert y.shape == (2, 5, 3)
  assert layer.projection_kernel.shape == (6, 3)
  assert layer.compute_output_shape((None, 5, 6)) == (None, 5, 3)
  with pytest.raises(ValueError, match="projection='linear'"):
    MollifyingBlock(3).build((None, 6))


@pytest.mark.parametrize("cls, kwargs, message", [
    (MollifiedActivation, dict(activation="relu"), "`activation`"),
    (MollifiedActivation, dict(c=-1.0), "`c`"),
    (MollifiedActivation, dict(mollification=1.5), "`mollification`"),
    (MollifiedActivation, dict(mollification=float("nan")),
     "`mollification`"),
    (MollifyingBlock, dict(units=0), "`units`"),
    (MollifyingBlock, dict(units=4, projection="zeros"), "`projection`"),
    (MollifyingBlock, dict(units=4, activation="hard_sigmoid"),
     "`activation`"),
])
def test_bad_arguments(cls, kwargs, message):
  with pytest.raises(ValueError, match=message):
    cls(**kwargs)


@pytest.mark.parametrize("cls, kwargs, message", [
    (MollifiedActivation, dict(c="big"), "`c`"),
    (MollifiedActivation, dict(seed=1.5), "`seed`"),
    (MollifyingBlock, dict(units=2.0), "`units`"),
])
def test_bad_argument_types(cls, kwargs, message):
  with pytest.raises(TypeError, match=message):
    cls(**kwargs)


def test_needs_known_last_axis():
  with pytest.raises(ValueError, match="known last axis"):
    MollifiedActivation().build((None, None))


VARIANTS = {
    "activation": lambda: MollifiedActivation("tanh", c=3.0,
                                              mollification=0.5, seed=1),
    "block": lambda: MollifyingBlock(
        5, activation="tanh", projection="linear", residual=True, seed=2,
        kernel_initializer="he_normal", a_initializer="ones"),
}


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_config_round_trip(key):
  layer = VARIANTS[key]()
  config = layer.get_config()
  clone = type(layer).from_config(config)
  assert clone.get_config() == config
  x = _inputs((4, 6)).astype(np.float32)
  layer(x)
  clone(x)
  clone.set_weights(layer.get_weights())
  np.testing.assert_array_equal(clone(x), layer(x))
  assert layer.supports_jit


def _model(seed=0):
  keras.utils.set_random_seed(seed)
  return keras.Sequential([
      keras.Input((6,)),
      MollifyingBlock(8, seed=3),
      MollifyingBlock(8, activation="tanh", residual=True, seed=4),
      keras.layers.Dense(4),
      MollifiedActivation("sigmoid", seed=5),
      keras.layers.Dense(2)])


def _trained_model():
  x = _inputs((64, 6)).astype(np.float32)
  y = (x[:, 0] * x[:, 1] > 0).astype(np.int32)
  model = _model()
  for layer in model.layers:
    if hasattr(layer, "mollification"):
      layer.mollification.assign(0.4)
  model.compile(keras.optimizers.Adam(0.01),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  model.fit(x, y, batch_size=16, epochs=2, verbose=0)
  return model, x


def test_model_trains_counts_steps_and_predicts_deterministically():
  model, x = _trained_model()
  assert [int(layer.step.numpy()) for layer in model.layers
          if hasattr(layer, "step")] == [8, 8, 8]
  first = model.predict(x, verbose=0)
  np.testing.assert_array_equal(model.predict(x, verbose=0), first)
  assert np.all(np.isfinite(first))


def test_keras_file_round_trip(tmp_path):
  model, x = _trained_model()
  path = tmp_path / "mollified.keras"
  model.save(path)
  loaded = keras.models.load_model(path)
  np.testing.assert_array_equal(loaded.predict(x, verbose=0),
                                model.predict(x, verbose=0))
  for got, want in zip(loaded.layers, model.layers):
    if hasattr(want, "mollification"):
      assert float(got.mollification.numpy()) == pytest.approx(0.4)
      assert int(got.step.numpy()) == int(want.step.numpy())
      assert got.seed == want.seed


def test_jit_compiled_call_matches_eager():
  layer = MollifyingBlock(6, seed=10, mollification=0.5)
  x = tf.constant(_inputs((4, 6)).astype(np.float32))
  eager = layer(x)
  jitted = tf.function(lambda v: layer(v), jit_compile=True)(x)
  np.testing.assert_allclose(jitted, eager, rtol=1e-5, atol=1e-6)


def test_reloads_in_fresh_process(assert_reloads_in_fresh_process):
  model, x = _trained_model()
  assert_reloads_in_fresh_process({"mollified": model}, x[:8])


@pytest.mark.parametrize("layer", [MollifiedActivation(seed=1),
                                   MollifyingBlock(8, seed=1)],
                         ids=["activation", "block"])
def test_input_spec_and_int_inputs(layer):
  layer(tf.zeros([2, 5]))
  assert layer.input_spec.axes == {-1: 5}
  with pytest.raises(ValueError, match="expected axis -1 of input shape to "
                     "have value 5"):
    layer(tf.zeros([2, 6]))
  with pytest.raises(TypeError, match=f"{type(layer).__name__} needs float "
                     "`inputs`, got int32"):
    layer(tf.zeros([2, 5], tf.int32))


@pytest.mark.parametrize("seed, error", [
    (-1, ValueError), (2**63, ValueError), (True, TypeError),
    ("1", TypeError), (np.float64(1), TypeError)])
def test_bad_seeds_name_seed(seed, error):
  for make in (lambda: MollifiedActivation(seed=seed),
               lambda: MollifyingBlock(4, seed=seed)):
    with pytest.raises(error, match="`seed` must be an int seed"):
      make()


def test_block_takes_dense_regularizers_and_constraints():
  layer = MollifyingBlock(
      6, projection="linear", kernel_regularizer=keras.regularizers.L2(0.5),
      bias_regularizer=keras.regularizers.L1(0.25), bias_initializer="ones",
      kernel_constraint="non_neg", bias_constraint="non_neg", seed=2)
  layer.build((None, 4))
  kernels = [layer.kernel.numpy(), layer.projection_kernel.numpy()]
  want = 0.5 * sum(np.sum(k**2) for k in kernels) + 0.25 * 6
  np.testing.assert_allclose(float(sum(layer.losses)), want, rtol=1e-5)
  for weight in (layer.kernel, layer.projection_kernel, layer.bias):
    assert weight.constraint is not None
  config = layer.get_config()
  clone = MollifyingBlock.from_config(config)
  assert clone.get_config() == config
  assert config["kernel_regularizer"]["config"]["l2"] == 0.5
  assert config["bias_constraint"]["class_name"] == "NonNeg"
