"""Least-squares polynomial and rational fits by the approximation paper's rules.

Timmons and Rice (*Approximating Activation Functions*, 2020, section 3) fit
polynomials and rationals `P(x) / Q(x)` (`Q(0) = 1`) to an activation by
least squares on uniform samples of a range. This module is that method with
the rules tf_approx adds (docs/accuracy.md, "Fitting"):

- **Parity.** A target that is odd (tanh) or even (softplus minus x/2) is
  fitted with the same parity: P has only odd (even) powers and Q only even
  ones. This removes the spurious tiny coefficients a plain fit leaves, which
  put real poles far outside the range, and halves the coefficients.
- **No poles.** A fit whose Q has a real root is refitted with Q's top free
  coefficient fixed at 0, down to Q = 1 if need be.
- **Weights.** A function that is x times a factor, x R(x), is fitted as R
  with weights |x|, so that the least squares are those of the function.
- **Matching.** The fit can be made to equal the target exactly at a point
  (in exact arithmetic; the coefficients are then rounded to float32): where
  a `_clamp` name switches to the function's asymptote, the value is then
  continuous.

Rationals are fitted by linearised least squares, `min ||w (P - t Q)||`,
then refined on the true residual `||w (P/Q - t)||` by Levenberg-Marquardt
from the linearised solution. Fitting in u = x / scale keeps every monomial
column within [-1, 1]. Needs scipy (`pip install scipy`).
"""

import dataclasses

import numpy as np

PARITIES = (None, "odd", "even")


@dataclasses.dataclass(frozen=True)
class RationalFit:
  """A fitted P/Q: coefficients ascending in x, float32-rounded, Q(0) = 1.

  Attributes:
    numerator: P's coefficients, length num_degree + 1.
    denominator: Q's coefficients, length den_degree + 1.
    method: `polynomial-ls`, `rational-ls-refined`, or
      `rational-ls-linearised` when the refined fit had a real pole; a
      `-reduced` suffix when both had one and top denominator coefficients
      were fixed at 0.
  """
  numerator: tuple
  denominator: tuple
  method: str

  def __call__(self, x):
    """P(x) / Q(x) in float64."""
    x = np.asarray(x, np.float64)
    return (np.polynomial.polynomial.polyval(x, self.numerator) /
            np.polynomial.polynomial.polyval(x, self.denominator))


def _free_powers(degree, parity, start):
  """Powers in start..degree of the given parity (None: all)."""
  return np.array([p for p in range(start, degree + 1)
                   if parity is None or p % 2 == (parity == "odd")],
                  dtype=int)


def real_poles(denominator):
  """Real roots of `Q(x) = sum_j b_j x^j` (ascending), sorted.

  A root counts as real when its imaginary part is below 1e-6 of its size:
  np.roots returns a double root with an imaginary part of order sqrt(eps),
  and a complex pair that close to the axis makes Q nearly vanish anyway. An
  even Q (the parity fits) is solved in z = x^2, which is better conditioned.
  """
  b = np.trim_zeros(np.asarray(denominator, np.float64), "b")
  if b.size <= 1:
    return np.zeros(0)
  if not np.any(b[1::2]):
    roots = np.roots(b[::2][::-1])
    real = roots[np.abs(roots.imag) <= 1e-6 * np.maximum(np.abs(roots), 1.0)]
    z = real.real[real.real >= 0.0]
    return np.sort(np.concatenate([np.sqrt(z), -np.sqrt(z)]))
  roots = np.roots(b[::-1])
  real = roots[np.abs(roots.imag) <= 1e-6 * np.maximum(np.abs(roots), 1.0)]
  return np.sort(real.real)


