"""The approximated activations: native ops against their composite twins."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tf_approx
from tf_approx import _library
from tf_approx import activations
from tf_approx.ops import activations as activation_ops
from tf_approx.reference import activations as reference

# One or two names of every kind and family, plain and clamped.
NAMES = [
    "tanh_pade_4_4", "tanh_pade_4_4_clamp", "tanh_pade_5_4", "sigm_pade_3_3",
    "sigm_pade_4_4_clamp", "tanh_taylor_9", "tanh_taylor_9_clamp",
    "sigm_taylor_5", "tanh_cont_4", "tanh_cont_3_clamp", "serp", "serp_clamp",
    "sigm_fastexp_2", "sigm_fastexp_512", "sigm_fastexp_512_clamp",
    "ultra_fast_sigmoid", "word2vec_sigmoid", "tanh_hard", "sigm_hard"
]
DTYPES = [tf.float16, tf.bfloat16, tf.float32, tf.float64]
SHAPES = [(), (0,), (7,), (3, 5, 17), (2, 0, 3), (1000,)]
# Breakpoints of the piecewise functions: finite differences straddling them
# measure a jump, not the derivative.
KINKS = [-6, -5.5, -3.4, -2, -1, 0, 1, 2, 3.4, 5.5, 6]

TOLERANCE = {tf.float16: 4e-3, tf.bfloat16: 3e-2, tf.float32: 2e-6,
             tf.float64: 1e-12}


def _inputs(shape, dtype, seed=0):
  rng = np.random.default_rng(seed)
  return tf.constant(rng.uniform(-8, 8, size=shape), dtype)


def _rounding_bound(name, x, dtype, derivative=False):
  """Error bound of two roundings of a rational (FMA or not, any order).

  Horner's rounding error is about degree * eps * sum |c_i| |x|^i, which for
  the polynomials far outside their fit range is much more than eps |f(x)|.
  With `derivative`, the same for f' = (P' - f Q') / Q.
  """
  spec = activations.spec(name)
  if spec.kind != "rational":
    return 0.0
  x = np.abs(tf.cast(x, tf.float64).numpy())
  if spec.clip is not None:
    x = np.minimum(x, max(abs(c) for c in spec.clip))
  eps = np.finfo(dtype.as_numpy_dtype).eps
  polyval = np.polynomial.polynomial.polyval
  polyder = np.polynomial.polynomial.polyder
  a, b = np.abs(spec.numerator), np.abs(spec.denominator)
  q = np.abs(polyval(x, spec.denominator))
  ratio = polyval(x, a) / q  # bounds |f| and its rounding
  bound = polyval(x, a) / q + ratio * polyval(x, b) / q
  if derivative:
    bound = (polyval(x, polyder(a)) + ratio * polyval(x, polyder(b)) +
             bound * polyval(x, b)) / q + bound * polyval(x, polyder(b)) / q
  return 4 * (len(a) + len(b)) * eps * bound


def _native(name, x):
  return activations.get(name)(x)


def _reference(name, x):
  return reference.activation(x, activations.spec(name))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_forward_matches_reference(name, dtype):
  for shape in SHAPES:
    x = _inputs(shape, dtype)
    y = _native(name, x)
    assert y.dtype == dtype and y.shape == shape
    want = _reference(name, x)
    if name == "word2vec_sigmoid" and dtype in (tf.float32, tf.float64):
      # The table index truncates; one ulp in (x + 6) * 83 may change it.
      np.testing.assert_allclose(y.numpy(), want.numpy(), atol=1e-2)
      continue
    y, want = (tf.cast(t, tf.float64).numpy() for t in (y, want))
    error = np.abs(y - want)
    bound = TOLERANCE[dtype] * (1 + np.abs(want))
    if dtype in (tf.float32, tf.float64):
      bound = np.maximum(bound, _rounding_bound(name, x, dtype))
    assert np.all(error <= bound), (np.max(error - bound), x)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64],
                         ids=lambda d: d.name)
def test_gradient_matches_reference(name, dtype):
  x = _inputs((4, 300), dtype, seed=1)
  dy = _inputs((4, 300), dtype, seed=2)
  fn = activations.get(name)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(x)
    y_native = fn(x)
    y_reference = _reference(name, x)
  native = tape.gradient(y_native, x, output_gradients=dy).numpy()
  want = tape.gradient(y_reference, x, output_gradients=dy).numpy()
  tolerance = 1e-5 if dtype == tf.float32 else 1e-12
  bound = np.maximum(tolerance * (1 + np.abs(want)), np.abs(dy.numpy()) *
                     _rounding_bound(name, x, dtype, derivative=True))
  error = np.abs(native - want)
  assert np.all(error <= bound), np.max(error - bound)


@pytest.mark.parametrize("name", ["tanh_pade_4_4_clamp", "sigm_fastexp_512"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_gradient_any_shape_and_dtype(name, dtype):
  """Gradients keep dtype and shape (empty, scalar); half types as float32."""
  fn = activations.get(name)

  def gradient(x, dy):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = fn(x)
    return tape.gradient(y, x, output_gradients=dy)

  for shape in SHAPES:
    x = _inputs(shape, dtype, seed=3)
    dy = _inputs(shape, dtype, seed=4)
    grad = gradient(x, dy)
    assert grad.dtype == dtype and grad.shape == shape
    if dtype in (tf.float16, tf.bfloat16):
      want = tf.cast(gradient(tf.cast(x, tf.float32), tf.cast(dy, tf.float32)),
                     dtype)
    else:  # the same elements as a flat vector
      want = tf.reshape(gradient(tf.reshape(x, [-1]), tf.reshape(dy, [-1])),
                        shape)
    np.testing.assert_array_equal(grad.numpy(), want.numpy())


@pytest.mark.parametrize("name", [n for n in NAMES if n != "word2vec_sigmoid"])
def test_gradient_numerically_float64(name):
  x = np.linspace(-7.3, 7.1, 41)
  x = x[np.min(np.abs(x[:, None] - np.array(KINKS)[None, :]), axis=1) > 0.05]
  spec = activations.spec(name)
  if spec.clip is not None:
    x = x[np.min(np.abs(x[:, None] - np.array(spec.clip)[None, :]),
                 axis=1) > 0.05]
  fn = activations.get(name)
  theoretical, numerical = tf.test.compute_gradient(
      fn, [tf.constant(x, tf.float64)], delta=1e-6)
  np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-5,
                             atol=1e-6)


def test_word2vec_gradient_is_documented_choice():
  x = tf.constant([-7.0, -1.0, 0.0, 2.5, 7.0], tf.float64)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = _native("word2vec_sigmoid", x)
  grad = tape.gradient(y, x).numpy()
  y = y.numpy()
  want = np.where(np.abs(x.numpy()) <= 6, y * (1 - y), 0.0)
  np.testing.assert_allclose(grad, want, rtol=1e-12)


def test_word2vec_is_bit_faithful_to_the_c_code():
  table = reference.word2vec_table()
  x = np.random.default_rng(3).uniform(-7, 7, 100_000).astype(np.float32)
  # word2vec.c: (int)((f + MAX_EXP) * (EXP_TABLE_SIZE / MAX_EXP / 2)).
  index = ((x + np.float32(6)) * np.float32(83)).astype(np.int32)
  want = np.where(x > 6, 1.0, np.where(x < -6, 0.0,
                                       table[np.clip(index, 0, 999)]))
  got = _native("word2vec_sigmoid", tf.constant(x)).numpy()
  np.testing.assert_array_equal(got, want.astype(np.float32))


@pytest.mark.parametrize("name", NAMES)
def test_nan_in_nan_out(name):
  x = tf.constant([np.nan, 0.5, -np.nan], tf.float32)
  fn = activations.get(name)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = fn(x)
  grad = tape.gradient(y, x).numpy()
  assert np.isnan(y.numpy()[[0, 2]]).all() and not np.isnan(y.numpy()[1])
  assert np.isnan(grad[[0, 2]]).all()


@pytest.mark.parametrize("name,at_minus_inf,at_plus_inf", [
    ("tanh_pade_4_4", 0.0, 0.0),  # degree 3 over degree 4: decays
    ("serp", 0.0, 0.0),
    ("tanh_taylor_9", -np.inf, np.inf),
    ("serp_clamp", -1.0, 1.0),
    ("sigm_fastexp_512_clamp", 0.0, 1.0),
    ("ultra_fast_sigmoid", 0.5 - 0.99505475368673 / 2,
     0.5 + 0.99505475368673 / 2),
    ("tanh_hard", -1.0, 1.0),
    ("sigm_hard", 0.0, 1.0),
    ("word2vec_sigmoid", 0.0, 1.0),
])
def test_infinities_give_the_formula_limit(name, at_minus_inf, at_plus_inf):
  y = _native(name, tf.constant([-np.inf, np.inf], tf.float32)).numpy()
  np.testing.assert_allclose(y, [at_minus_inf, at_plus_inf], rtol=1e-6,
                             atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_twin_nan_in_nan_out_and_infinities(name, dtype):
  """The twin (TF_APPROX_PY_OPS=1, XLA) at NaN and +-inf, value and gradient.

  word2vec's table index of NaN used to be INT_MIN (a failing gather),
  ultra_fast_sigmoid's branches mapped NaN to a constant, and autodiff gave a
  finite f'(NaN) (linear pieces, clips) and NaN for fastexp's f' at +-inf.
  """
  x = tf.constant([np.nan, -np.inf, np.inf], dtype)
  results = []
  for fn in (lambda x: _native(name, x), lambda x: _reference(name, x)):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = fn(x)
    dx = tape.gradient(y, x, output_gradients=tf.ones_like(x))
    results.append([tf.cast(t, tf.float64).numpy() for t in (y, dx)])
  (y, dx), (y_twin, dx_twin) = results
  assert np.isnan(y_twin[0]) and np.isnan(dx_twin[0]), (y_twin, dx_twin)
  np.testing.assert_allclose(y_twin[1:], y[1:], rtol=TOLERANCE[dtype])
  np.testing.assert_array_equal(dx_twin[1:], dx[1:])


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64],
                         ids=lambda d: d.name)
def test_rationals_exact_for_huge_inputs(dtype):
  """Beyond Horner's overflow point the kernel switches to a 1/x form."""
  x = np.array([3e9, -7e12, 1e30, -3e38], dtype.as_numpy_dtype)
  spec = activations.spec("tanh_pade_4_4")
  a, b = np.array(spec.numerator), np.array(spec.denominator)
  # P/Q with the leading terms only: exact to rounding this far out.
  want = a[3] / (b[4] * x.astype(np.float64))
  got = _native("tanh_pade_4_4", tf.constant(x)).numpy()
  np.testing.assert_allclose(got, want, rtol=1e-5)
  with tf.GradientTape() as tape:
    xt = tf.constant(x)
    tape.watch(xt)
    y = _native("tanh_pade_4_4", xt)
  grad = tape.gradient(y, xt).numpy()
  # (Where the true derivative underflows the dtype it must come out 0.)
  want_grad = (-a[3] / (b[4] * x.astype(np.float64)**2)).astype(x.dtype)
  np.testing.assert_allclose(grad, want_grad, rtol=1e-5)


