"""Speed of the noisy activation and GAAF ops against what runs without them.

For each size and intra-op thread count it times, in one process:

* NAN, the noisy hard tanh with noise on the output (where='output', normal
  noise, alpha = 1.15, training: the noise is drawn), p a scalar variable
  0.5, c = 0.5, forward + backward as training runs it (one
  `tf.GradientTape` step: the forward and the gradient w.r.t. x and p) for
  - `tf_approx.ops.noisy_activation` (TfApprox>NoisyActivation, then the
    fused TfApprox>NoisyActivationGrad, which regenerates the noise from
    the seed rather than keeping it);
  - its composite twin `tf_approx.reference.noisy.noisy_activation` (plain
    TF ops and autodiff's gradient; it draws the kernel's counter-hash noise
    with TF integer ops);
  - "plain TF": the same formula as a Keras user without this library would
    write it, `plain_nan` below, with `tf.random.stateless_normal` noise;
  - `tf.tanh` (Tanh, TanhGrad; gradient w.r.t. x only), the smooth
    activation NAN stands in for;
* GAAF (`tf_approx.ops.gaaf(x, base='tanh')`: shape 'exp', K = 10^4;
  TfApprox>Gaaf, TfApprox>GaafGrad), forward + backward, against its
  composite twin `tf_approx.reference.gaaf.gaaf` and `tf.tanh`;
* forward alone, for all of them.

Then it checks the performance targets: at 1M elements the composite twin's
forward+backward time >= 3x the op's, for NAN and for GAAF.

    python benchmarks/noisy.py                # the full run
    python benchmarks/noisy.py --markdown     # for BENCHMARKS.md
    python benchmarks/noisy.py --quick --sizes=4096 --threads=1

The seed: an int64 [2] variable [SEED, STEP], read by every NAN step as the
NoisyActivation layer reads its step counter, and passed to all three NAN
rows (plain TF's `stateless_normal` too). A constant seed would be wrong
here: the twin's and plain TF's noise depend on nothing but the seed and x's
static shape, so Grappler constant-folds them into a tensor computed once,
out of the timed loop; at 1M elements, one thread (on a busy 2-core
machine), that cut the twin's forward time about 3.5x and plain TF's
forward+backward time about 2.5x.
The native op regenerates its noise in every call and every gradient.

How the steps are chained (see `common.py` for how a step is timed):

* forward + backward: the upstream gradient `dy` is a fixed tensor, uniform
  on INPUT_RANGE like x (a training step's dy does not depend on y either),
  and the next input is dx = dy * F'(x). That map keeps the inputs spread
  over the range, saturated and linear parts alike:
  - NAN: F' = 1 on the linear part |x| <= 1 (alpha h' + (1 - alpha) u' =
    1.15 - 0.15) and -0.15 + (a noise term of at most 0.025 |eps|) where
    saturated, so an element with |dy| <= 1 settles on x = dy and one with
    |dy| > 1 alternates between dy (saturated) and ~-0.15 dy (linear):
    every value stays within [-3, 3], about 50% negative, 2/9 or 4/9 of
    them saturated on alternate steps, none below 1e-3 in magnitude. The
    plain TF version follows the same map with its own noise; tanh's chain
    the same pattern (F'(3) ~ 0.01): ~17% of its inputs beyond |x| = 1.
  - GAAF: F' = tanh' + exp(-|x|) (+ g s', below 1/K) is 2 at 0 and ~0.005
    at 5.4, so large |dy| alternate between ~0.01 and up to ~6: the values
    lie within [-6, 6], ~28% beyond |x| = 1, none below 1e-3 in magnitude.
  Because nothing reads y and dp, Grappler would prune the forward op (and
  the twins' dp reductions); so `common.training_step` folds `y[0]` and the
  sum of dp, times 2^-100, into element 0 of dx in O(1) time. At that scale
  the addition changes no float32 value (dx[0] is far above 1e-14), but
  Grappler cannot know it. No step has any other op but the seed's read.
* forward alone: y = F(x) is the next input, and this chain does not keep
  its spread: NAN maps the saturated part to about [0.7, 1] (1.15 - 0.15
  |x|, plus noise of at most 0.03 |eps|) and is the identity on [-1, 1], so
  within two steps every input lies in [-1, 1], on the linear part (the
  noise is drawn, times sigma = 0); tanh and GAAF contract all values
  towards 0 (within +-0.09 after 200 steps; never near the subnormals in a
  measurement). The kernels' speed does not depend on the values there:
  the native kernels are branch-free vector code whose noise depends only
  on the seed and the element's index, and TF's elementwise ops (and the
  twins' noise, computed from the seed alone) are value-independent too:
  timed on their own (1M elements, eager), both native ops took the same
  time on inputs uniform on [-3, 3] and on [-1, 1]. The forward+backward
  figures, which the targets use, do keep the distribution.
"""