class _Problem:
  """The scaled least-squares problem: free powers, samples, weights and an
  optional equality `c . theta = c0` eliminated through one coefficient."""

  def __init__(self, x, t, weight, a_powers, b_powers, scale, match):
    self.u = x / scale
    self.t = t
    self.w = np.ones_like(x) if weight is None else weight
    self.a_powers, self.b_powers = a_powers, b_powers
    self.split = len(a_powers)
    self.constraint = None
    if match is not None:
      x0, t0 = match
      u0 = x0 / scale
      c = np.concatenate([u0 ** a_powers, -t0 * u0 ** b_powers])
      k = int(np.argmax(np.abs(c)))
      self.constraint = (c, t0, k)

  def full(self, free):
    """All coefficients from the free ones (the constraint solved for one)."""
    if self.constraint is None:
      return free
    c, t0, k = self.constraint
    theta = np.insert(free, k, 0.0)
    theta[k] = (t0 - c @ theta) / c[k]
    return theta

  def _reduce_columns(self, columns):
    if self.constraint is None:
      return columns, 0.0
    c, t0, k = self.constraint
    ck = columns[:, k:k + 1]
    reduced = np.delete(columns, k, axis=1) - ck * (np.delete(c, k) / c[k])
    return reduced, ck[:, 0] * (t0 / c[k])

  def linearised(self):
    """min ||w (P - t Q)||, Q = 1 + sum b_j u^j."""
    u, t, w = self.u, self.t, self.w
    design = np.hstack([u[:, None] ** self.a_powers,
                        -t[:, None] * u[:, None] ** self.b_powers])
    reduced, shift = self._reduce_columns(design)
    free = np.linalg.lstsq(reduced * w[:, None], (t - shift) * w,
                           rcond=None)[0]
    return self.full(free)

  def ratio(self, theta):
    p = (self.u[:, None] ** self.a_powers) @ theta[:self.split]
    q = 1.0 + (self.u[:, None] ** self.b_powers) @ theta[self.split:]
    return p, q

  def refined(self, theta0):
    """min ||w (P/Q - t)||, Levenberg-Marquardt from theta0."""
    from scipy import optimize  # pylint: disable=g-import-not-at-top

    def residual(free):
      p, q = self.ratio(self.full(free))
      return self.w * (p / q - self.t)

    def jacobian(free):
      p, q = self.ratio(self.full(free))
      columns = np.hstack([
          self.u[:, None] ** self.a_powers / q[:, None],
          -(self.u[:, None] ** self.b_powers) * (p / q**2)[:, None]])
      reduced, _ = self._reduce_columns(columns)
      return self.w[:, None] * reduced

    free0 = theta0 if self.constraint is None else np.delete(
        theta0, self.constraint[2])
    if free0.size == 0:
      return theta0
    result = optimize.least_squares(
        residual, free0, jac=jacobian, method="lm", xtol=1e-15, ftol=1e-15,
        gtol=1e-15)
    return self.full(result.x)


def fit_rational(x, target, num_degree, den_degree, *, parity=None,
                 weight=None, match=None, scale=None):
  """Least-squares P/Q of the given degrees to `target` on the samples `x`.

  Args:
    x: the samples (1-D float64).
    target: the values to fit at x.
    num_degree, den_degree: degrees of P and Q; den_degree 0 fits a
      polynomial.
    parity: None, 'odd' or 'even': the target's parity (P takes only powers
      of that parity, Q only even powers).
    weight: optional weights at x (|x| for a function x R(x) fitted as R).
    match: optional `(x0, t0)`: P(x0) / Q(x0) = t0 exactly (before rounding).
    scale: the fit runs in u = x / scale; default max |x|.

  Returns:
    A `RationalFit` whose Q has no real root (module docstring), with
    coefficients rounded to float32.
  """
  if parity not in PARITIES:
    raise ValueError(f"`parity` must be one of {PARITIES}, got {parity!r}")
  x = np.asarray(x, np.float64)
  t = np.asarray(target, np.float64)
  scale = float(np.max(np.abs(x))) if scale is None else float(scale)
  a_powers = _free_powers(num_degree, parity, 0 if parity != "odd" else 1)
  b_powers = _free_powers(den_degree, None if parity is None else "even", 1)
  a_scale = scale ** a_powers.astype(float)

  def unscaled(theta, b_powers_kept):
    numerator = np.zeros(num_degree + 1)
    numerator[a_powers] = theta[:len(a_powers)] / a_scale
    denominator = np.zeros(den_degree + 1)
    denominator[0] = 1.0
    denominator[b_powers_kept] = theta[len(a_powers):] / (
        scale ** b_powers_kept.astype(float))
    return (tuple(float(np.float32(c)) for c in numerator),
            tuple(float(np.float32(c)) for c in denominator))

  if den_degree == 0:
    problem = _Problem(x, t, weight, a_powers, b_powers, scale, match)
    numerator, denominator = unscaled(problem.linearised(), b_powers)
    return RationalFit(numerator, denominator, "polynomial-ls")
  # Dropping the top free denominator power each round ends at Q = 1, which
  # has no pole.
  for kept in range(len(b_powers), -1, -1):
    suffix = "" if kept == len(b_powers) else "-reduced"
    problem = _Problem(x, t, weight, a_powers, b_powers[:kept], scale, match)
    linear = problem.linearised()
    refined = problem.refined(linear)
    for method, theta in (("rational-ls-refined", refined),
                          ("rational-ls-linearised", linear)):
      numerator, denominator = unscaled(theta, b_powers[:kept])
      if real_poles(denominator).size == 0:
        return RationalFit(numerator, denominator, method + suffix)
  raise AssertionError("Q = 1 has no pole")


