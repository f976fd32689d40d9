"""Fits the coefficient table of the fitted activation families.

Writes `tf_approx/data/activation_coefficients.json` with one entry per name:

- `tanh_taylor_n`, `sigm_taylor_n` (n = 1..15): polynomial `P(x) = sum_i a_i x^i`.
- `tanh_pade_n_m`, `sigm_pade_n_m` (n, m = 1..8): rational `P(x) / Q(x)`,
  `Q(x) = sum_j b_j x^j`, `b_0 = 1`.

Each approximation is `offset + P(x) / Q(x)` (taylor: `Q = 1`), least-squares fitted on the
paper's 5000 uniform samples of [-5.5, 5.5] (approximating-activation-functions.txt, section 3).

The fits respect the target's parity: tanh is odd, so P has only odd
powers and Q only even powers; sigmoid is fitted as `sigmoid(x) - 1/2 = tanh(x / 2) / 2` (odd)
with `offset = 1/2`. Parity removes the spurious tiny coefficients a plain fit leaves, which put
real poles far outside the fit range.

Rationals are fitted by linearised least squares, `min ||P(x) - t(x) Q(x)||`, then refined on the
true residual `||P/Q - t||` starting from the linearised solution. Q is even, so it has a real root
iff `Q(sqrt(z))`, a polynomial in `z = x^2`, has a root `z >= 0`. A refined fit with such a pole
falls back to the linearised fit; when that has a pole too, the top free denominator coefficient is
fixed at 0 and both fits are repeated, down to `Q = 1` if need be. Why that is the pole-free least-
squares fit: Q(0) = 1, so a negative top coefficient always gives a root z > 0; pole-free fits
therefore have it >= 0, and for each of the 24 [n/m] whose fit has a pole (tanh and sigmoid [1/4],
[1/5], [1/8], [3/6], [3/7], [5/8] and their [n+1/m] twins) a bounded multi-start fit with it >= 0
converged to it = 0 (checked when the table was made). These poles lie beyond the fit range (tanh
[1/4]: |x| = 9.2) and come from Q outgrowing P there. Such entries are marked
`rational-ls-refined-reduced` (or `-linearised-reduced`) and listed by `main`.

Coefficients are stored rounded to float32 (the op attributes that carry them are float32); the
recorded max errors are those of the rounded coefficients, evaluated in float64.

Usage: python tools/fit_coefficients.py [--output PATH]
"""

import argparse
import json
import re
from pathlib import Path

import numpy as np
from scipy import optimize, special

SAMPLE_COUNT = 5000
SAMPLE_LO = -5.5
SAMPLE_HI = 5.5
DENSE_COUNT = 200001
TAYLOR_DEGREES = range(1, 16)
PADE_DEGREES = range(1, 9)

DEFAULT_OUTPUT = (
    Path(__file__).resolve().parents[1] / "tf_approx" / "data" / "activation_coefficients.json"
)

_NAME = re.compile(r"^(tanh|sigm)_(?:taylor_(\d+)|pade_(\d+)_(\d+))$")

# Fitting in u = x / SCALE keeps every monomial column within [-1, 1] on the samples; in x
# itself x^15 spans 1e11 and the normal equations lose most of their digits.
SCALE = SAMPLE_HI


def samples():
    """The paper's fit samples: 5000 uniform points of [-5.5, 5.5], endpoints included."""
    return np.linspace(SAMPLE_LO, SAMPLE_HI, SAMPLE_COUNT)


def dense_grid():
    """The grid the dense max error is measured on: 200001 uniform points of [-5.5, 5.5]."""
    return np.linspace(SAMPLE_LO, SAMPLE_HI, DENSE_COUNT)


def exact(target, x):
    """The function approximated: `tanh(x)` or `sigmoid(x) = 1 / (1 + exp(-x))`."""
    return np.tanh(x) if target == "tanh" else special.expit(x)


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
    match = _NAME.match(name)
    if not match:
        raise ValueError(f"not a fitted activation name: {name!r}")
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
    names += [f"{t}_pade_{n}_{m}" for t in ("tanh", "sigm") for n in PADE_DEGREES
              for m in PADE_DEGREES]
    return sorted(names)


def _free_powers(degree, parity):
    """Powers in 1..degree of the given parity (1: odd; 0: even, so from 2 on)."""
    return np.array([p for p in range(1, degree + 1) if p % 2 == parity], dtype=int)


def _expand(powers, values, degree, constant):
    """Dense ascending coefficient list of length degree + 1: `constant` at power 0, zeros
    where parity forces them."""
    coefficients = np.zeros(degree + 1)
    coefficients[0] = constant
    coefficients[powers] = values
    return coefficients


def _ratio(u, a_powers, a, b_powers, b):
    """`(P(u), Q(u))` for the free coefficients of the scaled fit; `Q = 1 + sum b_j u^j`."""
    p = (u[:, None] ** a_powers) @ a
    q = 1.0 + (u[:, None] ** b_powers) @ b
    return p, q


