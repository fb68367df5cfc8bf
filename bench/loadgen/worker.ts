// A load generator worker: many simulated Envoys in one process, each with its own HTTP/2
// connection and one ADS stream (transport.ts: node:http2 by default, or grpc-js), SotW or Delta. Each follows
// Envoy's order: CDS wildcard → EDS for the clusters received → LDS wildcard once clusters
// are warm → RDS for the route configurations the listeners name → SDS for the secrets that
// clusters and listeners name; it ACKs every response at once and re-subscribes when the
// references change. Responses stay raw Buffers; only the outer message is read, plus the
// reference fields of clusters and listeners (bench/lib/wire.ts).
//
// Started by loadgen.ts with child_process.fork; speaks protocol.ts over IPC.
import { clusterRefs, type DecodedResponse, decodeDeltaResponse, decodeSotwResponse, encodeDeltaRequest, encodeNode, encodeSotwRequest, listenerRefs, maxEndpointPort, type NodeSpec, type Refs } from '../lib/wire.js';
import { NO_REFS, RefIndex, type RefSummary, summarize } from './ref-index.js';
import { type AdsTransport, openTransport, type TransportKind } from './transport.js';
import { CDS, type ClientReport, EDS, HIST_BUCKETS, histBucket, LDS, type MarkerReport, type MarkerSpec, type Mode, nowMs, type ParentMsg, RDS, SDS, TYPES, typeIndex, type WorkerMsg } from './protocol.js';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService';

function send(msg: WorkerMsg): void {
  process.send?.(msg);
}

let workerIndex = -1;
let mode: Mode = 'sotw';
let transport: TransportKind = 'http2';
let target = '';
let markers: MarkerState | null = null;
const envoys: SimEnvoy[] = [];
let lastActivity = 0;

// --- the current measurement window and await -------------------------------------------
let windowSince = Number.POSITIVE_INFINITY;
let awaitState: { id: number; mask: number; satisfied: number } | null = null;

/**
 * Responses are shared by many simulated proxies (same resources, same content-hash
 * versions), so what their references are is worked out once per worker: SotW by (type,
 * version_info), Delta by (type, resource name, resource version).
 */
const sotwRefCache = new Map<string, RefSummary>();
const deltaRefCache = new Map<string, Refs>();
function bounded<K, V>(m: Map<K, V>, k: K, v: V): V {
  if (m.size > 50_000) m.clear();
  m.set(k, v);
  return v;
}

function sameSorted(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  if (b.length === 0) return a as string[];
  if (a.length === 0) return b as string[];
  return [...new Set([...a, ...b])].sort();
}

class SimEnvoy {
  private stream: AdsTransport | null = null;
  private readonly node: Buffer;
  private nodeSent = false;
  readonly requested = [false, false, false, false, false];
  /** Current subscription (sorted) of EDS, RDS and SDS; CDS and LDS are wildcard. */
  readonly subs: string[][] = [[], [], [], [], []];
  readonly awaiting = [false, false, false, false, false];
  private readonly ackedVersion = ['', '', '', '', ''];
  private readonly lastNonce = ['', '', '', '', ''];
  private cdsRefs: RefSummary = NO_REFS;
  private ldsRefs: RefSummary = NO_REFS;
  /** Delta: what each held cluster / listener refers to. */
  private clusters: RefIndex | null = null;
  private listeners: RefIndex | null = null;
  /** Markers (churn): last round seen per marked name. */
  private readonly rounds: Int32Array | null;
  // figures
  connectAt = Number.NaN;
  syncedAt = Number.NaN;
  readonly firstAck = [Number.NaN, Number.NaN, Number.NaN, Number.NaN, Number.NaN];
  readonly acks = [0, 0, 0, 0, 0];
  bytes = 0;
  responses = 0;
  readonly winLastAck = [Number.NaN, Number.NaN, Number.NaN, Number.NaN, Number.NaN];
  readonly winAcks = [0, 0, 0, 0, 0];
  winBytes = 0;
  ended: { code: number; details: string } | null = null;
  satisfiedFor = -1;

  constructor(readonly spec: NodeSpec) {
    this.node = encodeNode(spec);
    this.rounds = markers ? new Int32Array(markers.spec.names.length).fill(-1) : null;
  }

  connect(): void {
    this.connectAt = nowMs();
    this.stream = openTransport(transport, target, `${ADS}/${mode === 'sotw' ? 'StreamAggregatedResources' : 'DeltaAggregatedResources'}`, {
      onMessage: (buf) => {
        try {
          this.onResponse(buf);
        } catch (err) {
          send({ ev: 'error', worker: workerIndex, message: `${this.spec.id}: ${err instanceof Error ? err.stack : String(err)}` });
        }
      },
      onEnd: (status) => {
        this.ended = status;
      },
    });
    this.request(CDS, []);
  }

