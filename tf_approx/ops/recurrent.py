"""Op wrappers for the fused LSTM: the whole recurrence in one op.

`TfApprox>Lstm` runs every time step of an LSTM (Hochreiter and
Schmidhuber, 1997; the gate layout of Keras' `LSTM`) in one op, from the input
projection x_t W + b that the caller computes for all steps as one matmul;
`TfApprox>LstmGrad` is its gradient, from the gates and cells the forward
saved. The gates' tanh and sigmoid are exact or any tf_approx approximation.
Inside an XLA context, or with `TF_APPROX_PY_OPS=1`, the composite twin from
`tf_approx.reference.recurrent` runs instead.
"""

import tensorflow as tf

from tf_approx.ops.activations import ActivationSpec
from tf_approx.ops.activations import ATTR_NAMES
from tf_approx.ops.common import native_library
from tf_approx.ops.common import twin_gradient
from tf_approx.reference import recurrent as reference

EXACT = tuple(reference.EXACT)
DTYPES = (tf.float32, tf.float64)
ACTIVATION_ARGS = ("activation", "recurrent_activation")


def resolve_activation(activation, arg="activation"):
  """'tanh' or 'sigmoid' (exact), else the `ActivationSpec` of `activation`.

  Args:
    activation: 'tanh', 'sigmoid', a tf_approx activation name
      (`tf_approx.activations.names()`) or an `ActivationSpec`.
    arg: the argument's name, for the error.

  Raises:
    ValueError: an unknown name (with close names).
    TypeError: neither a name nor an `ActivationSpec`.
  """
  if isinstance(activation, ActivationSpec):
    return activation
  if not isinstance(activation, str):
    raise TypeError(f"`{arg}` must be 'tanh', 'sigmoid', a tf_approx "
                    "activation name or an ActivationSpec, got "
                    f"{type(activation).__name__} {activation!r}")
  if activation in EXACT:
    return activation
  # Imported here: tf_approx.activations imports the op wrappers.
  from tf_approx import activations  # pylint: disable=g-import-not-at-top
  try:
    return activations.spec(activation)
  except ValueError as e:
    raise ValueError(f"`{arg}`: {e}") from None


def lstm_attrs(activation, recurrent_activation):
  """The op attrs that say which functions the gates apply.

  Every `ActivationSpec` attr, prefixed 'activation_' for `activation` and
  'recurrent_activation_' for `recurrent_activation`; an exact function
  gives only '<prefix>kind', 'tanh' or 'sigmoid'.
  """
  attrs = {}
  for prefix, function in zip(ACTIVATION_ARGS,
                              (activation, recurrent_activation)):
    function = resolve_activation(function, prefix)
    if isinstance(function, str):
      attrs[f"{prefix}_kind"] = function
    else:
      attrs.update({f"{prefix}_{name}": value
                    for name, value in function.attrs().items()})
  return attrs


def activations_of(op):
  """(activation, recurrent_activation) of an `Lstm` op, as `lstm` takes
  them: 'tanh' / 'sigmoid', or the `ActivationSpec`."""
  functions = []
  for prefix in ACTIVATION_ARGS:
    kind = op.get_attr(f"{prefix}_kind")
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind in EXACT:
      functions.append(kind)
    else:
      functions.append(ActivationSpec.from_attrs(
          **{name: op.get_attr(f"{prefix}_{name}") for name in ATTR_NAMES}))
  return tuple(functions)


def _check_rank(tensor, rank, arg, layout):
  if tensor.shape.rank is not None and tensor.shape.rank != rank:
    raise ValueError(f"`{arg}` must have rank {rank} ({layout}), got shape "
                     f"{tensor.shape}")


def _check_dim(tensor, axis, expected, arg, layout, what):
  got = tensor.shape[axis] if tensor.shape.rank is not None else None
  if got is not None and expected is not None and got != expected:
    raise ValueError(f"`{arg}` must be {layout}: its {what} must be "
                     f"{expected}, got shape {tensor.shape}")


def check_arguments(x, recurrent_kernel, h0, c0, lengths):
  """The inputs of `lstm` as tensors, after checking their ranks, static
  shapes and dtypes; `lengths` cast to int32 (None stays None).

  Raises:
    ValueError: a rank or a known dimension that does not fit, naming it.
    TypeError: a dtype other than float32 / float64 (one for all four), or
      non-integer lengths.
  """
  x = tf.convert_to_tensor(x)
  if x.dtype not in DTYPES:
    raise TypeError(f"`x` must be float32 or float64, got {x.dtype.name}")
  tensors = {"x": x}
  for arg, value in (("recurrent_kernel", recurrent_kernel), ("h0", h0),
                     ("c0", c0)):
    # A dtype hint would silently cast a numpy array of another float type.
    value = (tf.convert_to_tensor(value) if hasattr(value, "dtype") else
             tf.convert_to_tensor(value, dtype_hint=x.dtype))
    if value.dtype != x.dtype:
      raise TypeError(f"`{arg}` must have x's dtype {x.dtype.name}, got "
                      f"{value.dtype.name}")
    tensors[arg] = value
  x, recurrent_kernel = tensors["x"], tensors["recurrent_kernel"]
  h0, c0 = tensors["h0"], tensors["c0"]
  _check_rank(x, 3, "x", "[time, batch, 4 units]")
  _check_rank(recurrent_kernel, 2, "recurrent_kernel", "[units, 4 units]")
  units = recurrent_kernel.shape[0]
  if units is not None:
    _check_dim(recurrent_kernel, 1, 4 * units, "recurrent_kernel",
               "[units, 4 units]", "second dimension")
  elif recurrent_kernel.shape[1] is not None:
    if recurrent_kernel.shape[1] % 4:
      raise ValueError("`recurrent_kernel` must be [units, 4 units], got "
                       f"shape {recurrent_kernel.shape}")
    units = recurrent_kernel.shape[1] // 4
  _check_dim(x, 2, None if units is None else 4 * units, "x",
             "[time, batch, 4 units] (units from recurrent_kernel)",
             "last dimension")
  batch = x.shape[1]
  for arg, state in (("h0", h0), ("c0", c0)):
    _check_rank(state, 2, arg, "[batch, units]")
    _check_dim(state, 0, batch, arg, "[batch, units] (batch from x)",
               "first dimension")
    _check_dim(state, 1, units, arg,
               "[batch, units] (units from recurrent_kernel)",
               "second dimension")
    batch = batch if batch is not None else state.shape[0]
  if lengths is not None:
    lengths = tf.convert_to_tensor(lengths)
    if not lengths.dtype.is_integer:
      raise TypeError(f"`lengths` must hold ints, got {lengths.dtype.name}")
    lengths = tf.cast(lengths, tf.int32)
    _check_rank(lengths, 1, "lengths", "[batch]")
    _check_dim(lengths, 0, batch, "lengths", "[batch] (batch from x)",
               "length")
  return x, recurrent_kernel, h0, c0, lengths


