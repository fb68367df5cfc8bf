// What SotW and Delta streams share: node identity, the cache watch, writes that honour
// backpressure, stall detection, NACK bookkeeping, status and metrics.
import type { Logger } from 'pino';
import type { CacheWatcher, NodeInfo, SnapshotCache, SnapshotUpdate } from './cache.js';
import type { XdsMetrics } from './metrics.js';
import type { ResponseBytes, ResponseCache } from './response-cache.js';
import type { Snapshot } from './snapshot.js';
import type { NackRecord, StatusSource, StreamStatus, TypeStatus, XdsStatusBoard } from './status.js';
import { ADS_ORDER, shortName, TYPE, type TypeUrl } from './type-urls.js';

export interface StreamLimits {
  /** Largest response the server will write; larger ones end the stream loudly. */
  maxSendBytes: number;
  /** A stream whose writes stay blocked this long is ended (the proxy is not reading). */
  stallTimeoutMs: number;
  /** Most resource names one stream may subscribe to per type. */
  maxNamesPerType: number;
}

export const DEFAULT_LIMITS: StreamLimits = {
  maxSendBytes: 64 * 1024 * 1024,
  stallTimeoutMs: 30_000,
  maxNamesPerType: 100_000,
};

export interface StreamDeps {
  cache: SnapshotCache;
  metrics: XdsMetrics;
  board: XdsStatusBoard;
  log: Logger;
  limits: StreamLimits;
  /** Pre-encoded ControlPlane{identifier} fields: 6 in DiscoveryResponse, 7 in Delta. */
  controlPlane: { sotw: Buffer; delta: Buffer };
  /** Assembled response bodies shared across streams (built with the same controlPlane). */
  responses: ResponseCache;
  /**
   * May this proxy receive the secrets of its group? Absent: yes. A refused proxy gets every
   * other resource but no secret (its TLS listeners and clusters stay warming).
   */
  secretPolicy?: (node: NodeInfo, group: string | undefined) => { ok: boolean; reason: string };
  /**
   * Handle each request (and the peer's half-close) through this, in order, instead of as it is
   * read: the app runs them in its time slices (util/time-slices.ts), so that thousands of ACKs
   * read in one turn of the event loop are answered over several short turns, not one long one.
   * Absent: at once.
   */
  defer?: (job: () => void) => void;
}

/** The duplex call a stream uses (src/xds/grpc/call.ts: one gRPC call on one HTTP/2 stream). */
export interface DuplexCall {
  /** `done` runs once the message has been handed to the transport (flow control permitting). */
  write(chunk: ResponseBytes, done?: (err?: Error | null) => void): boolean;
  end(): void;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
  getPeer(): string;
  emit(event: string, ...args: unknown[]): boolean;
}

export class StreamError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

// gRPC status codes used here.
export const GRPC = {
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  UNAVAILABLE: 14,
  INTERNAL: 13,
} as const;

let nextStreamId = 1;

/** Most requests one stream may have read but not yet handled (StreamDeps.defer) before it is ended. */
export const MAX_REQUESTS_WAITING = 256;

/** Longest LDS/RDS wait for new clusters' endpoints (see startWarming). */
export const WARM_WAIT_MS = 5000;

/** Per-type bookkeeping common to both variants. */
export interface InflightResponse {
  nonce: string;
  version: string;
  names: readonly string[];
  sentAt: number;
  /** Set time of the snapshot this response carried news of, if it was snapshot-driven. */
  snapshotSetAt: number | null;
}

export abstract class XdsStreamBase implements CacheWatcher, StatusSource {
  readonly id = nextStreamId++;
  node: NodeInfo = { id: '', cluster: '', userAgent: '', metadata: {} };
  protected snapshot: Snapshot | undefined;
  protected snapshotSetAt = 0;
  /** Created on first use: most streams never log anything at the configured level. */
  private logger: Logger | null = null;
  private nodeKnown = false;
  private unwatch: (() => void) | null = null;
  private blocked = false;
  /** Writes not yet handed to the transport (a peer that stops reading keeps this above 0). */
  private pendingWrites = 0;
  private stallTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Requests read but not handled yet (StreamDeps.defer). */
  private waiting = 0;
  private nonceCounter = 0;
  private readonly connectedAt = new Date();
  private readonly peer: string;
  private readonly unknownTypesLogged = new Set<string>();

