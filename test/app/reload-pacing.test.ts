// Watcher reloads are paced under a stream of edits (src/app/reload-pacer.ts): an edit after a
// quiet spell is loaded at once; one that follows a reload which kept the event loop busy waits
// (its changes are loaded together with any made meanwhile), and is still loaded.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshgateApp } from '../../src/app/meshgate-app.js';
import { ModelSource } from '../../src/app/model-source.js';
import { ReloadPacer } from '../../src/app/reload-pacer.js';
import { MeshSecurity } from '../../src/app/security.js';
import { silentLogger } from '../../src/util/log.js';

const BASE = fs.readFileSync(path.resolve(import.meta.dirname, '../../examples/mesh.yaml'), 'utf8');
let dir: string;
let file: string;
let app: MeshgateApp;

const hash = (t: string): string => createHash('sha256').update(t).digest('hex');
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}
/** The pacer's CPU clock: the process's own, plus what the test says the pushes cost. */
let extraCpu = 0;
const clock = {
  now: () => performance.now(),
  cpu: () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000 + extraCpu;
  },
};
function edit(weight: number): string {
  const text = BASE.replace('weight: 90', `weight: ${weight}`).replace('weight: 10', `weight: ${100 - weight}`);
  fs.writeFileSync(file, text);
  return text;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mg-pacing-'));
  file = path.join(dir, 'mesh.yaml');
  fs.writeFileSync(file, BASE);
  const security = new MeshSecurity({ stateDir: null, log: silentLogger() });
  app = new MeshgateApp({ source: new ModelSource(file, security), security, xdsListen: '127.0.0.1:0', adminListen: '127.0.0.1:0', log: silentLogger(), watch: false, reloadPacer: new ReloadPacer(0.5, 100, clock) });
  await app.start();
});

afterAll(async () => {
  await app.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('reload pacing', () => {
  it('an edit after a quiet spell is loaded at once', async () => {
    await new Promise((r) => setTimeout(r, 50));
    const text = edit(80);
    app.reloadInSlices();
    for (let i = 0; i < 20 && app.lastApplied!.contentHash !== hash(text); i++) await turn();
    expect(app.lastApplied!.contentHash).toBe(hash(text));
  });

  it('an edit right after a reload that kept the event loop busy waits, then is loaded with what came meanwhile', async () => {
    await new Promise((r) => setTimeout(r, 50));
    const first = edit(70);
    app.reloadInSlices();
    await until(() => app.lastApplied!.contentHash === hash(first));
    extraCpu += 200; // the pushes and ACKs the reload set off: 200 ms of CPU
    edit(60);
    app.reloadInSlices();
    for (let i = 0; i < 20; i++) await turn();
    expect(app.lastApplied!.contentHash).toBe(hash(first)); // waiting its turn
    const last = edit(55); // written meanwhile
    app.reloadInSlices();
    await until(() => app.lastApplied!.contentHash === hash(last), 2000);
    expect(app.lastAttempt!.contentHash).toBe(hash(last));
  });
});