  private write(buf: Buffer): void {
    this.stream?.write(buf);
  }

  /** Subscribe type `t` to `names` (sorted; [] = wildcard for CDS/LDS). */
  private request(t: number, names: string[]): void {
    const first = !this.requested[t];
    const old = this.subs[t]!;
    const node = this.nodeSent ? null : this.node;
    this.nodeSent = true;
    if (mode === 'sotw') {
      this.write(encodeSotwRequest({ node, typeUrl: TYPES[t]!, versionInfo: this.ackedVersion[t], names, nonce: this.lastNonce[t] }));
      // A first request is always answered; a changed one when it adds names.
      this.awaiting[t] = first || names.some((n) => !old.includes(n));
    } else {
      const oldSet = new Set(old);
      const newSet = new Set(names);
      const subscribe = names.filter((n) => !oldSet.has(n));
      const unsubscribe = old.filter((n) => !newSet.has(n));
      this.write(encodeDeltaRequest({ node, typeUrl: TYPES[t]!, subscribe, unsubscribe }));
      this.awaiting[t] = first || subscribe.length > 0;
    }
    this.requested[t] = true;
    this.subs[t] = names;
  }

  /** SotW CDS/LDS: the references of the whole set, from the cache when this version was seen. */
  private sotwRefs(ti: number, buf: Buffer, version: string): RefSummary {
    const key = `${ti}\0${version}`;
    const hit = version ? sotwRefCache.get(key) : undefined;
    if (hit) return hit;
    const res = decodeSotwResponse(buf, true);
    const refs: Refs[] = res.resources.map((r) => (ti === CDS ? clusterRefs(buf, r.any!.start, r.any!.end) : listenerRefs(buf, r.any!.start, r.any!.end)));
    const sum = summarize(refs, ti === CDS ? 'cds' : 'lds');
    return version ? bounded(sotwRefCache, key, sum) : sum;
  }

  private onResponse(buf: Buffer): void {
    const t0 = nowMs();
    lastActivity = t0;
    const ti = typeIndex(peekTypeUrl(buf));
    if (ti < 0) return;
    const withMarkers = ti === EDS && this.rounds !== null;
    let res: DecodedResponse;
    if (mode === 'sotw') {
      res = decodeSotwResponse(buf, withMarkers);
      if (ti === CDS) this.cdsRefs = this.sotwRefs(ti, buf, res.version);
      else if (ti === LDS) this.ldsRefs = this.sotwRefs(ti, buf, res.version);
    } else {
      res = decodeDeltaResponse(buf, ti === CDS || ti === LDS || withMarkers);
      if (ti === CDS || ti === LDS) {
        const held = ti === CDS ? (this.clusters ??= new RefIndex('cds')) : (this.listeners ??= new RefIndex('lds'));
        for (const r of res.resources) {
          const key = `${ti}\0${r.name}\0${r.version}`;
          let refs = r.version ? deltaRefCache.get(key) : undefined;
          if (!refs) {
            refs = ti === CDS ? clusterRefs(buf, r.any!.start, r.any!.end) : listenerRefs(buf, r.any!.start, r.any!.end);
            if (r.version) bounded(deltaRefCache, key, refs);
          }
          held.put(r.name, refs);
        }
        for (const n of res.removed) held.remove(n);
        if (ti === CDS) this.cdsRefs = held.current();
        else this.ldsRefs = held.current();
      }
    }
    this.bytes += buf.length;
    this.responses++;
    // ACK at once.
    if (mode === 'sotw') this.write(encodeSotwRequest({ typeUrl: res.typeUrl, versionInfo: res.version, names: this.subs[ti], nonce: res.nonce }));
    else this.write(encodeDeltaRequest({ typeUrl: res.typeUrl, nonce: res.nonce }));
    this.ackedVersion[ti] = res.version;
    this.lastNonce[ti] = res.nonce;
    this.awaiting[ti] = false;
    const t = nowMs();
    if (this.acks[ti] === 0) this.firstAck[ti] = t;
    this.acks[ti]!++;
    if (t0 >= windowSince) {
      this.winLastAck[ti] = t;
      this.winAcks[ti]!++;
      this.winBytes += buf.length;
    }
    if (withMarkers && markers) markers.observe(this.rounds!, buf, res, t);
    this.followReferences();
    if (Number.isNaN(this.syncedAt) && this.isSynced()) this.syncedAt = t;
    if (awaitState && this.satisfiedFor !== awaitState.id && this.satisfies(awaitState.mask)) {
      this.satisfiedFor = awaitState.id;
      awaitState.satisfied++;
      if (awaitState.satisfied === envoys.length) send({ ev: 'satisfied', id: awaitState.id, worker: workerIndex, at: t });
    }
  }

