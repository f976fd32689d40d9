"""Python wrappers of the native ops, with their registered gradients."""

from tf_approx.ops.acdc import acdc
from tf_approx.ops.acdc import dct
from tf_approx.ops.activations import activation
from tf_approx.ops.activations import ActivationSpec
from tf_approx.ops.fastfood import fast_walsh_hadamard
from tf_approx.ops.fastfood import fastfood
from tf_approx.ops.gaaf import gaaf
from tf_approx.ops.noisy import noisy_activation
from tf_approx.ops.pau import pau
from tf_approx.ops.recurrent import gru
from tf_approx.ops.recurrent import lstm
