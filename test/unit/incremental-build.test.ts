// The incremental build must never differ from a build from scratch: after any sequence of
// edits, every group's snapshot built by a long-lived MeshBuilder has exactly the version a fresh
// builder gives for the same model. And it must be incremental: what an edit does not touch
// keeps its very snapshot object.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildSnapshots, MeshBuilder, type SecretSource } from '../../src/app/model-source.js';
import { buildMeshIR, IrBuilder } from '../../src/ir/build.js';
import { deepEqual } from '../../src/ir/model-diff.js';
import type { ProxyIR } from '../../src/ir/types.js';
import { loadModelText, ModelLoader } from '../../src/model/load.js';
import type { Model } from '../../src/model/schema.js';
import { identitySecret, trustBundleSecret } from '../../src/translate/secret.js';
import { type Resource, resourceFromJson } from '../../src/xds/resource.js';
import { Snapshot } from '../../src/xds/snapshot.js';
import { TYPE } from '../../src/xds/type-urls.js';
import { rng } from '../helpers/rng.js';
import { gatewayMesh, setInstancePort, setServiceProtocol } from '../../bench/models.js';

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'golden');

/** Stable secrets per identity, the same array each time (as MeshSecurity returns them). */
function secretSource(): SecretSource {
  const memo = new Map<string, Resource[]>();
  return (p) => {
    const k = `${p.group}\0${p.identity}`;
    let r = memo.get(k);
    if (!r) {
      r = [
        resourceFromJson(TYPE.SECRET, identitySecret(`cert for ${p.identity} ${p.group}`, `key for ${p.group}`)),
        resourceFromJson(TYPE.SECRET, trustBundleSecret('bundle')),
      ];
      memo.set(k, r);
    }
    return r;
  };
}

/** The raw (pre-zod) model as plain JSON: what the edits below change. */
type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The model's text, in block style as people write it: the process loader then reads a reload
 * part by part and hands over the last objects of what did not change, with which names did
 * (JSON, which is YAML too, is read whole and by the position-tracking parser).
 */
function yamlOf(raw: Raw): string {
  return stringify(raw);
}

function load(raw: Raw): Model | null {
  const r = loadModelText('mesh.yaml', yamlOf(raw));
  return r.model && !r.diagnostics.some((d) => d.severity === 'error') ? r.model : null;
}

function rawOf(file: string): Raw {
  const r = loadModelText(file, fs.readFileSync(file, 'utf8'));
  if (!r.model) throw new Error(`fixture ${file} does not load`);
  // The loaded model with durations back to strings is valid raw input again.
  const m = JSON.parse(JSON.stringify(r.model)) as Raw;
  m['mesh']['certificateTtl'] = `${m['mesh']['certificateTtl']}ms`;
  for (const s of Object.values<Raw>(m['services'])) {
    if (s['timeout'] !== undefined) s['timeout'] = `${s['timeout']}ms`;
    for (const rt of s['routes'] ?? []) if (rt['timeout'] !== undefined) rt['timeout'] = `${rt['timeout']}ms`;
  }
  for (const g of Object.values<Raw>(m['gateways'])) for (const rt of g['routes'] ?? []) if (rt['timeout'] !== undefined) rt['timeout'] = `${rt['timeout']}ms`;
  return m;
}


