"""Speed of the Padé Activation Unit op against what runs without it.

For each size and intra-op thread count it times, in one process, a safe
(5, 4) PAU with its leaky-ReLU initialisation:

* forward + backward, as training runs it: one `tf.GradientTape` step, the
  forward and the gradient w.r.t. x *and* both coefficient tensors, for
  - `tf_approx.ops.pau` (TfApprox>Pau, then the fused TfApprox>PauGrad);
  - its composite twin `tf_approx.reference.pau.pau` (plain TF ops and a
    `tf.custom_gradient` of the closed-form gradient in plain TF ops: what
    a Keras user without this library runs);
  - `tf.nn.leaky_relu(x, 0.01)` (LeakyRelu, LeakyReluGrad; gradient w.r.t.
    x only), the cheapest activation a PAU of this init stands in for;
  - `tf_approx.ops.pau` with per-channel coefficients, x shaped
    [N / channels, channels];
* forward alone, for the same four.

Then it checks the performance targets: at 1M elements the twin's
forward+backward time >= 5x the op's, and at 16M the op's forward+backward
time <= 2x that of leaky_relu.

    python benchmarks/pau.py                  # the full run, ~4 min on 2 cores
    python benchmarks/pau.py --markdown       # for BENCHMARKS.md
    python benchmarks/pau.py --quick --sizes=4096 --threads=1

How the steps are chained (see `common.py` for how a step is timed):

* forward + backward: the upstream gradient `dy` is a fixed tensor, uniform
  on INPUT_RANGE like x (a training step's dy does not depend on y either),
  and the next input is dx = dy * F'(x). That map has a stable
  distribution: where dy > 0, F' ~ 1 gives x ~ dy; where dy < 0, x settles
  on a fixed point or 2-cycle of x = dy * F'(x) in (dy, 0). After a few
  steps about 41% of the values are negative, all lie within [-1.5, 2.9]
  and none comes near the subnormals (F'(0) ~ 0.5 lifts any tiny value
  back); leaky_relu's chain settles on dy (dy > 0) and 0.01 dy (dy < 0).
  Because nothing reads y and the coefficient gradients, Grappler would
  prune the forward op (and the twin's coefficient-gradient reductions); so
  `common.training_step` folds `y[0]` and the sums of both coefficient
  gradients, times 2^-100, into element 0 of dx in O(1) time. At that scale
  the addition changes no float32 value (dx[0] is far above 1e-14), but
  Grappler cannot know it. No step has any other op.
* forward alone: y = F(x) is the next input. Unlike tanh's, this chain
  does not keep its spread: the PAU's values converge onto its attracting
  fixed points (~0.094 and ~2.75) within a few dozen steps, leaky_relu's
  negatives decay through the subnormals to 0. The kernels' speed does not
  depend on the values there (all three are branch-free elementwise code;
  the PAU kernel's only value-dependent path is for |x| beyond ~2400, and
  TensorFlow's threads flush subnormals to zero): timed on their own,
  uniform and collapsed inputs and leaky_relu on positive, negative and
  subnormal inputs took the same time. The forward+backward figures, which
  the targets use, do keep the distribution.
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
from tf_approx.reference import pau as reference

flags.DEFINE_list(
    "sizes", ["64K", "1M", "16M"],
    "float32 element counts (K = 1024, M = 1024**2); with --quick the "
    "default is 4K,64K.")
flags.DEFINE_integer(
    "channels", 256,
    "Channels (x's last axis) of the per-channel variant; sizes it does not "
    "divide skip that variant.")

FLAGS = flags.FLAGS

SEED = 0
# The range the leaky-ReLU initialisation was fitted on (pau_inits): where
# the inputs of a freshly initialised PAU are meant to lie.
INPUT_RANGE = (-3.0, 3.0)
DENOMINATOR_KIND = "safe"
# tf_approx.pau_inits.init_coefficients("leaky_relu", order=(5, 4)): the
# default PAU (Molina et al., ICLR 2020).
NUMERATOR = (3.35583603e-02, 5.05000375e-01, 1.65343934e+00, 2.01001052e+00,
             9.31901999e-01, 1.52424124e-01)
DENOMINATOR = (3.30847488e-06, 3.98021568e+00, 5.12471206e-07,
               3.01830109e-01)
LEAKY_ALPHA = 0.01

# Row labels.
LEAKY = "tf.nn.leaky_relu(x, 0.01)"
TWIN = "composite twin (GradientTape)"
NATIVE = "tf_approx.ops.pau"
PER_CHANNEL = "tf_approx.ops.pau per channel"
ROWS = (LEAKY, TWIN, NATIVE, PER_CHANNEL)

# Grappler's arithmetic optimizer would rewrite a forward-only chain of one
# op (e.g. fuse runs of unary ops into one pass), which a model applying an
# activation once never sees. It is off for those chains and on for the
# twin's and for every training step, whose ops it rewrites in a model too.
SINGLE_OP_GRAPPLER = {"arithmetic_optimization": False}


def ratio(rows, numerator, denominator, figure):
  """rows[numerator][figure] / rows[denominator][figure], or None."""
  if rows is None:
    return None
  return common.speedup(rows.get(numerator, {}).get(figure),
                        rows.get(denominator, {}).get(figure))


def at_size(size, numerator, denominator, figure):
  """`result -> ratio` of two rows' `figure` at `size`."""
  return lambda result: ratio(result["sizes"].get(str(size)), numerator,
                              denominator, figure)


