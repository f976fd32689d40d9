"""ACDC and SELL Keras layers (thesis §3.10).

    h = tf_approx.layers.ACDC()(x)                   # a, d ~ N(1, 0.1²)
    h = tf_approx.layers.SELL(depth=12, activation="relu")(x)
    tf_approx.layers.SELL(depth=4, units=1000)       # e.g. 784 in, 1000 out
    tf_approx.layers.ACDC(diagonal_regularizer=keras.regularizers.L2(1e-4))

Each ACDC layer is y = IDCT(DCT(x ⊙ a) ⊙ d + bias) on the last axis: 3n
parameters and O(n log n) time for n features, instead of a dense layer's
n² + n. The diagonals start as N(1, sigma²): close to the identity map,
which the thesis (Fig. 3.4) shows deep stacks need; N(0, ·) fails for them.
"""

import keras
import numpy as np
import tensorflow as tf

from tf_approx._validation import check_float_inputs
from tf_approx._validation import checked_permutation_weights
from tf_approx._validation import check_number
from tf_approx._validation import check_positive_int
from tf_approx._validation import check_seed
from tf_approx._validation import last_axis
from tf_approx._validation import SEED_MAX
from tf_approx._validation import seed_or_draw
from tf_approx.ops.acdc import acdc

DEFAULT_SIGMA = 0.1
DEFAULT_MEAN = 1.0
# d is seeded with seed + 1, which must stay an int64.
MAX_SEED = SEED_MAX - 1


class _Diagonals:
  """The a and d weights' initializer, regularizer and constraint.

  The initializer is N(mean, sigma²) seeded by the layer's seed (a with
  seed, d with seed + 1) unless `diagonal_initializer` replaces it; `sigma`
  and `mean` only describe that default, so they cannot come with it.
  """

  def __init__(self, sigma, mean, initializer, regularizer, constraint):
    if initializer is not None:
      given = [arg for arg, value in (("sigma", sigma), ("mean", mean))
               if value is not None]
      if given:
        raise ValueError(
            f"`{given[0]}` describes the default N(mean, sigma²) "
            "initialisation; give it or `diagonal_initializer`, not both")
      self.sigma = self.mean = None
      self.initializer = keras.initializers.get(initializer)
    else:
      self.sigma = check_number(DEFAULT_SIGMA if sigma is None else sigma,
                                "sigma", low=0.0)
      self.mean = check_number(DEFAULT_MEAN if mean is None else mean, "mean")
      self.initializer = None
    self.regularizer = keras.regularizers.get(regularizer)
    self.constraint = keras.constraints.get(constraint)

  def add(self, layer, name, shape, seed):
    initializer = self.initializer or keras.initializers.RandomNormal(
        self.mean, self.sigma, seed=seed)
    return layer.add_weight(name=name, shape=shape, initializer=initializer,
                            regularizer=self.regularizer,
                            constraint=self.constraint)

  def config(self):
    return dict(
        sigma=self.sigma, mean=self.mean,
        diagonal_initializer=(
            None if self.initializer is None else
            keras.initializers.serialize(self.initializer)),
        diagonal_regularizer=keras.regularizers.serialize(self.regularizer),
        diagonal_constraint=keras.constraints.serialize(self.constraint))


