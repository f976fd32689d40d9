"""Calls every family's CPU loops in `tf_approx._native` on awkward inputs.

Every entry point, float32 and float64, forward and backward, on every class
of shape the loops treat differently (empty, one element, a tail shorter than
a vector, several vectors and a tail, rows of a vector of rows and a tail of
rows) and on special values (+-0, subnormals, huge, +-inf, NaN). Needs numpy
only, so it runs on a sanitized build of the module (tools/sanitize_native.py)
and under each TF_APPROX_ISA (tests/test_isa.py).

  python tools/native_cases.py [DIRECTORY_OF_NATIVE_MODULE]

imports `_native` from that directory (default: tf_approx._native) and prints
a checksum line per case.
"""

import importlib
import sys

import numpy as np

# Element counts: empty, 1, a tail (< 16 float lanes, < 8 double lanes), one
# vector exactly, several vectors and a tail.
SIZES = (0, 1, 3, 7, 16, 53)

SPECIAL = (0.0, -0.0, 1e-40, -1e-310, 5e-324, 1e30, -1e30, 3e38, -3e38,
           1.7e308, np.inf, -np.inf, np.nan, 0.5, -2.5, 7.0)


def _inputs(dtype, shape, rng):
  x = rng.normal(scale=3.0, size=shape)
  flat = x.reshape(-1)
  count = min(flat.size, len(SPECIAL))
  flat[rng.choice(flat.size, size=count, replace=False)] = SPECIAL[:count]
  with np.errstate(over="ignore"):
    return x.astype(dtype)


def _activation_cases(native):
  rational = dict(kind="rational", numerator=[0.0, 1.0, 0.0, 0.1],
                  denominator=[1.0, 0.0, 0.4])
  return [
      ("rational", native.Spec(**rational)),
      ("rational_clip", native.Spec(**rational, clip=True, clip_min=-3.0,
                                    clip_max=3.0)),
      ("rational_offset", native.Spec(kind="rational", numerator=[0.5, 0.25],
                                      denominator=[1.0, 0.0, 0.1],
                                      offset=0.5)),
      ("fastexp", native.Spec(kind="fastexp_sigmoid", squarings=9)),
      ("fastexp_clip", native.Spec(kind="fastexp_sigmoid", squarings=1,
                                   clip=True, clip_min=-2.0, clip_max=2.0)),
      ("ultra_fast", native.Spec(kind="ultra_fast_sigmoid")),
      ("word2vec", native.Spec(kind="word2vec_sigmoid")),
      ("hard_tanh", native.Spec(kind="hard_tanh")),
      ("hard_sigmoid", native.Spec(kind="hard_sigmoid")),
      # The forms of today's activations: x R(u) with lines, exp - 1 and
      # Mish's factor.
      ("product_lines", native.Spec(**rational, offset=0.5, product=True,
                                    input_scale=1.5, below=[-4.0, 0.0, 0.0],
                                    above=[4.0, 1.0, 0.0])),
      ("expm1", native.Spec(kind="fastexp_expm1", squarings=9,
                            output_scale=1.5, above=[0.0, 1.0, 0.0],
                            below=[-512.0, 0.0, -1.5])),
      ("mish", native.Spec(kind="fastexp_mish", squarings=10, product=True,
                           slope=0.25)),
  ]


