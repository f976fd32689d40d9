"""Padé Activation Units as a Keras layer (SPEC §2).

    x = tf_approx.layers.PAU()(x)                       # safe PAU (5, 4), leaky-ReLU init
    tf_approx.layers.PAU(order=(6, 4), init="swish", per_channel=True)
    tf_approx.layers.PAU(randomized=0.01, seed=7)       # RPAU, noise in training only
    tf_approx.layers.PAU(denominator="abs_of_sum")
"""

import operator

import keras
import numpy as np
import tensorflow as tf

from tf_approx import pau_inits
from tf_approx.ops.pau import check_denominator_kind
from tf_approx.ops.pau import check_randomized
from tf_approx.ops.pau import pau


def _coefficient_list(values, arg):
  try:
    array = np.asarray(values, dtype=np.float64)
  except (TypeError, ValueError):
    raise ValueError(f"`{arg}` must be a list of numbers, got "
                     f"{values!r}") from None
  if array.ndim != 1 or not np.all(np.isfinite(array)):
    raise ValueError(f"`{arg}` must be a flat list of finite numbers, got "
                     f"{values!r}")
  return [float(v) for v in array]


@keras.saving.register_keras_serializable(package="tf_approx")
class PAU(keras.layers.Layer):
  """A learnable rational activation F(x) = P(x) / Q(x) (Molina et al., 2020).

  Args:
    order: (m, n), the degrees of P and Q, 1 <= m, n <= 10. Default (5, 4),
      or the lengths of explicit `init` lists.
    init: the function the coefficients start as: one of
      `tf_approx.pau_inits.INIT_NAMES` ('leaky_relu' (slope 0.01, default),
      'relu', 'tanh', 'sigmoid', 'swish', 'identity'), fitted by least
      squares on [-3, 3] (tools/fit_pau_inits.py); or a pair
      `(numerator, denominator)` of lists a_0..a_m and b_1..b_n.
    denominator: 'safe' (Q = 1 + sum |b_k||x|^k, the paper's; never 0),
      'abs_of_sum' (Q = 1 + |sum b_k x^k|) or 'unsafe' (Q = 1 + sum b_k x^k,
      may have poles).
    per_channel: one coefficient set per channel of the last axis instead of
      one for the whole layer.
    randomized: RPAU's alpha (the paper: 0.01): in training every coefficient
      c of every element becomes c + alpha |c| u, u ~ U(-1, 1), drawn from
      `seed` and the layer's step counter. 0 (default): a plain PAU. No noise
      at inference.
    seed: the RPAU seed (an int). Default: drawn once when the layer is made
      and kept in its config.
  """

  def __init__(self, order=None, init="leaky_relu", denominator="safe",
               per_channel=False, randomized=0.0, seed=None, **kwargs):
    super().__init__(**kwargs)
    check_denominator_kind(denominator)
    check_randomized(randomized)
    if isinstance(init, str):
      order = pau_inits.DEFAULT_ORDER if order is None else order
      numerator, denominator_init = pau_inits.init_coefficients(
          init, order, denominator)
    else:
      try:
        numerator, denominator_init = init
      except (TypeError, ValueError):
        raise ValueError(
            "`init` must be an init name or a pair (numerator, denominator) "
            f"of coefficient lists, got {init!r}") from None
      numerator = _coefficient_list(numerator, "init numerator")
      denominator_init = _coefficient_list(denominator_init,
                                           "init denominator")
      implied = (len(numerator) - 1, len(denominator_init))
      if not all(pau_inits.MIN_ORDER <= v <= pau_inits.MAX_ORDER
                 for v in implied):
        raise ValueError(
            f"`init` lists must hold {pau_inits.MIN_ORDER + 1} to "
            f"{pau_inits.MAX_ORDER + 1} numerator and {pau_inits.MIN_ORDER} "
            f"to {pau_inits.MAX_ORDER} denominator coefficients, got "
            f"{len(numerator)} and {len(denominator_init)}")
      if order is not None and tuple(order) != implied:
        raise ValueError(
            f"`order` {tuple(order)} does not match the `init` lists "
            f"(m + 1 = {len(numerator)}, n = {len(denominator_init)} "
            "coefficients)")
      order = implied
      pau_inits.check_order(order)
    self.order = tuple(operator.index(v) for v in order)
    self.init = init if isinstance(init, str) else (list(numerator),
                                                    list(denominator_init))
    self.denominator = denominator
    self.per_channel = bool(per_channel)
    self.randomized = float(randomized)
    if seed is None:
      seed = int(np.random.randint(0, 2**31 - 1))
    self.seed = operator.index(seed)
    self._numerator_init = numerator
    self._denominator_init = denominator_init
    # XLA cannot compile the native op: under jit_compile the op wrapper
    # switches to the composite twin.
    self.supports_jit = False

  def build(self, input_shape):
    if self.per_channel:
      channels = input_shape[-1] if input_shape else None
      if channels is None:
        raise ValueError(
            "PAU(per_channel=True) needs a known last axis, got input shape "
            f"{input_shape}")
      shapes = ((channels, len(self._numerator_init)),
                (channels, len(self._denominator_init)))
      values = (np.tile(self._numerator_init, (channels, 1)),
                np.tile(self._denominator_init, (channels, 1)))
    else:
      shapes = ((len(self._numerator_init),), (len(self._denominator_init),))
      values = (np.asarray(self._numerator_init),
                np.asarray(self._denominator_init))
    self.numerator = self.add_weight(
        name="numerator", shape=shapes[0],
        initializer=keras.initializers.Constant(values[0]))
    self.denominator_coefficients = self.add_weight(
        name="denominator", shape=shapes[1],
        initializer=keras.initializers.Constant(values[1]))
    if self.randomized > 0:
      self.step = self.add_weight(
          name="step", shape=(), dtype="int64", trainable=False,
          initializer="zeros")

  def call(self, inputs, training=None):
    randomized = self.randomized if training and self.randomized > 0 else 0.0
    seed = None
    if randomized:
      seed = tf.stack([tf.constant(self.seed, tf.int64),
                       tf.convert_to_tensor(self.step)])
      self.step.assign_add(1)
    return pau(inputs, self.numerator, self.denominator_coefficients,
                       denominator_kind=self.denominator,
                       randomized=randomized, seed=seed)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config.update(order=list(self.order),
                  init=self.init if isinstance(self.init, str) else
                  [list(self.init[0]), list(self.init[1])],
                  denominator=self.denominator, per_channel=self.per_channel,
                  randomized=self.randomized, seed=self.seed)
    return config
