"""Writes docs/accuracy.md and docs/figures/: how close each approximation is.

For every selected name the report gives its max absolute error against
tanh or sigmoid on the paper's fit range [-5.5, 5.5] and over every non-NaN
float32, where that error occurs, its NaN / inf behaviour, whether it is
monotone and its output range. The numbers come from
`tf_approx._native.sweep_float32`, which pushes all 2^32 - 2^24 non-NaN
float32 inputs through the same C++ kernels the TensorFlow op runs; one sweep
takes 10-20 s on a 2-core machine.

    python tools/accuracy_report.py                      # ~45 min, see below
    python tools/accuracy_report.py --names=serp,serp_clamp
    python tools/accuracy_report.py --dense_only         # quick, NOT exhaustive
    python tools/accuracy_report.py --modern_only        # ~10 min, see below

By default the report covers the curated set (the paper's safe/ranged picks,
its Table 1 names and a few neighbours, each with its `_clamp` variant) and
every other `_clamp` name; figures are drawn for the curated set. The figures
follow the paper's Fig. 1-3: each approximation over its target function, and
its absolute error on a log scale below.

A last section covers today's activations (GELU, SiLU, Mish, softplus, ELU,
SELU): for each, the picks `activations.MODERN_SAFE` / `MODERN_RANGED` /
`MODERN_FAST` (the splines), the plain name of the safe pick and a few
neighbours, measured as the picks are made (absolute error on [-8, 8],
relative to max(1, |f|) beyond), and the tanh form of GELU (TensorFlow's
`approximate=True`) as a comparator.
`--modern_only` measures only these and replaces that section of an
existing accuracy.md, leaving the rest of the file as it is.
"""

import datetime
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from absl import app
from absl import flags
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from scipy import special  # pylint: disable=g-import-not-at-top

from tf_approx import _native  # pylint: disable=g-import-not-at-top
from tf_approx import activations  # pylint: disable=g-import-not-at-top

REPO = Path(__file__).resolve().parents[1]

FIT_RANGE = activations.FIT_RANGE
CLAMP = "_clamp"

# The paper's picks and its Table 1, plus a few representative neighbours;
# every `_clamp` variant of these is added by `curated_names`.
PAPER_TABLE_1 = (
    "sigm_fastexp_2", "sigm_fastexp_512", "sigm_taylor_9", "sigm_pade_4_4",
    "ultra_fast_sigmoid", "word2vec_sigmoid", "tanh_taylor_9",
    "tanh_pade_4_4", "serp", "serp_clamp", "tanh_cont_4")
CURATED_BASE = (
    "tanh_pade_4_4", "tanh_pade_5_4", "tanh_taylor_9", "tanh_cont_4",
    "tanh_cont_8", "serp", "tanh_hard", "sigm_fastexp_2", "sigm_fastexp_512",
    "sigm_fastexp_4096", "sigm_taylor_9", "sigm_pade_4_4",
    "ultra_fast_sigmoid", "word2vec_sigmoid", "sigm_hard")

# The design's claim checked by the report: these stay within their in-range
# error of the target for every float.
EVERY_FLOAT_CLAIM = ("tanh_pade_4_4_clamp", "sigm_fastexp_512_clamp")

# Today's activations: their error is absolute on MODERN_RANGE and relative
# to max(1, |f|) beyond (tests/test_modern_activations.py); the ranged picks
# are made on [-4, 4].
MODERN_FUNCTIONS = ("gelu", "silu", "mish", "softplus", "elu", "selu")
MODERN_RANGE = (-8.0, 8.0)
MODERN_RANGED_RANGE = (-4.0, 4.0)
# Beside each function's safe pick (and its plain name) and ranged pick.
MODERN_NEIGHBOURS = {
    "gelu": ("gelu_pade_3_2_clamp", "gelu_pade_7_4"),
    "silu": ("silu_pade_3_4_clamp", "silu_fastexp_1024_clamp"),
    "mish": ("mish_fastexp_4096_clamp",),
    "softplus": ("softplus_pade_4_4_clamp",),
    "elu": ("elu_fastexp_32_clamp",),
    "selu": ("selu_fastexp_64_clamp",),
}
MODERN_HEADING = "## Today's activations"
GELU_TANH = "GELU tanh form (comparator)"

# Dense (non-exhaustive) mode: every DENSE_STRIDE-th float32 bit pattern
# plus a uniform grid over the fit range.
DENSE_STRIDE = 1 << 10
DENSE_RANGE_POINTS = 1_000_001
_INF_BITS = 0x7F800000

FLAGS = flags.FLAGS
flags.DEFINE_list(
    "names", None,
    "Comma-separated names to report (default: the curated set, i.e. the "
    "paper's safe/ranged picks and Table 1 names, a few neighbours and the "
    "_clamp variant of each, then every other _clamp name).")
flags.DEFINE_bool(
    "all", False,
    "Report every name in tf_approx.activations.names(). Exhaustive sweeps "
    "of all 362 names take about 1.5 hours on 2 cores.")
flags.DEFINE_integer("threads", 2, "Threads per exhaustive sweep.")
flags.DEFINE_string(
    "output_dir", str(REPO / "docs"),
    "Directory for accuracy.md; figures go to its figures/ subdirectory.")
flags.DEFINE_bool(
    "dense_only", False,
    "Skip the exhaustive float32 sweep and sample a dense grid instead "
    "(seconds, for quick runs and tests). The report then says it is NOT "
    "exhaustive.")
flags.DEFINE_bool(
    "modern_only", False,
    "Measure only today's activations (GELU, SiLU, Mish, softplus, ELU, "
    "SELU; see MODERN_NEIGHBOURS) and replace the section on them in "
    "--output_dir's accuracy.md (appended if missing), leaving the rest.")


def is_modern(name):
  """True for a name of today's activations (`gelu_pade_5_6_clamp`, ...)."""
  return name.split("_", 1)[0] in MODERN_FUNCTIONS


