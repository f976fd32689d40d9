r"""Deep fried convnets: LeNet with (Adaptive) Fastfood instead of Dense layers.

Reproduces the comparison of Table 3.1 of the thesis (section 3.9, after Yang
et al., "Deep Fried Convnets", ICCV 2015) on the digits: Caffe's LeNet, the
thesis' reference model -- conv 5x5x20, max-pool 2, conv 5x5x50, max-pool 2,
a hidden layer of 500 ReLUs on the 800 features, softmax over 10 classes --
against the same net with its hidden layer replaced by a Fastfood transform
of --features features and a ReLU. One run per --models entry (and, for the
two Fastfood models, per --features entry):

  dense:             `keras.layers.Dense(500, activation='relu')`, the
                     reference.
  fastfood:          `tf_approx.layers.Fastfood(features, adaptive=False,
                     activation='relu', stddev=--stddev)`: S, G and B stay at
                     their random initialisation (Le et al.'s Fastfood).
  adaptive_fastfood: `tf_approx.layers.Fastfood(features, adaptive=True,
                     activation='relu')`: S, G and B are trained by
                     backpropagation with the rest of the net.

Every layer is trained jointly from scratch, as in the thesis; with --dropout
> 0 a Dropout layer follows the hidden layer (the thesis' runs without it are
its "(ND)" rows). Every run starts from the same seed, hence the same
convolution weights and data order; the two Fastfood runs of one size also
start from the same S, G, B and permutation (with the default --stddev).

The table prints, per run, the test error next to the thesis' MNIST error for
that row, and the parameters counted as the thesis counts them next to its
count: weights without biases, and S, G and B (3 * blocks * d, d = 1024 for
800 inputs, blocks = ceil(features / d)) of both Fastfood variants, trained
or not; the permutation, a lookup table, is not counted. That gives the
thesis' 430,500 for the reference and 52,124 for Fastfood 2048, and 38,812
for Fastfood 1024, 9 fewer than the thesis' 38,821, a difference that no set
of biases explains. The "trainable" column is what Keras trains instead:
biases included, and S, G and B only when adaptive. `model.count_params()`,
printed under the table for the last run, counts every weight: biases, a
non-adaptive layer's frozen S, G and B, and the int32 permutation (blocks *
d).

The errors are not the thesis' numbers: it trains on MNIST (60,000 images,
tested on 10,000) and reports the best of a search over the non-adaptive
transform's scale; the digits are 1438 8x8 training images, resized to 28x28
(bilinearly, inside the model, so an exported model takes the original
images), and 359 test images, each 0.28% of the error. --dataset=mnist
trains on MNIST when Keras has it cached (the example never downloads it;
about 40 times slower per epoch than the digits). The thesis searched the
standard deviation of the non-adaptive transform's Gaussian matrix over
0.001, 0.005, 0.01 and 0.05, a scale that depends on how its implementation
normalises H and need not carry over; --stddev is the standard deviation of
the entries of the Gaussian matrix our V = S H G Π H B imitates (H
orthonormal), by default 1 / sqrt(800) ~ 0.035, as LeCun-normal Dense
kernels.

Adam (--learning_rate 0.001), batch size 64 as Caffe's LeNet, and 15 epochs
by default: the five default runs take well under a minute on two CPU cores.

Usage:

  python examples/deep_fried.py
  python examples/deep_fried.py --dropout=0.5 --epochs=30
  python examples/deep_fried.py --models=fastfood --features=512,1024,4096 \
      --stddev=0.01
  python examples/deep_fried.py --dataset=mnist --epochs=5 \
      --export_dir=/tmp/deep_fried
"""

import sys

from absl import app
from absl import flags
import keras
import numpy as np

import common
import tf_approx