const pick = <T,>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** One random edit of the kinds users make; some produce invalid models, which are skipped. */
function edit(raw: Raw, r: () => number, step: number): string {
  const services = Object.keys(raw['services']);
  const gateways = Object.keys(raw['gateways'] ?? {});
  const svcName = pick(r, services);
  const svc = raw['services'][svcName];
  const kind = Math.floor(r() * 26);
  const gw = gateways.length ? raw['gateways'][pick(r, gateways)] : undefined;
  switch (kind) {
    case 18: {
      if (!gw?.routes?.length) return 'no gateway route';
      gw.routes.splice(Math.floor(r() * gw.routes.length), 1);
      return 'gateway route removed';
    }
    case 19: {
      if (!gw?.routes?.length) return 'no gateway route';
      gw.routes.reverse();
      return 'gateway routes reordered';
    }
    case 20: {
      // A service the routes compose with: a route of its own (to a subset), or none.
      if (svc.protocol === 'tcp') return 'tcp service';
      if (svc.routes && r() < 0.4) delete svc.routes;
      else svc.routes = [{ match: { pathPrefix: `/own${step}/` }, timeout: `${200 + step}ms`, backends: [{ subset: { version: 'v1' } }, { weight: 0, subset: { version: 'v2' } }].slice(0, 1) }, { backends: [{}] }];
      return `routes of ${svcName}`;
    }
    case 21: {
      // A service no route names (often one something else names: then invalid, and skipped).
      if (services.length < 2) return 'one service';
      delete raw['services'][svcName];
      return `service ${svcName} removed`;
    }
    case 22: {
      if (!gw) return 'no gateway';
      const l = pick(r, gw.listeners as Raw[]);
      if ((l['protocol'] ?? 'http') !== 'http') l['port'] = 26000 + step;
      else if (r() < 0.5) l['hosts'] = r() < 0.5 ? ['*'] : [`h${step % 3}.example.com`, '*.example.org'];
      else gw.listeners.push({ name: `extra${step}`, port: 27000 + step });
      return 'gateway listener';
    }
    case 23: {
      if (!gw?.routes?.length) return 'no gateway route';
      const rt = pick(r, gw.routes as Raw[]);
      if (rt['name'] === undefined) rt['name'] = `named-${step}`;
      else delete rt['name'];
      return 'gateway route name';
    }
    case 24: {
      if (!gw?.routes?.length) return 'no gateway route';
      const rt = pick(r, gw.routes as Raw[]);
      rt['timeout'] = `${300 + step}ms`;
      if (r() < 0.5) rt['rewrite'] = { pathPrefix: `/rw${step % 4}/` };
      return 'gateway route timeout, rewrite';
    }
    case 25: {
      if (!gw) return 'no gateway';
      gw.routes ??= [];
      gw.routes.splice(Math.floor(r() * (gw.routes.length + 1)), 0, { match: { pathPrefix: `/w${step}/` }, backends: [{ service: svcName, weight: 3 }, { service: pick(r, services), weight: 1 }] });
      return `weighted gateway route to ${svcName}`;
    }
    case 12:
      raw['mesh']['trustDomain'] = `td${step % 3}.example`;
      return 'mesh trustDomain';
    case 13:
      // Between the two mTLS modes (off → on would need every caller's secrets at once; not an edit of interest here).
      if (raw['mesh']['mtls'] === 'strict') raw['mesh']['mtls'] = 'permissive';
      else if (raw['mesh']['mtls'] === 'permissive') raw['mesh']['mtls'] = 'strict';
      return 'mesh mtls mode';
    case 14: {
      const inst = pick(r, svc.instances as Raw[]);
      if (inst['outboundPort'] === undefined || r() < 0.5) inst['outboundPort'] = 15001 + (step % 3);
      else delete inst['outboundPort'];
      return `outboundPort of ${svcName}/${inst['id']}`;
    }
    case 15: {
      const inst = pick(r, svc.instances as Raw[]);
      inst['app'] = `127.0.0.1:${24000 + step}`;
      return `app of ${svcName}/${inst['id']}`;
    }
    case 16: {
      const tcp = services.filter((n) => raw['services'][n].protocol === 'tcp' && n !== svcName);
      const inst = pick(r, svc.instances as Raw[]);
      if (inst['tcpOutbound'] || !tcp.length) delete inst['tcpOutbound'];
      else inst['tcpOutbound'] = { [pick(r, tcp)]: 25000 + step };
      return `tcpOutbound of ${svcName}/${inst['id']}`;
    }
    case 17: {
      const inst = pick(r, svc.instances as Raw[]);
      inst['address'] = `10.8.${step % 250}.${1 + (step % 200)}`;
      return `address of ${svcName}/${inst['id']}`;
    }
    case 0: {
      const inst = pick(r, svc.instances as Raw[]);
      inst['port'] = 20000 + step;
      return `port of ${svcName}/${inst['id']}`;
    }
    case 1: {
      const base = svc.instances[0] as Raw;
      svc.instances.push({ ...base, id: `${svcName.slice(0, 40)}-x${step}`, port: 21000 + step, ...(base['app'] ? { app: `127.0.0.1:${22000 + step}` } : {}) });
      return `add instance to ${svcName}`;
    }
    case 2:
      if (svc.instances.length > 1) svc.instances.pop();
      return `remove instance of ${svcName}`;
    case 3:
      if (svc.protocol !== 'tcp') svc.protocol = svc.protocol === 'http2' ? 'http' : 'http2';
      return `protocol of ${svcName}`;
    case 4:
      svc.timeout = `${100 + step}ms`;
      return `timeout of ${svcName}`;
    case 5:
      svc.allow = [{ services: [pick(r, services)], pathPrefix: `/p${step}` }];
      return `allow of ${svcName}`;
    case 6:
      delete svc.allow;
      return `no allow on ${svcName}`;
    case 7:
      raw['mesh']['defaultPolicy'] = raw['mesh']['defaultPolicy'] === 'deny' ? 'allow' : 'deny';
      return 'mesh defaultPolicy';
    case 8: {
      if (!gateways.length) return 'no gateway';
      const gw = raw['gateways'][pick(r, gateways)];
      const routes = (gw.routes ??= []) as Raw[];
      const http = (gw.listeners as Raw[]).filter((l) => (l['protocol'] ?? 'http') === 'http');
      if (!http.length) return 'no http listener';
      routes.unshift({ match: { pathPrefix: `/edit${step}/` }, backend: svcName });
      return `gateway route to ${svcName}`;
    }
    case 9: {
      if (!gateways.length) return 'no gateway';
      const gw = raw['gateways'][pick(r, gateways)];
      const rt = (gw.routes ?? []).find((x: Raw) => x['match']?.['pathPrefix']);
      if (rt) rt['match']['pathPrefix'] = `/moved${step}/`;
      return 'gateway route path';
    }
    case 10: {
      const name = `new-${step}`;
      raw['services'][name] = { instances: [{ id: `${name}-1`, address: `10.9.${step % 250}.1`, port: 8080, app: `127.0.0.1:${23000 + step}`, outboundPort: 15001 }] };
      return `add service ${name}`;
    }
    default: {
      const inst = pick(r, svc.instances as Raw[]);
      inst['labels'] = { version: step % 2 ? 'v1' : 'v2' };
      return `labels of ${svcName}/${inst['id']}`;
    }
  }
}

