"""Where the CharRNN workload's training time goes, by activation.

The approximation paper's CharRNN (`examples/workloads.py`: an Embedding, two
LSTM(128) layers, Dense over the characters, 50-character windows, batch 50)
trains in Keras with the LSTMs' `activation` and `recurrent_activation`
under test. For each intra-op thread count it measures, in one process:

* the time of one training step (`fit` over --chars of the bundled corpus,
  per step) for the exact pair sigmoid / tanh, the paper's safe picks
  sigm_fastexp_512 / tanh_pade_4_4, their `_clamp` variants, the ranged
  picks sigm_fastexp_2 / serp, and linear / linear: activations that cost
  nothing beyond a copy, the fastest any activation could make this network;
* a profile of one epoch (`tf.profiler`) of the exact pair and the safe
  picks: the time TensorFlow's compute threads spent in the activation
  ops, their gradients, the matmuls, every other op, and in the executor
  between ops, per step.

Then it checks the target of the issue that asked for it: the safe picks'
step time <= 0.90x the exact pair's.

    python benchmarks/char_rnn.py                # the full run
    python benchmarks/char_rnn.py --markdown     # for BENCHMARKS.md
    python benchmarks/char_rnn.py --quick --threads=1
"""

import collections
import glob
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from absl import app
from absl import flags
import tensorflow as tf

import common


def _import_workloads():
  """examples/workloads.py, whose own `import common` means examples/'s."""
  examples = str(Path(__file__).resolve().parents[1] / "examples")
  ours = sys.modules.pop("common")
  sys.path.insert(0, examples)
  try:
    import workloads  # pylint: disable=g-import-not-at-top,redefined-outer-name
  finally:
    sys.path.remove(examples)
    sys.modules["examples_common"] = sys.modules.pop("common")
    sys.modules["common"] = ours
  return workloads, sys.modules["examples_common"]


workloads, examples_common = _import_workloads()

flags.DEFINE_integer(
    "steps", 20, "Training steps (batches of 50 windows) per measurement.",
    lower_bound=1)

FLAGS = flags.FLAGS

BASELINE = ("sigmoid", "tanh")
SAFE = ("sigm_fastexp_512", "tanh_pade_4_4")
CONFIGS = (BASELINE, SAFE, ("sigm_fastexp_512_clamp", "tanh_pade_4_4_clamp"),
           ("sigm_fastexp_2", "serp"), ("linear", "linear"))
PROFILED = (BASELINE, SAFE)
TARGET = 0.90
QUICK_STEPS = 3
BATCH = workloads.WORKLOADS["char_rnn"].batch_size

# Op types (the profiler's "name:type" events) by what they do.
ACTIVATIONS = {"Sigmoid", "Tanh", "TfApprox>Activation"}
GRADIENTS = {"SigmoidGrad", "TanhGrad", "TfApprox>ActivationGrad"}
MATMULS = {"MatMul", "_MklMatMul", "BatchMatMulV2", "_MklBatchMatMulV2",
           "_FusedMatMul", "_MklFusedMatMul"}
CATEGORIES = ("activations", "activation gradients", "matmuls", "other ops",
              "executor between ops")


def label(config):
  return " / ".join(config)


def steps():
  return QUICK_STEPS if FLAGS.quick else FLAGS.steps


def build(data, config):
  """The char_rnn model with `config` = (recurrent, activation), warm."""
  workload = workloads.WORKLOADS["char_rnn"]
  examples_common.fresh_start(0)
  # Keras' LSTM: this benchmark profiles its per-step ops (issue F; the
  # fused layer is benchmarks/recurrent.py's), with any activation (linear).
  model = workload.compiled(data, config[1], config[0], lstm="keras")
  examples_common.warm_up(model, data.x, data.y, BATCH)
  return model


def one_epoch(model, data):
  model.fit(data.x, data.y, batch_size=BATCH, epochs=1, verbose=0,
            shuffle=False)


def step_sampler(model, data):
  """Seconds per training step, from one `fit` epoch over `data`."""

  def sample():
    start = time.perf_counter()
    one_epoch(model, data)
    return (time.perf_counter() - start) / steps()

  return sample


