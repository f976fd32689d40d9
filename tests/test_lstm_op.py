"""The fused LSTM ops (TfApprox>Lstm, TfApprox>LstmGrad) on their own.

Against a numpy LSTM that applies the same functions step by step (the exact
ones as numpy's, the approximations through the activation op), numeric
gradients in float64, masks, reverse, empty sizes, NaN and bad arguments.
The layer built on them is tested in tests/test_lstm_layer.py.
"""

import numpy as np
import pytest
import scipy.special
import tensorflow as tf

import tf_approx
from tf_approx import _library

LIB = _library.load_ops()
APPROX = {"activation_kind": "rational",
          "activation_numerator": [0.0, 1.0, 0.0, 0.1],
          "activation_denominator": [1.0, 0.0, 0.43]}


def _lib():
  if LIB is None:
    pytest.skip("the op library is not loaded (TF_APPROX_PY_OPS=1)")
  return LIB


def _approx_spec(attrs, prefix):
  names = tf_approx.ops.activations.ATTR_NAMES
  return tf_approx.ops.activations.ActivationSpec.from_attrs(
      **{n: attrs[prefix + n] for n in names if prefix + n in attrs},
      **({} if prefix + "numerator" in attrs else {}))


def _function(attrs, prefix, default):
  kind = attrs.get(prefix + "kind", default)
  if kind == "tanh":
    return np.tanh
  if kind == "sigmoid":
    return scipy.special.expit
  fields = {n[len(prefix):]: v for n, v in attrs.items()
            if n.startswith(prefix)}
  spec = tf_approx.ops.activations.ActivationSpec.from_attrs(
      **{k: fields.get(k, v) for k, v in
         tf_approx.ops.activations.ActivationSpec().attrs().items()})
  return lambda v: tf_approx.ops.activation(tf.constant(v), spec).numpy()


def _numpy_lstm(x, kernel, h0, c0, lengths, reverse=False, **attrs):
  """outputs, h, c of the op's contract, one step at a time."""
  a = _function(attrs, "activation_", "tanh")
  ra = _function(attrs, "recurrent_activation_", "sigmoid")
  time, _, width = x.shape
  units = width // 4
  h, c = h0.copy(), c0.copy()
  outputs = np.zeros(x.shape[:2] + (units,), x.dtype)
  for t in (range(time - 1, -1, -1) if reverse else range(time)):
    z = x[t] + h @ kernel
    i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
    c_new = ra(f) * c + ra(i) * a(g)
    h_new = ra(o) * a(c_new)
    active = (t < lengths)[:, None]
    c = np.where(active, c_new, c)
    h = np.where(active, h_new, h)
    outputs[t] = h
  return outputs, h, c


def _problem(time=6, batch=3, units=5, dtype=np.float64, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(time, batch, 4 * units)).astype(dtype)
  kernel = (rng.normal(size=(units, 4 * units)) * 0.5).astype(dtype)
  h0 = rng.normal(size=(batch, units)).astype(dtype)
  c0 = rng.normal(size=(batch, units)).astype(dtype)
  return x, kernel, h0, c0


CASES = [
    pytest.param({}, id="exact"),
    pytest.param(APPROX, id="rational-tanh"),
    pytest.param(dict(APPROX, recurrent_activation_kind="fastexp_sigmoid",
                      recurrent_activation_squarings=3), id="fastexp-gates"),
    pytest.param({"activation_kind": "sigmoid",
                  "recurrent_activation_kind": "tanh"}, id="swapped"),
]


@pytest.mark.parametrize("attrs", CASES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float64, 1e-13)])
def test_forward_matches_numpy(attrs, reverse, dtype, tol):
  x, kernel, h0, c0 = _problem(dtype=dtype)
  lengths = np.array([6, 2, 0], np.int32)
  got = _lib().tf_approx_lstm(x, kernel, h0, c0, lengths, reverse=reverse,
                              **attrs)
  want = _numpy_lstm(x, kernel, h0, c0, lengths, reverse, **attrs)
  for g, w, name in zip(got[:3], want, ("outputs", "h", "c")):
    np.testing.assert_allclose(g.numpy(), w, rtol=tol, atol=tol,
                               err_msg=name)
  # What the gradient reads back: z and c of every step.
  cells = got[4].numpy()
  assert np.all(np.isfinite(cells))


