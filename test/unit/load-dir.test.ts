// loadResourceDir (src/resources/load-dir.ts) on real temp directories: groups load, every
// error is reported at once with file:line:column (RELIABILITY 10), hostile files are bounded
// (RELIABILITY 13), and the content hash only moves when content does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadResourceDir } from '../../src/resources/load-dir.js';
import { TYPE } from '../../src/xds/type-urls.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-load-dir-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(rel: string, text: string): string {
  const p = path.join(dir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  return p;
}

function listenerYaml(name: string, rds: string, extraHcmLine = ''): string {
  return [
    '"@type": type.googleapis.com/envoy.config.listener.v3.Listener', // 1
    `name: ${name}`, // 2
    'address:', // 3
    '  socket_address: { address: 0.0.0.0, port_value: 10000 }', // 4
    'filter_chains:', // 5
    '  - filters:', // 6
    '      - name: envoy.filters.network.http_connection_manager', // 7
    '        typed_config:', // 8
    `          "@type": ${HCM}`, // 9
    '          stat_prefix: ingress', // 10
    ...(extraHcmLine ? [`          ${extraHcmLine}`] : []), // 11 when present
    '          rds:',
    `            route_config_name: ${rds}`,
    '            config_source: { ads: {}, resource_api_version: V3 }',
    '          http_filters:',
    `            - { name: router, typed_config: { "@type": ${ROUTER} } }`,
    '',
  ].join('\n');
}

const ROUTE_YAML = `"@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
name: main
virtual_hosts:
  - name: all
    domains: ["*"]
    routes:
      - match: { prefix: / }
        route: { cluster: api }
`;

/** Cluster and its endpoints as two YAML documents in one file. */
const CLUSTER_YAML = `"@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
name: api
type: EDS
connect_timeout: 1s
eds_cluster_config: { eds_config: { ads: {}, resource_api_version: V3 } }
---
"@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment
cluster_name: api
endpoints:
  - lb_endpoints:
      - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }
`;

function writeGoodGroup(group: string): void {
  write(`${group}/listener.yaml`, listenerYaml('http', 'main'));
  write(`${group}/route.yml`, ROUTE_YAML);
  write(`${group}/cluster.yaml`, CLUSTER_YAML);
}

function formatted(r: ReturnType<typeof loadResourceDir>): string[] {
  return r.errors.map((e) => e.format());
}

