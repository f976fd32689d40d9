"""Argument checks shared by the layers and callbacks: ValueError naming the
argument, what was expected and what came."""

import math


def check_number(value, arg, low=None, high=None):
  """`value` as a finite float within [low, high] (either bound optional)."""
  try:
    number = float(value)
  except (TypeError, ValueError):
    raise ValueError(f"`{arg}` must be a number, got {value!r}") from None
  if (not math.isfinite(number) or (low is not None and number < low)
      or (high is not None and number > high)):
    bounds = [f"{op} {bound:g}" for op, bound in ((">=", low), ("<=", high))
              if bound is not None]
    raise ValueError(" ".join([f"`{arg}` must be a finite number", *bounds])
                     + f", got {value}")
  return number


def last_axis(layer, input_shape):
  """The size of input_shape's last axis, which `layer` needs known."""
  n = input_shape[-1] if input_shape else None
  if n is None:
    raise ValueError(f"{type(layer).__name__} needs a known last axis, got "
                     f"input shape {input_shape}")
  return int(n)
