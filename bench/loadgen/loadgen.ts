// The load generator's parent side: starts worker processes, spreads simulated Envoys over
// them, and gathers what they measured. The parent and its workers inherit the runner's CPU
// affinity (the runner pins itself to core 1; servers run on core 0).
//
// Two interchangeable workers speak protocol.ts: the Go worker (bench/loadgen-go, built by
// its build.sh; spawned with a JSON IPC channel) whenever its binary exists, else the Node
// worker (worker.ts, forked). LOADGEN_WORKER=go|node forces one; loadgenWorker() says which.
//
//   const lg = await LoadGen.start({ target: '127.0.0.1:18000', mode: 'sotw', clients });
//   const t0 = await lg.connect();                 // every stream opens now
//   await lg.awaitAll(0, 60_000);                  // every proxy synced (all types ACKed)
//   const since = lg.window();                     // then change the model ...
//   await lg.awaitAll(typeMask(RDS), 10_000);      // ... every proxy ACKed the new RDS
//   const r = await lg.query();                    // per-proxy figures, worker CPU
//   await lg.close();
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { NodeSpec } from '../lib/wire.js';
import type { TransportKind } from './transport.js';
import { type ClientReport, HIST_BUCKETS, histBucketEdge, type MarkerReport, type MarkerSpec, type Mode, nowMs, type ParentMsg, type WorkerMsg } from './protocol.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORKER = path.join(HERE, 'worker.ts');
/** The Go worker (bench/loadgen-go/build.sh). */
export const GO_WORKER_BIN = path.join(HERE, '..', 'loadgen-go', 'bin', 'loadgen-worker');

export type WorkerKind = 'go' | 'node';

/**
 * Go worker processes by default. One Go process runs 2000 simulated Envoys on one core
 * (GOMAXPROCS follows the runner's core-1 affinity); a second adds only scheduling (measured:
 * bench/README.md, "The load generator"). LOADGEN_GO_WORKERS overrides.
 */
export const GO_DEFAULT_WORKERS = 1;

/**
 * Which worker the load generator runs: LOADGEN_WORKER=go|node, else the Go worker when it
 * is built. Forcing go when it is not built is an error.
 */
export function loadgenWorker(forced?: WorkerKind): { kind: WorkerKind; processes: number | null; why: string } {
  const env = process.env['LOADGEN_WORKER'];
  const want = forced ?? (env === 'go' || env === 'node' ? env : undefined);
  if (env && env !== 'go' && env !== 'node') throw new Error(`LOADGEN_WORKER=${env}: expected go or node`);
  const built = fs.existsSync(GO_WORKER_BIN);
  if (want === 'go' && !built) throw new Error(`the Go load generator worker is not built (${path.relative(process.cwd(), GO_WORKER_BIN)} is missing): run bench/loadgen-go/build.sh`);
  // grpc-js transport: the Node worker only.
  const grpcJs = !want && process.env['LOADGEN_TRANSPORT'] === 'grpc-js';
  const kind: WorkerKind = want ?? (built && !grpcJs ? 'go' : 'node');
  const why = forced ? 'requested' : want ? `LOADGEN_WORKER=${want}` : grpcJs ? 'LOADGEN_TRANSPORT=grpc-js' : built ? 'built' : 'Go worker not built';
  return { kind, processes: kind === 'go' ? goWorkers() : null, why };
}

/**
 * Build the Go worker (bench/loadgen-go/build.sh: fast when up to date) unless the Node one is
 * forced. No Go, or a failed build: the Node worker runs (LOADGEN_WORKER=node for this
 * process unless go was forced) and `log` says why.
 */
export function buildGoWorker(log: (m: string) => void): void {
  if (process.env['LOADGEN_WORKER'] === 'node') return;
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) {
    if (!fs.existsSync(GO_WORKER_BIN)) log('load generator: Go is not installed: using the Node worker');
    return;
  }
  const r = spawnSync('bash', [path.join(HERE, '..', 'loadgen-go', 'build.sh')], { encoding: 'utf8', timeout: 300_000 });
  if (r.status === 0) return;
  log(`load generator: bench/loadgen-go/build.sh failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim().slice(-1000)}`);
  if (process.env['LOADGEN_WORKER'] !== 'go') {
    process.env['LOADGEN_WORKER'] = 'node';
    log('load generator: falling back to the Node worker');
  }
}

