"""TF_APPROX_ISA: every instruction-set clone of the CPU loops is tested.

The CPU entry points are compiled for AVX-512, AVX2+FMA and baseline x86-64
and the loader runs the best this CPU supports; TF_APPROX_ISA forces another
(cc/common/isa.cc). Here, in one fresh process per clone this CPU can run:
the loader bound the forced clone (the address of an entry point is that
clone's symbol) in both the op library and `_native`, `selected_isa()` says
so, and a sweep of every family, forward and gradient, float32 and float64,
empty/tail/multi-vector shapes and special values (the TF ops and every
`_native` loop, tools/native_cases.py) agrees with the baseline clone and,
on finite inputs, with the composite twins (TF_APPROX_PY_OPS=1). A clone the
CPU cannot run must be refused, as must an unknown name.
"""

import ctypes
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tf_approx import _library
from tf_approx import _native

REPO = Path(__file__).resolve().parents[1]
ISAS = ("avx512f", "fma", "default")
ALIASES = {"avx2": "fma", "baseline": "default"}
SUPPORTED = tuple(_native.supported_isas())

_DRIVER = textwrap.dedent("""
  import ctypes, json, os, sys, zlib
  import numpy as np
  import tensorflow as tf
  import tf_approx
  from tf_approx import _library, _native
  sys.path.insert(0, sys.argv[3])
  import native_cases

  out, composite = sys.argv[1], sys.argv[2] == "composite"
  ops = tf_approx.ops
  SPECIAL = [0.0, -0.0, 1e-40, 1e30, -1e30, np.inf, -np.inf, np.nan]
  # For the linear transforms, only zeros and subnormals: large values and
  # NaN make ACDC's gradients rounding noise that differs between clones (its
  # dx depends on x through cancellation, though dx is linear in dy alone).
  LINEAR_SPECIAL = [0.0, -0.0, 1e-40, -1e-39]
  results = {}

  def seed(tag):
    # Inputs depend on the case alone, whichever cases a run skips.
    global rng
    rng = np.random.default_rng(zlib.crc32(tag.encode()))

  def inputs(shape, dtype, special, values=SPECIAL):
    x = rng.normal(scale=3.0, size=shape)
    if special and x.size:
      flat = x.reshape(-1)
      flat[:min(flat.size, len(values))] = values[:flat.size]
      rng.shuffle(flat)
    return tf.constant(x.astype(dtype))

  def param(shape, dtype, scale=1.0, offset=0.0):
    return tf.Variable((offset + scale * rng.normal(size=shape)).astype(dtype))

  def record(key, function, x, params):
    x = tf.Variable(x)
    with tf.GradientTape() as tape:
      y = function(x, *params)
    weights = tf.constant(rng.normal(size=y.shape).astype(y.dtype.name))
    grads = tape.gradient(y, [x, *params], output_gradients=weights)
    results[key + "/y"] = y.numpy()
    for i, g in enumerate(grads):
      results[key + f"/d{i}"] = g.numpy()

  spec = ops.ActivationSpec(kind="rational", numerator=[0.0, 1.0, 0.0, 0.1],
                            denominator=[1.0, 0.0, 0.4])
  clipped = ops.ActivationSpec(kind="rational", numerator=[0.5, 1.0],
                               denominator=[1.0, 0.0, 0.2], clip=(-3.0, 3.0))
  for dtype in ("float32", "float64"):
    # The composites are compared on finite inputs only.
    for special in (False,) if composite else (False, True):
      kind = "special" if special else "finite"
      for size in (0, 3, 53):
        x = lambda: inputs([size, 1] if size < 53 else [53, 3], dtype,
                           special)
        tag = f"{kind}/{dtype}/{size}"
        seed(tag)
        for name in ("tanh_pade_4_4", "sigm_fastexp_512"):
          record(f"activation/{name}/{tag}",
                 lambda v, name=name: ops.activation(v, name), x(), [])
        for act in ("hard_tanh", "word2vec_sigmoid", "ultra_fast_sigmoid"):
          record(f"activation/{act}/{tag}",
                 lambda v, act=act: ops.activation(
                     v, ops.ActivationSpec(kind=act)), x(), [])
        record(f"activation/custom/{tag}",
               lambda v: ops.activation(v, spec), x(), [])
        record(f"activation/clipped/{tag}",
               lambda v: ops.activation(v, clipped), x(), [])
        for denominator in ("safe", "abs_of_sum", "unsafe"):
          record(f"pau/{denominator}/{tag}",
                 lambda v, a, b, denominator=denominator: ops.pau(
                     v, a, b, denominator), x(),
                 [param([6], dtype), param([4], dtype)])
        channels = 1 if size < 53 else 3
        record(f"pau/per_channel/{tag}",
               lambda v, a, b: ops.pau(v, a, b), x(),
               [param([channels, 4], dtype), param([channels, 3], dtype)])
        for base in ("tanh", "sigmoid"):
          for where in ("output", "input_learned"):
            record(f"noisy/{base}/{where}/{tag}",
                   lambda v, p, base=base, where=where: ops.noisy_activation(
                       v, p, 0.5, base=base, where=where), x(),
                   [param([channels], dtype)])
        for base in ("tanh", "sigmoid", "relu"):
          record(f"gaaf/{base}/{tag}",
                 lambda v, base=base: ops.gaaf(v, base=base), x(), [])
      seed(f"transforms/{kind}/{dtype}")
      for d, n_in, units, rows in ((8, 5, 12, 3), (64, 64, 64, 9)):
        blocks = -(-units // d)
        perm = tf.constant(np.stack([rng.permutation(d)
                                     for _ in range(blocks)]), tf.int32)
        record(f"fastfood/{d}/{kind}/{dtype}",
               lambda v, s, g, b, perm=perm, units=units: ops.fastfood(
                   v, s, g, b, perm, units, normalize=True),
               inputs([rows, n_in], dtype, special, LINEAR_SPECIAL),
               [param([blocks, d], dtype) for _ in range(3)])
        record(f"fwht/{d}/{kind}/{dtype}",
               lambda v: ops.fast_walsh_hadamard(v, normalize=True),
               inputs([rows, d], dtype, special, LINEAR_SPECIAL), [])
      for n, rows in ((5, 3), (16, 17), (100, 2)):
        record(f"acdc/{n}/{kind}/{dtype}", ops.acdc,
               inputs([rows, n], dtype, special, LINEAR_SPECIAL),
               [param([n], dtype, 0.1, 1.0) for _ in range(3)])
        record(f"dct/{n}/{kind}/{dtype}",
               lambda v: ops.dct(v, inverse=True),
               inputs([rows, n], dtype, special, LINEAR_SPECIAL), [])

  info = {"ops_isa": tf_approx.selected_isa()}
  if not composite:
    for name, arrays in native_cases.run(_native).items():
      for i, a in enumerate(arrays):
        results[f"native/{name}/{i}"] = a
    info["native_isa"] = _native.selected_isa()
    for key, path in (("ops", str(_library.LIBRARY_PATH)),
                      ("native", _native.__file__)):
      probe = ctypes.CDLL(path).tf_approx_isa_probe
      probe.restype = ctypes.c_void_p
      address = probe()
      real = os.path.realpath(path)
      for line in open("/proc/self/maps"):
        fields = line.split()
        if fields[-1] == real and int(fields[2], 16) == 0:
          info[key + "_probe"] = address - int(fields[0].split("-")[0], 16)
          break
  np.savez(out, **results)
  print("ISA_RUN " + json.dumps(info))
""")


