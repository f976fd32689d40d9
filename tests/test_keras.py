"""The approximations used from Keras by name: layers, training, XLA, saving.

Saved models are loaded in a fresh subprocess, the way users load them, so
that nothing this process registered (names, ops) can make them load.
"""

import json
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_approx
from tf_approx.activations import Approximation
from tf_approx.reference import activations as reference

# One or two names of every family and kind, plain and clamped.
NAMES = [
    "tanh_pade_4_4", "tanh_pade_4_4_clamp", "sigm_pade_3_3",
    "sigm_pade_3_3_clamp", "tanh_taylor_5", "sigm_taylor_9_clamp",
    "tanh_cont_4", "tanh_cont_3_clamp", "sigm_fastexp_512",
    "sigm_fastexp_2_clamp", "serp", "serp_clamp", "ultra_fast_sigmoid",
    "word2vec_sigmoid", "tanh_hard", "sigm_hard"
]
# Out-of-range indices, unknown families, and _clamp where there is no range.
UNKNOWN_NAMES = [
    "tanh_pade_9_9", "tanh_pade_0_4", "sigm_fastexp_3", "sigm_fastexp_8192",
    "tanh_taylor_16", "tanh_cont_9", "cos_pade_4_4", "tanh_hard_clamp",
    "word2vec_sigmoid_clamp", "tanh_pade_4_4_clamp_clamp", "my_tanh_test_2"
]
USER_NAME = "my_tanh_test"
USER_NUMERATOR = [0, 1, 0, 0.1]
USER_DENOMINATOR = [1, 0, 0.43]

LSTM_NAMES = dict(activation="tanh_pade_4_4",
                  recurrent_activation="sigm_fastexp_512")
EXACT = dict(activation="tanh", recurrent_activation="sigmoid")

# Layer under test -> (its names, the exact functions they approximate, how
# far the model's output may be from the exact model's).
LAYER_CASES = {
    "activation": (dict(activation="sigm_pade_3_3_clamp"),
                   dict(activation="sigmoid"), 1e-3),
    "dense": (dict(activation="tanh_pade_4_4"), dict(activation="tanh"), 1e-2),
    "lstm": (LSTM_NAMES, EXACT, 1e-2),
    "gru": (LSTM_NAMES, EXACT, 1e-2),
}
TIMESTEPS, FEATURES, UNITS, SAMPLES = 5, 3, 8, 32


@pytest.fixture(scope="module")
def user_rational():
  return tf_approx.activations.register_rational(
      USER_NAME, numerator=USER_NUMERATOR, denominator=USER_DENOMINATOR)


def _reference_twin(name):
  """The composite twin of `name`, as a plain Keras activation callable."""
  spec = tf_approx.activations.spec(name)
  return lambda x: reference.activation(x, spec)


def _twin_activations(activations):
  return {key: _reference_twin(name) for key, name in activations.items()}


def _build(layer, activation, recurrent_activation=None, seed=0):
  """A small model around one layer that takes activation names."""
  keras.utils.set_random_seed(seed)
  if layer == "activation":
    body = [keras.Input((FEATURES,)), keras.layers.Dense(UNITS),
            keras.layers.Activation(activation)]
  elif layer == "dense":
    body = [keras.Input((FEATURES,)),
            keras.layers.Dense(UNITS, activation=activation)]
  else:
    rnn = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[layer]
    body = [keras.Input((TIMESTEPS, FEATURES)),
            rnn(UNITS, activation=activation,
                recurrent_activation=recurrent_activation)]
  return keras.Sequential(body + [keras.layers.Dense(1)])


def _data(layer, seed=0):
  rng = np.random.default_rng(seed)
  shape = (SAMPLES, FEATURES) if layer in ("activation", "dense") else (
      SAMPLES, TIMESTEPS, FEATURES)
  # Wide enough that some pre-activations leave the fit range (and clip).
  x = rng.normal(0.0, 2.0, size=shape).astype(np.float32)
  y = rng.normal(0.0, 1.0, size=(SAMPLES, 1)).astype(np.float32)
  return x, y


def _with_weights_of(model, source):
  model.set_weights(source.get_weights())
  return model


def _fit(model, x, y, epochs=2, **compile_args):
  model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse",
                **compile_args)
  history = model.fit(x, y, epochs=epochs, batch_size=16, shuffle=False,
                      verbose=0)
  return history.history["loss"]