def profile(model, data):
  """{category: seconds per step summed over the compute threads}."""
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as logdir:
    tf.profiler.experimental.start(logdir)
    one_epoch(model, data)
    tf.profiler.experimental.stop()
    path, = glob.glob(os.path.join(logdir, "plugins", "profile", "*",
                                   "*.xplane.pb"))
    with open(path, "rb") as f:
      space = xplane_pb2.XSpace.FromString(f.read())
  seconds = collections.Counter()
  for plane in space.planes:
    if plane.name != "/host:CPU":
      continue
    for line in plane.lines:
      if not line.name.startswith("tf_Compute"):
        continue
      for event in line.events:
        name = plane.event_metadata[event.metadata_id].name
        duration = event.duration_ps * 1e-12
        if name == "ExecutorState::Process":
          seconds["executor between ops"] += duration
          continue
        if "::" in name or ":" not in name:
          continue
        op_type = name.rsplit(":", 1)[1]
        category = ("activations" if op_type in ACTIVATIONS else
                    "activation gradients" if op_type in GRADIENTS else
                    "matmuls" if op_type in MATMULS else "other ops")
        seconds[category] += duration
  # Ops run inside ExecutorState::Process: what is left is the executor.
  seconds["executor between ops"] -= sum(
      seconds[c] for c in CATEGORIES if c != "executor between ops")
  return {c: seconds[c] / steps() for c in CATEGORIES}


def child():
  # As Keras trains on a machine of that many cores: inter-op threads too,
  # so independent ops of a step (the two gradients of a matmul, say) overlap.
  tf.config.threading.set_intra_op_parallelism_threads(FLAGS.child_threads)
  tf.config.threading.set_inter_op_parallelism_threads(FLAGS.child_threads)
  data = workloads.load_text("pydoc", None, steps() * BATCH *
                             workloads.SEQUENCE_LENGTH + 1)
  models = {label(c): build(data, c) for c in CONFIGS}
  common.progress(f"  measuring {len(models)} step times")
  # Every sample is kept: on two cores a step's time is bimodal (TensorFlow's
  # and oneDNN's threads contend), so the report gives the median and the
  # fastest.
  samples = common.interleaved_samples(
      {key: step_sampler(model, data) for key, model in models.items()})
  common.progress("  profiling")
  profiles = {label(c): profile(models[label(c)], data) for c in PROFILED}
  common.write_child_results({"steps": samples, "profiles": profiles})


def report(result):
  threads = result["intra_op_threads"]
  medians = {k: statistics.median(v) for k, v in result["steps"].items()}
  fastest = {k: min(v) for k, v in result["steps"].items()}
  base = medians[label(BASELINE)]
  lines = [f"\n### One training step, {threads} intra-op and inter-op "
           f"thread(s)\n",
           common.interference(result) + ".\n"]
  rows = [[key, f"{seconds * 1e3:.1f}", f"{seconds / base:.3f}",
           f"{fastest[key] * 1e3:.1f}",
           f"{fastest[key] / fastest[label(BASELINE)]:.3f}"]
          for key, seconds in medians.items()]
  lines.append(common.format_table(
      ["recurrent / activation", "ms per step (median)",
       f"÷ {label(BASELINE)}", "ms per step (fastest)",
       f"÷ {label(BASELINE)}"], rows, FLAGS.markdown))
  lines.append(f"\nProfile of one epoch ({steps()} steps; profiling slows "
               f"them): ms per step on the compute threads, summed over "
               f"them.\n")
  header = ["recurrent / activation", *CATEGORIES, "total"]
  rows = []
  for key, seconds in result["profiles"].items():
    total = sum(seconds.values())
    rows.append([key, *(f"{seconds[c] * 1e3:.2f} ({seconds[c] / total:.0%})"
                        for c in CATEGORIES), f"{total * 1e3:.1f}"])
  lines.append(common.format_table(header, rows, FLAGS.markdown))
  ratio = medians[label(SAFE)] / base
  floor = medians[label(("linear", "linear"))] / base
  verdict = "pass" if ratio <= TARGET else "MISS"
  lines.append(
      f"\nTarget: {label(SAFE)} step time <= {TARGET}x {label(BASELINE)}'s "
      f"(medians): {ratio:.3f}x, {verdict}. Activations that cost nothing "
      f"(linear / linear) give {floor:.3f}x.")
  return "\n".join(lines)


def main(argv):
  del argv
  if common.is_child():
    child()
    return
  results = common.run_children(__file__, [f"--steps={steps()}"] +
                                (["--quick"] if FLAGS.quick else []))
  print(f"## CharRNN training step ({examples_common.describe_machine()})")
  for result in results:
    print(report(result))
  print()


if __name__ == "__main__":
  app.run(main)
