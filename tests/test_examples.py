"""Runs the example trainers end to end, and checks their shared helpers.

The trainers run in subprocesses, as a user runs them, with tiny flags; an
exported SavedModel is loaded in a fresh process that only imports tf_approx.
"""

import gzip
import importlib.util
import json
import os
from pathlib import Path
import re
import subprocess
import sys
import textwrap

from absl import flags
import keras
import numpy as np
from PIL import Image
import pytest

import tf_approx

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
TIMEOUT_S = 300
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _load_common():
  spec = importlib.util.spec_from_file_location("examples_common",
                                                EXAMPLES / "common.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


common = _load_common()


def _run(script, *flag_args):
  return subprocess.run([sys.executable, str(EXAMPLES / script), *flag_args],
                        env=ENV, capture_output=True, text=True,
                        timeout=TIMEOUT_S, check=False)


def _run_example(script, *flag_args):
  result = _run(script, *flag_args)
  assert result.returncode == 0, (
      f"exit code {result.returncode}\nstdout:\n{result.stdout}\n"
      f"stderr:\n{result.stderr[-5000:]}")
  return result.stdout


def _run_refused(script, *flag_args):
  """Runs a trainer that must refuse its flags; returns its stderr."""
  result = _run(script, *flag_args)
  assert result.returncode != 0
  return result.stderr


def _table(stdout):
  """The printed Markdown table as {label: [cells]}, header included."""
  rows = [line.strip("|").split("|") for line in stdout.splitlines()
          if line.startswith("| ")]
  return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


_SERVE = """
import json, sys
import numpy as np
import tensorflow as tf
import tf_approx
model = tf.saved_model.load(sys.argv[1])
shape, dtype, expected = json.loads(sys.argv[2])
x = tf.cast(tf.random.uniform(shape, maxval=4.0), dtype)
y = model.serve(x).numpy()
assert y.shape == tuple(expected), y.shape
assert np.isfinite(y).all(), y
print("served", y.shape)
"""


def _assert_serves(run_python, export_dir, op_name, shape=(3, 8, 8),
                   dtype="float32", expected=(3, 10)):
  """The SavedModel holds the native op `op_name` (or the reload proves
  nothing), and a fresh process that imports tf_approx serves it: inputs of
  `shape` and `dtype` give finite outputs of shape `expected`."""
  assert op_name.encode() in (export_dir / "saved_model.pb").read_bytes()
  served = run_python(_SERVE, export_dir,
                      json.dumps([shape, dtype, expected]))
  assert served.returncode == 0, served.stderr[-5000:]
  assert f"served {tuple(expected)}" in served.stdout


# One test, so that parallel workers do not train the same networks twice.
def test_approx_digits_compares_and_exports(tmp_path, run_python):
  export_dir = tmp_path / "model"
  stdout = _run_example("approx_digits.py", "--epochs=1",
                        "--activations=tanh,tanh_pade_4_4",
                        f"--export_dir={export_dir}")
  table = _table(stdout)
  assert list(table) == ["activation", "tanh", "tanh_pade_4_4"], stdout
  assert table["activation"] == [
      "final train loss", "test accuracy", "train time (s)",
      "time ratio vs tanh"]
  assert table["tanh"][-1] == "1.00"
  for label in ("tanh", "tanh_pade_4_4"):
    loss, accuracy, seconds, ratio = map(float, table[label])
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    assert seconds > 0 and ratio > 0
  assert "this machine in this process" in stdout

  _assert_serves(run_python, export_dir, "TfApprox>Activation")


def test_pau_lenet_compares_plots_and_exports(tmp_path, run_python):
  export_dir = tmp_path / "model"
  plot_path = tmp_path / "plots" / "paus.png"  # its folder is made
  stdout = _run_example("pau_lenet.py", "--epochs=1",
                        "--activations=relu,rpau,pau",
                        f"--plot_path={plot_path}",
                        f"--export_dir={export_dir}")
  table = _table(stdout)
  assert list(table) == ["activation", "relu", "rpau", "pau"], stdout
  assert table["activation"] == [
      "final train loss", "test accuracy", "parameters",
      "activation parameters", "time per epoch (s)", "train time (s)",
      "time ratio vs relu"]
  assert table["relu"][-1] == "1.00"
  # The paper's LeNet: 61706 weights, and 10 per PAU at 4 positions (RPAU's
  # step counters are not trainable).
  assert table["relu"][2:4] == ["61706", "0"]
  assert table["rpau"][2:4] == table["pau"][2:4] == ["61746", "40"]
  for label in ("relu", "rpau", "pau"):
    loss, accuracy, _, _, per_epoch, seconds, ratio = map(float, table[label])
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    assert per_epoch == pytest.approx(seconds, abs=0.01)  # one epoch
    assert seconds > 0 and ratio > 0

  # One row of panels per PAU run, one panel per PAU layer.
  assert f"Plotted the learned PAUs to {plot_path}" in stdout
  assert plot_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
  with Image.open(plot_path) as image:
    image.verify()
    assert image.format == "PNG"
    assert image.size == (1280, 600)

  _assert_serves(run_python, export_dir, "TfApprox>Pau")


def test_pau_lenet_rejects_unknown_activation():
  stderr = _run_refused("pau_lenet.py", "--activations=pau,tahn")
  assert "Keras knows no activation 'tahn'" in stderr


def _lenet_counts(model, features):
  """(params as the thesis counts them, trainable) of deep_fried's LeNet.

  As the layers say: the hidden layer is built on LeNet's 800 features.
  Around it, the convolutions' kernels (20 * 5 * 5 + 50 * 20 * 5 * 5 =
  25500) and 70 biases, and the logits' kernel and 10 biases.
  """
  if model == "dense":
    hidden = keras.layers.Dense(features)
  else:
    hidden = tf_approx.layers.Fastfood(
        features, adaptive=model == "adaptive_fastfood")
  hidden.build((None, 800))
  counted = ([hidden.kernel] if model == "dense"
             else [hidden.s, hidden.g, hidden.b])
  counted = sum(int(np.prod(w.shape)) for w in counted)
  trainable = sum(int(np.prod(w.shape)) for w in hidden.trainable_weights)
  return (25500 + counted + features * 10,
          25570 + trainable + features * 10 + 10)


def test_deep_fried_compares_and_exports(tmp_path, run_python):
  export_dir = tmp_path / "model"
  stdout = _run_example("deep_fried.py", "--epochs=1", "--features=64,1024",
                        "--dropout=0.5", f"--export_dir={export_dir}")
  table = _table(stdout)
  runs = {"dense": ("dense", 500),
          "fastfood 64": ("fastfood", 64),
          "fastfood 1024": ("fastfood", 1024),
          "adaptive_fastfood 64": ("adaptive_fastfood", 64),
          "adaptive_fastfood 1024": ("adaptive_fastfood", 1024)}
  assert list(table) == ["model", *runs], stdout
  assert table["model"] == [
      "features", "params", "trainable", "test error (%)", "thesis error (%)",
      "thesis params", "train time (s)", "time ratio vs dense"]
  assert table["dense"][-1] == "1.00"
  for label, (model, features) in runs.items():
    cells = table[label]
    assert int(cells[0]) == features
    assert tuple(map(int, cells[1:3])) == _lenet_counts(model, features)
    assert 0 <= float(cells[3]) <= 100
    seconds, ratio = map(float, cells[6:])
    assert seconds > 0 and ratio > 0
  # The thesis' counts: ours match but for Fastfood 1024 (38,821 there).
  assert table["dense"][1] == table["dense"][5] == "430500"
  assert table["fastfood 1024"][1:2] + table["fastfood 1024"][4:6] == [
      "38812", "0.71", "38821"]  # with dropout
  assert table["adaptive_fastfood 1024"][4] == "0.72"
  assert table["fastfood 64"][4:6] == ["-", "-"]  # not in the thesis
  assert "this machine in this process" in stdout

  _assert_serves(run_python, export_dir, "TfApprox>Fastfood")


def test_deep_fried_rejects_unknown_model():
  stderr = _run_refused("deep_fried.py", "--models=dense,fried")
  assert "unknown model(s) fried" in stderr


def test_acdc_recovery_tabulates_and_plots(tmp_path):
  plot_path = tmp_path / "plots" / "acdc.png"  # its folder is made
  stdout = _run_example("acdc_recovery.py", "--ks=4,1", "--epochs=2",
                        f"--plot_path={plot_path}")
  table = _table(stdout)
  assert list(table) == ["K", "dense", "1", "4"], stdout  # K ascending
  assert table["K"] == [
      "parameters", "loss, N(1, 0.1²)", "loss, N(0, 0.001²)",
      "train time (s)", "time ratio vs dense"]
  assert table["dense"][-1] == "1.00"
  # 32 * 32 weights, and a and d of 32 each per ACDC layer, no biases.
  assert [table[k][0] for k in ("dense", "1", "4")] == ["1024", "64", "256"]
  for label in ("dense", "1", "4"):
    near_one, near_zero, seconds, ratio = map(float, table[label][1:])
    assert 0 < near_one < 100 and 0 < near_zero < 100
    assert seconds > 0 and ratio > 0
  # One dense run, the reference in both columns.
  assert table["dense"][1] == table["dense"][2]
  # N(0, 0.001²) diagonals leave ACDC_4 with gradients of about 1e-19: it
  # keeps the loss of predicting 0, the mean of Y², about 70.
  assert 50 < float(table["4"][2]) < 100
  assert "K=4 did not train" in stdout
  assert "The thesis' trend (Fig. 3.4)" in stdout
  assert f"Plotted the training losses to {plot_path}" in stdout
  with Image.open(plot_path) as image:
    image.verify()
    assert image.format == "PNG"
    assert image.size == (1620, 460)  # two loss panels and one against K


def test_acdc_recovery_without_permutations():
  stdout = _run_example("acdc_recovery.py", "--ks=2", "--epochs=1",
                        "--nopermutations", "--plot_path=")
  assert "plain ACDC_K stacks (without permutations" in stdout
  table = _table(stdout)
  assert list(table) == ["K", "dense", "2"], stdout
  assert table["2"][0] == "128"
  assert "Plotted" not in stdout


def test_acdc_recovery_rejects_bad_k():
  stderr = _run_refused("acdc_recovery.py", "--ks=4,0")
  assert "K values must be positive integers, got '0'" in stderr


def test_acdc_convnet_compares_and_exports(tmp_path, run_python):
  export_dir = tmp_path / "model"
  stdout = _run_example("acdc_convnet.py", "--epochs=1", "--depths=1,3",
                        f"--export_dir={export_dir}")
  table = _table(stdout)
  assert list(table) == ["model", "dense", "sell 1", "sell 3"], stdout
  assert table["model"] == [
      "depth", "hidden params", "params", "test error (%)", "train time (s)",
      "time ratio vs dense"]
  assert table["dense"][-1] == "1.00"
  # Around the hidden part: conv1 3 * 3 * 32 + 32, conv2 3 * 3 * 32 * 64 +
  # 64, logits 256 * 10 + 10. Dense: two 256 x 256 layers with biases; SELL
  # on the 256 features: a, d and a bias per ACDC layer.
  hidden = {"dense": 2 * (256 * 256 + 256), "sell 1": 3 * 256,
            "sell 3": 3 * 3 * 256}
  for label, depth in (("dense", "-"), ("sell 1", "1"), ("sell 3", "3")):
    cells = table[label]
    assert cells[0] == depth
    assert int(cells[1]) == hidden[label]
    assert int(cells[2]) == 320 + 18496 + 2570 + hidden[label]
    assert 0 <= float(cells[3]) <= 100
    seconds, ratio = map(float, cells[4:])
    assert seconds > 0 and ratio > 0
  assert "this machine in this process" in stdout

  _assert_serves(run_python, export_dir, "TfApprox>Acdc")


def test_acdc_convnet_rejects_unknown_model():
  stderr = _run_refused("acdc_convnet.py", "--models=dense,acdc")
  assert "unknown model(s) acdc" in stderr


def test_load_dataset_digits():
  dataset = common.load_dataset("digits")
  assert len(dataset.x_train) + len(dataset.x_test) == 1797
  assert dataset.x_train.shape[1:] == (8, 8)
  assert dataset.x_train.dtype == np.float32
  assert dataset.y_train.dtype == np.int32
  assert 0 <= dataset.x_train.min() and dataset.x_train.max() <= 1
  assert dataset.num_classes == 10
  # The split does not depend on anything but the data.
  np.testing.assert_array_equal(common.load_dataset().y_test, dataset.y_test)


def test_load_dataset_npz(tmp_path):
  path = tmp_path / "mine.npz"
  np.savez(path, x=np.arange(40.0).reshape(10, 4), y=np.arange(10) % 3)
  dataset = common.load_dataset(data_path=str(path))
  assert dataset.name == "mine.npz"
  assert (len(dataset.x_train), len(dataset.x_test)) == (8, 2)
  assert dataset.num_classes == 3
  # Each sample keeps its label through the shuffle.
  for x, y in [(dataset.x_train, dataset.y_train),
               (dataset.x_test, dataset.y_test)]:
    np.testing.assert_array_equal(x[:, 0] // 4 % 3, y)


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((4, 2))}, "needs arrays x and y"),
    ({"x": np.zeros((4, 2)), "y": np.zeros(4)}, "class labels"),
    ({"x": np.zeros((4, 2)), "y": np.zeros(3, int)}, "has 3"),
])
def test_load_dataset_npz_errors(tmp_path, arrays, message):
  path = tmp_path / "bad.npz"
  np.savez(path, **arrays)
  with pytest.raises(ValueError, match=message):
    common.load_dataset(data_path=str(path))


