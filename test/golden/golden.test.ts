// Golden cases: test/golden/<case>/mesh.yaml → the exact resources each proxy receives, one file
// per proxy and type (expected/<proxy>/<CDS|EDS|LDS|RDS|SDS>.yaml: the type version and the
// resources as proto3 YAML, as `meshgate render` and /debug/config show them).
//
//   UPDATE_GOLDEN=1 npx vitest run test/golden   # (re)write expected files, delete orphans
//
// Without UPDATE_GOLDEN a missing or orphan expected file is a failure. A second test per case
// re-reads the model with its order shuffled wherever order means nothing (map keys, services,
// gateways, instances, listeners, hosts, methods; never routes) and expects byte-identical
// resources and identical versions (ARCHITECTURE rule 3, RELIABILITY 9).
//
// Models with mTLS get deterministic placeholder secrets (placeholderSecrets below), so their
// SDS files and every version are stable; models without mTLS get no secrets at all.
//
// A third test per case hands every proxy's resources to Envoy (`envoy --mode validate`) as a
// static bootstrap: EDS clusters made STATIC with their endpoints, RDS inlined, SDS references
// pointing at static secrets holding real certificates (Envoy parses them). Skipped when no
// Envoy binary is found ($ENVOY_BIN, .venv/bin/envoy-bin, PATH).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import YAML, { isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import { dumpSnapshot } from '../../src/admin/config-dump.js';
import { buildSnapshots, type BuiltModel, MeshBuilder, type SecretSource } from '../../src/app/model-source.js';
import { ephemeralCa } from '../../src/ca/authority.js';
import { WorkloadCertificates } from '../../src/ca/workload-certs.js';
import { findEnvoy } from '../../src/demo/envoy-binary.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { loadModelText } from '../../src/model/load.js';
import { identitySecret, trustBundleSecret } from '../../src/translate/secret.js';
import { resourceFromJson } from '../../src/xds/resource.js';
import { ADS_ORDER, SHORT_NAME, TYPE } from '../../src/xds/type-urls.js';
import { rng } from '../helpers/rng.js';

const ROOT = path.dirname(fileURLToPath(import.meta.url));
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const TYPES = ADS_ORDER.map((t) => SHORT_NAME[t]);

/**
 * The SDS secrets of an mTLS proxy, without the randomness of real keys: placeholders that name
 * the proxy's identity, so the SDS files show which identity each proxy holds and every
 * version is stable. (Real certificates are tested in test/unit/ca-*.test.ts; private keys are
 * redacted in dumps anyway.) Only proxies with an identity (mTLS on) get secrets.
 */
const placeholderSecrets: SecretSource = (p) => [
  resourceFromJson(
    TYPE.SECRET,
    identitySecret(
      `-----BEGIN CERTIFICATE-----\n(placeholder certificate for ${p.identity})\n-----END CERTIFICATE-----\n`,
      `-----BEGIN PRIVATE KEY-----\n(placeholder key for ${p.identity})\n-----END PRIVATE KEY-----\n`,
    ),
  ),
  resourceFromJson(TYPE.SECRET, trustBundleSecret('-----BEGIN CERTIFICATE-----\n(placeholder trust bundle)\n-----END CERTIFICATE-----\n')),
];

/** Load and build a model; any error diagnostic or build error throws with every message. */
function build(file: string, text: string, secrets: SecretSource = placeholderSecrets): BuiltModel {
  const load = loadModelText(file, text);
  const errors = load.diagnostics.filter((d) => d.severity === 'error');
  if (!load.model || errors.length) throw new Error(`model has errors:\n${load.diagnostics.map(formatDiagnostic).join('\n')}`);
  const { built, errors: buildErrors } = buildSnapshots(load.model, new MeshBuilder(), file, secrets);
  if (buildErrors.length) throw new Error(`build errors:\n${buildErrors.map((e) => e.format()).join('\n')}`);
  return built;
}

