"""Padé Activation Units composed from plain TensorFlow ops.

The twin of the native PAU kernels (SPEC §2): the oracle the tests compare
them with, and what runs under XLA or with `TF_APPROX_PY_OPS=1`. Gradients
come from autodiff. RPAU noise is computed with the same counter-based hash as
cc/common/counter_noise.h, so the twin and the kernel draw identical noise.

Unlike the native kernels, powers are formed directly, so |x|^max(m, n) beyond
the dtype's range gives inf/NaN where the kernel switches to a 1/x form.
"""

import numpy as np
import tensorflow as tf

from tf_approx.reference.counter_noise import noise_uniform

DENOMINATORS = ("safe", "abs_of_sum", "unsafe")
_HALF_TYPES = (tf.float16, tf.bfloat16)


def pau(x, numerator, denominator, denominator_kind="safe", randomized=0.0,
        seed=(0, 0)):
  """F(x) = P(x) / Q(x), as TfApprox>Pau computes it.

  Args:
    x: float tensor of any shape.
    numerator: a_0..a_m, shape [m + 1] or [channels, m + 1].
    denominator: b_1..b_n, shape [n] or [channels, n].
    denominator_kind: 'safe', 'abs_of_sum' or 'unsafe'.
    randomized: RPAU's alpha; 0 for a plain PAU.
    seed: [seed, step] for the RPAU noise.

  Returns:
    A tensor like x.
  """
  if denominator_kind not in DENOMINATORS:
    raise ValueError(f"`denominator_kind` must be one of {DENOMINATORS}, got "
                     f"{denominator_kind!r}")
  x = tf.convert_to_tensor(x)
  out_dtype = x.dtype
  compute = tf.float32 if out_dtype in _HALF_TYPES else out_dtype
  x = tf.cast(x, compute)
  a = tf.cast(tf.convert_to_tensor(numerator), compute)
  b = tf.cast(tf.convert_to_tensor(denominator), compute)
  m = a.shape[-1] - 1
  n = b.shape[-1]
  # Coefficient j as a tensor broadcasting against x: a scalar (shared) or a
  # [channels] vector (per channel, x's last axis).
  coefficients = tf.unstack(tf.concat([a, b], axis=-1), axis=-1)
  if randomized:
    alpha = float(np.float32(randomized))  # a float32 attr of the op
    u = noise_uniform(tf.size(x, out_type=tf.int64), m + 1 + n, seed)
    u = tf.reshape(tf.cast(u, compute), tf.concat([tf.shape(x), [m + 1 + n]], 0))
    noisy = []
    for j, c in enumerate(coefficients):
      # The noise is a constant for the gradient (the paper: "replace the
      # coefficients by their noisy counterparts").
      noisy.append(c + tf.stop_gradient(alpha * tf.abs(c) * u[..., j]))
    coefficients = noisy
  powers = [tf.ones_like(x), x]
  for _ in range(2, max(m, n) + 1):
    powers.append(powers[-1] * x)
  p = coefficients[0] * powers[0]
  for j in range(1, m + 1):
    p += coefficients[j] * powers[j]
  bs = coefficients[m + 1:]
  if denominator_kind == "safe":
    r = sum(tf.abs(bk) * tf.abs(powers[k + 1]) for k, bk in enumerate(bs))
    q = 1.0 + r
  else:
    r = sum(bk * powers[k + 1] for k, bk in enumerate(bs))
    q = 1.0 + (tf.abs(r) if denominator_kind == "abs_of_sum" else r)
  return tf.cast(p / q, out_dtype)
