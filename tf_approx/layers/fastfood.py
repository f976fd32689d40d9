"""Fastfood layers: the deep-fried dense layer and RBF random features.

    h = tf_approx.layers.Fastfood(4096, adaptive=True, activation="relu")(x)
    z = tf_approx.layers.FastfoodRBF(units=2048, sigma=1.0)(x)

Both compute V x with V = S H G Π H B per block (thesis §3.9) by the
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

import keras
import numpy as np
import tensorflow as tf

from tf_approx._validation import check_float_inputs
from tf_approx._validation import check_number
from tf_approx._validation import check_positive_int
from tf_approx._validation import checked_permutation_weights
from tf_approx._validation import last_axis
from tf_approx._validation import seed_or_draw
from tf_approx.ops.fastfood import fastfood

# S, G, B and the permutation hold ceil(units / d) * d >= units entries
# each, at least 16 bytes a unit: 2**31 units would be 32 GiB of weights,
# far past what a layer meant to be cheaper than Dense can use.
MAX_UNITS = 2**31 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_units(units):
  return check_positive_int(units, "units", high=MAX_UNITS)


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
    self.seed = seed_or_draw(seed)
    # XLA cannot compile the native op: under jit_compile the op wrapper
    # switches to the composite twin.
    self.supports_jit = False

  def _build_transform(self, input_shape, outputs, stddev, stddev_arg,
                       trainable, regularizer=None, constraint=None):
    n_in = last_axis(self, input_shape)
    if n_in < 1:
      raise ValueError(f"{type(self).__name__} needs at least one input "
                       f"feature, got input shape {input_shape}")
    self.input_spec = keras.layers.InputSpec(min_ndim=1, axes={-1: n_in})
    self._outputs = outputs
    values = fastfood_init(n_in, outputs, stddev, self.seed)
    dtype = tf.as_dtype(self.variable_dtype)
    with np.errstate(over="ignore"):  # the overflow is what is checked
      stored = values[0].astype(dtype.as_numpy_dtype)
    if not np.all(np.isfinite(stored)):
      raise ValueError(
          f"`{stddev_arg}` is out of range for {dtype.name} weights: S ~ "
          f"sqrt(d) * {stddev:g} (d = {block_size(n_in)}) overflows")
    for name, value in zip(("s", "g", "b"), values):
      setattr(self, name, self.add_weight(
          name=name, shape=value.shape, trainable=trainable,
          initializer=keras.initializers.Constant(value),
          regularizer=regularizer, constraint=constraint))
    self.permutation = self.add_weight(
        name="permutation", shape=values[3].shape, dtype="int32",
        trainable=False, initializer=keras.initializers.Constant(values[3]))

  def set_weights(self, weights):
    super().set_weights(
        checked_permutation_weights(self, weights, ("permutation",)))

  def _transform(self, inputs):
    check_float_inputs(self, inputs)
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

  The trainable diagonals are S, G and B (with `adaptive=True`): they
  take `diagonal_regularizer` and `diagonal_constraint` as a Dense kernel
  takes its own. They have no initializer argument: Le et al.'s draw of
  S, G and B from `seed` (above) is what makes V stand in for a Gaussian
  matrix, and each has its own distribution, so one Keras initializer
  for the three would mean nothing; `stddev` and `seed` set it.

  Args:
    units: the number of outputs, 1 to 2**31 - 1.
    adaptive: train S, G and B.
    activation: applied to the output (a name, e.g. 'relu' or
      'tanh_pade_4_4', or a callable); None: linear.
    use_bias: add a trainable bias.
    stddev: the standard deviation of the Gaussian matrix V imitates at
      init; default 1 / sqrt(input features), as LeCun-normal Dense kernels.
    seed: an int in [0, 2**63 - 1] drawing S, G, B and Π. Default: drawn
      once when the layer is made and kept in its config.
    diagonal_regularizer: a Keras regularizer applied to S, G and B (needs
      adaptive=True).
    diagonal_constraint: a Keras constraint applied to S, G and B after
      each optimizer update (needs adaptive=True).
    bias_initializer, bias_regularizer, bias_constraint: for the bias, as
      in Dense (default zeros, none, none).

  Input shape: (..., n_in), n_in known. Output shape: (..., units).
  """

  def __init__(self, units, adaptive=True, activation=None, use_bias=True,
               stddev=None, seed=None, diagonal_regularizer=None,
               diagonal_constraint=None, bias_initializer="zeros",
               bias_regularizer=None, bias_constraint=None, **kwargs):
    super().__init__(seed, **kwargs)
    self.units = _check_units(units)
    self.adaptive = bool(adaptive)
    self.activation = keras.activations.get(activation)
    self.use_bias = bool(use_bias)
    self.stddev = None if stddev is None else check_number(
        stddev, "stddev", low=0.0, low_open=True)
    self.diagonal_regularizer = keras.regularizers.get(diagonal_regularizer)
    self.diagonal_constraint = keras.constraints.get(diagonal_constraint)
    if not self.adaptive:
      given = [arg for arg, value in (
          ("diagonal_regularizer", self.diagonal_regularizer),
          ("diagonal_constraint", self.diagonal_constraint))
               if value is not None]
      if given:
        raise ValueError(f"`{given[0]}` applies to the trainable S, G and B "
                         "of adaptive=True; with adaptive=False they are "
                         "fixed")
    self.bias_initializer = keras.initializers.get(bias_initializer)
    self.bias_regularizer = keras.regularizers.get(bias_regularizer)
    self.bias_constraint = keras.constraints.get(bias_constraint)

  def build(self, input_shape):
    stddev = self.stddev
    if stddev is None and input_shape and input_shape[-1]:
      stddev = 1.0 / math.sqrt(input_shape[-1])
    self._build_transform(input_shape, self.units, stddev, "stddev",
                          self.adaptive, self.diagonal_regularizer,
                          self.diagonal_constraint)
    if self.use_bias:
      self.bias = self.add_weight(name="bias", shape=(self.units,),
                                  initializer=self.bias_initializer,
                                  regularizer=self.bias_regularizer,
                                  constraint=self.bias_constraint)

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
                  use_bias=self.use_bias, stddev=self.stddev, seed=self.seed,
                  diagonal_regularizer=keras.regularizers.serialize(
                      self.diagonal_regularizer),
                  diagonal_constraint=keras.constraints.serialize(
                      self.diagonal_constraint),
                  bias_initializer=keras.initializers.serialize(
                      self.bias_initializer),
                  bias_regularizer=keras.regularizers.serialize(
                      self.bias_regularizer),
                  bias_constraint=keras.constraints.serialize(
                      self.bias_constraint))
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
    units: the number of features, even, 2 to 2**31 - 2: units / 2 cosines
      then as many sines.
    sigma: the kernel's length scale, > 0, at least 1 / (the largest
      float32): V scales as 1 / sigma.
    seed: an int in [0, 2**63 - 1] drawing S, G, B and Π. Default: drawn
      once when the layer is made and kept in its config.

  Input shape: (..., n_in), n_in known. Output shape: (..., units).
  """

  def __init__(self, units, sigma=1.0, seed=None, **kwargs):
    super().__init__(seed, **kwargs)
    self.units = _check_units(units)
    if self.units % 2:
      raise ValueError(f"`units` must be even (cos and sin features), got "
                       f"{units}")
    self.sigma = check_number(sigma, "sigma", low=1.0 / _FLOAT32_MAX)

  def build(self, input_shape):
    self._build_transform(input_shape, self.units // 2, 1.0 / self.sigma,
                          "sigma", trainable=False)

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
