"""The DCT and ACDC ops against scipy, their twins and numerical gradients."""

import numpy as np
import pytest
import scipy.fft
import tensorflow as tf

import tf_approx
from tf_approx.reference import acdc as reference

acdc = tf_approx.ops.acdc
dct = tf_approx.ops.dct

DTYPES = [tf.float16, tf.bfloat16, tf.float32, tf.float64]
# Relative to the largest |value|, times log2(n) + 1 for float32/float64.
TOLERANCE = {tf.float16: 4e-3, tf.bfloat16: 3e-2, tf.float32: 1e-6,
             tf.float64: 1e-14}
# Powers of two (radix 2) and other lengths (Bluestein), both sides of one
# vector group of rows; 70000 and 2^17 take the one-row-at-a-time path.
LENGTHS = [1, 2, 3, 5, 8, 12, 16, 100, 127, 256, 1000, 1024, 4096]
LONG_LENGTHS = [70000, 1 << 17]
BATCHES = [(3,), (2, 17), (0,), (), (40,)]


def _assert_close(actual, expected, dtype, n):
  actual = tf.cast(actual, tf.float64).numpy()
  expected = np.asarray(expected, np.float64)
  scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
  if dtype in (tf.float32, tf.float64):
    scale *= np.log2(n) + 1
  np.testing.assert_allclose(actual, expected, rtol=0,
                             atol=TOLERANCE[dtype] * scale)


def _numpy_acdc(x, a, d, bias):
  h2 = scipy.fft.dct(x * a, type=2, norm="ortho", axis=-1)
  return scipy.fft.idct(h2 * d + bias, type=2, norm="ortho", axis=-1)


def _params(n, seed=0):
  rng = np.random.default_rng(seed)
  return tuple(1 + 0.3 * rng.normal(size=n) for _ in range(3))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("inverse", [False, True])
def test_dct_matches_scipy(dtype, inverse):
  for n in LENGTHS:
    for batch in BATCHES:
      x = np.random.default_rng(n).normal(size=batch + (n,))
      x = tf.cast(tf.constant(x), dtype)
      want = (scipy.fft.idct if inverse else scipy.fft.dct)(
          tf.cast(x, tf.float64).numpy(), type=2, norm="ortho", axis=-1)
      y = dct(x, inverse=inverse)
      assert y.dtype == dtype and y.shape == x.shape
      _assert_close(y, want, dtype, n)


@pytest.mark.parametrize("n", LONG_LENGTHS)
def test_long_rows(n):
  x = np.random.default_rng(n).normal(size=(3, n))
  a, d, bias = _params(n, seed=1)
  for dtype in (tf.float32, tf.float64):
    xt = tf.constant(x, dtype)
    _assert_close(dct(xt), scipy.fft.dct(x, norm="ortho"), dtype, n)
    _assert_close(acdc(xt, a, d, bias), _numpy_acdc(x, a, d, bias), dtype,
                  n)


def test_dct_round_trip_and_twin():
  x = tf.constant(np.random.default_rng(1).normal(size=(7, 300)))
  np.testing.assert_allclose(dct(dct(x), inverse=True).numpy(), x.numpy(),
                             atol=1e-13)
  np.testing.assert_allclose(dct(x).numpy(), reference.dct(x).numpy(),
                             atol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_acdc_matches_scipy(dtype):
  for n in LENGTHS:
    for batch in BATCHES:
      x = np.random.default_rng(n + 1).normal(size=batch + (n,))
      x = tf.cast(tf.constant(x), dtype)
      a, d, bias = _params(n, seed=n)
      want = _numpy_acdc(tf.cast(x, tf.float64).numpy(), a, d, bias)
      y = acdc(x, a, d, bias)
      assert y.dtype == dtype and y.shape == x.shape
      _assert_close(y, want, dtype, n)


def test_acdc_identity_parameters_give_identity():
  x = tf.constant(np.random.default_rng(2).normal(size=(5, 33)))
  y = acdc(x, tf.ones([33], tf.float64), tf.ones([33], tf.float64),
           tf.zeros([33], tf.float64))
  np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-13)


