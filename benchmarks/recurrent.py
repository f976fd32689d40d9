"""Speed of the recurrent layers on the CharRNN training step.

The step is the approximation paper's CharRNN (`examples/workloads.py`):
Embedding(32) over a 100-character vocabulary, two recurrent layers of 128
units returning sequences, Dense(100) on logits; batch 50 windows of 50
characters, random tokens from a fixed seed. One `tf.function` runs the model
under a GradientTape (sparse cross-entropy on the logits) and applies Adam;
no `fit`, whose own per-step overhead would blur the layers' differences.
Each intra-op thread count runs in its own child process, with as many
inter-op threads (as Keras trains on a machine of that many cores).

Rows, with the recurrent layers swapped:

* `keras.layers.LSTM`, exact tanh/sigmoid: the baseline of the ratios;
* a layer on `tf.raw_ops.BlockLSTMV2`, TensorFlow's own fused CPU kernel
  (time-major input, weights in its layout, backward through its registered
  gradient `BlockLSTMGradV2`);
* `tf_approx.layers.LSTM` with exact tanh/sigmoid and with the safe picks
  (activation tanh_pade_4_4, recurrent_activation sigm_fastexp_512);
* `keras.layers.LSTM` with the safe picks, for comparison;
* the matmul floor: the same model's matmuls alone, with their gradients and
  Adam on the same weights (see `FloorRecurrent`), and below it those
  matmuls as independent MatMul ops and nothing else (`step_matmuls`), which
  shows what the floor's own glue (bias adds, slices, embedding, loss, Adam)
  costs;
* the same for GRU(128) (`keras.layers.GRU`, `tf_approx.layers.GRU`, a floor
  with three gates);
* LSTM(512) at batch 128, Keras against tf_approx (exact), to show how the
  overhead shrinks next to larger matmuls (--scaling=false skips it).

A tf_approx layer this checkout lacks is reported as "not available", never
timed in some other form. Every figure is the median over --steps steps
after --warmup untimed ones, the steps of all rows taken in rounds (one step
of each row per round) so that a slow spell of a shared machine lands on one
step of every row rather than on every step of one.

Targets (issue H): the fused LSTM with exact tanh/sigmoid <= 0.65x Keras'
LSTM (1 and 2 threads) and <= 1.3x the matmul floor; the fused LSTM with the
safe picks not slower than with exact functions (the ratio is reported);
the fused GRU <= 0.65x Keras' GRU.

    python benchmarks/recurrent.py                  # the full run
    python benchmarks/recurrent.py --markdown       # for BENCHMARKS.md
    python benchmarks/recurrent.py --quick --threads=1

The script imports the installed tf_approx (its own folder, not the
checkout, is first on sys.path); the report names the one it timed. To time
a checkout's package instead, put the checkout first: `PYTHONPATH=. python
benchmarks/recurrent.py`.
"""

import shlex
import statistics
import sys
import time
from pathlib import Path

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

import common  # pylint: disable=g-bad-import-order
import tf_approx

flags.DEFINE_integer("batch", 50, "Windows per CharRNN step.", lower_bound=1)
flags.DEFINE_integer("chars", 50, "Characters per window (time steps).",
                     lower_bound=1)
flags.DEFINE_integer("units", 128, "Units of each recurrent layer.",
                     lower_bound=1)
flags.DEFINE_integer("steps", 30, "Timed steps per row; the median is "
                     "reported.", lower_bound=1)
flags.DEFINE_integer("warmup", 3, "Untimed steps per row before timing "
                     "(the first one traces).", lower_bound=1)
flags.DEFINE_bool("scaling", True, "Also time the LSTM(--scaling_units) "
                  "model at batch --scaling_batch.")
flags.DEFINE_integer("scaling_units", 512, "Units of the scaling case.",
                     lower_bound=1)
flags.DEFINE_integer("scaling_batch", 128, "Batch of the scaling case.",
                     lower_bound=1)
flags.DEFINE_integer("scaling_steps", 10, "Timed steps per row of the "
                     "scaling case.", lower_bound=1)

FLAGS = flags.FLAGS

QUICK_STEPS = 3
QUICK_WARMUP = 1
SEED = 0
VOCABULARY = 100
EMBEDDING = 32
LEARNING_RATE = 3e-3

EXACT = ("tanh", "sigmoid")
SAFE = ("tanh_pade_4_4", "sigm_fastexp_512")

