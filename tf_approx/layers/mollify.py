r"""Mollified activations and mollifying layers (thesis §4.4).

    y = tf_approx.layers.MollifiedActivation("sigmoid")(x)
    h = tf_approx.layers.MollifyingBlock(200, activation="sigmoid")(h)
    model.fit(..., callbacks=[tf_approx.callbacks.MollificationSchedule(k=..)])

A mollifying network starts training as a much simpler model and becomes the
network it is as training goes on: a continuation method, which minimises a
sequence of ever less smoothed objectives instead of the hard one directly.
Every mollified layer has a level p in [0, 1], a non-trainable float32 weight
named `mollification` that `tf_approx.callbacks.MollificationSchedule` lowers
as the loss falls (eq. 4.31). At p = 1 a `MollifyingBlock` is the identity
map and a `MollifiedActivation` is close to its linearisation; at p = 0 both
are the plain nonlinear layer.

The mollified activation (Algorithm 2, eq. 4.24-4.26), unit i of a layer with
input x and level p:

  f(x) = sigmoid(x) - 1/2  or  tanh(x)   (the nonlinearity, moved so f(0) = 0)
  u(x) = x / 4             or  x         (its first-order Taylor polynomial)
  Δ    = u(x) - f(x)                     (how saturated the unit is)
  σ(x) = (sigmoid(a_i Δ) - 1/2)²         (a_i trainable, init U[-2, 2])
  s    = p c σ(x) |ξ|,   ξ ~ N(0, 1)
  ψ    = sgn(u) min(|u|, |f + sgn(u) |s||)

and the layer returns ψ + 1/2 for the sigmoid, ψ for tanh. Since f lies
between 0 and u, ψ = f + sgn(x) min(|Δ|, s): the noise pushes the output from
f towards u, never past it, and more so the more saturated the unit (σ grows
with |Δ|) and the higher p.

The mollifying block (eq. 4.27-4.30) is a dense layer whose units each either
copy the block's input or apply the mollified activation:

  h~ = ψ(x W + b, ξ)
  h  = π ⊙ skip(x) + (1 - π) ⊙ h~  [+ skip(x) with residual=True],
  π ~ Bernoulli(p), one draw per example and unit,

with skip(x) = x when the widths match, else x zero-padded to `units` (or
projected by a learned matrix, projection="linear").

Training draws ξ (and π) from the counter-based hash of the noisy
activations and RPAU (`tf_approx.reference.counter_noise`), keyed by the
layer's `seed`, a step counter (a non-trainable int64 weight `step`,
incremented by every training call) and each element's index, so one seed
reproduces a run. Under a tf.distribute strategy the index is the element's
position in the global batch (`tf_approx.ops.common.noise_seed`), so every
replica draws different noise, and the noise an example gets is the noise it
would get on one device. ξ = √2 erfinv(u₀) and π = [(u₁ + 1)/2 < p] from
the element's first two uniforms u₀, u₁ in (-1, 1). Inference returns
the expectation over the noise, deterministic: for the block
p skip(x) + (1 - p) E[ψ] (+ skip(x)), where

  E[ψ] = f + sgn(u) (|Δ| erfc(|Δ| / (k √2)) + k √(2/π) (1 - exp(-Δ² / 2k²))),

k = p c σ(x): the exact mean of the half-normal noise through the min.

Choices where the thesis leaves room, all documented on the classes:
  * f is the smooth sigmoid or tanh, as §4.4.3 defines it (the translated
    original nonlinearity), not the hard-saturating function of the noisy
    activations of §4.3; u is its derivative at 0 times x.
  * The sigmoid's translation by -1/2 (§4.4.3 "for simplicity") is undone
    on the output, so a layer at p = 0 is exactly `sigmoid` and a drop-in
    replacement for it; at full linearisation it is x/4 + 1/2.
  * a_i is one trainable parameter per unit of the last axis, drawn from
    U[-2, 2] as in the thesis' parity experiment; σ is symmetric in a_i Δ,
    so the sign convention of Δ (u - f in Algorithm 2, h - u in eq. 4.9)
    does not matter.
  * c has no value in the thesis (its Fig. 4.14 varies p c). The default
    10 takes a saturated unit a good part of the way to u at p = 1: the
    expected sigmoid at x = 4 goes two thirds of the way from f to u with
    |a_i| = 2, a tenth with |a_i| = 0.5. The parity example fits its
    training set with it.
  * Inference uses the exact expectation of ψ rather than ψ with |ξ| set to
    its mean √(2/π): ψ is not linear in |ξ|, and the expectation is what the
    noisy mollifier of eq. 4.23 defines.
  * π is drawn for every example and unit (the thesis: "independently for
    each unit"), not once per batch.
"""

