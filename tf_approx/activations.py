"""Approximated activation functions by name (Timmons and Rice, 2020).

Names are parsed, not listed: `tanh_pade_<n>_<m>` for any n, m in 1..8 is
built from the committed coefficient table, `sigm_fastexp_<2^k>` from k, and
so on. Every name exists as a plain (faithful) version and, for the tanh and
sigmoid families, a `_clamp` version that clips its input to the range where
the approximation is meaningful.

Today's activations have their own families (docs/accuracy.md): GELU (the
erf form), SiLU/Swish, Mish, softplus, ELU and SELU, as `gelu_pade_<n>_<m>`,
`silu_pade_<n>_<m>`, `silu_fastexp_<2^k>`, `mish_fastexp_<2^k>`,
`softplus_pade_<n>_<m>`, `elu_fastexp_<2^k>` and `selu_fastexp_<2^k>`. Their
`_clamp` versions take the function's exact asymptotes beyond the range
(GELU, SiLU, Mish and softplus: 0 below, x above; ELU: -alpha), continuous
in value at the switch. `<function>_spline_<k>` (k = 4, 8, 16, 32 pieces)
are cubic splines between those asymptotes (docs/splines.md). SiLU's beta
and ELU's alpha are arguments: `get("silu_pade_5_4_clamp", beta=1.702)`.
None of them is a Keras name: `gelu`, `silu`, `swish`, `mish`, `softplus`,
`elu` and `selu` stay Keras' own.

    >>> import keras, tf_approx
    >>> layer = keras.layers.Activation("tanh_pade_4_4")
    >>> f = tf_approx.activations.get("sigm_fastexp_512_clamp")
    >>> tf_approx.activations.register_rational(
    ...     "my_tanh", numerator=[0, 1, 0, 0.1], denominator=[1, 0, 0.43])

Importing `tf_approx` makes every name usable wherever Keras takes an
activation (`Activation`, `Dense(activation=...)`, `LSTM(activation=...,
recurrent_activation=...)`), and `.keras` files store them by name (or, for
registered functions, with their coefficients).
"""

import dataclasses
import difflib
import fractions
import functools
import json
import math
import re
from pathlib import Path

import keras
import numpy as np

from tf_approx.ops import activations as activation_ops
from tf_approx.ops.activations import ActivationSpec

COEFFICIENTS_PATH = Path(__file__).with_name("data") / (
    "activation_coefficients.json")

# The paper's fit range for the least-squares families, also their clip range.
FIT_RANGE = (-5.5, 5.5)
SERP_RANGE = (-2.0, 2.0)

# Families with an index: name pattern -> allowed values of each index.
_TANH_CONT = re.compile(r"tanh_cont_([1-9]\d*)")
_TAYLOR = re.compile(r"(tanh|sigm)_taylor_([1-9]\d*)")
_PADE = re.compile(r"(tanh|sigm)_pade_([1-9]\d*)_([1-9]\d*)")
_FASTEXP = re.compile(r"sigm_fastexp_([1-9]\d*)")
CONT_LEVELS = range(1, 9)
TAYLOR_DEGREES = range(1, 16)
PADE_DEGREES = range(1, 9)
FASTEXP_SQUARINGS = range(1, 13)

_FIXED = {
    "serp": ActivationSpec(numerator=(0.0, 1.0), denominator=(1.0, 0.0, 0.25)),
    "ultra_fast_sigmoid": ActivationSpec(kind="ultra_fast_sigmoid"),
    "word2vec_sigmoid": ActivationSpec(kind="word2vec_sigmoid"),
    "tanh_hard": ActivationSpec(kind="hard_tanh"),
    "sigm_hard": ActivationSpec(kind="hard_sigmoid"),
}
_CLAMPABLE_FIXED = ("serp",)
_CLAMP = "_clamp"

# Names of earlier versions that shadowed Keras' own activations (Keras'
# hard_sigmoid is relu6(x + 3) / 6, not clip(x / 4 + 1/2, 0, 1)). Keras no
# longer resolves them to tf_approx's functions; `.keras` files that stored
# them as tf_approx activations still load, as the new names.
RENAMED = {"hard_tanh": "tanh_hard", "hard_sigmoid": "sigm_hard"}

# The paper's recommendations (its Table 1).
SAFE = ("tanh_pade_4_4", "sigm_fastexp_512")
RANGED = ("serp", "sigm_fastexp_2")

# Today's activations. The fitted families are least-squares fits on
# [-range, range] (tools/fit_coefficients.py), the factor of x R(x) with
# weights |x|, each made to meet the exact asymptote at the range's end;
# their `_clamp` names switch to the asymptotes there.
MODERN_RANGES = {"gelu": 5.0, "silu": 12.0, "softplus": 10.0}
_MODERN_PADE = re.compile(r"(gelu|silu|softplus)_pade_([1-9]\d*)_([1-9]\d*)")
_MODERN_FASTEXP = re.compile(r"(silu|mish|elu|selu)_fastexp_([1-9]\d*)")
_MODERN_SPLINE = re.compile(
    r"(gelu|silu|mish|softplus|elu|selu)_spline_([1-9]\d*)")