def _run(tmp_path, isa, composite=False):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  env.pop("TF_APPROX_ISA", None)
  env.pop("TF_APPROX_PY_OPS", None)
  if isa is not None:
    env["TF_APPROX_ISA"] = isa
  if composite:
    env["TF_APPROX_PY_OPS"] = "1"
  out = tmp_path / f"{isa}_{composite}.npz"
  result = subprocess.run(
      [sys.executable, "-c", _DRIVER, str(out),
       "composite" if composite else "native", str(REPO / "tools")],
      env=env, capture_output=True, text=True, timeout=600, check=False)
  return result, out


def _load(result, out):
  assert result.returncode == 0, result.stderr[-5000:]
  line = [l for l in result.stdout.splitlines() if l.startswith("ISA_RUN ")]
  return json.loads(line[-1][len("ISA_RUN "):]), dict(np.load(out))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """{isa: (info, arrays)} for every supported clone, and "composite"."""
  tmp_path = tmp_path_factory.mktemp("isa")
  found = {isa: _load(*_run(tmp_path, isa)) for isa in SUPPORTED}
  found["composite"] = _load(*_run(tmp_path, "default", composite=True))
  return found


def _clone_symbols(library):
  """{address: clone name} of the library's target_clones bodies."""
  listing = subprocess.run(["nm", "--defined-only", str(library)],
                           capture_output=True, text=True, check=True).stdout
  symbols = {}
  for line in listing.splitlines():
    address, _, name = line.split(maxsplit=2)
    match = re.search(r"\.(avx512f|fma|default)$", name)
    if match:
      symbols[int(address, 16)] = match.group(1)
  return symbols


def test_supported_isas_are_clones_best_first():
  assert SUPPORTED[-1] == "default"
  assert list(SUPPORTED) == [isa for isa in ISAS if isa in SUPPORTED]
  if not os.environ.get("TF_APPROX_ISA"):
    assert _native.selected_isa() == SUPPORTED[0]


