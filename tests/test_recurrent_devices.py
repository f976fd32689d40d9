"""Where the fused LSTM and GRU run: the fused op, Keras' cuDNN path, or the
twin.

This machine has no GPU: the tests make Keras and tf_approx see one (their
GPU probes patched) and replace Keras' cuDNN functions with recorders, then
check what the layers hand off and what they return. With the exact tanh and
sigmoid the layers run Keras' cuDNN path as Keras' layers do; with
approximations they run the fused op, whose CUDA kernels run there, or where
tf_approx's GPU kernels did not load (as here: `tf_approx.gpu_status()`) the
composite twin (a loop of TensorFlow ops that stays on the GPU); `use_cudnn`
chooses as in Keras. The CUDA kernels themselves are checked by
tests/test_recurrent_gpu_model.py and tools/gpu_check.py.
"""

import dataclasses
import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_approx
from tf_approx.ops import recurrent as recurrent_ops

# The module (the package's `rnn` is a function of it).
keras_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")

BATCH, TIME, FEATURES, UNITS = 3, 5, 4, 6
LAYERS = {"LSTM": (tf_approx.layers.LSTM, "_cudnn_lstm", 2),
          "GRU": (tf_approx.layers.GRU, "_cudnn_gru", 1)}


@pytest.fixture
def sequences():
  rng = np.random.default_rng(0)
  return rng.normal(size=(BATCH, TIME, FEATURES)).astype(np.float32)


@pytest.fixture
def gpu_seen(monkeypatch):
  """Keras and tf_approx see a GPU; Keras' cuDNN functions record their
  calls and return recognisable values in their own format."""
  calls = []

  def recorder(states):
    def cudnn(inputs, *args):
      calls.append((inputs, args))
      batch = tf.shape(inputs)[0]
      return_sequences = args[-1]
      last = tf.fill([batch, UNITS], 1.0)
      outputs = (tf.fill([batch, TIME, UNITS], 2.0) if return_sequences
                 else last[:, tf.newaxis])
      return last, outputs, [tf.fill([batch, UNITS], 3.0 + i)
                             for i in range(states)]
    return cudnn

  monkeypatch.setattr(keras_rnn, "_is_gpu_available", lambda: True)
  monkeypatch.setattr(recurrent_ops, "gpu_visible", lambda: True)
  monkeypatch.setattr(keras_rnn, "_cudnn_lstm", recorder(2))
  monkeypatch.setattr(keras_rnn, "_cudnn_gru", recorder(1))
  return calls


def _op_types(layer, sequences):
  graph = tf.function(layer).get_concrete_function(
      tf.constant(sequences)).graph
  return {op.type for op in graph.get_operations()}


def test_this_machine_sees_no_gpu():
  assert recurrent_ops.gpu_visible() == bool(
      tf.config.list_logical_devices("GPU"))
  assert not recurrent_ops.gpu_visible()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_exact_functions_hand_off_to_keras_cudnn_path(gpu_seen, sequences,
                                                     name):
  layer_class, _, states = LAYERS[name]
  layer = layer_class(UNITS, return_sequences=True, return_state=True,
                      go_backwards=True)
  mask = np.ones((BATCH, TIME), bool)
  mask[0, 3:] = False
  output, *final = layer(sequences, mask=tf.constant(mask))
  (inputs, args), = gpu_seen
  np.testing.assert_array_equal(inputs, sequences)
  # Keras' argument order: the states, the kernels and bias, the mask, then
  # time_major, go_backwards, return_sequences.
  given_states, (kernel, recurrent_kernel, bias, given_mask) = (
      args[:states], args[states:states + 4])
  for state in given_states:
    np.testing.assert_array_equal(state, np.zeros((BATCH, UNITS)))
  np.testing.assert_array_equal(kernel, layer.kernel.numpy())
  np.testing.assert_array_equal(recurrent_kernel,
                                layer.recurrent_kernel.numpy())
  np.testing.assert_array_equal(bias, layer.bias.numpy())
  np.testing.assert_array_equal(given_mask, mask)
  assert args[states + 4:] == (False, True, True)
  # What Keras' cuDNN path returned, where Keras' layer puts it.
  np.testing.assert_array_equal(output, np.full((BATCH, TIME, UNITS), 2.0))
  assert len(final) == states
  for i, state in enumerate(final):
    np.testing.assert_array_equal(state, np.full((BATCH, UNITS), 3.0 + i))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_stateful_layer_keeps_the_cudnn_states(gpu_seen, sequences, name):
  layer_class, _, states = LAYERS[name]
  layer = layer_class(UNITS, stateful=True)
  output = layer(sequences)
  np.testing.assert_array_equal(output, np.full((BATCH, UNITS), 1.0))
  for i, state in enumerate(layer.states[:states]):
    np.testing.assert_array_equal(state, np.full((BATCH, UNITS), 3.0 + i))
  assert len(gpu_seen) == 1