import math

import keras
import tensorflow as tf

from tf_approx._validation import check_choice
from tf_approx._validation import check_float_inputs
from tf_approx._validation import check_number
from tf_approx._validation import check_positive_int
from tf_approx._validation import last_axis
from tf_approx._validation import seed_or_draw
from tf_approx.ops.common import noise_seed
from tf_approx.reference import counter_noise

ACTIVATIONS = ("sigmoid", "tanh")
PROJECTIONS = ("pad", "linear")
DEFAULT_C = 10.0
A_INIT_RANGE = 2.0  # a_i ~ U[-2, 2], the thesis' parity experiment


def _centred(x, activation):
  """(f, u): the nonlinearity moved to f(0) = 0, and its linearisation."""
  if activation == "sigmoid":
    return tf.sigmoid(x) - 0.5, 0.25 * x
  return tf.tanh(x), x


def _noise_scale(a, f, u, mollification, c):
  """p c σ(x), the scale k of the half-normal noise s = k |ξ|."""
  saturation = u - f
  sigma = tf.square(tf.sigmoid(a * saturation) - 0.5)
  return mollification * c * sigma


def mollified_activation(x, a, mollification, c, activation, noise=None):
  """ψ of Algorithm 2, or its expectation over the noise.

  Args:
    x: the pre-activations, any shape; the last axis matches `a`'s.
    a: the per-unit parameters a_i (broadcast against x).
    mollification: the level p in [0, 1] (a scalar).
    c: the noise hyperparameter c >= 0.
    activation: 'sigmoid' or 'tanh'.
    noise: ξ ~ N(0, 1), x's shape; None: return E_ξ[ψ].

  Returns:
    ψ (+ 1/2 for the sigmoid), x's shape and dtype.
  """
  f, u = _centred(x, activation)
  k = _noise_scale(a, f, u, mollification, c)
  sign = tf.where(u >= 0, tf.ones_like(u), -tf.ones_like(u))
  if noise is not None:
    s = k * tf.abs(noise)
    psi = sign * tf.minimum(tf.abs(u), tf.abs(f + sign * tf.abs(s)))
  else:
    # E[min(D, k |ξ|)] for the half-normal |ξ| with D = |u| - |f| >= 0 (f
    # lies between 0 and u): the integral of P(k |ξ| > t) over [0, D].
    gap = tf.maximum(tf.abs(u) - tf.abs(f), 0.0)
    # Past D / k = 50 the erfc and exp terms are 0 even in float64, leaving
    # k √(2/π); taking that limit there keeps D / k and its gradient finite
    # when k is tiny or 0.
    exact = 50.0 * k > gap
    safe_k = tf.where(exact, k, tf.ones_like(k))
    ratio = gap / safe_k
    pull = tf.where(
        exact,
        gap * tf.math.erfc(ratio / math.sqrt(2.0))
        - safe_k * math.sqrt(2.0 / math.pi)
        * tf.math.expm1(-0.5 * tf.square(ratio)),
        k * math.sqrt(2.0 / math.pi))
    psi = f + sign * pull
  return psi + 0.5 if activation == "sigmoid" else psi


