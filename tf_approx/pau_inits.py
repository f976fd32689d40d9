"""Initial coefficients of Padé Activation Units (PAU).

A PAU of order (m, n) computes `F(x) = P(x) / Q(x)` with
`P(x) = sum_{j=0..m} a_j x^j` and one of three denominators:

- `'safe'` (the default): `Q(x) = 1 + sum_{k=1..n} |b_k| |x|^k`;
- `'abs_of_sum'`: `Q(x) = 1 + |sum_{k=1..n} b_k x^k|`;
- `'unsafe'`: `Q(x) = 1 + sum_{k=1..n} b_k x^k`.

`a` has m + 1 entries (a_0..a_m) and `b` has n entries (b_1..b_n). The
initialisations approximate a named activation by least squares on [-3, 3];
they are read from `data/pau_inits.json`, which `tools/fit_pau_inits.py`
writes. Every coefficient there is a float32 value, and every 'unsafe' entry
has `Q > 0` on [-3, 3].

    >>> from tf_approx import pau_inits
    >>> a, b = pau_inits.init_coefficients("leaky_relu", order=(5, 4))
    >>> len(a), len(b)
    (6, 4)

This module needs only numpy (no scipy, no TensorFlow).
"""

import functools
import json
import operator
from pathlib import Path

import numpy as np

TABLE_PATH = Path(__file__).with_name("data") / "pau_inits.json"

INIT_NAMES = ("leaky_relu", "relu", "tanh", "sigmoid", "swish", "identity")
DENOMINATORS = ("safe", "abs_of_sum", "unsafe")
MIN_ORDER = 1
MAX_ORDER = 10
DEFAULT_ORDER = (5, 4)


@functools.cache
def _table():
  with open(TABLE_PATH, encoding="utf-8") as f:
    return json.load(f)


def check_order(order):
  """`(m, n)` as ints, or ValueError naming `order`."""
  try:
    if isinstance(order, (str, bytes)) or len(order) != 2:
      raise TypeError
    m, n = (operator.index(v) for v in order)
    if any(isinstance(v, bool) for v in order):
      raise TypeError
  except TypeError:
    raise ValueError(
        f"order must be a pair (m, n) of ints, got order={order!r}") from None
  if not (MIN_ORDER <= m <= MAX_ORDER and MIN_ORDER <= n <= MAX_ORDER):
    raise ValueError(
        f"order (m, n) must have {MIN_ORDER} <= m, n <= {MAX_ORDER}, got "
        f"order={order!r}")
  return m, n


def _check_denominator(denominator):
  if denominator not in DENOMINATORS:
    raise ValueError(
        f"unknown denominator={denominator!r}; valid denominators: "
        f"{', '.join(DENOMINATORS)}")


def _entry(name, order, denominator):
  if name not in INIT_NAMES:
    raise ValueError(
        f"unknown init name={name!r}; valid names: {', '.join(INIT_NAMES)}")
  m, n = check_order(order)
  _check_denominator(denominator)
  return _table()["entries"][f"{name}/{denominator}/{m}_{n}"]


def _float32_values(values):
  # The table writes each float32 value as its shortest decimal; reading that
  # as a float64 is off by up to half a float64 ulp of it.
  return np.asarray(values, dtype=np.float32).astype(np.float64).tolist()


def init_coefficients(name, order=DEFAULT_ORDER, denominator="safe"):
  """The fitted initial coefficients of a PAU.

  Args:
    name: the activation approximated, one of `INIT_NAMES`.
    order: `(m, n)`, the numerator and denominator degrees, each in 1..10.
      The default (5, 4) is the PAU paper's.
    denominator: `'safe'`, `'abs_of_sum'` or `'unsafe'` (module docstring).

  Returns:
    `(numerator, denominator)`: new lists of Python floats, each exactly a
    float32 value, `[a_0, ..., a_m]` and `[b_1, ..., b_n]`. For `'safe'` the
    b_k are >= 0.

  Raises:
    ValueError: for an unknown `name` or `denominator`, or an `order` that is
      not a pair of ints in 1..10; the message names the argument.
  """
  entry = _entry(name, order, denominator)
  return (_float32_values(entry["numerator"]),
          _float32_values(entry["denominator"]))


def max_error(name, order=DEFAULT_ORDER, denominator="safe"):
  """Max |F(x) - f(x)| of the stored coefficients on the fit grid.

  The grid is the table's (`grid`: 2001 uniform points of [-3, 3]), the error
  is computed in float64 with the float32 coefficients. Arguments and errors
  as for `init_coefficients`.
  """
  return float(_entry(name, order, denominator)["max_error"])


def evaluate(x, numerator, denominator, kind="safe"):
  """`P(x) / Q(x)` of a PAU in float64 (numpy reference, no TensorFlow).

  Args:
    x: array-like of inputs.
    numerator: `[a_0, ..., a_m]`.
    denominator: `[b_1, ..., b_n]` (may be empty: Q = 1).
    kind: `'safe'`, `'abs_of_sum'` or `'unsafe'` (module docstring).

  Returns:
    A float64 array shaped like `x`.

  Raises:
    ValueError: for an unknown `kind`.
  """
  if kind not in DENOMINATORS:
    raise ValueError(
        f"unknown kind={kind!r}; valid kinds: {', '.join(DENOMINATORS)}")
  x = np.asarray(x, dtype=np.float64)
  a = np.asarray(numerator, dtype=np.float64)
  b = np.asarray(denominator, dtype=np.float64)
  p = np.polynomial.polynomial.polyval(x, a)
  # The non-constant part of Q, as a polynomial with a zero constant term.
  if kind == "safe":
    r = np.polynomial.polynomial.polyval(np.abs(x), np.r_[0.0, np.abs(b)])
  else:
    r = np.polynomial.polynomial.polyval(x, np.r_[0.0, b])
    if kind == "abs_of_sum":
      r = np.abs(r)
  return p / (1.0 + r)
