// A small xDS test client over a real gRPC (grpc-js) connection. It speaks SotW and Delta on
// ADS or a per-type service, encodes requests and decodes responses with the same proto
// registry as the server (protobufjs), and decodes every resource from its Any to proto3
// JSON, so tests can assert exact DiscoveryResponses: version, nonce, names, contents and
// removed_resources. Also: a raw stream with an identity serialiser (to send garbage) and a
// freezable TCP proxy (to simulate a stopped or half-open peer).
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { anyToJson } from '../../src/xds/json.js';
import { messageType } from '../../src/xds/protos.js';
import { DISCOVERY_SERVICES, TYPE, type TypeUrl } from '../../src/xds/type-urls.js';

export { TYPE };

export type ServiceName = 'ads' | 'lds' | 'rds' | 'cds' | 'eds' | 'sds';

const SERVICE_BY_NAME: Record<ServiceName, (typeof DISCOVERY_SERVICES)[number]> = {
  ads: DISCOVERY_SERVICES.find((s) => s.typeUrl === null)!,
  lds: DISCOVERY_SERVICES.find((s) => s.typeUrl === TYPE.LISTENER)!,
  rds: DISCOVERY_SERVICES.find((s) => s.typeUrl === TYPE.ROUTE)!,
  cds: DISCOVERY_SERVICES.find((s) => s.typeUrl === TYPE.CLUSTER)!,
  eds: DISCOVERY_SERVICES.find((s) => s.typeUrl === TYPE.ENDPOINT)!,
  sds: DISCOVERY_SERVICES.find((s) => s.typeUrl === TYPE.SECRET)!,
};

export function methodPath(service: ServiceName, variant: 'sotw' | 'delta'): string {
  const s = SERVICE_BY_NAME[service];
  return `/${s.service}/${variant === 'sotw' ? s.sotw : s.delta}`;
}

const DiscoveryRequest = () => messageType('envoy.service.discovery.v3.DiscoveryRequest');
const DiscoveryResponse = () => messageType('envoy.service.discovery.v3.DiscoveryResponse');
const DeltaDiscoveryRequest = () => messageType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
const DeltaDiscoveryResponse = () => messageType('envoy.service.discovery.v3.DeltaDiscoveryResponse');

export interface NodeId {
  id: string;
  cluster?: string;
}

/** One resource of a response, decoded from its Any. */
export interface DecodedResource {
  typeUrl: string;
  name: string;
  /** proto3 JSON with "@type" (snake_case field names). */
  json: Record<string, unknown>;
  /** The Any's value: the resource's encoded bytes exactly as sent. */
  bytes: Buffer;
}

export interface SotwResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: DecodedResource[];
  /** Resource names in response order. */
  names: string[];
  control_plane: string | null;
  /** The whole response as received. */
  raw: Buffer;
}

export interface DeltaResource {
  name: string;
  version: string;
  resource: DecodedResource;
}

export interface DeltaResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: DeltaResource[];
  names: string[];
  removed_resources: string[];
  control_plane: string | null;
  raw: Buffer;
}

const DECODE = { longs: String, enums: Number, bytes: Buffer, defaults: false, arrays: true, objects: true } as const;

function decodeAny(any: { type_url?: string; value?: Uint8Array }): DecodedResource {
  const typeUrl = any.type_url ?? '';
  const bytes = Buffer.from(any.value ?? new Uint8Array());
  const json = anyToJson(typeUrl, bytes);
  const name = (typeof json['name'] === 'string' ? json['name'] : typeof json['cluster_name'] === 'string' ? json['cluster_name'] : '') as string;
  return { typeUrl, name, json, bytes };
}

export function decodeSotwResponse(buf: Buffer): SotwResponse {
  const t = DiscoveryResponse();
  const m = t.toObject(t.decode(buf), DECODE) as Record<string, unknown>;
  const resources = ((m['resources'] ?? []) as { type_url?: string; value?: Uint8Array }[]).map(decodeAny);
  const cp = m['control_plane'] as { identifier?: string } | undefined;
  return {
    version_info: (m['version_info'] as string | undefined) ?? '',
    type_url: (m['type_url'] as string | undefined) ?? '',
    nonce: (m['nonce'] as string | undefined) ?? '',
    resources,
    names: resources.map((r) => r.name),
    control_plane: cp ? (cp.identifier ?? '') : null,
    raw: buf,
  };
}

