r"""A small transformer and an MLP-Mixer, once per MLP activation, compared.

The networks people train now put GELU (or SiLU) in their MLPs, and on the
CPU it is far dearer than tanh. This trainer measures what approximating it
is worth in a training step, on two small workloads:

  char_transformer  a decoder-only transformer over characters: learned
                    token and position embeddings (d_model 128), 2 pre-
                    LayerNorm blocks of causal self-attention (4 heads) and an
                    MLP (Dense(512) with the activation under test, then
                    Dense(128)), a final LayerNorm and Dense over the
                    characters on logits; cross-entropy on every next
                    character of --seq_len-character windows (default 64,
                    batch --batch_size, default 32), Adam(0.001). The text is
                    char_rnn's: the help topics of Python's reference
                    (`pydoc_data.topics`, standard library), or --data_path.
  digits_mixer      an MLP-Mixer on scikit-learn's digits: 2x2 patches of the
                    8x8 images -> 16 tokens of width 64, 4 mixer blocks
                    (pre-LayerNorm token MLP 16 -> 32 -> 16 and channel MLP
                    64 -> 128 -> 64, the activation under test in both), a
                    final LayerNorm, mean over the tokens and Dense(10) on
                    logits; cross-entropy, batch --batch_size, Adam(0.001).

Every --activations entry trains the same network from the same seed (same
initial weights, same batches); only the MLPs' activation differs. The first
entry is the baseline, the exact function (Keras' `gelu` is the erf form,
`approximate=False`). A table per workload gives the final training loss,
its ratio to the baseline's, the median epoch and step time and its ratio.

--profile first measures how much of a training step the activation takes:
it times the training step (forward under a GradientTape, gradient, Adam's
update, as one traced `tf.function`; jit_compile off, since XLA would swap
tf_approx's native ops for their composite twins) of the network with each
activation and with the identity (`linear`) in its place, on one batch,
after a warm-up, the networks' steps interleaved, and reports the median
step times (and the fastest), the baseline's share of its step, 1 -
t_identity / t_exact (by the medians, and by the fastest steps, which a busy
machine disturbs least), and for each approximation the part of that share
it removes, (t_exact - t_approx) / (t_exact - t_identity), by the medians.
The target the trainer was written for: the safe GELU removes at
least 80% of exact GELU's share (a 10% share -> a step at most 0.92x the
time) with a loss ratio at most 1.02 after the same training.

It writes --out_dir/transformer.md and transformer.json (every run's losses
and epoch times, every profiled step time). --quick trains shorter (a prefix
of the text, fewer epochs and profiled steps) and writes to QUICK_DIR unless
--out_dir says otherwise; the full run writes docs/transformer.md.

Usage:

  python examples/transformer.py --quick --profile
  python examples/transformer.py --profile            # docs/transformer.md
  python examples/transformer.py --workloads=digits_mixer \
      --activations=gelu,silu,gelu_pade_4_4_clamp --out_dir=/tmp/mixer
  python examples/transformer.py --workloads=char_transformer \
      --data_path=shakespeare.txt --seq_len=128 --batch_size=16
"""

import dataclasses
import datetime
import json
import math
from pathlib import Path
import sys

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

import common
import tf_approx
import workloads

REPO = Path(__file__).resolve().parents[1]
QUICK_DIR = "/tmp/tf_approx_transformer"
# The default --activations: the exact function first (the baseline), then
# the safe GELU and the ranged one with the asymptotes beyond its range.
DEFAULT_ACTIVATIONS = ("gelu", tf_approx.activations.MODERN_SAFE["gelu"],
                       tf_approx.activations.MODERN_RANGED["gelu"] + "_clamp")
IDENTITY = "linear"
# The target this trainer measures: the safe GELU removes this much of exact GELU's share of
# the step, with at most this loss ratio.
TARGET_REMOVED, TARGET_LOSS = 0.80, 1.02

# char_transformer
D_MODEL = 128
HEADS = 4
MLP_UNITS = 512
BLOCKS = 2
# digits_mixer
PATCH = 2
HIDDEN = 64
TOKEN_MLP = 32
CHANNEL_MLP = 128
MIXER_BLOCKS = 4

