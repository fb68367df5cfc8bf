// What the encoder shares (src/translate/index.ts, translateProxyByType): every sidecar of the
// outbound view gets the very same assignments array, the sidecars of one service the same
// route configurations array, each sidecar's clusters extend one shared array; an edit keeps
// the arrays whose content it does not change. Snapshots then hold the very same type sets.
import { describe, expect, it } from 'vitest';
import { buildSnapshots, MeshBuilder } from '../../src/app/model-source.js';
import { loadModelText } from '../../src/model/load.js';
import type { Model } from '../../src/model/schema.js';
import type { ProxyIR, UpstreamIR } from '../../src/ir/types.js';
import { type ProxyResources, ResourceEncoder } from '../../src/translate/index.js';
import { Snapshot } from '../../src/xds/snapshot.js';
import { ADS_ORDER, TYPE } from '../../src/xds/type-urls.js';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Three services of three instances, every instance with an outbound listener; s0 routes to a subset. */
function mesh(): Raw {
  return {
    version: 1,
    mesh: { mtls: 'off' },
    services: Object.fromEntries(
      Array.from({ length: 3 }, (_, s) => [
        `s${s}`,
        {
          instances: Array.from({ length: 3 }, (_, i) => ({ id: `s${s}-${i}`, address: `10.0.${s}.${i + 1}`, port: 8080, app: '127.0.0.1:9000', outboundPort: 15001, labels: { shard: String(i % 2) } })),
          ...(s === 0 ? { routes: [{ backends: [{ subset: { shard: '0' } }] }] } : {}),
        },
      ]),
    ),
  };
}

function load(raw: Raw): Model {
  const r = loadModelText('mesh.yaml', JSON.stringify(raw));
  if (!r.model) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.model;
}

/** Build `raw` and return every sidecar's grouped resources. */
function translate(b: MeshBuilder, raw: Raw): Map<string, ProxyResources> {
  const { errors } = buildSnapshots(load(raw), b, 'mesh.yaml');
  expect(errors).toEqual([]);
  return new Map(b.ir.groups().map((g) => [g, b.encoder.translateProxyByType(b.ir.proxy(g)!)]));
}

const G = (s: number, i: number): string => `sidecar/s${s}/s${s}-${i}`;

