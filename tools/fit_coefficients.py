"""Fits the coefficient table of the fitted activation families.

Writes `tf_approx/data/activation_coefficients.json` with one entry per name:

- `tanh_taylor_n`, `sigm_taylor_n` (n = 1..15): polynomial `P(x) = sum_i a_i x^i`.
- `tanh_pade_n_m`, `sigm_pade_n_m` (n, m = 1..8): rational `P(x) / Q(x)`,
  `Q(x) = sum_j b_j x^j`, `b_0 = 1`.
- `gelu_pade_n_m`, `silu_pade_n_m`, `softplus_pade_n_m` (n, m = 1..8): the rational part of
  today's activations (below).

The paper's families are `offset + P(x) / Q(x)` (taylor: `Q = 1`), least-squares fitted on the
paper's 5000 uniform samples of [-5.5, 5.5] (approximating-activation-functions.txt, section 3).
The fits respect the target's parity: tanh is odd, so P has only odd powers and Q only even
powers; sigmoid is fitted as `sigmoid(x) - 1/2 = tanh(x / 2) / 2` (odd) with `offset = 1/2`.
Parity removes the spurious tiny coefficients a plain fit leaves, which put real poles far outside
the fit range.

Today's activations are fitted on 5000 uniform samples of [-L, L], L = `MODERN_RANGES` in
tf_approx/activations.py (beyond it the `_clamp` names take the exact asymptotes):

- GELU `x Phi(x)` as `x (1/2 + R(x))`, R odd, fitted to `Phi(x) - 1/2` with weights |x| (the
  least squares of the function itself), and R(L) = 1/2 so that it meets the asymptote x at L
  (and, R being odd, 0 at -L);
- SiLU `x sigmoid(x)` likewise, R fitted to `tanh(x / 2) / 2` (`x sigmoid(beta x)` is then
  `x (1/2 + R(beta x))`);
- softplus `log(1 + e^x)` as `x / 2 + R(x)`, R even, fitted to `log(2 cosh(x / 2))`, with
  R(L) = L / 2 (it meets x at L and 0 at -L).

Rationals are fitted by linearised least squares, then refined on the true residual
(tf_approx/fitting.py: `fit_form`, the step `tf_approx.activations.fit` ends in too; this script
passes it targets computed the most accurate way, e.g. the sigmoid's odd part through tanh). Q is
even, so it has a real root iff `Q(sqrt(z))`, a polynomial in `z = x^2`, has a root `z >= 0`. A
refined fit with such a pole falls back to the linearised fit; when that has a pole too, the top
free denominator coefficient is fixed at 0 and both fits are repeated, down to `Q = 1` if need be.
Why that is the pole-free least-squares fit: Q(0) = 1, so a negative top coefficient always gives a
root z > 0; pole-free fits therefore have it >= 0, and for each of the 24 [n/m] of the paper's
families whose fit has a pole (tanh and sigmoid [1/4], [1/5], [1/8], [3/6], [3/7], [5/8] and their
[n+1/m] twins) a bounded multi-start fit with it >= 0 converged to it = 0 (checked when the table
was made). These poles lie beyond the fit range (tanh [1/4]: |x| = 9.2) and come from Q outgrowing P
there. Such entries are marked `rational-ls-refined-reduced` (or `-linearised-reduced`) and listed
by `main`.

Coefficients are stored rounded to float32 (the op attributes that carry them are float32); the
recorded max errors are those of the rounded coefficients, evaluated in float64, on the function
itself (for GELU `x (1/2 + R(x))` against `x Phi(x)`).

Usage: python tools/fit_coefficients.py [--output PATH]
"""

import argparse
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
from scipy import special

REPO = Path(__file__).resolve().parents[1]


