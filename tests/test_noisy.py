"""Noisy activations: the native ops against their composite twin."""

import math

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

import tf_approx
from tf_approx.reference import counter_noise
from tf_approx.reference import noisy as reference

BASES = reference.BASES
WHERES = reference.WHERES
NOISES = reference.NOISES
DTYPES = [tf.float16, tf.bfloat16, tf.float32, tf.float64]
SHAPES = [(), (0,), (7,), (3, 5, 17), (2, 0, 3), (4, 33), (1000,)]
# The twin draws its noise with tf.math.erfinv, the kernel with Giles'
# float32 approximation: a few float32 ulps apart, which bounds float64 too
# when training.
TOLERANCE = {tf.float16: 1e-2, tf.bfloat16: 4e-2, tf.float32: 2e-5,
             tf.float64: 1e-12}
NOISE_TOLERANCE = 2e-5
SEED = tf.constant([3, 7], tf.int64)
ALPHA = {"tanh": 1.15, "sigmoid": 1.1}


def _scale(where):
  return {"output": 0.5, "input": 0.3, "input_learned": 0.25,
          "input_saturated": 0.3}[where]


def _inputs(shape, seed=0, scale=3.0):
  return np.random.default_rng(seed).normal(size=shape) * scale


def _p(shape, per_unit, seed=1):
  size = shape[-1] if per_unit else None
  return np.random.default_rng(seed).uniform(-1, 1, size=size)


def _run(fn, x, p, base, where, noise, training):
  return fn(x, p, _scale(where), SEED, base, where, noise, ALPHA[base],
            training)


def _native(x, p, scale, seed, base, where, noise, alpha, training):
  return tf_approx.ops.noisy_activation(x, p, scale, seed, base, where, noise,
                                        alpha, training)


def _gradients(fn, x, p, base, where, noise, training, weights):
  with tf.GradientTape() as tape:
    tape.watch([x, p])
    y = _run(fn, x, p, base, where, noise, training)
    loss = tf.reduce_sum(tf.cast(y, tf.float64) * weights)
  return tape.gradient(loss, [x, p], unconnected_gradients="zero")


def _tolerance(dtype, training):
  tol = TOLERANCE[dtype]
  return max(tol, NOISE_TOLERANCE) if training else tol


def _assert_close(actual, expected, tol):
  actual = tf.cast(actual, tf.float64).numpy()
  expected = tf.cast(expected, tf.float64).numpy()
  np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("where", WHERES)
@pytest.mark.parametrize("training", [False, True], ids=["infer", "train"])
def test_forward_matches_reference(base, where, training):
  for dtype in DTYPES:
    for noise in NOISES:
      for per_unit in (False, True):
        for shape in SHAPES:
          if per_unit and not shape:
            continue
          x = tf.constant(_inputs(shape), dtype)
          p = tf.constant(_p(shape, per_unit), dtype)
          y = _run(_native, x, p, base, where, noise, training)
          assert y.dtype == dtype and y.shape == shape
          _assert_close(
              y, _run(reference.noisy_activation, x, p, base, where, noise,
                      training), _tolerance(dtype, training))


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("where", WHERES)
@pytest.mark.parametrize("training", [False, True], ids=["infer", "train"])
def test_gradients_match_reference(base, where, training):
  for dtype in (tf.float32, tf.float64):
    for noise in NOISES:
      for per_unit in (False, True):
        shape = (64, 37)
        x = tf.constant(_inputs(shape, seed=2), dtype)
        p = tf.constant(_p(shape, per_unit, seed=3), dtype)
        weights = tf.constant(_inputs(shape, seed=4, scale=1.0))
        native = _gradients(_native, x, p, base, where, noise, training,
                            weights)
        twin = _gradients(reference.noisy_activation, x, p, base, where,
                          noise, training, weights)
        # dp sums over up to 2368 elements.
        for got, want, scale in zip(native, twin, (1.0, 100.0)):
          _assert_close(got, want, _tolerance(dtype, training) * scale)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("where", WHERES)
