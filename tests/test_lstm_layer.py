"""The fused LSTM: tf_approx.layers.LSTM against Keras' LSTM, and its op.

Keras' own LSTM is the oracle: it takes tf_approx's activation names once
tf_approx is imported, so with the same weights both compute the same
function, step by step. They differ only in rounding: ours adds b to x W
before h W_h (Keras after), and the native op uses its own few-ulp tanh and
sigmoid. Over 5 contracting steps of values in (-1, 1) that stays within a
few tens of float32 ulps of 1 (measured: below 1e-6), hence ATOL = 1e-5 for
values and GRAD_ATOL = 1e-4 (with GRAD_RTOL 1e-4) for gradients, which sum
products over every step and example.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_approx
from tf_approx.reference import recurrent as reference

BATCH, TIME, FEATURES, UNITS = 3, 5, 4, 6
ATOL = 1e-5
GRAD_ATOL = GRAD_RTOL = 1e-4
EXACT = ("tanh", "sigmoid")
APPROXIMATED = ("tanh_pade_4_4", "sigm_fastexp_512")
ACTIVATIONS = {"exact": EXACT, "approximated": APPROXIMATED}


def _inputs(seed=0, batch=BATCH, dtype="float32"):
  rng = np.random.default_rng(seed)
  return rng.normal(size=(batch, TIME, FEATURES)).astype(dtype)


def _pair(activations=EXACT, x=None, **kwargs):
  """(keras.layers.LSTM, tf_approx.layers.LSTM) with the same weights."""
  activation, recurrent_activation = activations
  kwargs.update(activation=activation,
                recurrent_activation=recurrent_activation)
  keras.utils.set_random_seed(1)
  theirs = keras.layers.LSTM(UNITS, **kwargs)
  ours = tf_approx.layers.LSTM(UNITS, **kwargs)
  x = _inputs(dtype=kwargs.get("dtype", "float32")) if x is None else x
  theirs(x)
  ours(x)
  # Biases away from Keras' init, so every gate sees an offset.
  weights = theirs.get_weights()
  weights[-1] = np.random.default_rng(2).normal(
      size=weights[-1].shape).astype(weights[-1].dtype)
  theirs.set_weights(weights)
  ours.set_weights(weights)
  return theirs, ours


def _assert_close(actual, expected, atol=ATOL, rtol=ATOL):
  actual, expected = tf.nest.flatten(actual), tf.nest.flatten(expected)
  assert len(actual) == len(expected)
  for a, e in zip(actual, expected):
    np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=atol,
                               rtol=rtol)


def _masked_inputs(lengths=(5, 3, 0)):
  """Inputs right-padded with zeros to TIME steps (for Masking)."""
  x = _inputs()
  for b, n in enumerate(lengths):
    x[b, n:] = 0.0
  return x


OUTPUT_VARIANTS = {
    "last": {},
    "sequences": dict(return_sequences=True),
    "state": dict(return_state=True),
    "backwards": dict(return_sequences=True, return_state=True,
                      go_backwards=True),
    "backwards_last": dict(go_backwards=True),
}


@pytest.mark.parametrize("functions", ACTIVATIONS)
@pytest.mark.parametrize("variant", OUTPUT_VARIANTS)
def test_matches_keras_lstm(functions, variant):
  theirs, ours = _pair(ACTIVATIONS[functions], **OUTPUT_VARIANTS[variant])
  x = _inputs(seed=3)
  _assert_close(ours(x), theirs(x))


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_right_padded_mask_matches_keras(go_backwards, zero_output_for_mask):
  # An empty example (length 0) too: Keras outputs zeros for it.
  kwargs = dict(return_sequences=True, return_state=True,
                go_backwards=go_backwards,
                zero_output_for_mask=zero_output_for_mask)
  theirs, ours = _pair(APPROXIMATED, **kwargs)
  x = _masked_inputs()
  mask = keras.layers.Masking()(x)._keras_mask
  h0 = np.full((BATCH, UNITS), 0.5, np.float32)
  c0 = np.full((BATCH, UNITS), -0.25, np.float32)
  for initial_state in (None, [h0, c0]):
    _assert_close(ours(x, mask=mask, initial_state=initial_state),
                  theirs(x, mask=mask, initial_state=initial_state))
  last_theirs, last_ours = _pair(APPROXIMATED, go_backwards=go_backwards)
  _assert_close(last_ours(x, mask=mask), last_theirs(x, mask=mask))


def test_masking_and_embedding_masks_in_a_model():
  theirs, ours = _pair(EXACT, return_sequences=True)
  for make_mask in (keras.layers.Masking,
                    lambda: keras.layers.Embedding(7, FEATURES,
                                                   mask_zero=True)):
    models = []
    for lstm in (theirs, ours):
      keras.utils.set_random_seed(4)
      masking = make_mask()
      embedded = isinstance(masking, keras.layers.Embedding)
      shape = (TIME,) if embedded else (TIME, FEATURES)
      models.append(keras.Sequential([keras.Input(shape), masking, lstm]))
    if embedded:
      x = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 1, 2], [3, 0, 0, 0, 0]])
      models[1].layers[0].set_weights(models[0].layers[0].get_weights())
    else:
      x = _masked_inputs((2, 5, 4))
    _assert_close(models[1](x), models[0](x))


def test_left_padding_raises():
  ours = tf_approx.layers.LSTM(UNITS)
  x = _inputs()
  mask = np.ones((BATCH, TIME), bool)
  mask[1, :2] = False
  with pytest.raises(tf.errors.InvalidArgumentError, match="left padding"):
    ours(x, mask=mask)
  with pytest.raises(tf.errors.InvalidArgumentError, match="left padding"):
    tf.function(lambda x, m: ours(x, mask=m))(x, mask)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_keras(return_sequences):
  x = _masked_inputs((5, 2, 4))
  layers = []
  for lstm in (keras.layers.LSTM, tf_approx.layers.LSTM):
    keras.utils.set_random_seed(5)
    layers.append(keras.layers.Bidirectional(
        lstm(UNITS, activation="tanh_pade_4_4",
             return_sequences=return_sequences, return_state=True)))
  theirs, ours = layers
  mask = keras.layers.Masking()(x)._keras_mask
  theirs(x)
  ours(x)
  assert ours.backward_layer.go_backwards
  assert isinstance(ours.backward_layer, tf_approx.layers.LSTM)
  ours.set_weights(theirs.get_weights())
  _assert_close(ours(x), theirs(x))
  _assert_close(ours(x, mask=mask), theirs(x, mask=mask))


def test_stateful_keeps_state_across_batches():
  layers = []
  for lstm in (keras.layers.LSTM, tf_approx.layers.LSTM):
    keras.utils.set_random_seed(6)
    layers.append(lstm(UNITS, stateful=True, return_state=True))
  x1, x2 = _inputs(seed=7), _inputs(seed=8)
  for layer in layers:
    layer.build((BATCH, TIME, FEATURES))
  layers[1].set_weights(layers[0].get_weights())
  theirs, ours = layers
  first = ours(x1)
  _assert_close(first, theirs(x1))
  second = ours(x2)
  _assert_close(second, theirs(x2))
  _assert_close(ours.states, second[1:])
  ours.reset_state()
  theirs.reset_state()
  _assert_close(ours(x2), theirs(x2))
  ours.reset_states()
  np.testing.assert_array_equal(ours.states[0].numpy(), 0.0)
  with pytest.raises(ValueError, match="batch size"):
    ours(_inputs(batch=BATCH + 1))


def test_initial_state_matches_keras():
  theirs, ours = _pair(APPROXIMATED, return_sequences=True,
                       return_state=True)
  rng = np.random.default_rng(9)
  state = [rng.normal(size=(BATCH, UNITS)).astype(np.float32)
           for _ in range(2)]
  x = _inputs(seed=10)
  _assert_close(ours(x, initial_state=state),
                theirs(x, initial_state=state))


@pytest.mark.parametrize("functions", ACTIVATIONS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_gradients_match_keras(functions, go_backwards):
  theirs, ours = _pair(ACTIVATIONS[functions], return_sequences=True,
                       return_state=True, go_backwards=go_backwards)
  x = tf.constant(_masked_inputs((5, 3, 1)))
  mask = tf.constant(keras.layers.Masking()(x)._keras_mask)
  rng = np.random.default_rng(11)
  weights = [tf.constant(rng.normal(size=(BATCH, TIME, UNITS)), tf.float32),
             tf.constant(rng.normal(size=(BATCH, UNITS)), tf.float32),
             tf.constant(rng.normal(size=(BATCH, UNITS)), tf.float32)]
  grads = []
  for layer in (theirs, ours):
    for m in (None, mask):
      with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = layer(x, mask=m)
        loss = sum(tf.reduce_sum(w * y) for w, y in zip(weights, outputs))
      grads.append(tape.gradient(loss, [x] + layer.trainable_weights))
  _assert_close(grads[2:], grads[:2], atol=GRAD_ATOL, rtol=GRAD_RTOL)


def test_float64_matches_keras():
  theirs, ours = _pair(APPROXIMATED, dtype="float64", return_sequences=True)
  x = _inputs(seed=12, dtype="float64")
  y = ours(x)
  assert y.dtype == tf.float64
  _assert_close(y, theirs(x), atol=1e-12, rtol=1e-12)


def test_dropout_applies_in_training_only():
  theirs, ours = _pair(EXACT, dropout=0.5, seed=3)
  x = _inputs(seed=13)
  _assert_close(ours(x, training=False), theirs(x, training=False))
  assert not np.allclose(ours(x, training=True), ours(x, training=False))


def test_get_config_round_trip():
  ours = tf_approx.layers.LSTM(
      UNITS, activation="tanh_pade_4_4", recurrent_activation="sigmoid",
      return_sequences=True, go_backwards=True, dropout=0.25, seed=3,
      unroll=True, use_cudnn=False, kernel_regularizer="l2",
      bias_constraint="non_neg", unit_forget_bias=False)
  config = ours.get_config()
  assert config["activation"] == "tanh_pade_4_4"
  assert config["recurrent_activation"] == "sigmoid"
  again = tf_approx.layers.LSTM.from_config(config)
  assert again.get_config() == config
  # The parameters Keras' LSTM takes: the config loads as one too.
  keras_config = keras.layers.LSTM(UNITS).get_config()
  assert set(keras_config) <= set(config)
  approximation = tf_approx.layers.LSTM(
      UNITS, activation=tf_approx.activations.get("tanh_pade_4_4"))
  assert approximation.get_config()["activation"] == "tanh_pade_4_4"


def test_keras_file_round_trip(tmp_path):
  keras.utils.set_random_seed(14)
  model = keras.Sequential([
      keras.Input((TIME, FEATURES)), keras.layers.Masking(),
      keras.layers.Bidirectional(tf_approx.layers.LSTM(
          UNITS, activation="tanh_pade_4_4",
          recurrent_activation="sigm_fastexp_512", return_sequences=True)),
      tf_approx.layers.LSTM(UNITS, go_backwards=True)])
  x = _masked_inputs((5, 2, 3))
  expected = model(x)
  path = tmp_path / "lstm.keras"
  model.save(path)
  loaded = keras.models.load_model(path)
  assert isinstance(loaded.layers[-1], tf_approx.layers.LSTM)
  _assert_close(loaded(x), expected, atol=0, rtol=0)


def test_keras_file_and_export_load_in_fresh_process(
    assert_reloads_in_fresh_process):
  """A fresh process that imports only tf_approx loads both formats."""
  keras.utils.set_random_seed(15)
  model = keras.Sequential([
      keras.Input((TIME, FEATURES)), keras.layers.Masking(),
      keras.layers.Bidirectional(tf_approx.layers.LSTM(
          UNITS, activation="tanh_pade_4_4",
          recurrent_activation="sigm_fastexp_512", return_sequences=True)),
      tf_approx.layers.LSTM(UNITS), keras.layers.Dense(2)])
  x = _masked_inputs((5, 2, 3))
  model.compile("adam", "mse")
  model.fit(x, np.zeros((len(x), 2), np.float32), epochs=1, verbose=0)
  assert_reloads_in_fresh_process({"lstm": model}, x)

def test_fit_trains():
  keras.utils.set_random_seed(15)
  model = keras.Sequential([
      keras.Input((TIME, FEATURES)),
      tf_approx.layers.LSTM(UNITS, activation="tanh_pade_4_4"),
      keras.layers.Dense(1)])
  model.compile("adam", "mse")
  x = _inputs(seed=16, batch=12)
  y = x.sum(axis=(1, 2))[:, None] / 10
  history = model.fit(x, y, epochs=5, batch_size=6, verbose=0)
  assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("kwargs, arg", [
    (dict(recurrent_dropout=0.1), "recurrent_dropout"),
    (dict(activation="tanh_pade_44"), "activation"),
    (dict(recurrent_activation="relu"), "recurrent_activation"),
    (dict(activation=None), "activation"),
    (dict(units=0), "units"),
    (dict(use_cudnn="yes"), "use_cudnn"),
])
def test_bad_arguments_name_themselves(kwargs, arg):
  kwargs = dict(dict(units=UNITS), **kwargs)
  with pytest.raises((ValueError, TypeError), match=f"`{arg}`"):
    tf_approx.layers.LSTM(**kwargs)


# The op and its twin.


def _op_inputs(seed=20, dtype=np.float32):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(TIME, BATCH, 4 * UNITS)).astype(dtype)
  kernel = (rng.normal(size=(UNITS, 4 * UNITS)) / 3).astype(dtype)
  h0, c0 = (rng.normal(size=(BATCH, UNITS)).astype(dtype) for _ in range(2))
  return x, kernel, h0, c0


def _steps(x, kernel, h0, c0, lengths, reverse, a=np.tanh,
           ra=lambda v: 1 / (1 + np.exp(-v))):
  """The contract in numpy, one step at a time."""
  h, c = h0.astype(np.float64), c0.astype(np.float64)
  outputs = np.zeros(x.shape[:2] + (UNITS,))
  order = range(TIME - 1, -1, -1) if reverse else range(TIME)
  for t in order:
    z = x[t] + h @ kernel
    i, f, g, o = np.split(z, 4, axis=1)
    c_new = ra(f) * c + ra(i) * a(g)
    h_new = ra(o) * a(c_new)
    valid = (t < np.asarray(lengths))[:, None]
    h, c = np.where(valid, h_new, h), np.where(valid, c_new, c)
    outputs[t] = h
  return outputs, h, c


@pytest.mark.parametrize("reverse", [False, True])
def test_op_follows_the_contract_at_masked_steps(reverse):
  inputs = _op_inputs()
  lengths = [5, 2, 0]
  got = tf_approx.ops.recurrent.lstm(*inputs, lengths, reverse=reverse)
  _assert_close(got, _steps(*inputs, lengths, reverse))
  full = tf_approx.ops.recurrent.lstm(*inputs, reverse=reverse)
  _assert_close(full, _steps(*inputs, [TIME] * BATCH, reverse))


def test_op_under_xla_matches_eager():
  inputs = _op_inputs()
  lengths = tf.constant([5, 3, 1])

  def run(*args):
    with tf.GradientTape() as tape:
      tape.watch(args)
      outputs, h, c = tf_approx.ops.recurrent.lstm(
          *args, lengths, activation="tanh_pade_4_4",
          recurrent_activation="sigm_fastexp_512", reverse=True)
      loss = tf.reduce_sum(outputs) + tf.reduce_sum(h * c)
    return (outputs, h, c), tape.gradient(loss, args)

  inputs = [tf.constant(v) for v in inputs]
  _assert_close(tf.function(run, jit_compile=True)(*inputs), run(*inputs),
                atol=GRAD_ATOL, rtol=GRAD_RTOL)


def test_layer_under_jit_compile_matches_keras():
  theirs, ours = _pair(APPROXIMATED, return_sequences=True)
  x = _inputs(seed=21)
  _assert_close(tf.function(ours, jit_compile=True)(x), theirs(x))


def test_op_gradient_matches_the_twin():
  inputs = [tf.constant(v, tf.float64) for v in _op_inputs(dtype=np.float64)]
  lengths = tf.constant([4, 5, 2])

  def loss(function, args):
    with tf.GradientTape() as tape:
      tape.watch(args)
      outputs, h, c = function(*args, lengths, activation="tanh_pade_4_4")
      value = tf.reduce_sum(outputs ** 2) + tf.reduce_sum(h + 2 * c)
    return tape.gradient(value, args)

  _assert_close(loss(tf_approx.ops.recurrent.lstm, inputs),
                loss(reference.lstm, inputs), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("change, match", [
    (lambda a: dict(a, x=a["x"][0]), "`x` must have rank 3"),
    (lambda a: dict(a, x=a["x"][..., :-1]), "`x`"),
    (lambda a: dict(a, recurrent_kernel=a["recurrent_kernel"][:, :-4]),
     "`recurrent_kernel`"),
    (lambda a: dict(a, h0=a["h0"][:-1]), "`h0`"),
    (lambda a: dict(a, c0=a["c0"][:, :-1]), "`c0`"),
    (lambda a: dict(a, lengths=[1, 2]), "`lengths`"),
    (lambda a: dict(a, lengths=[1.0, 2.0, 3.0]), "`lengths`"),
    (lambda a: {k: v.astype(np.int32) if k == "x" else v
                for k, v in a.items()}, "`x` must be float32 or float64"),
    (lambda a: dict(a, h0=a["h0"].astype(np.float64)), "`h0`"),
    (lambda a: dict(a, activation="tanh_pade_44"), "`activation`"),
    (lambda a: dict(a, recurrent_activation=3), "`recurrent_activation`"),
])
def test_op_argument_errors_name_the_argument(change, match):
  x, kernel, h0, c0 = _op_inputs()
  arguments = change(dict(x=x, recurrent_kernel=kernel, h0=h0, c0=c0,
                          lengths=[5, 5, 5]))
  with pytest.raises((ValueError, TypeError), match=match):
    tf_approx.ops.recurrent.lstm(**arguments)


class _AttrsOnly:
  """What the registered gradient reads of an op: its attrs (strings as
  bytes, as graph ops return them)."""

  def __init__(self, attrs):
    self.attrs = attrs

  def get_attr(self, name):
    value = self.attrs.get(name)
    if value is None:  # an attr the wrapper left at the op's default
      value = tf_approx.ops.ActivationSpec().attrs()[
          name.split("activation_", 1)[1]]
    return value.encode() if isinstance(value, str) else value


@pytest.mark.parametrize("functions", [EXACT, APPROXIMATED,
                                       ("tanh_pade_4_4", "sigmoid")])
def test_op_attrs_round_trip(functions):
  from tf_approx.ops import recurrent  # pylint: disable=g-import-not-at-top
  attrs = recurrent.lstm_attrs(*functions)
  for prefix, function in zip(("activation_", "recurrent_activation_"),
                              functions):
    names = {k[len(prefix):] for k in attrs if k.startswith(prefix)}
    if function in EXACT:
      assert attrs[prefix + "kind"] == function and names == {"kind"}
    else:
      assert names == set(tf_approx.ops.activations.ATTR_NAMES)
  expected = tuple(f if f in EXACT else tf_approx.activations.spec(f)
                   for f in functions)
  assert recurrent.activations_of(_AttrsOnly(attrs)) == expected
