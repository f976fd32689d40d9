"""The fused GRU: tf_approx.layers.GRU against Keras' GRU, and its op.

Keras' own GRU is the oracle: it takes tf_approx's activation names once
tf_approx is imported, so with the same weights both compute the same
function, step by step, in both layouts (reset_after True and False). They
differ only in rounding: the native op uses its own few-ulp tanh and sigmoid
and its own matmul; hence the tolerances of tests/test_lstm_layer.py, ATOL
= 1e-5 for values and GRAD_ATOL = GRAD_RTOL = 1e-4 for gradients.
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
LAYOUTS = [pytest.param(True, id="reset_after"),
           pytest.param(False, id="reset_before")]


def _inputs(seed=0, batch=BATCH, dtype="float32"):
  rng = np.random.default_rng(seed)
  return rng.normal(size=(batch, TIME, FEATURES)).astype(dtype)


def _pair(activations=EXACT, x=None, **kwargs):
  """(keras.layers.GRU, tf_approx.layers.GRU) with the same weights."""
  activation, recurrent_activation = activations
  kwargs.update(activation=activation,
                recurrent_activation=recurrent_activation)
  keras.utils.set_random_seed(1)
  theirs = keras.layers.GRU(UNITS, **kwargs)
  ours = tf_approx.layers.GRU(UNITS, **kwargs)
  x = _inputs(dtype=kwargs.get("dtype", "float32")) if x is None else x
  theirs(x)
  ours(x)
  # Biases away from Keras' zeros, so every gate sees an offset.
  weights = theirs.get_weights()
  if kwargs.get("use_bias", True):
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
    "no_bias": dict(return_sequences=True, use_bias=False),
}


@pytest.mark.parametrize("functions", ACTIVATIONS)
@pytest.mark.parametrize("reset_after", LAYOUTS)
@pytest.mark.parametrize("variant", OUTPUT_VARIANTS)
def test_matches_keras_gru(functions, reset_after, variant):
  theirs, ours = _pair(ACTIVATIONS[functions], reset_after=reset_after,
                       **OUTPUT_VARIANTS[variant])
  assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
  x = _inputs(seed=3)
  _assert_close(ours(x), theirs(x))


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_right_padded_mask_matches_keras(go_backwards, zero_output_for_mask):
  # An empty example (length 0) too: Keras outputs zeros for it.
  kwargs = dict(return_sequences=True, return_state=True,
                go_backwards=go_backwards,
                zero_output_for_mask=zero_output_for_mask,
                reset_after=not zero_output_for_mask)
  theirs, ours = _pair(APPROXIMATED, **kwargs)
  x = _masked_inputs()
  mask = keras.layers.Masking()(x)._keras_mask
  h0 = np.full((BATCH, UNITS), 0.5, np.float32)
  for initial_state in (None, [h0], h0):
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
    for gru in (theirs, ours):
      keras.utils.set_random_seed(4)
      masking = make_mask()
      embedded = isinstance(masking, keras.layers.Embedding)
      shape = (TIME,) if embedded else (TIME, FEATURES)
      models.append(keras.Sequential([keras.Input(shape), masking, gru]))
    if embedded:
      x = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 1, 2], [3, 0, 0, 0, 0]])
      models[1].layers[0].set_weights(models[0].layers[0].get_weights())
    else:
      x = _masked_inputs((2, 5, 4))
    _assert_close(models[1](x), models[0](x))


def test_left_padding_raises():
  ours = tf_approx.layers.GRU(UNITS)
  x = _inputs()
  mask = np.ones((BATCH, TIME), bool)
  mask[1, :2] = False
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="GRU supports right-padded.*left padding"):
    ours(x, mask=mask)
  with pytest.raises(tf.errors.InvalidArgumentError, match="left padding"):
    tf.function(lambda x, m: ours(x, mask=m))(x, mask)


@pytest.mark.parametrize("reset_after", LAYOUTS)
def test_bidirectional_matches_keras(reset_after):
  x = _masked_inputs((5, 2, 4))
  layers = []
  for gru in (keras.layers.GRU, tf_approx.layers.GRU):
    keras.utils.set_random_seed(5)
    layers.append(keras.layers.Bidirectional(
        gru(UNITS, activation="tanh_pade_4_4", reset_after=reset_after,
            return_sequences=reset_after, return_state=True)))
  theirs, ours = layers
  mask = keras.layers.Masking()(x)._keras_mask
  theirs(x)
  ours(x)
  assert ours.backward_layer.go_backwards
  assert isinstance(ours.backward_layer, tf_approx.layers.GRU)
  assert ours.backward_layer.reset_after == reset_after
  ours.set_weights(theirs.get_weights())
  _assert_close(ours(x), theirs(x))
  _assert_close(ours(x, mask=mask), theirs(x, mask=mask))


def test_stateful_keeps_state_across_batches():
  layers = []
  for gru in (keras.layers.GRU, tf_approx.layers.GRU):
    keras.utils.set_random_seed(6)
    layers.append(gru(UNITS, stateful=True, return_state=True))
  x1, x2 = _inputs(seed=7), _inputs(seed=8)
  for layer in layers:
    layer.build((BATCH, TIME, FEATURES))
  layers[1].set_weights(layers[0].get_weights())
  theirs, ours = layers
  first = ours(x1)
  _assert_close(first, theirs(x1))
  second = ours(x2)
  _assert_close(second, theirs(x2))
  assert len(ours.states) == 1
  _assert_close(ours.states, second[1:])
  ours.reset_state()
  theirs.reset_state()
  _assert_close(ours(x2), theirs(x2))
  ours.reset_states()
  np.testing.assert_array_equal(ours.states[0].numpy(), 0.0)
  with pytest.raises(ValueError, match="batch size"):
    ours(_inputs(batch=BATCH + 1))


@pytest.mark.parametrize("functions", ACTIVATIONS)
@pytest.mark.parametrize("reset_after", LAYOUTS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_gradients_match_keras(functions, reset_after, go_backwards):
  theirs, ours = _pair(ACTIVATIONS[functions], return_sequences=True,
                       return_state=True, go_backwards=go_backwards,
                       reset_after=reset_after)
  x = tf.constant(_masked_inputs((5, 3, 1)))
  mask = tf.constant(keras.layers.Masking()(x)._keras_mask)
  rng = np.random.default_rng(11)
  weights = [tf.constant(rng.normal(size=(BATCH, TIME, UNITS)), tf.float32),
             tf.constant(rng.normal(size=(BATCH, UNITS)), tf.float32)]
  h0 = tf.constant(rng.normal(size=(BATCH, UNITS)), tf.float32)
  grads = []
  for layer in (theirs, ours):
    for m in (None, mask):
      with tf.GradientTape() as tape:
        tape.watch([x, h0])
        outputs = layer(x, mask=m, initial_state=h0)
        loss = sum(tf.reduce_sum(w * y) for w, y in zip(weights, outputs))
      grads.append(tape.gradient(loss, [x, h0] + layer.trainable_weights))
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
  ours = tf_approx.layers.GRU(
      UNITS, activation="tanh_pade_4_4", recurrent_activation="sigmoid",
      return_sequences=True, go_backwards=True, dropout=0.25, seed=3,
      unroll=True, use_cudnn=False, kernel_regularizer="l2",
      bias_constraint="non_neg", reset_after=False)
  config = ours.get_config()
  assert config["activation"] == "tanh_pade_4_4"
  assert config["recurrent_activation"] == "sigmoid"
  assert config["reset_after"] is False
  again = tf_approx.layers.GRU.from_config(config)
  assert again.get_config() == config
  # The parameters Keras' GRU takes: the config loads as one too.
  keras_config = keras.layers.GRU(UNITS).get_config()
  assert set(keras_config) <= set(config)
  approximation = tf_approx.layers.GRU(
      UNITS, activation=tf_approx.activations.get("tanh_pade_4_4"))
  assert approximation.get_config()["activation"] == "tanh_pade_4_4"


def _model():
  keras.utils.set_random_seed(14)
  return keras.Sequential([
      keras.Input((TIME, FEATURES)), keras.layers.Masking(),
      keras.layers.Bidirectional(tf_approx.layers.GRU(
          UNITS, activation="tanh_pade_4_4",
          recurrent_activation="sigm_fastexp_512", return_sequences=True)),
      tf_approx.layers.GRU(UNITS, go_backwards=True, reset_after=False),
      keras.layers.Dense(2)])


def test_keras_file_round_trip_and_fit(tmp_path):
  model = _model()
  x = _masked_inputs((5, 2, 3))
  model.compile("adam", "mse")
  y = x.sum(axis=(1, 2))[:, None] / 10 * np.ones((1, 2), np.float32)
  history = model.fit(x, y, epochs=5, verbose=0)
  assert history.history["loss"][-1] < history.history["loss"][0]
  expected = model(x)
  path = tmp_path / "gru.keras"
  model.save(path)
  loaded = keras.models.load_model(path)
  assert isinstance(loaded.layers[-2], tf_approx.layers.GRU)
  assert not loaded.layers[-2].reset_after
  _assert_close(loaded(x), expected, atol=0, rtol=0)


def test_keras_file_and_export_load_in_fresh_process(
    assert_reloads_in_fresh_process):
  """A fresh process that imports only tf_approx loads both formats."""
  model = _model()
  x = _masked_inputs((5, 2, 3))
  model.compile("adam", "mse")
  model.fit(x, np.zeros((len(x), 2), np.float32), epochs=1, verbose=0)
  assert_reloads_in_fresh_process({"gru": model}, x)


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
    tf_approx.layers.GRU(**kwargs)
  if arg == "recurrent_dropout":
    with pytest.raises(ValueError, match="keras.layers.GRU"):
      tf_approx.layers.GRU(**kwargs)


def test_initial_state_must_be_one_tensor():
  ours = tf_approx.layers.GRU(UNITS)
  h0 = np.zeros((BATCH, UNITS), np.float32)
  with pytest.raises(ValueError, match=r"`initial_state` must be a list \[h\]"):
    ours(_inputs(), initial_state=[h0, h0])


# The op and its twin.


def _op_inputs(seed=20, dtype=np.float32):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(TIME, BATCH, 3 * UNITS)).astype(dtype)
  kernel = (rng.normal(size=(UNITS, 3 * UNITS)) / 3).astype(dtype)
  bias = rng.normal(size=(3 * UNITS,)).astype(dtype)
  h0 = rng.normal(size=(BATCH, UNITS)).astype(dtype)
  return x, kernel, bias, h0


def _steps(x, kernel, bias, h0, lengths, reverse, reset_after,
           a=np.tanh, ra=lambda v: 1 / (1 + np.exp(-v))):
  """The contract in numpy, one step at a time."""
  h = h0.astype(np.float64)
  outputs = np.zeros(x.shape[:2] + (UNITS,))
  w_z, w_r, w_h = np.split(kernel, 3, axis=1)
  b_z, b_r, b_h = np.split(bias, 3)
  for t in range(TIME - 1, -1, -1) if reverse else range(TIME):
    x_z, x_r, x_h = np.split(x[t], 3, axis=1)
    z, r = ra(x_z + h @ w_z + b_z), ra(x_r + h @ w_r + b_r)
    if reset_after:
      hh = a(x_h + r * (h @ w_h + b_h))
    else:
      hh = a(x_h + (r * h) @ w_h + b_h)
    h_new = z * h + (1 - z) * hh
    h = np.where((t < np.asarray(lengths))[:, None], h_new, h)
    outputs[t] = h
  return outputs, h


@pytest.mark.parametrize("reset_after", LAYOUTS)
@pytest.mark.parametrize("reverse", [False, True])
def test_op_follows_the_contract_at_masked_steps(reset_after, reverse):
  inputs = _op_inputs()
  lengths = [5, 2, 0]
  got = tf_approx.ops.recurrent.gru(*inputs, lengths, reverse=reverse,
                                    reset_after=reset_after)
  _assert_close(got, _steps(*inputs, lengths, reverse, reset_after))
  full = tf_approx.ops.gru(*inputs, reverse=reverse, reset_after=reset_after)
  _assert_close(full, _steps(*inputs, [TIME] * BATCH, reverse, reset_after))


def test_op_under_xla_matches_eager():
  inputs = [tf.constant(v) for v in _op_inputs()]
  lengths = tf.constant([5, 3, 1])

  def run(*args):
    with tf.GradientTape() as tape:
      tape.watch(args)
      outputs, h = tf_approx.ops.recurrent.gru(
          *args, lengths, activation="tanh_pade_4_4",
          recurrent_activation="sigm_fastexp_512", reset_after=False,
          reverse=True)
      loss = tf.reduce_sum(outputs) + tf.reduce_sum(h * h)
    return (outputs, h), tape.gradient(loss, args)

  _assert_close(tf.function(run, jit_compile=True)(*inputs), run(*inputs),
                atol=GRAD_ATOL, rtol=GRAD_RTOL)


def test_layer_under_jit_compile_matches_keras():
  theirs, ours = _pair(APPROXIMATED, return_sequences=True)
  x = _inputs(seed=21)
  _assert_close(tf.function(ours, jit_compile=True)(x), theirs(x))


@pytest.mark.parametrize("reset_after", LAYOUTS)
def test_op_gradient_matches_the_twin(reset_after):
  inputs = [tf.constant(v, tf.float64) for v in _op_inputs(dtype=np.float64)]
  lengths = tf.constant([4, 5, 2])

  def loss(function, args):
    with tf.GradientTape() as tape:
      tape.watch(args)
      outputs, h = function(*args, lengths, activation="tanh_pade_4_4",
                            reset_after=reset_after, reverse=True)
      value = tf.reduce_sum(outputs ** 2) + tf.reduce_sum(3 * h)
    return tape.gradient(value, args)

  _assert_close(loss(tf_approx.ops.recurrent.gru, inputs),
                loss(reference.gru, inputs), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("change, match", [
    (lambda a: dict(a, x=a["x"][0]), "`x` must have rank 3"),
    (lambda a: dict(a, x=a["x"][..., :-1]), "`x`"),
    (lambda a: dict(a, recurrent_kernel=a["recurrent_kernel"][:, :-3]),
     "`recurrent_kernel`"),
    (lambda a: dict(a, recurrent_bias=a["recurrent_bias"][:-1]),
     "`recurrent_bias`"),
    (lambda a: dict(a, recurrent_bias=a["recurrent_bias"][None]),
     "`recurrent_bias` must have rank 1"),
    (lambda a: dict(a, h0=a["h0"][:-1]), "`h0`"),
    (lambda a: dict(a, h0=a["h0"][:, :-1]), "`h0`"),
    (lambda a: dict(a, lengths=[1, 2]), "`lengths`"),
    (lambda a: dict(a, lengths=[1.0, 2.0, 3.0]), "`lengths`"),
    (lambda a: {k: v.astype(np.int32) if k == "x" else v
                for k, v in a.items()}, "`x` must be float32 or float64"),
    (lambda a: dict(a, recurrent_bias=a["recurrent_bias"].astype(
        np.float64)), "`recurrent_bias`"),
    (lambda a: dict(a, activation="tanh_pade_44"), "`activation`"),
    (lambda a: dict(a, recurrent_activation=3), "`recurrent_activation`"),
])
def test_op_argument_errors_name_the_argument(change, match):
  x, kernel, bias, h0 = _op_inputs()
  arguments = change(dict(x=x, recurrent_kernel=kernel, recurrent_bias=bias,
                          h0=h0, lengths=[5, 5, 5]))
  with pytest.raises((ValueError, TypeError), match=match):
    tf_approx.ops.recurrent.gru(**arguments)
