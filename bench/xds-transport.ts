// xDS transport micro-benchmark: meshgate's XdsServer in this process, N simulated proxies
// (one HTTP/2 connection and one SotW ADS stream each, raw node:http2, no gRPC library) in a
// child process. Measures this process's CPU (the server's) and the wall time of
//   storm:  N proxies connect at once; each asks CDS, EDS (every cluster), LDS, RDS and ACKs
//           every answer, as Envoy does (~105 resources each, like S2);
//   churn:  R rounds of one changed endpoint assignment (--churn rds: of the route configuration
//           "outbound", as S3's edit; cds: of one padding cluster), each pushed to and ACKed by all N;
//   decode: a typical first request and a typical ACK decoded 200 000 times each, with the
//           hand-written decoder and with protobufjs decode + toObject (skipped when the
//           server has no hand-written decoder, i.e. before it).
// It only uses XdsServer's public API, so the same file measures any version of the server.
// The server is pinned to core 0 and the proxies to core 1 when taskset is there.
//
//   node --import tsx bench/xds-transport.ts [--proxies 1000] [--rounds 20] [--runs 3]
//        [--write-mode auto|pieces|concat] [--no-decode] [--delta] [--churn eds|rds|cds]
//        [--transport meshgate|node]   (the server's HTTP/2: its own framing, or node:http2)
//        [--groups]   (each proxy its own group, as S3's sidecars: a round publishes N snapshots)
import { fork } from 'node:child_process';
import http2 from 'node:http2';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { messageType } from '../src/xds/protos.js';
import type { ResourcesByType } from '../src/xds/snapshot.js';
import { pinSelf } from './lib/servers.js';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const ADS_DELTA = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';
const T = {
  CDS: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  EDS: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  LDS: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RDS: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
} as const;
const SERVICES = 50;
const clusterNames = Array.from({ length: SERVICES + 1 }, (_, i) => (i === SERVICES ? 'local' : `svc-${String(i).padStart(3, '0')}`));
const ROUTES = ['outbound', 'inbound'];

const { values } = parseArgs({
  options: {
    client: { type: 'string' },
    proxies: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '20' },
    runs: { type: 'string', default: '3' },
    'write-mode': { type: 'string' },
    'no-decode': { type: 'boolean', default: false },
    /** Extra clusters (not asked for by EDS) making every CDS response large. */
    'cds-padding': { type: 'string', default: '0' },
    /** What a churn round changes: one endpoint assignment (eds), the route configuration "outbound" (rds) or one of the padding clusters (cds: a whole CDS push). */
    churn: { type: 'string', default: 'eds' },
    /** Delta ADS streams instead of SotW. */
    delta: { type: 'boolean', default: false },
    /** The server's HTTP/2: meshgate's own framing (default) or node:http2. */
    transport: { type: 'string', default: 'meshgate' },
    /** Each proxy its own group (as S3's sidecars), all built from the same resource arrays: a round publishes N snapshots. */
    groups: { type: 'boolean', default: false },
  },
});

const REQ = messageType('envoy.service.discovery.v3.DiscoveryRequest');
const DELTA_REQ = messageType('envoy.service.discovery.v3.DeltaDiscoveryRequest');

/** An Envoy-like node: id, cluster, metadata with an identity token, build version. */
function node(i: number): Record<string, unknown> {
  return {
    id: `sidecar-${i}`,
    cluster: `svc-${String(i % SERVICES).padStart(3, '0')}`,
    user_agent_name: 'envoy',
    user_agent_build_version: { version: { major_number: 1, minor_number: 31, patch: 2 }, metadata: { fields: { 'revision.sha': { string_value: 'c'.repeat(40) } } } },
    metadata: {
      fields: {
        'meshgate.io/token': { string_value: 'eyJ'.padEnd(300, 'x') },
        ISTIO_VERSION: { string_value: '1.22.0' },
        LABELS: { struct_value: { fields: { app: { string_value: 'reviews' }, version: { string_value: 'v1' } } } },
      },
    },
    locality: { region: 'eu-west-1', zone: 'eu-west-1a' },
    client_features: ['envoy.lb.does_not_support_overprovisioning', 'envoy.lrs.supports_send_all_clusters'],
  };
}

