"""Op wrapper for the fast Walsh–Hadamard transform.

`TfApprox>FastWalshHadamard` transforms the last axis (d = 2^k) of a tensor of
any leading shape. H is symmetric, so the gradient is the same op applied to
dy. Inside an XLA context, or with `TF_APPROX_PY_OPS=1`, the composite twin
from `tf_approx.reference.fastfood` runs instead.
"""

import tensorflow as tf

from tf_approx.ops.common import check_dtype
from tf_approx.ops.common import native_library
from tf_approx.reference import fastfood as reference


def fast_walsh_hadamard(x, normalize=False, name=None):
  """The fast Walsh–Hadamard transform of the last axis.

  y = H_d x for every row x along the last axis, d = 2^k (k >= 0), with H in
  Sylvester (natural) order: H_1 = [1], H_2d = [[H_d, H_d], [H_d, -H_d]], the
  matrix of `scipy.linalg.hadamard(d)`. O(d log d) per row. H H = d I, so
  with `normalize=True` (y = H_d x / sqrt(d)) the transform is orthonormal and
  its own inverse.

  ```python
  x = tf.constant([[1.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
  tf_approx.ops.fast_walsh_hadamard(x)
  # [[1., 1., 1., 1.], [10., -2., -4., 0.]]
  ```

  Args:
    x: a float16, bfloat16, float32 or float64 tensor of rank >= 1 whose last
      axis is a power of two; any leading shape (including empty).
    normalize: scale the result by 1/sqrt(d).
    name: optional op name.

  Returns:
    A tensor like `x`. Half types are computed and accumulated in float32.

  Raises:
    TypeError: x has another dtype.
    tf.errors.InvalidArgumentError (ValueError while tracing a graph with a
      static shape): x is a scalar or its last axis is not a power of two.
  """
  x = tf.convert_to_tensor(x)
  check_dtype(x)
  library = native_library()
  if library is None:
    return reference.fast_walsh_hadamard(x, normalize)
  return library.tf_approx_fast_walsh_hadamard(x, normalize=bool(normalize),
                                               name=name)


@tf.RegisterGradient("TfApprox>FastWalshHadamard")
def _fast_walsh_hadamard_grad(op, dy):
  # dL/dx = H^T dy = H dy (scaled alike): H is symmetric.
  normalize = op.get_attr("normalize")
  library = native_library()
  if library is None:  # e.g. an XLA-compiled gradient of a traced graph
    return reference.fast_walsh_hadamard(dy, normalize)
  return library.tf_approx_fast_walsh_hadamard(dy, normalize=normalize)
