"""The GPU kernels' per-thread logic, run on the CPU (`_native.gpu_model`).

Each GPU kernel is a thin wrapper around a host-and-device function that
takes its block and thread explicitly (cc/<family>/<family>_gpu.h); here it
runs over every thread of launches of several shapes (one thread, a partial
warp, more threads than elements, fewer: each thread then loops) and must
give what the CPU kernels give. So the indexing, the tails and the half-type
conversions are checked on machines without a GPU; tools/gpu_check.py checks
the same kernels on a GPU against the CPU.

Bounds: each thread computes its elements as the CPU kernels' scalar path
does, so under the baseline clone (TF_APPROX_ISA=default, no FMA) the model
equals the CPU kernels bitwise (checked in a fresh process). The faster
clones run most elements in SIMD lanes where the compiler contracts
multiply-adds into FMAs, as nvcc does on the GPU, in other places: against
them the bound is SCALE_EPS units of the dtype's epsilon times max(1, |y|)
(measured at most 34, on GAAF's gradient, whose terms cancel). The noisy
activations' noise is a float32 number on either device, so where it is
drawn the unit is float32's epsilon for float64 too (measured at most 12.2
on y, 6.5 on dx, over 300000 elements under the AVX-512 clone). Their dp
sums run in another order than the CPU's (double per (chunk, lane) slot):
the bound is SCALE_EPS units times the sum of the terms' magnitudes
(measured at most 0.1).
"""

import dataclasses
import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf

import tf_approx
from tf_approx import _native
from tf_approx import activations
from tf_approx.ops.activations import ActivationSpec
from tf_approx.reference import activations as activation_reference

model = _native.gpu_model

# (blocks, threads): one thread; a partial warp; several blocks; the
# launchers' own shape; more threads than most sizes have elements.
GRIDS = [(1, 1), (1, 7), (3, 32), (2, 256), (40, 256)]
SIZES = [0, 1, 31, 1000, 4099]
SCALE_EPS = 64


def _inputs(size, dtype, seed=0):
  rng = np.random.default_rng(seed + size)
  x = rng.normal(scale=4.0, size=size)
  special = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30, -1e3, 65504.0]
  x[:min(size, len(special))] = special[:size]
  return x.astype(dtype)


def _assert_close(got, want, magnitude=None, eps=None):
  """Within SCALE_EPS units of `eps` (default: the dtype's epsilon) times
  max(1, |want|), or times `magnitude` where the computation's own rounding
  errors scale with more than |want|."""
  assert got.shape == want.shape and got.dtype == want.dtype
  np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
  infinite = np.isinf(want)
  np.testing.assert_array_equal(got[infinite], want[infinite])
  finite = np.isfinite(want)
  if magnitude is None:
    magnitude = np.zeros(want.shape)
  magnitude = np.nan_to_num(magnitude, nan=0.0)
  eps = np.finfo(want.dtype).eps if eps is None else eps
  bound = SCALE_EPS * eps * np.maximum(
      1.0, np.maximum(np.abs(want[finite].astype(np.float64)),
                      magnitude[finite]))
  diff = np.abs(got[finite].astype(np.float64) - want[finite])
  assert (diff <= bound).all(), (
      f"{(diff > bound).sum()} elements beyond the bound, the worst "
      f"{np.max(diff / bound) * SCALE_EPS:.1f} eps")


# Conversions of the half types.


def test_float16_to_float32_is_exact_for_every_value():
  bits = np.arange(1 << 16, dtype=np.uint16)
  want = bits.view(np.float16).astype(np.float32)
  got = model.half_to_float(bits)
  np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
  finite = ~np.isnan(want)
  np.testing.assert_array_equal(got[finite].view(np.uint32),
                                want[finite].view(np.uint32))


def test_bfloat16_to_float32_is_exact_for_every_value():
  bits = np.arange(1 << 16, dtype=np.uint16)
  want = bits.view(ml_dtypes.bfloat16).astype(np.float32)
  got = model.half_to_float(bits, bfloat16=True)
  np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def _float32_cases():
  rng = np.random.default_rng(5)
  random_bits = rng.integers(0, 1 << 32, size=1 << 20, dtype=np.uint64)
  values = random_bits.astype(np.uint32).view(np.float32)
  # Every float16 and bfloat16 value, and the midpoints and their
  # neighbours, where rounding to nearest even decides.
  halves = np.arange(1 << 16, dtype=np.uint16)
  grid = np.concatenate([halves.view(np.float16).astype(np.float32),
                         halves.view(ml_dtypes.bfloat16).astype(np.float32)])
  grid = np.sort(grid[np.isfinite(grid)])
  mid = (grid[:-1].astype(np.float64) + grid[1:]) / 2
  mid = mid.astype(np.float32)
  specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 65504, 65519.99,
                       65520, 1e-8, 2.0**-25, 2.0**-24, 3e38], np.float32)
  return np.concatenate([values, grid, mid, np.nextafter(mid, np.inf),
                         np.nextafter(mid, -np.inf), specials])


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16],
                         ids=["float16", "bfloat16"])
def test_float32_to_half_rounds_as_tensorflow(dtype):
  values = _float32_cases()
  bfloat16 = dtype is ml_dtypes.bfloat16
  got = model.float_to_half(values, bfloat16=bfloat16)
  # TensorFlow's own cast, the CPU kernels' conversion (Eigen).
  want = tf.cast(tf.constant(values), tf.as_dtype(dtype)).numpy()
  want_bits = want.view(np.uint16)
  nan = np.isnan(values)
  np.testing.assert_array_equal(got[~nan], want_bits[~nan])
  # NaN stays NaN (the quiet NaN, of the input's sign).
  got_nan = got[nan].view(dtype).astype(np.float32)
  assert np.isnan(got_nan).all()


