"""The annealing callbacks: formula values after N batches of a real fit."""

import math

import keras
import numpy as np
import pytest

from tf_approx import callbacks
from tf_approx.layers.mollify import MollifiedActivation
from tf_approx.layers.mollify import MollifyingBlock

FEATURES = 4
BATCH = 8


class StandInNoisy(keras.layers.Layer):
  """A stand-in noisy layer: x + noise_scale * 0, with its weight."""

  def build(self, input_shape):
    self.noise_scale = self.add_weight(name="noise_scale", shape=(),
                                       trainable=False, initializer="ones")

  def call(self, inputs):
    return inputs + 0.0 * self.noise_scale


class Holder(keras.layers.Layer):
  """A layer that holds another one, as wrappers and blocks do."""

  def __init__(self, inner, **kwargs):
    super().__init__(**kwargs)
    self.inner = inner

  def build(self, input_shape):
    self.inner.build(input_shape)

  def call(self, inputs):
    return self.inner(inputs)


def _data(batches):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(batches * BATCH, FEATURES)).astype(np.float32)
  return x, (x[:, 0] > 0).astype(np.float32)


def _fit(model, batches, callback, epochs=1):
  """Fits `batches` batches per epoch; returns per-batch logs and values."""
  seen = []

  def record(batch, logs):
    del batch
    seen.append((dict(logs), [float(v.numpy()) for _, v in
                              callbacks.layers_with_weight(
                                  model, callback.weight_name)]))

  hook = ("on_train_batch_begin" if isinstance(callback,
                                                callbacks.NoiseAnnealing)
          else "on_train_batch_end")
  recorder = keras.callbacks.LambdaCallback(**{hook: record})
  model.compile(keras.optimizers.SGD(0.01),
                keras.losses.BinaryCrossentropy(from_logits=True))
  x, y = _data(batches)
  model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0,
            callbacks=[callback, recorder])
  return seen


def _noisy_model():
  keras.utils.set_random_seed(0)
  inner = keras.Sequential([keras.Input((FEATURES,)), StandInNoisy()],
                           name="inner")
  return keras.Sequential([
      keras.Input((FEATURES,)), StandInNoisy(), inner,
      Holder(StandInNoisy()), keras.layers.Dense(1)])