INPUT_SIZE = 28
DENSE_UNITS = 500
MODELS = ("dense", "fastfood", "adaptive_fastfood")
# Thesis Table 3.1 (MNIST): test error in % without dropout ("ND") and with,
# and parameters. Its reference model has no dropout run.
THESIS_ERRORS = {
    ("dense", DENSE_UNITS): ("0.87", "0.87"),
    ("fastfood", 1024): ("0.83", "0.71"),
    ("adaptive_fastfood", 1024): ("0.86", "0.72"),
    ("fastfood", 2048): ("0.90", "0.71"),
    ("adaptive_fastfood", 2048): ("0.92", "0.73"),
}
THESIS_PARAMS = {DENSE_UNITS: 430500, 1024: 38821, 2048: 52124}


common.define_flags(activations=None, epochs=15, batch_size=64)
flags.adopt_module_key_flags(common)  # so --helpshort lists them
flags.DEFINE_list(
    "models", list(MODELS),
    "Hidden layers to compare, one training run each (the Fastfood ones once "
    f"per --features): dense is Dense({DENSE_UNITS}), the reference; "
    "fastfood is a non-adaptive Fastfood layer, adaptive_fastfood an "
    "adaptive one. Train times are reported as ratios to the first run.")
flags.register_validator("models", common.choices_validator(MODELS, "model"))
flags.DEFINE_list(
    "features", ["1024", "2048"],
    "Features (outputs) of the Fastfood layers, one run per entry and "
    "Fastfood model.")
flags.register_validator("features",
                          common.positive_ints_validator("features"))
flags.DEFINE_float(
    "dropout", 0.0,
    "Dropout rate after the hidden layer; 0: no dropout, the thesis' (ND) "
    "runs.", lower_bound=0.0, upper_bound=0.99)
flags.DEFINE_float(
    "stddev", None,
    "The non-adaptive Fastfood layer's `stddev`: the standard deviation of "
    "the entries of the Gaussian matrix it imitates. Default: 1 / sqrt(input "
    "features). The adaptive layer always starts from the default.")
flags.register_validator(
    "stddev", lambda value: value is None or value > 0,
    "--stddev must be > 0")
flags.DEFINE_float("learning_rate", 0.001, "Adam's learning rate.",
                   lower_bound=0.0)

FLAGS = flags.FLAGS


def make_hidden(model, features):
  """The hidden layer of `model` (one of MODELS) with `features` outputs."""
  if model == "dense":
    return keras.layers.Dense(features, activation="relu", name="hidden")
  adaptive = model == "adaptive_fastfood"
  return tf_approx.layers.Fastfood(
      features, adaptive=adaptive, activation="relu",
      stddev=None if adaptive else FLAGS.stddev, name="hidden")


def build_model(input_shape, num_classes, model, features):
  """Caffe's LeNet with the hidden layer of `model`, compiled."""
  if len(input_shape) not in (2, 3):
    raise app.UsageError(
        f"LeNet takes images, [height, width] or [height, width, channels] "
        f"per sample; the data has samples of shape {input_shape}")
  inputs = [keras.Input(input_shape)]
  if len(input_shape) == 2:
    inputs.append(keras.layers.Reshape((*input_shape, 1)))
  if tuple(input_shape[:2]) != (INPUT_SIZE, INPUT_SIZE):
    inputs.append(keras.layers.Resizing(INPUT_SIZE, INPUT_SIZE))
  # The convolutions are made first: their initializers draw their seeds
  # when made, so every run starts from the same convolution weights.
  convolutions = [
      keras.layers.Conv2D(20, 5, name="conv1"),
      keras.layers.MaxPooling2D(2, name="pool1"),
      keras.layers.Conv2D(50, 5, name="conv2"),
      keras.layers.MaxPooling2D(2, name="pool2"),
      keras.layers.Flatten(),
  ]
  hidden = [make_hidden(model, features)]
  if FLAGS.dropout:
    hidden.append(keras.layers.Dropout(FLAGS.dropout))
  network = keras.Sequential(
      [*inputs, *convolutions, *hidden,
       keras.layers.Dense(num_classes, name="logits")],
      name=f"lenet_{model}")
  common.compile_classifier(network,
                            keras.optimizers.Adam(FLAGS.learning_rate))
  return network


