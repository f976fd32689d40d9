"""The Bazel build (WORKSPACE, BUILD) makes the same op library as setup.py.

Runs tools/bazel/build_offline.sh (no network needed) with a throw-away Bazel
output base, loads the result in a fresh process, and compares it with the
setup.py build that the tf_approx package loads: the same ops, the same values.
Needs `bazel` on PATH (tested with Debian's bazel-bootstrap, Bazel 4.2.3); the
cold build, with BUILD_TIME_ARGS, took 4 minutes on an idle 2-core machine
(2026-12-06; 9 beside one other busy process before them).
CI (.ci/run) installs it and sets TF_APPROX_REQUIRE_BAZEL=1, under which a
skipped test here fails (tests/conftest.py).
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "tools" / "bazel" / "build_offline.sh"
# For the build's time only; the BUILD file itself keeps setup.py's flags.
# GCC's RTL GCSE passes take a third to a half of the CPU loops' compile time
# at -O3 (cc/pau/pau_cpu.cc: 164 s, 58 s without them, on a 2-core machine)
# and change no arithmetic: without them the library computes the same
# values, bit for bit. The sandbox links TensorFlow's 18,000 headers into
# every action's tree; without it Bazel still checks each compile's included
# headers against the declared ones (the compiler's .d file). Cold, on an
# idle 2-core machine: 331 s with the sandbox, 248 s without.
BUILD_TIME_ARGS = ["--copt=-fno-gcse", "--copt=-fno-gcse-after-reload",
                   "--spawn_strategy=local"]
BAZEL = shutil.which("bazel")

pytestmark = [
    pytest.mark.bazel,
    pytest.mark.skipif(BAZEL is None, reason="bazel is not on PATH"),
]

# Loads the library at argv[1] alone in a fresh process (two libraries that
# register the same ops cannot share one), prints what it registers and the
# values of a few calls, and saves a small sweep to argv[2].
_PROBE = textwrap.dedent("""
  import json, os, sys
  os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
  import numpy as np
  import tensorflow as tf

  lib = tf.load_op_library(sys.argv[1])
  serp = lib.tf_approx_activation(
      tf.constant([0.5, 1.0]), kind="rational", numerator=[0.0, 1.0],
      denominator=[1.0, 0.0, 0.25])
  x = tf.constant(np.linspace(-8.0, 8.0, 20001), tf.float32)
  sweep = {}
  for i, attrs in enumerate([
      dict(kind="rational", numerator=[0.0, 1.0, 0.0, 0.1],
           denominator=[1.0, 0.0, 0.4]),
      dict(kind="rational", numerator=[0.5, 0.25], denominator=[1.0, 0.0, 0.1],
           clip=True, clip_min=-3.0, clip_max=3.0),
      dict(kind="fastexp_sigmoid", squarings=3),
      dict(kind="hard_tanh")]):
    sweep[f"y{i}"] = lib.tf_approx_activation(x, **attrs).numpy()
    sweep[f"dx{i}"] = lib.tf_approx_activation_grad(
        tf.ones_like(x), x, **attrs).numpy()
  a = tf.constant([0.03, 0.5, 1.6, 2.0, 0.9, 0.15])
  b = tf.constant([0.01, 4.0, 0.02, 0.3])
  seed = tf.constant([1, 2], tf.int64)
  for kind in ("safe", "abs_of_sum", "unsafe"):
    sweep[f"pau_{kind}"] = lib.tf_approx_pau(
        x, a, b, seed, denominator_kind=kind, randomized=0.05).numpy()
    for name, grad in zip(("dx", "da", "db"), lib.tf_approx_pau_grad(
        tf.ones_like(x), x, a, b, seed, denominator_kind=kind)):
      sweep[f"pau_{kind}_{name}"] = grad.numpy()
  rows = tf.reshape(x[:20000], [10, 2000])
  sweep["fwht"] = lib.tf_approx_fast_walsh_hadamard(
      tf.reshape(x[:16384], [4, 4096]), normalize=True).numpy()
  rng = np.random.default_rng(0)
  s, g, b = (tf.constant(rng.normal(size=(3, 2048)), tf.float32)
             for _ in range(3))
  perm = tf.constant(np.stack([rng.permutation(2048) for _ in range(3)]),
                     tf.int32)
  sweep["fastfood"] = lib.tf_approx_fastfood(
      rows, s, g, b, perm, units=5000, normalize=True).numpy()
  for name, grad in zip(("dx", "ds", "dg", "db"), lib.tf_approx_fastfood_grad(
      tf.ones([10, 5000]), rows, s, g, b, perm, units=5000, normalize=True)):
    sweep[f"fastfood_{name}"] = grad.numpy()
  acdc_rows = tf.reshape(x[:20000], [40, 500])
  a, d, bias = (tf.constant(1 + 0.1 * rng.normal(size=500), tf.float32)
                for _ in range(3))
  sweep["acdc"] = lib.tf_approx_acdc(acdc_rows, a, d, bias).numpy()
  for name, grad in zip(("dx", "da", "dd", "dbias"), lib.tf_approx_acdc_grad(
      tf.ones([40, 500]), acdc_rows, a, d)):
    sweep[f"acdc_{name}"] = grad.numpy()
  noisy_rows = tf.reshape(x[:20000], [40, 500]) * 3
  p = tf.constant(rng.uniform(-1, 1, size=500), tf.float32)
  for where in ("output", "input_learned"):
    args = (noisy_rows, p, tf.constant(0.5), tf.constant([3, 4], tf.int64))
    sweep[f"noisy_{where}"] = lib.tf_approx_noisy_activation(
        *args, where=where, training=True).numpy()
    for name, grad in zip(("dx", "dp"), lib.tf_approx_noisy_activation_grad(
        tf.ones([40, 500]), *args, where=where, training=True)):
      sweep[f"noisy_{where}_{name}"] = grad.numpy()
  sweep["gaaf"] = lib.tf_approx_gaaf(x * 3).numpy()
  sweep["gaaf_dx"] = lib.tf_approx_gaaf_grad(tf.ones_like(x), x * 3).numpy()
  np.savez(sys.argv[2], **sweep)
  ops = sorted(name for name in dir(lib)
               if name.startswith("tf_approx_")
               and not name.endswith("_eager_fallback"))
  print("PROBE " + json.dumps({
      "ops": ops, "serp": serp.numpy().tolist(), "tf_version": tf.__version__}))
