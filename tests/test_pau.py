"""Padé Activation Units: the native ops against their composite twin."""

import numpy as np
import pytest
import tensorflow as tf

import tf_approx
from tf_approx.reference import counter_noise
from tf_approx.reference import pau as reference

DENOMINATORS = reference.DENOMINATORS
DTYPES = [tf.float16, tf.bfloat16, tf.float32, tf.float64]
SHAPES = [(), (0,), (7,), (3, 5, 17), (2, 0, 3), (4, 33), (1000,)]
TOLERANCE = {tf.float16: 1e-2, tf.bfloat16: 4e-2, tf.float32: 2e-5,
             tf.float64: 1e-12}
SEED = tf.constant([3, 7], tf.int64)

# The published leaky-ReLU init of a safe (5, 4) PAU (Molina et al., Padé Activation Units).
LEAKY_A = [3.35583603e-02, 5.05000375e-01, 1.65343934e+00, 2.01001052e+00,
           9.31901999e-01, 1.52424124e-01]
LEAKY_B = [3.30847488e-06, 3.98021568e+00, 5.12471206e-07, 3.01830109e-01]


def _coefficients(order=(5, 4), channels=None, seed=0):
  """Random coefficients with a denominator that keeps 'unsafe' pole-free.

  b's odd terms are small and its even ones positive, so Q = 1 + sum b_k x^k
  stays >= ~1 on the inputs used here; no coefficient is near 0 (sign(b_k)).
  """
  rng = np.random.default_rng(seed)
  m, n = order
  shape = () if channels is None else (channels,)
  a = rng.uniform(-1, 1, size=shape + (m + 1,))
  b = rng.uniform(0.2, 1.0, size=shape + (n,)) / np.arange(1, n + 1) ** 2
  b[..., ::2] *= 0.05  # b_1, b_3, ...
  return a, b


def _inputs(shape, seed=0, scale=3.0):
  return np.random.default_rng(seed).normal(size=shape) * scale


def _run(fn, x, a, b, kind, randomized):
  return fn(x, a, b, kind, randomized, SEED)


def _gradients(fn, x, a, b, kind, randomized, weights):
  with tf.GradientTape() as tape:
    tape.watch([x, a, b])
    y = _run(fn, x, a, b, kind, randomized)
    loss = tf.reduce_sum(tf.cast(y, tf.float64) * weights)
  return tape.gradient(loss, [x, a, b])


def _assert_close(actual, expected, dtype, scale=1.0):
  actual = tf.cast(actual, tf.float64).numpy()
  expected = tf.cast(expected, tf.float64).numpy()
  tol = TOLERANCE[dtype] * scale
  np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", DENOMINATORS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("per_channel", [False, True], ids=["shared", "channel"])
@pytest.mark.parametrize("randomized", [0.0, 0.1])
def test_forward_matches_reference(kind, dtype, per_channel, randomized):
  for shape in SHAPES:
    if per_channel and not shape:
      continue
    a, b = _coefficients(channels=shape[-1] if per_channel else None)
    x = tf.constant(_inputs(shape), dtype)
    a, b = tf.constant(a, dtype), tf.constant(b, dtype)
    y = _run(tf_approx.ops.pau, x, a, b, kind, randomized)
    assert y.dtype == dtype and y.shape == shape
    _assert_close(y, _run(reference.pau, x, a, b, kind, randomized), dtype)


@pytest.mark.parametrize("kind", DENOMINATORS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("per_channel", [False, True], ids=["shared", "channel"])
@pytest.mark.parametrize("randomized", [0.0, 0.1])
def test_gradients_match_reference(kind, dtype, per_channel, randomized):
  shape = (37, 19)
  a, b = _coefficients(channels=shape[-1] if per_channel else None, seed=1)
  x = tf.constant(_inputs(shape, seed=1), dtype)
  a, b = tf.constant(a, dtype), tf.constant(b, dtype)
  weights = tf.constant(_inputs(shape, seed=2, scale=1.0))
  native = _gradients(tf_approx.ops.pau, x, a, b, kind, randomized, weights)
  twin = _gradients(reference.pau, x, a, b, kind, randomized, weights)
  for got, want in zip(native, twin):
    assert got.dtype == dtype
    # Coefficient gradients are sums over ~700 elements.
    _assert_close(got, want, dtype, scale=1.0 if got.shape == x.shape else 20)


@pytest.mark.parametrize("order", [(1, 1), (2, 1), (5, 4), (6, 4), (3, 7),
                                   (10, 10)])
@pytest.mark.parametrize("kind", DENOMINATORS)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64],
                         ids=lambda d: d.name)