import shlex
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

import common  # pylint: disable=g-bad-import-order
import tf_approx
from tf_approx import _library
from tf_approx import _native
from tf_approx.reference import gaaf as gaaf_reference
from tf_approx.reference import noisy as noisy_reference

flags.DEFINE_list(
    "sizes", ["64K", "1M", "4M"],
    "float32 element counts (K = 1024, M = 1024**2); with --quick the "
    "default is 4K,64K.")

FLAGS = flags.FLAGS

SEED = 0
# The noise's [seed, step].
NOISE_SEED = (1234, 5)
# tanh's saturating tails begin near |x| = 1 (hard tanh's at exactly 1): on
# [-3, 3] a third of the inputs saturate.
INPUT_RANGE = (-3.0, 3.0)
# NAN: the thesis's (Gulcehre et al., ICML 2016) hard tanh, noise on the
# output, leak alpha 1.15, p initialised to 1/2 (here fixed), c = 1/2.
NAN_P = 0.5
NAN_SCALE = 0.5
NAN_ALPHA = 1.15
# GAAF (the paper's defaults for tanh): s(x) = exp(-|x|), K = 10^4.
GAAF_BASE = "tanh"
GAAF_SHAPE = "exp"
GAAF_K = 1e4

# Row keys; the tables print `LABELS`.
TANH = "tf.tanh"
NAN_TWIN = "NAN composite twin"
NAN_PLAIN = "NAN plain TF"
NAN_NATIVE = "tf_approx.ops.noisy_activation"
GAAF_TWIN = "GAAF composite twin"
GAAF_NATIVE = "tf_approx.ops.gaaf"
TWIN_LABEL = "composite twin (GradientTape)"
LABELS = {NAN_TWIN: TWIN_LABEL, GAAF_TWIN: TWIN_LABEL,
          NAN_PLAIN: "plain TF (stateless_normal)"}
NAN_ROWS = (TANH, NAN_TWIN, NAN_PLAIN, NAN_NATIVE)
GAAF_ROWS = (TANH, GAAF_TWIN, GAAF_NATIVE)

ONE_M = 1 << 20
# Targets in parentheses are not part of the targets: context.
TARGETS = (
    common.Target("fwd+bwd: NAN composite twin time / op time >= 3x", "1M",
                  common.ratio_at_size(ONE_M, NAN_TWIN, NAN_NATIVE,
                                       "fwd_bwd"), 3.0, True),
    common.Target("fwd+bwd: GAAF composite twin time / op time >= 3x", "1M",
                  common.ratio_at_size(ONE_M, GAAF_TWIN, GAAF_NATIVE,
                                       "fwd_bwd"), 3.0, True),
    common.Target("(fwd+bwd: NAN plain TF time / op time >= 3x)", "1M",
                  common.ratio_at_size(ONE_M, NAN_PLAIN, NAN_NATIVE,
                                       "fwd_bwd"), 3.0, True),
    common.Target("(forward alone: NAN twin time / op time >= 3x)", "1M",
                  common.ratio_at_size(ONE_M, NAN_TWIN, NAN_NATIVE, "fwd"),
                  3.0, True),
    common.Target("(forward alone: NAN plain TF time / op time >= 3x)",
                  "1M", common.ratio_at_size(ONE_M, NAN_PLAIN, NAN_NATIVE,
                                             "fwd"), 3.0, True),
    common.Target("(forward alone: GAAF twin time / op time >= 3x)", "1M",
                  common.ratio_at_size(ONE_M, GAAF_TWIN, GAAF_NATIVE, "fwd"),
                  3.0, True),
)


