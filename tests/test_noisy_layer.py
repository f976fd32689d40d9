"""The NoisyActivation and GAAF Keras layers: arguments, training, saving."""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_approx
from tf_approx.reference import noisy as reference

FEATURES = 12


def _data(seed=0, n=256):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, FEATURES)).astype(np.float32) * 2
  y = (np.sin(x[:, :3]).sum(axis=1) > 0).astype(np.int32)
  return x, y


def _model(activation_layer, seed=0):
  keras.utils.set_random_seed(seed)
  return keras.Sequential([
      keras.Input((FEATURES,)),
      keras.layers.Dense(32),
      activation_layer,
      keras.layers.Dense(2),
  ])


LAYERS = {
    "nan": lambda: tf_approx.layers.NoisyActivation("tanh", seed=1),
    "nah": lambda: tf_approx.layers.NoisyActivation(
        "tanh", noise="half_normal", where="output", c=0.5, alpha=1.15,
        seed=1),
    "nani": lambda: tf_approx.layers.NoisyActivation(
        "sigmoid", noise="normal", where="input", sigma=0.05, seed=1),
    "nanil": lambda: tf_approx.layers.NoisyActivation(
        "tanh", where="input", learn_sigma=True, per_unit=True, seed=1),
    "nanis": lambda: tf_approx.layers.NoisyActivation(
        "tanh", where="input_saturated", sigma=0.25, seed=1),
    "gaaf": lambda: tf_approx.layers.GAAF("tanh", k=10000),
    "gaaf_relu": lambda: tf_approx.layers.GAAF("relu", shape="sigmoid",
                                               center=-1.0, width=0.5),
}


def test_defaults_follow_the_authors():
  nan = tf_approx.layers.NoisyActivation("tanh")
  assert (nan.alpha, nan.c, nan.sigma) == (1.15, 0.5, None)
  sig = tf_approx.layers.NoisyActivation("sigmoid")
  assert (sig.alpha, sig.c) == (1.1, 0.15)
  assert tf_approx.layers.NoisyActivation("tanh", where="input").sigma == 0.05
  assert tf_approx.layers.NoisyActivation(
      "tanh", where="input_saturated").sigma == 0.25
  assert tf_approx.layers.NoisyActivation("tanh", where="input",
                                          learn_sigma=True).c == 0.25
  assert tf_approx.layers.GAAF("tanh").shape == "exp"
  assert tf_approx.layers.GAAF("relu").shape == "sigmoid"


def test_weights_and_p_init():
  layer = tf_approx.layers.NoisyActivation("tanh", per_unit=True, seed=3)
  layer.build((None, 4096))
  p = layer.p.numpy()
  assert p.shape == (4096,) and -1 <= p.min() < -0.99 and 0.99 < p.max() <= 1
  assert [w.name for w in layer.trainable_weights] == ["p"]
  assert {w.name for w in layer.non_trainable_weights} == {"noise_scale",
                                                           "step"}
  assert float(layer.noise_scale.numpy()) == 0.5
  fixed = tf_approx.layers.NoisyActivation("tanh", where="input")
  fixed.build((None, 8))
  assert not fixed.trainable_weights


def test_layer_computes_the_op_with_its_step_as_seed():
  layer = tf_approx.layers.NoisyActivation("sigmoid", noise="half_normal",
                                           per_unit=True, seed=9)
  x = tf.constant(np.random.default_rng(1).normal(size=(6, 5)) * 4,
                  tf.float32)
  first = layer(x, training=True)
  second = layer(x, training=True)
  assert int(layer.step.numpy()) == 2
  for step, y in ((0, first), (1, second)):
    want = reference.noisy_activation(x, layer.p, 0.15, [9, step], "sigmoid",
                                      "output", "half_normal", 1.1, True)
    np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=2e-5, atol=2e-6)
  infer = reference.noisy_activation(x, layer.p, 0.15, [0, 0], "sigmoid",
                                     "output", "half_normal", 1.1, False)
  np.testing.assert_allclose(layer(x).numpy(), infer.numpy(), rtol=1e-6)
  assert int(layer.step.numpy()) == 2  # inference draws nothing