SPLINE_PIECES = (4, 8, 16, 32)
# SELU's constants (Klambauer et al., 2017), as Keras and TensorFlow use them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
# SELU's slope for x > 0 as a float32 attr: rounded down (float32's nearest
# is above it), so that scale x overflows only where the exact SELU does.
_SELU_SLOPE = float(np.float32(SELU_SCALE) if float(np.float32(SELU_SCALE))
                    <= SELU_SCALE else np.nextafter(np.float32(SELU_SCALE),
                                                    np.float32(0)))
# The arguments each function takes, with their defaults.
ARGUMENTS = {"silu": {"beta": 1.0}, "elu": {"alpha": 1.0}}

# Measured picks for today's activations (docs/accuracy.md; the paper's rule
# made explicit, and checked by tests/test_modern_activations.py): `safe` is
# the cheapest of its family within 1e-3 of the function on [-8, 8] and
# within 1e-3 of max(1, |f|) beyond (its `_clamp` name, which takes the exact
# asymptotes); `ranged` the cheapest within 1e-2 on [-4, 4] (plain name).
# Cost: the number of multiply-adds of Horner's rule in x^2 (rationals), or
# of squarings (fastexp).
MODERN_SAFE = {
    "gelu": "gelu_pade_5_6_clamp",
    "silu": "silu_pade_5_4_clamp",
    "mish": "mish_fastexp_1024_clamp",
    "softplus": "softplus_pade_6_4_clamp",
    "elu": "elu_fastexp_512_clamp",
    "selu": "selu_fastexp_512_clamp",
}
MODERN_RANGED = {
    "gelu": "gelu_pade_3_2",
    "silu": "silu_pade_3_4",
    "mish": "mish_fastexp_64",
    "softplus": "softplus_pade_4_4",
    "elu": "elu_fastexp_32",
    "selu": "selu_fastexp_64",
}
# The fastest safe picks: splines (`<function>_spline_<pieces>`, cubic
# pieces between the exact asymptotes) meet the safe rule above with fewer
# operations than the paper's forms, and no division. Each is the fewest
# pieces that is safe (tests/test_modern_activations.py).
MODERN_FAST = {
    "gelu": "gelu_spline_16",
    "silu": "silu_spline_32",
    "mish": "mish_spline_32",
    "softplus": "softplus_spline_16",
    "elu": "elu_spline_16",
    "selu": "selu_spline_16",
}

# Each spline's range (its pieces span it; beyond it the lines take over),
# the function and its derivative, and its lines below and above as (slope,
# intercept): the exact asymptotes (ELU's and SELU's upper line is their
# linear part, which meets exp(x) - 1 at 0 in value and slope). The range is
# where the asymptotes are within the safe rule's 1e-3.
_SQRT_HALF = math.sqrt(0.5)


def _sigmoid(x):
  return 0.5 * (1.0 + math.tanh(0.5 * x))


def _softplus(x):
  return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


_SPLINE_FUNCTIONS = {
    "gelu": ((-4.0, 4.0), lambda x: 0.5 * x * math.erfc(-x * _SQRT_HALF),
             lambda x: 0.5 * math.erfc(-x * _SQRT_HALF) +
             x * math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi),
             ((0.0, 0.0), (1.0, 0.0))),
    "silu": ((-10.0, 10.0), lambda x: x * _sigmoid(x),
             lambda x: _sigmoid(x) * (1.0 + x * (1.0 - _sigmoid(x))),
             ((0.0, 0.0), (1.0, 0.0))),
    "mish": ((-10.0, 6.0), lambda x: x * math.tanh(_softplus(x)),
             lambda x: math.tanh(_softplus(x)) + x * _sigmoid(x) *
             (1.0 - math.tanh(_softplus(x))**2), ((0.0, 0.0), (1.0, 0.0))),
    "softplus": ((-8.0, 8.0), _softplus, _sigmoid, ((0.0, 0.0), (1.0, 0.0))),
    # ELU and SELU: exp(x) - 1 for x <= 0, scaled by the form.
    "elu": ((-8.0, 0.0), math.expm1, math.exp, ((0.0, -1.0), (1.0, 0.0))),
}
_SPLINE_FUNCTIONS["selu"] = _SPLINE_FUNCTIONS["elu"]

_user_specs = {}


@functools.cache
def _coefficient_table():
  with open(COEFFICIENTS_PATH, encoding="utf-8") as f:
    return json.load(f)["functions"]


def continued_fraction_to_rational(denominators):
  """Coefficients of x / (d1 + x^2 / (d2 + ... + x^2 / dn)) as P / Q.

  Exact (rational arithmetic), then normalised so that Q(0) = 1. Lambert's
  continued fraction of tanh has d_k = 2k - 1.

  Returns:
    (numerator, denominator) coefficient lists in ascending powers of x.
  """
  if not denominators:
    raise ValueError("`denominators` must not be empty")
  frac = [fractions.Fraction(d) for d in denominators]
  # The tail d_k + x^2 / T_{k+1} as top / bottom polynomials in x.
  top, bottom = [frac[-1]], [fractions.Fraction(1)]
  for d in reversed(frac[:-1]):
    x2_bottom = [fractions.Fraction(0)] * 2 + bottom
    d_top = [d * c for c in top]
    size = max(len(x2_bottom), len(d_top))
    new_top = [(d_top[i] if i < len(d_top) else 0) +
               (x2_bottom[i] if i < len(x2_bottom) else 0) for i in range(size)]
    top, bottom = new_top, top
  # f = x / (top / bottom) = x bottom / top.
  numerator = [fractions.Fraction(0)] + bottom
  scale = top[0]
  if scale == 0:
    raise ValueError("the continued fraction has a pole at x = 0")
  return ([float(c / scale) for c in numerator],
          [float(c / scale) for c in top])


