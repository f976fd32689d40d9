r"""Counting distinct values with an LSTM, with and without annealed noise.

Reproduces the noise-annealing experiment of the thesis' section 4.3.6.6
(Table 4.5, after Gulcehre et al., "Noisy Activation Functions", ICML 2016):
given a sequence of 26 random integers in [0, 10], output how many distinct
values it holds. The sequences are drawn uniformly with NumPy from --seed
(--train_size 10,000 and --test_size 2,000 of them, no download); about 44%
of them hold 10 distinct values, 33% 11 and 19% 9, so always answering 10
errs on about 56%.

The model is the thesis': an LSTM over the sequence (one-hot inputs; 32
units, --units), the average of its hidden states over time, then a 1-layer
MLP with ReLU (64 units, --hidden_units) and the output. The thesis reports
a "test error" in % without saying how the count is output; here it is a
softmax over the 11 possible counts trained by cross-entropy, and the error
is the share of test sequences whose count is wrong, which is what a
percentage of errors suggests (a regression rounded to the nearest count
would be the other reading).

The runs, one per --models entry, from the same seed and so the same
initial weights and data order:

  reference:      the LSTM's usual sigmoid (gates) and tanh.
  nan:            NAN, the thesis' noisy activations with normal noise at
                  the output (eq. 4.15): each of the LSTM's three
                  nonlinearities -- the sigmoid of its input, forget and
                  output gates, the tanh of its candidate and the tanh of its
                  cell state -- is a `tf_approx.layers.NoisyActivation`
                  ('sigmoid' or 'tanh', where='output', noise='normal'), with
                  its defaults: alpha 1.1 / 1.15, c 0.15 / 0.5, and a learned
                  scalar p per layer.
  nan_annealed:   nan with c annealed, for every noisy layer alike, by
                  `tf_approx.callbacks.NoiseAnnealing`: c = c0 / sqrt(t + 1),
                  t counting blocks of --anneal_every (200) batches, c0 =
                  --anneal_c0 (30), the thesis' schedule.
  nanil_annealed: NANIL, noise at the input with a learned scale (where=
                  'input', learn_sigma=True), annealed alike.

The thesis' MLP has a ReLU, which has no noisy version, so the noise of its
"Noisy LSTM+MLP" can only be in the LSTM, and this is where --noisy_parts
(default lstm) puts it: a custom `LSTMCell` run by `keras.layers.RNN`, which
computes what `keras.layers.LSTM` does (same initializers, unit forget bias)
but with its nonlinearities as layers. The reference runs the same cell with
`keras.layers.Activation`s. --noisy_parts=lstm,mlp also replaces the MLP's
ReLU by a tanh NAN in the noisy models. Each call of a NoisyActivation draws
fresh noise, so every time step has its own; evaluation uses the noise's
expectation.

What the thesis leaves out is chosen here: the sizes above, Adam
(--learning_rate 0.002), batch size 64, 30 epochs. Its curriculum-learning row
is not reproduced. The schedule is the thesis' but the training is far
shorter: c reaches the thesis' final 0.5 after 3,600 * 200 batches, while the
4,710 batches of the default run end at c = 6.1, so the annealed runs here are
the noisy start of the thesis' runs. NAN only adds noise where a unit
saturates, |x| > 1 for the hard tanh, > 2 for the hard sigmoid, and its
standard deviation c (sigmoid(p Delta) - 1/2)^2 is small unless the unit
saturates deeply, so a large c mostly shakes saturated units loose. NANIL's
standard deviation c softplus(p |Delta|) is c log 2 wherever the unit does not
saturate, which at c = 30 to 6 drowns the gates' inputs.

All models first sit on the plateau of predicting the counts' frequencies (a
training loss of about 1.16) for 5 to 15 epochs; which leaves it first and how
far it gets in 30 epochs is what the test errors compare. With the defaults
they are 42.25% (reference), 40.55% (nan) and 38.20% (nan_annealed); with
--seed=1, 40.45%, 31.70% and 39.45%: the noisy LSTMs end below the reference
with both seeds, but which of the two is lower varies, and none comes near the
thesis' 9.53%. nanil_annealed stays on the plateau (55.25%). The three default
runs take about three and a half minutes on two CPU cores, the noisy ones 1.3
times as long as the reference.

Usage:

  python examples/noisy_unique_count.py
  python examples/noisy_unique_count.py --models=reference,nan_annealed \
      --epochs=100 --train_size=50000
  python examples/noisy_unique_count.py --noisy_parts=lstm,mlp \
      --anneal_every=20
"""

from absl import app
from absl import flags
import keras
import numpy as np

import common
import tf_approx
from tf_approx import callbacks

