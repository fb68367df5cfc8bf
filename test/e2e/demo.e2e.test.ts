// The README's first command: the demo (meshgate + gateway Envoy + sidecar Envoys + demo apps on
// loopback). It must come up, route as the example says, follow edits of the model live, and
// leave no Envoy behind on Ctrl-C. Uses the example's fixed ports (8080, 18000, 19000, 99xx).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { findEnvoy } from '../helpers/envoy.js';

const root = path.resolve(import.meta.dirname, '../..');
const demo = path.join(root, 'dist/src/demo/run-demo.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-demo-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function envoysOfDemo(): Promise<string[]> {
  try {
    const { stdout } = await promisify(execFile)('pgrep', ['-af', '.state/demo/.*bootstrap'], { encoding: 'utf8' });
    return stdout.trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const r = await fetch(url, { headers });
  return { status: r.status, body: await r.text() };
}

describe.skipIf(!findEnvoy())('demo', () => {
  it('--check brings everything up, routes as the example says, and stops cleanly', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [demo, '--check'], { cwd: root, encoding: 'utf8', timeout: 90_000 });
    expect(stdout).toContain('demo check passed');
    expect(stdout).toMatch(/GET \/v1\/users \{"x-canary":"true"\} -> 200 .*"instance":"users-v2-a"/);
    expect(stdout).toMatch(/users-v1-a -> users via its sidecar: 200/);
    expect(await envoysOfDemo()).toEqual([]);
  });

  it('follows edits of its model live and leaves no Envoy behind on Ctrl-C', async () => {
    const model = path.join(dir, 'mesh.yaml');
    const text = fs.readFileSync(path.join(root, 'examples/mesh.yaml'), 'utf8');
    fs.writeFileSync(model, text);
    const child = spawn(process.execPath, [demo, '-f', model], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const end = Date.now() + 60_000;
      while (!out.includes('meshgate demo is running') && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain('meshgate demo is running');
      const before = await get('http://127.0.0.1:8080/v1/users', { 'x-canary': 'true' });
      expect(JSON.parse(before.body).instance).toBe('users-v2-a');
      // Point the canary rule at v1 instead.
      fs.writeFileSync(model, text.replace('backends: [{ subset: { version: v2 } }]', 'backends: [{ subset: { version: v1 } }]'));
      let after = '';
      const until = Date.now() + 10_000;
      while (Date.now() < until) {
        after = JSON.parse((await get('http://127.0.0.1:8080/v1/users', { 'x-canary': 'true' })).body).instance as string;
        if (after === 'users-v1-a') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(after).toBe('users-v1-a');
      expect((await envoysOfDemo()).length).toBe(4);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(await envoysOfDemo()).toEqual([]);
  });
});