  constructor(
    protected readonly call: DuplexCall,
    protected readonly deps: StreamDeps,
    readonly variant: 'sotw' | 'delta',
    readonly service: string,
    /** Set for the per-type services; null for ADS. */
    protected readonly fixedType: TypeUrl | null,
  ) {
    this.peer = call.getPeer();
    deps.metrics.streams.inc({ service, variant });
    deps.board.add(this);
    const defer = deps.defer;
    if (defer) {
      call.on('data', (req: unknown) => {
        if (this.closed) return;
        // Bounded: a proxy sends one request per response (and a few subscription changes), so
        // a stream with this many still waiting is not one; its requests would pile up unread.
        if (++this.waiting > MAX_REQUESTS_WAITING) {
          this.fail(new StreamError(GRPC.RESOURCE_EXHAUSTED, `more than ${MAX_REQUESTS_WAITING} requests waiting to be handled on one stream: a proxy sends one request per response`, 'too_many_requests'));
          return;
        }
        defer(() => {
          this.waiting--;
          this.onData(req);
        });
      });
      call.on('end', () => defer(() => this.close(null)));
    } else {
      call.on('data', (req: unknown) => this.onData(req));
      call.on('end', () => this.close(null));
    }
    call.on('error', (err: unknown) => {
      if (this.debugEnabled()) this.log.debug({ err }, 'stream error');
      this.close(null);
    });
    call.on('cancelled', () => this.close(null));
    call.on('close', () => this.close(null));
    call.on('drain', () => {
      this.blocked = false;
      // What waited for the drain is written in the shared slices too (a drain after a big push
      // to every proxy comes for each of them in the same turn).
      if (defer) defer(() => this.flush());
      else this.flush();
    });
  }

  /** This stream's logger: stream id, variant, service, and the node once it is known. */
  protected get log(): Logger {
    if (!this.logger) {
      const bindings: Record<string, unknown> = { stream: this.id, variant: this.variant, service: this.service };
      if (this.nodeKnown) {
        bindings['node'] = this.node.id;
        bindings['cluster'] = this.node.cluster;
      }
      this.logger = this.deps.log.child(bindings);
    }
    return this.logger;
  }

  /** Per-stream and per-response events are logged at debug; check before building them. */
  protected debugEnabled(): boolean {
    return this.deps.log.isLevelEnabled('debug');
  }

  /** Types this stream may serve, in push order. */
  protected typesInOrder(): readonly TypeUrl[] {
    return this.fixedType ? [this.fixedType] : ADS_ORDER;
  }

  protected abstract handleRequest(req: Record<string, unknown>): void;
  /** Build and write every due response, in ADS order. */
  protected abstract flush(): void;
  protected abstract onSnapshot(update: SnapshotUpdate): void;
  protected abstract typeStatus(): Record<string, TypeStatus>;

  private onData(req: unknown): void {
    if (this.closed) return;
    try {
      if (!req || typeof req !== 'object' || 'decodeError' in req) {
        const why = req && typeof req === 'object' && 'decodeError' in req ? String((req as { decodeError: unknown }).decodeError) : 'empty request';
        throw new StreamError(GRPC.INVALID_ARGUMENT, `malformed discovery request: ${why}`, 'bad_request');
      }
      const r = req as Record<string, unknown>;
      if (!this.unwatch) this.start(r);
      this.handleRequest(r);
      this.flush();
    } catch (err) {
      if (err instanceof StreamError) this.fail(err);
      else {
        this.log.error({ err }, 'bug while handling a discovery request');
        this.fail(new StreamError(GRPC.INTERNAL, 'internal error', 'internal'));
      }
    }
  }

  private start(first: Record<string, unknown>): void {
    const n = (first['node'] ?? {}) as Record<string, unknown>;
    const ua = [n['user_agent_name'], n['user_agent_version'] ?? userAgentBuildVersion(n['user_agent_build_version'])]
      .filter((x) => typeof x === 'string' && x !== '')
      .join('/');
    this.node = {
      id: typeof n['id'] === 'string' ? n['id'] : '',
      cluster: typeof n['cluster'] === 'string' ? n['cluster'] : '',
      userAgent: ua,
      metadata: structToPlain(n['metadata']),
    };
    this.logger = null; // from now on with the node's id and cluster
    // Per-stream lifecycle events are debug: at info, thousands of proxies connecting at once
    // cost more in logging than in serving them. /status and meshgate_xds_streams show them.
    this.nodeKnown = true;
    if (this.debugEnabled()) this.log.debug({ peer: this.peer, userAgent: ua }, 'proxy connected');
    this.unwatch = this.deps.cache.watch(this);
    if (this.deps.cache.groupFor(this) === undefined) {
      // Nothing is sent until a configuration names this proxy; say so instead of waiting silently.
      this.log.warn(
        { groups: this.deps.cache.groups().slice(0, 20) },
        'no configuration for this proxy yet: its node cluster (gateway name, or service name) and node id (instance id) match no proxy in the current configuration',
      );
    }
  }