@pytest.fixture
def gpu_kernels_loaded(monkeypatch):
  """tf_approx's GPU kernels are registered (as `gpu_status()` would say on
  a GPU machine)."""
  status = tf_approx.gpu_status()
  loaded = dataclasses.replace(status, built=True, loaded=True, reason=None)
  monkeypatch.setattr(recurrent_ops, "gpu_status", lambda: loaded)


def test_this_machine_has_no_gpu_kernels_loaded():
  assert not tf_approx.gpu_status().loaded
  assert not recurrent_ops.twin_on_gpu()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_approximations_run_the_fused_op_on_a_gpu(gpu_seen,
                                                  gpu_kernels_loaded,
                                                  sequences, name):
  layer_class, _, _ = LAYERS[name]
  layer = layer_class(UNITS, activation="tanh_pade_4_4",
                      recurrent_activation="sigm_fastexp_512",
                      return_sequences=True)
  layer(sequences)
  assert not gpu_seen
  ops = _op_types(layer, sequences)
  assert f"TfApprox>{name.capitalize()}" in ops
  assert "While" not in ops and "StatelessWhile" not in ops


def test_gru_without_reset_after_runs_the_fused_op_on_a_gpu(
    gpu_seen, gpu_kernels_loaded, sequences):
  layer = tf_approx.layers.GRU(UNITS, reset_after=False)
  layer(sequences)
  assert not gpu_seen
  assert "TfApprox>Gru" in _op_types(layer, sequences)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_approximations_run_the_twin_on_a_gpu_without_tf_approx_kernels(
    gpu_seen, sequences, name, monkeypatch):
  layer_class, _, _ = LAYERS[name]
  layer = layer_class(UNITS, activation="tanh_pade_4_4",
                      recurrent_activation="sigm_fastexp_512",
                      return_sequences=True)
  on_gpu = layer(sequences)
  assert not gpu_seen
  ops = _op_types(layer, sequences)
  assert f"TfApprox>{name.capitalize()}" not in ops
  assert "While" in ops or "StatelessWhile" in ops
  # The same function as the fused op computes where no GPU is seen.
  monkeypatch.setattr(recurrent_ops, "gpu_visible", lambda: False)
  assert f"TfApprox>{name.capitalize()}" in _op_types(layer, sequences)
  np.testing.assert_allclose(on_gpu, layer(sequences), rtol=1e-5, atol=1e-6)


def test_gru_without_reset_after_runs_the_twin_on_a_gpu_without_kernels(
    gpu_seen, sequences):
  layer = tf_approx.layers.GRU(UNITS, reset_after=False)
  layer(sequences)
  assert not gpu_seen
  assert "TfApprox>Gru" not in _op_types(layer, sequences)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_use_cudnn_false_never_hands_off(gpu_seen, sequences, name):
  layer_class, _, _ = LAYERS[name]
  layer_class(UNITS, use_cudnn=False)(sequences)
  assert not gpu_seen


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_use_cudnn_true_raises_where_cudnn_cannot_run(sequences, name):
  layer_class, _, _ = LAYERS[name]
  # No GPU here: as Keras' layer, a clear error rather than another path.
  with pytest.raises(ValueError, match="use_cudnn=True"):
    layer_class(UNITS, use_cudnn=True)(sequences)
  keras_layer = getattr(keras.layers, name)(UNITS, use_cudnn=True)
  with pytest.raises(ValueError, match="use_cudnn=True"):
    keras_layer(sequences)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_use_cudnn_true_with_approximations_raises(gpu_seen, sequences, name):
  layer_class, _, _ = LAYERS[name]
  layer = layer_class(UNITS, activation="tanh_pade_4_4", use_cudnn=True)
  with pytest.raises(ValueError, match="recurrent_activation='sigmoid'"):
    layer(sequences)
  assert not gpu_seen
