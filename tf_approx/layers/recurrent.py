"""Fused LSTM and GRU layers, drop-in for `keras.layers.LSTM` and `GRU`.

    tf_approx.layers.LSTM(128, return_sequences=True)            # exact gates
    tf_approx.layers.LSTM(128, activation="tanh_pade_4_4",
                          recurrent_activation="sigm_fastexp_512")
    keras.layers.Bidirectional(tf_approx.layers.LSTM(64))
    tf_approx.layers.GRU(128, activation="tanh_pade_4_4")

The input projection x_t W + b of all steps is one matmul; the recurrence runs
in one op (`tf_approx.ops.recurrent.lstm` / `gru`) instead of a dozen small
ops per step. See docs/recurrent.md.
"""

import importlib

import keras
import tensorflow as tf

from tf_approx import activations as tf_approx_activations
from tf_approx._validation import check_number
from tf_approx._validation import check_positive_int
from tf_approx.ops.recurrent import gru
from tf_approx.ops.recurrent import lstm
from tf_approx.ops.recurrent import resolve_activation

_USE_CUDNN = ("auto", True, False)
_LEFT_PADDING = (
    "tf_approx.layers.{0} supports right-padded masks only (every example's "
    "True steps first, then its False steps); this mask has a False step "
    "before a True one (left padding, or a gap), which is unsupported: pad "
    "on the right, or use keras.layers.{0}")


def _activation(value, arg, layer):
  """(what get_config stores, what the op takes) for an activation argument:
  a name, a config dict of a tf_approx activation, or that activation."""
  if isinstance(value, dict):
    value = keras.saving.deserialize_keras_object(value)
  if isinstance(value, tf_approx_activations.Approximation):
    if value.get_config() == {"name": value.name}:  # a built-in name
      return value.name, value.spec
    return keras.saving.serialize_keras_object(value), value.spec
  if value in (keras.activations.tanh, keras.activations.sigmoid):
    value = value.__name__
  if not isinstance(value, str):
    raise TypeError(
        f"`{arg}` must be 'tanh', 'sigmoid' or a tf_approx activation name "
        f"(or tf_approx.activations.get(name)), got {type(value).__name__} "
        f"{value!r}; for other functions use keras.layers.{layer}")
  return value, resolve_activation(value, arg)


