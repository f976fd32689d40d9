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
in value at the switch. SiLU's beta and ELU's alpha are arguments:
`get("silu_pade_5_4_clamp", beta=1.702)`. None of them is a Keras name:
`gelu`, `silu`, `swish`, `mish`, `softplus`, `elu` and `selu` stay Keras' own.

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
# SELU's constants (Klambauer et al., 2017), as Keras and TensorFlow use them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
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


def _modern(name, arguments):
  """(spec, clamped spec) for a name of today's activations, or None."""
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
    alpha, scale = ((arguments["alpha"], 1.0) if function == "elu" else
                    (SELU_ALPHA, SELU_SCALE))
    spec = ActivationSpec(kind="fastexp_expm1", squarings=k,
                          output_scale=scale * alpha, above=(0.0, scale, 0.0))
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
  return names + [name + _CLAMP for name in names]


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
        "(n = 2, ..., 4096), each with a _clamp variant.")
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


def _register_builtins_with_keras():
  """Adds every built-in name to Keras, none that Keras already has.

  tf_approx's names are chosen not to collide with Keras' (a test checks it
  for the installed Keras); should a later Keras take one, Keras' own keeps
  the name and tf_approx's stays available through `get`.
  """
  for name in _builtin_names():
    if not _taken_by_keras(name):
      _register_with_keras(name, Approximation(name))
