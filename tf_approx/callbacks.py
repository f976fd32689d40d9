r"""Keras callbacks that anneal noise in training (thesis §4.3-4.4).

    schedule = tf_approx.callbacks.MollificationSchedule(k=1000)
    model.fit(x, y, callbacks=[schedule])
    model.fit(x, y, callbacks=[tf_approx.callbacks.NoiseAnnealing(c0=30.0)])

Both training schemes of the thesis start noisy and end (nearly) noise-free,
and both are schedules of a scalar the layers read from a non-trainable
weight: a callback assigns the weight between steps, so the compiled train
step reads the new value without being traced again.

* `MollificationSchedule` sets the level p of every mollified layer
  (`tf_approx.layers.MollifiedActivation`, `MollifyingBlock`: their
  `mollification` weight) from the training loss, eq. 4.31.
* `NoiseAnnealing` sets the noise scale c of every noisy activation (its
  `noise_scale` weight) to c0 / sqrt(t + 1), thesis §4.3.6.6.

The layers are found by walking the model recursively, nested models and
layers that hold layers included: every layer with an attribute
`mollification` (or `noise_scale`) that is a variable. Counters are kept in
Python on the callback and go on across `fit` calls with the same callback
(make a new one to start over). With `steps_per_execution` > 1, Keras calls
the batch hooks once per execution, so values change once per execution and
`t` counts executions.
"""

import math

import keras
import numpy as np

from tf_approx._validation import check_number
from tf_approx._validation import check_positive_int


def _variable_attr(layer, name):
  value = getattr(layer, name, None)
  return value if isinstance(value, keras.Variable) else None


def _walk(model):
  """`model` and every layer it holds, depth first, each before its layers.

  Keras has no public recursive walk that keeps the input-to-output order
  (`_flatten_layers` reverses nested layers); `_layers`, the tracked
  sublayers, is what it walks itself. A shared layer comes once.
  """
  seen, stack = set(), [model]
  while stack:
    layer = stack.pop()
    if id(layer) in seen:
      continue
    seen.add(id(layer))
    yield layer
    stack.extend(reversed(getattr(layer, "_layers", None) or []))


def layers_with_weight(model, name):
  """The layers in `model` (itself included) with a variable attribute `name`.

  Depth first, each layer before the layers it holds, in the order the model
  lists them: input to output for `Sequential` and functional models.

  Returns:
    A list of (layer, variable).
  """
  found = []
  for layer in _walk(model):
    variable = _variable_attr(layer, name)
    if variable is not None:
      found.append((layer, variable))
  return found


class _LayerAssigner(keras.callbacks.Callback):
  """Finds the layers with a weight `name`, once the model is built."""

  weight_name = None

  def __init__(self):
    super().__init__()
    self._targets = None
    self._complete = False

  def on_train_begin(self, logs=None):
    self._targets = None

  def _variables(self):
    # A subclassed model builds its layers in its first train step, after
    # on_train_begin: look again until every layer is built.
    if self._targets is None or not self._complete:
      self._complete = all(getattr(layer, "built", True)
                           for layer in _walk(self.model))
      self._targets = [v for _, v in layers_with_weight(self.model,
                                                        self.weight_name)]
    return self._targets


