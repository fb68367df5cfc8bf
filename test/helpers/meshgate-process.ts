// The built meshgate CLI (bin/meshgate.js → dist/) as a child process, for end-to-end tests.
//
//   const mg = await startMeshgate({ files: { 'edge/all.yaml': yaml } });
//   mg.xdsPort, mg.adminPort; await mg.status(); await mg.writeFile('edge/all.yaml', other);
//   await mg.kill('SIGKILL'); await mg.restart();   // same dir, same ports
//
// On a model file instead of a resources dir:
//   const mg = await startMeshgateModel({ model: yamlText });   // <tmp>/mesh.yaml, serve -f
//   mg.writeModel(other); const rec = await mg.waitModel(other); // applied or rejected
//
// Needs `npm run build` first (the helper says so if dist/ is missing).
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, stopChild, tailFile, trackChild, waitFor } from './ports.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MESHGATE_BIN = path.join(REPO_ROOT, 'bin', 'meshgate.js');

export interface MeshgateStartOptions {
  /** Files to create under the resources dir: relative path (e.g. "edge/all.yaml") → content. */
  files?: Record<string, string>;
  /** What to serve: a resources dir (default) or the model file <dir>/mesh.yaml (`serve -f`). */
  input?: 'resources' | 'model';
  /** With input "model": the model text to write to <dir>/mesh.yaml before starting. */
  model?: string;
  /** Reuse this temp dir (its "res" folder is the resources dir) instead of a new one. */
  dir?: string;
  /** 0 (default) lets the OS choose; the chosen ports are read from the listening line. */
  xdsPort?: number;
  adminPort?: number;
  /**
   * Extra CLI arguments for `serve`. Without a `--state-dir` among them, meshgate keeps its CA
   * and token key in `<dir>/state` (kept across restart()), never in the repository.
   */
  args?: string[];
  logLevel?: string;
  /** Wait for /readyz to answer 200 (default true). */
  waitReady?: boolean;
  startTimeoutMs?: number;
}

// The shapes /status reports, from the source that produces them.
import type { LoadRecord as LoadRecordStatus } from '../../src/app/meshgate-app.js';
import type { StreamStatus as ProxyStatus, TypeStatus as ProxyTypeStatus } from '../../src/xds/status.js';
export type { LoadRecordStatus, ProxyStatus, ProxyTypeStatus };

/** sha256 hex of a text, as meshgate's contentHash of a model file. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface MeshgateStatus {
  meshgate: { ready: boolean; startedAt: string; source: string };
  /** lastAttempt is null when the last load is the applied one. */
  config: { applied: LoadRecordStatus | null; lastAttempt: LoadRecordStatus | null; groups: Array<{ name: string; version: string; resources: Record<string, number> }> };
  proxies: ProxyStatus[];
  recentNacks: Array<NonNullable<ProxyTypeStatus['lastNack']>>;
}

export class MeshgateProcess {
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly child: ChildProcess,
    /** Temp dir owned by this meshgate (and its restarts). */
    readonly dir: string,
    readonly xdsPort: number,
    readonly adminPort: number,
    readonly logPath: string,
    private readonly opts: MeshgateStartOptions,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  get resourcesDir(): string {
    return path.join(this.dir, 'res');
  }

  /** meshgate's --state-dir (CA, token key): the one given in args, else <dir>/state. */
  get stateDir(): string {
    return stateDirOf(this.dir, this.opts.args);
  }

  /** The model file (input "model"). */
  get modelPath(): string {
    return path.join(this.dir, 'mesh.yaml');
  }

  /** Replace the model file atomically (temp file + rename over it), as an editor would. */
  writeModel(text: string): void {
    writeAtomic(this.modelPath, text);
  }

  /**
   * Wait until meshgate's latest load of the model is `text` (by content hash), whether it
   * was applied or rejected, and return that load. A text equal to the applied one counts as
   * loaded once no other attempt is pending in /status.
   */
  async waitModel(text: string, timeoutMs = 15_000): Promise<LoadRecordStatus> {
    const want = contentHash(text);
    return waitFor(
      async () => {
        const { applied, lastAttempt } = (await this.status()).config;
        const latest = lastAttempt ?? applied;
        return latest?.contentHash === want ? latest : undefined;
      },
      timeoutMs,
      () => `meshgate to load the model ${want.slice(0, 12)}\n--- ${this.logPath}\n${tailFile(this.logPath)}`,
    );
  }

