r"""The GAAF paper's MNIST MLP: base vs dropout vs gradient acceleration.

Reproduces section 5.1 and Table 4 of "Gradient Acceleration in Activation
Functions" (anonymous, under double-blind review) on the digits: a
feed-forward net of four layers, 512-256-256-10, with tanh activations,
trained from the same initial weights and data order once per --models
entry:

  base:    `keras.layers.Activation('tanh')` after each hidden layer.
  dropout: the same, with `keras.layers.Dropout(--dropout_rate)` after each
           hidden activation (none on the inputs, as in the paper).
  gaaf:    `tf_approx.layers.GAAF('tanh', k=--gaaf_k)` in place of tanh:
           tanh(x) + g(x) s(x), g(x) = (xK - floor(xK) - 0.5) / K, which
           is tanh within 1/(2K) forward but has the gradient tanh'(x) +
           s(x), with the shape s(x) = exp(-|x|) (the paper's "exponential
           function" for tanh; it only plots it, the form is tf_approx's).

The first table prints each run's test accuracy and epochs to converge next to
the paper's (MNIST, mean of five runs). The paper does not say when a run has
converged; here the last --validation_split (20%) of the training split is
held out, and a run has converged at the last epoch that lowered the
validation loss by at least --min_delta (0.001) once --patience (10) epochs
have passed without doing so again (`keras.callbacks.EarlyStopping`); training
stops there and that epoch's weights are restored and tested. A run that hits
--epochs (200) first is reported with its best epoch and a '+'.

The second table prints the gradient information of the paper's eq. 5 for
every Dense layer k: G_k, the mean absolute gradient of one sample's loss by
the layer's kernel, averaged over the samples of the training split, with the
initial weights and with the trained ones (the paper averages it over the
iterations of training instead, Table 2 and section 5.1). As in the training
steps, dropout is active while it is measured. G1 to G3 are the paper's
Layer1 to Layer3; G4, the logits' kernel, is not in the paper.

What the paper leaves out is chosen here: SGD with --learning_rate 0.01 and
--momentum 0.9, batch size 64, dropout rate 0.5, Glorot-uniform weights. The
digits are 1438 8x8 training images (1150 to fit, 288 to validate) and 359
test images, each 0.28% of the accuracy, so differences of a percent between
the runs are noise (rerun with another --seed to see it). With the defaults
base converges at epoch 119, dropout and GAAF at 76 (the paper: 82, 169 and
114), all three at 96% to 97% test accuracy, and GAAF's G1 is 7 times base's
at the start and 3 times at the end. --dataset=mnist trains on MNIST's 60,000
images when Keras has them cached (the example never downloads them). The
three default runs take about a minute on two CPU cores.

Usage:

  python examples/gaaf_mlp.py
  python examples/gaaf_mlp.py --models=base,gaaf --patience=20 --seed=1
  python examples/gaaf_mlp.py --dataset=mnist --epochs=50 \
      --export_dir=/tmp/gaaf_mlp
"""

import sys

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

import common
import tf_approx

HIDDEN_UNITS = (512, 256, 256)
MODELS = ("base", "dropout", "gaaf")
# The paper's Table 4 (MNIST, mean of five runs): test accuracy (%) and the
# epochs to converge.
PAPER = {"base": ("98.23", "82"), "dropout": ("98.40", "169"),
         "gaaf": ("98.35", "114")}
# Chunk of the training split whose gradients `gradient_magnitudes` takes at
# once.
GRADIENT_CHUNK = 2048


common.define_flags(activations=None, epochs=200, batch_size=64)
flags.adopt_module_key_flags(common)  # so --helpshort lists them
flags.DEFINE_list(
    "models", list(MODELS),
    "Models to compare, one training run each: base is the tanh MLP, dropout "
    "the same with Dropout(--dropout_rate) after every hidden layer, gaaf "
    "the same with tf_approx.layers.GAAF('tanh') for its activations. Train "
    "times are reported as ratios to the first run.")
flags.register_validator("models", common.choices_validator(MODELS, "model"))
flags.DEFINE_float("dropout_rate", 0.5, "Dropout rate of the dropout model.",
                   lower_bound=0.0, upper_bound=0.99)
