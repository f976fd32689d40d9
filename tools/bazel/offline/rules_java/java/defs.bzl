"""Offline stand-in for @rules_java//java:defs.bzl: forwards to Bazel's native rules.

Only for building without network (tools/bazel/build_offline.sh passes
--override_repository=rules_java=<this directory>); @bazel_tools loads it even
for C++-only builds. With network, Bazel uses the real rules_java.
"""

def java_binary(**kwargs):
    native.java_binary(**kwargs)

def java_import(**kwargs):
    native.java_import(**kwargs)

def java_library(**kwargs):
    native.java_library(**kwargs)

def java_runtime(**kwargs):
    native.java_runtime(**kwargs)

def java_toolchain(**kwargs):
    native.java_toolchain(**kwargs)
