"""Adaptive Fastfood: the fused native op against its twin and dense W."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

import tf_approx
from tf_approx.reference import fastfood as reference

fastfood = tf_approx.ops.fastfood

DTYPES = [tf.float16, tf.bfloat16, tf.float32, tf.float64]
# Relative to the largest |value|, times log2(d) for float32/float64.
TOLERANCE = {tf.float16: 4e-3, tf.bfloat16: 3e-2, tf.float32: 1e-6,
             tf.float64: 1e-14}
# (n_in, units, d): one block, padding, several blocks truncated, d = 1,
# and d beyond one CPU block (strips).
CONFIGS = [(5, 3, 8), (8, 8, 8), (7, 20, 8), (1, 1, 1), (1, 3, 1),
           (100, 300, 128), (9000, 17000, 16384)]
BATCHES = [(3,), (2, 3), (0,), ()]


def _params(n_in, units, d, seed=0):
  rng = np.random.default_rng(seed)
  blocks = -(-units // d)
  s, g = rng.normal(size=(2, blocks, d))
  b = rng.choice([-1.0, 1.0], size=(blocks, d)) * rng.uniform(0.5, 1.5,
                                                              (blocks, d))
  perm = np.stack([rng.permutation(d) for _ in range(blocks)]).astype(np.int32)
  x_shape = (n_in,)
  return x_shape, s, g, b, perm


def _dense(x, s, g, b, perm, units, normalize):
  """y = x W^T, W the stacked S H G Π H B built as dense matrices."""
  blocks, d = s.shape
  h = scipy.linalg.hadamard(d).astype(np.float64)
  if normalize:
    h /= np.sqrt(d)
  w = []
  for k in range(blocks):
    p = np.eye(d)[perm[k]]  # (P v)_i = v[perm[i]]
    w.append(np.diag(s[k]) @ h @ np.diag(g[k]) @ p @ h @ np.diag(b[k]))
  w = np.concatenate(w)[:units, :x.shape[-1]]
  return x @ w.T


def _assert_close(actual, expected, dtype, d):
  actual = tf.cast(actual, tf.float64).numpy()
  expected = tf.cast(expected, tf.float64).numpy()
  assert np.all(np.isfinite(expected)), "overflow: make the inputs smaller"
  scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
  if dtype in (tf.float32, tf.float64):
    scale *= max(1, int(np.log2(d)))
  np.testing.assert_allclose(actual, expected, rtol=0,
                             atol=TOLERANCE[dtype] * scale)


@pytest.mark.parametrize("normalize", [False, True])
def test_matches_dense_matrix(normalize):
  for n_in, units, d in CONFIGS[:-1]:
    _, s, g, b, perm = _params(n_in, units, d, seed=1)
    x = np.random.default_rng(2).normal(size=(4, n_in))
    got = fastfood(tf.constant(x), s, g, b, perm, units, normalize=normalize)
    assert got.shape == (4, units)
    np.testing.assert_allclose(got.numpy(),
                               _dense(x, s, g, b, perm, units, normalize),
                               rtol=1e-12, atol=1e-12 * d)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("normalize", [False, True])
def test_matches_reference(dtype, normalize):
  for n_in, units, d in CONFIGS:
    x_shape, s, g, b, perm = _params(n_in, units, d, seed=3)
    params = [tf.constant(v, dtype) for v in (s, g, b)]
    # Unnormalised outputs grow like d: keep them within float16's range.
    x_scale = 1.0 / d if dtype == tf.float16 and not normalize else 1.0
    for batch in BATCHES if d < 4096 else [(2,)]:
      x = np.random.default_rng(4).normal(size=batch + x_shape) * x_scale
      x = tf.constant(x, dtype)
      got = fastfood(x, *params, perm, units, normalize=normalize)
      assert got.dtype == dtype and got.shape == batch + (units,)
      want = reference.fastfood(x, *params, perm, units, normalize)
      _assert_close(got, want, dtype, d)


def _gradients(fn, x, params, perm, units, normalize, w):
  with tf.GradientTape() as tape:
    tape.watch([x, *params])
    y = fn(x, *params, perm, units, normalize)
    loss = tf.reduce_sum(tf.cast(y, tf.float64) * w)
  return tape.gradient(loss, [x, *params])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("normalize", [False, True])
def test_gradients_match_reference(dtype, normalize):
  for n_in, units, d in [(5, 3, 8), (7, 20, 8), (100, 300, 128),
                         (3000, 5000, 4096)]:
    x_shape, s, g, b, perm = _params(n_in, units, d, seed=5)
    rows = 37 if d < 4096 else 3
    x_scale = 1.0 / d if dtype == tf.float16 and not normalize else 1.0
    x = np.random.default_rng(6).normal(size=(rows,) + x_shape) * x_scale
    x = tf.constant(x, dtype)
    w = tf.constant(np.random.default_rng(7).normal(size=(rows, units)))
    params = [tf.constant(v, dtype) for v in (s, g, b)]
    native = _gradients(fastfood, x, params, perm, units, normalize, w)
    twin = _gradients(reference.fastfood, x, params, perm, units, normalize,
                      w)
    for got, want in zip(native, twin):
      assert got.dtype == dtype and got.shape == want.shape
      _assert_close(got, want, dtype, d)


@pytest.mark.parametrize("normalize", [False, True])
def test_tf_compute_gradient_float64(normalize):
  for n_in, units, d in [(3, 5, 4), (8, 8, 8), (6, 20, 8)]:
    x_shape, s, g, b, perm = _params(n_in, units, d, seed=8)
    x = np.random.default_rng(9).normal(size=(2,) + x_shape)
    theoretical, numerical = tf.test.compute_gradient(
        lambda x, s, g, b: fastfood(x, s, g, b, perm, units,
                                    normalize=normalize),
        [tf.constant(v) for v in (x, s, g, b)], delta=1e-6)
    for t, n in zip(theoretical, numerical):
      np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-6)


def test_parameter_gradients_do_not_depend_on_threads():
  # Fixed chunks: the same sums whatever the pool does; compare two runs and
  # a run inside a tf.function.
  x_shape, s, g, b, perm = _params(60, 200, 64, seed=10)
  x = tf.constant(np.random.default_rng(11).normal(size=(3000,) + x_shape),
                  tf.float32)
  params = [tf.constant(v, tf.float32) for v in (s, g, b)]
  w = tf.ones([3000, 200], tf.float64)
  first = _gradients(fastfood, x, params, perm, 200, False, w)
  second = tf.function(
      lambda: _gradients(fastfood, x, params, perm, 200, False, w))()
  for a, c in zip(first, second):
    np.testing.assert_array_equal(a.numpy(), c.numpy())


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_nan_propagates_within_its_row(dtype):
  _, s, g, b, perm = _params(8, 16, 8, seed=12)
  x = np.ones((3, 8))
  x[1, 2] = np.nan
  y = fastfood(tf.constant(x, dtype), s, g, b, perm, 16).numpy()
  y = y.astype(np.float64)
  assert np.all(np.isnan(y[1])) and not np.any(np.isnan(y[[0, 2]]))


def test_jit_compile_runs_the_twin():
  _, s, g, b, perm = _params(10, 40, 16, seed=13)
  x = tf.constant(np.random.default_rng(14).normal(size=(5, 10)), tf.float32)
  fn = tf.function(lambda x: fastfood(x, s, g, b, perm, 40), jit_compile=True)
  np.testing.assert_allclose(fn(x).numpy(),
                             fastfood(x, s, g, b, perm, 40).numpy(),
                             rtol=1e-5, atol=1e-4)


def _bad(x, s, g, b, perm, units, pattern):
  x, s, g, b = (tf.constant(v, tf.float32) for v in (x, s, g, b))
  perm = tf.constant(perm, tf.int32)
  with pytest.raises(tf.errors.InvalidArgumentError, match=pattern):
    fastfood(x, s, g, b, perm, units)
  # Static shapes fail in the shape function while tracing (a bad
  # permutation's values only show at run time).
  if "permutation of" not in pattern:
    with pytest.raises(ValueError, match=pattern):
      tf.function(lambda: fastfood(x, s, g, b, perm, units)).get_concrete_function()


def test_bad_inputs():
  ones = np.ones((2, 8))
  perm = np.tile(np.arange(8), (2, 1))
  x = np.ones((3, 8))
  _bad(np.float32(1.0), ones, ones, ones, perm, 16,
       r"`x` must have rank >= 1.*scalar")
  _bad(x, ones, np.ones((2, 4)), ones, perm, 16,
       r"`g` must have the shape of `s`, \[2,8\], got \[2,4\]")
  _bad(x, ones, ones, np.ones((1, 8)), perm, 16,
       r"`b` must have the shape of `s`")
  _bad(x, ones, ones, ones, perm[:, :4], 16,
       r"`permutation` must have the shape of `s`")
  _bad(x, ones, ones, ones, perm, 9 * 8,
       r"`s` must have ceil\(units / d\) = 9 rows.*got 2")
  _bad(np.ones((3, 9)), ones, ones, ones, perm, 16,
       r"last axis of `x` must be at most the block size d = 8, got 9")
  six = np.ones((2, 6))
  _bad(np.ones((3, 6)), six, six, six, np.tile(np.arange(6), (2, 1)), 12,
       r"last axis of `s` \(the block size d\) must be a power of two, got 6")
  bad_perm = perm.copy()
  bad_perm[1, 3] = 0
  _bad(x, ones, ones, ones, bad_perm, 16,
       r"`permutation` must be a permutation of 0..d-1 = 7; row 1 .*repeated")
  bad_perm[1, 3] = 8
  _bad(x, ones, ones, ones, bad_perm, 16, r"permutation of.*out of range")
  with pytest.raises(ValueError, match=r"`units` must be an int in \[1, "):
    fastfood(x, ones, ones, ones, perm, 0)


def test_permutation_dtypes():
  x = tf.constant(np.random.default_rng(1).normal(size=(3, 8)), tf.float32)
  ones = tf.ones([2, 8])
  perm = np.stack([np.arange(8), np.arange(8)[::-1]])
  want = fastfood(x, ones, ones, ones, perm.astype(np.int32), 16).numpy()
  np.testing.assert_array_equal(
      fastfood(x, ones, ones, ones, perm.astype(np.int64), 16).numpy(), want)
  np.testing.assert_array_equal(
      fastfood(x, ones, ones, ones, tf.constant(perm, tf.int64), 16).numpy(),
      want)
  wrapped = perm.astype(np.int64)
  wrapped[1, 0] += 2**32  # the same permutation once cast to int32
  for value in (wrapped, tf.constant(wrapped)):
    with pytest.raises(ValueError, match=r"`permutation` must hold a "
                       r"permutation of range\(8\) in every row.*row 1"):
      fastfood(x, ones, ones, ones, value, 16)
  traced = tf.function(lambda p: fastfood(x, ones, ones, ones, p, 16),
                       input_signature=[tf.TensorSpec([2, 8], tf.int64)])
  np.testing.assert_array_equal(traced(tf.constant(perm)).numpy(), want)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="`permutation` has values outside int32"):
    traced(tf.constant(wrapped))
  for floats in (perm.astype(np.float32) + 0.5, tf.constant(perm, tf.float64)):
    with pytest.raises(TypeError, match="`permutation` must be int32 or "
                       "int64, got float"):
      fastfood(x, ones, ones, ones, floats, 16)


def test_complex_or_int_diagonals_raise_type_error():
  x = tf.ones([3, 8])
  ones = np.ones((1, 8))
  perm = np.arange(8)[None]
  for arg in ("s", "g", "b"):
    diagonals = dict(s=ones, g=ones, b=ones)
    diagonals[arg] = ones * (1 + 1j)
    with pytest.raises(TypeError, match=f"`{arg}` must hold real floats.*got "
                       "complex128"):
      fastfood(x, diagonals["s"], diagonals["g"], diagonals["b"], perm, 8)
  with pytest.raises(TypeError, match="`s` must hold real floats.*got int32"):
    fastfood(x, tf.ones([1, 8], tf.int32), ones, ones, perm, 8)


def test_units_that_overflow_the_block_count_name_units():
  ones = np.ones((1, 8))
  for units in (2**63 - 1, 2**63 - 7):
    with pytest.raises(ValueError, match=r"`units` must be an int in \[1, "
                       r"9223372036854775800\], got " + str(units)):
      fastfood(tf.ones([3, 8]), ones, ones, ones, np.arange(8)[None], units)
