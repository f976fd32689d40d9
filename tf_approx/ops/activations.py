"""Op wrappers for the approximated activations and their gradients.

Every approximation runs on one pair of ops, `TfApprox>Activation` and
`TfApprox>ActivationGrad`, parameterised by an `ActivationSpec`. Inside an XLA
context, or with `TF_APPROX_PY_OPS=1`, the composite twin from
`tf_approx.reference.activations` runs instead: XLA cannot compile custom ops.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tf_approx._validation import check_choice
from tf_approx._validation import check_int
from tf_approx.ops.common import check_dtype
from tf_approx.ops.common import native_library
from tf_approx.ops.common import twin_gradient
from tf_approx.reference import activations as reference

KINDS = ("rational", "fastexp_sigmoid", "ultra_fast_sigmoid",
         "word2vec_sigmoid", "hard_tanh", "hard_sigmoid", "fastexp_expm1",
         "fastexp_mish", "spline")
FASTEXP_KINDS = ("fastexp_sigmoid", "fastexp_expm1", "fastexp_mish")
# The kinds a form (product, scales, slope, lines) can wrap.
FORM_KINDS = ("rational",) + FASTEXP_KINDS + ("spline",)
MAX_COEFFICIENTS = 16
MAX_SQUARINGS = 12
MAX_PIECES = 32


def _float32(values):
  # Op attrs of type float are float32: round once here, so the native op and
  # the composite twin compute with exactly the same coefficients.
  return tuple(float(v) for v in np.asarray(values, np.float32).reshape(-1))


@dataclasses.dataclass(frozen=True)
class ActivationSpec:
  """What one approximation computes; the attrs of the activation ops.

  The kind's function g is evaluated at `u = input_scale * x` and put in the
  form `y = output_scale * (x * g(u) if product else g(u)) + slope * x`,
  replaced by the line `y = s * x + c` below `below = (at, s, c)` and above
  `above` (each optional). That expresses x R(x) (GELU, SiLU, Mish), a
  linear part (softplus), a scale (ELU, SELU) and the exact asymptotes the
  `_clamp` names take beyond their range.

  Attributes:
    kind: one of `KINDS`. 'rational' computes
      `numerator(x) / denominator(x) + offset` (coefficients in ascending
      powers of x); 'fastexp_sigmoid' computes `1 / (1 + (1 - x/n)^n)` with
      `n = 2**squarings`; 'fastexp_expm1' `(1 + x/n)^n - 1` (exp(x) - 1);
      'fastexp_mish' `tanh(softplus(x))` with exp(x) as `(1 + x/n)^n`;
      'spline' cubic pieces on equal intervals of x between the lines'
      points (it needs both lines, which continue it beyond them); the
      other kinds are fixed functions.
    numerator, denominator: rational coefficients, at most 16 each.
    offset: constant added to the rational.
    squarings: fastexp's k, 1 to 12.
    clip: `(lo, hi)` to clip the input to before evaluation, or None.
    product, input_scale, output_scale, slope, below, above: the form
      (rational, fastexp and spline kinds only).
    spline: 'spline' only: 4 coefficients per piece (1 to 32 pieces), piece
      k being `c0 + t (c1 + t (c2 + t c3))` at `t = w - k`, where `w = pieces
      (x - lo) / (hi - lo)` and lo, hi are `below[0]` and `above[0]`
      (`input_scale` must be 1: the lines place the pieces).
  """
  kind: str = "rational"
  numerator: tuple = (1.0,)
  denominator: tuple = (1.0,)
  offset: float = 0.0
  squarings: int = 0
  clip: tuple = None
  product: bool = False
  input_scale: float = 1.0
  output_scale: float = 1.0
  slope: float = 0.0
  below: tuple = None
  above: tuple = None
  spline: tuple = ()

  def __post_init__(self):
    check_choice(self.kind, KINDS, "kind")
    object.__setattr__(self, "numerator", _float32(self.numerator))
    object.__setattr__(self, "denominator", _float32(self.denominator))
    object.__setattr__(self, "offset", _float32([self.offset])[0])
    if self.kind == "rational":
      for arg in ("numerator", "denominator"):
        values = getattr(self, arg)
        if not 1 <= len(values) <= MAX_COEFFICIENTS:
          raise ValueError(f"`{arg}` must have 1 to {MAX_COEFFICIENTS} "
                           f"coefficients, got {len(values)}")
        if not all(np.isfinite(values)):
          raise ValueError(f"`{arg}` must be finite, got {values}")
      if not any(self.denominator):
        raise ValueError("`denominator` must not be all zeros")
    if self.kind in FASTEXP_KINDS:
      object.__setattr__(self, "squarings", check_int(
          self.squarings, "squarings", 1, MAX_SQUARINGS))
    self._check_form()
    self._check_spline()
    if self.clip is not None:
      lo, hi = _float32(self.clip)
      if not lo <= hi:
        raise ValueError(f"`clip` must be (lo, hi) with lo <= hi, got "
                         f"{self.clip}")
      object.__setattr__(self, "clip", (lo, hi))

    lo, hi = self.clip if self.clip is not None else (0.0, 0.0)
    object.__setattr__(self, "_attrs", dict(
        kind=self.kind, numerator=list(self.numerator),
        denominator=list(self.denominator), offset=self.offset,
        squarings=self.squarings, clip=self.clip is not None, clip_min=lo,
        clip_max=hi, product=self.product, input_scale=self.input_scale,
        output_scale=self.output_scale, slope=self.slope,
        below=list(self.below or ()), above=list(self.above or ()),
        spline=list(self.spline)))

  def _check_form(self):
    if not isinstance(self.product, (bool, np.bool_)):
      raise TypeError(f"`product` must be a bool, got {self.product!r}")
    object.__setattr__(self, "product", bool(self.product))
    for arg in ("input_scale", "output_scale", "slope"):
      value = _float32([getattr(self, arg)])[0]
      if not np.isfinite(value):
        raise ValueError(f"`{arg}` must be finite, got {getattr(self, arg)}")
      object.__setattr__(self, arg, value)
    for arg in ("below", "above"):
      line = getattr(self, arg)
      if line is None or len(line) == 0:  # pylint: disable=g-explicit-length-test
        object.__setattr__(self, arg, None)
        continue
      line = _float32(line)
      if len(line) != 3 or not all(np.isfinite(line)):
        raise ValueError(f"`{arg}` must be None or finite (at, slope, "
                         f"intercept), got {getattr(self, arg)}")
      object.__setattr__(self, arg, line)
    if (self.below is not None and self.above is not None and
        not self.below[0] <= self.above[0]):
      raise ValueError(f"`below`'s point {self.below[0]} must not exceed "
                       f"`above`'s {self.above[0]}")
    if self.has_form and self.kind not in FORM_KINDS:
      raise ValueError(
          "`product`, `input_scale`, `output_scale`, `slope`, `below` and "
          f"`above` apply to the kinds {FORM_KINDS} only, not {self.kind!r}")

  def _check_spline(self):
    object.__setattr__(self, "spline", _float32(self.spline))
    if self.kind != "spline":
      if self.spline:
        raise ValueError("`spline` applies to the kind 'spline' only")
      return
    pieces, rest = divmod(len(self.spline), 4)
    if rest or not 1 <= pieces <= MAX_PIECES:
      raise ValueError(f"`spline` must have 4 coefficients per piece, 1 to "
                       f"{MAX_PIECES} pieces, got {len(self.spline)} values")
    if not all(np.isfinite(self.spline)):
      raise ValueError("`spline` must be finite")
    if (self.below is None or self.above is None or
        not self.below[0] < self.above[0]):
      raise ValueError("the kind 'spline' needs `below` and `above`, "
                       "`below`'s point less than `above`'s")
    if self.input_scale != 1:
      raise ValueError(f"`input_scale` must be 1 for the kind 'spline' (its "
                       f"lines place its pieces), got {self.input_scale}")
    if self.clip is not None:
      raise ValueError("`clip` does not apply to the kind 'spline'")

  @property
  def has_form(self):
    """Whether the form differs from y = g(x)."""
    return (self.product or self.input_scale != 1 or self.output_scale != 1
            or self.slope != 0 or self.below is not None or
            self.above is not None)

  def attrs(self):
    """The op attrs, as keyword arguments of the generated wrappers."""
    return self._attrs

  @classmethod
  def from_attrs(cls, kind, numerator, denominator, offset, squarings, clip,
                 clip_min, clip_max, product=False, input_scale=1.0,
                 output_scale=1.0, slope=0.0, below=(), above=(), spline=()):
    """Inverse of `attrs`, e.g. from a graph op's attributes."""
    if isinstance(kind, bytes):
      kind = kind.decode()
    return cls(kind=kind, numerator=numerator, denominator=denominator,
               offset=offset, squarings=squarings,
               clip=(clip_min, clip_max) if clip else None, product=product,
               input_scale=input_scale, output_scale=output_scale,
               slope=slope, below=tuple(below) or None,
               above=tuple(above) or None, spline=tuple(spline))