def _gradients(fn, x, params, w):
  with tf.GradientTape() as tape:
    tape.watch([x, *params])
    y = fn(x, *params)
  return tape.gradient(y, [x, *params], output_gradients=w)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64],
                         ids=lambda d: d.name)
def test_acdc_gradients_match_twin(dtype):
  for n, rows in [(1, 3), (8, 37), (12, 70), (256, 33), (1000, 5)]:
    x = tf.constant(np.random.default_rng(n).normal(size=(rows, n)), dtype)
    params = [tf.constant(v, dtype) for v in _params(n, seed=3)]
    w = tf.constant(np.random.default_rng(4).normal(size=(rows, n)), dtype)
    native = _gradients(acdc, x, params, w)
    twin = _gradients(reference.acdc, x, params, w)
    for got, want in zip(native, twin):
      assert got.dtype == dtype and got.shape == want.shape
      _assert_close(got, want.numpy(), dtype, n * rows)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16],
                         ids=lambda d: d.name)
def test_acdc_gradients_half_types(dtype):
  x = tf.constant(np.random.default_rng(5).normal(size=(20, 24)), dtype)
  params = [tf.constant(v, dtype) for v in _params(24, seed=5)]
  w = tf.ones([20, 24], dtype)
  native = _gradients(acdc, x, params, w)
  twin = _gradients(reference.acdc, x, params, w)
  for got, want in zip(native, twin):
    assert got.dtype == dtype
    want = tf.cast(want, tf.float64).numpy()
    np.testing.assert_allclose(tf.cast(got, tf.float64).numpy(), want,
                               atol=TOLERANCE[dtype] * 20 * np.abs(want).max())


def test_tf_compute_gradient_float64():
  for n in (1, 4, 6, 16):
    x = np.random.default_rng(n).normal(size=(3, n))
    a, d, bias = _params(n, seed=6)
    theoretical, numerical = tf.test.compute_gradient(
        acdc, [tf.constant(v) for v in (x, a, d, bias)], delta=1e-6)
    for t, num in zip(theoretical, numerical):
      np.testing.assert_allclose(t, num, rtol=1e-7, atol=1e-7)
  for inverse in (False, True):
    theoretical, numerical = tf.test.compute_gradient(
        lambda v: dct(v, inverse=inverse),
        [tf.constant(np.random.default_rng(7).normal(size=(2, 10)))])
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-7)


def test_gradient_never_divides_by_a():
  # a = 0 kills the input; the gradients must stay finite (no x = h1 / a).
  x = tf.constant(np.random.default_rng(8).normal(size=(4, 8)))
  a = tf.zeros([8], tf.float64)
  params = [a, tf.ones([8], tf.float64), tf.ones([8], tf.float64)]
  grads = _gradients(acdc, x, params, tf.ones([4, 8], tf.float64))
  twin = _gradients(reference.acdc, x, params, tf.ones([4, 8], tf.float64))
  for got, want in zip(grads, twin):
    assert np.all(np.isfinite(got.numpy()))
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)


_DETERMINISM_SCRIPT = """
import sys, hashlib
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[1]))
import tf_approx
digest = hashlib.sha256()
rng = np.random.default_rng(0)
for rows, n in [(3000, 256), (500, 1000), (130, 4096)]:
  x = tf.constant(rng.normal(size=(rows, n)), tf.float32)
  dy = tf.constant(rng.normal(size=(rows, n)), tf.float32)
  params = [tf.constant(1 + 0.1 * rng.normal(size=n), tf.float32)
            for _ in range(3)]
  with tf.GradientTape() as tape:
    tape.watch(params)
    y = tf_approx.ops.acdc(x, *params)
  for g in tape.gradient(y, params, output_gradients=dy):
    digest.update(g.numpy().tobytes())
print(digest.hexdigest())
"""


def test_parameter_gradients_are_bitwise_reproducible(run_python):
  digests = []
  for threads in (1, 2, 2, 7):
    result = run_python(_DETERMINISM_SCRIPT, threads)
    assert result.returncode == 0, result.stderr
    digests.append(result.stdout.strip().splitlines()[-1])
  assert len(set(digests)) == 1, digests


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_nan_propagates_within_its_row(dtype):
  x = np.ones((3, 12))
  x[1, 2] = np.nan
  a, d, bias = _params(12)
  for y in (acdc(tf.constant(x, dtype), a, d, bias),
            dct(tf.constant(x, dtype))):
    y = tf.cast(y, tf.float64).numpy()
    assert np.all(np.isnan(y[1])) and not np.any(np.isnan(y[[0, 2]]))


