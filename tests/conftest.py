"""Fixtures shared by the test modules."""

import os
import subprocess
import sys

import pytest

SUBPROCESS_TIMEOUT_S = 180


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