@pytest.mark.parametrize("isa", ISAS)
def test_loader_binds_the_forced_clone(runs, isa):
  if isa not in SUPPORTED:
    pytest.skip(f"this CPU cannot run {isa} (test_unsupported_isa_is_refused)")
  info, _ = runs[isa]
  assert info["ops_isa"] == isa
  assert info["native_isa"] == isa
  for key, library in (("ops", _library.LIBRARY_PATH),
                       ("native", Path(_native.__file__))):
    assert _clone_symbols(library).get(info[f"{key}_probe"]) == isa, key


def _assert_close(key, got, want, rtol, composite=False):
  got, want = np.asarray(got), np.asarray(want)
  assert got.shape == want.shape and got.dtype == want.dtype, key
  nan = np.isnan(want)
  np.testing.assert_array_equal(np.isnan(got), nan, err_msg=key)
  if not composite:
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want), err_msg=key)
  finite = np.isfinite(want) & np.isfinite(got)
  if finite.any():
    scale = max(1.0, float(np.max(np.abs(want[finite]))))
    np.testing.assert_allclose(got[finite], want[finite], rtol=rtol,
                               atol=rtol * scale, err_msg=key)


def _rtol(key, loose):
  # Clones differ by rounding (up to 1.5e-5 of the largest value in float32,
  # measured on PAU (10, 10); 4e-8 in float64 where the noise is drawn in
  # float32): a wrong lane or tail is off by far more.
  if "float64" in key:
    return 1e-9 if loose else 1e-7
  return 1e-5 if loose else 5e-5


@pytest.mark.parametrize("isa", [isa for isa in ISAS if isa != "default"])
def test_clone_matches_the_baseline_clone(runs, isa):
  if isa not in SUPPORTED:
    pytest.skip(f"this CPU cannot run {isa}")
  _, got = runs[isa]
  _, want = runs["default"]
  assert got.keys() == want.keys()
  for key in want:
    _assert_close(key, got[key], want[key], _rtol(key, loose=False))


@pytest.mark.parametrize("isa", ISAS)
def test_clone_matches_the_composite_twins(runs, isa):
  if isa not in SUPPORTED:
    pytest.skip(f"this CPU cannot run {isa}")
  _, got = runs[isa]
  _, want = runs["composite"]
  finite = [key for key in want if "/finite/" in key]
  assert len(finite) > 100
  for key in finite:
    _assert_close(key, got[key], want[key], _rtol(key, loose=True),
                  composite=True)


# Imports `_native` from its file alone (not through the tf_approx package,
# which loads the op library first), prints its selected_isa() or error, then
# (argv[2] == "ops") imports tf_approx.
_IMPORT = textwrap.dedent("""
  import importlib.util, sys
  spec = importlib.util.spec_from_file_location("_native", sys.argv[1])
  try:
    native = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(native)
    print("NATIVE", native.selected_isa())
  except ImportError as e:
    print("NATIVE", e)
  if sys.argv[2] == "ops":
    try:
      import tf_approx
      print("OPS", tf_approx.selected_isa())
    except ImportError as e:
      print("OPS", type(e).__name__, e)
""")


def _imports(value, ops=True):
  env = dict(os.environ, TF_APPROX_ISA=value, TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run(
      [sys.executable, "-c", _IMPORT, _native.__file__,
       "ops" if ops else "native"], env=env, capture_output=True, text=True,
      timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def test_unknown_isa_is_refused():
  out = _imports("sse9")
  assert "NATIVE tf_approx._native: TF_APPROX_ISA='sse9' names no" in out
  assert "OPS OpLibraryError tf_approx: TF_APPROX_ISA='sse9' names no" in out
  assert "avx512f, fma (or avx2) or default (or baseline)" in out


@pytest.mark.parametrize("isa", ISAS)
def test_unsupported_isa_is_refused(isa):
  if isa in SUPPORTED:
    pytest.skip(f"this CPU runs {isa} (test_loader_binds_the_forced_clone)")
  out = _imports(isa)
  assert (f"NATIVE tf_approx._native: TF_APPROX_ISA='{isa}' asks for code "
          "this CPU cannot run") in out
  assert (f"OPS OpLibraryError tf_approx: TF_APPROX_ISA='{isa}' asks for code "
          "this CPU cannot run") in out


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_alias_selects_its_clone(alias):
  if ALIASES[alias] not in SUPPORTED:
    pytest.skip(f"this CPU cannot run {ALIASES[alias]}")
  assert _imports(alias, ops=False).split() == ["NATIVE", ALIASES[alias]]


def test_empty_value_lets_the_loader_choose():
  assert _imports("", ops=False).split() == ["NATIVE", SUPPORTED[0]]
