"""Checks and times the GPU kernels without TensorFlow, on a GPU machine.

The machines with a GPU have the CUDA toolkit, Python with numpy and
pybind11, and no TensorFlow. This script builds, from the source tree and
with that Python, two modules:
  _native       the CPU loops (setup.py's `_native` sources and flags);
  _gpu_harness  the GPU launchers of every `<family>_gpu.cu.cc`, bound to
                numpy data (cc/native/gpu_harness.cu.cc),
then runs every GPU kernel on random inputs (special values included, every
dtype) and compares it with the CPU loops within the bounds the tests state
(tests/test_gpu_model.py), and times each kernel against a device-to-device
copy of the same data at 1M, 16M and 64M elements, printing tables.

  python tools/gpu_check.py [--build_dir=DIR] [--sanitize] [--quick]

--sanitize also runs the checks (not the timing) under compute-sanitizer's
memcheck and racecheck; --quick checks small sizes only. Exit status 1 if a
check or a sanitizer fails.
"""

import argparse
import concurrent.futures
import json
import os
import runpy
import shutil
import subprocess
import sys
import sysconfig
import time
import types
from pathlib import Path
from unittest import mock

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HARNESS_SOURCE = "cc/native/gpu_harness.cu.cc"
SIZES = {"1M": 1 << 20, "16M": 1 << 24, "64M": 1 << 26}
SCALE_EPS = 64  # as tests/test_gpu_model.py


def read_setup_py():
  """setup.py's module globals, without setuptools or TensorFlow."""
  captured = {}
  fake = types.ModuleType("setuptools")
  fake.setup = lambda **kwargs: captured.update(kwargs)
  fake.Extension = lambda name, **kwargs: types.SimpleNamespace(
      name=name, **kwargs)
  command = types.ModuleType("setuptools.command")
  build_ext = types.ModuleType("setuptools.command.build_ext")
  build_ext.build_ext = object
  modules = {"setuptools": fake, "setuptools.command": command,
             "setuptools.command.build_ext": build_ext}
  with mock.patch.dict(sys.modules, modules):
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
      return runpy.run_path(str(REPO / "setup.py"),
                            run_name="tf_approx_setup_probe")
    finally:
      os.chdir(cwd)


def _run(command):
  result = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          check=False)
  if result.returncode != 0:
    raise RuntimeError(f"{' '.join(command)}\n{result.stderr[-6000:]}")


def build(directory, native=True):
  """Builds _native (unless not `native`) and _gpu_harness into
  `directory`; returns it."""
  import pybind11  # pylint: disable=import-outside-toplevel
  setup = read_setup_py()
  config = setup["_cuda_config"](True, "(not needed)")
  if config is None:
    raise RuntimeError("nvcc or the static CUDA runtime was not found")
  directory = Path(directory).resolve()
  directory.mkdir(parents=True, exist_ok=True)
  suffix = sysconfig.get_config_var("EXT_SUFFIX")
  includes = [f"-I{REPO}", f"-I{pybind11.get_include()}",
              f"-I{sysconfig.get_paths()['include']}"]
  cxx = ["g++", "-fPIC", "-std=c++17", *setup["COMMON_FLAGS"], *includes]
  nvcc = [config["nvcc"], *setup["_nvcc_flags"](config), *includes]

  def compile_one(source):
    target = directory / (source.replace("/", "_") + ".o")
    compiler = nvcc if source.endswith(".cu.cc") else cxx
    _run([*compiler, "-c", source, "-o", str(target)])
    return target

  native_sources = setup["_native_sources"]() if native else []
  harness = [HARNESS_SOURCE, *setup["_cuda_sources"]()]
  started = time.time()
  with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
    native_objects = list(pool.map(compile_one, native_sources))
    harness_objects = list(pool.map(compile_one, harness))
  if native:
    _run(["g++", "-shared", *map(str, native_objects),
          *setup["ISA_LINK_FLAGS"], "-o",
          str(directory / f"_native{suffix}")])
  _run(["g++", "-shared", *map(str, harness_objects), config["cudart"],
        "-Wl,--exclude-libs,ALL", "-lpthread", "-ldl", "-lrt",
        "-o", str(directory / f"_gpu_harness{suffix}")])
  print(f"built {'_native and ' if native else ''}_gpu_harness (CUDA "
        f"{config['version']}, archs "
        f"{','.join(config['archs'])}) in {time.time() - started:.0f} s")
  return directory


# The cases: name -> (dtype kinds, forward(cpu, gpu, x), backward(...)).
# Each function returns (got, want) pairs of numpy arrays.


def _inputs(size, dtype, seed):
  rng = np.random.default_rng(seed)
  x = rng.normal(scale=4.0, size=size)
  special = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30, -1e3, 65504.0]
  x[:min(size, len(special))] = special[:size]
  return x.astype(dtype)


GAAF_CASES = [
    dict(base="tanh", shape="exp"),
    dict(base="sigmoid", shape="exp", center=0.5, width=2.0),
    dict(base="relu", shape="sigmoid"),
    dict(base="tanh", shape="none", k=float(np.float32(3.3))),
]


def _half_bits(x32, bfloat16):
  """float32 values -> the half type's values as float32, and its bits."""
  if bfloat16:
    bits = ((x32.view(np.uint32) + 0x7fff +
             ((x32.view(np.uint32) >> 16) & 1)) >> 16).astype(np.uint16)
    return (bits.astype(np.uint32) << 16).view(np.float32), bits
  with np.errstate(over="ignore"):  # past 65504: inf, as Eigen rounds
    half = x32.astype(np.float16)
  return half.astype(np.float32), half


def _in_dtype(values, dtype):
  """(the array to upload, the values the CPU loops take) for float64
  `values` in `dtype`: one array for float32 and float64; for a half type
  its float16 array or bfloat16 bits, and their values in float32."""
  if dtype in ("float32", "float64"):
    array = values.astype(dtype)
    return array, array
  as_float32, array = _half_bits(values.astype(np.float32),
                                 dtype == "bfloat16")
  return array, as_float32


def _upload(harness, array, dtype):
  return harness.upload(array, bfloat16=dtype == "bfloat16")


def _download(device_array, dtype):
  """A device array's values; a half type's in float32."""
  array = device_array.download()
  if dtype == "bfloat16":
    return (array.astype(np.uint32) << 16).view(np.float32)
  if dtype == "float16":
    return array.astype(np.float32)
  return array