# Names of every compile-time shape of the CPU kernels (float32 [1/2], [3/4],
# [5/6] and fastexp n = 2, 512) and of the run-time ones.
VECTOR_PATH_NAMES = [
    "serp", "serp_clamp", "tanh_pade_4_4", "tanh_pade_4_4_clamp",
    "tanh_pade_5_6", "tanh_pade_7_8", "tanh_taylor_9_clamp", "sigm_pade_4_4",
    "sigm_fastexp_2", "sigm_fastexp_512_clamp", "sigm_fastexp_64",
    "ultra_fast_sigmoid", "tanh_hard", "sigm_hard"
]


@pytest.mark.parametrize("name", VECTOR_PATH_NAMES)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64],
                         ids=lambda d: d.name)
def test_vector_path_matches_scalar_path(name, dtype):
  """Whole vectors (x in place or not) give what elements alone give.

  Special inputs sit inside full vectors: NaN, infinities, inputs beyond the
  Horner-safe radius (which send their block to the scalar path) and the clip
  edges, where the gradient switches to 0.
  """
  rng = np.random.default_rng(7)
  x = rng.uniform(-8, 8, 2048)
  special = [np.nan, -np.nan, np.inf, -np.inf, 3e9, -7e12, 1e30, -3e38, 5.5,
             -5.5, 2.0, -2.0, 512.0, -512.0, 0.0, -0.0]
  x[rng.choice(1024, len(special), replace=False)] = special
  x = x.astype(dtype.as_numpy_dtype)  # 1024..2047 stay ordinary
  dy = rng.uniform(-2, 2, x.shape).astype(x.dtype)
  fn = activations.get(name)

  def forward_and_gradient(x, dy):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = fn(x)
    return y, tape.gradient(y, x, output_gradients=dy)

  @tf.function
  def in_place(x, dy):  # x * 1 is a fresh buffer the op may overwrite
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = fn(x * tf.constant(1, dtype))
    return y, tape.gradient(y, x, output_gradients=dy * tf.constant(1, dtype))

  alone = [
      forward_and_gradient(tf.constant(x[i:i + 1]), tf.constant(dy[i:i + 1]))
      for i in range(1040)
  ]
  want_y = np.concatenate([y.numpy() for y, _ in alone])
  want_dx = np.concatenate([g.numpy() for _, g in alone])
  for run in (forward_and_gradient, in_place):
    got_y, got_dx = run(tf.constant(x), tf.constant(dy))
    # Equal up to FMA contraction, which differs between unrolled loops
    # (compile-time shapes) and the scalar path's loops.
    eps = np.finfo(x.dtype).eps
    np.testing.assert_allclose(got_y.numpy()[:1040], want_y, rtol=4 * eps)
    np.testing.assert_allclose(got_dx.numpy()[:1040], want_dx, rtol=4 * eps)


