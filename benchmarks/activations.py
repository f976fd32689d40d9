"""Speed of the approximated activations against TensorFlow's own ops.

For each size and intra-op thread count it times, in one process:

* forward: `TfApprox>Activation` against a full copy of the tensor (the
  memory floor), `tf.nn.relu`, `tf.tanh` or `tf.sigmoid` (whichever the
  approximation stands in for: f(0) = 0 or 1/2) and the composite twin from
  `tf_approx.reference`;
* backward: `TfApprox>ActivationGrad(dy, x)` against `TanhGrad(y, dy)` or
  `SigmoidGrad(y, dy)` (what TensorFlow runs for tanh's and sigmoid's
  gradient) and `ReluGrad`;
* forward + backward: one tape step (forward op, gradient op), against the
  same for tf.tanh/tf.sigmoid and for the composite twin;
* for context: eager per-call times and the kernel alone
  (`tf_approx._native`, one thread, no TensorFlow).

Then it checks the performance targets: at 64K elements forward >= 2x and
backward >= 1.5x faster than tf.tanh/tf.sigmoid; at 16M forward within 1.15x
of the copy; at 1M >= 10x faster than the composite twin (forward+backward).

Today's activations (`gelu_*`, `silu_*`, `mish_*`, `softplus_*`, `elu_*`,
`selu_*` names) are timed against TensorFlow's own function they stand in
for: `tf.nn.gelu` (exact, Keras' default) and `tf.nn.gelu(approximate=True)`
(its tanh form), `tf.nn.silu`, Keras' `mish`, `tf.nn.softplus`, `tf.nn.elu`,
`tf.nn.selu`. None of these has a gradient op of its own (autodiff composes
theirs), so their backward column is left empty and forward+backward is the
comparison. Their targets: forward+backward at 64K on one thread >= 6x
faster than exact GELU and >= 3x than its tanh form (GELU), >= 3x (SiLU),
>= 5x (softplus); forward at 16M within 1.2x of the copy.

    python benchmarks/activations.py                 # the full run, ~14 min on 2 cores
    python benchmarks/activations.py --markdown      # for BENCHMARKS.md
    python benchmarks/activations.py --quick --sizes=4096 --threads=1
    python benchmarks/activations.py --names=modern  # today's safe picks

See `common.py` for how ops are timed.
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
from tf_approx.reference import activations as reference

flags.DEFINE_list(
    "sizes", ["4K", "64K", "1M", "16M"],
    "float32 element counts (K = 1024, M = 1024**2); with --quick the "
    "default is 4K,64K.")
flags.DEFINE_list(
    "names", ["tanh_pade_4_4", "serp", "sigm_fastexp_512", "sigm_fastexp_2"],
    "Approximations to time (any name tf_approx.activations.get accepts); "
    "'modern' stands for today's safe picks "
    "(tf_approx.activations.MODERN_SAFE), 'fast' for the splines "
    "(MODERN_FAST).")

FLAGS = flags.FLAGS

SEED = 0
# The paper's fit range: where inputs of a trained network's activations lie.
INPUT_RANGE = (-5.0, 5.0)

# Row labels of the baselines.
DEEP_COPY = "copy: DeepCopy"
SCALE = "copy: x * s"
RELU = "tf.nn.relu"
TF_FUNCTION = {"tanh": "tf.tanh", "sigmoid": "tf.sigmoid",
               "gelu": "tf.nn.gelu", "silu": "tf.nn.silu",
               "mish": "keras mish", "softplus": "tf.nn.softplus",
               "elu": "tf.nn.elu", "selu": "tf.nn.selu"}
TF_GRADIENT_OP = {"tanh": "TanhGrad", "sigmoid": "SigmoidGrad"}
GELU_TANH = "tf.nn.gelu tanh form"
MODERN = ("gelu", "silu", "mish", "softplus", "elu", "selu")


def _keras_mish(x):
  import keras  # pylint: disable=g-import-not-at-top
  return keras.activations.mish(x)


# TensorFlow's (or Keras') own function for each of today's activations.
TF_MODERN = {
    "gelu": tf.nn.gelu, "silu": tf.nn.silu, "mish": _keras_mish,
    "softplus": tf.nn.softplus, "elu": tf.nn.elu, "selu": tf.nn.selu}
COMPOSITE = "  composite twin"
BASELINES = (DEEP_COPY, SCALE, RELU, *TF_FUNCTION.values(), GELU_TANH)

# The memory floor of the ratios: like our op (and unlike DeepCopy) a
# multiply reads every element once and writes every element once into a
# forwarded buffer when it can, so both pay the same allocation costs.
FLOOR = SCALE

# Grappler's arithmetic optimizer would rewrite the measuring chain itself:
# fuse runs of unary ops (relu, tanh, sigmoid) into one _UnaryOpsComposition
# pass and fold x * s * s ... into one multiply, which a model applying an
# activation once never sees. It is off for the chains of single ops, and on
# for the composite twins, whose own ops it rewrites in a model too.
SINGLE_OP_GRAPPLER = {"arithmetic_optimization": False}

def _fwd_bwd_speedup(baseline):
  """value(ours, baselines): the baseline's fwd+bwd time / ours."""
  return lambda ours, base: common.speedup(base[baseline]["fwd_bwd"],
                                           ours["fwd_bwd"])


