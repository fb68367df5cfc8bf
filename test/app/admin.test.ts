// The admin server: health, readiness before and after the first load, status, metrics.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MeshgateApp } from '../../src/app/meshgate-app.js';
import { ModelSource } from '../../src/app/model-source.js';
import { MeshSecurity } from '../../src/app/security.js';
import { silentLogger } from '../../src/util/log.js';

/** A model source with an in-memory CA, wired into the app as serve does. */
function withSecurity(file: string): { source: ModelSource; security: MeshSecurity } {
  const security = new MeshSecurity({ stateDir: null, log: silentLogger() });
  return { source: new ModelSource(file, security), security };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-admin-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('admin API', () => {
  it('is live at once, ready only after a configuration loads, and reports status and metrics', async () => {
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, 'version: 1\nservices:\n  users:\n    instancez: []\n'); // invalid at start
    const app = new MeshgateApp({ ...withSecurity(file), xdsListen: '127.0.0.1:0', adminListen: '127.0.0.1:0', log: silentLogger() });
    const { adminPort } = await app.start();
    const get = (p: string) => fetch(`http://127.0.0.1:${adminPort}${p}`);
    try {
      expect((await get('/healthz')).status).toBe(200);
      const notReady = await get('/readyz');
      expect(notReady.status).toBe(503);
      const status = (await (await get('/status')).json()) as { meshgate: { ready: boolean }; config: { applied: unknown; lastAttempt: { errors: string[] } } };
      expect(status.meshgate.ready).toBe(false);
      expect(status.config.applied).toBeNull();
      expect(status.config.lastAttempt.errors.join('\n')).toContain('unknown key "instancez"');

      fs.copyFileSync(path.resolve(import.meta.dirname, '../../examples/mesh.yaml'), file);
      app.reload();
      expect((await get('/readyz')).status).toBe(200);
      const s2 = (await (await get('/status')).json()) as { config: { groups: Array<{ name: string; resources: Record<string, number> }> } };
      expect(s2.config.groups.map((g) => g.name)).toContain('gateway/edge');
      expect(s2.config.groups.find((g) => g.name === 'gateway/edge')!.resources).toEqual({ CDS: 3, EDS: 3, LDS: 1, RDS: 1, SDS: 2 }); // mTLS: identity and trust bundle

      const metrics = await (await get('/metrics')).text();
      for (const name of ['meshgate_xds_streams', 'meshgate_xds_pushes_total', 'meshgate_xds_acks_total', 'meshgate_xds_nacks_total', 'meshgate_xds_bytes_sent_total', 'meshgate_xds_snapshot_to_ack_seconds', 'meshgate_config_reloads_total', 'meshgate_process_cpu_seconds_total']) {
        expect(metrics).toContain(`# TYPE ${name}`);
      }
      expect(metrics).toMatch(/meshgate_config_reloads_total\{result="rejected"\} 1/);
      expect(metrics).toMatch(/meshgate_config_reloads_total\{result="applied"\} 1/);

      const dump = (await (await get('/debug/config?group=gateway/edge')).json()) as { resources: { LDS: { resources: Array<{ name: string }> } } };
      expect(dump.resources.LDS.resources[0]!.name).toBe('public');
      expect((await get('/debug/config?group=nope')).status).toBe(404);
      expect((await get('/nope')).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${adminPort}/status`, { method: 'POST' })).status).toBe(405);
    } finally {
      await app.stop();
    }
  });

  it('meshgate_event_loop_lateness_seconds counts how late the loop ran, cumulatively', async () => {
    const file = path.join(dir, 'lateness.yaml');
    fs.copyFileSync(path.resolve(import.meta.dirname, '../../examples/mesh.yaml'), file);
    const app = new MeshgateApp({ ...withSecurity(file), xdsListen: '127.0.0.1:0', adminListen: '127.0.0.1:0', log: silentLogger() });
    const { adminPort } = await app.start();
    const buckets = async (): Promise<Map<string, number>> => {
      const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      const out = new Map<string, number>();
      for (const m of text.matchAll(/^meshgate_event_loop_lateness_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
      return out;
    };
    try {
      await new Promise((r) => setTimeout(r, 100));
      const before = await buckets();
      expect(before.get('+Inf')).toBeGreaterThan(3); // ~10 ticks in 100 ms
      // Hold the loop for 120 ms: one tick at least 100 ms late.
      const until = performance.now() + 120;
      while (performance.now() < until);
      await new Promise((r) => setTimeout(r, 50));
      const after = await buckets();
      const late = (b: Map<string, number>): number => b.get('+Inf')! - b.get('0.1')!;
      expect(late(after) - late(before)).toBeGreaterThanOrEqual(1);
      // Cumulative: no scrape resets it.
      for (const [le, n] of before) expect(after.get(le)!).toBeGreaterThanOrEqual(n);
    } finally {
      await app.stop();
    }
  });
});