def _op_types(fn, x, jit_compile):
  graph = tf.function(fn, jit_compile=jit_compile).get_concrete_function(
      x).graph
  return {op.type for op in graph.get_operations()}


# keras.activations.get


@pytest.mark.parametrize("name", NAMES)
def test_keras_activations_get_returns_approximation(name):
  fn = keras.activations.get(name)
  assert isinstance(fn, Approximation)
  assert fn == tf_approx.activations.get(name)
  assert fn.name == name
  x = tf.constant(np.linspace(-8.0, 8.0, 161), tf.float32)
  np.testing.assert_allclose(fn(x), _reference_twin(name)(x), rtol=1e-5,
                             atol=1e-6)


def test_keras_activations_get_finds_registered_rational(user_rational):
  assert keras.activations.get(USER_NAME) is user_rational
  x = np.linspace(-3.0, 3.0, 61).astype(np.float32)
  expected = (x + 0.1 * x**3) / (1.0 + 0.43 * x**2)
  np.testing.assert_allclose(user_rational(x), expected, rtol=1e-6,
                             atol=1e-6)


@pytest.mark.parametrize("name", UNKNOWN_NAMES)
def test_keras_activations_get_unknown_name_raises(name):
  with pytest.raises(ValueError, match="Could not interpret activation"):
    keras.activations.get(name)
  with pytest.raises(ValueError, match="Unknown tf_approx activation"):
    tf_approx.activations.get(name)


# Layers: build, call, fit.