@keras.saving.register_keras_serializable(package="tf_approx")
class ACDC(keras.layers.Layer):
  """One ACDC layer: y = IDCT(DCT(x ⊙ a) ⊙ d + bias) on the last axis.

  DCT is the orthonormal DCT-II, IDCT its inverse; the output has the
  input's shape. One fused native op computes the layer per row without
  writing intermediates, and one computes all gradients, recomputing the
  DCT of x ⊙ a instead of storing it.

  Args:
    sigma: the standard deviation of the N(mean, sigma²) initialisation of
      a and d (default 0.1, the thesis').
    use_bias: add the trainable bias in the DCT domain (zeros at init).
    seed: an int in [0, 2**63 - 2] seeding the initialisation (a with seed,
      d with seed + 1; default: Keras' global RNG).
    mean: the mean of that initialisation: 1 (default; the thesis' choice,
      near the identity map); 0 reproduces the initialisation the thesis
      shows failing for deep stacks.
    diagonal_initializer: a Keras initializer for a and d in place of
      N(mean, sigma²) (then give neither `sigma` nor `mean`). A seeded
      initializer draws a and d alike.
    diagonal_regularizer: a Keras regularizer applied to a and d.
    diagonal_constraint: a Keras constraint applied to a and d.

  Input shape: (..., n), n known. Output shape: the input's.
  """

  def __init__(self, sigma=None, use_bias=True, seed=None, mean=None,
               diagonal_initializer=None, diagonal_regularizer=None,
               diagonal_constraint=None, **kwargs):
    super().__init__(**kwargs)
    self._diagonals = _Diagonals(sigma, mean, diagonal_initializer,
                                 diagonal_regularizer, diagonal_constraint)
    self.sigma, self.mean = self._diagonals.sigma, self._diagonals.mean
    self.use_bias = bool(use_bias)
    self.seed = None if seed is None else check_seed(seed, high=MAX_SEED)
    # XLA cannot compile the native op: under jit_compile the op wrapper
    # switches to the composite twin.
    self.supports_jit = False

  def build(self, input_shape):
    n = last_axis(self, input_shape)
    self.input_spec = keras.layers.InputSpec(min_ndim=1, axes={-1: n})
    seeds = (None, None) if self.seed is None else (self.seed,
                                                     self.seed + 1)
    self.a = self._diagonals.add(self, "a", (n,), seeds[0])
    self.d = self._diagonals.add(self, "d", (n,), seeds[1])
    if self.use_bias:
      self.bias = self.add_weight(name="bias", shape=(n,),
                                  initializer="zeros")

  def call(self, inputs):
    check_float_inputs(self, inputs)
    bias = self.bias if self.use_bias else tf.zeros_like(self.a)
    return acdc(inputs, self.a, self.d, bias)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config.update(use_bias=self.use_bias, seed=self.seed,
                  **self._diagonals.config())
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
    sigma: a and d start as N(mean, sigma²) (default 0.1).
    use_bias: a bias in every ACDC layer.
    seed: an int in [0, 2**63 - 2] drawing the permutations and seeding the
      initialisation. Default: drawn once when the layer is made and kept
      in its config.
    mean: see `ACDC`: 1 (default) or 0 (the initialisation that fails).
    diagonal_initializer, diagonal_regularizer, diagonal_constraint: as for
      `ACDC`, applied to a and d [depth, N].

  Input shape: (..., n_in), n_in known. Output shape: (..., units).
  """

  def __init__(self, depth, units=None, activation=None, sigma=None,
               use_bias=True, seed=None, mean=None, diagonal_initializer=None,
               diagonal_regularizer=None, diagonal_constraint=None, **kwargs):
    super().__init__(**kwargs)
    self.depth = check_positive_int(depth, "depth")
    self.units = None if units is None else check_positive_int(units,
                                                               "units")
    self.activation = keras.activations.get(activation)
    self._diagonals = _Diagonals(sigma, mean, diagonal_initializer,
                                 diagonal_regularizer, diagonal_constraint)
    self.sigma, self.mean = self._diagonals.sigma, self._diagonals.mean
    self.use_bias = bool(use_bias)
    self.seed = seed_or_draw(seed, high=MAX_SEED)
    self.supports_jit = False

  def build(self, input_shape):
    n_in = last_axis(self, input_shape)
    self._n_in = n_in
    self.input_spec = keras.layers.InputSpec(min_ndim=1, axes={-1: n_in})
    self._width = max(n_in, self.units or n_in)
    shape = (self.depth, self._width)
    self.a = self._diagonals.add(self, "a", shape, self.seed)
    self.d = self._diagonals.add(self, "d", shape, self.seed + 1)
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

  def set_weights(self, weights):
    super().set_weights(
        checked_permutation_weights(self, weights, ("permutations",)))

  def call(self, inputs):
    check_float_inputs(self, inputs)
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
                  use_bias=self.use_bias, seed=self.seed,
                  **self._diagonals.config())
    return config