LEARNING_RATE = 1e-3
# Training of each workload: (full, --quick); --epochs and --max_chars
# override them.
SETTINGS = {
    "char_transformer": (dict(epochs=3, max_chars=200_000),
                         dict(epochs=2, max_chars=40_000)),
    # 20 epochs drive the loss to about 0.001, where its ratio is noise.
    "digits_mixer": (dict(epochs=10), dict(epochs=4)),
}
PROFILE_STEPS = (50, 20)  # (full, --quick), unless --profile_steps
PROFILE_WARMUP = 5

flags.DEFINE_list(
    "activations", list(DEFAULT_ACTIVATIONS),
    "The MLPs' activation, one training run each, by Keras or tf_approx "
    "name; the first (the exact function) is the baseline of the ratios.")
flags.register_validator("activations", common.check_activations)
flags.DEFINE_list("workloads", list(SETTINGS), "Workloads to run.")
flags.register_validator("workloads",
                         common.choices_validator(list(SETTINGS), "workload"))
flags.DEFINE_integer("epochs", None,
                     "Epochs of every run; default per workload (full: "
                     + ", ".join(f"{k} {v[0]['epochs']}" for k, v in
                                 SETTINGS.items()) + "; fewer with --quick).",
                     lower_bound=1)
flags.DEFINE_integer("batch_size", 32, "Batch size of both workloads.",
                     lower_bound=1)
flags.DEFINE_integer(
    "seed", 0,
    "Seed of every run: each starts from the same weights and sees the data "
    "in the same order.")
flags.DEFINE_integer("seq_len", 64,
                     "char_transformer: characters per training window.",
                     lower_bound=2)
flags.DEFINE_integer(
    "max_chars", None,
    "char_transformer: learn only the text's first max_chars characters; "
    "default 200000, 40000 with --quick.", lower_bound=3)
flags.DEFINE_string(
    "data_path", None,
    "char_transformer: a UTF-8 text file to learn instead of Python's help "
    "topics.")
flags.DEFINE_bool(
    "profile", False,
    "Before training, time the training step with each activation and with "
    "the identity in its place, and report the baseline's share of the step "
    "and how much of it each approximation removes.")
flags.DEFINE_integer("profile_steps", None,
                     f"Timed steps per network with --profile, after "
                     f"{PROFILE_WARMUP} untimed; default {PROFILE_STEPS[0]}, "
                     f"{PROFILE_STEPS[1]} with --quick.", lower_bound=1)
flags.DEFINE_bool("quick", False,
                  "Shorter training and profiling; output to " + QUICK_DIR +
                  " unless --out_dir.")
flags.DEFINE_string("out_dir", None,
                    "Where transformer.md and transformer.json go; default "
                    "docs/ of the repository, " + QUICK_DIR + " with --quick.")

FLAGS = flags.FLAGS


class PositionEmbedding(keras.layers.Layer):
  """Adds a learned embedding of each position to [batch, length, width]."""

  def __init__(self, length, **kwargs):
    super().__init__(**kwargs)
    self.length = length

  def build(self, input_shape):
    self.embedding = self.add_weight(
        shape=(self.length, input_shape[-1]), name="embedding",
        initializer=keras.initializers.RandomNormal(stddev=0.02))

  def call(self, x):
    return x + self.embedding[:keras.ops.shape(x)[1]]

  def get_config(self):
    return {**super().get_config(), "length": self.length}


def _layer_norm():
  return keras.layers.LayerNormalization(epsilon=1e-5)


def build_char_transformer(data, activation):
  """The decoder-only transformer of the module docstring, on logits."""
  length = data.x.shape[1]
  tokens = keras.Input((length,), dtype="int32")
  x = keras.layers.Embedding(data.outputs, D_MODEL)(tokens)
  x = PositionEmbedding(length)(x)
  for _ in range(BLOCKS):
    h = _layer_norm()(x)
    h = keras.layers.MultiHeadAttention(HEADS, D_MODEL // HEADS)(
        h, h, use_causal_mask=True)
    x = keras.layers.Add()([x, h])
    h = _layer_norm()(x)
    h = keras.layers.Dense(MLP_UNITS, activation=activation)(h)
    h = keras.layers.Dense(D_MODEL)(h)
    x = keras.layers.Add()([x, h])
  logits = keras.layers.Dense(data.outputs)(_layer_norm()(x))
  return keras.Model(tokens, logits, name="char_transformer")


