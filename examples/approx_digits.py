r"""Trains one small network per activation on the digits and compares the runs.

The same network -- same seed, same initial weights, same data order -- is
trained once with each activation in --activations, then a table compares the
final training loss, the test accuracy and the training time of the runs. The
data is scikit-learn's bundled digits (1797 8x8 images, no download), or your
own arrays with --data_path.

The default network is an LSTM reading the 8 rows of an image as 8 steps, with
the activation under test as its `activation` (the tanh that the paper's
CharRNN replaces) and `recurrent_activation` from --recurrent_activations;
--model=mlp trains a 64-64-64-10 perceptron with it in both hidden layers.

Usage:

  python examples/approx_digits.py
  python examples/approx_digits.py --model=mlp --epochs=20
  python examples/approx_digits.py --activations=tanh,tanh,tanh_pade_4_4 \
      --recurrent_activations=sigmoid,sigm_fastexp_512,sigm_fastexp_512
  python examples/approx_digits.py --data_path=mine.npz --export_dir=/tmp/m
"""

from absl import app
from absl import flags
import keras

import common
import tf_approx  # pylint: disable=unused-import  (makes the names known to Keras)

LSTM_UNITS = 32
MLP_UNITS = 64

common.define_flags(activations=["tanh", "tanh_pade_4_4", "serp"], epochs=10,
                    batch_size=32)
flags.adopt_module_key_flags(common)  # so --helpshort lists them
flags.DEFINE_enum("model", "lstm", ["lstm", "mlp"],
                  f"lstm: LSTM({LSTM_UNITS}) over the image rows; mlp: two "
                  f"Dense({MLP_UNITS}) hidden layers. Both use the activation "
                  "under test.")
flags.DEFINE_list(
    "recurrent_activations", ["sigmoid"],
    "--model=lstm only: the LSTM's recurrent_activation, one name for every "
    "run or one per --activations entry.")
flags.register_validator("recurrent_activations", common.check_activations)
flags.DEFINE_float("learning_rate", 0.01, "Adam's learning rate.",
                   lower_bound=0.0)

FLAGS = flags.FLAGS


def build_model(input_shape, num_classes, activation, recurrent_activation):
  """The --model network with `activation` under test, compiled."""
  if FLAGS.model == "lstm":
    hidden = [
        # Steps along the first axis, everything else as features.
        keras.layers.Reshape((input_shape[0], -1)),
        # cuDNN would run only the tanh/sigmoid run, and only on GPU: every
        # run takes the same path, or the times compare implementations.
        keras.layers.LSTM(LSTM_UNITS, activation=activation,
                          recurrent_activation=recurrent_activation,
                          use_cudnn=False),
    ]
  else:
    hidden = [
        keras.layers.Flatten(),
        keras.layers.Dense(MLP_UNITS, activation=activation),
        keras.layers.Dense(MLP_UNITS, activation=activation),
    ]
  model = keras.Sequential(
      [keras.Input(input_shape), *hidden, keras.layers.Dense(num_classes)],
      name=f"digits_{FLAGS.model}")
  common.compile_classifier(model,
                            keras.optimizers.Adam(FLAGS.learning_rate))
  return model


def train(dataset, activation, recurrent_activation, label):
  """Trains a fresh network with `activation`; returns (run, model)."""
  common.fresh_start(FLAGS.seed)
  model = build_model(dataset.x_train.shape[1:], dataset.num_classes,
                      activation, recurrent_activation)
  fit = common.fit_and_evaluate(
      model, dataset, label, FLAGS.seed, FLAGS.batch_size, FLAGS.epochs,
      summary=lambda fit: (f"test accuracy {fit.accuracy:.4f}; fit "
                           f"{fit.seconds:.2f} s"))
  scores = {"final train loss": fit.losses[-1], "test accuracy": fit.accuracy}
  return common.Run(label, scores, fit.seconds), model


def recurrent_activations():
  """--recurrent_activations, one per --activations entry."""
  names = FLAGS.recurrent_activations
  if FLAGS.model != "lstm":
    if FLAGS["recurrent_activations"].present:
      raise app.UsageError("--recurrent_activations needs --model=lstm")
    return [None] * len(FLAGS.activations)
  if len(names) == 1:
    return names * len(FLAGS.activations)
  if len(names) != len(FLAGS.activations):
    raise app.UsageError(
        f"--recurrent_activations: give one name or one per --activations "
        f"entry ({len(FLAGS.activations)}), got {len(names)}")
  return names


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  recurrent = recurrent_activations()
  paired = len(set(recurrent)) > 1
  dataset = common.load_dataset(FLAGS.dataset, FLAGS.data_path)
  print(f"Data: {dataset.describe()}")
  shared = "" if paired or recurrent[0] is None else (
      f", recurrent_activation {recurrent[0]}")
  print(f"Training: --model={FLAGS.model}{shared}, Adam({FLAGS.learning_rate})"
        f", {FLAGS.epochs} epochs of batch size {FLAGS.batch_size}, seed "
        f"{FLAGS.seed}, once per activation:", flush=True)

  runs = []
  for activation, recurrent_activation in zip(FLAGS.activations, recurrent):
    label = (f"{activation} / {recurrent_activation}" if paired
             else activation)
    run, model = train(dataset, activation, recurrent_activation, label)
    runs.append(run)

  print()
  print(common.format_runs(
      runs, label="activation / recurrent" if paired else "activation"))
  common.print_timing_note(model)

  common.export(model, runs[-1].label, FLAGS.export_dir)


if __name__ == "__main__":
  app.run(main)