# (size, what, value(ours, baselines), passes(value)[, families]);
# baselines maps "tf", "relu", "floor", "deep_copy", "composite" (and for
# GELU "tf_tanh_form") to their rows. Without families a target is the
# paper's (tanh and sigmoid).
TARGETS = (
    (1 << 16, "forward >= 2.0x faster than {tf_fn}",
     lambda ours, base: common.speedup(base["tf"]["fwd"], ours["fwd"]),
     lambda v: v >= 2.0),
    (1 << 16, "backward >= 1.5x faster than {tf_grad}",
     lambda ours, base: common.speedup(base["tf"]["bwd"], ours["bwd"]),
     lambda v: v >= 1.5),
    (1 << 24, "forward time <= 1.15x that of x * s",
     lambda ours, base: ours["fwd"] / base["floor"]["fwd"],
     lambda v: v <= 1.15),
    (1 << 24, "forward time <= 1.15x that of DeepCopy",
     lambda ours, base: ours["fwd"] / base["deep_copy"]["fwd"],
     lambda v: v <= 1.15),
    (1 << 20, "forward+backward >= 10x faster than the composite twin",
     lambda ours, base: common.speedup(base["composite"]["fwd_bwd"],
                                       ours["fwd_bwd"]),
     lambda v: v >= 10.0),
    (1 << 20, "(forward alone >= 10x faster than the composite twin)",
     lambda ours, base: common.speedup(base["composite"]["fwd"], ours["fwd"]),
     lambda v: v >= 10.0),
    (1 << 16, "forward+backward >= 6x faster than {tf_fn} (1 thread)",
     _fwd_bwd_speedup("tf"), lambda v: v >= 6.0, ("gelu",), 1),
    (1 << 16, "forward+backward >= 3x faster than its tanh form (1 thread)",
     _fwd_bwd_speedup("tf_tanh_form"), lambda v: v >= 3.0, ("gelu",), 1),
    (1 << 16, "forward+backward >= 3x faster than {tf_fn} (1 thread)",
     _fwd_bwd_speedup("tf"), lambda v: v >= 3.0, ("silu",), 1),
    (1 << 16, "forward+backward >= 5x faster than {tf_fn} (1 thread)",
     _fwd_bwd_speedup("tf"), lambda v: v >= 5.0, ("softplus",), 1),
    (1 << 24, "forward time <= 1.2x that of x * s",
     lambda ours, base: ours["fwd"] / base["floor"]["fwd"],
     lambda v: v <= 1.2, MODERN),
)
PAPER_FAMILIES = ("tanh", "sigmoid")