def build_digits_mixer(data, activation):
  """The MLP-Mixer of the module docstring, on logits."""
  height, width = data.x.shape[1:3]
  tokens = (height // PATCH) * (width // PATCH)
  images = keras.Input(data.x.shape[1:])
  x = keras.layers.Reshape((height, width, 1))(images)
  # One linear map of each 2x2 patch: a strided convolution.
  x = keras.layers.Conv2D(HIDDEN, PATCH, strides=PATCH)(x)
  x = keras.layers.Reshape((tokens, HIDDEN))(x)
  for _ in range(MIXER_BLOCKS):
    h = keras.layers.Permute((2, 1))(_layer_norm()(x))
    h = keras.layers.Dense(TOKEN_MLP, activation=activation)(h)
    h = keras.layers.Permute((2, 1))(keras.layers.Dense(tokens)(h))
    x = keras.layers.Add()([x, h])
    h = _layer_norm()(x)
    h = keras.layers.Dense(CHANNEL_MLP, activation=activation)(h)
    h = keras.layers.Dense(HIDDEN)(h)
    x = keras.layers.Add()([x, h])
  x = keras.layers.GlobalAveragePooling1D()(_layer_norm()(x))
  logits = keras.layers.Dense(data.outputs)(x)
  return keras.Model(images, logits, name="digits_mixer")


def load_text(settings):
  return workloads.load_text("pydoc", FLAGS.data_path,
                             settings["max_chars"], FLAGS.seq_len)


def load_digits(settings):
  del settings  # Always the whole training split.
  split = common.load_dataset("digits")
  return workloads.Data(split.describe(), split.x_train, split.y_train,
                        split.num_classes)


@dataclasses.dataclass(frozen=True)
class Workload:
  """One network: how its data loads and how it is built."""
  load: callable  # settings -> workloads.Data
  build: callable  # (data, activation) -> an uncompiled model


WORKLOADS = {
    "char_transformer": Workload(load_text, build_char_transformer),
    "digits_mixer": Workload(load_digits, build_digits_mixer),
}


def _loss():
  return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def compiled(workload, data, activation):
  """The network with `activation` in its MLPs, compiled to train."""
  model = workload.build(data, activation)
  model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss=_loss(),
                # XLA, on by default with a GPU, would swap tf_approx's
                # native ops for their composite twins.
                jit_compile=False)
  return model


def profile(workload, data, activations, steps):
  """Median seconds of one training step of each activation's network.

  Builds one network per activation (and IDENTITY) from the same seed and
  traces its training step, then runs PROFILE_WARMUP untimed and `steps`
  timed rounds that each run one step of every network in turn, so that a
  spell of load on the machine falls on all of them alike.

  Returns:
    {activation: [seconds of each timed step]}.
  """
  x = tf.constant(data.x[:FLAGS.batch_size])
  y = tf.constant(data.y[:FLAGS.batch_size])
  common.fresh_start(FLAGS.seed)
  step_fns = {}
  for activation in dict.fromkeys([*activations, IDENTITY]):
    keras.utils.set_random_seed(FLAGS.seed)
    model = workload.build(data, activation)
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    optimizer.build(model.trainable_variables)
    loss_fn = _loss()

    # Default arguments bind this iteration's model.
    @tf.function(jit_compile=False)
    def train_step(x, y, model=model, optimizer=optimizer, loss_fn=loss_fn):
      with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
      variables = model.trainable_variables
      optimizer.apply(tape.gradient(loss, variables), variables)
      return loss

    train_step(x, y).numpy()  # traces it
    step_fns[activation] = train_step
  # Warmed up in turn as well: the first step of a network after the others
  # ran can take 50 times its usual time (measured on two CPU cores).
  times = {activation: [] for activation in step_fns}
  for round_ in range(PROFILE_WARMUP + steps):
    for activation, train_step in step_fns.items():
      with common.Stopwatch() as watch:
        train_step(x, y).numpy()
      if round_ >= PROFILE_WARMUP:
        times[activation].append(watch.seconds)
  return times