  /** Subscribe to what the clusters and listeners now name, in Envoy's order. */
  private followReferences(): void {
    const want = (t: number, names: string[]): void => {
      if (!this.requested[t] ? names.length > 0 : !sameSorted(names, this.subs[t]!)) this.request(t, names);
    };
    if (this.acks[CDS]! > 0) want(EDS, this.cdsRefs.names);
    // LDS once the clusters are warm (their endpoints arrived), like Envoy's init sequence.
    if (!this.requested[LDS] && this.acks[CDS]! > 0 && (!this.requested[EDS] || this.acks[EDS]! > 0)) this.request(LDS, []);
    if (this.acks[LDS]! > 0) want(RDS, this.ldsRefs.names);
    if (this.acks[CDS]! > 0) want(SDS, mergeSorted(this.cdsRefs.secrets, this.ldsRefs.secrets));
  }

  private isSynced(): boolean {
    if (!this.requested[LDS]) return false;
    for (let t = 0; t < 5; t++) {
      if (this.awaiting[t]) return false;
      if (this.requested[t] && this.acks[t] === 0) return false;
    }
    return true;
  }

  /** Every type of `mask` ACKed in the window and nothing awaited (mask 0: synced). */
  satisfies(mask: number): boolean {
    if (mask === 0) return !Number.isNaN(this.syncedAt);
    for (let t = 0; t < 5; t++) {
      if (this.awaiting[t]) return false;
      if (mask & (1 << t) && this.winAcks[t] === 0) return false;
    }
    return true;
  }

  resetWindow(): void {
    this.winLastAck.fill(Number.NaN);
    this.winAcks.fill(0);
    this.winBytes = 0;
  }

  report(): ClientReport {
    return {
      id: this.spec.id,
      connectAt: this.connectAt,
      syncedAt: this.syncedAt,
      firstAck: [...this.firstAck],
      acks: [...this.acks],
      bytes: this.bytes,
      responses: this.responses,
      winLastAck: [...this.winLastAck],
      winAcks: [...this.winAcks],
      winBytes: this.winBytes,
      ended: this.ended,
    };
  }

  close(): void {
    this.stream?.close();
    this.stream = null;
  }
}

/** The type URL of a response without decoding the rest (field 4 in both variants). */
function peekTypeUrl(buf: Buffer): string {
  // Responses put resources (field 2) before type_url (4); scan fields, skipping bodies.
  let pos = 0;
  while (pos < buf.length) {
    let tag = 0;
    let mul = 1;
    for (;;) {
      const b = buf[pos++]!;
      tag += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 128;
    }
    const wt = tag & 7;
    const field = Math.floor(tag / 8);
    if (wt === 0) {
      while (buf[pos++]! >= 0x80);
      continue;
    }
    if (wt !== 2) return '';
    let len = 0;
    mul = 1;
    for (;;) {
      const b = buf[pos++]!;
      len += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 128;
    }
    if (field === 4) return buf.toString('utf8', pos, pos + len);
    pos += len;
  }
  return '';
}

/** Churn staleness: when each client first holds each change (marker rounds in EDS). */
class MarkerState {
  private readonly index = new Map<string, number>();
  /** Last bytes seen per name in this worker, and their marker: identical bytes are not walked again. */
  private readonly seen = new Map<string, { bytes: Buffer; port: number }>();
  private writeTimes = new Float64Array(1024).fill(Number.NaN);
  private pending: number[] = [];
  readonly hist = new Uint32Array(HIST_BUCKETS);
  count = 0;
  max = 0;
  sum = 0;

  constructor(readonly spec: MarkerSpec) {
    spec.names.forEach((n, i) => this.index.set(n, i));
  }