export function decodeDeltaResponse(buf: Buffer): DeltaResponse {
  const t = DeltaDiscoveryResponse();
  const m = t.toObject(t.decode(buf), DECODE) as Record<string, unknown>;
  const resources = ((m['resources'] ?? []) as { name?: string; version?: string; resource?: { type_url?: string; value?: Uint8Array } }[]).map((r) => ({
    name: r.name ?? '',
    version: r.version ?? '',
    resource: decodeAny(r.resource ?? {}),
  }));
  const cp = m['control_plane'] as { identifier?: string } | undefined;
  return {
    system_version_info: (m['system_version_info'] as string | undefined) ?? '',
    type_url: (m['type_url'] as string | undefined) ?? '',
    nonce: (m['nonce'] as string | undefined) ?? '',
    resources,
    names: resources.map((r) => r.name),
    removed_resources: (m['removed_resources'] as string[] | undefined) ?? [],
    control_plane: cp ? (cp.identifier ?? '') : null,
    raw: buf,
  };
}

function encoder(typeName: string): (obj: unknown) => Buffer {
  return (obj: unknown) => {
    const t = messageType(typeName);
    const err = t.verify(obj as Record<string, unknown>);
    if (err) throw new Error(`bad ${typeName} in test: ${err}`);
    return Buffer.from(t.encode(t.fromObject(obj as Record<string, unknown>)).finish());
  };
}

export interface EndStatus {
  code: number;
  details: string;
}

/** A bidirectional call with a queue of decoded responses. */
export class ResponseStream<Req, Res> {
  private readonly queue: Res[] = [];
  private readonly waiters: Array<() => void> = [];
  private endStatus: EndStatus | null = null;
  private readonly statusWaiters: Array<(s: EndStatus) => void> = [];
  /** Every response received so far, in order. */
  readonly received: Res[] = [];