def family(name):
  """The function `name` stands in for: today's by its prefix; else
  'sigmoid' when the approximation has f(0) = 1/2, or 'tanh'."""
  if name.split("_", 1)[0] in MODERN:
    return name.split("_", 1)[0]
  y0 = _native.forward(native_spec(name), np.zeros(1, np.float32))[0]
  return "sigmoid" if abs(y0 - 0.5) < 0.1 else "tanh"


def selected_names():
  """--names, with 'modern' and 'fast' expanded to today's picks."""
  groups = {"modern": tf_approx.activations.MODERN_SAFE,
            "fast": tf_approx.activations.MODERN_FAST}
  names = []
  for name in FLAGS.names:
    names += list(groups[name].values()) if name in groups else [name]
  return names


def native_spec(name):
  return _native.Spec(**tf_approx.activations.spec(name).attrs())


# -------------------------------------------------------------- child side


def with_gradient(forward):
  """A step running `forward` and its gradient, as one training step does.

  The gradient's upstream `dy` is the forward's own output y: otherwise
  nothing would read y and Grappler would prune the forward ops the gradient
  does not need (a control dependency does not stop it: it turns such ops
  into NoOps). The step maps x to y * f'(x), which stays bounded and away
  from subnormals for tanh-like and sigmoid-like f.
  """

  def step(x, dy):
    del dy
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = forward(x)
    return tape.gradient(y, x, output_gradients=y)

  return step


def row_samplers(inputs, forward=None, gradient=None, gradient_input=None,
                 tape_forward=None, eager_forward=None, eager_gradient=None,
                 kernel_forward=None, kernel_gradient=None, single_op=True):
  """{figure: sampler} for one row; each argument left None leaves it out.

  Args:
    inputs: the size's `Inputs`.
    forward: `(x, s) -> y`, s a runtime scalar 1; chained y -> next x.
    gradient: `(x, dy) -> dx` with dy = 1, chained dx -> next x. f' maps
      tanh-like inputs into (0, 1] and sigmoid-like ones into (0, 1/4], so
      the chain stays bounded and away from subnormals.
    gradient_input: maps x to the gradient's first input (TanhGrad and
      SigmoidGrad take y = f(x), not x).
    tape_forward: `x -> y` timed with its gradient as one training step
      (see `with_gradient`).
    eager_forward, eager_gradient: `x -> y`, `(dy, x) -> dx`, called eagerly.
    kernel_forward, kernel_gradient: the same on numpy arrays.
    single_op: whether each step is one op (see SINGLE_OP_GRAPPLER).

  Returns:
    Samplers for the figures fwd, bwd, fwd_bwd, eager_fwd, eager_bwd,
    kernel_fwd, kernel_bwd.
  """
  x, dy, one = inputs.x, inputs.dy, inputs.one
  grad_x = gradient_input(x) if gradient_input else x
  unroll = common.unroll_for(inputs.size)
  grappler = SINGLE_OP_GRAPPLER if single_op else None
  samplers = {}
  if forward:
    samplers["fwd"] = common.graph_sampler(forward, x, one, unroll, grappler)
  if gradient:
    samplers["bwd"] = common.graph_sampler(gradient, grad_x, dy, unroll,
                                           grappler)
  if tape_forward:
    samplers["fwd_bwd"] = common.graph_sampler(
        with_gradient(tape_forward), x, dy, unroll, grappler)
  if eager_forward:
    samplers["eager_fwd"] = common.call_sampler(lambda: eager_forward(x))
  if eager_gradient:
    samplers["eager_bwd"] = common.call_sampler(
        lambda: eager_gradient(dy, grad_x))
  if kernel_forward:
    samplers["kernel_fwd"] = common.call_sampler(
        lambda: kernel_forward(inputs.x_np))
  if kernel_gradient:
    samplers["kernel_bwd"] = common.call_sampler(
        lambda: kernel_gradient(inputs.x_np, inputs.dy_np))
  return samplers