def check_gaaf(native, harness, size):
  """[(case, max error in units of the bound)] for every dtype and attrs."""
  results = []
  for attrs in GAAF_CASES:
    for dtype in ("float32", "float64", "float16", "bfloat16"):
      x, xv = _in_dtype(_inputs(size, np.float64, 1), dtype)
      dy, dyv = _in_dtype(_inputs(size, np.float64, 2), dtype)
      want_y = native.gaaf(xv, **attrs)
      want_dx = native.gaaf_grad(dyv, xv, **attrs)
      gx, gdy = _upload(harness, x, dtype), _upload(harness, dy, dtype)
      gy, gdx = gx.empty_like(), gx.empty_like()
      harness.gaaf(gx, gy, **attrs)()
      harness.gaaf_grad(gx, gdy, gdx, **attrs)()
      harness.synchronize()
      name = f"gaaf {attrs['base']}/{attrs['shape']} {dtype}"
      results.append((name, _error(_download(gy, dtype), want_y, dtype)))
      results.append((name + " grad",
                      _error(_download(gdx, dtype), want_dx, dtype)))
  return results


NOISY_CASES = [
    dict(base="tanh", where="output", alpha=1.15, training=True),
    dict(base="sigmoid", where="input_learned", noise="half_normal",
         training=True),
    dict(base="tanh", where="input_saturated"),
]


def check_noisy(native, harness, size):
  """[(case, max error in units of the bound)]: y, dx and dp (p per channel
  of 7, and shared), p, scale and seed in device memory."""
  results = []
  for attrs in NOISY_CASES:
    for per_channel in (False, True):
      for dtype in ("float32", "float64", "float16", "bfloat16"):
        n = size - size % 7 if per_channel else size
        x64 = _inputs(n, np.float64, 1)
        dy64 = _inputs(n, np.float64, 2)
        dy64[~np.isfinite(dy64)] = 1.0
        p64 = np.linspace(0.5, 2.0, 7) if per_channel else np.array([1.5])
        seed = np.array([5, 2, 63], np.int64)
        x, xv = _in_dtype(x64, dtype)
        dy, dyv = _in_dtype(dy64, dtype)
        p, pv = _in_dtype(p64, dtype)
        scale, _ = _in_dtype(np.array([0.5]), dtype)
        read = lambda a, dtype=dtype: _download(a, dtype)
        shape = (-1, 7) if per_channel else (-1,)
        want_p = pv if per_channel else pv.reshape(())
        # The CPU loops take [seed, step], counting from 0: the element at
        # flat i here (first = 63, a multiple of the channels) is the CPU's
        # element 63 + i, so x is padded in front, and dy with zeros, which
        # add nothing to dp.
        pad = lambda a: np.concatenate([np.zeros(63, a.dtype), a]).reshape(
            shape)
        cpu_attrs = dict(attrs, scale=0.5, seed=(5, 2))
        want_y = native.noisy_activation(pad(xv), want_p,
                                         **cpu_attrs).reshape(-1)[63:]
        want_dx, want_dp = native.noisy_activation_grad(
            pad(dyv), pad(xv), want_p, **cpu_attrs)
        want_dx = want_dx.reshape(-1)[63:]
        upload = lambda a, dtype=dtype: _upload(harness, a, dtype)
        gx, gdy, gp = upload(x), upload(dy), upload(p)
        gscale, gseed = upload(scale), harness.upload(seed)
        gy, gdx, gdp = gx.empty_like(), gx.empty_like(), gp.empty_like()
        harness.noisy_activation(gx, gy, gp, gscale, gseed, **attrs)()
        harness.noisy_activation_grad(gx, gdy, gdx, gp, gdp, gscale, gseed,
                                      **attrs)()
        harness.synchronize()
        name = (f"noisy {attrs['base']}/{attrs['where']} "
                f"{'channels' if per_channel else 'shared'} {dtype}")
        # The noise is float32 on either device: float32's bound for
        # float64 where it is drawn.
        unit = "float32" if dtype == "float64" and attrs.get(
            "training") else dtype
        results.append((name, _error(read(gy), want_y, unit)))
        results.append((name + " grad", _error(read(gdx), want_dx, unit)))
        results.append((name + " dp", _error(
            read(gdp).reshape(-1), np.asarray(want_dp).reshape(-1), unit)))
  return results


# The activations' cases, as _native.Spec keyword arguments (float32
# coefficients, as the op's attrs): every kind, a clip, the general (no
# parity) rational form. No high-degree Taylor polynomial: its terms cancel
# (tanh_taylor_15 near |x| = 10), so where nvcc and the CPU's SIMD clones
# contract other multiply-adds into FMAs the results differ by thousands of
# eps of |y| (tests/test_gpu_model.py bounds those by the terms instead).
_TANH_PADE_4_4 = dict(
    kind="rational", numerator=[0.0, 0.9961919188499451, 0.0,
                                0.07373044639825821],
    denominator=[1.0, 0.0, 0.39897939562797546, 0.0, 0.005154681857675314])
ACTIVATION_CASES = {
    "tanh_pade_4_4": _TANH_PADE_4_4,
    "tanh_pade_4_4_clamp": dict(_TANH_PADE_4_4, clip=True, clip_min=-5.5,
                                clip_max=5.5),
    "rational_clip": dict(kind="rational", numerator=[0.5, 1.0, 0.1, 0.02],
                          denominator=[1.0, 0.0, 0.3], offset=0.25,
                          clip=True, clip_min=-3.0, clip_max=2.5),
    "sigm_fastexp_512": dict(kind="fastexp_sigmoid", squarings=9),
    "ultra_fast_sigmoid": dict(kind="ultra_fast_sigmoid"),
    "word2vec_sigmoid": dict(kind="word2vec_sigmoid"),
    "tanh_hard": dict(kind="hard_tanh"),
    "sigm_hard": dict(kind="hard_sigmoid"),
}


def _fitted(name):
  """A fitted name's rational from the package's table (no TensorFlow here)."""
  path = Path(__file__).resolve().parents[1] / "tf_approx" / "data" / (
      "activation_coefficients.json")
  entry = json.loads(path.read_text())["functions"][name]
  return dict(kind="rational", numerator=entry["numerator"],
              denominator=entry["denominator"], offset=entry["offset"])


