"""Checks the PAU initialisation table, its loader and the tool that fits it.

The table is `tf_approx/data/pau_inits.json`, written by
`tools/fit_pau_inits.py` and read by `tf_approx.pau_inits`. A refit of a few
entries must reproduce it; every entry's recorded error must be that of its
coefficients, and no 'unsafe' entry may have a pole on [-3, 3].
"""

import importlib.util
import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from tf_approx import pau_inits

REPO = Path(__file__).resolve().parents[1]
TOOL_PATH = REPO / "tools" / "fit_pau_inits.py"
TABLE_PATH = REPO / "tf_approx" / "data" / "pau_inits.json"

FUNCTIONS = ("leaky_relu", "relu", "tanh", "sigmoid", "swish", "identity")
DENOMINATORS = ("safe", "abs_of_sum", "unsafe")
ORDERS = [(m, n) for m in range(1, 11) for n in range(1, 11)]

# Molina et al., "Padé Activation Units" (ICLR 2020): leaky ReLU, (5, 4), safe.
PUBLISHED_NUMERATOR = (3.35583603e-02, 5.05000375e-01, 1.65343934e+00,
                       2.01001052e+00, 9.31901999e-01, 1.52424124e-01)
PUBLISHED_DENOMINATOR = (3.30847488e-06, 3.98021568e+00, 5.12471206e-07,
                         3.01830109e-01)

# Cheap to refit (each needs the entries of lower order too), one per
# denominator at least; sigmoid/unsafe/6_1 is a fallback entry.
REFIT_KEYS = ("leaky_relu/safe/5_4", "tanh/unsafe/5_4", "swish/abs_of_sum/3_3",
              "sigmoid/unsafe/6_1", "identity/safe/2_2")


def _x():
  return np.linspace(-3.0, 3.0, 2001)


def _target(function, x):
  """The activations, written independently of the tool."""
  sigmoid = 1.0 / (1.0 + np.exp(-x))
  return {
      "leaky_relu": np.maximum(x, 0.01 * x),
      "relu": np.maximum(x, 0.0),
      "tanh": np.tanh(x),
      "sigmoid": sigmoid,
      "swish": x * sigmoid,
      "identity": x,
  }[function]


def _f32(values):
  """Stored coefficients as the float32 values they stand for."""
  return np.asarray(values, dtype=np.float32).astype(np.float64)


def _parse(key):
  function, kind, order = key.split("/")
  m, n = map(int, order.split("_"))
  return function, kind, m, n


@pytest.fixture(scope="module")
def tool():
  spec = importlib.util.spec_from_file_location("fit_pau_inits", TOOL_PATH)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope="module")
def table():
  with open(TABLE_PATH, encoding="utf-8") as f:
    return json.load(f)


def test_table_covers_every_entry(table):
  assert table["generated_by"] == "tools/fit_pau_inits.py"
  assert table["grid"] == {"lo": -3.0, "hi": 3.0, "points": 2001}
  expected = {f"{f}/{d}/{m}_{n}" for f in FUNCTIONS for d in DENOMINATORS
              for m, n in ORDERS}
  assert set(table["entries"]) == expected
  assert TABLE_PATH.stat().st_size < 1_000_000


def test_loader_constants():
  assert pau_inits.INIT_NAMES == FUNCTIONS
  assert pau_inits.DENOMINATORS == DENOMINATORS


def test_shapes_and_float32(table):
  for key, entry in table["entries"].items():
    _, kind, m, n = _parse(key)
    numerator, denominator = entry["numerator"], entry["denominator"]
    assert len(numerator) == m + 1, key
    assert len(denominator) == n, key
    values = numerator + denominator
    assert all(np.isfinite(values)), key
    # Each is the shortest decimal of a float32 value (<= 9 digits).
    assert all(float(str(np.float32(c))) == c for c in values), (
        f"{key}: not a float32 value's shortest decimal")
    if kind == "safe":
      assert all(b >= 0.0 for b in denominator), key


def test_recorded_errors_are_those_of_the_coefficients(table):
  x = _x()
  for key, entry in table["entries"].items():
    function, kind, _, _ = _parse(key)
    f = pau_inits.evaluate(x, _f32(entry["numerator"]),
                           _f32(entry["denominator"]), kind)
    error = np.max(np.abs(f - _target(function, x)))
    # max_error is stored with 9 significant digits.
    assert error == pytest.approx(entry["max_error"], rel=1e-8, abs=1e-300), key


