"""Tests for tools/accuracy_report.py and the exhaustive sweep it relies on."""

import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "accuracy_report.py"


def test_dense_report_writes_markdown_and_figures(tmp_path):
  names = ("tanh_pade_4_4", "serp_clamp")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  subprocess.run(
      [sys.executable, str(TOOL), "--dense_only", f"--names={','.join(names)}",
       f"--output_dir={tmp_path}"],
      check=True, cwd=REPO, env=env, timeout=120, capture_output=True)

  markdown = (tmp_path / "accuracy.md").read_text(encoding="utf-8")
  for name in names:
    assert f"| `{name}` |" in markdown
  assert "NOT EXHAUSTIVE" in markdown
  assert "## Findings" in markdown
  figures = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
  # tanh_pade_4_4 is drawn with the tanh family, serp_clamp against serp.
  assert figures == ["clamp_vs_plain.png", "tanh_family.png"]
  for figure in figures:
    assert f"(figures/{figure})" in markdown
    assert (tmp_path / "figures" / figure).stat().st_size > 10_000


@pytest.mark.slow
def test_sweep_of_hard_tanh_matches_numpy():
  from tf_approx import _native  # pylint: disable=g-import-not-at-top

  result = _native.sweep_float32(_native.Spec(kind="hard_tanh"), "tanh")

  # |clip(x, -1, 1) - tanh(x)| grows up to |x| = 1 and shrinks after, so the
  # maximum over all floats is at a float next to ±1.
  one = np.float32(1)
  near = [one]
  for direction in (-np.inf, np.inf):
    x = one
    for _ in range(64):
      x = np.nextafter(x, np.float32(direction))
      near.append(x)
  x = np.array(near, np.float32)
  x = np.concatenate([x, -x])
  error = np.abs(np.clip(x, -1, 1).astype(np.float64) -
                 np.tanh(x.astype(np.float64)))
  expected = error.max()

  assert expected == pytest.approx(1 - np.tanh(1.0), rel=1e-12)
  assert result["max_abs_error_all"] == pytest.approx(expected, rel=1e-12)
  assert abs(result["argmax_all"]) == 1.0
  assert result["max_abs_error_range"] == result["max_abs_error_all"]
  assert result["nan_outputs"] == 0
  assert result["nan_propagates"]
  assert result["decreasing_steps"] == 0
  assert (result["value_at_neg_inf"], result["value_at_pos_inf"]) == (-1, 1)
  assert (result["min_value"], result["max_value"]) == (-1, 1)
  assert result["inputs"] == 2 * 0x7F800000 + 1
