"""Fastfood layers: the deep-fried dense layer and RBF random features.

    h = tf_approx.layers.Fastfood(4096, adaptive=True, activation="relu")(x)
    z = tf_approx.layers.FastfoodRBF(units=2048, sigma=1.0)(x)

Both compute V x with V = S H G Π H B per block (SPEC §3, thesis §3.9) by the
fused native op: O(units log d) time and O(units) parameters for an input of
n_in <= d = 2^k features, instead of a dense layer's O(units n_in).

Initialisation (Le et al., 2013): B = ±1, G ~ N(0, 1), Π a random
permutation, and S_ii = stddev * sqrt(d) * s_i / ||G||_F with s_i ~ chi(d),
per block, H orthonormal (H / sqrt(d)). Each row of V then has the length
distribution of a d-dimensional Gaussian vector with entries N(0, stddev^2),
and each entry variance stddev^2: V is a cheap stand-in for a Gaussian matrix.
Everything is drawn from `seed` when the layer is built, and stored as
weights (the permutation as a non-trainable int32 weight), so a reloaded
model computes the same function without drawing anything.
"""

import math
import numbers
import operator

import keras
import numpy as np

from tf_approx.ops.fastfood import fastfood


def _check_positive_int(value, arg):
  if isinstance(value, bool) or not isinstance(value, numbers.Integral):
    raise ValueError(f"`{arg}` must be a positive int, got {value!r}")
  if value < 1:
    raise ValueError(f"`{arg}` must be >= 1, got {value}")
  return int(value)


def _check_positive_float(value, arg):
  try:
    value = float(value)
  except (TypeError, ValueError):
    raise ValueError(f"`{arg}` must be a positive number, got "
                     f"{value!r}") from None
  if not value > 0 or not math.isfinite(value):
    raise ValueError(f"`{arg}` must be a positive finite number, got {value}")
  return value


def _seed(seed):
  if seed is None:
    return int(np.random.randint(0, 2**31 - 1))
  return operator.index(seed)


def block_size(n_in):
  """d: the smallest power of two >= n_in."""
  return 1 << max(0, int(n_in) - 1).bit_length()


