"""Smoke tests of the benchmark scripts: they run and report every name.

Timings are never asserted here: they depend on the machine and its load,
and the performance targets are checked by the benchmarks themselves.
"""

import os
import subprocess
import sys
from pathlib import Path

import tf_approx

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
TIMEOUT_S = 180
ACTIVATION_NAMES = ["tanh_pade_4_4", "serp", "sigm_fastexp_512",
                    "sigm_fastexp_2"]
MODERN = "gelu_pade_5_6_clamp"


def run_benchmark(script, *args):
  # A script's sys.path[0] is its own folder: without the checkout on
  # PYTHONPATH it would import whichever tf_approx is installed (e.g. an
  # editable install of another checkout), not the one under test.
  path = os.pathsep.join(p for p in (str(BENCHMARKS.parent),
                                     os.environ.get("PYTHONPATH")) if p)
  return subprocess.run(
      [sys.executable, str(BENCHMARKS / script), *args],
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=path),
      capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def test_activations_benchmark_reports_every_name():
  # The paper's picks and one of today's activations, against GELU's two
  # TensorFlow forms.
  result = run_benchmark("activations.py", "--quick", "--sizes=4096",
                         "--threads=1",
                         "--names=" + ",".join(ACTIVATION_NAMES + [MODERN]))
  assert result.returncode == 0, result.stderr[-4000:]
  table = result.stdout
  for name in ACTIVATION_NAMES:
    assert f"{name} (vs tf." in table, table
  assert f"{MODERN} (vs tf.nn.gelu)" in table, table
  for baseline in ("copy: x * s", "copy: DeepCopy", "tf.nn.relu", "tf.tanh",
                   "tf.sigmoid", "composite twin", "tf.nn.gelu tanh form"):
    assert baseline in table, table
  assert "forward+backward >= 6x faster than tf.nn.gelu (1 thread)" in table
  assert "4K elements, 1 intra-op thread(s)" in table, table
  assert "Targets" in table, table


def test_pau_benchmark_reports_every_row():
  result = run_benchmark("pau.py", "--quick", "--sizes=4096", "--threads=1")
  assert result.returncode == 0, result.stderr[-4000:]
  table = result.stdout
  for row in ("tf.nn.leaky_relu(x, 0.01)", "composite twin (GradientTape)",
              "tf_approx.ops.pau ", "tf_approx.ops.pau per channel"):
    assert row in table, table
  for column in ("fwd µs", "fwd+bwd µs", "÷ leaky", "twin ÷"):
    assert column in table, table
  assert "4K elements, 1 intra-op thread(s)" in table, table
  assert "Targets" in table, table
  for target in ("composite twin time / op time >= 5x",
                 "op time / leaky_relu time <= 2x"):
    assert target in table, table


def test_fastfood_benchmark_reports_every_row():
  result = run_benchmark("fastfood.py", "--quick", "--fwht_log2=10",
                         "--layer_d=256", "--threads=1")
  assert result.returncode == 0, result.stderr[-4000:]
  table = result.stdout
  for row in ("tf_approx.ops.fast_walsh_hadamard µs",
              "tf_approx._native (1 thread) µs", "ffht.fht_ µs",
              "matmul with dense H µs", "tf_approx.layers.Fastfood",
              "keras.layers.Dense", "Fastfood composite twin"):
    assert row in table, table
  for heading in ("H x, batch 1, 1 intra-op thread(s)",
                  "H x, batch 128, 1 intra-op thread(s)",
                  "Layer fwd+bwd, 1 intra-op thread(s)", "Targets"):
    assert heading in table, table
  assert "65,792" in table, table  # Dense(256) on 256 inputs
  assert "op time / FFHT time <= 1.5x" in table, table
  assert "Dense time / Fastfood time >= 3x" in table, table


def test_acdc_benchmark_reports_every_row():
  result = run_benchmark("acdc.py", "--quick", "--sizes=64,100",
                         "--threads=1")
  assert result.returncode == 0, result.stderr[-4000:]
  table = result.stdout
  for row in ("tf_approx.layers.ACDC", "keras.layers.Dense",
              "ACDC composite twin (tf.signal)"):
    assert row in table, table
  for column in ("fwd+bwd µs", "÷ ACDC", "peak MiB", "params"):
    assert column in table, table
  assert "Batch 128, 1 intra-op thread(s)" in table, table
  assert "4,160" in table, table  # Dense(64) on 64 inputs
  assert "Dense time / ACDC time >= 5x" in table, table