@pytest.mark.parametrize("attrs", CASES)
@pytest.mark.parametrize("reverse", [False, True])
def test_gradient_matches_numeric(attrs, reverse, numeric_jacobians):
  lib = _lib()
  x, kernel, h0, c0 = _problem(time=4, batch=3, units=3)
  lengths = np.array([4, 1, 0], np.int32)

  def forward(x, kernel, h0, c0):
    outputs, h, c, _, _ = lib.tf_approx_lstm(x, kernel, h0, c0, lengths,
                                             reverse=reverse, **attrs)
    return np.concatenate([outputs.numpy().ravel(), h.numpy().ravel(),
                           c.numpy().ravel()])

  w, want = numeric_jacobians(forward, [x, kernel, h0, c0])
  outputs, h, c, gates, cells = lib.tf_approx_lstm(
      x, kernel, h0, c0, lengths, reverse=reverse, **attrs)
  n_out, n_state = outputs.numpy().size, h.numpy().size
  d_outputs = w[:n_out].reshape(outputs.shape)
  dh = w[n_out:n_out + n_state].reshape(h.shape)
  dc = w[n_out + n_state:].reshape(c.shape)
  got = lib.tf_approx_lstm_grad(d_outputs, dh, dc, kernel, h0, c0, lengths,
                                outputs, gates, cells, reverse=reverse,
                                **attrs)
  for g, w_, name in zip(got, want, ("dx", "d_kernel", "dh0", "dc0")):
    np.testing.assert_allclose(g.numpy(), w_, rtol=1e-6, atol=1e-8,
                               err_msg=name)


def test_masked_steps_have_zero_input_gradient():
  lib = _lib()
  x, kernel, h0, c0 = _problem()
  lengths = np.array([6, 2, 0], np.int32)
  outputs, h, c, gates, cells = lib.tf_approx_lstm(x, kernel, h0, c0, lengths)
  dx, _, dh0, dc0 = lib.tf_approx_lstm_grad(
      np.ones_like(outputs), np.ones_like(h), np.ones_like(c), kernel, h0, c0,
      lengths, outputs, gates, cells)
  assert np.all(dx.numpy()[2:, 1] == 0) and np.all(dx.numpy()[:, 2] == 0)
  # An example with no steps passes every gradient through to its states.
  np.testing.assert_array_equal(dh0.numpy()[2], 1 + 6 * np.ones(5))
  np.testing.assert_array_equal(dc0.numpy()[2], np.ones(5))


@pytest.mark.parametrize("time,batch,units", [(0, 3, 4), (5, 0, 4), (3, 2, 0)])
def test_empty_sizes(time, batch, units):
  lib = _lib()
  x, kernel, h0, c0 = _problem(time, batch, units)
  lengths = np.full(batch, time, np.int32)
  outputs, h, c, gates, cells = lib.tf_approx_lstm(x, kernel, h0, c0, lengths)
  assert outputs.shape == (time, batch, units)
  np.testing.assert_array_equal(h.numpy(), h0)
  if time == 0:
    np.testing.assert_array_equal(c.numpy(), c0)
  dx, d_kernel, dh0, dc0 = lib.tf_approx_lstm_grad(
      np.ones_like(outputs), np.ones_like(h), np.ones_like(c), kernel, h0, c0,
      lengths, outputs, gates, cells)
  assert dx.shape == x.shape
  np.testing.assert_array_equal(d_kernel.numpy(), np.zeros_like(kernel))
  if time == 0:
    np.testing.assert_array_equal(dh0.numpy(), np.ones_like(h0))


@pytest.mark.parametrize("attrs", CASES)
def test_nan_in_nan_out(attrs):
  lib = _lib()
  x, kernel, h0, c0 = _problem(dtype=np.float32)
  x[2, 1, 0] = np.nan  # the input gate of unit 0, example 1, step 2
  outputs, h, _, _, _ = lib.tf_approx_lstm(
      x, kernel, h0, c0, np.full(3, 6, np.int32), **attrs)
  out = outputs.numpy()
  assert np.all(np.isfinite(out[:2])) and np.all(np.isfinite(out[:, [0, 2]]))
  assert np.isnan(out[2, 1, 0]) and np.all(np.isnan(h.numpy()[1]))


