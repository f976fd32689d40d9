"""What setup.py and the Bazel BUILD file compile, and where they differ.

setup.py is the source of truth. The Bazel build of the op library (BUILD)
lists the same families, sources, flags and link options by hand; this module
reads both without running a build (setup.py with `setup()` intercepted, BUILD
as the Python-compatible Starlark it is, with stub rules) so that a test can
fail when a file or family added to one is missing from the other.

  python tools/build_sources.py      # prints the differences; exit 1 if any
"""

import glob as globlib
import re
import runpy
import sys
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
OPS_EXTENSION = "tf_approx._ops"
NATIVE_EXTENSION = "tf_approx._native"
BAZEL_OPS_TARGET = "tf_approx/_ops.so"

_INCLUDE = re.compile(r'^\s*#\s*include\s+"(cc/[^"]+)"', re.MULTILINE)


def setup_py_build(root=REPO):
  """Reads setup.py under `root` without building anything.

  Args:
    root: the repository root holding setup.py.

  Returns:
    {"families": setup.py's FAMILIES, "common_flags": its COMMON_FLAGS,
     "extensions": {name: {"sources", "compile_args", "link_args"}}}, the
    arguments of every Extension before TensorFlow's flags are added.
  """
  import setuptools  # pylint: disable=import-outside-toplevel

  captured = {}
  with mock.patch.object(setuptools, "setup",
                         lambda **kwargs: captured.update(kwargs)):
    module = runpy.run_path(str(Path(root) / "setup.py"),
                            run_name="tf_approx_setup_probe")
  return {
      "families": list(module["FAMILIES"]),
      "common_flags": list(module["COMMON_FLAGS"]),
      "extensions": {
          ext.name: {
              "sources": list(ext.sources),
              "compile_args": list(ext.extra_compile_args),
              "link_args": list(ext.extra_link_args),
          } for ext in captured["ext_modules"]
      },
  }


def bazel_build(root=REPO):
  """Evaluates BUILD under `root` with stub rules.

  Args:
    root: the repository root holding BUILD.

  Returns:
    {"families": BUILD's FAMILIES, "common_copts": its COMMON_COPTS, "srcs":
     the sources, "hdrs": the headers of the local libraries the op library
     depends on (transitively), "linkopts": the op library's link options,
     "undeclared": {target: headers its sources include that neither it nor
     its dependencies declare}}.
  """
  root = Path(root)
  rules = {}

  def rule(**kwargs):
    rules[kwargs["name"]] = kwargs

  def glob(patterns):
    return sorted(
        str(Path(path).relative_to(root)) for pattern in patterns
        for path in globlib.glob(str(root / pattern)))

  namespace = {
      "load": lambda *args: None,
      "cc_library": rule,
      "cc_binary": rule,
      "glob": glob,
      "TF_COPTS": [],
      "TF_VERSION": "",
  }
  exec(compile((root / "BUILD").read_text(), str(root / "BUILD"), "exec"),  # pylint: disable=exec-used
       namespace)
  srcs, hdrs, seen = [], [], set()
  visible = {}  # target: the headers its sources may include (sandboxed)

  def visit(name):
    if name in seen:
      return visible[name]
    seen.add(name)
    target = rules[name]
    srcs.extend(target.get("srcs", []))
    hdrs.extend(target.get("hdrs", []))
    visible[name] = set(target.get("hdrs", []))
    for dep in target.get("deps", []):
      if dep.startswith(":"):
        visible[name] |= visit(dep[1:])
    return visible[name]

  visit(BAZEL_OPS_TARGET)
  return {
      "families": list(namespace["FAMILIES"]),
      "common_copts": list(namespace["COMMON_COPTS"]),
      "srcs": srcs,
      "hdrs": hdrs,
      "linkopts": list(rules[BAZEL_OPS_TARGET].get("linkopts", [])),
      "undeclared": {
          name: sorted(included_headers(rules[name].get("srcs", []), root) -
                       visible[name])
          for name in sorted(seen)
      },
  }


def included_headers(sources, root=REPO):
  """The repository headers `sources` include, directly or not."""
  root = Path(root)
  found, todo = set(), list(sources)
  while todo:
    for header in _INCLUDE.findall((root / todo.pop()).read_text()):
      if header not in found:
        found.add(header)
        todo.append(header)
  return found


def differences(root=REPO):
  """Everything in which BUILD's op library differs from setup.py's.

  Returns:
    A list of messages, empty when the two agree on the families, the source
    files, the optimisation flags and the link options, and when BUILD
    declares every header the sources include, in the target or a dependency
    of the target that compiles them (Bazel's sandbox hides the others).
  """
  setup = setup_py_build(root)
  bazel = bazel_build(root)
  ops = setup["extensions"][OPS_EXTENSION]
  problems = []

  def compare(what, in_setup, in_bazel):
    if in_setup != in_bazel:
      problems.append(f"{what}: setup.py has {in_setup}, BUILD has {in_bazel}")

  compare("FAMILIES", setup["families"], bazel["families"])
  compare("sources of the op library", sorted(ops["sources"]),
          sorted(bazel["srcs"]))
  compare("COMMON_FLAGS / COMMON_COPTS", setup["common_flags"],
          bazel["common_copts"])
  compare("link options of the op library", ops["link_args"],
          bazel["linkopts"])
  missing = sorted(included_headers(ops["sources"], root) - set(bazel["hdrs"]))
  if missing:
    problems.append(f"headers the sources include but BUILD does not "
                    f"declare: {missing}")
  for name, headers in bazel["undeclared"].items():
    if headers:
      problems.append(f"BUILD target {name} includes {headers}, which "
                      "neither it nor its deps declare")
  return problems


if __name__ == "__main__":
  found = differences()
  print("\n".join(found) or "BUILD matches setup.py")
  sys.exit(1 if found else 0)
