#!/usr/bin/env bash
# Builds tf_approx/_ops.so with Bazel without network access, and copies it to
# OUTPUT (default: tf_approx/_ops.so in this checkout, where tf_approx loads it).
#
#   PYTHON_BIN_PATH=/path/to/python tools/bazel/build_offline.sh [OUTPUT] [BAZEL_BUILD_ARGS...]
#
# PYTHON_BIN_PATH names the interpreter whose TensorFlow to build against
# (default: python3). TF_APPROX_BAZEL_OUTPUT_BASE, if set, is passed as
# --output_base (e.g. a temporary directory for a cold build); otherwise Bazel
# keeps its cache in its default place, ~/.cache/bazel.
#
# Bazel fetches @rules_cc and @rules_java (which @bazel_tools loads even for a
# C++-only build) from the network. Here they are replaced by the stubs in
# tools/bazel/offline/, which forward to Bazel's native rules; tested with
# Debian's bazel-bootstrap (Bazel 4.2.3). Users with network need none of this:
#   bazel build //:tf_approx/_ops.so && cp -f bazel-bin/tf_approx/_ops.so tf_approx/
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUTPUT="${1:-${ROOT}/tf_approx/_ops.so}"
shift || true

STARTUP=()
if [[ -n "${TF_APPROX_BAZEL_OUTPUT_BASE:-}" ]]; then
  STARTUP+=("--output_base=${TF_APPROX_BAZEL_OUTPUT_BASE}")
fi
OFFLINE="${ROOT}/tools/bazel/offline"
FLAGS=(
  "--override_repository=rules_cc=${OFFLINE}/rules_cc"
  "--override_repository=rules_java=${OFFLINE}/rules_java"
  # No bazel-* convenience symlinks in the source tree.
  "--symlink_prefix=/"
  # Debian's /etc/bazel/bazelrc turns sandbox debugging on, which prints a
  # page of linux-sandbox trace per action.
  "--nosandbox_debug"
)
TARGET="//:tf_approx/_ops.so"

export PYTHON_BIN_PATH="${PYTHON_BIN_PATH:-python3}"
cd "${ROOT}"
bazel "${STARTUP[@]}" build "${FLAGS[@]}" "$@" "${TARGET}"
BIN="$(bazel "${STARTUP[@]}" info "${FLAGS[@]}" "$@" bazel-bin)"

mkdir -p "$(dirname "${OUTPUT}")"
# Bazel's outputs are read-only; replace rather than overwrite.
rm -f "${OUTPUT}"
cp "${BIN}/tf_approx/_ops.so" "${OUTPUT}"
chmod u+w "${OUTPUT}"
echo "build_offline.sh: ${OUTPUT}"
