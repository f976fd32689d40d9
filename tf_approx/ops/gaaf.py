"""Op wrappers for GAAF, gradient acceleration in activation functions.

`TfApprox>Gaaf` computes phi(x) + g(x) s(x) (Hahn and Choi, GAAF) with g accurate for any
|x|; `TfApprox>GaafGrad` its gradient phi' + s + g s'. Inside an XLA context,
or with `TF_APPROX_PY_OPS=1`, the composite twin from
`tf_approx.reference.gaaf` runs instead.
"""

import tensorflow as tf

from tf_approx._validation import check_choice
from tf_approx._validation import check_number
from tf_approx.ops.common import check_dtype
from tf_approx.ops.common import native_library
from tf_approx.ops.common import twin_gradient
from tf_approx.ops.common import op_attrs
from tf_approx.reference import gaaf as reference

BASES = reference.BASES
SHAPES = reference.SHAPES
DEFAULT_SHAPES = reference.DEFAULT_SHAPES


def check_arguments(base, shape, k, center, width, names=None):
  """The arguments as (base, shape, k, center, width) floats for the op.

  Args:
    base, shape, k, center, width: as `gaaf` takes them.
    names: {argument: the caller's name for it} where the caller names
      them otherwise (GAAF's `activation`, and `K` in old configs).

  Raises:
    ValueError, TypeError: naming the first bad argument as the caller
      spelt it.
  """
  names = dict(names or {})
  name = lambda arg: names.get(arg, arg)
  check_choice(base, BASES, name("base"))
  check_choice(shape, SHAPES, name("shape"))
  k = check_number(k, name("k"), low=0.0, low_open=True)
  center = check_number(center, name("center"))
  width = check_number(width, name("width"), low=0.0, low_open=True)
  return base, shape, k, center, width


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

  g is computed from the exact product xK: its fractional part is rounded
  once, so where xK is a tiny negative number g is the correctly rounded
  1/(2K) - |x|, not -1/(2K). At x = +-inf g has no limit (the sawtooth keeps
  oscillating): where s(+-inf) = 0 (shape 'exp'; 'sigmoid' at +inf) g s and
  g s' take their limit 0 and the value and gradient are phi's limits; where
  s(+-inf) != 0 (shape 'none'; 'sigmoid' at -inf) the value and the gradient
  are NaN. See docs/gaaf.md.
  """
  x = tf.convert_to_tensor(x)
  check_dtype(x)
  if shape is None and isinstance(base, str):
    shape = DEFAULT_SHAPES.get(base)
  base, shape, k, center, width = check_arguments(base, shape, k, center,
                                                 width)
  library = native_library()
  if library is None:
    return reference.gaaf(x, base, shape, k, center, width)
  return library.tf_approx_gaaf(x, base=base, shape=shape, k=k, center=center,
                                width=width, name=name)


@tf.RegisterGradient("TfApprox>Gaaf")
def _gaaf_grad(op, dy):
  library = native_library()
  x = op.inputs[0]
  attrs = op_attrs(op, ("base", "shape", "k", "center", "width"))
  if library is None:  # e.g. an XLA-compiled gradient of a traced graph
    return twin_gradient(lambda v: reference.gaaf(v, **attrs), [x], dy)[0]
  return library.tf_approx_gaaf_grad(dy, x, **attrs)
