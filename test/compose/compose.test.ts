// Docker cannot run on the development machine, so compose.yaml is checked statically: it
// must agree with examples/mesh.yaml, and the bootstraps it mounts must be exactly what
// `meshgate bootstrap` prints for each proxy today.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadBuiltModel } from '../../src/cli/model-cli.js';

const root = path.resolve(import.meta.dirname, '../..');
const compose = YAML.parse(fs.readFileSync(path.join(root, 'compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, { command?: string[]; volumes?: string[]; network_mode?: string; ports?: string[]; image?: string; entrypoint?: string[] }>;
};
const built = loadBuiltModel(path.join(root, 'examples/mesh.yaml'), () => undefined);
const services = compose.services;

function bootstrapFor(proxy: string): { service: string; file: string } {
  for (const [name, svc] of Object.entries(services)) {
    for (const v of svc.volumes ?? []) {
      const [src, dst] = v.split(':');
      if (dst === '/etc/envoy/envoy.yaml' && src === `./envoy/${proxy}.yaml`) return { service: name, file: path.join(root, src) };
    }
  }
  throw new Error(`no compose service mounts envoy/${proxy}.yaml`);
}

describe('compose.yaml agrees with examples/mesh.yaml', () => {
  it('serves the example model from the meshgate container', () => {
    const mg = services['meshgate']!;
    expect(mg.volumes).toContain('./examples:/config:ro');
    expect(mg.command).toEqual(expect.arrayContaining(['serve', '-f', '/config/mesh.yaml']));
    const xds = mg.command![mg.command!.indexOf('--xds-listen') + 1];
    expect(xds).toBe('127.0.0.1:18000');
  });

  it.each(built.ir.proxies.map((p) => [p.name, p] as const))('proxy %s has an Envoy with the current bootstrap', (name, proxy) => {
    const { service, file } = bootstrapFor(name);
    const svc = services[service]!;
    expect(svc.image).toMatch(/^envoyproxy\/envoy:v1\.40\./);
    expect(svc.network_mode).toBe('service:meshgate');
    const boot = YAML.parse(fs.readFileSync(file, 'utf8')) as { node: { id: string; cluster: string }; admin: { address: { socket_address: { port_value: number } } } };
    expect(boot.node.id).toBe(name);
    expect(boot.node.cluster).toBe(proxy.kind === 'gateway' ? proxy.name : proxy.service);
    expect(boot.admin.address.socket_address.port_value).toBe(proxy.adminPort);
    // Byte-identical to what the CLI prints now (regenerate with scripts/gen-envoy-bootstraps.sh).
    const args = ['bin/meshgate.js', 'bootstrap', '-f', 'examples/mesh.yaml', '--proxy', name, '--xds', '127.0.0.1:18000'];
    if (proxy.kind === 'gateway') args.push('--admin', `0.0.0.0:${proxy.adminPort}`);
    const printed = execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
    expect(fs.readFileSync(file, 'utf8')).toBe(printed);
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

  it('no compose service mounts a bootstrap for a proxy the model does not have', () => {
    const names = new Set(built.ir.proxies.map((p) => p.name));
    for (const svc of Object.values(services)) {
      for (const v of svc.volumes ?? []) {
        const m = /^\.\/envoy\/([^/:]+)\.yaml:/.exec(v);
        if (m) expect(names.has(m[1]!), `envoy/${m[1]}.yaml`).toBe(true);
      }
    }
  });
});