# ---------------------------------------------------------------------------
# Fitting a function given as a numpy callable (tf_approx.activations.fit).

KINDS = ("pade", "taylor")
FORMS = ("plain", "product")
# Degrees of P and Q: the activation op takes at most 16 coefficients each.
MAX_DEGREE = 15
# A function counts as odd around c (even plus a line) when its samples
# satisfy it to this much of max(1, max |f|): float64 rounding, not shape.
SYMMETRY_TOLERANCE = 1e-9


@dataclasses.dataclass(frozen=True)
class FunctionFit:
  """A fitted function in the activation op's form.

  The approximation is `y = x g(x) + slope x` (product form) or
  `y = g(x) + slope x` (plain), with `g = offset + P / Q`.

  Attributes:
    rational: the fitted `RationalFit` P / Q.
    offset, slope, product: the rest of the form.
    parity: None, 'odd' or 'even': the parity P / Q was fitted with.
    match: None, or `(x0, y0)`: the point of the function's asymptote the
      fit meets exactly (before float32 rounding).
  """
  rational: RationalFit
  offset: float
  slope: float
  product: bool
  parity: str
  match: tuple

  def fields(self):
    """The `ActivationSpec` fields of the plain (unclamped) approximation."""
    return dict(numerator=self.rational.numerator,
                denominator=self.rational.denominator, offset=self.offset,
                product=self.product, slope=self.slope)

  def __call__(self, x):
    """The approximation in float64 (unclamped)."""
    x = np.asarray(x, np.float64)
    g = self.offset + self.rational(x)
    return (x * g if self.product else g) + self.slope * x


def _require_scipy():
  try:
    import scipy  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError as e:
    raise ImportError(
        "fitting a rational needs scipy: `pip install scipy` (or "
        "`pip install tf_approx[fit]`)") from e


def values(fn, x, what=None):
  """fn(x) as float64 of x's shape."""
  with np.errstate(all="ignore"):
    y = np.asarray(fn(x), np.float64)
  if y.shape != x.shape:
    y = np.broadcast_to(y, x.shape)
  if what is not None and not np.all(np.isfinite(y)):
    bad = x[~np.isfinite(y)][0]
    raise ValueError(f"`fn` must be finite on {what}, got "
                     f"{y[~np.isfinite(y)][0]} at x = {bad}")
  return y


def symmetry(x, t, t_mirror, allow_slope=True):
  """`(parity, offset, slope)` of a target from its values at x and -x.

  'odd' when `t - offset` is odd (`t(x) + t(-x)` constant, e.g. tanh, the
  sigmoid with offset 1/2); 'even' when `t - slope x` is even (`t(x) - t(-x)`
  linear, e.g. softplus with slope 1/2; slope 0 unless `allow_slope`); None
  otherwise. Within `SYMMETRY_TOLERANCE` of max(1, max |t|). The offset and
  slope are least-squares estimates whatever the parity found (0 without
  mirrored values).
  """
  ok = np.isfinite(t_mirror)
  x, t, t_mirror = x[ok], t[ok], t_mirror[ok]
  if x.size == 0:
    return None, 0.0, 0.0
  tolerance = SYMMETRY_TOLERANCE * max(1.0, float(np.max(np.abs(t))))
  even_part = 0.5 * (t + t_mirror)
  odd_part = 0.5 * (t - t_mirror)
  offset = float(np.mean(even_part))
  slope = float(x @ odd_part / (x @ x)) if allow_slope and np.any(x) else 0.0
  if np.max(np.abs(even_part - offset)) <= tolerance:
    return "odd", offset, slope
  if np.max(np.abs(odd_part - slope * x)) <= tolerance:
    return "even", offset, slope
  return None, offset, slope