def _a_initializer(a_initializer, seed):
  if a_initializer is None:
    return keras.initializers.RandomUniform(-A_INIT_RANGE, A_INIT_RANGE,
                                            seed=seed)
  return keras.initializers.get(a_initializer)


class _Mollified(keras.layers.Layer):
  """What both layers share: the level p, the step counter, the seed."""

  def __init__(self, activation, c, mollification, a_initializer, seed,
               **kwargs):
    super().__init__(**kwargs)
    self.activation = check_choice(activation, ACTIVATIONS, "activation")
    self.c = check_number(c, "c", low=0.0)
    self.initial_mollification = check_number(mollification,
                                               "mollification", 0.0, 1.0)
    self.seed = seed_or_draw(seed)
    self.a_initializer = _a_initializer(a_initializer, self.seed)

  def _add_state(self, units):
    self.a = self.add_weight(name="a", shape=(units,),
                             initializer=self.a_initializer)
    self.mollification = self.add_weight(
        name="mollification", shape=(), dtype="float32", trainable=False,
        initializer=keras.initializers.Constant(self.initial_mollification))
    self.step = self.add_weight(name="step", shape=(), dtype="int64",
                                trainable=False, initializer="zeros")

  def _next_seed(self):
    """(seed, step) of this training call; counts the call."""
    seed = tf.stack([tf.constant(self.seed, tf.int64),
                     tf.convert_to_tensor(self.step)])
    self.step.assign_add(1)
    return seed

  def _draw(self, x, columns):
    """This training call's uniforms in (-1, 1) for x's elements, float32.

    [x's size, columns], keyed by the seed, the step and each element's
    index in the global batch; counts the call.
    """
    seed = noise_seed(self._next_seed(), x)
    return counter_noise.noise_uniform(tf.size(x), columns, seed)

  def _level(self, dtype):
    return tf.cast(self.mollification, dtype)

  def get_config(self):
    config = super().get_config()
    config.update(activation=self.activation, c=self.c,
                  mollification=self.initial_mollification,
                  a_initializer=keras.initializers.serialize(
                      self.a_initializer),
                  seed=self.seed)
    return config


@keras.saving.register_keras_serializable(package="tf_approx")
class MollifiedActivation(_Mollified):
  r"""The mollified activation of Algorithm 2 (thesis §4.4.3), unit-wise.

  With f the nonlinearity moved to f(0) = 0 (sigmoid - 1/2, or tanh), u its
  linearisation at 0 (x/4, or x) and p the layer's level:

    σ(x) = (sigmoid(a_i (u - f)) - 1/2)²,   s = p c σ(x) |ξ|,  ξ ~ N(0, 1)
    y    = sgn(u) min(|u|, |f + sgn(u) |s||)   (+ 1/2 for the sigmoid)

  so that y moves from f towards u, never past it, the more the more
  saturated the unit and the higher p: p = 0 gives exactly sigmoid or tanh;
  as p c grows y tends to u. Training draws ξ from the layer's seed, step
  counter and each element's index in the global batch; inference returns
  the exact expectation over ξ (module docstring), so `predict` is
  deterministic.

  The level is the non-trainable float32 scalar weight `mollification`,
  which `tf_approx.callbacks.MollificationSchedule` sets; it starts at
  `mollification`. The thesis leaves some choices open; this layer takes
  f smooth (not hard-saturating), undoes the sigmoid's shift on the output,
  learns one a_i per unit, and uses c = 10 by default (see the module
  docstring for why).

  Args:
    activation: 'sigmoid' or 'tanh'.
    c: the noise scale c >= 0 of eq. 4.25.
    mollification: the level p in [0, 1] the layer starts at (1: the
      thesis' start, fully mollified).
    a_initializer: initializer of the per-unit a_i; default U[-2, 2] seeded
      by `seed`.
    seed: an int in [0, 2**63 - 1] seeding the noise (and the default
      a_initializer). Default: drawn once when the layer is made and kept
      in its config.

  Input shape: any, with a known last axis (the units).
  Output shape: the input's.

  Example:

    >>> layer = MollifiedActivation("tanh", mollification=0.0)
    >>> layer(np.array([[0.5, -2.0]], np.float32))  # tanh exactly
  """

  def __init__(self, activation="sigmoid", c=DEFAULT_C, mollification=1.0,
               a_initializer=None, seed=None, **kwargs):
    super().__init__(activation, c, mollification, a_initializer, seed,
                     **kwargs)

  def build(self, input_shape):
    units = last_axis(self, input_shape)
    self.input_spec = keras.layers.InputSpec(min_ndim=1, axes={-1: units})
    self._add_state(units)

  def call(self, inputs, training=None):
    check_float_inputs(self, inputs)
    noise = None
    if training:
      xi = counter_noise.normal_from_uniform(self._draw(inputs, 1)[:, 0])
      noise = tf.cast(tf.reshape(xi, tf.shape(inputs)), inputs.dtype)
    a = tf.cast(self.a, inputs.dtype)
    return mollified_activation(inputs, a, self._level(inputs.dtype), self.c,
                                self.activation, noise)

  def compute_output_shape(self, input_shape):
    return input_shape