def share_report(times, activations, statistic=np.median):
  """(share, {approximation: (time ratio, share removed)}) from `profile`,
  by the `statistic` of each network's step times."""
  median = {name: float(statistic(t)) for name, t in times.items()}
  exact, identity = median[activations[0]], median[IDENTITY]
  share = 1 - identity / exact
  removed = {}
  for name in activations[1:]:
    gap = exact - identity
    # No share to remove (nan) where the identity's step was no faster.
    removed[name] = (median[name] / exact,
                     (exact - median[name]) / gap if gap > 0 else math.nan)
  return share, removed


def _percent(fraction):
  """A share as a percentage; "-" where there was none to remove (nan)."""
  return "-" if math.isnan(fraction) else f"{fraction:.1%}"


def profile_table(times, activations):
  median = {name: float(np.median(t)) for name, t in times.items()}
  _, removed = share_report(times, activations)
  exact = median[activations[0]]
  rows = []
  for name, seconds in median.items():
    label = f"{name} (identity)" if name == IDENTITY else name
    cut = (_percent(removed[name][1]) if name in removed
           else "0%" if name == activations[0] else "")
    rows.append([label, f"{1e3 * seconds:.2f}",
                 f"{1e3 * np.min(times[name]):.2f}", f"{seconds / exact:.3f}",
                 cut])
  return common.format_table(
      ["activation", "step (ms, median)", "step (ms, fastest)",
       f"vs {activations[0]}", f"share of {activations[0]} removed"], rows)


def train_runs(workload, data, activations, epochs):
  """workloads.Training of one run per activation, from one seed."""
  runs = {}
  for activation in activations:
    common.fresh_start(FLAGS.seed)
    model = compiled(workload, data, activation)
    run = workloads.train(model, data, epochs=epochs,
                          batch_size=FLAGS.batch_size, seed=FLAGS.seed)
    runs[activation] = run
    print(f"  {activation}: loss {run.initial_loss:.4f} -> "
          f"{run.final_loss:.4f}, fit {run.seconds:.2f} s, median epoch "
          f"{np.median(run.epoch_seconds):.3f} s", flush=True)
  return runs, model


def training_table(runs, steps_per_epoch):
  """Final loss, median epoch and step time, and ratios to the first run."""
  baseline_name = next(iter(runs))
  baseline = runs[baseline_name]
  base_epoch = np.median(baseline.epoch_seconds)
  rows = []
  for name, run in runs.items():
    epoch = np.median(run.epoch_seconds)
    rows.append([name, f"{run.final_loss:.4f}",
                 f"{run.final_loss / baseline.final_loss:.4f}",
                 "yes" if run.converged else "NO", f"{run.seconds:.2f}",
                 f"{epoch:.3f}", f"{1e3 * epoch / steps_per_epoch:.2f}",
                 f"{epoch / base_epoch:.3f}"])
  return common.format_table(
      ["activation", "final loss", f"loss ratio vs {baseline_name}",
       "converged", "fit (s)", "epoch (s, median)", "step (ms)",
       f"time ratio vs {baseline_name}"], rows)


