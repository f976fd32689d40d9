"""tf.distribute: every layer trains under MirroredStrategy and
MultiWorkerMirroredStrategy as it trains on one device.

Each run is a fresh process, this file run as a script, because logical
devices and a cluster must be set up before TensorFlow starts:

  python tests/test_distribute.py mirrored OUT.npz   # two logical CPUs
  python tests/test_distribute.py worker OUT.npz     # one worker; TF_CONFIG

Every run trains the model of `_model` (each tf_approx layer, the noisy ones
and RPAU drawing training noise, and an approximated activation) for a few
steps of the custom `strategy.run` loop of `_train`, under the strategy and
then on one device, and writes every variable of both runs (each replica's
copy) to OUT.npz; the tests compare them. The mirrored run also measures the
noise two replicas draw for the same examples (`_replica_noise`).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

STEPS = 3
GLOBAL_BATCH = 8
REPLICAS = 2
FEATURES = 8
CLASSES = 3
# Both runs compute the same sums of float32 products in different orders
# (the batch gradient as per-replica partial sums, then the all-reduce), so
# they differ by rounding: a few float32 ulps (1.2e-7 relative) of each
# gradient, carried through STEPS plain SGD steps (not Adam, whose first
# steps turn any difference in a tiny gradient into one of the learning
# rate) into weights of order 1. Measured: at most 1.2e-7. 1e-6 is ten times
# that; noise keyed per replica slice, as before, moved weights by up to
# 1e-2.
ATOL = RTOL = 1e-6
LEARNING_RATE = 0.1
WORKER_TIMEOUT_S = 150
NOISE_EXAMPLES = 4


def _model():
  """Every tf_approx layer and an approximated activation, seeded."""
  import keras  # pylint: disable=g-import-not-at-top
  from tf_approx import layers  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(1)
  return keras.Sequential([
      keras.Input((FEATURES,)),
      keras.layers.Dense(16, activation="tanh_pade_4_4"),
      layers.Fastfood(16, seed=2),
      layers.PAU(),
      layers.ACDC(seed=3),
      layers.PAU(order=(4, 3), per_channel=True, randomized=0.1, seed=4),
      layers.SELL(depth=2, activation="relu", seed=5),
      layers.NoisyActivation("tanh", seed=6),
      layers.FastfoodRBF(16, seed=7),
      layers.MollifyingBlock(16, mollification=0.5, seed=8),
      layers.GAAF("tanh"),
      layers.NoisyActivation("sigmoid", where="input", learn_sigma=True,
                             per_unit=True, seed=9),
      keras.layers.Dense(16),
      layers.MollifiedActivation("tanh", mollification=0.5, seed=10),
      keras.layers.Dense(CLASSES),
  ])


def _data():
  rng = np.random.default_rng(0)
  x = rng.normal(0, 2, (STEPS * GLOBAL_BATCH, FEATURES)).astype(np.float32)
  y = rng.integers(0, CLASSES, STEPS * GLOBAL_BATCH).astype(np.int32)
  return x, y


def _train(strategy, label):
  """STEPS training steps under `strategy`.

  The per-replica loss is the sum over its examples divided by the global
  batch, and the optimizer sums the replicas' gradients: the gradient of
  the global batch's mean loss, as on one device. Each step also checks that
  the replicas got the global batch in contiguous chunks, in replica order,
  which the noise keying relies on.

  Returns:
    {label/index_name/replica: value} for every variable of the model (by
    its index in `model.variables` and its name) and each local copy.
  """
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  x, y = _data()
  with strategy.scope():
    model = _model()
    optimizer = keras.optimizers.SGD(LEARNING_RATE)
    optimizer.build(model.trainable_variables)
  loss_fn = keras.losses.SparseCategoricalCrossentropy(
      from_logits=True, reduction=None)
  dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
  # Arrays have no files to shard by: say DATA rather than let AUTO warn.
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  batches = strategy.experimental_distribute_dataset(
      dataset.with_options(options))

  def replica_step(xb, yb):
    with tf.GradientTape() as tape:
      logits = model(xb, training=True)
      loss = tf.reduce_sum(loss_fn(yb, logits)) / GLOBAL_BATCH
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    # An input from the dataset has no device under
    # MultiWorkerMirroredStrategy, which all_gather needs: a copy has one.
    return tf.distribute.get_replica_context().all_gather(tf.identity(xb),
                                                          axis=0)

  @tf.function
  def step(xb, yb):
    return strategy.experimental_local_results(
        strategy.run(replica_step, (xb, yb)))[0]

  for i, (xb, yb) in enumerate(batches):
    seen = step(xb, yb).numpy()
    np.testing.assert_array_equal(
        seen, x[i * GLOBAL_BATCH:(i + 1) * GLOBAL_BATCH],
        err_msg="the replicas did not get the global batch in order")
  assert i + 1 == STEPS, i
  result = {}
  for index, variable in enumerate(model.variables):
    copies = strategy.experimental_local_results(variable.value)
    for replica, copy in enumerate(copies):
      result[f"{label}/{index:03d}_{variable.name}/{replica}"] = copy.numpy()
  return result


def _replica_noise():
  """Two replicas apply each noisy layer to the same examples.

  Returns {layer/replica i: output} and {layer/one device: the output of the
  same layer on one device for the global batch, the examples twice}.
  """
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_approx import layers  # pylint: disable=g-import-not-at-top
  noisy = {
      "rpau": lambda: layers.PAU(randomized=0.2, seed=1),
      "noisy_activation": lambda: layers.NoisyActivation(
          "tanh", where="input", sigma=1.0, seed=2),
      "mollified_activation": lambda: layers.MollifiedActivation(
          "sigmoid", seed=3),
      "mollifying_block": lambda: layers.MollifyingBlock(
          FEATURES, mollification=0.5, seed=4),
  }
  x = np.random.default_rng(1).normal(
      0, 3, (NOISE_EXAMPLES, FEATURES)).astype(np.float32)
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  result = {}
  for name, make in noisy.items():
    keras.utils.set_random_seed(0)
    with strategy.scope():
      layer = make()
      layer.build(x.shape)
    weights = [w.numpy() for w in layer.weights]  # the step before it counts
    outputs = strategy.run(
        tf.function(lambda v, layer=layer: layer(v, training=True)), (x,))
    for replica, output in enumerate(
        strategy.experimental_local_results(outputs)):
      result[f"{name}/{replica}"] = output.numpy()
    keras.utils.set_random_seed(0)
    alone = make()
    alone.build(x.shape)
    alone.set_weights(weights)
    result[f"{name}/one device"] = alone(
        np.concatenate([x] * REPLICAS), training=True).numpy()
  return result


def _script(mode, out):
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if mode == "mirrored":
    cpu, = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * REPLICAS)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  else:
    # Created first: collectives must be configured before any op runs.
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(
            implementation=(
                tf.distribute.experimental.CommunicationImplementation.RING)))
  import tf_approx  # pylint: disable=g-import-not-at-top,unused-import
  assert strategy.num_replicas_in_sync == REPLICAS
  result = _train(strategy, "distributed")
  result.update(_train(tf.distribute.get_strategy(), "single"))
  if mode == "mirrored":
    result.update({f"noise/{key}": value
                   for key, value in _replica_noise().items()})
  np.savez(out, **result)


# The tests.

_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def _load(path):
  with np.load(path) as data:
    return dict(data)


def _variables(run, label):
  """{index_name: [each local replica's copy]} of one run of a process."""
  copies = {}
  for key, value in run.items():
    if key.startswith(label + "/"):
      variable, replica = key[len(label) + 1:].rsplit("/", 1)
      copies.setdefault(variable, {})[int(replica)] = value
  return {variable: [values[r] for r in sorted(values)]
          for variable, values in copies.items()}


def _assert_matches_one_device(run, replicas):
  """The distributed run's local replicas agree bitwise and match the run
  on one device within the float32 tolerance; every step was counted."""
  distributed = _variables(run, "distributed")
  single = _variables(run, "single")
  assert sorted(distributed) == sorted(single)
  counters = 0
  for variable, copies in sorted(distributed.items()):
    assert len(copies) == replicas, variable
    for copy in copies[1:]:
      np.testing.assert_array_equal(copy, copies[0], err_msg=variable)
    np.testing.assert_allclose(copies[0], single[variable][0], rtol=RTOL,
                               atol=ATOL, err_msg=variable)
    if variable.endswith("_step"):
      assert int(copies[0]) == STEPS, variable
      counters += 1
  # RPAU, both noisy activations and both mollified layers count steps.
  assert counters == 5
  return distributed


def _run_script(mode, out, env=None, timeout=WORKER_TIMEOUT_S):
  return subprocess.run([sys.executable, __file__, mode, str(out)],
                        env=env or _ENV, capture_output=True, text=True,
                        timeout=timeout, check=False)


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
  out = tmp_path_factory.mktemp("mirrored") / "run.npz"
  result = _run_script("mirrored", out)
  assert result.returncode == 0, result.stderr[-5000:]
  return _load(out)


def test_mirrored_strategy_trains_as_one_device(mirrored):
  _assert_matches_one_device(mirrored, REPLICAS)


def test_mirrored_replicas_draw_different_noise(mirrored):
  # Both replicas saw the same examples: keyed by the index within each
  # replica's slice, they drew the same noise; keyed by the global index,
  # each draws the noise its half of the global batch draws on one device.
  for name in ("rpau", "noisy_activation", "mollified_activation",
               "mollifying_block"):
    first, second = (mirrored[f"noise/{name}/{r}"] for r in range(REPLICAS))
    # Not every output moves with the noise (a hard tanh clipped on both
    # replicas), but most do.
    assert np.mean(first != second) > 0.25, name
    np.testing.assert_allclose(
        np.concatenate([first, second]), mirrored[f"noise/{name}/one device"],
        rtol=1e-6, atol=1e-6, err_msg=name)


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  try:
    for s in sockets:
      s.bind(("127.0.0.1", 0))
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def test_multi_worker_mirrored_strategy_trains_as_one_device(tmp_path):
  cluster = {"worker": [f"127.0.0.1:{port}"
                        for port in _free_ports(REPLICAS)]}
  workers = []
  for index in range(REPLICAS):
    tf_config = {"cluster": cluster, "task": {"type": "worker",
                                              "index": index}}
    workers.append(subprocess.Popen(
        [sys.executable, __file__, "worker", str(tmp_path / f"{index}.npz")],
        env=dict(_ENV, TF_CONFIG=json.dumps(tf_config)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  outputs = []
  try:
    # A worker waiting for a peer that died would wait for ever.
    for worker in workers:
      outputs.append(worker.communicate(timeout=WORKER_TIMEOUT_S)[0])
  finally:
    for worker in workers:
      if worker.poll() is None:
        worker.kill()
        worker.communicate()
  for worker, output in zip(workers, outputs):
    assert worker.returncode == 0, output[-5000:]
  runs = [_load(tmp_path / f"{index}.npz") for index in range(REPLICAS)]
  trained = [_assert_matches_one_device(run, 1) for run in runs]
  # The workers hold bitwise the same model.
  for variable, (copy,) in trained[0].items():
    np.testing.assert_array_equal(trained[1][variable][0], copy,
                                  err_msg=variable)


if __name__ == "__main__":
  _script(*sys.argv[1:])
