// The two long benchmark commands at tiny sizes: S7 soak (bench/scenarios/s7-soak.ts, 20
// simulated sidecars for 20 s) and E1 (bench/scenarios/e1-real-envoy.ts, a real Envoy with 50
// routes, 3 edits). Asserts that every figure is there, finite and of the right shape; never
// on timings (this machine is shared).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metric } from '../../bench/lib/harness.js';
import type { LongRunResults } from '../../bench/lib/long-run.js';
import { e1Defaults, runE1 } from '../../bench/scenarios/e1-real-envoy.js';
import { runSoak, soakDefaults } from '../../bench/scenarios/s7-soak.js';
import { hasEnvoy } from '../helpers/envoy.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'src', 'cli', 'main.js');

function value(r: LongRunResults, name: string | RegExp): Metric {
  const m = r.result.metrics.find((x) => (typeof name === 'string' ? x.name === name : name.test(x.name)));
  expect(m, `${r.scenario}: metric ${String(name)}`).toBeDefined();
  return m!;
}

function finite(r: LongRunResults, name: string | RegExp): number {
  const v = value(r, name).meshgate;
  expect(Number.isFinite(v), `${r.scenario}: ${String(name)} = ${v}`).toBe(true);
  return v;
}

function ofNote(m: Metric): number {
  return Number(/of (\d+)/.exec(m.note ?? '')?.[1]);
}

let workDir: string;
const logs: string[] = [];

beforeAll(() => {
  if (!fs.existsSync(MAIN)) throw new Error('dist/ is missing: run "npm run build" (npm test does)');
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-long-smoke-'));
});

afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('S7 soak (smoke: 20 sidecars, 20 s)', () => {
  let r: LongRunResults;

  beforeAll(async () => {
    r = await runSoak({ ...soakDefaults(true), pin: false, workDir: path.join(workDir, 's7'), log: (m) => logs.push(m) });
  }, 120_000);

  it('records the run: machine, commit, options, samples', () => {
    expect(r.scenario).toBe('S7');
    expect(r.smoke).toBe(true);
    expect(r.machine['cores']).toBeGreaterThan(0);
    expect(r.commit).toHaveProperty('head');
    const samples = r.result.detail?.['samples'] as Array<Record<string, number>>;
    expect(samples.length, logs.join('\n')).toBeGreaterThanOrEqual(10);
    for (const s of samples) {
      expect(s['rssBytes']).toBeGreaterThan(10 * 1024 * 1024);
      expect(s['heapUsedBytes']).toBeGreaterThan(1024 * 1024);
      expect(Number.isFinite(s['elP99Ms'])).toBe(true);
      expect(s['elP99Ms']).toBeGreaterThan(0);
    }
    // Samples are in time order and changes keep being written.
    for (let i = 1; i < samples.length; i++) {
      expect(samples[i]!['t']).toBeGreaterThan(samples[i - 1]!['t']!);
      expect(samples[i]!['endpointChangesWritten']).toBeGreaterThanOrEqual(samples[i - 1]!['endpointChangesWritten']!);
    }
  });

  it('memory and event-loop figures are finite', () => {
    expect(finite(r, 'RSS, reference window (mean)')).toBeGreaterThan(10 * 1024 * 1024);
    expect(finite(r, 'RSS, final window (mean)')).toBeGreaterThan(10 * 1024 * 1024);
    finite(r, 'RSS drift after warm-up');
    finite(r, 'V8 heap used drift after warm-up');
    // The delay is the timer's lateness (never early: ≥ 0); the histogram as read includes its 10 ms interval.
    expect(finite(r, 'event-loop delay p99 over the run after warm-up (meshgate_event_loop_lateness_seconds)')).toBeGreaterThanOrEqual(0);
    expect(finite(r, 'event-loop delay p99: timer lateness (prom-client histogram p99 − 10 ms), highest interval after warm-up')).toBeGreaterThanOrEqual(0);
    expect(finite(r, 'event-loop delay p99: timer lateness, median interval')).toBeGreaterThanOrEqual(0);
    expect(finite(r, 'event-loop histogram p99 as read (interval included), highest / median interval')).toBeGreaterThanOrEqual(10);
    expect(finite(r, /^admin probe latency p99/)).toBeGreaterThan(0);
  });

  it('every endpoint change reaches every client; the observer sees the route changes', () => {
    const delivered = value(r, 'endpoint changes delivered (change × client)');
    expect(ofNote(delivered)).toBeGreaterThan(0);
    expect(delivered.meshgate).toBe(ofNote(delivered));
    expect(finite(r, 'endpoint change staleness p50')).toBeGreaterThan(0);
    expect(finite(r, 'endpoint change staleness p99')).toBeGreaterThanOrEqual(value(r, 'endpoint change staleness p50').meshgate);
    const routes = value(r, 'route changes held by the observer');
    expect(ofNote(routes)).toBeGreaterThan(0);
    expect(routes.meshgate).toBe(ofNote(routes));
    expect(finite(r, 'route change staleness p99 (observer)')).toBeGreaterThan(0);
    expect(finite(r, 'reloads applied')).toBeGreaterThan(0);
  });

  it('every client stayed connected', () => {
    const c = value(r, 'clients still connected at the end');
    expect(c.meshgate).toBe(ofNote(c));
    expect(c.meshgate).toBe(20);
  });
});

describe.skipIf(!hasEnvoy())('E1 real Envoy (smoke: 50 routes, 3 edits)', () => {
  let r: LongRunResults;

  beforeAll(async () => {
    r = await runE1({ ...e1Defaults(true), pin: false, workDir: path.join(workDir, 'e1'), log: (m) => logs.push(m) });
  }, 120_000);

  it('every edit reaches a 200 through Envoy, with its timings', () => {
    expect(r.scenario).toBe('E1');
    expect(value(r, 'routes configured in Envoy at the start').meshgate).toBe(50);
    const reached = value(r, 'edits that reached a 200');
    expect(reached.meshgate).toBe(3);
    expect(ofNote(reached)).toBe(3);
    const p50 = finite(r, 'edit → first 200 p50');
    expect(p50).toBeGreaterThan(0);
    expect(finite(r, 'edit → first 200 max')).toBeGreaterThanOrEqual(p50);
    finite(r, 'edit → meshgate "configuration applied" p50');
    finite(r, 'edit → Envoy accepted the route configuration p50');
    const its = r.result.detail?.['iterations'] as Array<{ k: number; firstOkMs: number; polls: number; body: string }>;
    expect(its.map((x) => x.k)).toEqual([1, 2, 3]);
    for (const it of its) {
      expect(Number.isFinite(it.firstOkMs)).toBe(true);
      expect(it.polls).toBeGreaterThanOrEqual(1);
      expect(it.body).toBe(`svc${it.k % 10}`);
    }
  });
});
