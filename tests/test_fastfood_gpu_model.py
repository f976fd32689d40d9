"""The fast Walsh-Hadamard transform's GPU kernels, run on the CPU model.

`_native.gpu_model.fast_walsh_hadamard` runs the passes of
cc/fastfood/fastfood_gpu.h as the GPU functor launches them: a block pass
(elements in registers, shuffles across lanes, shared memory across warps,
barriers between), then strided passes for rows longer than the block limit,
on the CPU model of cooperative launches (cc/common/gpu_model.h). Every
butterfly adds and subtracts the operands the CPU kernels do, stage after
stage in ascending stride order, so the result must equal the CPU kernel's
(`_native.fast_walsh_hadamard_`) bitwise, for every row length, block limit
and grid; the half types go through float32, so they must equal the CPU
result of their float32 values, rounded to the half type.
"""

import ml_dtypes
import numpy as np
import pytest

from tf_approx import _native

model = _native.gpu_model
MAX_BLOCK_LOG2 = 15


def _rows(rows, log2_d, dtype, seed=0):
  rng = np.random.default_rng(seed + 97 * log2_d + rows)
  x = rng.normal(scale=3.0, size=(rows, 1 << log2_d))
  return x.astype(dtype)


def _cpu(x, normalize):
  y = np.ascontiguousarray(x).copy()
  _native.fast_walsh_hadamard_(y, normalize=normalize)
  return y


def _assert_bitwise(got, want):
  assert got.dtype == want.dtype and got.shape == want.shape
  np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log2_d", range(MAX_BLOCK_LOG2 + 1))
def test_one_pass_matches_cpu_bitwise(dtype, log2_d):
  # Rows that fill some blocks of short rows and leave the last one partial.
  rows = 3 if log2_d > 10 else 131
  x = _rows(rows, log2_d, dtype)
  for normalize in (False, True):
    _assert_bitwise(model.fast_walsh_hadamard(x, normalize=normalize),
                    _cpu(x, normalize))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log2_d, max_block_log2", [
    (1, 0), (6, 0), (12, 0), (7, 2), (9, 5), (13, 8), (11, 6), (16, 15),
    (15, 14), (17, 13), (20, 15)])
def test_multi_pass_matches_cpu_bitwise(dtype, log2_d, max_block_log2):
  # Past the block limit: a block pass of runs, then strided passes of up to
  # five stages each (12 over a limit of 0: three of them).
  x = _rows(1 if log2_d >= 16 else 3, log2_d, dtype)
  for normalize in (False, True):
    _assert_bitwise(
        model.fast_walsh_hadamard(x, normalize=normalize,
                                  max_block_log2=max_block_log2),
        _cpu(x, normalize))


@pytest.mark.parametrize("max_blocks", [1, 3])
@pytest.mark.parametrize("strided_grid", [(1, 1), (3, 32), (2, 256)])
@pytest.mark.parametrize("log2_d, max_block_log2", [(4, 15), (10, 15),
                                                    (12, 7), (14, 9)])
def test_any_grid_gives_the_same_bits(max_blocks, strided_grid, log2_d,
                                      max_block_log2):
  # Fewer blocks than groups of rows: each block loops over groups a grid
  # apart; the strided threads loop over their groups likewise.
  x = _rows(37 if log2_d < 10 else 5, log2_d, np.float32, seed=1)
  got = model.fast_walsh_hadamard(
      x, normalize=True, max_block_log2=max_block_log2,
      max_blocks=max_blocks, strided_blocks=strided_grid[0],
      strided_threads=strided_grid[1])
  _assert_bitwise(got, _cpu(x, True))


@pytest.mark.parametrize("bfloat16", [False, True])
@pytest.mark.parametrize("log2_d, max_block_log2", [(0, 15), (5, 15),
                                                    (13, 15), (11, 4)])
def test_half_types_round_the_float32_transform(bfloat16, log2_d,
                                                max_block_log2):
  x32 = _rows(9, log2_d, np.float32, seed=2)
  if bfloat16:
    x = x32.astype(ml_dtypes.bfloat16)
    got = model.fast_walsh_hadamard(x.view(np.uint16), bfloat16=True,
                                    normalize=True,
                                    max_block_log2=max_block_log2)
    want = _cpu(x.astype(np.float32), True).astype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(got, want.view(np.uint16))
  else:
    x = x32.astype(np.float16)
    got = model.fast_walsh_hadamard(x, normalize=True,
                                    max_block_log2=max_block_log2)
    _assert_bitwise(got, _cpu(x.astype(np.float32), True).astype(np.float16))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_block_log2", [15, 3])
def test_nan_and_inf_propagate_like_the_cpu(dtype, max_block_log2):
  x = _rows(4, 8, dtype, seed=3)
  x[0, 17] = np.nan
  x[1, 0] = np.inf
  x[2, 255] = -np.inf
  x[2, 3] = np.inf
  got = model.fast_walsh_hadamard(x, max_block_log2=max_block_log2)
  want = _cpu(x, False)
  assert np.isnan(got[0]).all() and np.isnan(got[2]).any()
  np.testing.assert_array_equal(got, want)  # NaN where the CPU has NaN


def test_any_rank_and_empty():
  x = _rows(6, 6, np.float32).reshape(2, 3, 64)
  _assert_bitwise(model.fast_walsh_hadamard(x), _cpu(x, False))
  empty = np.zeros((0, 3, 16), np.float32)
  assert model.fast_walsh_hadamard(empty).shape == (0, 3, 16)


@pytest.mark.parametrize("shape, kwargs, message", [
    ((4, 12), {}, "power of two"),
    ((4, 0), {}, "power of two"),
    ((), {}, "rank"),
    ((4, 8), dict(max_block_log2=16), "max_block_log2"),
    ((4, 8), dict(max_block_log2=-1), "max_block_log2"),
    ((4, 8), dict(max_blocks=-1), "max_blocks"),
    ((4, 8), dict(strided_threads=0), "threads"),
])
def test_bad_arguments_are_refused(shape, kwargs, message):
  with pytest.raises(ValueError, match=message):
    model.fast_walsh_hadamard(np.zeros(shape, np.float32), **kwargs)