@pytest.mark.parametrize("noise", NOISES)
def test_gradients_match_finite_differences_float64(base, where, noise,
                                                    numeric_jacobians):
  # Saturated and linear inputs, none within 1e-3 of a kink; the noise is
  # fixed by the seed.
  x = np.array([[-6.0, -2.5, -0.3, 0.05], [0.7, 1.3, 2.6, -1.6],
                [9.0, -0.9, 4.0, -3.1]])
  p = np.array([0.8, -0.6, 0.4, 0.9])

  def f(x, p):
    return _native(x, p, _scale(where), SEED, base, where, noise, ALPHA[base],
                   True).numpy()

  w, numeric = numeric_jacobians(f, [x, p])
  analytic = _gradients(_native, tf.constant(x), tf.constant(p), base, where,
                        noise, True, tf.constant(w))
  for got, want in zip(analytic, numeric):
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)


def test_tf_compute_gradient_float64():
  x = tf.constant(_inputs((3, 4), seed=7))
  p = tf.constant(_p((3, 4), True, seed=7))
  for where in WHERES:
    theoretical, numerical = tf.test.compute_gradient(
        lambda x, p, where=where: tf_approx.ops.noisy_activation(
            x, p, 0.4, SEED, "tanh", where, "half_normal", 1.15, True),
        [x, p], delta=1e-6)
    for t, n in zip(theoretical, numerical):
      np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-6)


def test_linear_region_is_noise_free_at_the_output():
  # Delta = 0 where h is linear: sigma = 0, phi = u, phi' = 1 (tanh).
  x = tf.constant(np.linspace(-0.99, 0.99, 301))
  for training in (False, True):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf_approx.ops.noisy_activation(x, 0.7, 0.5, SEED, "tanh", "output",
                                         "normal", 1.15, training)
    np.testing.assert_allclose(y.numpy(), x.numpy(), rtol=1e-15)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 1.0, rtol=1e-15)


def test_saturated_output_gets_gradient_through_the_noise():
  # Where hard tanh saturates h' = 0, yet dphi/dx = (1 - alpha) + the noise
  # path (the thesis' eq. 4.11), and it changes with the step.
  x = tf.constant(np.full([1000], 3.0))
  grads = []
  for step in (0, 1):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf_approx.ops.noisy_activation(x, 1.0, 0.5, [3, step], "tanh",
                                         "output", "normal", 1.15, True)
    grads.append(tape.gradient(y, x).numpy())
  assert np.std(grads[0]) > 1e-3
  assert not np.allclose(grads[0], grads[1])
  np.testing.assert_allclose(np.mean(grads[0]), 1 - 1.15, atol=0.01)


@pytest.mark.parametrize("noise", NOISES)
def test_noise_is_standard_normal(noise):
  # NANI on hard tanh at x = 0 with sigma = 0.25: phi = clip(0.25 eps), so
  # eps = 4 phi wherever |eps| < 4.
  n = 200000
  y = tf_approx.ops.noisy_activation(tf.zeros([n]), 0.0, 0.25, [11, 0],
                                     "tanh", "input", noise, 1.0, True)
  eps = 4 * y.numpy().astype(np.float64)
  grid = np.linspace(-3.5, 3.5, 29)
  if noise == "half_normal":
    assert eps.min() >= 0
    grid = grid[grid > 0]
    want = 2 * scipy.stats.norm.cdf(grid) - 1
  else:
    want = scipy.stats.norm.cdf(grid)
  got = np.array([np.mean(eps <= t) for t in grid])
  np.testing.assert_allclose(got, want, atol=4e-3)
  # Neighbouring elements are uncorrelated.
  assert abs(np.corrcoef(eps[:-1], eps[1:])[0, 1]) < 0.01


def test_twin_noise_is_finite_at_the_extreme_draws():
  # The hash's uniforms are k 2^-23 + 2^-24 - 1, k = 0 .. 2^24 - 1.
  u = np.array([2.0**-24 - 1, 0.0, 1 - 2.0**-24], np.float32)
  xi = counter_noise.normal_from_uniform(tf.constant(u)).numpy()
  want = scipy.stats.norm.ppf((u.astype(np.float64) + 1) / 2)
  np.testing.assert_allclose(xi, want, rtol=1e-6)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("where", WHERES)
