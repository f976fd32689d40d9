"""Noisy activation functions as a Keras layer (thesis §4.3).

    NoisyActivation('tanh', noise='half_normal', where='output', c=0.5,
                    alpha=1.15)                                       # NAH
    NoisyActivation('sigmoid', noise='normal', where='input', sigma=0.05)  # NANI
    NoisyActivation('tanh', where='input', learn_sigma=True)          # NANIL
    NoisyActivation('tanh', where='input_saturated', sigma=0.25)      # NANIS

Training draws noise from a counter-based generator keyed by the layer's seed
and step counter (one seed reproduces a run; the backward op regenerates the
noise rather than storing it); inference uses the noise's mean, so
`model.predict` is deterministic. The noise scale (c or sigma) lives in the
non-trainable weight `noise_scale`, which `tf_approx.callbacks.NoiseAnnealing`
anneals.
"""

import keras
import tensorflow as tf

from tf_approx._validation import check_choice
from tf_approx._validation import check_float_inputs
from tf_approx._validation import check_number
from tf_approx._validation import last_axis
from tf_approx._validation import seed_or_draw
from tf_approx.ops.noisy import BASES
from tf_approx.ops.noisy import NOISES
from tf_approx.ops.noisy import noisy_activation

WHERES = ("output", "input", "input_saturated")
# The authors' defaults (thesis §4.3 and their code).
DEFAULT_ALPHA = {"tanh": 1.15, "sigmoid": 1.1}
DEFAULT_C = {"tanh": 0.5, "sigmoid": 0.15}
DEFAULT_LEARNED_C = 0.25
DEFAULT_SIGMA = {"input": 0.05, "input_saturated": 0.25}


@keras.saving.register_keras_serializable(package="tf_approx")
class NoisyActivation(keras.layers.Layer):
  """A hard tanh or hard sigmoid with noise where it saturates.

  With h the hard function, u its linearisation at 0 and Delta = h - u:
  - where='output' (NAN; NAH with noise='half_normal'):
    alpha h + (1 - alpha) u - sign(x) sign(1 - alpha) c (sigmoid(p Delta) -
    1/2)^2 eps, p learned.
  - where='input' (NANI): h(x + sigma eps); with learn_sigma=True (NANIL)
    sigma = c softplus(p |Delta|), p learned.
  - where='input_saturated' (NANIS): h(x + sigma eps) where |x| is at or
    beyond the saturation threshold (1 for tanh, 2 for sigmoid), else h(x).
  eps = xi ~ N(0, 1) (noise='normal') or |xi| ('half_normal'); at inference
  its mean (0 or sqrt(2/pi)).

  Args:
    activation: 'tanh' or 'sigmoid' (the hard versions are used).
    noise: 'normal' or 'half_normal'.
    where: 'output', 'input' or 'input_saturated'.
    c: the noise scale of where='output' (default 0.5 for tanh, 0.15 for
      sigmoid) and of learn_sigma=True (default 0.25).
    alpha: the leak of where='output' (default 1.15 for tanh, 1.1 for
      sigmoid).
    sigma: the fixed noise standard deviation of where='input' (default
      0.05) and 'input_saturated' (default 0.25).
    learn_sigma: with where='input': learn sigma through p (NANIL).
    per_unit: one p per unit of the last axis instead of one for the layer.
    seed: the noise seed, an int in [0, 2**63 - 1]. Default: drawn once when
      the layer is made and kept in its config.

  Input shape: any float tensor (with per_unit, a known last axis).
  Output shape: the input's.
  """

  def __init__(self, activation="tanh", noise="normal", where="output", c=None,
               alpha=None, sigma=None, learn_sigma=False, per_unit=False,
               seed=None, **kwargs):
    super().__init__(**kwargs)
    check_choice(activation, BASES, "activation")
    check_choice(noise, NOISES, "noise")
    check_choice(where, WHERES, "where")
    seed = seed_or_draw(seed)
    learn_sigma = bool(learn_sigma)
    if learn_sigma and where != "input":
      raise ValueError("`learn_sigma=True` needs where='input' (NANIL), got "
                       f"where={where!r}")
    if alpha is not None and where != "output":
      raise ValueError(f"`alpha` is only used by where='output', got "
                       f"where={where!r}")
    uses_c = where == "output" or learn_sigma
    if c is not None and not uses_c:
      raise ValueError(
          f"`c` is only used by where='output' and learn_sigma=True; "
          f"where={where!r} takes `sigma`")
    if sigma is not None and uses_c:
      raise ValueError("`sigma` is only used by where='input' and "
                       "'input_saturated' without learn_sigma; give `c`")
    self.activation = activation
    self.noise = noise
    self.where = where
    self.learn_sigma = learn_sigma
    self.per_unit = bool(per_unit)
    if where == "output":
      self.alpha = check_number(
          DEFAULT_ALPHA[activation] if alpha is None else alpha, "alpha")
      self.c = check_number(DEFAULT_C[activation] if c is None else c, "c",
                            low=0.0)
    else:
      self.alpha = None
      self.c = (check_number(DEFAULT_LEARNED_C if c is None else c, "c",
                             low=0.0) if learn_sigma else None)
    self.sigma = (None if uses_c else check_number(
        DEFAULT_SIGMA[where] if sigma is None else sigma, "sigma", low=0.0))
    self.seed = seed
    # XLA cannot compile the native op: under jit_compile the op wrapper
    # switches to the composite twin.
    self.supports_jit = False

  @property
  def op_where(self):
    """The op's `where`: 'input_learned' for NANIL."""
    return "input_learned" if self.learn_sigma else self.where

  @property
  def learns_p(self):
    return self.where == "output" or self.learn_sigma

  def build(self, input_shape):
    self.input_spec = keras.layers.InputSpec(min_ndim=0)
    if self.learns_p:
      shape = ()
      if self.per_unit:
        units = last_axis(self, input_shape)
        shape = (units,)
        self.input_spec = keras.layers.InputSpec(min_ndim=1,
                                                 axes={-1: units})
      # The thesis: "p is initialised randomly using U[-1, 1]".
      self.p = self.add_weight(
          name="p", shape=shape,
          initializer=keras.initializers.RandomUniform(-1.0, 1.0,
                                                       seed=self.seed))
    self.noise_scale = self.add_weight(
        name="noise_scale", shape=(), trainable=False,
        initializer=keras.initializers.Constant(
            self.c if self.c is not None else self.sigma))
    self.step = self.add_weight(name="step", shape=(), dtype="int64",
                                trainable=False, initializer="zeros")

  def call(self, inputs, training=None):
    check_float_inputs(self, inputs)
    training = bool(training)
    seed = None
    if training:
      seed = tf.stack([tf.constant(self.seed, tf.int64),
                       tf.convert_to_tensor(self.step)])
      self.step.assign_add(1)
    # noisy_activation casts p and the scale to the inputs' dtype.
    return noisy_activation(
        inputs, self.p if self.learns_p else 0.0, self.noise_scale, seed=seed,
        base=self.activation, where=self.op_where, noise=self.noise,
        alpha=self.alpha if self.alpha is not None else 1.0,
        training=training)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config.update(activation=self.activation, noise=self.noise,
                  where=self.where, c=self.c, alpha=self.alpha,
                  sigma=self.sigma, learn_sigma=self.learn_sigma,
                  per_unit=self.per_unit, seed=self.seed)
    return config
