"""Runs every op of the library, forward and gradient, and saves the results.

A fixed sweep, in a fresh process under one TF_APPROX_ISA clone: every family
(the TF ops and, through tools/native_cases.py, every `_native` loop), float32
and float64, empty/tail/multi-vector shapes, finite and special values, inputs
seeded by the case's name. tests/test_isa.py compares the clones with each
other, with the composite twins and, bitwise, with the outputs recorded in
tests/data/golden/ (so that a refactoring provably changes no result).

  python tools/op_sweep.py --record [DIRECTORY]

records one `<isa>.json` per clone this CPU can run (default directory:
tests/data/golden): each output's dtype, shape and a digest of its bytes,
which is as exact as the arrays and a thousandth of their size. Record only
for a change that is meant to alter results, and say in its commit which
outputs changed and why.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "data" / "golden"

DRIVER = textwrap.dedent("""
  import ctypes, json, os, sys, zlib
  import numpy as np
  import tensorflow as tf
  import tf_approx
  from tf_approx import _library, _native
  sys.path.insert(0, sys.argv[3])
  import native_cases

  out, composite = sys.argv[1], sys.argv[2] == "composite"
  ops = tf_approx.ops
  SPECIAL = [0.0, -0.0, 1e-40, 1e30, -1e30, np.inf, -np.inf, np.nan]
  # For the linear transforms, only zeros and subnormals: large values and
  # NaN make ACDC's gradients rounding noise that differs between clones (its
  # dx depends on x through cancellation, though dx is linear in dy alone).
  LINEAR_SPECIAL = [0.0, -0.0, 1e-40, -1e-39]
  results = {}

  def seed(tag):
    # Inputs depend on the case alone, whichever cases a run skips.
    global rng
    rng = np.random.default_rng(zlib.crc32(tag.encode()))

  def inputs(shape, dtype, special, values=SPECIAL):
    x = rng.normal(scale=3.0, size=shape)
    if special and x.size:
      flat = x.reshape(-1)
      flat[:min(flat.size, len(values))] = values[:flat.size]
      rng.shuffle(flat)
    return tf.constant(x.astype(dtype))

  def param(shape, dtype, scale=1.0, offset=0.0):
    return tf.Variable((offset + scale * rng.normal(size=shape)).astype(dtype))

  def record(key, function, x, params):
    x = tf.Variable(x)
    with tf.GradientTape() as tape:
      y = function(x, *params)
    weights = tf.constant(rng.normal(size=y.shape).astype(y.dtype.name))
    grads = tape.gradient(y, [x, *params], output_gradients=weights,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    results[key + "/y"] = y.numpy()
    for i, g in enumerate(grads):
      results[key + f"/d{i}"] = g.numpy()

  spec = ops.ActivationSpec(kind="rational", numerator=[0.0, 1.0, 0.0, 0.1],
                            denominator=[1.0, 0.0, 0.4])
  clipped = ops.ActivationSpec(kind="rational", numerator=[0.5, 1.0],
                               denominator=[1.0, 0.0, 0.2], clip=(-3.0, 3.0))
  for dtype in ("float32", "float64"):
    # The composites are compared on finite inputs only.
    for special in (False,) if composite else (False, True):
      kind = "special" if special else "finite"
      for size in (0, 3, 53):
        x = lambda: inputs([size, 1] if size < 53 else [53, 3], dtype,
                           special)
        tag = f"{kind}/{dtype}/{size}"
        seed(tag)
        for name in ("tanh_pade_4_4", "sigm_fastexp_512"):
          record(f"activation/{name}/{tag}",
                 lambda v, name=name: ops.activation(v, name), x(), [])
        for act in ("hard_tanh", "word2vec_sigmoid", "ultra_fast_sigmoid"):
          record(f"activation/{act}/{tag}",
                 lambda v, act=act: ops.activation(
                     v, ops.ActivationSpec(kind=act)), x(), [])
        record(f"activation/custom/{tag}",
               lambda v: ops.activation(v, spec), x(), [])
        record(f"activation/clipped/{tag}",
               lambda v: ops.activation(v, clipped), x(), [])
        for denominator in ("safe", "abs_of_sum", "unsafe"):
          record(f"pau/{denominator}/{tag}",
                 lambda v, a, b, denominator=denominator: ops.pau(
                     v, a, b, denominator), x(),
                 [param([6], dtype), param([4], dtype)])
        channels = 1 if size < 53 else 3
        record(f"pau/per_channel/{tag}",
               lambda v, a, b: ops.pau(v, a, b), x(),
               [param([channels, 4], dtype), param([channels, 3], dtype)])
        for base in ("tanh", "sigmoid"):
          for where in ("output", "input_learned"):
            record(f"noisy/{base}/{where}/{tag}",
                   lambda v, p, base=base, where=where: ops.noisy_activation(
                       v, p, 0.5, base=base, where=where), x(),
                   [param([channels], dtype)])
        # Training draws the counter noise, which the GPU kernels must draw
        # alike.
        for where, noise in (("output", "normal"), ("input", "half_normal"),
                             ("input_learned", "normal")):
          record(f"noisy/train/{where}/{noise}/{tag}",
                 lambda v, p, where=where, noise=noise: ops.noisy_activation(
                     v, p, 0.5, seed=tf.constant([11, 2], tf.int64),
                     where=where, noise=noise, training=True), x(),
                 [param([channels], dtype)])
        for base in ("tanh", "sigmoid", "relu"):
          record(f"gaaf/{base}/{tag}",
                 lambda v, base=base: ops.gaaf(v, base=base), x(), [])
        # Today's activations (the forms around a rational and fastexp),
        # seeded on their own: added after the others were recorded.
        seed(f"modern/{tag}")
        for name in ("gelu_pade_5_6_clamp", "silu_pade_5_4_clamp",
                     "mish_fastexp_1024_clamp", "softplus_pade_6_4_clamp",
                     "selu_fastexp_512_clamp", "gelu_pade_5_6"):
          record(f"activation/{name}/{tag}",
                 lambda v, name=name: ops.activation(v, name), x(), [])
        # Splines, seeded on their own too: a one-register table (16
        # float32 pieces), a pair (32 float32, 16 double) and the general
        # path (32 double).
        seed(f"splines/{tag}")
        for name in ("gelu_spline_16", "silu_spline_32"):
          record(f"activation/{name}/{tag}",
                 lambda v, name=name: ops.activation(v, name), x(), [])
      seed(f"transforms/{kind}/{dtype}")
      for d, n_in, units, rows in ((8, 5, 12, 3), (64, 64, 64, 9)):
        blocks = -(-units // d)
        perm = tf.constant(np.stack([rng.permutation(d)
                                     for _ in range(blocks)]), tf.int32)
        record(f"fastfood/{d}/{kind}/{dtype}",
               lambda v, s, g, b, perm=perm, units=units: ops.fastfood(
                   v, s, g, b, perm, units, normalize=True),
               inputs([rows, n_in], dtype, special, LINEAR_SPECIAL),
               [param([blocks, d], dtype) for _ in range(3)])
        record(f"fwht/{d}/{kind}/{dtype}",
               lambda v: ops.fast_walsh_hadamard(v, normalize=True),
               inputs([rows, d], dtype, special, LINEAR_SPECIAL), [])
      for n, rows in ((5, 3), (16, 17), (100, 2)):
        record(f"acdc/{n}/{kind}/{dtype}", ops.acdc,
               inputs([rows, n], dtype, special, LINEAR_SPECIAL),
               [param([n], dtype, 0.1, 1.0) for _ in range(3)])
        record(f"dct/{n}/{kind}/{dtype}",
               lambda v: ops.dct(v, inverse=True),
               inputs([rows, n], dtype, special, LINEAR_SPECIAL), [])

      # The fused recurrent layers, seeded on their own: added after the
      # others were recorded. Masked steps (length 0 and partial), exact
      # and approximated functions, units within a vector and past one.
      seed(f"recurrent/{kind}/{dtype}")
      lengths = tf.constant([3, 0, 2, 3], tf.int32)
      for units in (5, 17):
        for name, (a, ra) in (("exact", ("tanh", "sigmoid")),
                              ("approx", ("tanh_pade_4_4",
                                          "sigm_fastexp_512"))):
          record(f"lstm/{name}/{units}/{kind}/{dtype}",
                 lambda v, k, h0, c0, a=a, ra=ra: ops.lstm(
                     v, k, h0, c0, lengths, activation=a,
                     recurrent_activation=ra)[0],
                 inputs([3, 4, 4 * units], dtype, special),
                 [param([units, 4 * units], dtype, 0.3),
                  param([4, units], dtype), param([4, units], dtype)])
          for reset_after in (True, False):
            record(f"gru/{name}/{reset_after}/{units}/{kind}/{dtype}",
                   lambda v, k, b, h0, a=a, ra=ra, reset_after=reset_after: (
                       ops.gru(v, k, b, h0, lengths, activation=a,
                               recurrent_activation=ra,
                               reset_after=reset_after)[0]),
                   inputs([3, 4, 3 * units], dtype, special),
                   [param([units, 3 * units], dtype, 0.3),
                    param([3 * units], dtype, 0.1), param([4, units], dtype)])

  info = {"ops_isa": tf_approx.selected_isa()}
  if not composite:
    for name, arrays in native_cases.run(_native).items():
      for i, a in enumerate(arrays):
        results[f"native/{name}/{i}"] = a
    info["native_isa"] = _native.selected_isa()
    for key, path in (("ops", str(_library.LIBRARY_PATH)),
                      ("native", _native.__file__)):
      probe = ctypes.CDLL(path).tf_approx_isa_probe
      probe.restype = ctypes.c_void_p
      address = probe()
      real = os.path.realpath(path)
      for line in open("/proc/self/maps"):
        fields = line.split()
        if fields[-1] == real and int(fields[2], 16) == 0:
          info[key + "_probe"] = address - int(fields[0].split("-")[0], 16)
          break
  np.savez(out, **results)
  print("ISA_RUN " + json.dumps(info))
""")


class SweepError(RuntimeError):
  """The sweep's process failed."""


def run(isa, out, composite=False):
  """Runs the sweep under clone `isa` (None: the loader's choice).

  With `composite`, the ops run as their composite twins (TF_APPROX_PY_OPS=1)
  on finite inputs only. Returns (info, {key: array}); `out` is the .npz
  written on the way.
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  env.pop("TF_APPROX_ISA", None)
  env.pop("TF_APPROX_PY_OPS", None)
  if isa is not None:
    env["TF_APPROX_ISA"] = isa
  if composite:
    env["TF_APPROX_PY_OPS"] = "1"
  result = subprocess.run(
      [sys.executable, "-c", DRIVER, str(out),
       "composite" if composite else "native", str(REPO / "tools")],
      env=env, capture_output=True, text=True, timeout=600, check=False)
  if result.returncode != 0:
    raise SweepError(result.stderr[-5000:])
  line = [l for l in result.stdout.splitlines() if l.startswith("ISA_RUN ")]
  return json.loads(line[-1][len("ISA_RUN "):]), dict(np.load(out))


def digest(array):
  """"dtype shape digest" of an array: equal iff the arrays are, bitwise,
  except that every NaN counts as the same NaN (no op defines the sign or
  payload of a NaN it returns, and they change with instruction selection:
  whether a compiler commutes an addition decides which NaN operand
  propagates)."""
  array = np.array(array)
  if array.dtype.kind == "f":
    array[np.isnan(array)] = np.nan
  shape = "x".join(map(str, array.shape))
  return (f"{array.dtype.str} {shape} "
          f"{hashlib.sha256(array.tobytes()).hexdigest()[:20]}")


def record(directory):
  # pylint: disable-next=import-outside-toplevel
  from tf_approx import _native
  directory.mkdir(parents=True, exist_ok=True)
  with tempfile.TemporaryDirectory() as tmp:
    for isa in _native.supported_isas():
      _, arrays = run(isa, Path(tmp) / f"{isa}.npz")
      path = directory / f"{isa}.json"
      with open(path, "w", encoding="utf-8") as f:
        json.dump({key: digest(arrays[key]) for key in sorted(arrays)}, f,
                  indent=0, sort_keys=True)
        f.write("\n")
      print(f"{isa}: {len(arrays)} outputs -> {path}")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--record", nargs="?", const=str(GOLDEN), metavar="DIR",
                      help="record the outputs of every clone this CPU runs")
  args = parser.parse_args()
  if args.record is None:
    parser.error("nothing to do: pass --record")
  record(Path(args.record))


if __name__ == "__main__":
  main()
