"""Padé Activation Units composed from plain TensorFlow ops.

The twin of the native PAU kernels (SPEC §2): the oracle the tests compare
them with, and what runs under XLA or with `TF_APPROX_PY_OPS=1`. Gradients
come from autodiff. RPAU noise is computed with the same counter-based hash as
cc/pau/pau.h, so the twin and the kernel draw identical noise.

Unlike the native kernels, powers are formed directly, so |x|^max(m, n) beyond
the dtype's range gives inf/NaN where the kernel switches to a 1/x form.
"""

import numpy as np
import tensorflow as tf

DENOMINATORS = ("safe", "abs_of_sum", "unsafe")
_HALF_TYPES = (tf.float16, tf.bfloat16)
_MASK32 = 0xFFFFFFFF


def _mix(h):
  """The "lowbias32" integer hash on uint32 tensors (pau.h: Mix)."""
  h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, tf.uint32)))
  h = h * tf.constant(0x7FEB352D, tf.uint32)
  h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(15, tf.uint32)))
  h = h * tf.constant(0x846CA68B, tf.uint32)
  return tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, tf.uint32)))


def _u32(value):
  return tf.constant(value & _MASK32, tf.uint32)


def noise_uniform(num_elements, num_coefficients, seed):
  """The RPAU noise u in (-1, 1), float32, shape [num_elements, coefficients].

  Args:
    num_elements: elements of x (noise is indexed by flat element index).
    num_coefficients: m + 1 + n; column j is a_j for j <= m, else b_(j-m).
    seed: int64 tensor [seed, step].
  """
  words = tf.bitcast(tf.cast(seed, tf.int64), tf.uint32)  # [[lo, hi], [lo, hi]]
  seed_lo, seed_hi = words[0, 0], words[0, 1]
  step_lo, step_hi = words[1, 0], words[1, 1]
  xor = tf.bitwise.bitwise_xor
  k0 = _mix(xor(seed_lo, _mix(xor(step_lo, _u32(0x85EBCA6B)))))
  k1 = _mix(xor(xor(seed_hi, _mix(xor(step_hi, _u32(0xC2B2AE35)))), k0))
  index = tf.bitcast(tf.range(num_elements, dtype=tf.int64), tf.uint32)
  element = _mix(xor(xor(_mix(xor(index[:, 0], k0)), index[:, 1]), k1))
  offsets = tf.constant(
      [((j + 1) * 0x9E3779B9) & _MASK32 for j in range(num_coefficients)],
      tf.uint32)
  r = _mix(element[:, None] + offsets[None, :])
  r = tf.bitwise.right_shift(r, tf.constant(8, tf.uint32))
  return (tf.cast(r, tf.float32) * tf.constant(2.0**-23, tf.float32) +
          tf.constant(2.0**-24 - 1.0, tf.float32))


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