def test_inference_is_the_expectation(base, where):
  # The mean over noise of the training output approaches the inference
  # output where phi is linear in eps (the output forms; the input forms
  # away from the kinks).
  n = 400000
  for x_value in (-3.5, 5.0):
    x = tf.fill([n], tf.constant(x_value, tf.float64))
    for noise in NOISES:
      args = (x, 0.9, _scale(where), [5, 1], base, where, noise, ALPHA[base])
      train = tf_approx.ops.noisy_activation(*args, True).numpy()
      infer = tf_approx.ops.noisy_activation(*args, False).numpy()
      assert np.all(infer == infer[0])
      if where != "output":
        continue  # h(x + sigma eps) is not linear in eps
      stderr = train.std() / math.sqrt(n)
      assert abs(train.mean() - infer[0]) < 5 * stderr + 1e-12


def test_noise_is_seeded():
  x = tf.constant(_inputs((5000,), seed=10))
  args = (x, 0.5, 0.5)
  kw = dict(base="tanh", where="output", noise="normal", alpha=1.15,
            training=True)
  first = tf_approx.ops.noisy_activation(*args, seed=[1, 0], **kw)
  again = tf_approx.ops.noisy_activation(*args, seed=[1, 0], **kw)
  other_step = tf_approx.ops.noisy_activation(*args, seed=[1, 1], **kw)
  other_seed = tf_approx.ops.noisy_activation(*args, seed=[2, 0], **kw)
  np.testing.assert_array_equal(first.numpy(), again.numpy())
  assert not np.allclose(first.numpy(), other_step.numpy())
  assert not np.allclose(first.numpy(), other_seed.numpy())


@pytest.mark.parametrize("where", WHERES)
def test_noise_is_keyed_by_first_element(where):
  # [seed, step, first]: element i of x draws what element first + i of a
  # larger tensor draws, so a replica's slice matches the whole batch.
  x = tf.constant(_inputs((40, 6), seed=11))
  p = tf.constant(_p((40, 6), per_unit=True, seed=12))
  weights = tf.constant(_inputs((40, 6), seed=13, scale=1.0))
  args = ("tanh", where, "normal", ALPHA["tanh"], True)
  for fn in (_native, reference.noisy_activation):
    results = []
    for rows, seed in ((slice(None), [1, 4]), (slice(25, None), [1, 4, 150])):
      xs = x[rows]
      with tf.GradientTape() as tape:
        tape.watch([xs, p])
        y = fn(xs, p, _scale(where), tf.constant(seed, tf.int64), *args)
      dx, _ = tape.gradient(y, [xs, p], output_gradients=weights[rows],
                            unconnected_gradients="zero")
      results.append((y.numpy(), dx.numpy()))
    (y_whole, dx_whole), (y_part, dx_part) = results
    np.testing.assert_array_equal(y_part, y_whole[25:])
    np.testing.assert_array_equal(dx_part, dx_whole[25:])
    unkeyed = fn(x[25:], p, _scale(where), tf.constant([1, 4], tf.int64),
                 *args)
    if where != "input_saturated":  # noise only where |x| is large there
      assert not np.allclose(unkeyed.numpy(), y_whole[25:])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("where", WHERES)
def test_nan_in_nan_out(dtype, where):
  x = tf.constant([np.nan] * 40 + [0.5, 3.0], dtype)
  for training in (False, True):
    y = tf_approx.ops.noisy_activation(x, 0.5, 0.3, SEED, "sigmoid", where,
                                       "normal", 1.1, training)
    assert np.all(np.isnan(tf.cast(y, tf.float32).numpy()[:40]))
    assert np.all(np.isfinite(tf.cast(y, tf.float32).numpy()[40:]))
    dx, _ = _gradients(_native, x, tf.constant(0.5, dtype), "sigmoid", where,
                       "normal", training, tf.ones([42], tf.float64))
    dx = tf.cast(dx, tf.float32).numpy()
    assert np.all(np.isfinite(dx[40:]))
    if where in ("output", "input_learned"):
      # dx reads Delta(NaN); the fixed-sigma input forms have h'(NaN) = 0.
      assert np.all(np.isnan(dx[:40]))


def test_infinite_inputs():
  x = tf.constant([np.inf, -np.inf], tf.float32)
  y = tf_approx.ops.noisy_activation(x, 0.5, 0.3, SEED, "tanh", "input",
                                     "normal", 1.0, True)
  np.testing.assert_array_equal(y.numpy(), [1.0, -1.0])


