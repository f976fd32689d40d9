"""Every GPU kernel against the CPU kernel, where TensorFlow sees a GPU.

Skipped elsewhere (no machine here has both TensorFlow and a GPU at
present: tests/test_gpu_build.py checks the registrations and
tests/test_gpu_model.py the kernels' per-thread logic without one, and
tools/gpu_check.py the kernels on a GPU without TensorFlow). The bounds are
those of tests/test_gpu_model.py: SCALE_EPS units of the dtype's epsilon
times max(1, |y|) (FMA contraction differs between nvcc and the CPU's SIMD
clones), one unit of a half type.
"""

import numpy as np
import pytest
import tensorflow as tf

import tf_approx

pytestmark = pytest.mark.skipif(
    not tf.config.list_physical_devices("GPU"), reason="no GPU visible")

SCALE_EPS = 64
DTYPES = [tf.float16, tf.bfloat16, tf.float32, tf.float64]
SHAPES = [[0], [1], [1000], [17, 33, 5]]


def _activation(spec):
  return lambda x: tf_approx.ops.activation(x, spec)


# name -> f(x): the ops with GPU kernels, on one input.
CASES = {
    **{f"activation/{name}": _activation(name)
       for name in ("tanh_pade_4_4", "tanh_pade_4_4_clamp",
                    "sigm_fastexp_512", "tanh_taylor_15", "tanh_hard",
                    "sigm_hard", "word2vec_sigmoid",
                    "ultra_fast_sigmoid", "gelu_pade_5_6_clamp",
                    "silu_pade_5_4_clamp", "mish_fastexp_1024_clamp",
                    "softplus_pade_6_4_clamp", "selu_fastexp_512_clamp",
                    "gelu_spline_16", "silu_spline_32")},
    "activation/rational_clip": _activation(tf_approx.ops.ActivationSpec(
        kind="rational", numerator=(0.5, 1.0, 0.1, 0.02),
        denominator=(1.0, 0.0, 0.3), offset=0.25, clip=(-3.0, 2.5))),
    "gaaf/tanh": lambda x: tf_approx.ops.gaaf(x),
    "gaaf/sigmoid": lambda x: tf_approx.ops.gaaf(x, base="sigmoid",
                                                 center=0.5, width=2.0),
    "gaaf/relu": lambda x: tf_approx.ops.gaaf(x, base="relu"),
    "noisy/output": lambda x: tf_approx.ops.noisy_activation(
        x, 1.5, 0.75, seed=[3, 1], alpha=1.15, training=True),
    "noisy/input_learned": lambda x: tf_approx.ops.noisy_activation(
        x, tf.linspace(0.5, 2.0, x.shape[-1]), 0.5, seed=[3, 1, 17],
        where="input_learned", noise="half_normal", training=True),
    "noisy/sigmoid_input": lambda x: tf_approx.ops.noisy_activation(
        x, 1.0, 0.5, base="sigmoid", where="input_saturated"),
    "pau/safe": lambda x: tf_approx.ops.pau(
        x, tf.constant([0.1, 1.0, 0.5, -0.2, 0.05, 0.01], x.dtype),
        tf.constant([0.3, -0.1, 0.2, 0.02], x.dtype)),
    "pau/abs_of_sum/per_channel": lambda x: tf_approx.ops.pau(
        x, tf.reshape(0.5 + 0.01 * tf.cast(tf.range(x.shape[-1] * 4), x.dtype),
                      [x.shape[-1], 4]),
        tf.fill([x.shape[-1], 2], tf.constant(-0.3, x.dtype)),
        denominator_kind="abs_of_sum"),
    "pau/unsafe/randomized": lambda x: tf_approx.ops.pau(
        x, tf.constant([0.0, 1.0, 0.3], x.dtype),
        tf.constant([0.5], x.dtype), denominator_kind="unsafe",
        randomized=0.1, seed=tf.constant([7, 3], tf.int64)),
}


def _run(device, function, x, dy):
  with tf.device(device):
    x = tf.identity(x)
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = function(x)
    dx = tape.gradient(y, x, output_gradients=dy)
  return y, dx


