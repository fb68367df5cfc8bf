// The benchmark suite at smoke size (bench/run.ts --smoke): every scenario runs and produces
// sane figures. No timing assertions: this machine is shared and timings are not the point.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metric, ScenarioResult } from '../../bench/lib/harness.js';
import { ALL_SCENARIOS, type Results, runBench } from '../../bench/run.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'src', 'cli', 'main.js');

describe('benchmark suite (smoke)', () => {
  let results: Results;
  let workDir: string;
  const logs: string[] = [];

  beforeAll(async () => {
    if (!fs.existsSync(MAIN)) throw new Error('dist/ is missing: run "npm run build" (npm test does)');
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-bench-smoke-'));
    results = await runBench({ smoke: true, pin: false, workDir, log: (m) => logs.push(m) });
  }, 240_000);

  afterAll(() => {
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  const scenario = (id: string): ScenarioResult => {
    const s = results.scenarios.find((x) => x.id === id);
    expect(s, `scenario ${id} ran`).toBeDefined();
    if (s && 'error' in s) throw new Error(`${id} failed: ${s.error}\n${logs.join('\n')}`);
    return s as ScenarioResult;
  };

  const value = (s: ScenarioResult, name: string | RegExp): Metric => {
    const m = s.metrics.find((x) => (typeof name === 'string' ? x.name === name : name.test(x.name)));
    expect(m, `${s.id}: metric ${String(name)}`).toBeDefined();
    return m!;
  };

  it('runs every scenario and records the machine', () => {
    expect(results.smoke).toBe(true);
    expect(results.scenarios.map((s) => s.id)).toEqual([...ALL_SCENARIOS]);
    expect(results.machine['cores']).toBeGreaterThan(0);
    expect(typeof results.machine['cpu']).toBe('string');
    for (const s of results.scenarios) {
      if ('error' in s) throw new Error(`${s.id} failed: ${s.error}`);
      expect(s.metrics.length, `${s.id} has metrics`).toBeGreaterThan(0);
    }
  });

  it('LG: the load generator syncs every proxy against the stub', () => {
    const s = scenario('LG');
    for (const mode of ['sotw', 'delta']) {
      const m = value(s, `${mode}: storm, all synced (floor for S2)`);
      expect(Number.isFinite(m.meshgate)).toBe(true);
      expect(m.meshgate).toBeGreaterThan(0);
      expect(value(s, `${mode}: RDS fan-out, last ACK p99 (floor for S3)`).meshgate).toBeGreaterThan(0);
    }
  });

  it('S1: translates both sizes', () => {
    const s = scenario('S1');
    for (const name of ['M1k-smoke', 'M10k-smoke']) {
      expect(value(s, `${name}: full translate+encode at load (gateway; sidecars on connect)`).meshgate).toBeGreaterThan(0);
      expect(value(s, new RegExp(`^${name}: every proxy translate\\+encode`)).meshgate).toBeGreaterThan(0);
      expect(value(s, new RegExp(`^${name}: one-route change: build \\(at load\\), median of \\d+ edits$`)).meshgate).toBeGreaterThan(0);
      expect(value(s, `${name}: load + validate the model text`).meshgate).toBeGreaterThan(0);
      expect(value(s, `${name}: proxies / resources`).meshgate).toBeGreaterThan(10);
    }
  });

  it('S2: every proxy syncs in both modes, with memory figures', () => {
    const s = scenario('S2');
    for (const mode of ['sotw', 'delta']) {
      const all = value(s, new RegExp(`^${mode}: all \\d+ ACKed`));
      expect(Number.isFinite(all.meshgate), `${mode}: every proxy synced`).toBe(true);
      expect(all.meshgate).toBeGreaterThan(0);
      expect(value(s, `${mode}: bytes received per proxy`).meshgate).toBeGreaterThan(1000);
      expect(value(s, `${mode}: server RSS after storm`).meshgate).toBeGreaterThan(10 * 1024 * 1024);
      if (all.peer !== null && all.peer !== undefined) expect(Number.isFinite(all.peer)).toBe(true);
    }
  });

  it('S3: both changes reach every proxy in both modes; Delta sends less than SotW for a new service', () => {
    const s = scenario('S3');
    const proxies = (s.params['proxies'] as number) ?? 0;
    for (const mode of ['sotw', 'delta']) {
      for (const change of ['edit one route', 'add one service']) {
        expect(value(s, `${mode} ${change}: proxies reached`).meshgate).toBe(proxies);
        const p99 = value(s, `${mode} ${change}: change → last ACK p99`).meshgate;
        expect(p99).toBeGreaterThan(0);
      }
    }
    expect(value(s, 'delta add one service: bytes sent per proxy').meshgate).toBeLessThan(value(s, 'sotw add one service: bytes sent per proxy').meshgate);
  });

  it('S4: every endpoint change reaches every client', () => {
    const s = scenario('S4');
    for (const m of s.metrics.filter((x) => x.name.endsWith('changes delivered'))) {
      const expected = Number(/of (\d+)/.exec(m.note ?? '')?.[1]);
      expect(expected).toBeGreaterThan(0);
      expect(m.meshgate).toBe(expected);
    }
    expect(s.metrics.some((x) => /staleness p99/.test(x.name) && Number.isFinite(x.meshgate) && x.meshgate > 0)).toBe(true);
  });

  it('S5: the big gateway gets its first push and a cluster change in both modes', () => {
    const s = scenario('S5');
    for (const mode of ['sotw', 'delta']) {
      expect(Number.isFinite(value(s, new RegExp(`^${mode}: first push, all \\d+ ACKed`)).meshgate)).toBe(true);
      const median = value(s, new RegExp(`^${mode}: one-cluster change → last ACK, median of \\d+`)).meshgate;
      expect(median).toBeGreaterThan(0);
      expect(value(s, new RegExp(`^${mode}: one-cluster change → last ACK, worst of \\d+`)).meshgate).toBeGreaterThanOrEqual(median);
    }
    expect(value(s, 'delta: change bytes per client').meshgate).toBeLessThan(value(s, 'sotw: change bytes per client').meshgate);
  });

  it('S6: certificate issuance ran', () => {
    const s = scenario('S6');
    if (s.metrics.length === 0) return; // bench/cert-issuance.ts absent
    expect(value(s, /^issue \d+ certificates/).meshgate).toBeGreaterThan(0);
  });
});
