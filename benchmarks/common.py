"""Timing, process and table helpers shared by the benchmarks in this folder.

Every family benchmark measures the same way:

* One child process per intra-op thread count. TensorFlow fixes its thread
  pools when its runtime starts, so the parent re-runs its own script with
  `--child_threads=N --child_output=FILE`; the child sets intra-op threads to
  N and inter-op threads to 1 before running any op, measures, and writes its
  results to FILE as JSON. The parent never runs a TensorFlow op.
* Graph time per op (`graph_sampler`): a `tf.function` whose
  `tf.while_loop` applies a step `unroll` times per iteration, each
  application's output being the next one's input. The chain means nothing
  can be pruned, hoisted out of the loop or merged by common-subexpression
  elimination, and the loop runs `n` iterations, a tensor argument, so one
  trace serves every `n`. The time of the same call with `n = 0` (function
  call, loop setup), taken just before, is subtracted and the difference
  divided by `n * unroll`, `n` being grown until the difference lasts
  `min_time_s`. The result is what an op costs in a (non-XLA) `tf.function`
  graph: the kernel plus the executor's per-op dispatch, plus `1 / unroll`
  of the loop's per-iteration bookkeeping (`loop_overhead_sampler` measures
  it).
* Eager time per call (`call_sampler`): the op called from Python in a loop,
  dominated at small sizes by Python and eager dispatch.
* Every figure is the median of `repeats` measurements of at least
  `min_time_s` each, after untimed warm-up calls (which also trace), taken
  in rounds across all figures of a size (`interleaved_medians`).

Run a benchmark as a script (`python benchmarks/activations.py`): `common` is
then importable because the script's folder is `sys.path[0]`.
"""

import contextlib
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from absl import flags
import tensorflow as tf

# Shared by every benchmark; each defines its own --sizes and what to measure.
flags.DEFINE_list(
    "threads", ["1", "2"],
    "Intra-op thread counts; each runs in its own child process (inter-op "
    "threads are always 1).")
flags.DEFINE_integer(
    "repeats", 7, "Measurements per figure; the median is reported.")
flags.DEFINE_float(
    "min_time_s", 0.1, "Minimum duration of one measurement, in seconds.")
flags.DEFINE_bool(
    "quick", False,
    "Smoke-test mode: small default sizes, 2 repeats of >= 5 ms. The numbers "
    "are too noisy to quote.")
flags.DEFINE_bool(
    "markdown", False, "Print the report as markdown (for BENCHMARKS.md).")
flags.DEFINE_string(
    "child_output", None,
    "Internal: run as the measuring child and write JSON results here.")
flags.DEFINE_integer(
    "child_threads", None, "Internal: the child's intra-op thread count.")

FLAGS = flags.FLAGS

QUICK_REPEATS = 2
QUICK_MIN_TIME_S = 0.005
QUICK_SIZES = ("4K", "64K")


def repeats():
  return QUICK_REPEATS if FLAGS.quick else FLAGS.repeats


def min_time_s():
  return QUICK_MIN_TIME_S if FLAGS.quick else FLAGS.min_time_s


def parse_size(text):
  """'4096', '64K', '1M' -> elements (K = 1024, M = 1024 ** 2)."""
  text = text.strip().upper()
  scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
  return int(text[:-1] if scale > 1 else text) * scale


def sizes():
  """The sizes to measure: --sizes (each benchmark defines it with its own
  default), or QUICK_SIZES with --quick unless --sizes is given."""
  if FLAGS.quick and not FLAGS["sizes"].present:
    return [parse_size(s) for s in QUICK_SIZES]
  return [parse_size(s) for s in FLAGS.sizes]