# Today's activations' safe picks: the forms (x R(x), slope, lines, scales)
# around a rational and the fastexp kinds, as tf_approx.activations builds
# them.
_SELU = 1.6732632423543772 * 1.0507009873554805
ACTIVATION_CASES.update({
    "gelu_pade_5_6_clamp": dict(_fitted("gelu_pade_5_6"), product=True,
                                below=[-5.0, 0.0, 0.0], above=[5.0, 1.0, 0.0]),
    "silu_pade_5_4_clamp beta 1.702": dict(
        _fitted("silu_pade_5_4"), product=True, input_scale=1.702,
        below=[-12 / 1.702, 0.0, 0.0], above=[12 / 1.702, 1.0, 0.0]),
    "softplus_pade_6_4_clamp": dict(_fitted("softplus_pade_6_4"), slope=0.5,
                                    below=[-10.0, 0.0, 0.0],
                                    above=[10.0, 1.0, 0.0]),
    "silu_fastexp_1024_clamp": dict(kind="fastexp_sigmoid", squarings=10,
                                    product=True, below=[-1024.0, 0.0, 0.0],
                                    above=[1024.0, 1.0, 0.0]),
    "mish_fastexp_1024_clamp": dict(kind="fastexp_mish", squarings=10,
                                    product=True, below=[-1024.0, 0.0, 0.0]),
    "selu_fastexp_512_clamp": dict(kind="fastexp_expm1", squarings=9,
                                   output_scale=_SELU,
                                   above=[0.0, 1.0507009029388428, 0.0],
                                   below=[-512.0, 0.0, -_SELU]),
    # Splines: the coefficients' values do not matter for comparing GPU and
    # CPU, only the lookup of a lane's piece (16 pieces: one register on the
    # CPU for float32, a pair for float64; 32: a pair for float32, two for
    # float64) and the output scale folded into them.
    "spline 16 pieces": dict(kind="spline",
                             spline=[np.sin(i) for i in range(64)],
                             below=[-4.0, 0.0, 0.0], above=[4.0, 1.0, 0.0]),
    "spline 32 pieces scaled": dict(kind="spline",
                                    spline=[np.cos(i) for i in range(128)],
                                    output_scale=0.5,
                                    below=[-10.0, 0.0, -1.0],
                                    above=[6.0, 1.5, 0.0]),
})


def check_activations(native, harness, size):
  """[(case, max error in units of the bound)] for every dtype and kind."""
  results = []
  for name, attrs in ACTIVATION_CASES.items():
    spec = native.Spec(**attrs)
    for dtype in ("float32", "float64", "float16", "bfloat16"):
      x, xv = _in_dtype(_inputs(size, np.float64, 1), dtype)
      dy, dyv = _in_dtype(_inputs(size, np.float64, 2), dtype)
      want_y = native.forward(spec, xv)
      want_dx = native.gradient(spec, xv, dyv)
      read = lambda a, dtype=dtype: _download(a, dtype)
      gx, gdy = _upload(harness, x, dtype), _upload(harness, dy, dtype)
      gy, gdx = gx.empty_like(), gx.empty_like()
      harness.activation(gx, gy, spec=spec)()
      harness.activation_grad(gx, gdy, gdx, spec=spec)()
      harness.synchronize()
      results.append((f"activations {name} {dtype}",
                      _error(read(gy), want_y, dtype)))
      results.append((f"activations {name} {dtype} grad",
                      _error(read(gdx), want_dx, dtype)))
  return results


# PAU: (m, n, denominator_kind, channels (0: shared), randomized); no poles
# and no kink of |R| (where two roundings cannot be compared: see
# tests/test_gpu_model.py). x has special values, dy none: dx's two terms
# cancel for large |x|, by |dy| times more than dx.
PAU_CASES = [
    (5, 4, "safe", 0, 0.0),
    (3, 2, "safe", 3, 0.0),
    (3, 2, "unsafe", 0, 0.0),
    (2, 3, "safe", 0, 0.125),
]


def _pau_coefficients(m, n, kind, channels):
  rng = np.random.default_rng(10 * m + n)
  sets = [channels] if channels else []
  numerator = rng.normal(scale=0.5, size=sets + [m + 1])
  denominator = rng.normal(scale=0.5, size=sets + [n])
  if kind == "unsafe":  # Q = 1 + b_2 x^2 + ... >= 1
    denominator = np.abs(denominator)
    denominator[..., 0::2] = 0.0
  return numerator, denominator


def check_pau(native, harness, size):
  """[(case, max error in units of the bound)] for every dtype and case."""
  results = []
  for m, n, kind, channels, alpha in PAU_CASES:
    num64, den64 = _pau_coefficients(m, n, kind, channels)
    width = channels or 1
    rows = size // width
    for dtype in ("float32", "float64", "float16", "bfloat16"):
      x64 = _inputs(rows * width, np.float64, 1)
      dy64 = np.random.default_rng(2).normal(size=rows * width)
      if channels:
        x64, dy64 = x64.reshape(rows, width), dy64.reshape(rows, width)
      attrs = dict(denominator_kind=kind, seed=(3, 4))
      x, xv = _in_dtype(x64, dtype)
      dy, dyv = _in_dtype(dy64, dtype)
      num, numv = _in_dtype(num64, dtype)
      den, denv = _in_dtype(den64, dtype)
      upload = lambda a, dtype=dtype: _upload(harness, a, dtype)
      read = lambda a, dtype=dtype: _download(a, dtype)
      want_y = native.pau(xv, numv, denv, randomized=alpha, **attrs)
      if dtype in ("float16", "bfloat16"):
        # F may lie beyond the half type's range: the float32 result rounded.
        want_y = _half_bits(want_y, dtype == "bfloat16")[0]
      gx, gdy = upload(x), upload(dy)
      gy, gdx = gx.empty_like(), gx.empty_like()
      harness.pau(gx, gy, numerator=num, denominator=den, randomized=alpha,
                  **attrs)()
      name = f"pau {m}/{n} {kind} {channels or 'shared'} {alpha} {dtype}"
      if not alpha:  # native.pau_grad has no RPAU
        want_dx = native.pau_grad(dyv, xv, numv, denv, **attrs)[0]
        if dtype in ("float16", "bfloat16"):
          want_dx = _half_bits(want_dx, dtype == "bfloat16")[0]
        harness.pau_grad(gx, gdy, gdx, numerator=num, denominator=den,
                         **attrs)()
      harness.synchronize()
      results.append((name, _error(read(gy), want_y, dtype)))
      if not alpha:
        results.append((name + " grad", _error(read(gdx), want_dx, dtype)))
  return results


def _error(got, want, dtype):
  """The largest |got - want| in units of the tests' bound (<= 1 passes);
  inf where NaN or infinities differ."""
  got = np.asarray(got, np.float64)
  if dtype == "float16":
    # What the op stores: float32 results beyond float16's range are inf
    # (SELU's 1.05 x at x = 65504).
    with np.errstate(over="ignore"):
      want = np.asarray(want, np.float16)
  want = np.asarray(want, np.float64)
  if not np.array_equal(np.isnan(got), np.isnan(want)):
    return np.inf
  infinite = np.isinf(want)
  if not np.array_equal(got[infinite], want[infinite]):
    return np.inf
  finite = np.isfinite(want)
  magnitude = np.abs(want[finite])
  if dtype in ("float16", "bfloat16"):
    eps, tiny = (2.0**-10, 2.0**-14) if dtype == "float16" else (2.0**-7,
                                                                 2.0**-126)
    bound = (np.maximum(magnitude, tiny) * eps + SCALE_EPS *
             np.finfo(np.float32).eps * np.maximum(magnitude, 1.0))
  else:
    bound = SCALE_EPS * np.finfo(dtype).eps * np.maximum(magnitude, 1.0)
  if not finite.any():
    return 0.0
  return float(np.max(np.abs(got[finite] - want[finite]) / bound))