def _rising_limit(numerator, denominator):
  """First x > 0 where P/Q stops increasing or reaches 1."""
  p = np.polynomial.Polynomial(numerator)
  q = np.polynomial.Polynomial(denominator)
  candidates = []
  for poly in (p.deriv() * q - p * q.deriv(), p - q):
    roots = poly.roots()
    candidates += [r.real for r in roots if abs(r.imag) < 1e-9 and r.real > 0]
  return min(candidates)


def _tanh_cont(levels):
  numerator, denominator = continued_fraction_to_rational(
      [2 * k - 1 for k in range(1, levels + 1)])
  return ActivationSpec(numerator=numerator, denominator=denominator)


def _fitted(name):
  entry = _coefficient_table()[name]
  return ActivationSpec(numerator=entry["numerator"],
                        denominator=entry["denominator"],
                        offset=entry["offset"])


@functools.cache
def spline_coefficients(function, pieces):
  """The cubic Hermite pieces of `function`'s spline (see MODERN_FAST).

  Each piece matches the function's value and derivative at its two knots,
  so value and derivative are continuous; at the range's ends the knots take
  the lines' values and slopes instead (`_SPLINE_FUNCTIONS`), so the spline
  meets the lines too.

  Returns:
    4 coefficients per piece, `ActivationSpec.spline`'s layout.
  """
  # Imported here: fitting is imported only where fits are made.
  from tf_approx import fitting  # pylint: disable=g-import-not-at-top

  (lo, hi), f, df, (below, above) = _SPLINE_FUNCTIONS[function]
  h = (hi - lo) / pieces
  inner = [lo + i * h for i in range(1, pieces)]
  values = ([below[0] * lo + below[1]] + [f(x) for x in inner] +
            [above[0] * hi + above[1]])
  slopes = [below[0]] + [df(x) for x in inner] + [above[0]]
  return fitting.hermite_pieces(values, slopes, h)


def _modern_spline(function, pieces, arguments):
  """The spec of `<function>_spline_<pieces>`."""
  (lo, hi), _, _, _ = _SPLINE_FUNCTIONS[function]
  spline = spline_coefficients(function, pieces)
  if function in ("elu", "selu"):
    alpha, scale, slope = ((arguments["alpha"], 1.0, 1.0)
                           if function == "elu" else
                           (SELU_ALPHA, SELU_SCALE, _SELU_SLOPE))
    return ActivationSpec(kind="spline", spline=spline,
                          output_scale=scale * alpha,
                          below=(lo, 0.0, -scale * alpha),
                          above=(hi, slope, 0.0))
  # SiLU's beta: the same pieces at x = u / beta give silu(beta x), which
  # 1 / beta scales to x sigmoid(beta x).
  beta = arguments.get("beta", 1.0)
  return ActivationSpec(kind="spline", spline=spline, output_scale=1.0 / beta,
                        below=(lo / beta, 0.0, 0.0),
                        above=(hi / beta, 1.0, 0.0))


def _modern(name, arguments):
  """(spec, clamped spec) for a name of today's activations, or None (a
  spline has no clamped spec: it always takes the asymptotes)."""
  if match := _MODERN_SPLINE.fullmatch(name):
    pieces = int(match[2])
    if pieces not in SPLINE_PIECES:
      return None
    return _modern_spline(match[1], pieces, arguments), None
  if match := _MODERN_PADE.fullmatch(name):
    function, n, m = match[1], int(match[2]), int(match[3])
    if n not in PADE_DEGREES or m not in PADE_DEGREES:
      return None
    entry = _coefficient_table()[name]
    ratio = dict(numerator=entry["numerator"], denominator=entry["denominator"],
                 offset=entry["offset"])
    edge = MODERN_RANGES[function]
    if function == "softplus":
      spec = ActivationSpec(**ratio, slope=0.5)
    else:
      beta = arguments.get("beta", 1.0)
      spec = ActivationSpec(**ratio, product=True, input_scale=beta)
      edge /= beta
    return spec, dataclasses.replace(spec, below=(-edge, 0.0, 0.0),
                                     above=(edge, 1.0, 0.0))
  if match := _MODERN_FASTEXP.fullmatch(name):
    function, n = match[1], int(match[2])
    k = n.bit_length() - 1
    if n != 2**k or k not in FASTEXP_SQUARINGS:
      return None
    if function == "silu":
      beta = arguments["beta"]
      spec = ActivationSpec(kind="fastexp_sigmoid", squarings=k, product=True,
                            input_scale=beta)
      return spec, dataclasses.replace(spec, below=(-n / beta, 0.0, 0.0),
                                       above=(n / beta, 1.0, 0.0))
    if function == "mish":
      spec = ActivationSpec(kind="fastexp_mish", squarings=k, product=True)
      return spec, dataclasses.replace(spec, below=(-n, 0.0, 0.0))
    alpha, scale, slope = ((arguments["alpha"], 1.0, 1.0)
                           if function == "elu" else
                           (SELU_ALPHA, SELU_SCALE, _SELU_SLOPE))
    spec = ActivationSpec(kind="fastexp_expm1", squarings=k,
                          output_scale=scale * alpha, above=(0.0, slope, 0.0))
    return spec, dataclasses.replace(spec, below=(-n, 0.0, -scale * alpha))
  return None