def plain_nan(x, p, c, seed, alpha=NAN_ALPHA):
  """NAN (hard tanh, noise on the output) from TF ops, stateless_normal
  noise: what a Keras user without this library would write."""
  eps = tf.random.stateless_normal(tf.shape(x), seed=seed)
  u = x
  h = tf.clip_by_value(x, -1.0, 1.0)
  delta = h - u
  sigma = c * (tf.sigmoid(p * delta) - 0.5)**2
  direction = float(np.sign(1.0 - alpha))
  return alpha * h + (1.0 - alpha) * u - tf.sign(x) * direction * sigma * eps


# -------------------------------------------------------------- child side


class Inputs:
  """One size's inputs.

  Attributes:
    x, dy: float32 tensors uniform on INPUT_RANGE.
    p: NAN's scalar variable.
    seed: NAN's int64 [2] variable, [seed, step] (see the module's doc).
  """

  def __init__(self, size):
    rng = np.random.default_rng(SEED)
    self.x = tf.constant(rng.uniform(*INPUT_RANGE, size).astype(np.float32))
    self.dy = tf.constant(rng.uniform(*INPUT_RANGE, size).astype(np.float32))
    self.p = tf.Variable(NAN_P, dtype=tf.float32, name="p")
    self.seed = tf.Variable(NOISE_SEED, dtype=tf.int64, trainable=False,
                            name="seed")


def size_samplers(size):
  """{key: {figure: sampler}} for every row at `size`."""
  inputs = Inputs(size)
  p, seed = inputs.p, inputs.seed
  rows = {"loop": {"overhead": common.loop_overhead_sampler(inputs.x)}}

  def samplers(forward, variables=(), single_op=True):
    return common.activation_samplers(forward, inputs.x, inputs.dy,
                                      variables, single_op)

  rows[TANH] = samplers(tf.tanh)
  rows[NAN_TWIN] = samplers(
      lambda x: noisy_reference.noisy_activation(
          x, p, NAN_SCALE, seed, base="tanh", where="output",
          noise_kind="normal", alpha=NAN_ALPHA, training=True),
      (p,), single_op=False)
  rows[NAN_PLAIN] = samplers(lambda x: plain_nan(x, p, NAN_SCALE, seed),
                             (p,), single_op=False)
  rows[NAN_NATIVE] = samplers(
      lambda x: tf_approx.ops.noisy_activation(
          x, p, NAN_SCALE, seed, base="tanh", where="output", noise="normal",
          alpha=NAN_ALPHA, training=True),
      (p,))
  rows[GAAF_TWIN] = samplers(
      lambda x: gaaf_reference.gaaf(x, GAAF_BASE, GAAF_SHAPE, GAAF_K, 0.0,
                                    1.0),
      single_op=False)
  rows[GAAF_NATIVE] = samplers(
      lambda x: tf_approx.ops.gaaf(x, base=GAAF_BASE))
  return rows


def run_child():
  common.configure_child_threads()
  library = _library.load_ops()
  if library is None:
    # The ops would silently run their composite twins.
    raise RuntimeError("the tf_approx op library is not loaded (is "
                       "TF_APPROX_PY_OPS set?): nothing native to time")
  for op in ("tf_approx_noisy_activation", "tf_approx_gaaf"):
    if not hasattr(library, op):
      raise RuntimeError(f"the tf_approx op library has no {op}: rebuild it")
  results = {"isa": _native.selected_isa(), "threads": FLAGS.child_threads,
             "sizes": {}, "loop_overhead": {}}
  for size in common.sizes():
    common.progress(f"threads={FLAGS.child_threads} size={size}")
    rows = common.nested_medians(size_samplers(size))
    results["loop_overhead"][str(size)] = rows.pop("loop")["overhead"]
    results["sizes"][str(size)] = rows
  common.write_child_results(results)


# ------------------------------------------------------------- parent side


