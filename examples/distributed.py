r"""Training across processes or machines with tf.distribute.

Trains an MLP with tf_approx layers on the digits (bundled with
scikit-learn) under `tf.distribute.MultiWorkerMirroredStrategy`: every
worker holds a copy of the model, takes its share of each global batch, and
the workers sum their gradients with collective all-reduces, so every step
updates every copy alike.

Two ways to run it:

  * Without TF_CONFIG (the default) it starts --workers worker processes of
    itself on 127.0.0.1, each with a TF_CONFIG naming free local ports, and
    waits for them: a cluster on one machine, to try things out. Worker 0
    (the chief) prints the training; the others' output is shown only if
    one fails. If a worker fails or --timeout_s passes, the others are
    stopped (they would otherwise wait for it for ever).
  * With TF_CONFIG set it is one worker of a real cluster: start it on every
    machine with the same flags, each with its own TF_CONFIG, e.g. on the
    second of two machines

      TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                  "task": {"type": "worker", "index": 1}}' \
        python examples/distributed.py

The model: Flatten, Dense(64) and a randomized PAU (RPAU, coefficient noise
0.01), Dense(64) and a noisy tanh (NAN: normal noise at the output),
Dense(64, 'tanh_pade_4_4'), Dense(10). Training is a custom loop: a
`tf.function` calls `strategy.run` on each worker's share of the global
batch (--batch_size examples, cut into contiguous slices in replica
order), each replica's loss is its examples' summed loss divided by the global
batch size, and Adam sums the replicas' gradients: the step one device
would take on the whole batch. The noise of RPAU and the noisy tanh is
keyed by each example's position in the global batch, so the replicas draw
different noise, and an example gets the noise it would get on one device.

Why not `model.fit`: under Keras 3, `fit` first reduces one distributed
(x, y) batch with `strategy.reduce` to build the model, and the reduce of
MultiWorkerMirroredStrategy does not take a structure of values, so `fit`
fails before its first step ("ValueError: Attempt to convert a value
(PerReplica...)"), even for a model of one Dense layer. `fit` under
MirroredStrategy (several devices of one machine) works.

The chief prints each epoch's training loss and time, the test accuracy
(inference: no noise), and whether every worker ended with bitwise the same
weights (it gathers a SHA-256 of each worker's weights).

Usage:

  python examples/distributed.py                # 2 local workers, 10 epochs
  python examples/distributed.py --workers=3 --epochs=20
"""

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

import common
import tf_approx

common.define_training_flags(epochs=10, batch_size=64)
flags.adopt_module_key_flags(common)  # so --helpshort lists them
flags.DEFINE_integer(
    "workers", 2,
    "Worker processes to start on 127.0.0.1 when TF_CONFIG is not set "
    "(with TF_CONFIG, this process is one worker and the flag is unused).",
    lower_bound=1)
flags.DEFINE_float("learning_rate", 0.003, "Adam's learning rate.",
                   lower_bound=0.0)
flags.DEFINE_integer(
    "timeout_s", 600,
    "Local workers still running after this many seconds are stopped and "
    "the run fails.", lower_bound=1)

FLAGS = flags.FLAGS
HIDDEN = 64
RPAU_NOISE = 0.01
POLL_S = 0.2


def make_model(num_classes, seed):
  """The MLP, its noisy layers seeded from `seed`."""
  return keras.Sequential([
      keras.Input((8, 8)),
      keras.layers.Flatten(),
      keras.layers.Dense(HIDDEN),
      tf_approx.layers.PAU(randomized=RPAU_NOISE, seed=seed),
      keras.layers.Dense(HIDDEN),
      tf_approx.layers.NoisyActivation("tanh", seed=seed + 1),
      keras.layers.Dense(HIDDEN, activation="tanh_pade_4_4"),
      keras.layers.Dense(num_classes),
  ])


def fingerprint(model):
  """SHA-256 of every weight's bytes, in order."""
  digest = hashlib.sha256()
  for weight in model.get_weights():
    digest.update(np.ascontiguousarray(weight).tobytes())
  return digest.hexdigest()


def gather_fingerprints(strategy, digest):
  """Every replica's `digest` (its first 60 bits), in replica order."""
  value = int(digest[:15], 16)

  @tf.function
  def gather():
    return strategy.run(lambda: tf.distribute.get_replica_context(
    ).all_gather(tf.constant([value], tf.int64), axis=0))

  return strategy.experimental_local_results(gather())[0].numpy()


def is_chief(strategy):
  """Whether this worker reports: the chief, or worker 0 without one."""
  resolver = strategy.cluster_resolver
  cluster = resolver.cluster_spec().as_dict()
  if "chief" in cluster:
    return resolver.task_type == "chief"
  return resolver.task_id == 0


