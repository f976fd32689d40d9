"""Speed of the fast Walsh–Hadamard op and the Fastfood layer.

Two parts, each in one process per intra-op thread count:

1. The transform H x of a [batch, d] float32 tensor (d = 2^k, unnormalised),
   at every --fwht_log2 and --batches:
   - `tf_approx.ops.fast_walsh_hadamard` in a tf.function graph (what a
     model runs; TfApprox>FastWalshHadamard, split over the intra-op
     threads);
   - `tf_approx._native.fast_walsh_hadamard_`: the same kernel in place on a
     numpy array from Python, on one thread, without TensorFlow;
   - FFHT (`ffht-unofficial` from PyPI, the FALCONN library's AVX code, a
     benchmark peer only): `ffht.fht_(a, nthreads)` in place on a numpy
     array, nthreads = the child's thread count (OpenMP over rows);
   - a matmul with the dense ±1 Hadamard matrix (`tf.linalg.matmul`, oneDNN
     or Eigen), for d <= 2^--max_dense_log2 (default 13: the float32 matrix
     has 4^k entries, 256 MiB at 2^13 and 4 TiB at 2^20).
   Inputs are zeros: in-place transforms of real data grow by sqrt(d) per
   call and overflow float32 within a dozen calls, and none of these codes
   has a data-dependent path (adds and subtracts only; zeros are not
   subnormal), so zeros time what real data does. Before timing, every code
   is checked against the others on random data.

2. A layer's training step at batch --layer_batch, d = --layer_d in and
   out: forward plus the gradients w.r.t. x and every trainable weight,
   - `tf_approx.layers.Fastfood(d)` (adaptive: S, G, B and the bias);
   - `keras.layers.Dense(d)` (kernel and bias);
   - the Fastfood layer's composite twin (`tf_approx.reference.fastfood`
     under GradientTape: what runs without the op library).
   Parameter counts are printed beside the times.

Targets (issue C): H x on one thread within 1.5x of FFHT's time, and faster
than FFHT at batch 128 with both cores; the Fastfood layer's fwd+bwd >= 3x
faster than Dense's at d = 4096.

    python benchmarks/fastfood.py              # the full run, ~12 min, 2 cores
    python benchmarks/fastfood.py --markdown   # for BENCHMARKS.md
    python benchmarks/fastfood.py --quick --threads=1

Graph figures are timed as in `common.py` (a tf.while_loop chaining each
step's output into the next step's input); FFHT and `_native` calls from
Python (`common.call_sampler`), which includes Python's call overhead
(~0.1 µs) that a graph op's dispatch replaces.
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
from tf_approx.reference import fastfood as reference

try:
  import ffht  # pylint: disable=g-import-not-at-top
except ImportError:  # a benchmark peer only, not a dependency
  ffht = None

flags.DEFINE_list("fwht_log2", [str(k) for k in range(10, 21)],
                  "log2 of the transform lengths d.")
flags.DEFINE_list("batches", ["1", "128"], "Rows per transform call.")
flags.DEFINE_integer("max_dense_log2", 13,
                     "Largest log2(d) for the dense Hadamard matmul "
                     "(its matrix has 4^k float32 entries).")
flags.DEFINE_list("layer_d", ["1024", "4096"],
                  "Layer widths (inputs = outputs) for the layer step.")
flags.DEFINE_integer("layer_batch", 128, "Batch of the layer step.")

FLAGS = flags.FLAGS

QUICK_FWHT_LOG2 = ("10", "14")
QUICK_LAYER_D = ("256",)
SEED = 0

# Row labels, part 1.
OP = "tf_approx.ops.fast_walsh_hadamard"
KERNEL = "tf_approx._native (1 thread)"
FFHT = "ffht.fht_"
DENSE_H = "matmul with dense H"
FWHT_ROWS = (OP, KERNEL, FFHT, DENSE_H)
# Part 2.
FASTFOOD = "tf_approx.layers.Fastfood"
DENSE = "keras.layers.Dense"
TWIN = "Fastfood composite twin"
LAYER_ROWS = (FASTFOOD, DENSE, TWIN)

FFHT_MISSING = ("FFHT not installed: pip install --no-build-isolation "
                "ffht-unofficial (it needs numpy and pybind11 at build time)")


def fwht_log2s():
  if FLAGS.quick and not FLAGS["fwht_log2"].present:
    return [int(k) for k in QUICK_FWHT_LOG2]
  return [int(k) for k in FLAGS.fwht_log2]


def layer_ds():
  if FLAGS.quick and not FLAGS["layer_d"].present:
    return [int(d) for d in QUICK_LAYER_D]
  return [int(d) for d in FLAGS.layer_d]


def fwht_key(log2, batch):
  return f"{log2}/{batch}"


# -------------------------------------------------------------- child side


def hadamard(d):
  """The d x d Sylvester Hadamard matrix, float32."""
  h = np.ones((1, 1), np.float32)
  while h.shape[0] < d:
    h = np.block([[h, h], [h, -h]])
  return h


def check_agreement(log2, threads):
  """Raises unless the op, the kernel and FFHT agree on random data."""
  d = 1 << log2
  x = np.random.default_rng(SEED).normal(size=(2, d)).astype(np.float32)
  want = tf_approx.ops.fast_walsh_hadamard(x).numpy()
  tolerance = 1e-5 * np.sqrt(d) * log2 * np.max(np.abs(x))
  got = {KERNEL: x.copy()}
  _native.fast_walsh_hadamard_(got[KERNEL])
  if ffht is not None:
    got[FFHT] = x.copy()
    ffht.fht_(got[FFHT], threads)
  for label, value in got.items():
    error = np.max(np.abs(value - want))
    if not error <= tolerance:
      raise RuntimeError(f"{label} differs from {OP} at d = {d}: max error "
                         f"{error} > {tolerance}")


def fwht_samplers(log2, batch, threads):
  """{label: sampler} of part 1 at one d and batch."""
  d = 1 << log2
  shape = [d] if batch == 1 else [batch, d]
  zeros = np.zeros(shape, np.float32)
  x = tf.constant(zeros)
  unroll = common.unroll_for(batch * d)
  samplers = {
      "loop": common.loop_overhead_sampler(x),
      OP: common.graph_sampler(
          lambda v, unused: tf_approx.ops.fast_walsh_hadamard(v), x, x,
          unroll),
  }
  buffer = zeros.copy()
  samplers[KERNEL] = common.call_sampler(
      lambda: _native.fast_walsh_hadamard_(buffer))
  if ffht is not None:
    ffht_buffer = zeros.copy()
    samplers[FFHT] = common.call_sampler(
        lambda: ffht.fht_(ffht_buffer, threads))
  if log2 <= FLAGS.max_dense_log2:
    rows = tf.constant(zeros.reshape(-1, d))
    samplers[DENSE_H] = common.graph_sampler(
        lambda v, h: tf.linalg.matmul(v, h), rows, tf.constant(hadamard(d)),
        unroll)
  return samplers


class LayerCase:
  """The three layer steps at width d: {label: (forward, variables)}."""

  def __init__(self, d, batch):
    rng = np.random.default_rng(SEED)
    self.x = tf.constant(rng.normal(size=(batch, d)).astype(np.float32))
    self.dy = tf.constant(rng.normal(size=(batch, d)).astype(np.float32))
    keras.utils.set_random_seed(SEED)
    fastfood = tf_approx.layers.Fastfood(d, seed=SEED)
    dense = keras.layers.Dense(d)
    fastfood.build(self.x.shape)
    dense.build(self.x.shape)

    def twin(x):
      return reference.fastfood(x, fastfood.s, fastfood.g, fastfood.b,
                                fastfood.permutation, d,
                                normalize=True) + fastfood.bias

    self.steps = {
        FASTFOOD: (fastfood, fastfood.trainable_weights),
        DENSE: (dense, dense.trainable_weights),
        TWIN: (twin, fastfood.trainable_weights),
    }
    self.params = {
        FASTFOOD: (sum(int(np.prod(w.shape))
                       for w in fastfood.trainable_weights),
                   fastfood.count_params()),
        DENSE: (dense.count_params(), dense.count_params()),
    }
    self.params[TWIN] = self.params[FASTFOOD]


def layer_samplers(case):
  unroll = common.unroll_for(int(tf.size(case.x)))
  samplers = {"loop": common.loop_overhead_sampler(case.x)}
  for label, (forward, variables) in case.steps.items():
    samplers[label] = common.graph_sampler(
        common.training_step(forward, variables), case.x, case.dy, unroll)
  return samplers


def run_child():
  common.configure_child_threads()
  if _library.load_ops() is None:
    raise RuntimeError("the tf_approx op library is not loaded (is "
                       "TF_APPROX_PY_OPS set?): nothing native to time")
  threads = FLAGS.child_threads
  results = {"isa": _native.selected_isa(), "fwht": {}, "layer": {},
             "params": {}, "ffht": ffht is not None}
  for log2 in fwht_log2s():
    check_agreement(log2, threads)
    for batch in (int(b) for b in FLAGS.batches):
      common.progress(f"threads={threads} fwht d=2^{log2} batch={batch}")
      results["fwht"][fwht_key(log2, batch)] = common.interleaved_medians(
          fwht_samplers(log2, batch, threads))
  for d in layer_ds():
    common.progress(f"threads={threads} layer d={d}")
    case = LayerCase(d, FLAGS.layer_batch)
    results["layer"][str(d)] = common.interleaved_medians(
        layer_samplers(case))
    results["params"][str(d)] = case.params
  common.write_child_results(results)


# ------------------------------------------------------------- parent side


def fwht_table(result, batch, markdown):
  headers = ["d", *[f"{label} µs" for label in FWHT_ROWS], "op ÷ FFHT",
             "kernel ÷ FFHT", "dense H ÷ op"]
  us, fmt = common.format_us, common.format_ratio
  table = []
  for log2 in fwht_log2s():
    row = result["fwht"][fwht_key(log2, batch)]
    table.append([
        f"2^{log2}", *[us(row.get(label)) for label in FWHT_ROWS],
        fmt(common.speedup(row.get(OP), row.get(FFHT))),
        fmt(common.speedup(row.get(KERNEL), row.get(FFHT))),
        fmt(common.speedup(row.get(DENSE_H), row.get(OP)))])
  return common.format_table(headers, table, markdown)


def layer_table(result, markdown):
  headers = ["d", "layer", "fwd+bwd µs", "Dense ÷", "trainable params",
             "all params"]
  table = []
  for d in layer_ds():
    row = result["layer"][str(d)]
    params = result["params"][str(d)]
    for label in LAYER_ROWS:
      table.append([
          str(d), label, common.format_us(row.get(label)),
          common.format_ratio(common.speedup(row.get(DENSE),
                                             row.get(label))),
          f"{params[label][0]:,}", f"{params[label][1]:,}"])
  return common.format_table(headers, table, markdown)


def fwht_ratio(log2, batch, numerator, denominator):
  def value(result):
    row = result["fwht"].get(fwht_key(log2, batch), {})
    return common.speedup(row.get(numerator), row.get(denominator))
  return value


def layer_ratio(d, numerator, denominator):
  def value(result):
    row = result["layer"].get(str(d), {})
    return common.speedup(row.get(numerator), row.get(denominator))
  return value


def targets():
  """The issue's targets at the measured sizes."""
  listed = []
  batches = [int(b) for b in FLAGS.batches]
  for log2 in fwht_log2s():
    for batch in batches:
      listed.append(common.Target(
          "H x: op time / FFHT time <= 1.5x, one thread",
          f"2^{log2} x {batch}", fwht_ratio(log2, batch, OP, FFHT), 1.5,
          False, threads=(1,)))
  for log2 in fwht_log2s():
    if 128 in batches:
      listed.append(common.Target(
          "H x: FFHT time / op time > 1x, batch 128, two threads",
          f"2^{log2} x 128", fwht_ratio(log2, 128, FFHT, OP), 1.0, True,
          threads=(2,)))
  for d in layer_ds():
    listed.append(common.Target(
        "layer fwd+bwd: Dense time / Fastfood time >= 3x"
        + ("" if d == 4096 else " (issue: at 4096)"),
        f"{d} x {FLAGS.layer_batch}", layer_ratio(d, DENSE, FASTFOOD), 3.0,
        True))
  return listed


