#!/bin/sh
# Writes one Envoy bootstrap per proxy of the model with `meshgate bootstrap`, each carrying
# the proxy's identity token signed with the key in meshgate's state directory. compose.yaml
# runs this in the `bootstraps` container before meshgate and the Envoys start; it can be run
# by hand the same way (from the project root, after npm run build):
#   sh envoy/bootstraps.sh examples/mesh.yaml .meshgate out/
set -eu
model="$1"; state="$2"; out="$3"
mg="${MESHGATE:-node bin/meshgate.js}"
mkdir -p "$out"
# The gateway's admin listens on all addresses so that compose can publish it.
$mg bootstrap -f "$model" --proxy edge --xds 127.0.0.1:18000 --admin 0.0.0.0:9901 --state-dir "$state" > "$out/edge.yaml"
for proxy in users-v1-a users-v2-a orders-a; do
  $mg bootstrap -f "$model" --proxy "$proxy" --xds 127.0.0.1:18000 --state-dir "$state" > "$out/$proxy.yaml"
done
echo "wrote $out/*.yaml"
