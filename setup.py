"""Builds the TensorFlow op library and the native test module from cc/.

`tf_approx/_ops.so` is loaded with tf.load_op_library and is compiled and
linked with the flags of the TensorFlow found at build time (never hard-coded:
the C++ ABI and standard follow the installed wheel). `tf_approx/_native` is a
pybind11 module exposing the same math headers on numpy arrays, with no
TensorFlow dependency. The op library embeds the TensorFlow version it was
built against (cc/common/build_info.cc), so that a mismatch is reported
clearly.

`tf_approx/_ops_gpu.so` holds the GPU kernels (no ops: those stay in
`_ops.so`, so that the CPU kernels serve wherever the GPU library cannot
load). TF_APPROX_CUDA chooses whether it is built:
  auto (default)  when nvcc is found and TensorFlow is built with CUDA;
  1               always: fail, saying why, if it cannot be;
  0               never (an existing one is removed).
Each `<family>_gpu.cu.cc` is compiled by nvcc (no TensorFlow headers), each
`<family>_kernels.cc` a second time by g++ with GOOGLE_CUDA=1 (the GPU
registrations), and the CUDA runtime is linked statically, its symbols
hidden. TF_APPROX_CUDA_ARCHS lists the compute capabilities to compile for
(default 75,80,90: machine code for each and PTX for the last).
"""

import concurrent.futures
import copy
import json
import os
import re
import shutil
import subprocess

import pybind11
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# One list per family: the same names at every level (README, Layout).
FAMILIES = ["activations", "pau", "fastfood", "acdc", "noisy", "gaaf",
            "recurrent"]

COMMON_FLAGS = ["-O3", "-Wno-psabi", "-fvisibility=hidden", "-DNDEBUG"]

# Both libraries run the CPU loops, so both carry the TF_APPROX_ISA switch:
# cc/common/isa.cc and the link flag that routes the target_clones resolvers'
# CPU detection through it.
ISA_SOURCES = ["cc/common/isa.cc"]
ISA_LINK_FLAGS = ["-Wl,--wrap=__cpu_indicator_init"]


def _ops_sources():
  sources = ["cc/common/build_info.cc"] + ISA_SOURCES
  for family in FAMILIES:
    sources += [
        f"cc/{family}/{family}_ops.cc",
        f"cc/{family}/{family}_kernels.cc",
        f"cc/{family}/{family}_cpu.cc",
    ]
  return sources


# The families with GPU kernels (cc/<family>/<family>_gpu.cu.cc).
GPU_FAMILIES = [
    "acdc", "activations", "fastfood", "gaaf", "noisy", "pau", "recurrent"
]

CUDA_ENV = "TF_APPROX_CUDA"
CUDA_ARCHS_ENV = "TF_APPROX_CUDA_ARCHS"
DEFAULT_CUDA_ARCHS = "75,80,90"
OPS_EXTENSION = "tf_approx._ops"
GPU_EXTENSION = "tf_approx._ops_gpu"
NATIVE_EXTENSION = "tf_approx._native"


def _gpu_sources():
  sources = ["cc/common/build_info.cc"]
  sources += [f"cc/{family}/{family}_kernels.cc" for family in GPU_FAMILIES]
  return sources


# CUDA sources every family's kernels may use.
COMMON_CUDA_SOURCES = ["cc/common/convert_gpu.cu.cc"]


def _cuda_sources():
  return COMMON_CUDA_SOURCES + [f"cc/{family}/{family}_gpu.cu.cc"
                                for family in GPU_FAMILIES]


class CudaConfigError(RuntimeError):
  """TF_APPROX_CUDA=1, but the GPU kernels cannot be built."""


def _cuda_mode():
  mode = os.environ.get(CUDA_ENV, "auto").strip().lower() or "auto"
  if mode not in ("auto", "0", "1"):
    raise CudaConfigError(
        f"{CUDA_ENV}={mode!r}: expected auto, 0 (CPU kernels only) or 1 "
        "(fail unless the GPU kernels can be built)")
  return mode


def _cuda_archs():
  value = os.environ.get(CUDA_ARCHS_ENV, DEFAULT_CUDA_ARCHS)
  archs = [a.strip().replace(".", "") for a in value.split(",") if a.strip()]
  if not archs or not all(re.fullmatch(r"\d{2,3}", a) for a in archs):
    raise CudaConfigError(
        f"{CUDA_ARCHS_ENV}={value!r}: expected compute capabilities such as "
        f"{DEFAULT_CUDA_ARCHS}")
  return sorted(set(archs), key=int)


def _find_nvcc():
  for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")):
    if home and os.path.exists(os.path.join(home, "bin", "nvcc")):
      return os.path.join(home, "bin", "nvcc")
  return shutil.which("nvcc")