function encodeRequest(r: Record<string, unknown>, type = REQ): Buffer {
  const body = type.encode(type.fromObject(r)).finish();
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = 0;
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The simulated proxies (child process).

interface ClientMsg {
  kind: 'ready' | 'synced' | 'round' | 'failed';
  ms?: number;
  round?: number;
  error?: string;
}

async function runClient(port: number, proxies: number, delta: boolean): Promise<void> {
  const send = (m: ClientMsg): void => void process.send!(m);
  let synced = 0;
  const edsPushes: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < proxies; i++) {
    const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 16 * 1024 * 1024 } });
    session.on('error', (err) => send({ kind: 'failed', error: String(err) }));
    session.on('connect', () => session.setLocalWindowSize(16 * 1024 * 1024));
    const stream = session.request({ ':method': 'POST', ':path': delta ? ADS_DELTA : ADS, 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', (err) => send({ kind: 'failed', error: String(err) }));
    const n = node(i);
    let first = true;
    let done = false;
    let pushes = 0;
    const request = (r: Record<string, unknown>): void => {
      if (first) {
        r['node'] = n;
        first = false;
      }
      stream.write(encodeRequest(r, delta ? DELTA_REQ : REQ));
    };
    // Delta: a subscription names what it adds (wildcard for CDS and LDS: none), an ACK only the nonce.
    const subscribe = (typeUrl: string, names?: string[]): void =>
      request(delta ? { type_url: typeUrl, ...(names ? { resource_names_subscribe: names } : {}) } : { type_url: typeUrl, ...(names ? { resource_names: names } : {}) });
    const onResponse = (msg: Buffer): void => {
      // A DeltaDiscoveryResponse has system_version_info (1), type_url (4) and nonce (5) where a DiscoveryResponse has its version, type and nonce.
      const { version, typeUrl, nonce } = responseHeader(msg);
      const ack: Record<string, unknown> = delta ? { type_url: typeUrl, response_nonce: nonce } : { type_url: typeUrl, version_info: version, response_nonce: nonce };
      const names = (list: string[]): Record<string, unknown> => (delta ? {} : { resource_names: list });
      const pushed = (): void => {
        pushes++;
        edsPushes[pushes] = (edsPushes[pushes] ?? 0) + 1;
        if (edsPushes[pushes] === proxies) send({ kind: 'round', round: pushes });
      };
      if (typeUrl === T.CDS) {
        if (!done) subscribe(T.EDS, clusterNames);
        request({ ...ack });
        if (done) pushed();
      } else if (typeUrl === T.EDS) {
        request({ ...ack, ...names(clusterNames) });
        if (!done) subscribe(T.LDS);
        else pushed();
      } else if (typeUrl === T.LDS) {
        if (!done) subscribe(T.RDS, ROUTES);
        request({ ...ack });
      } else if (typeUrl === T.RDS) {
        request({ ...ack, ...names(ROUTES) });
        if (!done) {
          done = true;
          if (++synced === proxies) send({ kind: 'synced', ms: performance.now() - t0 });
        } else pushed();
      }
    };
    // Chunks are gathered until a whole message is there (no concatenation per chunk).
    const chunks: Buffer[] = [];
    let have = 0;
    let need = -1;
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.length;
      for (;;) {
        if (need < 0) {
          if (have < 5) return;
          const head = chunks[0]!.length >= 5 ? chunks[0]! : Buffer.concat(chunks);
          need = 5 + head.readUInt32BE(1);
        }
        if (have < need) return;
        const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, have);
        onResponse(all.subarray(5, need));
        const rest = all.subarray(need);
        chunks.length = 0;
        have = rest.length;
        if (have > 0) chunks.push(rest);
        need = -1;
      }
    });
    subscribe(T.CDS);
  }
}

