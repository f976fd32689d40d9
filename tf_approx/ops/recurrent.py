"""Op wrappers for the fused LSTM and GRU: the whole recurrence in one op.

`TfApprox>Lstm` runs every time step of an LSTM (Hochreiter and
Schmidhuber, 1997; the gate layout of Keras' `LSTM`) in one op, from the input
projection x_t W + b that the caller computes for all steps as one matmul;
`TfApprox>LstmGrad` is its gradient, from the gates and cells the forward
saved. `TfApprox>Gru` and `TfApprox>GruGrad` do the same for a GRU (Cho et
al., 2014; Keras' `GRU`, both `reset_after` layouts), saving the gates'
pre-activations and the reset product. The gates' tanh and sigmoid are exact
or any tf_approx approximation. The ops have CPU and CUDA kernels (the
CUDA ones run a launch per phase of a step). Inside an XLA context, with
`TF_APPROX_PY_OPS=1`, or where TensorFlow sees a GPU on which tf_approx's
GPU kernels did not load (`twin_on_gpu`), the composite twin from
`tf_approx.reference.recurrent` runs instead.
"""

import tensorflow as tf

from tf_approx._library import gpu_status
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


def gate_attrs(activation, recurrent_activation):
  """The op attrs that say which functions the gates apply (the LSTM's and
  the GRU's ops take the same).

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


lstm_attrs = gate_attrs  # The name the LSTM's callers know.


def activations_of(op):
  """(activation, recurrent_activation) of an `Lstm` or `Gru` op, as `lstm`
  and `gru` take them: 'tanh' / 'sigmoid', or the `ActivationSpec`."""
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


def _check_arguments(x, recurrent_kernel, states, lengths, gates,
                     vectors=()):
  """The checks of `check_arguments` for `gates` gates per unit.

  `states` and `vectors` are (name, value) pairs: the [batch, units] initial
  states and the [gates units] vectors (the GRU's recurrent bias). Returns
  (x, recurrent_kernel, {name: tensor} of states and vectors, lengths).
  """
  x = tf.convert_to_tensor(x)
  if x.dtype not in DTYPES:
    raise TypeError(f"`x` must be float32 or float64, got {x.dtype.name}")
  tensors = {}
  for arg, value in (("recurrent_kernel", recurrent_kernel), *vectors,
                     *states):
    # A dtype hint would silently cast a numpy array of another float type.
    value = (tf.convert_to_tensor(value) if hasattr(value, "dtype") else
             tf.convert_to_tensor(value, dtype_hint=x.dtype))
    if value.dtype != x.dtype:
      raise TypeError(f"`{arg}` must have x's dtype {x.dtype.name}, got "
                      f"{value.dtype.name}")
    tensors[arg] = value
  recurrent_kernel = tensors.pop("recurrent_kernel")
  width = f"{gates} units"
  _check_rank(x, 3, "x", f"[time, batch, {width}]")
  _check_rank(recurrent_kernel, 2, "recurrent_kernel", f"[units, {width}]")
  units = recurrent_kernel.shape[0]
  if units is not None:
    _check_dim(recurrent_kernel, 1, gates * units, "recurrent_kernel",
               f"[units, {width}]", "second dimension")
  elif recurrent_kernel.shape[1] is not None:
    if recurrent_kernel.shape[1] % gates:
      raise ValueError(f"`recurrent_kernel` must be [units, {width}], got "
                       f"shape {recurrent_kernel.shape}")
    units = recurrent_kernel.shape[1] // gates
  _check_dim(x, 2, None if units is None else gates * units, "x",
             f"[time, batch, {width}] (units from recurrent_kernel)",
             "last dimension")
  for arg, _ in vectors:
    _check_rank(tensors[arg], 1, arg, f"[{width}]")
    _check_dim(tensors[arg], 0, None if units is None else gates * units,
               arg, f"[{width}] (units from recurrent_kernel)", "length")
  batch = x.shape[1]
  for arg, _ in states:
    state = tensors[arg]
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
  return x, recurrent_kernel, tensors, lengths


def check_arguments(x, recurrent_kernel, h0, c0, lengths):
  """The inputs of `lstm` as tensors, after checking their ranks, static
  shapes and dtypes; `lengths` cast to int32 (None stays None).

  Raises:
    ValueError: a rank or a known dimension that does not fit, naming it.
    TypeError: a dtype other than float32 / float64 (one for all four), or
      non-integer lengths.
  """
  x, recurrent_kernel, tensors, lengths = _check_arguments(
      x, recurrent_kernel, (("h0", h0), ("c0", c0)), lengths, gates=4)
  return x, recurrent_kernel, tensors["h0"], tensors["c0"], lengths


def check_gru_arguments(x, recurrent_kernel, recurrent_bias, h0, lengths):
  """The inputs of `gru` as tensors, checked as `check_arguments` checks the
  LSTM's (3 gates; recurrent_bias [3 units])."""
  x, recurrent_kernel, tensors, lengths = _check_arguments(
      x, recurrent_kernel, (("h0", h0),), lengths, gates=3,
      vectors=(("recurrent_bias", recurrent_bias),))
  return (x, recurrent_kernel, tensors["recurrent_bias"], tensors["h0"],
          lengths)


def gpu_visible():
  """Whether TensorFlow sees a GPU."""
  return bool(tf.config.list_logical_devices("GPU"))


def twin_on_gpu():
  """Whether the fused ops give way to their twins: where TensorFlow sees a
  GPU but tf_approx's GPU kernels are not loaded (`tf_approx.gpu_status()`
  says why), so that a model on the GPU stays there (a loop of TensorFlow
  ops per step, as Keras' layers run for functions cuDNN does not have)
  rather than running the op's CPU kernel."""
  return gpu_visible() and not gpu_status().loaded


def _run(op_name, twin, inputs, lengths, activation, recurrent_activation,
         reverse, name, results, **attrs):
  """The first `results` outputs of the native op `op_name` (the rest are
  saved for its gradient), or of `twin` where the native op cannot run.

  `inputs`: the op's inputs before `lengths`, checked; `attrs`: the op's
  attrs besides `reverse` and the gates' functions, which `twin` takes as
  keyword arguments too.
  """
  activation = resolve_activation(activation, "activation")
  recurrent_activation = resolve_activation(recurrent_activation,
                                            "recurrent_activation")
  reverse = bool(reverse)
  library = native_library()
  if library is None or twin_on_gpu():
    return twin(*inputs, lengths, activation=activation,
                recurrent_activation=recurrent_activation, reverse=reverse,
                **attrs)
  if lengths is None:
    shape = tf.shape(inputs[0])
    lengths = tf.fill(shape[1:2], shape[0])
  outputs = getattr(library, op_name)(
      *inputs, lengths, reverse=reverse, name=name, **attrs,
      **gate_attrs(activation, recurrent_activation))
  return tuple(outputs[:results])


def _gradient(op, grads, grad_op_name, twin, results, **attrs):
  """The registered gradient of a fused recurrent op.

  The op's inputs are (x, recurrent_kernel, ..., the initial states,
  lengths), its outputs (outputs, the final states, what it saves for the
  gradient); `results` = 1 + the number of states. The gradient op takes
  (the gradients of the results, recurrent_kernel, the initial states,
  lengths, outputs, the saved outputs) and returns the gradients of the
  inputs before lengths. Gradients arriving for the saved outputs are
  ignored: they are saved for this gradient only. Where the native op
  cannot run, the gradient of `twin` instead.
  """
  inputs, lengths = list(op.inputs[:-1]), op.inputs[-1]
  dys = [tf.zeros_like(y) if dy is None else dy
         for y, dy in zip(op.outputs[:results], grads[:results])]
  activation, recurrent_activation = activations_of(op)
  reverse = op.get_attr("reverse")
  library = native_library()
  if library is None:  # e.g. an XLA-compiled gradient of a traced graph
    grads = twin_gradient(
        lambda *inputs: twin(
            *inputs, lengths, activation=activation,
            recurrent_activation=recurrent_activation, reverse=reverse,
            **attrs),
        inputs, dys)
    return (*grads, None)
  initial_states = inputs[len(inputs) - (results - 1):]
  grads = getattr(library, grad_op_name)(
      *dys, inputs[1], *initial_states, lengths, op.outputs[0],
      *op.outputs[results:], reverse=reverse, **attrs,
      **gate_attrs(activation, recurrent_activation))
  return (*grads, None)


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
  return _run("tf_approx_lstm", reference.lstm, (x, recurrent_kernel, h0, c0),
              lengths, activation, recurrent_activation, reverse, name,
              results=3)


@tf.RegisterGradient("TfApprox>Lstm")
def _lstm_grad(op, *grads):
  return _gradient(op, grads, "tf_approx_lstm_grad", reference.lstm,
                   results=3)


def gru(x, recurrent_kernel, recurrent_bias, h0, lengths=None, *,
        activation="tanh", recurrent_activation="sigmoid", reset_after=True,
        reverse=False, name=None):
  """Runs a GRU over a whole sequence from its input projection.

  Per step t (t = 0 .. time-1, or time-1 .. 0 with `reverse`), with W_z,
  W_r, W_hh the three column blocks of `recurrent_kernel` and the gates in
  Keras' order z, r, h; with `reset_after` (Keras' default, cuDNN's layout):

      m = h W_h + rb
      z = ra(x_z + m_z),  r = ra(x_r + m_r)
      hh = a(x_h + r * m_h)
      h = z * h + (1 - z) * hh,  outputs[t] = h

  and with reset_after=False (Cho et al., 2014, v1's order):

      z = ra(x_z + (h W_z + rb_z)),  r = ra(x_r + (h W_r + rb_r))
      hh = a(x_h + ((r * h) W_hh + rb_h))
      h = z * h + (1 - z) * hh

  Steps t >= lengths[b] are masked: h of example b is carried unchanged and
  outputs[t, b] is the carried h.

  ```python
  x = tf.einsum("btd,dk->tbk", inputs, kernel) + bias[0]  # [time, batch, 3u]
  outputs, h = tf_approx.ops.recurrent.gru(
      x, recurrent_kernel, bias[1], h0, activation="tanh_pade_4_4",
      recurrent_activation="sigm_fastexp_512")
  ```

  Args:
    x: [time, batch, 3 units] float32 or float64: x_t W + b of every step
      (Keras' input bias, bias[0] with reset_after).
    recurrent_kernel: [units, 3 units], W_h in Keras' layout.
    recurrent_bias: [3 units], rb: Keras' recurrent bias (bias[1] with
      reset_after); zeros for Keras' layer with reset_after=False or
      use_bias=False.
    h0: [batch, units], the initial state.
    lengths: int [batch], the steps of each example (right padding), or
      None: every example has `time` steps.
    activation: a: 'tanh' (exact), or a tf_approx activation name or
      `ActivationSpec`.
    recurrent_activation: ra: 'sigmoid' (exact), or a tf_approx activation
      name or `ActivationSpec`.
    reset_after: apply the reset gate after the recurrent product (True) or
      to h before it (False), as Keras' `reset_after`.
    reverse: process t = time-1 down to 0 (Keras' go_backwards); outputs stay
      at their index t.
    name: optional op name.

  Returns:
    (outputs [time, batch, units], h [batch, units]), the outputs of every
    step and the final state. Gradients flow to x, recurrent_kernel,
    recurrent_bias and h0; the approximations' derivatives are those of the
    functions as implemented.

  Raises:
    ValueError: a bad rank or shape, or an unknown activation name, naming
      the argument.
    TypeError: a dtype other than float32 / float64.
  """
  x, recurrent_kernel, recurrent_bias, h0, lengths = check_gru_arguments(
      x, recurrent_kernel, recurrent_bias, h0, lengths)
  return _run("tf_approx_gru", reference.gru,
              (x, recurrent_kernel, recurrent_bias, h0), lengths, activation,
              recurrent_activation, reverse, name, results=2,
              reset_after=bool(reset_after))


@tf.RegisterGradient("TfApprox>Gru")
def _gru_grad(op, *grads):
  return _gradient(op, grads, "tf_approx_gru_grad", reference.gru,
                   results=2, reset_after=op.get_attr("reset_after"))