def _cuda_config(tf_has_cuda, tf_version):
  """{"nvcc", "version", "home", "archs", "cudart"}, or None for a CPU build.

  Args:
    tf_has_cuda: whether the installed TensorFlow is built with CUDA.
    tf_version: its version, for the message.

  Raises:
    CudaConfigError: TF_APPROX_CUDA=1 and something is missing (the message
      says what).
  """
  mode = _cuda_mode()
  if mode == "0":
    return None
  missing = None
  nvcc = _find_nvcc()
  if nvcc is None:
    missing = ("nvcc was not found (put the CUDA toolkit's bin/ on PATH or "
               "set CUDA_HOME)")
  elif not tf_has_cuda:
    missing = (f"TensorFlow {tf_version} is not built with CUDA (install "
               "`tensorflow`, not `tensorflow-cpu`)")
  if missing is not None:
    if mode == "1":
      raise CudaConfigError(f"{CUDA_ENV}=1, but {missing}.")
    print(f"tf_approx: building CPU kernels only: {missing}.")
    return None
  output = subprocess.run([nvcc, "--version"], capture_output=True,
                          text=True, check=True).stdout
  version = re.search(r"release (\d+\.\d+)", output)
  # nvcc may be a wrapper script: ask it where its toolkit is.
  dryrun = subprocess.run([nvcc, "--dryrun", "-c", "-x", "cu", os.devnull,
                           "-o", os.devnull], capture_output=True, text=True,
                          check=False).stderr
  top = re.search(r"^#\$ TOP=(.+)$", dryrun, re.MULTILINE)
  home = os.path.realpath(top.group(1).strip() if top else
                          os.path.join(os.path.dirname(nvcc), ".."))
  config = {"nvcc": nvcc, "version": version.group(1) if version else "?",
            "home": home, "archs": _cuda_archs()}
  candidates = [os.path.join(home, sub, "libcudart_static.a")
                for sub in ("lib64", "lib", "targets/x86_64-linux/lib")]
  cudart = next((c for c in candidates if os.path.exists(c)), candidates[0])
  if not os.path.exists(cudart):
    problem = f"the static CUDA runtime is missing under {home}"
    if mode == "1":
      raise CudaConfigError(f"{CUDA_ENV}=1, but {problem}.")
    print(f"tf_approx: building CPU kernels only: {problem}.")
    return None
  config["cudart"] = cudart
  return config


def _nvcc_flags(config):
  # `-x cu`: the sources are named .cu.cc, which nvcc would take for C++.
  flags = ["-x", "cu", "-std=c++17", "-O3", "-I.", "--expt-relaxed-constexpr",
           "-DGOOGLE_CUDA=1", "-DNDEBUG",
           "-Xcompiler", "-fPIC,-fvisibility=hidden"]
  for arch in config["archs"]:
    flags += ["-gencode", f"arch=compute_{arch},code=sm_{arch}"]
  last = config["archs"][-1]
  flags += ["-gencode", f"arch=compute_{last},code=compute_{last}"]
  return flags


def _native_sources():
  sources = ["cc/native/native_module.cc", "cc/native/gpu_model.cc"]
  sources += ISA_SOURCES
  sources += [f"cc/{family}/{family}_cpu.cc" for family in FAMILIES]
  return sources


def _headers():
  """Every header under cc/: each library's sources include some of them."""
  return [os.path.join(root, name) for root, _, names in os.walk("cc")
          for name in names if name.endswith(".h")]


