"""Checks the committed coefficient table against the script that fits it.

The table is `tf_approx/data/activation_coefficients.json`, written by `tools/fit_coefficients.py`;
a refit of a few entries must reproduce it, and every entry must keep the target's parity, have a
pole-free denominator and an error within the fit's known quality.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
TOOL_PATH = REPO / "tools" / "fit_coefficients.py"
TABLE_PATH = REPO / "tf_approx" / "data" / "activation_coefficients.json"

REFIT_NAMES = ["tanh_pade_4_4", "tanh_pade_5_4", "tanh_taylor_9", "sigm_pade_4_4",
               "sigm_taylor_9", "sigm_pade_3_3", "tanh_pade_3_6", "gelu_pade_5_6",
               "gelu_pade_3_2", "silu_pade_5_4", "softplus_pade_6_4", "gelu_pade_5_4"]

# Upper bounds a little above the plain-fit reference errors on [-5.5, 5.5]; the
# parity fits reach the same values.
ERROR_BOUNDS = {
    "tanh_pade_4_4": 3e-3,
    "tanh_pade_5_4": 2e-4,
    "tanh_taylor_9": 0.08,
    "sigm_pade_4_4": 1e-4,
    "sigm_taylor_9": 5e-3,
    # Today's activations, on the function itself over [-L, L].
    "gelu_pade_5_6": 3e-4,
    "silu_pade_5_4": 5e-4,
    "softplus_pade_6_4": 3e-4,
}


def _load_tool():
    spec = importlib.util.spec_from_file_location("fit_coefficients", TOOL_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():
    return _load_tool()


@pytest.fixture(scope="module")
def table():
    with open(TABLE_PATH) as f:
        return json.load(f)


def test_table_covers_every_name(tool, table):
    assert table["generated_by"] == "tools/fit_coefficients.py"
    assert table["samples"] == {"count": 5000, "lo": -5.5, "hi": 5.5}
    assert sorted(table["functions"]) == tool.all_names()


@pytest.mark.parametrize("name", REFIT_NAMES)
def test_refit_reproduces_table(tool, table, name):
    committed = table["functions"][name]
    refit = tool.fit(name)
    assert refit["method"] == committed["method"]
    assert refit["offset"] == committed["offset"]
    for key in ("numerator", "denominator"):
        assert len(refit[key]) == len(committed[key])
        np.testing.assert_allclose(refit[key], committed[key], rtol=1e-5, atol=1e-7)
    # A coefficient allowed to move by rtol 1e-5 moves the function by up to ~1e-5 on the fit
    # range, so the errors are compared to that absolute precision.
    for key in ("max_abs_error_samples", "max_abs_error_dense"):
        np.testing.assert_allclose(refit[key], committed[key], rtol=1e-3, atol=1e-5)


def test_recorded_errors_are_those_of_the_coefficients(tool, table):
    for name, entry in table["functions"].items():
        x = tool.samples(name)
        error = np.max(np.abs(tool.evaluate(name, entry, x) - tool.exact(name, x)))
        assert error == pytest.approx(entry["max_abs_error_samples"], rel=1e-9), name
        assert entry["max_abs_error_dense"] >= entry["max_abs_error_samples"] * (1 - 1e-9), name


@pytest.mark.parametrize("name, bound", sorted(ERROR_BOUNDS.items()))
def test_errors_within_bounds(table, name, bound):
    entry = table["functions"][name]
    assert entry["max_abs_error_samples"] < bound
    assert entry["max_abs_error_dense"] < bound


def test_shapes_and_parity(tool, table):
    for name, entry in table["functions"].items():
        target, kind, n, m = tool.parse(name)
        numerator, denominator = entry["numerator"], entry["denominator"]
        assert len(numerator) == n + 1, name
        assert len(denominator) == (1 if kind == "taylor" else m + 1), name
        assert denominator[0] == 1.0, name
        assert entry["offset"] == (0.5 if target in ("sigm", "gelu", "silu") else 0.0), name
        odd_powers = numerator[1::2] if target == "softplus" else numerator[0::2]
        assert all(c == 0.0 for c in odd_powers), f"{name}: numerator of the wrong parity"
        assert all(c == 0.0 for c in denominator[1::2]), f"{name}: denominator not even"
        assert all(np.float32(c) == c for c in numerator + denominator), f"{name}: not float32"


def test_denominators_have_no_real_root(table):
    for name, entry in table["functions"].items():
        roots = np.roots(entry["denominator"][::-1])
        # An even Q's roots come in pairs +-r; a real pair would show as |imag| ~ 0.
        nearly_real = roots[np.abs(roots.imag) <= 1e-6 * np.maximum(np.abs(roots), 1.0)]
        assert nearly_real.size == 0, f"{name}: real poles at {nearly_real.real}"


def test_denominators_positive_on_dense_grid(tool, table):
    for name, entry in table["functions"].items():
        x = np.concatenate([tool.dense_grid(name), np.geomspace(5.5, 1e6, 10001)])
        q = np.polynomial.polynomial.polyval(x, entry["denominator"])
        assert np.all(q > 0), name


def test_modern_ranges_match_the_package():
    # The script keeps its own copy (importing the package loads TensorFlow).
    from tf_approx import activations  # pylint: disable=g-import-not-at-top
    assert _load_tool().MODERN_RANGES == activations.MODERN_RANGES


@pytest.mark.parametrize("function", ["gelu", "silu", "softplus"])
def test_modern_fits_meet_the_asymptote_at_the_range_end(tool, table, function):
    # The `_clamp` names switch to the asymptote (0 below, x above) at +-L: the fits are made
    # to meet it there, so the value is continuous up to the float32 rounding of the
    # coefficients (a plain least-squares fit would leave a jump of its error at L, ~1e-4).
    edge = tool.MODERN_RANGES[function]
    for name, entry in table["functions"].items():
        if not name.startswith(function + "_"):
            continue
        above, below = tool.evaluate(name, entry, np.array([edge, -edge]))
        assert abs(above - edge) < 1e-5 * edge, name
        assert abs(below) < 1e-5 * edge, name