def test_empty_last_axis():
  x = tf.zeros([3, 0])
  empty = tf.zeros([0])
  assert acdc(x, empty, empty, empty).shape == (3, 0)
  assert dct(x).shape == (3, 0)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = acdc(x, empty, empty, empty)
  assert tape.gradient(y, x).shape == (3, 0)


def test_jit_compile_runs_the_twin():
  x = tf.constant(np.random.default_rng(9).normal(size=(5, 24)), tf.float32)
  a, d, bias = (tf.constant(v, tf.float32) for v in _params(24))
  fn = tf.function(lambda x: acdc(x, a, d, bias), jit_compile=True)
  np.testing.assert_allclose(fn(x).numpy(), acdc(x, a, d, bias).numpy(),
                             atol=1e-5)
  graph = fn.get_concrete_function(x).graph
  assert not any(op.type.startswith("TfApprox")
                 for op in graph.get_operations())


def test_unknown_shapes_in_tf_function():
  fn = tf.function(lambda x, a: acdc(x, a, a, a),
                   input_signature=[tf.TensorSpec(None, tf.float32),
                                    tf.TensorSpec(None, tf.float32)])
  x = np.random.default_rng(10).normal(size=(4, 9)).astype(np.float32)
  a = np.ones(9, np.float32)
  np.testing.assert_allclose(fn(x, a).numpy(),
                             _numpy_acdc(x, a, a, a), atol=1e-5)


def _bad(x, a, d, bias, pattern):
  x, a, d, bias = (tf.constant(v, tf.float32) for v in (x, a, d, bias))
  with pytest.raises(tf.errors.InvalidArgumentError, match=pattern):
    acdc(x, a, d, bias)
  with pytest.raises(ValueError, match=pattern):
    tf.function(lambda: acdc(x, a, d, bias)).get_concrete_function()


def test_bad_inputs():
  ones = np.ones(8)
  x = np.ones((3, 8))
  _bad(np.float32(1.0), ones, ones, ones, r"`x` must have rank >= 1")
  _bad(x, np.ones(7), ones, ones,
       r"`a` must be a vector of the length of the last axis of `x`, "
       r"\[8\], got \[7\]")
  _bad(x, ones, np.ones(9), ones, r"`d` must be a vector of the length")
  _bad(x, ones, ones, np.ones((1, 8)), r"`bias` must be a vector")
  with pytest.raises(tf.errors.InvalidArgumentError, match="`x` must have "
                     "rank >= 1"):
    dct(tf.constant(1.0))
  with pytest.raises(TypeError, match="`x` must be one of"):
    dct(tf.constant([1, 2]))


def test_bad_gradient_inputs_name_the_argument():
  library = tf_approx.load_ops()
  ones = tf.ones([8])
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="`dy` must have the shape of `x`"):
    library.tf_approx_acdc_grad(tf.ones([2, 8]), tf.ones([3, 8]), ones, ones)
  with pytest.raises(tf.errors.InvalidArgumentError, match="`d` must be"):
    library.tf_approx_acdc_grad(tf.ones([3, 8]), tf.ones([3, 8]), ones,
                                tf.ones([7]))


def test_complex_or_int_parameters_raise_type_error():
  x = tf.ones([2, 8])
  ones = np.ones(8)
  for arg in ("a", "d", "bias"):
    params = dict(a=ones, d=ones, bias=ones)
    params[arg] = ones * (1 + 1j)  # a cast would drop the imaginary part
    with pytest.raises(TypeError, match=f"`{arg}` must hold real floats.*got "
                       "complex128"):
      acdc(x, **params)
  with pytest.raises(TypeError, match="`d` must hold real floats.*got bool"):
    acdc(x, ones, np.ones(8, bool), ones)
  # Python numbers are read as floats.
  np.testing.assert_allclose(acdc(x, [1] * 8, [1] * 8, [0] * 8).numpy(),
                             x.numpy(), atol=1e-6)