flags.DEFINE_float("gaaf_k", 10000.0,
                   "Frequency constant K of GAAF's g(x) (the paper's 10,000).",
                   lower_bound=1.0)
flags.DEFINE_float("learning_rate", 0.01, "SGD's learning rate.",
                   lower_bound=0.0)
flags.DEFINE_float("momentum", 0.9, "SGD's momentum.", lower_bound=0.0,
                   upper_bound=1.0)
flags.DEFINE_float(
    "validation_split", 0.2,
    "Fraction of the training split held out (its last samples) to decide "
    "convergence on.", lower_bound=0.01, upper_bound=0.5)
flags.DEFINE_integer(
    "patience", 10,
    "A run has converged at the last epoch that lowered the validation loss "
    "(by --min_delta) once that many epochs after it have not; training "
    "stops there and restores that epoch's weights. Runs that reach "
    "--epochs first are reported with their best epoch and a '+'.",
    lower_bound=1)
flags.DEFINE_float(
    "min_delta", 0.001,
    "Smallest fall of the validation loss that counts as lowering it.",
    lower_bound=0.0)

FLAGS = flags.FLAGS


def build_model(input_shape, num_classes, model):
  """The 512-256-256 tanh MLP of `model` (one of MODELS), compiled."""
  # The Dense layers are made first, so that their initializers draw the
  # same seeds, and every model starts from the same weights.
  dense = [keras.layers.Dense(units, name=f"dense{k}")
           for k, units in enumerate(HIDDEN_UNITS, 1)]
  logits = keras.layers.Dense(num_classes, name="logits")
  layers = [keras.Input(input_shape), keras.layers.Flatten()]
  for k, layer in enumerate(dense, 1):
    layers.append(layer)
    if model == "gaaf":
      layers.append(tf_approx.layers.GAAF("tanh", k=FLAGS.gaaf_k,
                                          name=f"gaaf{k}"))
    else:
      layers.append(keras.layers.Activation("tanh", name=f"tanh{k}"))
    if model == "dropout":
      layers.append(keras.layers.Dropout(FLAGS.dropout_rate,
                                         seed=FLAGS.seed + k,
                                         name=f"dropout{k}"))
  network = keras.Sequential([*layers, logits], name=f"mlp_{model}")
  common.compile_classifier(
      network, keras.optimizers.SGD(FLAGS.learning_rate,
                                    momentum=FLAGS.momentum))
  return network


def gradient_magnitudes(model, x, y):
  """G_k of the paper's eq. 5 for every Dense layer k of `model`, on (x, y).

  G_k is the mean over the samples n of the mean over the weights W_ij of
  layer k of |dE_n / dW_ij|, E_n the cross-entropy of sample n alone. The
  gradient of one sample's loss by a Dense kernel is the outer product of
  the layer's input a_n and of dE_n / dz_n, z_n the layer's output, so the
  mean of its magnitude is mean_i |a_ni| * mean_j |dE_n / dz_nj|: one
  backward pass of the summed loss gives it for every sample at once. Dropout
  is active, as in the training steps the paper averages over.

  Returns:
    A NumPy array, one G per Dense layer, input side first.
  """
  totals = 0.0
  for start in range(0, len(x), GRADIENT_CHUNK):
    h = tf.convert_to_tensor(x[start:start + GRADIENT_CHUNK])
    with tf.GradientTape() as tape:
      inputs, nets = [], []
      for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
          inputs.append(h)
          h = layer(h)
          nets.append(h)
        else:
          h = layer(h, training=True)
      loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(
          y[start:start + GRADIENT_CHUNK], h, from_logits=True))
    deltas = tape.gradient(loss, nets)
    totals += np.array([
        np.sum(np.mean(np.abs(a), axis=1) * np.mean(np.abs(d), axis=1))
        for a, d in zip(inputs, deltas)])
  return totals / len(x)