# Targets in parentheses are not part of the targets: context.
TARGETS = (
    common.Target("fwd+bwd: composite twin time / op time >= 5x", "1M",
                  at_size(1 << 20, TWIN, NATIVE, "fwd_bwd"), 5.0, True),
    common.Target("fwd+bwd: op time / leaky_relu time <= 2x", "16M",
                  at_size(1 << 24, NATIVE, LEAKY, "fwd_bwd"), 2.0, False),
    common.Target("(forward alone: twin time / op time >= 5x)", "1M",
                  at_size(1 << 20, TWIN, NATIVE, "fwd"), 5.0, True),
    common.Target("(forward alone: op time / leaky_relu time <= 2x)", "16M",
                  at_size(1 << 24, NATIVE, LEAKY, "fwd"), 2.0, False),
    common.Target(
        "(per channel fwd+bwd: op time / leaky_relu time <= 2x)", "16M",
        at_size(1 << 24, PER_CHANNEL, LEAKY, "fwd_bwd"), 2.0, False),
)


def per_channel_label(channels):
  return f"{PER_CHANNEL} [N/{channels}, {channels}]"


# -------------------------------------------------------------- child side


class Inputs:
  """One shape's inputs: x and dy uniform on INPUT_RANGE, coefficients.

  Attributes:
    x, dy: float32 tensors of `shape`.
    numerator, denominator: variables, shared ([m + 1], [n]) or per channel
      ([channels, m + 1], [channels, n]: every channel the same set).
  """

  def __init__(self, shape, per_channel=False):
    rng = np.random.default_rng(SEED)
    self.x = tf.constant(rng.uniform(*INPUT_RANGE, shape).astype(np.float32))
    self.dy = tf.constant(rng.uniform(*INPUT_RANGE, shape).astype(np.float32))
    numerator = np.array(NUMERATOR, np.float32)
    denominator = np.array(DENOMINATOR, np.float32)
    if per_channel:
      numerator = np.tile(numerator, (shape[-1], 1))
      denominator = np.tile(denominator, (shape[-1], 1))
    self.numerator = tf.Variable(numerator, name="numerator")
    self.denominator = tf.Variable(denominator, name="denominator")


def row_samplers(inputs, forward, coefficients=(), single_op=True):
  """{"fwd": sampler, "fwd_bwd": sampler} for `forward` on `inputs`."""
  unroll = common.unroll_for(int(tf.size(inputs.x)))
  grappler = SINGLE_OP_GRAPPLER if single_op else None
  return {
      "fwd": common.graph_sampler(lambda x, unused: forward(x), inputs.x,
                                  inputs.dy, unroll, grappler),
      "fwd_bwd": common.graph_sampler(
          common.training_step(forward, coefficients), inputs.x, inputs.dy,
          unroll),
  }


