r"""A deep sigmoid MLP on 40-bit parity, plain and mollified (thesis Fig. 4.16).

The deep-parity experiment of the thesis' section 4.4.4.1 (Gulcehre,
Moczulski, Visin and Bengio, "Mollifying Networks", ICLR 2017): the label of
a vector of --bits random bits is their parity, and a --layers-deep MLP of
sigmoid units learns it. The thesis' point: the plain MLP does not learn at
all, the mollified one does. The data are generated from --seed, no
download: --examples training vectors and 1,000 test vectors.

Two models, each --layers hidden layers of --units sigmoid units (Glorot
uniform init, as the thesis) and a dense softmax over the two labels:

  plain:      keras.layers.Dense(units, activation="sigmoid") layers;
  mollified:  tf_approx.layers.MollifyingBlock(units, activation="sigmoid")
              layers, annealed by
              tf_approx.callbacks.MollificationSchedule(k=--k).

A mollifying block starts as the identity map (level p = 1: every unit
copies its input, so the network starts as a linear model of the bits) and
becomes the plain sigmoid layer as the schedule lowers p to 0 (eq. 4.31:
p_t^l = 1 - exp(-k v_t l / (t L)), v_t the moving average of the loss, l the
layer's depth), going through mollified sigmoids that lean towards their
linearisation. The first block zero-pads the bits to --units (or, with
fewer units than bits, projects them linearly).

The example prints, as each run ends, its training loss by epoch, test
accuracy and train time; then, for both runs, the training loss and accuracy
(of the training batches, noise included) at ten epochs spread over the run;
then a table of the final training loss and accuracy and the test accuracy
(both evaluated after training, without noise), the first epoch whose
training accuracy reached 90%, and the train times; and the mollified run's
final levels p by layer.

What to expect. No model generalises: 40-bit parity is a function of all 40
bits at once, no proper subset of them correlates with it, and 1,000 of the
2^40 vectors give nothing to generalise from, so the test accuracy stays at
chance (about 0.5) for both. What differs is how well each model fits its
training set, which the learning curves of the thesis' Fig. 4.16 show too.
With the default flags the plain MLP stays at chance on its training set
too (final training accuracy 0.51), while the mollified one fits it (0.99,
past 90% at epoch 71), as the thesis says; seeds 1 and 2 give the same
picture (0.98 and 0.99, past 90% at epochs 62 and 59). The two runs take
a little over a minute together on two CPU cores, the mollified one about
three times as long as the plain one.

Training differs from the thesis': Adam at --learning_rate 0.01 instead of
SGD with momentum 0.92 at 0.001 (--optimizer=sgd, with --learning_rate).
In the 3,000 steps of the default run SGD with momentum moves neither model
off chance at learning rates of 0.01, 0.03, 0.1 or 0.3, so the comparison
would show nothing. k sets how long the mollification lasts, in steps: with
k = 300 the levels fall too fast and the mollified MLP stays near chance
(0.57) like the plain one; k = 1,000 (default) and 3,000 fit the training
set.

Usage:

  python examples/mollified_parity.py
  python examples/mollified_parity.py --bits=20 --examples=4000 --k=3000
  python examples/mollified_parity.py --optimizer=sgd --learning_rate=0.1
"""

from absl import app
from absl import flags
import keras
import numpy as np

import common
from tf_approx import callbacks
from tf_approx.layers import mollify

TEST_EXAMPLES = 1000
CURVE_POINTS = 10  # epochs shown of each training curve
FIT_THRESHOLD = 0.9  # "fits the training set": this training accuracy
MOMENTUM = 0.92  # the thesis' SGD momentum
EVALUATION_BATCH = 1000  # batch size of the evaluation on the training set

# --seed also seeds the data.
common.define_training_flags(epochs=150, batch_size=50)
flags.adopt_module_key_flags(common)  # so --helpshort lists them
flags.DEFINE_integer("bits", 40, "Length of the bit vectors.", lower_bound=1)
flags.DEFINE_integer("layers", 6, "Hidden layers of both MLPs.",
                     lower_bound=1)
flags.DEFINE_integer("units", 100, "Units of every hidden layer.",
                     lower_bound=1)
flags.DEFINE_integer("examples", 1000, "Training examples.", lower_bound=1)
flags.DEFINE_enum(
    "optimizer", "adam", ["adam", "sgd"],
    f"adam, or sgd: SGD with the thesis' momentum {MOMENTUM}.")
flags.DEFINE_float("learning_rate", 0.01, "The optimizer's learning rate.",
                   lower_bound=0.0)
flags.DEFINE_float(
    "k", 1000.0,
    "k of the mollification schedule (eq. 4.31), in steps: the larger, the "
    "longer the layers stay mollified.", lower_bound=0.0)
flags.DEFINE_float("c", 10.0,
                   "c of the mollified sigmoids (eq. 4.25), the noise scale.",
                   lower_bound=0.0)
FLAGS = flags.FLAGS


