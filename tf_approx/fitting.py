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
