#!/usr/bin/env bash
# Writes envoy/<proxy>.yaml for every proxy of examples/mesh.yaml with `meshgate bootstrap`.
# compose.yaml mounts these files; test/compose/compose.test.ts checks they are current.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
model="${1:-examples/mesh.yaml}"
# The gateway's admin listens on all addresses so that compose can publish it.
node bin/meshgate.js bootstrap -f "$model" --proxy edge --xds 127.0.0.1:18000 --admin 0.0.0.0:9901 > envoy/edge.yaml
for proxy in users-v1-a users-v2-a orders-a; do
  node bin/meshgate.js bootstrap -f "$model" --proxy "$proxy" --xds 127.0.0.1:18000 > "envoy/$proxy.yaml"
done
echo "wrote envoy/*.yaml"