def _orders(kind, orders):
  """(num_degree, den_degree) from `kind` and `orders`."""
  if kind not in KINDS:
    raise ValueError(f"`kind` must be one of {KINDS}, got {kind!r}")
  if isinstance(orders, (int, np.integer)):
    orders = (orders,)
  try:
    degrees = tuple(int(d) for d in orders)
    if degrees != tuple(orders):
      raise TypeError
  except (TypeError, ValueError):
    raise ValueError(f"`orders` must be integers, got {orders!r}") from None
  expected = 2 if kind == "pade" else 1
  if len(degrees) != expected:
    raise ValueError(
        f"`orders` of kind {kind!r} must be "
        f"{'(m, n): P and Q degrees' if kind == 'pade' else 'n or (n,)'}, "
        f"got {orders!r}")
  low = (0, 1) if kind == "pade" else (0,)
  for degree, least in zip(degrees, low):
    if not least <= degree <= MAX_DEGREE:
      raise ValueError(f"`orders` must be in {least}..{MAX_DEGREE}, got "
                       f"{orders!r}")
  return degrees if kind == "pade" else (degrees[0], 0)


def _line(asymptotes, side):
  line = asymptotes.get(side)
  if line is None:
    return None
  try:
    slope, intercept = (float(v) for v in line)
  except (TypeError, ValueError):
    raise ValueError(f"`asymptotes['{side}']` must be (slope, intercept), "
                     f"got {line!r}") from None
  if not (np.isfinite(slope) and np.isfinite(intercept)):
    raise ValueError(f"`asymptotes['{side}']` must be finite, got {line!r}")
  return slope, intercept


def check_asymptotes(asymptotes):
  """`{'below': (slope, intercept) or None, 'above': ...}`, validated."""
  if asymptotes is None:
    return None
  if not isinstance(asymptotes, dict) or not asymptotes or (
      set(asymptotes) - {"below", "above"}):
    raise ValueError("`asymptotes` must be a dict with keys 'below' and/or "
                     f"'above', got {asymptotes!r}")
  lines = {side: _line(asymptotes, side) for side in ("below", "above")}
  if lines["below"] is None and lines["above"] is None:
    raise ValueError("`asymptotes` must give 'below' or 'above'")
  return lines


def check_range(fit_range):
  try:
    lo, hi = (float(v) for v in fit_range)
  except (TypeError, ValueError):
    raise ValueError(f"`range` must be (lo, hi), got {fit_range!r}") from None
  if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
    raise ValueError(f"`range` must be finite with lo < hi, got {fit_range!r}")
  return lo, hi


def hermite_pieces(values, slopes, h):
  """The cubic Hermite pieces through knot values and slopes, h apart.

  Piece k, `c0 + t (c1 + t (c2 + t c3))` at t in [0, 1], takes values[k]
  and slopes[k] at t = 0 and values[k + 1] and slopes[k + 1] at t = 1.

  Returns:
    4 coefficients per piece, `ActivationSpec.spline`'s layout.
  """
  f = np.asarray(values, np.float64)
  d = np.asarray(slopes, np.float64) * h
  fa, fb, da, db = f[:-1], f[1:], d[:-1], d[1:]
  return tuple(np.stack([fa, da, 3 * (fb - fa) - 2 * da - db,
                         2 * (fa - fb) + da + db], axis=1).reshape(-1))


def _hermite_basis(t):
  """The four Hermite basis polynomials at t: value at 0, slope at 0 (per
  unit of t), value at 1, slope at 1."""
  t2, t3 = t * t, t * t * t
  return (2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + t, -2 * t3 + 3 * t2,
          t3 - t2)