# Row labels.
KERAS_LSTM = "keras.layers.LSTM"
KERAS_LSTM_SAFE = "keras.layers.LSTM, safe picks"
BLOCK_LSTM = "tf.raw_ops.BlockLSTMV2 layer"
FUSED_LSTM = "tf_approx.layers.LSTM"
FUSED_LSTM_SAFE = "tf_approx.layers.LSTM, safe picks"
KERAS_GRU = "keras.layers.GRU"
KERAS_GRU_SAFE = "keras.layers.GRU, safe picks"
FUSED_GRU = "tf_approx.layers.GRU"
FUSED_GRU_SAFE = "tf_approx.layers.GRU, safe picks"
FLOOR = "matmul floor"
MATMULS = "  its matmuls alone"

# Cases: (key, title, baseline row).
LSTM_CASE = "lstm"
GRU_CASE = "gru"
SCALING_CASE = "lstm_scaling"


def steps(case=None):
  if FLAGS.quick:
    return QUICK_STEPS
  return FLAGS.scaling_steps if case == SCALING_CASE else FLAGS.steps


def warmup():
  return QUICK_WARMUP if FLAGS.quick else FLAGS.warmup


def fused_class(name):
  """tf_approx.layers.<name>, or None where this checkout has none."""
  return getattr(tf_approx.layers, name, None)


# ------------------------------------------------------------------ layers


class BlockLSTM(keras.layers.Layer):
  """An LSTM layer on `tf.raw_ops.BlockLSTMV2`, TensorFlow's fused kernel.

  Input and output are time-major, [time, batch, features] and [time, batch,
  units]; the initial state is zero. The weights are in the op's layout: one
  kernel [features + units, 4 units] for [x, h] with the gates in its order
  (i, c, f, o), and a bias [4 units]; no peepholes, no cell clipping. The
  gradient is TensorFlow's registered one (BlockLSTMGradV2).
  """

  def __init__(self, units, **kwargs):
    super().__init__(**kwargs)
    self.units = units

  def build(self, input_shape):
    self.kernel = self.add_weight(
        shape=(input_shape[-1] + self.units, 4 * self.units),
        initializer="glorot_uniform", name="kernel")
    self.bias = self.add_weight(shape=(4 * self.units,), initializer="zeros",
                                name="bias")

  def call(self, x):
    batch = tf.shape(x)[1]
    zeros = tf.zeros([batch, self.units], x.dtype)
    no_peephole = tf.zeros([self.units], x.dtype)
    outputs = tf.raw_ops.BlockLSTMV2(
        seq_len_max=tf.cast(tf.shape(x)[0], tf.int64), x=x, cs_prev=zeros,
        h_prev=zeros, w=self.kernel, wci=no_peephole, wcf=no_peephole,
        wco=no_peephole, b=self.bias, cell_clip=0.0, use_peephole=False)
    return outputs[-1]  # h of every step


