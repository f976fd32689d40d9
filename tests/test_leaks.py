"""No op leaks: 10,000 eager calls, forward and gradient, keep RSS flat.

For every raw op of the library (through its `tf_approx.ops` wrapper, under
tf.GradientTape so the gradient op runs too), after a warm-up that fills
TensorFlow's caches, 10,000 calls must grow the resident set by less than
10 MB. Tiny tensors keep the calls cheap; a leak of 4 KiB per call (40 MB)
shows four times over, which test_measurement_sees_a_leak checks.
"""

import ctypes
import gc
import os

import numpy as np
import pytest
import tensorflow as tf

import tf_approx

CALLS = 10_000
WARMUP_CALLS = 300
LIMIT_BYTES = 10 * 2**20


def _rss_bytes():
  with open("/proc/self/statm", encoding="ascii") as f:
    return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _variables(rng, *shapes):
  return [tf.Variable(rng.normal(size=shape).astype(np.float32))
          for shape in shapes]


def _cases():
  """{op name: (function of the variables, variables)}."""
  rng = np.random.default_rng(0)
  ops = tf_approx.ops
  spec = ops.ActivationSpec(kind="rational", numerator=[0.0, 1.0, 0.0, 0.1],
                            denominator=[1.0, 0.0, 0.4])
  permutation = tf.constant(rng.permutation(8)[None], tf.int32)
  return {
      "activation": (lambda x: ops.activation(x, spec), _variables(rng, [5, 3])),
      "pau": (lambda x, a, b: ops.pau(x, a, b, randomized=0.1, seed=[1, 2]),
              _variables(rng, [5, 3], [6], [4])),
      "fast_walsh_hadamard": (lambda x: ops.fast_walsh_hadamard(x, True),
                              _variables(rng, [3, 8])),
      "fastfood": (lambda x, s, g, b: ops.fastfood(x, s, g, b, permutation,
                                                   units=8, normalize=True),
                   _variables(rng, [3, 5], [1, 8], [1, 8], [1, 8])),
      "acdc": (ops.acdc, _variables(rng, [3, 6], [6], [6], [6])),
      "dct": (ops.dct, _variables(rng, [3, 6])),
      "noisy_activation": (
          lambda x, p: ops.noisy_activation(x, p, 0.5, seed=[1, 2],
                                            training=True),
          _variables(rng, [5, 3], [3])),
      "gaaf": (ops.gaaf, _variables(rng, [5, 3])),
      # x [time 4, batch 2, 4 units], the kernel, h0, c0; lengths as a mask.
      "lstm": (lambda x, k, h, c: ops.lstm(
          x, k, h, c, tf.constant([4, 2]), activation=spec,
          recurrent_activation="sigmoid"),
               _variables(rng, [4, 2, 12], [3, 12], [2, 3], [2, 3])),
      # x [time 4, batch 2, 3 units], the kernel, the recurrent bias, h0.
      "gru": (lambda x, k, b, h: ops.gru(
          x, k, b, h, tf.constant([4, 2]), activation=spec,
          recurrent_activation="sigmoid", reset_after=False),
              _variables(rng, [4, 2, 9], [3, 9], [9], [2, 3])),
  }


def _release_free_heap():
  """Returns the allocator's free pages to the kernel (glibc's malloc_trim).

  Without it, pages that earlier tests freed stay resident and a leak that
  fills them does not grow the resident set: the self-check once saw only
  7.8 MB of a 40 MB leak.
  """
  ctypes.CDLL(None).malloc_trim(0)


def _growth(step):
  for _ in range(WARMUP_CALLS):
    step()
  gc.collect()
  _release_free_heap()
  before = _rss_bytes()
  for _ in range(CALLS):
    step()
  gc.collect()
  return _rss_bytes() - before


@pytest.mark.parametrize("name", sorted(_cases()))
def test_op_and_gradient_do_not_leak(name):
  function, variables = _cases()[name]

  def step():
    with tf.GradientTape() as tape:
      y = function(*variables)
    grads = tape.gradient(y, variables)
    assert all(g is not None for g in grads)

  growth = _growth(step)
  assert growth < LIMIT_BYTES, (
      f"{name}: RSS grew by {growth / 2**20:.1f} MB over {CALLS} calls")


def test_measurement_sees_a_leak():
  kept = []

  def leaky_step():
    # 4 KiB a call (40 MB in all), written so that it is resident: a
    # TensorFlow tensor of ones grew the resident set by only 9 MB in 10,000
    # calls in one run.
    kept.append(np.full(1024, 1.0, np.float32))

  assert _growth(leaky_step) >= LIMIT_BYTES