  get xdsAddress(): string {
    return `127.0.0.1:${this.xdsPort}`;
  }

  /** Write a resource file atomically (temp file + rename), as an editor would. */
  writeFile(rel: string, content: string): void {
    writeAtomic(path.join(this.resourcesDir, rel), content);
  }

  removeFile(rel: string): void {
    fs.rmSync(path.join(this.resourcesDir, rel), { force: true });
  }

  /** GET a path on the admin port. */
  get(p: string): Promise<{ status: number; body: string }> {
    return adminGet(this.adminPort, p);
  }

  async status(): Promise<MeshgateStatus> {
    const r = await this.get('/status');
    if (r.status !== 200) throw new Error(`meshgate /status answered ${r.status}: ${r.body}`);
    return JSON.parse(r.body) as MeshgateStatus;
  }

  /** The streams of one proxy (by node id) in /status. */
  async proxy(nodeId: string): Promise<ProxyStatus | undefined> {
    return (await this.status()).proxies.find((p) => p.nodeId === nodeId);
  }

  /** Prometheus metrics as a map: `name{label="v",...}` (labels as printed) → value. */
  async metrics(): Promise<Map<string, number>> {
    const r = await this.get('/metrics');
    if (r.status !== 200) throw new Error(`meshgate /metrics answered ${r.status}`);
    return parsePrometheus(r.body);
  }

  /** Sum of a metric over the series whose labels include every given label. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return sumMetric(await this.metrics(), name, labels);
  }

  async isReady(): Promise<boolean> {
    try {
      return (await this.get('/readyz')).status === 200;
    } catch {
      return false;
    }
  }

  async waitReady(timeoutMs = 15_000): Promise<void> {
    await waitFor(() => this.isReady(), timeoutMs, () => `meshgate /readyz on ${this.adminPort}\n--- ${this.logPath}\n${tailFile(this.logPath)}`);
  }

  /**
   * Wait until the proxy `nodeId` is connected and every type it subscribed to (or those
   * given) is ACKed at the version sent with nothing pending. Returns its status.
   */
  async waitConverged(nodeId: string, types: string[] = ['CDS', 'EDS', 'LDS', 'RDS'], timeoutMs = 15_000): Promise<ProxyStatus> {
    let last: ProxyStatus | undefined;
    return waitFor(
      async () => {
        const p = await this.proxy(nodeId);
        last = p;
        if (!p) return undefined;
        for (const t of types) {
          const s = p.types[t];
          if (!s || s.pending || s.versionSent === null || s.versionAcked !== s.versionSent) return undefined;
        }
        return p;
      },
      timeoutMs,
      // What the proxy last showed (a NACK's message names the cause), and meshgate's log.
      () => `proxy ${nodeId} to ACK ${types.join(',')} on meshgate; its status: ${last ? JSON.stringify(last.types) : 'not connected'}\n--- ${this.logPath}\n${this.logTail(15)}`,
    );
  }

  /** Send a signal and wait for the process to exit (SIGKILL after 5 s if it does not). */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.running) return this.exitInfo!;
    return stopChild(this.child, signal);
  }

  /** Start a new meshgate on the same dir and the same ports (stops this one first if running). */
  async restart(extra: Partial<MeshgateStartOptions> = {}): Promise<MeshgateProcess> {
    if (this.running) await this.kill('SIGTERM');
    return startMeshgate({ ...this.opts, files: undefined, model: undefined, ...extra, dir: this.dir, xdsPort: this.xdsPort, adminPort: this.adminPort });
  }

  logTail(lines = 40): string {
    return tailFile(this.logPath, lines);
  }
}