# GAAF.

GAAF_CASES = [
    dict(base="tanh", shape="exp"),
    dict(base="sigmoid", shape="exp", center=0.5, width=2.0),
    dict(base="relu", shape="sigmoid"),
    # The ops' attrs are float32: K as the op sees it.
    dict(base="tanh", shape="none", k=float(np.float32(3.3))),
]


@pytest.mark.parametrize("grid", GRIDS, ids=str)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(GAAF_CASES)))
def test_gaaf_threads_match_the_cpu_kernels(grid, size, dtype, case):
  attrs = GAAF_CASES[case]
  blocks, threads = grid
  x = _inputs(size, dtype)
  dy = _inputs(size, dtype, seed=1)
  _assert_close(model.gaaf(x, blocks=blocks, threads=threads, **attrs),
                _native.gaaf(x, **attrs))
  _assert_close(
      model.gaaf_grad(dy, x, blocks=blocks, threads=threads, **attrs),
      _native.gaaf_grad(dy, x, **attrs))


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
@pytest.mark.parametrize("case", range(len(GAAF_CASES)))
def test_gaaf_half_types_match_the_op(dtype, case):
  attrs = GAAF_CASES[case]
  x = tf.constant(_inputs(4099, np.float32), dtype)
  dy = tf.constant(_inputs(4099, np.float32, seed=1), dtype)
  bfloat16 = dtype == tf.bfloat16
  # numpy has float16; bfloat16 goes as its bit patterns.
  as_bits = lambda t: t.numpy().view(np.uint16) if bfloat16 else t.numpy()
  from_bits = lambda b: b.view(dtype.as_numpy_dtype).astype(np.float32)
  want = tf_approx.ops.gaaf(x, **attrs).numpy().astype(np.float32)
  got = from_bits(model.gaaf(as_bits(x), bfloat16=bfloat16, blocks=3,
                             threads=64, **attrs))
  _assert_half_close(got, want, dtype)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = tf_approx.ops.gaaf(x, **attrs)
  want = tape.gradient(y, x, output_gradients=dy).numpy().astype(np.float32)
  got = from_bits(model.gaaf_grad(as_bits(dy), as_bits(x), bfloat16=bfloat16,
                                  blocks=3, threads=64, **attrs))
  _assert_half_close(got, want, dtype)


def _assert_half_close(got, want, dtype, magnitude=None):
  """Within one unit of the half type, plus the float32 bound (both round
  float32 results that may differ by that much; see _assert_close)."""
  np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
  infinite = np.isinf(want)
  np.testing.assert_array_equal(got[infinite], want[infinite])
  finite = np.isfinite(want)
  eps = 2.0**-10 if dtype == tf.float16 else 2.0**-7
  tiny = 2.0**-14 if dtype == tf.float16 else 2.0**-126
  rounding = np.zeros(want.shape) if magnitude is None else magnitude
  rounding = np.nan_to_num(rounding, nan=0.0)[finite]
  magnitude = np.abs(want[finite].astype(np.float64))
  bound = (np.maximum(magnitude, tiny) * eps +
           SCALE_EPS * np.finfo(np.float32).eps *
           np.maximum(1.0, np.maximum(magnitude, rounding)))
  assert (np.abs(got[finite] - want[finite]) <= bound).all()


def test_rejects_bad_grids():
  with pytest.raises(ValueError, match="blocks and threads"):
    model.gaaf(np.zeros(3, np.float32), blocks=0)


_BITWISE_PROLOGUE = """
import numpy as np
from tf_approx import _native
assert _native.selected_isa() == "default"
model = _native.gpu_model


def same(got, want):
  # Bitwise, but any NaN for NaN (the sign of a NaN is not defined).
  return (got.tobytes() == want.tobytes()) or (
      np.array_equal(np.isnan(got), np.isnan(want)) and
      got[~np.isnan(got)].tobytes() == want[~np.isnan(want)].tobytes())
"""


