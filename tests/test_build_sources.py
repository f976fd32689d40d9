"""The Bazel build (BUILD) compiles what setup.py compiles.

tests/test_bazel.py checks the library Bazel builds; this checks, without
Bazel and in a second, that BUILD cannot drift from setup.py: the same
families, source files, optimisation flags and link options, and every header
the sources include declared (tools/build_sources.py).
"""

import importlib.util
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOL_PATH = REPO / "tools" / "build_sources.py"


@pytest.fixture(scope="module")
def build_sources():
  spec = importlib.util.spec_from_file_location("build_sources", TOOL_PATH)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_bazel_build_matches_setup_py(build_sources):
  assert build_sources.differences(REPO) == []


def test_reads_every_family_and_entry_point(build_sources):
  setup = build_sources.setup_py_build(REPO)
  bazel = build_sources.bazel_build(REPO)
  for family in setup["families"]:
    assert f"cc/{family}/{family}_kernels.cc" in bazel["srcs"]
    assert f"cc/{family}/{family}_cpu.cc" in (
        setup["extensions"][build_sources.NATIVE_EXTENSION]["sources"])
  assert "cc/common/isa.cc" in bazel["srcs"]
  assert "cc/common/cpu_vector.h" in bazel["hdrs"]


@pytest.fixture
def copy_of_repo(tmp_path):
  """The files the comparison reads, copied to tmp_path to be edited."""
  for path in ["setup.py", "BUILD"] + [
      str(p.relative_to(REPO)) for p in REPO.glob("cc/**/*")
      if p.suffix in (".cc", ".h")]:
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / path, tmp_path / path)
  return tmp_path


def _edit(path, old, new):
  text = path.read_text()
  assert old in text
  path.write_text(text.replace(old, new, 1))


def test_new_family_in_setup_py_only_is_caught(build_sources, copy_of_repo):
  family = copy_of_repo / "cc" / "newfam"
  family.mkdir()
  for kind in ("ops", "kernels", "cpu"):
    (family / f"newfam_{kind}.cc").write_text('#include "cc/newfam/newfam.h"\n')
  (family / "newfam.h").write_text("")
  _edit(copy_of_repo / "setup.py", '"recurrent"]', '"recurrent", "newfam"]')
  problems = build_sources.differences(copy_of_repo)
  assert any("FAMILIES" in p for p in problems), problems
  assert any("cc/newfam/newfam_kernels.cc" in p for p in problems), problems
  _edit(copy_of_repo / "BUILD", '"recurrent"]', '"recurrent", "newfam"]')
  assert build_sources.differences(copy_of_repo) == []


def test_new_file_or_flag_in_setup_py_only_is_caught(build_sources,
                                                     copy_of_repo):
  (copy_of_repo / "cc" / "common" / "extra.cc").write_text(
      '#include "cc/common/sub/extra.h"\n')
  (copy_of_repo / "cc" / "common" / "sub").mkdir()
  (copy_of_repo / "cc" / "common" / "sub" / "extra.h").write_text("")
  _edit(copy_of_repo / "setup.py", '"cc/common/isa.cc"]',
        '"cc/common/isa.cc", "cc/common/extra.cc"]')
  _edit(copy_of_repo / "setup.py", '"-DNDEBUG"]', '"-DNDEBUG", "-ffast-math"]')
  _edit(copy_of_repo / "setup.py", '--wrap=__cpu_indicator_init"]',
        '--wrap=__cpu_indicator_init", "-Wl,-z,now"]')
  problems = "\n".join(build_sources.differences(copy_of_repo))
  assert "cc/common/extra.cc" in problems
  assert "-ffast-math" in problems
  assert "-z,now" in problems
  assert "cc/common/sub/extra.h" in problems


def test_header_outside_a_targets_deps_is_caught(build_sources, copy_of_repo):
  # Bazel's sandbox shows a target only its own and its deps' headers.
  _edit(copy_of_repo / "BUILD", '''    deps = [
        ":activations",
        ":common",
    ],''', '    deps = [":common"],')
  problems = "\n".join(build_sources.differences(copy_of_repo))
  assert "BUILD target isa includes" in problems
  assert "cc/activations/activations_cpu.h" in problems
