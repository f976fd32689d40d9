"""The LSTM and GRU recurrences composed from plain TensorFlow ops.

The twins of the native `TfApprox>Lstm` and `TfApprox>Gru` ops: the oracles
the tests compare them with, and what runs under XLA (which cannot compile
custom ops) or with `TF_APPROX_PY_OPS=1`. One `tf.while_loop` over the
(dynamic) time axis; the gradient is TensorFlow's autodiff through the loop.
The input projection x_t W + b of every step is computed before, by the
caller, as one matmul.
"""

import tensorflow as tf

from tf_approx.reference import activations as reference_activations

EXACT = {"tanh": tf.tanh, "sigmoid": tf.sigmoid}


def gate_function(activation):
  """The function a gate applies: tf.tanh / tf.sigmoid for 'tanh' /
  'sigmoid', else the twin of the approximation `activation` (an
  `ActivationSpec` or a tf_approx activation name)."""
  if isinstance(activation, str) and activation in EXACT:
    return EXACT[activation]
  if isinstance(activation, str):
    # Imported here: tf_approx.activations imports the op wrappers.
    from tf_approx import activations  # pylint: disable=g-import-not-at-top
    activation = activations.spec(activation)
  return lambda x: reference_activations.activation(x, activation)


def lstm(x, recurrent_kernel, h0, c0, lengths=None, *, activation="tanh",
         recurrent_activation="sigmoid", reverse=False):
  """An LSTM over a whole sequence, from its input projection.

  Per step t (t = 0 .. time-1, or time-1 .. 0 with `reverse`):
  z = x[t] + h W_h, split into gates (i, f, c, o) as in Keras;
  i = ra(z_i), f = ra(z_f), g = a(z_c), o = ra(z_o); c = f c + i g;
  h = o a(c). Steps t >= lengths[b] are masked: h and c of example b are
  carried unchanged and outputs[t, b] is the carried h.

  Args:
    x: [time, batch, 4 units] float32 or float64, x_t W + b of every step.
    recurrent_kernel: [units, 4 units], W_h in Keras' layout.
    h0, c0: [batch, units], the initial state.
    lengths: int32 [batch], the steps of each example, or None (all `time`).
    activation: a: 'tanh', or a tf_approx name or `ActivationSpec`.
    recurrent_activation: ra: 'sigmoid', or a tf_approx name or
      `ActivationSpec`.
    reverse: run t from time-1 down to 0 (outputs stay at their index t).

  Returns:
    (outputs [time, batch, units], h [batch, units], c [batch, units]).
  """
  a = gate_function(activation)
  ra = gate_function(recurrent_activation)

  def cell(x_t, h, c):
    z = x_t + tf.matmul(h, recurrent_kernel)
    z_i, z_f, z_c, z_o = tf.split(z, 4, axis=1)
    c = ra(z_f) * c + ra(z_i) * a(z_c)
    return ra(z_o) * a(c), c

  outputs, (h, c) = _recurrence(cell, x, (h0, c0), lengths, reverse)
  return outputs, h, c


def gru(x, recurrent_kernel, recurrent_bias, h0, lengths=None, *,
        activation="tanh", recurrent_activation="sigmoid", reset_after=True,
        reverse=False):
  """A GRU over a whole sequence, from its input projection.

  Per step t (t = 0 .. time-1, or time-1 .. 0 with `reverse`), the gates in
  Keras' order z, r, h and W_z, W_r, W_hh the column blocks of
  `recurrent_kernel`: with `reset_after`, m = h W_h + rb, z = ra(x_z + m_z),
  r = ra(x_r + m_r), hh = a(x_h + r * m_h); else z = ra(x_z + (h W_z +
  rb_z)), r = ra(x_r + (h W_r + rb_r)), hh = a(x_h + ((r * h) W_hh + rb_h));
  then h = z * h + (1 - z) * hh. Steps t >= lengths[b] are masked: h of
  example b is carried unchanged and outputs[t, b] is the carried h.

  Args:
    x: [time, batch, 3 units] float32 or float64, x_t W + b of every step.
    recurrent_kernel: [units, 3 units], W_h in Keras' layout.
    recurrent_bias: [3 units], rb.
    h0: [batch, units], the initial state.
    lengths: int32 [batch], the steps of each example, or None (all `time`).
    activation: a: 'tanh', or a tf_approx name or `ActivationSpec`.
    recurrent_activation: ra: 'sigmoid', or a tf_approx name or
      `ActivationSpec`.
    reset_after: the reset gate after (True) or before (False) the
      recurrent product, as Keras' `reset_after`.
    reverse: run t from time-1 down to 0 (outputs stay at their index t).

  Returns:
    (outputs [time, batch, units], h [batch, units]).
  """
  a = gate_function(activation)
  ra = gate_function(recurrent_activation)

  def cell(x_t, h):
    x_z, x_r, x_h = tf.split(x_t, 3, axis=1)
    if reset_after:
      m_z, m_r, m_h = tf.split(
          tf.matmul(h, recurrent_kernel) + recurrent_bias, 3, axis=1)
      z, r = ra(x_z + m_z), ra(x_r + m_r)
      hh = a(x_h + r * m_h)
    else:
      units = tf.shape(recurrent_kernel)[0]
      m_z, m_r = tf.split(
          tf.matmul(h, recurrent_kernel[:, :2 * units]) +
          recurrent_bias[:2 * units], 2, axis=1)
      z, r = ra(x_z + m_z), ra(x_r + m_r)
      hh = a(x_h + (tf.matmul(r * h, recurrent_kernel[:, 2 * units:]) +
                    recurrent_bias[2 * units:]))
    return (z * h + (1 - z) * hh,)

  outputs, (h,) = _recurrence(cell, x, (h0,), lengths, reverse)
  return outputs, h


def _recurrence(cell, x, states, lengths, reverse):
  """Runs `cell(x[t], *states) -> new states` over t in one tf.while_loop.

  Steps t >= lengths[b] carry the states of example b; outputs[t] is the
  first state after step t. Returns (outputs [time, batch, units], the
  final states).
  """
  time = tf.shape(x)[0]
  inputs = tf.TensorArray(x.dtype, size=time, element_shape=x.shape[1:])
  inputs = inputs.unstack(x)
  outputs = tf.TensorArray(x.dtype, size=time, element_shape=states[0].shape)
  if lengths is not None:
    lengths = tf.cast(lengths, tf.int32)

  def step(k, outputs, *states):
    t = time - 1 - k if reverse else k
    new = cell(inputs.read(t), *states)
    if lengths is not None:
      valid = (t < lengths)[:, tf.newaxis]
      new = tuple(tf.where(valid, n, s) for n, s in zip(new, states))
    return (k + 1, outputs.write(t, new[0]), *new)

  _, outputs, *states = tf.while_loop(
      lambda k, *_: k < time, step, (tf.constant(0), outputs, *states),
      maximum_iterations=time)
  outputs = outputs.stack()
  outputs.set_shape(x.shape[:2].concatenate(states[0].shape[1:]))
  return outputs, tuple(states)