def test_load_dataset_mnist_from_keras_cache(tmp_path, monkeypatch):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))
  cache = tmp_path / "datasets"
  cache.mkdir()
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
  labels = np.array([0, 1, 2, 9, 4, 5, 6], np.uint8)
  np.savez(cache / "mnist.npz", x_train=images[:5], y_train=labels[:5],
           x_test=images[5:], y_test=labels[5:])
  dataset = common.load_dataset("mnist")
  # The dataset's own split, in order, pixels scaled to [0, 1].
  assert dataset.name == "mnist"
  np.testing.assert_array_equal(dataset.x_train, images[:5] / np.float32(255))
  np.testing.assert_array_equal(dataset.y_test, labels[5:])
  assert dataset.x_train.dtype == np.float32
  assert dataset.y_train.dtype == np.int32
  assert dataset.num_classes == 10


def test_load_dataset_fashion_mnist_from_keras_cache(tmp_path, monkeypatch):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))
  cache = tmp_path / "datasets" / "fashion-mnist"
  cache.mkdir(parents=True)
  rng = np.random.default_rng(0)
  for split, size in (("train", 4), ("t10k", 2)):
    images = rng.integers(0, 256, (size, 28, 28), dtype=np.uint8)
    labels = np.arange(size, dtype=np.uint8) + 3
    # IDX files: a 16-byte header before images, an 8-byte one before labels.
    with gzip.open(cache / f"{split}-images-idx3-ubyte.gz", "wb") as f:
      f.write(bytes(16) + images.tobytes())
    with gzip.open(cache / f"{split}-labels-idx1-ubyte.gz", "wb") as f:
      f.write(bytes(8) + labels.tobytes())
  dataset = common.load_dataset("fashion_mnist")
  np.testing.assert_array_equal(dataset.x_test, images / np.float32(255))
  np.testing.assert_array_equal(dataset.y_train, [3, 4, 5, 6])
  assert dataset.x_train.shape == (4, 28, 28)
  assert dataset.num_classes == 7


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_load_dataset_never_downloads(tmp_path, monkeypatch, name):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))
  monkeypatch.setattr(getattr(keras.datasets, name), "load_data",
                      _no_download)
  with pytest.raises(FileNotFoundError,
                     match=f"read from the Keras cache only.*{tmp_path}"):
    common.load_dataset(name)
  assert not (tmp_path / "datasets").exists()