SEQUENCE_LENGTH = 26
NUM_VALUES = 11  # the integers 0, 1, ..., 10
# Counts 1..NUM_VALUES are the classes 0..NUM_VALUES - 1.
NUM_COUNTS = NUM_VALUES
MODELS = ("reference", "nan", "nan_annealed", "nanil_annealed")
ANNEALED = ("nan_annealed", "nanil_annealed")
NOISY_PARTS = ("lstm", "mlp")
# Thesis Table 4.5: test error (%) per model.
THESIS_ERRORS = {"reference": "33.28", "nan": "31.12",
                 "nan_annealed": "9.53", "nanil_annealed": "20.94"}


common.define_training_flags(epochs=30, batch_size=64)
flags.adopt_module_key_flags(common)  # so --helpshort lists them
flags.DEFINE_list(
    "models", ["reference", "nan", "nan_annealed"],
    f"Models to compare, one training run each, from {', '.join(MODELS)}: "
    f"reference has sigmoid and tanh; nan has noisy activations at the "
    f"places --noisy_parts names (NAN, normal noise at the output, with "
    f"their default scale c); nan_annealed the same with c annealed from "
    f"--anneal_c0; nanil_annealed noise at the input with a learned scale "
    f"(NANIL), annealed. Train times are reported as ratios to the first "
    f"run.")
flags.register_validator("models", common.choices_validator(MODELS, "model"))
flags.DEFINE_list(
    "noisy_parts", ["lstm"],
    "Where the noisy models have noisy activations: lstm, its gates' "
    "sigmoid and its two tanh; mlp, the hidden layer of the MLP, with a tanh "
    "NAN in place of the ReLU.")
flags.register_validator("noisy_parts",
                         common.choices_validator(NOISY_PARTS, "noisy part"))
flags.DEFINE_integer("train_size", 10000, "Training sequences.",
                     lower_bound=1)
flags.DEFINE_integer("test_size", 2000, "Test sequences.", lower_bound=1)
flags.DEFINE_integer("units", 32, "LSTM units.", lower_bound=1)
flags.DEFINE_integer("hidden_units", 64, "Units of the MLP's hidden layer.",
                     lower_bound=1)
flags.DEFINE_float("learning_rate", 0.002, "Adam's learning rate.",
                   lower_bound=0.0)
flags.DEFINE_float("anneal_c0", 30.0,
                   "Initial noise scale c of the annealed models.")
flags.register_validator("anneal_c0", lambda c: c > 0,
                         "--anneal_c0 must be > 0")
flags.DEFINE_integer("anneal_every", 200,
                     "Training batches per step t of the annealing, c = "
                     "c0 / sqrt(t + 1).", lower_bound=1)

FLAGS = flags.FLAGS


def make_data(size, rng):
  """`size` sequences, one-hot, and their counts of distinct values - 1."""
  values = rng.integers(0, NUM_VALUES, (size, SEQUENCE_LENGTH))
  counts = np.array([len(np.unique(row)) for row in values])
  x = np.eye(NUM_VALUES, dtype=np.float32)[values]
  return x, (counts - 1).astype(np.int32)


def make_dataset():
  """The task's train and test sets, drawn with NumPy from --seed."""
  rng = np.random.default_rng(FLAGS.seed)
  x_train, y_train = make_data(FLAGS.train_size, rng)
  x_test, y_test = make_data(FLAGS.test_size, rng)
  return common.Dataset("unique counts", x_train, y_train, x_test, y_test,
                        num_classes=NUM_COUNTS)


def noisy_activation(model, activation, seed):
  """The noisy `activation` ('tanh' or 'sigmoid') of a noisy `model`."""
  if model == "nanil_annealed":
    return tf_approx.layers.NoisyActivation(activation, where="input",
                                            learn_sigma=True, seed=seed)
  return tf_approx.layers.NoisyActivation(activation, seed=seed)


class LSTMCell(keras.layers.Layer):
  """An LSTM cell whose sigmoid and tanh are layers of the caller's choice.

  It computes what `keras.layers.LSTM`'s cell computes, with its default
  initializers (unit forget bias included), but applies `gate` to the input,
  forget and output gates together, `candidate` to the new cell input and
  `output` to the cell state: `keras.layers.Activation`s for the reference,
  `NoisyActivation`s for the noisy models.
  """

  def __init__(self, units, gate, candidate, output, **kwargs):
    super().__init__(**kwargs)
    self.units = units
    self.state_size = [units, units]
    self.output_size = units
    self.gate = gate
    self.candidate = candidate
    self.cell_output = output

  def build(self, input_shape):
    units = self.units
    self.kernel = self.add_weight(
        name="kernel", shape=(input_shape[-1], 4 * units),
        initializer="glorot_uniform")
    self.recurrent_kernel = self.add_weight(
        name="recurrent_kernel", shape=(units, 4 * units),
        initializer="orthogonal")
    self.bias = self.add_weight(
        name="bias", shape=(4 * units,),
        initializer=lambda shape, dtype=None: keras.ops.concatenate([
            keras.ops.zeros((units,)), keras.ops.ones((units,)),
            keras.ops.zeros((2 * units,))]))
    # Built here, not at their first call, so that the model's variables,
    # p of a NoisyActivation included, are all there before it trains.
    self.gate.build((input_shape[0], 3 * units))
    self.candidate.build((input_shape[0], units))
    self.cell_output.build((input_shape[0], units))

  def call(self, inputs, states, training=None):
    h, c = states
    z = (keras.ops.matmul(inputs, self.kernel)
         + keras.ops.matmul(h, self.recurrent_kernel) + self.bias)
    gates, candidate = z[:, :3 * self.units], z[:, 3 * self.units:]
    gates = self.gate(gates, training=training)
    i, f, o = keras.ops.split(gates, 3, axis=-1)
    c = f * c + i * self.candidate(candidate, training=training)
    h = o * self.cell_output(c, training=training)
    return h, [h, c]