/** Spawn `node bin/meshgate.js serve` on a temp resources dir; resolves once it listens (and is ready). */
export async function startMeshgate(opts: MeshgateStartOptions = {}): Promise<MeshgateProcess> {
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'))) {
    throw new Error('meshgate is not built: run `npm run build` first');
  }
  warnIfStale();
  const dir = opts.dir ?? makeTempDir('meshgate-e2e-');
  const res = path.join(dir, 'res');
  const modelFile = path.join(dir, 'mesh.yaml');
  const input = opts.input ?? (opts.model !== undefined ? 'model' : 'resources');
  if (input === 'model') {
    if (opts.model !== undefined) writeAtomic(modelFile, opts.model);
  } else {
    fs.mkdirSync(res, { recursive: true });
    for (const [rel, content] of Object.entries(opts.files ?? {})) writeAtomic(path.join(res, rel), content);
  }

  // One log file per start, so a restart's log does not hide the previous one.
  let n = 0;
  while (fs.existsSync(path.join(dir, `meshgate.${n}.log`))) n++;
  const logPath = path.join(dir, `meshgate.${n}.log`);
  const logFd = fs.openSync(logPath, 'a');
  const args = [
    MESHGATE_BIN,
    'serve',
    ...(input === 'model' ? ['-f', modelFile] : ['--resources', res]),
    '--xds-listen',
    `127.0.0.1:${opts.xdsPort ?? 0}`,
    '--admin-listen',
    `127.0.0.1:${opts.adminPort ?? 0}`,
    '--log-level',
    opts.logLevel ?? 'debug',
    ...(opts.args?.includes('--state-dir') ? [] : ['--state-dir', stateDirOf(dir, opts.args)]),
    ...(opts.args ?? []),
  ];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', logFd], env: { ...process.env } });
  fs.closeSync(logFd);
  trackChild(child, dir);

  const listening = await new Promise<{ xdsPort: number; adminPort: number }>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => fail(new Error(`meshgate did not print its listening line within ${opts.startTimeoutMs ?? 15_000} ms`)), opts.startTimeoutMs ?? 15_000);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
      reject(new Error(`${err.message}\n--- ${logPath}\n${tailFile(logPath)}`));
    };
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const msg = JSON.parse(line) as { event?: string; xdsPort?: number; adminPort?: number };
          if (msg.event === 'listening' && typeof msg.xdsPort === 'number' && typeof msg.adminPort === 'number') {
            clearTimeout(timer);
            child.stdout!.off('data', onData);
            child.off('exit', onExit);
            child.stdout!.resume(); // keep draining
            resolve({ xdsPort: msg.xdsPort, adminPort: msg.adminPort });
            return;
          }
        } catch {
          /* not our line */
        }
      }
    };
    const onExit = (code: number | null, signal: string | null): void => fail(new Error(`meshgate exited before listening (code ${code}, signal ${signal})`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', (err) => fail(err));
  });
  const mg = new MeshgateProcess(child, dir, listening.xdsPort, listening.adminPort, logPath, opts);
  if (opts.waitReady !== false) await mg.waitReady(opts.startTimeoutMs ?? 15_000);
  return mg;
}

/** Spawn `node bin/meshgate.js serve -f <tmp>/mesh.yaml` with `model` as the file's text. */
export function startMeshgateModel(opts: Omit<MeshgateStartOptions, 'input' | 'files'> & { model: string }): Promise<MeshgateProcess> {
  return startMeshgate({ ...opts, input: 'model' });
}

/** The --state-dir in `args`, else `<dir>/state` (per meshgate temp dir: tests never share a CA). */
function stateDirOf(dir: string, args: string[] | undefined): string {
  const i = args?.indexOf('--state-dir') ?? -1;
  return i >= 0 && args![i + 1] ? path.resolve(REPO_ROOT, args![i + 1]!) : path.join(dir, 'state');
}

let staleChecked = false;

/** Say so (once) when a source file is newer than the build the tests are about to run. */
function warnIfStale(): void {
  if (staleChecked) return;
  staleChecked = true;
  const built = fs.statSync(path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')).mtimeMs;
  const newer: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && fs.statSync(p).mtimeMs > built) newer.push(path.relative(REPO_ROOT, p));
    }
  };
  walk(path.join(REPO_ROOT, 'src'));
  if (newer.length > 0) process.stderr.write(`e2e: dist/ is older than ${newer.slice(0, 5).join(', ')}: run \`npm run build\` to test the current source\n`);
}

export function writeAtomic(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

export function adminGet(port: number, p: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${p} on port ${port} timed out`)));
    req.on('error', reject);
  });
}

/** Parse Prometheus text exposition: `name{labels}` → value (comments skipped). */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*(?:\{.*\})?)\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    if (!Number.isNaN(v)) out.set(m[1]!, v);
  }
  return out;
}

/** Sum the series of metric `name` whose labels include every one of `labels`. */
export function sumMetric(metrics: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, v] of metrics) {
    const brace = key.indexOf('{');
    const n = brace < 0 ? key : key.slice(0, brace);
    if (n !== name) continue;
    const lbl = brace < 0 ? '' : key.slice(brace);
    if (Object.entries(labels).every(([k, val]) => lbl.includes(`${k}="${val}"`))) sum += v;
  }
  return sum;
}