def _no_download():
  raise AssertionError("load_dataset tried to download")


def test_load_dataset_downloads_when_asked(tmp_path, monkeypatch):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))
  images = np.full((2, 28, 28), 255, np.uint8)
  labels = np.array([3, 1], np.uint8)
  monkeypatch.setattr(keras.datasets.mnist, "load_data",
                      lambda: ((images, labels), (images[:1], labels[:1])))
  dataset = common.load_dataset("mnist", download=True)
  np.testing.assert_array_equal(dataset.x_train, np.ones((2, 28, 28)))
  np.testing.assert_array_equal(dataset.y_test, [3])


def test_load_dataset_says_when_the_download_fails(tmp_path, monkeypatch):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))

  def unreachable():
    raise OSError("no network")

  monkeypatch.setattr(keras.datasets.mnist, "load_data", unreachable)
  with pytest.raises(FileNotFoundError,
                     match="could not download it .no network.*digits"):
    common.load_dataset("mnist", download=True)


def test_check_activations():
  assert common.check_activations(["tanh", "relu", "tanh_pade_4_4_clamp"])
  with pytest.raises(flags.ValidationError, match="Did you mean: tanh_pade_4_4"):
    common.check_activations(["tanh", "tahn_pade_4_4"])


def test_format_runs():
  runs = [common.Run("tanh", {"loss": 0.5, "acc": 0.9}, 2.0),
          common.Run("tanh_pade_4_4", {"loss": 0.25, "acc": 1.0}, 1.5)]
  assert common.format_runs(runs) == textwrap.dedent("""\
      | activation    |   loss |    acc | train time (s) | time ratio vs tanh |
      |:--------------|-------:|-------:|---------------:|-------------------:|
      | tanh          | 0.5000 | 0.9000 |           2.00 |               1.00 |
      | tanh_pade_4_4 | 0.2500 | 1.0000 |           1.50 |               0.75 |""")


