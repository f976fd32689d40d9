"""Op wrappers for Padé Activation Units and their fused gradient.

`TfApprox>Pau` computes F(x) = P(x)/Q(x) for any order 1 <= m, n <= 10 and
three denominators; `TfApprox>PauGrad` returns dx and both coefficient
gradients in one pass. Inside an XLA context, or with `TF_APPROX_PY_OPS=1`,
the composite twin from `tf_approx.reference.pau` runs instead.
"""

import tensorflow as tf

from tf_approx._validation import check_choice
from tf_approx._validation import check_float_parameter
from tf_approx._validation import check_number
from tf_approx.ops.common import check_dtype
from tf_approx.ops.common import native_library
from tf_approx.ops.common import twin_gradient
from tf_approx.ops.common import noise_seed
from tf_approx.ops.common import op_attrs
from tf_approx.reference import pau as reference

DENOMINATORS = reference.DENOMINATORS
MAX_ORDER = 10


def pau(x, numerator, denominator, denominator_kind="safe", randomized=0.0,
        seed=None, name=None):
  """Applies a Padé Activation Unit elementwise.

  Args:
    x: a float16, bfloat16, float32 or float64 tensor of any shape.
    numerator: a_0..a_m (1 <= m <= 10), shape [m + 1] (shared) or
      [channels, m + 1] (one set per channel of x's last axis).
    denominator: b_1..b_n (1 <= n <= 10), shape [n] or [channels, n].
    denominator_kind: 'safe' (Q = 1 + sum |b_k||x|^k), 'abs_of_sum'
      (Q = 1 + |sum b_k x^k|) or 'unsafe' (Q = 1 + sum b_k x^k).
    randomized: RPAU's alpha: every coefficient c of every element becomes
      c + alpha |c| u, u ~ U(-1, 1). 0 (default) for a plain PAU.
    seed: int64 [seed, step] for the RPAU noise (default [0, 0]), or
      [seed, step, first]: the noise of an element is keyed by its flat index
      plus `first`. Under a tf.distribute strategy, `first` is each
      replica's offset in the global batch (see `ops.common.noise_seed`).
    name: optional op name.

  Returns:
    A tensor like `x`. Half types are computed in float32.
  """
  x = tf.convert_to_tensor(x)
  check_dtype(x)
  check_choice(denominator_kind, DENOMINATORS, "denominator_kind")
  randomized = check_number(randomized, "randomized", low=0.0)
  numerator = tf.cast(check_float_parameter(numerator, "numerator"), x.dtype)
  denominator = tf.cast(check_float_parameter(denominator, "denominator"),
                        x.dtype)
  seed = noise_seed(seed, x, draws=bool(randomized))
  library = native_library()
  if library is None:
    return reference.pau(x, numerator, denominator, denominator_kind,
                         randomized, seed)
  return library.tf_approx_pau(x, numerator, denominator, seed,
                               denominator_kind=denominator_kind,
                               randomized=randomized, name=name)


@tf.RegisterGradient("TfApprox>Pau")
def _pau_grad(op, dy):
  library = native_library()
  x, numerator, denominator, seed = op.inputs
  attrs = op_attrs(op, ("denominator_kind", "randomized"))
  kind, randomized = attrs["denominator_kind"], attrs["randomized"]
  if library is None:  # e.g. an XLA-compiled gradient of a traced graph
    twin = lambda *v: reference.pau(*v, kind, randomized, seed)
    return (*twin_gradient(twin, [x, numerator, denominator], dy), None)
  dx, dnumerator, ddenominator = library.tf_approx_pau_grad(
      dy, x, numerator, denominator, seed, denominator_kind=kind,
      randomized=randomized)
  return dx, dnumerator, ddenominator, None