const fixtures = fs
  .readdirSync(GOLDEN, { withFileTypes: true })
  .filter((d) => d.isDirectory() && fs.existsSync(path.join(GOLDEN, d.name, 'mesh.yaml')))
  .map((d) => d.name)
  .sort();

/**
 * Every group's snapshot from its grouped resources (ResourceEncoder.translateProxyByType), each
 * built on the group's previous one (`prev`): what MeshBuilder.snapshotFor does with them, so
 * that per-type arrays shared between proxies and builds, and the type sets interned on them,
 * are compared with a build from scratch too.
 */
function groupedSnapshots(b: MeshBuilder, secrets: SecretSource, prev: ReadonlyMap<string, Snapshot>): Map<string, Snapshot> {
  const out = new Map<string, Snapshot>();
  for (const g of b.ir.groups()) {
    const p = b.ir.proxy(g)!;
    const snap = new Snapshot(b.encoder.translateProxyByType(p), prev.get(g), p.identity ? secrets(p) : []);
    expect(snap.problems(), g).toEqual([]);
    out.set(g, snap);
  }
  return out;
}

/** A proxy's IR as plain data (a sidecar of the outbound view makes its upstream list when first read). */
function irOf(p: ProxyIR): Record<string, unknown> {
  return { group: p.group, kind: p.kind, name: p.name, service: p.service, identity: p.identity, adminPort: p.adminPort, listeners: p.listeners, upstreams: p.upstreams, upstreamParts: p.upstreamParts };
}

function versions(snaps: ReadonlyMap<string, { version: string }>): Record<string, string> {
  return Object.fromEntries([...snaps].map(([g, s]) => [g, s.version]));
}

describe('incremental build equals a build from scratch', () => {
  it.each(fixtures)('%s: 40 random edits, each compared with a fresh build', (name) => {
    const r = rng(name.length * 7919 + name.charCodeAt(0));
    let raw = rawOf(path.join(GOLDEN, name, 'mesh.yaml'));
    const secrets = secretSource();
    const live = new MeshBuilder();
    const first = load(raw)!;
    expect(buildSnapshots(first, live, 'mesh.yaml', secrets).errors).toEqual([]);
    let grouped = groupedSnapshots(live, secrets, new Map());
    let applied = 0;
    for (let step = 0; step < 40; step++) {
      const next = structuredClone(raw);
      const what = edit(next, r, step);
      const model = load(next);
      if (!model) continue; // an invalid edit: the previous model stays
      raw = next;
      applied++;
      const groupsBefore = live.ir.groups();
      const inc = buildSnapshots(model, live, 'mesh.yaml', secrets);
      const fresh = buildSnapshots(structuredClone(model), new MeshBuilder(), 'mesh.yaml', secrets);
      expect(inc.errors, what).toEqual([]);
      // The IR itself, every proxy, and whether the set of proxies changed.
      expect(inc.built.ir.proxies.map(irOf), `IR after "${what}" (step ${step})`).toEqual(buildMeshIR(structuredClone(model)).proxies.map(irOf));
      expect(inc.built.groupsChanged, `groupsChanged after "${what}"`).toBe(!deepEqual(groupsBefore, live.ir.groups()));
      expect(versions(inc.built.snapshots), `after "${what}" (step ${step})`).toEqual(versions(fresh.built.snapshots));
      grouped = groupedSnapshots(live, secrets, grouped);
      expect(versions(grouped), `grouped, after "${what}" (step ${step})`).toEqual(versions(fresh.built.snapshots));
      // `changed` names exactly the groups whose snapshot is a different object.
      for (const g of inc.built.changed) expect(inc.built.snapshots.has(g)).toBe(true);
    }
    expect(applied).toBeGreaterThan(10);
  });
});

