// Three semantic checks in src/model/validate.ts were rewritten for speed on big models: port
// clashes (no string built per claimed port, no scan of every claim per wildcard listener),
// route shadowing (no per-listener copy of every route, each route's canonical match computed
// once) and empty subsets (each (service, subset) counted once, not once per route). This test keeps the original, straightforward versions as references and checks that
// both report the same problems, in the same order, with the same paths and messages, on
// thousands of random models full of clashes and shadowed routes.
import { describe, expect, it } from 'vitest';
import type { ModelPath } from '../../src/model/diagnostics.js';
import { type BackendModel, type MatchModel, type Model, ModelSchema } from '../../src/model/schema.js';
import { labelsMatch, validateModel } from '../../src/model/validate.js';
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

function referenceShadowing(model: Model, warn: (p: ModelPath, m: string, h?: string) => void): void {
  for (const [sname, svc] of Object.entries(model.services)) {
    const base = ['services', sname];
    const routes = svc.routes ?? [];
    checkShadowing(routes.map((r, ri) => ({ match: r.match, path: [...base, 'routes', ri] })), warn);
  }
  for (const [gname, gw] of Object.entries(model.gateways)) {
    const base = ['gateways', gname];
    const httpListeners = gw.listeners.filter((l) => l.protocol === 'http').map((l) => l.name);
    const routes = gw.routes ?? [];
    for (const ln of httpListeners) {
      const mine = routes.map((r, ri) => ({ r, ri })).filter(({ r }) => !r.listeners || r.listeners.includes(ln));
      checkShadowing(mine.map(({ r, ri }) => ({ match: r.match, path: [...base, 'routes', ri] })), warn);
    }
  }
}

function checkShadowing(routes: Array<{ match: MatchModel | undefined; path: ModelPath }>, warn: (p: ModelPath, m: string, h?: string) => void): void {
  const seen = new Map<string, ModelPath>();
  let catchAll: ModelPath | undefined;
  for (const r of routes) {
    if (catchAll) {
      warn(r.path, `unreachable: the route at ${describePath(catchAll)} above matches every request`, 'move this route above it');
      continue;
    }
    const key = canonicalMatch(r.match);
    const dup = seen.get(key);
    if (dup) warn(r.path, `unreachable: the route at ${describePath(dup)} has the same match`);
    else seen.set(key, r.path);
    if (matchesEverything(r.match)) catchAll = r.path;
  }
}

function canonicalMatch(m: MatchModel | undefined): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
    return v;
  };
  const norm = { ...(m ?? {}), ...(m?.methods ? { methods: [...new Set(m.methods)].sort() } : {}) };
  if (norm.pathPrefix === '/') delete norm.pathPrefix;
  return JSON.stringify(sortKeys(norm));
}

function matchesEverything(m: MatchModel | undefined): boolean {
  if (!m) return true;
  const noConditions = !m.headers && !m.queryParams && !m.methods && !m.path && !m.pathRegex;
  return noConditions && (m.pathPrefix === undefined || m.pathPrefix === '/');
}

