"""Every family's CPU loops run clean under AddressSanitizer and UBSan.

tools/sanitize_native.py builds the TensorFlow-free `_native` module (which
binds every family's loops) with -fsanitize=address,undefined at -O1, and
tools/native_cases.py calls every entry point on empty, tail, multi-vector
and special-value inputs, float32 and float64, forward and backward, in a
process with the sanitizer runtimes preloaded, once under each instruction
set (TF_APPROX_ISA) this CPU runs. Any report fails the test.
"""

import importlib.util
import shutil
from pathlib import Path

import pytest

from tf_approx import _native

REPO = Path(__file__).resolve().parents[1]
TOOL_PATH = REPO / "tools" / "sanitize_native.py"
REPORT_MARKERS = ("ERROR: AddressSanitizer", "runtime error:",
                  "ERROR: LeakSanitizer", "UndefinedBehaviorSanitizer")

pytestmark = pytest.mark.skipif(shutil.which("g++") is None,
                                reason="needs g++ to build the module")


@pytest.fixture(scope="module")
def sanitize_native():
  spec = importlib.util.spec_from_file_location("sanitize_native", TOOL_PATH)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope="module")
def sanitized_build(sanitize_native, tmp_path_factory):
  directory = tmp_path_factory.mktemp("sanitized_native")
  sanitize_native.build(directory)
  return directory


@pytest.mark.parametrize("isa", ["avx512f", "fma", "default"])
def test_every_family_runs_clean_under_asan_and_ubsan(sanitize_native,
                                                     sanitized_build, isa):
  if isa not in _native.supported_isas():
    pytest.skip(f"this CPU cannot run {isa}")
  result = sanitize_native.run_cases(sanitized_build,
                                     extra_env={"TF_APPROX_ISA": isa})
  output = result.stdout[-3000:] + result.stderr[-20000:]
  assert result.returncode == 0, output
  for marker in REPORT_MARKERS:
    assert marker not in result.stderr, output
  summary = result.stdout.strip().splitlines()[-1]
  assert summary.startswith("native_cases:"), output
  assert summary.split()[-1] == isa, output