class FloorRecurrent(keras.layers.Layer):
  """A recurrent layer's matmuls alone: the floor of any implementation.

  With the same weights as the layer (kernel [features, gates * units],
  recurrent kernel [units, gates * units], bias), it runs the input
  projection of all steps as one matmul P = X W + b, and the recurrent
  products of all steps as one [time * batch, units] x [units, gates * units]
  matmul Z = H W_h: the same FLOPs as the per-step products, in larger and
  so faster matmuls, which makes this floor a little lower than a per-step
  recurrence could reach. There are no gates and no cell: H is P's first
  `units` columns and the output Z's.

  Its gradient (`tf.custom_gradient`) is the four matmuls a recurrent
  layer's backward needs, dX = dZ W^T, dW = X^T dZ, dH = dZ W_h^T,
  dW_h = H^T dZ, plus db = the sum of dZ over rows, with dZ the upstream
  gradient tiled to the gates' width (one write of [time * batch, gates *
  units], as any backward writes the gates' gradient). Autodiff of the
  slices would instead zero-fill and copy that width twice (StridedSliceGrad,
  ~15% of the floor on one thread here), work no recurrent layer needs. dH
  has no consumer (in a real layer it flows into the previous step's dZ),
  so 2^-100 times its sum is added to db to keep it from being pruned.
  `recurrent_bias`: a second bias on Z, as Keras' GRU has
  (reset_after=True), so that Adam updates as many weights.
  """

  def __init__(self, units, gates, recurrent_bias=False, **kwargs):
    super().__init__(**kwargs)
    self.units, self.gates = units, gates
    self.has_recurrent_bias = recurrent_bias

  def build(self, input_shape):
    width = self.gates * self.units
    self.kernel = self.add_weight(shape=(input_shape[-1], width),
                                  initializer="glorot_uniform", name="kernel")
    self.recurrent_kernel = self.add_weight(
        shape=(self.units, width), initializer="orthogonal",
        name="recurrent_kernel")
    self.bias = self.add_weight(shape=(width,), initializer="zeros",
                                name="bias")
    self.recurrent_bias = None
    if self.has_recurrent_bias:
      self.recurrent_bias = self.add_weight(
          shape=(width,), initializer="zeros", name="recurrent_bias")

  def call(self, x):
    batch, time_steps = tf.shape(x)[0], tf.shape(x)[1]
    flat = tf.reshape(x, [-1, x.shape[-1]])
    weights = [tf.convert_to_tensor(w) for w in (
        self.kernel, self.recurrent_kernel, self.bias, self.recurrent_bias)
               if w is not None]
    y = self._matmuls(flat, *weights)
    return tf.reshape(y, [batch, time_steps, self.units])

  @tf.custom_gradient
  def _matmuls(self, x, kernel, recurrent_kernel, bias, *recurrent_bias):
    units = self.units
    h = (tf.matmul(x, kernel) + bias)[:, :units]
    z = tf.matmul(h, recurrent_kernel)
    if recurrent_bias:
      z += recurrent_bias[0]

    def grad(dy):
      dz = tf.tile(dy, [1, self.gates])
      dh = tf.matmul(dz, recurrent_kernel, transpose_b=True)
      db = (tf.reduce_sum(dz, 0) +
            common.FOLD_SCALE * tf.reduce_sum(dh))
      return (tf.matmul(dz, kernel, transpose_b=True),
              tf.matmul(x, dz, transpose_a=True),
              tf.matmul(h, dz, transpose_a=True), db,
              *([db] if recurrent_bias else []))

    return z[:, :units], grad


class CharRNN(keras.Model):
  """Embedding, two recurrent layers from `make_layer`, Dense(VOCABULARY).

  `time_major`: the recurrent layers take and return [time, batch, ...];
  the model transposes once before the first and once after the second.
  """

  def __init__(self, make_layer, time_major=False):
    super().__init__()
    self.embedding = keras.layers.Embedding(VOCABULARY, EMBEDDING)
    self.recurrent = [make_layer(), make_layer()]
    self.dense = keras.layers.Dense(VOCABULARY)
    self.time_major = time_major

  def call(self, tokens):
    x = self.embedding(tokens)
    if self.time_major:
      x = tf.transpose(x, [1, 0, 2])
    for layer in self.recurrent:
      x = layer(x)
    if self.time_major:
      x = tf.transpose(x, [1, 0, 2])
    return self.dense(x)


def keras_layer(cls, units, activations):
  return lambda: cls(units, activation=activations[0],
                     recurrent_activation=activations[1],
                     return_sequences=True)


def case_rows(case, units):
  """{label: (make_layer or None, time_major)} of one case; None: the class
  is missing from this checkout ("not available")."""
  if case == GRU_CASE:
    fused = fused_class("GRU")
    return {
        KERAS_GRU: (keras_layer(keras.layers.GRU, units, EXACT), False),
        FUSED_GRU: (fused and keras_layer(fused, units, EXACT), False),
        FUSED_GRU_SAFE: (fused and keras_layer(fused, units, SAFE), False),
        KERAS_GRU_SAFE: (keras_layer(keras.layers.GRU, units, SAFE), False),
        FLOOR: (lambda: FloorRecurrent(units, 3, recurrent_bias=True),
                False),
    }
  fused = fused_class("LSTM")
  if case == SCALING_CASE:
    return {
        KERAS_LSTM: (keras_layer(keras.layers.LSTM, units, EXACT), False),
        FUSED_LSTM: (fused and keras_layer(fused, units, EXACT), False),
        FLOOR: (lambda: FloorRecurrent(units, 4), False),
    }
  return {
      KERAS_LSTM: (keras_layer(keras.layers.LSTM, units, EXACT), False),
      BLOCK_LSTM: (lambda: BlockLSTM(units), True),
      FUSED_LSTM: (fused and keras_layer(fused, units, EXACT), False),
      FUSED_LSTM_SAFE: (fused and keras_layer(fused, units, SAFE), False),
      KERAS_LSTM_SAFE: (keras_layer(keras.layers.LSTM, units, SAFE), False),
      FLOOR: (lambda: FloorRecurrent(units, 4), False),
  }