def modern_names():
  """Per function: the safe pick, its plain name, the ranged pick, neighbours."""
  selected = []
  for function in MODERN_FUNCTIONS:
    safe = activations.MODERN_SAFE[function]
    for name in (safe, safe[:-len(CLAMP)], activations.MODERN_RANGED[function],
                 activations.MODERN_FAST[function],
                 *MODERN_NEIGHBOURS[function]):
      if name not in selected:
        selected.append(name)
  return selected


def curated_names():
  """The default selection: CURATED_BASE, each followed by its _clamp."""
  known = set(activations.names())
  selected = []
  for name in CURATED_BASE:
    selected.append(name)
    if name + CLAMP in known:
      selected.append(name + CLAMP)
  return selected


def default_names():
  """curated_names(), then every other _clamp name in names() order."""
  curated = curated_names()
  chosen = set(curated)
  return curated + [n for n in activations.names()
                    if n.endswith(CLAMP) and n not in chosen and
                    not is_modern(n)]


def reference_for(name):
  """'tanh', 'sigmoid', 'gelu', ...: the function `name` approximates."""
  if is_modern(name):
    return name.split("_", 1)[0]
  if name.startswith(("tanh", "serp")):
    return "tanh"
  if name.startswith(("sigm", "ultra_fast_sigmoid", "word2vec_sigmoid")):
    return "sigmoid"
  raise ValueError(f"no reference function known for {name!r}")


def native_spec(spec):
  """The `_native.Spec` for an `activations.ActivationSpec`."""
  return _native.Spec(**spec.attrs())  # the form (product, below, ...) too


def exact(reference, x):
  """The target function in float64."""
  x = np.asarray(x, np.float64)
  if reference == "tanh":
    return np.tanh(x)
  with np.errstate(over="ignore", invalid="ignore"):
    if reference == "sigmoid":
      return 1.0 / (1.0 + np.exp(-x))
    if reference == "gelu":
      return x * special.ndtr(x)
    if reference == "silu":
      return x * special.expit(x)
    if reference == "mish":
      return x * np.tanh(np.logaddexp(0.0, x))
    if reference == "softplus":
      return np.logaddexp(0.0, x)
    scale, alpha = ((activations.SELU_SCALE, activations.SELU_ALPHA)
                    if reference == "selu" else (1.0, 1.0))
    return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def relative_beyond(reference):
  """True if the error beyond the range is relative to max(1, |f|)."""
  return reference in MODERN_FUNCTIONS


def error_measure(reference, x, y, lo, hi):
  """|y - f| on [lo, hi]; for today's activations / max(1, |f|) beyond."""
  f = exact(reference, x)
  with np.errstate(invalid="ignore"):
    y = np.asarray(y, np.float64)
    # inf where f rounds to inf in float32 is exact.
    exact_inf = np.isinf(y) & (y == f.astype(np.float32))
    error = np.where(exact_inf, 0.0, np.abs(y - f))
    if relative_beyond(reference):
      error = np.where((x >= lo) & (x <= hi), error,
                       error / np.maximum(1.0, np.abs(f)))
  return error


def dense_inputs(stride=DENSE_STRIDE, range_points=DENSE_RANGE_POINTS,
                 fit_range=FIT_RANGE):
  """Sorted float32 sample: every `stride`-th float, ±inf and a fit-range grid.

  -0 is left out, as in the exhaustive sweep.
  """
  ordinals = np.unique(np.concatenate([
      np.arange(-_INF_BITS, _INF_BITS + 1, stride, dtype=np.int64),
      [-_INF_BITS, _INF_BITS]]))
  bits = np.where(ordinals >= 0, ordinals, 0x80000000 - ordinals)
  x = bits.astype(np.uint32).view(np.float32)
  grid = np.linspace(*fit_range, range_points).astype(np.float32)
  x = np.unique(np.concatenate([x, grid]))
  return x[(x != 0) | ~np.signbit(x)]


def dense_sweep(spec, reference, x, lo=FIT_RANGE[0], hi=FIT_RANGE[1]):
  """What `_native.sweep_float32` reports, but over the sorted sample `x`."""
  return sample_result(lambda v: _native.forward(spec, v), reference, x, lo,
                       hi)


def sample_result(fn, reference, x, lo, hi):
  """dense_sweep's result for fn (float32 array -> outputs) on sample `x`."""
  y = fn(x)
  nan = np.isnan(y)
  result = {"nan_outputs": int(nan.sum()),
            "first_nan_input": float(x[nan][0]) if nan.any() else math.nan}
  xs, ys = x[~nan], y[~nan]
  down = np.flatnonzero(ys[1:] < ys[:-1])
  result["decreasing_steps"] = int(down.size)
  result["first_decrease"] = float(xs[down[0] + 1]) if down.size else math.nan
  result["min_value"] = float(ys.min()) if ys.size else math.nan
  result["max_value"] = float(ys.max()) if ys.size else math.nan
  finite = np.isfinite(xs)
  xf = xs[finite]
  error = error_measure(reference, xf, ys[finite], lo, hi)
  for key, mask in (("all", slice(None)), ("range", (xf >= lo) & (xf <= hi))):
    e, xm = error[mask], xf[mask]
    i = int(np.argmax(e)) if e.size else None
    result[f"max_abs_error_{key}"] = float(e[i]) if e.size else 0.0
    result[f"argmax_{key}"] = float(xm[i]) if e.size else 0.0
  nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FFFFFFF,
                   0xFFBFFFFF], np.uint32).view(np.float32)
  result["nan_propagates"] = bool(np.isnan(fn(nans)).all())
  ends = fn(np.array([-np.inf, np.inf], np.float32))
  result["value_at_neg_inf"] = float(ends[0])
  result["value_at_pos_inf"] = float(ends[1])
  result["inputs"] = int(x.size)
  result["relative_beyond"] = relative_beyond(reference)
  return result