def test_format_runs_prints_counts_as_ints():
  runs = [common.Run("relu", {"acc": 0.5, "params": 61706}, 1.0),
          common.Run("pau", {"acc": 1.0, "params": np.int64(61746)}, 2.0)]
  assert common.format_runs(runs).splitlines()[2:] == [
      "| relu       | 0.5000 |  61706 |           1.00 |               1.00 |",
      "| pau        | 1.0000 |  61746 |           2.00 |               2.00 |"]


def test_format_runs_prints_strings_as_they_are():
  runs = [common.Run("dense", {"error (%)": "1.39", "thesis": "-"}, 1.0)]
  assert common.format_runs(runs, label="model").splitlines()[2] == (
      "| dense |      1.39 |      - |           1.00 |                1.00 |")


def test_distributed_trains_alike_on_two_local_workers():
  stdout = _run_example("distributed.py", "--epochs=2", "--batch_size=128")
  assert "Starting 2 local workers: 127.0.0.1:" in stdout
  assert "worker 0: MultiWorkerMirroredStrategy, 2 replicas in sync" in stdout
  losses = [float(loss) for loss in
            re.findall(r"epoch \d: train loss (\S+) \(11 steps", stdout)]
  assert len(losses) == 2 and np.all(np.isfinite(losses)), stdout
  accuracy, = re.findall(r"Test accuracy after 2 epochs: (\S+) ", stdout)
  assert 0 <= float(accuracy) <= 1
  assert "Every replica (2) holds bitwise the same weights" in stdout
  assert "2 workers trained in" in stdout