@keras.saving.register_keras_serializable(package="tf_approx")
class MollifyingBlock(_Mollified):
  r"""A mollifying dense layer (thesis eq. 4.27-4.30, Fig. 4.15).

  Each unit either copies the block's input or applies the mollified
  activation to a dense layer, at random with the layer's level p:

    h~ = ψ(x W + b, ξ)                  (`MollifiedActivation`'s ψ)
    y  = π ⊙ skip(x) + (1 - π) ⊙ h~,    π ~ Bernoulli(p) per example and unit

  plus skip(x) when `residual` (the optional residual connection of Fig.
  4.15). At p = 1 the block is the identity map skip(x) (without
  `residual`), at p = 0 it is `Dense(units, activation)`. skip(x) is x when
  it has `units` features, else x zero-padded to `units` (projection='pad',
  for narrower inputs) or x P with a learned `units`-wide matrix P
  (projection='linear'): the thesis' two options.

  Training draws ξ and π from the layer's seed, step counter and each
  element's index in the global batch; inference returns their
  expectation, p skip(x) + (1 - p) E[ψ(x W + b)] (+ skip(x)), so `predict`
  is deterministic. The level is the non-trainable float32 scalar weight
  `mollification` that `tf_approx.callbacks.MollificationSchedule` sets.

  Args:
    units: the output width, >= 1.
    activation: 'sigmoid' or 'tanh'.
    c: the noise scale c >= 0 of the mollified activation (eq. 4.25).
    projection: 'pad' or 'linear': how skip(x) matches widths that differ.
    residual: add skip(x) to the output.
    mollification: the level p in [0, 1] the layer starts at (1: the
      thesis' start, every unit copies its input).
    use_bias: whether the dense layer has a bias.
    kernel_initializer: initializer of W (and of P); default Glorot uniform,
      as the thesis' MLPs.
    bias_initializer: initializer of b.
    kernel_regularizer, bias_regularizer, kernel_constraint,
      bias_constraint: for W (and P) and b, as in Dense.
    a_initializer: initializer of the mollified activation's per-unit a_i;
      default U[-2, 2] seeded by `seed`.
    seed: an int in [0, 2**63 - 1] seeding the noise (and the default
      a_initializer). Default: drawn once when the layer is made and kept
      in its config.

  Input shape: (..., n) with n known.
  Output shape: (..., units).

  Example:

    >>> model = keras.Sequential([keras.Input((40,))] + [
    ...     MollifyingBlock(64) for _ in range(6)] + [keras.layers.Dense(1)])
  """

  def __init__(self, units, activation="sigmoid", c=DEFAULT_C,
               projection="pad", residual=False, mollification=1.0,
               use_bias=True, kernel_initializer="glorot_uniform",
               bias_initializer="zeros", a_initializer=None, seed=None,
               kernel_regularizer=None, bias_regularizer=None,
               kernel_constraint=None, bias_constraint=None, **kwargs):
    super().__init__(activation, c, mollification, a_initializer, seed,
                     **kwargs)
    self.units = check_positive_int(units, "units")
    self.projection = check_choice(projection, PROJECTIONS, "projection")
    self.residual = bool(residual)
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)
    self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
    self.bias_regularizer = keras.regularizers.get(bias_regularizer)
    self.kernel_constraint = keras.constraints.get(kernel_constraint)
    self.bias_constraint = keras.constraints.get(bias_constraint)

  def build(self, input_shape):
    n_in = last_axis(self, input_shape)
    self._n_in = n_in
    self.input_spec = keras.layers.InputSpec(min_ndim=1, axes={-1: n_in})
    self.kernel = self.add_weight(name="kernel", shape=(n_in, self.units),
                                  initializer=self.kernel_initializer,
                                  regularizer=self.kernel_regularizer,
                                  constraint=self.kernel_constraint)
    self.bias = (self.add_weight(name="bias", shape=(self.units,),
                                 initializer=self.bias_initializer,
                                 regularizer=self.bias_regularizer,
                                 constraint=self.bias_constraint)
                 if self.use_bias else None)
    self.projection_kernel = None
    if n_in != self.units:
      if self.projection == "linear":
        self.projection_kernel = self.add_weight(
            name="projection", shape=(n_in, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
      elif n_in > self.units:
        raise ValueError(
            f"MollifyingBlock(units={self.units}) cannot zero-pad its "
            f"{n_in}-wide input to fewer units: pass "
            "`projection='linear'` or units >= the input width")
    self._add_state(self.units)

  def _skip(self, inputs):
    if self._n_in == self.units:
      return inputs
    if self.projection_kernel is not None:
      return tf.matmul(inputs, tf.cast(self.projection_kernel, inputs.dtype))
    pad = [[0, 0]] * (len(inputs.shape) - 1) + [[0, self.units - self._n_in]]
    return tf.pad(inputs, pad)

  def call(self, inputs, training=None):
    check_float_inputs(self, inputs)
    dtype = inputs.dtype
    z = tf.tensordot(inputs, tf.cast(self.kernel, dtype), axes=1)
    if self.use_bias:
      z += tf.cast(self.bias, dtype)
    skip = self._skip(inputs)
    level = self._level(dtype)
    a = tf.cast(self.a, dtype)
    if training:
      uniforms = self._draw(z, 2)
      xi = counter_noise.normal_from_uniform(uniforms[:, 0])
      noise = tf.cast(tf.reshape(xi, tf.shape(z)), dtype)
      chosen = 0.5 * (uniforms[:, 1] + 1.0) < self._level(tf.float32)
      gate = tf.cast(tf.reshape(chosen, tf.shape(z)), dtype)
      mollified = mollified_activation(z, a, level, self.c, self.activation,
                                       noise)
      outputs = gate * skip + (1.0 - gate) * mollified
    else:
      mollified = mollified_activation(z, a, level, self.c, self.activation)
      outputs = level * skip + (1.0 - level) * mollified
    return outputs + skip if self.residual else outputs

  def compute_output_shape(self, input_shape):
    return (*input_shape[:-1], self.units)

  def get_config(self):
    config = super().get_config()
    config.update(
        units=self.units, projection=self.projection, residual=self.residual,
        use_bias=self.use_bias,
        kernel_initializer=keras.initializers.serialize(
            self.kernel_initializer),
        bias_initializer=keras.initializers.serialize(self.bias_initializer),
        kernel_regularizer=keras.regularizers.serialize(
            self.kernel_regularizer),
        bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
        kernel_constraint=keras.constraints.serialize(self.kernel_constraint),
        bias_constraint=keras.constraints.serialize(self.bias_constraint))
    return config
