"""Shared pieces of the example trainers in examples/.

Every trainer trains one network once per activation (or layer) under test and
compares the runs: it defines the shared flags with `define_flags`, loads its
data with `load_dataset`, starts each run with `fresh_start`, keeps one-time
tracing out of the timed `fit` with `warm_up`, times it with `Stopwatch`, and
prints the runs with `format_runs`. A trainer that makes its own data defines
just --epochs, --batch_size and --seed with `define_training_flags`; other
tables print with `format_table`.
"""

import dataclasses
import gzip
import os
import platform
import time

from absl import flags
import keras
import numpy as np
import tensorflow as tf

import tf_approx

DATASETS = ("digits", "mnist", "fashion_mnist")
# Where Keras keeps what `keras.datasets.<name>.load_data()` downloaded, under
# $KERAS_HOME (default ~/.keras); `load_dataset` only reads these, it never
# downloads.
KERAS_CACHED = {
    "mnist": ("mnist.npz",),
    "fashion_mnist": tuple(
        os.path.join("fashion-mnist", name)
        for name in ("train-images-idx3-ubyte.gz",
                     "train-labels-idx1-ubyte.gz",
                     "t10k-images-idx3-ubyte.gz",
                     "t10k-labels-idx1-ubyte.gz")),
}
TEST_FRACTION = 0.2
# Fixed apart from --seed, so runs with different seeds are scored on the same
# test set.
SPLIT_SEED = 0


def check_activations(names):
  """Flag validator: every name must resolve in Keras (tf_approx's included).

  Raises:
    flags.ValidationError: naming the first unknown name, with the closest
      tf_approx names.
  """
  if not names:
    raise flags.ValidationError("give at least one activation")
  for name in names:
    try:
      keras.activations.get(name)
    except ValueError:
      hint = ""
      try:
        tf_approx.activations.spec(name)
      except ValueError as e:
        hint = f" {e}"  # it names tf_approx's closest names
      raise flags.ValidationError(
          f"Keras knows no activation {name!r}, not even through tf_approx."
          f"{hint}") from None
  return True


def choices_validator(choices, what):
  """A flag validator: a non-empty list, every entry one of `choices`."""

  def check(names):
    if not names:
      raise flags.ValidationError(f"give at least one {what}")
    unknown = [name for name in names if name not in choices]
    if unknown:
      raise flags.ValidationError(
          f"unknown {what}(s) {', '.join(unknown)}; choose from "
          f"{', '.join(choices)}")
    return True

  return check


def positive_ints_validator(what):
  """A flag validator: a non-empty list of positive integers."""

  def check(values):
    if not values:
      raise flags.ValidationError(f"give at least one {what}")
    for value in values:
      if not value.isdigit() or int(value) < 1:
        raise flags.ValidationError(
            f"{what} must be positive integers, got {value!r}")
    return True

  return check


def define_training_flags(*, epochs, batch_size):
  """Defines --epochs, --batch_size and --seed, with this trainer's defaults.

  `define_flags` defines them too; a trainer on data of its own (not a
  classification dataset of `load_dataset`) defines just these.
  """
  flags.DEFINE_integer("epochs", epochs, "Epochs of every run.", lower_bound=1)
  flags.DEFINE_integer("batch_size", batch_size, "Batch size.", lower_bound=1)
  flags.DEFINE_integer(
      "seed", 0,
      "Seed of every run: each starts from the same weights and sees the data "
      "in the same order.")