  observe(rounds: Int32Array, buf: Buffer, res: DecodedResponse, t: number): void {
    const n = this.spec.names.length;
    for (const r of res.resources) {
      if (!r.any) continue;
      const s = this.index.get(r.name);
      if (s === undefined) continue;
      const len = r.any.end - r.any.start;
      const cached = this.seen.get(r.name);
      let port: number;
      if (cached && cached.bytes.length === len && buf.compare(cached.bytes, 0, len, r.any.start, r.any.end) === 0) port = cached.port;
      else {
        port = maxEndpointPort(buf, r.any.start, r.any.end);
        this.seen.set(r.name, { bytes: Buffer.from(buf.subarray(r.any.start, r.any.end)), port });
      }
      const round = port >= this.spec.base ? port - this.spec.base : -1;
      for (let k = rounds[s]! + 1; k <= round; k++) this.record(k * n + s, t);
      if (round > rounds[s]!) rounds[s] = round;
    }
  }

  private record(change: number, t: number): void {
    if (change < this.spec.ignoreBelow) return;
    const w = change < this.writeTimes.length ? this.writeTimes[change]! : Number.NaN;
    if (Number.isNaN(w)) {
      this.pending.push(change, t);
      return;
    }
    this.add(t - w);
  }

  private add(ms: number): void {
    const v = Math.max(0, ms);
    this.hist[histBucket(v)]!++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  writes(from: number, to: number, t: number): void {
    if (to > this.writeTimes.length) {
      const grown = new Float64Array(Math.max(to, this.writeTimes.length * 2)).fill(Number.NaN);
      grown.set(this.writeTimes);
      this.writeTimes = grown;
    }
    this.writeTimes.fill(t, from, to);
    if (this.pending.length) {
      const still: number[] = [];
      for (let i = 0; i < this.pending.length; i += 2) {
        const c = this.pending[i]!;
        const w = c < this.writeTimes.length ? this.writeTimes[c]! : Number.NaN;
        if (Number.isNaN(w)) still.push(c, this.pending[i + 1]!);
        else this.add(this.pending[i + 1]! - w);
      }
      this.pending = still;
    }
  }

  /** Start a new measurement (the histogram; pending changes stay pending). */
  reset(): void {
    this.hist.fill(0);
    this.count = 0;
    this.max = 0;
    this.sum = 0;
  }

  report(): MarkerReport {
    const hist: Array<[number, number]> = [];
    for (let i = 0; i < this.hist.length; i++) if (this.hist[i]) hist.push([i, this.hist[i]!]);
    return { hist, count: this.count, max: this.max, sum: this.sum, unresolved: this.pending.length / 2 };
  }
}

process.on('message', (raw: unknown) => {
  const msg = raw as ParentMsg;
  try {
    switch (msg.cmd) {
      case 'reset':
        for (const e of envoys) e.close();
        envoys.length = 0;
        markers = null;
        windowSince = Number.POSITIVE_INFINITY;
        awaitState = null;
        lastActivity = 0;
        send({ ev: 'ready', worker: workerIndex });
        break;
      case 'init':
        workerIndex = msg.worker;
        mode = msg.mode;
        target = msg.target;
        transport = msg.transport;
        markers = msg.markers ? new MarkerState(msg.markers) : null;
        sotwRefCache.clear();
        deltaRefCache.clear();
        for (const c of msg.clients) envoys.push(new SimEnvoy(c));
        send({ ev: 'ready', worker: workerIndex });
        break;
      case 'connect':
        for (const e of envoys) e.connect();
        send({ ev: 'connected', worker: workerIndex, at: nowMs() });
        break;
      case 'window':
        windowSince = msg.since;
        for (const e of envoys) e.resetWindow();
        markers?.reset();
        break;
      case 'await': {
        awaitState = { id: msg.id, mask: msg.mask, satisfied: 0 };
        for (const e of envoys) {
          if (e.satisfies(msg.mask)) {
            e.satisfiedFor = msg.id;
            awaitState.satisfied++;
          }
        }
        if (awaitState.satisfied === envoys.length) send({ ev: 'satisfied', id: msg.id, worker: workerIndex, at: nowMs() });
        break;
      }
      case 'query':
        send({
          ev: 'report',
          id: msg.id,
          worker: workerIndex,
          clients: envoys.map((e) => e.report()),
          cpu: process.cpuUsage(),
          rss: process.memoryUsage.rss(),
          markers: markers?.report() ?? null,
          lastActivity,
        });
        break;
      case 'writes':
        markers?.writes(msg.from, msg.to, msg.t);
        break;
      case 'close':
        for (const e of envoys) e.close();
        setTimeout(() => process.exit(0), 50).unref();
        process.disconnect?.();
        break;
    }
  } catch (err) {
    send({ ev: 'error', worker: workerIndex, message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});

process.on('disconnect', () => {
  for (const e of envoys) e.close();
  setTimeout(() => process.exit(0), 50).unref();
});
