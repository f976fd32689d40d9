"""Speed and memory of the ACDC layer against Dense and the composite twin.

For each width N (inputs = outputs) at batch --batch it times, in one
process per intra-op thread count, one training step: forward plus the
gradients w.r.t. x and every trainable weight, for

* `tf_approx.layers.ACDC()` (TfApprox>Acdc, then the fused TfApprox>AcdcGrad,
  which recomputes DCT(x ⊙ a) instead of storing it);
* `keras.layers.Dense(N)` (kernel and bias);
* the same ACDC layer composed from `tf.signal.dct` / `tf.signal.idct`
  (`tf_approx.reference.acdc`) under GradientTape: what runs without the op
  library.

It also reports the peak memory TensorFlow's CPU allocator holds during one
such step, above what it held before (`tf.config.experimental
.get_memory_info`): the inputs, weights and gradients plus whatever the
step keeps for its backward pass.

Targets (issue D) at N = 4096: ACDC >= 5x faster than Dense and >= 3x
faster than the composite twin. Widths that are not powers of two go
through Bluestein's algorithm; --sizes may include some to see what they
cost.

    python benchmarks/acdc.py               # the full run, ~4 min, 2 cores
    python benchmarks/acdc.py --markdown    # for BENCHMARKS.md
    python benchmarks/acdc.py --quick --threads=1

Steps are timed as in `common.py`: a tf.while_loop feeding each step's dx
into the next step's x, dy fixed; `common.training_step` folds y and the
weight gradients into dx so that nothing is pruned.
"""

import shlex
import sys

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

import common  # pylint: disable=g-bad-import-order
import tf_approx
from tf_approx import _library
from tf_approx import _native
from tf_approx.reference import acdc as reference

flags.DEFINE_list("sizes", ["256", "512", "1024", "2048", "4096", "8192",
                            "1000", "3000"],
                  "Layer widths N (inputs = outputs).")
flags.DEFINE_integer("batch", 128, "Rows per step.")

FLAGS = flags.FLAGS

QUICK_SIZES = ("256", "1000")
SEED = 0

ACDC = "tf_approx.layers.ACDC"
DENSE = "keras.layers.Dense"
TWIN = "ACDC composite twin (tf.signal)"
ROWS = (ACDC, DENSE, TWIN)


def widths():
  if FLAGS.quick and not FLAGS["sizes"].present:
    return [int(n) for n in QUICK_SIZES]
  return [int(n) for n in FLAGS.sizes]


# -------------------------------------------------------------- child side


class Case:
  """The three layer steps at width n: {label: (forward, variables)}."""

  def __init__(self, n, batch):
    rng = np.random.default_rng(SEED)
    self.x = tf.constant(rng.normal(size=(batch, n)).astype(np.float32))
    self.dy = tf.constant(rng.normal(size=(batch, n)).astype(np.float32))
    keras.utils.set_random_seed(SEED)
    layer = tf_approx.layers.ACDC(seed=SEED)
    dense = keras.layers.Dense(n)
    layer.build(self.x.shape)
    dense.build(self.x.shape)

    def twin(x):
      return reference.acdc(x, layer.a, layer.d, layer.bias)

    self.steps = {
        ACDC: (layer, layer.trainable_weights),
        DENSE: (dense, dense.trainable_weights),
        TWIN: (twin, layer.trainable_weights),
    }
    self.params = {ACDC: layer.count_params(), DENSE: dense.count_params(),
                   TWIN: layer.count_params()}


def peak_bytes(step, x, dy):
  """Peak allocator bytes during one step, above those held before it."""
  run = tf.function(step)
  run(x, dy)  # trace and warm up
  tf.config.experimental.reset_memory_stats("CPU:0")
  before = tf.config.experimental.get_memory_info("CPU:0")["current"]
  run(x, dy)
  return tf.config.experimental.get_memory_info("CPU:0")["peak"] - before