describe('translateProxyByType shares per-type arrays', () => {
  it('between the sidecars of the outbound view, and with the flat translateProxy holding the same resources', () => {
    const b = new MeshBuilder();
    const all = translate(b, mesh());
    const first = all.get(G(0, 0))!;
    for (const [g, r] of all) {
      expect(r[TYPE.ENDPOINT], g).toBe(first[TYPE.ENDPOINT]);
      // Each its own clusters array: the view's clusters plus its app's, whose endpoint names the instance.
      if (g !== G(0, 0)) expect(r[TYPE.CLUSTER], g).not.toBe(first[TYPE.CLUSTER]);
      expect(r[TYPE.CLUSTER].slice(1), g).toEqual(first[TYPE.CLUSTER].slice(1));
      expect(r[TYPE.CLUSTER].map((c) => c.name), g).toEqual([`inbound|${g.split('/')[1]}`, 's0|shard=0', 's1', 's2']);
      const flat = b.encoder.translateProxy(b.ir.proxy(g)!);
      expect(new Set(flat), g).toEqual(new Set(ADS_ORDER.flatMap((t) => r[t as keyof ProxyResources] ?? [])));
    }
    // A service's sidecars: one route configurations array (their inbound ones are alike).
    expect(all.get(G(1, 0))![TYPE.ROUTE]).toBe(all.get(G(1, 2))![TYPE.ROUTE]);
    expect(all.get(G(1, 0))![TYPE.ROUTE]).not.toBe(all.get(G(2, 0))![TYPE.ROUTE]);
    // Listeners differ per instance (the inbound address); the outbound one is one resource.
    expect(all.get(G(1, 0))![TYPE.LISTENER][1]).toBe(all.get(G(2, 1))![TYPE.LISTENER][1]);
  });

  it('an edit keeps the arrays whose content it does not change', () => {
    const b = new MeshBuilder();
    const raw = mesh();
    const before = translate(b, raw);
    // A route edit: route configurations change, clusters, assignments and listeners do not.
    raw['services']['s1'].timeout = '3s';
    const routeEdit = translate(b, raw);
    for (const [g, r] of routeEdit) {
      const was = before.get(g)!;
      expect(r, g).not.toBe(was);
      for (const t of [TYPE.CLUSTER, TYPE.ENDPOINT, TYPE.LISTENER] as const) expect(r[t], `${g} ${t}`).toBe(was[t]);
      expect(r[TYPE.ROUTE], g).not.toBe(was[TYPE.ROUTE]);
    }
    // An endpoint edit of the subset s0|shard=0 (s0-0's port): one new assignments array for
    // the whole view; clusters and route configurations kept; s0-0's own listener and app
    // cluster are new (made from its instance).
    raw['services']['s0'].instances[0].port = 8181;
    const endpointEdit = translate(b, raw);
    const eds = endpointEdit.get(G(0, 0))![TYPE.ENDPOINT];
    expect(eds).not.toBe(routeEdit.get(G(0, 0))![TYPE.ENDPOINT]);
    for (const [g, r] of endpointEdit) {
      const was = routeEdit.get(g)!;
      expect(r[TYPE.ENDPOINT], g).toBe(eds);
      expect(r[TYPE.ROUTE], g).toBe(was[TYPE.ROUTE]);
      if (g === G(0, 0)) {
        expect(r[TYPE.LISTENER]).not.toBe(was[TYPE.LISTENER]);
        expect(r[TYPE.CLUSTER].slice(1)).toEqual(was[TYPE.CLUSTER].slice(1));
      } else {
        expect(r[TYPE.LISTENER], g).toBe(was[TYPE.LISTENER]);
        expect(r[TYPE.CLUSTER], g).toBe(was[TYPE.CLUSTER]);
      }
    }
    // Unchanged assignments keep their resources; the edited one is new.
    const names = eds.map((e) => e.name);
    const wasEds = routeEdit.get(G(0, 0))![TYPE.ENDPOINT];
    eds.forEach((e, i) => (names[i] === 's0' || names[i] === 's0|shard=0' ? expect(e).not.toBe(wasEds[i]) : expect(e, names[i]).toBe(wasEds[i])));
  });

  it('snapshots of the view hold the very same type sets, and one built on its previous snapshot takes over what did not change', () => {
    const b = new MeshBuilder();
    const raw = mesh();
    const snap = (r: ProxyResources, base?: Snapshot): Snapshot => {
      const s = new Snapshot(r, base);
      expect(s.problems()).toEqual([]);
      return s;
    };
    const first = new Map([...translate(b, raw)].map(([g, r]) => [g, snap(r)]));
    const [a, c] = [first.get(G(0, 1))!, first.get(G(2, 2))!];
    expect(a.resources(TYPE.ENDPOINT)).toBe(c.resources(TYPE.ENDPOINT));
    expect(a.resources(TYPE.ROUTE)).not.toBe(c.resources(TYPE.ROUTE));
    expect(first.get(G(2, 0))!.resources(TYPE.ROUTE)).toBe(c.resources(TYPE.ROUTE));
    raw['services']['s2'].timeout = '9s';
    const next = new Map([...translate(b, raw)].map(([g, r]) => [g, snap(r, first.get(g))]));
    for (const [g, s] of next) {
      const was = first.get(g)!;
      expect(s.version, g).not.toBe(was.version);
      for (const t of [TYPE.CLUSTER, TYPE.ENDPOINT, TYPE.LISTENER]) expect(s.resources(t), `${g} ${t}`).toBe(was.resources(t));
      expect(s.typeVersion(TYPE.ROUTE)).not.toBe(was.typeVersion(TYPE.ROUTE));
      // The same versions as a snapshot of the same resources in one list.
      expect(s.version, g).toBe(new Snapshot(b.encoder.translateProxy(b.ir.proxy(g)!)).version);
    }
  });

  it('a gateway whose upstreams array is the same gets the same clusters and assignments arrays (long lists too)', () => {
    const upstreams: UpstreamIR[] = Array.from({ length: 20 }, (_, i) => ({
      key: `s${String(i).padStart(2, '0')}`,
      service: `s${i}`,
      subset: null,
      protocol: i % 2 ? 'http' : 'grpc',
      endpoints: [{ instanceId: `s${i}-0`, host: `10.0.0.${i + 1}`, port: 8080, isIp: true }],
      local: false,
      tls: i % 3 ? { serverIdentity: `spiffe://x/service/s${i}` } : null,
    }));
    const gateway = (ups: UpstreamIR[]): ProxyIR => ({ group: 'gateway/edge', kind: 'gateway', name: 'edge', service: null, identity: null, adminPort: null, listeners: [], upstreams: ups, upstreamParts: null });
    const e = new ResourceEncoder();
    const a = e.translateProxyByType(gateway(upstreams));
    const b2 = e.translateProxyByType(gateway(upstreams));
    expect(b2).not.toBe(a);
    expect(b2[TYPE.CLUSTER]).toBe(a[TYPE.CLUSTER]);
    expect(b2[TYPE.ENDPOINT]).toBe(a[TYPE.ENDPOINT]);
    expect(a[TYPE.CLUSTER].map((c) => c.name)).toEqual(upstreams.map((u) => u.key));
    // A new array of the same upstreams: new arrays of the very same resources.
    const c = e.translateProxyByType(gateway([...upstreams]));
    expect(c[TYPE.CLUSTER]).not.toBe(a[TYPE.CLUSTER]);
    expect(c[TYPE.CLUSTER]).toEqual(a[TYPE.CLUSTER]);
    c[TYPE.ENDPOINT].forEach((r, i) => expect(r).toBe(a[TYPE.ENDPOINT][i]));
  });
});