def test_clamp_saturates_instead_of_decaying():
  big = tf.constant([-1e30, -50.0, 50.0, 1e30], tf.float32)
  edge = tf.constant([-5.5, -5.5, 5.5, 5.5], tf.float32)
  np.testing.assert_array_equal(
      _native("tanh_pade_4_4_clamp", big).numpy(),
      _native("tanh_pade_4_4", edge).numpy())
  y = _native("sigm_fastexp_2_clamp", tf.constant([3.0, 100.0])).numpy()
  np.testing.assert_allclose(y, [1.0, 1.0])  # plain fastexp_2 turns back
  assert _native("sigm_fastexp_2", tf.constant([100.0])).numpy()[0] < 0.01


@pytest.mark.parametrize("name,lo,hi,bound", [
    # Reference errors of plain least-squares fits, given to two digits
    # (ours respect parity and must be at least as good).
    ("tanh_pade_4_4", -5.5, 5.5, 2.3e-3),
    ("tanh_pade_5_4", -5.5, 5.5, 1.7e-4),
    ("sigm_pade_4_4", -5.5, 5.5, 4.4e-5),
    ("tanh_taylor_9", -5.5, 5.5, 7.3e-2),
    ("sigm_taylor_9", -5.5, 5.5, 4.1e-3),
    ("sigm_fastexp_512", -5.5, 5.5, 4.4e-4),
    ("sigm_fastexp_2", -2, 2, 1.35e-1),  # turns back beyond n = 2
    ("tanh_cont_4", -5.5, 5.5, 6.0e-2),
    ("serp", -2, 2, 5.6e-2),
])
def test_accuracy_matches_spec(name, lo, hi, bound):
  x = np.linspace(lo, hi, 200_001)
  exact = np.tanh(x) if name.startswith(("tanh", "serp")) else 1 / (
      1 + np.exp(-x))
  y = _native(name, tf.constant(x, tf.float64)).numpy()
  assert np.max(np.abs(y - exact)) <= bound