def test_status_says_loaded():
  assert tf_approx.gpu_status().loaded, tf_approx.gpu_status().reason


def _assert_close(got, want, dtype):
  got = got.numpy().astype(np.float64)
  want = want.numpy().astype(np.float64)
  np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
  finite = np.isfinite(want)
  np.testing.assert_array_equal(got[~finite & ~np.isnan(want)],
                                want[~finite & ~np.isnan(want)])
  magnitude = np.abs(want[finite])
  if dtype in (tf.float16, tf.bfloat16):
    # One unit of the half type, plus the float32 bound: both round float32
    # results that may differ by that much.
    tiny = 2.0**-14 if dtype == tf.float16 else 2.0**-126
    eps = 2.0**-10 if dtype == tf.float16 else 2.0**-7
    bound = (np.maximum(magnitude, tiny) * eps + SCALE_EPS *
             np.finfo(np.float32).eps * np.maximum(magnitude, 1.0))
  else:
    eps = np.finfo(dtype.as_numpy_dtype).eps
    bound = SCALE_EPS * eps * np.maximum(magnitude, 1.0)
  assert (np.abs(got[finite] - want[finite]) <= bound).all()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("case", sorted(CASES))
def test_gpu_matches_cpu(case, dtype, shape):
  rng = np.random.default_rng(0)
  x = tf.constant(rng.normal(scale=4.0, size=shape), dtype)
  dy = tf.constant(rng.normal(size=shape), dtype)
  y_gpu, dx_gpu = _run("/GPU:0", CASES[case], x, dy)
  y_cpu, dx_cpu = _run("/CPU:0", CASES[case], x, dy)
  assert "GPU" in y_gpu.device
  _assert_close(y_gpu, y_cpu, dtype)
  _assert_close(dx_gpu, dx_cpu, dtype)


# Row lengths through the block pass's shapes (a row within a warp, across
# warps, the 2^15 limit) and past it (strided passes); leading axes of any
# rank, and an empty tensor.
FWHT_SHAPES = [[0, 8], [5, 1], [3, 64], [7, 1024], [2, 3, 256], [2, 1 << 15],
               [1, 1 << 17], [1, 1 << 20]]