def cases():
  """(key, title, units, batch) of every case this run measures."""
  chars = FLAGS.chars
  result = [
      (LSTM_CASE, f"CharRNN, 2 x LSTM({FLAGS.units}), batch {FLAGS.batch}, "
       f"{chars} characters", FLAGS.units, FLAGS.batch),
      (GRU_CASE, f"CharRNN, 2 x GRU({FLAGS.units}), batch {FLAGS.batch}, "
       f"{chars} characters", FLAGS.units, FLAGS.batch)]
  if FLAGS.scaling:
    result.append((SCALING_CASE, f"2 x LSTM({FLAGS.scaling_units}), batch "
                   f"{FLAGS.scaling_batch}, {chars} characters",
                   FLAGS.scaling_units, FLAGS.scaling_batch))
  return result


BASELINES = {LSTM_CASE: KERAS_LSTM, GRU_CASE: KERAS_GRU,
             SCALING_CASE: KERAS_LSTM}


def gates_of(case):
  return 3 if case == GRU_CASE else 4


def step_matmuls(units, gates, batch):
  """The shapes ([m, k], [k, n]) of one step's matmuls, forward and backward.

  Per recurrent layer (features d, N = batch * characters rows, G = gates *
  units): the input projection [N, d] x [d, G] and the recurrent products
  [N, units] x [units, G], each with its two gradients (for the input and for
  the weight); the Dense [N, units] x [units, VOCABULARY] likewise.
  """
  rows = batch * FLAGS.chars
  width = gates * units
  shapes = []
  for features in (EMBEDDING, units):
    for inner in (features, units):
      shapes += [((rows, inner), (inner, width)),   # forward
                 ((rows, width), (width, inner)),   # d input
                 ((inner, rows), (rows, width))]    # d weight
  shapes += [((rows, units), (units, VOCABULARY)),
             ((rows, VOCABULARY), (VOCABULARY, units)),
             ((units, rows), (rows, VOCABULARY))]
  return shapes


def matmul_flops(units, gates, batch):
  return sum(2 * a[0] * a[1] * b[1]
             for a, b in step_matmuls(units, gates, batch))


# -------------------------------------------------------------- child side


def training_step(model):
  """A tf.function `(tokens, targets) -> loss` that also applies Adam."""
  optimizer = keras.optimizers.Adam(LEARNING_RATE)
  loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

  @tf.function(jit_compile=False)
  def step(tokens, targets):
    with tf.GradientTape() as tape:
      loss = loss_fn(targets, model(tokens, training=True))
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  return step


def matmuls_sampler(units, gates, batch):
  """Seconds of one step's matmuls (`step_matmuls`) alone, one tf.function
  of independent MatMuls on fixed random operands: the floor's matmul share,
  without its bias adds, slices, embedding, loss and Adam."""
  rng = np.random.default_rng(SEED)
  operands = [tf.constant(rng.normal(size=shape).astype(np.float32))
              for pair in step_matmuls(units, gates, batch) for shape in pair]

  @tf.function(jit_compile=False)
  def run(*operands):
    # One element of each product is returned, so none is pruned.
    return tf.stack([tf.matmul(a, b)[0, 0]
                     for a, b in zip(operands[::2], operands[1::2])])

  for _ in range(warmup()):
    run(*operands).numpy()

  def sample():
    start = time.perf_counter()
    run(*operands).numpy()
    return time.perf_counter() - start

  return sample


def step_sampler(step, tokens, targets):
  """Seconds of one step (the loss read back, so that it has finished)."""

  def sample():
    start = time.perf_counter()
    step(tokens, targets).numpy()
    return time.perf_counter() - start

  return sample