def fit_spline(fn, pieces, fit_range, asymptotes=None, samples=5000):
  """Least squares over the C1 cubic splines with `pieces` equal pieces.

  The unknowns are the knots' values and slopes (every such spline is the
  Hermite interpolant of them, so value and slope are continuous); the
  fit minimises the squared error at `samples` uniform points of the range.
  An end with an asymptote has its knot pinned to the line's value and
  slope there, so the spline meets it; an end without one is free and
  continues along its own tangent.

  Returns:
    (coefficients, below, above): `ActivationSpec.spline`, and the lines
    `(at, slope, intercept)` at the range's ends.
  """
  lo, hi = check_range(fit_range)
  if not isinstance(pieces, (int, np.integer)) or not 1 <= pieces <= 32:
    raise ValueError(f"`pieces` must be an int in [1, 32], got {pieces!r}")
  if not isinstance(samples, (int, np.integer)) or samples < 4 * pieces:
    raise ValueError(f"`samples` must be an int of at least 4 per piece, got "
                     f"{samples!r}")
  lines = check_asymptotes(asymptotes) or {"below": None, "above": None}
  x = np.linspace(lo, hi, samples)
  target = values(fn, x)
  if not np.all(np.isfinite(target)):
    raise ValueError("`fn` must be finite on `range`")
  h = (hi - lo) / pieces
  w = (x - lo) / h
  k = np.minimum(w.astype(int), pieces - 1)
  basis = _hermite_basis(w - k)
  # Columns: the value then the slope (times h) of knots 0 .. pieces.
  design = np.zeros((samples, 2 * (pieces + 1)))
  rows = np.arange(samples)
  for j, (column, offset) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
    design[rows, 2 * (k + offset) + column] += basis[j]
  pinned = {}
  for side, knot, at in (("below", 0, lo), ("above", pieces, hi)):
    if lines[side] is not None:
      slope, intercept = lines[side]
      pinned[2 * knot] = slope * at + intercept
      pinned[2 * knot + 1] = slope * h
  free = [i for i in range(2 * (pieces + 1)) if i not in pinned]
  rhs = target - sum(design[:, i] * v for i, v in pinned.items())
  solution, *_ = np.linalg.lstsq(design[:, free], rhs, rcond=None)
  knots = np.zeros(2 * (pieces + 1))
  knots[free] = solution
  for i, v in pinned.items():
    knots[i] = v
  values_at, slopes_at = knots[0::2], knots[1::2] / h
  coefficients = hermite_pieces(values_at, slopes_at, h)
  ends = []
  for knot, at in ((0, lo), (pieces, hi)):
    slope = float(slopes_at[knot])
    ends.append((at, slope, float(values_at[knot]) - slope * at))
  return coefficients, ends[0], ends[1]


def fit_function(fn, *, kind="pade", orders=(4, 4), fit_range=(-5.5, 5.5),
                 form="plain", parity="auto", asymptotes=None, samples=5000):
  """Fits `fn` by the module's rules; see `tf_approx.activations.fit`.

  Returns:
    A `FunctionFit`.
  """
  if not callable(fn):
    raise TypeError(f"`fn` must be callable, got {fn!r}")
  num_degree, den_degree = _orders(kind, orders)
  lo, hi = check_range(fit_range)
  if form not in FORMS:
    raise ValueError(f"`form` must be one of {FORMS}, got {form!r}")
  if parity != "auto" and parity not in PARITIES:
    raise ValueError(f"`parity` must be 'auto' or one of {PARITIES}, got "
                     f"{parity!r}")
  lines = check_asymptotes(asymptotes)
  if not isinstance(samples, (int, np.integer)) or samples < max(
      10, 2 * (num_degree + den_degree + 1)):
    raise ValueError("`samples` must be an integer of at least 10 and twice "
                     f"the coefficients, got {samples!r}")
  if den_degree:
    _require_scipy()

  product = form == "product"
  x = np.linspace(lo, hi, int(samples))
  if product:
    x = x[x != 0.0]  # weight |x| = 0 there, and f / x undefined
  y = values(fn, x, f"`range` {(lo, hi)}")
  y_mirror = values(fn, -x, None)
  if product:
    t, t_mirror = y / x, y_mirror / -x
  else:
    t, t_mirror = y, y_mirror
  # The op's slope adds slope x outside the product: a product form's R
  # cannot take a line (that would be slope x^2).
  found, offset, slope = symmetry(x, t, t_mirror, allow_slope=not product)
  if parity == "auto":
    parity = found
  offset = offset if parity == "odd" else 0.0
  slope = slope if parity == "even" else 0.0
  return fit_form(x, t - offset - slope * x, num_degree, den_degree,
                  parity=parity, product=product, offset=offset, slope=slope,
                  match=meeting_point(lines, lo, hi))


def meeting_point(asymptotes, lo, hi):
  """`(x0, y0)`: where a fit meets its asymptotes, or None.

  At hi on the 'above' line if given, else at lo on the 'below' line (of
  `check_asymptotes`' dict); None without asymptotes or at x0 = 0 (where an
  odd P / Q or a product is fixed).
  """
  if asymptotes is None:
    return None
  side = "above" if asymptotes.get("above") is not None else "below"
  x0 = hi if side == "above" else lo
  line_slope, intercept = asymptotes[side]
  return None if x0 == 0.0 else (x0, line_slope * x0 + intercept)


