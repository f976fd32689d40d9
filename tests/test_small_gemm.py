"""The recurrent layers' matrix product, cc/common/small_gemm.h, on its own.

Through the TF-free module: C = start + A B against numpy for the shapes the
layers use and the awkward ones (tails past a vector, a row block of one,
empty sizes), A read transposed in place, C starting from zero, from another
matrix or from one repeated row, and k split into two products, which must
give the bits of one (the kernel gradients sum their steps that way).
"""

import numpy as np
import pytest

from tf_approx import _native

SHAPES = [(50, 128, 512), (7, 13, 37), (1, 1, 1), (6, 129, 65), (13, 300, 16),
          (0, 4, 5), (3, 0, 5), (4, 5, 0)]


def _operands(m, k, n, dtype, seed=0):
  rng = np.random.default_rng(seed)
  a = rng.normal(size=(m, k)).astype(dtype)
  b = rng.normal(size=(k, n)).astype(dtype)
  return a, b


def _tolerance(dtype, k):
  eps = np.finfo(dtype).eps
  return dict(rtol=8 * eps * max(k, 1) ** 0.5, atol=8 * eps * max(k, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("start", ["zero", "matrix", "row"])
@pytest.mark.parametrize("transposed", [False, True])
def test_product_matches_numpy(dtype, m, k, n, start, transposed):
  a, b = _operands(m, k, n, dtype)
  rng = np.random.default_rng(1)
  if start == "zero":
    begin, expected_start = np.zeros(0, dtype), 0
  elif start == "matrix":
    begin = rng.normal(size=(m, n)).astype(dtype)
    expected_start = begin
  else:
    begin = rng.normal(size=(n,)).astype(dtype)
    expected_start = begin[None, :]
  stored = np.ascontiguousarray(a.T) if transposed else a
  got = _native.gemm_product(stored, b, begin, transposed=transposed)
  expected = (expected_start + a.astype(np.float64) @ b.astype(np.float64))
  assert got.shape == (m, n)
  np.testing.assert_allclose(got, np.broadcast_to(expected, (m, n)),
                             **_tolerance(dtype, k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("split", [1, 50, 127, 128, 129, 2449])
def test_split_product_gives_the_same_bits(dtype, transposed, split):
  """Two products over k, the second resuming from C, equal one product."""
  m, k, n = 13, 2500, 70
  a, b = _operands(m, k, n, dtype, seed=2)
  stored = np.ascontiguousarray(a.T) if transposed else a
  none = np.zeros(0, dtype)
  whole = _native.gemm_product(stored, b, none, transposed=transposed)
  parts = _native.gemm_product(stored, b, none, transposed=transposed,
                               split=split)
  np.testing.assert_array_equal(parts.view(np.uint8), whole.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transposed_left_factor_gives_the_same_bits(dtype):
  """Reading A transposed in place changes no sum's order."""
  a, b = _operands(29, 300, 45, dtype, seed=3)
  none = np.zeros(0, dtype)
  direct = _native.gemm_product(a, b, none)
  in_place = _native.gemm_product(np.ascontiguousarray(a.T), b, none,
                                  transposed=True)
  np.testing.assert_array_equal(in_place.view(np.uint8),
                                direct.view(np.uint8))


def test_starting_from_a_matrix_equals_adding_it_first():
  """C = D + A B sums D first, as copying D into C and accumulating did."""
  a, b = _operands(11, 40, 33, np.float32, seed=4)
  d = np.random.default_rng(5).normal(size=(11, 33)).astype(np.float32)
  from_d = _native.gemm_product(a, b, d)
  row = d[3]
  from_row = _native.gemm_product(a, b, row)
  from_tiled = _native.gemm_product(a, b, np.ascontiguousarray(
      np.broadcast_to(row, d.shape)))
  np.testing.assert_array_equal(from_row, from_tiled)
  np.testing.assert_allclose(from_d, d + a @ b, rtol=1e-5, atol=1e-5)


def test_nan_propagates():
  a, b = _operands(6, 8, 16, np.float32, seed=6)
  a[2, 5] = np.nan
  got = _native.gemm_product(a, b, np.zeros(0, np.float32))
  assert np.isnan(got[2]).all()
  assert not np.isnan(np.delete(got, 2, axis=0)).any()


@pytest.mark.parametrize("kwargs,message", [
    (dict(a=np.zeros((2, 3)), b=np.zeros((4, 5)), start=np.zeros(0)),
     "`b` must have k rows"),
    (dict(a=np.zeros((2, 3)), b=np.zeros((3, 5)), start=np.zeros(7)),
     "`start` must be empty"),
    (dict(a=np.zeros((2, 3)), b=np.zeros((3, 5)), start=np.zeros(0),
          split=3), "`split` must be in"),
    (dict(a=np.zeros(3), b=np.zeros((3, 5)), start=np.zeros(0)),
     "must be matrices"),
])
def test_bad_arguments_name_the_argument(kwargs, message):
  with pytest.raises(ValueError, match=message):
    _native.gemm_product(**kwargs)