def test_half_types_compute_in_float32():
  x32 = _inputs((513,), tf.float32)
  for dtype in (tf.float16, tf.bfloat16):
    x = tf.cast(x32, dtype)
    want = tf.cast(_native("tanh_pade_4_4", tf.cast(x, tf.float32)), dtype)
    np.testing.assert_array_equal(
        _native("tanh_pade_4_4", x).numpy(), want.numpy())


def test_native_module_matches_op_bitwise():
  from tf_approx import _native as native_module  # pylint: disable=g-import-not-at-top
  x = np.random.default_rng(4).uniform(-9, 9, 10_001).astype(np.float32)
  for name in ("tanh_pade_4_4_clamp", "sigm_fastexp_512", "serp"):
    spec = activations.spec(name)
    lo, hi = spec.clip or (0.0, 0.0)
    native_spec = native_module.Spec(
        kind=spec.kind, numerator=list(spec.numerator),
        denominator=list(spec.denominator), offset=spec.offset,
        squarings=spec.squarings, clip=spec.clip is not None, clip_min=lo,
        clip_max=hi)
    np.testing.assert_array_equal(native_module.forward(native_spec, x),
                                  _native(name, tf.constant(x)).numpy())


def test_xla_context_uses_the_composite_twin():
  fn = activations.get("tanh_pade_4_4")
  x = _inputs((64,), tf.float32)
  compiled = tf.function(fn, jit_compile=True)
  np.testing.assert_allclose(compiled(x).numpy(), fn(x).numpy(), rtol=1e-6,
                             atol=1e-6)
  graph = tf.function(fn, jit_compile=True).get_concrete_function(x).graph
  assert not any(op.type.startswith("TfApprox") for op in
                 graph.get_operations())
  graph = tf.function(fn).get_concrete_function(x).graph
  assert any(op.type == "TfApprox>Activation" for op in graph.get_operations())