/** expected/<proxy>/<TYPE>.yaml (relative, "/"-separated) → file content. */
function renderFiles(built: BuiltModel): Map<string, string> {
  const out = new Map<string, string>();
  const folders = new Map<string, string>();
  for (const p of built.ir.proxies) {
    const other = folders.get(p.name);
    if (other) throw new Error(`proxies ${other} and ${p.group} would share the folder expected/${p.name}`);
    folders.set(p.name, p.group);
    const dump = dumpSnapshot(built.snapshots.get(p.group)!);
    for (const type of TYPES) {
      const t = dump.resources[type];
      if (!t || t.resources.length === 0) continue;
      out.set(`${p.name}/${type}.yaml`, YAML.stringify({ version: t.version, resources: t.resources }, { lineWidth: 0 }));
    }
  }
  return out;
}

/** Every file and folder under `dir`, relative, "/"-separated; folders end in "/". */
function listTree(dir: string, rel = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(`${r}/`, ...listTree(path.join(dir, e.name), r));
    else out.push(r);
  }
  return out.sort();
}

function writeExpected(expectedDir: string, files: Map<string, string>): void {
  for (const [rel, content] of files) {
    const f = path.join(expectedDir, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    if (!fs.existsSync(f) || fs.readFileSync(f, 'utf8') !== content) fs.writeFileSync(f, content);
  }
  const wantedDirs = new Set([...files.keys()].map((rel) => `${rel.slice(0, rel.lastIndexOf('/'))}/`));
  // Deepest first, so a folder is empty by the time it is checked.
  for (const rel of listTree(expectedDir).reverse()) {
    const abs = path.join(expectedDir, rel);
    if (rel.endsWith('/')) {
      if (!wantedDirs.has(rel)) fs.rmSync(abs, { recursive: true, force: true });
    } else if (!files.has(rel)) fs.rmSync(abs);
  }
}

// ---- order shuffling --------------------------------------------------------------------


/** Permute in place; never leaves a list of two or more items in its original order. */
function permute<T>(items: T[], rnd: () => number): void {
  if (items.length < 2) return;
  const before = [...items];
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  if (items.every((x, i) => x === before[i])) items.reverse();
}

/** Sequences whose order means nothing, by the key that holds them and the mapping's context. */
function unorderedSeq(pathKeys: string[]): boolean {
  const key = pathKeys[pathKeys.length - 1];
  const parent = pathKeys[pathKeys.length - 3]; // services.<name>.instances, gateways.<name>.listeners
  if (key === 'instances' && parent === 'services') return true;
  if (key === 'listeners' && parent === 'gateways') return true;
  // Sets: listener hosts, route methods, the listeners a route attaches to.
  return key === 'hosts' || key === 'methods' || (key === 'listeners' && pathKeys[pathKeys.length - 3] === 'routes');
}

/**
 * Shuffle every mapping's keys (YAML mappings are unordered: services, gateways, labels,
 * headers, queryParams, subset, tcpOutbound…) and the sequences `unorderedSeq` names. Route
 * lists and backend lists keep their order.
 */
function shuffleDocument(doc: Document, rnd: () => number): void {
  const walk = (node: unknown, pathKeys: string[]): void => {
    if (isMap(node)) {
      permute(node.items, rnd);
      for (const pair of node.items) {
        if (isPair(pair) && isScalar(pair.key)) walk(pair.value, [...pathKeys, String(pair.key.value)]);
      }
    } else if (isSeq(node)) {
      if (unorderedSeq(pathKeys)) permute(node.items, rnd);
      node.items.forEach((item, i) => walk(item, [...pathKeys, String(i)]));
    }
  };
  walk(doc.contents as Node, []);
}

function shuffledText(text: string, seed: number): string {
  const doc = YAML.parseDocument(text);
  shuffleDocument(doc, rng(seed));
  return doc.toString({ lineWidth: 0 });
}

// ---- Envoy's own validation ----------------------------------------------------------------

const ENVOY = findEnvoy();
const validateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-golden-'));
afterAll(() => fs.rmSync(validateDir, { recursive: true, force: true }));

/** Real certificates, for Envoy to parse (placeholders are not PEM). */
const realCerts = new WorkloadCertificates(ephemeralCa(), { ttlMs: 3_600_000 });
const realSecrets: SecretSource = (p) => {
  const w = realCerts.get(p.group, p.identity!);
  return [resourceFromJson(TYPE.SECRET, identitySecret(w.chainPem, w.keyPem)), resourceFromJson(TYPE.SECRET, trustBundleSecret(realCerts.trustBundlePem()))];
};

type Json = Record<string, unknown>;

/** SDS references without sds_config name static secrets. */
function toStaticSecretRefs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toStaticSecretRefs);
  if (!v || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v as Json)) {
    if (k === 'tls_certificate_sds_secret_configs') out[k] = (x as Json[]).map((r) => ({ name: r['name'] }));
    else if (k === 'validation_context_sds_secret_config') out[k] = { name: (x as Json)['name'] };
    else out[k] = toStaticSecretRefs(x);
  }
  return out;
}