def largest_fall(spec, x):
  """max over a < b in the sorted sample `x` of f(a) - f(b), 0 if monotone.

  The sweep counts decreasing steps but not their size; this tells a
  rounding-level wobble (a few ulps) from a real turn back.
  """
  y = _native.forward(spec, x).astype(np.float64)
  y = y[~np.isnan(y)]
  if not y.size:
    return 0.0
  with np.errstate(invalid="ignore"):
    fall = np.maximum.accumulate(y) - y
  return float(np.nanmax(fall)) if not np.isnan(fall).all() else math.inf


def measure(names, dense_only, threads, fit_range=FIT_RANGE):
  """{name: sweep result (plus 'seconds')} for every name.

  The in-range error is on `fit_range`; today's activations also get
  'error_ranged', their max error on a grid of MODERN_RANGED_RANGE.
  """
  x = dense_inputs(fit_range=fit_range)
  results = {}
  for name in names:
    spec = native_spec(activations.spec(name))
    reference = reference_for(name)
    start = time.monotonic()
    if dense_only:
      result = dense_sweep(spec, reference, x, *fit_range)
    else:
      result = dict(_native.sweep_float32(spec, reference, fit_range[0],
                                          fit_range[1], threads))
    result["seconds"] = time.monotonic() - start
    result["largest_fall"] = largest_fall(spec, x)
    if is_modern(name):
      grid = ranged_grid()
      result["error_ranged"] = float(error_measure(
          reference, grid, _native.forward(spec, grid), *fit_range).max())
    results[name] = result
    print(f"{name}: {result['max_abs_error_range']:.3g} in range, "
          f"{result['max_abs_error_all']:.3g} over all float32 "
          f"({result['seconds']:.1f} s)", flush=True)
  return results


def ranged_grid(points=80001):
  return np.linspace(*MODERN_RANGED_RANGE, points).astype(np.float32)


