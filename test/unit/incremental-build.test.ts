// The incremental build must never differ from a build from scratch: after any sequence of
// edits, every group's snapshot built by a long-lived MeshBuilder has exactly the version a fresh
// builder gives for the same model. And it must be incremental: what an edit does not touch
// keeps its very snapshot object.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildSnapshots, MeshBuilder, type SecretSource } from '../../src/app/model-source.js';
import { deepEqual } from '../../src/ir/model-diff.js';
import { loadModelText } from '../../src/model/load.js';
import type { Model } from '../../src/model/schema.js';
import { identitySecret, trustBundleSecret } from '../../src/translate/secret.js';
import { type Resource, resourceFromJson } from '../../src/xds/resource.js';
import { Snapshot } from '../../src/xds/snapshot.js';
import { TYPE } from '../../src/xds/type-urls.js';
import { rng } from '../helpers/rng.js';

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

/** The raw (pre-zod) model as plain JSON: what the edits below change. JSON is YAML, so it loads as is. */
type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function load(raw: Raw): Model | null {
  const r = loadModelText('mesh.yaml', JSON.stringify(raw));
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
  const kind = Math.floor(r() * 18);
  switch (kind) {
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
      const inc = buildSnapshots(model, live, 'mesh.yaml', secrets);
      const fresh = buildSnapshots(structuredClone(model), new MeshBuilder(), 'mesh.yaml', secrets);
      expect(inc.errors, what).toEqual([]);
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
