// The CLI as users run it: the built binary, exit codes, what it prints.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { findEnvoy } from '../helpers/envoy.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/meshgate.js');
const example = path.join(root, 'examples/mesh.yaml');

async function meshgate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-cli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('meshgate CLI', () => {
  it('every command has --help', async () => {
    for (const cmd of ['serve', 'validate', 'render', 'bootstrap', 'status']) {
      const r = await meshgate([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: meshgate ${cmd}`));
    }
    const top = await meshgate(['--help']);
    expect(top.stdout).toContain('Commands:');
  });

  it('an unknown command or flag is a usage error (exit 2), not a stack trace', async () => {
    const a = await meshgate(['frobnicate']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('unknown command "frobnicate"');
    const b = await meshgate(['validate', '--nope']);
    expect(b.code).toBe(2);
    expect(b.stderr).not.toMatch(/\n\s+at /);
  });

  it('validate: exit 0 for the example, exit 1 with every error for a bad model', async () => {
    const ok = await meshgate(['validate', '-f', example]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('valid (2 services, 3 instances, 1 gateway');
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, fs.readFileSync(example, 'utf8').replace('backend: orders', 'backned: orders').replace('weight: 10', 'weight: 10.5'));
    const r = await meshgate(['validate', '-f', bad]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^.*bad\.yaml:\d+:\d+: error: gateways\.edge\.routes\[1\]\.backned: unknown key "backned" \(did you mean "backend"\?\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^.*bad\.yaml:\d+:\d+: error: services\.users\.routes\[1\]\.backends\[1\]\.weight: expected a whole number, got 10\.5$/));
    expect(lines.at(-1)).toMatch(/2 errors$/);
    const json = await meshgate(['validate', '-f', bad, '--format', 'json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).diagnostics).toHaveLength(2);
  });

  it('render prints the proxy\'s resources; an unknown proxy is a clear error', async () => {
    const r = await meshgate(['render', '-f', example, '--proxy', 'users-v1-a']);
    expect(r.code).toBe(0);
    const doc = YAML.parse(r.stdout) as { group: string; resources: Record<string, { resources: Array<{ name?: string }> }> };
    expect(doc.group).toBe('sidecar/users/users-v1-a');
    expect(doc.resources['LDS']!.resources.map((l) => l.name)).toEqual(['inbound', 'outbound']);
    const j = await meshgate(['render', '-f', example, '--proxy', 'edge', '-o', 'json']);
    expect(JSON.parse(j.stdout).resources.RDS.resources[0].name).toBe('public');
    const missing = await meshgate(['render', '-f', example, '--proxy', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no proxy "nope"');
    expect(missing.stderr).toContain('edge, orders-a, users-v1-a, users-v2-a');
  });

  it('bootstrap prints a bootstrap that Envoy accepts, with the node identity of the proxy', async () => {
    const envoy = findEnvoy();
    for (const [proxy, id, cluster] of [
      ['edge', 'edge', 'edge'],
      ['users-v2-a', 'users-v2-a', 'users'],
    ]) {
      const r = await meshgate(['bootstrap', '-f', example, '--proxy', proxy!, '--xds', '127.0.0.1:18000', '--delta', '--state-dir', path.join(dir, 'state')]);
      expect(r.code).toBe(0);
      const boot = YAML.parse(r.stdout) as { node: { id: string; cluster: string }; dynamic_resources: { ads_config: { api_type: string } } };
      expect(boot.node).toMatchObject({ id, cluster });
      expect(boot.dynamic_resources.ads_config.api_type).toBe('DELTA_GRPC');
      if (envoy) {
        const file = path.join(dir, `${proxy}.yaml`);
        fs.writeFileSync(file, r.stdout);
        const v = await run(envoy, ['--mode', 'validate', '-c', file, '-l', 'error'], { encoding: 'utf8' });
        expect(v.stdout).toContain('OK');
      }
    }
  });

  it('status renders a table from a running meshgate, and says when it cannot reach it', async () => {
    const child = spawn(process.execPath, [bin, 'serve', '-f', example, '--xds-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--state-dir', path.join(dir, 'state')], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout!.on('data', (c: Buffer) => {
          buf += c.toString();
          if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
        });
        child.once('exit', () => reject(new Error('serve exited')));
      });
      const { adminPort } = JSON.parse(line) as { adminPort: number };
      const r = await meshgate(['status', '--admin', `127.0.0.1:${adminPort}`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^meshgate: ready, model file .*mesh\.yaml/);
      expect(r.stdout).toContain('no proxies connected');
    } finally {
      child.kill('SIGTERM');
    }
    const down = await meshgate(['status', '--admin', '127.0.0.1:1']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("cannot reach meshgate's admin API");
  });
});
