"""The counter-based noise of cc/common/counter_noise.h, in TensorFlow ops.

The native kernels hash (seed, step, element index) into their noise, so the
backward pass regenerates it; these functions compute the very same numbers,
so the composite twins draw the noise the kernels draw.
"""

import numpy as np
import tensorflow as tf

_MASK32 = 0xFFFFFFFF


def _mix(h):
  """The "lowbias32" integer hash on uint32 tensors (counter_noise.h: Mix)."""
  h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, tf.uint32)))
  h = h * tf.constant(0x7FEB352D, tf.uint32)
  h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(15, tf.uint32)))
  h = h * tf.constant(0x846CA68B, tf.uint32)
  return tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, tf.uint32)))


def _u32(value):
  return tf.constant(value & _MASK32, tf.uint32)


def noise_uniform(num_elements, num_coefficients, seed):
  """Uniform noise u in (-1, 1), float32, shape [num_elements, coefficients].

  Args:
    num_elements: elements of x (noise is indexed by flat element index).
    num_coefficients: m + 1 + n; column j is a_j for j <= m, else b_(j-m).
    seed: int64 tensor [seed, step], or [seed, step, first] where `first` is
      the global index of x's first element (a replica's offset in the
      global batch); [seed, step] means first = 0.
  """
  seed = tf.cast(seed, tf.int64)
  words = tf.bitcast(seed[:2], tf.uint32)  # [[lo, hi], [lo, hi]]
  seed_lo, seed_hi = words[0, 0], words[0, 1]
  step_lo, step_hi = words[1, 0], words[1, 1]
  xor = tf.bitwise.bitwise_xor
  k0 = _mix(xor(seed_lo, _mix(xor(step_lo, _u32(0x85EBCA6B)))))
  k1 = _mix(xor(xor(seed_hi, _mix(xor(step_hi, _u32(0xC2B2AE35)))), k0))
  first = seed[2] if seed.shape[0] == 3 else tf.constant(0, tf.int64)
  index = tf.bitcast(tf.range(num_elements, dtype=tf.int64) + first,
                     tf.uint32)
  element = _mix(xor(xor(_mix(xor(index[:, 0], k0)), index[:, 1]), k1))
  offsets = tf.constant(
      [((j + 1) * 0x9E3779B9) & _MASK32 for j in range(num_coefficients)],
      tf.uint32)
  r = _mix(element[:, None] + offsets[None, :])
  r = tf.bitwise.right_shift(r, tf.constant(8, tf.uint32))
  return (tf.cast(r, tf.float32) * tf.constant(2.0**-23, tf.float32) +
          tf.constant(2.0**-24 - 1.0, tf.float32))




def normal_from_uniform(u):
  """sqrt(2) erfinv(u), float32 in and out, finite for every u the hash draws.

  Computed in float64: float32 tf.math.erfinv gives inf at the largest draw,
  1 - 2^-24, where the true value (and the kernel's) is about 5.42.
  """
  return tf.cast(np.sqrt(2.0) * tf.math.erfinv(tf.cast(u, tf.float64)),
                 tf.float32)


def standard_normal(num_elements, seed):
  """The noisy activations' noise: N(0, 1) in float32, [num_elements].

  `normal_from_uniform` of the first uniform of each element. The kernel
  (cc/common/vector_math.h: StandardNormal) evaluates erfinv with Giles'
  single-precision approximation, so the two differ by a few float32 ulps.
  """
  return normal_from_uniform(noise_uniform(num_elements, 1, seed)[:, 0])
