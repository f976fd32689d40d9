"""Fits the initial coefficients of Padé Activation Units (PAU).

Writes `tf_approx/data/pau_inits.json`, which `tf_approx.pau_inits` reads. A PAU
of order (m, n) is `F(x) = P(x) / Q(x)`, `P = sum_{j=0..m} a_j x^j`, with the
denominator

- 'safe':       `Q = 1 + sum_{k=1..n} |b_k| |x|^k`,
- 'abs_of_sum': `Q = 1 + |sum_{k=1..n} b_k x^k|`,
- 'unsafe':     `Q = 1 + sum_{k=1..n} b_k x^k`.

There is one entry per function (leaky_relu with negative slope 0.01, relu,
tanh, sigmoid, swish = x sigmoid(x), identity), denominator and order
1 <= m, n <= 10, keyed `"<function>/<denominator>/<m>_<n>"`.

Fit: least squares, `min sum_i (F(x_i) - f(x_i))^2`, on the grid of 2001
uniform points of [-3, 3] (endpoints included, step 0.003). The fit works in
`u = x / 3`, so every basis column lies in [-1, 1]. Candidates:

1. the linearised least-squares solution, `min ||P - y R - y||` with R the
   non-constant part of Q (for 'safe' on the basis |x|^k with b_k >= 0, a
   bounded linear least-squares problem; for 'abs_of_sum' as if the sum were
   >= 0);
2. the chosen (m - 1, n) and (m, n - 1) solutions padded with a zero;
3. the polynomial least-squares fit of degree m (b = 0).

Each of 1 and 2 is refined on the exact model by Levenberg-Marquardt
(`scipy.optimize.least_squares`, at most MAX_NFEV evaluations; 'safe' as the
model writes it, through |b_k|, so b_k >= 0 needs no bounds); the refined and
the unrefined candidates all compete. Each candidate's coefficients are
rounded to float32 (the values the PAU layer holds; scaled ones below
NEGLIGIBLE first set to 0), and the one with the smallest sum of squared
errors (sse) on the grid after rounding wins, among those without a pole:
'safe' and 'abs_of_sum' have Q >= 1 everywhere, an 'unsafe' candidate must
have Q > 0 on [-3, 3] (no real root of Q there, and Q > 0 on the grid). When
the best candidate has a pole, the entry records `"fallback"`: what was kept
instead. The unrefined candidates 2 and 3 are pole-free (the lower orders
were chosen so), so a pole-free fit always exists, and the rounded sse never
grows with m or n.

Each entry stores `numerator` `[a_0..a_m]`, `denominator` `[b_1..b_n]`
(float32 values, written with the fewest digits that round-trip, at most 9
significant ones: read them back through float32) and `max_error` (9
significant digits), max |F - f| on the grid computed in float64 with those
float32 coefficients. `reference` holds the published PAU initialisation of leaky
ReLU, order (5, 4), 'safe', with its max error on the same grid.

    python tools/fit_pau_inits.py                       # the whole table
    python tools/fit_pau_inits.py --functions=tanh --max_order=5 \\
        --output=/tmp/pau.json

The whole table takes about 50 s on 2 cores (`--jobs`, default: all cores;
110 s with --jobs=1), and is the same for any --jobs.
"""

import functools
import importlib.util
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

# One BLAS thread per process, set before numpy loads OpenBLAS: the fit's
# matrices are small (2001 x at most 21), and threaded BLAS made the fit about
# 9x slower and let its last bits depend on the thread schedule.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                  "MKL_NUM_THREADS"):
  os.environ.setdefault(_variable, "1")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
from scipy import optimize  # pylint: disable=g-import-not-at-top
from scipy import special  # pylint: disable=g-import-not-at-top

REPO = Path(__file__).resolve().parents[1]