def test_distributed_stops_workers_past_the_timeout():
  # Workers cannot even start in a second: the launcher must stop them and
  # fail rather than wait.
  result = _run("distributed.py", "--timeout_s=1")
  assert result.returncode == 1
  assert "The workers ran past --timeout_s=1." in result.stdout
  assert "--- worker 1's output" in result.stdout


def test_noisy_unique_count_compares_models():
  # 200 sequences in batches of 64: 4 batches, the annealing steps each one.
  stdout = _run_example("noisy_unique_count.py", "--epochs=1",
                        "--train_size=200", "--test_size=100", "--units=8",
                        "--hidden_units=8", "--anneal_every=1",
                        "--noisy_parts=lstm,mlp",
                        "--models=reference,nan,nan_annealed,nanil_annealed")
  table = _table(stdout)
  assert list(table) == ["model", "reference", "nan", "nan_annealed",
                         "nanil_annealed"], stdout
  assert table["model"] == [
      "final train loss", "final c", "test error (%)", "thesis error (%)",
      "train time (s)", "time ratio vs reference"]
  assert table["reference"][-1] == "1.00"
  # c0 / sqrt(t + 1) before the 4th batch, t = 3.
  assert table["nan_annealed"][1] == table["nanil_annealed"][1] == "15.00"
  assert table["reference"][1] == table["nan"][1] == "-"
  thesis = {"reference": "33.28", "nan": "31.12", "nan_annealed": "9.53",
            "nanil_annealed": "20.94"}
  for label, error in thesis.items():
    loss, _, test_error, thesis_error, seconds, ratio = table[label]
    assert np.isfinite(float(loss))
    assert 0 <= float(test_error) <= 100
    assert thesis_error == error
    assert float(seconds) > 0 and float(ratio) > 0
  assert "always answering the most frequent count errs on" in stdout
  assert "this machine in this process" in stdout


def test_noisy_unique_count_rejects_unknown_model():
  stderr = _run_refused("noisy_unique_count.py", "--models=reference,nah")
  assert "unknown model(s) nah" in stderr


def test_gaaf_mlp_compares_measures_and_exports(tmp_path, run_python):
  export_dir = tmp_path / "model"
  stdout = _run_example("gaaf_mlp.py", "--epochs=3", "--patience=1",
                        "--min_delta=10", f"--export_dir={export_dir}")
  table = _table(stdout)
  assert list(table)[:4] == ["model", "base", "dropout", "gaaf"], stdout
  assert table["model"] == [
      "test accuracy (%)", "epochs to converge", "epochs run", "val loss",
      "paper accuracy (%)", "paper epochs", "train time (s)",
      "time ratio vs base"]
  assert table["base"][-1] == "1.00"
  paper = {"base": ["98.23", "82"], "dropout": ["98.40", "169"],
           "gaaf": ["98.35", "114"]}
  for label in ("base", "dropout", "gaaf"):
    accuracy, converged, epochs, loss, *papers, seconds, ratio = table[label]
    assert 0 <= float(accuracy) <= 100
    # No fall of the validation loss is 10 or more: the first epoch is the
    # best, and patience 1 stops the run after the second.
    assert (converged, epochs) == ("1", "2")
    assert np.isfinite(float(loss))
    assert papers == paper[label]
    assert float(seconds) > 0 and float(ratio) > 0
  # G_k of the four Dense layers, before and after training.
  assert table["model, weights"] == ["G1", "G2", "G3", "G4"]
  for label in ("base", "dropout", "gaaf"):
    for when in ("initial", "trained"):
      magnitudes = [float(g) for g in table[f"{label}, {when}"]]
      assert all(0 < g < 10 for g in magnitudes), (label, when, magnitudes)
  # Same initial weights; GAAF's forward pass is tanh's within 1/(2K), but
  # its gradient is larger: by the logits layer, G4 is the same.
  base, gaaf = table["base, initial"], table["gaaf, initial"]
  assert gaaf[3] == base[3]
  assert float(gaaf[0]) > float(base[0])
  assert "this machine in this process" in stdout

  _assert_serves(run_python, export_dir, "TfApprox>Gaaf")


def test_gaaf_mlp_rejects_unknown_model():
  stderr = _run_refused("gaaf_mlp.py", "--models=base,gaf")
  assert "unknown model(s) gaf" in stderr


def test_mollified_parity_compares_plain_and_mollified():
  stdout = _run_example("mollified_parity.py", "--bits=8", "--layers=2",
                        "--units=16", "--examples=100", "--epochs=3",
                        "--batch_size=25", "--k=50")
  assert "Data: 8-bit parity, 100 training and 1000 test vectors" in stdout
  assert "at epochs 1, 2, 3:" in stdout
  table = _table(stdout)
  assert list(table) == ["model", "plain", "mollified"], stdout
  assert table["model"] == [
      "train loss", "train accuracy", "test accuracy",
      "first epoch at 90% train accuracy", "train time (s)",
      "time ratio vs plain"]
  assert table["plain"][-1] == "1.00"
  for label in ("plain", "mollified"):
    loss, train_accuracy, test_accuracy = map(float, table[label][:3])
    assert np.isfinite(loss) and 0 <= train_accuracy <= 1
    assert 0 <= test_accuracy <= 1
    assert table[label][3] in ("-", "1", "2", "3")
    seconds, ratio = map(float, table[label][4:])
    assert seconds > 0 and ratio > 0
  # One level per mollifying layer, after 3 epochs of 4 steps.
  levels = stdout.split("final levels p by layer, input first, after 12 "
                        "steps: ")[1].split(".\n")[0].split()
  assert len(levels) == 2 and all(0 <= float(p) <= 1 for p in levels)