def make_dataset(seed):
  """Random bits and their parity, drawn with NumPy from `seed`."""
  rng = np.random.default_rng(seed)
  x = rng.integers(0, 2, size=(FLAGS.examples + TEST_EXAMPLES, FLAGS.bits))
  y = x.sum(axis=1) % 2
  x, y = x.astype(np.float32), y.astype(np.int32)
  return common.Dataset(f"{FLAGS.bits}-bit parity", x[:FLAGS.examples],
                        y[:FLAGS.examples], x[FLAGS.examples:],
                        y[FLAGS.examples:], num_classes=2)


def build_model(mollified):
  """The plain or the mollified MLP, compiled."""
  if mollified:
    hidden = [
        mollify.MollifyingBlock(
            FLAGS.units, activation="sigmoid", c=FLAGS.c,
            projection="pad" if i or FLAGS.units >= FLAGS.bits else "linear",
            seed=FLAGS.seed + i, name=f"mollifying_{i}")
        for i in range(FLAGS.layers)]
  else:
    hidden = [keras.layers.Dense(FLAGS.units, activation="sigmoid",
                                 name=f"dense_{i}")
              for i in range(FLAGS.layers)]
  model = keras.Sequential([keras.Input((FLAGS.bits,)), *hidden,
                            keras.layers.Dense(2, name="logits")])
  if FLAGS.optimizer == "adam":
    optimizer = keras.optimizers.Adam(FLAGS.learning_rate)
  else:
    optimizer = keras.optimizers.SGD(FLAGS.learning_rate, momentum=MOMENTUM)
  common.compile_classifier(model, optimizer)
  return model


def train(dataset, mollified):
  """Trains one fresh model; returns (Run, history, schedule or None)."""
  label = "mollified" if mollified else "plain"
  common.fresh_start(FLAGS.seed)
  model = build_model(mollified)
  schedule = callbacks.MollificationSchedule(k=FLAGS.k) if mollified else None
  fit = common.fit_and_evaluate(
      model, dataset, label, FLAGS.seed, FLAGS.batch_size, FLAGS.epochs,
      lambda fit: (f"test accuracy {fit.accuracy:.4f}; trained in "
                   f"{fit.seconds:.1f} s"),
      callbacks=[schedule] if schedule else None)
  train_loss, train_accuracy = model.evaluate(
      dataset.x_train, dataset.y_train, batch_size=EVALUATION_BATCH,
      verbose=0)
  fitted = [epoch + 1
            for epoch, accuracy in enumerate(fit.history["accuracy"])
            if accuracy >= FIT_THRESHOLD]
  run = common.Run(
      label,
      {"train loss": train_loss, "train accuracy": train_accuracy,
       "test accuracy": fit.accuracy,
       f"first epoch at {FIT_THRESHOLD:.0%} train accuracy":
           str(fitted[0]) if fitted else "-"},
      fit.seconds)
  return run, fit.history, schedule


def curve_epochs():
  """CURVE_POINTS epochs spread over the run, first and last included."""
  points = np.linspace(1, FLAGS.epochs, min(CURVE_POINTS, FLAGS.epochs))
  return sorted({int(round(epoch)) for epoch in points})


def print_curves(histories):
  """The training loss and accuracy of every run at `curve_epochs()`."""
  epochs = curve_epochs()
  width = max(len(label) for label in histories)
  print(f"\nTraining curves (loss and accuracy of the training batches, "
        f"noise included) at epochs {', '.join(map(str, epochs))}:")
  for label, history in histories.items():
    for i, key in enumerate(("loss", "accuracy")):
      values = " ".join(f"{history[key][epoch - 1]:.3f}" for epoch in epochs)
      print(f"  {(label if i == 0 else '').ljust(width)}  {key:<8} {values}")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  dataset = make_dataset(FLAGS.seed)
  optimizer = (f"Adam({FLAGS.learning_rate})" if FLAGS.optimizer == "adam"
               else f"SGD({FLAGS.learning_rate}, momentum={MOMENTUM})")
  print(f"Data: {FLAGS.bits}-bit parity, {FLAGS.examples} training and "
        f"{TEST_EXAMPLES} test vectors of random bits, seed {FLAGS.seed} "
        f"(training labels: {dataset.y_train.mean():.1%} odd).")
  print(f"Training: MLPs of {FLAGS.layers} hidden layers of {FLAGS.units} "
        f"sigmoid units, plain and mollified (MollifyingBlock, c="
        f"{FLAGS.c:g}, MollificationSchedule(k={FLAGS.k:g})), "
        f"{optimizer}, {FLAGS.epochs} epochs of batch size "
        f"{FLAGS.batch_size}.", flush=True)

  runs, histories = [], {}
  for mollified in (False, True):
    run, history, schedule = train(dataset, mollified)
    runs.append(run)
    histories[run.label] = history

  print_curves(histories)
  print()
  print(common.format_runs(runs, label="model"))
  print(f"\nTrain loss and accuracy: evaluated on the training set after "
        f"training, without noise (the mollified layers at the noise's "
        f"expectation). Train time: the wall-clock time of model.fit "
        f"(tracing excluded by a warm-up), on {common.describe_machine()}.")
  print(f"Mollified: final levels p by layer, input first, after "
        f"{schedule.t} steps: "
        f"{' '.join(f'{level:.3f}' for level in schedule.levels)}.")


if __name__ == "__main__":
  app.run(main)