# The fused LSTM and GRU: a sequence (time, batch, units) for each size
# run_checks passes (its state elements over the sequence about that size;
# the largest is the CharRNN's layer), each with some rows masked.
RECURRENT_SHAPES = {0: (3, 0, 5), 1: (1, 1, 1), 1000: (6, 3, 33),
                    4099: (20, 5, 40), 1 << 20: (50, 50, 128)}
# (activation, recurrent_activation) -> (the largest size they are checked
# at, a factor on the bound). Two kinds of approximation magnify the
# last-bit differences that the sums' order makes: sigm_fastexp_512 raises
# (1 + x/512) to the 512th power, so one ulp of 1 + x/512 moves it by 512
# ulps (its factor); word2vec_sigmoid is a table, and a pre-activation one
# ulp across an entry's edge moves it by a whole step, which over a long
# sequence some element meets by chance: it is checked on the short ones.
RECURRENT_FUNCTIONS = {("tanh", "sigmoid"): (1 << 20, 1),
                       ("tanh_pade_4_4", "sigm_pade_4_4"): (1 << 20, 1),
                       ("tanh_pade_4_4", "sigm_fastexp_512"): (1 << 20, 512),
                       ("tanh", "word2vec_sigmoid"): (1000, 1)}
RECURRENT_LAYERS = ["lstm", "gru", "gru_reset_before"]


def _recurrent_function(name):
  if name in ("tanh", "sigmoid"):
    return name
  if name in ACTIVATION_CASES:
    return _spec_attrs(ACTIVATION_CASES[name])
  return _spec_attrs(_fitted(name))


def recurrent_case(layer, shape, dtype, seed=0):
  """(the forward's arguments, the backward's gradients) of `layer` as
  tests/test_recurrent_gpu_model.py makes them."""
  time_steps, batch, units = shape
  gates = 4 if layer == "lstm" else 3
  rng = np.random.default_rng([seed, time_steps, batch, units, gates])
  normal = lambda *size, scale=1.0: (rng.normal(size=size) * scale).astype(
      dtype)
  lengths = np.array([[time_steps, max(time_steps - 2, 0), 0][b % 3]
                      for b in range(batch)], np.int32)
  args = {"x": normal(time_steps, batch, gates * units, scale=2.0),
          "kernel": normal(units, gates * units,
                           scale=1 / np.sqrt(max(units, 1))),
          "h0": normal(batch, units), "lengths": lengths}
  if layer == "lstm":
    args["c0"] = normal(batch, units)
  else:
    args["bias"] = normal(gates * units)
  grads = {"d_outputs": normal(time_steps, batch, units),
           "dh": normal(batch, units)}
  if layer == "lstm":
    grads["dc"] = normal(batch, units)
  return args, grads


def run_recurrent(module, layer, args, grads, functions, **attrs):
  """(forward results, backward results) of `module`'s lstm / gru and their
  gradients (the harness's end with seconds per call)."""
  activation, recurrent_activation = map(_recurrent_function, functions)
  attrs.update(activation=activation,
               recurrent_activation=recurrent_activation)
  if layer != "lstm":
    attrs["reset_after"] = layer == "gru"
  if layer == "lstm":
    forward = module.lstm(args["x"], args["kernel"], args["h0"], args["c0"],
                          args["lengths"], **attrs)
    backward = module.lstm_grad(
        grads["d_outputs"], grads["dh"], grads["dc"], args["kernel"],
        args["h0"], args["c0"], args["lengths"], *forward[:3], **attrs)
  else:
    forward = module.gru(args["x"], args["kernel"], args["bias"], args["h0"],
                         args["lengths"], **attrs)
    backward = module.gru_grad(
        grads["d_outputs"], grads["dh"], args["kernel"], args["h0"],
        args["lengths"], *forward[:3], **attrs)
  return forward, backward


def _array_error(got, want, dtype):
  """The largest |got - want| in units of the tests' recurrent bound
  (SCALE_EPS eps times max(1, the largest |want|)); inf where NaN differ."""
  got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
  if got.shape != want.shape or not np.array_equal(np.isnan(got),
                                                   np.isnan(want)):
    return np.inf
  if want.size == 0:
    return 0.0
  bound = SCALE_EPS * np.finfo(dtype).eps * max(1.0, np.nanmax(np.abs(want)))
  return float(np.nanmax(np.abs(got - want)) / bound)


def check_recurrent(native, harness, size):
  """[(case, max error in units of the bound)]: the LSTM's and GRU's (both
  layouts) forward and backward passes on the GPU against the CPU steps, for
  the shape of `size`, exact and approximated functions, both directions."""
  shape = RECURRENT_SHAPES[size]
  results = []
  for layer in RECURRENT_LAYERS:
    for dtype in ("float32", "float64"):
      for functions, (largest, factor) in RECURRENT_FUNCTIONS.items():
        if size > largest:
          continue
        for reverse in (False, True):
          args, grads = recurrent_case(layer, shape, dtype)
          want = run_recurrent(native, layer, args, grads, functions,
                               reverse=reverse)
          got = run_recurrent(harness, layer, args, grads, functions,
                              reverse=reverse)
          name = (f"recurrent {layer} {'/'.join(functions)} {dtype}"
                  f"{' reverse' if reverse else ''}")
          for suffix, g, w in (("", got[0], want[0]),
                               (" grad", got[1], want[1])):
            results.append((name + suffix, max(
                _array_error(a, b, dtype) / factor for a, b in zip(g, w))))
  return results


# The Walsh-Hadamard transform's row lengths (log2) and block limits (-1: the
# device's own, 15 for float32 on sm_80 and later, 14 for float64): rows
# within a warp, across warps, at the limit, past it (strided passes), and
# small limits that send short rows through several strided passes.
FWHT_CASES = [(0, -1), (3, -1), (8, -1), (9, -1), (12, -1), (15, -1),
              (16, -1), (20, -1), (10, 0), (12, 4), (13, 9)]


def _fwht_reference(native, values, dtype, normalize):
  """The CPU kernel's transform of `values` (what the GPU must give,
  bitwise): float32 or float64 in place; a half type through float32,
  rounded back (its upload array, as bits for bfloat16)."""
  compute = np.float64 if dtype == "float64" else np.float32
  want = np.ascontiguousarray(values, compute).copy()
  native.fast_walsh_hadamard_(want, normalize=normalize)
  if dtype in ("float32", "float64"):
    return want
  return _half_bits(want, dtype == "bfloat16")[1]