def unroll_for(size):
  """Steps per loop iteration at `size` elements: enough that the loop's
  bookkeeping (a few µs) is small against the ops at every size."""
  return max(1, min(16, (1 << 22) // size))


def size_label(n):
  for suffix, scale in (("M", 1 << 20), ("K", 1 << 10)):
    if n % scale == 0:
      return f"{n // scale}{suffix}"
  return str(n)


# ---------------------------------------------------------------- processes


def is_child():
  return FLAGS.child_output is not None


def configure_child_threads():
  """Sets the child's thread pools; must run before TensorFlow's first op."""
  tf.config.threading.set_intra_op_parallelism_threads(FLAGS.child_threads)
  tf.config.threading.set_inter_op_parallelism_threads(1)


def write_child_results(results):
  results = dict(
      results,
      intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
      inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads(),
      tf_version=tf.__version__)
  with open(FLAGS.child_output, "w", encoding="utf-8") as f:
    json.dump(results, f)


def run_children(script, child_args):
  """Runs `script` once per --threads value; returns their JSON results.

  Args:
    script: path of the benchmark script (its `__file__`).
    child_args: flags the child needs besides the shared ones.

  Raises:
    RuntimeError: a child failed; its stderr was passed through.
  """
  shared = [f"--repeats={repeats()}", f"--min_time_s={min_time_s()}"]
  results = []
  for threads in FLAGS.threads:
    with tempfile.TemporaryDirectory() as tmp:
      output = os.path.join(tmp, "results.json")
      command = [sys.executable, script, f"--child_output={output}",
                 f"--child_threads={int(threads)}", *shared, *child_args]
      before = _cpu_seconds()
      # The child's stdout is the parent's stderr: only this report goes to
      # stdout, progress and TensorFlow's logs do not.
      status = subprocess.run(command, stdout=sys.stderr, check=False)
      if status.returncode != 0:
        raise RuntimeError(f"benchmark child for {threads} thread(s) exited "
                           f"with status {status.returncode}: {command}")
      with open(output, encoding="utf-8") as f:
        result = json.load(f)
      result["other_cores"] = _other_cores(before, _cpu_seconds())
      results.append(result)
  return results


def _cpu_seconds():
  """(wall, CPU busy on the whole machine, CPU used by us), in seconds."""
  ours = sum(getattr(resource.getrusage(who), field)
             for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
             for field in ("ru_utime", "ru_stime"))
  try:
    with open("/proc/stat", encoding="utf-8") as f:
      ticks = [int(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: all but idle, iowait.
    busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
  except (OSError, ValueError, IndexError):
    busy = None
  return time.monotonic(), busy, ours


def _other_cores(before, after):
  """Cores that other processes kept busy on average, or None if unknown."""
  if before[1] is None or after[1] is None:
    return None
  other = (after[1] - before[1]) - (after[2] - before[2])
  return max(0.0, other / max(after[0] - before[0], 1e-9))


def interference(result):
  """A line on how busy other processes kept the machine during `result`."""
  cores = result.get("other_cores")
  if cores is None:
    return "CPU used by other processes during this run: unknown"
  return (f"CPU used by other processes during this run: {cores:.2f} "
          f"cores on average (of {os.cpu_count()})")


def progress(message):
  print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------- timing


def call_sampler(fn):
  """A function measuring the seconds per `fn()` call, called from Python.

  Each measurement calls `fn` back to back for at least `min_time_s`.
  """
  fn()
  start = time.perf_counter()
  fn()
  estimate = max(time.perf_counter() - start, 1e-7)
  calls = max(1, math.ceil(min_time_s() / estimate))

  def sample():
    start = time.perf_counter()
    for _ in range(calls):
      fn()
    return (time.perf_counter() - start) / calls

  return sample


def chain_function(step, unroll):
  """A tf.function `(x, aux, n)` applying `x = step(x, aux)` n*unroll times."""

  @tf.function(autograph=False)
  def run(x, aux, n):

    def body(i, x):
      for _ in range(unroll):
        x = step(x, aux)
      return i + 1, x

    _, x = tf.while_loop(lambda i, _: i < n, body, (tf.constant(0), x),
                         parallel_iterations=1)
    return x

  return run


@contextlib.contextmanager
def grappler_options(options):
  """Sets Grappler options (`tf.config.optimizer`) for the calls inside.

  A function is optimised for the options in force when it is called, so
  every call of one that should keep them must be made inside.
  """
  if not options:
    yield
    return
  previous = tf.config.optimizer.get_experimental_options()
  tf.config.optimizer.set_experimental_options(options)
  try:
    yield
  finally:
    # Options never set before were at their default, which is on for those
    # that this module turns off.
    tf.config.optimizer.set_experimental_options(
        {**{key: True for key in options}, **previous})


def graph_sampler(step, x, aux, unroll, grappler=None):
  """A function measuring the seconds per `step` inside a compiled loop.

  Creating it traces, warms up and sizes the loop; each call of it is then
  one measurement of at least `min_time_s`.

  Args:
    step: `(x, aux) -> tensor shaped like x`; its output is its next input,
      so it must map the values it produces back into a range where its
      speed is representative (and never into subnormals).
    x: the first input.
    aux: a second tensor passed to every step (e.g. `dy`); an argument
      rather than a captured constant, so Grappler cannot fold it.
    unroll: steps per loop iteration.
    grappler: Grappler options for this loop, e.g.
      `{"arithmetic_optimization": False}` so that a chain of multiplications
      by a scalar is not folded into one multiplication.
  """
  run = chain_function(step, unroll)
  zero = tf.constant(0)

  def loop_seconds(n):
    with grappler_options(grappler):
      start = time.perf_counter()
      run(x, aux, zero)
      middle = time.perf_counter()
      run(x, aux, n)
      end = time.perf_counter()
    return (end - middle) - (middle - start)

  n = tf.constant(1)
  loop_seconds(n)
  while (elapsed := loop_seconds(n)) < min_time_s():
    growth = min_time_s() / elapsed if elapsed > 0 else 10
    n = tf.constant(int(n) * max(2, min(10, math.ceil(1.2 * growth))))
  return lambda: loop_seconds(n) / (int(n) * unroll)


def loop_overhead_sampler(x):
  """Measures the seconds per iteration of an empty `chain_function` loop."""
  return graph_sampler(lambda x, aux: x, x, x, unroll=1)


def interleaved_samples(samplers):
  """{key: [seconds]}: `repeats()` measurements by each sampler.

  The measurements are taken in rounds, one per sampler per round, so that a
  slow spell of the machine (another process, the host) lands on one
  measurement of many figures rather than on every measurement of one.
  """
  samples = {key: [] for key in samplers}
  for _ in range(repeats()):
    for key, sample in samplers.items():
      samples[key].append(sample())
  return samples


def interleaved_medians(samplers):
  """{key: median seconds} of `interleaved_samples`: taken in rounds, the
  medians, and the ratios between them, shrug off a slow spell."""
  return {key: statistics.median(values)
          for key, values in interleaved_samples(samplers).items()}


def nested_medians(samplers):
  """{label: {figure: median seconds}} for {label: {figure: sampler}}.

  `interleaved_medians` over every figure of every label at once.
  """
  flat = {(label, figure): sampler for label, row in samplers.items()
          for figure, sampler in row.items()}
  progress(f"  measuring {len(flat)} figures")
  rows = {label: {} for label in samplers}
  for (label, figure), seconds in interleaved_medians(flat).items():
    rows[label][figure] = seconds
  return rows


# ------------------------------------------------------------------ machine


def machine_description():
  """The CPU model and how many cores this process may use."""
  model = platform.processor() or "unknown CPU"
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("model name"):
          model = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  usable = len(os.sched_getaffinity(0))
  return f"CPU: {model}; {os.cpu_count()} logical cores, {usable} usable"


def load_average(when):
  """The load average, to show whether other work shared the machine."""
  load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
  return f"load average (1, 5, 15 min) at {when}: {load}"


def onednn_setting():
  # TensorFlow enables oneDNN on x86 Linux unless this says 0.
  return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset (on)")


# ------------------------------------------------------------------- tables


def format_us(seconds):
  """Microseconds with about three significant digits; '-' for None."""
  if seconds is None:
    return "-"
  us = seconds * 1e6
  if us < 10:
    return f"{us:.2f}"
  if us < 1000:
    return f"{us:.1f}"
  return f"{us:,.0f}"


def speedup(baseline, ours):
  """baseline / ours: above 1 means ours is faster."""
  if baseline is None or ours is None or ours <= 0:
    return None
  return baseline / ours


def format_ratio(ratio):
  return "-" if ratio is None else f"{ratio:.2f}x"


def format_table(headers, rows, markdown=False):
  """Rows of strings as an aligned text table or a markdown table.

  The first column is left-aligned, the rest (numbers) right-aligned.
  """
  if markdown:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
  widths = [max(len(str(cell)) for cell in column)
            for column in zip(headers, *rows)]

  def line(cells):
    return "  ".join(
        cell.ljust(width) if i == 0 else cell.rjust(width)
        for i, (cell, width) in enumerate(zip(cells, widths)))

  rule = "  ".join("-" * width for width in widths)
  return "\n".join([line(headers), rule] + [line(row) for row in rows])


def heading(text, level=2, markdown=False):
  if markdown:
    return "#" * level + " " + text
  return text + "\n" + ("=" if level <= 2 else "-") * len(text)


def report(title, notes, results, tables, targets, markdown, unit="op"):
  """The printed report of a benchmark: notes, one section per thread count
  and size, then the targets.

  Args:
    title: the report's heading.
    notes: lines printed (as bullets in markdown) under the heading.
    results: the children's results (`run_children`), each with
      "intra_op_threads", "loop_overhead" and "other_cores".
    tables: `(result, size) -> [table, ...]`; the loop bookkeeping and
      interference lines follow the first table.
    targets: the targets table.
    markdown: print markdown.
    unit: what one loop step applies, for the bookkeeping line.
  """
  bullet = "- " if markdown else ""
  lines = [heading(title, 1, markdown), ""]
  lines += [bullet + line for line in notes]
  for result in results:
    for size in sizes():
      title = (f"{size_label(size)} elements, "
               f"{result['intra_op_threads']} intra-op thread(s)")
      overhead = result["loop_overhead"][str(size)]
      unroll = unroll_for(size)
      loop = (f"{bullet}graph loop bookkeeping: {format_us(overhead)} µs per "
              f"iteration, shared by {unroll} {unit}(s): "
              f"{format_us(overhead / unroll)} µs of each graph figure")
      first, *rest = tables(result, size)
      lines += ["", heading(title, 2, markdown), "", first, "", loop,
                bullet + interference(result)]
      for table in rest:
        lines += ["", table]
  lines += ["", heading("Targets", 2, markdown), "", targets, "",
            bullet + load_average("end")]
  return "\n".join(lines)


# ------------------------------------------------------------------ targets


def row_ratio(rows, numerator, denominator, figure):
  """rows[numerator][figure] / rows[denominator][figure], or None.

  `rows` is {label: {figure: seconds}} (e.g. from `nested_medians`), or
  None when nothing was measured.
  """
  if rows is None:
    return None
  return speedup(rows.get(numerator, {}).get(figure),
                 rows.get(denominator, {}).get(figure))


def ratio_at_size(size, numerator, denominator, figure):
  """`result -> row_ratio` at `size` of a child's result["sizes"], for a
  `Target`."""
  return lambda result: row_ratio(result["sizes"].get(str(size)), numerator,
                                  denominator, figure)


class Target:
  """A performance target: a ratio of two figures and its bound.

  Attributes:
    what: the target as printed.
    where: the size (or shape) it applies to, as printed.
    value: `result -> ratio or None`, from one child's results.
    goal: the bound.
    at_least: whether the ratio must be >= goal (else <= goal).
    threads: the thread counts it applies to (None: all).
  """

  def __init__(self, what, where, value, goal, at_least, threads=None):
    self.what, self.where, self.value = what, where, value
    self.goal, self.at_least, self.threads = goal, at_least, threads

  def met(self, value):
    return value >= self.goal if self.at_least else value <= self.goal

  def factor(self, value):
    """How much faster our op is than needed (>= 1) or must get (> 1)."""
    return value / self.goal if self.at_least else self.goal / value


def target_table(targets, results, markdown):
  """Met / missed, and by how much, per target and thread count."""
  headers = ["target", "size", "threads", "measured", "result"]
  table = []
  for target in targets:
    for result in results:
      threads = result["intra_op_threads"]
      if target.threads is not None and threads not in target.threads:
        continue
      cells = [target.what, target.where, str(threads)]
      value = target.value(result)
      if value is None:
        table.append(cells + ["-", "not measured"])
        continue
      factor = target.factor(value)
      verdict = (f"met, {factor:.2f}x to spare" if target.met(value)
                 else f"MISSED: the op must get {1 / factor:.2f}x faster")
      table.append(cells + [f"{value:.2f}x", verdict])
  return format_table(headers, table, markdown)


# ------------------------------------------------------------ training steps

# Grappler's arithmetic optimizer would rewrite a forward-only chain of one
# op (e.g. fuse runs of unary ops into one pass), which a model applying an
# activation once never sees: the options for such chains.
SINGLE_OP_GRAPPLER = {"arithmetic_optimization": False}

# Scale of the values a training step folds into element 0 of dx.
FOLD_SCALE = 2.0**-100


def add_to_first(t, value):
  """t with the scalar `value` added to its first element, in place."""
  flat = tf.reshape(t, [-1])
  flat = tf.raw_ops.InplaceAdd(x=flat, i=[0], v=tf.reshape(value, [1]))
  return tf.reshape(flat, tf.shape(t))


def training_step(forward, variables=()):
  """A step running `forward` and its gradients, as one training step does.

  Nothing reads y or the variables' gradients, so Grappler would prune
  them; the step folds y[0] and the gradients' sums, times 2^-100, into
  element 0 of dx by `InplaceAdd` (O(1), into dx's buffer). At that scale
  the addition changes no float32 value of a dx far above 1e-14, but
  Grappler cannot know it.

  Args:
    forward: `x -> y`, reading `variables` (as a layer does).
    variables: the variables whose gradients are taken besides x's.

  Returns:
    `(x, dy) -> dx`, for `graph_sampler`: dx is the next step's x.
  """

  def step(x, dy):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = forward(x)
    dx, *dvariables = tape.gradient(y, [x, *variables], output_gradients=dy)
    fold = tf.reshape(y, [-1])[0]
    for gradient in dvariables:
      fold += tf.reduce_sum(gradient)
    return add_to_first(dx, FOLD_SCALE * fold)

  return step


def activation_samplers(forward, x, dy, variables=(), single_op=True):
  """{"fwd": sampler, "fwd_bwd": sampler} of an elementwise activation.

  "fwd" chains `y = forward(x)` (Grappler's arithmetic optimizer off when
  `single_op`); "fwd_bwd" chains `training_step(forward, variables)` with
  the fixed upstream gradient `dy` (Grappler's defaults: a model's training
  step is rewritten too).
  """
  unroll = unroll_for(int(tf.size(x)))
  grappler = SINGLE_OP_GRAPPLER if single_op else None
  return {
      "fwd": graph_sampler(lambda x, unused: forward(x), x, dy, unroll,
                           grappler),
      "fwd_bwd": graph_sampler(training_step(forward, variables), x, dy,
                               unroll),
  }