def _function_of(name):
  """The function a built-in name approximates ('gelu', 'tanh', ...)."""
  return name.split("_", 1)[0]


def _check_arguments(name, arguments):
  """The arguments `name` takes, defaults filled in.

  Raises:
    ValueError: an argument `name` does not take, or a bad value.
  """
  allowed = ARGUMENTS.get(_function_of(name), {})
  unknown = sorted(set(arguments) - set(allowed))
  if unknown:
    takes = ", ".join(f"`{a}`" for a in allowed) or "no arguments"
    raise ValueError(f"{name!r} takes {takes}, not `{unknown[0]}`")
  result = dict(allowed)
  for key, value in arguments.items():
    value = float(value)
    if not np.isfinite(value) or (key == "beta" and not value > 0):
      raise ValueError(f"`{key}` of {name!r} must be "
                       f"{'positive and ' if key == 'beta' else ''}finite, "
                       f"got {value}")
    result[key] = value
  return result


def _parse(name):
  """Returns (spec, clip range) for a built-in name of the paper's, or None."""
  for fixed, spec in _FIXED.items():
    if name == fixed:
      return spec, SERP_RANGE if fixed in _CLAMPABLE_FIXED else None
  if match := _TANH_CONT.fullmatch(name):
    levels = int(match[1])
    if levels in CONT_LEVELS:
      spec = _tanh_cont(levels)
      limit = _rising_limit(spec.numerator, spec.denominator)
      return spec, (-limit, limit)
  if match := _TAYLOR.fullmatch(name):
    if int(match[2]) in TAYLOR_DEGREES:
      return _fitted(name), FIT_RANGE
  if match := _PADE.fullmatch(name):
    if int(match[2]) in PADE_DEGREES and int(match[3]) in PADE_DEGREES:
      return _fitted(name), FIT_RANGE
  if match := _FASTEXP.fullmatch(name):
    n = int(match[1])
    k = n.bit_length() - 1
    if n == 2**k and k in FASTEXP_SQUARINGS:
      return ActivationSpec(kind="fastexp_sigmoid", squarings=k), (-n, n)
  return None


def _modern_names():
  names = [f"{fn}_pade_{n}_{m}" for fn in MODERN_RANGES for n in PADE_DEGREES
           for m in PADE_DEGREES]
  names += [f"{fn}_fastexp_{2**k}" for fn in ("silu", "mish", "elu", "selu")
            for k in FASTEXP_SQUARINGS]
  splines = [f"{fn}_spline_{pieces}" for fn in _SPLINE_FUNCTIONS
             for pieces in SPLINE_PIECES]
  return names + [name + _CLAMP for name in names] + splines


def _builtin_names():
  names = []
  for levels in CONT_LEVELS:
    names.append(f"tanh_cont_{levels}")
  for fn in ("tanh", "sigm"):
    names += [f"{fn}_taylor_{n}" for n in TAYLOR_DEGREES]
    names += [f"{fn}_pade_{n}_{m}" for n in PADE_DEGREES for m in PADE_DEGREES]
  names += [f"sigm_fastexp_{2**k}" for k in FASTEXP_SQUARINGS]
  names += list(_CLAMPABLE_FIXED)
  clamped = [name + _CLAMP for name in names]
  return (names + clamped + [n for n in _FIXED if n not in _CLAMPABLE_FIXED] +
          _modern_names())


def names():
  """Every name `get` resolves: the built-in grammar and registered names."""
  return _builtin_names() + sorted(_user_specs)


def _builtin_spec(name, arguments=None):
  arguments = _check_arguments(name, arguments or {})
  return _cached_builtin_spec(name, tuple(sorted(arguments.items())))


@functools.cache
def _cached_builtin_spec(name, arguments):
  base, clamp = (name[:-len(_CLAMP)], True) if name.endswith(_CLAMP) else (
      name, False)
  modern = _modern(base, dict(arguments))
  if modern is not None:
    return modern[1] if clamp else modern[0]
  parsed = _parse(base)
  if parsed is None or (clamp and parsed[1] is None):
    return None
  spec, clip = parsed
  if clamp:
    spec = dataclasses.replace(spec, clip=clip)
  return spec


