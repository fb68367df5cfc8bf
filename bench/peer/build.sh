#!/usr/bin/env bash
# Builds the go-control-plane benchmark peer: bench/peer/bin/peer.
# Idempotent and fast when up to date (go build's cache: well under a second). The first build
# downloads the modules in go.sum from the Go module proxy (~30 MB) and compiles Envoy's
# generated API packages: about 75 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: Go is not installed (go.mod needs Go 1.26)" >&2
  exit 1
fi
mkdir -p bin
# go.mod and go.sum are committed and tidy: build exactly those versions (no -mod=mod).
exec go build -buildvcs=false -trimpath -o bin/peer .
