"""tools/gpu_check.py, the TensorFlow-free GPU harness, as far as it runs here.

On a GPU machine it builds the CPU module and the GPU harness and compares
them (see BENCHMARKS.md, GPU). Here: its harness module builds from the
tree with nvcc (so it cannot rot between GPU sessions), imports, sees no GPU
and says so, every family with GPU kernels has checks and timings in it, and
its checks pass on the kernels' per-thread logic run on the CPU (and fail
on a wrong result).
"""

import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tf_approx import _native

nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")


_IMPORT = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import _gpu_harness as h
print("DEVICES", h.device_count())
try:
  h.upload(np.zeros(4, np.float32))
except RuntimeError as e:
  print("UPLOAD", e)
"""


@pytest.fixture(scope="module")
def gpu_check(load_tool):
  return load_tool("gpu_check")


@nvcc
def test_harness_builds_and_reports_no_gpu(gpu_check, tmp_path, monkeypatch):
  # One arch: the sources are what rots; the install compiles every
  # family's kernels for every default arch already.
  monkeypatch.setenv("TF_APPROX_CUDA_ARCHS", "75")
  gpu_check.build(tmp_path, native=False)
  result = subprocess.run([sys.executable, "-c", _IMPORT, str(tmp_path)],
                          capture_output=True, text=True, timeout=120,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "DEVICES 0" in result.stdout
  assert "UPLOAD cudaMalloc: " in result.stdout


@nvcc
def test_every_gpu_family_is_checked_and_timed(gpu_check):
  families = gpu_check.read_setup_py()["GPU_FAMILIES"]
  assert sorted(gpu_check.CHECKS) == sorted(families)
  timed = {name.split()[0]
           for name in [*gpu_check.TIMED, *gpu_check.RECURRENT_TIMED]}
  assert timed | set(gpu_check.TABLES) == set(families)



@nvcc
def test_every_math_header_compiles_for_the_gpu(tmp_path):
  # cc/<family>/<family>.h, every family's (those whose GPU kernels are still
  # to come too): one translation unit, compiled as device code.
  root = pathlib.Path(__file__).resolve().parents[1]
  headers = sorted(str(h.relative_to(root)) for h in root.glob("cc/*/*.h")
                   if h.stem == h.parent.name)
  assert {pathlib.Path(h).stem for h in headers} >= {
      "activations", "acdc", "fastfood", "gaaf", "noisy", "pau"}
  source = tmp_path / "headers.cu.cc"
  source.write_text("".join(f'#include "{h}"\n' for h in headers) +
                    "__global__ void Kernel() {}\n")
  result = subprocess.run(
      ["nvcc", "-x", "cu", "-std=c++17", f"-I{root}",
       "--expt-relaxed-constexpr", "-gencode", "arch=compute_75,code=sm_75",
       "-c", str(source), "-o", str(tmp_path / "headers.o")],
      capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]


class _FakeArray:

  def __init__(self, values, bfloat16):
    self.values = np.array(values)
    self.bfloat16 = bfloat16

  def download(self):
    return self.values.copy()

  def empty_like(self):
    return _FakeArray(np.full_like(self.values, 0x7fff), self.bfloat16)


class _ModelHarness:
  """The harness's interface, run by `_native.gpu_model` on the CPU: checks
  gpu_check.py's own plumbing (dtypes, half types, bounds) without a GPU.
  `error` is added to every result, to see the checks fail."""

  def __init__(self, error=0.0):
    self.error = error

  def upload(self, values, bfloat16=False):
    return _FakeArray(values, bfloat16)

  def synchronize(self):
    pass

  def _launch(self, function, out, *inputs, **attrs):
    def run():
      result = function(*(a.values for a in inputs),
                        bfloat16=inputs[0].bfloat16, blocks=5, threads=64,
                        **attrs)
      if isinstance(result, tuple):  # pau_grad: the harness keeps dx
        result = result[0]
      if self.error and result.dtype.kind == "f":
        result = result + result.dtype.type(self.error)
      out.values = result
    return run

  def _noisy_args(self, x, p, scale, seed):
    """The model's x, p, scale and seed for the harness's device arrays."""
    values = scale.values.reshape(-1)[:1]
    if scale.bfloat16:
      values = (values.astype(np.uint32) << 16).view(np.float32)
    p_values = p.values if p.values.size > 1 else p.values.reshape(())
    x_values = x.values.reshape(-1, p.values.size) if p.values.size > 1 else (
        x.values)
    return x_values, p_values, float(values[0]), [int(s) for s in seed.values]

  def noisy_activation(self, x, y, p, scale, seed, **attrs):
    def run():
      xv, pv, sv, seed_list = self._noisy_args(x, p, scale, seed)
      result = _native.gpu_model.noisy_activation(
          xv, pv, sv, seed=seed_list, bfloat16=x.bfloat16, blocks=5,
          threads=64, **attrs).reshape(x.values.shape)
      if self.error and result.dtype.kind == "f":
        result = result + result.dtype.type(self.error)
      y.values = result
    return run

  def noisy_activation_grad(self, x, dy, dx, p, dp, scale, seed, **attrs):
    def run():
      xv, pv, sv, seed_list = self._noisy_args(x, p, scale, seed)
      dx_values, dp_values = _native.gpu_model.noisy_activation_grad(
          dy.values.reshape(xv.shape), xv, pv, sv, seed=seed_list,
          bfloat16=x.bfloat16, blocks=5, threads=64, **attrs)
      if self.error and dx_values.dtype.kind == "f":
        dx_values = dx_values + dx_values.dtype.type(self.error)
      dx.values = dx_values.reshape(x.values.shape)
      dp.values = dp_values.reshape(p.values.shape)
    return run

  def _block(self, out, function, *args, **attrs):
    def run():
      result = function(*args, **attrs)
      out.values = result + result.dtype.type(self.error)
    return run

  @staticmethod
  def _device_limit(x, log2):
    # The launchers ask the device for their block limit (< 0); the model
    # takes float64's, or float32's (every other dtype runs in float32), on
    # sm_80 and later.
    if log2 < 0:
      return 14 if x.values.dtype == np.float64 else 15
    return log2

  def fast_walsh_hadamard(self, x, y, normalize=False, max_block_log2=-1):
    return self._block(y, _native.gpu_model.fast_walsh_hadamard, x.values,
                       bfloat16=x.bfloat16, normalize=normalize,
                       max_block_log2=self._device_limit(x, max_block_log2),
                       max_blocks=5,
                       strided_blocks=5, strided_threads=64)

  def fastfood(self, x, y, s, g, b, permutation, units, normalize=False,
               max_log2=-1):
    return self._block(y, _native.gpu_model.fastfood, x.values, s.values,
                       g.values, b.values, permutation.values, units=units,
                       normalize=normalize,
                       max_log2=self._device_limit(x, max_log2),
                       max_blocks=3, blocks=3, threads=64)

  def fastfood_grad(self, x, dy, dx, s, g, b, permutation, grads, units,
                    normalize=False, max_log2=-1):
    def run():
      results = _native.gpu_model.fastfood_grad(
          dy.values, x.values, s.values, g.values, b.values,
          permutation.values, units=units, normalize=normalize,
          max_log2=self._device_limit(x, max_log2), max_blocks=3,
          blocks=2, threads=64)
      dx.values = results[0] + results[0].dtype.type(self.error)
      grads.values = np.stack(results[1:])
    return run

  def acdc(self, x, y, a, d, bias):
    return self._block(y, _native.gpu_model.acdc, x.values, a.values,
                       d.values, bias.values, max_blocks=3)

  def acdc_grad(self, x, dy, dx, a, d, grads):
    def run():
      results = _native.gpu_model.acdc_grad(
          dy.values, x.values, a.values, d.values, max_blocks=3, blocks=2,
          threads=64)
      dx.values = results[0] + results[0].dtype.type(self.error)
      grads.values = np.stack(results[1:])
    return run

  def dct(self, x, y, inverse=False):
    return self._block(y, _native.gpu_model.dct, x.values, inverse=inverse,
                       max_blocks=3)

  def block_shuffle(self, x, y, **attrs):
    return self._block(y, _native.gpu_model.block_shuffle, x.values, **attrs)

  def block_fwht(self, x, y):
    return self._block(y, _native.gpu_model.block_fwht, x.values)

  def block_sum(self, x, sums, **attrs):
    return self._block(sums, _native.gpu_model.block_sum, x.values, **attrs)

  def _recurrent(self, name, *args, repeats=0, **attrs):
    """The fused layers' passes: numpy in, numpy out, seconds last."""
    del repeats
    results = getattr(_native.gpu_model, name)(*args, blocks=5, threads=64,
                                               **attrs)
    return (*(r + r.dtype.type(self.error) for r in results), 0.0)

  def lstm(self, *args, **attrs):
    return self._recurrent("lstm", *args, **attrs)

  def lstm_grad(self, *args, **attrs):
    return self._recurrent("lstm_grad", *args, **attrs)

  def gru(self, *args, **attrs):
    return self._recurrent("gru", *args, **attrs)

  def gru_grad(self, *args, **attrs):
    return self._recurrent("gru_grad", *args, **attrs)

  def __getattr__(self, name):
    model = getattr(_native.gpu_model, name)
    if name.endswith("_grad"):
      # Harness order (x, dy, dx), the model's (dy, x).
      return lambda x, dy, dx, **attrs: self._launch(model, dx, dy, x,
                                                     **attrs)
    return lambda x, y, **attrs: self._launch(model, y, x, **attrs)


def test_checks_pass_on_the_per_thread_logic(gpu_check, capsys):
  assert gpu_check.run_checks(_native, _ModelHarness(), [0, 1, 1000, 4099])
  out = capsys.readouterr().out
  assert "FAIL" not in out
  for family in gpu_check.CHECKS:
    assert family in out
  for program in ("block shuffle", "block fwht", "block sum"):
    assert program in out


def test_checks_fail_on_a_wrong_result(gpu_check, capsys):
  assert not gpu_check.run_checks(_native, _ModelHarness(error=1e-3), [1000])
  assert "FAIL" in capsys.readouterr().out
