// Resources and snapshots (src/xds/resource.ts, src/xds/snapshot.ts): versions are content
// hashes, independent of input order and stable across processes (RELIABILITY 9); dangling
// references are reported; duplicates throw; diffs name exactly what changed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ProtoJsonError } from '../../src/xds/json.js';
import { resourceFromJson, type Resource } from '../../src/xds/resource.js';
import { diffSnapshots, DuplicateResourceError, extendList, type ResourcesByType, Snapshot } from '../../src/xds/snapshot.js';
import { ADS_ORDER, TYPE, type TypeUrl } from '../../src/xds/type-urls.js';
import { rng } from '../helpers/rng.js';

const HCM_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const TLS_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const ADS = { ads: {}, resource_api_version: 'V3' };

function edsCluster(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: ADS }, ...extra };
}
function cla(name: string, port = 8080): Record<string, unknown> {
  return {
    cluster_name: name,
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
  };
}
function listener(name: string, rds: string, secret?: string): Record<string, unknown> {
  const chain: Record<string, unknown> = {
    filters: [
      {
        name: 'hcm',
        typed_config: { '@type': HCM_URL, stat_prefix: name, rds: { route_config_name: rds, config_source: ADS }, http_filters: [{ name: 'router', typed_config: { '@type': ROUTER_URL } }] },
      },
    ],
  };
  if (secret) {
    chain['transport_socket'] = {
      name: 'tls',
      typed_config: { '@type': TLS_URL, common_tls_context: { tls_certificate_sds_secret_configs: [{ name: secret, sds_config: ADS }] } },
    };
  }
  return { name, address: { socket_address: { address: '0.0.0.0', port_value: 10000 } }, filter_chains: [chain] };
}
function routeConfig(name: string, clusters: string[]): Record<string, unknown> {
  return {
    name,
    virtual_hosts: [{ name: 'vh', domains: ['*'], routes: clusters.map((c) => ({ match: { prefix: `/${c}` }, route: { cluster: c } })) }],
  };
}
function secret(name: string): Record<string, unknown> {
  return { name, tls_certificate: { certificate_chain: { inline_string: `cert of ${name}` }, private_key: { inline_string: 'key' } } };
}

/** A complete, consistent set: every reference resolves. */
function completeSet(): Resource[] {
  return [
    resourceFromJson(TYPE.CLUSTER, edsCluster('api')),
    resourceFromJson(TYPE.CLUSTER, edsCluster('web')),
    resourceFromJson(TYPE.CLUSTER, { name: 'static', type: 'STATIC', connect_timeout: '1s' }),
    resourceFromJson(TYPE.ENDPOINT, cla('api')),
    resourceFromJson(TYPE.ENDPOINT, cla('web', 9090)),
    resourceFromJson(TYPE.LISTENER, listener('https', 'main', 'server-cert')),
    resourceFromJson(TYPE.LISTENER, listener('http', 'main')),
    resourceFromJson(TYPE.ROUTE, routeConfig('main', ['api', 'web', 'static'])),
    resourceFromJson(TYPE.SECRET, secret('server-cert')),
  ];
}