""")


def _probe(library, sweep_path):
  result = subprocess.run(
      [sys.executable, "-c", _PROBE, str(library), str(sweep_path)],
      capture_output=True, text=True, cwd=sweep_path.parent, timeout=300,
      check=False)
  assert result.returncode == 0, (
      f"loading {library} failed:\n{result.stdout}\n{result.stderr}")
  line = [l for l in result.stdout.splitlines() if l.startswith("PROBE ")][-1]
  return json.loads(line[len("PROBE "):]), dict(np.load(sweep_path))


@pytest.fixture(scope="module")
def bazel_library(tmp_path_factory):
  """Builds the library with a cold Bazel cache; removes the cache after."""
  work = tmp_path_factory.mktemp("bazel")
  output_base = work / "output_base"
  library = work / "_ops.so"
  env = dict(os.environ, PYTHON_BIN_PATH=sys.executable,
             TF_APPROX_BAZEL_OUTPUT_BASE=str(output_base))
  try:
    result = subprocess.run(
        [str(BUILD_SCRIPT), str(library), *BUILD_TIME_ARGS], env=env,
        cwd=work,
        capture_output=True, text=True, timeout=1800, check=False)
    assert result.returncode == 0, (
        f"{BUILD_SCRIPT} failed:\n{result.stdout[-5000:]}\n"
        f"{result.stderr[-10000:]}")
    yield library
  finally:
    # Stops this output base's Bazel server and deletes its (read-only) tree.
    subprocess.run([BAZEL, f"--output_base={output_base}", "clean",
                    "--expunge"], cwd=REPO, capture_output=True, timeout=300,
                   check=False)


@pytest.fixture(scope="module")
def bazel_probe(bazel_library):
  return _probe(bazel_library, bazel_library.with_name("sweep_bazel.npz"))


def test_bazel_library_computes(bazel_probe):
  info, _ = bazel_probe
  # serp: x / (1 + x^2 / 4) = 4x / (x^2 + 4).
  np.testing.assert_allclose(info["serp"], [0.5 * 4 / 4.25, 0.8], rtol=1e-6)
  assert "tf_approx_activation" in info["ops"]
  assert "tf_approx_pau_grad" in info["ops"]
  assert "tf_approx_fastfood_grad" in info["ops"]
  assert "tf_approx_acdc_grad" in info["ops"]


def test_bazel_library_records_tensorflow_version(bazel_library, bazel_probe):
  info, _ = bazel_probe
  match = re.search(rb"TF_APPROX_BUILT_WITH_TENSORFLOW=([^;\x00]+);",
                    bazel_library.read_bytes())
  assert match is not None
  assert match.group(1).decode() == info["tf_version"]


def test_bazel_library_matches_setup_py_build(bazel_probe, tmp_path):
  spec = importlib.util.find_spec("tf_approx")
  setup_library = Path(spec.origin).parent / "_ops.so"
  if not setup_library.exists():
    pytest.skip(f"no setup.py build at {setup_library} (pip install first)")
  bazel_info, bazel_sweep = bazel_probe
  setup_info, setup_sweep = _probe(setup_library, tmp_path / "sweep_setup.npz")
  assert bazel_info["ops"] == setup_info["ops"]
  assert bazel_info["serp"] == setup_info["serp"]
  assert bazel_sweep.keys() == setup_sweep.keys()
  for key in bazel_sweep:
    # Same sources and flags: the same code, up to the toolchains' defaults.
    np.testing.assert_allclose(bazel_sweep[key], setup_sweep[key], rtol=1e-6,
                               atol=0, err_msg=key)