def check_fwht(native, harness, size):
  """[(case, 0 or inf)]: the Walsh-Hadamard transform of rows of 2^k with
  about `size` elements in all, on the GPU against the CPU kernel, bitwise
  (inf where any bit differs), in place once; float64 rows against scipy's
  Hadamard matrix too, where scipy is installed (error in units of 64 eps
  times the row's sum of |x|)."""
  results = []
  rng = np.random.default_rng(11)
  for log2_d, limit in FWHT_CASES:
    rows = size >> log2_d
    if rows == 0 and size != 0:
      continue
    for dtype in ("float32", "float64", "float16", "bfloat16"):
      values = rng.normal(scale=3.0, size=(rows, 1 << log2_d))
      x, xv = _in_dtype(values, dtype)
      normalize = log2_d % 2 == 0
      want = _fwht_reference(native, xv, dtype, normalize)
      gx = _upload(harness, x, dtype)
      gy = gx.empty_like()
      harness.fast_walsh_hadamard(gx, gy, normalize=normalize,
                                  max_block_log2=limit)()
      in_place = log2_d == 12
      if in_place:
        harness.fast_walsh_hadamard(gx, gx, normalize=normalize,
                                    max_block_log2=limit)()
      harness.synchronize()
      name = f"fastfood fwht 2^{log2_d} limit {limit} {dtype}"
      for label, got in (("", gy), (" in place", gx if in_place else None)):
        if got is not None:
          same = got.download().tobytes() == want.tobytes()
          results.append((name + label, 0.0 if same else np.inf))
      if dtype == "float64" and 0 < log2_d <= 10 and rows > 0:
        try:
          from scipy.linalg import hadamard  # pylint: disable=import-outside-toplevel
        except ImportError:
          continue
        exact = values @ hadamard(1 << log2_d)
        if normalize:
          exact = exact / np.sqrt(1 << log2_d)
        bound = SCALE_EPS * np.finfo(np.float64).eps * np.abs(
            values).sum(axis=1, keepdims=True)
        results.append((name + " vs scipy",
                        float(np.max(np.abs(gy.download() - exact) / bound))))
  return results


# Adaptive Fastfood: (n_in, units, d, the fused kernels' limit, log2; -1:
# the device's); rows from the check's size. The fused kernels, then the
# staged path: forced by small limits, and past the device's own (d = 2^15
# float64, 2^16).
FASTFOOD_CASES = [(5, 7, 8, -1), (100, 300, 128, -1), (1000, 1024, 1024, -1),
                  (3000, 5000, 4096, -1), (8192, 8192, 8192, -1),
                  (100, 300, 128, 3), (3000, 5000, 4096, 9),
                  (30000, 32768, 32768, -1), (40000, 70000, 65536, -1)]