def spec(name, **arguments):
  """The `ActivationSpec` behind a name.

  Args:
    name: a built-in or registered name (`names()`).
    **arguments: the function's arguments (`ARGUMENTS`): `beta` for the
      SiLU names, `alpha` for the ELU names.

  Raises:
    ValueError: unknown name or index out of range, with close names; an
      argument the name does not take, or a bad value.
  """
  if name in _user_specs:
    if arguments:
      raise ValueError(f"{name!r} takes no arguments, got {arguments}")
    return _user_specs[name]
  result = _builtin_spec(name, arguments) if isinstance(name, str) else None
  if result is None:
    if name in RENAMED:
      hint = (f" tf_approx's {name} is now {RENAMED[name]!r}; {name!r} is "
              "Keras' own (keras.activations.get).")
    else:
      close = difflib.get_close_matches(str(name), names(), n=5, cutoff=0.6)
      hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(
        f"Unknown tf_approx activation {name!r}.{hint} Families: "
        "tanh_cont_n (n 1-8), tanh_taylor_n / sigm_taylor_n (n 1-15), "
        "tanh_pade_n_m / sigm_pade_n_m (n, m 1-8), sigm_fastexp_n "
        "(n = 2, 4, ..., 4096), serp, each with a _clamp variant; "
        "ultra_fast_sigmoid, word2vec_sigmoid, tanh_hard, sigm_hard; "
        "gelu_pade_n_m, silu_pade_n_m, softplus_pade_n_m (n, m 1-8), "
        "silu_fastexp_n, mish_fastexp_n, elu_fastexp_n, selu_fastexp_n "
        "(n = 2, ..., 4096), each with a _clamp variant; gelu_spline_k, "
        "silu_spline_k, mish_spline_k, softplus_spline_k, elu_spline_k, "
        "selu_spline_k (k = 4, 8, 16, 32).")
  return result


@keras.saving.register_keras_serializable(package="tf_approx")
class Approximation:
  """An approximated activation function, callable on tensors.

  Instances are what `get(name)` and `keras.activations.get(name)` return.
  Built-in names serialize by name (and arguments); registered functions
  also store their coefficients, so a `.keras` file loads without
  registering them again.

  Args:
    name: the function's name.
    spec: its `ActivationSpec` as a dict of fields; only for functions that
      are not built in (see `register_rational`).
    arguments: the function's arguments (`ARGUMENTS`), e.g. `{"beta": 2.0}`
      for a SiLU name.
  """

  def __init__(self, name, spec=None, arguments=None):  # pylint: disable=redefined-outer-name
    self.name = name
    self.__name__ = name
    self.arguments = dict(arguments or {})
    # A registered name's spec is looked up once; a stored one wins, so that
    # a loaded model does not depend on what this process registered.
    self.spec = (ActivationSpec(**_tuple_fields(spec)) if spec else
                 _spec_by_name(name, **self.arguments))

  def __call__(self, x):
    return activation_ops.activation(x, self.spec, name=self.name)

  def get_config(self):
    config = {"name": self.name}
    if self.arguments:
      config["arguments"] = dict(self.arguments)
    if self.name not in _builtin_name_set():
      config["spec"] = dataclasses.asdict(self.spec)
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["name"] = RENAMED.get(config["name"], config["name"])
    return cls(**config)

  def __repr__(self):
    arguments = "".join(f", {k}={v}" for k, v in sorted(self.arguments.items()))
    return f"<tf_approx activation {self.name}{arguments}>"

  def __eq__(self, other):
    return isinstance(other, Approximation) and (
        self.name, self.spec) == (other.name, other.spec)

  def __hash__(self):
    return hash((self.name, self.spec))


_spec_by_name = spec  # `spec` is shadowed by an argument in Approximation


def _tuple_fields(fields):
  return {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}


@functools.cache
def _builtin_name_set():
  return frozenset(_builtin_names())


def get(name, **arguments):
  """Returns the activation function called `name` (see `names()`).

  Args:
    name: a built-in or registered name.
    **arguments: the function's arguments (`ARGUMENTS`): SiLU's `beta`
      (`x * sigmoid(beta * x)`, default 1), ELU's `alpha` (default 1).
  """
  spec(name, **arguments)  # raises ValueError with suggestions
  return Approximation(name, arguments=arguments)


def _keras_table():
  """Keras' table of activation names.

  Keras 3 resolves activation strings only through the private dict
  `keras.src.activations.ALL_OBJECTS_DICT`; fail loudly if it moves.
  """
  try:
    from keras.src import activations as keras_activations  # pylint: disable=g-import-not-at-top
    table = keras_activations.ALL_OBJECTS_DICT
  except (ImportError, AttributeError) as e:
    raise RuntimeError(
        f"tf_approx cannot register activations with Keras {keras.__version__}"
        ": keras.src.activations.ALL_OBJECTS_DICT is gone. Use "
        "tf_approx.activations.get(name) objects instead of strings.") from e
  if not isinstance(table, dict):
    raise RuntimeError("keras.src.activations.ALL_OBJECTS_DICT is not a dict "
                       f"in Keras {keras.__version__}")
  return table


def _taken_by_keras(name):
  """True if Keras resolves `name` to something tf_approx did not put there."""
  fn = _keras_table().get(name)
  return fn is not None and not isinstance(fn, Approximation)