def test_every_order_matches_reference(order, kind, dtype):
  # float32 (5, 4) runs a loop specialised for that order, every other order
  # and dtype the generic one.
  a, b = (tf.constant(v, dtype) for v in _coefficients(order, seed=3))
  x = tf.constant(_inputs((64, 9), seed=3, scale=1.5), dtype)
  weights = tf.constant(_inputs((64, 9), seed=4, scale=1.0))
  _assert_close(tf_approx.ops.pau(x, a, b, kind), reference.pau(x, a, b, kind),
                dtype, scale=10)
  native = _gradients(tf_approx.ops.pau, x, a, b, kind, 0.0, weights)
  twin = _gradients(reference.pau, x, a, b, kind, 0.0, weights)
  for got, want in zip(native, twin):
    _assert_close(got, want, dtype, scale=1e3)


def _forward_and_dx(x, a, b, dy, kind, dtype):
  x = tf.constant(x, dtype)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = tf_approx.ops.pau(x, tf.constant(a, dtype), tf.constant(b, dtype),
                          kind)
  dx = tape.gradient(y, x, output_gradients=tf.constant(dy, dtype))
  return y.numpy(), dx.numpy()


@pytest.mark.parametrize("kind", DENOMINATORS)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64],
                         ids=lambda d: d.name)
@pytest.mark.parametrize("per_channel", [False, True], ids=["shared", "channel"])
def test_vector_paths_match_scalar_path(kind, dtype, per_channel):
  # Blocks of whole vectors (one loop), blocks with an input beyond the far
  # radius (vectors and the scalar path mixed) and the scalar path alone (one
  # column of a per-channel PAU; fewer elements than a vector) agree: y bit
  # for bit (same form, same instruction set), dx to rounding (GCC contracts
  # its products into FMAs differently in the vector and scalar code).
  far = 1e4 if dtype == tf.float32 else 1e31
  x = _inputs((300, 32), seed=11)  # 19 blocks of 512 elements
  x[40, 5], x[41, 20], x[200, 31] = far, -far, far
  dy = _inputs(x.shape, seed=12, scale=1.0)
  a, b = _coefficients(channels=32 if per_channel else None, seed=11)
  y, dx = _forward_and_dx(x, a, b, dy, kind, dtype)
  assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
  tol = 1e-5 if dtype == tf.float32 else 1e-13
  atol = tol * np.max(np.abs(dx))
  if per_channel:
    for c in range(32):
      y_c, dx_c = _forward_and_dx(x[:, c:c + 1], a[c:c + 1], b[c:c + 1],
                                  dy[:, c:c + 1], kind, dtype)
      np.testing.assert_array_equal(y_c, y[:, c:c + 1])
      np.testing.assert_allclose(dx_c, dx[:, c:c + 1], rtol=tol, atol=atol)
  else:
    # A block with a far input, one without, and the last elements.
    for start in list(range(1200, 1500, 7)) + list(range(6000, 6300, 7)) + [
        9593]:
      chunk = slice(start, start + 7)
      y_c, dx_c = _forward_and_dx(x.ravel()[chunk], a, b, dy.ravel()[chunk],
                                  kind, dtype)
      np.testing.assert_array_equal(y_c, y.ravel()[chunk])
      np.testing.assert_allclose(dx_c, dx.ravel()[chunk], rtol=tol,
                                 atol=atol)


@pytest.mark.parametrize("kind", DENOMINATORS)
@pytest.mark.parametrize("per_channel", [False, True], ids=["shared", "channel"])
def test_gradients_match_finite_differences_float64(kind, per_channel,
                                                    numeric_jacobians):
  # Inputs near 0 exercise the sign(x) terms, large ones the far form.
  x = np.array([[-40.0, -2.5, -1e-4, 3e-5], [0.7, 1.3, 25.0, -0.3],
                [1e-3, -1e-3, 4.0, 300.0]])
  a, b = _coefficients(channels=4 if per_channel else None, seed=6)

  def f(x, a, b):
    return tf_approx.ops.pau(x, a, b, kind).numpy()

  w, numeric = numeric_jacobians(f, [x, a, b])
  analytic = _gradients(tf_approx.ops.pau, tf.constant(x), tf.constant(a),
                        tf.constant(b), kind, 0.0, tf.constant(w))
  for got, want in zip(analytic, numeric):
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)


