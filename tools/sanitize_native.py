"""Builds `tf_approx._native` with AddressSanitizer and UBSan, and runs it.

The TensorFlow-free module binds every family's CPU loops, so a sanitized
build of it (the same sources as setup.py's, at -O1 with
-fsanitize=address,undefined -fno-sanitize-recover=undefined) runs every
kernel's loops under both sanitizers without a sanitized TensorFlow.
tools/native_cases.py drives it. A Python extension needs the ASan runtime
loaded first (LD_PRELOAD) and leak detection off (the interpreter's own
allocations would be reported).

  python tools/sanitize_native.py [BUILD_DIRECTORY]

builds into BUILD_DIRECTORY (default: a temporary directory), runs
tools/native_cases.py on the result and exits with its status: non-zero on
any sanitizer report.
"""

import concurrent.futures
import importlib.util
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pybind11

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "tools" / "native_cases.py"

SANITIZE_FLAGS = ["-fsanitize=address,undefined",
                  "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]
# -O1 keeps the build fast; -g1 (line tables) makes reports name lines.
OPTIMIZE_FLAGS = ["-O1", "-g1"]
# The GPU kernels' CPU model (`_native.gpu_model`), which native_cases.py
# does not run: compiled without the sanitizers, only to complete the
# module (sanitized, it was the build's heaviest file: 140 of its CPU
# seconds on a 2-core machine).
UNSANITIZED_SOURCES = ("cc/native/gpu_model.cc",)


def _setup_py_native():
  spec = importlib.util.spec_from_file_location(
      "build_sources", REPO / "tools" / "build_sources.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.setup_py_build(REPO)["extensions"][module.NATIVE_EXTENSION]


def build(directory, jobs=None, compiler="g++"):
  """Compiles setup.py's `_native` sources, sanitized, into `directory`.

  Args:
    directory: where the objects and the module go (created if needed).
    jobs: parallel compiles (default: the CPU count).
    compiler: the C++ compiler driver.

  Returns:
    The path of the module, `directory`/_native<EXT_SUFFIX>.

  Raises:
    subprocess.CalledProcessError: a compile or the link failed.
  """
  directory = Path(directory)
  directory.mkdir(parents=True, exist_ok=True)
  native = _setup_py_native()
  flags = [f for f in native["compile_args"] if not f.startswith("-O")]
  common = [compiler, "-fPIC", *flags, *OPTIMIZE_FLAGS, *SANITIZE_FLAGS,
            f"-I{REPO}", f"-I{pybind11.get_include()}",
            f"-I{sysconfig.get_paths()['include']}"]

  def compile_one(source):
    obj = directory / (source.replace("/", "_") + ".o")
    flags = common
    if source in UNSANITIZED_SOURCES:
      flags = [f for f in common if f not in SANITIZE_FLAGS]
    subprocess.run([*flags, "-c", str(REPO / source), "-o", str(obj)],
                   check=True, capture_output=True, text=True)
    return obj

  with concurrent.futures.ThreadPoolExecutor(jobs or os.cpu_count()) as pool:
    objects = list(pool.map(compile_one, native["sources"]))
  module = directory / ("_native" + sysconfig.get_config_var("EXT_SUFFIX"))
  subprocess.run([compiler, "-shared", *SANITIZE_FLAGS,
                  *map(str, objects), *native["link_args"], "-o",
                  str(module)], check=True, capture_output=True, text=True)
  return module


def runtime_environment(compiler="gcc"):
  """The environment that runs Python with the sanitizers' runtimes."""
  preload = [
      subprocess.run([compiler, f"-print-file-name={name}"], check=True,
                     capture_output=True, text=True).stdout.strip()
      for name in ("libasan.so", "libubsan.so")
  ]
  return dict(
      os.environ,
      LD_PRELOAD=" ".join(preload),
      ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=99",
      UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98")


def run_cases(directory, timeout=600, extra_env=None):
  """Runs tools/native_cases.py on the sanitized module in `directory`."""
  env = runtime_environment()
  env.update(extra_env or {})
  return subprocess.run([sys.executable, str(CASES), str(directory)], env=env,
                        capture_output=True, text=True, timeout=timeout,
                        check=False)


def main(argv):
  directory = Path(argv[1]) if len(argv) > 1 else Path(
      tempfile.mkdtemp(prefix="tf_approx_sanitized_"))
  try:
    module = build(directory)
  except subprocess.CalledProcessError as e:
    print(" ".join(e.cmd), e.stderr, sep="\n", file=sys.stderr)
    return 1
  print(f"sanitize_native.py: built {module}")
  result = run_cases(directory)
  sys.stdout.write(result.stdout[-2000:])
  sys.stderr.write(result.stderr)
  return result.returncode


if __name__ == "__main__":
  sys.exit(main(sys.argv))
