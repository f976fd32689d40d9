"""GAAF, gradient acceleration in activation functions, as a Keras layer.

    tf_approx.layers.GAAF('tanh', K=10000)   # forward ~ tanh, gradient + s(x)

Kim et al.: phi(x) + g(x) s(x), g(x) = (xK - floor(xK) - 1/2) / K. The output
differs from phi by at most 1/(2K); the gradient gains s(x) (g' = 1 almost
everywhere), which lets gradient flow where phi saturates, as dropout does
(the paper's explanation of dropout), but deterministically.
"""

import keras

from tf_approx.ops.gaaf import check_arguments
from tf_approx.ops.gaaf import DEFAULT_SHAPES
from tf_approx.ops.gaaf import gaaf


@keras.saving.register_keras_serializable(package="tf_approx")
class GAAF(keras.layers.Layer):
  """phi(x) + g(x) s(x): phi's values, phi' + s(x) as gradient.

  Args:
    activation: phi: 'tanh', 'sigmoid' or 'relu'.
    K: the frequency of g (the paper: 10 000).
    shape: s: 'exp', exp(-|x - center| / width) (the paper's "exponential"
      for tanh; the default for tanh and sigmoid); 'sigmoid',
      sigmoid(-(x - center) / width) (its "shifted sigmoid" for relu; the
      default for relu: extra gradient where relu is flat); or 'none' (1).
      The paper shows only plots of its shapes; these forms and the defaults
      center=0, width=1 are this library's choice.
    center, width: the shape function's parameters.
  """

  def __init__(self, activation="tanh", K=10000.0, shape=None, center=0.0,
               width=1.0, **kwargs):
    super().__init__(**kwargs)
    shape = DEFAULT_SHAPES.get(activation) if shape is None else shape
    check_arguments(activation, shape, K, center, width)
    self.activation = activation
    self.K = float(K)
    self.shape = shape
    self.center = float(center)
    self.width = float(width)
    # XLA cannot compile the native op: under jit_compile the op wrapper
    # switches to the composite twin.
    self.supports_jit = False

  def call(self, inputs):
    return gaaf(inputs, base=self.activation, shape=self.shape, k=self.K,
                center=self.center, width=self.width)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config.update(activation=self.activation, K=self.K, shape=self.shape,
                  center=self.center, width=self.width)
    return config