def test_higher_orders_fit_at_least_as_well_in_least_squares(table):
  # The lower-order entries padded with a zero are candidates of each fit, so
  # the sum of squared errors of the stored coefficients cannot grow with m
  # or n.
  x = _x()
  for function in FUNCTIONS:
    for kind in DENOMINATORS:
      sse = {}
      for m, n in ORDERS:
        entry = table["entries"][f"{function}/{kind}/{m}_{n}"]
        f = pau_inits.evaluate(x, _f32(entry["numerator"]),
                               _f32(entry["denominator"]), kind)
        sse[m, n] = np.sum((f - _target(function, x))**2)
      for m, n in ORDERS:
        for lower in ((m - 1, n), (m, n - 1)):
          if lower in sse:
            assert sse[m, n] <= sse[lower] * (1 + 1e-9), (
                f"{function}/{kind}/{m}_{n} vs {lower}")


def test_leaky_relu_5_4_safe_beats_published_init(table):
  x = _x()
  target = _target("leaky_relu", x)
  published = np.max(np.abs(pau_inits.evaluate(
      x, PUBLISHED_NUMERATOR, PUBLISHED_DENOMINATOR, "safe") - target))
  assert published == pytest.approx(0.0335583603, rel=1e-6)
  reference = table["reference"]
  assert reference["key"] == "leaky_relu/safe/5_4"
  assert reference["max_error"] == pytest.approx(published, rel=1e-8)
  numerator, denominator = pau_inits.init_coefficients(
      "leaky_relu", (5, 4), "safe")
  ours = np.max(np.abs(pau_inits.evaluate(x, numerator, denominator, "safe") -
                       target))
  assert ours <= published
  assert pau_inits.max_error("leaky_relu", (5, 4), "safe") <= published


def test_unsafe_entries_have_no_pole_on_fit_range(table):
  x = np.linspace(-3.0, 3.0, 60001)
  for key, entry in table["entries"].items():
    if "/unsafe/" not in key:
      continue
    coefficients = np.r_[1.0, _f32(entry["denominator"])]
    roots = np.polynomial.polynomial.polyroots(coefficients)
    near_real = roots[np.abs(roots.imag) <= 1e-6 * np.maximum(np.abs(roots),
                                                               1.0)].real
    assert not np.any(np.abs(near_real) <= 3.0), f"{key}: poles {near_real}"
    q = np.polynomial.polynomial.polyval(x, coefficients)
    assert np.min(q) > 0.0, key


@pytest.mark.parametrize("key", REFIT_KEYS)
def test_refit_reproduces_table(tool, table, key):
  committed = table["entries"][key]
  function, kind, m, n = _parse(key)
  numerator, denominator, error = tool.fit(function, kind, m, n)
  assert len(numerator) == m + 1 and len(denominator) == n
  # A refit on another BLAS may stop elsewhere in a flat valley of the least
  # squares, so the functions and errors are compared, coefficients loosely.
  np.testing.assert_allclose(numerator, committed["numerator"], rtol=1e-3,
                             atol=1e-5)
  np.testing.assert_allclose(denominator, committed["denominator"], rtol=1e-3,
                             atol=1e-5)
  assert all(float(np.float32(c)) == c for c in numerator + denominator)
  x = _x()
  refit_f = pau_inits.evaluate(x, numerator, denominator, kind)
  committed_f = pau_inits.evaluate(x, _f32(committed["numerator"]),
                                   _f32(committed["denominator"]), kind)
  np.testing.assert_allclose(refit_f, committed_f, rtol=0, atol=1e-5)
  assert error == pytest.approx(committed["max_error"], rel=1e-3, abs=1e-7)


def test_fallback_entries_say_so(table):
  fallbacks = {k for k, e in table["entries"].items() if "fallback" in e}
  # Only 'unsafe' fits can have a pole; the fallbacks are few.
  assert all("/unsafe/" in k for k in fallbacks)
  assert len(fallbacks) < 30
  assert "sigmoid/unsafe/6_1" in fallbacks