def family_table(family, keys, twin, rows, size, markdown, plain=None):
  """The op | forward | forward+backward table of one family at one size.

  Args:
    family: the first column's heading.
    keys: the rows, in order.
    twin: the key of the composite twin the "twin ÷" columns divide.
    rows: {key: {figure: seconds}} at `size`.
    size: elements.
    markdown: print markdown.
    plain: the key of a "plain ÷" baseline, if the family has one.
  """
  baselines = [("twin ÷", twin)] + ([("plain ÷", plain)] if plain else [])
  ratios = [header for header, _ in baselines]
  headers = [family, "fwd µs", "ns/elem", "÷ tanh", *ratios, "fwd+bwd µs",
             "ns/elem", "÷ tanh", *ratios]
  us, fmt = common.format_us, common.format_ratio

  def ns(seconds):
    return "-" if seconds is None else f"{seconds * 1e9 / size:.2f}"

  table = []
  for key in keys:
    if key not in rows:
      continue
    cells = [LABELS.get(key, key)]
    for figure in ("fwd", "fwd_bwd"):
      seconds = rows[key].get(figure)
      cells += [us(seconds), ns(seconds),
                fmt(None if key == TANH
                    else common.row_ratio(rows, key, TANH, figure))]
      cells += [fmt(None if key == baseline
                    else common.row_ratio(rows, baseline, key, figure))
                for _, baseline in baselines]
    table.append(cells)
  return common.format_table(headers, table, markdown)


def tables(result, size, markdown):
  rows = result["sizes"][str(size)]
  return [family_table("NAN op", NAN_ROWS, NAN_TWIN, rows, size, markdown,
                       plain=NAN_PLAIN),
          family_table("GAAF op", GAAF_ROWS, GAAF_TWIN, rows, size,
                       markdown)]


def notes(first, machine):
  """What was measured, where and how: the lines above the tables."""
  command = shlex.join(["python", "benchmarks/noisy.py", *sys.argv[1:]])
  return [
      f"command: `{command}`",
      *machine,
      f"kernel ISA: {first['isa']}; TensorFlow {first['tf_version']}; "
      f"TF_ENABLE_ONEDNN_OPTS={common.onednn_setting()}",
      f"float32 x and dy uniform on [{INPUT_RANGE[0]:g}, "
      f"{INPUT_RANGE[1]:g}]; median of {common.repeats()} measurements of "
      f">= {common.min_time_s() * 1e3:g} ms each, after warm-up",
      f"NAN: hard tanh, where='output', normal noise drawn (training), "
      f"alpha={NAN_ALPHA:g}, p={NAN_P:g} (a variable), c={NAN_SCALE:g}, seed "
      f"an int64 variable {list(NOISE_SEED)} read each step; plain TF: the "
      "same formula with tf.random.stateless_normal noise on that seed",
      f"GAAF: base {GAAF_BASE}, shape {GAAF_SHAPE}, K={GAAF_K:g}",
      "µs per op in a tf.function graph, timed as a tf.while_loop feeding "
      "each step's output to its next (benchmarks/common.py, "
      "benchmarks/noisy.py's doc); ns/elem: the same per element",
      "fwd+bwd: one GradientTape step, forward plus the gradient w.r.t. x "
      "and NAN's p (TfApprox>NoisyActivationGrad, TfApprox>GaafGrad; "
      "autodiff's ops for the twins and plain TF), w.r.t. x for tanh "
      "(TanhGrad); the next x is dx = dy * F'(x), dy fixed; y[0] and dp's "
      "sum are folded into dx[0] in O(1) so that nothing is pruned",
      "fwd: the forward op alone, y = F(x) the next x; Grappler's "
      "arithmetic optimizer is off for these single-op chains, on for the "
      "twins, plain TF and every fwd+bwd step",
      "÷ tanh: this row's time / tanh's (above 1.00x slower than tanh); "
      "twin ÷ (plain ÷): the composite twin's (plain TF's) time / this "
      "row's (above 1.00x faster than it)",
  ]


def report(results, machine, markdown):
  """The whole printed report: notes, per-size tables, targets."""
  return common.report(
      "tf_approx noisy activation and GAAF benchmark",
      notes(results[0], machine), results,
      lambda result, size: tables(result, size, markdown),
      common.target_table(TARGETS, results, markdown), markdown, unit="step")


def main(argv):
  del argv
  if common.is_child():
    run_child()
    return
  machine = [common.machine_description(), common.load_average("start")]
  child_args = [f"--sizes={','.join(str(s) for s in common.sizes())}"]
  if FLAGS.quick:
    child_args.append("--quick")
  results = common.run_children(__file__, child_args)
  print(report(results, machine, FLAGS.markdown))


if __name__ == "__main__":
  app.run(main)