def gelu_tanh(x):
  """TensorFlow's GELU with approximate=True (the tanh form), in float32."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.nn.gelu(tf.constant(x, tf.float32), approximate=True).numpy()


def measure_gelu_tanh():
  """The tanh form of GELU against the erf form, on the dense sample."""
  start = time.monotonic()
  x = dense_inputs(fit_range=MODERN_RANGE)
  result = sample_result(gelu_tanh, "gelu", x, *MODERN_RANGE)
  grid = ranged_grid()
  result["error_ranged"] = float(error_measure(
      "gelu", grid, gelu_tanh(grid), *MODERN_RANGE).max())
  result["largest_fall"] = math.nan
  result["seconds"] = time.monotonic() - start
  return result


# --------------------------------------------------------------------------
# Figures.

_REFERENCE_YLIM = {"tanh": (-1.6, 1.6), "sigmoid": (-0.3, 1.3),
                   "gelu": (-1, 8.5), "silu": (-1, 8.5), "mish": (-1, 8.5),
                   "softplus": (-1, 8.5), "elu": (-1.5, 8.5),
                   "selu": (-2, 9)}
_ERROR_FLOOR = 1e-9
# Beyond these a figure is split in several files (--all has ~90 plain tanh
# names and ~180 _clamp ones).
MAX_CURVES = 8
MAX_CELLS = 12


def _evaluate(name, x):
  return _native.forward(native_spec(activations.spec(name)),
                         x.astype(np.float32)).astype(np.float64)


def _plot_cell(fig, slot, cell):
  """Draws one cell: functions over the target on top, errors below."""
  inner = slot.subgridspec(2, 1, height_ratios=(3, 2))
  top = fig.add_subplot(inner[0])
  bottom = fig.add_subplot(inner[1], sharex=top)
  x, reference = cell["x"], cell["reference"]
  target = exact(reference, x)
  fit_range = cell.get("fit_range", FIT_RANGE)
  top.plot(x, target, color="black", linewidth=2.5, alpha=0.35,
           label=reference)
  curves = [(name, _evaluate(name, x)) for name in cell["names"]]
  curves += [(label, fn(x.astype(np.float32)).astype(np.float64))
             for label, fn in cell.get("extra", ())]
  for name, y in curves:
    style = "--" if name.endswith(CLAMP) and cell.get("dash_clamp") else "-"
    if name in dict(cell.get("extra", ())):
      style = ":"
    line, = top.plot(x, y, style, linewidth=1.2, label=name)
    error = error_measure(reference, x, y, *fit_range)
    # Exact points (and NaN outputs) would vanish from a log plot; drawing
    # them at the floor keeps each curve continuous.
    error = np.where(np.isfinite(error), np.maximum(error, _ERROR_FLOOR), 1e9)
    bottom.plot(x, error, style, linewidth=1.0, color=line.get_color())
  for axes in (top, bottom):
    for edge in fit_range:
      axes.axvline(edge, color="grey", linewidth=0.6, linestyle=":")
    axes.grid(True, alpha=0.3)
    if cell.get("symlog"):
      axes.set_xscale("symlog", linthresh=1.0)
      ticks = [-1e4, -1e2, -1, 0, 1, 1e2, 1e4]
      axes.set_xticks(ticks, ["-1e4", "-100", "-1", "0", "1", "100", "1e4"])
  if cell.get("symlog") and is_modern_reference(reference):
    top.set_yscale("symlog", linthresh=1.0)
  else:
    top.set_ylim(*_REFERENCE_YLIM[reference])
  top.set_title(cell["title"], fontsize=10)
  top.legend(fontsize=7, loc="upper left")
  top.tick_params(labelbottom=False)
  bottom.set_yscale("log")
  bottom.set_ylim(_ERROR_FLOOR / 2, 10)
  bottom.set_ylabel(cell.get("error_label", "|error|"), fontsize=8)
  bottom.set_xlabel("x", fontsize=8)
  bottom.set_xlim(x[0], x[-1])


def _plot_figure(path, title, cells, columns):
  columns = min(columns, len(cells))
  rows = -(-len(cells) // columns)
  width = 4.6 * columns if columns > 1 else 7.5
  fig = plt.figure(figsize=(width, 5.2 * rows), layout="constrained")
  grid = fig.add_gridspec(rows, columns)
  for i, cell in enumerate(cells):
    _plot_cell(fig, grid[i // columns, i % columns], cell)
  fig.suptitle(title)
  fig.savefig(path, dpi=110, bbox_inches="tight")
  plt.close(fig)


def _linear_x(bound=8.0, points=4001):
  return np.linspace(-bound, bound, points)


def _symlog_x(bound=1e5, points=3000):
  side = np.geomspace(1.0, bound, points)
  return np.concatenate([-side[::-1], np.linspace(-1, 1, 201)[1:-1], side])


def _chunks(items, size):
  return [items[i:i + size] for i in range(0, len(items), size)]


def _numbered(file_name, index):
  """tanh_family.png, tanh_family_2.png, ..."""
  if index == 0:
    return file_name
  stem, suffix = file_name.rsplit(".", 1)
  return f"{stem}_{index + 1}.{suffix}"


def figure_plans(names):
  """[(file name, title, cells, columns)] for the figures of `names`."""
  comparators = ("ultra_fast_sigmoid", "word2vec_sigmoid", "sigm_hard",
                 "tanh_hard")
  plain = [n for n in names if not n.endswith(CLAMP) and n not in comparators]
  plans = []
  for reference, file_name, title in (
      ("tanh", "tanh_family.png", "tanh approximations (cf. paper Fig. 1)"),
      ("sigmoid", "sigmoid_family.png",
       "sigmoid approximations (cf. paper Fig. 2)")):
    family = [n for n in plain if reference_for(n) == reference]
    for i, chunk in enumerate(_chunks(family, MAX_CURVES)):
      plans.append((_numbered(file_name, i), title, [dict(
          title=f"{reference} family on [-8, 8]", reference=reference,
          names=chunk, x=_linear_x())], 1))

  cells = []
  sigmoid_comparators = [n for n in names if n in comparators[:3]]
  if sigmoid_comparators:
    cells.append(dict(title="sigmoid comparators vs sigm_fastexp_512",
                      reference="sigmoid", x=_linear_x(),
                      names=sigmoid_comparators + ["sigm_fastexp_512"]))
  if "tanh_hard" in names:
    cells.append(dict(title="tanh_hard vs tanh_pade_4_4", reference="tanh",
                      x=_linear_x(), names=["tanh_hard", "tanh_pade_4_4"]))
  if cells:
    plans.append(("comparators.png",
                  "Comparators (cf. paper Fig. 3)", cells, 2))

  clamped = [n for n in names if n.endswith(CLAMP)]
  cells = [dict(title=f"{n[:-len(CLAMP)]} vs {n}", reference=reference_for(n),
                names=[n[:-len(CLAMP)], n], x=_symlog_x(), symlog=True,
                dash_clamp=True) for n in clamped]
  for i, chunk in enumerate(_chunks(cells, MAX_CELLS)):
    plans.append((_numbered("clamp_vs_plain.png", i),
                  "Plain (paper's formula) vs _clamp, x on a symlog scale "
                  "out to ±1e5; dotted lines: fit range [-5.5, 5.5]",
                  chunk, 4))
  return plans


def is_modern_reference(reference):
  return reference in MODERN_FUNCTIONS


def modern_figure_plans(names):
  """[(file name, title, cells, columns)] for today's activations."""
  label = "error (rel. beyond ±8)"
  cells, clamp_cells = [], []
  for function in MODERN_FUNCTIONS:
    chosen = [n for n in names if reference_for(n) == function]
    if not chosen:
      continue
    extra = ((GELU_TANH, gelu_tanh),) if function == "gelu" else ()
    cells.append(dict(title=f"{function} on [-8, 8]", reference=function,
                      names=chosen, x=_linear_x(), dash_clamp=True,
                      fit_range=MODERN_RANGE, extra=extra,
                      error_label=label))
    safe = activations.MODERN_SAFE[function]
    pair = [n for n in (safe[:-len(CLAMP)], safe) if n in names]
    if pair:
      clamp_cells.append(dict(
          title=f"{' vs '.join(pair)}", reference=function, names=pair,
          x=_symlog_x(), symlog=True, dash_clamp=True, fit_range=MODERN_RANGE,
          error_label=label))
  plans = []
  if cells:
    plans.append(("modern_family.png",
                  "Today's activations: approximations over the function "
                  "(top), error below (absolute on [-8, 8], relative to "
                  "max(1, |f|) beyond)", cells, 3))
  if clamp_cells:
    plans.append(("modern_clamp_vs_plain.png",
                  "Safe picks: plain name vs _clamp, x on a symlog scale out "
                  "to ±1e5; dotted lines: ±8", clamp_cells, 3))
  return plans


def write_figures(names, figure_dir, plans=None):
  """Draws every figure for `names` (or `plans`); returns their paths."""
  figure_dir.mkdir(parents=True, exist_ok=True)
  paths = []
  if plans is None:
    plans = figure_plans(names)
  for file_name, title, cells, columns in plans:
    path = figure_dir / file_name
    _plot_figure(path, title, cells, columns)
    paths.append(path)
  return paths


# --------------------------------------------------------------------------
# Markdown.


def _num(value, digits=3):
  """A compact number: 3 significant digits, inf/nan spelled out."""
  if value is None:
    return "-"
  if math.isnan(value):
    return "NaN"
  if math.isinf(value):
    return "+inf" if value > 0 else "-inf"
  if value == 0:
    return "0"
  if 1e-3 <= abs(value) < 1e4:
    return f"{value:.{digits}g}"
  return f"{value:.{digits - 1}e}"


def _x(value):
  """An input value: enough digits to find it again."""
  if math.isnan(value):
    return "-"
  if math.isinf(value) or abs(value) >= 1e6 or (0 < abs(value) < 1e-3):
    return _num(value, 4)
  return f"{value:.7g}"


def _paper_pick(name):
  if name in activations.SAFE:
    return "**safe**"
  if name in activations.RANGED:
    return "**ranged**"
  if name in PAPER_TABLE_1:
    return "Table 1"
  return ""