def _run_bitwise(cases, body):
  """Runs `body` (a script over CASES = cases, using `model`, `_native` and
  `same`) in a fresh process under the baseline clone; returns the number of
  comparisons it printed as "BITWISE <count>"."""
  script = f"{_BITWISE_PROLOGUE}\nCASES = {cases!r}\n{body}"
  env = dict(os.environ, TF_APPROX_ISA="default", TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=300,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  counts = [line.split()[1] for line in result.stdout.splitlines()
            if line.startswith("BITWISE ")]
  assert len(counts) == 1, result.stdout[-3000:]
  return int(counts[0])


_BITWISE = """
rng = np.random.default_rng(0)
count = 0
for dtype in (np.float32, np.float64):
  x = rng.normal(scale=4.0, size=20011).astype(dtype)
  x[:5] = [0.0, -0.0, np.nan, np.inf, -np.inf]
  for attrs in CASES:
    for blocks, threads in ((1, 1), (3, 32), (40, 256)):
      pairs = [(model.gaaf(x, blocks=blocks, threads=threads, **attrs),
                _native.gaaf(x, **attrs)),
               (model.gaaf_grad(x, x, blocks=blocks, threads=threads,
                                **attrs), _native.gaaf_grad(x, x, **attrs))]
      for got, want in pairs:
        assert same(got, want), (dtype, attrs, blocks)
        count += 1
print("BITWISE", count)
"""


def test_threads_are_the_baseline_cpu_computation_bitwise():
  assert _run_bitwise(GAAF_CASES, _BITWISE) == 48


# Noisy activations.

NOISY_CASES = [
    dict(base="tanh", where="output", alpha=1.15),
    dict(base="sigmoid", where="output", alpha=0.9, noise="half_normal"),
    dict(base="tanh", where="input"),
    dict(base="sigmoid", where="input_learned", noise="half_normal"),
    dict(base="tanh", where="input_learned"),
    dict(base="sigmoid", where="input_saturated"),
]
# (seed, per-channel p): the ops' seed is [seed, step]; `first` is checked
# against the op below (the CPU loops of `_native` take no `first`).
NOISY_SEEDS = [[0, 0], [7, 3], [-5, 1 << 40]]


def _noisy_inputs(size, dtype, per_channel, seed=0):
  """x of shape [rows, 7] (per-channel p) or [size], p, dy."""
  x = _inputs(size, dtype, seed=seed)
  dy = _inputs(size, dtype, seed=seed + 1)
  dy[~np.isfinite(dy)] = 1.0
  if per_channel:
    size -= size % 7
    x, dy = x[:size].reshape(-1, 7), dy[:size].reshape(-1, 7)
    p = np.linspace(0.5, 3.0, 7).astype(dtype)
  else:
    p = np.array(1.5, dtype)
  return x, p, dy


def _dp_bound(dy, x, p, dtype, **attrs):
  """SCALE_EPS units of the dtype's epsilon times the sum of the dp terms'
  magnitudes (the CPU sums them in `dtype`, the GPU in double)."""
  flat_x, flat_dy = x.reshape(-1), dy.reshape(-1)
  # One channel per element: dp is then the terms themselves.
  p_each = np.broadcast_to(p, x.shape).reshape(-1).copy()
  _, terms = _native.noisy_activation_grad(flat_dy, flat_x, p_each, **attrs)
  terms = np.abs(terms.astype(np.float64)).reshape(x.shape)
  if p.ndim == 1:
    magnitude = terms.reshape(-1, p.shape[0]).sum(axis=0)
  else:
    magnitude = terms.sum()
  return SCALE_EPS * np.finfo(np.float32 if attrs.get("training") else
                              dtype).eps * np.maximum(magnitude, 1e-30)


@pytest.mark.parametrize("grid", GRIDS, ids=str)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(NOISY_CASES)))
def test_noisy_threads_match_the_cpu_kernels(grid, size, dtype, case):
  blocks, threads = grid
  for training, seed, per_channel in [(False, [0, 0], False),
                                      (True, NOISY_SEEDS[case % 3], False),
                                      (True, NOISY_SEEDS[(case + 1) % 3],
                                       True)]:
    attrs = dict(NOISY_CASES[case], training=training, seed=seed,
                 scale=0.75)
    x, p, dy = _noisy_inputs(size, dtype, per_channel, seed=case)
    # The noise is a float32 number on either device, whose normal transform
    # the CPU's SIMD clones contract into FMAs elsewhere than the scalar
    # path: float32 units then, whatever the dtype.
    eps = np.finfo(np.float32).eps if training else None
    _assert_close(
        model.noisy_activation(x, p, blocks=blocks, threads=threads, **attrs),
        _native.noisy_activation(x, p, **attrs), eps=eps)
    dx, dp = model.noisy_activation_grad(dy, x, p, blocks=blocks,
                                         threads=threads, **attrs)
    want_dx, want_dp = _native.noisy_activation_grad(dy, x, p, **attrs)
    _assert_close(dx, want_dx, eps=eps)
    assert dp.shape == want_dp.shape and dp.dtype == want_dp.dtype
    np.testing.assert_array_equal(np.isnan(dp), np.isnan(want_dp))
    finite = np.isfinite(want_dp)
    diff = np.abs(dp[finite].astype(np.float64) - want_dp[finite])
    bound = np.broadcast_to(_dp_bound(dy, x, p, dtype, **attrs),
                            want_dp.shape)[finite]
    assert (diff <= bound).all(), (dp, want_dp)


@pytest.mark.parametrize("per_channel", [False, True])
def test_noisy_dp_does_not_depend_on_the_grid(per_channel):
  """The sums' order is fixed by the shapes alone: any launch gives the same
  dp, bitwise."""
  x, p, dy = _noisy_inputs(70007, np.float32, per_channel)
  attrs = dict(where="input_learned", training=True, seed=[3, 9, 11],
               scale=0.5)
  results = [model.noisy_activation_grad(dy, x, p, blocks=b, threads=t,
                                         **attrs)
             for b, t in [(1, 1), (3, 32), (40, 256), (1000, 128)]]
  for dx, dp in results[1:]:
    assert dx.tobytes() == results[0][0].tobytes()
    assert dp.tobytes() == results[0][1].tobytes()


def _tf_noisy(x, p, dy, dtype, **attrs):
  """The TF op's y, dx and dp (float32) for numpy x, p and dy."""
  x, p, dy = (tf.constant(a.astype(np.float32), dtype) for a in (x, p, dy))
  with tf.GradientTape() as tape:
    tape.watch([x, p])
    y = tf_approx.ops.noisy_activation(x, p, **attrs)
  dx, dp = tape.gradient(y, [x, p], output_gradients=dy)
  return [t.numpy().astype(np.float32) for t in (y, dx, dp)]


@pytest.mark.parametrize("first", [0, 5, 1 << 33])
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("dtype", [tf.float32, tf.float16, tf.bfloat16],
                         ids=lambda d: d.name)
