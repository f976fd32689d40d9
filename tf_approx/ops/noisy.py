"""Op wrappers for the noisy activation functions and their fused gradient.

`TfApprox>NoisyActivation` computes NAN, NAH, NANI, NANIL and NANIS (thesis §4.3)
for hard tanh and hard sigmoid; `TfApprox>NoisyActivationGrad` returns dx and
dp in one pass, regenerating the forward pass's noise from `seed`. Inside an
XLA context, or with `TF_APPROX_PY_OPS=1`, the composite twin from
`tf_approx.reference.noisy` runs instead.
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
from tf_approx.reference import noisy as reference

BASES = reference.BASES
WHERES = reference.WHERES
NOISES = reference.NOISES


def noisy_activation(x, p, scale, seed=None, base="tanh", where="output",
                     noise="normal", alpha=1.0, training=False, name=None):
  """Applies a noisy hard-saturating activation elementwise.

  Args:
    x: a float16, bfloat16, float32 or float64 tensor of any shape.
    p: the learned parameter: a scalar, or one value per channel of x's last
      axis. Ignored by where='input' and 'input_saturated'.
    scale: a scalar: c for where='output' and 'input_learned', the noise's
      standard deviation sigma for 'input' and 'input_saturated'.
    seed: int64 [seed, step]: the noise is a counter-based hash of these and
      the element's flat index (default [0, 0]); or [seed, step, first],
      which adds `first` to every index. Under a tf.distribute strategy,
      `first` is each replica's offset in the global batch (see
      `ops.common.noise_seed`). On a GPU the kernels read p, scale and seed
      from device memory and do not check their values: a negative `first`
      (an error on the CPU) counts modulo 2^64 there.
    base: 'tanh' or 'sigmoid' (their hard versions).
    where: 'output' (NAN/NAH), 'input' (NANI), 'input_learned' (NANIL) or
      'input_saturated' (NANIS).
    noise: 'normal' or 'half_normal'.
    alpha: the leak of where='output' (the thesis: 1.15 for tanh, 1.1 for
      sigmoid).
    training: draw noise; otherwise use its mean (deterministic).
    name: optional op name.

  Returns:
    A tensor like `x`. Half types are computed in float32. NaN x gives NaN;
    h'(NaN) is 0, so dx at NaN x is 0 for 'input' and 'input_saturated' and
    NaN where Delta(NaN) enters (output, input_learned); likewise dx is 0
    where h's argument is NaN at an infinite x (0 * softplus(inf)).
  """
  x = tf.convert_to_tensor(x)
  check_dtype(x)
  check_choice(base, BASES, "base")
  check_choice(where, WHERES, "where")
  check_choice(noise, NOISES, "noise")
  alpha = check_number(alpha, "alpha")
  p = tf.cast(check_float_parameter(p, "p"), x.dtype)
  scale = tf.cast(check_float_parameter(scale, "scale"), x.dtype)
  training = bool(training)
  seed = noise_seed(seed, x, draws=training)
  library = native_library()
  if library is None:
    return reference.noisy_activation(x, p, scale, seed, base, where, noise,
                                      alpha, training)
  return library.tf_approx_noisy_activation(
      x, p, scale, seed, base=base, where=where, noise=noise,
      alpha=alpha, training=training, name=name)


@tf.RegisterGradient("TfApprox>NoisyActivation")
def _noisy_activation_grad(op, dy):
  """dx and dp; none for scale (a hyperparameter, set by annealing)."""
  library = native_library()
  x, p, scale, seed = op.inputs
  attrs = op_attrs(op, ("base", "where", "noise", "alpha", "training"))
  if library is None:  # e.g. an XLA-compiled gradient of a traced graph
    twin = lambda v, q: reference.noisy_activation(
        v, q, scale, seed, attrs["base"], attrs["where"], attrs["noise"],
        attrs["alpha"], attrs["training"])
    return (*twin_gradient(twin, [x, p], dy), None, None)
  dx, dp = library.tf_approx_noisy_activation_grad(dy, x, p, scale, seed,
                                                   **attrs)
  return dx, dp, None, None