def within_range_error(result):
  """True if the error over all floats is no larger than on the fit range."""
  return result["max_abs_error_all"] <= result["max_abs_error_range"]


def _target_range(reference):
  return (-1.0, 1.0) if reference == "tanh" else (0.0, 1.0)


def leaves_target_range(name, result):
  lo, hi = _target_range(reference_for(name))
  return result["min_value"] < lo or result["max_value"] > hi


# A fall no larger than this is float32 rounding of an increasing function
# near its saturation value (a few ulps of 1), not a turn back.
ROUNDING_FALL = 1e-5


def _monotone_cell(r):
  if r["decreasing_steps"] == 0:
    return "yes"
  return (f"no: {r['decreasing_steps']} steps down, first at "
          f"{_x(r['first_decrease'])}; largest fall "
          f"{_num(r['largest_fall'], 2)}")


def table_rows(results):
  """The markdown table, one row per name."""
  columns = ("name", "paper", "target", "max \\|err\\| on [-5.5, 5.5]",
             "max \\|err\\| all float32", "at x", "NaN out (first x)",
             "f(-inf)", "f(+inf)", "NaN→NaN", "monotone", "output range")
  rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  for name, r in results.items():
    nan = (f"**{r['nan_outputs']}** ({_x(r['first_nan_input'])})"
           if r["nan_outputs"] else "0")
    out_range = f"[{_num(r['min_value'], 7)}, {_num(r['max_value'], 7)}]"
    if leaves_target_range(name, r):
      out_range += " ⚠"
    cells = (f"`{name}`", _paper_pick(name), reference_for(name),
             _num(r["max_abs_error_range"]), _num(r["max_abs_error_all"]),
             _x(r["argmax_all"]), nan, _num(r["value_at_neg_inf"], 4),
             _num(r["value_at_pos_inf"], 4),
             "yes" if r["nan_propagates"] else "**no**", _monotone_cell(r),
             out_range)
    rows.append("| " + " | ".join(cells) + " |")
  return rows


def _list(names):
  return ", ".join(f"`{n}`" for n in names) if names else "none"


def _claim(name, results, over):
  """The every-float claim for `name`, checked."""
  if name not in results:
    return f"`{name}`: not checked (not in this run's names)."
  r = results[name]
  holds = within_range_error(r)
  verdict = "**true**" if holds else "**false**"
  excess = "" if holds else (
      f", {_num(r['max_abs_error_all'] - r['max_abs_error_range'])} more")
  return (f"`{name}` within its in-range error for every float: {verdict} "
          f"(measured {_num(r['max_abs_error_range'], 4)} on [-5.5, 5.5], "
          f"{_num(r['max_abs_error_all'], 4)} over {over} at "
          f"x = {_x(r['argmax_all'])}{excess}).")


def findings(results, exhaustive):
  """The Findings, generated from `results`, as markdown bullet lines."""
  over = "every float32" if exhaustive else "the dense sample"
  plain = [n for n in results if not n.endswith(CLAMP)]
  clamped = [n for n in results if n.endswith(CLAMP)]
  bullets = []
  if not exhaustive:
    bullets.append("**Dense sample only, NOT an exhaustive sweep**: "
                   "counts and maxima below can be worse over all float32.")

  nan_names = [f"`{n}` ({results[n]['nan_outputs']} inputs, first "
               f"x = {_x(results[n]['first_nan_input'])})"
               for n in results if results[n]["nan_outputs"]]
  no_propagation = [n for n in results if not results[n]["nan_propagates"]]
  bullets.append(
      "NaN: " + (f"NaN outputs for non-NaN inputs from {', '.join(nan_names)}"
                 if nan_names else
                 f"no name returns NaN for a non-NaN input (over {over})") +
      "; " + (f"NaN does not propagate for {_list(no_propagation)}."
              if no_propagation else "every name maps NaN to NaN."))

  def falls(group, turning):
    return [f"`{n}` ({_num(results[n]['largest_fall'], 2)})" for n in group
            if results[n]["decreasing_steps"] and
            (results[n]["largest_fall"] > ROUNDING_FALL) == turning]
  turns = falls(results, True)
  wobbles = falls(results, False)
  bullets.append(
      "Monotonicity: these turn back (largest fall in parentheses): " +
      (", ".join(turns) if turns else "none") + ". " +
      (f"Only float32 rounding wobbles (falls ≤ {ROUNDING_FALL:g}, near "
       f"saturation) in {', '.join(wobbles)}." if wobbles else "") +
      " Monotone: " +
      _list([n for n in results if not results[n]["decreasing_steps"]]) + ".")

  bullets.append(
      "Outputs outside the target's range ([-1, 1] for tanh, [0, 1] for "
      "sigmoid): " +
      _list([n for n in results if leaves_target_range(n, results[n])]) + ".")

  diverging = [f"`{n}` ({_num(results[n]['max_abs_error_range'])} → "
               f"{_num(results[n]['max_abs_error_all'])})"
               for n in plain if not within_range_error(results[n])]
  bullets.append(
      "Plain names whose error outside [-5.5, 5.5] exceeds their in-range "
      "error (in range → all floats): " +
      (", ".join(diverging) if diverging else "none") + ".")
  if clamped:
    inside = [n for n in clamped if within_range_error(results[n])]
    beyond = [f"`{n}` ({_num(results[n]['max_abs_error_range'], 4)} → "
              f"{_num(results[n]['max_abs_error_all'], 4)} at "
              f"x = {_x(results[n]['argmax_all'])})"
              for n in clamped if not within_range_error(results[n])]
    bullets.append(
        f"_clamp variants within their in-range error over {over}: "
        f"{_list(inside)}. Not within: " +
        (", ".join(beyond) if beyond else "none") + ".")
  bullets.append("Claims: " + " ".join(
      _claim(name, results, over) for name in EVERY_FLOAT_CLAIM))
  return ["- " + b for b in bullets]