@pytest.mark.parametrize("case", range(len(NOISY_CASES)))
def test_noisy_matches_the_op(case, dtype, per_channel, first):
  """Every dtype and `first` against the TF op (CPU kernels), training."""
  seed = [11, 4, first]
  attrs = dict(NOISY_CASES[case], training=True, scale=0.75)
  x, p, dy = _noisy_inputs(4099, np.float32, per_channel, seed=case)
  x[~np.isfinite(x)] = 0.0  # keep the half types finite
  want_y, want_dx, want_dp = _tf_noisy(x, p, dy, dtype, seed=seed, **attrs)
  bfloat16 = dtype == tf.bfloat16
  np_dtype = np.float32 if dtype == tf.float32 else dtype.as_numpy_dtype

  def to_model(a):
    a = np.asarray(tf.constant(a, dtype).numpy())
    return a.view(np.uint16) if bfloat16 else a

  def from_model(a):
    return (a.view(np_dtype) if bfloat16 else a).astype(np.float32)

  y = model.noisy_activation(to_model(x), to_model(p), seed=seed,
                             bfloat16=bfloat16, blocks=3, threads=64, **attrs)
  dx, dp = model.noisy_activation_grad(to_model(dy), to_model(x), to_model(p),
                                       seed=seed, bfloat16=bfloat16, blocks=3,
                                       threads=64, **attrs)
  if dtype == tf.float32:
    _assert_close(from_model(y), want_y)
    _assert_close(from_model(dx), want_dx)
  else:
    _assert_half_close(from_model(y), want_y, dtype)
    _assert_half_close(from_model(dx), want_dx, dtype)
  # dp: one unit of the output type (both round a double sum to it), plus
  # the float32 sums' bound.
  eps = {tf.float32: 0.0, tf.float16: 2.0**-10, tf.bfloat16: 2.0**-7}[dtype]
  got_dp = from_model(dp)
  bound = (np.abs(want_dp.astype(np.float64)) * eps +
           _op_dp_bound(x, p, dy, dtype, seed=seed, **attrs))
  assert (np.abs(got_dp - want_dp) <= bound).all(), (got_dp, want_dp)


def _op_dp_bound(x, p, dy, dtype, **attrs):
  """As _dp_bound, with the TF op's terms (its seed may have a `first`)."""
  n = x.size
  p_each = np.broadcast_to(p, x.shape).reshape(1, n)
  _, _, terms = _tf_noisy(x.reshape(1, n), p_each[0], dy.reshape(1, n),
                          dtype, **attrs)
  terms = np.abs(terms.astype(np.float64)).reshape(x.shape)
  if p.ndim == 1:
    magnitude = terms.reshape(-1, p.shape[0]).sum(axis=0)
  else:
    magnitude = terms.sum()
  return SCALE_EPS * np.finfo(np.float32).eps * np.maximum(magnitude, 1e-30)


_NOISY_BITWISE = """
rng = np.random.default_rng(0)
count = 0
for dtype in (np.float32, np.float64):
  x = rng.normal(scale=4.0, size=20013).astype(dtype)
  x[:5] = [0.0, -0.0, np.nan, np.inf, -np.inf]
  for attrs in CASES:
    for training, seed in ((False, [0, 0]), (True, [7, 3]),
                           (True, [-5, 1 << 40])):
      for per_channel in (False, True):
        xs = x.reshape(-1, 3) if per_channel else x
        p = np.array([0.5, 1.5, 2.5] if per_channel else 1.5, dtype)
        a = dict(attrs, training=training, seed=seed, scale=0.75)
        for blocks, threads in ((1, 1), (40, 256)):
          got = model.noisy_activation(xs, p, blocks=blocks, threads=threads,
                                       **a)
          assert same(got, _native.noisy_activation(xs, p, **a)), (dtype, a)
          dx, _ = model.noisy_activation_grad(xs, xs, p, blocks=blocks,
                                              threads=threads, **a)
          want, _ = _native.noisy_activation_grad(xs, xs, p, **a)
          assert same(dx, want), (dtype, a)
          count += 2
print("BITWISE", count)
"""


# PAU.

# (m, n, denominator_kind, channels (0: shared), randomized).
PAU_CASES = [
    (5, 4, "safe", 0, 0.0),
    (5, 4, "abs_of_sum", 7, 0.0),
    (3, 2, "unsafe", 0, 0.0),
    (1, 1, "safe", 3, 0.0),
    (10, 10, "safe", 0, 0.0),
    # alpha as the op's float32 attr sees it (_native.pau takes a double).
    (2, 3, "abs_of_sum", 0, 0.125),
    (5, 4, "safe", 5, 0.25),
]
PAU_IDS = [f"{m}-{n}-{kind}-{channels}-{alpha}"
           for m, n, kind, channels, alpha in PAU_CASES]
# Elements: multiples of every case's channels (0 among them).
PAU_SIZES = [0, 105, 1050, 4200]


def _pau_coefficients(case, dtype, seed=0):
  m, n, _, channels, _ = PAU_CASES[case]
  rng = np.random.default_rng(seed + 10 * m + n)
  sets = [channels] if channels else []
  numerator = rng.normal(scale=0.5, size=sets + [m + 1])
  denominator = rng.normal(scale=0.5, size=sets + [n])
  if PAU_CASES[case][2] == "unsafe":
    # No poles (Q = 1 + b_2 x^2 + ... >= 1), where no two roundings could
    # be compared.
    denominator = np.abs(denominator)
    denominator[..., 0::2] = 0.0
  # A zero leading coefficient, for the far path's leading degrees.
  numerator[..., -1] = np.where(rng.random(numerator[..., -1].shape) < 0.3,
                                0.0, numerator[..., -1])
  return numerator.astype(dtype), denominator.astype(dtype)


def _pau_inputs(case, size, dtype, seed=0, special=True):
  channels = PAU_CASES[case][3]
  x = _inputs(size, dtype, seed) if special else (
      np.random.default_rng(seed + size).normal(scale=2.0, size=size)
      .astype(dtype))
  if not special and size:
    x[:3] = np.array([1e3, -5e3, 40.0], dtype)[:size]
  return x.reshape(-1, channels) if channels else x


