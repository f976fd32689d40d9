"""ACDC's and the DCT's GPU kernels, run on the CPU model.

`_native.gpu_model.acdc`, `acdc_grad` and `dct` run the block programs of
cc/acdc/acdc_gpu.h as the launchers do: a row a thread block, each loop of
acdc.h's FFT and DCTs a phase whose iterations the block's threads share,
a barrier after each (cc/common/gpu_model.h), the row's memory in shared
memory or in a global buffer. They perform the CPU kernels' operations on
the same operands in the same order, and the gradient sums its rows' terms
in the CPU kernel's chunks and lanes, so under the baseline clone
(TF_APPROX_ISA=default, no FMA on either side) every result must equal the
CPU kernel's bitwise; under the faster clones, which contract multiply-adds
in the FFT, within SCALE_EPS units of eps times the array's largest value.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from tf_approx import _native

model = _native.gpu_model
SCALE_EPS = 64
# Powers of two (the packed half-length FFT), other even lengths and odd
# ones (Bluestein), down to 1 and 2, and past the CPU's vector rows (above
# 65536 it sums a row at a time: one lane).
LENGTHS = [1, 2, 3, 4, 5, 8, 12, 16, 100, 127, 256, 1000, 1024, 4096, 70000]


def _rows_for(n):
  # Several of the gradient's chunks (about 65536 / n rows each, whole units
  # of 16 float32 or 8 float64 rows), the last one ending mid-unit.
  return {70000: 3, 4096: 37, 1024: 139}.get(n, 9 if n > 1024 else 75)


def _inputs(n, dtype, rows, seed=0):
  rng = np.random.default_rng(seed + n)
  x = rng.normal(size=(rows, n)).astype(dtype)
  dy = rng.normal(size=(rows, n)).astype(dtype)
  a, d, bias = (rng.normal(1.0, 0.3, size=n).astype(dtype) for _ in range(3))
  return x, dy, a, d, bias


def _cpu_gradient(dy, x, a, d):
  """The CPU op's gradient: the CPU loop over acdc.h's chunks of rows, each
  summed from zero, the chunks' sums added in order in float64 and
  rounded."""
  rows, n = x.shape
  unit = 1 if n > 65536 else 64 // x.dtype.itemsize
  chunk = max(max(1, 65536 // n), -(-rows // 64))
  chunk = -(-chunk // unit) * unit
  dx, sums = [], [np.zeros(n) for _ in range(3)]
  for begin in range(0, rows, chunk):
    part = _native.acdc_grad(dy[begin:begin + chunk], x[begin:begin + chunk],
                             a, d)
    dx.append(part[0])
    for total, value in zip(sums, part[1:]):
      total += value
  dx = np.concatenate(dx) if dx else np.zeros_like(x)
  return [dx] + [total.astype(x.dtype) for total in sums]


def _mismatch(got, want, bound_eps):
  if bound_eps == 0:
    return got.tobytes() != want.tobytes()
  scale = max(1.0, float(np.abs(want).max(initial=0.0)))
  return np.abs(got.astype(np.float64) - want).max(initial=0.0) > (
      bound_eps * np.finfo(want.dtype).eps * scale)


def acdc_mismatches(bound_eps):
  """For every length and dtype, shared and global memory: the GPU model's
  forward pass, gradient and DCTs against the CPU kernels'; the names of
  those off by more than bound_eps eps times the array's largest |value|
  (0: any bit)."""
  bad = []
  for n in LENGTHS:
    for dtype in (np.float32, np.float64):
      x, dy, a, d, bias = _inputs(n, dtype, _rows_for(n))
      want = {"y": _native.acdc(x, a, d, bias),
              "dct": _native.dct(x, inverse=False),
              "idct": _native.dct(x, inverse=True)}
      want.update(zip(("dx", "da", "dd", "dbias"), _cpu_gradient(dy, x, a, d)))
      for global_memory in (False, True):
        grid = dict(global_memory=global_memory, max_blocks=3)
        got = {"y": model.acdc(x, a, d, bias, **grid),
               "dct": model.dct(x, inverse=False, **grid),
               "idct": model.dct(x, inverse=True, **grid)}
        got.update(zip(("dx", "da", "dd", "dbias"),
                       model.acdc_grad(dy, x, a, d, blocks=2, threads=64,
                                       **grid)))
        for name, value in got.items():
          if _mismatch(value, want[name], bound_eps):
            bad.append(f"n={n} {np.dtype(dtype).name} "
                       f"{'global' if global_memory else 'shared'} {name}")
  return bad


def test_matches_cpu_within_the_bound():
  assert acdc_mismatches(SCALE_EPS) == []


def test_is_the_cpu_kernels_bitwise_without_fma():
  # In a fresh process under the baseline clone: no FMA on either side.
  script = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            "import test_acdc_gpu_model as t\n"
            "print('MISMATCHES', t.acdc_mismatches(0))\n")
  env = dict(os.environ, TF_APPROX_ISA="default", TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=600,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "MISMATCHES []" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("global_memory", [False, True])
def test_nan_stays_in_its_row(global_memory):
  x, dy, a, d, bias = _inputs(100, np.float64, 4, seed=3)
  x[1, 7] = np.nan
  y = model.acdc(x, a, d, bias, global_memory=global_memory)
  assert np.isnan(y[1]).all()
  assert not np.isnan(np.delete(y, 1, axis=0)).any()
  np.testing.assert_array_equal(np.isnan(y),
                                np.isnan(_native.acdc(x, a, d, bias)))
  grads = model.acdc_grad(dy, x, a, d, global_memory=global_memory)
  for got, want in zip(grads, _cpu_gradient(dy, x, a, d)):
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


def test_empty_batch_and_any_rank():
  x, dy, a, d, bias = _inputs(8, np.float32, 0)
  assert model.acdc(x, a, d, bias).shape == (0, 8)
  dx, da, dd, dbias = model.acdc_grad(dy, x, a, d)
  assert dx.shape == (0, 8)
  for grad in (da, dd, dbias):
    np.testing.assert_array_equal(grad, np.zeros(8, np.float32))
  x, _, a, d, bias = _inputs(16, np.float32, 6)
  np.testing.assert_array_equal(
      model.acdc(x.reshape(2, 3, 16), a, d, bias),
      model.acdc(x, a, d, bias).reshape(2, 3, 16))


def test_refuses_bad_shapes():
  x, dy, a, d, bias = _inputs(8, np.float32, 3)
  with pytest.raises(ValueError, match="length"):
    model.acdc(x, a[:7], d, bias)
  with pytest.raises(ValueError, match="bias"):
    model.acdc(x, a, d, bias[:7])
  with pytest.raises(ValueError, match="shape"):
    model.acdc_grad(dy[:2], x, a, d)
  with pytest.raises(ValueError, match="max_blocks"):
    model.dct(x, max_blocks=-1)