class Inputs:
  """One size's inputs: x uniform on INPUT_RANGE, dy = 1, as TF and numpy."""

  def __init__(self, size):
    self.size = size
    rng = np.random.default_rng(SEED)
    self.x_np = rng.uniform(*INPUT_RANGE, size).astype(np.float32)
    self.dy_np = np.ones(size, np.float32)
    self.x = tf.constant(self.x_np)
    self.dy = tf.constant(self.dy_np)
    self.one = tf.constant(1.0)


def size_samplers(inputs, names, families):
  """{label: {figure: sampler}} for every baseline and name."""
  lib = _library.load_ops()
  rows = {}
  rows[DEEP_COPY] = row_samplers(
      inputs, forward=lambda x, s: tf.raw_ops.DeepCopy(x=x),
      eager_forward=lambda x: tf.raw_ops.DeepCopy(x=x))
  rows[SCALE] = row_samplers(
      inputs, forward=lambda x, s: x * s, eager_forward=lambda x: x * 1.0,
      kernel_forward=lambda x: x * np.float32(1))
  relu_grad = lambda x, dy: tf.raw_ops.ReluGrad(gradients=dy, features=x)
  rows[RELU] = row_samplers(
      inputs, forward=lambda x, s: tf.nn.relu(x), gradient=relu_grad,
      tape_forward=tf.nn.relu, eager_forward=tf.nn.relu,
      eager_gradient=lambda dy, x: relu_grad(x, dy))
  for fam in sorted(set(families.values()) & set(MODERN)):
    rows[TF_FUNCTION[fam]] = row_samplers(
        inputs, forward=lambda x, s, f=TF_MODERN[fam]: f(x),
        tape_forward=TF_MODERN[fam], eager_forward=TF_MODERN[fam],
        single_op=False)
    if fam == "gelu":
      tanh_form = lambda x: tf.nn.gelu(x, approximate=True)
      rows[GELU_TANH] = row_samplers(
          inputs, forward=lambda x, s: tanh_form(x), tape_forward=tanh_form,
          eager_forward=tanh_form, single_op=False)
  for fam in sorted(set(families.values()) & set(PAPER_FAMILIES)):
    tf_fn = {"tanh": tf.tanh, "sigmoid": tf.sigmoid}[fam]
    tf_grad = {"tanh": tf.raw_ops.TanhGrad,
               "sigmoid": tf.raw_ops.SigmoidGrad}[fam]
    rows[TF_FUNCTION[fam]] = row_samplers(
        inputs, forward=lambda x, s, f=tf_fn: f(x),
        gradient=lambda y, dy, g=tf_grad: g(y=y, dy=dy),
        gradient_input=tf_fn, tape_forward=tf_fn, eager_forward=tf_fn,
        eager_gradient=lambda dy, y, g=tf_grad: g(y=y, dy=dy))
  for name in names:
    spec = tf_approx.activations.spec(name)
    attrs = spec.attrs()
    fn = tf_approx.activations.get(name)
    nspec = native_spec(name)
    grad = lambda x, dy, a=attrs: lib.tf_approx_activation_grad(dy, x, **a)
    rows[name] = row_samplers(
        inputs, forward=lambda x, s, f=fn: f(x), gradient=grad,
        tape_forward=fn, eager_forward=fn,
        eager_gradient=lambda dy, x, g=grad: g(x, dy),
        kernel_forward=lambda x, s=nspec: _native.forward(s, x),
        kernel_gradient=lambda x, dy, s=nspec: _native.gradient(s, x, dy))
    # The composite has no gradient op of its own: autodiff's ops only run
    # inside the tape step.
    twin = lambda x, sp=spec: reference.activation(x, sp)
    rows[name + COMPOSITE] = row_samplers(
        inputs, forward=lambda x, s, t=twin: t(x), tape_forward=twin,
        eager_forward=twin, single_op=False)
  return rows