def _pau_kwargs(case):
  _, _, kind, _, alpha = PAU_CASES[case]
  return dict(denominator_kind=kind, randomized=alpha, seed=(3, 4))


def _dx_scale(case, x, dy, y, numerator, denominator):
  """The magnitude of the two terms of dx = dy (P'/Q - Q' F / Q), which
  cancel: |dy| (|P'| + |Q'| |F|) / Q (in float64, |Q'| from |b_k|). No bound
  at the kink of abs_of_sum's |R|, where R's sign (and so dQ/dx's) depends
  on the last bit."""
  m, n, kind, channels, _ = PAU_CASES[case]
  a = numerator.astype(np.float64)
  b = denominator.astype(np.float64)
  if not channels:
    a = np.broadcast_to(a, x.shape + a.shape)
    b = np.broadcast_to(b, x.shape + b.shape)
  with np.errstate(all="ignore"):
    u = x.astype(np.float64)[..., None]
    dp = (a[..., 1:] * np.arange(1, m + 1) * u ** np.arange(m)).sum(-1)
    powers = u ** np.arange(1, n + 1)
    dq = (np.abs(b) * np.arange(1, n + 1) *
          np.abs(u) ** np.arange(n)).sum(-1)
    r = (b * powers).sum(-1)
    q = 1 + {"safe": (np.abs(b * powers)).sum(-1), "abs_of_sum": np.abs(r),
             "unsafe": r}[kind]
    scale = np.abs(dy) * (np.abs(dp) + dq * np.abs(y)) / np.abs(q)
    scale = np.where(np.isfinite(scale), scale, 0.0)
    if kind == "abs_of_sum":
      kink = np.abs(r) <= 1e-3 * np.abs(b * powers).sum(-1)
      scale = np.where(kink, np.inf, scale)
  return scale


def _assert_sums_close(got, want, scale):
  """Coefficient gradients: sums of `size` terms in different orders, within
  SCALE_EPS units of eps times max(1, |want|, scale) (scale: the largest
  |gradient| of the output, which bounds the terms' cancellation here)."""
  assert got.shape == want.shape and got.dtype == want.dtype
  eps = np.finfo(want.dtype).eps
  bound = SCALE_EPS * eps * np.maximum(
      np.maximum(1.0, np.abs(want.astype(np.float64))), scale)
  diff = np.abs(got.astype(np.float64) - want)
  assert (diff <= bound).all(), np.max(diff / bound) * SCALE_EPS


@pytest.mark.parametrize("grid", GRIDS, ids=str)
@pytest.mark.parametrize("size", PAU_SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(PAU_CASES)), ids=PAU_IDS)
def test_pau_threads_match_the_cpu_kernels(grid, size, dtype, case):
  blocks, threads = grid
  numerator, denominator = _pau_coefficients(case, dtype)
  kwargs = _pau_kwargs(case)
  x = _pau_inputs(case, size, dtype)
  _assert_close(
      model.pau(x, numerator, denominator, blocks=blocks, threads=threads,
                **kwargs),
      _native.pau(x, numerator, denominator, **kwargs))
  if kwargs["randomized"]:
    return  # _native.pau_grad has no RPAU: see the op test below
  del kwargs["randomized"]
  dy = _pau_inputs(case, size, dtype, seed=1)
  dx, _, _ = model.pau_grad(dy, x, numerator, denominator, blocks=blocks,
                            threads=threads, **kwargs)
  y = _native.pau(x, numerator, denominator, **kwargs)
  want = _native.pau_grad(dy, x, numerator, denominator, **kwargs)[0]
  _assert_close(dx, want,
                magnitude=_dx_scale(case, x, dy, y, numerator, denominator))
  # The coefficient gradients, of finite inputs (some beyond the far
  # radius).
  x = _pau_inputs(case, size, dtype, special=False)
  dy = _pau_inputs(case, size, dtype, seed=1, special=False)
  got = model.pau_grad(dy, x, numerator, denominator, blocks=blocks,
                       threads=threads, **kwargs)
  want = _native.pau_grad(dy, x, numerator, denominator, **kwargs)
  y = _native.pau(x, numerator, denominator, **kwargs)
  _assert_close(got[0], want[0],
                magnitude=_dx_scale(case, x, dy, y, numerator, denominator))
  scale = max(np.abs(want[1]).max(), np.abs(want[2]).max())
  _assert_sums_close(got[1], want[1], scale)
  _assert_sums_close(got[2], want[2], scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(PAU_CASES)), ids=PAU_IDS)
def test_pau_coefficient_gradients_do_not_depend_on_the_grid(dtype, case):
  # The summation order depends on the shapes alone: bitwise equal sums
  # from any grid, and dx too.
  numerator, denominator = _pau_coefficients(case, dtype)
  kwargs = _pau_kwargs(case)
  x = _pau_inputs(case, 21000, dtype, special=False)
  dy = _pau_inputs(case, 21000, dtype, seed=1, special=False)
  results = [model.pau_grad(dy, x, numerator, denominator, blocks=blocks,
                            threads=threads, **kwargs)
             for blocks, threads in [(1, 1), (3, 32), (40, 256), (7, 100)]]
  for other in results[1:]:
    for got, want in zip(other, results[0]):
      assert got.tobytes() == want.tobytes()


def _op_pau_gradients(x, numerator, denominator, dy, kwargs):
  x, numerator, denominator = (tf.constant(v) for v in
                               (x, numerator, denominator))
  with tf.GradientTape() as tape:
    tape.watch([x, numerator, denominator])
    y = tf_approx.ops.pau(x, numerator, denominator,
                          seed=tf.constant(kwargs["seed"], tf.int64),
                          denominator_kind=kwargs["denominator_kind"],
                          randomized=kwargs["randomized"])
  return y, tape.gradient(y, [x, numerator, denominator],
                          output_gradients=tf.constant(dy))


