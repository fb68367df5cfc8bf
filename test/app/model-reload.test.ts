// Live reload of the model file through the real app (watcher → load → validate → cache):
// valid edits reach only the proxies they affect; invalid, deleted, empty or half-written
// files change nothing; editor save patterns are followed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshgateApp, type LoadRecord } from '../../src/app/meshgate-app.js';
import { ModelSource } from '../../src/app/model-source.js';
import { MeshSecurity } from '../../src/app/security.js';
import { silentLogger } from '../../src/util/log.js';

/** A model source with an in-memory CA, wired into the app as serve does. */
function withSecurity(file: string): { source: ModelSource; security: MeshSecurity } {
  const security = new MeshSecurity({ stateDir: null, log: silentLogger() });
  return { source: new ModelSource(file, security), security };
}

const BASE = fs.readFileSync(path.resolve(import.meta.dirname, '../../examples/mesh.yaml'), 'utf8');

let dir: string;
let file: string;
let app: MeshgateApp;
let adminPort: number;
const applied: LoadRecord[] = [];

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function versions(): Record<string, string> {
  return Object.fromEntries(app.cache.groups().map((g) => [g, app.cache.get(g)!.version]));
}

/** Wait until the app has looked at content `text` (applied, unchanged or rejected). */
async function settled(text: string): Promise<LoadRecord> {
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256').update(text).digest('hex');
  return waitFor(`the app to load ${h.slice(0, 8)}`, () => (app.lastAttempt?.contentHash === h ? app.lastAttempt : undefined));
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-reload-'));
  file = path.join(dir, 'mesh.yaml');
  fs.writeFileSync(file, BASE);
  app = new MeshgateApp({ ...withSecurity(file), xdsListen: '127.0.0.1:0', adminListen: '127.0.0.1:0', log: silentLogger() });
  const origReload = app.reload.bind(app);
  app.reload = () => {
    const r = origReload();
    if (r.ok && !applied.includes(r)) applied.push(r);
    return r;
  };
  ({ adminPort } = await app.start());
  // Gateways are built at every load; a sidecar's configuration is built when a proxy of its
  // group first connects (or it is dumped): build them here as if their proxies had connected.
  expect(app.cache.groups()).toEqual(['gateway/edge']);
  for (const g of ['sidecar/orders/orders-a', 'sidecar/users/users-v1-a', 'sidecar/users/users-v2-a']) expect(app.cache.getOrBuild(g)).toBeDefined();
  expect(app.cache.getOrBuild('sidecar/users/nope')).toBeUndefined();
});