  onUpdate(update: SnapshotUpdate): void {
    if (this.closed) return;
    this.snapshot = update.snapshot;
    this.snapshotSetAt = update.setAt;
    this.onSnapshot(update);
    // start() registers the watch before the first request's subscription is processed;
    // handleRequest's own flush covers that case.
    if (this.unwatch) this.flush();
  }

  /**
   * Endpoint assignments of clusters just added by a CDS push that have not been sent yet.
   * While any is pending, LDS and RDS wait (ADS only): a route naming a cluster that is still
   * warming answers 503 (no_cluster). Envoy asks for a new cluster's endpoints only after it
   * has processed the CDS, so they cannot simply be sent first. A CDS NACK or WARM_WAIT_MS
   * releases the wait.
   */
  private readonly warming = new Set<string>();
  private warmTimer: NodeJS.Timeout | null = null;

  protected startWarming(names: Iterable<string>): void {
    if (this.fixedType) return;
    for (const n of names) this.warming.add(n);
    if (this.warming.size > 0 && !this.warmTimer) {
      this.warmTimer = setTimeout(() => {
        this.warmTimer = null;
        if (this.warming.size > 0) {
          this.log.warn({ endpoints: [...this.warming].slice(0, 10) }, 'proxy did not ask for the endpoints of new clusters in time; sending listeners and routes anyway');
          this.warming.clear();
          this.flush();
        }
      }, WARM_WAIT_MS);
      this.warmTimer.unref?.();
    }
  }

  protected endWarming(names: Iterable<string> | 'all'): void {
    if (this.warming.size === 0 && !this.warmTimer) return;
    if (names === 'all') this.warming.clear();
    else for (const n of names) this.warming.delete(n);
    if (this.warming.size === 0 && this.warmTimer) {
      clearTimeout(this.warmTimer);
      this.warmTimer = null;
    }
  }

  /** LDS and RDS wait while new clusters' endpoints are still to be sent. */
  protected heldForWarming(t: TypeUrl): boolean {
    return this.warming.size > 0 && (t === TYPE.LISTENER || t === TYPE.ROUTE);
  }

  private secretDecision: { group: string | undefined; ok: boolean } | null = null;

  /** Whether this stream may receive its group's secrets (decided once per group). */
  protected maySendSecrets(): boolean {
    const policy = this.deps.secretPolicy;
    if (!policy) return true;
    const group = this.deps.cache.groupFor(this);
    if (!this.secretDecision || this.secretDecision.group !== group) {
      this.secretDecision = { group, ok: policy(this.node, group).ok };
    }
    return this.secretDecision.ok;
  }

  protected nextNonce(): string {
    return String(++this.nonceCounter);
  }

  protected get writable(): boolean {
    return !this.closed && !this.blocked;
  }

  /** Write one response. Returns false if the stream is gone. */
  protected write(typeUrl: TypeUrl, bytes: ResponseBytes): boolean {
    if (this.closed) return false;
    if (bytes.length > this.deps.limits.maxSendBytes) {
      this.log.error(
        { type: shortName(typeUrl), bytes: bytes.length, limit: this.deps.limits.maxSendBytes },
        'response exceeds the maximum message size; ending the stream (raise --max-message-bytes on meshgate and the proxy, or split the configuration)',
      );
      this.fail(new StreamError(GRPC.RESOURCE_EXHAUSTED, `${shortName(typeUrl)} response of ${bytes.length} bytes exceeds the server's limit of ${this.deps.limits.maxSendBytes} bytes`, 'too_large'));
      return false;
    }
    this.deps.metrics.countPush(shortName(typeUrl), this.variant, bytes.length);
    // write() returns false once the HTTP/2 stream's buffer is past its limit (a big push, or a
    // peer that stopped reading); 'drain' resumes. A stall is detected from the write's
    // completion: a message that stays unsent (HTTP/2 flow control exhausted) for
    // stallTimeoutMs ends the stream.
    this.pendingWrites++;
    const ok = this.call.write(bytes, () => this.written());
    if (!ok) this.blocked = true;
    if (this.pendingWrites > 0 && !this.stallTimer) {
      this.stallTimer = setTimeout(() => {
        this.fail(new StreamError(GRPC.UNAVAILABLE, `proxy stopped reading for ${this.deps.limits.stallTimeoutMs} ms`, 'stalled'));
      }, this.deps.limits.stallTimeoutMs);
      this.stallTimer.unref?.();
    }
    return true;
  }

  private written(): void {
    this.pendingWrites = Math.max(0, this.pendingWrites - 1);
    if (this.pendingWrites === 0 && this.stallTimer) {
      clearTimeout(this.stallTimer);
      this.stallTimer = null;
    }
  }

  protected recordAck(typeUrl: TypeUrl, inflight: InflightResponse): void {
    this.deps.metrics.countAck(shortName(typeUrl), this.variant, inflight.snapshotSetAt !== null ? (performance.now() - inflight.snapshotSetAt) / 1000 : null);
  }

