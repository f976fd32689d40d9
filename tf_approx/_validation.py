"""Argument checks shared by the op wrappers, the layers and the callbacks.

Each kind of check is written once, here. A bad value raises ValueError, a
value of the wrong type TypeError; either names the argument as the caller
spelt it, says what was expected and shows what came.
"""

import math
import numbers

import numpy as np
import tensorflow as tf

# Seeds end up in int64 tensors (the counter-noise ops, stateless RNG).
SEED_MAX = 2**63 - 1
# Seeds drawn when a layer is made without one stay in int32, so they read
# the same in every config and language.
_DRAWN_SEED_MAX = 2**31 - 1


def _show(value):
  text = repr(value)
  return text if len(text) <= 80 else text[:77] + "..."


def _bound(bound):
  # 2**63 - 1 reads better as itself than as 9223372036854775807.
  for power in (31, 32, 63, 64):
    for offset in (0, 1, 2):
      if bound == 2**power - offset and bound > 2**16:
        return f"2**{power}" + (f" - {offset}" if offset else "")
  return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _check_bounds(number, value, arg, what, low, high, low_open=False,
                  high_open=False):
  below = low is not None and (number <= low if low_open else number < low)
  above = high is not None and (number >= high if high_open else
                                number > high)
  if not (below or above or math.isnan(number)):
    return
  if low is not None and high is not None:
    expected = (f"{what} in {'(' if low_open else '['}{_bound(low)}, "
                f"{_bound(high)}{')' if high_open else ']'}")
  else:
    parts = [f"{'>' if low_open else '>='} {_bound(low)}"
             if low is not None else None,
             f"{'<' if high_open else '<='} {_bound(high)}"
             if high is not None else None]
    expected = " ".join([what] + [p for p in parts if p])
  raise ValueError(f"`{arg}` must be {expected}, got {_show(value)}")


def _scalar(value):
  """A 0-d numpy array or eager tensor as its numpy scalar; else `value`."""
  if isinstance(value, np.ndarray) or (tf.is_tensor(value)
                                       and hasattr(value, "numpy")):
    array = np.asarray(value)
    if array.ndim == 0:
      return array[()]
  return value


def check_int(value, arg, low=None, high=None, what="an int"):
  """`value` as a Python int within [low, high] (either bound optional).

  Takes Python ints, numpy integers and 0-d integer arrays. Refuses bools
  (True is not a count), floats (even 2.0: a float where an int is meant
  is usually a unit mistake) and strings with a TypeError.
  """
  value = _scalar(value)
  if isinstance(value, (bool, np.bool_)) or not isinstance(
      value, numbers.Integral):
    raise TypeError(f"`{arg}` must be {what}, got {type(value).__name__} "
                    f"{_show(value)}")
  number = int(value)
  _check_bounds(number, value, arg, what, low, high)
  return number


def check_positive_int(value, arg, high=None):
  """`value` as a Python int >= 1 (and <= high)."""
  return check_int(value, arg, low=1, high=high)


def check_number(value, arg, low=None, high=None, low_open=False,
                 high_open=False):
  """`value` as a finite Python float within its bounds.

  Takes Python and numpy ints and floats and 0-d real arrays or tensors.
  Refuses bools, complex numbers and strings with a TypeError, NaN, the
  infinities and values out of bounds with a ValueError.

  Args:
    value: the argument.
    arg: its name, as the caller spelt it.
    low, high: the bounds (either optional); `low_open` and `high_open`
      make them exclusive.
  """
  value = _scalar(value)
  if isinstance(value, (bool, np.bool_)) or not isinstance(
      value, numbers.Real):
    raise TypeError(f"`{arg}` must be a finite number, got "
                    f"{type(value).__name__} {_show(value)}")
  try:
    number = float(value)
  except OverflowError:  # an int too large for a float
    number = math.inf
  if not math.isfinite(number):
    number = math.nan  # reported like a value out of bounds
  _check_bounds(number, value, arg, "a finite number", low, high, low_open,
                high_open)
  return number


def check_choice(value, choices, arg):
  """`value` if it is one of `choices` (a tuple of strings)."""
  if not isinstance(value, str):
    raise TypeError(f"`{arg}` must be one of {choices}, got "
                    f"{type(value).__name__} {_show(value)}")
  if value not in choices:
    raise ValueError(f"`{arg}` must be one of {choices}, got {value!r}")
  return value


def check_seed(value, arg="seed", high=SEED_MAX):
  """`value` as an int seed in [0, high]; floats, bools and strings are
  refused rather than truncated or coerced."""
  return check_int(value, arg, low=0, high=high, what="an int seed")


def seed_or_draw(value, arg="seed", high=SEED_MAX):
  """`check_seed(value)`, or a seed drawn from numpy's global RNG for None:
  a layer made without a seed draws one once and keeps it in its config."""
  if value is None:
    return int(np.random.randint(0, _DRAWN_SEED_MAX))
  return check_seed(value, arg, high)