def notes(first, machine):
  command = shlex.join(["python", "benchmarks/fastfood.py", *sys.argv[1:]])
  lines = [
      f"command: `{command}`",
      *machine,
      f"kernel ISA: {first['isa']}; TensorFlow {first['tf_version']}; "
      f"TF_ENABLE_ONEDNN_OPTS={common.onednn_setting()}",
      f"median of {common.repeats()} measurements of >= "
      f"{common.min_time_s() * 1e3:g} ms each, after warm-up",
      "H x: float32 zeros [batch, d] (see the module doc), unnormalised; "
      f"{OP} and {DENSE_H}: µs per op in a tf.function graph "
      f"(benchmarks/common.py); {KERNEL} and {FFHT}: µs per call from "
      "Python, in place; FFHT with nthreads = the intra-op thread count",
      "op ÷ FFHT, kernel ÷ FFHT: time / FFHT's time (below 1.00x faster "
      "than FFHT); dense H ÷ op: the matmul's time / the op's",
      f"layer: one GradientTape step at batch {FLAGS.layer_batch}, forward "
      "plus the gradients w.r.t. x and all trainable weights (dy fixed, "
      "dx the next x); Dense ÷: Dense's time / this row's (above 1.00x "
      "faster than Dense); all params include Fastfood's int32 permutation",
  ]
  if not first["ffht"]:
    lines.append(FFHT_MISSING)
  return lines


