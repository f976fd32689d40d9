r"""A small convnet with a SELL stack instead of its dense hidden layers.

The convolutional experiment of section 3.10.7.2 of the thesis (Moczulski et
al., "ACDC: A Structured Efficient Linear Layer", ICLR 2016), scaled down
from CaffeNet on ImageNet to the digits: the two fully connected hidden
layers between the convolutions and the logits are replaced by a cascade of
ACDC layers interleaved with ReLUs and fixed random permutations. The
convolutional part -- conv 3x3x32, ReLU, max-pool 2, conv 3x3x64, ReLU,
max-pool 2, flatten (256 features for the 8x8 digits, 3136 for 28x28 MNIST)
-- is followed by one of the hidden parts in --models, then logits:

  dense: two `keras.layers.Dense(256, activation='relu')`, the reference.
  sell:  `tf_approx.layers.SELL(depth=K, units=256, activation='relu')`, K
         from --depths: K ACDC layers as wide as the features, with biases,
         a ReLU after each and a permutation between them; its output is
         truncated to 256 (a no-op for the digits' 256 features), so both
         models end in the same Dense(10).

Every run starts from the same seed, hence the same convolution weights and
data order. The table prints, per run, K, the trainable parameters of the
hidden part and of the whole model, and the test error. A SELL of depth K on
N features trains 3 * K * N parameters (a, d and a bias per layer) instead of
the two Dense layers' 2 * 256² + N * 256 + 512; its permutations, an int32
lookup table, are not trained or counted.

Of the thesis' training recipe only the initialisation of the diagonals
carries over: N(1, 0.1²) here (the thesis: N(1, 0.061)), biases 0. It also
scaled the convolutions' output by 0.1, multiplied the learning rates of A
and D by 24 and 12, and put dropout before the last 5 of its 12 ACDC layers;
this example trains every weight alike, with Adam (--learning_rate 0.001),
batch size 64, 30 epochs, no dropout. The digits are 1438 training and 359
test images, each 0.28% of the error, so differences of a percent or so
between the runs are noise (rerun with another --seed to see it): on the
digits every model reaches an error of a few percent or less, the SELL ones
with a tenth of the dense one's parameters or fewer. --dataset=mnist trains
on MNIST when Keras has it cached (the example never downloads it). The four
default runs take under a minute on two CPU cores.

Usage:

  python examples/acdc_convnet.py
  python examples/acdc_convnet.py --depths=1,2,4,8,12,16 --epochs=40
  python examples/acdc_convnet.py --dataset=mnist --epochs=3 --depths=12 \
      --export_dir=/tmp/acdc_convnet
"""

import sys

from absl import app
from absl import flags
import keras
import numpy as np

import common
import tf_approx

HIDDEN_UNITS = 256
MODELS = ("dense", "sell")


common.define_flags(activations=None, epochs=30, batch_size=64)
flags.adopt_module_key_flags(common)  # so --helpshort lists them
flags.DEFINE_list(
    "models", list(MODELS),
    f"Hidden parts to compare, one training run each (sell once per "
    f"--depths): dense is two Dense({HIDDEN_UNITS}) layers, the reference; "
    f"sell a SELL stack of ACDC layers. Train times are reported as ratios "
    f"to the first run.")
flags.register_validator("models", common.choices_validator(MODELS, "model"))
flags.DEFINE_list("depths", ["1", "4", "12"],
                  "Depths K (numbers of ACDC layers) of the SELL stacks, one "
                  "run per entry.")
flags.register_validator("depths", common.positive_ints_validator("depths"))
flags.DEFINE_float("learning_rate", 0.001, "Adam's learning rate.",
                   lower_bound=0.0)

FLAGS = flags.FLAGS