describe('incremental build reuses what an edit does not touch', () => {
  const base = (): Raw => ({
    version: 1,
    mesh: { mtls: 'strict' },
    services: Object.fromEntries(
      Array.from({ length: 6 }, (_, s) => [
        `s${s}`,
        { instances: Array.from({ length: 3 }, (_, i) => ({ id: `s${s}-${i}`, address: `10.0.${s}.${i + 1}`, port: 8080, app: '127.0.0.1:9000', ...(s === 0 ? { outboundPort: 15001 } : {}) })) },
      ]),
    ),
    gateways: { edge: { listeners: [{ name: 'web', port: 8000 }], routes: Array.from({ length: 6 }, (_, s) => ({ match: { pathPrefix: `/s${s}/` }, backend: `s${s}` })) } },
  });

  it('a gateway route edit changes only the gateway', () => {
    const b = new MeshBuilder();
    const secrets = secretSource();
    const a = buildSnapshots(load(base())!, b, 'mesh.yaml', secrets).built;
    const raw = base();
    raw['gateways']['edge']['routes'][2]['match']['pathPrefix'] = '/other/';
    const next = buildSnapshots(load(raw)!, b, 'mesh.yaml', secrets).built;
    expect([...next.changed]).toEqual(['gateway/edge']);
    for (const [g, s] of next.snapshots) if (g !== 'gateway/edge') expect(s).toBe(a.snapshots.get(g));
  });

  it('an instance port edit changes that service sidecars, callers with an outbound view, and the gateway', () => {
    const b = new MeshBuilder();
    const secrets = secretSource();
    buildSnapshots(load(base())!, b, 'mesh.yaml', secrets);
    const raw = base();
    raw['services']['s3'].instances[1].port = 9999;
    const next = buildSnapshots(load(raw)!, b, 'mesh.yaml', secrets).built;
    // s3-1's inbound listener; s0's outbound clusters (EDS assignment of s3); the gateway's.
    expect([...next.changed].sort()).toEqual(['gateway/edge', 'sidecar/s0/s0-0', 'sidecar/s0/s0-1', 'sidecar/s0/s0-2', 'sidecar/s3/s3-1']);
  });

  it('an instance edit keeps the route IR (gateway, outbound) and the service\'s authorization, so nothing is re-encoded for them', () => {
    const b = new MeshBuilder();
    const secrets = secretSource();
    const raw0 = base();
    raw0['services']['s3'].allow = [{ services: ['s0'] }];
    buildSnapshots(load(raw0)!, b, 'mesh.yaml', secrets);
    const gwHosts = (): unknown => (b.ir.proxy('gateway/edge')!.listeners[0] as { virtualHosts: unknown }).virtualHosts;
    const outHosts = (): unknown => (b.ir.proxy('sidecar/s0/s0-0')!.listeners.find((l) => l.name === 'outbound') as { virtualHosts: unknown }).virtualHosts;
    const authz = (): unknown => b.ir.proxy('sidecar/s3/s3-0')!.listeners[0]!.authz;
    const before = { gw: gwHosts(), out: outHosts(), authz: authz(), gwProxy: b.ir.proxy('gateway/edge') };
    const raw = structuredClone(raw0);
    raw['services']['s3'].instances[1].port = 9999;
    buildSnapshots(load(raw)!, b, 'mesh.yaml', secrets);
    expect(b.ir.proxy('gateway/edge')).not.toBe(before.gwProxy); // its upstreams changed
    expect(gwHosts()).toBe(before.gw);
    expect(outHosts()).toBe(before.out);
    expect(authz()).not.toBeNull();
    expect(authz()).toBe(before.authz);
  });

  it('sidecars of the outbound view share its listener and upstream list; unchanged listeners are kept', () => {
    const b = new MeshBuilder();
    const secrets = secretSource();
    const raw0 = base();
    buildSnapshots(load(raw0)!, b, 'mesh.yaml', secrets);
    const [p0, p1] = [b.ir.proxy('sidecar/s0/s0-0')!, b.ir.proxy('sidecar/s0/s0-1')!];
    expect(p0.listeners.map((l) => l.name)).toEqual(['inbound', 'outbound']);
    expect(p0.listeners[1]).toBe(p1.listeners[1]);
    expect(p0.upstreamParts!.shared).toBe(p1.upstreamParts!.shared);
    expect(p0.upstreamParts!.own).toBe(p0.upstreams[0]);
    expect(p0.upstreams.map((u) => u.key)).toEqual(['inbound|s0', 's0', 's1', 's2', 's3', 's4', 's5']);
    expect(b.ir.proxy('sidecar/s1/s1-0')!.upstreamParts).toBeNull(); // no outbound listener
    // A timeout edit: new routes, the same upstreams; the inbound listener is kept.
    const raw1 = structuredClone(raw0);
    raw1['services']['s3'].timeout = '5s';
    buildSnapshots(load(raw1)!, b, 'mesh.yaml', secrets);
    const q0 = b.ir.proxy('sidecar/s0/s0-0')!;
    expect(q0).not.toBe(p0);
    expect(q0.upstreamParts!.shared).toBe(p0.upstreamParts!.shared);
    expect(q0.listeners[0]).toBe(p0.listeners[0]);
    expect(q0.listeners[1]).not.toBe(p0.listeners[1]);
    expect(q0.listeners[1]).toBe(b.ir.proxy('sidecar/s0/s0-2')!.listeners[1]);
    // An allow rule on s0: its inbound listeners (authorization) are new, the outbound one is kept.
    const raw2 = structuredClone(raw1);
    raw2['services']['s0'].allow = [{ services: ['s1'] }];
    buildSnapshots(load(raw2)!, b, 'mesh.yaml', secrets);
    const r0 = b.ir.proxy('sidecar/s0/s0-0')!;
    expect(r0.listeners[0]).not.toBe(q0.listeners[0]);
    expect(r0.listeners[1]).toBe(q0.listeners[1]);
    // An instance port elsewhere: a new upstream list (s2's endpoints), the same listeners.
    const raw3 = structuredClone(raw2);
    raw3['services']['s2'].instances[0].port = 9999;
    buildSnapshots(load(raw3)!, b, 'mesh.yaml', secrets);
    const t0 = b.ir.proxy('sidecar/s0/s0-0')!;
    expect(t0.upstreamParts!.shared).not.toBe(r0.upstreamParts!.shared);
    expect(t0.listeners[0]).toBe(r0.listeners[0]);
    expect(t0.listeners[1]).toBe(r0.listeners[1]);
  });

  it('an unchanged model changes nothing and reuses every snapshot', () => {
    const b = new MeshBuilder();
    const secrets = secretSource();
    const a = buildSnapshots(load(base())!, b, 'mesh.yaml', secrets).built;
    const next = buildSnapshots(load(base())!, b, 'mesh.yaml', secrets).built;
    expect(next.changed.size).toBe(0);
    for (const [g, s] of next.snapshots) expect(s).toBe(a.snapshots.get(g));
    expect(deepEqual(next.model, a.model)).toBe(true);
    expect(next.model.services['s1']).toBe(a.model.services['s1']);
    expect(next.model.mesh).toBe(a.model.mesh);
  });
});