def train_worker():
  """One worker of the cluster in TF_CONFIG: trains and reports."""
  # The strategy's set-up logs a dozen INFO lines per worker.
  tf.get_logger().setLevel("WARNING")
  # Made first: the collectives are configured before any op runs.
  strategy = tf.distribute.MultiWorkerMirroredStrategy()
  chief = is_chief(strategy)
  resolver = strategy.cluster_resolver
  name = f"{resolver.task_type} {resolver.task_id}"
  say = print if chief else lambda *args, **kwargs: None
  replicas = strategy.num_replicas_in_sync
  dataset = common.load_dataset("digits")
  say(f"{name}: MultiWorkerMirroredStrategy, "
      f"{plural(replicas, 'replica')} in sync; "
      f"{dataset.describe()}; global batch {FLAGS.batch_size}.", flush=True)

  keras.utils.set_random_seed(FLAGS.seed)
  with strategy.scope():
    model = make_model(dataset.num_classes, FLAGS.seed)
    optimizer = keras.optimizers.Adam(FLAGS.learning_rate)
    optimizer.build(model.trainable_variables)
  loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                       reduction=None)
  # Every worker shuffles alike, so they agree on each global batch; the
  # strategy gives each replica its contiguous share of it.
  batches = strategy.experimental_distribute_dataset(
      tf.data.Dataset.from_tensor_slices((dataset.x_train, dataset.y_train))
      .shuffle(len(dataset.x_train), seed=FLAGS.seed)
      .batch(FLAGS.batch_size, drop_remainder=True))

  def replica_step(x, y):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(loss_fn(y, model(x, training=True)))
      # The optimizer sums the replicas' gradients: each divides by the
      # global batch, so the sum is the gradient of the batch's mean loss.
      loss /= FLAGS.batch_size
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss

  @tf.function
  def train_step(x, y):
    return strategy.reduce("SUM", strategy.run(replica_step, (x, y)),
                           axis=None)

  for epoch in range(FLAGS.epochs):
    start = time.perf_counter()
    losses = [float(train_step(x, y)) for x, y in batches]
    say(f"  epoch {epoch + 1}: train loss {np.mean(losses):.4f} "
        f"({len(losses)} steps, {time.perf_counter() - start:.1f} s)",
        flush=True)
  logits = model(dataset.x_test, training=False)
  accuracy = np.mean(np.argmax(logits, axis=-1) == dataset.y_test)
  say(f"Test accuracy after {FLAGS.epochs} epochs: {accuracy:.4f} "
      f"(inference: no noise).")

  digest = fingerprint(model)
  digests = gather_fingerprints(strategy, digest)
  if np.all(digests == digests[0]):
    say(f"Every replica ({replicas}) holds bitwise the same weights: "
        f"SHA-256 {digest[:16]}...")
  else:
    say(f"The replicas' weights differ: {digests}")
    raise SystemExit(1)


def plural(count, noun):
  return f"{count} {noun}{'' if count == 1 else 's'}"


def free_ports(count):
  """`count` TCP ports free on 127.0.0.1 just now."""
  sockets = [socket.socket() for _ in range(count)]
  try:
    for s in sockets:
      s.bind(("127.0.0.1", 0))
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def launch_local_workers():
  """Runs this script as FLAGS.workers local workers; their exit status."""
  cluster = {"worker": [f"127.0.0.1:{port}"
                        for port in free_ports(FLAGS.workers)]}
  print(f"Starting {plural(FLAGS.workers, 'local worker')}: "
        f"{', '.join(cluster['worker'])}.", flush=True)
  start = time.perf_counter()
  with tempfile.TemporaryDirectory() as log_dir:
    workers, logs = [], []
    for index in range(FLAGS.workers):
      tf_config = {"cluster": cluster,
                   "task": {"type": "worker", "index": index}}
      log = (None if index == 0 else
             open(os.path.join(log_dir, f"worker_{index}.log"), "w+"))
      logs.append(log)
      workers.append(subprocess.Popen(
          [sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
          env=dict(os.environ, TF_CONFIG=json.dumps(tf_config)),
          stdout=log, stderr=subprocess.STDOUT if log else None))
    failed = None
    while failed is None and any(w.poll() is None for w in workers):
      failed = next((i for i, w in enumerate(workers)
                     if w.poll() not in (None, 0)), None)
      if time.perf_counter() - start > FLAGS.timeout_s:
        print(f"The workers ran past --timeout_s={FLAGS.timeout_s}.")
        failed = -1
      time.sleep(POLL_S)
    # The survivors of a failure would wait for their peer for ever.
    for worker in workers:
      if worker.poll() is None:
        worker.kill()
      worker.wait()
    if failed is None:
      failed = next((i for i, w in enumerate(workers) if w.returncode), None)
    for index, log in enumerate(logs):
      if log is None:
        continue
      if failed is not None:
        log.seek(0)
        print(f"\n--- worker {index}'s output (exit status "
              f"{workers[index].returncode}):\n{log.read()[-5000:]}")
      log.close()
  if failed is not None:
    return 1
  print(f"{plural(FLAGS.workers, 'worker')} trained in "
        f"{time.perf_counter() - start:.1f} s (start-up included).")
  return 0


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  if "TF_CONFIG" in os.environ:
    train_worker()
    return 0
  return launch_local_workers()


if __name__ == "__main__":
  app.run(main)