def lstm(x, recurrent_kernel, h0, c0, lengths=None, *, activation="tanh",
         recurrent_activation="sigmoid", reverse=False, name=None):
  """Runs an LSTM over a whole sequence from its input projection.

  Per step t (t = 0 .. time-1, or time-1 .. 0 with `reverse`):

      z = x[t] + h W_h                  (gates i, f, c, o, Keras' order)
      i = ra(z_i), f = ra(z_f), g = a(z_c), o = ra(z_o)
      c = f c + i g
      h = o a(c),  outputs[t] = h

  Steps t >= lengths[b] are masked: h and c of example b are carried
  unchanged and outputs[t, b] is the carried h.

  ```python
  z = tf.einsum("btd,dk->tbk", inputs, kernel) + bias    # [time, batch, 4u]
  outputs, h, c = tf_approx.ops.recurrent.lstm(
      z, recurrent_kernel, h0, c0, activation="tanh_pade_4_4",
      recurrent_activation="sigm_fastexp_512")
  ```

  Args:
    x: [time, batch, 4 units] float32 or float64: x_t W + b of every step.
    recurrent_kernel: [units, 4 units], W_h in Keras' layout.
    h0, c0: [batch, units], the initial state.
    lengths: int [batch], the steps of each example (right padding), or
      None: every example has `time` steps.
    activation: a: 'tanh' (exact), or a tf_approx activation name or
      `ActivationSpec`.
    recurrent_activation: ra: 'sigmoid' (exact), or a tf_approx activation
      name or `ActivationSpec`.
    reverse: process t = time-1 down to 0 (Keras' go_backwards); outputs stay
      at their index t.
    name: optional op name.

  Returns:
    (outputs [time, batch, units], h [batch, units], c [batch, units]), the
    outputs of every step and the final state. Gradients flow to x,
    recurrent_kernel, h0 and c0; the approximations' derivatives are those
    of the functions as implemented.

  Raises:
    ValueError: a bad rank or shape, or an unknown activation name, naming
      the argument.
    TypeError: a dtype other than float32 / float64.
  """
  x, recurrent_kernel, h0, c0, lengths = check_arguments(
      x, recurrent_kernel, h0, c0, lengths)
  activation = resolve_activation(activation, "activation")
  recurrent_activation = resolve_activation(recurrent_activation,
                                            "recurrent_activation")
  reverse = bool(reverse)
  library = native_library()
  if library is None:
    return reference.lstm(x, recurrent_kernel, h0, c0, lengths,
                          activation=activation,
                          recurrent_activation=recurrent_activation,
                          reverse=reverse)
  if lengths is None:
    shape = tf.shape(x)
    lengths = tf.fill(shape[1:2], shape[0])
  outputs, h, c, _, _ = library.tf_approx_lstm(
      x, recurrent_kernel, h0, c0, lengths, reverse=reverse, name=name,
      **lstm_attrs(activation, recurrent_activation))
  return outputs, h, c


@tf.RegisterGradient("TfApprox>Lstm")
def _lstm_grad(op, d_outputs, dh, dc, d_gates, d_cells):  # pylint: disable=unused-argument
  # gates and cells are saved for this gradient only; what arrives for them
  # is ignored.
  x, recurrent_kernel, h0, c0, lengths = op.inputs
  outputs, h, c, gates, cells = op.outputs
  d_outputs, dh, dc = (tf.zeros_like(y) if dy is None else dy
                       for y, dy in ((outputs, d_outputs), (h, dh), (c, dc)))
  activation, recurrent_activation = activations_of(op)
  reverse = op.get_attr("reverse")
  library = native_library()
  if library is None:  # e.g. an XLA-compiled gradient of a traced graph
    grads = twin_gradient(
        lambda *inputs: reference.lstm(
            *inputs, lengths, activation=activation,
            recurrent_activation=recurrent_activation, reverse=reverse),
        [x, recurrent_kernel, h0, c0], [d_outputs, dh, dc])
    return (*grads, None)
  dx, d_recurrent_kernel, dh0, dc0 = library.tf_approx_lstm_grad(
      d_outputs, dh, dc, recurrent_kernel, h0, c0, lengths, outputs, gates,
      cells, reverse=reverse,
      **lstm_attrs(activation, recurrent_activation))
  return dx, d_recurrent_kernel, dh0, dc0, None