function goWorkers(): number {
  const n = Number(process.env['LOADGEN_GO_WORKERS'] ?? GO_DEFAULT_WORKERS);
  return Number.isInteger(n) && n > 0 ? n : GO_DEFAULT_WORKERS;
}

export interface LoadGenOptions {
  target: string;
  mode: Mode;
  clients: NodeSpec[];
  /** Node worker processes (default: 4, fewer if there are fewer clients). The Go worker ignores it: see goWorkers. */
  workers?: number;
  /** Go worker processes (default: LOADGEN_GO_WORKERS or GO_DEFAULT_WORKERS). */
  goWorkers?: number;
  /** Which worker (default: loadgenWorker(): the Go one when built, LOADGEN_WORKER forces). grpc-js transport: Node only. */
  worker?: WorkerKind;
  markers?: MarkerSpec | null;
  /** How each simulated Envoy connects (default: LOADGEN_TRANSPORT or http2; see transport.ts). */
  transport?: TransportKind;
}

export interface LoadGenReport {
  clients: ClientReport[];
  /** Summed over workers: CPU microseconds (user + system) since each started. */
  cpuMicros: number;
  rssBytes: number;
  markers: MarkerReport | null;
  lastActivity: number;
}

export function tsxLoader(): string {
  const req = createRequire(import.meta.url);
  return pathToFileURL(req.resolve('tsx')).href;
}

interface Worker {
  child: ChildProcess;
  index: number;
  clients: number;
}

interface Pooled {
  child: ChildProcess;
  kind: WorkerKind;
}

/** Idle worker processes kept by LoadGen.close() when pooling is on, reused by the next start() of the same kind. */
const pool: Pooled[] = [];
let pooling = false;

export class LoadGen {
  private readonly workers: Worker[] = [];
  private nextId = 1;
  private readonly waiters = new Map<string, (m: WorkerMsg) => void>();
  private readonly errors: string[] = [];
  private closed = false;
  private readonly detach: Array<() => void> = [];

  /** Which worker this load generator runs (grpc-js transport: the Node worker only). */
  readonly kind: WorkerKind;

  private constructor(readonly opts: LoadGenOptions) {
    this.kind = opts.worker ?? (opts.transport === 'grpc-js' ? 'node' : loadgenWorker().kind);
  }

  /**
   * Keep worker processes between load generators (a suite starts dozens; each fork with the
   * TypeScript loader costs a few hundred ms). drainPool() ends them.
   */
  static setPooling(on: boolean): void {
    pooling = on;
  }

  static async drainPool(): Promise<void> {
    const exits = pool.splice(0).map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 5000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          if (child.connected) child.send({ cmd: 'close' } satisfies ParentMsg);
          else child.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
  }

  static async start(opts: LoadGenOptions): Promise<LoadGen> {
    const lg = new LoadGen(opts);
    await lg.spawn();
    return lg;
  }

  get errorMessages(): readonly string[] {
    return this.errors;
  }