@pytest.mark.parametrize("kind", DENOMINATORS)
def test_evaluate_matches_formula(kind):
  x = np.linspace(-4.0, 4.0, 81)
  a = [0.1, -0.5, 0.25, 0.125]
  b = [-0.3, 0.2, -0.05]
  p = a[0] + a[1] * x + a[2] * x**2 + a[3] * x**3
  s = b[0] * x + b[1] * x**2 + b[2] * x**3
  q = {
      "safe": 1 + 0.3 * np.abs(x) + 0.2 * x**2 + 0.05 * np.abs(x)**3,
      "abs_of_sum": 1 + np.abs(s),
      "unsafe": 1 + s,
  }[kind]
  np.testing.assert_allclose(pau_inits.evaluate(x, a, b, kind), p / q,
                             rtol=1e-13)
  assert pau_inits.evaluate(x, a, [], kind) == pytest.approx(p)


def test_init_coefficients_reads_table(table):
  for name in FUNCTIONS:
    for kind in DENOMINATORS:
      numerator, denominator = pau_inits.init_coefficients(name, (3, 7), kind)
      entry = table["entries"][f"{name}/{kind}/3_7"]
      assert numerator == _f32(entry["numerator"]).tolist()
      assert denominator == _f32(entry["denominator"]).tolist()
      assert all(isinstance(c, float) for c in numerator + denominator)
      assert pau_inits.max_error(name, (3, 7), kind) == entry["max_error"]
  default = pau_inits.init_coefficients("tanh")
  assert default == pau_inits.init_coefficients("tanh", (5, 4), "safe")
  # Callers get copies: changing one does not change the table.
  default[0][1] = 123.0
  assert pau_inits.init_coefficients("tanh")[0][1] != 123.0
  assert pau_inits.init_coefficients("identity", [1, 1], "unsafe") == (
      [0.0, 1.0], [0.0])
  assert pau_inits.init_coefficients("relu", (np.int64(2), 3))[0] == (
      _f32(table["entries"]["relu/safe/2_3"]["numerator"]).tolist())


@pytest.mark.parametrize("function", [pau_inits.init_coefficients,
                                      pau_inits.max_error])
@pytest.mark.parametrize("kwargs, argument", [
    ({"name": "gelu"}, "name"),
    ({"name": "Tanh"}, "name"),
    ({"name": "tanh", "order": (0, 4)}, "order"),
    ({"name": "tanh", "order": (5, 11)}, "order"),
    ({"name": "tanh", "order": (5,)}, "order"),
    ({"name": "tanh", "order": (5, 4, 1)}, "order"),
    ({"name": "tanh", "order": 5}, "order"),
    ({"name": "tanh", "order": "54"}, "order"),
    ({"name": "tanh", "order": (5.0, 4)}, "order"),
    ({"name": "tanh", "order": (True, 4)}, "order"),
    ({"name": "tanh", "denominator": "safer"}, "denominator"),
    ({"name": "tanh", "denominator": None}, "denominator"),
])
def test_bad_arguments_raise_value_error(function, kwargs, argument):
  with pytest.raises(ValueError, match=argument):
    function(**kwargs)


def test_unknown_name_lists_valid_ones():
  with pytest.raises(ValueError, match="leaky_relu, relu, tanh") as info:
    pau_inits.init_coefficients("gelu")
  assert "'gelu'" in str(info.value)


def test_evaluate_rejects_unknown_kind():
  with pytest.raises(ValueError, match="kind"):
    pau_inits.evaluate([0.0], [1.0], [1.0], kind="positive")


def test_fit_rejects_bad_arguments(tool):
  with pytest.raises(ValueError, match="function"):
    tool.fit("gelu", "safe", 2, 2)
  with pytest.raises(ValueError, match="denominator"):
    tool.fit("tanh", "positive", 2, 2)
  with pytest.raises(ValueError, match="orders"):
    tool.fit("tanh", "safe", 11, 2)


def test_tool_writes_a_small_table(tmp_path):
  output = tmp_path / "pau.json"
  result = subprocess.run(
      [sys.executable, str(TOOL_PATH), "--functions=tanh,identity",
       "--denominators=unsafe", "--max_order=2", "--jobs=1",
       f"--output={output}"],
      capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr
  assert "wrote 8 entries" in result.stdout
  with open(output, encoding="utf-8") as f:
    written = json.load(f)
  with open(TABLE_PATH, encoding="utf-8") as f:
    committed = json.load(f)["entries"]
  assert sorted(written["entries"]) == sorted(
      f"{f}/unsafe/{m}_{n}" for f in ("tanh", "identity") for m in (1, 2)
      for n in (1, 2))
  for key, entry in written["entries"].items():
    assert entry["max_error"] == pytest.approx(committed[key]["max_error"],
                                               rel=1e-3, abs=1e-9), key