def build_model(model):
  """The LSTM+MLP of `model` (one of MODELS), compiled."""
  noisy = model != "reference"
  seed = FLAGS.seed
  if noisy and "lstm" in FLAGS.noisy_parts:
    acts = [noisy_activation(model, name, seed + k)
            for k, name in enumerate(("sigmoid", "tanh", "tanh"), 1)]
  else:
    acts = [keras.layers.Activation(name)
            for name in ("sigmoid", "tanh", "tanh")]
  if noisy and "mlp" in FLAGS.noisy_parts:
    hidden_activation = noisy_activation(model, "tanh", seed + 4)
  else:
    hidden_activation = keras.layers.Activation("relu")
  network = keras.Sequential([
      keras.Input((SEQUENCE_LENGTH, NUM_VALUES)),
      keras.layers.RNN(LSTMCell(FLAGS.units, *acts), return_sequences=True,
                       name="lstm"),
      keras.layers.GlobalAveragePooling1D(name="time_average"),
      keras.layers.Dense(FLAGS.hidden_units, name="hidden"),
      hidden_activation,
      keras.layers.Dense(NUM_COUNTS, name="logits"),
  ], name=f"unique_count_{model}")
  common.compile_classifier(network,
                            keras.optimizers.Adam(FLAGS.learning_rate))
  return network


def train(dataset, model):
  """Trains a fresh LSTM+MLP `model`.

  Returns:
    (run, network).
  """
  common.fresh_start(FLAGS.seed)
  network = build_model(model)
  annealing = None
  if model in ANNEALED:
    annealing = callbacks.NoiseAnnealing(c0=FLAGS.anneal_c0,
                                         every=FLAGS.anneal_every)
  fit = common.fit_and_evaluate(
      network, dataset, model, FLAGS.seed, FLAGS.batch_size, FLAGS.epochs,
      lambda fit: (f"test error {100 * (1 - fit.accuracy):.2f}%; fit "
                   f"{fit.seconds:.2f} s"),
      callbacks=[annealing] if annealing else [])
  scores = {"final train loss": fit.losses[-1],
            "final c": f"{annealing.value:.2f}" if annealing else "-",
            "test error (%)": f"{100 * (1 - fit.accuracy):.2f}",
            "thesis error (%)": THESIS_ERRORS[model]}
  return common.Run(model, scores, fit.seconds), network


def describe_counts(counts):
  """How often each count occurs, and the error of always saying the mode."""
  values, frequencies = np.unique(counts, return_counts=True)
  shares = frequencies / len(counts)
  listed = ", ".join(f"{value}: {share:.1%}"
                     for value, share in zip(values, shares))
  return (f"{listed}; always answering the most frequent count errs on "
          f"{100 * (1 - shares.max()):.2f}%")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  dataset = make_dataset()
  print(f"Data: {dataset.describe()} (sequences of {SEQUENCE_LENGTH} "
        f"integers in [0, {NUM_VALUES - 1}], one-hot; class k is the count "
        f"k + 1)")
  print(f"Distinct values per test sequence: "
        f"{describe_counts(dataset.y_test + 1)}.")
  noisy = " and ".join(FLAGS.noisy_parts)
  print(f"Training: LSTM({FLAGS.units}) + time average + MLP("
        f"{FLAGS.hidden_units}), noise in the {noisy} of the noisy models, "
        f"Adam({FLAGS.learning_rate}), {FLAGS.epochs} epochs of batch size "
        f"{FLAGS.batch_size}, seed {FLAGS.seed}, once per model:", flush=True)

  runs = []
  for model in FLAGS.models:
    run, network = train(dataset, model)
    runs.append(run)

  print()
  print(common.format_runs(runs, label="model"))
  print(f"\nfinal train loss: with the noise, as the model trained; test "
        f"error: without it (its expectation). final c: the noise scale of "
        f"the last batch, annealed from {FLAGS.anneal_c0:g} by "
        f"c0 / sqrt(t + 1), t += 1 every {FLAGS.anneal_every} batches. thesis "
        f"error: its Table 4.5, after training long enough to anneal c to "
        f"0.5.")
  common.print_timing_note(network)


if __name__ == "__main__":
  app.run(main)
