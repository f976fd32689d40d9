"""ACDC and SELL Keras layers (SPEC §4, thesis §3.10).

    h = tf_approx.layers.ACDC()(x)                   # a, d ~ N(1, 0.1²)
    h = tf_approx.layers.SELL(depth=12, activation="relu")(x)
    tf_approx.layers.SELL(depth=4, units=1000)       # e.g. 784 in, 1000 out

Each ACDC layer is y = IDCT(DCT(x ⊙ a) ⊙ d + bias) on the last axis: 3n
parameters and O(n log n) time for n features, instead of a dense layer's
n² + n. The diagonals start as N(1, sigma²): close to the identity map,
which the thesis (Fig. 3.4) shows deep stacks need; N(0, ·) fails for them.
"""

import operator

import keras
import numpy as np
import tensorflow as tf

from tf_approx._validation import check_number
from tf_approx._validation import last_axis
from tf_approx.ops.acdc import acdc


def _diagonal_initializer(mean, sigma, seed):
  return keras.initializers.RandomNormal(mean, sigma, seed=seed)


def _check_count(value, arg):
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise ValueError(f"`{arg}` must be a positive int, got {value!r}")
  if value < 1:
    raise ValueError(f"`{arg}` must be >= 1, got {value}")
  return int(value)


@keras.saving.register_keras_serializable(package="tf_approx")
class ACDC(keras.layers.Layer):
  """One ACDC layer: y = IDCT(DCT(x ⊙ a) ⊙ d + bias) on the last axis.

  DCT is the orthonormal DCT-II, IDCT its inverse; the output has the
  input's shape. One fused native op computes the layer per row without
  writing intermediates, and one computes all gradients, recomputing the
  DCT of x ⊙ a instead of storing it.

  Args:
    sigma: the standard deviation of the N(mean, sigma²) initialisation of
      a and d (the thesis' default 0.1).
    use_bias: add the trainable bias in the DCT domain (zeros at init).
    seed: an int seeding the initialisation (default: Keras' global RNG).
    mean: the mean of that initialisation: 1 (the thesis' choice, near the
      identity map); 0 reproduces the initialisation the thesis shows
      failing for deep stacks.
  """

  def __init__(self, sigma=0.1, use_bias=True, seed=None, mean=1.0,
               **kwargs):
    super().__init__(**kwargs)
    self.sigma = check_number(sigma, "sigma", low=0)
    self.mean = check_number(mean, "mean")
    self.use_bias = bool(use_bias)
    self.seed = None if seed is None else operator.index(seed)
    # XLA cannot compile the native op: under jit_compile the op wrapper
    # switches to the composite twin.
    self.supports_jit = False

  def build(self, input_shape):
    n = last_axis(self, input_shape)
    seeds = (None, None) if self.seed is None else (self.seed,
                                                     self.seed + 1)
    self.a = self.add_weight(
        name="a", shape=(n,),
        initializer=_diagonal_initializer(self.mean, self.sigma, seeds[0]))
    self.d = self.add_weight(
        name="d", shape=(n,),
        initializer=_diagonal_initializer(self.mean, self.sigma, seeds[1]))
    if self.use_bias:
      self.bias = self.add_weight(name="bias", shape=(n,),
                                  initializer="zeros")

  def call(self, inputs):
    bias = self.bias if self.use_bias else tf.zeros_like(self.a)
    return acdc(inputs, self.a, self.d, bias)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config.update(sigma=self.sigma, use_bias=self.use_bias, seed=self.seed,
                  mean=self.mean)
    return config