@pytest.mark.parametrize("key", sorted(LAYERS))
def test_model_trains_and_predicts_deterministically(key):
  x, y = _data()
  model = _model(LAYERS[key]())
  model.compile(optimizer=keras.optimizers.Adam(0.01),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
  losses = history.history["loss"]
  assert losses[-1] < 0.8 * losses[0], losses
  np.testing.assert_array_equal(model.predict(x, verbose=0),
                                model.predict(x, verbose=0))


def test_one_seed_reproduces_a_training_run():
  x, y = _data()
  weights = []
  for _ in range(2):
    model = _model(tf_approx.layers.NoisyActivation("tanh", seed=5), seed=3)
    model.compile(optimizer="sgd", loss=keras.losses.
                  SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, shuffle=False)
    weights.append([w.numpy() for w in model.weights])
  for a, b in zip(*weights):
    np.testing.assert_array_equal(a, b)


def test_mixed_precision_runs_in_float16():
  keras.mixed_precision.set_global_policy("mixed_float16")
  try:
    for key in ("nan", "nanil", "gaaf"):
      layer = LAYERS[key]()
      y = layer(tf.ones([4, FEATURES], tf.float16) * 3, training=True)
      assert y.dtype == tf.float16
      assert np.all(np.isfinite(y.numpy()))
  finally:
    keras.mixed_precision.set_global_policy("float32")


def test_fit_with_jit_compile_runs():
  x, y = _data()
  for key in ("nan", "nanil", "gaaf"):
    model = _model(LAYERS[key]())
    model.compile(optimizer="adam", jit_compile=True,
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    history = model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


@pytest.mark.parametrize("cls, kwargs, message", [
    (tf_approx.layers.NoisyActivation, dict(activation="relu"),
     "`activation` must be one of"),
    (tf_approx.layers.NoisyActivation, dict(noise="uniform"),
     "`noise` must be one of"),
    (tf_approx.layers.NoisyActivation, dict(where="input_learned"),
     "`where` must be one of"),
    (tf_approx.layers.NoisyActivation, dict(learn_sigma=True),
     "`learn_sigma=True` needs where='input'"),
    (tf_approx.layers.NoisyActivation, dict(where="input", c=0.3),
     "`c` is only used"),
    (tf_approx.layers.NoisyActivation, dict(sigma=0.3), "`sigma` is only"),
    (tf_approx.layers.NoisyActivation, dict(where="input", alpha=1.1),
     "`alpha` is only used"),
    (tf_approx.layers.NoisyActivation, dict(c=-1.0), "`c` must be"),
    (tf_approx.layers.NoisyActivation, dict(alpha=float("inf")),
     "`alpha` must be"),
    (tf_approx.layers.GAAF, dict(activation="elu"),
     "`activation` must be one of"),
    (tf_approx.layers.GAAF, dict(K=0), "`K` must be"),
    (tf_approx.layers.GAAF, dict(shape="bump"), "`shape` must be one of"),
])
def test_bad_arguments(cls, kwargs, message):
  with pytest.raises(ValueError, match=message):
    cls(**kwargs)


def test_per_unit_needs_a_known_last_axis():
  layer = tf_approx.layers.NoisyActivation(per_unit=True)
  with pytest.raises(ValueError, match="known last axis"):
    layer.build((None, None))


@pytest.mark.parametrize("key", sorted(LAYERS))
def test_config_round_trip(key):
  layer = LAYERS[key]()
  clone = type(layer).from_config(layer.get_config())
  assert clone.get_config() == layer.get_config()


def test_keras_file_and_export_load_in_fresh_process(
    assert_reloads_in_fresh_process):
  x, y = _data()
  models = {}
  for key in ("nah", "nanil", "nanis", "gaaf_relu"):
    model = _model(LAYERS[key]())
    model.compile(optimizer="adam", loss=keras.losses.
                  SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    models[key] = model
  assert_reloads_in_fresh_process(models, x[:16])


def test_numpy_scalars_are_numbers():
  layer = tf_approx.layers.NoisyActivation(c=np.float32(0.5),
                                           alpha=np.float64(1.15))
  assert (layer.c, layer.alpha) == (0.5, 1.15)
  assert type(layer.c) is float
  gaaf = tf_approx.layers.GAAF(K=np.float32(100), width=np.array(2.0))
  assert (gaaf.k, gaaf.width) == (100.0, 2.0)
  assert tf_approx.layers.GAAF(k=np.int64(100)).k == 100.0


@pytest.mark.parametrize("cls, kwargs, error, message", [
    (tf_approx.layers.NoisyActivation, dict(c=True), TypeError, "`c`"),
    (tf_approx.layers.NoisyActivation, dict(seed=1.5), TypeError, "`seed`"),
    (tf_approx.layers.NoisyActivation, dict(seed="7"), TypeError, "`seed`"),
    (tf_approx.layers.NoisyActivation, dict(seed=-1), ValueError, "`seed`"),
    (tf_approx.layers.NoisyActivation, dict(seed=2**64), ValueError,
     r"`seed` must be an int seed in \[0, 2\*\*63 - 1\]"),
    (tf_approx.layers.NoisyActivation, dict(activation=None), TypeError,
     "`activation`"),
    (tf_approx.layers.GAAF, dict(k=0), ValueError, "`k` must be"),
    (tf_approx.layers.GAAF, dict(K="big"), TypeError, "`K` must be"),
    (tf_approx.layers.GAAF, dict(k=1.0, K=2.0), TypeError, "not both"),
])
def test_bad_arguments_name_the_argument(cls, kwargs, error, message):
  with pytest.raises(error, match=message):
    cls(**kwargs)


def test_ops_take_numpy_scalars_and_refuse_other_types():
  x = tf.constant([-2.0, 0.5, 3.0])
  np.testing.assert_array_equal(
      tf_approx.ops.gaaf(x, k=np.float32(10)).numpy(),
      tf_approx.ops.gaaf(x, k=10.0).numpy())
  with pytest.raises(TypeError, match="`k` must be a finite number"):
    tf_approx.ops.gaaf(x, k="10")
  np.testing.assert_array_equal(
      tf_approx.ops.noisy_activation(x, 0.5, 0.5,
                                     alpha=np.float32(1.5)).numpy(),
      tf_approx.ops.noisy_activation(x, 0.5, 0.5, alpha=1.5).numpy())
  with pytest.raises(TypeError, match="`alpha`"):
    tf_approx.ops.noisy_activation(x, 0.5, 0.5, alpha=True)
  with pytest.raises(TypeError, match="`p` must hold real floats"):
    tf_approx.ops.noisy_activation(x, np.complex64(0.5 + 1j), 0.5)


def test_gaaf_k_is_named_k_and_old_k_configs_load():
  layer = tf_approx.layers.GAAF("tanh", k=50.0)
  config = layer.get_config()
  assert config["k"] == 50.0 and "K" not in config
  old = dict(config)
  old["K"] = old.pop("k")
  clone = tf_approx.layers.GAAF.from_config(old)
  assert clone.k == 50.0 and clone.get_config() == config
  # Positionally k is still the second argument, as K was.
  assert tf_approx.layers.GAAF("tanh", 7.0).k == 7.0


def test_keras_file_saved_with_capital_k_loads(tmp_path):
  x = _data()[0][:16]
  model = _model(tf_approx.layers.GAAF("tanh", k=100.0, name="gaaf"))
  path = tmp_path / "new.keras"
  model.save(path)
  # A file as earlier versions wrote it: GAAF's config holds `K`.
  old_path = tmp_path / "old.keras"
  with zipfile.ZipFile(path) as new, zipfile.ZipFile(old_path, "w") as old:
    for item in new.infolist():
      data = new.read(item.filename)
      if item.filename == "config.json":
        config = json.loads(data)
        (gaaf,) = [layer for layer in config["config"]["layers"]
                   if layer["class_name"] == "GAAF"]
        gaaf["config"]["K"] = gaaf["config"].pop("k")
        data = json.dumps(config).encode()
      old.writestr(item, data)
  loaded = keras.models.load_model(old_path)
  assert loaded.get_layer("gaaf").k == 100.0
  np.testing.assert_array_equal(loaded.predict(x, verbose=0),
                                model.predict(x, verbose=0))


def test_layers_set_an_input_spec_and_refuse_int_inputs():
  per_unit = tf_approx.layers.NoisyActivation(per_unit=True)
  per_unit(tf.zeros([2, 4]))
  assert per_unit.input_spec.axes == {-1: 4}
  with pytest.raises(ValueError, match="expected axis -1 of input shape to "
                     "have value 4"):
    per_unit(tf.zeros([2, 5]))
  for layer in (tf_approx.layers.NoisyActivation(), tf_approx.layers.GAAF()):
    layer(tf.zeros([2, 4]))
    assert layer.input_spec is not None
    layer(tf.zeros([3]))  # elementwise with shared parameters: any shape
    with pytest.raises(TypeError, match=f"{type(layer).__name__} needs float "
                       "`inputs`, got int32"):
      layer(tf.zeros([2, 4], tf.int32))
