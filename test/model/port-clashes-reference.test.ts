// The port clash check in src/model/validate.ts was rewritten for speed (no string built per
// claimed port, no scan of every claim per wildcard listener). This test keeps the original,
// straightforward version as the reference and checks that both report the same clashes, in the
// same order, with the same paths and messages, on thousands of random models full of clashes.
import { describe, expect, it } from 'vitest';
import type { ModelPath } from '../../src/model/diagnostics.js';
import { type Model, ModelSchema } from '../../src/model/schema.js';
import { validateModel } from '../../src/model/validate.js';
import { rng } from '../unit/yaml-fuzz-gen.js';

// ---- the reference: checkPortClashes as it was before the rewrite (verbatim) ----

function describePath(p: ModelPath): string {
  return p.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('').replace(/^\./, '');
}

function netns(address: string): string {
  return address === '127.0.0.1' || address === 'localhost' || address === '0.0.0.0' ? '127.0.0.1' : `${address}/lo`;
}

function referencePortClashes(model: Model, err: (p: ModelPath, m: string, h?: string) => void): void {
  const used = new Map<string, { path: ModelPath; what: string }>();
  const wildcard = new Map<number, { path: ModelPath; what: string }>();
  const isIp = (h: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(h);
  const claim = (host: string, port: number, path: ModelPath, what: string): void => {
    const key = `${host}:${port}`;
    const prev = used.get(key) ?? (isIp(host) ? wildcard.get(port) : undefined);
    if (prev) {
      err(path, `port clash: ${what} uses ${host}:${port}, already used by ${prev.what} (${describePath(prev.path)})`);
      return;
    }
    if (host === '0.0.0.0') {
      for (const [k, v] of used) {
        const [h, p] = [k.slice(0, k.lastIndexOf(':')), Number(k.slice(k.lastIndexOf(':') + 1))];
        if (p === port && isIp(h)) {
          err(path, `port clash: ${what} listens on all addresses at port ${port}, already used by ${v.what} (${describePath(v.path)})`);
          return;
        }
      }
      wildcard.set(port, { path, what });
    }
    used.set(key, { path, what });
  };
  for (const [sname, svc] of Object.entries(model.services)) {
    svc.instances.forEach((inst, i) => {
      const p = ['services', sname, 'instances', i];
      const host = inst.address;
      claim(inst.bind ?? host, inst.port, [...p, 'port'], `the inbound port of ${inst.id}`);
      if (inst.outboundPort !== undefined) claim(netns(host), inst.outboundPort, [...p, 'outboundPort'], `the outbound port of ${inst.id}`);
      for (const [t, port] of Object.entries(inst.tcpOutbound ?? {})) claim(netns(host), port, [...p, 'tcpOutbound', t], `the tcp outbound port of ${inst.id} for ${t}`);
      if (inst.adminPort !== undefined) claim(netns(host), inst.adminPort, [...p, 'adminPort'], `the admin port of ${inst.id}`);
      const appHost = inst.app.slice(0, inst.app.lastIndexOf(':'));
      const appPort = Number(inst.app.slice(inst.app.lastIndexOf(':') + 1));
      claim(appHost === '127.0.0.1' || appHost === 'localhost' ? netns(host) : appHost, appPort, [...p, 'app'], `the app of ${inst.id}`);
    });
  }
  for (const [gname, gw] of Object.entries(model.gateways)) {
    gw.listeners.forEach((l, li) => {
      claim(l.address ?? '0.0.0.0', l.port, ['gateways', gname, 'listeners', li, 'port'], `listener "${l.name}" of gateway ${gname}`);
    });
    if (gw.adminPort !== undefined) claim('127.0.0.1', gw.adminPort, ['gateways', gname, 'adminPort'], `the admin port of gateway ${gname}`);
  }
}

// ---- random models that clash a lot ----

function randomModel(r: () => number): Model {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const maybe = <T>(p: number, v: () => T): T | undefined => (r() < p ? v() : undefined);
  const ports = [8080, 15000, 15001, 9901];
  const addresses = ['127.0.0.1', 'localhost', '0.0.0.0', '10.0.0.1', '10.0.0.2', 'app.local', '::1'];
  const ips = ['0.0.0.0', '10.0.0.1', '10.0.0.2', '127.0.0.1', '::1'];
  const appHosts = ['127.0.0.1', 'localhost', '10.0.0.1', 'app.local', '0.0.0.0'];
  const services: Record<string, unknown> = {};
  const names = ['a', 'b', 'c'];
  for (const s of names.slice(0, 1 + Math.floor(r() * 3))) {
    services[s] = {
      protocol: pick(['http', 'tcp']),
      instances: Array.from({ length: 1 + Math.floor(r() * 3) }, (_, i) => ({
        id: `${s}${i}`,
        address: pick(addresses),
        port: pick(ports),
        app: `${pick(appHosts)}:${pick(ports)}`,
        outboundPort: maybe(0.5, () => pick(ports)),
        adminPort: maybe(0.3, () => pick(ports)),
        bind: maybe(0.3, () => pick(ips)),
        tcpOutbound: maybe(0.3, () => Object.fromEntries(names.filter(() => r() < 0.5).map((n) => [n, pick(ports)]))),
      })),
    };
  }
  const gateways: Record<string, unknown> = {};
  for (const g of ['gw', 'edge'].slice(0, Math.floor(r() * 3))) {
    gateways[g] = {
      listeners: Array.from({ length: 1 + Math.floor(r() * 2) }, (_, li) => ({ name: `l${li}`, port: pick(ports), address: maybe(0.5, () => pick(ips)) })),
      adminPort: maybe(0.4, () => pick(ports)),
    };
  }
  const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
  return ModelSchema.parse(strip({ version: 1, services, gateways }));
}

describe('port clashes: rewritten check = reference', () => {
  it('same clashes, order, paths and messages on random models', () => {
    let clashes = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const model = randomModel(rng(seed));
      const want: string[] = [];
      referencePortClashes(model, (p, m) => want.push(`${JSON.stringify(p)} ${m}`));
      const got = validateModel(model, () => ({ file: 'm.yaml', line: 1, column: 1 }))
        .filter((d) => d.message.startsWith('port clash'))
        .map((d) => `${JSON.stringify(d.path)} ${d.message}`);
      expect(got, `seed ${seed}`).toEqual(want);
      clashes += want.length;
    }
    expect(clashes).toBeGreaterThan(3000);
  });
});