@pytest.mark.parametrize("case", range(len(PAU_CASES)), ids=PAU_IDS)
def test_pau_matches_the_op_with_its_noise(case):
  # The TF op (the CPU kernels, RPAU included), float32.
  numerator, denominator = _pau_coefficients(case, np.float32)
  kwargs = _pau_kwargs(case)
  x = _pau_inputs(case, 4200, np.float32, special=False)
  dy = _pau_inputs(case, 4200, np.float32, seed=1, special=False)
  y, grads = _op_pau_gradients(x, numerator, denominator, dy, kwargs)
  _assert_close(model.pau(x, numerator, denominator, blocks=3, threads=64,
                          **kwargs), y.numpy())
  got = model.pau_grad(dy, x, numerator, denominator, blocks=3, threads=64,
                       **kwargs)
  _assert_close(got[0], grads[0].numpy(),
                magnitude=_dx_scale(case, x, dy, y.numpy(), numerator,
                                     denominator))
  scale = max(np.abs(grads[1].numpy()).max(), np.abs(grads[2].numpy()).max())
  _assert_sums_close(got[1], grads[1].numpy(), scale)
  _assert_sums_close(got[2], grads[2].numpy(), scale)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
@pytest.mark.parametrize("case", [0, 1, 5], ids=[PAU_IDS[c] for c in (0, 1, 5)])
def test_pau_half_types_match_the_op(dtype, case):
  bfloat16 = dtype == tf.bfloat16
  as_bits = lambda t: t.numpy().view(np.uint16) if bfloat16 else t.numpy()
  from_bits = lambda b: b.view(dtype.as_numpy_dtype).astype(np.float32)
  numerator, denominator = (
      tf.constant(v, dtype) for v in _pau_coefficients(case, np.float32))
  kwargs = _pau_kwargs(case)
  x = tf.constant(_pau_inputs(case, 4200, np.float32, special=False), dtype)
  dy = tf.constant(_pau_inputs(case, 4200, np.float32, seed=1,
                               special=False), dtype)
  y, grads = _op_pau_gradients(x, numerator, denominator, dy, kwargs)
  args = [as_bits(v) for v in (x, numerator, denominator)]
  got = from_bits(model.pau(*args, bfloat16=bfloat16, blocks=3, threads=64,
                            **kwargs))
  _assert_half_close(got, y.numpy().astype(np.float32), dtype)
  got = model.pau_grad(as_bits(dy), *args, bfloat16=bfloat16, blocks=3,
                       threads=64, **kwargs)
  _assert_half_close(from_bits(got[0]), grads[0].numpy().astype(np.float32),
                     dtype)
  for g, want in zip(got[1:], grads[1:]):
    want = want.numpy().astype(np.float32)
    g = from_bits(g)
    # Sums of 4200 terms rounded once to the half type: one unit of it, of
    # the largest gradient (a sum may overflow to inf in float16).
    np.testing.assert_array_equal(g[np.isinf(want)], want[np.isinf(want)])
    finite = np.isfinite(want)
    eps = 2.0**-10 if dtype == tf.float16 else 2.0**-7
    scale = np.abs(want[finite]).max(initial=0.0)
    assert (np.abs(g[finite] - want[finite]) <=
            eps * np.maximum(np.abs(want[finite]), scale / 8) + 1e-6).all()


def test_pau_rejects_bad_inputs():
  x = np.zeros(6, np.float32)
  with pytest.raises(ValueError, match="denominator_kind"):
    model.pau(x, np.ones(3, np.float32), np.ones(2, np.float32),
              denominator_kind="bad")
  with pytest.raises(ValueError, match="one row per channel"):
    model.pau(x.reshape(2, 3), np.ones((2, 3), np.float32),
              np.ones((2, 2), np.float32))


_PAU_BITWISE = """
count = 0
for dtype in (np.float32, np.float64):
  for m, n, kind, channels, alpha in CASES:
    rng = np.random.default_rng(m + n)
    sets = [channels] if channels else []
    num = rng.normal(scale=0.5, size=sets + [m + 1]).astype(dtype)
    den = rng.normal(scale=0.5, size=sets + [n]).astype(dtype)
    # Inputs well within every channel's far radius, and inf, NaN (per
    # channel the GPU's radius is the channel's own: see the op's doc).
    x = rng.normal(scale=4.0, size=21000).astype(dtype)
    x[:5] = [0.0, -0.0, np.nan, np.inf, -np.inf]
    if not channels:
      x[5:8] = [1e3, -7e4, 3e38]
    x = x.reshape(-1, channels) if channels else x
    kwargs = dict(denominator_kind=kind, seed=(3, 4))
    for blocks, threads in ((1, 1), (3, 32), (40, 256)):
      pairs = [(model.pau(x, num, den, blocks=blocks, threads=threads,
                          randomized=alpha, **kwargs),
                _native.pau(x, num, den, randomized=alpha, **kwargs))]
      if not alpha:
        pairs.append((model.pau_grad(x, x, num, den, blocks=blocks,
                                     threads=threads, **kwargs)[0],
                      _native.pau_grad(x, x, num, den, **kwargs)[0]))
      for got, want in pairs:
        assert same(got, want), (dtype, m, n, kind, channels, alpha, blocks)
        count += 1
print("BITWISE", count)
"""


def test_pau_threads_are_the_baseline_cpu_computation_bitwise():
  # y and dx (the coefficient sums are added in another order).
  # 7 cases x 2 dtypes x 3 grids, y and (without noise) dx.
  assert _run_bitwise(PAU_CASES, _PAU_BITWISE) == 72