def _load_fitting():
    """tf_approx/fitting.py by path: importing the package would load TensorFlow and the table
    this script writes."""
    spec = importlib.util.spec_from_file_location("tf_approx_fitting",
                                                  REPO / "tf_approx" / "fitting.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fitting = _load_fitting()

SAMPLE_COUNT = 5000
SAMPLE_LO = -5.5
SAMPLE_HI = 5.5
DENSE_COUNT = 200001
TAYLOR_DEGREES = range(1, 16)
PADE_DEGREES = range(1, 9)
# Kept equal to tf_approx.activations.MODERN_RANGES (a test checks it); not imported from there,
# which would load TensorFlow for a numpy script.
MODERN_RANGES = {"gelu": 5.0, "silu": 12.0, "softplus": 10.0}

DEFAULT_OUTPUT = REPO / "tf_approx" / "data" / "activation_coefficients.json"

# Today's activations tend to 0 below the range and to x above it.
ASYMPTOTES = {"below": (0.0, 0.0), "above": (1.0, 0.0)}

_NAME = re.compile(r"^(tanh|sigm)_(?:taylor_(\d+)|pade_(\d+)_(\d+))$")
_MODERN_NAME = re.compile(r"^(gelu|silu|softplus)_pade_(\d+)_(\d+)$")

# Fitting in u = x / SCALE keeps every monomial column within [-1, 1] on the samples; in x
# itself x^15 spans 1e11 and the normal equations lose most of their digits.
SCALE = SAMPLE_HI


def fit_range(name):
    """`(lo, hi)` of a name's fit: the paper's [-5.5, 5.5] or [-L, L]."""
    match = _MODERN_NAME.match(name)
    if match:
        edge = MODERN_RANGES[match[1]]
        return -edge, edge
    return SAMPLE_LO, SAMPLE_HI


def samples(name=None):
    """The fit samples: 5000 uniform points of the name's range, endpoints included (default:
    the paper's [-5.5, 5.5])."""
    lo, hi = fit_range(name or "tanh")
    return np.linspace(lo, hi, SAMPLE_COUNT)


def dense_grid(name=None):
    """The grid the dense max error is measured on: 200001 uniform points of the range."""
    lo, hi = fit_range(name or "tanh")
    return np.linspace(lo, hi, DENSE_COUNT)


def exact(target, x):
    """The function approximated, by its name's first part (`tanh`, `sigm`, `gelu`, `silu`,
    `softplus`), or by a whole name."""
    target = target.split("_")[0]
    if target == "tanh":
        return np.tanh(x)
    if target == "sigm":
        return special.expit(x)
    if target == "gelu":
        return x * special.ndtr(x)
    if target == "silu":
        return x * special.expit(x)
    if target == "softplus":
        return np.logaddexp(0.0, x)
    raise ValueError(f"no exact function for {target!r}")


def _odd_part(target, x):
    """`(f(x), offset)` with `f` odd and `exact = offset + f`: tanh, or `tanh(x / 2) / 2` + 1/2.

    The sigmoid's odd part is written through tanh because `sigmoid(x) - 1/2` loses relative
    precision near 0 to cancellation.
    """
    if target == "tanh":
        return np.tanh(x), 0.0
    return 0.5 * np.tanh(0.5 * x), 0.5


def parse(name):
    """`(target, kind, n, m)` for a fitted-family name; taylor has `m = 0`.

    Raises ValueError for a name outside the families or their degree ranges.
    """
    match = _NAME.match(name) or _MODERN_NAME.match(name)
    if not match:
        raise ValueError(f"not a fitted activation name: {name!r}")
    if match.re is _MODERN_NAME:
        target, n, m = match[1], int(match[2]), int(match[3])
        if n not in PADE_DEGREES or m not in PADE_DEGREES:
            raise ValueError(f"{name!r}: pade degrees must be in 1..8")
        return target, "pade", n, m
    target, taylor_n, pade_n, pade_m = match.groups()
    if taylor_n is not None:
        n = int(taylor_n)
        if n not in TAYLOR_DEGREES:
            raise ValueError(f"{name!r}: taylor degree must be in 1..15")
        return target, "taylor", n, 0
    n, m = int(pade_n), int(pade_m)
    if n not in PADE_DEGREES or m not in PADE_DEGREES:
        raise ValueError(f"{name!r}: pade degrees must be in 1..8")
    return target, "pade", n, m


def all_names():
    """Every fitted-family name, in the table's (sorted) order."""
    names = [f"{t}_taylor_{n}" for t in ("tanh", "sigm") for n in TAYLOR_DEGREES]
    names += [f"{t}_pade_{n}_{m}" for t in ("tanh", "sigm", *MODERN_RANGES)
              for n in PADE_DEGREES for m in PADE_DEGREES]
    return sorted(names)


def real_poles(denominator):
    """Real roots of `Q(x) = sum_j b_j x^j` (ascending); see tf_approx.fitting.real_poles."""
    return fitting.real_poles(denominator)


def evaluate(name, entry, x):
    """The name's function from a table entry, in float64: `offset + P(x) / Q(x)` for the
    paper's families, `x (offset + P/Q)` for GELU and SiLU, `x / 2 + P/Q` for softplus."""
    p = np.polynomial.polynomial.polyval(x, entry["numerator"])
    q = np.polynomial.polynomial.polyval(x, entry["denominator"])
    ratio = entry["offset"] + p / q
    target = name.split("_")[0]
    if target in ("gelu", "silu"):
        return x * ratio
    if target == "softplus":
        return 0.5 * x + ratio
    return ratio


def _entry(name, fit, offset):
    """A table entry with its float32-rounded coefficients and their max errors."""
    entry = {
        "numerator": list(fit.numerator),
        "denominator": list(fit.denominator),
        "offset": offset,
        "method": fit.method,
    }
    for key, x in (("max_abs_error_samples", samples(name)),
                   ("max_abs_error_dense", dense_grid(name))):
        entry[key] = float(np.max(np.abs(evaluate(name, entry, x) - exact(name, x))))
    return entry


def fit(name):
    """Fits one fitted-family name and returns its table entry.

    The entry is `{"numerator", "denominator", "offset", "max_abs_error_samples",
    "max_abs_error_dense", "method"}`, coefficients ascending and float32-rounded, numerator of
    length n + 1 and denominator of length m + 1 (taylor: `[1.0]`). `method` is
    `polynomial-ls`, `rational-ls-refined`, or `rational-ls-linearised` when the refined fit had a
    real pole; a `-reduced` suffix when both had one and top denominator coefficients were fixed
    at 0 (module docstring).

    Example: `fit("tanh_pade_4_4")["numerator"]` is `[0.0, a1, 0.0, a3, 0.0]`.
    """
    target, kind, n, m = parse(name)
    x = samples(name)
    if target in ("tanh", "sigm"):
        t, offset = _odd_part(target, x)
        result = fitting.fit_form(x, t, n, m, parity="odd", offset=offset)
        return _entry(name, result.rational, offset)
    match = fitting.meeting_point(ASYMPTOTES, *fit_range(name))
    if target == "softplus":
        t = np.logaddexp(0.5 * x, -0.5 * x)
        result = fitting.fit_form(x, t, n, m, parity="even", slope=0.5, match=match)
        return _entry(name, result.rational, 0.0)
    t = 0.5 * special.erf(x / np.sqrt(2)) if target == "gelu" else 0.5 * np.tanh(0.5 * x)
    result = fitting.fit_form(x, t, n, m, parity="odd", product=True, offset=0.5, match=match)
    return _entry(name, result.rational, 0.5)


def fit_all():
    """The whole table: `{name: fit(name)}` for every fitted-family name."""
    return {name: fit(name) for name in all_names()}


def write_table(functions, output):
    """Writes the table as sorted, indented JSON, so that a refit is byte-identical."""
    table = {
        "generated_by": "tools/fit_coefficients.py",
        "samples": {"count": SAMPLE_COUNT, "lo": SAMPLE_LO, "hi": SAMPLE_HI},
        "functions": functions,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w") as f:
        json.dump(table, f, indent=1, sort_keys=True)
        f.write("\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="where to write the JSON table (default: the package's copy)")
    args = parser.parse_args(argv)

    functions = fit_all()
    write_table(functions, args.output)
    print(f"{'name':<20} {'method':<28} {'max err (samples)':>18} {'max err (dense)':>16}")
    for name, entry in functions.items():
        print(f"{name:<20} {entry['method']:<28} {entry['max_abs_error_samples']:>18.3e} "
              f"{entry['max_abs_error_dense']:>16.3e}")
    fallbacks = [name for name, entry in functions.items()
                 if entry["method"] not in ("polynomial-ls", "rational-ls-refined")]
    print(f"fallbacks (refined fit had a real pole): {', '.join(fallbacks) or 'none'}")
    print(f"wrote {len(functions)} entries to {args.output}")


if __name__ == "__main__":
    main()