/** One proxy's resources as a static bootstrap Envoy can validate without a control plane. */
function staticBootstrap(built: BuiltModel, group: string): Json {
  const proxy = built.ir.proxies.find((p) => p.group === group)!;
  const d = dumpSnapshot(built.snapshots.get(group)!, { redact: false }).resources;
  const eds = new Map(d['EDS']!.resources.map((r) => [r['cluster_name'] as string, r]));
  const rds = new Map(d['RDS']!.resources.map((r) => [r['name'] as string, r]));
  const clusters: Json[] = d['CDS']!.resources.map((c) => {
    if (c['type'] !== 'EDS') return c;
    const { eds_cluster_config: _eds, ...rest } = c;
    const cla = eds.get(c['name'] as string);
    if (!cla) throw new Error(`${group}: EDS cluster ${String(c['name'])} has no ClusterLoadAssignment`);
    return { ...rest, type: 'STATIC', load_assignment: cla };
  });
  // The bootstrap's cluster for meshgate's gRPC port (access logs name it).
  clusters.push({
    name: 'meshgate_xds',
    type: 'STATIC',
    connect_timeout: '1s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: { cluster_name: 'meshgate_xds', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 18000 } } } }] }] },
  });
  const listeners = JSON.parse(JSON.stringify(d['LDS']!.resources), (_k, v: unknown) => {
    if (!v || typeof v !== 'object' || Array.isArray(v) || !('rds' in v)) return v;
    const { rds: ref, ...rest } = v as Json & { rds: { route_config_name: string } };
    const rc = rds.get(ref.route_config_name);
    if (!rc) throw new Error(`${group}: route configuration ${ref.route_config_name} is missing`);
    return { ...rest, route_config: rc };
  }) as Json[];
  return {
    node: { id: proxy.name, cluster: proxy.service ?? proxy.name },
    static_resources: toStaticSecretRefs({ clusters, listeners, secrets: d['SDS']!.resources }),
  };
}