class _FusedRNN(keras.layers.Layer):
  """What the fused recurrent layers share: Keras' RNN arguments, the input
  projection of all steps as one matmul, masks as lengths, stateful states,
  the outputs Keras' RNN returns, and the config.

  A subclass sets NAME (its Keras twin's name), GATES and STATES (the gate
  blocks of the kernels, the state tensors), and implements `_build_bias`,
  `_input_bias`, `_recurrence`, `_cudnn_supported` and `_cudnn_call`.
  """

  NAME = GATES = STATES = None
  # What else cuDNN needs of the layer's arguments, for error messages.
  _CUDNN_NEEDS = " and use_bias=True"

  def __init__(self, units, activation, recurrent_activation, use_bias,
               kernel_initializer, recurrent_initializer, bias_initializer,
               kernel_regularizer, recurrent_regularizer, bias_regularizer,
               activity_regularizer, kernel_constraint, recurrent_constraint,
               bias_constraint, dropout, recurrent_dropout, seed,
               return_sequences, return_state, go_backwards, stateful, unroll,
               zero_output_for_mask, use_cudnn, **kwargs):
    super().__init__(activity_regularizer=activity_regularizer, **kwargs)
    self.units = check_positive_int(units, "units")
    self._activation_config, self._activation = _activation(
        activation, "activation", self.NAME)
    self._recurrent_activation_config, self._recurrent_activation = (
        _activation(recurrent_activation, "recurrent_activation", self.NAME))
    recurrent_dropout = check_number(recurrent_dropout, "recurrent_dropout")
    if recurrent_dropout != 0:
      raise ValueError(
          "`recurrent_dropout` is not supported by "
          f"tf_approx.layers.{self.NAME} (the fused op has no dropout inside "
          f"the recurrence), got {recurrent_dropout}; use `dropout` (on the "
          f"inputs) or keras.layers.{self.NAME}")
    self.dropout = check_number(dropout, "dropout", low=0.0, high=1.0)
    self.recurrent_dropout = 0.0
    if use_cudnn not in _USE_CUDNN:
      raise ValueError(f"`use_cudnn` must be one of {_USE_CUDNN}, got "
                       f"{use_cudnn!r}")
    self.use_cudnn = use_cudnn
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)
    self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
    self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
    self.bias_regularizer = keras.regularizers.get(bias_regularizer)
    self.kernel_constraint = keras.constraints.get(kernel_constraint)
    self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
    self.bias_constraint = keras.constraints.get(bias_constraint)
    self.seed = seed
    self.seed_generator = keras.random.SeedGenerator(seed=seed)
    self.return_sequences = bool(return_sequences)
    self.return_state = bool(return_state)
    self.go_backwards = bool(go_backwards)
    self.stateful = bool(stateful)
    self.unroll = bool(unroll)
    self.zero_output_for_mask = bool(zero_output_for_mask)
    self.supports_masking = True
    self.state_size = (self.units if self.STATES == 1 else
                       [self.units] * self.STATES)
    self.states = None
    # XLA cannot compile the native op: under jit_compile the op wrapper
    # switches to the composite twin.
    self.supports_jit = False

  @property
  def activation(self):
    return self._activation_config

  @property
  def recurrent_activation(self):
    return self._recurrent_activation_config

  def build(self, sequences_shape, initial_state_shape=None):
    if len(sequences_shape) != 3 or sequences_shape[-1] is None:
      raise ValueError(
          f"tf_approx.layers.{self.NAME} takes [batch, time, features] "
          f"inputs with known features, got shape {sequences_shape}")
    input_dim = sequences_shape[-1]
    self.kernel = self.add_weight(
        shape=(input_dim, self.GATES * self.units), name="kernel",
        initializer=self.kernel_initializer,
        regularizer=self.kernel_regularizer,
        constraint=self.kernel_constraint)
    self.recurrent_kernel = self.add_weight(
        shape=(self.units, self.GATES * self.units), name="recurrent_kernel",
        initializer=self.recurrent_initializer,
        regularizer=self.recurrent_regularizer,
        constraint=self.recurrent_constraint)
    self.bias = self._build_bias() if self.use_bias else None
    if self.stateful:
      if sequences_shape[0] is None:
        raise ValueError(
            f"When using `stateful=True` in tf_approx.layers.{self.NAME}, "
            f"the batch size must be static, got inputs of shape "
            f"{sequences_shape}")
      if self.states is None:
        self._create_states(sequences_shape[0])
      else:
        self.reset_state()

  def _build_bias(self):
    """The bias weight (with use_bias)."""
    raise NotImplementedError

  def _input_bias(self):
    """The bias added to x W (with use_bias), a [GATES units] tensor."""
    raise NotImplementedError

  def _recurrence(self, x, states, lengths, dtype):
    """(outputs, [final states]) of the op on x = x W + b [time, batch,
    GATES units] from `states`, in `dtype`."""
    raise NotImplementedError

  def _create_states(self, batch_size):
    # As Keras' RNN: the kept state is not a weight (get_weights and
    # set_weights exchange the same arrays as Keras' layer).
    with keras.name_scope(self.name, caller=self):
      states = [keras.Variable(
          tf.zeros((batch_size, self.units)), trainable=False,
          dtype=self.variable_dtype, name="rnn_state")
                for _ in range(self.STATES)]
    object.__setattr__(self, "states", states)

  def reset_state(self):
    """Zeroes the kept state of a stateful layer."""
    if self.states is not None:
      for state in self.states:
        state.assign(tf.zeros_like(state))

  def reset_states(self):
    """Alias of `reset_state`, as Keras' RNN has it."""
    self.reset_state()

  def get_initial_state(self, batch_size):
    return [tf.zeros((batch_size, self.units), dtype=self.compute_dtype)
            for _ in range(self.STATES)]

  def _lengths(self, mask, time):
    """Per-example lengths of a right-padded mask [batch, time], after an
    assertion that it is right-padded."""
    mask = tf.cast(mask, tf.bool)
    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    assertion = tf.debugging.Assert(
        tf.reduce_all(tf.equal(mask, tf.sequence_mask(lengths, time))),
        [_LEFT_PADDING.format(self.NAME)])
    with tf.control_dependencies([assertion]):
      return tf.identity(lengths), mask

  def _initial_state(self, initial_state, batch):
    names = "[h, c]" if self.STATES == 2 else "[h]"
    if initial_state is None:
      return (self.states if self.stateful else
              self.get_initial_state(batch))
    if not isinstance(initial_state, (list, tuple)):
      if self.STATES != 1:
        raise ValueError(f"`initial_state` must be a list {names}, got "
                         f"{initial_state!r}")
      initial_state = [initial_state]
    if len(initial_state) != self.STATES:
      raise ValueError(
          f"`initial_state` must be a list {names} of {self.STATES} "
          f"tensor{'s' if self.STATES > 1 else ''}, got {len(initial_state)}")
    return initial_state

  def call(self, sequences, initial_state=None, mask=None, training=False):
    if isinstance(mask, (list, tuple)):
      mask = mask[0]
    dtype = tf.as_dtype(self.compute_dtype)
    # The op computes in float32 or float64; half types go through float32.
    op_dtype = dtype if dtype in (tf.float32, tf.float64) else tf.float32
    sequences = tf.cast(sequences, op_dtype)
    shape = tf.shape(sequences)
    batch, time = shape[0], shape[1]
    initial_state = self._initial_state(initial_state, batch)
    if self.stateful and sequences.shape[0] is not None and (
        self.states is not None and
        sequences.shape[0] != self.states[0].shape[0]):
      raise ValueError(
          "If an RNN is stateful, the batch size of the input sequences must "
          "be the same as the batch size of the initial state. Expected "
          f"batch size: {self.states[0].shape[0]}, got "
          f"{sequences.shape[0]}")
    states = [tf.cast(tf.convert_to_tensor(s), op_dtype)
              for s in initial_state]
    if training and 0.0 < self.dropout < 1.0:
      keep = keras.random.dropout(tf.ones_like(sequences[:, 0, :]),
                                  self.dropout, seed=self.seed_generator)
      sequences = sequences * keep[:, tf.newaxis, :]
    cudnn = self._cudnn(sequences, states, mask, op_dtype)
    if cudnn is not None:
      last_output, outputs, states = cudnn
      return self._finish(outputs if self.return_sequences else last_output,
                          states, dtype)
    kernel = tf.cast(self.kernel, op_dtype)
    # Time-major before the matmul: the inputs are narrower than the gates.
    x = tf.transpose(sequences, [1, 0, 2])
    z = tf.reshape(
        tf.matmul(tf.reshape(x, [-1, kernel.shape[0]]), kernel),
        tf.stack([time, batch, self.GATES * self.units]))
    if self.use_bias:
      z = z + tf.cast(self._input_bias(), op_dtype)
    lengths = None
    if mask is not None:
      lengths, mask = self._lengths(mask, time)
    outputs, states = self._recurrence(z, states, lengths, op_dtype)
    if mask is not None:
      # Keras outputs, at a masked step, the output of the step processed
      # before it, zeros if there is none: after the last valid step (going
      # forwards) the carried h, before the first (backwards) zeros.
      if self.go_backwards or self.zero_output_for_mask:
        keep = tf.transpose(mask)
      else:
        keep = tf.broadcast_to(lengths > 0, tf.shape(outputs)[:2])
      outputs = tf.where(keep[:, :, tf.newaxis], outputs,
                         tf.zeros_like(outputs))
    if self.go_backwards:
      outputs = tf.reverse(outputs, [0])
    if self.return_sequences:
      output = tf.transpose(outputs, [1, 0, 2])
    elif mask is None:
      output = states[0]
    else:
      output = outputs[-1]
    return self._finish(output, states, dtype)

  def _finish(self, output, states, dtype):
    """Keeps a stateful layer's states; the layer's outputs in `dtype`."""
    if self.stateful:
      for state, value in zip(self.states, states):
        state.assign(tf.cast(value, state.dtype))
    output, *states = (tf.cast(t, dtype) for t in (output, *states))
    if self.return_state:
      return [output, *states]
    return output

  def _cudnn(self, sequences, states, mask, dtype):
    """Keras' cuDNN path, where Keras' layer would take it.

    With the exact tanh and sigmoid, `use_cudnn` 'auto' or True and the
    layer's other arguments within cuDNN's (`_cudnn_supported`), the layer
    runs what `keras.layers.LSTM` / `GRU` runs on a GPU: Keras' TensorFlow
    backend's cuDNN function, which raises NotImplementedError where no GPU
    is visible. Then, and for approximated functions, the fused op runs.

    Returns:
      (last output, outputs as Keras returns them, states), or None where
      the fused op is to run.

    Raises:
      ValueError: `use_cudnn=True` and cuDNN cannot run this layer (as
        Keras' layers raise).
    """
    if self.use_cudnn is False:
      return None
    exact = (self._activation == "tanh" and
             self._recurrent_activation == "sigmoid")
    if exact and self._cudnn_supported():
      try:
        # The module: the package's own `rnn` is a function of it.
        rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
        return self._cudnn_call(rnn, sequences, states, mask, dtype)
      except (ImportError, NotImplementedError):
        pass
    if self.use_cudnn is True:
      raise ValueError(
          "use_cudnn=True was specified, but cuDNN cannot run this "
          f"tf_approx.layers.{self.NAME}: it needs a visible GPU, "
          "activation='tanh', recurrent_activation='sigmoid'"
          f"{self._CUDNN_NEEDS}. Pass use_cudnn='auto' to run the fused op "
          "where cuDNN cannot")
    return None

  def compute_output_shape(self, sequences_shape, initial_state_shape=None):
    batch, time = sequences_shape[0], sequences_shape[1]
    if self.return_sequences:
      output = (batch, time, self.units)
    else:
      output = (batch, self.units)
    if self.return_state:
      return (output, *[(batch, self.units)] * self.STATES)
    return output

  def compute_mask(self, _, mask):
    if isinstance(mask, (list, tuple)):
      mask = mask[0]
    output_mask = mask if self.return_sequences else None
    if self.return_state:
      return [output_mask] + [None] * self.STATES
    return output_mask

  def get_config(self):
    config = super().get_config()
    config.update(
        units=self.units, activation=self._activation_config,
        recurrent_activation=self._recurrent_activation_config,
        use_bias=self.use_bias,
        kernel_initializer=keras.initializers.serialize(
            self.kernel_initializer),
        recurrent_initializer=keras.initializers.serialize(
            self.recurrent_initializer),
        bias_initializer=keras.initializers.serialize(self.bias_initializer),
        kernel_regularizer=keras.regularizers.serialize(
            self.kernel_regularizer),
        recurrent_regularizer=keras.regularizers.serialize(
            self.recurrent_regularizer),
        bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
        activity_regularizer=keras.regularizers.serialize(
            self.activity_regularizer),
        kernel_constraint=keras.constraints.serialize(self.kernel_constraint),
        recurrent_constraint=keras.constraints.serialize(
            self.recurrent_constraint),
        bias_constraint=keras.constraints.serialize(self.bias_constraint),
        dropout=self.dropout, recurrent_dropout=self.recurrent_dropout,
        seed=self.seed, return_sequences=self.return_sequences,
        return_state=self.return_state, go_backwards=self.go_backwards,
        stateful=self.stateful, unroll=self.unroll,
        zero_output_for_mask=self.zero_output_for_mask,
        use_cudnn=self.use_cudnn)
    return config