/**
 * A mesh whose gateways exercise what a gateway's IR is built from: routes named and not, to one
 * service (composed with its routes) or weighted across several, on one listener or each, with
 * rewrites and timeouts; services with subsets, routes of their own naming other services, gRPC
 * and TCP ones, and services no gateway names.
 */
function gatewayRaw(r: () => number): Raw {
  const services: Raw = {};
  for (let s = 0; s < 12; s++) {
    services[`s${s}`] = {
      ...(s === 6 ? { protocol: 'grpc', timeout: '2s' } : s === 7 ? { protocol: 'http2' } : s === 9 ? { protocol: 'tcp' } : {}),
      instances: Array.from({ length: 2 + (s % 2) }, (_, i) => ({ id: `s${s}-${i}`, address: `10.1.${s}.${i + 1}`, port: 8080, app: '127.0.0.1:9000', labels: { version: `v${(i % 2) + 1}` } })),
    };
  }
  services['s7'].routes = [{ match: { pathPrefix: '/a/' }, backends: [{ subset: { version: 'v1' } }] }, { backends: [{ service: 's1' }] }];
  services['s8'].routes = [{ match: { pathPrefix: '/h/', headers: { 'x-canary': 'yes' } }, timeout: '3s', backends: [{ subset: { version: 'v2' } }] }];
  const routes: Raw[] = [];
  for (let k = 0; k < 30; k++) routes.push(gatewayRoute(r, k, true));
  return {
    version: 1,
    mesh: { mtls: 'strict', trustDomain: 'gw.test' },
    services,
    gateways: {
      edge: { listeners: [{ name: 'public', port: 18080, hosts: ['a.example.com'] }, { name: 'internal', port: 19090 }, { name: 'db', port: 15432, protocol: 'tcp', backend: 's9' }], routes },
      // Every route on each listener, until an edit restricts one (and lifts it again).
      side: { listeners: [{ name: 'web', port: 18081 }, { name: 'alt', port: 18082 }], routes: Array.from({ length: 5 }, (_, k) => gatewayRoute(r, 100 + k, false)) },
    },
  };
}

/** A gateway route of a random kind, at a path of its own (`k`); on one of edge's listeners or each. */
function gatewayRoute(r: () => number, k: number, edge: boolean): Raw {
  const svc = (): string => `s${pick(r, [0, 1, 2, 3, 4, 5, 6, 7, 8])}`;
  const route: Raw = { match: { pathPrefix: `/p${k}/` } };
  if (r() < 0.5) route['name'] = `r${k}`;
  if (r() < 0.7) route['backend'] = svc();
  else route['backends'] = [{ service: svc(), weight: 2 }, { service: svc(), weight: 1, subset: { version: 'v1' } }];
  const x = r();
  if (edge && x < 0.15) route['listeners'] = ['public'];
  else if (edge && x < 0.25) route['listeners'] = ['internal'];
  if (r() < 0.2) route['rewrite'] = { pathPrefix: '/' };
  if (r() < 0.2) route['timeout'] = `${1 + Math.floor(r() * 5)}s`;
  return route;
}