def measure_case(case, units, batch):
  """{label: [seconds]} of the available rows, {label: parameter count}."""
  rng = np.random.default_rng(SEED)
  text = rng.integers(0, VOCABULARY, (batch, FLAGS.chars + 1), np.int32)
  tokens, targets = tf.constant(text[:, :-1]), tf.constant(text[:, 1:])
  samplers, params = {}, {}
  for label, (make_layer, time_major) in case_rows(case, units).items():
    if make_layer is None:
      continue
    keras.utils.set_random_seed(SEED)
    model = CharRNN(make_layer, time_major)
    step = training_step(model)
    common.progress(f"  warming up {label}")
    for _ in range(warmup()):
      step(tokens, targets).numpy()
    samplers[label] = step_sampler(step, tokens, targets)
    params[label] = model.count_params()
  samplers[MATMULS] = matmuls_sampler(units, gates_of(case), batch)
  common.progress(f"  measuring {len(samplers)} rows, {steps(case)} steps "
                  "each")
  samples = {label: [] for label in samplers}
  for _ in range(steps(case)):
    for label, sample in samplers.items():
      samples[label].append(sample())
  return samples, params


def run_child():
  # Intra- and inter-op threads both N, as Keras trains on N cores: the
  # independent ops of a step (a matmul's two gradients) may overlap.
  tf.config.threading.set_intra_op_parallelism_threads(FLAGS.child_threads)
  tf.config.threading.set_inter_op_parallelism_threads(FLAGS.child_threads)
  results = {"isa": tf_approx.selected_isa(), "cases": {}, "params": {},
             "tf_approx": str(Path(tf_approx.__file__).parent)}
  for case, _, units, batch in cases():
    common.progress(f"threads={FLAGS.child_threads} {case}")
    samples, params = measure_case(case, units, batch)
    results["cases"][case] = samples
    results["params"][case] = params
  common.write_child_results(results)


# ------------------------------------------------------------- parent side


def medians(result, case):
  """{label: median seconds} of one case, or None if it was not run."""
  samples = result["cases"].get(case)
  if samples is None:
    return None
  return {label: statistics.median(v) for label, v in samples.items()}


def case_table(result, case, units, batch, markdown):
  samples = result["cases"][case]
  middle = medians(result, case)
  baseline = BASELINES[case]
  floor = middle.get(FLOOR)
  headers = ["layer", "ms per step (median)", "ms (fastest)",
             f"÷ {baseline}", "÷ floor", "params"]
  table = []
  for label in [*case_rows(case, units), MATMULS]:
    shown = label.strip() if markdown else label
    if label not in samples:
      table.append([shown, "not available", "-", "-", "-", "-"])
      continue
    seconds = middle[label]
    table.append([
        shown, f"{seconds * 1e3:.1f}", f"{min(samples[label]) * 1e3:.1f}",
        f"{seconds / middle[baseline]:.3f}",
        "-" if floor is None else f"{seconds / floor:.3f}",
        f"{result['params'][case].get(label, 0):,}" if label != MATMULS
        else "-"])
  flops = matmul_flops(units, gates_of(case), batch)
  note = (f"matmul FLOPs per step (forward and backward): "
          f"{flops / 1e9:.3g} G, {len(step_matmuls(units, 1, batch))} "
          f"matmuls; alone they run at {flops / middle[MATMULS] / 1e9:.3g} "
          f"GFLOPS")
  return common.format_table(headers, table, markdown), note


# (what, case, numerator, denominator, goal): each a time ratio <= goal.
TARGETS = (
    ("fused LSTM (exact) time / Keras LSTM time <= 0.65", LSTM_CASE,
     FUSED_LSTM, KERAS_LSTM, 0.65),
    ("fused LSTM (exact) time / matmul floor <= 1.3", LSTM_CASE, FUSED_LSTM,
     FLOOR, 1.3),
    ("fused LSTM safe picks time / fused LSTM exact time <= 1.0", LSTM_CASE,
     FUSED_LSTM_SAFE, FUSED_LSTM, 1.0),
    ("fused GRU (exact) time / Keras GRU time <= 0.65", GRU_CASE, FUSED_GRU,
     KERAS_GRU, 0.65),
)


def target_table(results, markdown):
  """PASS/MISS per target and thread count; "not available" where a row
  could not be measured (its tf_approx class is missing)."""
  headers = ["target", "threads", "measured", "result"]
  table = []
  for what, case, numerator, denominator, goal in TARGETS:
    for result in results:
      cells = [what, str(result["intra_op_threads"])]
      rows = medians(result, case)
      if rows is None:
        table.append(cells + ["-", "not measured"])
        continue
      # A row is missing only where its tf_approx class is: name the class.
      missing = sorted({label.split(",")[0] for label in
                        (numerator, denominator) if label not in rows})
      if missing:
        table.append(cells + ["-", f"not available ({', '.join(missing)} "
                              "missing)"])
        continue
      value = rows[numerator] / rows[denominator]
      table.append(cells + [f"{value:.3f}x",
                            "PASS" if value <= goal else "MISS"])
  return common.format_table(headers, table, markdown)