@pytest.mark.parametrize("shape", FWHT_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_fast_walsh_hadamard_gpu_matches_cpu_bitwise(dtype, shape):
  # The same butterflies in the same order on either device; the half types
  # through float32 on both.
  x = tf.constant(np.random.default_rng(2).normal(size=shape), dtype)
  for normalize in (False, True):
    transform = lambda x, n=normalize: tf_approx.ops.fast_walsh_hadamard(
        x, normalize=n)
    y_gpu, dx_gpu = _run("/GPU:0", transform, x, x)
    y_cpu, dx_cpu = _run("/CPU:0", transform, x, x)
    assert "GPU" in y_gpu.device
    for got, want in ((y_gpu, y_cpu), (dx_gpu, dx_cpu)):
      np.testing.assert_array_equal(got.numpy().astype(np.float64),
                                    want.numpy().astype(np.float64))


def _assert_layer_gpu_matches_cpu(run, x, dy, params, dtype,
                                  exact_first=False, devices=("/GPU:0",
                                                              "/CPU:0")):
  """run(device, x, dy, params) -> tensors, on the GPU and the CPU: the
  GPU's the same bits on a second run, and each within SCALE_EPS eps of its
  CPU array's largest value plus one unit of a half type (the first bitwise
  where exact_first)."""
  gpu_device, cpu_device = devices
  gpu = run(gpu_device, x, dy, params)
  cpu = run(cpu_device, x, dy, params)
  assert gpu_device[1:4] in gpu[0].device
  for first, again in zip(gpu, run(gpu_device, x, dy, params)):
    np.testing.assert_array_equal(first.numpy(), again.numpy())
  got = [t.numpy().astype(np.float64) for t in gpu]
  want = [t.numpy().astype(np.float64) for t in cpu]
  if exact_first:
    np.testing.assert_array_equal(got[0], want[0])
    got, want = got[1:], want[1:]
  half_eps = {tf.float16: 2.0**-10, tf.bfloat16: 2.0**-7}.get(dtype, 0.0)
  compute_eps = np.finfo(np.float64 if dtype == tf.float64 else
                         np.float32).eps
  for a, w in zip(got, want):
    bound = (half_eps * np.abs(w) +
             SCALE_EPS * compute_eps * max(1.0, np.abs(w).max(initial=0.0)))
    assert (np.abs(a - w) <= bound).all()


# Adaptive Fastfood, (n_in, units) and so d: fused (a row within a warp,
# across warps, several blocks of parameters) and staged (d = 2^16, past any
# GPU's shared memory).
FASTFOOD_SHAPES = [(5, 7), (100, 300), (1000, 2500), (40000, 70000)]


def _fastfood(device, x, dy, params):
  """y and the gradients of x, s, g, b, the parameters GPU variables (as in
  training) where the device is one."""
  with tf.device(device):
    variables = [tf.Variable(v) for v in params]
    x = tf.identity(x)
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf_approx.ops.fastfood(x, *variables, units=dy.shape[-1],
                                 normalize=True)
    return [y] + tape.gradient(y, [x] + variables[:3], output_gradients=dy)


@pytest.mark.parametrize("shape", FASTFOOD_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_fastfood_gpu_matches_cpu(dtype, shape):
  """y bitwise (the same products and butterflies, and no multiply-add to
  contract); the gradients within the model's bound (SCALE_EPS eps of the
  array's largest value, tests/test_fastfood_gpu_model.py), plus one unit of
  a half type; the same bits on every GPU run."""
  n_in, units = shape
  rng = np.random.default_rng(4)
  s, g, b, perm = tf_approx.layers.fastfood.fastfood_init(n_in, units, 0.1, 5)
  params = [tf.constant(v, dtype) for v in (s, g, b)] + [tf.constant(perm)]
  x = tf.constant(rng.normal(size=[9, n_in]), dtype)
  dy = tf.constant(rng.normal(size=[9, units]), dtype)
  _assert_layer_gpu_matches_cpu(_fastfood, x, dy, params, dtype,
                                exact_first=True)


# ACDC and the DCT, row lengths: powers of two (the packed half-length FFT),
# other lengths (Bluestein), and rows past a block's shared memory (their
# memory in a global buffer: 16384 float64, 32768).
ACDC_LENGTHS = [1, 8, 100, 127, 1024, 8191, 16384, 32768]


def _acdc(device, x, dy, params):
  """ACDC's y, the DCT-II and DCT-III of x, and the gradients of x, a, d
  and bias, the parameters GPU variables where the device is one."""
  with tf.device(device):
    variables = [tf.Variable(v) for v in params]
    x = tf.identity(x)
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf_approx.ops.acdc(x, *variables)
    grads = tape.gradient(y, [x] + variables, output_gradients=dy)
    return [y, tf_approx.ops.dct(x), tf_approx.ops.dct(x, inverse=True)] + (
        grads)


@pytest.mark.parametrize("n", ACDC_LENGTHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_acdc_gpu_matches_cpu(dtype, n):
  """Every result within SCALE_EPS eps of its array's largest value (nvcc
  and the CPU clones contract different multiply-adds in the FFTs;
  tests/test_acdc_gpu_model.py), plus one unit of a half type; the same
  bits on every GPU run."""
  rng = np.random.default_rng(6)
  params = [tf.constant(rng.normal(1.0, 0.1, size=n), dtype)
            for _ in range(3)]
  x = tf.constant(rng.normal(size=[33, n]), dtype)
  dy = tf.constant(rng.normal(size=[33, n]), dtype)
  _assert_layer_gpu_matches_cpu(_acdc, x, dy, params, dtype)


@pytest.mark.parametrize("case", sorted(CASES))
def test_gpu_is_deterministic(case):
  x = tf.constant(np.random.default_rng(1).normal(size=[4096, 33]),
                  tf.float32)
  first = _run("/GPU:0", CASES[case], x, x)
  second = _run("/GPU:0", CASES[case], x, x)
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_noisy_dp_matches_cpu_and_repeats(dtype, per_channel):
  """dp from device-resident p, scale and seed (GPU variables, as in
  training): the CPU's within its float32 sums' rounding, and the same bits
  on every run."""
  rng = np.random.default_rng(2)
  x = tf.constant(rng.normal(scale=2.0, size=[3001, 33]), dtype)
  dy = tf.constant(rng.normal(size=[3001, 33]), dtype)
  p_value = np.linspace(0.5, 2.0, 33) if per_channel else 1.5

  def run(device):
    with tf.device(device):
      p = tf.Variable(tf.cast(p_value, dtype))
      scale = tf.Variable(tf.constant(0.5, dtype))
      seed = tf.Variable(tf.constant([5, 2, 64], tf.int64))
      with tf.GradientTape() as tape:
        y = tf_approx.ops.noisy_activation(x, p, scale, seed=seed,
                                           where="input_learned",
                                           training=True)
      return tape.gradient(y, p, output_gradients=dy).numpy()

  gpu, cpu = run("/GPU:0"), run("/CPU:0")
  np.testing.assert_array_equal(gpu, run("/GPU:0"))
  gpu, cpu = gpu.astype(np.float64), cpu.astype(np.float64)
  eps = {tf.float16: 2.0**-10, tf.bfloat16: 2.0**-7}.get(dtype, 0.0)
  # The sums' rounding: measured on the CPU model (tests/test_gpu_model.py).
  bound = np.abs(cpu) * eps + 1e-4 * np.maximum(np.abs(cpu), 1.0)
  assert (np.abs(gpu - cpu) <= bound).all(), (gpu, cpu)


# The fused LSTM and GRU: (op, gates) with the paper's safe picks, whose
# sigm_fastexp_512 magnifies the sums' last-bit differences 512-fold
# (tests/test_recurrent_gpu_model.py), hence the bound's factor.
RECURRENT = {"lstm": 4, "gru": 3, "gru_reset_before": 3}


def _recurrent(name, x, kernel, states, lengths, bias):
  functions = dict(activation="tanh_pade_4_4",
                   recurrent_activation="sigm_fastexp_512")
  if name == "lstm":
    outputs, h, c = tf_approx.ops.recurrent.lstm(
        x, kernel, *states, lengths, **functions)
    return outputs, h, c
  return tf_approx.ops.recurrent.gru(x, kernel, bias, *states, lengths,
                                     reset_after=name == "gru", **functions)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64], ids=str)
@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent_gpu_matches_cpu(name, dtype):
  """Outputs, states and every input's gradient of the fused ops on the GPU
  (their CUDA kernels) against the CPU kernels, masked rows included; and
  the GPU's the same bits on a second run."""
  rng = np.random.default_rng(3)
  time, batch, units, gates = 7, 5, 33, RECURRENT[name]
  normal = lambda *shape, scale=1.0: tf.constant(
      rng.normal(scale=scale, size=shape), dtype)
  x = normal(time, batch, gates * units, scale=2.0)
  kernel = normal(units, gates * units, scale=units**-0.5)
  states = [normal(batch, units) for _ in range(2 if name == "lstm" else 1)]
  bias = normal(gates * units)
  lengths = tf.constant([7, 5, 0, 7, 1], tf.int32)

  def run(device):
    with tf.device(device):
      inputs = [tf.identity(t) for t in (x, kernel, bias, *states)]
      with tf.GradientTape() as tape:
        tape.watch(inputs)
        results = _recurrent(name, inputs[0], inputs[1], inputs[3:],
                             lengths, inputs[2])
        loss = sum(tf.reduce_sum(r * r) for r in results)
      grads = tape.gradient(loss, inputs)
    return [*results, *(g for g in grads if g is not None)]

  gpu, cpu = run("/GPU:0"), run("/CPU:0")
  assert "GPU" in gpu[0].device
  eps = np.finfo(dtype.as_numpy_dtype).eps
  for got, want in zip(gpu, cpu):
    got, want = got.numpy(), want.numpy()
    bound = SCALE_EPS * 512 * eps * max(1.0, float(np.max(np.abs(want))))
    assert float(np.max(np.abs(got - want))) <= bound
  for first, second in zip(gpu, run("/GPU:0")):
    np.testing.assert_array_equal(first.numpy(), second.numpy())