def _linearised(u, t, a_powers, b_powers):
    """Free coefficients minimising `||P(u) - t (Q(u) - 1) - t||`, i.e. `||P - t Q||`."""
    design = np.hstack([u[:, None] ** a_powers, -t[:, None] * u[:, None] ** b_powers])
    solution = np.linalg.lstsq(design, t, rcond=None)[0]
    return solution[:len(a_powers)], solution[len(a_powers):]


def _refined(u, t, a_powers, b_powers, a0, b0):
    """Free coefficients minimising the true residual `||P/Q - t||`, Levenberg-Marquardt from
    the linearised solution `(a0, b0)`."""
    split = len(a_powers)

    def residual(params):
        p, q = _ratio(u, a_powers, params[:split], b_powers, params[split:])
        return p / q - t

    def jacobian(params):
        p, q = _ratio(u, a_powers, params[:split], b_powers, params[split:])
        return np.hstack([u[:, None] ** a_powers / q[:, None],
                          -(u[:, None] ** b_powers) * (p / q ** 2)[:, None]])

    result = optimize.least_squares(residual, np.concatenate([a0, b0]), jac=jacobian,
                                    method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
    return result.x[:split], result.x[split:]


def real_poles(denominator):
    """Real roots of the even polynomial `Q(x) = sum_j b_j x^j` (ascending), as positive x.

    Q has only even powers, so its real roots are `+-sqrt(z)` for the roots `z >= 0` of
    `sum_k b_2k z^k`. A root counts as real when its imaginary part is below 1e-6 of its size:
    np.roots returns a double root with an imaginary part of order sqrt(eps), and a complex pair
    that close to the axis makes Q nearly vanish anyway.
    """
    in_z = np.asarray(denominator, dtype=np.float64)[::2]
    roots = np.roots(in_z[::-1])
    real = roots[np.abs(roots.imag) <= 1e-6 * np.maximum(np.abs(roots), 1.0)].real
    return np.sort(np.sqrt(real[real >= 0.0]))


def _to_float32(coefficients):
    return [float(np.float32(c)) for c in coefficients]


def evaluate(entry, x):
    """`offset + P(x) / Q(x)` of a table entry, in float64, by Horner's rule."""
    p = np.polynomial.polynomial.polyval(x, entry["numerator"])
    q = np.polynomial.polynomial.polyval(x, entry["denominator"])
    return entry["offset"] + p / q


def _entry(target, numerator, denominator, offset, method):
    """A table entry with float32-rounded coefficients and their max errors."""
    entry = {
        "numerator": _to_float32(numerator),
        "denominator": _to_float32(denominator),
        "offset": offset,
        "method": method,
    }
    for key, x in (("max_abs_error_samples", samples()), ("max_abs_error_dense", dense_grid())):
        entry[key] = float(np.max(np.abs(evaluate(entry, x) - exact(target, x))))
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
    x = samples()
    u = x / SCALE
    t, offset = _odd_part(target, x)
    a_powers = _free_powers(n, 1)
    b_powers = _free_powers(m, 0)
    a_scale = SCALE ** a_powers.astype(float)
    b_scale = SCALE ** b_powers.astype(float)

    def unscaled(a, b):
        return (_expand(a_powers, a / a_scale, n, 0.0),
                _expand(b_powers, b / b_scale, m, 1.0))

    if kind == "taylor":
        a = np.linalg.lstsq(u[:, None] ** a_powers, t, rcond=None)[0]
        numerator, denominator = unscaled(a, np.zeros(0))
        return _entry(target, numerator, denominator, offset, "polynomial-ls")

    # Dropping the top free denominator power each round ends at Q = 1, which has no pole.
    for kept in range(len(b_powers), -1, -1):
        suffix = "" if kept == len(b_powers) else "-reduced"
        a_lin, b_lin = _linearised(u, t, a_powers, b_powers[:kept])
        a_ref, b_ref = _refined(u, t, a_powers, b_powers[:kept], a_lin, b_lin)
        for method, (a, b) in (("rational-ls-refined", (a_ref, b_ref)),
                               ("rational-ls-linearised", (a_lin, b_lin))):
            numerator, denominator = unscaled(a, np.pad(b, (0, len(b_powers) - kept)))
            entry = _entry(target, numerator, denominator, offset, method + suffix)
            if real_poles(entry["denominator"]).size == 0:
                return entry


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
    print(f"{'name':<16} {'method':<28} {'max err (samples)':>18} {'max err (dense)':>16}")
    for name, entry in functions.items():
        print(f"{name:<16} {entry['method']:<28} {entry['max_abs_error_samples']:>18.3e} "
              f"{entry['max_abs_error_dense']:>16.3e}")
    fallbacks = [name for name, entry in functions.items()
                 if entry["method"] not in ("polynomial-ls", "rational-ls-refined")]
    print(f"fallbacks (refined fit had a real pole): {', '.join(fallbacks) or 'none'}")
    print(f"wrote {len(functions)} entries to {args.output}")


if __name__ == "__main__":
    main()
