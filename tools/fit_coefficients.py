"""Fits the coefficient table of the fitted activation families.

Writes `tf_approx/data/activation_coefficients.json` with one entry per name:

- `tanh_taylor_n`, `sigm_taylor_n` (n = 1..15): polynomial `P(x) = sum_i a_i x^i`.
- `tanh_pade_n_m`, `sigm_pade_n_m` (n, m = 1..8): rational `P(x) / Q(x)`,
  `Q(x) = sum_j b_j x^j`, `b_0 = 1`.

Each approximation is `offset + P(x) / Q(x)` (taylor: `Q = 1`), least-squares fitted on the
paper's 5000 uniform samples of [-5.5, 5.5] (approximating-activation-functions.txt, section 3).

The fits respect the target's parity (SPEC section 1, "Fitting"): tanh is odd, so P has only odd
powers and Q only even powers; sigmoid is fitted as `sigmoid(x) - 1/2 = tanh(x / 2) / 2` (odd)
with `offset = 1/2`. Parity removes the spurious tiny coefficients a plain fit leaves, which put
real poles far outside the fit range.

Rationals are fitted by linearised least squares, `min ||P(x) - t(x) Q(x)||`, then refined on the
true residual `||P/Q - t||` starting from the linearised solution. Q is even, so it has a real root
iff `Q(sqrt(z))`, a polynomial in `z = x^2`, has a root `z >= 0`; a refined fit with such a pole
falls back to the linearised fit, and a linearised fit with a pole raises `PoleError`.

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


class PoleError(ValueError):
    """A rational fit whose denominator has a root on the real line."""


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
    """Powers 1..degree with the given parity (1: odd, 0: even, >= 2)."""
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
    `sum_k b_2k z^k`; a root counts as real when its imaginary part is below 1e-9 of its size.
    """
    in_z = np.asarray(denominator, dtype=np.float64)[::2]
    roots = np.roots(in_z[::-1]) if np.any(in_z[1:]) else np.array([])
    real = roots[np.abs(roots.imag) <= 1e-9 * np.maximum(np.abs(roots), 1.0)].real
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
    real pole. Raises PoleError when the linearised fit has one too.

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

    a_lin, b_lin = _linearised(u, t, a_powers, b_powers)
    candidates = [("rational-ls-refined", _refined(u, t, a_powers, b_powers, a_lin, b_lin)),
                  ("rational-ls-linearised", (a_lin, b_lin))]
    for method, (a, b) in candidates:
        numerator, denominator = unscaled(a, b)
        entry = _entry(target, numerator, denominator, offset, method)
        poles = real_poles(entry["denominator"])
        if poles.size == 0:
            return entry
    raise PoleError(f"{name}: linearised and refined fits both have real poles, "
                    f"linearised at x = +-{poles.tolist()}")


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
    print(f"{'name':<16} {'method':<24} {'max err (samples)':>18} {'max err (dense)':>16}")
    for name, entry in functions.items():
        print(f"{name:<16} {entry['method']:<24} {entry['max_abs_error_samples']:>18.3e} "
              f"{entry['max_abs_error_dense']:>16.3e}")
    print(f"wrote {len(functions)} entries to {args.output}")


if __name__ == "__main__":
    main()
