"""The fast Walsh–Hadamard transform: the native op against its twin and H."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

import tf_approx
from tf_approx.reference import fastfood as reference

fwht = tf_approx.ops.fast_walsh_hadamard

DTYPES = [tf.float16, tf.bfloat16, tf.float32, tf.float64]
# Relative to the largest |y|: one rounding per stage in float32 / float64
# (times log2(d) below), one final rounding to the dtype for the half types,
# which accumulate in float32.
TOLERANCE = {tf.float16: 2e-3, tf.bfloat16: 1.6e-2, tf.float32: 2e-7,
             tf.float64: 4e-16}
# Blocks of the CPU kernel are 2^13 (float32) and 2^12 (float64) elements:
# sizes around them take every path.
SIZES = [2**k for k in range(14)] + [2**15, 2**16]
BATCHES = [(), (3,), (2, 3), (0,), (4, 0)]


def _inputs(shape, seed=0):
  return np.random.default_rng(seed).normal(size=shape)


def _assert_close(actual, expected, dtype):
  actual = tf.cast(actual, tf.float64).numpy()
  expected = tf.cast(expected, tf.float64).numpy()
  scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
  if dtype in (tf.float32, tf.float64):
    scale *= max(1, int(np.log2(max(1, expected.shape[-1]))))
  np.testing.assert_allclose(actual, expected, rtol=0,
                             atol=TOLERANCE[dtype] * scale)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("normalize", [False, True])
def test_matches_scipy_hadamard(dtype, normalize):
  for d in [2**k for k in range(13)]:
    x = _inputs((3, d), seed=d)
    h = scipy.linalg.hadamard(d).astype(np.float64)
    got = fwht(tf.constant(x, dtype), normalize=normalize)
    assert got.dtype == dtype and got.shape == (3, d)
    # The input is rounded to the dtype first.
    rounded = tf.cast(tf.constant(x, dtype), tf.float64).numpy()
    want = rounded @ h.T / (np.sqrt(d) if normalize else 1.0)
    _assert_close(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("normalize", [False, True])
def test_matches_reference(dtype, normalize):
  for d in SIZES:
    for batch in BATCHES:
      shape = batch + (d,)
      x = tf.constant(_inputs(shape, seed=d), dtype)
      got = fwht(x, normalize=normalize)
      assert got.dtype == dtype and got.shape == shape
      want = reference.fast_walsh_hadamard(x, normalize)
      if dtype in (tf.float32, tf.float64):
        # The same additions in the same order: bitwise equal.
        np.testing.assert_array_equal(got.numpy(), want.numpy())
      else:
        _assert_close(got, want, dtype)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64],
                         ids=lambda d: d.name)
def test_long_rows_split_over_threads(dtype):
  # One or two rows longer than a block take the blocks-then-strips path.
  for shape in [(2**20,), (2, 2**15), (3, 2**14)]:
    x = tf.constant(_inputs(shape, seed=1), dtype)
    for normalize in (False, True):
      np.testing.assert_array_equal(
          fwht(x, normalize=normalize).numpy(),
          reference.fast_walsh_hadamard(x, normalize).numpy())


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_involution(dtype):
  for d in [1, 2, 16, 1024, 8192]:
    x = tf.constant(_inputs((2, d), seed=2), dtype)
    _assert_close(fwht(fwht(x)), tf.cast(x, tf.float64) * d, dtype)
    _assert_close(fwht(fwht(x, normalize=True), normalize=True), x, dtype)


def test_docstring_example():
  x = tf.constant([[1.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
  np.testing.assert_array_equal(
      fwht(x).numpy(), [[1, 1, 1, 1], [10, -2, -4, 0]])


@pytest.mark.parametrize("normalize", [False, True])
def test_tf_compute_gradient_float64(normalize):
  for shape in [(1,), (4,), (3, 8), (2, 2, 64)]:
    x = tf.constant(_inputs(shape, seed=3))
    theoretical, numerical = tf.test.compute_gradient(
        lambda x: fwht(x, normalize=normalize), [x], delta=1e-6)
    np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-7,
                               atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_gradient_matches_reference(dtype):
  x = tf.constant(_inputs((5, 3, 256), seed=4), dtype)
  w = tf.constant(_inputs((5, 3, 256), seed=5), dtype)
  grads = []
  for fn in (fwht, reference.fast_walsh_hadamard):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = fn(x, normalize=True)
      loss = tf.reduce_sum(tf.cast(y * w, tf.float64))
    grads.append(tape.gradient(loss, x))
  assert grads[0].dtype == dtype
  _assert_close(grads[0], grads[1], dtype)


def test_gradient_in_tf_function():
  x = tf.constant(_inputs((4, 32), seed=6))

  @tf.function
  def grad(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = fwht(x)
    return tape.gradient(y, x, output_gradients=tf.ones_like(y))

  # d/dx sum(w * Hx) = H w; H 1 = d e_0.
  want = np.zeros((4, 32))
  want[:, 0] = 32
  np.testing.assert_array_equal(grad(x).numpy(), want)


def test_unknown_shape_in_tf_function():
  fn = tf.function(fwht, input_signature=[tf.TensorSpec([None, None])])
  x = _inputs((3, 64), seed=7).astype(np.float32)
  np.testing.assert_array_equal(
      fn(x).numpy(), reference.fast_walsh_hadamard(x).numpy())
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r"last axis of `x` must be a power of two.*got 6"):
    fn(np.ones((2, 6), np.float32))


def test_jit_compile_runs_the_twin():
  x = tf.constant(_inputs((3, 128), seed=8), tf.float32)
  fn = tf.function(fwht, jit_compile=True)
  np.testing.assert_allclose(fn(x).numpy(), fwht(x).numpy(), rtol=1e-5,
                             atol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_nan_propagates(dtype):
  x = np.zeros((2, 64))
  x[0, 5] = np.nan
  y = fwht(tf.constant(x, dtype)).numpy()
  assert np.all(np.isnan(y[0].astype(np.float64)))
  assert not np.any(np.isnan(y[1].astype(np.float64)))


@pytest.mark.parametrize("shape", [(3,), (2, 0), (4, 12), (1000,)])
def test_last_axis_not_a_power_of_two(shape):
  pattern = rf"last axis of `x` must be a power of two.*got {shape[-1]}"
  with pytest.raises(tf.errors.InvalidArgumentError, match=pattern):
    fwht(tf.zeros(shape))
  # Static shapes fail already in the shape function, while tracing.
  with pytest.raises(ValueError, match=pattern):
    tf.function(fwht).get_concrete_function(tf.TensorSpec(shape))


def test_scalar_input():
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r"`x` must have rank >= 1.*got a scalar"):
    fwht(tf.constant(1.0))
  with pytest.raises(ValueError, match=r"`x` must have rank >= 1"):
    tf.function(fwht).get_concrete_function(tf.TensorSpec([]))


def test_bad_dtype():
  with pytest.raises(TypeError, match="`x` must be one of"):
    fwht(tf.constant([1, 2], tf.int32))


@pytest.mark.parametrize("shape", [(), (5,), (6, 3)])
def test_reference_rejects_bad_shapes(shape):
  with pytest.raises(ValueError, match="`x`"):
    reference.fast_walsh_hadamard(tf.zeros(shape))


@pytest.mark.parametrize("dtype", [np.float32, np.float64],
                         ids=lambda d: d.__name__)
@pytest.mark.parametrize("normalize", [False, True])
def test_native_in_place_kernel_matches_the_op(dtype, normalize):
  # The benchmark times `_native.fast_walsh_hadamard_` against other FWHT
  # libraries as the op's kernel: it must compute exactly what the op does.
  from tf_approx import _native  # pylint: disable=g-import-not-at-top

  for d in [1, 2, 64, 2**13, 2**16]:
    x = _inputs((3, d), seed=d).astype(dtype)
    want = fwht(tf.constant(x), normalize=normalize).numpy()
    _native.fast_walsh_hadamard_(x, normalize=normalize)
    np.testing.assert_array_equal(x, want)


def test_native_in_place_kernel_rejects_bad_arrays():
  from tf_approx import _native  # pylint: disable=g-import-not-at-top

  with pytest.raises(ValueError, match=r"power of two.*got 12"):
    _native.fast_walsh_hadamard_(np.zeros((2, 12), np.float32))
  with pytest.raises(ValueError, match=r"rank >= 1"):
    _native.fast_walsh_hadamard_(np.zeros((), np.float32))
  with pytest.raises(ValueError, match=r"C-contiguous"):
    _native.fast_walsh_hadamard_(np.zeros((8, 4), np.float32).T)
  with pytest.raises(TypeError):  # No silent copy to another dtype.
    _native.fast_walsh_hadamard_(np.zeros((2, 8), np.int32))