/** `envoy --mode validate`: null when accepted, else Envoy's complaint. */
function envoyValidate(bootstrap: Json, name: string): string | null {
  const f = path.join(validateDir, `${name.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
  fs.writeFileSync(f, JSON.stringify(bootstrap));
  try {
    execFileSync(ENVOY!, ['--mode', 'validate', '-c', f, '-l', 'error', '--concurrency', '1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return null;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message;
  }
}

// ---- the cases ---------------------------------------------------------------------------

const cases = fs
  .readdirSync(ROOT, { withFileTypes: true })
  .filter((e) => e.isDirectory() && fs.existsSync(path.join(ROOT, e.name, 'mesh.yaml')))
  .map((e) => e.name)
  .sort();

it('finds the golden cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(10);
});

for (const name of cases) {
  describe(name, () => {
    const dir = path.join(ROOT, name);
    const modelFile = path.join(dir, 'mesh.yaml');
    const expectedDir = path.join(dir, 'expected');
    const text = fs.readFileSync(modelFile, 'utf8');
    const rel = `test/golden/${name}/mesh.yaml`;

    let files: Map<string, string> | undefined;
    let buildError: unknown;
    try {
      files = renderFiles(build(rel, text));
    } catch (err) {
      buildError = err;
    }

    it('builds without errors', () => {
      if (buildError) throw buildError;
      expect(files!.size).toBeGreaterThan(0);
    });

    if (UPDATE) {
      it('updates the expected files', () => {
        if (buildError) throw buildError;
        writeExpected(expectedDir, files!);
        expect(listTree(expectedDir).filter((f) => !f.endsWith('/'))).toEqual([...files!.keys()].sort());
      });
    } else {
      it('has exactly the expected files (no missing, no orphans)', () => {
        if (buildError) throw buildError;
        const produced = [...files!.keys()].sort();
        const producedDirs = [...new Set(produced.map((f) => `${f.slice(0, f.lastIndexOf('/'))}/`))];
        const onDisk = listTree(expectedDir);
        const missing = produced.filter((f) => !onDisk.includes(f));
        const orphans = onDisk.filter((f) => (f.endsWith('/') ? !producedDirs.includes(f) : !files!.has(f)));
        expect({ missing, orphans }, 'run with UPDATE_GOLDEN=1 to regenerate').toEqual({ missing: [], orphans: [] });
      });

      for (const f of files ? [...files.keys()].sort() : []) {
        it(`renders ${f}`, () => {
          const abs = path.join(expectedDir, f);
          expect(fs.existsSync(abs), `missing ${abs}; run with UPDATE_GOLDEN=1`).toBe(true);
          expect(files!.get(f)).toBe(fs.readFileSync(abs, 'utf8'));
        });
      }
    }

    it('gives byte-identical resources and versions when input order is shuffled', () => {
      if (buildError) throw buildError;
      const ref = build(rel, text);
      for (const seed of [1, 2, 3]) {
        const shuffled = shuffledText(text, seed);
        expect(shuffled, 'the shuffle changed nothing').not.toBe(YAML.parseDocument(text).toString({ lineWidth: 0 }));
        const got = build(rel, shuffled);
        expect([...got.snapshots.keys()].sort()).toEqual([...ref.snapshots.keys()].sort());
        for (const [group, want] of ref.snapshots) {
          const snap = got.snapshots.get(group)!;
          expect(snap.version, `${group} (seed ${seed})`).toBe(want.version);
          for (const t of ADS_ORDER) {
            const where = `${group} ${SHORT_NAME[t]} (seed ${seed})`;
            expect(snap.typeVersion(t), where).toBe(want.typeVersion(t));
            const a = [...want.resources(t).values()];
            const b = [...snap.resources(t).values()];
            expect(b.map((r) => r.name), where).toEqual(a.map((r) => r.name));
            a.forEach((r, i) => {
              expect(b[i]!.version, `${where} ${r.name}`).toBe(r.version);
              expect(b[i]!.body.equals(r.body), `${where} ${r.name}: bytes differ`).toBe(true);
            });
          }
        }
      }
    });

    it.skipIf(!ENVOY)('is accepted by Envoy (--mode validate), every proxy, with real certificates', () => {
      if (buildError) throw buildError;
      const built = build(rel, text, realSecrets);
      const rejected: string[] = [];
      for (const p of built.ir.proxies) {
        const complaint = envoyValidate(staticBootstrap(built, p.group), `${name}--${p.name}`);
        if (complaint) rejected.push(`${p.group}: ${complaint}`);
      }
      expect(rejected).toEqual([]);
    });
  });
}