  private async spawn(): Promise<void> {
    const go = this.kind === 'go';
    if (go) loadgenWorker('go'); // throws if not built
    const wanted = go ? (this.opts.goWorkers ?? goWorkers()) : (this.opts.workers ?? Math.min(4, os.cpus().length * 2));
    const n = Math.max(1, Math.min(wanted, this.opts.clients.length));
    const shares: NodeSpec[][] = Array.from({ length: n }, () => []);
    this.opts.clients.forEach((c, i) => shares[i % n]!.push(c));
    const loader = go ? '' : tsxLoader();
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      let child = takePooled(this.kind)?.child;
      if (!child && go) {
        // JSON over Node's IPC channel (NODE_CHANNEL_FD): what a non-Node child can speak.
        child = spawn(GO_WORKER_BIN, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
      }
      // LOADGEN_CPU_PROF=DIR profiles the workers themselves (node --cpu-prof).
      const prof = process.env['LOADGEN_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['LOADGEN_CPU_PROF']}`] : [];
      child ??= fork(WORKER, [], { execArgv: [...prof, '--import', loader], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const w: Worker = { child, index: i, clients: shares[i]!.length };
      this.workers.push(w);
      const onMessage = (m: WorkerMsg): void => this.onMessage(go ? fromJson(m) : m);
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (!this.closed) this.errors.push(`worker ${i} exited (${code ?? signal})`);
      };
      const onError = (err: Error): void => {
        this.errors.push(`worker ${i}: ${err.message}`);
      };
      const c = child;
      c.on('message', onMessage);
      c.on('exit', onExit);
      c.on('error', onError);
      this.detach.push(() => {
        c.off('message', onMessage);
        c.off('exit', onExit);
        c.off('error', onError);
      });
      ready.push(this.expect(`ready:${i}`, 30_000).then(() => undefined));
      const transport = this.opts.transport ?? (process.env['LOADGEN_TRANSPORT'] === 'grpc-js' ? 'grpc-js' : 'http2');
      this.post(w, { cmd: 'init', worker: i, target: this.opts.target, mode: this.opts.mode, transport, clients: shares[i]!, markers: this.opts.markers ?? null });
    }
    await Promise.all(ready);
  }

  private onMessage(m: WorkerMsg): void {
    let key: string;
    switch (m.ev) {
      case 'ready':
        key = `ready:${m.worker}`;
        break;
      case 'connected':
        key = `connected:${m.worker}`;
        break;
      case 'satisfied':
        key = `satisfied:${m.id}:${m.worker}`;
        break;
      case 'report':
        key = `report:${m.id}:${m.worker}`;
        break;
      case 'error':
        if (this.errors.length < 20) this.errors.push(`worker ${m.worker}: ${m.message}`);
        return;
    }
    const w = this.waiters.get(key);
    if (w) {
      this.waiters.delete(key);
      w(m);
    }
  }

  private expect(key: string, timeoutMs: number): Promise<WorkerMsg> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new Error(`load generator: no ${key.split(':')[0]} within ${timeoutMs} ms${this.errors.length ? ` (${this.errors[0]})` : ''}`));
      }, timeoutMs);
      this.waiters.set(key, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  }

  private post(w: Worker, msg: ParentMsg): void {
    if (w.child.connected) w.child.send(msg);
  }

  private broadcast(msg: ParentMsg): void {
    for (const w of this.workers) this.post(w, msg);
  }

  /** Open every stream; resolves with the time the command went out (T0) once every worker has started its streams. */
  async connect(): Promise<number> {
    const waits = this.workers.map((w) => this.expect(`connected:${w.index}`, 60_000));
    const t0 = nowMs();
    this.broadcast({ cmd: 'connect' });
    await Promise.all(waits);
    return t0;
  }

  /** Start a measurement window now; returns its start time. */
  /**
   * Open a measurement window at `since` (default: now): only responses received from then on
   * count. A window set a little in the future, with the change applied once it has begun,
   * cannot count a push that was already on its way.
   */
  window(since = nowMs()): number {
    this.broadcast({ cmd: 'window', since });
    return since;
  }

  /**
   * Resolves (with the latest worker's time) when every client has ACKed every type in `mask`
   * within the window and awaits nothing (mask 0: every client synced). Rejects on timeout.
   */
  async awaitAll(mask: number, timeoutMs: number): Promise<number> {
    const id = this.nextId++;
    const waits = this.workers.map((w) => this.expect(`satisfied:${id}:${w.index}`, timeoutMs));
    this.broadcast({ cmd: 'await', id, mask });
    const ms = await Promise.all(waits);
    return Math.max(...ms.map((m) => (m.ev === 'satisfied' ? m.at : 0)));
  }

  /** Churn changes [from, to) written at time t. */
  writes(from: number, to: number, t: number): void {
    this.broadcast({ cmd: 'writes', from, to, t });
  }

  async query(timeoutMs = 30_000): Promise<LoadGenReport> {
    const id = this.nextId++;
    const waits = this.workers.map((w) => this.expect(`report:${id}:${w.index}`, timeoutMs));
    this.broadcast({ cmd: 'query', id });
    const reports = (await Promise.all(waits)).filter((m): m is Extract<WorkerMsg, { ev: 'report' }> => m.ev === 'report');
    const clients = reports.flatMap((r) => r.clients);
    let markers: MarkerReport | null = null;
    for (const r of reports) {
      if (!r.markers) continue;
      markers = mergeMarkers(markers, r.markers);
    }
    return {
      clients,
      cpuMicros: reports.reduce((s, r) => s + r.cpu.user + r.cpu.system, 0),
      rssBytes: reports.reduce((s, r) => s + r.rss, 0),
      markers,
      lastActivity: Math.max(0, ...reports.map((r) => r.lastActivity)),
    };
  }

  /** Wait until no response has arrived for `quietMs` (or `maxMs` passed). */
  async quiet(quietMs: number, maxMs: number): Promise<LoadGenReport> {
    const end = nowMs() + maxMs;
    for (;;) {
      const r = await this.query();
      const idle = nowMs() - r.lastActivity;
      if (idle >= quietMs || nowMs() >= end) return r;
      await new Promise((res) => setTimeout(res, Math.max(10, quietMs - idle)));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (pooling) {
      // Reset the workers and keep them for the next load generator.
      const live = this.workers.filter((w) => w.child.connected);
      const resets = live.map((w) => this.expect(`ready:${w.index}`, 10_000).catch(() => undefined));
      for (const w of live) this.post(w, { cmd: 'reset' });
      await Promise.all(resets);
      for (const d of this.detach) d();
      for (const w of live) pool.push({ child: w.child, kind: this.kind });
      return;
    }
    const exits = this.workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            w.child.kill('SIGKILL');
            resolve();
          }, 5000);
          w.child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    );
    this.broadcast({ cmd: 'close' });
    await Promise.all(exits);
  }
}