/** One gateway-minded edit (some give invalid models, which are skipped); 'nothing' leaves the model as it is. */
function gatewayEdit(raw: Raw, r: () => number, step: number): string {
  const gname = r() < 0.8 ? 'edge' : 'side';
  const gw = raw['gateways'][gname];
  const routes = gw.routes as Raw[];
  const svcName = `s${Math.floor(r() * 12)}`;
  const svc = raw['services'][svcName];
  switch (Math.floor(r() * 16)) {
    case 0:
    case 1: {
      const i = Math.floor(r() * routes.length);
      if (!routes[i]) return 'nothing';
      routes[i]!['match'] = { pathPrefix: `/e${step}/` };
      return `${gname} route ${i} path`;
    }
    case 2: {
      const i = Math.floor(r() * (routes.length + 1));
      routes.splice(i, 0, gatewayRoute(r, 1000 + step, gname === 'edge'));
      return `${gname} route added at ${i}`;
    }
    case 3: {
      const i = Math.floor(r() * routes.length);
      routes.splice(i, 1);
      return `${gname} route ${i} removed`;
    }
    case 4: {
      const i = Math.floor(r() * routes.length);
      const j = Math.floor(r() * routes.length);
      [routes[i], routes[j]] = [routes[j]!, routes[i]!];
      return `${gname} routes ${i} and ${j} swapped`;
    }
    case 5: {
      const rt = pick(r, routes);
      if (rt['backend'] && r() < 0.5) rt['backend'] = `s${Math.floor(r() * 9)}`;
      else if (gname === 'side') {
        // At most one route on one listener: the other takes all routes, or all but one.
        for (const x of routes) delete x['listeners'];
        if (r() < 0.6) rt['listeners'] = ['web'];
      } else if (rt['listeners']) delete rt['listeners'];
      else rt['listeners'] = [r() < 0.5 ? 'public' : 'internal'];
      return `${gname} route backend or listeners`;
    }
    case 6:
      if (!svc) return 'nothing';
      svc['timeout'] = `${100 + step}ms`;
      return `timeout of ${svcName}`;
    case 7:
      if (!svc || svc['protocol'] === 'tcp') return 'nothing';
      if (svc['routes'] && r() < 0.3) delete svc['routes'];
      else svc['routes'] = [{ match: { pathPrefix: `/s${step % 3}/` }, backends: [{ subset: { version: pick(r, ['v1', 'v2']) } }] }, { backends: [{ service: `s${Math.floor(r() * 6)}` }] }];
      return `routes of ${svcName}`;
    case 8: {
      if (!svc) return 'nothing';
      const inst = pick(r, svc['instances'] as Raw[]);
      if (r() < 0.5) inst['port'] = 20000 + step;
      else inst['labels'] = { version: pick(r, ['v1', 'v2', 'v3']) };
      return `instance of ${svcName}`;
    }
    case 9:
      if (!svc) return 'nothing';
      svc['instances'].push({ id: `${svcName}-x${step}`, address: `10.2.${step % 250}.1`, port: 8080, app: '127.0.0.1:9000', labels: { version: 'v2' } });
      return `instance added to ${svcName}`;
    case 10: {
      // The services no route names come and go.
      const name = pick(r, ['s10', 's11']);
      if (raw['services'][name]) delete raw['services'][name];
      else raw['services'][name] = { instances: [{ id: `${name}-0`, address: `10.3.${step % 250}.1`, port: 8080, app: '127.0.0.1:9000' }] };
      return `${name} removed or added`;
    }
    case 11: {
      const l = pick(r, gw.listeners as Raw[]);
      if (l['protocol'] === 'tcp') l['port'] = 26000 + step;
      else if (r() < 0.5) l['hosts'] = [`h${step % 3}.example.com`];
      else l['port'] = 27000 + step;
      return `${gname} listener ${l['name']}`;
    }
    case 12:
      if (gw.listeners.length > 3 || r() < 0.5) gw.listeners = gw.listeners.filter((l: Raw) => !String(l['name']).startsWith('x'));
      else gw.listeners.push({ name: `x${step}`, port: 28000 + step });
      return `${gname} listener added or removed`;
    case 13:
      if (r() < 0.5) raw['mesh']['trustDomain'] = `td${step % 3}.test`;
      else raw['mesh']['mtls'] = raw['mesh']['mtls'] === 'strict' ? 'permissive' : 'strict';
      return 'mesh';
    case 14:
      if (!svc || svc['protocol'] === 'tcp' || svc['protocol'] === 'grpc') return 'nothing';
      svc['protocol'] = svc['protocol'] === 'http2' ? 'http' : 'http2';
      return `protocol of ${svcName}`;
    default:
      if (r() < 0.5) gw['adminPort'] = 29000 + (step % 5);
      else return 'nothing';
      return `${gname} adminPort`;
  }
}