def cases(native):
  """Yields (name, thunk): each thunk calls `native` and returns arrays."""
  rng = np.random.default_rng(0)
  for dtype in (np.float32, np.float64):
    dt = np.dtype(dtype).name

    for size in SIZES:
      x = _inputs(dtype, size, rng)
      dy = rng.normal(size=size).astype(dtype)
      for name, spec in _activation_cases(native):
        yield (f"activation/{name}/{dt}/{size}",
               lambda spec=spec, x=x, dy=dy: (
                   native.forward(spec, x), native.gradient(spec, x, dy)))

      for kind in ("safe", "abs_of_sum", "unsafe"):
        for m, n in ((5, 4), (1, 1), (10, 10)):
          num = rng.normal(size=m + 1).astype(dtype)
          den = rng.normal(size=n).astype(dtype)
          for randomized in (0.0, 0.1):
            yield (f"pau/{kind}/{m}_{n}/{randomized}/{dt}/{size}",
                   lambda x=x, dy=dy, num=num, den=den, kind=kind,
                   randomized=randomized: (
                       native.pau(x, num, den, kind, randomized, (3, 4)),
                       *native.pau_grad(dy, x, num, den, kind, (3, 4))))

      for base in ("tanh", "relu", "sigmoid"):
        for shape in ("none", "exp", "sigmoid"):
          for k, center, width in ((10000.0, 0.0, 1.0), (3.0, 0.5, 2.0)):
            yield (f"gaaf/{base}/{shape}/{k}/{dt}/{size}",
                   lambda x=x, dy=dy, base=base, shape=shape, k=k,
                   center=center, width=width: (
                       native.gaaf(x, base, shape, k, center, width),
                       native.gaaf_grad(dy, x, base, shape, k, center,
                                        width)))

    # Per-channel shapes: rows of `channels`, a vector of rows and a tail.
    for rows, channels in ((0, 3), (1, 1), (2, 5), (3, 17), (11, 2)):
      x = _inputs(dtype, (rows, channels), rng)
      dy = rng.normal(size=(rows, channels)).astype(dtype)
      num = rng.normal(size=(channels, 4)).astype(dtype)
      den = rng.normal(size=(channels, 3)).astype(dtype)
      for kind in ("safe", "unsafe"):
        yield (f"pau/per_channel/{kind}/{dt}/{rows}x{channels}",
               lambda x=x, dy=dy, num=num, den=den, kind=kind: (
                   native.pau(x, num, den, kind, 0.05, (1, 2)),
                   *native.pau_grad(dy, x, num, den, kind, (1, 2))))
      p = rng.uniform(-1, 1, size=channels).astype(dtype)
      for p_values in (p, np.asarray(0.3, dtype)):
        for base in ("tanh", "sigmoid"):
          for where in ("output", "input", "input_learned", "input_saturated"):
            for noise in ("normal", "half_normal"):
              for training in (False, True):
                yield (f"noisy/{base}/{where}/{noise}/{training}/"
                       f"{p_values.ndim}/{dt}/{rows}x{channels}",
                       lambda x=x, dy=dy, p_values=p_values, base=base,
                       where=where, noise=noise, training=training: (
                           native.noisy_activation(
                               x, p_values, 0.5, (5, 6), base, where, noise,
                               1.0, training),
                           *native.noisy_activation_grad(
                               dy, x, p_values, 0.5, (5, 6), base, where,
                               noise, 1.0, training)))

    for d, n_in, units, rows in ((1, 1, 1, 3), (2, 1, 3, 2), (8, 5, 8, 0),
                                 (16, 16, 40, 5), (64, 33, 64, 17),
                                 (4096, 4096, 4096, 2)):
      blocks = -(-units // d)
      x = rng.normal(size=(rows, n_in)).astype(dtype)
      s, g, b = (rng.normal(size=(blocks, d)).astype(dtype) for _ in range(3))
      perm = np.stack([rng.permutation(d) for _ in range(blocks)]).astype(
          np.int32)
      dy = rng.normal(size=(rows, units)).astype(dtype)
      for normalize in (False, True):
        yield (f"fastfood/{d}/{n_in}/{units}/{normalize}/{dt}/{rows}",
               lambda x=x, s=s, g=g, b=b, perm=perm, dy=dy, units=units,
               normalize=normalize: (
                   native.fastfood(x, s, g, b, perm, units, normalize),
                   *native.fastfood_grad(dy, x, s, g, b, perm, units,
                                         normalize)))

    # In place: row lengths up to the strip-mined case (d > 32 KiB).
    for d, rows in ((1, 3), (2, 1), (16, 5), (256, 3), (16384, 1),
                    (2 ** 15, 1)):
      x = rng.normal(size=(rows, d)).astype(dtype)

      def fwht(x=x):
        y = x.copy()
        native.fast_walsh_hadamard_(y, normalize=True)
        return (y,)

      yield f"fwht/{d}/{dt}/{rows}", fwht

    # Lengths: 1, powers of two, Bluestein lengths, one over the vector of
    # rows limit (a row at a time).
    for n, rows in ((1, 3), (2, 1), (3, 0), (5, 7), (8, 17), (17, 33),
                    (100, 2), (65537, 1)):
      x = rng.normal(size=(rows, n)).astype(dtype)
      dy = rng.normal(size=(rows, n)).astype(dtype)
      a, d_, bias = (1 + 0.1 * rng.normal(size=n).astype(dtype)
                     for _ in range(3))
      yield (f"acdc/{n}/{dt}/{rows}",
             lambda x=x, dy=dy, a=a, d_=d_, bias=bias: (
                 native.acdc(x, a, d_, bias), *native.acdc_grad(dy, x, a, d_),
                 native.dct(x, inverse=False), native.dct(x, inverse=True)))

    # The fused LSTM: sizes with empty axes, tails of a vector of units, and
    # masks (lengths 0 to time); exact and approximated functions, both
    # directions, every unit at once and in blocks (the op's thread split).
    # Its own generator, so that the cases after it keep their inputs.
    lstm_rng = np.random.default_rng([1, np.dtype(dtype).itemsize])
    for time, batch, units in ((0, 2, 3), (3, 0, 3), (2, 3, 0), (1, 1, 1),
                               (4, 3, 17), (3, 7, 33)):
      x = _inputs(dtype, (time, batch, 4 * units), lstm_rng)
      kernel = (0.3 * lstm_rng.normal(size=(units, 4 * units))).astype(dtype)
      h0, c0 = (lstm_rng.normal(size=(batch, units)).astype(dtype)
                for _ in range(2))
      lengths = lstm_rng.integers(0, time + 1, size=batch).astype(np.int32)
      dy = lstm_rng.normal(size=(time, batch, units)).astype(dtype)
      dh, dc = (lstm_rng.normal(size=(batch, units)).astype(dtype)
                for _ in range(2))
      approx = native.Spec(kind="rational", numerator=[0, 1, 0, 0.1],
                           denominator=[1, 0, 0.43])
      gates = native.Spec(kind="fastexp_sigmoid", squarings=9)
      for functions in (("tanh", "sigmoid"), (approx, gates)):
        for reverse in (False, True):
          for block in (0, 16):
            name = "exact" if functions[0] == "tanh" else "approx"

            def lstm(x=x, kernel=kernel, h0=h0, c0=c0, lengths=lengths,
                     dy=dy, dh=dh, dc=dc, functions=functions,
                     reverse=reverse, block=block):
              outputs, z, cells = native.lstm(x, kernel, h0, c0, lengths,
                                              *functions, reverse, block)
              return (outputs, z, cells,
                      *native.lstm_grad(dy, dh, dc, kernel, h0, c0, lengths,
                                        outputs, z, cells, *functions,
                                        reverse, block))

            yield (f"lstm/{name}/{reverse}/{block}/{dt}/"
                   f"{time}x{batch}x{units}", lstm)

    # The fused GRU, likewise, in both layouts (reset_after or not).
    gru_rng = np.random.default_rng([2, np.dtype(dtype).itemsize])
    for time, batch, units in ((0, 2, 3), (3, 0, 3), (2, 3, 0), (1, 1, 1),
                               (4, 3, 17), (3, 7, 33)):
      x = _inputs(dtype, (time, batch, 3 * units), gru_rng)
      kernel = (0.3 * gru_rng.normal(size=(units, 3 * units))).astype(dtype)
      bias = (0.1 * gru_rng.normal(size=3 * units)).astype(dtype)
      h0 = gru_rng.normal(size=(batch, units)).astype(dtype)
      lengths = gru_rng.integers(0, time + 1, size=batch).astype(np.int32)
      dy = gru_rng.normal(size=(time, batch, units)).astype(dtype)
      dh = gru_rng.normal(size=(batch, units)).astype(dtype)
      approx = native.Spec(kind="rational", numerator=[0, 1, 0, 0.1],
                           denominator=[1, 0, 0.43])
      gates = native.Spec(kind="fastexp_sigmoid", squarings=9)
      for functions in (("tanh", "sigmoid"), (approx, gates)):
        for reset_after in (True, False):
          for reverse in (False, True):
            for block in (0, 16):
              name = "exact" if functions[0] == "tanh" else "approx"

              def gru(x=x, kernel=kernel, bias=bias, h0=h0, lengths=lengths,
                      dy=dy, dh=dh, functions=functions,
                      reset_after=reset_after, reverse=reverse, block=block):
                outputs, pre, reset = native.gru(x, kernel, bias, h0, lengths,
                                                 *functions, reset_after,
                                                 reverse, block)
                return (outputs, pre, reset,
                        *native.gru_grad(dy, dh, kernel, h0, lengths, outputs,
                                         pre, reset, *functions, reset_after,
                                         reverse, block))

              yield (f"gru/{name}/{reset_after}/{reverse}/{block}/{dt}/"
                     f"{time}x{batch}x{units}", gru)


def run(native):
  """Runs every case; returns {name: [arrays]}."""
  return {name: [np.asarray(a) for a in thunk()]
          for name, thunk in cases(native)}


def main(argv):
  if len(argv) > 1:
    sys.path.insert(0, argv[1])
    native = importlib.import_module("_native")
  else:
    native = importlib.import_module("tf_approx._native")
  results = run(native)
  for name, arrays in results.items():
    with np.errstate(all="ignore"):
      total = sum(float(np.nansum(np.where(np.isfinite(a), a, 0),
                                  dtype=np.float64)) for a in arrays)
    print(f"{name} {total:.6g}")
  print(f"native_cases: {len(results)} cases on {native.selected_isa()}")


if __name__ == "__main__":
  main(sys.argv)