def notes(first, machine):
  command = shlex.join(["python", "benchmarks/recurrent.py", *sys.argv[1:]])
  missing = [name for name in ("LSTM", "GRU") if fused_class(name) is None]
  lines = [
      f"command: `{command}`",
      *machine,
      f"tf_approx: {first['tf_approx']}",
      f"kernel ISA: {first['isa']}; TensorFlow {first['tf_version']}, "
      f"Keras {keras.__version__}; "
      f"TF_ENABLE_ONEDNN_OPTS={common.onednn_setting()}",
      f"one training step: Embedding({EMBEDDING}) over {VOCABULARY} "
      f"characters, two recurrent layers (return_sequences), "
      f"Dense({VOCABULARY}); random tokens (seed {SEED}); one tf.function "
      f"running the model under a GradientTape (sparse cross-entropy on "
      f"logits) and applying Adam; not `fit`",
      f"median of {steps()} steps ({steps(SCALING_CASE)} for the scaling "
      f"case) after {warmup()} untimed ones, the rows' steps taken in "
      f"rounds; intra-op and inter-op threads both as shown",
      f"safe picks: activation {SAFE[0]}, recurrent_activation {SAFE[1]}; "
      f"other rows exact {EXACT[0]}/{EXACT[1]}",
      "BlockLSTMV2 layer: time-major (the model transposes once each way), "
      "zero initial state, no peepholes or cell clipping, gradient "
      "BlockLSTMGradV2",
      "matmul floor: the same model and step with each recurrent layer "
      "reduced to its matmuls: the input projection of all steps as one "
      "matmul, the recurrent products h W_h of all steps batched into one "
      "[time*batch, units] x [units, gates*units] matmul (the FLOPs of the "
      "per-step products in larger, faster matmuls, so a slightly lower "
      "floor), their gradients as the four matmuls of a recurrent backward "
      "(custom gradient, the upstream gradient tiled to the gates' width), "
      "plus bias adds, slices, the embedding, Dense, loss and Adam; 'its "
      "matmuls alone': the same matmuls, forward and backward, as "
      "independent MatMul ops and nothing else",
      "÷ columns: this row's median / the baseline's (below 1 is faster)",
  ]
  if missing:
    lines.append("not available: tf_approx.layers." +
                 ", tf_approx.layers.".join(missing) +
                 " (not in this checkout); its rows and targets are left "
                 "unmeasured")
  return lines


def report(results, machine, markdown):
  bullet = "- " if markdown else ""
  lines = [common.heading("tf_approx recurrent layers benchmark", 1,
                          markdown), ""]
  lines += [bullet + line for line in notes(results[0], machine)]
  for result in results:
    threads = result["intra_op_threads"]
    for case, title, units, batch in cases():
      table, note = case_table(result, case, units, batch, markdown)
      lines += ["", common.heading(f"{title}, {threads} thread(s)", 2,
                                   markdown), "", table, "", bullet + note]
    lines += ["", bullet + common.interference(result)]
  lines += ["", common.heading("Targets", 2, markdown), "",
            target_table(results, markdown), "",
            bullet + common.load_average("end")]
  return "\n".join(lines)


def main(argv):
  del argv
  if common.is_child():
    run_child()
    return
  machine = [common.machine_description(), common.load_average("start")]
  child_args = [
      f"--batch={FLAGS.batch}", f"--chars={FLAGS.chars}",
      f"--units={FLAGS.units}", f"--steps={FLAGS.steps}",
      f"--warmup={FLAGS.warmup}", f"--scaling={FLAGS.scaling}",
      f"--scaling_units={FLAGS.scaling_units}",
      f"--scaling_batch={FLAGS.scaling_batch}",
      f"--scaling_steps={FLAGS.scaling_steps}"]
  if FLAGS.quick:
    child_args.append("--quick")
  results = common.run_children(__file__, child_args)
  print(report(results, machine, FLAGS.markdown))


if __name__ == "__main__":
  app.run(main)
