"""The three workloads of the approximation paper, shared by its trainers.

Section 4 of *Approximating Activation Functions* trains three networks with
each approximation in turn and compares their loss and training time with
the exact tanh and sigmoid; it measured them in Flux only. Here they are in
Keras, one `Workload` each, used by `convnet.py`, `autoencoder.py`,
`char_rnn.py` (one run, with Keras progress bars) and by
`reproduce_table1.py` (every approximation, several seeds):

  convnet      the Flux model zoo's MNIST classifier the paper used: three 3x3
               convolutions (16, 32, 32 filters, each followed by the
               activation and 2x2 max-pooling), then Dense(10) on logits;
               cross-entropy.
  autoencoder  the Flux model zoo's MNIST autoencoder: Dense(32) then
               Dense(784), both with the activation; mean squared error.
  char_rnn     the Flux model zoo's character model: two LSTM(128) layers
               (`activation` and `recurrent_activation` under test) and
               Dense(vocabulary) on logits, predicting every next character
               of 50-character windows; cross-entropy. An Embedding(32)
               replaces Flux's one-hot input. The LSTMs are tf_approx's
               fused layer (`tf_approx.layers.LSTM`: one op per layer for
               the whole sequence) or Keras' own (`keras.layers.LSTM`: a
               dozen small ops per step, whose overhead dwarfs the
               activations); `lstm` picks, "fused" by default. Both have the
               same weights and compute the same function.

Images are scikit-learn's bundled digits, resized to 28x28 so the networks
are MNIST's, or MNIST itself. Text is the Python reference's help topics,
`pydoc_data.topics` (the standard library, so every Python has it: about
465,000 characters of English prose and code), or a user's file.
"""

import dataclasses
import os
import time

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

import common
import tf_approx  # also makes its activation names known to Keras

IMAGE_SIZE = 28
TEXT_SOURCE = "pydoc_data.topics"
SEQUENCE_LENGTH = 50
LSTM_UNITS = 128
# char_rnn's LSTM implementations (the trainer's --lstm), the default first.
LSTMS = ("fused", "keras")
EMBEDDING_SIZE = 32
CODE_SIZE = 32


@dataclasses.dataclass(frozen=True)
class Data:
  """Training arrays of one workload.

  Attributes:
    description: one line saying what the data is.
    x, y: inputs and targets, samples first.
    outputs: classes of a classifier, characters of the text (the vocabulary
      size) or pixels of an image.
    vocabulary: char_rnn's characters, in token order; None for images.
  """
  description: str
  x: np.ndarray
  y: np.ndarray
  outputs: int
  vocabulary: str = None


def _images(dataset, data_path):
  """Train images of `dataset` (or the .npz file) as [n, 28, 28, 1] float32,
  and the `common.Dataset` they came from."""
  split = common.load_dataset(dataset, data_path, download=True)
  x = split.x_train
  if x.ndim == 3:
    x = x[..., np.newaxis]
  if x.ndim != 4:
    raise app.UsageError(
        f"the workload takes images, [height, width] or [height, width, "
        f"channels] per sample; the data has samples of shape {x.shape[1:]}")
  if x.shape[1:3] != (IMAGE_SIZE, IMAGE_SIZE):
    x = tf.image.resize(x, (IMAGE_SIZE, IMAGE_SIZE)).numpy()
  return x, split


def load_classification(dataset, data_path):
  """convnet's data: images and their integer labels."""
  x, split = _images(dataset, data_path)
  return Data(f"{split.describe()}; {len(x)} training images at "
              f"{IMAGE_SIZE}x{IMAGE_SIZE}", x, split.y_train,
              split.num_classes)


def load_reconstruction(dataset, data_path):
  """autoencoder's data: flattened images, which are their own targets."""
  x, split = _images(dataset, data_path)
  x = x.reshape(len(x), -1)
  return Data(f"{split.describe()}; {len(x)} training images at "
              f"{IMAGE_SIZE}x{IMAGE_SIZE}, flattened to {x.shape[1]}",
              x, x, x.shape[1])


def read_corpus(data_path=None):
  """The text to learn: a user's UTF-8 file, or TEXT_SOURCE's help topics."""
  if data_path:
    with open(data_path, encoding="utf-8") as f:
      return f.read()
  from pydoc_data import topics  # pylint: disable=g-import-not-at-top
  return "\n\n".join(topics.topics[key] for key in sorted(topics.topics))