def report(results, machine, markdown):
  bullet = "- " if markdown else ""
  lines = [common.heading("tf_approx Fastfood benchmark", 1, markdown), ""]
  lines += [bullet + line for line in notes(results[0], machine)]
  for result in results:
    threads = result["intra_op_threads"]
    for batch in (int(b) for b in FLAGS.batches):
      lines += ["", common.heading(
          f"H x, batch {batch}, {threads} intra-op thread(s)", 2, markdown),
                "", fwht_table(result, batch, markdown)]
    lines += ["", common.heading(
        f"Layer fwd+bwd, {threads} intra-op thread(s)", 2, markdown), "",
              layer_table(result, markdown), "",
              bullet + common.interference(result)]
  lines += ["", common.heading("Targets", 2, markdown), "",
            common.target_table(targets(), results, markdown), "",
            bullet + common.load_average("end")]
  return "\n".join(lines)


def main(argv):
  del argv
  if common.is_child():
    run_child()
    return
  if ffht is None:
    common.progress(FFHT_MISSING)
  machine = [common.machine_description(), common.load_average("start")]
  child_args = [f"--fwht_log2={','.join(map(str, fwht_log2s()))}",
                f"--batches={','.join(FLAGS.batches)}",
                f"--max_dense_log2={FLAGS.max_dense_log2}",
                f"--layer_d={','.join(map(str, layer_ds()))}",
                f"--layer_batch={FLAGS.layer_batch}"]
  if FLAGS.quick:
    child_args.append("--quick")
  results = common.run_children(__file__, child_args)
  print(report(results, machine, FLAGS.markdown))


if __name__ == "__main__":
  app.run(main)
