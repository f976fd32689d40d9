r"""Trains the PAU paper's LeNet with PAU, ReLU and LeakyReLU, and plots PAUs.

The LeNet of Molina et al., "Padé Activation Units" (ICLR 2020), appendix
A.3: conv 5x5x6, act, max-pool 2, conv 5x5x16, act, max-pool 2, conv
5x5x120, act, dense 84, act, dense 10 -- 61,706 weights, plus 10 per PAU, 40
in all (the paper's 61,746). The same network -- same seed, same initial
weights, same data order -- is trained once per activation in --activations,
then a table compares the final training loss, the test accuracy, the
parameter counts and the time per epoch. Finally the learned function of every
PAU layer is plotted on [-3, 3] next to the leaky ReLU it started as (the
paper's Fig. 3), one panel per layer and one row per PAU run, to --plot_path.

Every activation position gets a layer of its own; for PAU that is
`tf_approx.layers.PAU()`: order (5, 4), the safe denominator, one coefficient
set per layer, initialized as LeakyReLU(0.01). `rpau` is
`PAU(randomized=0.01)`. `leaky_relu` means LeakyReLU(0.01) as in the paper
(and PyTorch), not Keras's default slope of 0.2; any other name is a Keras or
tf_approx activation.

Images are resized to 32x32 (bilinearly, inside the model, so the exported
model takes the original images) as in the authors' code: the valid
convolutions then end at 1x1x120 and every layer has the paper's parameter
count. This upsamples the 8x8 digits (1797 images, bundled with scikit-learn,
no download) as well as the 28x28 MNIST and Fashion-MNIST images, which
--dataset=mnist or fashion_mnist reads from the Keras cache (it never
downloads them). --data_path images may have any size, and channels.

Learning settings follow the paper and the authors' code: Adam for the
weights and the PAU coefficients alike, gradients clipped to a global norm of
5 and batch size 64 (the code's defaults), no data augmentation (the code
rotates MNIST images). The paper's learning rate is lost from our copy of its
text (the code defaults to 0.01); --learning_rate is 0.002 here. The paper
trains 100 epochs; this example 15 by default, after which the training loss
on the digits is near 0, and the three default runs take about half a minute
on two CPU cores. MNIST and Fashion-MNIST have 42 times as many training
images.

Usage:

  python examples/pau_lenet.py
  python examples/pau_lenet.py --activations=pau,rpau,relu --epochs=30
  python examples/pau_lenet.py --dataset=fashion_mnist --epochs=5 \
      --plot_path=/tmp/fmnist_paus.png --export_dir=/tmp/lenet
"""

import os
import sys
import tempfile

from absl import app
from absl import flags
import keras
import numpy as np

import common
import tf_approx
from tf_approx.reference.pau import pau as reference_pau

INPUT_SIZE = 32
RPAU_ALPHA = 0.01
LEAKY_SLOPE = 0.01
# The layers followed by an activation, named as in LeNet-5 (and the authors'
# code): convolutions C1, C3, C5, dense F6.
ACTIVATED = ("c1", "c3", "c5", "f6")
PAU_NAMES = ("pau", "rpau")
PLOT_RANGE = (-3.0, 3.0)


def check_activations(names):
  """Flag validator: 'pau', 'rpau', or any name `common` accepts."""
  if not names:
    raise flags.ValidationError("give at least one activation")
  others = [name for name in names if name not in PAU_NAMES]
  return common.check_activations(others) if others else True


common.define_flags(activations=["pau", "relu", "leaky_relu"], epochs=15,
                    batch_size=64, activations_validator=check_activations)
flags.adopt_module_key_flags(common)  # so --helpshort lists them
flags.DEFINE_float("learning_rate", 0.002, "Adam's learning rate.",
                   lower_bound=0.0)
flags.DEFINE_string(
    "plot_path", os.path.join(tempfile.gettempdir(),
                              "pau_lenet_activations.png"),
    "PNG file to plot the learned PAUs to, one panel per PAU layer of every "
    "pau/rpau run. Empty: no plot.")

FLAGS = flags.FLAGS


def make_activation(name, position):
  """A fresh activation layer `name` for the layer at `position`."""
  layer_name = f"{position}_{name}"
  if name == "pau":
    return tf_approx.layers.PAU(name=layer_name)
  if name == "rpau":
    return tf_approx.layers.PAU(randomized=RPAU_ALPHA, name=layer_name)
  if name == "leaky_relu":
    return keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=layer_name)
  return keras.layers.Activation(name, name=layer_name)


def build_model(input_shape, num_classes, activation):
  """The paper's LeNet with `activation` at every position, compiled."""
  if len(input_shape) not in (2, 3):
    raise app.UsageError(
        f"LeNet takes images, [height, width] or [height, width, channels] "
        f"per sample; the data has samples of shape {input_shape}")
  inputs = [keras.Input(input_shape)]
  if len(input_shape) == 2:
    inputs.append(keras.layers.Reshape((*input_shape, 1)))
  if tuple(input_shape[:2]) != (INPUT_SIZE, INPUT_SIZE):
    inputs.append(keras.layers.Resizing(INPUT_SIZE, INPUT_SIZE))
  c1, c3, c5, f6 = (make_activation(activation, p) for p in ACTIVATED)
  model = keras.Sequential([
      *inputs,
      keras.layers.Conv2D(6, 5, name="c1"), c1,
      keras.layers.MaxPooling2D(2, name="s2"),
      keras.layers.Conv2D(16, 5, name="c3"), c3,
      keras.layers.MaxPooling2D(2, name="s4"),
      keras.layers.Conv2D(120, 5, name="c5"), c5,
      keras.layers.Flatten(),
      keras.layers.Dense(84, name="f6"), f6,
      keras.layers.Dense(num_classes, name="f7"),
  ], name="lenet")
  common.compile_classifier(
      model, keras.optimizers.Adam(FLAGS.learning_rate, global_clipnorm=5.0))
  return model