def measure_size(size, names, families):
  """{label: {figure: seconds}} for every baseline and name at `size`."""
  inputs = Inputs(size)
  samplers = {"loop": {"overhead": common.loop_overhead_sampler(inputs.x)}}
  samplers.update(size_samplers(inputs, names, families))
  flat = {(label, figure): sampler for label, row in samplers.items()
          for figure, sampler in row.items()}
  common.progress(f"  measuring {len(flat)} figures")
  rows = {label: {} for label in samplers}
  for (label, figure), seconds in common.interleaved_medians(flat).items():
    rows[label][figure] = seconds
  return rows


def run_child():
  common.configure_child_threads()
  names = selected_names()
  families = {name: family(name) for name in names}
  results = {"isa": _native.selected_isa(), "families": families,
             "threads": FLAGS.child_threads, "sizes": {},
             "loop_overhead": {}}
  for size in common.sizes():
    common.progress(f"threads={FLAGS.child_threads} size={size}")
    rows = measure_size(size, names, families)
    results["loop_overhead"][str(size)] = rows.pop("loop")["overhead"]
    results["sizes"][str(size)] = rows
  common.write_child_results(results)


# ------------------------------------------------------------- parent side


def baselines(rows, name, fam):
  base = {"tf": rows[TF_FUNCTION[fam]], "relu": rows[RELU],
          "floor": rows[FLOOR], "deep_copy": rows[DEEP_COPY],
          "composite": rows[name + COMPOSITE]}
  if fam == "gelu":
    base["tf_tanh_form"] = rows[GELU_TANH]
  return base


def main_table(rows, families, markdown):
  """The op | forward | backward | forward+backward table at one size."""
  headers = ["op", "fwd µs", "x tf fn", "x relu", "x copy", "bwd µs",
             "x tf grad", "x ReluGrad", "fwd+bwd µs", "x tf fn",
             "x composite"]
  us, ratio, speedup = common.format_us, common.format_ratio, common.speedup

  def cells(label, row, base, composite=None):
    return [
        label, us(row.get("fwd")),
        ratio(speedup(base["tf"]["fwd"], row.get("fwd"))),
        ratio(speedup(base["relu"]["fwd"], row.get("fwd"))),
        ratio(speedup(base["floor"]["fwd"], row.get("fwd"))),
        us(row.get("bwd")),
        ratio(speedup(base["tf"].get("bwd"), row.get("bwd"))),
        ratio(speedup(base["relu"]["bwd"], row.get("bwd"))),
        us(row.get("fwd_bwd")),
        ratio(speedup(base["tf"]["fwd_bwd"], row.get("fwd_bwd"))),
        ratio(composite and speedup(composite["fwd_bwd"],
                                    row.get("fwd_bwd")))]

  table = []
  for label in BASELINES:
    if label in rows:
      row = rows[label]
      table.append([label, us(row.get("fwd")), "-", "-", "-",
                    us(row.get("bwd")), "-", "-", us(row.get("fwd_bwd")),
                    "-", "-"])
  for name, fam in families.items():
    base = baselines(rows, name, fam)
    table.append(cells(f"{name} (vs {TF_FUNCTION[fam]})", rows[name], base,
                       base["composite"]))
    table.append(cells(COMPOSITE.strip() if markdown else COMPOSITE,
                       base["composite"], base))
  return common.format_table(headers, table, markdown)


def context_table(rows, families, markdown):
  """Eager per-call and TF-free kernel times at one size."""
  headers = ["op", "eager fwd µs", "eager bwd µs", "kernel fwd µs",
             "kernel bwd µs"]
  labels = {label: label for label in BASELINES if label in rows}
  for name in families:
    labels[name] = name
    labels[name + COMPOSITE] = f"{name} composite twin"
  table = [[shown, *(common.format_us(rows[label].get(figure)) for figure in
                     ("eager_fwd", "eager_bwd", "kernel_fwd", "kernel_bwd"))]
           for label, shown in labels.items()]
  return common.format_table(headers, table, markdown)