/** version_info (1), type_url (4) and nonce (5) of a DiscoveryResponse; resources skipped. */
function responseHeader(b: Buffer): { version: string; typeUrl: string; nonce: string } {
  let pos = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const x = b[pos++]!;
      v += (x & 0x7f) * mul;
      mul *= 128;
      if (x < 0x80) return v;
    }
  };
  const out = { version: '', typeUrl: '', nonce: '' };
  while (pos < b.length) {
    const tag = varint();
    const len = varint();
    const f = tag >>> 3;
    if (f === 1) out.version = b.toString('utf8', pos, pos + len);
    else if (f === 4) out.typeUrl = b.toString('utf8', pos, pos + len);
    else if (f === 5) out.nonce = b.toString('utf8', pos, pos + len);
    pos += len;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The server (this process).

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function runServer(): Promise<void> {
  const { XdsServer } = await import('../src/xds/server.js');
  const { SnapshotCache } = await import('../src/xds/cache.js');
  const { Snapshot } = await import('../src/xds/snapshot.js');
  const { resourceFromJson } = await import('../src/xds/resource.js');
  const { silentLogger } = await import('../src/util/log.js');
  if (values['write-mode']) {
    const call = await import('../src/xds/grpc/call.js');
    call.setWriteMode(values['write-mode'] as 'auto' | 'pieces' | 'concat');
  }
  const proxies = Number(values.proxies);
  const rounds = Number(values.rounds);

  const ads = { ads: {}, resource_api_version: 'V3' };
  const cluster = (name: string) => resourceFromJson(T.CDS, { name, type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: ads } });
  const cla = (name: string, base: number, port = 8080) =>
    resourceFromJson(T.EDS, {
      cluster_name: name,
      endpoints: [{ lb_endpoints: Array.from({ length: 10 }, (_, k) => ({ endpoint: { address: { socket_address: { address: `10.0.${base % 250}.${k + 1}`, port_value: port } } } })) }],
    });
  const listener = (name: string, route: string, port: number) =>
    resourceFromJson(T.LDS, {
      name,
      address: { socket_address: { address: '0.0.0.0', port_value: port } },
      filter_chains: [
        {
          filters: [
            {
              name: 'envoy.filters.network.http_connection_manager',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                stat_prefix: name,
                rds: { route_config_name: route, config_source: ads },
                http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
              },
            },
          ],
        },
      ],
    });
  // Round r of an rds churn gives the first service's route a timeout of r seconds (as S3's edit).
  const routeConfig = (name: string, r = 0) =>
    resourceFromJson(T.RDS, {
      name,
      virtual_hosts: clusterNames.slice(0, SERVICES).map((c, i) => ({
        name: c,
        domains: [c, `${c}.mesh`],
        routes: [{ match: { prefix: '/' }, route: { cluster: c, ...(i === 0 && r > 0 ? { timeout: `${r}s` } : {}) } }],
      })),
    });
  const clusters = clusterNames.map(cluster);
  const padding = Array.from({ length: Number(values['cds-padding']) }, (_, i) => `pad-${String(i).padStart(6, '0')}-${'p'.repeat(100)}`);
  const padCluster = (name: string, r: number) =>
    resourceFromJson(T.CDS, { name, type: 'EDS', connect_timeout: `${1 + r}s`, eds_cluster_config: { eds_config: ads, service_name: name } });
  const rdsChurn = values.churn === 'rds';
  const fixed = [...clusters, listener('outbound', 'outbound', 15001), listener('inbound', 'inbound', 15006), routeConfig('inbound')];
  // Round r changes one assignment's endpoints (or the outbound routes, or a padding cluster). Every snapshot
  // is built before anything is measured, each on the previous one (as meshgate's builder
  // does), so a round costs the server what a real one-assignment change costs it.
  const worlds: InstanceType<typeof Snapshot>[] = [];
  for (let r = 0; r <= rounds; r++) {
    const cdsChurn = values.churn === 'cds' && padding.length > 0;
    const res = [
      ...fixed,
      routeConfig('outbound', rdsChurn ? r : 0),
      ...padding.map((p, i) => padCluster(p, cdsChurn && r > 0 && i === r % padding.length ? r : 0)),
      ...clusterNames.map((c, i) => cla(c, i, !cdsChurn && !rdsChurn && r > 0 && i === r % clusterNames.length ? 9000 + r : 8080)),
    ];
    worlds.push(r === 0 ? new Snapshot(res) : new Snapshot(res, worlds[r - 1]));
  }
  // --groups: per round, one snapshot per proxy on that proxy's previous one, from the round's
  // arrays per type (shared by every group, as the outbound view is in S3).
  const perGroup: Array<Map<string, InstanceType<typeof Snapshot>>> = [];
  if (values.groups) {
    const { ADS_ORDER } = await import('../src/xds/type-urls.js');
    for (let r = 0; r <= rounds; r++) {
      const byType = Object.fromEntries(ADS_ORDER.map((t) => [t, [...worlds[r]!.resources(t).values()]])) as ResourcesByType;
      const m = new Map<string, InstanceType<typeof Snapshot>>();
      for (let i = 0; i < proxies; i++) m.set(`sidecar-${i}`, new Snapshot(byType, perGroup[r - 1]?.get(`sidecar-${i}`)));
      perGroup.push(m);
    }
  }
  const world = (r: number) => worlds[r]!;

  const results: Array<{ run: number; stormMs: number; stormCpuMs: number; churnMs: number; churnCpuMs: number }> = [];
  for (let run = 1; run <= Number(values.runs); run++) {
    const cache = new SnapshotCache(values.groups ? (n) => n.id : () => 'mesh');
    const server = new XdsServer({ cache, log: silentLogger(), transport: values.transport as 'meshgate' | 'node' });
    const port = await server.listen('127.0.0.1:0');
    if (values.groups) cache.replaceAll(perGroup[0]!);
    else cache.set('mesh', world(0));
    global.gc?.();
    const child = fork(fileURLToPath(import.meta.url), ['--client', String(port), '--proxies', String(proxies), ...(values.delta ? ['--delta'] : [])], { execArgv: process.execArgv, stdio: 'inherit' });
    const waiters = new Map<string, (m: ClientMsg) => void>();
    child.on('message', (m: ClientMsg) => {
      if (m.kind === 'failed') {
        process.stderr.write(`client error: ${m.error}\n`);
        return;
      }
      const key = m.kind === 'round' ? `round ${m.round}` : m.kind;
      waiters.get(key)?.(m);
    });
    const wait = (key: string): Promise<ClientMsg> => new Promise((resolve) => waiters.set(key, resolve));
    await wait('ready');
    const syncedP = wait('synced');
    child.send('go');

    let cpu0 = cpuMs();
    let t0 = performance.now();
    const synced = await syncedP;
    const stormMs = performance.now() - t0;
    const stormCpuMs = cpuMs() - cpu0;
    await new Promise((r) => setTimeout(r, 300)); // the last ACKs
    cpu0 = cpuMs();
    t0 = performance.now();
    for (let r = 1; r <= rounds; r++) {
      const got = wait(`round ${r}`);
      if (values.groups) cache.replaceAll(perGroup[r]!);
      else cache.set('mesh', world(r));
      await got;
    }
    const churnMs = performance.now() - t0;
    const churnCpuMs = cpuMs() - cpu0;
    results.push({ run, stormMs: Math.round(stormMs), stormCpuMs: Math.round(stormCpuMs), churnMs: Math.round(churnMs), churnCpuMs: Math.round(churnCpuMs) });
    process.stdout.write(
      `run ${run}: storm ${proxies} proxies synced in ${Math.round(stormMs)} ms (client view ${Math.round(synced.ms ?? 0)} ms), server CPU ${Math.round(stormCpuMs)} ms; ` +
        `churn ${rounds} rounds × ${proxies} ${values.delta ? 'Delta ' : ''}${values.churn === 'cds' ? 'CDS' : values.churn === 'rds' ? 'RDS' : 'EDS'} pushes+ACKs in ${Math.round(churnMs)} ms, server CPU ${Math.round(churnCpuMs)} ms (${((churnCpuMs * 1000) / (rounds * proxies)).toFixed(1)} µs per push+ACK)\n`,
    );
    child.kill();
    server.forceClose();
    await new Promise((r) => setTimeout(r, 500));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(
    `median: storm server CPU ${med(results.map((r) => r.stormCpuMs))} ms, wall ${med(results.map((r) => r.stormMs))} ms; churn server CPU ${med(results.map((r) => r.churnCpuMs))} ms\n`,
  );
  if (!values['no-decode']) await decodeBench();
}