def size(weights):
  return int(sum(np.prod(w.shape) for w in weights))


def thesis_params(network):
  """Parameters as the thesis counts them: no biases, no permutation.

  The kernels of the convolutions and Dense layers, and S, G and B of a
  Fastfood layer, adaptive or not.
  """
  weights = []
  for layer in network.layers:
    if isinstance(layer, tf_approx.layers.Fastfood):
      weights += [layer.s, layer.g, layer.b]
    elif hasattr(layer, "kernel"):
      weights.append(layer.kernel)
  return size(weights)


def runs_to_make():
  """(model, features) of every run, in order."""
  runs = []
  for model in FLAGS.models:
    if model == "dense":
      runs.append((model, DENSE_UNITS))
    else:
      runs += [(model, int(features)) for features in FLAGS.features]
  return runs


def label(model, features):
  return model if model == "dense" else f"{model} {features}"


def train(dataset, model, features):
  """Trains a fresh LeNet with the hidden layer of `model`.

  Returns:
    (run, network).
  """
  name = label(model, features)
  common.fresh_start(FLAGS.seed)
  network = build_model(dataset.x_train.shape[1:], dataset.num_classes,
                        model, features)
  fit = common.fit_and_evaluate(
      network, dataset, name, FLAGS.seed, FLAGS.batch_size, FLAGS.epochs,
      lambda fit: (f"test error {100 * (1 - fit.accuracy):.2f}%; fit "
                   f"{fit.seconds:.2f} s"))
  error = f"{100 * (1 - fit.accuracy):.2f}"
  thesis_error = THESIS_ERRORS.get((model, features), ("-", "-"))
  scores = {"features": features,
            "params": thesis_params(network),
            "trainable": size(network.trainable_weights),
            "test error (%)": error,
            "thesis error (%)": thesis_error[1 if FLAGS.dropout else 0],
            "thesis params": THESIS_PARAMS.get(features, "-")}
  return common.Run(name, scores, fit.seconds), network


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  try:
    dataset = common.load_dataset(FLAGS.dataset, FLAGS.data_path)
  except FileNotFoundError as e:  # an uncached MNIST: just say so
    sys.exit(f"Error: {e}")
  print(f"Data: {dataset.describe()}")
  dropout = (f"dropout {FLAGS.dropout}" if FLAGS.dropout
             else "no dropout (ND)")
  stddev = "1/sqrt(inputs)" if FLAGS.stddev is None else FLAGS.stddev
  print(f"Training: LeNet on {INPUT_SIZE}x{INPUT_SIZE} inputs, {dropout}, "
        f"non-adaptive Fastfood stddev {stddev}, Adam({FLAGS.learning_rate}), "
        f"{FLAGS.epochs} epochs of batch size {FLAGS.batch_size}, seed "
        f"{FLAGS.seed}, once per hidden layer:", flush=True)

  runs = []
  for model, features in runs_to_make():
    run, network = train(dataset, model, features)
    runs.append(run)

  print()
  print(common.format_runs(runs, label="model"))
  print(f"\nparams: weights as thesis Table 3.1 counts them, without biases, "
        f"with Fastfood's S, G and B (trained or not), without its "
        f"permutation; trainable: what Keras trains, biases included. The "
        f"thesis columns are its MNIST results "
        f"{'with dropout' if FLAGS.dropout else 'without dropout (ND)'} "
        f"(the best stddev for non-adaptive Fastfood; the reference has no "
        f"dropout), for comparison, not expected on {dataset.name}.")
  common.print_timing_note(network)

  common.export(network, runs[-1].label, FLAGS.export_dir)


if __name__ == "__main__":
  app.run(main)
