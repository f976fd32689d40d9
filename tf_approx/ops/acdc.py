"""Op wrappers for ACDC and the orthonormal DCTs.

`TfApprox>Acdc` computes one ACDC layer, y = C^T (C (x ⊙ a) ⊙ d + bias), for
every row of the last axis in one pass (C the orthonormal DCT-II), and
`TfApprox>AcdcGrad` its gradients for x, a, d and bias in one pass,
recomputing C (x ⊙ a) rather than storing it. `TfApprox>Dct` is the DCT
alone. Inside an XLA context, or with `TF_APPROX_PY_OPS=1`, the composite
twins from `tf_approx.reference.acdc` run instead.
"""

import tensorflow as tf

from tf_approx._validation import check_float_parameter
from tf_approx.ops.common import check_dtype
from tf_approx.ops.common import native_library
from tf_approx.ops.common import twin_gradient
from tf_approx.reference import acdc as reference


def dct(x, inverse=False, name=None):
  """The orthonormal DCT-II of the last axis, or its inverse, the DCT-III.

  Equal to `scipy.fft.dct(x, type=2, norm='ortho')` (and with
  `inverse=True` to `scipy.fft.idct(x, type=2, norm='ortho')`), in
  O(n log n) for every length n: radix 2 when n is a power of two,
  Bluestein's algorithm otherwise (a few times slower).

  Args:
    x: a float16, bfloat16, float32 or float64 tensor of rank >= 1; any
      leading shape (including empty).
    inverse: compute the DCT-III, the inverse and transpose of the DCT-II.
    name: optional op name.

  Returns:
    A tensor like `x`. Half types are computed in float32.

  Raises:
    TypeError: x has another dtype.
    tf.errors.InvalidArgumentError (ValueError while tracing a graph with a
      static shape): x is a scalar.
  """
  x = tf.convert_to_tensor(x)
  check_dtype(x)
  library = native_library()
  if library is None:
    return reference.dct(x, inverse)
  return library.tf_approx_dct(x, inverse=bool(inverse), name=name)


@tf.RegisterGradient("TfApprox>Dct")
def _dct_grad(op, dy):
  # The orthonormal DCT matrix is orthogonal: its gradient is its transpose,
  # the other transform.
  inverse = not op.get_attr("inverse")
  library = native_library()
  if library is None:  # e.g. an XLA-compiled gradient of a traced graph
    return reference.dct(dy, inverse)
  return library.tf_approx_dct(dy, inverse=inverse)


def acdc(x, a, d, bias, name=None):
  """One ACDC layer (Moczulski et al., 2016; thesis §3.10).

  For every row x of the last axis (length n),

      y = IDCT(DCT(x * a) * d + bias)

  with DCT the orthonormal DCT-II and IDCT its inverse: the structured
  linear map x A C D C^-1 (plus a bias in the DCT domain), with O(n)
  parameters and O(n log n) time instead of a dense layer's n^2.

  ```python
  n = 8
  y = tf_approx.ops.acdc(tf.ones([4, n]), tf.ones([n]), tf.ones([n]),
                         tf.zeros([n]))  # the identity map: y = x
  ```

  Args:
    x: a float16, bfloat16, float32 or float64 tensor [..., n], n >= 1.
    a, d, bias: the diagonals and the bias, [n] each (cast to x's dtype).
    name: optional op name.

  Returns:
    A tensor like `x`. Half types are computed in float32.

  Raises:
    TypeError: x has another dtype, or a, d or bias does not hold real
      floats (Python ints are read as floats).
    tf.errors.InvalidArgumentError (ValueError while tracing a graph with
      static shapes): x is a scalar, or a, d or bias is not a vector of
      x's last-axis length.
  """
  x = tf.convert_to_tensor(x)
  check_dtype(x)
  a, d, bias = (tf.cast(check_float_parameter(v, arg), x.dtype)
                for v, arg in ((a, "a"), (d, "d"), (bias, "bias")))
  library = native_library()
  if library is None:
    return reference.acdc(x, a, d, bias)
  return library.tf_approx_acdc(x, a, d, bias, name=name)


@tf.RegisterGradient("TfApprox>Acdc")
def _acdc_grad(op, dy):
  x, a, d, bias = op.inputs
  library = native_library()
  if library is None:  # e.g. an XLA-compiled gradient of a traced graph
    return twin_gradient(reference.acdc, [x, a, d, bias], dy)
  return library.tf_approx_acdc_grad(dy, x, a, d)