def target_table(results, markdown):
  """PASS/MISS per target, thread count and name."""
  headers = ["target", "size", "threads", "name", "measured", "result"]
  table = []
  for size, what, value_of, passes, *scope in TARGETS:
    applies_to = scope[0] if scope else PAPER_FAMILIES
    threads = scope[1] if len(scope) > 1 else None
    for result in results:
      if threads is not None and result["intra_op_threads"] != threads:
        continue
      rows = result["sizes"].get(str(size))
      for name, fam in result["families"].items():
        if fam not in applies_to:
          continue
        cells = [what.format(tf_fn=TF_FUNCTION[fam],
                             tf_grad=TF_GRADIENT_OP.get(fam)),
                 common.size_label(size), str(result["intra_op_threads"]),
                 name]
        if rows is None:
          table.append(cells + ["-", "not measured"])
          continue
        value = value_of(rows[name], baselines(rows, name, fam))
        table.append(cells + [f"{value:.2f}x",
                              "PASS" if passes(value) else "MISS"])
  return common.format_table(headers, table, markdown)


def notes(first, machine):
  """What was measured, where and how: the lines above the tables."""
  command = shlex.join(["python", "benchmarks/activations.py",
                        *sys.argv[1:]])
  return [
      f"command: `{command}`",
      *machine,
      f"kernel ISA: {first['isa']}; TensorFlow {first['tf_version']}; "
      f"TF_ENABLE_ONEDNN_OPTS={common.onednn_setting()}",
      f"float32 inputs uniform on [{INPUT_RANGE[0]:g}, {INPUT_RANGE[1]:g}]; "
      f"median of {common.repeats()} measurements of >= "
      f"{common.min_time_s() * 1e3:g} ms each, after warm-up",
      "ratios (x ...) are baseline time / tf_approx time: above 1.00x "
      "tf_approx is faster",
      "fwd, bwd, fwd+bwd: µs per op in a tf.function graph, timed as a "
      "tf.while_loop feeding each op's output to its next application "
      "(benchmarks/common.py); Grappler's arithmetic optimizer is off for "
      "single-op chains (it would fuse repeated tanh/relu into one pass), on "
      "for the composite twin",
      "bwd: the gradient op alone, dy = 1: TfApprox>ActivationGrad(dy, x), "
      "TanhGrad/SigmoidGrad(y, dy), ReluGrad(dy, x); fwd+bwd: one "
      "GradientTape step, forward plus its gradient (autodiff's ops for the "
      "composite twin)",
      "x tf fn, x tf grad: vs tf.tanh/TanhGrad or tf.sigmoid/SigmoidGrad, "
      "as named in the op column; x copy: vs `x * s` (s a runtime scalar 1), "
      "which like tf_approx's op reads and writes every element once, in "
      "place when TF can forward the buffer; DeepCopy always writes a fresh "
      "buffer",
      "eager: µs per call from Python (tf_approx.activations.get(name)(x), "
      "the raw gradient op); kernel: tf_approx._native on numpy arrays, one "
      "thread, no TensorFlow, including allocating the result (for x * s: "
      "numpy's multiply, which allocates the same way)",
  ]


def report(results, machine, markdown):
  """The whole printed report: notes, per-size tables, targets."""
  return common.report(
      "tf_approx activations benchmark", notes(results[0], machine), results,
      lambda result, size: [
          main_table(result["sizes"][str(size)], result["families"], markdown),
          context_table(result["sizes"][str(size)], result["families"],
                        markdown)],
      target_table(results, markdown), markdown, unit="op")


def main(argv):
  del argv
  if common.is_child():
    run_child()
    return
  machine = [common.machine_description(), common.load_average("start")]
  child_args = [f"--sizes={','.join(str(s) for s in common.sizes())}",
                f"--names={','.join(selected_names())}"]
  if FLAGS.quick:
    child_args.append("--quick")
  results = common.run_children(__file__, child_args)
  print(report(results, machine, FLAGS.markdown))


if __name__ == "__main__":
  app.run(main)
