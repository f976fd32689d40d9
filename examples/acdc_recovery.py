r"""Recovers a dense 32x32 operator with ACDC_K stacks, as thesis Fig. 3.4.

The linear experiment of section 3.10.7.1 of the thesis (Moczulski et al.,
"ACDC: A Structured Efficient Linear Layer", ICLR 2016): the regression

  Y = X W_true + eps,

X of 10,000 x 32 and W_true of 32 x 32 with entries drawn uniformly from
[0, 1], eps ~ N(0, 1e-4) (standard deviation 0.01), all generated from --seed
(no download). ACDC_K, K ACDC layers in a row, y = x [prod_k A_k C D_k C^T]
(eq. 3.26 with real diagonals and the orthonormal DCT C), is fitted to (X, Y)
by minimising the mean squared error, once for every K in --ks and for both
initialisations of the diagonals A_k and D_k the thesis compares:

  N(1, 0.1²):   near the identity map, the thesis' choice (Fig. 3.4 left);
  N(0, 0.001²): the "standard strategy for linear layers" (Fig. 3.4 right).

The baseline is the dense matrix: a bias-free `keras.layers.Dense(32)`
(Glorot-uniform init), trained the same way. The table prints the final
training loss (the MSE over all of X, after training) of every K and both
initialisations, with the parameters (2 * 32 * K) and the train times. The
losses by epoch are plotted to --plot_path, one panel per initialisation as in
Fig. 3.4, with a third panel of the final losses against K. The thesis' trend:
with N(1, 0.1²) the loss falls as K grows; with N(0, 0.001²) it gets worse as
K grows, or at least no better. The example says after the table whether it
held: with the default flags it does, the loss falling from 0.67 (K=1) to
0.041 (K=32) with N(1, 0.1²), while with N(0, 0.001²) only K=1 and 2 train (to
0.68 and 0.22) and K >= 4 never leave their initial loss of 69: the product of
2K diagonals near 0.001 makes every gradient vanish.

ACDC_K is `tf_approx.layers.SELL(depth=K, activation=None, use_bias=False)`,
a linear stack without biases, as eq. 3.26 and the dense baseline. SELL puts
a fixed random permutation between consecutive ACDC layers; eq. 3.26 has
none, and the thesis adds them for its convolutional networks (section
3.10.7.2) to keep adjacent layers incoherent. They are not needed for the
trend, but they help: --nopermutations fits eq. 3.26 exactly, a stack of K
`tf_approx.layers.ACDC(use_bias=False)`, and with the default flags otherwise
ends with losses from 0.67 (K=1) down to 0.061 (K=32), against 0.041 with
permutations, and 0.097 against 0.069 for K=16.

Training: Adam at --learning_rate 0.01, decayed to 0 over the run by a cosine,
batch size 50, 20 epochs (4000 steps). The thesis says SGD, but the problem
is ill-conditioned (X's entries have mean 0.5: its Gram matrix has one
eigenvalue about 100 times the others): in 2000 steps SGD with momentum 0.9
and the same decay diverged for ACDC_32 at a learning rate of 3e-3, ended at
twice Adam's loss at 3e-4, and left the dense matrix at 8 times Adam's loss.
In 4000 steps of Adam the dense matrix gets near the noise floor (an MSE of
1e-4; 1.8e-4) but no ACDC stack comes close, so the losses compare how fast
the stacks optimise as much as what they can express: 8000 steps
(--ks=16,32 --epochs=80 --batch_size=100) bring ACDC_16 and ACDC_32 to 0.037
and 0.015, the dense matrix to 1.0e-4. The default runs take about two
minutes on two CPU cores.

Usage:

  python examples/acdc_recovery.py
  python examples/acdc_recovery.py --ks=4,16,32 --epochs=80
  python examples/acdc_recovery.py --nopermutations \
      --plot_path=/tmp/acdc_plain.png
"""

import os
import tempfile

from absl import app
from absl import flags
import keras
import numpy as np

import common
import tf_approx

SAMPLES = 10000
WIDTH = 32
NOISE_STDDEV = 0.01  # eps ~ N(0, 1e-4)
# The thesis' two initialisations of the diagonals: (name, mean, sigma).
INITS = (("N(1, 0.1²)", 1.0, 0.1), ("N(0, 0.001²)", 0.0, 1e-3))
# Training steps per call of the compiled train function: the steps are
# short, and calling it once per step would make the fits up to twice as
# long.
STEPS_PER_EXECUTION = 20


flags.DEFINE_list("ks", ["1", "2", "4", "8", "16", "32"],
                  "Numbers K of ACDC layers, one run per K and "
                  "initialisation.")
flags.register_validator("ks", common.positive_ints_validator("K values"))
flags.DEFINE_integer("epochs", 20, "Epochs of every run.", lower_bound=1)
flags.DEFINE_integer("batch_size", 50, "Batch size.", lower_bound=1)
flags.DEFINE_float(
    "learning_rate", 0.01,
    "Adam's initial learning rate, decayed to 0 over the run by a cosine.",
    lower_bound=0.0)
