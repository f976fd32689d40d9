"""GAAF, gradient acceleration in activation functions, as a Keras layer.

    tf_approx.layers.GAAF('tanh', k=10000)   # forward ~ tanh, gradient + s(x)

Hahn and Choi: phi(x) + g(x) s(x), g(x) = (xK - floor(xK) - 1/2) / K. The output
differs from phi by at most 1/(2K); the gradient gains s(x) (g' = 1 almost
everywhere), which lets gradient flow where phi saturates, as dropout does
(the paper's explanation of dropout), but deterministically.
"""

import keras

from tf_approx._validation import check_float_inputs
from tf_approx.ops.gaaf import check_arguments
from tf_approx.ops.gaaf import DEFAULT_SHAPES
from tf_approx.ops.gaaf import gaaf

DEFAULT_K = 10000.0


@keras.saving.register_keras_serializable(package="tf_approx")
class GAAF(keras.layers.Layer):
  """phi(x) + g(x) s(x): phi's values, phi' + s(x) as gradient.

  Args:
    activation: phi: 'tanh', 'sigmoid' or 'relu'.
    k: the frequency K of g (the paper: 10 000). Earlier versions named
      this argument `K`; `K=` is still accepted (and `.keras` files that
      stored it load), but not together with `k`.
    shape: s: 'exp', exp(-|x - center| / width) (the paper's "exponential"
      for tanh; the default for tanh and sigmoid); 'sigmoid',
      sigmoid(-(x - center) / width) (its "shifted sigmoid" for relu; the
      default for relu: extra gradient where relu is flat); or 'none' (1).
      The paper shows only plots of its shapes; these forms and the defaults
      center=0, width=1 are this library's choice.
    center, width: the shape function's parameters.

  Input shape: any float tensor. Output shape: the input's.
  """

  def __init__(self, activation="tanh", k=None, shape=None, center=0.0,
               width=1.0, **kwargs):
    k_arg = "k"
    if "K" in kwargs:
      if k is not None:
        raise TypeError("GAAF takes `k` (formerly `K`), not both; got "
                        f"k={k!r} and K={kwargs['K']!r}")
      k, k_arg = kwargs.pop("K"), "K"
    super().__init__(**kwargs)
    if shape is None and isinstance(activation, str):
      shape = DEFAULT_SHAPES.get(activation)
    _, _, self.k, self.center, self.width = check_arguments(
        activation, shape, DEFAULT_K if k is None else k, center, width,
        names={"base": "activation", "k": k_arg})
    self.activation = activation
    self.shape = shape
    # XLA cannot compile the native op: under jit_compile the op wrapper
    # switches to the composite twin.
    self.supports_jit = False

  def build(self, input_shape):
    # Elementwise with no weights: any rank fits.
    self.input_spec = keras.layers.InputSpec(min_ndim=0)

  def call(self, inputs):
    check_float_inputs(self, inputs)
    return gaaf(inputs, base=self.activation, shape=self.shape, k=self.k,
                center=self.center, width=self.width)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config.update(activation=self.activation, k=self.k, shape=self.shape,
                  center=self.center, width=self.width)
    return config