def _register_with_keras(name, fn):
  """Makes `keras.activations.get(name)` return `fn`."""
  _keras_table()[name] = fn


def _check_new_name(name, overwrite):
  if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w*", name):
    raise ValueError(f"`name` must be an identifier, got {name!r}")
  if name in _builtin_name_set() or _builtin_spec(name) is not None:
    raise ValueError(f"`name` {name!r} is a built-in tf_approx activation")
  if overwrite:
    return
  if _taken_by_keras(name):
    raise ValueError(
        f"`name` {name!r} is already a Keras activation; registering it would "
        "change every model that uses Keras' own. Choose another name, or "
        "pass overwrite=True to replace it in this process.")
  if name in _user_specs:
    raise ValueError(
        f"`name` {name!r} is already registered; pass overwrite=True to "
        "replace it.")


def _register(name, new_spec, overwrite):
  _check_new_name(name, overwrite)
  _user_specs[name] = new_spec
  fn = Approximation(name)
  _register_with_keras(name, fn)
  return fn


def register_rational(name, numerator, denominator, *, offset=0.0,
                      clip=None, overwrite=False):
  """Registers `f(x) = P(x) / Q(x) + offset` under `name`.

  It runs on the same native kernels as the built-in approximations. Models
  using it save its coefficients, so they load without registering again.

  Args:
    name: a new identifier: not a tf_approx built-in name, and, unless
      `overwrite`, neither a Keras activation (`relu`, `gelu`, ...) nor a
      name registered before.
    numerator: P's coefficients in ascending powers of x (at most 16).
    denominator: Q's coefficients in ascending powers of x (at most 16).
    offset: constant added to P/Q.
    clip: optional `(lo, hi)`: evaluate at `clip(x, lo, hi)`.
    overwrite: replace what `name` resolves to in Keras (in this process),
      or what was registered under it before.

  Returns:
    The activation function (also available by `name` to Keras).

  Raises:
    ValueError: `name` is taken (see above), or bad coefficients.

  Example:
    >>> f = register_rational("my_tanh", [0, 1, 0, 0.1], [1, 0, 0.43])
    >>> keras.layers.Dense(8, activation="my_tanh")
  """
  return _register(name, ActivationSpec(
      numerator=numerator, denominator=denominator, offset=offset, clip=clip),
                   overwrite)


def register_polynomial(name, coefficients, *, clip=None, overwrite=False):
  """Registers `f(x) = sum_i c_i x^i` under `name` (see `register_rational`)."""
  return register_rational(name, coefficients, [1.0], clip=clip,
                           overwrite=overwrite)


def register_continued_fraction(name, denominators, *, clip=None,
                                overwrite=False):
  """Registers `f(x) = x / (d1 + x^2 / (d2 + ... + x^2 / dn))` under `name`.

  With `denominators = [1, 3, 5, ..., 2n - 1]` this is `tanh_cont_n`. The
  fraction is simplified to one rational exactly before registration.
  """
  numerator, denominator = continued_fraction_to_rational(denominators)
  return register_rational(name, numerator, denominator, clip=clip,
                           overwrite=overwrite)


# The grid `fit` measures the error on the range with.
FIT_DENSE_POINTS = 200001


@dataclasses.dataclass(frozen=True)
class FitResult:
  """What `fit` fitted, registered and measured.

  Attributes:
    name: the registered name.
    function: the registered `Approximation` (the plain fit).
    spec: its `ActivationSpec`.
    clamp_name, clamp_function, clamp_spec: `name + "_clamp"`, which takes
      the asymptotes beyond the range; None without `asymptotes`, and for
      a spline (which always takes its lines).
    numerator, denominator, offset, slope, product: the fitted form,
      `y = (x g(x) if product else g(x)) + slope x`, `g = offset + P / Q`
      (coefficients ascending in x, float32).
    parity: the parity P / Q was fitted with (None, 'odd' or 'even').
    method: how the rational was fitted (`tf_approx.fitting.RationalFit`).
    range: the fit range `(lo, hi)`.
    max_error_range: max |approximation - fn| on a dense grid of the range
      (`FIT_DENSE_POINTS` points), the registered op run in float64.
    max_error_range_float32: the same, the op run in float32 on the grid
      rounded to float32 (fn evaluated at the rounded points).
    argmax_range: where `max_error_range` occurs.
    switch_gaps: with asymptotes, `{"below": gap, "above": gap}`: the jump
      in value of the clamped function where it switches to each line
      (float64 op; 0 up to rounding at the matched end).
    max_error_all_float32, argmax_all_float32: with `sweep=True`, the max
      error over every non-NaN float32 (absolute on the range, relative to
      max(1, |fn|) beyond) of the clamped function if any, else the plain
      one, and where it occurs; None otherwise.
  """
  name: str
  function: object
  spec: ActivationSpec
  clamp_name: str
  clamp_function: object
  clamp_spec: ActivationSpec
  numerator: tuple
  denominator: tuple
  offset: float
  slope: float
  product: bool
  parity: str
  method: str
  range: tuple
  max_error_range: float
  max_error_range_float32: float
  argmax_range: float
  switch_gaps: dict = None
  max_error_all_float32: float = None
  argmax_all_float32: float = None

  def __str__(self):
    lines = [f"{self.name}: {self.method}, parity {self.parity}, "
             f"{'product' if self.product else 'plain'} form, on "
             f"[{self.range[0]:g}, {self.range[1]:g}]",
             f"  max error on the range: {self.max_error_range:.3e} "
             f"(float64 op, at x = {self.argmax_range:.6g}), "
             f"{self.max_error_range_float32:.3e} (float32 op)"]
    if self.switch_gaps:
      lines.append("  jumps at the switch to the asymptotes: " + ", ".join(
          f"{k} {v:.2e}" for k, v in self.switch_gaps.items()))
    if self.max_error_all_float32 is not None:
      lines.append(
          f"  max error over all float32 ({self.clamp_name or self.name}): "
          f"{self.max_error_all_float32:.3e} at x = "
          f"{self.argmax_all_float32:.6g}")
    return "\n".join(lines)


