// The xDS servers under test, each a separate process pinned to one core (taskset -c 0):
// meshgate (node dist/src/cli/main.js serve -f FILE), the go-control-plane peer
// (bench/peer/bin/peer), and the stub server (bench/lib/stub-server.ts). Each handle reads
// its process's CPU time and memory from /proc.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsxLoader } from '../loadgen/loadgen.js';
import { sleep } from './stats.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MESHGATE_MAIN = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
export const PEER_BIN = path.join(REPO, 'bench', 'peer', 'bin', 'peer');
const STUB_MAIN = path.join(REPO, 'bench', 'lib', 'stub-server.ts');

let tasksetOk: boolean | null = null;
/** Whether `taskset` exists and this machine has at least 2 cores to pin to. */
export function canPin(): boolean {
  if (tasksetOk === null) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      tasksetOk = true;
    } catch {
      tasksetOk = false;
    }
  }
  return tasksetOk;
}

/** Pin this process (all its threads, and children forked later) to `cpus` ("1"). */
export function pinSelf(cpus: string): boolean {
  if (!canPin()) return false;
  try {
    execFileSync('taskset', ['-a', '-c', '-p', cpus, String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function pinned(cpus: string | null, argv: string[]): [string, string[]] {
  if (cpus !== null && canPin()) return ['taskset', ['-c', cpus, ...argv]];
  return [argv[0]!, argv.slice(1)];
}

const CLK_TCK = 100;

/** CPU time (ms, user + system) of a process, from /proc/PID/stat. */
export function procCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is state (field 3); utime is field 14, stime field 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** Resident and peak resident memory (bytes), from /proc/PID/status. */
export function procMemory(pid: number): { rss: number; peak: number } {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}

/**
 * Machine-wide TCP counters from /proc/net/netstat: listen queue overflows (a SYN dropped
 * because the accept queue was full: the client retries after 1 s, then 3 s) and SYN
 * retransmits. Other processes on the machine count too.
 */
export function tcpCounters(): { listenOverflows: number; listenDrops: number; synRetrans: number } {
  try {
    const lines = fs.readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const head = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const keys = lines[head]!.split(/\s+/);
    const vals = lines[head + 1]!.split(/\s+/);
    const get = (k: string): number => Number(vals[keys.indexOf(k)] ?? NaN);
    return { listenOverflows: get('ListenOverflows'), listenDrops: get('ListenDrops'), synRetrans: get('TCPSynRetrans') };
  } catch {
    return { listenOverflows: Number.NaN, listenDrops: Number.NaN, synRetrans: Number.NaN };
  }
}

export function httpGet(port: number, urlPath: string, method = 'GET', timeoutMs = 30_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${urlPath}`)));
    req.on('error', reject);
    req.end();
  });
}

export interface ServerHandle {
  kind: 'meshgate' | 'peer' | 'stub';
  pid: number;
  /** xDS port on 127.0.0.1. */
  port: number;
  target: string;
  logFile: string;
  cpuMs(): number;
  memory(): { rss: number; peak: number };
  stop(): Promise<void>;
}

/** Servers started by this process: killed if it exits without stopping them (a crash, Ctrl-C). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Start a process and wait for its first stdout line that parses as JSON with event "listening". */
async function startListening(cmd: string, args: string[], env: NodeJS.ProcessEnv, logFile: string, timeoutMs: number): Promise<{ child: ChildProcess; line: Record<string, unknown> }> {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const logFd = fs.openSync(logFile, 'w');
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', logFd], env });
  fs.closeSync(logFd);
  live.add(child);
  child.once('exit', () => live.delete(child));
  let buf = '';
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path.basename(cmd)} did not start listening within ${timeoutMs} ms (log: ${logFile})`)), timeoutMs);
    const onData = (d: Buffer): void => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        try {
          const j = JSON.parse(l) as Record<string, unknown>;
          if (j['event'] === 'listening') {
            clearTimeout(timer);
            child.stdout!.off('data', onData);
            child.stdout!.resume();
            resolve(j);
            return;
          }
        } catch {
          /* not JSON */
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      let tail = '';
      try {
        tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-8).join('\n');
      } catch {
        /* no log */
      }
      reject(new Error(`${path.basename(cmd)} exited (${code ?? signal}) before listening:\n${tail}`));
    });
  });
  child.stdout!.on('data', () => {});
  return { child, line };
}