class BuildExt(build_ext):
  """Compiles the op library with the flags of the installed TensorFlow."""

  def finalize_options(self):
    super().finalize_options()
    if self.parallel is None:
      self.parallel = os.cpu_count() or 1

  def build_extensions(self):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    self._cuda = _cuda_config(tf.test.is_built_with_cuda(), tf.__version__)
    for ext in list(self.extensions):
      # A changed header (the math of a family) rebuilds the libraries;
      # setuptools compares only the sources otherwise.
      ext.depends = list(ext.depends) + _headers()
      if ext.name == GPU_EXTENSION and self._cuda is None:
        # A GPU library left from an earlier build would still be loaded.
        self.extensions.remove(ext)
        for directory in (self.build_lib, "."):
          stale = os.path.join(directory, self.get_ext_filename(ext.name))
          if os.path.exists(stale):
            os.remove(stale)
      elif ext.name in (OPS_EXTENSION, GPU_EXTENSION):
        ext.extra_compile_args += tf.sysconfig.get_compile_flags()
        ext.extra_compile_args.append(
            f'-DTF_APPROX_TF_VERSION="{tf.__version__}"')
        ext.extra_link_args += tf.sysconfig.get_link_flags()
    self._compile_shared_sources(tf.sysconfig.get_compile_flags())
    super().build_extensions()

  def _compile_shared_sources(self, tf_flags):
    """Compiles the sources both CPU libraries link, once, for both.

    The op library and `_native` both take every family's CPU loops
    (cc/<family>/<family>_cpu.cc, the heaviest files of the build) and the
    ISA switch. They include no TensorFlow header, so one object serves both
    libraries; only the C++ ABI follows TensorFlow's flags, in `_native` too.

    Args:
      tf_flags: the installed TensorFlow's compile flags.
    """
    ops = next(e for e in self.extensions if e.name == OPS_EXTENSION)
    native = next(e for e in self.extensions if e.name == NATIVE_EXTENSION)
    shared = [source for source in ops.sources if source in native.sources]
    abi = [f for f in tf_flags if f.startswith("-D_GLIBCXX_USE_CXX11_ABI=")]
    native.extra_compile_args += abi
    flags = COMMON_FLAGS + ["-std=c++17"] + abi
    output_dir = os.path.join(self.build_temp, "shared")
    headers = _headers()

    def compile_one(source):
      target = self.compiler.object_filenames([source],
                                              output_dir=output_dir)[0]
      if self._out_of_date(target, [source, "setup.py"] + headers):
        self.compiler.compile([source], output_dir=output_dir,
                              include_dirs=["."], extra_postargs=flags)
      return target

    with concurrent.futures.ThreadPoolExecutor(self.parallel) as pool:
      objects = list(pool.map(compile_one, shared))
    for ext in (ops, native):
      ext.sources = [s for s in ext.sources if s not in shared]
      ext.extra_objects = list(ext.extra_objects) + objects
      # A changed object relinks the library.
      ext.depends = list(ext.depends) + objects

  def _out_of_date(self, target, inputs):
    """Whether the object `target` must be compiled again from `inputs`."""
    return (self.force or not os.path.exists(target) or
            max(os.path.getmtime(p) for p in inputs) >
            os.path.getmtime(target))

  def build_extension(self, ext):
    # The extensions compile some sources of the same name with different
    # flags (cc/common/build_info.cc, the GPU library's <family>_kernels.cc),
    # and setuptools builds them in parallel threads: one object directory
    # each, or they would write the same object files.
    command = copy.copy(self)
    command.build_temp = os.path.join(self.build_temp, ext.name)
    if ext.name == GPU_EXTENSION:
      command.configure_gpu_extension(ext)
    super(BuildExt, command).build_extension(ext)

  def configure_gpu_extension(self, ext):
    """Compiles the .cu.cc files with nvcc and adds the CUDA flags to `ext`."""
    config = self._cuda
    archs = ",".join(config["archs"])
    ext.extra_compile_args += [
        "-DGOOGLE_CUDA=1", f'-DTF_APPROX_CUDA_VERSION="{config["version"]}"',
        f'-DTF_APPROX_CUDA_ARCHS="{archs}"']
    ext.extra_link_args += [config["cudart"], "-Wl,--exclude-libs,ALL",
                            "-lpthread", "-ldl", "-lrt"]
    # The configuration is a dependency: another nvcc or other archs rebuild
    # the library even where no source changed.
    os.makedirs(self.build_temp, exist_ok=True)
    stamp = os.path.join(self.build_temp, "cuda_config.json")
    text = json.dumps({k: config[k] for k in sorted(config)})
    if not os.path.exists(stamp) or open(stamp, encoding="utf-8").read() != text:
      with open(stamp, "w", encoding="utf-8") as f:
        f.write(text)
    headers = _headers()
    ext.depends = list(ext.depends) + [stamp] + _cuda_sources()
    objects = []
    for source in _cuda_sources():
      target = os.path.join(self.build_temp, source + ".o")
      inputs = [source, stamp] + headers
      if self._out_of_date(target, inputs):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        command = [config["nvcc"], "-c", source, "-o", target,
                   *_nvcc_flags(config)]
        print(" ".join(command))
        subprocess.run(command, check=True)
      objects.append(target)
    ext.extra_objects = objects

  def get_ext_filename(self, fullname):
    # tf.load_op_library takes a path; a plain name is easier to find and to
    # name in error messages than one with the CPython ABI tag.
    # (distutils passes both "tf_approx._ops" and the bare "_ops" here).
    *package, name = fullname.split(".")
    if name in ("_ops", "_ops_gpu"):
      return os.path.join(*package, f"{name}.so")
    return super().get_ext_filename(fullname)


setup(
    ext_modules=[
        Extension(
            OPS_EXTENSION,
            sources=_ops_sources(),
            include_dirs=["."],
            extra_compile_args=list(COMMON_FLAGS),
            extra_link_args=list(ISA_LINK_FLAGS),
            language="c++",
        ),
        Extension(
            GPU_EXTENSION,
            sources=_gpu_sources(),
            include_dirs=["."],
            extra_compile_args=list(COMMON_FLAGS),
            language="c++",
        ),
        Extension(
            NATIVE_EXTENSION,
            sources=_native_sources(),
            include_dirs=[".", pybind11.get_include()],
            extra_compile_args=COMMON_FLAGS + ["-std=c++17"],
            extra_link_args=list(ISA_LINK_FLAGS),
            language="c++",
        ),
    ],
    cmdclass={"build_ext": BuildExt},
)