function referenceSubsets(model: Model, err: (p: ModelPath, m: string, h?: string) => void): void {
  const check = (backends: BackendModel[] | undefined, path: ModelPath, owner: string | undefined): void => {
    (backends ?? []).forEach((b, i) => {
      const bp = [...path, i];
      const sname = b.service ?? owner;
      if (!sname) return;
      const svc = model.services[sname];
      if (!svc) return;
      if (b.subset) {
        const n = svc.instances.filter((inst) => labelsMatch(b.subset!, inst.labels)).length;
        if (n === 0) {
          const known = [...new Set(svc.instances.flatMap((inst) => Object.entries(inst.labels ?? {}).map(([k, v]) => `${k}=${v}`)))].sort();
          err([...bp, 'subset'], `subset ${JSON.stringify(b.subset)} selects no instance of "${sname}"`, known.length ? `labels in use: ${known.join(', ')}` : 'its instances have no labels');
        }
      }
    });
  };
  for (const [sname, svc] of Object.entries(model.services)) {
    (svc.routes ?? []).forEach((r, ri) => check(r.backends, ['services', sname, 'routes', ri, 'backends'], sname));
  }
  for (const [gname, gw] of Object.entries(model.gateways)) {
    (gw.routes ?? []).forEach((r, ri) => {
      if (r.backends) check(r.backends, ['gateways', gname, 'routes', ri, 'backends'], undefined);
    });
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
  const labelKeys = ['version', 'zone', 'app.io/tier'];
  const labelValues = ['v1', 'v2', 'x'];
  const subset = (): Record<string, string> | undefined => maybe(0.6, () => Object.fromEntries(labelKeys.filter(() => r() < 0.5).map((k) => [k, pick(labelValues)])));
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
        labels: maybe(0.7, () => Object.fromEntries(labelKeys.filter(() => r() < 0.6).map((k) => [k, pick(labelValues)]))),
      })),
    };
  }
  const matches: Array<Record<string, unknown> | undefined> = [
    undefined,
    {},
    { pathPrefix: '/' },
    { pathPrefix: '/a' },
    { path: '/a' },
    { pathPrefix: '/a', methods: ['GET', 'POST'] },
    { methods: ['POST', 'GET', 'GET'] },
    { headers: { 'x-a': 'v' } },
    { headers: { 'x-a': { prefix: 'v' } }, pathPrefix: '/a' },
    { pathPrefix: '/a', headers: { 'x-a': { prefix: 'v' } } },
    { queryParams: { q: { present: true } } },
  ];
  const backend = (): Record<string, unknown> => ({ service: r() < 0.8 ? pick(names) : undefined, subset: subset() });
  const route = (): Record<string, unknown> => ({ match: pick(matches), backends: Array.from({ length: 1 + Math.floor(r() * 3) }, backend) });
  for (const s of Object.keys(services)) {
    if (r() < 0.5) (services[s] as Record<string, unknown>)['routes'] = Array.from({ length: Math.floor(r() * 5) }, route);
  }
  const gateways: Record<string, unknown> = {};
  for (const g of ['gw', 'edge'].slice(0, Math.floor(r() * 3))) {
    const listeners = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, li) => ({ name: `l${li}`, port: pick(ports), address: maybe(0.5, () => pick(ips)), protocol: r() < 0.8 ? 'http' : 'tcp' }));
    gateways[g] = {
      listeners,
      adminPort: maybe(0.4, () => pick(ports)),
      routes: Array.from({ length: Math.floor(r() * 8) }, () => ({
        ...route(),
        listeners: maybe(0.4, () => [listeners[0]!.name, ...listeners.filter(() => r() < 0.6).map((l) => l.name), ...(r() < 0.1 ? ['nope'] : [])]),
      })),
    };
  }
  const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
  return ModelSchema.parse(strip({ version: 1, services, gateways }));
}

describe('rewritten checks = reference', () => {
  it('same port clashes, order, paths and messages on random models', () => {
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

  it('same shadowed-route warnings, order and paths on random models', () => {
    let warnings = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const model = randomModel(rng(seed));
      const want: string[] = [];
      referenceShadowing(model, (p, m, h) => want.push(`${JSON.stringify(p)} ${m} ${h ?? ''}`));
      const got = validateModel(model, () => ({ file: 'm.yaml', line: 1, column: 1 }))
        .filter((d) => d.message.startsWith('unreachable'))
        .map((d) => `${JSON.stringify(d.path)} ${d.message} ${d.hint ?? ''}`);
      expect(got, `seed ${seed}`).toEqual(want);
      warnings += want.length;
    }
    expect(warnings).toBeGreaterThan(1000);
  });

  it('same empty-subset errors, order, paths and hints on random models', () => {
    let errors = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const model = randomModel(rng(seed));
      const want: string[] = [];
      referenceSubsets(model, (p, m, h) => want.push(`${JSON.stringify(p)} ${m} ${h ?? ''}`));
      const got = validateModel(model, () => ({ file: 'm.yaml', line: 1, column: 1 }))
        .filter((d) => d.message.includes('selects no instance'))
        .map((d) => `${JSON.stringify(d.path)} ${d.message} ${d.hint ?? ''}`);
      expect(got, `seed ${seed}`).toEqual(want);
      errors += want.length;
    }
    expect(errors).toBeGreaterThan(1000);
  });
});