def test_noisy_benchmark_reports_every_row():
  result = run_benchmark("noisy.py", "--quick", "--sizes=4096", "--threads=1")
  assert result.returncode == 0, result.stderr[-4000:]
  table = result.stdout
  for row in ("tf.tanh", "composite twin (GradientTape)",
              "plain TF (stateless_normal)", "tf_approx.ops.noisy_activation",
              "tf_approx.ops.gaaf"):
    assert row in table, table
  for column in ("NAN op", "GAAF op", "fwd µs", "fwd+bwd µs", "÷ tanh",
                 "twin ÷", "plain ÷"):
    assert column in table, table
  assert "4K elements, 1 intra-op thread(s)" in table, table
  assert "Targets" in table, table
  for target in ("NAN composite twin time / op time >= 3x",
                 "GAAF composite twin time / op time >= 3x",
                 "NAN plain TF time / op time >= 3x"):
    assert target in table, table


def test_char_rnn_benchmark_reports_steps_and_profile():
  result = run_benchmark("char_rnn.py", "--quick", "--threads=1")
  assert result.returncode == 0, result.stderr[-4000:]
  report = result.stdout
  for row in ("sigmoid / tanh", "sigm_fastexp_512 / tanh_pade_4_4",
              "sigm_fastexp_512_clamp / tanh_pade_4_4_clamp",
              "sigm_fastexp_2 / serp", "linear / linear"):
    assert row in report, report
  for column in ("ms per step (median)", "ms per step (fastest)",
                 "activation gradients", "matmuls", "executor between ops"):
    assert column in report, report
  assert "1 intra-op and inter-op thread(s)" in report, report
  assert "Target: sigm_fastexp_512 / tanh_pade_4_4 step time <= 0.9x" in report


def test_recurrent_benchmark_reports_every_row():
  # Tiny layers and few characters: the rows, tables and targets, not times.
  # The LSTM(512) case (the same rows as the LSTM's) is left out: its traces
  # would take the test over 30 s.
  result = run_benchmark("recurrent.py", "--quick", "--threads=1",
                         "--batch=4", "--chars=5", "--units=8",
                         "--scaling=false")
  assert result.returncode == 0, result.stderr[-4000:]
  table = result.stdout
  for row in ("keras.layers.LSTM", "tf.raw_ops.BlockLSTMV2 layer",
              "keras.layers.LSTM, safe picks", "tf_approx.layers.LSTM",
              "tf_approx.layers.LSTM, safe picks", "keras.layers.GRU",
              "keras.layers.GRU, safe picks", "tf_approx.layers.GRU",
              "matmul floor", "its matmuls alone"):
    assert row in table, table
  for column in ("ms per step (median)", "ms (fastest)",
                 "÷ keras.layers.LSTM", "÷ keras.layers.GRU", "÷ floor"):
    assert column in table, table
  for heading in ("CharRNN, 2 x LSTM(8), batch 4, 5 characters, 1 thread(s)",
                  "CharRNN, 2 x GRU(8), batch 4, 5 characters, 1 thread(s)",
                  "Targets"):
    assert heading in table, table
  assert "\n2 x LSTM(" not in table, table
  assert "matmul FLOPs per step (forward and backward): " in table, table
  for target in ("fused LSTM (exact) time / Keras LSTM time <= 0.65",
                 "fused LSTM (exact) time / matmul floor <= 1.3",
                 "fused LSTM safe picks time / fused LSTM exact time <= 1.0",
                 "fused GRU (exact) time / Keras GRU time <= 0.65"):
    assert target in table, table
  # A tf_approx layer this checkout lacks is "not available", never timed;
  # one it has is timed.
  assert f"tf_approx: {Path(tf_approx.__file__).parent}" in table, table
  for name in ("LSTM", "GRU"):
    missing = f"not available (tf_approx.layers.{name} missing)"
    assert (missing in table) != hasattr(tf_approx.layers, name), table