@keras.saving.register_keras_serializable(package="tf_approx")
class SELL(keras.layers.Layer):
  """A structured efficient linear layer: `depth` ACDC layers in a row.

  Layer k is ACDC_k followed by `activation`, and between consecutive
  layers the features are permuted by a fixed random permutation, which
  keeps adjacent ACDC layers incoherent (thesis §3.10.7.2). With n_in input
  features and `units` outputs, the stack is N = max(n_in, units) wide: the
  input is zero-padded to N and the output truncated to `units` (so when
  units > n_in the extra outputs start from the padding, which the DCTs
  mix with every input).

  Parameters: 3 * depth * N (2 * depth * N without biases), against a dense
  layer's (n_in + 1) * units; the permutations are stored as a
  non-trainable int32 weight [depth - 1, N].

  Args:
    depth: the number of ACDC layers, >= 1.
    units: the output width; default: the input width.
    activation: applied after every ACDC layer (a name or callable); None:
      the stack is linear.
    sigma: a and d start as N(mean, sigma²).
    use_bias: a bias in every ACDC layer.
    seed: an int drawing the permutations and seeding the initialisation.
      Default: drawn once when the layer is made and kept in its config.
    mean: see `ACDC`: 1 (default) or 0 (the initialisation that fails).
  """

  def __init__(self, depth, units=None, activation=None, sigma=0.1,
               use_bias=True, seed=None, mean=1.0, **kwargs):
    super().__init__(**kwargs)
    self.depth = _check_count(depth, "depth")
    self.units = None if units is None else _check_count(units, "units")
    self.activation = keras.activations.get(activation)
    self.sigma = check_number(sigma, "sigma", low=0)
    self.mean = check_number(mean, "mean")
    self.use_bias = bool(use_bias)
    if seed is None:
      seed = int(np.random.randint(0, 2**31 - 1))
    self.seed = operator.index(seed)
    self.supports_jit = False

  def build(self, input_shape):
    n_in = last_axis(self, input_shape)
    self._n_in = n_in
    self._width = max(n_in, self.units or n_in)
    shape = (self.depth, self._width)
    self.a = self.add_weight(
        name="a", shape=shape,
        initializer=_diagonal_initializer(self.mean, self.sigma, self.seed))
    self.d = self.add_weight(
        name="d", shape=shape,
        initializer=_diagonal_initializer(self.mean, self.sigma,
                                          self.seed + 1))
    if self.use_bias:
      self.bias = self.add_weight(name="bias", shape=shape,
                                  initializer="zeros")
    rng = np.random.default_rng(self.seed)
    permutations = np.zeros((self.depth - 1, self._width), np.int32)
    for row in permutations:
      row[:] = rng.permutation(self._width)
    self.permutations = self.add_weight(
        name="permutations", shape=permutations.shape, dtype="int32",
        trainable=False, initializer=keras.initializers.Constant(permutations))

  def call(self, inputs):
    h = inputs
    if self._width > self._n_in:
      pad = [[0, 0]] * (len(inputs.shape) - 1) + [[0,
                                                   self._width - self._n_in]]
      h = tf.pad(h, pad)
    # One unstack per weight rather than a slice per layer: deep, narrow
    # stacks are bound by the number of ops.
    a = tf.unstack(self.a, num=self.depth)
    d = tf.unstack(self.d, num=self.depth)
    bias = (tf.unstack(self.bias, num=self.depth) if self.use_bias else
            [tf.zeros_like(a[0])] * self.depth)
    permutations = tf.unstack(self.permutations, num=self.depth - 1)
    for k in range(self.depth):
      if k > 0:
        h = tf.gather(h, permutations[k - 1], axis=-1)
      h = self.activation(acdc(h, a[k], d[k], bias[k]))
    if self.units is not None and self.units < self._width:
      h = h[..., :self.units]
    return h

  def compute_output_shape(self, input_shape):
    return (*input_shape[:-1], self.units or input_shape[-1])

  def get_config(self):
    config = super().get_config()
    config.update(depth=self.depth, units=self.units,
                  activation=keras.activations.serialize(self.activation),
                  sigma=self.sigma, use_bias=self.use_bias, seed=self.seed,
                  mean=self.mean)
    return config