def define_flags(*, activations, epochs, batch_size,
                 activations_validator=check_activations):
  """Defines the flags every trainer has, with this trainer's defaults.

  Args:
    activations: the names compared when --activations is not given; the
      first is the baseline of the time ratios. None: no --activations flag,
      for a trainer that compares something else.
    epochs: default of --epochs.
    batch_size: default of --batch_size.
    activations_validator: checks the --activations list (returns True or
      raises `flags.ValidationError`); default `check_activations`. A trainer
      that also takes names of its own passes one that knows them.
  """
  if activations is not None:
    flags.DEFINE_list(
        "activations", activations,
        "Activations to compare, one training run each, by Keras or "
        "tf_approx name. Train times are reported as ratios to the first.")
    flags.register_validator("activations", activations_validator)
  define_training_flags(epochs=epochs, batch_size=batch_size)
  flags.DEFINE_enum(
      "dataset", "digits", DATASETS,
      "Dataset to train on; --data_path overrides it. digits is bundled with "
      "scikit-learn; mnist and fashion_mnist are read from the Keras cache "
      "($KERAS_HOME or ~/.keras, datasets/) and only if already there: fetch "
      "them once with keras.datasets.<name>.load_data().")
  flags.DEFINE_string(
      "data_path", None,
      "A .npz file with arrays `x` (samples first) and `y` (integer class "
      "labels) to train on instead of --dataset. x is used as given, so "
      "scale it beforehand.")
  flags.DEFINE_string(
      "export_dir", None,
      "If set, the last run's model is exported there as a SavedModel with a "
      "`serve` endpoint. Loaders must `import tf_approx` first.")


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A classification dataset split into train and test arrays."""
  name: str
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  num_classes: int

  def describe(self):
    return (f"{self.name}: {len(self.x_train)} train and {len(self.x_test)} "
            f"test samples of shape {self.x_train.shape[1:]}, "
            f"{self.num_classes} classes")


def _load_digits():
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  # Pixels are counts 0..16 of an 8x8 grid's 4x4 blocks.
  return digits.images / 16.0, digits.target


def _load_npz(path):
  with np.load(path) as data:
    missing = {"x", "y"} - set(data.files)
    if missing:
      raise ValueError(f"--data_path {path}: needs arrays x and y, has "
                       f"{sorted(data.files)}")
    x, y = data["x"], data["y"]
  if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
    raise ValueError(f"--data_path {path}: `y` must be a 1-D array of class "
                     f"labels 0, 1, ..., got shape {y.shape}, dtype {y.dtype}")
  if len(x) != len(y):
    raise ValueError(f"--data_path {path}: `x` has {len(x)} samples but `y` "
                     f"has {len(y)}")
  return x, y


def keras_datasets_dir():
  """Where Keras caches the datasets it downloads: $KERAS_HOME/datasets."""
  return os.path.join(
      os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras")),
      "datasets")


def _load_keras_cached(name, download=False):
  """(x_train, y_train, x_test, y_test) of `name` from the Keras cache.

  Args:
    name: a key of KERAS_CACHED.
    download: if the cache lacks it, let `keras.datasets.<name>` fetch it.

  Raises:
    FileNotFoundError: if a file is not cached and `download` is off or the
      download failed.
  """
  paths = [os.path.join(keras_datasets_dir(), file)
           for file in KERAS_CACHED[name]]
  missing = [path for path in paths if not os.path.exists(path)]
  if missing and download:
    try:
      (x_train, y_train), (x_test, y_test) = getattr(keras.datasets,
                                                     name).load_data()
      return x_train, y_train, x_test, y_test
    except Exception as e:  # pylint: disable=broad-except  (no network: many kinds)
      raise FileNotFoundError(
          f"--dataset={name}: the Keras cache lacks {', '.join(missing)} and "
          f"keras.datasets.{name}.load_data() could not download it ({e}). "
          f"Use --dataset=digits or --data_path.") from e
  if missing:
    raise FileNotFoundError(
        f"--dataset={name} is read from the Keras cache only, which lacks "
        f"{', '.join(missing)}. Download it once with "
        f"`python -c 'import keras; keras.datasets.{name}.load_data()'` (or "
        f"set KERAS_HOME to where it is), or use --dataset=digits or "
        f"--data_path.")
  if name == "mnist":
    with np.load(paths[0], allow_pickle=False) as data:
      return data["x_train"], data["y_train"], data["x_test"], data["y_test"]
  # Fashion-MNIST: gzipped IDX files, images (16-byte header) then labels
  # (8-byte header), as keras.datasets.fashion_mnist reads them.
  arrays = []
  for path in paths:
    with gzip.open(path, "rb") as f:
      raw = f.read()
    if "images" in os.path.basename(path):
      arrays.append(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28))
    else:
      arrays.append(np.frombuffer(raw, np.uint8, offset=8))
  return tuple(arrays)


def load_dataset(name="digits", data_path=None, download=False):
  """Loads a dataset, or a user's .npz file, split into train/test.

  digits and .npz files are split by a fixed random permutation, TEST_FRACTION
  of it for testing; mnist and fashion_mnist keep their own 60000/10000
  split, with pixels scaled to [0, 1].

  Args:
    name: one of DATASETS.
    data_path: a .npz file with arrays `x` and `y`; overrides `name`.
    download: for mnist and fashion_mnist, if Keras has not cached them, let
      `keras.datasets` download them (the trainers of the approximation
      paper's workloads); otherwise they are read from the cache only.

  Returns:
    A `Dataset` with float32 `x` and int32 `y`.

  Raises:
    FileNotFoundError: for mnist or fashion_mnist when Keras has not cached
      it and it was not (or could not be) downloaded.
  """
  if not data_path and name in KERAS_CACHED:
    x_train, y_train, x_test, y_test = _load_keras_cached(name, download)
    x_train = (x_train / 255.0).astype(np.float32)
    x_test = (x_test / 255.0).astype(np.float32)
    y_train, y_test = y_train.astype(np.int32), y_test.astype(np.int32)
    return Dataset(name, x_train, y_train, x_test, y_test,
                   num_classes=int(y_train.max()) + 1)
  if data_path:
    x, y = _load_npz(data_path)
    name = os.path.basename(data_path)
  elif name == "digits":
    x, y = _load_digits()
  else:
    raise ValueError(f"`name` must be one of {DATASETS}, got {name!r}")
  x, y = x.astype(np.float32), y.astype(np.int32)
  order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
  num_test = max(1, round(TEST_FRACTION * len(x)))
  test, train = order[:num_test], order[num_test:]
  return Dataset(name, x[train], y[train], x[test], y[test],
                 num_classes=int(y.max()) + 1)


def fresh_start(seed):
  """Resets Keras and seeds Python, NumPy and TensorFlow before a run.

  Clearing the session drops the previous run's models and gives layers the
  same names in every run; the seed gives them the same initial weights.
  """
  keras.utils.clear_session()
  keras.utils.set_random_seed(seed)


def compile_classifier(model, optimizer):
  """Compiles `model` (logits out, integer labels) to train with `optimizer`.

  Sparse categorical cross-entropy on logits, with accuracy, and XLA off:
  XLA, on by default with a GPU, would swap tf_approx's native ops for their
  composite twins.
  """
  model.compile(
      optimizer=optimizer,
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=["accuracy"], jit_compile=False)


def warm_up(model, x, y, batch_size):
  """Runs `fit` on two batches, then puts every variable back.

  The first `fit` of a model traces its training step (and, the first time in
  the process, sets up kernels and thread pools). Paying that here keeps it
  out of the timed `fit`, which then starts from the untouched weights and
  optimizer state. Two batches of different sizes also trace the step for the
  short last batch of an epoch.
  """
  model.optimizer.build(model.trainable_variables)
  variables = model.variables + model.optimizer.variables
  values = [v.numpy() for v in variables]
  model.fit(x[:batch_size + 1], y[:batch_size + 1], batch_size=batch_size,
            epochs=1, verbose=0)
  for variable, value in zip(variables, values):
    variable.assign(value)


def timed_fit(model, x, y, *, seed, batch_size, epochs, **fit_kwargs):
  """`model.fit(x, y, ...)` timed without its one-time tracing.

  The untimed `warm_up` puts the weights back, and the data order is reseeded
  after it, so every run with one seed starts from the same weights and sees
  the same batches.

  Returns:
    (the `History`, wall-clock seconds of the timed `fit`).
  """
  warm_up(model, x, y, batch_size)
  # The warm-up drew random numbers; every run must shuffle alike.
  keras.utils.set_random_seed(seed)
  with Stopwatch() as watch:
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs,
                        **fit_kwargs)
  return history, watch.seconds


def pyplot():
  """matplotlib's pyplot on the Agg backend (PNG files, no display)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


class Stopwatch:
  """Wall-clock seconds of a `with` block, by `time.perf_counter`.

    >>> with Stopwatch() as watch:
    ...   model.fit(x, y)
    >>> watch.seconds
  """

  def __init__(self):
    self.seconds = None
    self._start = None

  def __enter__(self):
    self._start = time.perf_counter()
    return self

  def __exit__(self, *exc_info):
    self.seconds = time.perf_counter() - self._start


@dataclasses.dataclass(frozen=True)
class Fit:
  """What `fit_and_evaluate` measured.

  Attributes:
    losses: the training loss of every epoch.
    accuracy: the test accuracy after training.
    seconds: wall-clock time of `fit` (warm-up excluded).
    history: everything `fit` logged by epoch (`History.history`): "loss"
      and the metrics, with "val_" twins when it validated.
  """
  losses: list
  accuracy: float
  seconds: float
  history: dict = dataclasses.field(default_factory=dict)


def fit_and_evaluate(model, dataset, label, seed, batch_size, epochs,
                     summary, **fit_kwargs):
  """Trains a compiled model on dataset's training split and tests it.

  The untimed warm-up (`warm_up`) puts the weights back, and the data order
  is reseeded after it, so every run of a script starts from the same
  weights and sees the same batches. Prints one line: the losses by epoch
  and `summary(fit)`, and a warning if the run diverged.

  Args:
    model, dataset, label, seed, batch_size, epochs, summary: as above.
    **fit_kwargs: more arguments of the timed `model.fit`, e.g. `callbacks`
      or `validation_split` (the warm-up runs without them).

  Returns:
    A Fit.
  """
  history, seconds = timed_fit(model, dataset.x_train, dataset.y_train,
                               seed=seed, batch_size=batch_size,
                               epochs=epochs, verbose=0, **fit_kwargs)
  _, accuracy = model.evaluate(dataset.x_test, dataset.y_test,
                               batch_size=batch_size, verbose=0)
  fit = Fit(history.history["loss"], accuracy, seconds, history.history)
  print(f"  {label}: train loss by epoch "
        f"{' '.join(f'{loss:.3f}' for loss in fit.losses)}; {summary(fit)}",
        flush=True)
  if not np.isfinite(fit.losses[-1]):
    print(f"  {label}: the training loss is not finite: the run diverged.",
          flush=True)
  return fit


@dataclasses.dataclass(frozen=True)
class Run:
  """One training run: what was trained, its scores, its training time.

  Attributes:
    label: what distinguishes the run, usually the activation's name.
    scores: column name -> value, e.g. {"test accuracy": 0.95}; every run of
      one table has the same names in the same order. Ints (counts) and
      strings print as they are, other numbers with 4 decimals.
    seconds: wall-clock time of `fit`.
  """
  label: str
  scores: dict
  seconds: float


def _format_score(value):
  """Counts and strings as they are, other numbers with 4 decimals."""
  if isinstance(value, str) or (isinstance(value, (int, np.integer))
                                and not isinstance(value, bool)):
    return str(value)
  return f"{value:.4f}"


def format_runs(runs, label="activation"):
  """The runs as a Markdown table, train time also as a ratio to the first.

  Args:
    runs: `Run`s, the first being the baseline.
    label: header of the label column.

  Returns:
    The table, columns padded to align.
  """
  baseline = runs[0].seconds
  header = [label, *runs[0].scores, "train time (s)",
            f"time ratio vs {runs[0].label}"]
  rows = [[run.label, *map(_format_score, run.scores.values()),
           f"{run.seconds:.2f}", f"{run.seconds / baseline:.2f}"]
          for run in runs]
  return format_table(header, rows)


def format_table(header, rows):
  """A Markdown table, columns padded to align.

  Args:
    header: the column names, the first naming the label column.
    rows: lists of cells (strings), as many as `header` has.

  Returns:
    The table: the label column left-aligned, the others right-aligned.
  """
  widths = [max(len(row[i]) for row in [header, *rows])
            for i in range(len(header))]

  def line(cells):
    # The label column reads left-aligned, numbers right-aligned.
    padded = [cells[0].ljust(widths[0])] + [
        cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]
    return "| " + " | ".join(padded) + " |"

  rule = "|:" + "-" * (widths[0] + 1) + "".join(
      "|" + "-" * (width + 1) + ":" for width in widths[1:]) + "|"
  return "\n".join([line(header), rule, *map(line, rows)])


def describe_model(model):
  """The layers of a built `keras.Sequential` with output shapes, one line."""
  layers = " -> ".join(
      f"{type(layer).__name__}({', '.join(map(str, layer.output.shape[1:]))})"
      for layer in model.layers)
  return f"{layers}, {model.count_params()} parameters"


def describe_machine():
  """One line naming where the timings were taken."""
  gpus = tf.config.list_physical_devices("GPU")
  devices = f"{len(gpus)} GPU(s)" if gpus else "CPU only"
  return (f"{platform.machine()}, {os.cpu_count()} CPU cores, {devices}, "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}")


def print_timing_note(model):
  """Says what the train times are, under the table of runs."""
  print(f"\nModel: {describe_model(model)}.")
  print(f"Train time is the wall-clock time of model.fit (its tracing "
        f"excluded by a warm-up), measured on this machine in this process: "
        f"{describe_machine()}. Compare the ratios, not the seconds; "
        f"rerun to see how much they vary.")


def export(model, label, export_dir):
  """Exports `model` (the run `label`) as a SavedModel, if `export_dir`."""
  if not export_dir:
    return
  model.export(export_dir, verbose=False)
  print(f"\nExported the {label} model to {export_dir} as a SavedModel; "
        f"load it with `import tf_approx` first, then "
        f"`tf.saved_model.load(path).serve(x)`.")