describe('incremental gateway IR equals a build from scratch, and keeps what did not change', () => {
  it.each([1, 2, 3, 4])('seed %i: 250 gateway-minded edits', (seed) => {
    const r = rng(seed * 7717);
    let raw = gatewayRaw(r);
    // Mostly one loader, as meshgate has (a reload gives the last objects of what did not
    // change, and says what did); now and then a fresh one (every part a new object).
    const shared = new ModelLoader();
    const loadWith = (loader: ModelLoader, x: Raw): Model | null => {
      const res = loader.load('mesh.yaml', yamlOf(x));
      return res.model && !res.diagnostics.some((d) => d.severity === 'error') ? res.model : null;
    };
    const b = new IrBuilder();
    let model = b.update(loadWith(shared, raw)!);
    const gateways = (): Record<string, ProxyIR> => Object.fromEntries(['gateway/edge', 'gateway/side'].map((g) => [g, b.proxy(g)!]));
    let last = gateways();
    let applied = 0;
    const seen = new Set<string>();
    for (let step = 0; step < 250; step++) {
      const next = structuredClone(raw);
      const what = gatewayEdit(next, r, step);
      const loaded = loadWith(r() < 0.8 ? shared : new ModelLoader(), next);
      if (!loaded) continue;
      raw = next;
      applied++;
      seen.add(what.replace(/[0-9]+/g, '#'));
      const prevModel = model;
      model = b.update(loaded);
      const now = gateways();
      const fresh = buildMeshIR(structuredClone(loaded));
      for (const g of ['gateway/edge', 'gateway/side']) {
        const at = `${g} after "${what}" (step ${step})`;
        expect(irOf(now[g]!), at).toEqual(irOf(fresh.proxies.find((p) => p.group === g)!));
        // The same upstream objects: the very same list (translation and snapshots compare by identity).
        if (deepEqual(now[g]!.upstreams.map((u) => u.key), last[g]!.upstreams.map((u) => u.key)) && now[g]!.upstreams.every((u, i) => u === last[g]!.upstreams[i])) {
          expect(now[g]!.upstreams, at).toBe(last[g]!.upstreams);
        }
        // The same gateway, mesh and services: the same IR object.
        const gname = g.slice(8);
        if (model.mesh === prevModel.mesh && model.gateways[gname] === prevModel.gateways[gname] && Object.keys(model.services).every((n) => model.services[n] === prevModel.services[n] || !usedBy(model, gname, n))) {
          expect(now[g], at).toBe(last[g]);
        }
        // A listener whose routes' IR are the same objects keeps its virtual hosts.
        for (const l of now[g]!.listeners) {
          const before = last[g]!.listeners.find((x) => x.name === l.name);
          if (l.kind !== 'http' || before?.kind !== 'http') continue;
          const [a, c] = [before.virtualHosts[0]!, l.virtualHosts[0]!];
          if (deepEqual(a.domains, c.domains) && a.routes.length === c.routes.length && a.routes.every((x, i) => x === c.routes[i])) expect(l.virtualHosts, at).toBe(before.virtualHosts);
        }
      }
      last = now;
    }
    expect(applied).toBeGreaterThan(150);
    // Every kind of edit was applied at least once.
    expect(seen.size).toBeGreaterThanOrEqual(16);
  });

  /** Whether gateway `gname` names service `n`, or a service whose routes name it. */
  function usedBy(model: Model, gname: string, n: string): boolean {
    const gw = model.gateways[gname]!;
    const direct = new Set<string>();
    for (const l of gw.listeners) if (l.backend) direct.add(l.backend);
    for (const rt of gw.routes ?? []) {
      if (rt.backend) direct.add(rt.backend);
      for (const x of rt.backends ?? []) direct.add(x.service!);
    }
    if (direct.has(n)) return true;
    for (const d of direct) for (const sr of model.services[d]?.routes ?? []) for (const x of sr.backends) if (x.service === n) return true;
    return false;
  }

  const ids = (p: ProxyIR): unknown[] => p.listeners.flatMap((l): unknown[] => (l.kind === 'http' ? l.virtualHosts[0]!.routes : [l]));

  it('the generated mesh is valid', () => {
    const res = new ModelLoader().load('m.yaml', yamlOf(gatewayRaw(rng(5))));
    expect(res.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
  });

  it('one route edited: only its IR routes are new; the upstream list, the other listener and the rest of the routes are the same objects', () => {
    const raw = gatewayRaw(rng(5));
    const loader = new ModelLoader();
    const b = new IrBuilder();
    b.update(loader.load('m.yaml', yamlOf(raw)).model!);
    const before = b.proxy('gateway/edge')!;
    const i = (raw['gateways']['edge'].routes as Raw[]).findIndex((x) => x['backend'] && !x['listeners']);
    raw['gateways']['edge'].routes[i].match = { pathPrefix: '/edited/' };
    b.update(loader.load('m.yaml', yamlOf(raw)).model!);
    const after = b.proxy('gateway/edge')!;
    expect(after).not.toBe(before);
    expect(after.upstreams).toBe(before.upstreams);
    expect(after.listeners.find((l) => l.name === 'db')).toBe(before.listeners.find((l) => l.name === 'db'));
    const [x, y] = [ids(before), ids(after)];
    expect(y.length).toBe(x.length);
    const fresh = y.filter((o) => !x.includes(o));
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.every((o) => (o as { origin: string }).origin.includes(`routes[${i}]`) || (o as { origin: string }).origin.startsWith(`edge/${raw['gateways']['edge'].routes[i].name}`))).toBe(true);
    // The other gateway: the same object.
    expect(b.proxy('gateway/side')).toBeDefined();
  });

  it('a service no gateway names: added, edited, removed: each gateway IR is the same object', () => {
    const raw = gatewayRaw(rng(6));
    const loader = new ModelLoader();
    const b = new IrBuilder();
    b.update(loader.load('m.yaml', yamlOf(raw)).model!);
    const edge = b.proxy('gateway/edge')!;
    const side = b.proxy('gateway/side')!;
    for (const edit of [(x: Raw) => (x['services']['s10'].instances[0].port = 1234), (x: Raw) => delete x['services']['s11'], (x: Raw) => (x['services']['s12'] = structuredClone(x['services']['s10']))]) {
      edit(raw);
      if (raw['services']['s12']) raw['services']['s12'].instances = [{ id: 's12-0', address: '10.9.9.9', port: 8080, app: '127.0.0.1:9000' }];
      const m = loader.load('m.yaml', yamlOf(raw)).model!;
      expect(m).not.toBeNull();
      b.update(m);
      expect(b.proxy('gateway/edge')).toBe(edge);
      expect(b.proxy('gateway/side')).toBe(side);
    }
  });

  it('nothing changed (the same text again, or the same model): the same model, IR and upstream list', () => {
    const raw = gatewayRaw(rng(7));
    const loader = new ModelLoader();
    const text = yamlOf(raw);
    const first = loader.load('m.yaml', text).model!;
    const b = new IrBuilder();
    const m = b.update(first);
    const edge = b.proxy('gateway/edge')!;
    const again = loader.load('m.yaml', text).model!;
    // The loader gives the last model back: every part, each map, the model itself.
    expect(again).toBe(first);
    expect(b.update(again)).toBe(m);
    expect(b.groupsChanged).toBe(false);
    expect(b.proxy('gateway/edge')).toBe(edge);
  });

  it('an instance of a service the routes use: new upstreams, the same virtual hosts', () => {
    const raw = gatewayRaw(rng(8));
    const loader = new ModelLoader();
    const b = new IrBuilder();
    b.update(loader.load('m.yaml', yamlOf(raw)).model!);
    const before = b.proxy('gateway/edge')!;
    const used = (raw['gateways']['edge'].routes as Raw[]).find((x) => x['backend'])!['backend'] as string;
    raw['services'][used].instances[0].port = 9999;
    b.update(loader.load('m.yaml', yamlOf(raw)).model!);
    const after = b.proxy('gateway/edge')!;
    expect(after.upstreams).not.toBe(before.upstreams);
    expect(after.upstreams.filter((u, i) => u !== before.upstreams[i]).every((u) => u.service === used)).toBe(true);
    after.listeners.forEach((l, k) => expect(l).toBe(before.listeners[k]));
  });

  it('drops the memos of services and sidecars that are gone, and of gateways removed', () => {
    const raw = gatewayRaw(rng(9));
    const loader = new ModelLoader();
    const b = new IrBuilder();
    b.update(loader.load('m.yaml', yamlOf(raw)).model!);
    for (const g of b.groups()) b.proxy(g);
    const full = b.memoCounts();
    // s10 and s11: no gateway names them; their sidecars, authorization, identities are memoised.
    delete raw['services']['s10'];
    delete raw['services']['s11'];
    delete raw['gateways']['side'];
    b.update(loader.load('m.yaml', yamlOf(raw)).model!);
    const after = b.memoCounts();
    expect(after['gateways']).toBe(full['gateways']! - 1);
    expect(after['sidecarRefs']).toBe(full['sidecarRefs']! - 5);
    expect(after['proxies']).toBe(full['proxies']! - 5);
    expect(after['sidecarGroups']).toBe(full['sidecarGroups']! - 5);
    expect(after['authz']).toBe(full['authz']! - 2);
    expect(after['identities']).toBe(full['identities']! - 2);
    expect(after['inboundHosts']).toBe(full['inboundHosts']! - 2);
    // An instance gone: its sidecar's memos too.
    raw['services']['s3'].instances.pop();
    b.update(loader.load('m.yaml', yamlOf(raw)).model!);
    expect(b.memoCounts()['proxies']).toBe(after['proxies']! - 1);
    expect(b.memoCounts()['sidecarRefs']).toBe(after['sidecarRefs']! - 1);
  });
});