def test_noisy_threads_are_the_baseline_cpu_computation_bitwise():
  """y and dx, noise included (dp is summed in another order)."""
  assert _run_bitwise(NOISY_CASES, _NOISY_BITWISE) == 288


# The approximated activations.

ACTIVATION_CASES = {
    name: activations.spec(name)
    for name in ("tanh_pade_4_4", "tanh_pade_4_4_clamp", "sigm_pade_5_6",
                 "sigm_fastexp_512", "sigm_fastexp_2", "tanh_taylor_15",
                 "serp", "tanh_hard", "sigm_hard", "word2vec_sigmoid",
                 "ultra_fast_sigmoid", "gelu_pade_5_6", "gelu_pade_5_6_clamp",
                 "silu_pade_5_4_clamp", "silu_fastexp_1024_clamp",
                 "mish_fastexp_1024_clamp", "softplus_pade_6_4_clamp",
                 "elu_fastexp_512", "selu_fastexp_512_clamp",
                 "gelu_spline_16", "mish_spline_32", "selu_spline_16")
}
# A spline with beta, and one of 32 pieces (two pairs of registers for
# float64 on the CPU).
ACTIVATION_CASES["silu_spline_32_beta"] = activations.spec(
    "silu_spline_32", beta=1.702)
# SiLU with beta (the input scale of the form) and a clipped form.
ACTIVATION_CASES["silu_pade_5_4_clamp_beta"] = activations.spec(
    "silu_pade_5_4_clamp", beta=1.702)
ACTIVATION_CASES["gelu_pade_7_4_clip"] = dataclasses.replace(
    activations.spec("gelu_pade_7_4"), clip=(-3.0, 4.0))
# Without parity (the general Horner form) and clipped, with an offset.
ACTIVATION_CASES["rational_clip"] = ActivationSpec(
    kind="rational", numerator=(0.5, 1.0, 0.1, 0.02),
    denominator=(1.0, 0.0, 0.3), offset=0.25, clip=(-3.0, 2.5))
# A clip range beyond `far` (float32's is 2^37 here): clipped inputs and
# those within the range but beyond `far` take the form in 1/x.
ACTIVATION_CASES["rational_far_clip"] = ActivationSpec(
    kind="rational", numerator=(1.0, 1.0, 0.5, 1e3),
    denominator=(2.0, 0.5, 1.0), clip=(-1e30, 1e25))


def _activation_inputs(size, dtype, seed=0):
  """_inputs, with word2vec's table ends, the clip edges and values beyond
  the rationals' `far` (float32 and float64) in front."""
  x = _inputs(size, np.float64, seed).astype(np.float64)
  special = [6.0, -6.0, 5.999, -5.9999, 1.7 * 2, 3.0 * 2, 2.5, -3.0, 1e4,
             -3e5, 1e20, -1e15, 1e25, -1e30, 3e38, -3e38, 1e200, -1e300]
  start = min(size, 8)
  count = max(0, min(size - start, len(special)))
  x[start:start + count] = special[:count]
  with np.errstate(over="ignore"):
    return x.astype(dtype)


def _rounding_magnitude(spec, x, dy=None):
  """What rounding errors of a rational's value (dy given: gradient) scale
  with: its terms' magnitudes, sum |c_i| |x|^i, rather than |P(x)|, which is
  far smaller where they cancel (tanh_taylor_15 at |x| ~ 10). Contracting
  a Horner step into an FMA or not changes the result by that much. None
  for the other kinds, whose errors scale with the result."""
  if spec.kind == "spline":
    return _spline_rounding_magnitude(spec, x, dy)
  if spec.kind != "rational":
    return None
  if spec.has_form:
    return _form_rounding_magnitude(spec, x, dy)
  x = np.asarray(x, np.float64)
  if spec.clip is not None:
    x = np.clip(x, *spec.clip)
  a = np.asarray(spec.numerator)
  b = np.asarray(spec.denominator)
  ax = np.abs(x)
  poly = lambda c, t: np.polyval(np.asarray(c)[::-1], t)
  slope = lambda c: (c * np.arange(len(c)))[1:]
  with np.errstate(all="ignore"):
    q = np.abs(poly(b, x))
    f = np.abs(poly(a, x)) / q
    value = (poly(np.abs(a), ax) + f * poly(np.abs(b), ax)) / q
    if dy is None:
      return value
    df = np.abs(poly(slope(a), x) - f * poly(slope(b), x)) / q
    grad = (poly(np.abs(slope(a)), ax) + f * poly(np.abs(slope(b)), ax) +
            np.abs(poly(slope(b), x)) * value + df * poly(np.abs(b), ax)) / q
    return np.abs(np.asarray(dy, np.float64)) * grad


def _spline_rounding_magnitude(spec, x, dy=None):
  """A spline's: where w = u scale + shift lies within rounding of a knot,
  the two sides (an FMA or not) may take adjacent pieces, which meet only
  up to their float32 coefficients' rounding (in units of the float32 eps
  here, so that the bound covers that gap in float64 too); elsewhere its
  pieces' coefficients, which Horner's rule sums."""
  scale, shift = activation_reference.spline_scale_and_shift(spec)
  c = np.abs(np.asarray(spec.spline, np.float64).reshape(-1, 4))
  size = c.sum(-1).max() * abs(spec.output_scale)
  if dy is not None:
    size *= scale * abs(spec.input_scale) * 3
  with np.errstate(all="ignore"):
    # Knots (and the switches to the lines) at w + 1/2 an integer.
    w = np.asarray(x, np.float64) * spec.input_scale * scale + shift + 0.5
    near_knot = np.abs(w - np.round(w)) <= 1e-6 * (np.abs(w) + 1)
    magnitude = np.where(near_knot, size * 2.0**32, size)
    if dy is not None:
      magnitude = magnitude * np.abs(np.asarray(dy, np.float64))
    return magnitude


