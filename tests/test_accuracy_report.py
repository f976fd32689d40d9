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


def test_native_references_match_scipy():
  from scipy import special  # pylint: disable=g-import-not-at-top
  from tf_approx import _native, activations  # pylint: disable=g-import-not-at-top

  x = np.concatenate([np.linspace(-60, 60, 24001),
                      [1e-30, -1e-30, 3e-9, -3e-9, 1e-5, -1e-5, 39.5, -39.5,
                       1e10, -1e10]]).astype(np.float32)
  xd = x.astype(np.float64)
  scale, alpha = activations.SELU_SCALE, activations.SELU_ALPHA
  expected = {
      "tanh": np.tanh(xd), "sigmoid": special.expit(xd),
      "gelu": xd * special.ndtr(xd), "silu": xd * special.expit(xd),
      "mish": xd * np.tanh(np.logaddexp(0.0, xd)),
      "softplus": np.logaddexp(0.0, xd),
      "elu": np.where(xd > 0, xd, np.expm1(np.minimum(xd, 0.0))),
      "selu": scale * np.where(xd > 0, xd,
                               alpha * np.expm1(np.minimum(xd, 0.0))),
  }
  for reference, f in expected.items():
    got = _native.sweep_reference(reference, x)
    # Relative, except among subnormal values (GELU's far left tail, where
    # erfc's argument -x / sqrt(2), rounded, costs up to ~1e-13).
    rtol = 1e-12 if reference == "gelu" else 2e-15
    np.testing.assert_allclose(got, f, rtol=rtol, atol=1e-300,
                               err_msg=reference)
  with pytest.raises(ValueError, match="gelu"):
    _native.sweep_reference("swish", x)


def test_dense_sweep_of_gelu_uses_the_measure_and_the_form():
  """The form's attrs reach the native spec; the error is relative beyond 8."""
  sys.path.insert(0, str(REPO / "tools"))
  try:
    import accuracy_report  # pylint: disable=g-import-not-at-top
  finally:
    sys.path.pop(0)
  from tf_approx import _native, activations  # pylint: disable=g-import-not-at-top

  name = activations.MODERN_SAFE["gelu"]
  spec = accuracy_report.native_spec(activations.spec(name))
  assert spec.product and spec.below and spec.above
  x = accuracy_report.dense_inputs(stride=1 << 14, range_points=20001,
                                   fit_range=accuracy_report.MODERN_RANGE)
  result = accuracy_report.dense_sweep(spec, "gelu", x,
                                       *accuracy_report.MODERN_RANGE)
  assert result["relative_beyond"]
  assert result["max_abs_error_all"] <= 1e-3
  assert result["value_at_neg_inf"] == 0 and result["value_at_pos_inf"] == np.inf
  assert result["nan_outputs"] == 0 and result["nan_propagates"]
  # The plain name's x R(x) leaves x far beyond the range: relative error ~1.
  plain = accuracy_report.native_spec(activations.spec(name[:-len("_clamp")]))
  far = accuracy_report.dense_sweep(plain, "gelu", x,
                                    *accuracy_report.MODERN_RANGE)
  assert far["max_abs_error_all"] > 0.5

  # The native sweep's measure on a sub-range of floats agrees: a sweep of
  # every float is too slow for a test, so compare the dense sample's
  # measure with the native reference at the same inputs.
  y = _native.forward(spec, x)
  finite = np.isfinite(x)
  native = np.abs(y[finite] - _native.sweep_reference("gelu", x[finite]))
  measure = accuracy_report.error_measure("gelu", x[finite], y[finite],
                                          *accuracy_report.MODERN_RANGE)
  inside = np.abs(x[finite]) <= 8
  np.testing.assert_allclose(measure[inside], native[inside], rtol=1e-9,
                             atol=1e-15)


def test_modern_only_splices_its_section(tmp_path):
  existing = "# Accuracy\n\n## Table\n\nold content\n"
  (tmp_path / "accuracy.md").write_text(existing, encoding="utf-8")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  subprocess.run(
      [sys.executable, str(TOOL), "--dense_only", "--modern_only",
       "--names=gelu_pade_5_6_clamp,gelu_pade_5_6,gelu_pade_3_2",
       f"--output_dir={tmp_path}"],
      check=True, cwd=REPO, env=env, timeout=180, capture_output=True)
  markdown = (tmp_path / "accuracy.md").read_text(encoding="utf-8")
  # A second splice replaces the section, not appends.
  sys.path.insert(0, str(REPO / "tools"))
  try:
    import accuracy_report  # pylint: disable=g-import-not-at-top
  finally:
    sys.path.pop(0)
  section = markdown[len(existing) + 1:].split("\n")
  accuracy_report.splice_section(tmp_path / "accuracy.md", section)
  assert (tmp_path / "accuracy.md").read_text(encoding="utf-8") == markdown
  assert markdown.startswith(existing)
  assert markdown.count("## Today's activations") == 1
  assert "| gelu | `gelu_pade_5_6_clamp` | **safe** |" in markdown
  assert "GELU tanh form (comparator)" in markdown
  assert "NOT EXHAUSTIVE" in markdown
  figures = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
  assert figures == ["modern_clamp_vs_plain.png", "modern_family.png"]
  for figure in figures:
    assert f"(figures/{figure})" in markdown


@pytest.mark.slow
def test_sweep_of_gelu_clamp_is_within_1e3_everywhere():
  from tf_approx import _native, activations  # pylint: disable=g-import-not-at-top

  name = activations.MODERN_SAFE["gelu"]
  spec = _native.Spec(**activations.spec(name).attrs())
  result = _native.sweep_float32(spec, "gelu", -8.0, 8.0)
  assert result["relative_beyond"]
  assert result["max_abs_error_all"] <= 1e-3
  assert result["nan_outputs"] == 0
  # tanh keeps its absolute measure (the existing report's numbers).
  tanh = _native.sweep_float32(_native.Spec(kind="hard_tanh"), "tanh")
  assert not tanh["relative_beyond"]
