"""The CPU model of cooperative GPU launches (cc/common/gpu_model.h).

Kernels whose threads exchange values (the Walsh-Hadamard transform's
butterflies, block reductions) are written as block programs: phases run by
every thread of a block, barriers between them, and warp shuffles. On the CPU
`RunBlocks` runs each phase for every thread of a block before the next, and
a shuffle moves values between the threads' registers as a 32-lane warp does
at once. Here the model's shuffles are checked against their definition in
CUDA, and two programs built on them and on shared memory
(cc/native/block_programs.h) against numpy; tools/gpu_check.py runs the same
programs on a GPU and requires the model's results bitwise.
"""

import numpy as np
import pytest

from tf_approx import _native

model = _native.gpu_model
DTYPES = [np.float32, np.float64]


def _source_lanes(size, kind, arg):
  """The element each lane reads in a shuffle over warps of 32 lanes."""
  index = np.arange(size)
  lane = index % 32
  warp_start = index - lane
  if kind == "xor":  # __shfl_xor_sync: lane ^ mask
    return warp_start + (lane ^ arg)
  if kind == "down":  # __shfl_down_sync: lane + delta, else its own
    return warp_start + np.where(lane + arg < 32, lane + arg, lane)
  return warp_start + arg  # __shfl_sync: lane `arg` of the warp


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [32, 64, 256])
@pytest.mark.parametrize("kind", ["xor", "down", "index"])
def test_shuffles_read_the_lanes_cuda_defines(kind, threads, dtype):
  x = np.arange(3 * threads, dtype=dtype) * 1.5 - 7
  for arg in range(32):
    got = model.block_shuffle(x, kind, arg, threads=threads)
    np.testing.assert_array_equal(got, x[_source_lanes(x.size, kind, arg)])


def _hadamard(n):
  h = np.ones((1, 1))
  while h.shape[0] < n:
    h = np.block([[h, h], [h, -h]])
  return h


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [32, 64, 128, 1024])
def test_block_fwht_is_the_hadamard_transform(n, dtype):
  rng = np.random.default_rng(n)
  # Small integers: every sum exact, whatever the order.
  x = rng.integers(-8, 9, size=(5, n)).astype(dtype)
  np.testing.assert_array_equal(model.block_fwht(x), x @ _hadamard(n))
  x = rng.normal(size=(5, n)).astype(dtype)
  want = x.astype(np.float64) @ _hadamard(n)
  eps = np.finfo(dtype).eps
  np.testing.assert_allclose(model.block_fwht(x), want, rtol=0,
                             atol=np.log2(n) * eps * np.abs(x).sum(1).max())


def _tree_sums(x, threads):
  """The block program's order of additions, in numpy: per warp, offsets 16,
  8, 4, 2, 1 (lane l adds lane l + offset, or itself past the warp's end),
  lane 0's result; then the same over the warps' sums in the first warp."""
  blocks = max(1, -(-x.size // threads))
  v = np.zeros(blocks * threads, x.dtype)
  v[:x.size] = x

  def warp_sums(v):  # v: [..., 32] -> lane 0's sum
    for offset in (16, 8, 4, 2, 1):
      other = np.concatenate([v[..., offset:], v[..., 32 - offset:]], -1)
      v = v + other
    return v[..., 0]

  first = warp_sums(v.reshape(blocks, threads // 32, 32))
  second = np.zeros((blocks, 32), x.dtype)
  second[:, :threads // 32] = first
  return warp_sums(second)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [32, 96, 256, 1024])
@pytest.mark.parametrize("size", [0, 1, 31, 1000, 4099])
def test_block_sum_adds_in_its_fixed_order(size, threads, dtype):
  x = np.random.default_rng(size).normal(size=size).astype(dtype)
  got = model.block_sum(x, threads=threads)
  want = _tree_sums(x, threads)
  assert got.tobytes() == want.tobytes()
  np.testing.assert_allclose(
      got.sum(dtype=np.float64), x.sum(dtype=np.float64),
      atol=16 * np.finfo(dtype).eps * np.abs(x).sum())


def test_block_programs_reject_bad_launches():
  with pytest.raises(ValueError, match="multiple of 32"):
    model.block_sum(np.zeros(10, np.float32), threads=48)
  with pytest.raises(ValueError, match="multiple of 32"):
    model.block_sum(np.zeros(10, np.float32), threads=2048)
  with pytest.raises(ValueError, match="power of two"):
    model.block_fwht(np.zeros((2, 96), np.float32))
  with pytest.raises(ValueError, match="whole blocks"):
    model.block_shuffle(np.zeros(40, np.float32), "xor", 1)
  with pytest.raises(ValueError, match="kind"):
    model.block_shuffle(np.zeros(32, np.float32), "up", 1)