// A gateway's upstream list of 256 or more is patched from the list it was made from (the IR
// records the places a changed service's upstreams took, list-edits.ts) instead of being walked
// upstream by upstream; an upstream that gains or loses its assignment (EDS to DNS) makes the
// list be encoded whole. Either way the snapshot must be a fresh build's.
describe('a long gateway upstream list patched from the last one', () => {
  it('300 services, 80 one-service edits (ports, protocols, EDS to DNS and back): every gateway snapshot equals a fresh build', () => {
    const doc = gatewayMesh({ name: 'long', services: 300, instancesPerService: 2, subsets: 1 });
    const loader = new ModelLoader();
    const live = new MeshBuilder();
    const secrets = secretSource();
    const r = rng(314);
    const model = (): Model => {
      const res = loader.load('mesh.yaml', doc.text());
      expect(res.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      return res.model!;
    };
    buildSnapshots(model(), live, 'mesh.yaml', secrets, []);
    const counts = live.encoder.upstreamListCounts;
    const encodedBefore = counts.encoded;
    const kinds = new Set<string>();
    for (let step = 0; step < 80; step++) {
      const svc = `s${Math.floor(r() * 300)}`;
      const x = r();
      if (x < 0.4) {
        setInstancePort(doc, svc, 0, 20000 + step);
        kinds.add('port');
      } else if (x < 0.8) {
        setServiceProtocol(doc, svc, r() < 0.5 ? 'http2' : 'http');
        kinds.add('protocol');
      } else {
        // A host name makes the service's cluster STRICT_DNS (no assignment); an address makes it EDS again.
        const inst = doc.services.get(svc)!.instances[0]!;
        inst.address = inst.address.endsWith('.internal') ? `10.77.${step}.1` : `${svc}.example.internal`;
        doc.touchService(svc);
        kinds.add('dns');
      }
      const m = model();
      const inc = buildSnapshots(m, live, 'mesh.yaml', secrets, []);
      const fresh = buildSnapshots(structuredClone(m), new MeshBuilder(), 'mesh.yaml', secrets, []);
      expect(inc.errors).toEqual([]);
      expect(versions(inc.built.snapshots), `step ${step}`).toEqual(versions(fresh.built.snapshots));
      const snap = inc.built.snapshots.get('gateway/edge')!;
      const want = fresh.built.snapshots.get('gateway/edge')!;
      for (const t of [TYPE.CLUSTER, TYPE.ENDPOINT]) expect([...snap.resources(t).values()].map((x) => `${x.name} ${x.version}`), `step ${step}`).toEqual([...want.resources(t).values()].map((x) => `${x.name} ${x.version}`));
    }
    expect(kinds.size).toBe(3);
    // Most edits patched the list; those that moved an upstream between EDS and DNS encoded it whole.
    expect(counts.patched).toBeGreaterThan(30);
    expect(counts.encoded - encodedBefore).toBeGreaterThan(0);
  });
});