# The trainers of the approximation paper's workloads (examples/workloads.py).


def _summary(stdout, workload):
  """(final loss, seconds, examples/s) of a trainer's one-line summary."""
  line, = [l for l in stdout.splitlines() if l.startswith(f"{workload}: ")]
  match = re.fullmatch(
      rf"{workload}: activation (.+), final loss (\S+), wall time (\S+) s, "
      rf"(\S+) examples/s", line)
  assert match, line
  return match[1], float(match[2]), float(match[3]), float(match[4])


def test_convnet_trains_logs_and_exports(tmp_path, run_python):
  export_dir, log_dir = tmp_path / "model", tmp_path / "logs"
  stdout = _run_example("convnet.py", "--epochs=2",
                        "--activation=sigm_fastexp_512",
                        f"--log_dir={log_dir}", f"--export_dir={export_dir}")
  assert "1438 training images at 28x28" in stdout
  assert "Epoch 2/2" in stdout  # Keras' progress bars
  activation, loss, seconds, speed = _summary(stdout, "convnet")
  assert activation == "sigm_fastexp_512"
  assert 0 < loss < 2.5 and seconds > 0
  assert speed == pytest.approx(2 * 1438 / seconds, rel=0.01)
  assert list(log_dir.glob("train/events.out.tfevents.*"))
  _assert_serves(run_python, export_dir, "TfApprox>Activation",
                 shape=(3, 28, 28, 1))


def test_autoencoder_trains_and_exports(tmp_path, run_python):
  export_dir = tmp_path / "model"
  stdout = _run_example("autoencoder.py", "--epochs=3",
                        "--activation=tanh_pade_4_4",
                        f"--export_dir={export_dir}")
  activation, loss, _, _ = _summary(stdout, "autoencoder")
  assert activation == "tanh_pade_4_4"
  assert 0 < loss < 0.2
  _assert_serves(run_python, export_dir, "TfApprox>Activation",
                 shape=(3, 784), expected=(3, 784))


def test_char_rnn_trains_samples_and_exports(tmp_path, run_python):
  export_dir = tmp_path / "model"
  stdout = _run_example("char_rnn.py", "--epochs=1", "--max_chars=2551",
                        "--sample_length=40", "--activation=tanh_pade_4_4",
                        "--recurrent_activation=sigm_fastexp_512",
                        f"--export_dir={export_dir}")
  assert ("pydoc_data.topics (standard library): 2551 characters" in stdout)
  assert "51 windows of 50" in stdout
  sample = stdout.split("Sample (temperature 0.5):\n")[1].split("\n\n")[0]
  assert sample.startswith("The ") and len(sample) == 44
  activation, loss, _, _ = _summary(stdout, "char_rnn")
  # --lstm=fused by default: the activations run inside the fused op.
  assert activation == ("tanh_pade_4_4, recurrent_activation "
                        "sigm_fastexp_512, fused LSTM")
  assert np.isfinite(loss)
  vocabulary = int(re.search(r"2551 characters, (\d+) distinct", stdout)[1])
  _assert_serves(run_python, export_dir, "TfApprox>Lstm",
                 shape=(2, 50), dtype="int32", expected=(2, 50, vocabulary))


def test_char_rnn_learns_a_users_text(tmp_path):
  text = tmp_path / "mine.txt"
  text.write_text("abcab" * 200, encoding="utf-8")
  stdout = _run_example("char_rnn.py", "--epochs=3", f"--data_path={text}",
                        "--sample_length=10", "--batch_size=4", "--lstm=keras")
  assert f"{text}: 1000 characters, 3 distinct, 19 windows of 50" in stdout
  activation, loss, _, _ = _summary(stdout, "char_rnn")
  assert activation == "tanh, recurrent_activation sigmoid, keras LSTM"
  assert np.isfinite(loss)
  sample = stdout.split("Sample (temperature 0.5):\n")[1].split("\n")[0]
  assert set(sample[4:]) <= set("abc")


def test_trainers_refuse_bad_flags():
  assert "convnet has no recurrent layers" in _run_refused(
      "convnet.py", "--recurrent_activation=sigmoid")
  assert "Did you mean: tanh_pade_4_4" in _run_refused(
      "autoencoder.py", "--activation=tanh_pade_4_44")
  assert "Did you mean: sigm_fastexp_512" in _run_refused(
      "char_rnn.py", "--recurrent_activation=sigm_fastexp_511")
  assert "--lstm=cudnn: value should be one of <fused|keras>" in (
      _run_refused("char_rnn.py", "--lstm=cudnn"))
  # Only the keras LSTM takes relu.
  stderr = _run_refused("char_rnn.py", "--activation=relu", "--max_chars=51")
  assert "--lstm=fused: `activation`: Unknown tf_approx activation" in stderr
  assert "lstm='keras' takes any Keras activation" in stderr