def pau_layers(model):
  return [layer for layer in model.layers
          if isinstance(layer, tf_approx.layers.PAU)]


def trainable_params(layer):
  """Trainable parameters of a layer or model (RPAU's step counter is not)."""
  return int(sum(np.prod(w.shape) for w in layer.trainable_weights))


def coefficients(layer):
  """(numerator, denominator) of a PAU layer, as NumPy arrays."""
  return layer.numerator.numpy(), layer.denominator_coefficients.numpy()


def train(dataset, activation):
  """Trains a fresh LeNet with `activation`.

  Returns:
    (run, model, paus): paus holds (layer name, denominator kind, initial
    coefficients, learned coefficients) of each PAU layer.
  """
  common.fresh_start(FLAGS.seed)
  model = build_model(dataset.x_train.shape[1:], dataset.num_classes,
                      activation)
  initial = [coefficients(layer) for layer in pau_layers(model)]
  fit = common.fit_and_evaluate(
      model, dataset, activation, FLAGS.seed, FLAGS.batch_size, FLAGS.epochs,
      lambda fit: (f"test accuracy {fit.accuracy:.4f}; "
                   f"{fit.seconds / FLAGS.epochs:.2f} s per epoch"))
  losses, accuracy = fit.losses, fit.accuracy
  per_epoch = fit.seconds / FLAGS.epochs
  scores = {"final train loss": losses[-1], "test accuracy": accuracy,
            "parameters": trainable_params(model),
            "activation parameters": sum(
                trainable_params(layer) for layer in pau_layers(model)),
            "time per epoch (s)": per_epoch}
  paus = [(layer.name, layer.denominator, init, coefficients(layer))
          for layer, init in zip(pau_layers(model), initial)]
  return common.Run(activation, scores, fit.seconds), model, paus


def plot_paus(runs_paus, path):
  """Plots every PAU layer's learned and initial function to `path` (PNG).

  Args:
    runs_paus: (run label, paus from `train`) for each run with PAUs; each
      becomes a row of panels.
    path: the PNG file to write.
  """
  plt = common.pyplot()

  columns = max(len(paus) for _, paus in runs_paus)
  fig, axes = plt.subplots(len(runs_paus), columns, squeeze=False,
                           figsize=(3.2 * columns, 3.0 * len(runs_paus)),
                           sharex=True)
  x = np.linspace(*PLOT_RANGE, 601)
  for row, (label, paus) in zip(axes, runs_paus):
    for ax, (name, kind, initial, learned) in zip(row, paus):
      ax.plot(x, reference_pau(x, *initial, kind).numpy(), "--",
              color="0.6", label="init (leaky ReLU)")
      ax.plot(x, reference_pau(x, *learned, kind).numpy(), color="C3",
              label="learned")
      ax.axhline(0, color="0.85", linewidth=0.8, zorder=0)
      ax.axvline(0, color="0.85", linewidth=0.8, zorder=0)
      ax.set_title(f"{label}: after {name.split('_')[0].upper()}")
      ax.set_xlim(*PLOT_RANGE)
    for ax in row[len(paus):]:
      ax.axis("off")
  axes[0, 0].legend(loc="upper left", fontsize="small")
  fig.suptitle(f"Learned PAUs of LeNet ({FLAGS.epochs} epochs)")
  fig.tight_layout()
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fig.savefig(path, format="png", dpi=100)
  plt.close(fig)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  try:
    dataset = common.load_dataset(FLAGS.dataset, FLAGS.data_path)
  except FileNotFoundError as e:  # an uncached MNIST: just say so
    sys.exit(f"Error: {e}")
  print(f"Data: {dataset.describe()}")
  print(f"Training: LeNet on {INPUT_SIZE}x{INPUT_SIZE} inputs, "
        f"Adam({FLAGS.learning_rate}) with global gradient norm clipped to 5, "
        f"{FLAGS.epochs} epochs of batch size {FLAGS.batch_size}, seed "
        f"{FLAGS.seed}, once per activation:", flush=True)

  runs, runs_paus = [], []
  for activation in FLAGS.activations:
    run, model, paus = train(dataset, activation)
    runs.append(run)
    if paus:
      runs_paus.append((activation, paus))

  print()
  print(common.format_runs(runs))
  common.print_timing_note(model)

  if FLAGS.plot_path and runs_paus:
    plot_paus(runs_paus, FLAGS.plot_path)
    print(f"\nPlotted the learned PAUs to {FLAGS.plot_path}.")
  elif FLAGS.plot_path:
    print("\nNo pau or rpau run, so no PAUs to plot.")

  common.export(model, runs[-1].label, FLAGS.export_dir)


if __name__ == "__main__":
  app.run(main)
