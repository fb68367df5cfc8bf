#!/usr/bin/env bash
# Builds the Go load generator worker: bench/loadgen-go/bin/loadgen-worker (see main.go).
# loadgen.ts uses it whenever it exists (LOADGEN_WORKER=node forces the Node worker).
# Idempotent and fast when up to date (go build's cache: well under a second). The only
# dependency is golang.org/x/net (http2, hpack), the version bench/peer pins; the first build
# fetches it from the Go module proxy if it is not in the module cache.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: Go is not installed (go.mod needs Go 1.26); the load generator uses the Node worker" >&2
  exit 1
fi
mkdir -p bin
# go.mod and go.sum are committed and tidy: build exactly those versions (no -mod=mod).
exec go build -buildvcs=false -trimpath -o bin/loadgen-worker .
