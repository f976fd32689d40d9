"""Op wrappers for GAAF, gradient acceleration in activation functions.

`TfApprox>Gaaf` computes phi(x) + g(x) s(x) (SPEC §6) with g accurate for any
|x|; `TfApprox>GaafGrad` its gradient phi' + s + g s'. Inside an XLA context,
or with `TF_APPROX_PY_OPS=1`, the composite twin from
`tf_approx.reference.gaaf` runs instead.
"""

import math

import tensorflow as tf

from tf_approx.ops.common import check_dtype
from tf_approx.ops.common import native_library
from tf_approx.ops.common import op_attrs
from tf_approx.reference import gaaf as reference

BASES = reference.BASES
SHAPES = reference.SHAPES
DEFAULT_SHAPES = reference.DEFAULT_SHAPES


def check_arguments(base, shape, k, center, width):
  """Raises ValueError naming the first bad argument."""
  if base not in BASES:
    raise ValueError(f"`activation` must be one of {BASES}, got {base!r}")
  if shape not in SHAPES:
    raise ValueError(f"`shape` must be one of {SHAPES}, got {shape!r}")
  for arg, value, positive in (("K", k, True), ("center", center, False),
                               ("width", width, True)):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and
            (value > 0 or not positive)):
      kind = "a finite number > 0" if positive else "a finite number"
      raise ValueError(f"`{arg}` must be {kind}, got {value!r}")


def gaaf(x, base="tanh", shape=None, k=10000.0, center=0.0, width=1.0,
         name=None):
  """Applies GAAF elementwise: phi(x) + g(x) s(x).

  Args:
    x: a float16, bfloat16, float32 or float64 tensor of any shape.
    base: phi: 'tanh', 'sigmoid' or 'relu'.
    shape: s: 'exp' (exp(-|x - center| / width); default for tanh and
      sigmoid), 'sigmoid' (sigmoid(-(x - center) / width); default for relu)
      or 'none' (1).
    k: the frequency K of g(x) = (xK - floor(xK) - 1/2) / K (the paper:
      10^4); the output differs from phi by at most 1/(2K).
    center, width: the shape function's parameters.
    name: optional op name.

  Returns:
    A tensor like `x`. Half types are computed in float32.
  """
  x = tf.convert_to_tensor(x)
  check_dtype(x)
  shape = DEFAULT_SHAPES.get(base) if shape is None else shape
  check_arguments(base, shape, k, center, width)
  library = native_library()
  if library is None:
    return reference.gaaf(x, base, shape, k, center, width)
  return library.tf_approx_gaaf(x, base=base, shape=shape, k=float(k),
                                center=float(center), width=float(width),
                                name=name)


@tf.RegisterGradient("TfApprox>Gaaf")
def _gaaf_grad(op, dy):
  library = native_library()
  x = op.inputs[0]
  attrs = op_attrs(op, ("base", "shape", "k", "center", "width"))
  if library is None:  # e.g. an XLA-compiled gradient of a traced graph
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = reference.gaaf(x, **attrs)
    return tape.gradient(y, x, output_gradients=dy)
  return library.tf_approx_gaaf_grad(dy, x, **attrs)