def test_gradient_in_graph_mode_uses_the_gradient_op():
  fn = activations.get("sigm_fastexp_512")

  @tf.function
  def grad(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = fn(x)
    return tape.gradient(y, x)

  x = _inputs((32,), tf.float32)
  graph = grad.get_concrete_function(x).graph
  assert any(op.type == "TfApprox>ActivationGrad"
             for op in graph.get_operations())
  np.testing.assert_allclose(grad(x).numpy(), reference_gradient(
      "sigm_fastexp_512", x), rtol=1e-5, atol=1e-7)


def reference_gradient(name, x):
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = _reference(name, x)
  return tape.gradient(y, x).numpy()


# ---------------------------------------------------------------------------
# Names.

def test_every_listed_name_resolves():
  all_names = activations.names()
  assert len(all_names) == len(set(all_names))
  for name in all_names:
    assert isinstance(activations.spec(name), activation_ops.ActivationSpec)
  for name in activations.SAFE + activations.RANGED:
    assert name in all_names and name + "_clamp" in all_names


@pytest.mark.parametrize("name", [
    "tanh_pade_0_4", "tanh_pade_9_1", "tanh_taylor_16", "sigm_taylor_0",
    "sigm_fastexp_3", "sigm_fastexp_8192", "sigm_fastexp_1", "tanh_cont_9",
    "tanh_hard_clamp", "ultra_fast_sigmoid_clamp", "tanh_pade_4", "tanh",
    "tanh_pade_4_4_clamp_clamp", "", "sigm_fastexp_0512"
])
def test_malformed_or_out_of_range_names(name):
  with pytest.raises(ValueError, match="Unknown tf_approx activation"):
    activations.get(name)


def test_unknown_name_suggests_close_ones():
  with pytest.raises(ValueError, match="tanh_pade_4_4"):
    activations.get("tanh_pade_4_44")


def test_continued_fraction_is_lamberts():
  x = np.linspace(-4, 4, 101)
  for levels in range(1, 9):
    tail = np.full_like(x, 2 * levels - 1.0)
    for k in range(levels - 1, 0, -1):
      tail = (2 * k - 1) + x**2 / tail
    want = x / tail
    y = _native(f"tanh_cont_{levels}", tf.constant(x)).numpy()
    np.testing.assert_allclose(y, want, rtol=2e-7, atol=1e-7)


def test_tanh_cont_clamp_is_where_it_stops_rising():
  # tanh_cont_2 = 3x / (3 + x^2) peaks at sqrt(3).
  assert activations.spec("tanh_cont_2_clamp").clip == pytest.approx(
      (-np.sqrt(3), np.sqrt(3)))
  # tanh_cont_1 = x rises forever; it is clamped where it reaches 1.
  assert activations.spec("tanh_cont_1_clamp").clip == pytest.approx((-1, 1))


# ---------------------------------------------------------------------------
# User-registered functions.

def test_register_rational_runs_on_the_native_op():
  fn = activations.register_rational("test_my_tanh", [0, 1, 0, 0.1],
                                     [1, 0, 0.43])
  assert activations.get("test_my_tanh") == fn
  assert "test_my_tanh" in activations.names()
  x = _inputs((100,), tf.float64)
  want = (x + 0.1 * x**3) / (1 + 0.43 * x**2)
  np.testing.assert_allclose(fn(x).numpy(), want.numpy(), rtol=1e-6)
  graph = tf.function(fn).get_concrete_function(x).graph
  assert any(op.type == "TfApprox>Activation" for op in graph.get_operations())


def test_register_polynomial_and_continued_fraction():
  poly = activations.register_polynomial("test_cubic", [0, 1, 0, -1 / 3],
                                         clip=(-1, 1))
  x = tf.constant([-3.0, 0.5, 3.0], tf.float64)
  np.testing.assert_allclose(poly(x).numpy(),
                             [-2 / 3, 0.5 - 0.125 / 3, 2 / 3], rtol=1e-6)
  cont = activations.register_continued_fraction("test_lambert3", [1, 3, 5])
  np.testing.assert_allclose(cont(x).numpy(),
                             _native("tanh_cont_3", x).numpy(), rtol=1e-7)


@pytest.mark.parametrize("kwargs,match", [
    (dict(name="tanh_pade_4_4", numerator=[1], denominator=[1]), "built-in"),
    (dict(name="2bad", numerator=[1], denominator=[1]), "identifier"),
    (dict(name="ok_name", numerator=[], denominator=[1]), "numerator"),
    (dict(name="ok_name", numerator=[1] * 17, denominator=[1]), "numerator"),
    (dict(name="ok_name", numerator=[1], denominator=[0, 0]), "denominator"),
    (dict(name="ok_name", numerator=[np.nan], denominator=[1]), "numerator"),
    (dict(name="ok_name", numerator=[1], denominator=[1], clip=(2, 1)),
     "clip"),
])
def test_register_rational_rejects_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    activations.register_rational(**kwargs)


# ---------------------------------------------------------------------------
# Bad input reaching the ops.

@pytest.mark.parametrize("dtype", [tf.int32, tf.int64, tf.complex64,
                                   tf.uint8])
def test_unsupported_dtypes_raise_before_execution(dtype):
  with pytest.raises(TypeError, match="float16, bfloat16, float32, float64"):
    activations.get("tanh_pade_4_4")(tf.zeros([3], dtype))


def _raw_op(**attrs):
  library = _library.load_ops()
  return library.tf_approx_activation(tf.constant([1.0]), **attrs)


@pytest.mark.parametrize("attrs,argument", [
    (dict(kind="fastexp_sigmoid", squarings=0), "squarings"),
    (dict(kind="fastexp_sigmoid", squarings=13), "squarings"),
    (dict(kind="rational", numerator=[1.0] * 17), "numerator"),
    (dict(kind="rational", denominator=[1.0] * 17), "denominator"),
    (dict(kind="rational", denominator=[0.0]), "denominator"),
    (dict(kind="rational", numerator=[]), "numerator"),
    (dict(kind="hard_tanh", clip=True, clip_min=1.0, clip_max=-1.0),
     "clip_min"),
    (dict(kind="spline", spline=[0.0] * 6, below=[-1, 0, 0],
          above=[1, 1, 0]), "spline"),
    (dict(kind="spline", spline=[0.0] * 132, below=[-1, 0, 0],
          above=[1, 1, 0]), "spline"),
    (dict(kind="spline", spline=[0.0, 1.0, 0.0, np.inf], below=[-1, 0, 0],
          above=[1, 1, 0]), "spline"),
    (dict(kind="spline", spline=[0.0] * 4, above=[1, 1, 0]), "below"),
    (dict(kind="spline", spline=[0.0] * 4, below=[1, 0, 0],
          above=[1, 1, 0]), "below"),
    (dict(kind="spline", spline=[0.0] * 4, below=[-1, 0, 0],
          above=[1, 1, 0], input_scale=-1.0), "input_scale"),
    (dict(kind="spline", spline=[0.0] * 4, below=[-1, 0, 0],
          above=[1, 1, 0], clip=True, clip_min=-1.0, clip_max=1.0), "clip"),
    (dict(kind="rational", spline=[0.0] * 4), "spline"),
])
def test_bad_attrs_raise_invalid_argument_naming_it(attrs, argument):
  with pytest.raises(tf.errors.InvalidArgumentError, match=argument):
    _raw_op(**attrs)


def test_unknown_kind_is_rejected_by_the_op_def():
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError,
                      TypeError), match="kind"):
    _raw_op(kind="cosine")


