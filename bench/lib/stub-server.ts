// A trivially fast ADS server for measuring the load generator alone: it replays responses
// pre-encoded from an export (bench/export.ts) and does nothing else. Every group's SotW
// and Delta responses per type are built once at start; a request is answered only if it
// is the first of its type on the stream or changes the subscription (names added), with
// the whole type (names are not filtered: the load generator asks for everything anyway).
// No ACK bookkeeping, no versions per resource, no warming.
//
//   node --import tsx bench/lib/stub-server.ts --snapshots DIR [--listen 127.0.0.1:0]
//   → {"event":"listening","port":N}; stdin "bump CDS EDS ..." pushes new versions of those
//     types to every open stream.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { bytesField, FieldReader, strField } from './wire.js';

const TYPES = [
  'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  'type.googleapis.com/envoy.config.listener.v3.Listener',
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
];
const SHORT = ['CDS', 'EDS', 'LDS', 'RDS', 'SDS'];

interface ExportFile {
  groups: Array<{ group: string; nodeIds: string[]; version: string; resources: Array<{ typeUrl: string; name: string; version: string; value: string }> }>;
}

/** Per type: the pre-framed resource entries of a group. */
interface GroupResponses {
  sotw: Buffer[];
  delta: Buffer[];
}

const { values } = parseArgs({ options: { snapshots: { type: 'string' }, listen: { type: 'string', default: '127.0.0.1:0' } } });
if (!values.snapshots) {
  process.stderr.write('usage: stub-server.ts --snapshots DIR\n');
  process.exit(2);
}

const file = JSON.parse(fs.readFileSync(path.join(values.snapshots, 'snapshots.json'), 'utf8')) as ExportFile;
const byNode = new Map<string, GroupResponses>();
const shared = new Map<string, Buffer>();
for (const g of file.groups) {
  const sotw: Buffer[][] = TYPES.map(() => []);
  const delta: Buffer[][] = TYPES.map(() => []);
  for (const r of g.resources) {
    const t = TYPES.indexOf(r.typeUrl);
    if (t < 0) continue;
    // Identical resources across groups share one buffer, like a real cache would.
    const key = `${r.typeUrl}\0${r.name}\0${r.version}`;
    let any = shared.get(key);
    if (!any) {
      any = Buffer.concat([strField(1, r.typeUrl), bytesField(2, Buffer.from(r.value, 'base64'))]);
      shared.set(key, any);
    }
    sotw[t]!.push(bytesField(2, any));
    delta[t]!.push(bytesField(2, Buffer.concat([strField(1, r.version), bytesField(2, any), strField(3, r.name)])));
  }
  const resp: GroupResponses = { sotw: sotw.map((x) => Buffer.concat(x)), delta: delta.map((x) => Buffer.concat(x)) };
  for (const id of g.nodeIds) byNode.set(id, resp);
}
shared.clear();
const EMPTY: GroupResponses = { sotw: TYPES.map(() => Buffer.alloc(0)), delta: TYPES.map(() => Buffer.alloc(0)) };

/** Generation per type: bumped by "bump". */
const generation = [1, 1, 1, 1, 1];

interface Req {
  nodeId: string | null;
  typeUrl: string;
  nonce: string;
  names: string[];
}

function decodeRequest(buf: Buffer, delta: boolean): Req {
  const r = new FieldReader(buf);
  const out: Req = { nodeId: null, typeUrl: '', nonce: '', names: [] };
  const NODE = delta ? 1 : 2;
  const TYPE = delta ? 2 : 4;
  const NONCE = delta ? 6 : 5;
  while (r.next()) {
    if (r.wireType !== 2) continue;
    if (r.field === NODE) {
      const n = r.sub();
      while (n.next()) if (n.field === 1 && n.wireType === 2) out.nodeId = n.string();
    } else if (r.field === TYPE) out.typeUrl = r.string();
    else if (r.field === NONCE) out.nonce = r.string();
    else if (r.field === 3) out.names.push(r.string());
  }
  return out;
}

class StubStream {
  group: GroupResponses = EMPTY;
  private nonce = 0;
  readonly subscribed = [false, false, false, false, false];
  private readonly names: Array<Set<string>> = TYPES.map(() => new Set());

  constructor(
    private readonly call: grpc.ServerDuplexStream<Buffer, Buffer>,
    private readonly delta: boolean,
  ) {
    streams.add(this);
    call.on('data', (b: Buffer) => this.onRequest(b));
    const done = (): void => {
      streams.delete(this);
    };
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('cancelled', done);
  }

  private onRequest(buf: Buffer): void {
    const req = decodeRequest(buf, this.delta);
    if (req.nodeId !== null) this.group = byNode.get(req.nodeId) ?? EMPTY;
    const t = TYPES.indexOf(req.typeUrl);
    if (t < 0) return;
    const first = !this.subscribed[t];
    this.subscribed[t] = true;
    let added = false;
    for (const n of req.names) {
      if (!this.names[t]!.has(n)) {
        this.names[t]!.add(n);
        added = true;
      }
    }
    if (first || added) this.push(t);
  }

  push(t: number): void {
    const version = `v${generation[t]}`;
    const nonce = String(++this.nonce);
    const body = this.delta ? this.group.delta[t]! : this.group.sotw[t]!;
    const msg = Buffer.concat([strField(1, version), body, strField(4, TYPES[t]!), strField(5, nonce)]);
    this.call.write(msg);
  }
}

const streams = new Set<StubStream>();
const identity = (b: Buffer): Buffer => b;
const server = new grpc.Server({ 'grpc.max_send_message_length': 512 * 1024 * 1024, 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
const svc = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
const method = (name: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/${svc}/${name}`,
  requestStream: true,
  responseStream: true,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});
server.addService(
  { StreamAggregatedResources: method('StreamAggregatedResources'), DeltaAggregatedResources: method('DeltaAggregatedResources') },
  {
    StreamAggregatedResources: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => new StubStream(call, false),
    DeltaAggregatedResources: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => new StubStream(call, true),
  },
);
server.bindAsync(values.listen!, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ event: 'listening', port, groups: file.groups.length })}\n`);
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, ...args] = line.trim().split(/\s+/);
  if (cmd !== 'bump') return;
  const types = args.map((a) => SHORT.indexOf(a.toUpperCase())).filter((t) => t >= 0);
  for (const t of types) generation[t]!++;
  for (const s of streams) for (const t of types) if (s.subscribed[t]) s.push(t);
});

const stop = (): void => {
  server.forceShutdown();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