def test_noise_annealing_values_by_batch():
  model = _noisy_model()
  annealing = callbacks.NoiseAnnealing(c0=8.0, every=3)
  seen = _fit(model, batches=5, callback=annealing, epochs=2)
  assert len(seen) == 10
  for n, (_, values) in enumerate(seen):
    # Batch n (from 0) trains with c(n // every).
    assert values == pytest.approx([8.0 / math.sqrt(n // 3 + 1)] * 3)
  assert annealing.batches == 10
  assert annealing.value == pytest.approx(8.0 / 2.0)  # t = 9 // 3 = 3
  # The layers keep the last value, and a further fit goes on counting.
  _fit(model, batches=2, callback=annealing)
  assert annealing.batches == 12
  found = callbacks.layers_with_weight(model, "noise_scale")
  assert [v.numpy() for _, v in found] == pytest.approx([8.0 / 2.0] * 3)


def test_noise_annealing_defaults():
  annealing = callbacks.NoiseAnnealing()
  assert (annealing.c0, annealing.every) == (30.0, 200)
  assert annealing.scale(0) == 30.0
  assert annealing.scale(199) == 30.0
  assert annealing.scale(200) == pytest.approx(30.0 / math.sqrt(2))
  assert annealing.scale(800) == pytest.approx(30.0 / math.sqrt(5))
  # The thesis' run: from 30 down to 0.5, reached at t = 3599.
  floored = callbacks.NoiseAnnealing(floor=0.5)
  assert floored.scale(200 * 3598) > 0.5
  assert floored.scale(200 * 3599) == floored.scale(10**9) == 0.5


@pytest.mark.parametrize("kwargs, message", [
    (dict(c0=0.0), "`c0`"),
    (dict(c0=-1.0), "`c0`"),
    (dict(c0=float("inf")), "`c0`"),
    (dict(every=0), "`every`"),
    (dict(floor=-0.5), "`floor`"),
    (dict(c0=1.0, floor=2.0), "`floor`"),
])
def test_noise_annealing_rejects(kwargs, message):
  with pytest.raises(ValueError, match=message):
    callbacks.NoiseAnnealing(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(c0="hot"), "`c0`"),
    (dict(every=1.5), "`every`"),
    (dict(every=True), "`every`"),
])
def test_noise_annealing_rejects_bad_types(kwargs, message):
  with pytest.raises(TypeError, match=message):
    callbacks.NoiseAnnealing(**kwargs)


def _mollified_model():
  keras.utils.set_random_seed(0)
  nested = keras.Sequential([keras.Input((6,)),
                             MollifyingBlock(6, seed=2)], name="nested")
  return keras.Sequential([
      keras.Input((FEATURES,)), MollifyingBlock(6, seed=1), nested,
      Holder(MollifiedActivation("tanh", seed=3)), keras.layers.Dense(1)])


def _expected_levels(losses, k, decay, depth, by_depth=True):
  """p_t^l of eq. 4.31 after every batch, from the logged losses."""
  levels, moving = [], None
  for t, loss in enumerate(losses, start=1):
    moving = loss if moving is None else decay * moving + (1 - decay) * loss
    levels.append([1 - math.exp(-k * moving * (l if by_depth else depth)
                                / (t * depth))
                   for l in range(1, depth + 1)])
  return levels


def test_mollification_schedule_follows_eq_4_31():
  model = _mollified_model()
  schedule = callbacks.MollificationSchedule(k=20.0, decay=0.5)
  seen = _fit(model, batches=4, callback=schedule, epochs=2)
  losses = [logs["loss"] for logs, _ in seen]
  want = _expected_levels(losses, k=20.0, decay=0.5, depth=3)
  # Input first: the two blocks, then the activation inside the holder.
  assert [values for _, values in seen] == [
      pytest.approx(levels, rel=1e-6) for levels in want]
  assert schedule.t == 8
  assert schedule.levels == pytest.approx(want[-1])
  assert want[-1][0] < want[-1][1] < want[-1][2] < 1  # lower anneal faster
  layers = [layer for layer, _ in
            callbacks.layers_with_weight(model, "mollification")]
  assert [type(layer).__name__ for layer in layers] == [
      "MollifyingBlock", "MollifyingBlock", "MollifiedActivation"]


def test_mollification_schedule_without_depth_and_average():
  model = _mollified_model()
  schedule = callbacks.MollificationSchedule(k=5.0, decay=0.0,
                                             by_depth=False)
  seen = _fit(model, batches=3, callback=schedule)
  losses = [logs["loss"] for logs, _ in seen]
  for t, (loss, (_, values)) in enumerate(zip(losses, seen), start=1):
    assert values == pytest.approx([1 - math.exp(-5.0 * loss / t)] * 3,
                                   rel=1e-6)


def test_mollification_schedule_stops_at_threshold():
  model = _mollified_model()
  # With k = 1 the three levels are 1 - exp(-v l / 3t) <= 1 - exp(-v): they
  # sum to under 2.5 from the first batch on while the loss v < 2.5.
  schedule = callbacks.MollificationSchedule(k=1.0, threshold=2.5)
  seen = _fit(model, batches=3, callback=schedule)
  assert schedule.stopped_at == 1
  assert schedule.t == 1
  assert [values for _, values in seen[1:]] == [seen[0][1]] * 2


def test_mollification_schedule_k_zero_is_no_mollification():
  model = _mollified_model()
  seen = _fit(model, batches=2, callback=callbacks.MollificationSchedule(0))
  assert seen[-1][1] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(k=-1.0), "`k`"),
    (dict(k=float("nan")), "`k`"),
    (dict(k=1.0, decay=1.0), "`decay`"),
    (dict(k=1.0, decay=-0.5), "`decay`"),
    (dict(k=1.0, threshold=-1.0), "`threshold`"),
])
def test_mollification_schedule_rejects(kwargs, message):
  with pytest.raises(ValueError, match=message):
    callbacks.MollificationSchedule(**kwargs)