def _dtype_of(value):
  """(dtype, typed): tf.DType of an array, tensor or variable (typed), or
  of the numpy array that Python numbers and lists make (untyped)."""
  dtype = getattr(value, "dtype", None)
  if dtype is not None:
    try:
      return tf.as_dtype(dtype), True
    except TypeError:
      pass
  try:
    return tf.as_dtype(np.asarray(value).dtype), False
  except (TypeError, ValueError):
    return None, False


def check_float_parameter(value, arg):
  """Refuses a parameter (coefficients, diagonals) that is not real floats.

  Arrays, tensors and variables must have a float dtype: casting a complex
  one would drop its imaginary part, an int or bool one usually holds
  something other than parameters. Python numbers and lists may hold ints
  (they are read as floats), but not complex numbers, bools or strings.

  Returns:
    `value`, unchanged.

  Raises:
    TypeError: naming `arg`, with the dtype that came.
  """
  dtype, typed = _dtype_of(value)
  ok = dtype is not None and (dtype.is_floating or (
      not typed and dtype.is_integer))
  if not ok:
    got = dtype.name if dtype is not None else type(value).__name__
    raise TypeError(f"`{arg}` must hold real floats (float16, bfloat16, "
                    f"float32 or float64), got {got}")
  return value


def check_permutation_values(values, arg="permutation"):
  """`values` (an array or list) as int32 numpy rows, each a permutation
  of range(d), d the last axis.

  Int values are checked before the cast, so that none wraps to another
  permutation; floats are refused, not truncated to a permutation the
  caller never gave.

  Raises:
    TypeError: not an integer dtype.
    ValueError: a row that is not a permutation of range(d).
  """
  values = np.asarray(values)
  if not np.issubdtype(values.dtype, np.integer):
    raise TypeError(f"`{arg}` must hold ints (int32 or int64), got "
                    f"{values.dtype}")
  if values.ndim:
    d = values.shape[-1]
    rows = values.reshape(-1, d)
    expected = np.arange(d)
    for i, row in enumerate(rows):
      if not np.array_equal(np.sort(row), expected):
        raise ValueError(
            f"`{arg}` must hold a permutation of range({d}) in every row, "
            f"got {_show(row.tolist())} in row {i}")
  return values.astype(np.int32)


def check_permutation(permutation, arg="permutation"):
  """`permutation` as int32, for an op that takes int32 permutations.

  Takes int32 and int64 (numpy's default int) tensors, arrays, variables and
  lists; int32 ones go to the op as they are (the op checks each row).
  Other ints must not wrap to another permutation in the cast: values known
  here (numpy, lists, eager tensors) are checked by
  `check_permutation_values`, those of a graph by an assertion that the
  cast keeps every value. Floats are refused.

  Raises:
    TypeError: not an integer dtype.
    ValueError: known values that are not permutations.
  """
  dtype, _ = _dtype_of(permutation)
  if dtype is None or not dtype.is_integer:
    got = dtype.name if dtype is not None else type(permutation).__name__
    raise TypeError(f"`{arg}` must be int32 or int64, got {got}")
  if dtype == tf.int32:
    return permutation
  if tf.is_tensor(permutation) and not hasattr(permutation, "numpy"):
    int32 = tf.cast(permutation, tf.int32)
    check = tf.debugging.assert_equal(
        tf.cast(int32, dtype), permutation,
        message=f"`{arg}` has values outside int32, so it is not a "
        "permutation of range(d)")
    with tf.control_dependencies([check]):
      return tf.identity(int32)
  return tf.constant(check_permutation_values(permutation, arg))


def checked_permutation_weights(layer, weights, names):
  """`weights` for `layer.set_weights`, with those of its int32 permutation
  weights (the attributes `names`) checked by `check_permutation_values`:
  Keras would otherwise cast int64 or float arrays into them, wrapping or
  truncating them to another permutation."""
  weights = list(weights)
  arguments = {id(getattr(layer, name)): name for name in names
               if getattr(layer, name, None) is not None}
  for i, variable in enumerate(layer.weights[:len(weights)]):
    if id(variable) in arguments:
      weights[i] = check_permutation_values(weights[i], arguments[id(variable)])
  return weights


def check_float_inputs(layer, inputs):
  """Raises TypeError unless the tensor a layer is called on holds floats."""
  dtype = tf.as_dtype(inputs.dtype)
  if not dtype.is_floating:
    raise TypeError(f"{type(layer).__name__} needs float `inputs`, got "
                    f"{dtype.name}; cast them first (e.g. "
                    "keras.ops.cast(x, 'float32'))")


def last_axis(layer, input_shape):
  """The size of input_shape's last axis, which `layer` needs known."""
  n = input_shape[-1] if input_shape else None
  if n is None:
    raise ValueError(f"{type(layer).__name__} needs a known last axis, got "
                     f"input shape {input_shape}")
  return int(n)