@pytest.mark.parametrize("layer", sorted(LAYER_CASES))
def test_layer_with_names_matches_reference_and_exact(layer):
  names, exact, tolerance = LAYER_CASES[layer]
  x, _ = _data(layer)
  model = _build(layer, **names)
  predictions = model.predict(x, verbose=0)
  twin = _with_weights_of(_build(layer, **_twin_activations(names)), model)
  exact_model = _with_weights_of(_build(layer, **exact), model)
  np.testing.assert_allclose(predictions, twin.predict(x, verbose=0),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(predictions, exact_model.predict(x, verbose=0),
                             atol=tolerance)
  # The approximation must matter: same weights, different function.
  assert not np.array_equal(predictions, exact_model.predict(x, verbose=0))


@pytest.mark.parametrize("layer", sorted(LAYER_CASES))
def test_layer_with_names_trains(layer):
  names, _, _ = LAYER_CASES[layer]
  x, y = _data(layer)
  model = _build(layer, **names)
  losses = _fit(model, x, y, jit_compile=False)
  assert np.all(np.isfinite(losses)), losses
  assert losses[-1] < losses[0], losses
  assert np.all(np.isfinite(model.predict(x, verbose=0)))


# XLA: the composite twins stand in for the native op.


def test_fit_with_jit_compile_uses_composite_twins(monkeypatch):
  traced = []
  twin = reference.activation

  def counting_twin(x, spec):
    traced.append(spec)
    return twin(x, spec)

  monkeypatch.setattr(reference, "activation", counting_twin)
  x, y = _data("lstm")
  model = _build("lstm", **LSTM_NAMES)
  native = _build("lstm", **LSTM_NAMES)
  # Explicitly off: with a GPU present Keras would turn XLA on by itself.
  native.compile(loss="mse", jit_compile=False)
  native.predict(x, verbose=0)
  assert not traced, "the native op must run outside XLA"

  losses = _fit(model, x, y, jit_compile=True)
  assert model.jit_compile
  assert traced, "XLA must trace the composite twins"
  assert {tf_approx.activations.spec(name) for name in LSTM_NAMES.values()
         } <= set(traced)
  assert np.all(np.isfinite(losses)), losses
  assert losses[-1] < losses[0], losses

  native.set_weights(model.get_weights())
  np.testing.assert_allclose(model.predict(x, verbose=0),
                             native.predict(x, verbose=0), rtol=1e-5,
                             atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_jit_function_matches_eager_native_op(name):
  fn = keras.activations.get(name)
  x = tf.constant(np.linspace(-8.0, 8.0, 1601), tf.float32)
  assert "TfApprox>Activation" in _op_types(fn, x, jit_compile=False)
  assert "TfApprox>Activation" not in _op_types(fn, x, jit_compile=True)

  def value_and_gradient(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = fn(x)
    return y, tape.gradient(y, x)

  eager_y, eager_dy = value_and_gradient(x)
  jit_y, jit_dy = tf.function(value_and_gradient, jit_compile=True)(x)
  np.testing.assert_allclose(jit_y, eager_y, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(jit_dy, eager_dy, rtol=1e-5, atol=1e-5)


# Config round trip.


@pytest.mark.parametrize(
    "name", ["tanh_pade_4_4_clamp", "sigm_fastexp_512", "word2vec_sigmoid",
             USER_NAME])
def test_activation_layer_config_round_trip(name, user_rational):
  del user_rational  # registers USER_NAME
  layer = keras.layers.Activation(name)
  # Through JSON, as a .keras file stores it.
  config = json.loads(json.dumps(layer.get_config()))
  clone = keras.layers.Activation.from_config(config)
  assert isinstance(clone.activation, Approximation)
  assert clone.activation == layer.activation
  assert json.dumps(clone.get_config()) == json.dumps(layer.get_config())
  x = tf.constant(np.linspace(-8.0, 8.0, 161), tf.float32)
  np.testing.assert_array_equal(clone(x), layer(x))

  restored = keras.saving.deserialize_keras_object(
      json.loads(json.dumps(keras.saving.serialize_keras_object(layer))))
  assert restored.activation == layer.activation


def test_builtin_names_are_stored_by_name_only():
  config = keras.layers.Activation("tanh_pade_4_4").get_config()
  assert config["activation"]["config"] == {"name": "tanh_pade_4_4"}


def test_stored_coefficients_win_over_registered_ones(user_rational):
  config = json.loads(json.dumps(
      keras.layers.Activation(user_rational).get_config()))
  spec = config["activation"]["config"]["spec"]
  assert spec["numerator"] == pytest.approx(USER_NUMERATOR)
  assert spec["denominator"] == pytest.approx(USER_DENOMINATOR)
  spec["numerator"] = [0.0, 2.0]
  clone = keras.layers.Activation.from_config(config)
  x = np.linspace(-3.0, 3.0, 61).astype(np.float32)
  np.testing.assert_allclose(clone(x), 2.0 * x / (1.0 + 0.43 * x**2),
                             rtol=1e-6, atol=1e-6)


# Keras' own names: importing tf_approx changes none of them.

_KERAS_BUILTINS_SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import keras
    from keras.src import activations

    x = np.linspace(-6.0, 6.0, 96, dtype=np.float32).reshape(4, 24)

    def evaluate():
      table = dict(activations.ALL_OBJECTS_DICT)
      values = {}
      for name in table:
        try:
          values[name] = np.asarray(keras.activations.get(name)(x)).tolist()
        except TypeError as e:  # needs more arguments than x
          values[name] = f"TypeError: {e}"
      return table, values

    table, before = evaluate()
    import tf_approx  # pylint: disable=unused-import
    table_after, after = evaluate()
    print(json.dumps({
        "builtins": sorted(table),
        "replaced": sorted(n for n in table if table_after[n] is not table[n]),
        "before": before, "after": after}))
""")


def test_import_leaves_every_keras_activation_as_it_was(run_python):
  result = run_python(_KERAS_BUILTINS_SCRIPT)
  assert result.returncode == 0, result.stderr[-4000:]
  found = json.loads(result.stdout.strip().splitlines()[-1])
  assert {"hard_sigmoid", "hard_tanh", "relu", "gelu"} <= set(
      found["builtins"])
  assert found["replaced"] == []
  for name in found["builtins"]:
    assert found["after"][name] == found["before"][name], name
  # Keras' hard_sigmoid is relu6(x + 3) / 6.
  x = np.linspace(-6.0, 6.0, 96, dtype=np.float32).reshape(4, 24)
  np.testing.assert_allclose(found["after"]["hard_sigmoid"],
                             np.clip(x + 3.0, 0.0, 6.0) / 6.0, atol=1e-6)


def test_no_tf_approx_name_is_a_keras_builtin():
  from keras.src import activations as keras_activations  # pylint: disable=g-import-not-at-top
  ours = set(tf_approx.activations.names())
  keras_own = {name for name, fn in keras_activations.ALL_OBJECTS_DICT.items()
               if not isinstance(fn, Approximation)}
  assert not ours & keras_own


@pytest.mark.parametrize("old, new", sorted(
    tf_approx.activations.RENAMED.items()))
def test_renamed_names_load_from_keras_files(old, new, tmp_path):
  model = keras.Sequential([keras.Input((3,)), keras.layers.Activation(new)])
  path = tmp_path / "old.keras"
  model.save(path)
  # A file saved by an earlier version stored the old name.
  import zipfile  # pylint: disable=g-import-not-at-top
  with zipfile.ZipFile(path) as archive:
    files = {n: archive.read(n) for n in archive.namelist()}
  stored = json.dumps({"name": new}).encode()
  assert stored in files["config.json"]
  files["config.json"] = files["config.json"].replace(
      stored, json.dumps({"name": old}).encode())
  with zipfile.ZipFile(path, "w") as archive:
    for n, data in files.items():
      archive.writestr(n, data)
  loaded = keras.models.load_model(path)
  assert loaded.layers[-1].activation == Approximation(new)
  x = np.array([[-3.0, 0.5, 2.0]], np.float32)
  np.testing.assert_array_equal(loaded(x), model(x))
  with pytest.raises(ValueError, match=f"now '{new}'"):
    tf_approx.activations.get(old)


@pytest.mark.parametrize("name", ["relu", "hard_sigmoid", "gelu", "tanh"])
def test_register_refuses_keras_builtin_names(name):
  keras_fn = keras.activations.get(name)
  with pytest.raises(ValueError, match="already a Keras activation"):
    tf_approx.activations.register_rational(name, [0, 1], [1])
  with pytest.raises(ValueError, match="already a Keras activation"):
    tf_approx.activations.register_polynomial(name, [0, 1])
  assert keras.activations.get(name) is keras_fn


def test_register_refuses_a_name_twice_unless_overwrite():
  from keras.src import activations as keras_activations  # pylint: disable=g-import-not-at-top
  name = "twice_registered_test"
  try:
    tf_approx.activations.register_rational(name, [0, 1], [1])
    with pytest.raises(ValueError, match="already registered"):
      tf_approx.activations.register_rational(name, [0, 2], [1])
    with pytest.raises(ValueError, match="already registered"):
      tf_approx.activations.register_continued_fraction(name, [1, 3])
    x = tf.constant([0.5, 1.0])
    np.testing.assert_allclose(keras.activations.get(name)(x), [0.5, 1.0])
    tf_approx.activations.register_rational(name, [0, 2], [1], overwrite=True)
    np.testing.assert_allclose(keras.activations.get(name)(x), [1.0, 2.0])
  finally:
    tf_approx.activations._user_specs.pop(name, None)  # pylint: disable=protected-access
    keras_activations.ALL_OBJECTS_DICT.pop(name, None)


def test_register_overwrite_replaces_a_keras_name_when_asked(run_python):
  result = run_python(textwrap.dedent("""
      import keras, numpy as np, tf_approx
      tf_approx.activations.register_rational(
          "relu", [0, 2], [1], overwrite=True)
      print(float(keras.activations.get("relu")(np.float32(-1.5))))
  """))
  assert result.returncode == 0, result.stderr[-4000:]
  assert float(result.stdout.strip().splitlines()[-1]) == -3.0


# Saving: .keras files and SavedModels, loaded in a fresh process.

_LOAD_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    import tensorflow as tf
    import tf_approx

    directory, keys = sys.argv[1], sys.argv[2:]
    result = {"registered": tf_approx.activations.names()}
    for key in keys:
      x = np.load(f"{directory}/{key}.npy")
      try:
        model = keras.models.load_model(f"{directory}/{key}.keras")
        result[f"keras/{key}"] = model.predict(x, verbose=0).tolist()
      except Exception as e:  # pylint: disable=broad-except
        result[f"keras/{key}"] = f"{type(e).__name__}: {e}"
      try:
        loaded = tf.saved_model.load(f"{directory}/{key}_saved_model")
        result[f"saved_model/{key}"] = loaded.serve(x).numpy().tolist()
      except Exception as e:  # pylint: disable=broad-except
        result[f"saved_model/{key}"] = f"{type(e).__name__}: {e}"
    print(json.dumps(result))
""")

_LOAD_WITHOUT_TF_APPROX_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf

    error = None
    try:
      loaded = tf.saved_model.load(sys.argv[1])
      loaded.serve(np.load(sys.argv[2]))
    except Exception as e:  # pylint: disable=broad-except
      error = f"{type(e).__name__}: {e}"
    print(json.dumps({"error": error,
                      "imported_tf_approx": "tf_approx" in sys.modules}))
""")


def _modern_model(gelu, silu, mish, softplus, elu, selu):
  """Today's activations, one name each, SiLU's with beta and ELU's with
  alpha."""
  get = tf_approx.activations.get
  return keras.Sequential([
      keras.Input((FEATURES,)),
      keras.layers.Dense(UNITS, activation=gelu),
      keras.layers.Activation(get(silu, beta=1.702)),
      keras.layers.Dense(UNITS, activation=mish),
      keras.layers.Dense(UNITS, activation=softplus),
      keras.layers.Dense(UNITS, activation=get(elu, alpha=0.5)),
      keras.layers.Dense(1, activation=selu),
  ])


def _saved_model_cases(user_rational):
  """Model key -> (model, input): names in recurrent layers, a user
  rational, today's activations in the paper's forms and as splines."""
  keras.utils.set_random_seed(1)
  names = keras.Sequential([
      keras.Input((TIMESTEPS, FEATURES)),
      keras.layers.LSTM(UNITS, return_sequences=True, **LSTM_NAMES),
      keras.layers.GRU(UNITS, **LSTM_NAMES),
      keras.layers.Dense(4, activation="serp_clamp"),
      keras.layers.Activation("sigm_taylor_9_clamp"),
      keras.layers.Dense(1),
  ])
  user = keras.Sequential([
      keras.Input((FEATURES,)),
      keras.layers.Dense(UNITS, activation=USER_NAME),
      keras.layers.Activation(user_rational),
      keras.layers.Dense(1),
  ])
  # Forms (x R(x), lines, scales) and arguments.
  modern = _modern_model(
      "gelu_pade_5_6_clamp", "silu_pade_5_4_clamp", "mish_fastexp_1024_clamp",
      "softplus_pade_6_4_clamp", "elu_fastexp_512_clamp", "selu_fastexp_512")
  # A table of up to 32 pieces in the op's attrs.
  splines = _modern_model("gelu_spline_16", "silu_spline_32", "mish_spline_32",
                          "softplus_spline_16", "elu_spline_16",
                          "selu_spline_16")
  return {"names": (names, _data("lstm", seed=1)[0]),
          "user_rational": (user, _data("dense", seed=1)[0]),
          "modern": (modern, _data("dense", seed=1)[0]),
          "splines": (splines, _data("dense", seed=1)[0])}


def _json_output(completed):
  assert completed.returncode == 0, completed.stderr[-4000:]
  return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def saved(tmp_path_factory, user_rational):
  """Saves every case as .keras and SavedModel; returns (dir, predictions)."""
  directory = tmp_path_factory.mktemp("saved")
  predictions = {}
  for key, (model, x) in _saved_model_cases(user_rational).items():
    np.save(directory / f"{key}.npy", x)
    predictions[key] = model.predict(x, verbose=0)
    model.save(directory / f"{key}.keras")
    model.export(directory / f"{key}_saved_model", verbose=False)
  return directory, predictions


@pytest.fixture(scope="module")
def fresh_process_results(saved, run_python):
  directory, predictions = saved
  return _json_output(run_python(_LOAD_SCRIPT, directory, *predictions))


@pytest.mark.parametrize("fmt", ["keras", "saved_model"])
@pytest.mark.parametrize("key",
                         ["names", "user_rational", "modern", "splines"])
def test_fresh_process_loads_same_predictions(fmt, key, saved,
                                              fresh_process_results):
  loaded = fresh_process_results[f"{fmt}/{key}"]
  assert not isinstance(loaded, str), loaded
  np.testing.assert_allclose(np.array(loaded, np.float32), saved[1][key],
                             rtol=1e-5, atol=1e-6)


def test_fresh_process_did_not_register_user_rational(fresh_process_results):
  assert USER_NAME not in fresh_process_results["registered"]
  assert "tanh_pade_4_4" in fresh_process_results["registered"]


def test_saved_model_without_tf_approx_names_missing_op(saved, run_python):
  directory, _ = saved
  result = _json_output(run_python(
      _LOAD_WITHOUT_TF_APPROX_SCRIPT, directory / "names_saved_model",
      directory / "names.npy"))
  assert not result["imported_tf_approx"]
  assert result["error"] is not None, "loaded without the op library"
  assert "TfApprox>Activation" in result["error"], result["error"]