  constructor(readonly call: grpc.ClientDuplexStream<Req, Res>) {
    call.on('data', (r: Res) => {
      this.queue.push(r);
      this.received.push(r);
      this.wake();
    });
    // A non-OK status is also emitted as 'error'; 'status' carries it in every case.
    call.on('error', () => {});
    call.on('status', (s: grpc.StatusObject) => {
      this.endStatus = { code: s.code, details: s.details };
      for (const w of this.statusWaiters.splice(0)) w(this.endStatus);
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The status the stream ended with, or null while it is open. */
  get ended(): EndStatus | null {
    return this.endStatus;
  }

  /** Responses received and not yet taken by next(). */
  get pending(): number {
    return this.queue.length;
  }

  write(req: Req): void {
    this.call.write(req);
  }

  /** The next response; fails on timeout or if the stream ends first. */
  async next(timeoutMs = 5000): Promise<Res> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.queue.shift();
      if (r !== undefined) return r;
      if (this.endStatus) throw new Error(`stream ended (code ${this.endStatus.code}: ${this.endStatus.details}) while waiting for a response`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next `n` responses. */
  async take(n: number, timeoutMs = 5000): Promise<Res[]> {
    const out: Res[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next(timeoutMs));
    return out;
  }

  /** Asserts that nothing arrives within `ms` (and that nothing is queued already). */
  async expectNoResponse(ms = 300): Promise<void> {
    if (this.queue.length === 0) await new Promise((r) => setTimeout(r, ms));
    if (this.queue.length > 0) {
      throw new Error(`expected no response, got ${this.queue.length}: ${JSON.stringify(this.queue.map(summary))}`);
    }
  }

  /** Waits for the stream to end and returns its status. */
  status(timeoutMs = 5000): Promise<EndStatus> {
    if (this.endStatus) return Promise.resolve(this.endStatus);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stream still open after ${timeoutMs} ms`)), timeoutMs);
      this.statusWaiters.push((s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
  }

  /** Cancel the call (client side). */
  cancel(): void {
    this.call.cancel();
  }
}

function summary(r: unknown): unknown {
  if (r && typeof r === 'object' && 'type_url' in r) {
    const x = r as { type_url: string; names?: string[]; removed_resources?: string[]; nonce?: string };
    return { type: x.type_url.split('.').pop(), names: x.names, removed: x.removed_resources, nonce: x.nonce };
  }
  return Buffer.isBuffer(r) ? `<${r.length} bytes>` : r;
}

export interface SotwRequest {
  type_url?: string;
  resource_names?: string[];
  version_info?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
  node?: Record<string, unknown>;
}

export class SotwStream extends ResponseStream<SotwRequest, SotwResponse> {
  private sentNode = false;
  /** Last subscription sent per type (what ack() repeats). */
  readonly subscriptions = new Map<string, string[]>();
  /** Last ACKed version per type (what nack() reports as applied). */
  readonly ackedVersions = new Map<string, string>();

  constructor(
    call: grpc.ClientDuplexStream<SotwRequest, SotwResponse>,
    private readonly node: NodeId | null,
    private readonly defaultType: TypeUrl | null,
  ) {
    super(call);
  }

  send(req: SotwRequest): void {
    const r: SotwRequest = { ...req };
    if (r.type_url === undefined && this.defaultType) r.type_url = this.defaultType;
    if (!this.sentNode && this.node && r.node === undefined) r.node = { id: this.node.id, cluster: this.node.cluster ?? '' };
    this.sentNode = true;
    if (r.type_url !== undefined && r.resource_names) this.subscriptions.set(r.type_url, [...r.resource_names]);
    this.write(r);
  }

  /** Subscribe (or change the subscription) without acknowledging anything. */
  subscribe(typeUrl: string, names: string[] = [], nonce = ''): void {
    this.send({ type_url: typeUrl, resource_names: names, version_info: this.ackedVersions.get(typeUrl) ?? '', response_nonce: nonce });
  }

  /** ACK a response, repeating the type's current subscription (or `names`). */
  ack(res: SotwResponse, names?: string[]): void {
    this.ackedVersions.set(res.type_url, res.version_info);
    this.send({
      type_url: res.type_url,
      version_info: res.version_info,
      response_nonce: res.nonce,
      resource_names: names ?? this.subscriptions.get(res.type_url) ?? [],
    });
  }

  /** NACK a response like Envoy: the previous good version, the nonce, and error_detail. */
  nack(res: SotwResponse, message: string, names?: string[]): void {
    this.send({
      type_url: res.type_url,
      version_info: this.ackedVersions.get(res.type_url) ?? '',
      response_nonce: res.nonce,
      resource_names: names ?? this.subscriptions.get(res.type_url) ?? [],
      error_detail: { code: 3, message },
    });
  }
}

export interface DeltaRequest {
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
  node?: Record<string, unknown>;
}

export class DeltaStream extends ResponseStream<DeltaRequest, DeltaResponse> {
  private sentNode = false;

  constructor(
    call: grpc.ClientDuplexStream<DeltaRequest, DeltaResponse>,
    private readonly node: NodeId | null,
    private readonly defaultType: TypeUrl | null,
  ) {
    super(call);
  }

  send(req: DeltaRequest): void {
    const r: DeltaRequest = { ...req };
    if (r.type_url === undefined && this.defaultType) r.type_url = this.defaultType;
    if (!this.sentNode && this.node && r.node === undefined) r.node = { id: this.node.id, cluster: this.node.cluster ?? '' };
    this.sentNode = true;
    this.write(r);
  }

  subscribe(typeUrl: string, subscribe: string[] = [], unsubscribe: string[] = [], extra: Partial<DeltaRequest> = {}): void {
    this.send({ type_url: typeUrl, resource_names_subscribe: subscribe, resource_names_unsubscribe: unsubscribe, ...extra });
  }

  ack(res: DeltaResponse): void {
    this.send({ type_url: res.type_url, response_nonce: res.nonce });
  }

  nack(res: DeltaResponse, message: string): void {
    this.send({ type_url: res.type_url, response_nonce: res.nonce, error_detail: { code: 3, message } });
  }
}

export interface ClientOptions {
  node?: NodeId;
  channelOptions?: grpc.ChannelOptions;
}

/** One gRPC channel (one HTTP/2 connection) to an xDS server; open any number of streams on it. */
export class XdsTestClient {
  readonly client: grpc.Client;
  private readonly streams: ResponseStream<unknown, unknown>[] = [];

  constructor(
    readonly address: string,
    private readonly opts: ClientOptions = {},
  ) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      // Every client gets its own connection (tests count and cut connections).
      'grpc.use_local_subchannel_pool': 1,
      ...opts.channelOptions,
    });
  }

  /** A SotW stream on ADS (default) or a per-type service. */
  sotw(service: ServiceName = 'ads', node: NodeId | null = this.opts.node ?? { id: 'node-1', cluster: 'c1' }): SotwStream {
    const call = this.client.makeBidiStreamRequest<SotwRequest, SotwResponse>(methodPath(service, 'sotw'), encoder('envoy.service.discovery.v3.DiscoveryRequest'), decodeSotwResponse);
    return this.track(new SotwStream(call, node, SERVICE_BY_NAME[service].typeUrl));
  }

  /** A Delta stream on ADS (default) or a per-type service. */
  delta(service: ServiceName = 'ads', node: NodeId | null = this.opts.node ?? { id: 'node-1', cluster: 'c1' }): DeltaStream {
    const call = this.client.makeBidiStreamRequest<DeltaRequest, DeltaResponse>(methodPath(service, 'delta'), encoder('envoy.service.discovery.v3.DeltaDiscoveryRequest'), decodeDeltaResponse);
    return this.track(new DeltaStream(call, node, SERVICE_BY_NAME[service].typeUrl));
  }

  /** A stream that writes and reads raw bytes (no protobuf), e.g. to send garbage. */
  raw(service: ServiceName = 'ads', variant: 'sotw' | 'delta' = 'sotw'): ResponseStream<Buffer, Buffer> {
    const identity = (b: Buffer): Buffer => b;
    return this.track(new ResponseStream(this.client.makeBidiStreamRequest<Buffer, Buffer>(methodPath(service, variant), identity, identity)));
  }

  private track<T extends ResponseStream<never, unknown>>(s: T): T {
    this.streams.push(s as unknown as ResponseStream<unknown, unknown>);
    return s;
  }

  /** Cancel every stream opened here and close the channel. */
  close(): void {
    for (const s of this.streams.splice(0)) if (!s.ended) s.cancel();
    this.client.close();
  }
}

/** Encode a request by hand (e.g. to send it on a raw stream). */
export function encodeSotwRequest(req: SotwRequest): Buffer {
  return encoder('envoy.service.discovery.v3.DiscoveryRequest')(req);
}

export function encodeDeltaRequest(req: DeltaRequest): Buffer {
  return encoder('envoy.service.discovery.v3.DeltaDiscoveryRequest')(req);
}

/**
 * A TCP proxy on 127.0.0.1:0 in front of `targetPort`. `freeze()` stops moving bytes in both
 * directions on every connection (the peers see a silent, still-open connection: a stopped
 * process or a half-open network path); `thaw()` resumes. Used for backpressure and keepalive.
 */
export interface TcpProxy {
  port: number;
  address: string;
  /** Open connections through the proxy. */
  readonly connections: number;
  freeze(): void;
  thaw(): void;
  /** Stop only server→client bytes (the client stops reading; its requests still flow). */
  freezeDownstream(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  interface Pair {
    client: net.Socket;
    upstream: net.Socket;
    /** Forward what was held while frozen, and resume reading, for the directions now thawed. */
    flush: () => void;
  }
  const pairs = new Set<Pair>();
  let frozenUp = false;
  let frozenDown = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    // Manual forwarding (not pipe) so that freezing is immediate: bytes read while frozen
    // are held, and the sockets are paused so the kernel buffers fill up.
    const held = { up: [] as Buffer[], down: [] as Buffer[] };
    client.on('data', (d: Buffer) => {
      if (frozenUp) {
        held.up.push(d);
        client.pause();
      } else upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (frozenDown) {
        held.down.push(d);
        upstream.pause();
      } else client.write(d);
    });
    const flushHeld = (): void => {
      if (!frozenUp) {
        for (const d of held.up.splice(0)) upstream.write(d);
        client.resume();
      }
      if (!frozenDown) {
        for (const d of held.down.splice(0)) client.write(d);
        upstream.resume();
      }
    };
    const pair: Pair = { client, upstream, flush: flushHeld };
    pairs.add(pair);
    const done = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', done);
    upstream.on('close', done);
    client.on('error', done);
    upstream.on('error', done);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const apply = (): void => {
    for (const p of pairs) {
      if (frozenUp) p.client.pause();
      if (frozenDown) p.upstream.pause();
      p.flush();
    }
  };
  return {
    port,
    address: `127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    freeze() {
      frozenUp = true;
      frozenDown = true;
      apply();
    },
    freezeDownstream() {
      frozenDown = true;
      apply();
    },
    thaw() {
      frozenUp = false;
      frozenDown = false;
      apply();
    },
    close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Poll `fn` until it returns true (generous timeout; for state that settles asynchronously). */
export async function eventually(fn: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