def test_gradient_op_rejects_mismatched_shapes():
  library = _library.load_ops()
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError),
                     match="dy|shape"):
    library.tf_approx_activation_grad(tf.ones([3]), tf.ones([4]),
                                      kind="hard_tanh")


# ---------------------------------------------------------------------------
# The library loader.

def test_mismatched_build_is_reported_with_versions_and_command(tmp_path):
  fake = tmp_path / "_ops.so"
  fake.write_bytes(b"\x7fELF...TF_APPROX_BUILT_WITH_TENSORFLOW=2.19.0;...")
  assert _library.built_tensorflow_version(fake) == "2.19.0"
  with pytest.raises(_library.OpLibraryError) as error:
    _library.check_library(fake, installed="2.21.0")
  message = str(error.value)
  assert "2.19.0" in message and "2.21.0" in message
  assert _library.REBUILD_COMMAND in message
  assert _library.PY_OPS_ENV in message


def test_missing_library_is_reported(tmp_path):
  with pytest.raises(_library.OpLibraryError, match="not built"):
    _library.check_library(tmp_path / "_ops.so")


def test_installed_library_matches_installed_tensorflow():
  assert _library.check_library() == tf.__version__


def test_python_ops_env_forces_the_composite_twins():
  script = (
      "import warnings, tensorflow as tf\n"
      "with warnings.catch_warnings(record=True) as w:\n"
      "  warnings.simplefilter('always')\n"
      "  import tf_approx\n"
      "  assert any('TF_APPROX_PY_OPS' in str(x.message) for x in w), w\n"
      "f = tf_approx.activations.get('tanh_pade_4_4')\n"
      "graph = tf.function(f).get_concrete_function(tf.ones([3])).graph\n"
      "assert not any(o.type.startswith('TfApprox') for o in "
      "graph.get_operations())\n"
      "print(float(f(tf.constant(1.0))))\n")
  env = dict(os.environ, TF_APPROX_PY_OPS="1", TF_CPP_MIN_LOG_LEVEL="3")
  out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                       capture_output=True, text=True, timeout=120).stdout
  want = float(_native("tanh_pade_4_4", tf.constant(1.0)))
  assert float(out.strip().splitlines()[-1]) == pytest.approx(want, rel=1e-6)


def test_public_api():
  assert callable(tf_approx.load_ops)
  assert tf_approx.load_ops() is _library.load_ops()


def test_op_takes_an_activation_name():
  x = tf.constant(np.linspace(-4, 4, 17), tf.float32)
  np.testing.assert_array_equal(
      activation_ops.activation(x, "tanh_pade_4_4").numpy(),
      activation_ops.activation(x, activations.spec("tanh_pade_4_4")).numpy())
  with pytest.raises(ValueError, match="Unknown tf_approx activation"):
    activation_ops.activation(x, "tanh_pade_44")
  for spec in (None, 3, activations.get("serp")):
    with pytest.raises(TypeError, match="`spec` must be an ActivationSpec or "
                       "an activation name"):
      activation_ops.activation(x, spec)