def test_tf_compute_gradient_float64():
  x = tf.constant(_inputs((3, 4), seed=7))
  a, b = (tf.constant(v) for v in _coefficients(seed=7))
  theoretical, numerical = tf.test.compute_gradient(
      lambda x, a, b: tf_approx.ops.pau(x, a, b), [x, a, b], delta=1e-6)
  for t, n in zip(theoretical, numerical):
    np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-6)


def test_derivative_at_zero_uses_sign_zero():
  a, b = _coefficients(seed=8)
  x = tf.constant([0.0], tf.float64)
  for kind in DENOMINATORS:
    dx, da, db = _gradients(tf_approx.ops.pau, x, tf.constant(a),
                            tf.constant(b), kind, 0.0, tf.ones([1], tf.float64))
    # F'(0) = P'(0) - Q'(0) P(0) = a_1 - b_1 a_0 (unsafe), a_1 where Q'
    # carries sign(x) or sign(sum b_k x^k) = sign(0) = 0; dF/da_j = 0^j;
    # dF/db_k = 0.
    want = a[1] - b[0] * a[0] if kind == "unsafe" else a[1]
    np.testing.assert_allclose(dx.numpy(), [want], rtol=1e-15)
    np.testing.assert_allclose(da.numpy(), np.eye(6)[0])
    np.testing.assert_array_equal(db.numpy(), np.zeros(4))


@pytest.mark.parametrize("kind", ["safe", "abs_of_sum"])
def test_huge_inputs_reach_the_limit_in_float32(kind):
  a, b = np.array(LEAKY_A), np.array(LEAKY_B)
  x = np.array([1e3, -1e4, 1e10, -1e20, 1e30, 3e38, np.inf, -np.inf])
  got = tf_approx.ops.pau(tf.constant(x, tf.float32), a, b, kind).numpy()
  # float64 twin where it does not overflow, the limit a_5 x / |b_4| beyond.
  want = reference.pau(tf.constant(x), a, b, kind).numpy()
  limit = a[5] / abs(b[3]) * x
  want = np.where(np.abs(x) > 1e30, limit, want)
  np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-5)
  dx, da, db = _gradients(tf_approx.ops.pau, tf.constant(x[:5], tf.float32),
                          tf.constant(a, tf.float32), tf.constant(b, tf.float32),
                          kind, 0.0, tf.ones([5], tf.float64))
  for g in (dx, da, db):
    assert np.all(np.isfinite(g.numpy())), g


# (x + 0.1 x^2) / (1 + 0.5 x^2) written as a (5, 4) PAU: its leading
# coefficients are zero, and F -> 0.2 as |x| -> inf.
SPARSE_A = [0.0, 1.0, 0.1, 0.0, 0.0, 0.0]
SPARSE_B = [0.0, 0.5, 0.0, 0.0]


def _sparse_exact(x):
  """F and F' of SPARSE_A / SPARSE_B in float64, in t = 1/x beyond 1."""
  x = np.asarray(x, np.float64)
  with np.errstate(divide="ignore"):
    t = np.where(np.abs(x) > 1, 1.0 / x, 0.0)
  small = np.abs(x) <= 1
  xs = np.where(small, x, 0.0)
  y = np.where(small, (xs + 0.1 * xs**2) / (1 + 0.5 * xs**2),
               (t + 0.1) / (t**2 + 0.5))
  dy = np.where(small, (1 + 0.2 * xs - 0.5 * xs**2) / (1 + 0.5 * xs**2)**2,
                (t**4 + 0.2 * t**3 - 0.5 * t**2) / (t**2 + 0.5)**2)
  return y, dy


@pytest.mark.parametrize("kind", DENOMINATORS)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64],
                         ids=lambda d: d.name)
