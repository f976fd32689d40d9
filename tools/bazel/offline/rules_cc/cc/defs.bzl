"""Offline stand-in for @rules_cc//cc:defs.bzl: forwards to Bazel's native rules.

Only for building without network (tools/bazel/build_offline.sh passes
--override_repository=rules_cc=<this directory>). With network, Bazel uses the
real rules_cc and this directory is unused.
"""

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)
