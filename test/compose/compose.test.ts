// Docker cannot run on the development machine, so compose.yaml is checked statically against
// examples/mesh.yaml, and envoy/bootstraps.sh (what the `bootstraps` container runs) is run
// here: every proxy gets a bootstrap Envoy accepts, with its identity and a valid token.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { NodeTokens, TOKEN_METADATA_KEY } from '../../src/ca/node-token.js';
import { loadBuiltModel } from '../../src/cli/model-cli.js';
import { findEnvoy } from '../helpers/envoy.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
type Svc = { command?: string[]; volumes?: string[]; network_mode?: string; ports?: string[]; image?: string; entrypoint?: string[]; depends_on?: unknown };
const compose = YAML.parse(fs.readFileSync(path.join(root, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, Svc>; volumes: Record<string, unknown> };
const built = loadBuiltModel(path.join(root, 'examples/mesh.yaml'), () => undefined);
const services = compose.services;
let tmp: string;
let out: string;
let state: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-compose-'));
  state = path.join(tmp, 'state');
  out = path.join(tmp, 'bootstraps');
  await run('sh', ['envoy/bootstraps.sh', 'examples/mesh.yaml', state, out], { cwd: root });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('compose.yaml agrees with examples/mesh.yaml', () => {
  it('serves the example model with the state the bootstraps were signed with', () => {
    const mg = services['meshgate']!;
    expect(mg.volumes).toEqual(expect.arrayContaining(['./examples:/config:ro', 'state:/state']));
    expect(mg.command).toEqual(expect.arrayContaining(['serve', '-f', '/config/mesh.yaml', '--state-dir', '/state']));
    expect(mg.command![mg.command!.indexOf('--xds-listen') + 1]).toBe('127.0.0.1:18000');
    const b = services['bootstraps']!;
    expect(b.entrypoint).toEqual(['sh', 'envoy/bootstraps.sh', '/config/mesh.yaml', '/state', '/bootstraps']);
    expect(b.volumes).toEqual(expect.arrayContaining(['state:/state', 'bootstraps:/bootstraps']));
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['state', 'bootstraps']));
    expect(mg.depends_on).toMatchObject({ bootstraps: { condition: 'service_completed_successfully' } });
  });

  it('the bootstrap script writes exactly one bootstrap per proxy of the model', () => {
    expect(fs.readdirSync(out).sort()).toEqual(built.ir.proxies.map((p) => `${p.name}.yaml`).sort());
  });

  it.each(built.ir.proxies.map((p) => [p.name, p] as const))('proxy %s: an Envoy with its bootstrap, identity and token', async (name, proxy) => {
    const svc = Object.values(services).find((s) => (s.command ?? []).join(' ') === `envoy -c /bootstraps/${name}.yaml`);
    expect(svc, `an Envoy service running /bootstraps/${name}.yaml`).toBeDefined();
    expect(svc!.image).toMatch(/^envoyproxy\/envoy:v1\.40\./);
    expect(svc!.network_mode).toBe('service:meshgate');
    expect(svc!.volumes).toContain('bootstraps:/bootstraps:ro');
    const file = path.join(out, `${name}.yaml`);
    const boot = YAML.parse(fs.readFileSync(file, 'utf8')) as { node: { id: string; cluster: string; metadata?: Record<string, string> }; admin: { address: { socket_address: { port_value: number } } } };
    expect(boot.node.id).toBe(name);
    expect(boot.node.cluster).toBe(proxy.kind === 'gateway' ? proxy.name : proxy.service);
    expect(boot.admin.address.socket_address.port_value).toBe(proxy.adminPort);
    // mTLS: the token names the proxy's identity and verifies with meshgate's key.
    expect(proxy.identity).toBeTruthy();
    const check = NodeTokens.load(state).verify(boot.node.metadata?.[TOKEN_METADATA_KEY]);
    expect(check).toMatchObject({ ok: true, claims: { sub: proxy.identity } });
    const envoy = findEnvoy();
    if (envoy) {
      const v = await run(envoy, ['--mode', 'validate', '-c', file, '-l', 'error'], { encoding: 'utf8' });
      expect(v.stdout).toContain('OK');
    }
  });

  it('every gateway listener port is published', () => {
    const published = (services['meshgate']!.ports ?? []).map((p) => Number(String(p).split(':')[0]));
    for (const gw of Object.values(built.model.gateways)) for (const l of gw.listeners) expect(published).toContain(l.port);
  });

  it('every instance has its demo app on its app address and outbound port', () => {
    for (const [service, svc] of Object.entries(built.model.services)) {
      for (const inst of svc.instances) {
        const app = Object.values(services).find((s) => (s.command ?? []).includes(inst.id) && s.entrypoint?.some((e) => e.includes('demo-app-main')));
        expect(app, `demo app for ${inst.id}`).toBeDefined();
        const cmd = app!.command!;
        expect(cmd[cmd.indexOf('--service') + 1]).toBe(service);
        expect(cmd[cmd.indexOf('--listen') + 1]).toBe(inst.app);
        if (inst.outboundPort !== undefined) expect(cmd[cmd.indexOf('--outbound-port') + 1]).toBe(String(inst.outboundPort));
        expect(app!.network_mode).toBe('service:meshgate');
      }
    }
  });

  it('no Envoy service runs a bootstrap for a proxy the model does not have', () => {
    const names = new Set(built.ir.proxies.map((p) => p.name));
    for (const svc of Object.values(services)) {
      const m = /^envoy -c \/bootstraps\/([^/]+)\.yaml$/.exec((svc.command ?? []).join(' '));
      if (m) expect(names.has(m[1]!), m[1]).toBe(true);
    }
  });
});