def _op_values(function, x, dtype):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return function(tf.constant(x, dtype)).numpy().astype(np.float64)


def fit(fn, name, *, kind="pade", orders=(4, 4), range=(-5.5, 5.5),  # pylint: disable=redefined-builtin
        form="plain", parity="auto", asymptotes=None, samples=5000,
        sweep=False, overwrite=False, pieces=16):
  """Fits an approximation of `fn` by the paper's method and registers it.

  Timmons and Rice's least squares on `samples` uniform points of `range`,
  with tf_approx's rules (`tf_approx.fitting`): the target's parity, no real
  poles, weights |x| for the product form, and the fit meeting the
  asymptote at the range's end. The result runs on the same native kernels
  as the built-in names, is usable by `name` wherever Keras takes an
  activation, and `.keras` files store its coefficients.

  The approximation is `y = g(x) + slope x` (`form="plain"`) or
  `y = x g(x)` (`form="product"`, for a function that is x times a
  sigmoid-like factor such as GELU or SiLU: the factor `fn(x) / x` is
  fitted with weights |x|, so the least squares are the function's own),
  with `g = offset + P(x) / Q(x)`. With `parity="auto"` the samples decide:
  `fn` (the factor, in product form) odd around a constant c
  (`f(x) + f(-x) = 2c`) is fitted as `c` + odd P/Q, even plus a line
  (`f(x) - f(-x) = 2sx`, softplus) as `s x` + even P/Q, else without parity.

  Args:
    fn: a numpy-vectorised function of float64 arrays, finite on `range`
      (it is also evaluated at -x, where it may be NaN).
    name: the name to register: an identifier that is not a tf_approx
      built-in name and, unless `overwrite`, neither a Keras activation
      (`gelu`, `relu`, ...) nor registered before. With `asymptotes`,
      `name + "_clamp"` is registered too, under the same rules.
    kind: 'pade' (a rational, `orders=(m, n)`: P of degree m, Q of degree
      n >= 1) or 'taylor' (a polynomial, `orders=n` or `(n,)`); degrees up
      to 15. In product form they are the factor's. Or 'spline': cubic
      pieces (`pieces` of them, docs/splines.md), the least-squares C1
      spline on the range, which always continues along lines beyond it:
      the asymptotes where given (the spline then meets them in value and
      slope), else its own end tangents; plain form only, and no `_clamp`
      name (it needs none).
    orders: the degrees (above).
    range: `(lo, hi)`: the fit range, where the error is measured.
    form: 'plain' or 'product' (above).
    parity: 'auto', None, 'odd' or 'even' (above; 'odd' / 'even' impose it).
    asymptotes: optional `{"below": (slope, intercept), "above": (slope,
      intercept)}` (either or both): the lines `fn` follows beyond the range.
      Then `name + "_clamp"` switches to them below lo and above hi, and the
      fit is made to meet the line at hi (at lo with only "below"); with the
      matching parity it meets the other too (`switch_gaps` says).
    samples: the number of uniform fit samples (the paper's 5000).
    sweep: also measure the error over every non-NaN float32 through the
      native kernel (`max_error_all_float32`): minutes.
    overwrite: replace a Keras activation or a registered name of the same
      name, in this process.
    pieces: kind 'spline' only: 1 to 32 equal pieces.

  Returns:
    A `FitResult` (`print` it for a summary).

  Raises:
    ValueError: a bad argument (the message names it), a name that is
      taken, or `fn` not finite on the range.
    ImportError: scipy is missing (`pip install scipy`), for kind 'pade'.

  Example:
    >>> import numpy as np, keras, tf_approx
    >>> r = tf_approx.activations.fit(
    ...     np.arctan, "arctan_pade_3_4", orders=(3, 4), range=(-6, 6))
    >>> print(r.max_error_range)
    >>> layer = keras.layers.Activation("arctan_pade_3_4")
    >>> gelu = lambda x: x * scipy.special.ndtr(x)
    >>> r = tf_approx.activations.fit(
    ...     gelu, "my_gelu", orders=(5, 6), range=(-5, 5), form="product",
    ...     asymptotes={"below": (0, 0), "above": (1, 0)})
    >>> r.clamp_function  # my_gelu_clamp: 0 below -5, x above 5
  """
  # Imported here: fitting's scipy is optional, and only `fit` needs it.
  from tf_approx import fitting  # pylint: disable=g-import-not-at-top

  if kind not in fitting.KINDS + ("spline",):
    raise ValueError(f"`kind` must be one of {fitting.KINDS + ('spline',)}, "
                     f"got {kind!r}")
  if kind == "spline":
    return _fit_spline(fn, name, pieces=pieces, fit_range=range, form=form,
                       asymptotes=asymptotes, samples=samples, sweep=sweep,
                       overwrite=overwrite)
  clamp_name = None
  if asymptotes is not None:
    clamp_name = f"{name}{_CLAMP}" if isinstance(name, str) else name
  _check_new_name(name, overwrite)
  fitted = fitting.fit_function(
      fn, kind=kind, orders=orders, fit_range=range, form=form, parity=parity,
      asymptotes=asymptotes, samples=samples)
  lo, hi = fitting.check_range(range)
  plain = ActivationSpec(**fitted.fields())
  clamped = None
  if asymptotes is not None:
    lines = fitting.check_asymptotes(asymptotes)
    clamped = dataclasses.replace(
        plain,
        below=None if lines["below"] is None else (lo, *lines["below"]),
        above=None if lines["above"] is None else (hi, *lines["above"]))
    _check_new_name(clamp_name, overwrite)
  function = _register(name, plain, overwrite)
  clamp_function = (None if clamped is None else
                    _register(clamp_name, clamped, overwrite))
  return FitResult(
      name=name, function=function, spec=plain, clamp_name=clamp_name,
      clamp_function=clamp_function, clamp_spec=clamped,
      numerator=plain.numerator, denominator=plain.denominator,
      offset=plain.offset, slope=plain.slope, product=plain.product,
      parity=fitted.parity, method=fitted.rational.method, range=(lo, hi),
      **_measure_fit(fn, function, clamped, plain, lo, hi, sweep))