describe('loadResourceDir: good input', () => {
  it('loads one snapshot per group folder, from YAML documents, lists, "resources:" and JSON', () => {
    writeGoodGroup('front');
    write(
      'back/all.json',
      JSON.stringify({
        resources: [
          { '@type': TYPE.CLUSTER, name: 'db', type: 'STATIC', connect_timeout: '2s' },
          { '@type': TYPE.SECRET, name: 'cert', tls_certificate: { certificate_chain: { inline_string: 'c' }, private_key: { inline_string: 'k' } } },
        ],
      }),
    );
    write(
      'back/list.yaml',
      `- "@type": ${TYPE.CLUSTER}\n  name: cache\n  type: STATIC\n- "@type": ${TYPE.CLUSTER}\n  name: queue\n  type: STATIC\n`,
    );
    write('back/README.txt', 'not a resource file');
    write('back/.hidden.yaml', 'garbage: [');
    write('.ignored/x.yaml', 'garbage: [');
    write('top-level.yaml', 'files directly under DIR are not a group');

    const r = loadResourceDir(dir);
    expect(formatted(r)).toEqual([]);
    expect([...r.snapshots.keys()].sort()).toEqual(['back', 'front']);
    expect(r.files).toBe(5);
    const front = r.snapshots.get('front')!;
    expect([...front.resources(TYPE.LISTENER).keys()]).toEqual(['http']);
    expect([...front.resources(TYPE.ROUTE).keys()]).toEqual(['main']);
    expect([...front.resources(TYPE.CLUSTER).keys()]).toEqual(['api']);
    expect([...front.resources(TYPE.ENDPOINT).keys()]).toEqual(['api']);
    const back = r.snapshots.get('back')!;
    expect([...back.resources(TYPE.CLUSTER).keys()]).toEqual(['cache', 'db', 'queue']);
    expect([...back.resources(TYPE.SECRET).keys()]).toEqual(['cert']);
  });

  it('same content in two directories gives the same snapshot versions', () => {
    writeGoodGroup('g');
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-load-dir-b-'));
    try {
      // Written in another order and with other file names.
      fs.mkdirSync(path.join(other, 'g'));
      fs.writeFileSync(path.join(other, 'g', 'z-cluster.yaml'), CLUSTER_YAML);
      fs.writeFileSync(path.join(other, 'g', 'a-route.yaml'), ROUTE_YAML);
      fs.writeFileSync(path.join(other, 'g', 'm-listener.yaml'), listenerYaml('http', 'main'));
      const a = loadResourceDir(dir);
      const b = loadResourceDir(other);
      expect(b.errors).toEqual([]);
      expect(b.snapshots.get('g')!.version).toBe(a.snapshots.get('g')!.version);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('follows symlinked files and group folders (e.g. Kubernetes ConfigMap mounts)', () => {
    const real = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-load-dir-real-'));
    try {
      fs.writeFileSync(path.join(real, 'route.yaml'), ROUTE_YAML);
      fs.mkdirSync(path.join(real, 'group'));
      fs.writeFileSync(path.join(real, 'group', 'c.yaml'), `"@type": ${TYPE.CLUSTER}\nname: linked\ntype: STATIC\n`);
      write('g/cluster.yaml', CLUSTER_YAML);
      write('g/listener.yaml', listenerYaml('http', 'main'));
      fs.symlinkSync(path.join(real, 'route.yaml'), path.join(dir, 'g', 'route.yaml'));
      fs.symlinkSync(path.join(real, 'group'), path.join(dir, 'linked-group'));
      const r = loadResourceDir(dir);
      expect(formatted(r)).toEqual([]);
      expect([...r.snapshots.get('g')!.resources(TYPE.ROUTE).keys()]).toEqual(['main']);
      expect([...r.snapshots.get('linked-group')!.resources(TYPE.CLUSTER).keys()]).toEqual(['linked']);
    } finally {
      fs.rmSync(real, { recursive: true, force: true });
    }
  });
});

describe('loadResourceDir: errors', () => {
  it('reports every error at once, each with file:line:column', () => {
    writeGoodGroup('good');
    // Unknown field inside a nested typed_config: the line of that key (line 11), at its value.
    const unknown = write('bad/listener.yaml', listenerYaml('l1', 'main', 'stat_prefx: oops'));
    // Missing "@type": the start of the resource.
    const noType = write('bad/no-type.yaml', 'name: x\ntype: STATIC\n');
    // Unsupported type: the "@type" line of the second list item, at its value.
    const unsupported = write(
      'bad/unsupported.yaml',
      `- "@type": ${TYPE.CLUSTER}\n  name: fine\n  type: STATIC\n- name: oops\n  "@type": ${HCM}\n`,
    );
    // Wrong type deep inside: the line of that key.
    const wrong = write('bad/route.yaml', ROUTE_YAML.replace('route: { cluster: api }', 'route:\n          cluster: api\n          timeout: 5'));
    // Syntax error.
    const syntax = write('bad/syntax.yaml', 'a: 1\nb: [1, 2\n');

    const r = loadResourceDir(dir);
    const f = formatted(r);
    expect(f).toHaveLength(5);
    expect(f).toContainEqual(expect.stringMatching(new RegExp(`^${esc(unknown)}:11:23: filter_chains\\[0\\]\\.filters\\[0\\]\\.typed_config\\.stat_prefx: unknown field "stat_prefx"`)));
    expect(f).toContainEqual(expect.stringMatching(new RegExp(`^${esc(noType)}:1:1: missing "@type"`)));
    expect(f).toContainEqual(expect.stringMatching(new RegExp(`^${esc(unsupported)}:5:12: "@type" ${esc(HCM)} is not a resource type`)));
    expect(f).toContainEqual(expect.stringMatching(new RegExp(`^${esc(wrong)}:10:20: virtual_hosts\\[0\\]\\.routes\\[0\\]\\.route\\.timeout: expected a duration`)));
    expect(f).toContainEqual(expect.stringMatching(new RegExp(`^${esc(syntax)}:\\d+:\\d+: `)));
    // A group with errors is still reported; the good group loaded.
    expect(r.snapshots.has('good')).toBe(true);
  });

  it('an error inside a map whose key contains dots points at the offending line', () => {
    const file = write(
      'g/route.yaml',
      `"@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
name: main
typed_per_filter_config:
  envoy.filters.http.fault:
    "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
    max_active_faults: 1
    delayy: {}
`,
    );
    const r = loadResourceDir(dir);
    expect(formatted(r)).toEqual([expect.stringMatching(new RegExp(`^${esc(file)}:7:5: typed_per_filter_config\\.envoy\\.filters\\.http\\.fault\\.delayy: unknown field "delayy"`))]);
  });

  it('an unknown field whose value is a block points at the line of its key, not the block below', () => {
    const file = write(
      'g/c.yaml',
      `"@type": ${TYPE.CLUSTER}
name: c
type: STATIC
circuit_breakers:
  thresholds:
    - max_connections: 10
      retry_budgett:
        budget_percent: { value: 20 }
`,
    );
    expect(formatted(loadResourceDir(dir))).toEqual([
      expect.stringMatching(new RegExp(`^${esc(file)}:7:7: circuit_breakers\\.thresholds\\[0\\]\\.retry_budgett: unknown field "retry_budgett"`)),
    ]);
  });

  it('a duplicate resource name reports both locations', () => {
    const a = write('g/a.yaml', `"@type": ${TYPE.CLUSTER}\nname: dup\ntype: STATIC\n`);
    const b = write('g/b.yaml', `# comment\n\n"@type": ${TYPE.CLUSTER}\nname: dup\ntype: STRICT_DNS\n`);
    const r = loadResourceDir(dir);
    const f = formatted(r);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatch(new RegExp(`^${esc(b)}:3:1: duplicate CDS resource "dup" in group "g" \\(first defined at ${esc(a)}:1:1\\)`));
  });

  it('several duplicates and dangling references in one group are all reported', () => {
    const a = write('g/a.yaml', `- "@type": ${TYPE.CLUSTER}\n  name: d1\n  type: STATIC\n- "@type": ${TYPE.SECRET}\n  name: d2\n`);
    const b = write('g/b.yaml', `- "@type": ${TYPE.CLUSTER}\n  name: d1\n  type: STATIC\n- "@type": ${TYPE.SECRET}\n  name: d2\n`);
    const l = write('g/listener.yaml', listenerYaml('http', 'nowhere'));
    const r = loadResourceDir(dir);
    const f = formatted(r);
    expect(f).toContainEqual(expect.stringMatching(new RegExp(`^${esc(b)}:1:3: duplicate CDS resource "d1".*first defined at ${esc(a)}:1:3`)));
    expect(f).toContainEqual(expect.stringMatching(new RegExp(`^${esc(b)}:4:3: duplicate SDS resource "d2".*first defined at ${esc(a)}:4:3`)));
    expect(f).toContainEqual(expect.stringMatching(new RegExp(`^${esc(l)}:1:1: LDS "http" refers to route configuration "nowhere"`)));
    expect(f).toHaveLength(3);
  });

  it('a dangling RDS reference is reported at the listener', () => {
    const l = write('g/listener.yaml', listenerYaml('http', 'missing-route'));
    const r = loadResourceDir(dir);
    expect(formatted(r)).toEqual([`${l}:1:1: LDS "http" refers to route configuration "missing-route" (RDS), which is not defined in group "g"`]);
  });

  it('a dangling reference in one group is not satisfied by another group', () => {
    writeGoodGroup('a');
    write('b/listener.yaml', listenerYaml('http', 'main'));
    const r = loadResourceDir(dir);
    expect(formatted(r)).toEqual([expect.stringMatching(/b\/listener\.yaml:1:1: LDS "http" refers to route configuration "main"/)]);
  });

  it('empty and missing directories give a clear error', () => {
    const empty = loadResourceDir(dir);
    expect(formatted(empty)).toEqual([`${dir}:1:1: no resource files found: expected DIR/<group>/*.yaml`]);
    expect(empty.snapshots.size).toBe(0);

    fs.mkdirSync(path.join(dir, 'group'));
    write('group/notes.txt', 'x');
    expect(formatted(loadResourceDir(dir))).toEqual([`${dir}:1:1: no resource files found: expected DIR/<group>/*.yaml`]);

    const missing = path.join(dir, 'does-not-exist');
    expect(formatted(loadResourceDir(missing))).toEqual([`${missing}:1:1: resource directory does not exist`]);

    const file = write('plain-file', 'x');
    const notDir = loadResourceDir(file);
    expect(notDir.errors).toHaveLength(1);
    expect(notDir.errors[0]!.format()).toContain(file);
  });

  it('empty files and empty documents are not resources, and not errors on their own', () => {
    writeGoodGroup('g');
    write('g/empty.yaml', '');
    write('g/comments.yaml', '# nothing here\n---\n');
    const r = loadResourceDir(dir);
    expect(formatted(r)).toEqual([]);
    expect(r.snapshots.get('g')!.size()).toBe(4);
  });

  it('a YAML bomb, binary garbage and deep nesting are errors, not crashes', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    const names = 'abcdefghi';
    for (let i = 1; i < names.length; i++) lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(', ')}]`);
    const bomb = write('g/bomb.yaml', lines.join('\n'));
    const bin = write('g/binary.yaml', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00]).toString('latin1'));
    const deep = write('g/deep.yaml', '['.repeat(50_000) + ']'.repeat(50_000));
    const r = loadResourceDir(dir);
    const f = formatted(r);
    expect(f).toHaveLength(3);
    expect(f).toContainEqual(expect.stringMatching(new RegExp(`^${esc(bomb)}:\\d+:\\d+: too many alias expansions`)));
    expect(f).toContainEqual(expect.stringMatching(new RegExp(`^${esc(bin)}:1:1: file contains a NUL byte`)));
    expect(f).toContainEqual(expect.stringMatching(new RegExp(`^${esc(deep)}:\\d+:\\d+: nesting deeper than`)));
  });

  it('a file over the size limit (100 MB) is rejected without being read into memory', () => {
    writeGoodGroup('g');
    const big = path.join(dir, 'g', 'huge.yaml');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 100 * 1024 * 1024); // sparse: no disk or memory needed to create it
    const read = vi.spyOn(fs, 'readFileSync');
    const r = loadResourceDir(dir);
    expect(formatted(r)).toEqual([expect.stringMatching(new RegExp(`^${esc(big)}:1:1: file is larger than the limit of \\d+ bytes`))]);
    expect(read.mock.calls.map((c) => String(c[0]))).not.toContain(big);
  });
});

describe('loadResourceDir: content hash', () => {
  it('is stable for identical content, moves when a file changes, is added or removed', () => {
    writeGoodGroup('g');
    const h1 = loadResourceDir(dir).contentHash;
    expect(h1).toMatch(/^[0-9a-f]{64}$/);
    expect(loadResourceDir(dir).contentHash).toBe(h1);

    // Rewriting identical content (new mtime) is not a change.
    const file = path.join(dir, 'g', 'route.yml');
    fs.writeFileSync(file, ROUTE_YAML);
    fs.utimesSync(file, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    expect(loadResourceDir(dir).contentHash).toBe(h1);

    fs.writeFileSync(file, ROUTE_YAML.replace('prefix: /', 'prefix: /v2'));
    const h2 = loadResourceDir(dir).contentHash;
    expect(h2).not.toBe(h1);

    write('g/extra.yaml', `"@type": ${TYPE.CLUSTER}\nname: extra\ntype: STATIC\n`);
    const h3 = loadResourceDir(dir).contentHash;
    expect(h3).not.toBe(h2);
    fs.rmSync(path.join(dir, 'g', 'extra.yaml'));
    expect(loadResourceDir(dir).contentHash).toBe(h2);

    // Moving a file to another group changes the hash even though the bytes are the same.
    fs.mkdirSync(path.join(dir, 'h'));
    fs.renameSync(path.join(dir, 'g', 'cluster.yaml'), path.join(dir, 'h', 'cluster.yaml'));
    expect(loadResourceDir(dir).contentHash).not.toBe(h2);
  });

  it('a broken file still contributes to the hash (fixing it is a change)', () => {
    writeGoodGroup('g');
    write('g/broken.yaml', 'a: [');
    const r1 = loadResourceDir(dir);
    expect(r1.errors).toHaveLength(1);
    write('g/broken.yaml', 'a: [1]');
    expect(loadResourceDir(dir).contentHash).not.toBe(r1.contentHash);
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