def run_child():
  common.configure_child_threads()
  if _library.load_ops() is None:
    raise RuntimeError("the tf_approx op library is not loaded (is "
                       "TF_APPROX_PY_OPS set?): nothing native to time")
  results = {"isa": _native.selected_isa(), "sizes": {}, "memory": {},
             "params": {}}
  for n in widths():
    common.progress(f"threads={FLAGS.child_threads} N={n}")
    case = Case(n, FLAGS.batch)
    unroll = common.unroll_for(FLAGS.batch * n)
    samplers = {"loop": common.loop_overhead_sampler(case.x)}
    memory = {}
    for label, (forward, variables) in case.steps.items():
      step = common.training_step(forward, variables)
      memory[label] = peak_bytes(step, case.x, case.dy)
      samplers[label] = common.graph_sampler(step, case.x, case.dy, unroll)
    results["sizes"][str(n)] = common.interleaved_medians(samplers)
    results["memory"][str(n)] = memory
    results["params"][str(n)] = case.params
  common.write_child_results(results)


# ------------------------------------------------------------- parent side


def table(result, markdown):
  headers = ["N", "layer", "fwd+bwd µs", "÷ ACDC", "peak MiB", "params"]
  rows = []
  for n in widths():
    row = result["sizes"][str(n)]
    for label in ROWS:
      rows.append([
          str(n), label, common.format_us(row.get(label)),
          common.format_ratio(common.speedup(row.get(label), row.get(ACDC))),
          f"{result['memory'][str(n)][label] / 2**20:.2f}",
          f"{result['params'][str(n)][label]:,}"])
  return common.format_table(headers, rows, markdown)


def at_width(n, baseline):
  def value(result):
    row = result["sizes"].get(str(n), {})
    return common.speedup(row.get(baseline), row.get(ACDC))
  return value


TARGETS = (
    common.Target("fwd+bwd: Dense time / ACDC time >= 5x", "4096",
                  at_width(4096, DENSE), 5.0, True),
    common.Target("fwd+bwd: composite twin time / ACDC time >= 3x", "4096",
                  at_width(4096, TWIN), 3.0, True),
)


def notes(first, machine):
  command = shlex.join(["python", "benchmarks/acdc.py", *sys.argv[1:]])
  return [
      f"command: `{command}`",
      *machine,
      f"kernel ISA: {first['isa']}; TensorFlow {first['tf_version']}; "
      f"TF_ENABLE_ONEDNN_OPTS={common.onednn_setting()}",
      f"float32 x and dy ~ N(0, 1), [{FLAGS.batch}, N]; median of "
      f"{common.repeats()} measurements of >= "
      f"{common.min_time_s() * 1e3:g} ms each, after warm-up",
      "fwd+bwd: one GradientTape step, forward plus the gradients w.r.t. x "
      "and all trainable weights, µs in a tf.function graph "
      "(benchmarks/common.py); ÷ ACDC: this row's time / ACDC's (above "
      "1.00x slower than ACDC)",
      "peak MiB: the CPU allocator's peak during one step above what it "
      "held before the step",
  ]


def report(results, machine, markdown):
  bullet = "- " if markdown else ""
  lines = [common.heading("tf_approx ACDC benchmark", 1, markdown), ""]
  lines += [bullet + line for line in notes(results[0], machine)]
  for result in results:
    lines += ["", common.heading(
        f"Batch {FLAGS.batch}, {result['intra_op_threads']} intra-op "
        "thread(s)", 2, markdown), "", table(result, markdown), "",
              bullet + common.interference(result)]
  lines += ["", common.heading("Targets", 2, markdown), "",
            common.target_table(TARGETS, results, markdown), "",
            bullet + common.load_average("end")]
  return "\n".join(lines)


def main(argv):
  del argv
  if common.is_child():
    run_child()
    return
  machine = [common.machine_description(), common.load_average("start")]
  child_args = [f"--sizes={','.join(map(str, widths()))}",
                f"--batch={FLAGS.batch}"]
  if FLAGS.quick:
    child_args.append("--quick")
  results = common.run_children(__file__, child_args)
  print(report(results, machine, FLAGS.markdown))


if __name__ == "__main__":
  app.run(main)