afterAll(async () => {
  await app.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('model file live reload', () => {
  it('serves the model at start and is ready', async () => {
    expect(app.ready).toBe(true);
    expect(app.cache.groups()).toEqual(['gateway/edge', 'sidecar/orders/orders-a', 'sidecar/users/users-v1-a', 'sidecar/users/users-v2-a']);
    const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('a gateway-only edit changes only the gateway snapshot', async () => {
    const before = versions();
    const text = BASE.replace('pathPrefix: /v1/orders', 'pathPrefix: /v1/shop');
    fs.writeFileSync(file, text);
    const rec = await settled(text);
    expect(rec.ok).toBe(true);
    expect(rec.changedGroups).toEqual(['gateway/edge']);
    const after = versions();
    expect(after['gateway/edge']).not.toBe(before['gateway/edge']);
    for (const g of ['sidecar/orders/orders-a', 'sidecar/users/users-v1-a', 'sidecar/users/users-v2-a']) expect(after[g]).toBe(before[g]);
    fs.writeFileSync(file, BASE);
    await settled(BASE);
  });

  it('an edit to a service route reaches the gateway and every sidecar that calls it', async () => {
    const text = BASE.replace('weight: 90', 'weight: 50').replace('weight: 10', 'weight: 50');
    fs.writeFileSync(file, text);
    const rec = await settled(text);
    expect(rec.ok).toBe(true);
    expect(rec.changedGroups).toEqual(['gateway/edge', 'sidecar/orders/orders-a', 'sidecar/users/users-v1-a', 'sidecar/users/users-v2-a']);
    fs.writeFileSync(file, BASE);
    await settled(BASE);
  });

  it('an invalid edit changes nothing and is reported with file:line:column in /status', async () => {
    const before = versions();
    const text = BASE.replace('backend: orders', 'backned: orders');
    fs.writeFileSync(file, text);
    const rec = await settled(text);
    expect(rec.ok).toBe(false);
    const line = text.split('\n').findIndex((l) => l.includes('backned')) + 1;
    expect(rec.errors).toContainEqual(expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:\\d+: error: gateways\\.edge\\.routes\\[1\\]\\.backned: .*unknown key "backned".*did you mean "backend"`)));
    expect(versions()).toEqual(before);
    const status = (await (await fetch(`http://127.0.0.1:${adminPort}/status`)).json()) as { config: { lastAttempt: { ok: boolean; errors: string[] } } };
    expect(status.config.lastAttempt.ok).toBe(false);
    expect(status.config.lastAttempt.errors.join('\n')).toContain('backned');
    expect(app.ready).toBe(true);
    fs.writeFileSync(file, BASE);
    await settled(BASE);
  });

  it('rename-over saves (write a temp file, rename it onto the model) are applied', async () => {
    const text = BASE.replace('timeout: 2s', 'timeout: 3s');
    const tmp = path.join(dir, '.mesh.yaml.swp');
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
    const rec = await settled(text);
    expect(rec.ok).toBe(true);
    fs.writeFileSync(file, BASE);
    await settled(BASE);
  });

  it('truncate-then-write and slow chunked writes never apply a partial or empty model', async () => {
    const start = applied.length;
    const text = BASE.replace('weight: 90', 'weight: 80').replace('weight: 10', 'weight: 20');
    const fd = fs.openSync(file, 'r+');
    fs.ftruncateSync(fd, 0);
    const third = Math.ceil(text.length / 3);
    for (let i = 0; i < 3; i++) {
      fs.writeSync(fd, text.slice(i * third, (i + 1) * third), i * third);
      await new Promise((r) => setTimeout(r, 5));
    }
    fs.closeSync(fd);
    const rec = await settled(text);
    expect(rec.ok).toBe(true);
    // Everything applied meanwhile was the whole final text, never a prefix of it.
    const { createHash } = await import('node:crypto');
    const full = createHash('sha256').update(text).digest('hex');
    for (const r of applied.slice(start)) expect(r.contentHash).toBe(full);
    expect(app.cache.groups()).toHaveLength(4);
    fs.writeFileSync(file, BASE);
    await settled(BASE);
  });

  it('deleting the model keeps the last good configuration; recreating it applies again', async () => {
    const before = versions();
    fs.rmSync(file);
    await waitFor('the deletion to be noticed', () => app.lastAttempt && !app.lastAttempt.ok && app.lastAttempt.errors.some((e) => e.includes('does not exist')));
    expect(versions()).toEqual(before);
    const text = BASE.replace('timeout: 2s', 'timeout: 4s');
    fs.writeFileSync(file, text);
    const rec = await settled(text);
    expect(rec.ok).toBe(true);
    expect(app.cache.groups()).toHaveLength(4);
    fs.writeFileSync(file, BASE);
    await settled(BASE);
  });

  it('an empty file is rejected, not pushed', async () => {
    const before = versions();
    fs.writeFileSync(file, '');
    const rec = await settled('');
    expect(rec.ok).toBe(false);
    expect(rec.errors.join('\n')).toContain('empty');
    expect(versions()).toEqual(before);
    fs.writeFileSync(file, BASE);
    await settled(BASE);
  });

  it('a symlink swap (as Kubernetes ConfigMap mounts do) is followed', async () => {
    const link = path.join(dir, 'linked.yaml');
    const a = path.join(dir, 'a.yaml');
    const b = path.join(dir, 'b.yaml');
    fs.writeFileSync(a, BASE);
    const textB = BASE.replace('timeout: 2s', 'timeout: 5s');
    fs.writeFileSync(b, textB);
    fs.symlinkSync(a, link);
    const app2 = new MeshgateApp({ ...withSecurity(link), xdsListen: '127.0.0.1:0', adminListen: '127.0.0.1:0', log: silentLogger() });
    await app2.start();
    try {
      const v1 = app2.cache.get('gateway/edge')!.version;
      const tmpLink = path.join(dir, 'linked.tmp');
      fs.symlinkSync(b, tmpLink);
      fs.renameSync(tmpLink, link);
      await waitFor('the swapped model', () => app2.cache.get('gateway/edge')!.version !== v1);
    } finally {
      await app2.stop();
    }
  });
});
