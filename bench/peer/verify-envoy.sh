#!/usr/bin/env bash
# End-to-end check of the peer with real Envoys (not part of CI; takes ~20 s):
#   exports of examples/mesh.yaml (ports moved to 25xxx/28080) and of an edited copy (a route
#   changed, weights changed, a service added) → peer → Envoys in SotW and Delta → every
#   Envoy's config must equal the export (check-envoy.py), before and after POST /load.
#
#   bench/peer/verify-envoy.sh            # ENVOY=path/to/envoy to override .venv/bin/envoy-bin
#
# Uses admin ports 29901-29903 and listener ports 28080, 25101-25221 on 127.0.0.1.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
ENVOY="${ENVOY:-$ROOT/.venv/bin/envoy-bin}"
W="$(mktemp -d)"; PIDS=(); declare -A EP
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
"$HERE/build.sh" || exit 1
sed -e 's/port: 8080/port: 28080/; s/port: 151/port: 251/g; s/outboundPort: 152/outboundPort: 252/g' "$ROOT/examples/mesh.yaml" > "$W/mesh1.yaml"
python3 - "$W" <<'PY'
import sys; w = sys.argv[1]; s = open(f'{w}/mesh1.yaml').read()
s = s.replace('pathPrefix: /v1/users', 'pathPrefix: /v1/people').replace('weight: 90', 'weight: 50').replace('weight: 10', 'weight: 50')
s = s.replace('  orders:\n    protocol: http', '  billing:\n    protocol: http\n    instances:\n      - { id: billing-a, address: 127.0.0.1, port: 25121, app: 127.0.0.1:9121, outboundPort: 25221, adminPort: 9931 }\n\n  orders:\n    protocol: http')
s = s.replace('      - match: { pathPrefix: /v1/orders', '      - match: { pathPrefix: /v1/billing }\n        backend: billing\n      - match: { pathPrefix: /v1/orders')
open(f'{w}/mesh2.yaml', 'w').write(s)
PY
(cd "$ROOT" && npx tsx bench/peer/testdata-gen.ts "$W/mesh1.yaml" "$W/exp1" "$W/mesh2.yaml" "$W/exp2" 2>/dev/null) || exit 1
"$HERE/bin/peer" --listen 127.0.0.1:0 --control 127.0.0.1:0 --snapshots "$W/exp1" --check-bytes --log warn ${PEER_ARGS:-} > "$W/peer.out" 2> "$W/peer.err" & PIDS+=($!)
for i in $(seq 100); do [ -s "$W/peer.out" ] && break; sleep 0.1; done
cat "$W/peer.out"
PORT=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['port'])" "$W/peer.out")
CP=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['controlPort'])" "$W/peer.out")
boot() { (cd "$ROOT" && npx tsx bench/peer/testdata-gen.ts --bootstrap $1 $2 $PORT $3 $4 2>/dev/null) > "$W/boot-$1-$4.json"; }
run_envoy() { "$ENVOY" -c "$W/boot-$1-$2.json" --use-dynamic-base-id --concurrency 1 --log-level info > "$W/envoy-$1-$2.log" 2>&1 & PIDS+=($!); EP[$1]=$!; }
wait_ready() { for i in $(seq 100); do [ "$(curl -s 127.0.0.1:$1/ready)" = LIVE ] && return 0; sleep 0.1; done; echo "admin $1 not LIVE"; return 1; }
check() { python3 "$HERE/check-envoy.py" "$@" || RC=1; }
prefixes() { curl -s "127.0.0.1:$1/config_dump?resource=dynamic_route_configs" | grep -o '"prefix": "/v1/[a-z]*"' | tr '\n' ' '; echo; }
for m in sotw delta; do boot edge edge 29901 $m; boot users-v1-a users 29902 $m; boot billing-a billing 29903 $m; done
RC=0
echo "== exp1 loaded; edge SotW, users-v1-a Delta, billing-a SotW (not in exp1)"
run_envoy edge sotw; run_envoy users-v1-a delta; run_envoy billing-a sotw
wait_ready 29901; wait_ready 29902; sleep 1
check 29901 $CP edge "$W/exp1" sotw
check 29902 $CP users-v1-a "$W/exp1" delta
echo "  billing-a without a snapshot: $(curl -s 127.0.0.1:29903/ready)"
echo "== POST /load exp2"
curl -s -X POST "127.0.0.1:$CP/load?dir=$W/exp2"; echo; sleep 1
check 29901 $CP edge "$W/exp2" sotw
check 29902 $CP users-v1-a "$W/exp2" delta
wait_ready 29903 && check 29903 $CP billing-a "$W/exp2" sotw
echo "  edge routes: $(prefixes 29901)"
echo "== Envoys restarted in the other mode, exp2 loaded"
kill ${EP[edge]} ${EP[users-v1-a]} ${EP[billing-a]} 2>/dev/null; sleep 1.5
run_envoy edge delta; run_envoy users-v1-a sotw; run_envoy billing-a delta
wait_ready 29901; wait_ready 29902; wait_ready 29903; sleep 1
check 29901 $CP edge "$W/exp2" delta
check 29902 $CP users-v1-a "$W/exp2" sotw
check 29903 $CP billing-a "$W/exp2" delta
echo "== POST /load?stage=1 exp1, then POST /apply (billing-a removed, routes reverted)"
curl -s -X POST "127.0.0.1:$CP/load?dir=$W/exp1&stage=1" > /dev/null; curl -s -X POST "127.0.0.1:$CP/apply"; echo; sleep 1
check 29901 $CP edge "$W/exp1" delta
check 29902 $CP users-v1-a "$W/exp1" sotw
echo "  edge routes: $(prefixes 29901)"
echo "== peer stderr"; cat "$W/peer.err"
echo "== Envoy warnings and errors (startup notices left out)"
grep -hE "\]\[(warning|error|critical)\]" "$W"/envoy-*.log | grep -vE "deprecated runtime key|no configured limit|ENVOY_SIGTERM|config stream to meshgate_xds closed" | head -20
echo "RESULT: $([ $RC = 0 ] && echo ALL MATCH || echo FAILURES)"
exit $RC