  protected recordNack(typeUrl: TypeUrl, inflight: InflightResponse, errorDetail: Record<string, unknown>): NackRecord {
    const message = typeof errorDetail['message'] === 'string' ? errorDetail['message'] : '';
    const rec: NackRecord = {
      nodeId: this.node.id,
      cluster: this.node.cluster,
      type: shortName(typeUrl),
      version: inflight.version,
      resources: inflight.names.slice(0, 50),
      message: message.slice(0, 4096),
      at: new Date().toISOString(),
    };
    this.deps.metrics.nacks.inc({ type: rec.type, variant: this.variant });
    this.deps.board.recordNack(rec);
    this.log.warn({ type: rec.type, version: rec.version, resources: rec.resources, message: rec.message }, 'proxy rejected configuration (NACK); it will not be resent, fix the input');
    return rec;
  }

  /** Check a request's type URL against the served types; returns null to ignore it. */
  protected requestType(typeUrl: unknown, served: (t: string) => t is TypeUrl): TypeUrl | null {
    const t = typeof typeUrl === 'string' ? typeUrl : '';
    if (this.fixedType) {
      if (t === '' || t === this.fixedType) return this.fixedType;
      throw new StreamError(GRPC.INVALID_ARGUMENT, `type_url ${t} does not belong to ${this.service}`, 'bad_request');
    }
    if (t === '') throw new StreamError(GRPC.INVALID_ARGUMENT, 'ADS requests must set type_url', 'bad_request');
    if (!served(t)) {
      if (!this.unknownTypesLogged.has(t) && this.unknownTypesLogged.size < 16) {
        this.unknownTypesLogged.add(t);
        this.log.warn({ type: t }, 'proxy asked for a resource type meshgate does not serve; ignoring');
      }
      return null;
    }
    return t;
  }

  protected checkNameCount(n: number): void {
    if (n > this.deps.limits.maxNamesPerType) {
      throw new StreamError(GRPC.RESOURCE_EXHAUSTED, `too many resource names (${n} > ${this.deps.limits.maxNamesPerType})`, 'too_many_names');
    }
  }

  protected fail(err: StreamError): void {
    if (this.closed) return;
    this.deps.metrics.streamErrors.inc({ reason: err.reason });
    this.log.warn({ code: err.code, reason: err.reason }, err.message);
    this.call.emit('error', { code: err.code, details: err.message });
    this.close(err);
  }

  private close(_err: StreamError | null): void {
    if (this.closed) return;
    this.endWarming('all');
    this.closed = true;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    this.unwatch?.();
    this.unwatch = null;
    this.deps.board.remove(this);
    this.deps.metrics.streams.dec({ service: this.service, variant: this.variant });
    if (this.debugEnabled()) this.log.debug('stream closed');
    this.releaseState();
  }

  /** Drop per-type state so a closed stream holds no memory. */
  protected abstract releaseState(): void;

  status(): StreamStatus {
    return {
      streamId: this.id,
      nodeId: this.node.id,
      cluster: this.node.cluster,
      userAgent: this.node.userAgent,
      group: this.deps.cache.groupFor(this) ?? null,
      variant: this.variant,
      service: this.service,
      peer: this.peer,
      connectedAt: this.connectedAt.toISOString(),
      types: this.typeStatus(),
    };
  }
}

/** google.protobuf.Struct as decoded (fields → Value) to plain JSON; either field spelling. */
export function structToPlain(s: unknown): Record<string, unknown> {
  const fields = s && typeof s === 'object' ? ((s as Record<string, unknown>)['fields'] as Record<string, unknown> | undefined) : undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields ?? {})) out[k] = valueToPlain(v);
  return out;
}

function valueToPlain(v: unknown): unknown {
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  const pick = (a: string, b: string): unknown => (a in o ? o[a] : o[b]);
  const str = pick('stringValue', 'string_value');
  if (str !== undefined) return str;
  const num = pick('numberValue', 'number_value');
  if (num !== undefined) return num;
  const b = pick('boolValue', 'bool_value');
  if (b !== undefined) return b;
  const st = pick('structValue', 'struct_value');
  if (st !== undefined) return structToPlain(st);
  const list = pick('listValue', 'list_value') as { values?: unknown[] } | undefined;
  if (list !== undefined) return (list.values ?? []).map(valueToPlain);
  return null;
}

function userAgentBuildVersion(v: unknown): string | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const ver = (v as { version?: { major_number?: number; minor_number?: number; patch?: number } }).version;
  if (!ver) return undefined;
  return `${ver.major_number ?? 0}.${ver.minor_number ?? 0}.${ver.patch ?? 0}`;
}