def train(dataset, model):
  """Trains a fresh MLP `model` until it converges, or for --epochs.

  Returns:
    (run, network, gradients): gradients are (G before, G after training).
  """
  common.fresh_start(FLAGS.seed)
  network = build_model(dataset.x_train.shape[1:], dataset.num_classes, model)
  before = gradient_magnitudes(network, dataset.x_train, dataset.y_train)
  stopping = keras.callbacks.EarlyStopping(
      monitor="val_loss", patience=FLAGS.patience, min_delta=FLAGS.min_delta,
      restore_best_weights=True)
  fit = common.fit_and_evaluate(
      network, dataset, model, FLAGS.seed, FLAGS.batch_size, FLAGS.epochs,
      lambda fit: (f"test accuracy {100 * fit.accuracy:.2f}%; "
                   f"{len(fit.losses)} epochs in {fit.seconds:.2f} s"),
      callbacks=[stopping], validation_split=FLAGS.validation_split)
  after = gradient_magnitudes(network, dataset.x_train, dataset.y_train)
  converged = stopping.stopped_epoch > 0
  epochs = f"{stopping.best_epoch + 1}{'' if converged else '+'}"
  paper_accuracy, paper_epochs = PAPER[model]
  scores = {"test accuracy (%)": f"{100 * fit.accuracy:.2f}",
            "epochs to converge": epochs,
            "epochs run": len(fit.losses),
            "val loss": fit.history["val_loss"][stopping.best_epoch],
            "paper accuracy (%)": paper_accuracy,
            "paper epochs": paper_epochs}
  return common.Run(model, scores, fit.seconds), network, (before, after)


def format_gradients(gradients, num_layers):
  """The G_k of every run before and after training, as a Markdown table."""
  header = ["model, weights", *(f"G{k}" for k in range(1, num_layers + 1))]
  rows = []
  for model, (before, after) in gradients.items():
    for when, values in (("initial", before), ("trained", after)):
      rows.append([f"{model}, {when}", *(f"{g:.2e}" for g in values)])
  return common.format_table(header, rows)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  try:
    dataset = common.load_dataset(FLAGS.dataset, FLAGS.data_path)
  except FileNotFoundError as e:  # an uncached MNIST: just say so
    sys.exit(f"Error: {e}")
  print(f"Data: {dataset.describe()}")
  print(f"Training: 512-256-256 tanh MLP, SGD({FLAGS.learning_rate}, "
        f"momentum {FLAGS.momentum}), batch size {FLAGS.batch_size}, seed "
        f"{FLAGS.seed}, until the validation loss (last "
        f"{FLAGS.validation_split:.0%} of the training split) has not "
        f"improved for {FLAGS.patience} epochs, at most {FLAGS.epochs} "
        f"epochs, once per model:", flush=True)

  runs, gradients = [], {}
  for model in FLAGS.models:
    run, network, gradients[model] = train(dataset, model)
    runs.append(run)

  print()
  print(common.format_runs(runs, label="model"))
  print(f"\nepochs to converge: the last epoch that lowered the validation "
        f"loss by {FLAGS.min_delta:g} or more, followed by {FLAGS.patience} "
        f"epochs that did not ('+': "
        f"--epochs ran out first); the test accuracy is that epoch's. The "
        f"paper columns are its Table 4, MNIST, mean of five runs.")
  print()
  print(format_gradients(gradients, len(HIDDEN_UNITS) + 1))
  print(f"\nG_k (the paper's eq. 5): the mean absolute gradient of one "
        f"sample's loss by the kernel of Dense layer k (G4: the logits), "
        f"averaged over the {len(dataset.x_train)} training samples, with the "
        f"initial and with the trained weights. The paper's (MNIST, averaged "
        f"over training) Layer1 to Layer3, Table 2: base 1.07e-04, 1.40e-04, "
        f"9.35e-05; dropout 5.93e-04, 6.52e-04, 5.83e-04; section 5.1, GAAF, "
        f"in an order it does not name: 1.15e-03, 6.43e-04, 1.78e-04.")
  common.print_timing_note(network)

  common.export(network, runs[-1].label, FLAGS.export_dir)


if __name__ == "__main__":
  app.run(main)
