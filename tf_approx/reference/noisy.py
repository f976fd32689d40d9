"""The noisy activation functions composed from plain TensorFlow ops.

The twin of the native kernels (thesis §4.3; cc/noisy/noisy.h has the formulas):
the oracle the tests compare them with, and what runs under XLA or with
`TF_APPROX_PY_OPS=1`. Gradients come from autodiff, with the noise a
constant. The noise is the kernels' counter-based noise
(`counter_noise.standard_normal`), so both draw the same numbers up to a few
float32 ulps of erfinv.
"""

import math

import numpy as np
import tensorflow as tf

from tf_approx.reference import counter_noise

BASES = ("tanh", "sigmoid")
WHERES = ("output", "input", "input_learned", "input_saturated")
NOISES = ("normal", "half_normal")
HALF_NORMAL_MEAN = math.sqrt(2.0 / math.pi)
_HALF_TYPES = (tf.float16, tf.bfloat16)
# base: (slope, offset, low, high, threshold) of u = slope x + offset,
# h = clip(u, low, high), linear for |x| <= threshold.
_HARD = {"tanh": (1.0, 0.0, -1.0, 1.0, 1.0),
         "sigmoid": (0.25, 0.5, 0.0, 1.0, 2.0)}


def hard(base, x):
  """(u, h) of the hard function `base` at x.

  h' is u' exactly where linear and 0 elsewhere, at NaN x too (as in the
  kernel, whose dx at NaN is NaN only where it reads Delta(NaN)).
  """
  slope, offset, low, high, threshold = _HARD[base]
  u = slope * x + offset
  saturated = tf.clip_by_value(tf.stop_gradient(u), low, high)
  h = tf.where(tf.abs(x) <= threshold, u, saturated)
  # NaN x: the comparison is false and clip_by_value may drop the NaN.
  h = tf.where(tf.math.is_nan(x), tf.stop_gradient(x), h)
  return u, h


def noise(x, kind, training, seed):
  """eps for every element of x: xi ~ N(0, 1) or |xi|, or its mean."""
  if not training:
    mean = HALF_NORMAL_MEAN if kind == "half_normal" else 0.0
    return tf.fill(tf.shape(x), tf.constant(mean, x.dtype))
  xi = counter_noise.standard_normal(tf.size(x, out_type=tf.int64), seed)
  xi = tf.reshape(tf.cast(xi, x.dtype), tf.shape(x))
  return tf.abs(xi) if kind == "half_normal" else xi


def noisy_activation(x, p, scale, seed=(0, 0), base="tanh", where="output",
                     noise_kind="normal", alpha=1.0, training=False):
  """phi(x) as TfApprox>NoisyActivation computes it (see cc/noisy/noisy.h).

  Args:
    x: float tensor of any shape.
    p: a scalar or one value per channel of x's last axis.
    scale: scalar, c (output, input_learned) or sigma (input,
      input_saturated).
    seed: int64 [seed, step] for the noise.
    base: 'tanh' or 'sigmoid' (their hard versions).
    where: 'output', 'input', 'input_learned' or 'input_saturated'.
    noise_kind: 'normal' or 'half_normal'.
    alpha: the leak of where='output'.
    training: draw noise; else use its mean.

  Returns:
    A tensor like x.
  """
  x = tf.convert_to_tensor(x)
  out_dtype = x.dtype
  compute = tf.float32 if out_dtype in _HALF_TYPES else out_dtype
  x = tf.cast(x, compute)
  p = tf.cast(p, compute)
  scale = tf.cast(scale, compute)
  eps = tf.stop_gradient(noise(x, noise_kind, training, seed))
  u, h = hard(base, x)
  delta = h - u
  if where == "output":
    alpha = float(np.float32(alpha))  # a float32 attr of the op
    direction = float(np.sign(1.0 - alpha))
    # sigmoid(t) - 1/2 without the subtraction's cancellation for tiny t.
    half = 0.5 * tf.tanh(0.5 * (p * delta))
    sigma = scale * half * half
    y = alpha * h + (1.0 - alpha) * u - tf.sign(x) * direction * sigma * eps
  else:
    if where == "input":
      sigma = scale
    elif where == "input_saturated":
      threshold = _HARD[base][4]
      sigma = tf.where(tf.abs(x) >= threshold, scale, tf.zeros_like(x))
    else:
      sigma = scale * tf.math.softplus(p * tf.abs(delta))
    _, y = hard(base, x + sigma * eps)
  return tf.cast(y, out_dtype)