def fit_form(x, target, num_degree, den_degree, *, parity=None,
             product=False, offset=0.0, slope=0.0, match=None):
  """Fits `y = (x g(x) if product else g(x)) + slope x`, `g = offset + P/Q`.

  Args:
    x: the samples (1-D float64; in product form without 0).
    target: the values P / Q is fitted to at x: the function with the form's
      known parts taken off, `(y - slope x) / x - offset` (product) or
      `y - slope x - offset`. (Callers compute it in the most accurate way
      they have: `tanh(x / 2) / 2` for the sigmoid's `y - 1/2`.)
    num_degree, den_degree, parity: as in `fit_rational`.
    product, offset, slope: the form.
    match: None, or `(x0, y0)` (x0 != 0): the function's value the fit must
      take at x0 (`meeting_point`).

  Returns:
    A `FunctionFit`; in product form fitted with weights |x|, so that the
    least squares are those of the function.
  """
  rational_match = None
  if match is not None:
    x0, y0 = match
    rational_match = (x0, (y0 / x0 if product else y0) - offset - slope * x0)
  fitted = fit_rational(x, target, num_degree, den_degree, parity=parity,
                        weight=np.abs(x) if product else None,
                        match=rational_match)
  return FunctionFit(rational=fitted, offset=offset, slope=slope,
                     product=product, parity=parity, match=match)


def function_error(x, approx, exact, lo, hi):
  """The error measure of `tf_approx.activations.fit` at each x.

  Absolute on [lo, hi], relative to max(1, |f|) beyond; 0 where the values
  agree exactly (±inf included), inf where the approximation is NaN or
  misses an infinite f, NaN where f itself is NaN (no reference).
  """
  with np.errstate(all="ignore"):
    error = np.abs(approx - exact)
    inside = (x >= lo) & (x <= hi)
    error = np.where(inside, error, error / np.maximum(1.0, np.abs(exact)))
    error[approx == exact] = 0.0
    error[(np.isnan(approx) | np.isinf(exact)) & (approx != exact)] = np.inf
    error[np.isnan(exact)] = np.nan
  return error


# The non-NaN float32 bit patterns: +0 .. +inf and -0 .. -inf.
FLOAT32_SEGMENTS = ((0x00000000, 0x7F800001), (0x80000000, 0xFF800001))


def sweep_float32(attrs, fn, lo, hi, *, bits=None, chunk=1 << 22):
  """Max error of an approximation over every non-NaN float32.

  Pushes every non-NaN float32 (or the bit patterns in `bits`) through the
  native kernel (`tf_approx._native.forward`, the C++ code the op runs on the
  CPU) in chunks of `chunk` inputs, against `fn` in float64 on the same
  inputs, with the measure of `function_error`. About 4.3e9 inputs: minutes.

  Args:
    attrs: the `ActivationSpec.attrs()` of the approximation.
    fn: the numpy-vectorised function approximated.
    lo, hi: the range on which the error is absolute.
    bits: optional `(first, stop)`: only the bit patterns in [first, stop)
      (as uint32), intersected with the non-NaN ones (for tests).
    chunk: inputs per chunk (memory is a few tens of bytes per input).

  Returns:
    dict with `max_error` (NaN if no input had a reference value), `argmax`
    (the input where it occurs), `inputs` (how many were swept) and
    `reference_nan` (inputs where fn is NaN, left out).
  """
  from tf_approx import _native  # pylint: disable=g-import-not-at-top
  spec = _native.Spec(**attrs)
  first, stop = (0, 1 << 32) if bits is None else (int(bits[0]), int(bits[1]))
  best, where, count, reference_nan = -1.0, np.nan, 0, 0
  for seg_lo, seg_hi in FLOAT32_SEGMENTS:
    start, end = max(seg_lo, first), min(seg_hi, stop)
    for begin in range(start, end, chunk):
      x = np.arange(begin, min(begin + chunk, end), dtype=np.uint32).view(
          np.float32)
      approx = _native.forward(spec, x).astype(np.float64)
      x64 = x.astype(np.float64)
      error = function_error(x64, approx, values(fn, x64, None), lo, hi)
      nan = np.isnan(error)
      reference_nan += int(nan.sum())
      count += x.size
      if nan.all():
        continue
      i = int(np.nanargmax(error))
      if error[i] > best:
        best, where = float(error[i]), float(x64[i])
  return {"max_error": best if best >= 0 else np.nan, "argmax": where,
          "inputs": count, "reference_nan": reference_nan}
