"""Op wrappers for the fast Walsh–Hadamard transform and Adaptive Fastfood.

`TfApprox>FastWalshHadamard` transforms the last axis (d = 2^k) of a tensor of
any leading shape. H is symmetric, so the gradient is the same op applied to
dy. `TfApprox>Fastfood` computes S H G Π H B x in blocks, and
`TfApprox>FastfoodGrad` its gradients for x, S, G and B in one pass. Inside
an XLA context, or with `TF_APPROX_PY_OPS=1`, the composite twin from
`tf_approx.reference.fastfood` runs instead.
"""

import tensorflow as tf

from tf_approx._validation import check_float_parameter
from tf_approx._validation import check_permutation
from tf_approx._validation import check_positive_int
from tf_approx.ops.common import check_dtype
from tf_approx.ops.common import native_library
from tf_approx.ops.common import twin_gradient
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


def max_units(d):
  """The largest `units` the op takes for blocks of size d (None: unknown).

  The op computes blocks = ceil(units / d) = (units + d - 1) // d in int64,
  so units + d - 1 must fit int64. d is at most 2**31, the most an int32
  permutation can index.
  """
  return 2**63 - (d if d is not None else 2**31)


def fastfood(x, s, g, b, permutation, units, normalize=False, name=None):
  """Adaptive Fastfood: a structured d x d (per block) linear map.

  For every row x of the last axis (n_in <= d features, zero-padded to d),
  block k of the output is

      y_k = S_k H G_k Π_k H B_k x

  with S_k, G_k, B_k diagonal, (Π_k v)_i = v[permutation[k, i]] and H the
  Walsh–Hadamard matrix (each scaled by 1/sqrt(d) when `normalize`).
  blocks = ceil(units / d) blocks are stacked and truncated to `units`
  outputs (Yang et al., "Deep Fried Convnets"; thesis §3.9). O(units log d)
  time per row and no d x d matrix.

  ```python
  d, units = 8, 12  # two blocks
  s, g, b = (tf.ones([2, d]) for _ in range(3))
  perm = tf.stack([tf.range(d), tf.range(d)[::-1]])
  y = tf_approx.ops.fastfood(tf.ones([4, 5]), s, g, b, perm, units)  # [4, 12]
  ```

  Args:
    x: a float16, bfloat16, float32 or float64 tensor [..., n_in].
    s, g, b: the diagonals, [blocks, d] each (d a power of two >= n_in).
    permutation: int32 or int64 [blocks, d], each row a permutation of
      0..d-1 (int64 values are checked to fit int32, floats refused).
    units: the number of outputs, d * (blocks - 1) < units <= d * blocks
      (and at most `max_units(d)`, so that the block count fits int64).
    normalize: scale each H by 1/sqrt(d).
    name: optional op name.

  Returns:
    A tensor [..., units] like `x`. Half types are computed in float32.

  Raises:
    TypeError: x has another dtype; s, g or b does not hold real floats;
      permutation is not an integer; units is not an int.
    ValueError: units < 1 or past `max_units`; int64 permutation values
      outside [0, d).
    tf.errors.InvalidArgumentError (ValueError while tracing a graph with
      static shapes): shapes that do not fit together, or rows of
      permutation that are not permutations.
  """
  x = tf.convert_to_tensor(x)
  check_dtype(x)
  s, g, b = (tf.cast(check_float_parameter(v, arg), x.dtype)
             for v, arg in ((s, "s"), (g, "g"), (b, "b")))
  d = s.shape[-1] if s.shape.rank else None
  units = check_positive_int(units, "units", high=max_units(d))
  permutation = check_permutation(permutation, "permutation")
  library = native_library()
  if library is None:
    return reference.fastfood(x, s, g, b, permutation, units, normalize)
  return library.tf_approx_fastfood(x, s, g, b, permutation, units=units,
                                    normalize=bool(normalize), name=name)


@tf.RegisterGradient("TfApprox>Fastfood")
def _fastfood_grad(op, dy):
  x, s, g, b, permutation = op.inputs
  units = op.get_attr("units")
  normalize = op.get_attr("normalize")
  library = native_library()
  if library is None:  # e.g. an XLA-compiled gradient of a traced graph
    twin = lambda *v: reference.fastfood(*v, permutation, units, normalize)
    return (*twin_gradient(twin, [x, s, g, b], dy), None)
  dx, ds, dg, db = library.tf_approx_fastfood_grad(
      dy, x, s, g, b, permutation, units=units, normalize=normalize)
  return dx, ds, dg, db, None
