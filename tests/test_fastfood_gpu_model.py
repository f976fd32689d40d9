"""The fast Walsh-Hadamard transform's and Adaptive Fastfood's GPU kernels,
run on the CPU model.

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

Adaptive Fastfood's kernel keeps a unit's whole S H G Π H B chain on chip;
its forward pass multiplies and butterflies what the CPU loops do, so it
must equal them bitwise. Its gradient sums the parameter gradients over the
CPU kernel's chunks of rows, in the same order, so under the baseline clone
(TF_APPROX_ISA=default, no FMA on either side) it must equal the CPU
kernel's result bitwise too; under the faster clones, which contract other
multiply-adds, within SCALE_EPS units of eps times the array's largest
value. Past the fused kernels' limit (`max_log2`; on a GPU, what its shared
memory holds) the staged path runs the same operations through memory, a
slab of rows at a time (`staged_elements` a buffer), under the same bounds.
"""

import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

from tf_approx import _native

model = _native.gpu_model
MAX_BLOCK_LOG2 = 15
SCALE_EPS = 64


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


# Adaptive Fastfood: (n_in, units, d): rows within a warp, several blocks of
# parameters, n_in below d, rows across warps.
FASTFOOD_CASES = [(5, 7, 8), (3, 20, 4), (1, 1, 1), (100, 300, 128),
                  (64, 64, 64), (1000, 1024, 1024), (33, 2000, 2048)]