async function decodeBench(): Promise<void> {
  let mine: ((b: Buffer) => unknown) | null = null;
  let stream: ((b: Buffer) => unknown) | null = null;
  try {
    const m = await import('../src/xds/grpc/discovery-request.js');
    mine = m.decodeDiscoveryRequest;
    stream = m.discoveryRequestDecoder(); // remembers the names of recent requests
  } catch {
    // a server without the hand-written decoder
  }
  const OPTIONS = { longs: String, enums: Number, defaults: false, arrays: true, objects: true } as const;
  const protobufjs = (b: Buffer): unknown => REQ.toObject(REQ.decode(b), OPTIONS);
  const firstReq = encodeRequest({ node: node(7), type_url: T.EDS, resource_names: clusterNames }).subarray(5);
  const ack = encodeRequest({ type_url: T.EDS, version_info: 'a1b2c3d4e5f60718', response_nonce: '3', resource_names: clusterNames }).subarray(5);
  const N = 200_000;
  for (const [label, buf] of [
    ['first request (node + 51 names)', firstReq],
    ['ACK (51 names)', ack],
  ] as const) {
    const time = (f: (b: Buffer) => unknown): number => {
      for (let i = 0; i < 20_000; i++) f(buf);
      const t = performance.now();
      for (let i = 0; i < N; i++) f(buf);
      return ((performance.now() - t) * 1e6) / N;
    };
    const pj = time(protobufjs);
    const hw = mine ? time(mine) : NaN;
    const st = stream ? time(stream) : NaN;
    process.stdout.write(
      `decode ${label}, ${buf.length} bytes: protobufjs decode+toObject ${pj.toFixed(0)} ns, hand-written ${mine ? `${hw.toFixed(0)} ns (${(pj / hw).toFixed(1)}×), stream decoder (names as in the last request) ${st.toFixed(0)} ns (${(pj / st).toFixed(1)}×)` : 'n/a'}\n`,
    );
  }
}

// The server on core 0, the proxies on core 1 (as bench/run.ts does), when taskset exists.
pinSelf(values.client ? '1' : '0');
if (values.client) {
  process.once('message', () => void runClient(Number(values.client), Number(values.proxies), values.delta === true));
  process.send!({ kind: 'ready' } satisfies ClientMsg);
}
else await runServer();
