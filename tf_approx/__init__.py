"""tf_approx: fast activation approximations and structured layers as native
TensorFlow ops, usable from Keras by name.

Importing the package loads the op library (so SavedModels using its ops load
in this process) and makes every approximation name known to Keras.
"""

from tf_approx import activations
from tf_approx import callbacks
from tf_approx import layers
from tf_approx import ops
from tf_approx._library import gpu_status
from tf_approx._library import load_ops
from tf_approx._library import OpLibraryError
from tf_approx._library import selected_isa

__version__ = "0.1.0"

load_ops()
activations._register_builtins_with_keras()  # pylint: disable=protected-access
