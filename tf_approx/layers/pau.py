"""Padé Activation Units as a Keras layer (Molina et al., Padé Activation Units).

    x = tf_approx.layers.PAU()(x)                       # safe PAU (5, 4), leaky-ReLU init
    tf_approx.layers.PAU(order=(6, 4), init="swish", per_channel=True)
    tf_approx.layers.PAU(randomized=0.01, seed=7)       # RPAU, noise in training only
    tf_approx.layers.PAU(denominator="abs_of_sum")
    tf_approx.layers.PAU(coefficient_initializer="random_normal",
                         coefficient_regularizer="l2")
"""

import operator

import keras
import numpy as np
import tensorflow as tf

from tf_approx import pau_inits
from tf_approx._validation import check_choice
from tf_approx._validation import check_float_inputs
from tf_approx._validation import check_float_parameter
from tf_approx._validation import check_number
from tf_approx._validation import last_axis
from tf_approx._validation import seed_or_draw
from tf_approx.ops.pau import DENOMINATORS
from tf_approx.ops.pau import pau


def _coefficient_list(values, arg):
  check_float_parameter(values, arg)
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
      `tf_approx.pau_inits.INIT_NAMES` ('leaky_relu' (slope 0.01, the
      default unless `coefficient_initializer` is given), 'relu', 'tanh',
      'sigmoid', 'swish', 'identity'), fitted by least squares on [-3, 3]
      (tools/fit_pau_inits.py); or a pair `(numerator, denominator)` of
      lists a_0..a_m and b_1..b_n. `init` is the shorthand for a constant
      `coefficient_initializer` holding those coefficients; give one or the
      other, not both.
    denominator: 'safe' (Q = 1 + sum |b_k||x|^k, the paper's; never 0),
      'abs_of_sum' (Q = 1 + |sum b_k x^k|) or 'unsafe' (Q = 1 + sum b_k x^k,
      may have poles).
    per_channel: one coefficient set per channel of the last axis instead of
      one for the whole layer.
    randomized: RPAU's alpha (the paper: 0.01): in training every coefficient
      c of every element becomes c + alpha |c| u, u ~ U(-1, 1), drawn from
      `seed` and the layer's step counter. 0 (default): a plain PAU. No noise
      at inference.
    seed: the RPAU seed, an int in [0, 2**63 - 1]. Default: drawn once when
      the layer is made and kept in its config.
    coefficient_initializer: a Keras initializer (name, config or object)
      for both coefficient weights, `numerator` [m + 1] and `denominator`
      [n] (with per_channel: [channels, m + 1] and [channels, n]), in place
      of `init`; the order is then `order` (default (5, 4)).
    coefficient_regularizer: a Keras regularizer applied to both
      coefficient weights.
    coefficient_constraint: a Keras constraint applied to both coefficient
      weights after each optimizer update.

  Input shape: any float tensor (with per_channel, a known last axis).
  Output shape: the input's.
  """

  def __init__(self, order=None, init=None, denominator="safe",
               per_channel=False, randomized=0.0, seed=None,
               coefficient_initializer=None, coefficient_regularizer=None,
               coefficient_constraint=None, **kwargs):
    super().__init__(**kwargs)
    check_choice(denominator, DENOMINATORS, "denominator")
    randomized = check_number(randomized, "randomized", low=0.0)
    seed = seed_or_draw(seed)
    self.coefficient_initializer = None
    if coefficient_initializer is not None:
      if init is not None:
        raise ValueError(
            "give `init` or `coefficient_initializer`, not both (`init` is "
            "the shorthand for a constant coefficient initializer), got "
            f"init={init!r} and coefficient_initializer="
            f"{coefficient_initializer!r}")
      self.coefficient_initializer = keras.initializers.get(
          coefficient_initializer)
      order = pau_inits.check_order(
          pau_inits.DEFAULT_ORDER if order is None else order)
      numerator = denominator_init = None
    elif init is None or isinstance(init, str):
      init = check_choice("leaky_relu" if init is None else init,
                          pau_inits.INIT_NAMES, "init")
      order = pau_inits.DEFAULT_ORDER if order is None else order
      numerator, denominator_init = pau_inits.init_coefficients(
          init, order, denominator)
    else:
      try:
        numerator, denominator_init = init
      except (TypeError, ValueError) as e:
        raise type(e)(
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
    if init is None or isinstance(init, str):
      self.init = init
    else:
      self.init = (list(numerator), list(denominator_init))
    self.coefficient_regularizer = keras.regularizers.get(
        coefficient_regularizer)
    self.coefficient_constraint = keras.constraints.get(
        coefficient_constraint)
    self.denominator = denominator
    self.per_channel = bool(per_channel)
    self.randomized = randomized
    self.seed = seed
    self._numerator_init = numerator
    self._denominator_init = denominator_init
    # XLA cannot compile the native op: under jit_compile the op wrapper
    # switches to the composite twin.
    self.supports_jit = False

  def build(self, input_shape):
    m, n = self.order
    if self.per_channel:
      channels = last_axis(self, input_shape)
      shapes = ((channels, m + 1), (channels, n))
      self.input_spec = keras.layers.InputSpec(min_ndim=1,
                                               axes={-1: channels})
    else:
      shapes = ((m + 1,), (n,))
      self.input_spec = keras.layers.InputSpec(min_ndim=0)
    if self.coefficient_initializer is not None:
      initializers = (self.coefficient_initializer,) * 2
    else:
      initializers = tuple(
          keras.initializers.Constant(np.broadcast_to(values, shape))
          for values, shape in ((self._numerator_init, shapes[0]),
                                (self._denominator_init, shapes[1])))
    self.numerator = self.add_weight(
        name="numerator", shape=shapes[0], initializer=initializers[0],
        regularizer=self.coefficient_regularizer,
        constraint=self.coefficient_constraint)
    self.denominator_coefficients = self.add_weight(
        name="denominator", shape=shapes[1], initializer=initializers[1],
        regularizer=self.coefficient_regularizer,
        constraint=self.coefficient_constraint)
    if self.randomized > 0:
      self.step = self.add_weight(
          name="step", shape=(), dtype="int64", trainable=False,
          initializer="zeros")

  def call(self, inputs, training=None):
    check_float_inputs(self, inputs)
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
                  init=(self.init if self.init is None
                        or isinstance(self.init, str) else
                        [list(self.init[0]), list(self.init[1])]),
                  denominator=self.denominator, per_channel=self.per_channel,
                  randomized=self.randomized, seed=self.seed,
                  coefficient_initializer=(
                      None if self.coefficient_initializer is None else
                      keras.initializers.serialize(
                          self.coefficient_initializer)),
                  coefficient_regularizer=keras.regularizers.serialize(
                      self.coefficient_regularizer),
                  coefficient_constraint=keras.constraints.serialize(
                      self.coefficient_constraint))
    return config