def test_far_inputs_use_the_highest_nonzero_coefficients(kind, dtype):
  # The far form once divided by |x|^4 (n = 4): with b_4 = 0 every term
  # underflowed and F came out 0/0 = NaN at 1e20, where F = 0.2.
  huge = 1e300 if dtype == tf.float64 else 3e38
  x = np.array([0.5, -3.0, 1e8, -1e8, 1e15, 1e20, -1e30, huge, np.inf,
                -np.inf])
  want_y, want_dx = _sparse_exact(x)
  want_y[-2:] = 0.2
  for fn in (tf_approx.ops.pau, reference.pau):
    xt = tf.constant(x, dtype)
    with tf.GradientTape() as tape:
      tape.watch(xt)
      y = fn(xt, tf.constant(SPARSE_A, dtype), tf.constant(SPARSE_B, dtype),
             kind)
    np.testing.assert_allclose(y.numpy(), want_y, rtol=1e-6,
                               err_msg=fn.__module__)
    dx = tape.gradient(y, xt).numpy()[:-2]
    # F' = (P'Q - PQ') / Q^2 cancels: P'/Q and PQ'/Q^2 are each ~0.4/x while
    # F' ~ -2/x^2, so the rounding error is ~eps/x absolute, not relative.
    atol = 1e-5 / np.maximum(1.0, np.abs(x[:-2]))
    assert np.all(np.abs(dx - want_dx[:-2]) <= 1e-5 * np.abs(want_dx[:-2])
                  + atol), (fn.__module__, dx, want_dx)


@pytest.mark.parametrize("kind", DENOMINATORS)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64],
                         ids=lambda d: d.name)
def test_native_and_twin_agree_wherever_finite_far_out(kind, dtype):
  # Sparse coefficients (zeros at the top and inside), every input alone so
  # that no sum mixes finite and overflowing gradients.
  rng = np.random.default_rng(11)
  for trial in range(6):
    a, b = _coefficients((5, 4), seed=20 + trial)
    a[rng.random(6) < 0.4] = 0.0
    b[rng.random(4) < 0.4] = 0.0
    for x in (1e6, -3e9, 1e13, -1e19, 1e25, 1e37, np.inf, -np.inf):
      got = _gradients(tf_approx.ops.pau, tf.constant([x], dtype),
                       tf.constant(a, dtype), tf.constant(b, dtype), kind,
                       0.0, tf.ones([1], tf.float64))
      want = _gradients(reference.pau, tf.constant([x], dtype),
                        tf.constant(a, dtype), tf.constant(b, dtype), kind,
                        0.0, tf.ones([1], tf.float64))
      y = tf_approx.ops.pau(tf.constant([x], dtype), a, b, kind).numpy()
      y_twin = reference.pau(tf.constant([x], dtype), a, b, kind).numpy()
      context = f"a={a} b={b} x={x}"
      assert np.isfinite(y_twin).all() == np.isfinite(y).all(), context
      np.testing.assert_allclose(y, y_twin, rtol=1e-5, err_msg=context)
      if not np.isfinite(x):
        continue
      for g, w in zip(got, want):
        g, w = g.numpy(), w.numpy()
        finite = np.isfinite(g) & np.isfinite(w)
        # The coefficient gradients x^j / Q span many decades; the twin
        # scales by |x|^-max(m, n), the kernel by |x|^-n, so the smallest
        # may underflow (TF flushes denormals) in one only: they are
        # compared relative to the largest.
        scale = np.max(np.abs(w[finite]), initial=0.0)
        np.testing.assert_allclose(g[finite], w[finite], rtol=1e-4,
                                   atol=1e-6 * scale, err_msg=context)


def test_noise_is_keyed_by_first_element():
  # [seed, step, first]: element i of x draws what element first + i of a
  # larger tensor draws, so a replica's slice matches the whole batch.
  x = tf.constant(_inputs((48, 5), seed=12))
  a, b = (tf.constant(v) for v in _coefficients(seed=12))
  # Not bitwise: an element's loop (vector, or scalar for a tail) moves with
  # its position, and the two round c + alpha |c| u differently (1 ulp);
  # different noise would differ by ~alpha.
  for fn in (tf_approx.ops.pau, reference.pau):
    whole = fn(x, a, b, "safe", 0.1, SEED)
    part = fn(x[20:], a, b, "safe", 0.1, [3, 7, 20 * 5])
    np.testing.assert_allclose(part.numpy(), whole.numpy()[20:], rtol=1e-13,
                               atol=0)
    again = fn(x[20:], a, b, "safe", 0.1, SEED)
    assert not np.allclose(again.numpy(), whole.numpy()[20:])
  # The gradient op regenerates the same noise.
  weights = tf.constant(_inputs((48, 5), seed=13))
  whole = _gradients(tf_approx.ops.pau, x, a, b, "safe", 0.1, weights)
  with tf.GradientTape() as tape:
    tape.watch(x)
    part = tf_approx.ops.pau(x[20:], a, b, randomized=0.1, seed=[3, 7, 100])
  dx_part = tape.gradient(part, x, output_gradients=weights[20:])
  np.testing.assert_allclose(dx_part.numpy()[20:], whole[0].numpy()[20:],
                             rtol=1e-13)