@keras.saving.register_keras_serializable(package="tf_approx")
class LSTM(_FusedRNN):
  """Long Short-Term Memory layer (Hochreiter and Schmidhuber, 1997), fused.

  Computes what `keras.layers.LSTM` computes, with the same weights (kernel
  [input_dim, 4 units], recurrent_kernel [units, 4 units], bias [4 units],
  gates in the order i, f, c, o), so `set_weights(keras_lstm.get_weights())`
  reproduces a Keras layer's outputs. Per step t:

      z = x_t W + b + h W_h
      i = ra(z_i), f = ra(z_f), g = a(z_c), o = ra(z_o)
      c = f c + i g,  h = o a(c)

  with a = `activation`, ra = `recurrent_activation`. x W + b of all steps is
  one matmul; the recurrence is one op, `tf_approx.ops.recurrent.lstm`
  (its composite twin under XLA or `TF_APPROX_PY_OPS=1`).

  On a GPU: with the exact tanh and sigmoid the layer runs Keras' cuDNN
  path (see `use_cudnn`); with approximations it runs the fused op's CUDA
  kernels (not yet measured on a GPU), or where tf_approx's GPU kernels did
  not load (`tf_approx.gpu_status()`) the op's composite twin, a loop of
  TensorFlow ops per step as Keras' LSTM runs for functions cuDNN does not
  have.

  Args:
    units: the dimension of h and c, a positive int.
    activation: a: 'tanh' (exact, the default) or any tf_approx activation
      name (`tf_approx.activations.names()`, e.g. 'tanh_pade_4_4').
    recurrent_activation: ra: 'sigmoid' (exact, the default) or any
      tf_approx activation name (e.g. 'sigm_fastexp_512').
    use_bias: whether the layer has the bias b.
    kernel_initializer, recurrent_initializer, bias_initializer: Keras
      initializers of W, W_h and b (defaults 'glorot_uniform', 'orthogonal',
      'zeros', as Keras').
    unit_forget_bias: add 1 to the forget gate's bias at initialization
      (and use zeros for the rest of b as Keras does).
    kernel_regularizer, recurrent_regularizer, bias_regularizer,
    activity_regularizer: Keras regularizers.
    kernel_constraint, recurrent_constraint, bias_constraint: Keras
      constraints.
    dropout: the fraction of input features dropped in training, in [0, 1];
      one mask per example for all its steps, as Keras'.
    recurrent_dropout: must be 0: dropping parts of h inside the recurrence
      is not supported by the fused op (ValueError otherwise; use
      keras.layers.LSTM).
    seed: the seed of the dropout masks.
    return_sequences: return the outputs of every step [batch, time, units]
      rather than the last one [batch, units].
    return_state: also return the final h and c.
    go_backwards: process the sequence backwards and return the reversed
      sequence, as Keras.
    stateful: keep the final state of each batch as the initial state of
      the next (the batch size must be static); `reset_state()` zeroes it.
    unroll: accepted for compatibility and ignored: the fused op has no
      per-step graph to unroll.
    zero_output_for_mask: masked steps output zeros rather than the last
      output (Keras' RNN argument; `Bidirectional` sets it).
    use_cudnn: 'auto' (default): where TensorFlow sees a GPU and the
      functions are the exact tanh and sigmoid (and use_bias is True), run
      Keras' cuDNN path, as keras.layers.LSTM does; True: the same, and
      ValueError where cuDNN cannot run the layer; False: never.

  Call arguments:
    sequences: [batch, time, input_dim] float.
    initial_state: [h0, c0], each [batch, units] (default zeros, or the kept
      state of a stateful layer).
    mask: [batch, time] bool, e.g. from `Masking` or
      `Embedding(mask_zero=True)`. Only right-padded masks are supported:
      a mask with a False step before a True one raises InvalidArgumentError
      when run (not under XLA, which drops assertions: there such a mask
      is read as its count of True steps). Masked steps carry h and c;
      their outputs are the last output before them (zeros where there is
      none, or with `zero_output_for_mask`), as in Keras' LSTM on the CPU.
    training: whether dropout applies.

  Output: [batch, time, units] with return_sequences, else [batch, units];
  with return_state, [output, h, c].

  ```python
  keras_lstm = keras.layers.LSTM(8, return_sequences=True)
  ours = tf_approx.layers.LSTM(8, return_sequences=True)
  x = np.random.rand(3, 5, 4).astype("float32")
  keras_lstm(x), ours(x)
  ours.set_weights(keras_lstm.get_weights())   # same outputs as keras_lstm
  ```
  """

  NAME, GATES, STATES = "LSTM", 4, 2

  def __init__(self, units, activation="tanh",
               recurrent_activation="sigmoid", use_bias=True,
               kernel_initializer="glorot_uniform",
               recurrent_initializer="orthogonal", bias_initializer="zeros",
               unit_forget_bias=True, kernel_regularizer=None,
               recurrent_regularizer=None, bias_regularizer=None,
               activity_regularizer=None, kernel_constraint=None,
               recurrent_constraint=None, bias_constraint=None, dropout=0.0,
               recurrent_dropout=0.0, seed=None, return_sequences=False,
               return_state=False, go_backwards=False, stateful=False,
               unroll=False, zero_output_for_mask=False, use_cudnn="auto",
               **kwargs):
    super().__init__(
        units, activation, recurrent_activation, use_bias,
        kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        activity_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint, dropout, recurrent_dropout, seed, return_sequences,
        return_state, go_backwards, stateful, unroll, zero_output_for_mask,
        use_cudnn, **kwargs)
    self.unit_forget_bias = bool(unit_forget_bias)

  def _build_bias(self):
    bias_initializer = self.bias_initializer
    if self.unit_forget_bias:
      units, init = self.units, self.bias_initializer

      def bias_initializer(_, *args, **kwargs):  # pylint: disable=function-redefined
        return keras.ops.concatenate([
            init((units,), *args, **kwargs),
            keras.initializers.get("ones")((units,), *args, **kwargs),
            init((2 * units,), *args, **kwargs)])

    return self.add_weight(
        shape=(4 * self.units,), name="bias", initializer=bias_initializer,
        regularizer=self.bias_regularizer, constraint=self.bias_constraint)

  def _input_bias(self):
    return self.bias

  def _cudnn_supported(self):
    return self.use_bias

  def _cudnn_call(self, rnn, sequences, states, mask, dtype):
    return rnn.lstm(
        sequences, *states, mask, kernel=tf.cast(self.kernel, dtype),
        recurrent_kernel=tf.cast(self.recurrent_kernel, dtype),
        bias=tf.cast(self.bias, dtype), activation=keras.activations.tanh,
        recurrent_activation=keras.activations.sigmoid,
        return_sequences=self.return_sequences,
        go_backwards=self.go_backwards)

  def _recurrence(self, x, states, lengths, dtype):
    outputs, h, c = lstm(
        x, tf.cast(self.recurrent_kernel, dtype), *states, lengths,
        activation=self._activation,
        recurrent_activation=self._recurrent_activation,
        reverse=self.go_backwards)
    return outputs, [h, c]

  def get_config(self):
    config = super().get_config()
    config.update(unit_forget_bias=self.unit_forget_bias)
    return config