flags.DEFINE_integer(
    "seed", 0,
    "Seed of W_true, X and the noise, and of every run: runs of one K start "
    "from the same permutations and the same random draws of the diagonals "
    "(scaled to their initialisation) and see the data in the same order.")
flags.DEFINE_bool(
    "permutations", True,
    "Put SELL's fixed random permutation between consecutive ACDC layers; "
    "--nopermutations: a plain stack of ACDC layers, eq. 3.26 exactly.")
flags.DEFINE_string(
    "plot_path", os.path.join(tempfile.gettempdir(), "acdc_recovery.png"),
    "PNG file to plot the training loss by epoch of every run to, one panel "
    "per initialisation, and the final losses against K. Empty: no plot.")

FLAGS = flags.FLAGS


def make_data(seed):
  """(X, Y) of the regression Y = X W_true + eps, all drawn from `seed`."""
  rng = np.random.default_rng(seed)
  w_true = rng.uniform(size=(WIDTH, WIDTH))
  x = rng.uniform(size=(SAMPLES, WIDTH))
  y = x @ w_true + rng.normal(0.0, NOISE_STDDEV, size=(SAMPLES, WIDTH))
  return x.astype(np.float32), y.astype(np.float32)


def make_layer(k, mean, sigma):
  """ACDC_K with diagonals from N(mean, sigma²), or the dense matrix."""
  if k is None:
    return keras.layers.Dense(WIDTH, use_bias=False, name="dense")
  if FLAGS.permutations:
    return tf_approx.layers.SELL(depth=k, activation=None, sigma=sigma,
                                 use_bias=False, seed=FLAGS.seed, mean=mean,
                                 name=f"acdc_{k}")
  return keras.Sequential(
      [tf_approx.layers.ACDC(sigma=sigma, use_bias=False,
                             seed=FLAGS.seed + 2 * i, mean=mean)
       for i in range(k)], name=f"acdc_{k}")