def test_reproduce_table1_quick_writes_table_and_figures(tmp_path):
  stdout = _run_example("reproduce_table1.py", "--quick",
                        "--workloads=autoencoder", f"--out_dir={tmp_path}")
  markdown = (tmp_path / "table1.md").read_text()
  assert markdown in stdout
  table = _table(markdown.split("## autoencoder")[1].split("## Fig. 5")[0])
  assert list(table) == [
      "activation", "sigmoid", "sigm_fastexp_2", "sigm_fastexp_512",
      "sigm_fastexp_512_clamp", "tanh", "tanh_pade_4_4", "serp",
      "tanh_pade_4_4_clamp"], markdown
  assert table["activation"] == [
      "loss", "loss rel", "time (s)", "time rel (range)", "epoch rel",
      "converged", "max error", "verdict", "paper loss", "paper loss rel",
      "paper time (s)", "paper time rel", "paper choice"]
  for baseline in ("sigmoid", "tanh"):
    assert table[baseline][1] == table[baseline][3] == "1.000"
    assert table[baseline][4] == "1.000"
  # The paper's numbers beside ours; none for the _clamp variants.
  assert table["sigm_fastexp_512"][8:] == ["4.1670", "1.000", "31.5",
                                           "0.886", "safe"]
  assert table["tanh_pade_4_4_clamp"][8:] == ["", "", "", "", ""]
  # Max error on [-5.5, 5.5], of the plain least-squares fit.
  assert table["sigm_fastexp_512"][6] == "4.3e-04"
  assert table["tanh_pade_4_4"][6] == "2.2e-03"
  for label, cells in list(table.items())[1:]:
    assert cells[5] == "1/1", (label, cells)
  # One safe row per group; a ranged one only if faster than it.
  verdicts = [cells[7] for cells in list(table.values())[1:]]
  assert verdicts.count("safe") == 2, verdicts
  assert "| linear" in markdown.split("## Fig. 5")[1]
  for figure in ("table1_autoencoder.png", "table1_fig5.png"):
    assert (tmp_path / "figures" / figure).stat().st_size > 10_000
  runs = json.loads((tmp_path / "table1.json").read_text())["autoencoder"]
  assert len(runs["tanh_pade_4_4"]) == 1
  run, = runs["sigmoid"]
  assert len(run["losses"]) == len(run["epoch_ends"]) == 8  # quick: 8 epochs
  assert run["losses"][-1] == pytest.approx(float(table["sigmoid"][0]),
                                            abs=1e-4)


# reproduce_table1.py's CharRNN tables from made-up runs (training them takes
# a minute): the fused LSTM's rows and Keras', each against its own
# sigmoid / tanh, and the two against each other.
_TABLE1_CHAR_RNN = """
import sys
sys.path.insert(0, sys.argv[1])
from absl import flags
import reproduce_table1 as t1
import workloads
flags.FLAGS(["reproduce_table1.py", "--quick"])
fused, keras_rows = t1.PAPER["char_rnn"]
print("full", len(fused), len(keras_rows), fused[0].label, keras_rows[0].label)
groups = [[t1.Result(row) for row in group if row.quick]
          for group in t1.PAPER["char_rnn"]]
for result in (r for group in groups for r in group):
  baseline = result.row.pair == "sigmoid / tanh"
  seconds = (2.0 if result.row.lstm == "fused" else 4.0) * (
      1.0 if baseline else 0.8)
  loss = 3.2 if baseline else 3.04
  result.runs.append(workloads.Training(
      4.5, [3.5, loss], [seconds / 2, seconds], seconds, 100))
functions = {f for group in groups for r in group for f in r.row.functions}
errors = {f: t1.max_error(f) for f in functions}
eligible = t1.candidates({"char_rnn": groups})
print(t1.workload_table(groups, errors, t1.verdicts(groups, eligible, errors)))
print(t1.target_report(groups))
print(t1.lstm_table(groups))
"""