def test_limits_at_infinity_by_degree():
  x = tf.constant([np.inf, -np.inf])
  a, b = [0.5, 1.0, 2.0], [1.0, 4.0]  # m = n = 2: F -> a_2 / |b_2|
  np.testing.assert_allclose(tf_approx.ops.pau(x, a, b).numpy(), [0.5, 0.5])
  a, b = [0.5, 1.0], [1.0, 4.0]  # m < n: F -> 0
  np.testing.assert_array_equal(tf_approx.ops.pau(x, a, b).numpy(), [0.0, 0.0])


@pytest.mark.parametrize("per_channel", [False, True], ids=["shared", "channel"])
def test_gradients_of_empty_inputs(per_channel):
  # Zero channels included: no division by the channel count.
  for shape in [(0,), (3, 0), (0, 4)]:
    a, b = _coefficients(channels=shape[-1] if per_channel else None)
    x = tf.zeros(shape, tf.float64)
    dx, da, db = _gradients(tf_approx.ops.pau, x, tf.constant(a),
                            tf.constant(b), "safe", 0.0,
                            tf.zeros(shape, tf.float64))
    assert dx.shape == shape
    np.testing.assert_array_equal(da.numpy(), np.zeros_like(a))
    np.testing.assert_array_equal(db.numpy(), np.zeros_like(b))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_nan_in_nan_out(dtype):
  a, b = (tf.constant(v, dtype) for v in _coefficients(seed=9))
  x = tf.constant([np.nan] * 40 + [1.0], dtype)
  for kind in DENOMINATORS:
    y = tf_approx.ops.pau(x, a, b, kind)
    assert np.all(np.isnan(tf.cast(y, tf.float32).numpy()[:40]))
    dx, _, _ = _gradients(tf_approx.ops.pau, x, a, b, kind, 0.0,
                          tf.ones([41], tf.float64))
    assert np.all(np.isnan(tf.cast(dx, tf.float32).numpy()[:40]))
    assert np.isfinite(float(dx[40]))


def test_randomized_noise_is_bounded_and_seeded():
  x = tf.constant(_inputs((2000,), seed=10))
  a, b = (tf.constant(v) for v in _coefficients(seed=10))
  plain = tf_approx.ops.pau(x, a, b)
  first = tf_approx.ops.pau(x, a, b, randomized=0.1, seed=[1, 0])
  again = tf_approx.ops.pau(x, a, b, randomized=0.1, seed=[1, 0])
  other_step = tf_approx.ops.pau(x, a, b, randomized=0.1, seed=[1, 1])
  np.testing.assert_array_equal(first.numpy(), again.numpy())
  assert not np.allclose(first.numpy(), other_step.numpy())
  assert not np.allclose(first.numpy(), plain.numpy())
  u = counter_noise.noise_uniform(100000, 10, tf.constant([1, 0], tf.int64))
  u = u.numpy()
  assert -1 < u.min() < -0.999 and 0.999 < u.max() < 1
  assert abs(u.mean()) < 0.01 and abs(u.var() - 1 / 3) < 0.01
  # Neighbouring elements and coefficients are uncorrelated.
  assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 0.02
  assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.02


_DETERMINISM_SCRIPT = """
import sys, hashlib
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[1]))
import tf_approx
digest = hashlib.sha256()
rng = np.random.default_rng(0)
for shape, channels, randomized in [((1 << 20,), None, 0.0),
                                    ((4096, 96), 96, 0.0),
                                    ((300001,), None, 0.05)]:
  x = tf.constant(rng.normal(size=shape) * 3, tf.float32)
  cshape = () if channels is None else (channels,)
  a = tf.constant(rng.normal(size=cshape + (6,)), tf.float32)
  b = tf.constant(rng.normal(size=cshape + (4,)), tf.float32)
  dy = tf.constant(rng.normal(size=shape), tf.float32)
  with tf.GradientTape() as tape:
    tape.watch([a, b])
    y = tf_approx.ops.pau(x, a, b, randomized=randomized, seed=[5, 9])
  for g in tape.gradient(y, [a, b], output_gradients=dy):
    digest.update(g.numpy().tobytes())
print(digest.hexdigest())
"""