_DETERMINISM_SCRIPT = """
import sys, hashlib
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[1]))
import tf_approx
digest = hashlib.sha256()
rng = np.random.default_rng(0)
for shape, per_unit, where in [((1 << 20,), False, "output"),
                               ((4096, 96), True, "output"),
                               ((300001,), False, "input_learned")]:
  x = tf.constant(rng.normal(size=shape) * 3, tf.float32)
  p = tf.constant(rng.uniform(-1, 1, size=shape[-1:] if per_unit else ()),
                  tf.float32)
  dy = tf.constant(rng.normal(size=shape), tf.float32)
  with tf.GradientTape() as tape:
    tape.watch(p)
    y = tf_approx.ops.noisy_activation(x, p, 0.5, [5, 9], where=where,
                                       training=True)
  digest.update(tape.gradient(y, p, output_gradients=dy).numpy().tobytes())
print(digest.hexdigest())
"""


@pytest.mark.parametrize("per_unit", [False, True], ids=["shared", "unit"])
def test_gradients_of_empty_inputs(per_unit):
  # Zero units included: no division by the unit count.
  for shape in [(0,), (3, 0), (0, 4)]:
    x = tf.zeros(shape, tf.float64)
    p = tf.constant(_p(shape, per_unit), tf.float64)
    dx, dp = _gradients(_native, x, p, "tanh", "input_learned", NOISES[0],
                        True, tf.zeros(shape, tf.float64))
    assert dx.shape == shape and dp.shape == p.shape
    np.testing.assert_array_equal(dp.numpy(), np.zeros(p.shape))


def test_p_gradient_is_bitwise_reproducible(run_python):
  digests = []
  for threads in (1, 2, 7):
    result = run_python(_DETERMINISM_SCRIPT, threads)
    assert result.returncode == 0, result.stderr
    digests.append(result.stdout.strip().splitlines()[-1])
  assert len(set(digests)) == 1, digests


def test_xla_uses_the_composite_twin():
  x = tf.constant(_inputs((8, 16), seed=12), tf.float32)
  p = tf.constant(_p((8, 16), True), tf.float32)

  @tf.function(jit_compile=True)
  def compiled(x, p):
    with tf.GradientTape() as tape:
      tape.watch([x, p])
      y = tf_approx.ops.noisy_activation(x, p, 0.5, SEED, training=True)
    return y, tape.gradient(y, [x, p])

  y, (dx, dp) = compiled(x, p)
  with tf.GradientTape() as tape:
    tape.watch([x, p])
    want = tf_approx.ops.noisy_activation(x, p, 0.5, SEED, training=True)
  want_dx, want_dp = tape.gradient(want, [x, p])
  for got, expected in ((y, want), (dx, want_dx), (dp, want_dp)):
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("p, scale, seed, message", [
    (np.ones([2, 3]), 0.5, [1, 2], "`p` must be a scalar or have shape"),
    (np.ones([4]), 0.5, [1, 2], "as many values as `x`"),
    (0.5, [0.5, 0.5], [1, 2], "`scale` must be a scalar"),
    (0.5, 0.5, [1, 2, 3, 4], "`seed` must have shape"),
    (0.5, 0.5, [[1, 2]], "`seed` must have shape"),
])
def test_bad_shapes_raise_invalid_argument(p, scale, seed, message):
  x = tf.zeros([2, 3])
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    tf_approx.ops.noisy_activation(x, p, scale, seed)
  # The same from the kernel when shapes are unknown while tracing.
  spec = [tf.TensorSpec(None, tf.float32)] * 3 + [tf.TensorSpec(None,
                                                                tf.int64)]

  @tf.function(input_signature=spec)
  def traced(x, p, scale, seed):
    return tf_approx.ops.noisy_activation(x, p, scale, seed)

  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    traced(x, tf.constant(p, tf.float32), tf.constant(scale, tf.float32),
           tf.constant(seed, tf.int64))


def test_bad_python_arguments_raise():
  x = tf.zeros([3])
  for kwargs, message in [(dict(base="relu"), "`base` must be one of"),
                          (dict(where="middle"), "`where` must be one of"),
                          (dict(noise="uniform"), "`noise` must be one of"),
                          (dict(alpha=float("nan")), "`alpha` must be")]:
    with pytest.raises(ValueError, match=message):
      tf_approx.ops.noisy_activation(x, 0.5, 0.5, **kwargs)
