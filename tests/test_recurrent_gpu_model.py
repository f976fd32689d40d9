"""The fused LSTM's and GRU's GPU kernels, run on the CPU
(`_native.gpu_model.lstm`, ...; cc/recurrent/recurrent_gpu.h).

Each pass is a launch per phase, in the CPU kernels' phase order, each thread
taking elements (batch row, unit) of the state in a grid-stride loop. Run over
launches of several shapes, the passes must give the CPU steps' results
(`_native.lstm`, ..., which the op runs bitwise) within the rounding of the
sums' order, and the same bits for every grid: no element depends on which
thread computed it or on another's work in the same launch. So the indexing,
the masks, the phase order and the scratch layout are checked on machines
without a GPU; tools/gpu_check.py runs the same kernels on a GPU.

Bound: SCALE_EPS units of the dtype's epsilon times max(1, the largest
|value| of the result), per result (measured at most 5.4 units on these
cases), times 512 with sigm_fastexp_512: it raises (1 + x/512) to the 512th
power, so one ulp of 1 + x/512, which a pre-activation summed in another
order may move, moves it by 512 ulps (measured at most 120 units, i.e. 0.23
of its bound). The model's scratch starts as NaN, so a read of scratch no
phase wrote shows as NaN.
"""

import numpy as np
import pytest

from tf_approx import _native

model = _native.gpu_model

# (blocks, threads): one thread; a partial warp; several blocks; the
# launchers' own shape with more threads than elements.
GRIDS = [(1, 1), (1, 7), (3, 32), (40, 256)]
SCALE_EPS = 64
# (time, batch, units): a general case; one step; no steps, no batch, no
# units.
SHAPES = [(6, 3, 5), (1, 2, 33), (0, 2, 3), (4, 0, 3), (3, 2, 0)]
# (activation, recurrent_activation): exact; the paper's safe picks; a
# table (word2vec's) and a clipped function whose gradient is 0 outside.
FUNCTIONS = [("tanh", "sigmoid"), ("tanh_pade_4_4", "sigm_fastexp_512"),
             ("tanh", "word2vec_sigmoid"), ("tanh_hard", "sigm_hard")]
LAYERS = ["lstm", "gru", "gru_reset_before"]


@pytest.fixture(scope="module")
def gpu_check(load_tool):
  """tools/gpu_check.py: its recurrent cases (the inputs, masked rows
  included) and its runner of a module's passes, which the GPU check uses
  too."""
  return load_tool("gpu_check")


def _run(gpu_check, module, layer, args, grads, functions, reverse, **grid):
  return gpu_check.run_recurrent(module, layer, args, grads, functions,
                                 reverse=reverse, **grid)


def _assert_close(got, want, name, factor):
  assert got.shape == want.shape, name
  assert got.dtype == want.dtype, name
  if want.size == 0:
    return
  eps = np.finfo(want.dtype).eps
  bound = SCALE_EPS * factor * eps * max(1.0, float(np.max(np.abs(want))))
  error = float(np.max(np.abs(got.astype(np.float64) - want)))
  assert not np.isnan(got).any(), name  # no NaN scratch was read
  assert error <= bound, (name, error / eps)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("functions", FUNCTIONS, ids="/".join)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layer", LAYERS)
def test_threads_match_the_cpu_steps(gpu_check, layer, dtype, shape,
                                     functions, reverse):
  args, grads = gpu_check.recurrent_case(layer, shape, dtype)
  want = _run(gpu_check, _native, layer, args, grads, functions, reverse)
  names = {"lstm": (("outputs", "gates", "cells"),
                    ("dx", "d_kernel", "dh0", "dc0")),
           "gru": (("outputs", "gates", "reset"),
                   ("dx", "d_kernel", "d_bias", "dh0"))}
  forward_names, backward_names = names["lstm" if layer == "lstm" else "gru"]
  factor = 512 if "sigm_fastexp_512" in functions else 1
  first = None
  for blocks, threads in GRIDS:
    got = _run(gpu_check, model, layer, args, grads, functions, reverse,
               blocks=blocks, threads=threads)
    for g, w, name in zip(got[0] + got[1], want[0] + want[1],
                          forward_names + backward_names):
      _assert_close(g, w, name, factor)
    if first is None:
      first = got
      continue
    # Every grid gives the same bits.
    for g, f in zip(got[0] + got[1], first[0] + first[1]):
      np.testing.assert_array_equal(g, f)


@pytest.mark.parametrize("layer", LAYERS)
def test_nan_in_the_input_reaches_the_outputs(gpu_check, layer):
  args, grads = gpu_check.recurrent_case(layer, (4, 2, 3), np.float64)
  args["x"][1, 0, 0] = np.nan
  functions = ("tanh_pade_4_4", "sigm_fastexp_512")
  got = _run(gpu_check, model, layer, args, grads, functions, False)
  want = _run(gpu_check, _native, layer, args, grads, functions, False)
  outputs, d_kernel = got[0][0], got[1][1]
  # Row 0 runs every step: unit 0's state is NaN from step 1, every unit's
  # from step 2 (through the recurrent product), and so are the kernel's
  # gradients. Row 1 does not see it.
  assert np.isnan(outputs[1, 0, 0]) and np.isnan(outputs[2:, 0]).all()
  assert not np.isnan(outputs[:, 1]).any()
  assert np.isnan(d_kernel).any()
  for g, w in zip(got[0] + got[1], want[0] + want[1]):
    np.testing.assert_array_equal(np.isnan(g), np.isnan(w))


@pytest.mark.parametrize("layer", LAYERS)
def test_rejects_bad_grids_and_shapes(gpu_check, layer):
  args, grads = gpu_check.recurrent_case(layer, (3, 2, 4), np.float32)
  exact = ("tanh", "sigmoid")
  with pytest.raises(ValueError, match="blocks and threads"):
    _run(gpu_check, model, layer, args, grads, exact, False, blocks=0)
  args["lengths"] = np.array([4, 0], np.int32)
  with pytest.raises(ValueError, match="lengths"):
    _run(gpu_check, model, layer, args, grads, exact, False)