# Functions that dip below 0 and turn back up: a step down is f's own.
_DIPPING = ("gelu", "silu", "mish")
_LIMITS = {"gelu": "0, +inf", "silu": "0, +inf", "mish": "0, +inf",
           "softplus": "0, +inf", "elu": "-1, +inf",
           "selu": f"{-activations.SELU_SCALE * activations.SELU_ALPHA:.7g}, "
                   "+inf"}


def _modern_pick(name):
  function = reference_for(name)
  if name == activations.MODERN_SAFE[function]:
    return "**safe**"
  if name == activations.MODERN_RANGED[function]:
    return "**ranged**"
  if name == activations.MODERN_FAST[function]:
    return "**fast**"
  return ""


def _modern_steps_cell(reference, r):
  if reference in _DIPPING and r["decreasing_steps"]:
    return (f"{r['decreasing_steps']} (f dips; first at "
            f"{_x(r['first_decrease'])})")
  return _monotone_cell(r) if not math.isnan(r["largest_fall"]) else (
      "yes" if not r["decreasing_steps"] else
      f"no: {r['decreasing_steps']} steps down, first at "
      f"{_x(r['first_decrease'])}")


def modern_table_rows(results, comparator):
  """The markdown table of today's activations; the comparator last."""
  columns = ("function", "name", "pick", "max err on [-8, 8]",
             "max err all float32", "at x", "max err on [-4, 4] (grid)",
             "NaN out (first x)", "f(-inf)", "f(+inf)", "NaN→NaN",
             "steps down", "output range")
  rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  entries = [(reference_for(n), f"`{n}`", _modern_pick(n), r)
             for n, r in results.items()]
  if comparator is not None:
    entries.append(("gelu", f"*{GELU_TANH}*: `tf.nn.gelu(x, "
                    "approximate=True)`, dense sample", "", comparator))
  for function, label, pick, r in entries:
    nan = (f"**{r['nan_outputs']}** ({_x(r['first_nan_input'])})"
           if r["nan_outputs"] else "0")
    cells = (function, label, pick, _num(r["max_abs_error_range"]),
             _num(r["max_abs_error_all"]), _x(r["argmax_all"]),
             _num(r["error_ranged"]), nan, _num(r["value_at_neg_inf"], 4),
             _num(r["value_at_pos_inf"], 4),
             "yes" if r["nan_propagates"] else "**no**",
             _modern_steps_cell(function, r),
             f"[{_num(r['min_value'], 7)}, {_num(r['max_value'], 7)}]")
    rows.append("| " + " | ".join(cells) + " |")
  return rows


def _safe_finding(label, r, over):
  """A pick's errors on [-8, 8] and over `over`, against the safe rule."""
  ok = r["max_abs_error_all"] <= 1e-3
  return (f"{label}: {_num(r['max_abs_error_range'])} on [-8, 8], "
          f"{_num(r['max_abs_error_all'])} over {over} (at "
          f"x = {_x(r['argmax_all'])}): "
          f"{'**within**' if ok else '**not within**'} 1e-3 everywhere")


def modern_findings(results, comparator, exhaustive):
  """The section's findings, generated from `results`."""
  over = "every float32" if exhaustive else "the dense sample"
  bullets = []
  if not exhaustive:
    bullets.append("**Dense sample only, NOT an exhaustive sweep.**")
  for function in MODERN_FUNCTIONS:
    safe = activations.MODERN_SAFE[function]
    ranged = activations.MODERN_RANGED[function]
    parts = []
    if safe in results:
      parts.append(_safe_finding(f"safe `{safe}`", results[safe], over))
    plain = safe[:-len(CLAMP)]
    if plain in results:
      r = results[plain]
      parts.append(f"its plain `{plain}`: {_num(r['max_abs_error_all'])} "
                   f"over {over} (at x = {_x(r['argmax_all'])}), "
                   f"f(±inf) = {_num(r['value_at_neg_inf'], 4)}, "
                   f"{_num(r['value_at_pos_inf'], 4)}")
    if ranged in results:
      r = results[ranged]
      parts.append(f"ranged `{ranged}`: {_num(r['error_ranged'])} on "
                   f"[-4, 4], {_num(r['max_abs_error_range'])} on [-8, 8]")
    fast = activations.MODERN_FAST[function]
    if fast in results:
      parts.append(_safe_finding(f"fast `{fast}` (a spline)", results[fast],
                                 over))
    if parts:
      bullets.append(f"{function}: " + "; ".join(parts) + ".")
  nan_names = [n for n in results if results[n]["nan_outputs"]]
  no_propagation = [n for n in results if not results[n]["nan_propagates"]]
  bullets.append(
      "NaN: " + (f"NaN outputs for non-NaN inputs from {_list(nan_names)}"
                 if nan_names else
                 f"no name returns NaN for a non-NaN input (over {over})") +
      "; " + (f"NaN does not propagate for {_list(no_propagation)}."
              if no_propagation else "every name maps NaN to NaN."))
  turning = [f"`{n}` ({_num(results[n]['largest_fall'], 2)})"
             for n in results if reference_for(n) not in _DIPPING and
             results[n]["largest_fall"] > ROUNDING_FALL]
  bullets.append(
      "Steps down: GELU, SiLU and Mish dip below 0 and turn back up, so "
      "their counts include f's own decrease and are no failure. Of the "
      "monotone functions (softplus, ELU, SELU), these fall by more than "
      f"float32 rounding ({ROUNDING_FALL:g}): " +
      (", ".join(turning) if turning else "none") + ".")
  if comparator is not None:
    c = comparator
    bullets.append(
        f"Comparator, not a tf_approx name: GELU's tanh form "
        f"(`tf.nn.gelu(x, approximate=True)`) is {_num(c['max_abs_error_range'])} "
        f"from the erf form on [-8, 8] (at x = {_x(c['argmax_range'])}) and "
        f"{_num(c['max_abs_error_all'])} over the dense sample; f(-inf) = "
        f"{_num(c['value_at_neg_inf'], 4)}, f(+inf) = "
        f"{_num(c['value_at_pos_inf'], 4)}.")
  return ["- " + b for b in bullets]