def target_lines(share, removed, runs, activations):
  """The target, checked for each approximation."""
  exact = runs[activations[0]].final_loss
  lines = []
  for name, (_, cut) in removed.items():
    loss_ratio = runs[name].final_loss / exact
    met = cut >= TARGET_REMOVED and loss_ratio <= TARGET_LOSS
    lines.append(
        f"- {name}: removes {_percent(cut)} of {activations[0]}'s share "
        f"({share:.1%}) of the step (target ≥ {TARGET_REMOVED:.0%}), loss "
        f"ratio {loss_ratio:.4f} (target ≤ {TARGET_LOSS}): "
        f"{'met' if met else 'MISSED'}.")
  return lines


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  activations = list(dict.fromkeys(FLAGS.activations))
  out_dir = Path(FLAGS.out_dir or (QUICK_DIR if FLAGS.quick
                                   else REPO / "docs"))
  out_dir.mkdir(parents=True, exist_ok=True)
  steps = FLAGS.profile_steps or PROFILE_STEPS[FLAGS.quick]
  print(f"Comparing MLP activations {', '.join(activations)}"
        f"{' (--quick)' if FLAGS.quick else ''}: {common.describe_machine()}",
        flush=True)

  command = " ".join(["python examples/transformer.py", *sys.argv[1:]])
  lines = [
      "# GELU and its approximations in a transformer and an MLP-Mixer",
      "",
      f"Written by `{command}` on {datetime.date.today()}: "
      f"{common.describe_machine()}. Each network is trained once per MLP "
      f"activation from seed {FLAGS.seed} (same initial weights, same "
      f"batches); the first activation is the baseline of the ratios. Final "
      f"loss: the last epoch's mean training loss; fit: wall-clock time of "
      f"`fit`, tracing excluded; epoch: the median epoch time, step: that "
      f"over the steps of an epoch; time ratio: of the median epochs.",
      ""]
  raw = {}
  for name in FLAGS.workloads:
    workload = WORKLOADS[name]
    settings = dict(SETTINGS[name][FLAGS.quick])
    if FLAGS.epochs:
      settings["epochs"] = FLAGS.epochs
    if name == "char_transformer":
      settings["max_chars"] = FLAGS.max_chars or settings["max_chars"]
      settings["seq_len"] = FLAGS.seq_len
    settings["batch_size"] = FLAGS.batch_size
    data = workload.load(settings)
    print(f"\n{name}: {data.description}; {settings['epochs']} epochs of "
          f"batch size {FLAGS.batch_size}", flush=True)
    raw[name] = {"settings": settings}
    section = [f"## {name}", "",
               f"{data.description}; "
               f"{', '.join(f'{k} {v}' for k, v in settings.items())}.", ""]
    share = removed = None
    if FLAGS.profile:
      times = profile(workload, data, activations, steps)
      share, removed = share_report(times, activations)
      raw[name]["profile"] = times
      table = profile_table(times, activations)
      fastest, _ = share_report(times, activations, np.min)
      summary = (f"{activations[0]}'s share of the training step: "
                 f"{share:.1%} (1 - t_identity / t_{activations[0]}, median "
                 f"of {steps} steps of batch {FLAGS.batch_size} after "
                 f"{PROFILE_WARMUP} untimed, the networks interleaved; "
                 f"{fastest:.1%} by the fastest steps, which a busy machine "
                 f"disturbs least).")
      print(f"\n{table}\n{summary}\n", flush=True)
      section += ["### Profile of the training step", "",
                  "One traced training step (forward, gradient, Adam's "
                  "update; jit_compile off) of each network on one batch; "
                  f"the `{IDENTITY}` row has the identity in the MLPs. Share "
                  f"removed: (t_{activations[0]} - t) / (t_{activations[0]} "
                  f"- t_identity).", "", table, "", summary, ""]
    runs, model = train_runs(workload, data, activations, settings["epochs"])
    steps_per_epoch = math.ceil(len(data.x) / FLAGS.batch_size)
    table = training_table(runs, steps_per_epoch)
    print(f"\n{table}", flush=True)
    section += ["### Training", "",
                f"Model: {model.count_params()} parameters.", "", table, ""]
    if removed:
      targets = target_lines(share, removed, runs, activations)
      print("\n".join(targets), flush=True)
      section += [f"Target (the safe GELU removes ≥ {TARGET_REMOVED:.0%} of "
                  f"exact GELU's share at loss ratio ≤ {TARGET_LOSS}):", "",
                  *targets, ""]
    raw[name]["runs"] = {label: dataclasses.asdict(run)
                         for label, run in runs.items()}
    lines += section
  text = "\n".join(lines)
  (out_dir / "transformer.md").write_text(text)
  (out_dir / "transformer.json").write_text(json.dumps(raw, indent=1))
  print(f"\nWrote {out_dir / 'transformer.md'} and "
        f"{out_dir / 'transformer.json'}.")


if __name__ == "__main__":
  app.run(main)