def _fastfood_inputs(n_in, units, d, dtype, rows, seed=0):
  rng = np.random.default_rng(seed + d + units)
  blocks = -(-units // d)
  s, g = (rng.normal(size=(blocks, d)).astype(dtype) for _ in range(2))
  b = rng.choice([-1.0, 1.0], size=(blocks, d)).astype(dtype)
  perm = np.stack([rng.permutation(d) for _ in range(blocks)]).astype(
      np.int32)
  x = rng.normal(size=(rows, n_in)).astype(dtype)
  dy = rng.normal(size=(rows, units)).astype(dtype)
  return x, dy, (s, g, b, perm)


def _rows_for(d):
  # Enough rows for several of the gradient's chunks (65536 / params rows
  # each).
  return 300 if d <= 128 else 70


def _cpu_gradient(dy, x, params, units, normalize):
  """The CPU op's gradient: the CPU loops over ChunkRows' chunks of rows,
  each summed from zero, the chunks' sums added in order in float64 and
  rounded (cc/fastfood/fastfood.h)."""
  rows = x.shape[0]
  total_params = params[0].size
  chunk_rows = max(1, 65536 // total_params)
  if -(-rows // chunk_rows) > 64:
    chunk_rows = -(-rows // 64)
  dx, sums = [], [np.zeros(params[0].shape) for _ in range(3)]
  for begin in range(0, rows, chunk_rows):
    part = _native.fastfood_grad(dy[begin:begin + chunk_rows],
                                 x[begin:begin + chunk_rows], *params,
                                 units=units, normalize=normalize)
    dx.append(part[0])
    for total, chunk in zip(sums, part[1:]):
      total += chunk
  dx = np.concatenate(dx) if dx else np.zeros_like(x)
  return [dx] + [total.astype(x.dtype) for total in sums]


def _staged(d):
  """Arguments that take d past the fused limit: transforms of two passes or
  more, slabs of a few rows that split the gradient's chunks."""
  log2_d = int(d).bit_length() - 1
  params = d * 3
  return dict(max_log2=max(0, log2_d - 3), staged_elements=7 * params - 1,
              blocks=3, threads=64)


def fastfood_gradient_mismatches(bound_eps, staged=False):
  """For every case and dtype: the GPU model's gradients (fused, or staged)
  against the CPU op's; returns the names of those off by more than
  bound_eps eps times the array's largest |value| (0: any bit)."""
  bad = []
  for n_in, units, d in FASTFOOD_CASES:
    if staged and d == 1:
      continue  # nothing is past a limit of 2^0
    for dtype in (np.float32, np.float64):
      x, dy, params = _fastfood_inputs(n_in, units, d, dtype, _rows_for(d))
      normalize = d >= 64
      grid = _staged(d) if staged else dict(blocks=2, threads=64)
      got = model.fastfood_grad(dy, x, *params, units=units,
                                normalize=normalize, max_blocks=3, **grid)
      want = _cpu_gradient(dy, x, params, units, normalize)
      for name, a, w in zip(("dx", "ds", "dg", "db"), got, want):
        if bound_eps == 0:
          ok = a.tobytes() == w.tobytes()
        else:
          scale = max(1.0, float(np.abs(w).max(initial=0.0)))
          ok = np.abs(a.astype(np.float64) - w).max(initial=0.0) <= (
              bound_eps * np.finfo(dtype).eps * scale)
        if not ok:
          bad.append(f"{n_in}->{units} d={d} {np.dtype(dtype).name} {name}")
  return bad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_in, units, d", FASTFOOD_CASES)
def test_fastfood_forward_matches_cpu_bitwise(dtype, n_in, units, d):
  x, _, params = _fastfood_inputs(n_in, units, d, dtype, 37)
  for normalize in (False, True):
    for max_blocks in (0, 3):
      got = model.fastfood(x, *params, units=units, normalize=normalize,
                           max_blocks=max_blocks)
      want = _native.fastfood(x, *params, units=units, normalize=normalize)
      _assert_bitwise(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_in, units, d",
                         [case for case in FASTFOOD_CASES if case[2] > 1])
def test_fastfood_staged_forward_matches_cpu_bitwise(dtype, n_in, units, d):
  x, _, params = _fastfood_inputs(n_in, units, d, dtype, 37)
  for normalize in (False, True):
    got = model.fastfood(x, *params, units=units, normalize=normalize,
                         **_staged(d))
    want = _native.fastfood(x, *params, units=units, normalize=normalize)
    _assert_bitwise(got, want)


def test_fastfood_beyond_shared_memory_takes_the_staged_path():
  # d = 2^16: past any device's fused limit (and the model's default), with
  # two blocks of parameters; a transform's block pass and one strided pass.
  x, dy, params = _fastfood_inputs(1000, 70000, 1 << 16, np.float32, 3)
  _assert_bitwise(model.fastfood(x, *params, units=70000, normalize=True),
                  _native.fastfood(x, *params, units=70000, normalize=True))
  got = model.fastfood_grad(dy, x, *params, units=70000, normalize=True,
                            blocks=4, threads=256)
  want = _cpu_gradient(dy, x, params, 70000, True)
  for a, w in zip(got, want):
    scale = max(1.0, float(np.abs(w).max()))
    assert np.abs(a - w).max() <= SCALE_EPS * np.finfo(np.float32).eps * scale


@pytest.mark.parametrize("staged", [False, True])
def test_fastfood_gradient_matches_cpu_within_the_bound(staged):
  assert fastfood_gradient_mismatches(SCALE_EPS, staged) == []


def test_fastfood_gradient_is_the_cpu_kernels_bitwise_without_fma():
  # In a fresh process under the baseline clone: no FMA on either side.
  script = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            "import test_fastfood_gpu_model as t\n"
            "print('MISMATCHES', t.fastfood_gradient_mismatches(0) +\n"
            "      t.fastfood_gradient_mismatches(0, staged=True))\n")
  env = dict(os.environ, TF_APPROX_ISA="default", TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=300,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "MISMATCHES []" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("max_log2", [15, 1])
def test_fastfood_empty_batch(max_log2):
  x, dy, params = _fastfood_inputs(5, 7, 8, np.float32, 0)
  assert model.fastfood(x, *params, units=7,
                        max_log2=max_log2).shape == (0, 7)
  dx, ds, dg, db = model.fastfood_grad(dy, x, *params, units=7,
                                       max_log2=max_log2)
  assert dx.shape == (0, 5)
  for grad in (ds, dg, db):
    np.testing.assert_array_equal(grad, np.zeros_like(params[0]))


@pytest.mark.parametrize("max_log2", [15, 1])
def test_fastfood_nan_propagates_like_the_cpu(max_log2):
  x, dy, params = _fastfood_inputs(6, 20, 16, np.float64, 5)
  x[1, 2] = np.nan
  dy[3, 4] = np.nan
  got = model.fastfood(x, *params, units=20, normalize=True,
                       max_log2=max_log2)
  want = _native.fastfood(x, *params, units=20, normalize=True)
  assert np.isnan(got[1]).all() and not np.isnan(got[0]).any()
  np.testing.assert_array_equal(got, want)
  for a, w in zip(model.fastfood_grad(dy, x, *params, units=20,
                                      normalize=True, max_log2=max_log2),
                  _cpu_gradient(dy, x, params, 20, True)):
    np.testing.assert_array_equal(np.isnan(a), np.isnan(w))


def test_fastfood_refuses_bad_shapes():
  x, dy, (s, g, b, perm) = _fastfood_inputs(5, 7, 8, np.float32, 3)
  with pytest.raises(ValueError, match="at most d"):
    model.fastfood(np.zeros((3, 9), np.float32), s, g, b, perm, units=7)
  with pytest.raises(ValueError, match="permutations"):
    model.fastfood(x, s, g, b, np.zeros_like(perm), units=7)
  with pytest.raises(ValueError, match="ceil"):
    model.fastfood(x, s, g, b, perm, units=9)
  with pytest.raises(ValueError, match="dy"):
    model.fastfood_grad(dy[:, :6], x, s, g, b, perm, units=7)
