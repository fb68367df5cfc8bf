// The transport micro-benchmarks at tiny sizes: bench/transport-floor.ts (plain TCP and
// node:http2) and bench/xds-transport.ts (meshgate's xDS server, SotW and Delta, an endpoint
// and a route churn). Each must finish every round, every proxy answering every push, and
// report finite figures; never asserts on timings (this machine is shared).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

async function bench(script: string, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(REPO, 'bench', script), ...args], { cwd: REPO, timeout: 90_000 });
  return stdout;
}

describe('transport floor (20 connections, 3 rounds)', () => {
  it('measures plain TCP and node:http2, every round answered', async () => {
    const out = await bench('transport-floor.ts', ['--connections', '20', '--rounds', '3', '--runs', '1']);
    for (const kind of ['tcp', 'http2']) {
      const m = new RegExp(`run 1 ${kind}\\s*: ([0-9.]+) µs of server CPU per push and answer \\(user ([0-9.]+), system ([0-9.]+)\\); a round of 20 ([0-9.]+) ms`).exec(out);
      expect(m, out).not.toBeNull();
      for (const v of m!.slice(1)) expect(Number.isFinite(Number(v)), out).toBe(true);
      expect(Number(m![1]), out).toBeGreaterThan(0);
      expect(out).toMatch(new RegExp(`median ${kind}: [0-9.]+ µs per push and answer`));
    }
  }, 120_000);
});

describe('xDS transport (20 proxies, 3 rounds)', () => {
  for (const variant of [
    { args: [], label: 'EDS pushes' },
    { args: ['--delta', '--churn', 'rds'], label: 'Delta RDS pushes' },
    { args: ['--churn', 'rds'], label: 'RDS pushes' },
  ]) {
    it(`${variant.label}: the storm syncs and every round reaches every proxy`, async () => {
      const out = await bench('xds-transport.ts', ['--proxies', '20', '--rounds', '3', '--runs', '1', '--no-decode', ...variant.args]);
      const m = new RegExp(`storm 20 proxies synced in ([0-9]+) ms .*churn 3 rounds × 20 ${variant.label}\\+ACKs in ([0-9]+) ms, server CPU ([0-9]+) ms \\(([0-9.]+) µs per push\\+ACK\\)`).exec(out);
      expect(m, out).not.toBeNull();
      for (const v of m!.slice(1)) expect(Number.isFinite(Number(v)), out).toBe(true);
    }, 120_000);
  }
});