@pytest.mark.parametrize("units", [1, 7, 16, 33])
def test_odd_sizes_match_numpy(units):
  # Column counts that are not whole vectors: the GEMM's tails.
  x, kernel, h0, c0 = _problem(time=3, batch=8, units=units, dtype=np.float32)
  lengths = np.full(8, 3, np.int32)
  got = _lib().tf_approx_lstm(x, kernel, h0, c0, lengths)
  want = _numpy_lstm(x, kernel, h0, c0, lengths)
  np.testing.assert_allclose(got[0].numpy(), want[0], rtol=1e-5, atol=1e-5)


BAD = [
    ("x", lambda x, k, h, c, l: (x[0], k, h, c, l), "`x`"),
    ("kernel", lambda x, k, h, c, l: (x, k[:, :-1], h, c, l),
     "`recurrent_kernel`"),
    ("h0", lambda x, k, h, c, l: (x, k, h[:, :-1], c, l), "`h0`"),
    ("c0", lambda x, k, h, c, l: (x, k, h, c[:-1], l), "`c0`"),
    ("lengths-shape", lambda x, k, h, c, l: (x, k, h, c, l[:-1]), "`lengths`"),
    ("lengths-range", lambda x, k, h, c, l: (x, k, h, c, l + 7), "`lengths`"),
    ("lengths-negative", lambda x, k, h, c, l: (x, k, h, c, l - 7),
     "`lengths`"),
]


@pytest.mark.parametrize("name,mutate,message", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_name_the_argument(name, mutate, message):
  del name
  x, kernel, h0, c0 = _problem()
  args = mutate(x, kernel, h0, c0, np.full(3, 6, np.int32))
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError),
                     match=message):
    _lib().tf_approx_lstm(*args)


def test_bad_activation_attrs_name_the_attr():
  x, kernel, h0, c0 = _problem()
  lengths = np.full(3, 6, np.int32)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="recurrent_activation_squarings"):
    _lib().tf_approx_lstm(x, kernel, h0, c0, lengths,
                          recurrent_activation_kind="fastexp_sigmoid",
                          recurrent_activation_squarings=40)
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError, TypeError),
                     match="activation_kind"):
    _lib().tf_approx_lstm(x, kernel, h0, c0, lengths, activation_kind="relu")


@pytest.mark.parametrize("attrs,functions", [
    ({}, ("tanh", "sigmoid")),
    (APPROX, "approx"),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# The second size is large enough for the op to split its steps among the
# intra-op threads (two under pytest on two cores; one step's product over
# 3 MFLOP).
@pytest.mark.parametrize("batch,units", [(4, 37), (64, 101)])
def test_native_module_matches_op_for_any_split(attrs, functions, dtype,
                                                 batch, units):
  """The TF-free steps give the op's bits, whatever the split of the units.

  The op splits the units among its threads in blocks; every element keeps
  one summation order, so the d_kernel a thread count gives is the same.
  """
  from tf_approx import _native  # pylint: disable=g-import-not-at-top
  lib = _lib()
  x, kernel, h0, c0 = _problem(time=5, batch=batch, units=units, dtype=dtype)
  lengths = np.random.default_rng(1).integers(0, 6, batch).astype(np.int32)
  if functions == "approx":
    # The op's float attrs are float32: the same coefficients here.
    f32 = lambda values: [float(np.float32(v)) for v in values]
    functions = (_native.Spec(kind="rational",
                              numerator=f32(APPROX["activation_numerator"]),
                              denominator=f32(APPROX["activation_denominator"])),
                 "sigmoid")
  outputs, _, _, gates, cells = lib.tf_approx_lstm(
      x, kernel, h0, c0, lengths, reverse=True, **attrs)
  rng = np.random.default_rng(3)
  d_outputs = rng.normal(size=outputs.shape).astype(dtype)
  dh, dc = (rng.normal(size=h0.shape).astype(dtype) for _ in range(2))
  want = lib.tf_approx_lstm_grad(d_outputs, dh, dc, kernel, h0, c0, lengths,
                                 outputs, gates, cells, reverse=True, **attrs)
  for block in (0, 16, 5):
    got = _native.lstm(x, kernel, h0, c0, lengths, *functions, reverse=True,
                       unit_block=block)
    for g, w in zip(got, (outputs, gates, cells)):
      np.testing.assert_array_equal(g, w.numpy())
    got = _native.lstm_grad(d_outputs, dh, dc, kernel, h0, c0, lengths,
                            outputs.numpy(), gates.numpy(), cells.numpy(),
                            *functions, reverse=True, unit_block=block)
    for g, w in zip(got, want):
      np.testing.assert_array_equal(g, w.numpy())
