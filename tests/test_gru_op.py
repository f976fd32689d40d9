"""The fused GRU ops (TfApprox>Gru, TfApprox>GruGrad) on their own.

Against a numpy GRU that applies the same functions step by step (the exact
ones as numpy's, the approximations through the activation op), in both of
Keras' layouts (reset_after True and False); numeric gradients in float64,
masks, reverse, empty sizes, NaN and bad arguments. The layer built on them
is tested in tests/test_gru_layer.py.
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


def _numpy_gru(x, kernel, bias, h0, lengths, reverse=False, reset_after=True,
               **attrs):
  """outputs, h, gates, reset of the op's contract, one step at a time
  (gates and reset as the op saves them at the unmasked steps)."""
  a = _function(attrs, "activation_", "tanh")
  ra = _function(attrs, "recurrent_activation_", "sigmoid")
  time, batch, width = x.shape
  units = width // 3
  blocks = lambda v: [v[..., k * units:(k + 1) * units] for k in range(3)]
  h = h0.copy()
  outputs = np.zeros((time, batch, units), x.dtype)
  gates = np.zeros_like(x)
  reset = np.zeros((time, batch, units), x.dtype)
  for t in (range(time - 1, -1, -1) if reverse else range(time)):
    x_z, x_r, x_h = blocks(x[t])
    w_z, w_r, w_h = blocks(kernel)
    b_z, b_r, b_h = blocks(bias)
    if reset_after:
      m_z, m_r, m_h = blocks(h @ kernel + bias)
      p_z, p_r = x_z + m_z, x_r + m_r
      r = ra(p_r)
      reset[t] = m_h
      p_h = x_h + r * m_h
    else:
      p_z, p_r = x_z + (h @ w_z + b_z), x_r + (h @ w_r + b_r)
      r = ra(p_r)
      reset[t] = r * h
      p_h = x_h + ((r * h) @ w_h + b_h)
    gates[t] = np.concatenate([p_z, p_r, p_h], axis=1)
    z = ra(p_z)
    h_new = z * h + (1 - z) * a(p_h)
    h = np.where((t < lengths)[:, None], h_new, h)
    outputs[t] = h
  return outputs, h, gates, reset


def _problem(time=6, batch=3, units=5, dtype=np.float64, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(time, batch, 3 * units)).astype(dtype)
  kernel = (rng.normal(size=(units, 3 * units)) * 0.5).astype(dtype)
  bias = rng.normal(size=(3 * units,)).astype(dtype)
  h0 = rng.normal(size=(batch, units)).astype(dtype)
  return x, kernel, bias, h0


CASES = [
    pytest.param({}, id="exact"),
    pytest.param(APPROX, id="rational-tanh"),
    pytest.param(dict(APPROX, recurrent_activation_kind="fastexp_sigmoid",
                      recurrent_activation_squarings=3), id="fastexp-gates"),
    pytest.param({"activation_kind": "sigmoid",
                  "recurrent_activation_kind": "tanh"}, id="swapped"),
]
LAYOUTS = [pytest.param(True, id="reset_after"),
           pytest.param(False, id="reset_before")]


@pytest.mark.parametrize("attrs", CASES)
@pytest.mark.parametrize("reset_after", LAYOUTS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float64, 1e-13)])
def test_forward_matches_numpy(attrs, reset_after, reverse, dtype, tol):
  x, kernel, bias, h0 = _problem(dtype=dtype)
  lengths = np.array([6, 2, 0], np.int32)
  got = _lib().tf_approx_gru(x, kernel, bias, h0, lengths,
                             reset_after=reset_after, reverse=reverse,
                             **attrs)
  want = _numpy_gru(x, kernel, bias, h0, lengths, reverse, reset_after,
                    **attrs)
  for g, w, name in zip(got[:2], want, ("outputs", "h")):
    np.testing.assert_allclose(g.numpy(), w, rtol=tol, atol=tol,
                               err_msg=name)
  # What the gradient reads back, at the steps that ran: the gates'
  # pre-activations and the reset product.
  valid = np.arange(6)[:, None] < lengths[None, :]
  for g, w, name in zip(got[2:], want[2:], ("gates", "reset")):
    assert g.shape == w.shape, name
    np.testing.assert_allclose(g.numpy()[valid], w[valid], rtol=tol,
                               atol=tol, err_msg=name)


@pytest.mark.parametrize("attrs", CASES)
@pytest.mark.parametrize("reset_after", LAYOUTS)
@pytest.mark.parametrize("reverse", [False, True])
def test_gradient_matches_numeric(attrs, reset_after, reverse,
                                  numeric_jacobians):
  lib = _lib()
  x, kernel, bias, h0 = _problem(time=4, batch=3, units=3)
  lengths = np.array([4, 1, 0], np.int32)
  flags = dict(reset_after=reset_after, reverse=reverse, **attrs)

  def forward(x, kernel, bias, h0):
    outputs, h, _, _ = lib.tf_approx_gru(x, kernel, bias, h0, lengths,
                                         **flags)
    return np.concatenate([outputs.numpy().ravel(), h.numpy().ravel()])

  w, want = numeric_jacobians(forward, [x, kernel, bias, h0])
  outputs, h, gates, reset = lib.tf_approx_gru(x, kernel, bias, h0, lengths,
                                               **flags)
  n_out = outputs.numpy().size
  d_outputs = w[:n_out].reshape(outputs.shape)
  dh = w[n_out:].reshape(h.shape)
  got = lib.tf_approx_gru_grad(d_outputs, dh, kernel, h0, lengths, outputs,
                               gates, reset, **flags)
  for g, w_, name in zip(got, want, ("dx", "d_kernel", "d_bias", "dh0")):
    np.testing.assert_allclose(g.numpy(), w_, rtol=1e-6, atol=1e-8,
                               err_msg=name)


@pytest.mark.parametrize("reset_after", LAYOUTS)
def test_masked_steps_have_zero_input_gradient(reset_after):
  lib = _lib()
  x, kernel, bias, h0 = _problem()
  lengths = np.array([6, 2, 0], np.int32)
  outputs, h, gates, reset = lib.tf_approx_gru(x, kernel, bias, h0, lengths,
                                               reset_after=reset_after)
  dx, _, _, dh0 = lib.tf_approx_gru_grad(
      np.ones_like(outputs), np.ones_like(h), kernel, h0, lengths, outputs,
      gates, reset, reset_after=reset_after)
  assert np.all(dx.numpy()[2:, 1] == 0) and np.all(dx.numpy()[:, 2] == 0)
  # An example with no steps passes every gradient through to its state.
  np.testing.assert_array_equal(dh0.numpy()[2], 1 + 6 * np.ones(5))


@pytest.mark.parametrize("time,batch,units", [(0, 3, 4), (5, 0, 4), (3, 2, 0)])
def test_empty_sizes(time, batch, units):
  lib = _lib()
  x, kernel, bias, h0 = _problem(time, batch, units)
  lengths = np.full(batch, time, np.int32)
  outputs, h, gates, reset = lib.tf_approx_gru(x, kernel, bias, h0, lengths)
  assert outputs.shape == (time, batch, units)
  assert gates.shape == x.shape and reset.shape == outputs.shape
  np.testing.assert_array_equal(h.numpy(), h0)
  dx, d_kernel, d_bias, dh0 = lib.tf_approx_gru_grad(
      np.ones_like(outputs), np.ones_like(h), kernel, h0, lengths, outputs,
      gates, reset)
  assert dx.shape == x.shape
  np.testing.assert_array_equal(d_kernel.numpy(), np.zeros_like(kernel))
  np.testing.assert_array_equal(d_bias.numpy(), np.zeros_like(bias))
  if time == 0:
    np.testing.assert_array_equal(dh0.numpy(), np.ones_like(h0))


@pytest.mark.parametrize("attrs", CASES)
@pytest.mark.parametrize("reset_after", LAYOUTS)
def test_nan_in_nan_out(attrs, reset_after):
  lib = _lib()
  x, kernel, bias, h0 = _problem(dtype=np.float32)
  x[2, 1, 0] = np.nan  # the update gate of unit 0, example 1, step 2
  outputs, h, _, _ = lib.tf_approx_gru(
      x, kernel, bias, h0, np.full(3, 6, np.int32), reset_after=reset_after,
      **attrs)
  out = outputs.numpy()
  assert np.all(np.isfinite(out[:2])) and np.all(np.isfinite(out[:, [0, 2]]))
  assert np.isnan(out[2, 1, 0]) and np.all(np.isnan(h.numpy()[1]))


@pytest.mark.parametrize("reset_after", LAYOUTS)
@pytest.mark.parametrize("units", [1, 7, 16, 33])
def test_odd_sizes_match_numpy(units, reset_after):
  # Column counts that are not whole vectors: the GEMM's tails.
  x, kernel, bias, h0 = _problem(time=3, batch=8, units=units,
                                 dtype=np.float32)
  lengths = np.full(8, 3, np.int32)
  got = _lib().tf_approx_gru(x, kernel, bias, h0, lengths,
                             reset_after=reset_after)
  want = _numpy_gru(x, kernel, bias, h0, lengths, reset_after=reset_after)
  np.testing.assert_allclose(got[0].numpy(), want[0], rtol=1e-5, atol=1e-5)


def test_large_step_matches_numpy():
  # Large enough for the op to split a step's units among its threads.
  x, kernel, bias, h0 = _problem(time=3, batch=64, units=101,
                                 dtype=np.float64)
  lengths = np.random.default_rng(1).integers(0, 4, 64).astype(np.int32)
  for reset_after in (True, False):
    got = _lib().tf_approx_gru(x, kernel, bias, h0, lengths,
                               reset_after=reset_after, reverse=True)
    want = _numpy_gru(x, kernel, bias, h0, lengths, True, reset_after)
    np.testing.assert_allclose(got[0].numpy(), want[0], rtol=1e-12,
                               atol=1e-12)


BAD = [
    ("x", lambda x, k, b, h, l: (x[0], k, b, h, l), "`x`"),
    ("kernel", lambda x, k, b, h, l: (x, k[:, :-1], b, h, l),
     "`recurrent_kernel`"),
    ("bias", lambda x, k, b, h, l: (x, k, b[:-1], h, l), "`recurrent_bias`"),
    ("h0", lambda x, k, b, h, l: (x, k, b, h[:, :-1], l), "`h0`"),
    ("lengths-shape", lambda x, k, b, h, l: (x, k, b, h, l[:-1]),
     "`lengths`"),
    ("lengths-range", lambda x, k, b, h, l: (x, k, b, h, l + 7), "`lengths`"),
    ("lengths-negative", lambda x, k, b, h, l: (x, k, b, h, l - 7),
     "`lengths`"),
]


@pytest.mark.parametrize("name,mutate,message", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_name_the_argument(name, mutate, message):
  del name
  x, kernel, bias, h0 = _problem()
  args = mutate(x, kernel, bias, h0, np.full(3, 6, np.int32))
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError),
                     match=message):
    _lib().tf_approx_gru(*args)


def test_bad_activation_attrs_name_the_attr():
  x, kernel, bias, h0 = _problem()
  lengths = np.full(3, 6, np.int32)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="recurrent_activation_squarings"):
    _lib().tf_approx_gru(x, kernel, bias, h0, lengths,
                         recurrent_activation_kind="fastexp_sigmoid",
                         recurrent_activation_squarings=40)
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError, TypeError),
                     match="activation_kind"):
    _lib().tf_approx_gru(x, kernel, bias, h0, lengths, activation_kind="relu")


@pytest.mark.parametrize("attrs,functions", [
    ({}, ("tanh", "sigmoid")),
    (APPROX, "approx"),
])
@pytest.mark.parametrize("reset_after", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# The second size is large enough for the op to split its steps among the
# intra-op threads (two under pytest on two cores).
@pytest.mark.parametrize("batch,units", [(4, 37), (64, 101)])
def test_native_module_matches_op_for_any_split(attrs, functions,
                                                 reset_after, dtype, batch,
                                                 units):
  """The TF-free steps give the op's bits, whatever the split of the units.

  The op splits the units among its threads in blocks; every element keeps
  one summation order, so the d_kernel and d_bias a thread count gives are
  the same.
  """
  from tf_approx import _native  # pylint: disable=g-import-not-at-top
  lib = _lib()
  x, kernel, bias, h0 = _problem(time=5, batch=batch, units=units,
                                 dtype=dtype)
  lengths = np.random.default_rng(1).integers(0, 6, batch).astype(np.int32)
  if functions == "approx":
    # The op's float attrs are float32: the same coefficients here.
    f32 = lambda values: [float(np.float32(v)) for v in values]
    functions = (_native.Spec(
        kind="rational", numerator=f32(APPROX["activation_numerator"]),
        denominator=f32(APPROX["activation_denominator"])), "sigmoid")
  flags = dict(reset_after=reset_after, reverse=True)
  outputs, _, gates, reset = lib.tf_approx_gru(x, kernel, bias, h0, lengths,
                                               **flags, **attrs)
  rng = np.random.default_rng(3)
  d_outputs = rng.normal(size=outputs.shape).astype(dtype)
  dh = rng.normal(size=h0.shape).astype(dtype)
  want = lib.tf_approx_gru_grad(d_outputs, dh, kernel, h0, lengths, outputs,
                                gates, reset, **flags, **attrs)
  for block in (0, 16, 5):
    got = _native.gru(x, kernel, bias, h0, lengths, *functions, **flags,
                      unit_block=block)
    for g, w in zip(got, (outputs, gates, reset)):
      np.testing.assert_array_equal(g, w.numpy())
    got = _native.gru_grad(d_outputs, dh, kernel, h0, lengths,
                           outputs.numpy(), gates.numpy(), reset.numpy(),
                           *functions, **flags, unit_block=block)
    for g, w in zip(got, want):
      np.testing.assert_array_equal(g, w.numpy())