def _load_pau_inits():
  """`tf_approx/pau_inits.py` loaded by path.

  Importing it as `tf_approx.pau_inits` would run `tf_approx/__init__.py`,
  which imports TensorFlow and loads the op library; the module itself needs
  only numpy.
  """
  spec = importlib.util.spec_from_file_location(
      "_tf_approx_pau_inits", REPO / "tf_approx" / "pau_inits.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


pau_inits = _load_pau_inits()
evaluate = pau_inits.evaluate

FUNCTIONS = pau_inits.INIT_NAMES
DENOMINATORS = pau_inits.DENOMINATORS
MAX_ORDER = pau_inits.MAX_ORDER
LEAKY_SLOPE = 0.01

GRID_LO = -3.0
GRID_HI = 3.0
GRID_POINTS = 2001
SCALE = 3.0  # u = x / SCALE lies in [-1, 1] on the grid.

DEFAULT_OUTPUT = REPO / "tf_approx" / "data" / "pau_inits.json"

# The published initialisation (Molina et al., "Padé Activation Units",
# ICLR 2020): leaky ReLU, order (5, 4), safe denominator.
REFERENCE_KEY = "leaky_relu/safe/5_4"
REFERENCE_NUMERATOR = (3.35583603e-02, 5.05000375e-01, 1.65343934e+00,
                       2.01001052e+00, 9.31901999e-01, 1.52424124e-01)
REFERENCE_DENOMINATOR = (3.30847488e-06, 3.98021568e+00, 5.12471206e-07,
                         3.01830109e-01)

# A root of Q counts as real when its imaginary part is below this fraction of
# max(|root|, 1): np.roots returns a double real root with an imaginary part of
# order sqrt(eps), and a complex pair that close to the axis nearly zeroes Q.
REAL_ROOT_TOLERANCE = 1e-6

# Cap on the residual evaluations of one refinement.
MAX_NFEV = 500

# Scaled coefficients (multiplying a basis function bounded by 1 on the grid)
# smaller than this are set to 0: a fit of an odd function leaves ~1e-17
# even coefficients, which change F by less than 1e-12 on [-3, 3].
NEGLIGIBLE = 1e-12

FLAGS = flags.FLAGS
flags.DEFINE_string("output", str(DEFAULT_OUTPUT),
                    "Where to write the JSON table.")
flags.DEFINE_list("functions", list(FUNCTIONS),
                  f"Functions to fit, among {', '.join(FUNCTIONS)}.")
flags.DEFINE_integer("max_order", MAX_ORDER,
                     f"Fit the orders 1 <= m, n <= max_order (<= {MAX_ORDER}).",
                     lower_bound=1, upper_bound=MAX_ORDER)
flags.DEFINE_list("denominators", list(DENOMINATORS),
                  f"Denominators to fit, among {', '.join(DENOMINATORS)}.")
flags.DEFINE_integer("jobs", None,
                     "Worker processes (default: the number of cores).",
                     lower_bound=1)


def grid():
  """The fit grid: 2001 uniform points of [-3, 3], endpoints included."""
  return np.linspace(GRID_LO, GRID_HI, GRID_POINTS)


def target(function, x):
  """The activation `function` at `x`, in float64."""
  x = np.asarray(x, dtype=np.float64)
  if function == "leaky_relu":
    return np.where(x >= 0.0, x, LEAKY_SLOPE * x)
  if function == "relu":
    return np.maximum(x, 0.0)
  if function == "tanh":
    return np.tanh(x)
  if function == "sigmoid":
    return special.expit(x)
  if function == "swish":
    return x * special.expit(x)
  if function == "identity":
    return x.copy()
  raise ValueError(f"unknown function={function!r}; valid functions: "
                   f"{', '.join(FUNCTIONS)}")


def max_abs_error(function, numerator, denominator, kind, x=None):
  """Max |F(x) - f(x)| on `x` (default: the fit grid), in float64."""
  x = grid() if x is None else x
  return float(np.max(np.abs(evaluate(x, numerator, denominator, kind) -
                             target(function, x))))


def poles_in_range(denominator, kind, lo=GRID_LO, hi=GRID_HI):
  """Real roots of Q in [lo, hi], sorted (empty: pole-free there).

  'safe' and 'abs_of_sum' have Q >= 1, so never a root. For 'unsafe' these are
  the (nearly, see REAL_ROOT_TOLERANCE) real roots of `1 + sum b_k x^k` in
  [lo, hi], plus the grid points where Q <= 0 should the root finder miss one.
  """
  if kind != "unsafe":
    return np.zeros(0)
  coefficients = np.r_[1.0, np.asarray(denominator, dtype=np.float64)]
  roots = np.polynomial.polynomial.polyroots(coefficients)
  near_real = np.abs(roots.imag) <= REAL_ROOT_TOLERANCE * np.maximum(
      np.abs(roots), 1.0)
  real = roots[near_real].real
  x = np.linspace(lo, hi, GRID_POINTS)
  q = np.polynomial.polynomial.polyval(x, coefficients)
  return np.unique(np.r_[real[(real >= lo) & (real <= hi)], x[q <= 0.0]])


def _to_float32(values):
  """`values` rounded to float32, as (exactly equal) Python floats."""
  return np.asarray(values, dtype=np.float64).astype(np.float32).astype(
      np.float64).tolist()


def _shortest(values):
  """float32 values as the floats of their shortest round-trip decimals (at
  most 9 significant digits), which `json` writes as such; `np.float32` of
  each gives back the float32 value."""
  return [float(str(np.float32(v))) for v in values]


class _Problem:
  """The scaled least-squares problem of one (function, denominator, m, n).

  Parameters are `theta = (alpha_0..alpha_m, beta_1..beta_n)`, the
  coefficients in u = x / 3: `a_j = alpha_j / 3^j`, `b_k = beta_k / 3^k`.
  """

  def __init__(self, function, kind, m, n):
    self.function, self.kind, self.m, self.n = function, kind, m, n
    x = grid()
    u = x / SCALE
    self.y = target(function, x)
    self.p_basis = u[:, None] ** np.arange(m + 1)
    powers = np.arange(1, n + 1)
    # Q's non-constant part is r_basis @ beta ('safe': |beta|, beta >= 0).
    self.r_basis = (np.abs(u) if kind == "safe" else u)[:, None] ** powers

  def split(self, theta):
    return theta[:self.m + 1], theta[self.m + 1:]

  def _pq(self, theta):
    alpha, beta = self.split(theta)
    # 'safe' uses |b_k|: a refinement may step to b_k < 0, the same model.
    s = self.r_basis @ (np.abs(beta) if self.kind == "safe" else beta)
    q = 1.0 + (np.abs(s) if self.kind == "abs_of_sum" else s)
    return self.p_basis @ alpha, q, s

  def residual(self, theta):
    p, q, _ = self._pq(theta)
    return p / q - self.y

  def jacobian(self, theta):
    p, q, s = self._pq(theta)
    dq = self.r_basis
    if self.kind == "safe":
      # d|b|/db, taken as +1 at b = 0 so that a zero b_k can grow.
      dq = dq * np.where(self.split(theta)[1] < 0.0, -1.0, 1.0)
    elif self.kind == "abs_of_sum":
      dq = np.sign(s)[:, None] * dq
    return np.hstack([self.p_basis / q[:, None], -(p / q**2)[:, None] * dq])

  def coefficients(self, theta):
    """Unscaled `(numerator, denominator)` in float64, NEGLIGIBLE ones 0."""
    theta = np.where(np.abs(theta) < NEGLIGIBLE, 0.0, theta)
    alpha, beta = self.split(theta)
    return (alpha / SCALE ** np.arange(self.m + 1),
            beta / SCALE ** np.arange(1, self.n + 1))

  def linearised(self):
    """`theta` minimising ||P - y R - y|| (module docstring, candidate 1)."""
    design = np.hstack([self.p_basis, -self.y[:, None] * self.r_basis])
    if self.kind == "safe":
      lower = np.r_[np.full(self.m + 1, -np.inf), np.zeros(self.n)]
      return optimize.lsq_linear(design, self.y, bounds=(lower, np.inf),
                                 method="bvls", tol=1e-14).x
    return np.linalg.lstsq(design, self.y, rcond=None)[0]

  def polynomial(self):
    """`theta` of the degree-m polynomial least-squares fit, b = 0."""
    alpha = np.linalg.lstsq(self.p_basis, self.y, rcond=None)[0]
    return np.r_[alpha, np.zeros(self.n)]

  def refined(self, theta0):
    """Local least-squares optimum of the exact model from `theta0`.

    Levenberg-Marquardt; for 'safe' on |b_k| (the model's), returned as b_k.
    """
    result = optimize.least_squares(
        self.residual, np.asarray(theta0, dtype=np.float64), jac=self.jacobian,
        method="lm", xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=MAX_NFEV)
    theta = result.x
    if self.kind == "safe":
      theta = np.r_[theta[:self.m + 1], np.abs(theta[self.m + 1:])]
    return theta

  def rounded_score(self, theta):
    """`(sum of squared errors, pole-free)` of the float32-rounded fit."""
    numerator, denominator = map(_to_float32, self.coefficients(theta))
    if not np.all(np.isfinite(numerator + denominator)):
      return np.inf, False
    error = evaluate(grid(), numerator, denominator, self.kind) - self.y
    sse = float(error @ error)
    pole_free = poles_in_range(denominator, self.kind).size == 0
    return (sse if np.isfinite(sse) else np.inf), pole_free


@functools.cache
def _solve(function, kind, m, n):
  """The chosen scaled `(theta, fallback)` of one entry (module docstring).

  Cached: the (m - 1, n) and (m, n - 1) solutions are starts of (m, n), so a
  sweep over the orders solves each once. `fallback` is None or a note.
  """
  problem = _Problem(function, kind, m, n)
  starts = [("linearised", problem.linearised())]
  if m > 1:
    theta, _ = _solve(function, kind, m - 1, n)
    alpha, beta = theta[:m], theta[m:]
    starts.append((f"({m - 1}, {n}) padded", np.r_[alpha, 0.0, beta]))
  if n > 1:
    theta, _ = _solve(function, kind, m, n - 1)
    starts.append((f"({m}, {n - 1}) padded", np.r_[theta, 0.0]))
  candidates = [("polynomial", problem.polynomial())]
  for label, theta in starts:
    candidates.append((label, theta))
    with np.errstate(all="ignore"):
      candidates.append((f"refined from {label}", problem.refined(theta)))

  best, best_pole_free = None, None
  for label, theta in candidates:
    with np.errstate(all="ignore"):
      sse, pole_free = problem.rounded_score(theta)
    if best is None or sse < best[0]:
      best = (sse, label, theta)
    if pole_free and (best_pole_free is None or sse < best_pole_free[0]):
      best_pole_free = (sse, label, theta)
  sse, label, theta = best_pole_free
  fallback = None
  if best[1] != label:
    _, denominator = problem.coefficients(best[2])
    poles = poles_in_range(_to_float32(denominator), kind)
    fallback = (f"best fit ({best[1]}) has a pole at x = {poles[0]:.4g}; "
                f"kept {label}, sse {sse:.3e} vs {best[0]:.3e}")
  return theta, fallback


def fit(function, denominator, m, n):
  """Fits one entry of the table.

  Args:
    function: one of FUNCTIONS.
    denominator: one of DENOMINATORS.
    m: numerator degree, 1..10.
    n: denominator degree, 1..10.

  Returns:
    `(numerator, denominator, max_error)`: float32-valued coefficient lists
    `[a_0..a_m]` and `[b_1..b_n]`, and their max |F - f| on the grid.
  """
  numerator, denominator_, _ = _fit_entry(function, denominator, m, n)
  return numerator, denominator_, max_abs_error(function, numerator,
                                                denominator_, denominator)


def _fit_entry(function, kind, m, n):
  """`(numerator, denominator, fallback)` of one entry, float32-valued."""
  if function not in FUNCTIONS:
    raise ValueError(f"unknown function={function!r}; valid functions: "
                     f"{', '.join(FUNCTIONS)}")
  if kind not in DENOMINATORS:
    raise ValueError(f"unknown denominator={kind!r}; valid denominators: "
                     f"{', '.join(DENOMINATORS)}")
  if not (1 <= m <= MAX_ORDER and 1 <= n <= MAX_ORDER):
    raise ValueError(f"orders must be in 1..{MAX_ORDER}, got m={m}, n={n}")
  theta, fallback = _solve(function, kind, m, n)
  numerator, denominator = _Problem(function, kind, m, n).coefficients(theta)
  return _to_float32(numerator), _to_float32(denominator), fallback


def key(function, denominator, m, n):
  return f"{function}/{denominator}/{m}_{n}"


def _fit_all_orders(task):
  """`(task, entries, seconds)` of one (function, denominator), all orders up
  to max_order."""
  start = time.perf_counter()
  function, kind, max_order = task
  entries = {}
  for m in range(1, max_order + 1):
    for n in range(1, max_order + 1):
      numerator, denominator, fallback = _fit_entry(function, kind, m, n)
      error = max_abs_error(function, numerator, denominator, kind)
      entry = {
          "numerator": _shortest(numerator),
          "denominator": _shortest(denominator),
          "max_error": float(f"{error:.9g}"),
      }
      if fallback is not None:
        entry["fallback"] = fallback
      entries[key(function, kind, m, n)] = entry
  return task, entries, time.perf_counter() - start


def fit_table(functions=FUNCTIONS, denominators=DENOMINATORS,
              max_order=MAX_ORDER, jobs=None):
  """Fits the given functions and denominators.

  Returns:
    `(entries, seconds)`: `{key: entry}` sorted by key, and the fit time of
    each (function, denominator) in one worker process.
  """
  # One task per (function, denominator): its orders share _solve's cache.
  # 'safe' and the ReLUs are the slowest to refine; starting them first
  # balances the workers.
  tasks = sorted(((f, d, max_order) for f in functions for d in denominators),
                 key=lambda t: (t[1] != "safe", "relu" not in t[0]))
  jobs = min(jobs or os.cpu_count() or 1, len(tasks))
  entries, seconds = {}, {}
  if jobs == 1:
    results = list(map(_fit_all_orders, tasks))
  else:
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
      results = list(pool.imap_unordered(_fit_all_orders, tasks))
  for (function, kind, _), task_entries, task_seconds in results:
    entries.update(task_entries)
    seconds[f"{function}/{kind}"] = task_seconds
  return dict(sorted(entries.items())), seconds


def reference_entry():
  """The published leaky ReLU (5, 4) 'safe' initialisation and its error."""
  error = max_abs_error("leaky_relu", REFERENCE_NUMERATOR,
                        REFERENCE_DENOMINATOR, "safe")
  return {
      "key": REFERENCE_KEY,
      "source": "Molina, Schramowski, Kersting: Pade Activation Units, "
                "ICLR 2020",
      "numerator": list(REFERENCE_NUMERATOR),
      "denominator": list(REFERENCE_DENOMINATOR),
      "max_error": float(f"{error:.9g}"),
  }


def write_table(entries, output):
  """Writes the table as sorted JSON, one entry per line."""
  header = {
      "generated_by": "tools/fit_pau_inits.py",
      "grid": {"lo": GRID_LO, "hi": GRID_HI, "points": GRID_POINTS},
      "functions": {
          "leaky_relu": f"x if x >= 0 else {LEAKY_SLOPE} x",
          "relu": "max(x, 0)",
          "tanh": "tanh(x)",
          "sigmoid": "1 / (1 + exp(-x))",
          "swish": "x * sigmoid(x)",
          "identity": "x",
      },
      "reference": reference_entry(),
  }
  lines = ["{"]
  for name, value in header.items():
    lines.append(f" {json.dumps(name)}: {json.dumps(value, sort_keys=True)},")
  lines.append(' "entries": {')
  items = list(entries.items())
  for i, (name, entry) in enumerate(items):
    comma = "," if i + 1 < len(items) else ""
    lines.append(f"  {json.dumps(name)}: "
                 f"{json.dumps(entry, sort_keys=True)}{comma}")
  lines.append(" }")
  lines.append("}")
  output = Path(output)
  output.parent.mkdir(parents=True, exist_ok=True)
  output.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv):
  del argv  # Unused.
  for flag, values, valid in (("functions", FLAGS.functions, FUNCTIONS),
                              ("denominators", FLAGS.denominators,
                               DENOMINATORS)):
    unknown = sorted(set(values) - set(valid))
    if unknown:
      raise app.UsageError(f"--{flag}: unknown {', '.join(unknown)}; valid: "
                           f"{', '.join(valid)}")
  start = time.perf_counter()
  entries, task_seconds = fit_table(FLAGS.functions, FLAGS.denominators,
                                    FLAGS.max_order, FLAGS.jobs)
  seconds = time.perf_counter() - start
  write_table(entries, FLAGS.output)

  order = (5, 4) if FLAGS.max_order >= 5 else (FLAGS.max_order,) * 2
  print(f"max error on the grid at order {order}:")
  print(f"{'function':<12}" + "".join(f"{d:>14}" for d in FLAGS.denominators))
  for function in FLAGS.functions:
    row = "".join(
        f"{entries[key(function, d, *order)]['max_error']:>14.4e}"
        for d in FLAGS.denominators)
    print(f"{function:<12}{row}")
  reference = reference_entry()
  if REFERENCE_KEY in entries:
    print(f"{REFERENCE_KEY}: max error {entries[REFERENCE_KEY]['max_error']:.6e}"
          f", published reference {reference['max_error']:.6e}")
  fallbacks = [(k, e["fallback"]) for k, e in entries.items()
               if "fallback" in e]
  print(f"fallbacks (best fit had a pole): {len(fallbacks)}")
  for name, note in fallbacks:
    print(f"  {name}: {note}")
  print("fit time per task (s): " + ", ".join(
      f"{name} {t:.0f}" for name, t in sorted(task_seconds.items())))
  size = Path(FLAGS.output).stat().st_size
  print(f"wrote {len(entries)} entries ({size / 1024:.0f} KiB) to "
        f"{FLAGS.output} in {seconds:.1f} s")
  sys.stdout.flush()


if __name__ == "__main__":
  app.run(main)