@keras.saving.register_keras_serializable(package="tf_approx")
class GRU(_FusedRNN):
  """Gated Recurrent Unit layer (Cho et al., 2014), fused.

  Computes what `keras.layers.GRU` computes, with the same weights (kernel
  [input_dim, 3 units], recurrent_kernel [units, 3 units], bias [2, 3 units]
  with reset_after, else [3 units]; gates in the order z, r, h), so
  `set_weights(keras_gru.get_weights())` reproduces a Keras layer's outputs.
  Per step t, with x = x_t W + b (b = bias[0] with reset_after) and W_z,
  W_r, W_hh the column blocks of W_h; with `reset_after` (the default):

      m = h W_h + rb                        (rb = bias[1])
      z = ra(x_z + m_z),  r = ra(x_r + m_r),  hh = a(x_h + r * m_h)

  and with reset_after=False:

      z = ra(x_z + h W_z),  r = ra(x_r + h W_r),  hh = a(x_h + (r * h) W_hh)

  then h = z * h + (1 - z) * hh, with a = `activation`, ra =
  `recurrent_activation`. x W + b of all steps is one matmul; the
  recurrence is one op, `tf_approx.ops.recurrent.gru` (its composite twin
  under XLA or `TF_APPROX_PY_OPS=1`).

  On a GPU: with the exact tanh and sigmoid (and reset_after) the layer runs
  Keras' cuDNN path (see `use_cudnn`); otherwise it runs the fused op's CUDA
  kernels (not yet measured on a GPU), or where tf_approx's GPU kernels did
  not load (`tf_approx.gpu_status()`) the op's composite twin, a loop of
  TensorFlow ops per step as Keras' GRU runs for what cuDNN does not have.

  Args:
    units: the dimension of h, a positive int.
    activation: a: 'tanh' (exact, the default) or any tf_approx activation
      name (`tf_approx.activations.names()`, e.g. 'tanh_pade_4_4').
    recurrent_activation: ra: 'sigmoid' (exact, the default) or any
      tf_approx activation name (e.g. 'sigm_fastexp_512').
    use_bias: whether the layer has the biases.
    kernel_initializer, recurrent_initializer, bias_initializer: Keras
      initializers of W, W_h and the bias (defaults 'glorot_uniform',
      'orthogonal', 'zeros', as Keras').
    kernel_regularizer, recurrent_regularizer, bias_regularizer,
    activity_regularizer: Keras regularizers.
    kernel_constraint, recurrent_constraint, bias_constraint: Keras
      constraints.
    dropout: the fraction of input features dropped in training, in [0, 1];
      one mask per example for all its steps, as Keras'.
    recurrent_dropout: must be 0: dropping parts of h inside the recurrence
      is not supported by the fused op (ValueError otherwise; use
      keras.layers.GRU).
    seed: the seed of the dropout masks.
    return_sequences: return the outputs of every step [batch, time, units]
      rather than the last one [batch, units].
    return_state: also return the final h.
    go_backwards: process the sequence backwards and return the reversed
      sequence, as Keras.
    stateful: keep the final state of each batch as the initial state of
      the next (the batch size must be static); `reset_state()` zeroes it.
    unroll: accepted for compatibility and ignored: the fused op has no
      per-step graph to unroll.
    reset_after: apply the reset gate after the recurrent product (True,
      Keras' default and cuDNN's layout, with a second, recurrent bias) or
      to h before it (False).
    zero_output_for_mask: masked steps output zeros rather than the last
      output (Keras' RNN argument; `Bidirectional` sets it).
    use_cudnn: 'auto' (default): where TensorFlow sees a GPU and the
      functions are the exact tanh and sigmoid (and use_bias and reset_after
      are True), run Keras' cuDNN path, as keras.layers.GRU does; True: the
      same, and ValueError where cuDNN cannot run the layer; False: never.

  Call arguments:
    sequences: [batch, time, input_dim] float.
    initial_state: h0 [batch, units], or the list [h0] (default zeros, or
      the kept state of a stateful layer).
    mask: [batch, time] bool, e.g. from `Masking` or
      `Embedding(mask_zero=True)`. Only right-padded masks are supported:
      a mask with a False step before a True one raises InvalidArgumentError
      when run (not under XLA, which drops assertions: there such a mask
      is read as its count of True steps). Masked steps carry h; their
      outputs are the last output before them (zeros where there is none,
      or with `zero_output_for_mask`), as in Keras' GRU on the CPU.
    training: whether dropout applies.

  Output: [batch, time, units] with return_sequences, else [batch, units];
  with return_state, [output, h].

  ```python
  keras_gru = keras.layers.GRU(8, return_sequences=True)
  ours = tf_approx.layers.GRU(8, return_sequences=True)
  x = np.random.rand(3, 5, 4).astype("float32")
  keras_gru(x), ours(x)
  ours.set_weights(keras_gru.get_weights())     # same outputs as keras_gru
  ```
  """

  NAME, GATES, STATES = "GRU", 3, 1

  def __init__(self, units, activation="tanh",
               recurrent_activation="sigmoid", use_bias=True,
               kernel_initializer="glorot_uniform",
               recurrent_initializer="orthogonal", bias_initializer="zeros",
               kernel_regularizer=None, recurrent_regularizer=None,
               bias_regularizer=None, activity_regularizer=None,
               kernel_constraint=None, recurrent_constraint=None,
               bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
               seed=None, return_sequences=False, return_state=False,
               go_backwards=False, stateful=False, unroll=False,
               reset_after=True, zero_output_for_mask=False,
               use_cudnn="auto", **kwargs):
    super().__init__(
        units, activation, recurrent_activation, use_bias,
        kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        activity_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint, dropout, recurrent_dropout, seed, return_sequences,
        return_state, go_backwards, stateful, unroll, zero_output_for_mask,
        use_cudnn, **kwargs)
    self.reset_after = bool(reset_after)

  def _build_bias(self):
    # Keras' shapes: [2, 3 units] (input and recurrent bias) with
    # reset_after, else one [3 units] input bias.
    shape = ((2, 3 * self.units) if self.reset_after else (3 * self.units,))
    return self.add_weight(
        shape=shape, name="bias", initializer=self.bias_initializer,
        regularizer=self.bias_regularizer, constraint=self.bias_constraint)

  def _input_bias(self):
    return self.bias[0] if self.reset_after else self.bias

  _CUDNN_NEEDS = ", use_bias=True and reset_after=True"

  def _cudnn_supported(self):
    return self.use_bias and self.reset_after

  def _cudnn_call(self, rnn, sequences, states, mask, dtype):
    return rnn.gru(
        sequences, states[0], mask, kernel=tf.cast(self.kernel, dtype),
        recurrent_kernel=tf.cast(self.recurrent_kernel, dtype),
        bias=tf.cast(self.bias, dtype), activation=keras.activations.tanh,
        recurrent_activation=keras.activations.sigmoid,
        return_sequences=self.return_sequences,
        go_backwards=self.go_backwards, reset_after=True)

  def _recurrence(self, x, states, lengths, dtype):
    if self.use_bias and self.reset_after:
      recurrent_bias = tf.cast(self.bias[1], dtype)
    else:
      recurrent_bias = tf.zeros([3 * self.units], dtype)
    outputs, h = gru(
        x, tf.cast(self.recurrent_kernel, dtype), recurrent_bias, *states,
        lengths, activation=self._activation,
        recurrent_activation=self._recurrent_activation,
        reset_after=self.reset_after, reverse=self.go_backwards)
    return outputs, [h]

  def get_config(self):
    config = super().get_config()
    config.update(reset_after=self.reset_after)
    return config