def test_reproduce_table1_char_rnn_rows_on_both_lstms(run_python):
  result = run_python(_TABLE1_CHAR_RNN, EXAMPLES)
  assert result.returncode == 0, result.stderr[-5000:]
  stdout = result.stdout
  # The full run: the paper's 19 rows and the _clamp one; no relu on the
  # fused layer.
  assert stdout.startswith("full 19 20 fused: sigmoid / tanh keras: relu / "
                           "relu\n"), stdout
  ours, theirs = stdout.split("\n| recurrent / activation ")
  table = _table(ours)
  # --quick: the picks on the fused layer, the target's two rows on Keras'.
  assert list(table) == [
      "LSTM: recurrent / activation", "fused: sigmoid / tanh",
      "fused: sigm_fastexp_2 / serp", "fused: sigm_fastexp_512 / "
      "tanh_pade_4_4", "fused: sigm_fastexp_512 / serp_clamp",
      "fused: sigm_fastexp_512_clamp / tanh_pade_4_4_clamp",
      "keras: sigmoid / tanh", "keras: sigm_fastexp_512 / tanh_pade_4_4"
  ], stdout
  # Each layer against its own sigmoid / tanh (loss rel, time rel, epoch
  # rel), not against the other layer's.
  for lstm in ("fused", "keras"):
    assert table[f"{lstm}: sigmoid / tanh"][1:5:2] == ["1.000", "1.000"]
    assert table[f"{lstm}: sigmoid / tanh"][4] == "1.000"
    target = table[f"{lstm}: sigm_fastexp_512 / tanh_pade_4_4"]
    assert target[1] == "0.950" and target[3:5] == ["0.800", "0.800"]
    assert target[9] == "1.002"  # the paper's numbers beside both
  verdicts = [cells[7] for cells in list(table.values())[1:]]
  assert verdicts.count("safe") == 2, verdicts  # one per layer
  assert ("CharRNN on the fused LSTM (tf_approx.layers.LSTM) with the safe "
          "picks (sigm_fastexp_512 / tanh_pade_4_4) against sigmoid / tanh: "
          "training time ratio 0.800") in stdout
  assert "CharRNN on the Keras LSTM (keras.layers.LSTM, no cuDNN)" in stdout
  comparison = _table("| recurrent / activation " + theirs)
  assert comparison == {
      "recurrent / activation": ["loss fused / Keras", "≤ 1.02",
                                 "time fused / Keras (range)",
                                 "epoch fused / Keras"],
      "sigmoid / tanh": ["1.000", "met", "0.500", "0.500"],
      "sigm_fastexp_512 / tanh_pade_4_4": ["1.000", "met", "0.500",
                                           "0.500"]}, stdout


def test_trainers_list_the_common_flags():
  # --helpshort exits with status 1 after printing the trainer's key flags.
  result = _run("char_rnn.py", "--helpshort")
  for flag in ("activation", "recurrent_activation", "lstm", "epochs",
               "batch_size", "seed", "dataset", "data_path", "log_dir",
               "export_dir"):
    assert f"\n  --{flag}:" in result.stdout, (flag, result.stdout)


# The safe GELU, trained and profiled against Keras' exact one.
APPROX = "gelu_pade_5_6_clamp"


def test_transformer_quick_profiles_trains_and_writes(tmp_path):
  stdout = _run_example("transformer.py", "--quick", "--profile",
                        "--activations=gelu," + APPROX, "--seq_len=16",
                        "--batch_size=64", "--max_chars=2000", "--epochs=1",
                        "--profile_steps=2", f"--out_dir={tmp_path}")
  markdown = (tmp_path / "transformer.md").read_text()
  runs = json.loads((tmp_path / "transformer.json").read_text())
  assert list(runs) == ["char_transformer", "digits_mixer"]
  assert "2000 characters" in markdown and "windows of 16" in markdown
  for name in runs:
    section = markdown.split(f"## {name}")[1].split("\n## ")[0]
    profile, training = section.split("### Training")
    table = _table(profile)
    assert list(table) == ["activation", "gelu", APPROX,
                           "linear (identity)"], section
    assert table["activation"] == ["step (ms, median)", "step (ms, fastest)",
                                   "vs gelu", "share of gelu removed"]
    assert table["gelu"][2:] == ["1.000", "0%"]
    for label in (APPROX, "linear (identity)"):
      median, fastest = map(float, table[label][:2])
      assert median >= fastest > 0
    assert re.search(r"gelu's share of the training step: -?\d+\.\d% .*; "
                     r"-?\d+\.\d% by the fastest steps", profile)
    table = _table(training)
    assert list(table) == ["activation", "gelu", APPROX], section
    assert table["activation"] == [
        "final loss", "loss ratio vs gelu", "converged", "fit (s)",
        "epoch (s, median)", "step (ms)", "time ratio vs gelu"]
    assert table["gelu"][1] == "1.0000" and table["gelu"][-1] == "1.000"
    for label in ("gelu", APPROX):
      run = runs[name]["runs"][label]
      assert len(run["losses"]) == len(run["epoch_ends"]) == 1
      assert np.all(np.isfinite(run["losses"]))
      assert run["losses"][-1] == pytest.approx(float(table[label][0]),
                                                abs=1e-4)
      assert float(table[label][-1]) > 0
    assert [len(t) for t in runs[name]["profile"].values()] == [2, 2, 2]
    # "-" where, in two steps on a loaded machine, the identity was no faster.
    assert re.search(rf"- {APPROX}: removes (-?\d+\.\d%|-) of gelu's share",
                     section)
  assert f"Wrote {tmp_path / 'transformer.md'}" in stdout
