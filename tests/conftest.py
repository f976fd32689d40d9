"""Fixtures shared by the test modules."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SUBPROCESS_TIMEOUT_S = 180

# Set by .ci/run: CI installs Bazel, so a skipped `bazel` test means the Bazel
# build went unchecked, and that fails the run.
REQUIRE_BAZEL_ENV = "TF_APPROX_REQUIRE_BAZEL"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
  report = (yield).get_result()
  if (report.skipped and item.get_closest_marker("bazel") is not None
      and os.environ.get(REQUIRE_BAZEL_ENV, "") == "1"):
    reason = (report.longrepr[2] if isinstance(report.longrepr, tuple)
              else str(report.longrepr))
    report.outcome = "failed"
    report.longrepr = (
        f"{item.nodeid} was skipped ({reason}), but {REQUIRE_BAZEL_ENV}=1 "
        "requires the Bazel build to be tested: install Bazel (Debian: "
        "apt-get install bazel-bootstrap) or unset it.")


_TOOLS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "tools")


@pytest.fixture(scope="session")
def load_tool():
  """Returns `load(name)`, which imports tools/<name>.py (once) as a module."""
  loaded = {}

  def load(name):
    if name not in loaded:
      spec = importlib.util.spec_from_file_location(
          name, os.path.join(_TOOLS, f"{name}.py"))
      module = importlib.util.module_from_spec(spec)
      spec.loader.exec_module(module)
      loaded[name] = module
    return loaded[name]

  return load


@pytest.fixture(scope="session")
def run_python():
  """Returns `run(script, *args)`, which runs `script` in a fresh interpreter.

  A fresh process is how users load saved models: nothing the test process
  registered or loaded can leak into it. `run` returns the
  `subprocess.CompletedProcess` (text stdout and stderr) and never raises on a
  non-zero exit status; it raises `subprocess.TimeoutExpired` after `timeout`
  seconds.
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")

  def run(script, *args, timeout=SUBPROCESS_TIMEOUT_S):
    return subprocess.run([sys.executable, "-c", script, *map(str, args)],
                          env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)

  return run


_LOAD_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    import tensorflow as tf
    import tf_approx

    directory, keys = sys.argv[1], sys.argv[2:]
    x = np.load(f"{directory}/x.npy")
    result = {}
    for key in keys:
      model = keras.models.load_model(f"{directory}/{key}.keras")
      result[f"keras/{key}"] = model.predict(x, verbose=0).tolist()
      loaded = tf.saved_model.load(f"{directory}/{key}_saved_model")
      result[f"saved_model/{key}"] = loaded.serve(x).numpy().tolist()
    print(json.dumps(result))
""")


@pytest.fixture
def assert_reloads_in_fresh_process(run_python, tmp_path):
  """Returns `check(models, x)`: every model, saved as a `.keras` file and
  exported as a SavedModel, predicts the same on x in a fresh process that
  only imports tf_approx.

  `models` maps a key to a built (ideally trained) Keras model.
  """

  def check(models, x):
    np.save(tmp_path / "x.npy", x)
    predictions = {}
    for key, model in models.items():
      predictions[key] = model.predict(x, verbose=0)
      model.save(tmp_path / f"{key}.keras")
      model.export(tmp_path / f"{key}_saved_model", verbose=False)
    result = run_python(_LOAD_SCRIPT, tmp_path, *models)
    assert result.returncode == 0, result.stderr[-4000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    for key, want in predictions.items():
      for fmt in ("keras", "saved_model"):
        np.testing.assert_allclose(
            np.array(loaded[f"{fmt}/{key}"], np.float32), want, rtol=1e-5,
            atol=1e-6, err_msg=f"{fmt}/{key}")

  return check


def _numeric_jacobians(fn, args, delta=1e-6):
  """Central differences of sum(fn(*args) * w) for each argument.

  w is a fixed random weighting of fn's output; returns (w, [d/d arg]).
  """
  w = np.random.default_rng(5).normal(size=np.shape(fn(*args)))
  grads = []
  for i, arg in enumerate(args):
    grad = np.zeros_like(arg)
    for index in np.ndindex(arg.shape):
      plus, minus = [np.array(v) for v in args], [np.array(v) for v in args]
      plus[i][index] += delta
      minus[i][index] -= delta
      grad[index] = np.sum((fn(*plus) - fn(*minus)) * w) / (2 * delta)
    grads.append(grad)
  return w, grads


@pytest.fixture(scope="session")
def numeric_jacobians():
  """Returns `jacobians(fn, args, delta=1e-6) -> (w, grads)`: central
  differences of sum(fn(*args) * w) w.r.t. each numpy argument, w a fixed
  random weighting of the output (the analytic side: output_gradients=w)."""
  return _numeric_jacobians