def load_text(dataset, data_path, max_chars=None,
              sequence_length=SEQUENCE_LENGTH):
  """Non-overlapping windows of the corpus: x its characters, y the next.

  Args:
    dataset: "pydoc", the only bundled corpus.
    data_path: a UTF-8 text file to learn instead.
    max_chars: keep only the corpus' first `max_chars` characters.
    sequence_length: characters per window; char_rnn's SEQUENCE_LENGTH
      unless a trainer of its own (transformer.py) says otherwise.
  """
  del dataset  # One bundled corpus.
  text = read_corpus(data_path)
  if max_chars:
    text = text[:max_chars]
  windows = (len(text) - 1) // sequence_length
  if windows < 1:
    raise app.UsageError(
        f"the text has {len(text)} characters; windows of {sequence_length} "
        f"need at least {sequence_length + 1}")
  vocabulary = "".join(sorted(set(text)))
  ids = np.searchsorted(np.array(list(vocabulary)), np.array(list(text)))
  ids = ids.astype(np.int32)
  span = windows * sequence_length
  x = ids[:span].reshape(windows, sequence_length)
  y = ids[1:span + 1].reshape(windows, sequence_length)
  source = data_path or f"{TEXT_SOURCE} (standard library)"
  return Data(f"{source}: {len(text)} characters, {len(vocabulary)} distinct, "
              f"{windows} windows of {sequence_length}", x, y,
              len(vocabulary), vocabulary)


def build_convnet(data, activation, recurrent_activation=None):
  """The classifier of the module docstring, on logits."""
  del recurrent_activation  # Not recurrent.
  layers = [keras.Input(data.x.shape[1:])]
  for filters in (16, 32, 32):
    layers += [keras.layers.Conv2D(filters, 3, padding="same",
                                   activation=activation),
               keras.layers.MaxPooling2D(2)]
  layers += [keras.layers.Flatten(), keras.layers.Dense(data.outputs)]
  return keras.Sequential(layers, name="convnet")


def build_autoencoder(data, activation, recurrent_activation=None):
  """The autoencoder of the module docstring."""
  del recurrent_activation  # Not recurrent.
  return keras.Sequential([
      keras.Input(data.x.shape[1:]),
      keras.layers.Dense(CODE_SIZE, activation=activation, name="encoder"),
      keras.layers.Dense(data.outputs, activation=activation, name="decoder"),
  ], name="autoencoder")


def _lstm_layer(lstm, activation, recurrent_activation):
  """One LSTM(LSTM_UNITS) of char_rnn, returning every step, as `lstm` says.
  """
  if lstm == "fused":
    try:
      return tf_approx.layers.LSTM(LSTM_UNITS, activation=activation,
                                   recurrent_activation=recurrent_activation,
                                   return_sequences=True)
    except (ValueError, TypeError) as e:
      raise ValueError(f"{e} (the fused LSTM takes tanh, sigmoid and "
                       f"tf_approx's activations; lstm='keras' takes any "
                       f"Keras activation)") from None
  if lstm == "keras":
    # cuDNN would run only the tanh/sigmoid run, and only on GPU: every
    # run takes the same path, or the times compare implementations.
    return keras.layers.LSTM(LSTM_UNITS, activation=activation,
                             recurrent_activation=recurrent_activation,
                             return_sequences=True, use_cudnn=False)
  raise ValueError(f"lstm must be one of {LSTMS}, got {lstm!r}")


def build_char_rnn(data, activation, recurrent_activation, lstm=LSTMS[0]):
  """The character LSTM of the module docstring, on logits.

  Args:
    data: the text's `Data`.
    activation, recurrent_activation: the LSTMs'.
    lstm: "fused" (`tf_approx.layers.LSTM`) or "keras" (`keras.layers.LSTM`
      without cuDNN); the same weights either way.
  """
  lstms = [_lstm_layer(lstm, activation, recurrent_activation)
           for _ in range(2)]
  return keras.Sequential([
      keras.Input((None,), dtype="int32"),
      keras.layers.Embedding(data.outputs, EMBEDDING_SIZE),
      *lstms,
      keras.layers.Dense(data.outputs),
  ], name="char_rnn")


@dataclasses.dataclass(frozen=True)
class Workload:
  """One network of the paper's Table 1 and how it trains.

  Attributes:
    name: the trainer's name, e.g. "convnet".
    load: (dataset, data_path) -> Data.
    build: (data, activation, recurrent_activation) -> an uncompiled model;
      a recurrent workload's also takes `lstm` (one of LSTMS).
    loss: a Keras loss (stateless, so runs share it).
    learning_rate: Adam's.
    epochs, batch_size: the trainer's defaults.
    activation: the default --activation.
    recurrent_activation: the default --recurrent_activation; None for a
      network without one.
    datasets: the --dataset choices, the first the default.
  """
  name: str
  load: callable
  build: callable
  loss: object
  learning_rate: float
  epochs: int
  batch_size: int
  activation: str
  recurrent_activation: str = None
  datasets: tuple = ("digits", "mnist", "fashion_mnist")

  @property
  def recurrent(self):
    return self.recurrent_activation is not None

  def compiled(self, data, activation, recurrent_activation=None, lstm=None):
    """The network with these activations, compiled to train.

    `lstm`: a recurrent workload's LSTM implementation, one of LSTMS (None:
    the first, "fused"); other workloads take None only.
    """
    if self.recurrent:
      model = self.build(data, activation, recurrent_activation,
                         lstm or LSTMS[0])
    elif lstm is not None:
      raise ValueError(f"lstm={lstm!r}: {self.name} has no recurrent layers")
    else:
      model = self.build(data, activation, recurrent_activation)
    model.compile(
        optimizer=keras.optimizers.Adam(self.learning_rate), loss=self.loss,
        # XLA, on by default with a GPU, would swap tf_approx's native ops
        # for their composite twins.
        jit_compile=False)
    return model


_LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

WORKLOADS = {
    "convnet": Workload(
        "convnet", load_classification, build_convnet, _LOGITS,
        learning_rate=3e-3, epochs=10, batch_size=32, activation="sigmoid"),
    "autoencoder": Workload(
        "autoencoder", load_reconstruction, build_autoencoder, "mse",
        learning_rate=1e-3, epochs=20, batch_size=32, activation="sigmoid"),
    "char_rnn": Workload(
        "char_rnn", load_text, build_char_rnn, _LOGITS,
        learning_rate=3e-3, epochs=5, batch_size=50, activation="tanh",
        recurrent_activation="sigmoid", datasets=("pydoc",)),
}


class EpochTimes(keras.callbacks.Callback):
  """Records each epoch's wall-clock end, in seconds since training began."""

  def __init__(self):
    super().__init__()
    self.ends = []
    self._start = None

  def on_train_begin(self, logs=None):
    self._start = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    self.ends.append(time.perf_counter() - self._start)


@dataclasses.dataclass(frozen=True)
class Training:
  """What `train` measured.

  Attributes:
    initial_loss: the loss on the training data before training.
    losses: the training loss of every epoch (Keras' mean over its batches).
    epoch_ends: seconds from the start of `fit` to the end of each epoch.
    seconds: wall-clock time of `fit` (one-time tracing excluded).
    examples: samples seen over all epochs.
  """
  initial_loss: float
  losses: list
  epoch_ends: list
  seconds: float
  examples: int

  @property
  def final_loss(self):
    return self.losses[-1]

  @property
  def examples_per_second(self):
    return self.examples / self.seconds

  @property
  def converged(self):
    """The paper's test: training ended on a finite, lower loss."""
    return bool(np.isfinite(self.final_loss)
                and self.final_loss < self.initial_loss)

  @property
  def epoch_seconds(self):
    return list(np.diff([0.0, *self.epoch_ends]))


def train(model, data, *, epochs, batch_size, seed, verbose=0, callbacks=()):
  """Trains a compiled model on `data`, timing `fit` without its tracing
  (`common.timed_fit`)."""
  initial_loss = model.evaluate(data.x, data.y, batch_size=batch_size,
                                verbose=0)
  epoch_times = EpochTimes()
  history, seconds = common.timed_fit(
      model, data.x, data.y, seed=seed, batch_size=batch_size, epochs=epochs,
      verbose=verbose, callbacks=[epoch_times, *callbacks])
  return Training(float(initial_loss), history.history["loss"],
                  epoch_times.ends, seconds, epochs * len(data.x))


def sample_text(model, data, length, seed, temperature=0.5, prompt="The "):
  """`length` characters generated by a trained char_rnn after `prompt`.

  Each character is drawn from the model's softmax at `temperature`, given
  the last SEQUENCE_LENGTH characters (fewer at the start).
  """
  lookup = {char: i for i, char in enumerate(data.vocabulary)}
  ids = [lookup[c] for c in prompt if c in lookup] or [0]
  rng = np.random.default_rng(seed)

  @tf.function(reduce_retracing=True)
  def next_logits(window):
    return model(window, training=False)[0, -1]

  for _ in range(length):
    window = tf.constant([ids[-SEQUENCE_LENGTH:]], tf.int32)
    logits = next_logits(window).numpy().astype(np.float64) / temperature
    p = np.exp(logits - logits.max())
    ids.append(int(rng.choice(len(p), p=p / p.sum())))
  return "".join(data.vocabulary[i] for i in ids)