class MollificationSchedule(_LayerAssigner):
  r"""Anneals the mollification level p of every layer by eq. 4.31.

  After training step t (t = 1, 2, ...; the update index of the thesis), for
  mollified layer l of L (l = 1 nearest the input):

    p_t^l = 1 - exp(-k v_t l / (t L)),  v_t = decay v_{t-1} + (1 - decay) loss_t

  with v_1 = loss_1, and assigns it to the layer's `mollification` weight,
  to be used from step t + 1 on (before the first step the layers keep the
  level they were made with, 1 by default). Since k v l / (t L) shrinks
  like 1/t, p falls to 0 as training goes on, faster while the loss is low
  (eq. 4.32: p -> 1 as v -> inf, p -> 0 as v -> 0), and faster for lower
  layers.

  How the thesis is read here:
    * "v_t^l" in eq. 4.31 is taken as v_t times l, the layer's depth index:
      v_t is one moving average of the one loss, and the thesis says each
      layer has its own schedule so that lower layers anneal faster, like
      the linearly decaying survival probabilities of stochastic depth; the
      factor l / L in [1/L, 1] is what makes the layers differ.
      `by_depth=False` drops it (p_t = 1 - exp(-k v_t / t) for all layers).
    * L is the number of mollified layers in the model (those with a
      `mollification` weight), and l their position in the order the model
      lists them (nested layers depth first).
    * v_t is an exponential moving average (`decay`) of `logs['loss']`, the
      training loss: the thesis allows the validation loss too (its
      footnote), but only the training loss is known between steps. In
      Keras 3 that log is already the mean loss of the epoch so far, so
      decay=0 uses it as it is; the default 0.9 smooths the restart of that
      mean at every epoch. Non-finite losses are skipped.
    * "The annealing stops when the expected depth sum_l p_t^l reaches a
      threshold δ": with `threshold` = δ, once sum_l p_t^l <= δ the
      schedule stops and every level stays where it is. None (default):
      never stops.
    * p is clipped to [0, 1] (a negative loss would give p < 0).

  Attributes:
    t: training steps seen.
    moving_loss: v_t, None before the first step.
    levels: the last p_t^l assigned, one per layer, input first.
    stopped_at: the step at which the threshold stopped the schedule, or
      None.

  Args:
    k: the hyperparameter k >= 0 of eq. 4.31. It has no default: it is in
      units of steps (at step t the top layer's level is about k v_t / t
      once that is small), so it scales with the length of the run; the
      parity example uses 1000 for 3000 steps.
    decay: the moving average's decay in [0, 1).
    by_depth: scale by l / L (see above).
    threshold: δ >= 0, or None.
  """

  weight_name = "mollification"

  def __init__(self, k, decay=0.9, by_depth=True, threshold=None):
    super().__init__()
    self.k = check_number(k, "k", low=0.0)
    self.decay = check_number(decay, "decay", 0.0, 1.0, high_open=True)
    self.by_depth = bool(by_depth)
    self.threshold = (None if threshold is None
                      else check_number(threshold, "threshold", low=0.0))
    self.t = 0
    self.moving_loss = None
    self.levels = []
    self.stopped_at = None

  def on_train_batch_end(self, batch, logs=None):
    if self.stopped_at is not None:
      return
    self.t += 1
    loss = (logs or {}).get("loss")
    if loss is not None and np.isfinite(loss):
      loss = float(loss)
      self.moving_loss = (loss if self.moving_loss is None else
                          self.decay * self.moving_loss
                          + (1 - self.decay) * loss)
    if self.moving_loss is None:
      return
    variables = self._variables()
    depth = len(variables)
    self.levels = [
        self.level(self.t, self.moving_loss, l if self.by_depth else depth,
                   depth) for l in range(1, depth + 1)]
    for variable, level in zip(variables, self.levels):
      variable.assign(level)
    if self.threshold is not None and sum(self.levels) <= self.threshold:
      self.stopped_at = self.t

  def level(self, t, moving_loss, l, depth):
    """p_t^l = 1 - exp(-k v_t l / (t L)), clipped to [0, 1]."""
    p = -math.expm1(-self.k * moving_loss * l / (t * depth))
    return min(max(p, 0.0), 1.0)


class NoiseAnnealing(_LayerAssigner):
  r"""Anneals the noise scale of noisy activations: c(t) = c0 / sqrt(t + 1).

  The thesis' annealing of noisy activations (§4.3.6.6, "starts with c = 30
  and decreases to c = 0.5 following a schedule c / sqrt(t + 1) where t is
  incremented by 1 every 200 minibatch updates"): t is the number of
  training batches seen (by this callback, across `fit` calls) divided by
  `every`, rounded down. Before each training batch the callback assigns
  c(t) to the non-trainable scalar weight `noise_scale` of every layer in
  the model that has one (found recursively, as the attribute `noise_scale`
  holding a variable).

  The thesis' "decreases to c = 0.5" reads as a floor; the formula alone
  has none, so `floor` is None by default: pass floor=0.5 for the thesis'
  run, c(t) = max(c0 / sqrt(t + 1), floor).

  Attributes:
    batches: training batches seen.
    value: the last c(t) assigned, None before the first batch.

  Args:
    c0: the initial scale, > 0 (the thesis: 30).
    every: the number of batches per step of t, an int >= 1 (the thesis:
      200).
    floor: None, or the smallest scale, in [0, c0].
  """

  weight_name = "noise_scale"

  def __init__(self, c0=30.0, every=200, floor=None):
    super().__init__()
    self.c0 = check_number(c0, "c0", low=0.0, low_open=True)
    self.every = check_positive_int(every, "every")
    self.floor = None if floor is None else check_number(floor, "floor", low=0.0)
    if self.floor is not None and self.floor > self.c0:
      raise ValueError(f"`floor` must be <= c0 = {self.c0:g}, got {floor}")
    self.batches = 0
    self.value = None

  def scale(self, batches):
    """c(t) after `batches` training batches."""
    value = self.c0 / math.sqrt(batches // self.every + 1)
    return value if self.floor is None else max(value, self.floor)

  def on_train_batch_begin(self, batch, logs=None):
    self.value = self.scale(self.batches)
    for variable in self._variables():
      variable.assign(self.value)
    self.batches += 1
