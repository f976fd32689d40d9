"""Builds the TensorFlow op library and the native test module from cc/.

`tf_approx/_ops.so` is loaded with tf.load_op_library and is compiled and
linked with the flags of the TensorFlow found at build time (never hard-coded:
the C++ ABI and standard follow the installed wheel). `tf_approx/_native` is a
pybind11 module exposing the same math headers on numpy arrays, with no
TensorFlow dependency. The op library embeds the TensorFlow version it was
built against (cc/common/build_info.cc), so that a mismatch is reported
clearly.
"""

import copy
import os

import pybind11
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# One list per family: the same names at every level (README, Layout).
FAMILIES = ["activations", "pau", "fastfood", "acdc", "noisy", "gaaf"]

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


def _native_sources():
  sources = ["cc/native/native_module.cc"] + ISA_SOURCES
  sources += [f"cc/{family}/{family}_cpu.cc" for family in FAMILIES]
  return sources


class BuildExt(build_ext):
  """Compiles the op library with the flags of the installed TensorFlow."""

  def finalize_options(self):
    super().finalize_options()
    if self.parallel is None:
      self.parallel = os.cpu_count() or 1

  def build_extensions(self):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    for ext in self.extensions:
      if ext.name == "tf_approx._ops":
        ext.extra_compile_args += tf.sysconfig.get_compile_flags()
        ext.extra_compile_args.append(
            f'-DTF_APPROX_TF_VERSION="{tf.__version__}"')
        ext.extra_link_args += tf.sysconfig.get_link_flags()
    super().build_extensions()

  def build_extension(self, ext):
    # Both extensions compile cc/<family>/<family>_cpu.cc and cc/common/isa.cc,
    # with different flags, and setuptools builds them in parallel threads:
    # one object directory each, or they would write the same object files.
    command = copy.copy(self)
    command.build_temp = os.path.join(self.build_temp, ext.name)
    super(BuildExt, command).build_extension(ext)

  def get_ext_filename(self, fullname):
    # tf.load_op_library takes a path; a plain name is easier to find and to
    # name in error messages than one with the CPython ABI tag.
    # (distutils passes both "tf_approx._ops" and the bare "_ops" here).
    *package, name = fullname.split(".")
    if name == "_ops":
      return os.path.join(*package, "_ops.so")
    return super().get_ext_filename(fullname)


setup(
    ext_modules=[
        Extension(
            "tf_approx._ops",
            sources=_ops_sources(),
            include_dirs=["."],
            extra_compile_args=list(COMMON_FLAGS),
            extra_link_args=list(ISA_LINK_FLAGS),
            language="c++",
        ),
        Extension(
            "tf_approx._native",
            sources=_native_sources(),
            include_dirs=[".", pybind11.get_include()],
            extra_compile_args=COMMON_FLAGS + ["-std=c++17"],
            extra_link_args=list(ISA_LINK_FLAGS),
            language="c++",
        ),
    ],
    cmdclass={"build_ext": BuildExt},
)