def modern_section(path, results, comparator, figures, exhaustive, command,
                   seconds):
  """The section on today's activations, as markdown lines."""
  if exhaustive:
    method = (
        "Every non-NaN float32 (±inf included, −0 left out) is pushed through "
        "the native kernels (`tf_approx._native.sweep_float32`) and compared "
        "with the function in float64 (GELU as x Φ(x) with Φ through erfc, "
        "softplus as log1p(exp(−|x|)) + max(x, 0), ELU with alpha 1, SELU "
        "with Klambauer et al.'s constants).")
  else:
    method = (
        "> **NOT EXHAUSTIVE** (`--dense_only`): over every "
        f"{DENSE_STRIDE}th float32 bit pattern, ±inf and {DENSE_RANGE_POINTS} "
        "uniform points on [-8, 8] only.")
  lines = [
      f"{MODERN_HEADING} (GELU, SiLU, Mish, softplus, ELU, SELU)",
      "",
      f"Generated by `{command}` on {datetime.date.today().isoformat()}, "
      f"{_machine()}; {len(results)} names in {seconds / 60:.1f} min.",
      "",
      method + " The error is measured as the picks "
      "(`tf_approx.activations.MODERN_SAFE` / `MODERN_RANGED` / "
      "`MODERN_FAST`) are made: "
      "absolute on [-8, 8], beyond it relative to max(1, |f|) (an x R(x) "
      "form multiplies R's error by |x|; where f tends to 0 the error stays "
      "absolute). A **safe** pick is within 1e-3 on [-8, 8] and beyond; a "
      "**ranged** one within 1e-2 on [-4, 4] (that column: a grid of 80001 "
      "points); a **fast** one is the spline with the fewest pieces that is "
      "safe ([splines.md](splines.md)). The exact limits f(-inf), f(+inf): " +
      "; ".join(f"{k} {v}" for k, v in _LIMITS.items()) + ". The tanh form "
      "of GELU (TensorFlow's `approximate=True`, "
      "0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))) is a comparator, not "
      "a tf_approx name: TensorFlow's own float32 op, measured against the "
      "erf form on the dense sample only (every "
      f"{DENSE_STRIDE}th float32 and a grid of [-8, 8]).",
      "",
      "### Findings",
      "",
      *modern_findings(results, comparator, exhaustive),
      "",
      "### Table",
      "",
      *modern_table_rows(results, comparator),
      "",
      "### Figures",
      "",
  ]
  for figure in figures:
    relative = figure.relative_to(path.parent).as_posix()
    lines += [f"![{figure.stem}]({relative})", ""]
  return lines


def splice_section(path, lines):
  """Replaces the section MODERN_HEADING of `path` by `lines` (or appends)."""
  text = path.read_text(encoding="utf-8") if path.exists() else ""
  section = "\n".join(lines)
  start = text.find("\n" + MODERN_HEADING)
  if start < 0:
    text = (text.rstrip("\n") + "\n\n" if text else "") + section
  else:
    end = text.find("\n## ", start + 1)
    text = text[:start + 1] + section + (text[end + 1:] if end >= 0 else "")
  path.write_text(text, encoding="utf-8")


def _cpu_model():
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def _machine():
  cores = len(os.sched_getaffinity(0))
  return (f"{_cpu_model()}, {cores} CPUs available, {platform.system()} "
          f"{platform.machine()}, kernels built for "
          f"{_native.selected_isa()}")


# Hand-written, kept in the generated report.
FITTING_SECTION = '''## Fitting your own approximation

`tf_approx.activations.fit` applies the paper's method (least squares on
uniform samples of a range, Timmons and Rice, section 3) with tf_approx's
rules (`tf_approx/fitting.py`: the target's parity, no real poles, weights
|x| for x R(x), the fit meeting the asymptote at the range's end) to any
numpy-vectorised function, measures it and registers it natively, so an
activation this project never heard of runs on the same kernels as the
built-in names:

```python
import numpy as np, keras, tf_approx
from scipy import special

r = tf_approx.activations.fit(np.arctan, "arctan_pade_3_4", orders=(3, 4),
                              range=(-6, 6))
print(r)  # method, parity, max error on the range (float64 and float32 op)
layer = keras.layers.Activation("arctan_pade_3_4")

# x times a sigmoid-like factor: fit the factor with weights |x|, and switch
# to the asymptotes 0 and x beyond the range (registers my_gelu_clamp too).
r = tf_approx.activations.fit(
    lambda x: x * special.ndtr(x), "my_gelu", orders=(5, 6), range=(-5, 5),
    form="product", asymptotes={"below": (0, 0), "above": (1, 0)},
    sweep=True)  # also over every float32: minutes
```

- `kind="pade"` fits `P / Q` of degrees `orders=(m, n)`, `kind="taylor"` a
  polynomial of degree `orders=n` (up to 15).
- The form is `g(x) + slope x` (`form="plain"`) or `x g(x)`
  (`form="product"`), `g = offset + P / Q`. With `parity="auto"` the
  samples decide: a function odd around a constant c is fitted as c plus an
  odd P / Q (tanh, sigmoid), one that is even plus a line as that line plus
  an even P / Q (softplus), anything else without parity.
- Errors are measured on the function itself: absolute on the range (a
  dense grid of 200001 points, the registered op run in float64 and in
  float32), and with `sweep=True` over every non-NaN float32 through the
  native kernel, absolute on the range and relative to max(1, |f|) beyond
  (the clamped variant's, if any). The sweep evaluates the function in
  float64 on chunks of 2^22 inputs; it takes minutes.
- Names follow the rule of `register_rational`: no tf_approx built-in name,
  and no Keras activation (`gelu`, `relu`, ...) or earlier registration
  unless `overwrite=True`. Models store the coefficients, so `.keras` files
  load without fitting again.
- The coefficient table of the built-in fitted families
  (`tools/fit_coefficients.py`) goes through the same fit
  (`tf_approx.fitting.fit_form`); `fit(np.tanh, ..., orders=(4, 4))`
  reproduces `tanh_pade_4_4`, and the GELU example above `gelu_pade_5_6`.
- Needs scipy (`pip install tf_approx[fit]`).'''