def fastfood_init(n_in, units, stddev, seed):
  """Le et al.'s random S, G, B and Π for `units` outputs of n_in inputs.

  Args:
    n_in: input features; d = block_size(n_in).
    units: outputs; blocks = ceil(units / d).
    stddev: the standard deviation of the Gaussian matrix V stands in for.
    seed: an int; the same seed gives the same arrays on every machine
      (numpy's PCG64).

  Returns:
    (s, g, b, permutation): float64 [blocks, d] each and int32 [blocks, d],
    for `tf_approx.ops.fastfood(..., normalize=True)`.
  """
  d = block_size(n_in)
  blocks = -(-units // d)
  rng = np.random.default_rng(seed)
  b = rng.choice([-1.0, 1.0], size=(blocks, d))
  g = rng.standard_normal((blocks, d))
  chi = np.sqrt(rng.chisquare(d, size=(blocks, d)))
  s = stddev * math.sqrt(d) * chi / np.linalg.norm(g, axis=1, keepdims=True)
  permutation = np.stack([rng.permutation(d) for _ in range(blocks)])
  return s, g, b, permutation.astype(np.int32)


class _FastfoodTransform(keras.layers.Layer):
  """The weights and the call of V x, shared by the two layers."""

  def __init__(self, seed, **kwargs):
    super().__init__(**kwargs)
    self.seed = _seed(seed)
    # XLA cannot compile the native op: under jit_compile the op wrapper
    # switches to the composite twin.
    self.supports_jit = False

  def _build_transform(self, input_shape, outputs, stddev, trainable):
    n_in = input_shape[-1] if input_shape else None
    if n_in is None:
      raise ValueError(f"{type(self).__name__} needs a known last axis, got "
                       f"input shape {input_shape}")
    if n_in < 1:
      raise ValueError(f"{type(self).__name__} needs at least one input "
                       f"feature, got input shape {input_shape}")
    self._outputs = outputs
    values = fastfood_init(n_in, outputs, stddev, self.seed)
    for name, value in zip(("s", "g", "b"), values):
      setattr(self, name, self.add_weight(
          name=name, shape=value.shape, trainable=trainable,
          initializer=keras.initializers.Constant(value)))
    self.permutation = self.add_weight(
        name="permutation", shape=values[3].shape, dtype="int32",
        trainable=False, initializer=keras.initializers.Constant(values[3]))

  def _transform(self, inputs):
    return fastfood(inputs, self.s, self.g, self.b, self.permutation,
                    self._outputs, normalize=True)


@keras.saving.register_keras_serializable(package="tf_approx")
class Fastfood(_FastfoodTransform):
  """A dense layer whose matrix is an (Adaptive) Fastfood transform.

  `activation(V x + bias)` with V = S H G Π H B stacked in ceil(units / d)
  blocks (d = the next power of two >= the input features, which are
  zero-padded to it). With `adaptive=True` (Yang et al., "Deep Fried
  Convnets"; thesis §3.9) S, G and B are trained; with `adaptive=False`
  they stay at their random initialisation (Le et al.'s Fastfood).
  Parameters: 3 * blocks * d (+ units for the bias), against a Dense
  layer's (n_in + 1) * units.

  Args:
    units: the number of outputs, >= 1.
    adaptive: train S, G and B.
    activation: applied to the output (a name, e.g. 'relu' or
      'tanh_pade_4_4', or a callable); None: linear.
    use_bias: add a trainable bias (zeros at init).
    stddev: the standard deviation of the Gaussian matrix V imitates at
      init; default 1 / sqrt(input features), as LeCun-normal Dense kernels.
    seed: an int drawing S, G, B and Π. Default: drawn once when the layer
      is made and kept in its config.
  """

  def __init__(self, units, adaptive=True, activation=None, use_bias=True,
               stddev=None, seed=None, **kwargs):
    super().__init__(seed, **kwargs)
    self.units = _check_positive_int(units, "units")
    self.adaptive = bool(adaptive)
    self.activation = keras.activations.get(activation)
    self.use_bias = bool(use_bias)
    self.stddev = None if stddev is None else _check_positive_float(
        stddev, "stddev")

  def build(self, input_shape):
    stddev = self.stddev
    if stddev is None and input_shape and input_shape[-1]:
      stddev = 1.0 / math.sqrt(input_shape[-1])
    self._build_transform(input_shape, self.units, stddev, self.adaptive)
    if self.use_bias:
      self.bias = self.add_weight(name="bias", shape=(self.units,),
                                  initializer="zeros")

  def call(self, inputs):
    outputs = self._transform(inputs)
    if self.use_bias:
      outputs = outputs + self.bias
    return self.activation(outputs)

  def compute_output_shape(self, input_shape):
    return (*input_shape[:-1], self.units)

  def get_config(self):
    config = super().get_config()
    config.update(units=self.units, adaptive=self.adaptive,
                  activation=keras.activations.serialize(self.activation),
                  use_bias=self.use_bias, stddev=self.stddev, seed=self.seed)
    return config


@keras.saving.register_keras_serializable(package="tf_approx")
class FastfoodRBF(_FastfoodTransform):
  """Random Fourier features of the Gaussian (RBF) kernel, by Fastfood.

  z(x) = [cos(V x), sin(V x)] / sqrt(units / 2), V a non-adaptive Fastfood
  transform with units / 2 rows imitating a N(0, 1 / sigma^2) Gaussian
  matrix (Le et al., 2013; thesis eq. 3.17). Then z(x) . z(x') approximates
  exp(-||x - x'||^2 / (2 sigma^2)), with an error falling as 1 / sqrt(units).
  S, G, B are not trained (the layer's weights are all non-trainable).

  Args:
    units: the number of features, even: units / 2 cosines then as many
      sines.
    sigma: the kernel's length scale, > 0.
    seed: an int drawing S, G, B and Π. Default: drawn once when the layer
      is made and kept in its config.
  """

  def __init__(self, units, sigma=1.0, seed=None, **kwargs):
    super().__init__(seed, **kwargs)
    self.units = _check_positive_int(units, "units")
    if self.units % 2:
      raise ValueError(f"`units` must be even (cos and sin features), got "
                       f"{units}")
    self.sigma = _check_positive_float(sigma, "sigma")

  def build(self, input_shape):
    self._build_transform(input_shape, self.units // 2, 1.0 / self.sigma,
                          trainable=False)

  def call(self, inputs):
    projection = self._transform(inputs)
    features = keras.ops.concatenate(
        [keras.ops.cos(projection), keras.ops.sin(projection)], axis=-1)
    return features * (1.0 / math.sqrt(self.units // 2))

  def compute_output_shape(self, input_shape):
    return (*input_shape[:-1], self.units)

  def get_config(self):
    config = super().get_config()
    config.update(units=self.units, sigma=self.sigma, seed=self.seed)
    return config
