// Primitives shared by the end-to-end helpers: free loopback ports, polling, and a registry of
// child processes that are killed for sure when the test process ends (even on a failed test,
// an uncaught error, a signal, or a SIGKILL of the test worker itself, through a watchdog).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Where test ports come from: a block of ports outside the kernel's ephemeral range, one block
 * per test worker. A port bound to 0 and released (the usual trick) is an ephemeral port, and the
 * kernel hands the same range to every `listen(0)` (meshgate's own xDS and admin listeners in the
 * tests) and to every outgoing connection's source port: a CI run once had meshgate's xDS server
 * take the port picked a moment earlier for a sidecar's outbound listener, and that Envoy NACKed
 * its listeners ("Address already in use"). Ports below the ephemeral range are only ever used by
 * whoever asks for them by number.
 */
interface PortBlock {
  lo: number;
  hi: number; // exclusive
  next: number;
}

let block: PortBlock | undefined;

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo!, hi!];
  } catch {
    // not Linux: the IANA dynamic range
  }
  return [49152, 65535];
}

/** This worker's block, or undefined where the ephemeral range leaves no room below it. */
function portBlock(): PortBlock | undefined {
  if (block) return block;
  const BLOCKS = 8;
  const FIRST = 10_000;
  const [ephLo] = ephemeralRange();
  const size = Math.floor((ephLo - FIRST) / BLOCKS);
  if (size < 200) return undefined;
  const worker = Number(process.env['VITEST_POOL_ID'] ?? process.env['VITEST_WORKER_ID'] ?? process.pid) % BLOCKS;
  const lo = FIRST + worker * size;
  block = { lo, hi: lo + size, next: lo + Math.floor(Math.random() * size) };
  return block;
}

function listenOn(srv: net.Server, port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const onError = (): void => resolve(undefined);
    srv.once('error', onError);
    srv.listen({ port, host, exclusive: true }, () => {
      srv.off('error', onError);
      const addr = srv.address();
      resolve(typeof addr === 'object' && addr ? addr.port : undefined);
    });
  });
}

/** Bind the next free port of this worker's block (or, without a block, an ephemeral one). */
async function holdPort(host: string): Promise<{ srv: net.Server; port: number }> {
  const b = portBlock();
  for (let tries = 0; b && tries < b.hi - b.lo; tries++) {
    const port = b.next;
    b.next = port + 1 >= b.hi ? b.lo : port + 1;
    const srv = net.createServer();
    const got = await listenOn(srv, port, host);
    if (got !== undefined) return { srv, port: got };
  }
  const srv = net.createServer();
  const got = await listenOn(srv, 0, host);
  if (got === undefined) throw new Error(`no free port on ${host}`);
  return { srv, port: got };
}

/** A TCP port on 127.0.0.1 that was free a moment ago (see PortBlock for where it comes from). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return (await freePorts(1, host))[0]!;
}

/** n distinct free ports (all held until every one is known, so they differ). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const held: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const { srv, port } = await holdPort(host);
      held.push(srv);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Poll `cond` until it returns a truthy value (which is returned) or `timeoutMs` passes.
 * Exceptions thrown by `cond` count as "not yet"; the last one is reported on timeout.
 * `what` names the condition in the timeout error (a function is called only then, e.g. to
 * attach a log tail).
 */
export async function waitFor<T>(cond: () => T | Promise<T>, timeoutMs = 15_000, what: string | (() => string) = 'condition', intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  let lastErr: unknown = undefined;
  for (;;) {
    try {
      last = await cond();
      lastErr = undefined;
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastErr ? `last error: ${(lastErr as Error)?.message ?? String(lastErr)}` : `last value: ${safeJson(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what} (${detail})`);
    }
    await sleep(intervalMs);
  }
}

function safeJson(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 500 ? `${s.slice(0, 500)}…` : s;
  } catch {
    return String(v);
  }
}

// ---------------------------------------------------------------------------------------------
// Child process registry.

const tracked = new Map<number, ChildProcess>();
let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    killTrackedNow();
    removeTempDirs();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killTrackedNow();
      removeTempDirs();
      // Keep the default behaviour of the signal once our children are gone.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

/** SIGKILL every tracked child that is still running (synchronous; safe in an exit hook). */
export function killTrackedNow(): void {
  for (const [pid, child] of tracked) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  tracked.clear();
}

/**
 * Remember a child so that it is killed when this process exits, and start a tiny detached
 * watchdog that SIGKILLs it if this process dies without running its exit hooks (for
 * example a test worker killed with SIGKILL). `marker` is a string unique to the child's
 * command line (its temp dir): the watchdog checks it before killing, so a recycled pid is
 * never hit.
 */
export function trackChild(child: ChildProcess, marker: string): void {
  const pid = child.pid;
  if (pid === undefined) return;
  installHooks();
  tracked.set(pid, child);
  child.once('exit', () => tracked.delete(pid));
  if (!/^[\w./-]+$/.test(marker)) throw new Error(`watchdog marker must be a plain path, got ${marker}`);
  const script =
    `while kill -0 ${process.pid} 2>/dev/null; do kill -0 ${pid} 2>/dev/null || exit 0; sleep 1; done; ` +
    `grep -q -a -F '${marker}' /proc/${pid}/cmdline 2>/dev/null && kill -9 ${pid} 2>/dev/null; exit 0`;
  const dog = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
  dog.unref();
}

/** Wait for a child to exit; SIGKILL it if it has not after `graceMs`. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
  try {
    child.kill(signal);
  } catch {
    /* gone */
  }
  const timer = setTimeout(() => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }, graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Last `lines` lines of a log file (for failure messages). */
export function tailFile(file: string, lines = 40): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch (err) {
    return `(cannot read ${file}: ${(err as Error).message})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Temp dirs (resources, bootstraps, logs): removed when the test process exits, unless a test
// failed (see keepTempDirs) or MESHGATE_E2E_KEEP=1.

const tempDirs = new Set<string>();
let keepDirs = process.env['MESHGATE_E2E_KEEP'] === '1';

/** A new directory under the OS temp dir, removed at exit unless kept. */
export function makeTempDir(prefix: string): string {
  installHooks();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Keep every temp dir (logs) of this test process, and say where they are. Call on failure. */
export function keepTempDirs(): void {
  if (!keepDirs) process.stderr.write(`e2e: a test failed; keeping logs and inputs in:\n  ${[...tempDirs].join('\n  ')}\n`);
  keepDirs = true;
}

/**
 * For afterAll: SIGKILL every tracked child still running and remove the temp dirs (unless a
 * test failed or MESHGATE_E2E_KEEP=1). Stop processes gracefully first if that matters.
 */
export function cleanupProcessesAndTempDirs(): void {
  killTrackedNow();
  removeTempDirs();
}

function removeTempDirs(): void {
  if (keepDirs) return;
  for (const d of tempDirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      /* best effort */
    }
  }
  tempDirs.clear();
}