def write_markdown(path, results, figures, exhaustive, command, seconds,
                   modern=()):
  """Writes the report to `path`; `modern`: its last section's lines."""
  if exhaustive:
    method = (
        "The \"all float32\" columns (and every other column) come from an "
        "**exhaustive sweep of every non-NaN float32** (2^32 − 2^24 inputs, "
        "±inf included, −0 left out) through the native kernels "
        "(`tf_approx._native.sweep_float32`, the same C++ code the "
        "TensorFlow op runs), against tanh / sigmoid in float64. The "
        "[-5.5, 5.5] column is the same sweep restricted to that range.")
  else:
    method = (
        "> **NOT EXHAUSTIVE.** This report was made with `--dense_only`: "
        "the \"all float32\" columns are over a dense sample only (every "
        f"{DENSE_STRIDE}th float32 bit pattern, ±inf, and "
        f"{DENSE_RANGE_POINTS} uniform points on [-5.5, 5.5]) pushed "
        "through the native kernels, not over every float32. Values at "
        "unsampled inputs can be worse; run without `--dense_only` for the "
        "exhaustive sweep.")
  lines = [
      "# Accuracy of the activation approximations",
      "",
      f"Generated by `{command}` on {datetime.date.today().isoformat()}, "
      f"{_machine()}; {len(results)} names in {seconds / 60:.1f} min.",
      "",
      method,
      "",
      "Columns: max absolute error against the target function on the "
      "paper's fit range and over all inputs, and the input where the latter "
      "occurs; how many non-NaN inputs give a NaN output (and the first, in "
      "increasing order); f(±inf); whether NaN inputs (quiet and "
      "signalling, both signs) give NaN; monotone = no pair of adjacent "
      "inputs where f decreases (NaN outputs skipped), otherwise the count "
      "of such steps, the first, and the largest fall f(a) − f(b), a < b, "
      "seen on a dense sample of inputs (a few 1e-7 is float32 rounding "
      "near saturation, not a turn back); the range of outputs (⚠: outside "
      "the target's range). *paper*: the paper's **safe** / **ranged** picks "
      "and the other names of its Table 1. A `_clamp` name clips its input "
      "to the range where the plain formula is meaningful (Timmons and Rice, Approximating Activation Functions).",
      "",
      "## Findings",
      "",
      *findings(results, exhaustive),
      "",
      "## Table",
      "",
      *table_rows(results),
      "",
      *FITTING_SECTION.splitlines(),
      "",
      "## Figures",
      "",
  ]
  for figure in figures:
    relative = figure.relative_to(path.parent).as_posix()
    lines += [f"![{figure.stem}]({relative})", ""]
  if modern:
    lines += list(modern)
  path.write_text("\n".join(lines), encoding="utf-8")


def _command(argv):
  try:
    script = Path(argv[0]).resolve().relative_to(REPO).as_posix()
  except ValueError:
    script = argv[0]
  return shlex.join(["python", script, *argv[1:]])


def measure_modern(names, dense_only, threads, output_dir, command, start):
  """Measures today's activations in `names`; the section's lines."""
  results = measure(names, dense_only, threads, MODERN_RANGE)
  comparator = measure_gelu_tanh()
  print(f"{GELU_TANH}: {comparator['max_abs_error_range']:.3g} on [-8, 8], "
        f"{comparator['max_abs_error_all']:.3g} over the dense sample",
        flush=True)
  plans = modern_figure_plans([n for n in names if n in modern_names()] or
                              names)
  figures = write_figures(None, output_dir / "figures", plans)
  return modern_section(output_dir / "accuracy.md", results, comparator,
                        figures, not dense_only, command,
                        time.monotonic() - start)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if FLAGS.all and FLAGS.names:
    raise app.UsageError("--all and --names are exclusive")
  if FLAGS.modern_only and FLAGS.all:
    raise app.UsageError("--modern_only does not take --all")
  if FLAGS.modern_only and not all(is_modern(n) for n in FLAGS.names or ()):
    raise app.UsageError("--modern_only --names takes today's activations "
                         "only (gelu_*, silu_*, mish_*, softplus_*, elu_*, "
                         "selu_*)")
  command = _command(sys.argv)
  output_dir = Path(FLAGS.output_dir)
  output_dir.mkdir(parents=True, exist_ok=True)
  path = output_dir / "accuracy.md"
  start = time.monotonic()
  if FLAGS.modern_only:
    lines = measure_modern(FLAGS.names or modern_names(), FLAGS.dense_only,
                           FLAGS.threads, output_dir, command, start)
    splice_section(path, lines)
    print(f"wrote the section {MODERN_HEADING!r} of {path}")
    return
  names = (activations.names() if FLAGS.all else
           FLAGS.names or default_names())
  modern = [n for n in names if is_modern(n)]
  if not FLAGS.all and not FLAGS.names:
    modern = modern_names()
  names = [n for n in names if not is_modern(n)]
  figure_names = names if FLAGS.all or FLAGS.names else curated_names()
  for name in names + modern:
    activations.spec(name)  # fail on a bad name before hours of sweeping
    reference_for(name)
  results = measure(names, FLAGS.dense_only, FLAGS.threads)
  figures = write_figures(figure_names, output_dir / "figures")
  section = (measure_modern(modern, FLAGS.dense_only, FLAGS.threads,
                            output_dir, command, time.monotonic())
             if modern else ())
  write_markdown(path, results, figures, not FLAGS.dense_only, command,
                 time.monotonic() - start, section)
  print(f"wrote {path} and {len(figures)} figures")


if __name__ == "__main__":
  app.run(main)