def test_coefficient_gradients_are_bitwise_reproducible(run_python):
  digests = []
  for threads in (1, 2, 2, 7):
    result = run_python(_DETERMINISM_SCRIPT, threads)
    assert result.returncode == 0, result.stderr
    digests.append(result.stdout.strip().splitlines()[-1])
  assert len(set(digests)) == 1, digests


@pytest.mark.parametrize("numerator, denominator, message", [
    ([1.0], [1.0], "`numerator` must have 2 to 11"),
    ([1.0] * 12, [1.0], "`numerator` must have 2 to 11"),
    ([1.0, 2.0], np.ones([0]), "`denominator` must have 1 to 10"),
    ([1.0, 2.0], [1.0] * 11, "`denominator` must have 1 to 10"),
    (np.ones([3, 2]), [1.0], "`denominator` must have rank 2"),
    (np.ones([5, 2]), np.ones([5, 1]), "as many rows as `x`"),
    (np.ones([1, 1, 2]), np.ones([1, 1, 1]), "`numerator` must have shape"),
])
def test_bad_coefficient_shapes_raise_invalid_argument(numerator, denominator,
                                                       message):
  x = tf.zeros([2, 3])
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    tf_approx.ops.pau(x, numerator, denominator)
  # The same from the kernel when shapes are unknown while tracing.
  spec = [tf.TensorSpec(None, tf.float32)] * 3

  @tf.function(input_signature=spec)
  def traced(x, a, b):
    return tf_approx.ops.pau(x, a, b)

  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    traced(x, tf.constant(numerator, tf.float32),
           tf.constant(denominator, tf.float32))


def test_bad_seed_shape_raises_invalid_argument():
  for seed in ([1, 2, 3, 4], [1], [[1, 2]]):
    with pytest.raises(tf.errors.InvalidArgumentError, match="`seed`"):
      tf_approx.ops.pau(tf.zeros([3]), [0.0, 1.0], [1.0], randomized=0.1,
                        seed=seed)
  with pytest.raises(tf.errors.InvalidArgumentError, match="first element"):
    tf_approx.ops.pau(tf.zeros([3]), [0.0, 1.0], [1.0], randomized=0.1,
                      seed=[1, 2, -1])
  with pytest.raises(TypeError, match="`seed` must hold integers"):
    tf_approx.ops.pau(tf.zeros([3]), [0.0, 1.0], [1.0], randomized=0.1,
                      seed=[1.5, 0.7])


def test_bad_python_arguments_raise():
  x = tf.zeros([3])
  with pytest.raises(ValueError, match="`denominator_kind` must be one of"):
    tf_approx.ops.pau(x, [0.0, 1.0], [1.0], denominator_kind="bogus")
  with pytest.raises(ValueError, match="`randomized`"):
    tf_approx.ops.pau(x, [0.0, 1.0], [1.0], randomized=-0.1)
  with pytest.raises(TypeError, match="float16, bfloat16, float32, float64"):
    tf_approx.ops.pau(tf.zeros([3], tf.int32), [0, 1], [1])


def test_complex_or_bool_coefficients_raise_type_error():
  x = tf.ones([3])
  # A cast would drop the imaginary part.
  with pytest.raises(TypeError, match="`numerator` must hold real floats.*"
                     "got complex128"):
    tf_approx.ops.pau(x, np.array([0.0, 1 + 1j]), [1.0])
  with pytest.raises(TypeError, match="`denominator` must hold real floats.*"
                     "got complex64"):
    tf_approx.ops.pau(x, [0.0, 1.0], np.ones(1, np.complex64))
  with pytest.raises(TypeError, match="`numerator` must hold real floats.*"
                     "got bool"):
    tf_approx.ops.pau(x, np.array([False, True]), [1.0])
  np.testing.assert_array_equal(
      tf_approx.ops.pau(x, [0.0, 1.0], [1.0],
                        randomized=np.float32(0.0)).numpy(),
      tf_approx.ops.pau(x, [0.0, 1.0], [1.0]).numpy())