def build_model(k, mean, sigma):
  """The linear model (ACDC_K, or dense for k None), compiled."""
  model = keras.Sequential([keras.Input((WIDTH,)), make_layer(k, mean, sigma)])
  steps = FLAGS.epochs * -(-SAMPLES // FLAGS.batch_size)
  model.compile(
      optimizer=keras.optimizers.Adam(
          keras.optimizers.schedules.CosineDecay(FLAGS.learning_rate, steps)),
      loss="mse",
      steps_per_execution=STEPS_PER_EXECUTION,
      # XLA, on by default with a GPU, would swap tf_approx's native ops for
      # their composite twins.
      jit_compile=False)
  return model


def trainable_params(model):
  return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def train(x, y, k=None, init=(None, None, None)):
  """Trains ACDC_K initialised by `init` (from INITS); k None: dense.

  Returns:
    (final loss, losses: the initial loss then the loss of every epoch,
    parameters, seconds of `fit`).
  """
  name, mean, sigma = init
  label = "dense" if k is None else f"ACDC_{k}, {name}"
  common.fresh_start(FLAGS.seed)
  model = build_model(k, mean, sigma)
  initial = model.evaluate(x, y, batch_size=1000, verbose=0)
  history, seconds = common.timed_fit(model, x, y, seed=FLAGS.seed,
                                      batch_size=FLAGS.batch_size,
                                      epochs=FLAGS.epochs, verbose=0)
  final = model.evaluate(x, y, batch_size=1000, verbose=0)
  print(f"  {label}: train loss {initial:.3g} at init, by epoch "
        f"{' '.join(f'{loss:.3g}' for loss in history.history['loss'])}; "
        f"final {final:.4g}; fit {seconds:.2f} s", flush=True)
  if not np.isfinite(final):
    print(f"  {label}: the training loss is not finite: the run diverged.",
          flush=True)
  return (final, [initial, *history.history["loss"]], trainable_params(model),
          seconds)


def trend(runs):
  """Says how the final loss moves with K, and whether as the thesis says.

  Args:
    runs: (K, losses, final loss) of every run of one initialisation, K
      ascending.

  Returns:
    (sentence, falls: whether the loss falls at every step of K).
  """
  ks = [k for k, _, _ in runs]
  finals = np.array([final for _, _, final in runs])
  steps = list(zip(finals, finals[1:]))
  falls = sum(later < earlier for earlier, later in steps)
  best = ks[int(np.nanargmin(finals))] if np.isfinite(finals).any() else "-"
  # "Did not train": ended within 1% of the loss it started from.
  stuck = [str(k) for k, losses, final in runs
           if not final < 0.99 * losses[0]]
  sentence = (f"lowest at K={best}; it falls at {falls} of the "
              f"{len(steps)} steps from one K to the next")
  if stuck:
    sentence += (f"; K={', '.join(stuck)} did not train (ended within 1% of "
                 f"the initial loss)")
  return sentence, bool(steps) and falls == len(steps)


def plot_losses(curves, dense, path):
  """Plots the losses: by epoch per initialisation, and final against K.

  Args:
    curves: {init name: [(K, losses, final loss) from `train`]}.
    dense: the dense matrix's (losses, final loss), drawn in every panel.
    path: the PNG file to write.
  """
  plt = common.pyplot()

  fig, axes = plt.subplots(1, len(curves) + 1,
                           figsize=(5.4 * (len(curves) + 1), 4.6))
  colors = plt.get_cmap("viridis")
  for ax, (name, runs) in zip(axes, curves.items()):
    for i, (k, losses, _) in enumerate(runs):
      ax.plot(losses, color=colors(i / max(1, len(runs) - 1)),
              label=f"ACDC_{k}")
    ax.plot(dense[0], "--", color="black", label="dense")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (MSE)")
    ax.set_title(f"Initialisation {name}")
    ax.legend(fontsize="small")
  ax = axes[-1]
  for (name, runs), marker in zip(curves.items(), "os"):
    ax.plot([k for k, _, _ in runs], [final for _, _, final in runs],
            marker=marker, label=name)
  ax.axhline(dense[1], linestyle="--", color="black", label="dense")
  ax.set_xscale("log", base=2)
  ks = [k for k, _, _ in runs]
  ax.set_xticks(ks, [str(k) for k in ks])
  ax.set_yscale("log")
  ax.set_xlabel("K (ACDC layers)")
  ax.set_ylabel("final training loss (MSE)")
  ax.set_title("Final loss against K")
  ax.legend(fontsize="small")
  fig.suptitle(f"Recovering a dense {WIDTH}x{WIDTH} operator with ACDC_K "
               f"({'with' if FLAGS.permutations else 'no'} permutations)")
  fig.tight_layout()
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fig.savefig(path, format="png", dpi=100)
  plt.close(fig)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  ks = sorted({int(k) for k in FLAGS.ks})
  x, y = make_data(FLAGS.seed)
  print(f"Data: Y = X W_true + eps, X {SAMPLES}x{WIDTH} and W_true "
        f"{WIDTH}x{WIDTH} uniform on [0, 1], eps ~ N(0, "
        f"{NOISE_STDDEV ** 2:g}), seed {FLAGS.seed}")
  print(f"Training: {'SELL' if FLAGS.permutations else 'plain'} ACDC_K "
        f"stacks ({'with' if FLAGS.permutations else 'without'} "
        f"permutations, no biases) and a bias-free Dense({WIDTH}), MSE, "
        f"Adam({FLAGS.learning_rate}) with cosine decay, {FLAGS.epochs} "
        f"epochs of batch size {FLAGS.batch_size}:", flush=True)

  dense_loss, dense_curve, dense_params, dense_seconds = train(x, y)
  results = {}  # (K, init name) -> (final loss, parameters, seconds)
  curves = {}  # init name -> [(K, losses, final loss)]
  for init in INITS:
    curves[init[0]] = []
    for k in ks:
      final, losses, params, seconds = train(x, y, k, init)
      results[k, init[0]] = final, params, seconds
      curves[init[0]].append((k, losses, final))

  # One row per K, one loss column per initialisation; the dense matrix's
  # one run is the reference in both.
  runs = [common.Run("dense", {"parameters": dense_params,
                               **{f"loss, {name}": f"{dense_loss:.4g}"
                                  for name, _, _ in INITS}},
                     dense_seconds)]
  for k in ks:
    runs.append(common.Run(
        str(k), {"parameters": results[k, INITS[0][0]][1],
                 **{f"loss, {name}": f"{results[k, name][0]:.4g}"
                    for name, _, _ in INITS}},
        sum(results[k, name][2] for name, _, _ in INITS)))
  print()
  print(common.format_runs(runs, label="K"))
  print(f"\nloss: the mean squared error over all of X after training; the "
        f"dense row is one run, the reference in both columns. Train time: "
        f"the wall-clock time of model.fit, of both runs of a K together "
        f"(tracing excluded by a warm-up), on {common.describe_machine()}.")
  print()
  (near_one, falls), (near_zero, _) = (trend(curves[name])
                                       for name, _, _ in INITS)
  print(f"{INITS[0][0]}: the final loss is {near_one}.")
  print(f"{INITS[1][0]}: the final loss is {near_zero}.")
  if len(ks) > 1:
    lowest, highest = ks[0], ks[-1]
    no_better = (results[highest, INITS[1][0]][0]
                 >= results[lowest, INITS[1][0]][0])
    print(f"The thesis' trend (Fig. 3.4), the loss falls as K grows with "
          f"{INITS[0][0]}: {'held' if falls else 'did not hold'}; it gets "
          f"worse, or no better, as K grows with {INITS[1][0]} (here: no "
          f"lower at K={highest} than at K={lowest}): "
          f"{'held' if no_better else 'did not hold'}.")

  if FLAGS.plot_path:
    plot_losses(curves, (dense_curve, dense_loss), FLAGS.plot_path)
    print(f"\nPlotted the training losses to {FLAGS.plot_path}.")


if __name__ == "__main__":
  app.run(main)