ATTR_NAMES = tuple(ActivationSpec().attrs())


def activation(x, spec, name=None):
  """Applies the approximation `spec` to `x` elementwise.

  ```python
  tf_approx.ops.activation(x, "tanh_pade_4_4")
  tf_approx.ops.activation(x, ActivationSpec(kind="hard_tanh"))
  ```

  Args:
    x: a float16, bfloat16, float32 or float64 tensor of any shape.
    spec: an `ActivationSpec`, or the name of one
      (`tf_approx.activations.spec(name)`: any built-in or registered name).
    name: optional op name.

  Returns:
    A tensor like `x`. Half types are computed in float32. On a GPU each
    element is computed as on the CPU (same forms, same conventions at NaN,
    +-inf and beyond the fit); results may differ in the last bits where the
    compilers contract multiply-adds into FMAs differently.

  Raises:
    TypeError: x has another dtype, or spec is neither an `ActivationSpec`
      nor a name.
    ValueError: spec is an unknown name.
  """
  if isinstance(spec, str):
    # Imported here: tf_approx.activations imports this module.
    from tf_approx import activations  # pylint: disable=g-import-not-at-top
    spec = activations.spec(spec)
  elif not isinstance(spec, ActivationSpec):
    raise TypeError("`spec` must be an ActivationSpec or an activation name, "
                    f"got {type(spec).__name__} {spec!r}")
  if not isinstance(x, tf.Tensor):
    x = tf.convert_to_tensor(x)
  check_dtype(x)
  library = native_library()
  if library is None:
    return reference.activation(x, spec)
  return library.tf_approx_activation(x, name=name, **spec.attrs())


def activation_gradient(dy, x, spec, name=None):
  """`dy * f'(x)` for the approximation `spec` (the registered gradient)."""
  library = native_library()
  if library is None:
    return twin_gradient(lambda v: reference.activation(v, spec), [x], dy)[0]
  return library.tf_approx_activation_grad(dy, x, name=name, **spec.attrs())


@tf.RegisterGradient("TfApprox>Activation")
def _activation_grad(op, dy):
  spec = ActivationSpec.from_attrs(
      **{name: op.get_attr(name) for name in ATTR_NAMES})
  return activation_gradient(dy, op.inputs[0], spec)
