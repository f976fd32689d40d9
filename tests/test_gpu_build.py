"""The GPU kernel library (`_ops_gpu.so`), checked where there is no GPU.

No machine here has both TensorFlow and a GPU, so what can be checked
without one is checked here: the library was built (CI requires it with
TF_APPROX_CUDA=1), it registers a GPU kernel for every dtype of every op of
the families that have one, with the host-memory arguments intended (read
from TensorFlow's kernel registry, which needs no GPU), it defines no ops,
loading it leaves the CPU kernels serving, and the loader's decision whether
to load it. tests/test_gpu_model.py checks the kernels' per-thread logic on
the CPU; tests/test_gpu.py runs the kernels where a GPU is visible.
"""

import os

import pytest

import tf_approx
from tf_approx import _library

# Every GPU kernel: op -> the arguments it keeps in host memory.
GPU_KERNELS = {
    "TfApprox>Acdc": [],
    "TfApprox>AcdcGrad": [],
    "TfApprox>Dct": [],
    "TfApprox>Activation": [],
    "TfApprox>ActivationGrad": [],
    "TfApprox>FastWalshHadamard": [],
    # The permutation (int32) is read by the kernels from device memory.
    "TfApprox>Fastfood": [],
    "TfApprox>FastfoodGrad": [],
    "TfApprox>Gaaf": [],
    "TfApprox>GaafGrad": [],
    # p, scale and seed are read by the kernels from device memory.
    "TfApprox>NoisyActivation": [],
    "TfApprox>NoisyActivationGrad": [],
    "TfApprox>Pau": [],
    "TfApprox>PauGrad": [],
    # lengths is checked on the host and copied to the device.
    "TfApprox>Lstm": ["lengths"],
    "TfApprox>LstmGrad": ["lengths"],
    "TfApprox>Gru": ["lengths"],
    "TfApprox>GruGrad": ["lengths"],
}
DTYPES = ["DT_BFLOAT16", "DT_DOUBLE", "DT_FLOAT", "DT_HALF"]
# The fused recurrent ops take float32 and float64 only.
RECURRENT_DTYPES = ["DT_DOUBLE", "DT_FLOAT"]

built = pytest.mark.skipif(
    not _library.GPU_LIBRARY_PATH.exists(),
    reason="built without CUDA (TF_APPROX_CUDA=0, or no nvcc)")


def test_built_where_required():
  if os.environ.get("TF_APPROX_CUDA", "") != "1":
    pytest.skip("TF_APPROX_CUDA=1 is not set: the GPU build is optional")
  assert _library.GPU_LIBRARY_PATH.exists()


@built
def test_records_its_cuda_version_and_archs():
  version, archs = _library.gpu_build_info()
  assert version is not None and version.split(".")[0].isdigit(), version
  expected = os.environ.get("TF_APPROX_CUDA_ARCHS", "75,80,90")
  assert archs == tuple(sorted(int(a) for a in expected.split(",")))
  assert _library.built_tensorflow_version(_library.GPU_LIBRARY_PATH) == (
      _library.built_tensorflow_version())


_REGISTRY = """
import json, sys
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.python.framework import kernels
import tf_approx
from tf_approx import _library

x = np.linspace(-6, 6, 1001).astype(np.float32)
before = tf_approx.ops.gaaf(x).numpy()
ops_before = set(tf.raw_ops.__dict__)
tf.load_library(str(_library.GPU_LIBRARY_PATH))
after = tf_approx.ops.gaaf(x).numpy()
found = {}
for op in sys.argv[1:]:
  found[op] = [json_format.MessageToDict(k)
               for k in kernels.get_registered_kernels_for_op(op).kernel]
print("REGISTRY " + json.dumps({
    "kernels": found, "same": bool(np.array_equal(before, after)),
    "device": tf_approx.ops.gaaf(tf.constant(x)).device}))
"""


@pytest.fixture(scope="module")
def registry(run_python):
  result = run_python(_REGISTRY, *GPU_KERNELS)
  assert result.returncode == 0, result.stderr[-3000:]
  line = [l for l in result.stdout.splitlines() if l.startswith("REGISTRY ")]
  import json  # pylint: disable=import-outside-toplevel
  return json.loads(line[-1][len("REGISTRY "):])


@built
@pytest.mark.parametrize("op", sorted(GPU_KERNELS))
def test_registers_a_gpu_kernel_for_every_dtype(registry, op):
  gpu = [k for k in registry["kernels"][op] if k["deviceType"] == "GPU"]
  cpu = [k for k in registry["kernels"][op] if k["deviceType"] == "CPU"]
  dtypes = lambda ks: sorted(
      t for k in ks for c in k["constraint"] if c["name"] == "T"
      for t in c["allowedValues"]["list"]["type"])
  expected = RECURRENT_DTYPES if GPU_KERNELS[op] == ["lengths"] else DTYPES
  assert dtypes(gpu) == expected
  assert dtypes(cpu) == expected
  for kernel in gpu:
    assert sorted(kernel.get("hostMemoryArg", [])) == sorted(GPU_KERNELS[op])


@built
def test_cpu_kernels_serve_where_no_gpu_is(registry):
  assert registry["same"]
  assert registry["device"].endswith("CPU:0")


def test_status_without_a_gpu():
  status = tf_approx.gpu_status()
  assert status.built == _library.GPU_LIBRARY_PATH.exists()
  assert not status.loaded
  if status.built:
    assert status.reason == "no GPU is visible to TensorFlow"
    assert status.archs and status.cuda_version
  else:
    assert "without CUDA" in status.reason


@pytest.mark.parametrize("capability, archs, runs", [
    ((7, 5), (75, 80, 90), True),
    ((8, 6), (75, 80, 90), True),    # sm_80 code runs on 8.x
    ((8, 9), (75, 80, 90), True),
    ((9, 0), (75, 80, 90), True),
    ((10, 0), (75, 80, 90), True),   # compute_90 PTX, compiled by the driver
    ((12, 0), (75, 80, 90), True),
    ((7, 0), (75, 80, 90), False),   # V100: CUDA 13 has no sm_70
    ((6, 1), (75, 80, 90), False),
    ((8, 6), (90,), False),
])
def test_kernel_images(capability, archs, runs):
  assert _library.has_kernel_image(capability, archs) == runs


def test_unusable_reasons():
  reason = _library.gpu_unusable_reason
  assert reason("13.0", (75, 80, 90), 13000, [(9, 0)]) is None
  assert reason("13.0", (75, 80, 90), 13010, [(8, 0), (7, 5)]) is None
  assert "no GPU" in reason("13.0", (75, 80, 90), 13000, [])
  old = reason("13.0", (75, 80, 90), 12080, [(9, 0)])
  assert "CUDA 13.0" in old and "driver 580" in old and "CUDA 12.8" in old
  assert "could not be read" in reason("13.0", (75, 80, 90), None, [(9, 0)])
  v100 = reason("13.0", (75, 80, 90), 13000, [(9, 0), (7, 0)])
  assert "7.0" in v100 and "TF_APPROX_CUDA_ARCHS" in v100
  assert "could not be read" in reason("13.0", (75,), 13000, [None])