def make_hidden(model, depth):
  """The hidden layers of `model` (one of MODELS)."""
  if model == "dense":
    return [keras.layers.Dense(HIDDEN_UNITS, activation="relu",
                               name=f"hidden{i}") for i in (1, 2)]
  return [tf_approx.layers.SELL(depth=depth, units=HIDDEN_UNITS,
                                activation="relu", seed=FLAGS.seed,
                                name="sell")]


def build_model(input_shape, num_classes, model, depth):
  """The convnet with the hidden part of `model`, compiled."""
  if len(input_shape) not in (2, 3):
    raise app.UsageError(
        f"The convnet takes images, [height, width] or [height, width, "
        f"channels] per sample; the data has samples of shape {input_shape}")
  inputs = [keras.Input(input_shape)]
  if len(input_shape) == 2:
    inputs.append(keras.layers.Reshape((*input_shape, 1)))
  # The convolutions are made first: their initializers draw their seeds
  # when made, so every run starts from the same convolution weights.
  convolutions = [
      keras.layers.Conv2D(32, 3, padding="same", activation="relu",
                          name="conv1"),
      keras.layers.MaxPooling2D(2, name="pool1"),
      keras.layers.Conv2D(64, 3, padding="same", activation="relu",
                          name="conv2"),
      keras.layers.MaxPooling2D(2, name="pool2"),
      keras.layers.Flatten(),
  ]
  hidden = make_hidden(model, depth)
  network = keras.Sequential(
      [*inputs, *convolutions, *hidden,
       keras.layers.Dense(num_classes, name="logits")],
      name=f"convnet_{model}")
  common.compile_classifier(network,
                            keras.optimizers.Adam(FLAGS.learning_rate))
  return network, hidden


def trainable_params(layers):
  return int(sum(np.prod(w.shape) for layer in layers
                 for w in layer.trainable_weights))


def runs_to_make():
  """(model, depth) of every run, in order; depth None for dense."""
  runs = []
  for model in FLAGS.models:
    if model == "dense":
      runs.append((model, None))
    else:
      runs += [(model, int(depth)) for depth in FLAGS.depths]
  return runs


def train(dataset, model, depth):
  """Trains a fresh convnet with the hidden part of `model`.

  Returns:
    (run, network).
  """
  name = model if depth is None else f"{model} {depth}"
  common.fresh_start(FLAGS.seed)
  network, hidden = build_model(dataset.x_train.shape[1:],
                                dataset.num_classes, model, depth)
  fit = common.fit_and_evaluate(
      network, dataset, name, FLAGS.seed, FLAGS.batch_size, FLAGS.epochs,
      lambda fit: (f"test error {100 * (1 - fit.accuracy):.2f}%; fit "
                   f"{fit.seconds:.2f} s"))
  error = f"{100 * (1 - fit.accuracy):.2f}"
  scores = {"depth": "-" if depth is None else depth,
            "hidden params": trainable_params(hidden),
            "params": trainable_params([network]),
            "test error (%)": error}
  return common.Run(name, scores, fit.seconds), network


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  try:
    dataset = common.load_dataset(FLAGS.dataset, FLAGS.data_path)
  except FileNotFoundError as e:  # an uncached MNIST: just say so
    sys.exit(f"Error: {e}")
  print(f"Data: {dataset.describe()}")
  print(f"Training: convnet, Adam({FLAGS.learning_rate}), {FLAGS.epochs} "
        f"epochs of batch size {FLAGS.batch_size}, seed {FLAGS.seed}, once "
        f"per hidden part:", flush=True)

  runs = []
  for model, depth in runs_to_make():
    run, network = train(dataset, model, depth)
    runs.append(run)

  print()
  print(common.format_runs(runs, label="model"))
  print("\nhidden params: the trainable parameters between the convolutions "
        "and the logits; params: of the whole model. Neither counts SELL's "
        "permutations, which are not trained (the count of the model below "
        "does).")
  common.print_timing_note(network)

  common.export(network, runs[-1].label, FLAGS.export_dir)


if __name__ == "__main__":
  app.run(main)