/** Deterministic Fisher-Yates shuffle (mulberry32), so a failure can be reproduced. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function typeVersions(s: Snapshot): Record<string, string> {
  return Object.fromEntries(ADS_ORDER.map((t) => [t, s.typeVersion(t)]));
}

describe('resourceFromJson', () => {
  it('same JSON gives the same version and byte-identical body and framed fields', () => {
    const a = resourceFromJson(TYPE.LISTENER, listener('l', 'r'));
    const b = resourceFromJson(TYPE.LISTENER, listener('l', 'r'));
    expect(a.version).toBe(b.version);
    expect(a.body.equals(b.body)).toBe(true);
    expect(a.sotwField.equals(b.sotwField)).toBe(true);
    expect(a.deltaField.equals(b.deltaField)).toBe(true);
    expect(a.version).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('a different spelling of the same content (camelCase keys, key order) gives the same version', () => {
    const snake = resourceFromJson(TYPE.CLUSTER, { name: 'c', type: 'EDS', connect_timeout: '1.5s', eds_cluster_config: { eds_config: ADS } });
    const camel = resourceFromJson(TYPE.CLUSTER, { edsClusterConfig: { edsConfig: { resourceApiVersion: 'V3', ads: {} } }, connectTimeout: '1.500s', type: 'EDS', name: 'c' });
    expect(camel.version).toBe(snake.version);
    expect(camel.body.equals(snake.body)).toBe(true);
  });

  it('any change of content changes the version', () => {
    const base = resourceFromJson(TYPE.ENDPOINT, cla('api', 8080));
    expect(resourceFromJson(TYPE.ENDPOINT, cla('api', 8081)).version).not.toBe(base.version);
    expect(resourceFromJson(TYPE.ENDPOINT, cla('api2', 8080)).version).not.toBe(base.version);
  });

  it('the version is stable across processes (no per-process salt, counter or clock)', () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const src = path.resolve(here, '../../src/xds/resource.ts');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-version-'));
    try {
      const script = path.join(tmp, 'v.mts');
      fs.writeFileSync(
        script,
        `import { resourceFromJson } from ${JSON.stringify(src)};\n` +
          `process.stdout.write(resourceFromJson(${JSON.stringify(TYPE.LISTENER)}, ${JSON.stringify(listener('l', 'r', 's'))}).version);\n`,
      );
      const out = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve(here, '../..'), encoding: 'utf8', timeout: 60_000 });
      expect(out.trim()).toBe(resourceFromJson(TYPE.LISTENER, listener('l', 'r', 's')).version);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('names come from name / cluster_name; a missing name is an error', () => {
    expect(resourceFromJson(TYPE.ENDPOINT, cla('x')).name).toBe('x');
    expect(() => resourceFromJson(TYPE.CLUSTER, { type: 'STATIC' })).toThrow(ProtoJsonError);
    expect(() => resourceFromJson(TYPE.ENDPOINT, { endpoints: [] })).toThrow(/cluster_name/);
  });

  it('refs: an EDS cluster needs its ClusterLoadAssignment (by service_name when set); other types need none', () => {
    expect(resourceFromJson(TYPE.CLUSTER, edsCluster('a')).refs.endpoints).toEqual(['a']);
    expect(resourceFromJson(TYPE.CLUSTER, edsCluster('a', { eds_cluster_config: { eds_config: ADS, service_name: 'a-svc' } })).refs.endpoints).toEqual(['a-svc']);
    expect(resourceFromJson(TYPE.CLUSTER, { name: 'd', type: 'STRICT_DNS' }).refs.endpoints).toEqual([]);
    const l = resourceFromJson(TYPE.LISTENER, listener('l', 'r', 's'));
    expect(l.refs).toEqual({ clusters: [], routes: ['r'], secrets: ['s'], endpoints: [] });
    expect(resourceFromJson(TYPE.ROUTE, routeConfig('r', ['b', 'a', 'b'])).refs.clusters).toEqual(['a', 'b']);
  });
});

describe('Snapshot', () => {
  it('input order changes neither the snapshot version nor any type version (shuffle)', () => {
    const base = new Snapshot(completeSet());
    for (let seed = 1; seed <= 25; seed++) {
      const s = new Snapshot(shuffled(completeSet(), seed));
      expect(s.version, `seed ${seed}`).toBe(base.version);
      expect(typeVersions(s), `seed ${seed}`).toEqual(typeVersions(base));
      for (const t of ADS_ORDER) expect([...s.resources(t).keys()]).toEqual([...base.resources(t).keys()]);
    }
  });

  it('lists each type sorted by name', () => {
    const s = new Snapshot(shuffled(completeSet(), 7));
    expect([...s.resources(TYPE.CLUSTER).keys()]).toEqual(['api', 'static', 'web']);
    expect([...s.resources(TYPE.LISTENER).keys()]).toEqual(['http', 'https']);
    expect(s.size()).toBe(9);
  });

  it('a change to one resource changes only that type version (and the snapshot version)', () => {
    const base = new Snapshot(completeSet());
    const changed = completeSet().map((r) => (r.typeUrl === TYPE.ENDPOINT && r.name === 'web' ? resourceFromJson(TYPE.ENDPOINT, cla('web', 9191)) : r));
    const next = new Snapshot(changed);
    expect(next.version).not.toBe(base.version);
    for (const t of ADS_ORDER) {
      if (t === TYPE.ENDPOINT) expect(next.typeVersion(t)).not.toBe(base.typeVersion(t));
      else expect(next.typeVersion(t), t).toBe(base.typeVersion(t));
    }
  });

  it('sameContent: snapshots built apart from the same resources are the same; one changed resource makes them differ, as the version says', () => {
    const base = new Snapshot(completeSet());
    const again = new Snapshot(shuffled(completeSet(), 3));
    expect(again).not.toBe(base);
    expect(again.sameContent(base)).toBe(true);
    expect(base.sameContent(base)).toBe(true);
    const cluster = new Snapshot(completeSet().map((r) => (r.typeUrl === TYPE.CLUSTER && r.name === 'api' ? resourceFromJson(TYPE.CLUSTER, edsCluster('api', { connect_timeout: '7s' })) : r)));
    expect(cluster.sameContent(base)).toBe(false);
    expect(cluster.version).not.toBe(base.version);
    const other = new Snapshot(completeSet().map((r) => (r.typeUrl === TYPE.ENDPOINT && r.name === 'web' ? resourceFromJson(TYPE.ENDPOINT, cla('web', 9191)) : r)));
    expect(other.sameContent(base)).toBe(false);
    expect(base.sameContent(other)).toBe(false);
  });

  it('adding or removing a resource changes that type version', () => {
    const base = new Snapshot(completeSet());
    const added = new Snapshot([...completeSet(), resourceFromJson(TYPE.SECRET, secret('extra'))]);
    expect(added.typeVersion(TYPE.SECRET)).not.toBe(base.typeVersion(TYPE.SECRET));
    expect(added.typeVersion(TYPE.CLUSTER)).toBe(base.typeVersion(TYPE.CLUSTER));
    const removed = new Snapshot(completeSet().filter((r) => r.name !== 'static'));
    expect(removed.typeVersion(TYPE.CLUSTER)).not.toBe(base.typeVersion(TYPE.CLUSTER));
  });

  it('empty snapshots have equal, stable versions; empty types differ from non-empty ones', () => {
    const a = new Snapshot([]);
    const b = new Snapshot([]);
    expect(a.version).toBe(b.version);
    expect(a.typeVersion(TYPE.SECRET)).toBe(new Snapshot(completeSet().filter((r) => r.typeUrl !== TYPE.SECRET)).typeVersion(TYPE.SECRET));
    expect(a.typeVersion(TYPE.SECRET)).not.toBe(new Snapshot(completeSet()).typeVersion(TYPE.SECRET));
    expect(a.size()).toBe(0);
  });

  it('a complete set has no problems', () => {
    expect(new Snapshot(completeSet()).problems()).toEqual([]);
  });

  it('problems() reports every dangling reference', () => {
    const s = new Snapshot([
      resourceFromJson(TYPE.LISTENER, listener('l', 'missing-rds', 'missing-secret')),
      resourceFromJson(TYPE.CLUSTER, edsCluster('no-cla')),
      resourceFromJson(TYPE.ROUTE, routeConfig('r', ['no-such-cluster'])),
      resourceFromJson(TYPE.LISTENER, listener('ok', 'r')),
    ]);
    const problems = s.problems().map((p) => ({ typeUrl: p.typeUrl, resource: p.resource, message: p.message }));
    expect(problems).toHaveLength(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        { typeUrl: TYPE.LISTENER, resource: 'l', message: expect.stringMatching(/route configuration "missing-rds"/) },
        { typeUrl: TYPE.LISTENER, resource: 'l', message: expect.stringMatching(/secret "missing-secret"/) },
        { typeUrl: TYPE.CLUSTER, resource: 'no-cla', message: expect.stringMatching(/EDS cluster but ClusterLoadAssignment "no-cla"/) },
        { typeUrl: TYPE.ROUTE, resource: 'r', message: expect.stringMatching(/cluster "no-such-cluster"/) },
      ]),
    );
  });

  it('duplicate names in one type throw DuplicateResourceError; the same name in two types is fine', () => {
    let caught: unknown;
    try {
      new Snapshot([...completeSet(), resourceFromJson(TYPE.CLUSTER, edsCluster('api', { connect_timeout: '2s' }))]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DuplicateResourceError);
    expect((caught as DuplicateResourceError).typeUrl).toBe(TYPE.CLUSTER);
    expect((caught as DuplicateResourceError).resourceName).toBe('api');
    // Exact duplicates are duplicates too.
    expect(() => new Snapshot([resourceFromJson(TYPE.SECRET, secret('s')), resourceFromJson(TYPE.SECRET, secret('s'))])).toThrow(DuplicateResourceError);
    expect(() => new Snapshot([resourceFromJson(TYPE.CLUSTER, edsCluster('x')), resourceFromJson(TYPE.ENDPOINT, cla('x'))])).not.toThrow();
  });
});

describe('diffSnapshots', () => {
  const byType = (m: Map<TypeUrl, Set<string>>): Record<string, string[]> => Object.fromEntries([...m].map(([t, s]) => [t, [...s].sort()]));

  it('no previous snapshot: every name of every non-empty type', () => {
    const d = diffSnapshots(undefined, new Snapshot(completeSet()));
    expect(byType(d)).toEqual({
      [TYPE.CLUSTER]: ['api', 'static', 'web'],
      [TYPE.ENDPOINT]: ['api', 'web'],
      [TYPE.LISTENER]: ['http', 'https'],
      [TYPE.ROUTE]: ['main'],
      [TYPE.SECRET]: ['server-cert'],
    });
  });

  it('identical snapshots: nothing changed', () => {
    expect(diffSnapshots(new Snapshot(completeSet()), new Snapshot(shuffled(completeSet(), 3))).size).toBe(0);
  });

  it('exactly the changed, added and removed names per type', () => {
    const prev = new Snapshot(completeSet());
    const next = new Snapshot([
      ...completeSet().filter((r) => !(r.typeUrl === TYPE.CLUSTER && r.name === 'static') && !(r.typeUrl === TYPE.ENDPOINT && r.name === 'api')),
      resourceFromJson(TYPE.ENDPOINT, cla('api', 7000)), // changed
      resourceFromJson(TYPE.CLUSTER, edsCluster('new')), // added
      resourceFromJson(TYPE.ENDPOINT, cla('new')), // added
    ]);
    expect(byType(diffSnapshots(prev, next))).toEqual({
      [TYPE.CLUSTER]: ['new', 'static'],
      [TYPE.ENDPOINT]: ['api', 'new'],
    });
  });
});

describe('diffSnapshots of shared type sets', () => {
  it('the changed names of a large type shared by many snapshots are worked out once, and are right', () => {
    const eps = (port: number): Resource[] => Array.from({ length: 20 }, (_, i) => resourceFromJson(TYPE.ENDPOINT, cla(`c${i}`, i === 3 ? port : 8080)));
    const [before, after] = [eps(1), eps(2)];
    const lis = (n: string): Resource[] => [resourceFromJson(TYPE.LISTENER, listener(n, 'r'))];
    const pairs = ['a', 'b'].map((n) => [new Snapshot({ [TYPE.ENDPOINT]: before, [TYPE.LISTENER]: lis(n) }), new Snapshot({ [TYPE.ENDPOINT]: after, [TYPE.LISTENER]: lis(n) })] as const);
    const [da, db] = pairs.map(([p, n]) => diffSnapshots(p, n));
    expect([...da!.keys()]).toEqual([TYPE.ENDPOINT]);
    expect([...da!.get(TYPE.ENDPOINT)!]).toEqual(['c3']);
    expect(db!.get(TYPE.ENDPOINT)).toBe(da!.get(TYPE.ENDPOINT));
    // The other direction, and against nothing, are other diffs.
    expect([...diffSnapshots(pairs[0]![1], pairs[0]![0]).get(TYPE.ENDPOINT)!]).toEqual(['c3']);
    expect(diffSnapshots(undefined, pairs[0]![1]).get(TYPE.ENDPOINT)!.size).toBe(20);
    // A removed and an added name.
    const fewer = new Snapshot({ [TYPE.ENDPOINT]: [...after.slice(1), resourceFromJson(TYPE.ENDPOINT, cla('new'))], [TYPE.LISTENER]: lis('a') });
    expect([...diffSnapshots(pairs[0]![1], fewer).get(TYPE.ENDPOINT)!].sort()).toEqual(['c0', 'new']);
  });
});

describe('snapshots built on a previous one (incremental)', () => {
  const c = (n: string, port = 8080): Resource[] => [resourceFromJson(TYPE.CLUSTER, edsCluster(n)), resourceFromJson(TYPE.ENDPOINT, cla(n, port))];
  const rl = (name: string, cluster: string): Resource =>
    resourceFromJson(TYPE.ROUTE, { name, virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }] });

  it('equals a snapshot built from scratch, type by type', () => {
    const a = [...c('a'), ...c('b'), resourceFromJson(TYPE.LISTENER, listener('l', 'r')), rl('r', 'a')];
    const base = new Snapshot(a);
    expect(base.problems()).toEqual([]);
    const next = [...c('a'), ...c('b', 9090), resourceFromJson(TYPE.LISTENER, listener('l', 'r')), rl('r', 'b')];
    const derived = new Snapshot(next, base);
    const fresh = new Snapshot(next);
    expect(derived.version).toBe(fresh.version);
    for (const t of ADS_ORDER) expect(derived.typeVersion(t)).toBe(fresh.typeVersion(t));
    expect(derived.resources(TYPE.CLUSTER)).toBe(base.resources(TYPE.CLUSTER)); // taken over, not rebuilt
    expect(derived.get(TYPE.ENDPOINT, 'b')!.version).toBe(fresh.get(TYPE.ENDPOINT, 'b')!.version);
  });

  it('still reports an unchanged route naming a cluster that went away', () => {
    const route = rl('r', 'b');
    const lis = resourceFromJson(TYPE.LISTENER, listener('l', 'r'));
    const base = new Snapshot([...c('a'), ...c('b'), lis, route]);
    expect(base.problems()).toEqual([]);
    const derived = new Snapshot([...c('a'), lis, route], base);
    expect(derived.problems().map((p) => p.message)).toEqual(['refers to cluster "b", which is not defined']);
  });

  it('checks everything when the base was never checked or had problems', () => {
    const lis = resourceFromJson(TYPE.LISTENER, listener('l', 'missing'));
    const base = new Snapshot([...c('a'), lis]);
    const derived = new Snapshot([...c('a', 1), lis], base);
    expect(derived.problems().length).toBe(1);
  });
});

describe('snapshots of grouped resources (type sets interned by array identity)', () => {
  const c = (n: string, port = 8080): Resource[] => [resourceFromJson(TYPE.CLUSTER, edsCluster(n)), resourceFromJson(TYPE.ENDPOINT, cla(n, port))];
  const rl = (name: string, clusters: string[]): Resource => resourceFromJson(TYPE.ROUTE, routeConfig(name, clusters));
  const byType = (rs: readonly Resource[]): Record<TypeUrl, Resource[]> => {
    const out = Object.fromEntries(ADS_ORDER.map((t) => [t, [] as Resource[]])) as Record<TypeUrl, Resource[]>;
    for (const r of rs) out[r.typeUrl].push(r);
    return out;
  };
  const same = (a: Snapshot, b: Snapshot): void => {
    expect(a.version).toBe(b.version);
    for (const t of ADS_ORDER) {
      expect(a.typeVersion(t), t).toBe(b.typeVersion(t));
      expect([...a.resources(t).keys()], t).toEqual([...b.resources(t).keys()]);
    }
  };

  it('equals the snapshot of the same resources given in one list, shuffled or not', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const grouped = new Snapshot(byType(shuffled(completeSet(), seed)));
      same(grouped, new Snapshot(completeSet()));
      expect(grouped.problems()).toEqual([]);
    }
    // Secrets given apart are the SDS type.
    const all = byType(completeSet());
    const secrets = all[TYPE.SECRET];
    same(new Snapshot({ ...all, [TYPE.SECRET]: [] }, undefined, secrets), new Snapshot(completeSet()));
    same(new Snapshot(completeSet().filter((r) => r.typeUrl !== TYPE.SECRET), undefined, secrets), new Snapshot(completeSet()));
  });

  it('snapshots given the same array of a type share that type: one map, one version', () => {
    const shared = byType(completeSet());
    const a = new Snapshot({ ...shared, [TYPE.LISTENER]: [resourceFromJson(TYPE.LISTENER, listener('a', 'main', 'server-cert'))] });
    const b = new Snapshot({ ...shared, [TYPE.LISTENER]: [resourceFromJson(TYPE.LISTENER, listener('b', 'main', 'server-cert'))] });
    for (const t of [TYPE.CLUSTER, TYPE.ENDPOINT, TYPE.ROUTE, TYPE.SECRET]) expect(a.resources(t), t).toBe(b.resources(t));
    expect(a.resources(TYPE.LISTENER)).not.toBe(b.resources(TYPE.LISTENER));
    // The same resources in a new array: an equal set, built again (no base given).
    const copy = new Snapshot({ ...shared, [TYPE.CLUSTER]: [...shared[TYPE.CLUSTER]] });
    expect(copy.typeVersion(TYPE.CLUSTER)).toBe(a.typeVersion(TYPE.CLUSTER));
    expect(copy.resources(TYPE.CLUSTER)).not.toBe(a.resources(TYPE.CLUSTER));
  });

  it('a problem in a shared type is reported by every snapshot holding it, and only by those', () => {
    const routes = [rl('main', ['api', 'web'])];
    const lis = [resourceFromJson(TYPE.LISTENER, listener('l', 'main'))];
    const withBoth = [...c('api'), ...c('web')];
    const withApi = c('api');
    const ok = new Snapshot({ ...byType(withBoth), [TYPE.LISTENER]: lis, [TYPE.ROUTE]: routes });
    const bad1 = new Snapshot({ ...byType(withApi), [TYPE.LISTENER]: lis, [TYPE.ROUTE]: routes });
    const bad2 = new Snapshot({ ...byType(c('api', 9)), [TYPE.LISTENER]: lis, [TYPE.ROUTE]: routes });
    expect(ok.problems()).toEqual([]);
    for (const s of [bad1, bad2, bad1]) {
      expect(s.problems()).toEqual([{ typeUrl: TYPE.ROUTE, resource: 'main', message: 'refers to cluster "web", which is not defined' }]);
    }
    expect(ok.problems()).toEqual([]);
  });

  it('a list extended with a resource that makes a kind of reference the list does not is checked for it', () => {
    // Static clusters refer to nothing; the one added is an EDS cluster, whose assignment is missing.
    const statics = ['s1', 's2', 's3'].map((n) => resourceFromJson(TYPE.CLUSTER, { name: n, type: 'STATIC', connect_timeout: '1s' }));
    const clean = new Snapshot({ [TYPE.CLUSTER]: statics });
    expect(clean.problems()).toEqual([]);
    const extended = new Snapshot({ [TYPE.CLUSTER]: extendList(statics, resourceFromJson(TYPE.CLUSTER, edsCluster('eds'))) });
    expect(extended.problems().map((p) => p.message)).toEqual(['is an EDS cluster but ClusterLoadAssignment "eds" is not defined']);
    const served = new Snapshot({ [TYPE.CLUSTER]: extendList(statics, resourceFromJson(TYPE.CLUSTER, edsCluster('eds'))), [TYPE.ENDPOINT]: [resourceFromJson(TYPE.ENDPOINT, cla('eds'))] });
    expect(served.problems()).toEqual([]);
  });

  it('a shared type naming many resources is checked per set it is held with (memoised on the pair)', () => {
    const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    const routes = [rl('main', names)];
    const lis = [resourceFromJson(TYPE.LISTENER, listener('l', 'main'))];
    const all = byType(names.flatMap((n) => c(n)));
    const five = byType(names.slice(0, 5).flatMap((n) => c(n)));
    const snaps = [all, five, all, five].map((cs) => new Snapshot({ ...cs, [TYPE.LISTENER]: lis, [TYPE.ROUTE]: routes }));
    for (let round = 0; round < 2; round++) {
      expect(snaps.map((s) => s.problems().map((p) => p.message))).toEqual([[], ['refers to cluster "c6", which is not defined'], [], ['refers to cluster "c6", which is not defined']]);
    }
  });

  it('a type that changed is checked again even when the other types are taken over from a clean base', () => {
    const routes = [rl('main', ['api', 'web'])];
    const lis = [resourceFromJson(TYPE.LISTENER, listener('l', 'main'))];
    const clusters = byType([...c('api'), ...c('web')]);
    const base = new Snapshot({ ...clusters, [TYPE.LISTENER]: lis, [TYPE.ROUTE]: routes });
    expect(base.problems()).toEqual([]);
    // Clusters lose "web": the unchanged route configuration now points at nothing.
    const lost = new Snapshot({ ...byType(c('api')), [TYPE.LISTENER]: lis, [TYPE.ROUTE]: routes }, base);
    expect(lost.resources(TYPE.ROUTE)).toBe(base.resources(TYPE.ROUTE));
    expect(lost.problems().map((p) => p.message)).toEqual(['refers to cluster "web", which is not defined']);
    // The route configuration changes to name a missing cluster; the clusters are taken over.
    const renamed = new Snapshot({ ...clusters, [TYPE.LISTENER]: lis, [TYPE.ROUTE]: [rl('main', ['api', 'nope'])] }, base);
    expect(renamed.resources(TYPE.CLUSTER)).toBe(base.resources(TYPE.CLUSTER));
    expect(renamed.problems().map((p) => p.message)).toEqual(['refers to cluster "nope", which is not defined']);
    // The listener names a route configuration that is gone.
    const noRoute = new Snapshot({ ...clusters, [TYPE.LISTENER]: lis, [TYPE.ROUTE]: [rl('other', ['api'])] }, base);
    expect(noRoute.problems().map((p) => p.message)).toEqual(['refers to route configuration "main" (RDS), which is not defined']);
  });

  it('an array of the wrong type, or duplicate names in one array, throw', () => {
    expect(() => new Snapshot({ [TYPE.CLUSTER]: c('api') })).toThrow(/ClusterLoadAssignment|EDS/);
    const dup = [resourceFromJson(TYPE.SECRET, secret('s')), resourceFromJson(TYPE.SECRET, secret('s'))];
    expect(() => new Snapshot({}, undefined, dup)).toThrow(DuplicateResourceError);
  });

  it('a big type where a few resources were replaced is patched from the base: same sets, versions, problems and diffs as built afresh', () => {
    // 40 EDS clusters and assignments; each step replaces some resources (same names, other
    // content: the patch path), or adds, removes or reorders one (the full path).
    const names = Array.from({ length: 40 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const cluster = (n: string, t: number): Resource => resourceFromJson(TYPE.CLUSTER, edsCluster(n, { connect_timeout: `${t}s` }));
    const assignment = (n: string, port: number): Resource => resourceFromJson(TYPE.ENDPOINT, cla(n, port));
    for (let seed = 1; seed <= 20; seed++) {
      const rand = rng(seed);
      let clusters = names.map((n) => cluster(n, 1));
      let eps = names.map((n) => assignment(n, 8080));
      let prev = new Snapshot({ [TYPE.CLUSTER]: clusters, [TYPE.ENDPOINT]: eps });
      for (let step = 0; step < 30; step++) {
        clusters = [...clusters];
        eps = [...eps];
        const kind = rand();
        if (kind < 0.6) {
          // 1–6 replacements, sometimes by an equal resource (another object, same version).
          for (let k = 1 + Math.floor(rand() * 6); k > 0; k--) {
            if (rand() < 0.5) {
              const i = Math.floor(rand() * clusters.length);
              clusters[i] = cluster(clusters[i]!.name, 1 + Math.floor(rand() * 3));
            } else {
              const i = Math.floor(rand() * eps.length);
              eps[i] = assignment(eps[i]!.name, 8080 + Math.floor(rand() * 3));
            }
          }
        } else if (kind < 0.7) {
          // An assignment goes missing: the clusters' references no longer resolve.
          eps.splice(Math.floor(rand() * eps.length), 1);
        } else if (kind < 0.8 && eps.length < clusters.length) {
          eps = clusters.map((c) => assignment(c.name, 8080));
        } else if (kind < 0.9) {
          const i = Math.floor(rand() * clusters.length);
          const j = Math.floor(rand() * clusters.length);
          [clusters[i], clusters[j]] = [clusters[j]!, clusters[i]!];
        } else clusters = clusters.slice(1);
        const next = new Snapshot({ [TYPE.CLUSTER]: clusters, [TYPE.ENDPOINT]: eps }, prev);
        const fresh = new Snapshot({ [TYPE.CLUSTER]: [...clusters], [TYPE.ENDPOINT]: [...eps] });
        same(next, fresh);
        for (const t of [TYPE.CLUSTER, TYPE.ENDPOINT]) {
          expect([...next.resources(t).values()].map((r) => r.version), `seed ${seed} step ${step}`).toEqual([...fresh.resources(t).values()].map((r) => r.version));
        }
        expect(next.problems(), `seed ${seed} step ${step}`).toEqual(fresh.problems());
        const plainPrev = new Snapshot([...prev.resources(TYPE.CLUSTER).values(), ...prev.resources(TYPE.ENDPOINT).values()]);
        const diff = (a: Snapshot, b: Snapshot): Record<string, string[]> =>
          Object.fromEntries([...diffSnapshots(a, b)].map(([t, ns]) => [t, [...ns].sort()]));
        expect(diff(prev, next), `seed ${seed} step ${step}`).toEqual(diff(plainPrev, fresh));
        prev = next;
      }
    }
  });

  describe('extendList', () => {
    const shared = [...c('b'), ...c('d'), ...c('f')].filter((r) => r.typeUrl === TYPE.CLUSTER);
    const eps = [...c('b'), ...c('d'), ...c('f')].filter((r) => r.typeUrl === TYPE.ENDPOINT);
    const own = (n: string, timeout = '1s'): Resource => resourceFromJson(TYPE.CLUSTER, { name: n, type: 'STATIC', connect_timeout: timeout });

    it('is the list with the resource at its place by name, replacing one of the same name', () => {
      expect(extendList(shared, own('a')).map((r) => r.name)).toEqual(['a', 'b', 'd', 'f']);
      expect(extendList(shared, own('e')).map((r) => r.name)).toEqual(['b', 'd', 'e', 'f']);
      expect(extendList(shared, own('z')).map((r) => r.name)).toEqual(['b', 'd', 'f', 'z']);
      const replaced = extendList(shared, own('d'));
      expect(replaced.map((r) => r.name)).toEqual(['b', 'd', 'f']);
      expect(replaced[1]!.refs.endpoints).toEqual([]); // the STATIC one
      expect(extendList([], own('a')).map((r) => r.name)).toEqual(['a']);
    });

    it('a snapshot of an extended list equals one of a plain list with the same resources', () => {
      for (const extra of [own('a'), own('e'), own('z'), own('d'), own('d', '2s')]) {
        const list = extendList(shared, extra);
        const ext = new Snapshot({ [TYPE.CLUSTER]: list, [TYPE.ENDPOINT]: eps });
        const plain = new Snapshot({ [TYPE.CLUSTER]: [...list], [TYPE.ENDPOINT]: eps });
        same(ext, plain);
        expect([...ext.resources(TYPE.CLUSTER).values()]).toEqual([...plain.resources(TYPE.CLUSTER).values()]);
        expect(ext.get(TYPE.CLUSTER, extra.name)).toBe(extra);
        expect(ext.problems()).toEqual(plain.problems());
      }
      const empty = new Snapshot({ [TYPE.CLUSTER]: extendList([], own('a')) });
      same(empty, new Snapshot([own('a')]));
    });

    it('references are checked against the shared part once and the extra resource every time', () => {
      const routes = [rl('main', ['b', 'own'])];
      const a = new Snapshot({ [TYPE.CLUSTER]: extendList(shared, own('own')), [TYPE.ENDPOINT]: eps, [TYPE.ROUTE]: routes });
      const b = new Snapshot({ [TYPE.CLUSTER]: extendList(shared, own('other')), [TYPE.ENDPOINT]: eps, [TYPE.ROUTE]: routes });
      expect(a.problems()).toEqual([]);
      expect(b.problems().map((p) => p.message)).toEqual(['refers to cluster "own", which is not defined']);
      expect(a.problems()).toEqual([]);
      // The extra resource's own references: an EDS cluster without its assignment.
      const eds = resourceFromJson(TYPE.CLUSTER, edsCluster('x'));
      const missing = new Snapshot({ [TYPE.CLUSTER]: extendList(shared, eds), [TYPE.ENDPOINT]: eps });
      expect(missing.problems().map((p) => p.message)).toEqual(['is an EDS cluster but ClusterLoadAssignment "x" is not defined']);
      // The shared part's references: its assignments are missing here.
      const noEps = new Snapshot({ [TYPE.CLUSTER]: extendList(shared, own('own')), [TYPE.ENDPOINT]: eps.slice(1) });
      expect(noEps.problems().map((p) => p.message)).toEqual(['is an EDS cluster but ClusterLoadAssignment "b" is not defined']);
    });
  });
});