def _form_rounding_magnitude(spec, x, dy=None):
  """The same for a form around a rational g: g's at u = input_scale x,
  times |x| for a product (value), or of g + s x g' (gradient), times
  |output_scale|, plus the form's own terms."""
  inner = dataclasses.replace(spec, product=False, input_scale=1.0,
                              output_scale=1.0, slope=0.0, below=None,
                              above=None)
  x = np.asarray(x, np.float64)
  if spec.clip is not None:
    x = np.clip(x, *spec.clip)
  with np.errstate(all="ignore"):
    u = x * spec.input_scale
    ax, s = np.abs(x), abs(spec.input_scale)
    value = _rounding_magnitude(inner, u)
    if dy is None:
      total = (ax * value if spec.product else value) + abs(spec.slope) * ax
    else:
      grad = _rounding_magnitude(inner, u, np.ones_like(u))
      total = (value + ax * s * grad) if spec.product else s * grad
      total = np.abs(np.asarray(dy, np.float64)) * (total + abs(spec.slope))
    return abs(spec.output_scale) * total


def _spec(name):
  return _native.Spec(**ACTIVATION_CASES[name].attrs())


@pytest.mark.parametrize("grid", GRIDS, ids=str)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ACTIVATION_CASES))
def test_activation_threads_match_the_cpu_kernels(grid, size, dtype, name):
  blocks, threads = grid
  spec = _spec(name)
  x = _activation_inputs(size, dtype)
  dy = _inputs(size, dtype, seed=1)
  _assert_close(model.activation(x, spec, blocks=blocks, threads=threads),
                _native.forward(spec, x),
                _rounding_magnitude(ACTIVATION_CASES[name], x))
  _assert_close(
      model.activation_grad(dy, x, spec, blocks=blocks, threads=threads),
      _native.gradient(spec, x, dy),
      _rounding_magnitude(ACTIVATION_CASES[name], x, dy))


def test_activation_threads_may_write_in_place():
  spec = _spec("tanh_taylor_15")
  x = _activation_inputs(4099, np.float32)
  _assert_close(model.activation_grad(x, x, spec, blocks=3, threads=32),
                _native.gradient(spec, x, x),
                _rounding_magnitude(ACTIVATION_CASES["tanh_taylor_15"], x, x))


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
@pytest.mark.parametrize("name", sorted(ACTIVATION_CASES))
def test_activation_half_types_match_the_op(dtype, name):
  spec = ACTIVATION_CASES[name]
  x = tf.constant(_activation_inputs(4099, dtype.as_numpy_dtype), dtype)
  dy = tf.constant(_inputs(4099, np.float32, seed=1), dtype)
  bfloat16 = dtype == tf.bfloat16
  as_bits = lambda t: t.numpy().view(np.uint16) if bfloat16 else t.numpy()
  from_bits = lambda b: b.view(dtype.as_numpy_dtype).astype(np.float32)
  native_spec = _native.Spec(**spec.attrs())
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = tf_approx.ops.activation(x, spec)
  dx = tape.gradient(y, x, output_gradients=dy)
  got = from_bits(model.activation(as_bits(x), native_spec,
                                   bfloat16=bfloat16, blocks=3, threads=64))
  x64 = x.numpy().astype(np.float64)
  _assert_half_close(got, y.numpy().astype(np.float32), dtype,
                     _rounding_magnitude(spec, x64))
  got = from_bits(model.activation_grad(as_bits(dy), as_bits(x), native_spec,
                                        bfloat16=bfloat16, blocks=3,
                                        threads=64))
  _assert_half_close(got, dx.numpy().astype(np.float32), dtype,
                     _rounding_magnitude(spec, x64, dy.numpy()))


def test_activation_rejects_bad_arguments():
  spec = _spec("tanh_hard")
  with pytest.raises(ValueError, match="blocks and threads"):
    model.activation(np.zeros(3, np.float32), spec, threads=0)
  with pytest.raises(ValueError, match="must match"):
    model.activation_grad(np.zeros(3, np.float32), np.zeros(4, np.float32),
                          spec)


_ACTIVATION_BITWISE = """
rng = np.random.default_rng(0)
count = 0
for dtype in (np.float32, np.float64):
  x = rng.normal(scale=4.0, size=20011)
  x[:23] = [0.0, -0.0, np.nan, np.inf, -np.inf, 6.0, -6.0, 5.999, -5.9999,
            2.5, -3.0, 1e4, -3e5, 1e20, -1e15, 1e25, -1e30, 3e38, -3e38,
            1e200, -1e300, 65504.0, 1e-30]
  with np.errstate(over="ignore"):
    x = x.astype(dtype)
  for attrs in CASES:
    spec = _native.Spec(**attrs)
    for blocks, threads in ((1, 1), (3, 32), (40, 256)):
      pairs = [(model.activation(x, spec, blocks=blocks, threads=threads),
                _native.forward(spec, x)),
               (model.activation_grad(x, x, spec, blocks=blocks,
                                      threads=threads),
                _native.gradient(spec, x, x))]
      for got, want in pairs:
        assert same(got, want), (dtype, attrs, blocks)
        count += 1
print("BITWISE", count)
"""


def test_activation_threads_are_the_baseline_cpu_computation_bitwise():
  cases = [spec.attrs() for _, spec in sorted(ACTIVATION_CASES.items())]
  assert _run_bitwise(cases, _ACTIVATION_BITWISE) == 2 * 2 * 3 * len(cases)
