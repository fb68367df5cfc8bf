// The load generator's parent side: forks worker processes (worker.ts), spreads simulated
// Envoys over them, and gathers what they measured. The parent and its workers inherit the
// runner's CPU affinity (the runner pins itself to core 1; servers run on core 0).
//
//   const lg = await LoadGen.start({ target: '127.0.0.1:18000', mode: 'sotw', clients });
//   const t0 = await lg.connect();                 // every stream opens now
//   await lg.awaitAll(0, 60_000);                  // every proxy synced (all types ACKed)
//   const since = lg.window();                     // then change the model ...
//   await lg.awaitAll(typeMask(RDS), 10_000);      // ... every proxy ACKed the new RDS
//   const r = await lg.query();                    // per-proxy figures, worker CPU
//   await lg.close();
import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { NodeSpec } from '../lib/wire.js';
import type { TransportKind } from './transport.js';
import { type ClientReport, HIST_BUCKETS, histBucketEdge, type MarkerReport, type MarkerSpec, type Mode, nowMs, type ParentMsg, type WorkerMsg } from './protocol.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORKER = path.join(HERE, 'worker.ts');

export interface LoadGenOptions {
  target: string;
  mode: Mode;
  clients: NodeSpec[];
  /** Worker processes (default: 4, fewer if there are fewer clients). */
  workers?: number;
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

/** Idle worker processes kept by LoadGen.close() when pooling is on, reused by the next start(). */
const pool: ChildProcess[] = [];
let pooling = false;

export class LoadGen {
  private readonly workers: Worker[] = [];
  private nextId = 1;
  private readonly waiters = new Map<string, (m: WorkerMsg) => void>();
  private readonly errors: string[] = [];
  private closed = false;
  private readonly detach: Array<() => void> = [];

  private constructor(readonly opts: LoadGenOptions) {}

  /**
   * Keep worker processes between load generators (a suite starts dozens; each fork with the
   * TypeScript loader costs a few hundred ms). drainPool() ends them.
   */
  static setPooling(on: boolean): void {
    pooling = on;
  }

  static async drainPool(): Promise<void> {
    const exits = pool.splice(0).map(
      (child) =>
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
    const n = Math.max(1, Math.min(this.opts.workers ?? Math.min(4, os.cpus().length * 2), this.opts.clients.length));
    const shares: NodeSpec[][] = Array.from({ length: n }, () => []);
    this.opts.clients.forEach((c, i) => shares[i % n]!.push(c));
    const loader = tsxLoader();
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      let child = pool.pop();
      while (child && !child.connected) child = pool.pop();
      // LOADGEN_CPU_PROF=DIR profiles the workers themselves (node --cpu-prof).
      const prof = process.env['LOADGEN_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['LOADGEN_CPU_PROF']}`] : [];
      child ??= fork(WORKER, [], { execArgv: [...prof, '--import', loader], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const w: Worker = { child, index: i, clients: shares[i]!.length };
      this.workers.push(w);
      const onMessage = (m: WorkerMsg): void => this.onMessage(m);
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (!this.closed) this.errors.push(`worker ${i} exited (${code ?? signal})`);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
      this.detach.push(() => {
        child.off('message', onMessage);
        child.off('exit', onExit);
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
      for (const w of live) pool.push(w.child);
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