def define_flags(workload):
  """Defines the trainer flags, with `workload`'s defaults."""
  flags.DEFINE_string(
      "activation", workload.activation,
      "The activation under test, by Keras or tf_approx name, e.g. "
      "tanh_pade_4_4 or sigm_fastexp_512.")
  flags.register_validator("activation",
                           lambda name: common.check_activations([name]))
  flags.DEFINE_string(
      "recurrent_activation", workload.recurrent_activation,
      "char_rnn only: the LSTMs' recurrent_activation (their gates), e.g. "
      "sigm_fastexp_512. The non-recurrent workloads refuse it.")
  flags.register_validator(
      "recurrent_activation",
      lambda name: name is None or common.check_activations([name]))
  common.define_training_flags(epochs=workload.epochs,
                               batch_size=workload.batch_size)
  for name in ("epochs", "batch_size", "seed"):
    flags.declare_key_flag(name)  # so the trainers' --helpshort lists them
  if workload.recurrent:
    dataset_help = (
        f"pydoc: the help topics of Python's reference ({TEXT_SOURCE}, in "
        f"the standard library). --data_path overrides it.")
    path_help = "A UTF-8 text file to learn instead of --dataset."
  else:
    dataset_help = (
        "digits is bundled with scikit-learn (resized to 28x28); mnist and "
        "fashion_mnist are read from the Keras cache ($KERAS_HOME or "
        "~/.keras, datasets/), or downloaded by keras.datasets when the "
        "machine can reach it. --data_path overrides it.")
    path_help = ("A .npz file with arrays `x` (images, samples first) and `y` "
                 "(integer labels) to train on instead of --dataset.")
  flags.DEFINE_enum("dataset", workload.datasets[0], workload.datasets,
                    dataset_help)
  flags.DEFINE_string("data_path", None, path_help)
  if workload.recurrent:
    flags.DEFINE_integer(
        "max_chars", None, "Learn only the text's first max_chars "
        "characters.", lower_bound=SEQUENCE_LENGTH + 1)
    flags.DEFINE_integer("sample_length", 300,
                         "Characters to generate after training.",
                         lower_bound=0)
    flags.DEFINE_enum(
        "lstm", LSTMS[0], LSTMS,
        "The LSTM layers: fused is tf_approx.layers.LSTM (one op per layer "
        "for the whole sequence; tanh, sigmoid and tf_approx's "
        "activations), keras is keras.layers.LSTM without cuDNN (a dozen "
        "small ops per step; any Keras activation). Same weights, same "
        "function.")
  # absl.logging defines --log_dir for log files it writes only when told
  # to; the trainers take it, as trainers conventionally do, for TensorBoard.
  flags.FLAGS["log_dir"].help = (
      "If set, TensorBoard logs of the run go there.")
  flags.declare_key_flag("log_dir")
  flags.DEFINE_string(
      "export_dir", None,
      "If set, the trained model is exported there as a SavedModel with a "
      "`serve` endpoint. Loaders must `import tf_approx` first.")


def load(workload):
  """The workload's data, as the flags ask."""
  if workload.recurrent:
    return workload.load(flags.FLAGS.dataset, flags.FLAGS.data_path,
                         flags.FLAGS.max_chars)
  return workload.load(flags.FLAGS.dataset, flags.FLAGS.data_path)


def main_for(workload):
  """The `main` of `workload`'s trainer: one run, progress bars on."""

  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    FLAGS = flags.FLAGS  # pylint: disable=invalid-name
    recurrent = FLAGS.recurrent_activation
    if recurrent is not None and not workload.recurrent:
      raise app.UsageError(f"--recurrent_activation: {workload.name} has no "
                           f"recurrent layers")
    lstm = FLAGS.lstm if workload.recurrent else None
    data = load(workload)
    print(f"Data: {data.description}")
    common.fresh_start(FLAGS.seed)
    try:
      model = workload.compiled(data, FLAGS.activation, recurrent, lstm)
    except ValueError as e:
      if lstm is None:
        raise
      raise app.UsageError(f"--lstm={lstm}: {e}") from None
    print(f"Model: {common.describe_model(model)}")
    activations = FLAGS.activation + (
        f", recurrent_activation {recurrent}" if recurrent else "") + (
            f", {lstm} LSTM" if lstm else "")
    print(f"Training {workload.name} with activation {activations}: "
          f"{FLAGS.epochs} epochs of batch size {FLAGS.batch_size}, seed "
          f"{FLAGS.seed}", flush=True)
    callbacks = []
    if FLAGS.log_dir:
      callbacks.append(keras.callbacks.TensorBoard(FLAGS.log_dir))
    training = train(model, data, epochs=FLAGS.epochs,
                     batch_size=FLAGS.batch_size, seed=FLAGS.seed,
                     verbose=1, callbacks=callbacks)
    if workload.recurrent and FLAGS.sample_length:
      print(f"\nSample (temperature 0.5):\n"
            f"{sample_text(model, data, FLAGS.sample_length, FLAGS.seed)}\n")
    common.export(model, activations, FLAGS.export_dir)
    print(f"{workload.name}: activation {activations}, final loss "
          f"{training.final_loss:.4f}, wall time {training.seconds:.2f} s, "
          f"{training.examples_per_second:.1f} examples/s", flush=True)
    if not training.converged:
      print(f"{workload.name}: the loss did not fall to a finite value: the "
            f"run diverged.")

  return main