def fastfood_parameters(n_in, units, d, dtype, seed=0):
  """s, g, b ([blocks, d]) and a permutation (int32) for a Fastfood case."""
  rng = np.random.default_rng(seed)
  blocks = -(-units // d)
  s, g = (rng.normal(size=(blocks, d)).astype(dtype) for _ in range(2))
  b = rng.choice([-1.0, 1.0], size=(blocks, d)).astype(dtype)
  perm = np.stack([rng.permutation(d) for _ in range(blocks)]).astype(
      np.int32)
  return s, g, b, perm


def _grad_error(got, want, dtype):
  """Max |got - want| in units of SCALE_EPS eps times the array's largest
  |want| (at least 1): the sums run in another order than the CPU's where
  the compilers contract other multiply-adds."""
  want = np.asarray(want, np.float64)
  scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
  bound = SCALE_EPS * np.finfo(dtype).eps * scale
  return float(np.max(np.abs(np.asarray(got, np.float64) - want),
                      initial=0.0)) / bound


def check_adaptive_fastfood(native, harness, size):
  """[(case, error)]: Fastfood's forward pass on the GPU against the CPU
  loops, bitwise (0 or inf); its gradients within _grad_error's bound."""
  results = []
  for n_in, units, d, limit in FASTFOOD_CASES:
    rows = size // max(n_in, units)
    if rows == 0 and size != 0:
      continue
    for dtype in (np.float32, np.float64):
      params = fastfood_parameters(n_in, units, d, dtype)
      rng = np.random.default_rng(n_in)
      x = rng.normal(size=(rows, n_in)).astype(dtype)
      dy = rng.normal(size=(rows, units)).astype(dtype)
      normalize = d >= 1024
      want_y = native.fastfood(x, *params, units=units, normalize=normalize)
      want = native.fastfood_grad(dy, x, *params, units=units,
                                  normalize=normalize)
      gx, gdy = harness.upload(x), harness.upload(dy)
      gparams = [harness.upload(a) for a in params]
      gy, gdx = gdy.empty_like(), gx.empty_like()
      ggrads = harness.upload(np.zeros((3,) + params[0].shape, dtype))
      harness.fastfood(gx, gy, *gparams, units=units, normalize=normalize,
                       max_log2=limit)()
      harness.fastfood_grad(gx, gdy, gdx, *gparams, ggrads, units=units,
                            normalize=normalize, max_log2=limit)()
      harness.synchronize()
      name = (f"fastfood {n_in}->{units} d={d} limit {limit} "
              f"{np.dtype(dtype).name}")
      same = gy.download().tobytes() == want_y.tobytes()
      results.append((name, 0.0 if same else np.inf))
      grads = ggrads.download()
      for label, got, w in (("dx", gdx.download(), want[0]),
                            ("ds", grads[0], want[1]),
                            ("dg", grads[1], want[2]),
                            ("db", grads[2], want[3])):
        results.append((f"{name} {label}", _grad_error(got, w, dtype)))
  return results


# ACDC and the DCT: row lengths (rows from the check's size): powers of two
# (the packed half-length FFT), other even lengths and odd ones (Bluestein),
# up to the 8192, and past what a block's shared memory holds
# (16384 float64, 32768: the rows' memory in a global buffer).
ACDC_LENGTHS = [1, 2, 3, 8, 100, 127, 1000, 1024, 4096, 8191, 8192, 16384,
                32768]


def check_acdc(native, harness, size):
  """[(case, error)]: ACDC's forward pass, its gradients and the DCTs on the
  GPU against the CPU loops, within _grad_error's bound (nvcc and the CPU
  clones contract different multiply-adds in the FFTs)."""
  results = []
  for n in ACDC_LENGTHS:
    rows = size // n
    if rows == 0 and size != 0:
      continue
    for dtype in (np.float32, np.float64):
      rng = np.random.default_rng(n)
      x = rng.normal(size=(rows, n)).astype(dtype)
      dy = rng.normal(size=(rows, n)).astype(dtype)
      a, d, bias = (rng.normal(1.0, 0.3, size=n).astype(dtype)
                    for _ in range(3))
      gx, gdy = harness.upload(x), harness.upload(dy)
      ga, gd, gbias = (harness.upload(v) for v in (a, d, bias))
      gy, gdx = gx.empty_like(), gx.empty_like()
      gdct, gidct = gx.empty_like(), gx.empty_like()
      ggrads = harness.upload(np.zeros((3, n), dtype))
      harness.acdc(gx, gy, ga, gd, gbias)()
      harness.acdc_grad(gx, gdy, gdx, ga, gd, ggrads)()
      harness.dct(gx, gdct, inverse=False)()
      harness.dct(gx, gidct, inverse=True)()
      harness.synchronize()
      want_grad = native.acdc_grad(dy, x, a, d)
      grads = ggrads.download()
      name = f"acdc n={n} {np.dtype(dtype).name}"
      for label, got, want in (
          ("y", gy.download(), native.acdc(x, a, d, bias)),
          ("dct", gdct.download(), native.dct(x, inverse=False)),
          ("idct", gidct.download(), native.dct(x, inverse=True)),
          ("dx", gdx.download(), want_grad[0]), ("da", grads[0], want_grad[1]),
          ("dd", grads[1], want_grad[2]), ("dbias", grads[2], want_grad[3])):
        results.append((f"{name} {label}", _grad_error(got, want, dtype)))
  return results


def check_fastfood_family(native, harness, size):
  """The transform's checks, then Adaptive Fastfood's."""
  return (check_fwht(native, harness, size) +
          check_adaptive_fastfood(native, harness, size))


CHECKS = {"acdc": check_acdc, "activations": check_activations,
          "fastfood": check_fastfood_family, "gaaf": check_gaaf,
          "noisy": check_noisy, "pau": check_pau,
          "recurrent": check_recurrent}


def check_block_model(native, harness):
  """[(case, size, 0 or inf)]: the cooperative model's test programs
  (cc/native/block_programs.h: shuffles, shared memory between barriers) on
  the GPU against the same programs on the CPU model, bitwise (inf where
  any bit differs)."""
  results = []
  model = native.gpu_model
  rng = np.random.default_rng(7)

  def compare(name, got, want):
    same = np.asarray(got).tobytes() == np.asarray(want).tobytes()
    results.append((name, np.asarray(want).size, 0.0 if same else np.inf))

  for dtype in (np.float32, np.float64):
    x = rng.normal(size=256).astype(dtype)
    for kind, args in (("xor", (1, 5, 16, 31)), ("down", (0, 1, 7, 16)),
                       ("index", (0, 13, 31))):
      for arg in args:
        gx = harness.upload(x)
        gy = gx.empty_like()
        harness.block_shuffle(gx, gy, kind=kind, arg=arg, threads=64)()
        compare(f"block shuffle {kind} {arg} {dtype.__name__}",
                gy.download(), model.block_shuffle(x, kind, arg, threads=64))
    for n in (32, 64, 1024):
      x = rng.normal(size=(37, n)).astype(dtype)
      gx = harness.upload(x)
      gy = gx.empty_like()
      harness.block_fwht(gx, gy)()
      compare(f"block fwht {n} {dtype.__name__}", gy.download(),
              model.block_fwht(x))
    for threads, size in ((32, 1), (256, 100000), (1024, 4099)):
      x = rng.normal(size=size).astype(dtype)
      gx = harness.upload(x)
      gsums = harness.upload(np.zeros(-(-size // threads), dtype))
      harness.block_sum(gx, gsums, threads=threads)()
      compare(f"block sum {threads} threads {dtype.__name__}",
              gsums.download(), model.block_sum(x, threads=threads))
  harness.synchronize()
  return results


def run_checks(native, harness, sizes):
  failed = False
  print(f"\n{'kernel':48} {'size':>9} {'error/bound':>12}")
  rows = [(name, size, error) for family, check in CHECKS.items()
          for size in sizes for name, error in check(native, harness, size)]
  rows += check_block_model(native, harness)
  for name, size, error in rows:
    ok = error <= 1.0
    failed |= not ok
    print(f"{name:48} {size:>9} {error:>12.3g} {'' if ok else 'FAIL'}")
  return not failed


def _spec_attrs(attrs):
  """_native.Spec's attributes, without _native (the harness reads them)."""
  full = dict(kind="rational", numerator=[1.0], denominator=[1.0],
              offset=0.0, squarings=0, clip=False, clip_min=0.0,
              clip_max=0.0, product=False, input_scale=1.0,
              output_scale=1.0, slope=0.0, below=[], above=[], spline=[])
  full.update(attrs)
  return types.SimpleNamespace(**full)


# Timing: name -> function(harness, x (float32 device array)) -> launch.
TIMED = {
    "activations tanh_pade_4_4": lambda h, x, y, dy: h.activation(
        x, y, spec=_spec_attrs(_TANH_PADE_4_4)),
    "activations tanh_pade_4_4 grad": lambda h, x, y, dy: h.activation_grad(
        x, dy, y, spec=_spec_attrs(_TANH_PADE_4_4)),
    "activations word2vec": lambda h, x, y, dy: h.activation(
        x, y, spec=_spec_attrs(ACTIVATION_CASES["word2vec_sigmoid"])),
    # x as one row: a block pass of 2^15 runs, then strided passes.
    "fastfood fwht one row": lambda h, x, y, dy: h.fast_walsh_hadamard(
        x, y, normalize=True),
    "gaaf tanh": lambda h, x, y, dy: h.gaaf(x, y),
    "gaaf tanh grad": lambda h, x, y, dy: h.gaaf_grad(x, dy, y),
    "noisy train": lambda h, x, y, dy: h.noisy_activation(
        x, y, *_noisy_device_inputs(h), training=True),
    "noisy train grad": lambda h, x, y, dy: _noisy_grad_launch(h, x, y, dy),
    "pau 5/4 safe": lambda h, x, y, dy: h.pau(
        x, y, numerator=PAU_TIMED[0], denominator=PAU_TIMED[1]),
    "pau 5/4 safe grad": lambda h, x, y, dy: h.pau_grad(
        x, dy, y, numerator=PAU_TIMED[0], denominator=PAU_TIMED[1]),
}
PAU_TIMED = [a.astype(np.float32) for a in _pau_coefficients(5, 4, "safe", 0)]


def _noisy_device_inputs(h):
  """p (shared), scale and seed in device memory."""
  return (h.upload(np.array([1.5], np.float32)),
          h.upload(np.array([0.5], np.float32)),
          h.upload(np.array([5, 2], np.int64)))


def _noisy_grad_launch(h, x, y, dy):
  p, scale, seed = _noisy_device_inputs(h)
  return h.noisy_activation_grad(x, dy, y, p, p.empty_like(), scale, seed,
                                 where="input_learned", training=True)
# Bytes each kernel must move per element, in units of a copy's (one read and
# one write): the forward reads x and writes y; a gradient reads x and dy.
TRAFFIC = {"grad": 1.5}


# Timing of the fused layers: name -> (layer, shape, functions), float32.
SAFE_PICKS = ("tanh_pade_4_4", "sigm_fastexp_512")
RECURRENT_TIMED = {
    "recurrent lstm(128) charrnn": ("lstm", (50, 50, 128), SAFE_PICKS),
    "recurrent gru(128) charrnn": ("gru", (50, 50, 128), SAFE_PICKS),
    "recurrent lstm(512) batch 128": ("lstm", (50, 128, 512), SAFE_PICKS),
}


def run_recurrent_timing(harness, repeats):
  """Prints the fused layers' forward and backward passes' time per call
  (every phase's launch of a sequence), with the safe picks."""
  print(f"\nFused layers (float32, safe picks; CUDA events over {repeats} "
        "calls; each pass is a launch per phase of every step).")
  print(f"{'layer':32} {'shape':>14} {'forward ms':>11} {'backward ms':>12}")
  for name, (layer, shape, functions) in RECURRENT_TIMED.items():
    args, grads = recurrent_case(layer, shape, np.float32)
    forward, backward = run_recurrent(harness, layer, args, grads, functions,
                                      repeats=repeats)
    print(f"{name:32} {'x'.join(map(str, shape)):>14} "
          f"{forward[-1] * 1e3:11.3f} {backward[-1] * 1e3:12.3f}")


# The transform's sweep: rows of 2^10 .. 2^20 float32 in 256 MiB (2^26
# elements) a call; its target is 60% of a copy's bandwidth up to 2^15.
FWHT_TIMED_LOG2 = range(10, 21)
FWHT_TIMED_ELEMENTS = 1 << 26


def run_fwht_timing(harness, repeats):
  """Prints the transform's time per call over 256 MiB of float32 rows of
  each length, against a device-to-device copy of the same bytes."""
  values = np.random.default_rng(0).normal(
      size=FWHT_TIMED_ELEMENTS).astype(np.float32)
  flat = harness.upload(values)
  copy = harness.time(harness.copy(flat.empty_like(), flat), repeats)
  print(f"\nWalsh-Hadamard transform (float32, normalized, 256 MiB a call; "
        f"a copy of it: {copy * 1e6:.1f} us, "
        f"{2 * 4 * FWHT_TIMED_ELEMENTS / copy / 1e9:.0f} GB/s).")
  print(f"{'d':>9} {'passes':>7} {'us':>10} {'GB/s':>7} {'copy / fwht':>12}")
  for log2_d in FWHT_TIMED_LOG2:
    x = harness.upload(values.reshape(-1, 1 << log2_d))
    y = x.empty_like()
    seconds = harness.time(harness.fast_walsh_hadamard(x, y, normalize=True),
                           repeats)
    passes = 1 + -(-max(log2_d - 15, 0) // 5)
    print(f"{'2^' + str(log2_d):>9} {passes:>7} {seconds * 1e6:10.1f} "
          f"{2 * 4 * FWHT_TIMED_ELEMENTS / seconds / 1e9:7.0f} "
          f"{copy / seconds:12.2f}")


# Adaptive Fastfood's timing: d (= n_in = units) at batch 1024, against its
# memory floor and the Dense layer it replaces, as cuBLAS runs it (CuPy).
# The last one past the fused kernels' limit: the staged path, not timed
# against Dense (a 16 GiB matrix).
FASTFOOD_TIMED_D = (1024, 4096, 8192, 65536)
ACDC_TIMED_N = (1024, 4096, 8192)
LAYER_DENSE_MAX_D = 8192
LAYER_TIMED_BATCH = 1024

_DENSE_TIMING = """
import json, sys
import cupy as cp
d, batch, repeats = map(int, sys.argv[1:4])
x, dy = (cp.random.standard_normal((batch, d), dtype=cp.float32)
         for _ in range(2))
w = cp.random.standard_normal((d, d), dtype=cp.float32)
def timed(fn):
  fn()
  start, stop = cp.cuda.Event(), cp.cuda.Event()
  start.record()
  for _ in range(repeats):
    fn()
  stop.record()
  stop.synchronize()
  return cp.cuda.get_elapsed_time(start, stop) * 1e-3 / repeats
print(json.dumps([timed(lambda: x @ w),
                  timed(lambda: (x @ w, x.T @ dy, dy @ w.T))]))
"""


def dense_seconds(d, batch, repeats, tf32):
  """(forward, forward+backward) seconds of a float32 Dense(d) on `batch`
  rows through CuPy's cuBLAS, with TF32 (CUPY_TF32=1, as TensorFlow's
  default on these GPUs) or plain FP32; None without CuPy."""
  result = subprocess.run(
      [sys.executable, "-c", _DENSE_TIMING, str(d), str(batch), str(repeats)],
      env=dict(os.environ, CUPY_TF32="1" if tf32 else "0"),
      capture_output=True, text=True, check=False)
  if result.returncode != 0:
    return None
  return json.loads(result.stdout.strip().splitlines()[-1])


def fastfood_floor_bytes(rows, n_in, units, params):
  """(forward, backward) bytes Fastfood must move: its inputs read once and
  its outputs written once (float32; the permutation int32)."""
  forward = 4 * rows * (n_in + units) + 16 * params
  backward = 4 * rows * (units + 2 * n_in) + 16 * params + 12 * params
  return forward, backward


def run_layer_timing(harness, repeats, title, sizes, launches):
  """Prints a layer's forward and forward+backward time per call at batch
  LAYER_TIMED_BATCH for each size d against its memory floor (at the copy
  bandwidth measured here) and against Dense(d) in TF32 and FP32 (up to
  LAYER_DENSE_MAX_D). launches(d) -> (forward, backward, floor bytes
  forward, floor bytes backward)."""
  flat = harness.upload(np.zeros(1 << 26, np.float32))
  copy = harness.time(harness.copy(flat.empty_like(), flat), repeats)
  bandwidth = 2 * 4 * (1 << 26) / copy
  print(f"\n{title} (float32, batch {LAYER_TIMED_BATCH}; floor: the bytes "
        f"it must move at the copy's {bandwidth / 1e9:.0f} GB/s; Dense "
        f"through CuPy's cuBLAS).")
  print(f"{'d':>6} {'fwd us':>9} {'/ floor':>8} {'fwd+bwd us':>11} "
        f"{'/ floor':>8} {'TF32 dense x':>13} {'FP32 dense x':>13}")
  for d in sizes:
    forward, backward, floor_fwd, floor_bwd = launches(d)
    fwd = harness.time(forward, repeats)
    both = harness.time(lambda f=forward, b=backward: (f(), b()), repeats)
    cells = []
    for tf32 in (True, False):
      if d > LAYER_DENSE_MAX_D:
        cells.append(f"{'-':>13}")
        continue
      dense = dense_seconds(d, LAYER_TIMED_BATCH, repeats, tf32)
      cells.append(f"{dense[1] / both:13.2f}" if dense else f"{'(no CuPy)':>13}")
    print(f"{d:>6} {fwd * 1e6:9.1f} {fwd * bandwidth / floor_fwd:8.2f} "
          f"{both * 1e6:11.1f} "
          f"{both * bandwidth / (floor_fwd + floor_bwd):8.2f} "
          f"{cells[0]} {cells[1]}")


def _timed_rows(harness, d):
  """x, dy, and empty y and dx, [LAYER_TIMED_BATCH, d] float32 on the
  device."""
  rng = np.random.default_rng(d)
  gx, gdy = (harness.upload(rng.normal(size=(LAYER_TIMED_BATCH, d)).astype(
      np.float32)) for _ in range(2))
  return gx, gdy, gdy.empty_like(), gx.empty_like()


def run_fastfood_timing(harness, repeats):
  def launches(d):
    gx, gdy, gy, gdx = _timed_rows(harness, d)
    gparams = [harness.upload(a)
               for a in fastfood_parameters(d, d, d, np.float32)]
    ggrads = harness.upload(np.zeros((3, 1, d), np.float32))
    return (harness.fastfood(gx, gy, *gparams, units=d, normalize=True),
            harness.fastfood_grad(gx, gdy, gdx, *gparams, ggrads, units=d,
                                  normalize=True),
            *fastfood_floor_bytes(LAYER_TIMED_BATCH, d, d, d))
  run_layer_timing(harness, repeats, "Adaptive Fastfood, normalized",
                   FASTFOOD_TIMED_D, launches)


def acdc_floor_bytes(rows, n):
  """(forward, backward) bytes ACDC must move: x read and y written, a, d
  and bias read; dy and x read and dx written, a and d read and the three
  gradients written (float32)."""
  return 4 * (2 * rows * n + 3 * n), 4 * (3 * rows * n + 5 * n)


def run_acdc_timing(harness, repeats):
  def launches(n):
    gx, gdy, gy, gdx = _timed_rows(harness, n)
    rng = np.random.default_rng(n + 1)
    ga, gd, gbias = (harness.upload(rng.normal(1.0, 0.1, size=n).astype(
        np.float32)) for _ in range(3))
    ggrads = harness.upload(np.zeros((3, n), np.float32))
    return (harness.acdc(gx, gy, ga, gd, gbias),
            harness.acdc_grad(gx, gdy, gdx, ga, gd, ggrads),
            *acdc_floor_bytes(LAYER_TIMED_BATCH, n))
  run_layer_timing(harness, repeats, "ACDC", ACDC_TIMED_N, launches)


# The timing tables of the layers, by family (run after the elementwise
# kernels' table).
TABLES = {"acdc": [run_acdc_timing],
          "fastfood": [run_fwht_timing, run_fastfood_timing],
          "recurrent": [run_recurrent_timing]}


def run_timing(harness, repeats):
  """Prints each kernel's time per call and its ratio to a copy of x."""
  print(f"\nGPU: {harness.device_name()}. Time per call (CUDA events over "
        f"{repeats} calls) and the ratio to a device-to-device copy of x "
        "(float32); GB/s counts the bytes the kernel must move.")
  print(f"{'kernel':32} {'size':>5} {'us':>10} {'/ copy':>8} {'GB/s':>7}")
  for label, size in SIZES.items():
    rng = np.random.default_rng(0)
    x = harness.upload(rng.normal(size=size).astype(np.float32))
    dy = harness.upload(rng.normal(size=size).astype(np.float32))
    y = x.empty_like()
    copy = harness.time(harness.copy(y, x), repeats)
    print(f"{'copy':32} {label:>5} {copy * 1e6:10.1f} {1.0:8.2f} "
          f"{8 * size / copy / 1e9:7.0f}")
    for name, make in TIMED.items():
      seconds = harness.time(make(harness, x, y, dy), repeats)
      traffic = TRAFFIC["grad"] if name.endswith("grad") else 1.0
      print(f"{name:32} {label:>5} {seconds * 1e6:10.1f} "
            f"{seconds / copy:8.2f} {traffic * 8 * size / seconds / 1e9:7.0f}")


def sanitize(build_dir, quick_args):
  tool = shutil.which("compute-sanitizer")
  if tool is None:
    print("compute-sanitizer not found: skipped")
    return True
  ok = True
  for mode in ("memcheck", "racecheck"):
    command = [tool, "--tool", mode, "--error-exitcode", "3",
               sys.executable, __file__, f"--build_dir={build_dir}",
               "--no_build", "--no_timing", *quick_args]
    result = subprocess.run(command, capture_output=True, text=True,
                            check=False)
    summary = [l for l in result.stdout.splitlines()
               if "ERROR SUMMARY" in l or "RACECHECK SUMMARY" in l]
    print(f"compute-sanitizer {mode}: exit {result.returncode} "
          f"{summary[-1] if summary else ''}")
    if result.returncode != 0:
      print(result.stdout[-3000:], result.stderr[-3000:])
      ok = False
  return ok


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--build_dir", default=str(REPO / "build" /
                                                  "gpu_harness"))
  parser.add_argument("--no_build", action="store_true")
  parser.add_argument("--no_timing", action="store_true")
  parser.add_argument("--sanitize", action="store_true")
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--repeats", type=int, default=20)
  args = parser.parse_args()
  if not args.no_build:
    build(args.build_dir)
  sys.path.insert(0, args.build_dir)
  import _gpu_harness as harness  # pylint: disable=import-outside-toplevel
  import _native as native  # pylint: disable=import-outside-toplevel
  if harness.device_count() == 0:
    print("no GPU visible to the CUDA runtime: built, nothing to run")
    return 0
  sizes = [0, 1, 1000, 4099] + ([] if args.quick else [1 << 20])
  ok = run_checks(native, harness, sizes)
  if not args.no_timing:
    run_timing(harness, args.repeats)
    for runs in TABLES.values():
      for run in runs:
        run(harness, args.repeats)
  if args.sanitize:
    ok &= sanitize(args.build_dir, ["--quick"])
  return 0 if ok else 1


if __name__ == "__main__":
  sys.exit(main())