function stopper(child: ChildProcess, graceMs = 10_000): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

// ---------------------------------------------------------------------------------------
// meshgate

export interface MeshgateOptions {
  modelFile: string;
  /** State dir (CA, token key); the runner writes token.key first to sign node tokens. */
  stateDir: string;
  logFile: string;
  cpus?: string | null;
  /** Write a V8 CPU profile (node --cpu-prof) into this directory on exit. */
  profileDir?: string | null;
  logLevel?: string;
  nodeArgs?: string[];
  startTimeoutMs?: number;
}

export interface MeshgateHandle extends ServerHandle {
  kind: 'meshgate';
  adminPort: number;
  metrics(): Promise<Record<string, number>>;
  /** `configuration applied` log records so far: their reload durations (ms). */
  reloads(): Array<{ at: string; ms: number; changed: number }>;
}

/** Write a 32-byte token key (mode 0600) like meshgate creates it; returns it. */
export function writeTokenKey(stateDir: string): Buffer {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  fs.writeFileSync(path.join(stateDir, 'token.key'), `${key.toString('base64')}\n`, { mode: 0o600 });
  return key;
}

export async function startMeshgate(o: MeshgateOptions): Promise<MeshgateHandle> {
  if (!fs.existsSync(MESHGATE_MAIN)) throw new Error(`${MESHGATE_MAIN} is missing: run "npm run build" first`);
  const nodeArgs = [...(o.nodeArgs ?? [])];
  if (o.profileDir) {
    fs.mkdirSync(o.profileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${o.profileDir}`);
  }
  const argv = [process.execPath, ...nodeArgs, MESHGATE_MAIN, 'serve', '-f', o.modelFile, '--xds-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--state-dir', o.stateDir, '--log-level', o.logLevel ?? 'info'];
  const [cmd, args] = pinned(o.cpus === undefined ? '0' : o.cpus, argv);
  const { child, line } = await startListening(cmd, args, { ...process.env, MESHGATE_LOG_LEVEL: o.logLevel ?? 'info' }, o.logFile, o.startTimeoutMs ?? 600_000);
  const port = Number(line['xdsPort']);
  const adminPort = Number(line['adminPort']);
  for (let i = 0; ; i++) {
    const r = await httpGet(adminPort, '/readyz').catch(() => ({ status: 0, body: '' }));
    if (r.status === 200) break;
    if (i > 600) throw new Error('meshgate never became ready');
    await sleep(50);
  }
  const pid = child.pid!;
  return {
    kind: 'meshgate',
    pid,
    port,
    adminPort,
    target: `127.0.0.1:${port}`,
    logFile: o.logFile,
    cpuMs: () => procCpuMs(pid),
    memory: () => procMemory(pid),
    stop: stopper(child),
    async metrics() {
      const r = await httpGet(adminPort, '/metrics');
      const out: Record<string, number> = {};
      for (const l of r.body.split('\n')) {
        if (!l || l.startsWith('#')) continue;
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(l);
        if (!m) continue;
        const key = m[1]! + (m[2] ?? '');
        out[key] = Number(m[3]);
        // Sums over label sets, under the bare name.
        if (m[2]) out[`${m[1]}:sum`] = (out[`${m[1]}:sum`] ?? 0) + Number(m[3]);
      }
      return out;
    },
    reloads() {
      const out: Array<{ at: string; ms: number; changed: number }> = [];
      let text = '';
      try {
        text = fs.readFileSync(o.logFile, 'utf8');
      } catch {
        return out;
      }
      for (const l of text.split('\n')) {
        if (!l.includes('configuration applied')) continue;
        try {
          const j = JSON.parse(l) as { time?: string; ms?: number; changed?: unknown[]; changedCount?: number };
          // The log line lists at most 20 changed groups; changedCount is the number.
          out.push({ at: j.time ?? '', ms: j.ms ?? Number.NaN, changed: j.changedCount ?? (Array.isArray(j.changed) ? j.changed.length : 0) });
        } catch {
          /* not JSON */
        }
      }
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------
// go-control-plane peer (bench/peer/, built by bench/peer/build.sh)

export interface PeerHandle extends ServerHandle {
  kind: 'peer';
  controlPort: number;
  /** Load another export (POST /load?dir=DIR); resolves once every node's snapshot is set, with the peer's timings (readMs, decodeMs, setMs). */
  load(dir: string): Promise<Record<string, number>>;
  stats(): Promise<Record<string, number>>;
}

export function peerBuilt(): boolean {
  return fs.existsSync(PEER_BIN);
}

/**
 * The hook where the runner starts the Go peer on the same export meshgate serves:
 * `bench/peer/bin/peer --listen 127.0.0.1:0 --snapshots DIR --control 127.0.0.1:0`, one
 * core, GOMAXPROCS=1. Returns null when the peer is not built ("peer not built").
 */
export async function startPeer(snapshotsDir: string, logFile: string, cpus: string | null = '0'): Promise<PeerHandle | null> {
  if (!peerBuilt()) return null;
  const [cmd, args] = pinned(cpus, [PEER_BIN, '--listen', '127.0.0.1:0', '--snapshots', snapshotsDir, '--control', '127.0.0.1:0']);
  const { child, line } = await startListening(cmd, args, { ...process.env, GOMAXPROCS: '1' }, logFile, 600_000);
  const port = Number(line['port']);
  const controlPort = Number(line['controlPort']);
  const pid = child.pid!;
  return {
    kind: 'peer',
    pid,
    port,
    controlPort,
    target: `127.0.0.1:${port}`,
    logFile,
    cpuMs: () => procCpuMs(pid),
    memory: () => procMemory(pid),
    stop: stopper(child),
    async load(dir: string) {
      const r = await httpGet(controlPort, `/load?dir=${encodeURIComponent(dir)}`, 'POST', 600_000);
      if (r.status !== 200) throw new Error(`peer /load failed: ${r.status} ${r.body}`);
      return JSON.parse(r.body) as Record<string, number>;
    },
    async stats() {
      const r = await httpGet(controlPort, '/stats');
      return JSON.parse(r.body) as Record<string, number>;
    },
  };
}

// ---------------------------------------------------------------------------------------
// stub server (bench/lib/stub-server.ts): replays pre-encoded responses

export interface StubHandle extends ServerHandle {
  kind: 'stub';
  /** Push new versions of these types (short names: CDS, EDS, LDS, RDS, SDS) to every stream. */
  bump(types: string[]): void;
}

export async function startStub(snapshotsDir: string, logFile: string, cpus: string | null = '0'): Promise<StubHandle> {
  const [cmd, args] = pinned(cpus, [process.execPath, '--import', tsxLoader(), STUB_MAIN, '--snapshots', snapshotsDir]);
  const { child, line } = await startListening(cmd, args, process.env, logFile, 600_000);
  const port = Number(line['port']);
  const pid = child.pid!;
  return {
    kind: 'stub',
    pid,
    port,
    target: `127.0.0.1:${port}`,
    logFile,
    cpuMs: () => procCpuMs(pid),
    memory: () => procMemory(pid),
    stop: stopper(child, 3000),
    bump(types: string[]) {
      child.stdin!.write(`bump ${types.join(' ')}\n`);
    },
  };
}