def _fit_spline(fn, name, *, pieces, fit_range, form, asymptotes, samples,
                sweep, overwrite):
  """`fit` for kind 'spline'."""
  from tf_approx import fitting  # pylint: disable=g-import-not-at-top

  if form != "plain":
    raise ValueError(f"`form` must be 'plain' for kind 'spline', got "
                     f"{form!r}")
  _check_new_name(name, overwrite)
  coefficients, below, above = fitting.fit_spline(
      fn, pieces, fit_range, asymptotes, samples)
  lo, hi = fitting.check_range(fit_range)
  spec = ActivationSpec(kind="spline", spline=coefficients, below=below,
                        above=above)
  function = _register(name, spec, overwrite)
  return FitResult(
      name=name, function=function, spec=spec, clamp_name=None,
      clamp_function=None, clamp_spec=None, numerator=(), denominator=(),
      offset=0.0, slope=0.0, product=False, parity=None,
      method=f"least-squares C1 cubic spline, {pieces} pieces",
      range=(lo, hi),
      **_measure_fit(fn, function, spec if asymptotes else None, spec, lo,
                     hi, sweep))


def _measure_fit(fn, function, clamped, plain, lo, hi, sweep):
  """FitResult's measured fields: the error of `function` on a dense grid
  of the range, the jumps where `clamped` switches to its lines, and with
  `sweep` the error of `clamped` (else `plain`) over every float32."""
  from tf_approx import fitting  # pylint: disable=g-import-not-at-top

  grid = np.linspace(lo, hi, FIT_DENSE_POINTS)
  grid32 = grid.astype(np.float32).astype(np.float64)
  errors = {}
  for key, points, dtype in (("float64", grid, "float64"),
                             ("float32", grid32, "float32")):
    errors[key] = fitting.function_error(
        points, _op_values(function, points, dtype),
        fitting.values(fn, points), lo, hi)
  i = int(np.nanargmax(errors["float64"]))
  gaps = None
  if clamped is not None:
    gaps = {}
    for side, at in (("below", lo), ("above", hi)):
      line = getattr(clamped, side)
      if line is not None:
        value = _op_values(function, np.array([at]), "float64")[0]
        gaps[side] = abs(value - (line[1] * at + line[2]))
  swept = {}
  if sweep:
    target = clamped if clamped is not None else plain
    result = fitting.sweep_float32(target.attrs(), fn, lo, hi)
    swept = dict(max_error_all_float32=result["max_error"],
                 argmax_all_float32=result["argmax"])
  return dict(max_error_range=float(errors["float64"][i]),
              max_error_range_float32=float(np.nanmax(errors["float32"])),
              argmax_range=float(grid[i]), switch_gaps=gaps, **swept)


def _register_builtins_with_keras():
  """Adds every built-in name to Keras, none that Keras already has.

  tf_approx's names are chosen not to collide with Keras' (a test checks it
  for the installed Keras); should a later Keras take one, Keras' own keeps
  the name and tf_approx's stays available through `get`.
  """
  for name in _builtin_names():
    if not _taken_by_keras(name):
      _register_with_keras(name, Approximation(name))
