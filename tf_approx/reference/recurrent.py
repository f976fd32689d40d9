"""The LSTM recurrence composed from plain TensorFlow ops.

The twin of the native `TfApprox>Lstm` op: the oracle the tests compare it
with, and what runs under XLA (which cannot compile custom ops) or with
`TF_APPROX_PY_OPS=1`. One `tf.while_loop` over the (dynamic) time axis; the
gradient is TensorFlow's autodiff through the loop. The input projection
x_t W + b of every step is computed before, by the caller, as one matmul.
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
  time = tf.shape(x)[0]
  inputs = tf.TensorArray(x.dtype, size=time, element_shape=x.shape[1:])
  inputs = inputs.unstack(x)
  outputs = tf.TensorArray(x.dtype, size=time, element_shape=h0.shape)
  if lengths is not None:
    lengths = tf.cast(lengths, tf.int32)

  def step(k, h, c, outputs):
    t = time - 1 - k if reverse else k
    z = inputs.read(t) + tf.matmul(h, recurrent_kernel)
    z_i, z_f, z_c, z_o = tf.split(z, 4, axis=1)
    c_new = ra(z_f) * c + ra(z_i) * a(z_c)
    h_new = ra(z_o) * a(c_new)
    if lengths is not None:
      valid = (t < lengths)[:, tf.newaxis]
      h_new = tf.where(valid, h_new, h)
      c_new = tf.where(valid, c_new, c)
    return k + 1, h_new, c_new, outputs.write(t, h_new)

  _, h, c, outputs = tf.while_loop(
      lambda k, *_: k < time, step, (tf.constant(0), h0, c0, outputs),
      maximum_iterations=time)
  outputs = outputs.stack()
  outputs.set_shape(x.shape[:2].concatenate(h0.shape[1:]))
  return outputs, h, c