def size_samplers(size, channels):
  """{label: {figure: sampler}} for every row at `size`."""
  flat = Inputs([size])
  rows = {"loop": {"overhead": common.loop_overhead_sampler(flat.x)}}
  coefficients = (flat.numerator, flat.denominator)
  rows[LEAKY] = row_samplers(
      flat, lambda x: tf.nn.leaky_relu(x, alpha=LEAKY_ALPHA))
  rows[TWIN] = row_samplers(
      flat, lambda x: reference.pau(x, flat.numerator, flat.denominator,
                                    DENOMINATOR_KIND),
      coefficients, single_op=False)
  rows[NATIVE] = row_samplers(
      flat, lambda x: tf_approx.ops.pau(x, flat.numerator, flat.denominator,
                                        DENOMINATOR_KIND),
      coefficients)
  if size % channels == 0:
    grid = Inputs([size // channels, channels], per_channel=True)
    rows[PER_CHANNEL] = row_samplers(
        grid, lambda x: tf_approx.ops.pau(x, grid.numerator,
                                          grid.denominator, DENOMINATOR_KIND),
        (grid.numerator, grid.denominator))
  return rows


def measure_size(size, channels):
  """{label: {figure: seconds}} for every row at `size`."""
  samplers = size_samplers(size, channels)
  flat = {(label, figure): sampler for label, row in samplers.items()
          for figure, sampler in row.items()}
  common.progress(f"  measuring {len(flat)} figures")
  rows = {label: {} for label in samplers}
  for (label, figure), seconds in common.interleaved_medians(flat).items():
    rows[label][figure] = seconds
  return rows


def run_child():
  common.configure_child_threads()
  if _library.load_ops() is None:
    # tf_approx.ops.pau would silently run the composite twin.
    raise RuntimeError("the tf_approx op library is not loaded (is "
                       "TF_APPROX_PY_OPS set?): nothing native to time")
  results = {"isa": _native.selected_isa(), "threads": FLAGS.child_threads,
             "sizes": {}, "loop_overhead": {}}
  for size in common.sizes():
    common.progress(f"threads={FLAGS.child_threads} size={size}")
    rows = measure_size(size, FLAGS.channels)
    results["loop_overhead"][str(size)] = rows.pop("loop")["overhead"]
    results["sizes"][str(size)] = rows
  common.write_child_results(results)


# ------------------------------------------------------------- parent side


def main_table(rows, size, markdown):
  """The op | forward | forward+backward table at one size."""
  headers = ["op", "fwd µs", "ns/elem", "÷ leaky", "twin ÷", "fwd+bwd µs",
             "ns/elem", "÷ leaky", "twin ÷"]
  us, fmt = common.format_us, common.format_ratio

  def ns(seconds):
    return "-" if seconds is None else f"{seconds * 1e9 / size:.2f}"

  table = []
  for label in ROWS:
    if label not in rows:
      continue
    cells = [per_channel_label(FLAGS.channels) if label == PER_CHANNEL
             else label]
    for figure in ("fwd", "fwd_bwd"):
      seconds = rows[label].get(figure)
      # The twin runs shared coefficients only: no ratio for per channel.
      twin = (None if label in (TWIN, PER_CHANNEL)
              else ratio(rows, TWIN, label, figure))
      cells += [us(seconds), ns(seconds),
                fmt(None if label == LEAKY
                    else ratio(rows, label, LEAKY, figure)),
                fmt(twin)]
    table.append(cells)
  return common.format_table(headers, table, markdown)


def notes(first, machine):
  """What was measured, where and how: the lines above the tables."""
  command = shlex.join(["python", "benchmarks/pau.py", *sys.argv[1:]])
  return [
      f"command: `{command}`",
      *machine,
      f"kernel ISA: {first['isa']}; TensorFlow {first['tf_version']}; "
      f"TF_ENABLE_ONEDNN_OPTS={common.onednn_setting()}",
      f"PAU: {DENOMINATOR_KIND} (5, 4), leaky-ReLU initialisation; float32 "
      f"x and dy uniform on [{INPUT_RANGE[0]:g}, {INPUT_RANGE[1]:g}]; "
      f"median of {common.repeats()} measurements of >= "
      f"{common.min_time_s() * 1e3:g} ms each, after warm-up",
      "µs per op in a tf.function graph, timed as a tf.while_loop feeding "
      "each step's output to its next (benchmarks/common.py, "
      "benchmarks/pau.py's doc); ns/elem: the same per element",
      "fwd+bwd: one GradientTape step, forward plus the gradient w.r.t. x "
      "and both coefficient tensors (TfApprox>PauGrad; autodiff's ops for "
      "the twin), w.r.t. x for leaky_relu (LeakyReluGrad); the next x is "
      "dx = dy * F'(x), dy fixed; y[0] and the coefficient gradients' sums "
      "are folded into dx[0] in O(1) so that nothing is pruned",
      "fwd: the forward op alone, y = F(x) the next x; Grappler's "
      "arithmetic optimizer is off for these single-op chains, on for the "
      "twin and every fwd+bwd step",
      "÷ leaky: this row's time / leaky_relu's (above 1.00x slower than "
      "leaky_relu); twin ÷: the composite twin's time / this row's (above "
      "1.00x faster than the twin)",
      f"per channel: x shaped [N/{FLAGS.channels}, {FLAGS.channels}], "
      f"coefficients [{FLAGS.channels}, 6] and [{FLAGS.channels}, 4]",
  ]


def report(results, machine, markdown):
  """The whole printed report: notes, per-size tables, targets."""
  return common.report(
      "tf_approx PAU benchmark", notes(results[0], machine), results,
      lambda result, size: [
          main_table(result["sizes"][str(size)], size, markdown)],
      common.target_table(TARGETS, results, markdown), markdown, unit="step")


def main(argv):
  del argv
  if FLAGS.channels < 1:
    raise app.UsageError("--channels must be >= 1")
  if common.is_child():
    run_child()
    return
  machine = [common.machine_description(), common.load_average("start")]
  child_args = [f"--sizes={','.join(str(s) for s in common.sizes())}",
                f"--channels={FLAGS.channels}"]
  if FLAGS.quick:
    child_args.append("--quick")
  results = common.run_children(__file__, child_args)
  print(report(results, machine, FLAGS.markdown))


if __name__ == "__main__":
  app.run(main)