function takePooled(kind: WorkerKind): Pooled | undefined {
  for (let i = pool.length - 1; i >= 0; i--) {
    const p = pool[i]!;
    if (!p.child.connected) {
      pool.splice(i, 1);
      continue;
    }
    if (p.kind === kind) {
      pool.splice(i, 1);
      return p;
    }
  }
  return undefined;
}

/** The Go worker sends JSON, which has no NaN: null stands for the NaN worker.ts sends (unset times). */
function fromJson(m: WorkerMsg): WorkerMsg {
  if (m.ev !== 'report') return m;
  const nan = (v: number | null): number => (v === null ? Number.NaN : v);
  for (const c of m.clients) {
    c.connectAt = nan(c.connectAt);
    c.syncedAt = nan(c.syncedAt);
    c.firstAck = c.firstAck.map(nan);
    c.winLastAck = c.winLastAck.map(nan);
  }
  if (m.markers) {
    m.markers.max = nan(m.markers.max);
    m.markers.sum = nan(m.markers.sum);
  }
  m.lastActivity = nan(m.lastActivity);
  return m;
}

function mergeMarkers(a: MarkerReport | null, b: MarkerReport): MarkerReport {
  if (!a) return { ...b, hist: [...b.hist] };
  const m = new Map<number, number>(a.hist);
  for (const [k, v] of b.hist) m.set(k, (m.get(k) ?? 0) + v);
  return { hist: [...m].sort((x, y) => x[0] - y[0]), count: a.count + b.count, max: Math.max(a.max, b.max), sum: a.sum + b.sum, unresolved: a.unresolved + b.unresolved };
}

/** Percentile (0..100) of a sparse staleness histogram, in ms (the bucket's upper edge). */
export function histPercentile(m: MarkerReport, p: number): number {
  if (m.count === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * m.count);
  let seen = 0;
  for (const [bucket, n] of m.hist) {
    seen += n;
    if (seen >= rank) return bucket === HIST_BUCKETS - 1 ? m.max : Math.min(m.max, histBucketEdge(bucket));
  }
  return m.max;
}
