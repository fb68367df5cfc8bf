// End-to-end tests of mesh security with real Envoys and real traffic: the built
// `meshgate serve -f mesh.yaml` (its CA in a temp --state-dir), one Envoy 1.40 per proxy
// (meshgate's own envoyBootstrap(), each carrying an identity token in its node metadata), demo
// apps behind the sidecars (in this process), and:
//   - mTLS strict: gateway → service and sidecar → service over mTLS; the certificate each
//     Envoy holds (/certs, /config_dump) is the callee's SPIFFE ID issued by <stateDir>/ca.crt;
//     the app sees the verified caller, never a forged x-forwarded-client-cert;
//   - authorization (RBAC on the verified peer identity): gateway-only services, rules
//     narrowed by path prefix and methods, mesh.defaultPolicy deny;
//   - plaintext refused by a strict inbound listener, accepted (caller null) by a permissive one;
//   - forged identities (no token, a token for another identity, a token signed by another key)
//     receive none of the identity's secrets and never go live, even past Envoy's default 15 s
//     initial fetch timeout; the legit proxy is unaffected;
//   - certificate rotation (certificateTtl 12s) under continuous traffic, with a new mTLS
//     handshake per request on one path and pooled connections on another: zero failures,
//     never an expired certificate in any Envoy;
//   - a broken CA in the state dir stops `meshgate serve` with a message naming the file.
//
// The test holds the CA key (it is in the state dir), so it also mints client certificates of
// its own to talk mTLS straight to inbound listeners. Everything runs on free loopback ports
// (other test files run concurrently); each test first puts the main mesh back into its base
// model, so any of them can run alone with -t.
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createRoot } from '../../src/ca/authority.js';
import { issueCertificate, issuerFrom } from '../../src/ca/certificate.js';
import { pem } from '../../src/ca/der.js';
import { NodeTokens } from '../../src/ca/node-token.js';
import { startDemoApp } from '../../src/demo/demo-app.js';
import { envoyBootstrap } from '../../src/translate/bootstrap.js';
import { versionOf } from '../../src/xds/snapshot.js';
import { type EnvoyProcess, startEnvoy } from '../helpers/envoy.js';
import { contentHash, MESHGATE_BIN, type MeshgateProcess, type ProxyStatus, REPO_ROOT, startMeshgateModel } from '../helpers/meshgate-process.js';
import { cleanupProcessesAndTempDirs, freePorts, keepTempDirs, makeTempDir, sleep, trackChild, waitFor } from '../helpers/ports.js';
import { httpRequest, type HttpResponse } from '../helpers/upstream.js';

const TD = 'sec.e2e.local';
const GATEWAY = 'edge';
const svcId = (s: string): string => `spiffe://${TD}/service/${s}`;
const gwId = (g: string): string => `spiffe://${TD}/gateway/${g}`;

// ---------------------------------------------------------------------------------------------
// Meshes on free ports.

interface InstanceSpec {
  id: string;
  service: string;
  version: string;
  /** Start a (legit) sidecar Envoy and a demo app for it. */
  envoy: boolean;
}

interface InstancePorts {
  port: number;
  app: number;
  outbound: number;
  admin: number;
}

interface ModelOptions {
  mtls?: 'strict' | 'permissive' | 'off';
  defaultPolicy?: 'allow' | 'deny';
  certificateTtl?: string;
}

interface DemoApp {
  server: http.Server;
  hits: number;
  /** The x-forwarded-client-cert header of the last request, as the app received it. */
  lastXfcc: string | undefined;
}

interface Mesh {
  ports: { gatewayListener: number; gatewayAdmin: number; instances: Record<string, InstancePorts> };
  mg: MeshgateProcess;
  gateway: EnvoyProcess;
  sidecars: Record<string, EnvoyProcess>;
  apps: Record<string, DemoApp>;
  model(o?: ModelOptions): string;
  /** URL on the gateway's public listener. */
  gw(p: string): string;
  /** URL on an instance's sidecar outbound listener (the app's side of the sidecar). */
  out(instance: string, p: string): string;
  /** An identity token for `identity`, signed with the key in meshgate's state dir. */
  token(identity: string): string;
  extraEnvoys: EnvoyProcess[];
  stop(): Promise<void>;
}

/** What a demo app answers. */
interface Echo {
  service: string;
  instance: string;
  method: string;
  path: string;
  caller: string | null;
}

function echo(r: HttpResponse): Echo {
  try {
    const e = JSON.parse(r.body) as Echo;
    if (typeof e.instance !== 'string') throw new Error('no instance');
    return e;
  } catch {
    throw new Error(`not a demo app answer: status ${r.status} ${r.error ?? ''} ${r.body.slice(0, 300)}`);
  }
}

async function startMesh(o: { instances: InstanceSpec[]; model: (ports: Mesh['ports'], m: ModelOptions) => string; base: ModelOptions }): Promise<Mesh> {
  const free = await freePorts(2 + 4 * o.instances.length);
  const ports: Mesh['ports'] = {
    gatewayListener: free[0]!,
    gatewayAdmin: free[1]!,
    instances: Object.fromEntries(o.instances.map((inst, i) => [inst.id, { port: free[2 + 4 * i]!, app: free[3 + 4 * i]!, outbound: free[4 + 4 * i]!, admin: free[5 + 4 * i]! }])),
  };
  const apps: Record<string, DemoApp> = {};
  const closers: Array<() => Promise<void>> = [];
  const envoys: EnvoyProcess[] = [];
  let mg: MeshgateProcess | undefined;
  const extraEnvoys: EnvoyProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all([...envoys, ...extraEnvoys].map((e) => e.stop()));
    await mg?.kill('SIGTERM');
    await Promise.all(closers.map((c) => c()));
  };
  try {
    for (const inst of o.instances.filter((i) => i.envoy)) {
      const q = ports.instances[inst.id]!;
      const server = await startDemoApp({ service: inst.service, instance: inst.id, version: inst.version, host: '127.0.0.1', port: q.app, outboundPort: q.outbound });
      const app: DemoApp = { server, hits: 0, lastXfcc: undefined };
      server.on('request', (req: http.IncomingMessage) => {
        app.hits++;
        const x = req.headers['x-forwarded-client-cert'];
        app.lastXfcc = Array.isArray(x) ? x.join(',') : x;
      });
      apps[inst.id] = app;
      closers.push(() => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())));
    }
    mg = await startMeshgateModel({ model: o.model(ports, o.base) });
    const m = mg;
    const tokens = NodeTokens.load(m.stateDir);
    const token = (identity: string): string => tokens.issue(identity, 3_600_000);
    const start = async (nodeId: string, cluster: string, adminPort: number, identity: string): Promise<EnvoyProcess> => {
      const bootstrap = envoyBootstrap({
        nodeId,
        nodeCluster: cluster,
        xdsHost: '127.0.0.1',
        xdsPort: m.xdsPort,
        adminHost: '127.0.0.1',
        adminPort,
        variant: 'sotw',
        metadata: { 'meshgate.token': token(identity) },
      });
      const e = await startEnvoy({ nodeId, cluster, xdsPort: m.xdsPort, variant: 'sotw', bootstrap, readyTimeoutMs: 30_000 });
      envoys.push(e);
      return e;
    };
    const withEnvoy = o.instances.filter((i) => i.envoy);
    const [gateway, ...side] = await Promise.all([
      start(GATEWAY, GATEWAY, ports.gatewayAdmin, gwId(GATEWAY)),
      ...withEnvoy.map((i) => start(i.id, i.service, ports.instances[i.id]!.admin, svcId(i.service))),
    ]);
    const mesh: Mesh = {
      ports,
      mg,
      gateway: gateway!,
      sidecars: Object.fromEntries(withEnvoy.map((i, k) => [i.id, side[k]!])),
      apps,
      model: (mo = {}) => o.model(ports, { ...o.base, ...mo }),
      gw: (p) => `http://127.0.0.1:${ports.gatewayListener}${p}`,
      out: (inst, p) => `http://127.0.0.1:${ports.instances[inst]!.outbound}${p}`,
      token,
      extraEnvoys,
      stop,
    };
    await converged(mesh);
    return mesh;
  } catch (err) {
    await stop();
    throw err;
  }
}

const XDS_TYPES = ['CDS', 'EDS', 'LDS', 'RDS', 'SDS'];

/** Every legit proxy has ACKed everything meshgate sent it, secrets included. */
async function converged(m: Mesh): Promise<void> {
  await Promise.all([m.gateway, ...Object.values(m.sidecars)].map((e) => m.mg.waitConverged(e.nodeId, XDS_TYPES)));
}

/**
 * Apply a model text (if it is not the applied one) and wait until every proxy ACKed it and,
 * unless told not to, until no Envoy is still draining a listener's previous version: until
 * then, connections opened before the edit run on the previous filter chains (authorization).
 */
async function applyModel(m: Mesh, text: string, o: { waitDrained?: boolean } = {}): Promise<void> {
  const { applied, lastAttempt } = (await m.mg.status()).config;
  if (lastAttempt !== null || applied?.contentHash !== contentHash(text)) {
    m.mg.writeModel(text);
    const rec = await m.mg.waitModel(text);
    expect(rec.ok, rec.errors.join('\n')).toBe(true);
  }
  await converged(m);
  if (o.waitDrained !== false) await drained(m);
}

async function drained(m: Mesh): Promise<void> {
  const envoys = [m.gateway, ...Object.values(m.sidecars)];
  await waitFor(
    async () => (await Promise.all(envoys.map((e) => e.stats('^listener_manager\\.total_(listeners_draining|filter_chains_draining)$')))).every((st) => [...st.values()].every((v) => v === 0)),
    15_000,
    'every Envoy to finish draining listeners',
  );
}

// ---------------------------------------------------------------------------------------------
// Envoy's view of certificates.

interface CertDetails {
  path?: string;
  serial_number: string;
  subject_alt_names?: Array<{ uri?: string; dns?: string }>;
  days_until_expiration: string | number;
  valid_from: string;
  expiration_time: string;
}

/** /certs: every TLS context's CA certificates and certificate chains. */
async function envoyCerts(e: EnvoyProcess): Promise<Array<{ ca_cert?: CertDetails[]; cert_chain?: CertDetails[] }>> {
  const j = await e.adminJson<{ certificates?: Array<{ ca_cert?: CertDetails[]; cert_chain?: CertDetails[] }> }>('/certs');
  return j.certificates ?? [];
}

/** The leaf certificates (first of each chain) and CA certificates Envoy holds, de-duplicated by serial. */
async function heldCerts(e: EnvoyProcess): Promise<{ leaves: CertDetails[]; cas: CertDetails[] }> {
  const leaves = new Map<string, CertDetails>();
  const cas = new Map<string, CertDetails>();
  for (const c of await envoyCerts(e)) {
    const leaf = c.cert_chain?.[0];
    if (leaf) leaves.set(leaf.serial_number, leaf);
    for (const ca of c.ca_cert ?? []) cas.set(ca.serial_number, ca);
  }
  return { leaves: [...leaves.values()], cas: [...cas.values()] };
}

/** Dynamic secrets in /config_dump (active and warming). */
async function dumpedSecrets(e: EnvoyProcess): Promise<{ active: Array<Record<string, any>>; warming: Array<Record<string, any>> }> {
  const dump = await e.configDump();
  const s = (dump.configs.find((c) => String(c['@type']).endsWith('.SecretsConfigDump')) ?? {}) as Record<string, any>;
  return { active: s['dynamic_active_secrets'] ?? [], warming: s['dynamic_warming_secrets'] ?? [] };
}

/** Dynamic listeners from /config_dump, with the state each is in. */
async function dumpedListeners(e: EnvoyProcess): Promise<Array<{ name: string; states: string[] }>> {
  const dump = await e.configDump();
  const s = (dump.configs.find((c) => String(c['@type']).endsWith('.ListenersConfigDump')) ?? {}) as Record<string, any>;
  return (s['dynamic_listeners'] ?? []).map((l: Record<string, unknown>) => ({ name: l['name'] as string, states: Object.keys(l).filter((k) => k !== 'name').sort() }));
}

/** Envoy's serial number form (lowercase hex, no leading zeros) of a Node X509Certificate. */
function serialOf(c: X509Certificate): string {
  return c.serialNumber.toLowerCase().replace(/^0+/, '');
}

function normSerial(s: string): string {
  return s.toLowerCase().replace(/^0+/, '');
}

/** A TLS handshake to an inbound listener: the certificate it presents (with our client cert, if given). */
function tlsPeer(port: number, o: { ca: string; cert?: string; key?: string; alpn?: string[] }): Promise<{ ok: boolean; peer?: tls.DetailedPeerCertificate; error?: string }> {
  return new Promise((resolve) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ca: o.ca,
      ...(o.cert ? { cert: o.cert, key: o.key } : {}),
      ALPNProtocols: o.alpn ?? ['http/1.1'],
      // SPIFFE certificates carry no DNS name: identity is checked on the URI SAN below.
      checkServerIdentity: () => undefined,
      timeout: 5000,
    });
    s.once('secureConnect', () => {
      const peer = s.getPeerCertificate(true);
      s.destroy();
      resolve({ ok: true, peer });
    });
    s.once('timeout', () => (s.destroy(), resolve({ ok: false, error: 'timeout' })));
    s.once('error', (err) => resolve({ ok: false, error: err.message }));
  });
}

// ---------------------------------------------------------------------------------------------
// The main mesh: users, orders, reports and vault behind sidecars, and the gateway edge.

const MAIN_INSTANCES: InstanceSpec[] = [
  { id: 'users-a', service: 'users', version: 'v1', envoy: true },
  // Declared but served by no legit Envoy (no traffic: users routes to v1): forged proxies claim it.
  { id: 'users-b', service: 'users', version: 'v2', envoy: false },
  { id: 'orders-a', service: 'orders', version: 'v1', envoy: true },
  { id: 'reports-a', service: 'reports', version: 'v1', envoy: true },
  { id: 'vault-a', service: 'vault', version: 'v1', envoy: true },
];

function mainModel(p: Mesh['ports'], o: ModelOptions): string {
  const inst = (id: string, version: string): string => {
    const q = p.instances[id]!;
    return `      - { id: ${id}, address: 127.0.0.1, port: ${q.port}, app: "127.0.0.1:${q.app}", outboundPort: ${q.outbound}, adminPort: ${q.admin}, labels: { version: ${version} } }`;
  };
  return `# generated by test/e2e/security.e2e.test.ts
version: 1
mesh:
  trustDomain: ${TD}
  mtls: ${o.mtls ?? 'strict'}
  defaultPolicy: ${o.defaultPolicy ?? 'allow'}
${o.certificateTtl ? `  certificateTtl: ${o.certificateTtl}\n` : ''}services:
  users:
    instances:
${inst('users-a', 'v1')}
${inst('users-b', 'v2')}
    routes:
      - backends: [{ subset: { version: v1 } }]
    allow:
      - gateways: [${GATEWAY}]
      - services: [orders]
  orders:
    instances:
${inst('orders-a', 'v1')}
    allow:
      - gateways: [${GATEWAY}]
  reports:
    instances:
${inst('reports-a', 'v1')}
    allow:
      - gateways: [${GATEWAY}]
      - { services: [users], pathPrefix: /public, methods: [GET, HEAD] }
  vault:
    instances:
${inst('vault-a', 'v1')}
gateways:
  ${GATEWAY}:
    adminPort: ${p.gatewayAdmin}
    listeners:
      - { name: public, address: 127.0.0.1, port: ${p.gatewayListener}, protocol: http }
    routes:
      - { match: { pathPrefix: /users }, backend: users }
      - { match: { pathPrefix: /orders }, backend: orders }
      - { match: { pathPrefix: /reports }, backend: reports }
      - { match: { pathPrefix: /vault }, backend: vault }
`;
}

let main: Mesh | null = null;

async function theMesh(): Promise<Mesh> {
  main ??= await startMesh({ instances: MAIN_INSTANCES, model: mainModel, base: {} });
  await applyModel(main, main.model());
  return main;
}

beforeEach(({ onTestFailed }) => onTestFailed(() => keepTempDirs()));

afterAll(async () => {
  await main?.stop();
  cleanupProcessesAndTempDirs();
});


// ---------------------------------------------------------------------------------------------
// Test clients: mTLS with certificates the test mints itself, and raw plaintext.

interface ClientCert {
  cert: string;
  key: string;
}

/** A client certificate with URI SAN `identity`, signed by the CA in `stateDir` (or, with `foreign`, by a root nobody trusts). */
function mintClientCert(stateDir: string, identity: string, foreign = false): ClientCert {
  let caCert: X509Certificate;
  let caKey;
  if (foreign) {
    const root = createRoot();
    caCert = new X509Certificate(root.certPem);
    caKey = createPrivateKey(root.keyPem);
  } else {
    caCert = new X509Certificate(fs.readFileSync(path.join(stateDir, 'ca.crt')));
    caKey = createPrivateKey(fs.readFileSync(path.join(stateDir, 'ca.key')));
  }
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const der = issueCertificate({ publicKey, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000), subject: [], uris: [identity] }, issuerFrom(caCert, caKey));
  return { cert: pem('CERTIFICATE', der), key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** An HTTPS request straight to a sidecar's inbound listener, with a client certificate. Never throws. */
function mtlsRequest(port: number, p: string, o: { ca: string; client: ClientCert; headers?: Record<string, string>; method?: string }): Promise<HttpResponse> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: p,
        method: o.method ?? 'GET',
        headers: o.headers ?? {},
        ca: o.ca,
        cert: o.client.cert,
        key: o.client.key,
        agent: false,
        timeout: 5000,
        // SPIFFE certificates carry no DNS name.
        checkServerIdentity: () => undefined,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => resolve({ status: 0, headers: res.headers, body: '', error: err.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, headers: {}, body: '', error: err.message }));
    req.end();
  });
}

/** Write a plaintext HTTP request on a raw TCP connection; everything received until the peer closes. */
function rawPlaintext(port: number): Promise<{ received: Buffer; closed: boolean; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET /plaintext HTTP/1.1\r\nHost: users\r\n\r\n'));
    const timer = setTimeout(() => (s.destroy(), resolve({ received: Buffer.concat(chunks), closed: false, error: 'still open after 5 s' })), 5000);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (err) => (clearTimeout(timer), resolve({ received: Buffer.concat(chunks), closed: true, error: err.message })));
    s.on('close', () => (clearTimeout(timer), resolve({ received: Buffer.concat(chunks), closed: true })));
  });
}

/** POST to an Envoy admin endpoint. */
function adminPost(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method: 'POST', agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${p} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Envoy's listener stat prefix of an address, e.g. listener.127.0.0.1_15101. */
const listenerStat = (port: number, stat: string): string => `listener.127.0.0.1_${port}.${stat}`;

async function statOf(e: EnvoyProcess, name: string): Promise<number> {
  return (await e.stat(name)) ?? 0;
}

const caPem = (m: Mesh): string => fs.readFileSync(path.join(m.mg.stateDir, 'ca.crt'), 'utf8');

// ---------------------------------------------------------------------------------------------

describe('mesh security e2e (real Envoys)', () => {
  it('mTLS strict: gateway → service and sidecar → service over mTLS, certificates from the meshgate CA, the app sees the verified caller, a forged x-forwarded-client-cert is replaced', async () => {
    const m = await theMesh();
    const ca = new X509Certificate(caPem(m));
    const users = m.sidecars['users-a']!;
    const usersPort = m.ports.instances['users-a']!.port;
    const handshakes0 = await statOf(users, listenerStat(usersPort, 'ssl.handshake'));

    // Gateway → users: the app behind users-a's sidecar sees the gateway's SPIFFE ID.
    const g = echo(await httpRequest(m.gw('/users/from-gateway')));
    expect(g).toMatchObject({ service: 'users', instance: 'users-a', path: '/users/from-gateway', caller: gwId(GATEWAY) });
    // orders-a's app → its sidecar (outbound) → users-a's sidecar (inbound, mTLS) → users-a's app.
    const c = await httpRequest(`http://127.0.0.1:${m.ports.instances['orders-a']!.app}/call/users/from-orders`);
    expect(c.status).toBe(200);
    expect(JSON.parse(c.body)).toMatchObject({ caller: 'orders-a', status: 200, callee: { instance: 'users-a', path: '/from-orders', caller: svcId('orders') } });
    // Both arrived over TLS handshakes on users-a's inbound listener.
    expect(await statOf(users, listenerStat(usersPort, 'ssl.handshake'))).toBeGreaterThan(handshakes0);

    // The certificate users-a holds (/certs): its SPIFFE ID, and the trust bundle is meshgate's CA.
    const held = await heldCerts(users);
    expect(held.leaves.map((l) => l.subject_alt_names)).toEqual([[{ uri: svcId('users') }]]);
    expect(held.cas.map((x) => normSerial(x.serial_number))).toEqual([serialOf(ca)]);
    // The chain in its SDS secret is signed by <stateDir>/ca.crt and is the one /certs and /status describe.
    const secrets = await dumpedSecrets(users);
    expect(secrets.active.map((s) => s['name']).sort()).toEqual(['identity', 'trust-bundle']);
    const idSecret = secrets.active.find((s) => s['name'] === 'identity')!['secret'];
    expect(idSecret['tls_certificate']['private_key']['inline_string']).toBe('[redacted]');
    const leaf = new X509Certificate(idSecret['tls_certificate']['certificate_chain']['inline_string']);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.subjectAltName).toBe(`URI:${svcId('users')}`);
    expect(serialOf(leaf)).toBe(normSerial(held.leaves[0]!.serial_number));
    const bundle = secrets.active.find((s) => s['name'] === 'trust-bundle')!['secret']['validation_context']['trusted_ca']['inline_string'];
    expect(new X509Certificate(bundle).fingerprint256).toBe(ca.fingerprint256);
    const status = await m.mg.status();
    const sec = (status as unknown as { security: { ca: { roots: Array<{ fingerprint: string }> }; identities: Array<{ group: string; identity: string; serial: string }> } }).security;
    expect(sec.ca.roots.map((r) => r.fingerprint)).toEqual([ca.fingerprint256]);
    const usersIdentity = sec.identities.find((i) => i.group === 'sidecar/users/users-a')!;
    expect([usersIdentity.identity, normSerial(usersIdentity.serial)]).toEqual([svcId('users'), serialOf(leaf)]);
    // And it is what users-a presents on the wire: a TLS client trusting only ca.crt accepts it.
    const client = mintClientCert(m.mg.stateDir, svcId('test-client'));
    const wire = await tlsPeer(usersPort, { ca: caPem(m), ...client });
    expect(wire.error).toBeUndefined();
    expect(wire.peer!.fingerprint256).toBe(leaf.fingerprint256);
    expect(wire.peer!.subjectaltname).toBe(`URI:${svcId('users')}`);
    // The gateway holds its own identity, from the same CA.
    const gwHeld = await heldCerts(m.gateway);
    expect(gwHeld.leaves.map((l) => l.subject_alt_names)).toEqual([[{ uri: gwId(GATEWAY) }]]);
    expect(gwHeld.cas.map((x) => normSerial(x.serial_number))).toEqual([serialOf(ca)]);

    // A client forging x-forwarded-client-cert: every hop replaces it with the verified identity.
    // The app receives one element, from its own sidecar (By = the callee), and no trace of the forgery.
    const forged = { 'x-forwarded-client-cert': `By=${svcId('users')};Hash=00;URI=${svcId('admin')}` };
    const xfccOf = (app: string, by: string, uri: string): void => {
      const x = m.apps[app]!.lastXfcc ?? '';
      expect(x, `${app} received x-forwarded-client-cert: ${x}`).not.toContain(svcId('admin'));
      expect(x.split(',').length, x).toBe(1);
      expect(x, x).toMatch(new RegExp(`^By=${by};Hash=[0-9a-f]{64};URI=${uri}$`));
    };
    expect(echo(await httpRequest(m.gw('/users/forged'), { headers: forged })).caller).toBe(gwId(GATEWAY));
    xfccOf('users-a', svcId('users'), gwId(GATEWAY));
    expect(echo(await httpRequest(m.out('orders-a', '/forged'), { headers: { host: 'users', ...forged } })).caller).toBe(svcId('orders'));
    xfccOf('users-a', svcId('users'), svcId('orders'));
    // Straight into vault-a's inbound over mTLS (no sidecar of ours in between): replaced too.
    const direct = await mtlsRequest(m.ports.instances['vault-a']!.port, '/direct', { ca: caPem(m), client, headers: forged });
    expect(direct.status, direct.error ?? direct.body).toBe(200);
    expect(echo(direct)).toMatchObject({ instance: 'vault-a', caller: svcId('test-client') });
    xfccOf('vault-a', svcId('vault'), svcId('test-client'));
  });

  it('authorization: a gateway-only service refuses a sidecar with 403 (RBAC), rules narrowed by path and method, defaultPolicy deny', async () => {
    const m = await theMesh();
    const orders = m.sidecars['orders-a']!;
    const denied0 = await statOf(orders, 'http.inbound.rbac.denied');
    const ordersHits0 = m.apps['orders-a']!.hits;

    // orders allows only the gateway: users-a's sidecar is refused (through users-a's app and straight into the outbound port).
    const viaApp = await httpRequest(`http://127.0.0.1:${m.ports.instances['users-a']!.app}/call/orders/secret`);
    expect(viaApp.status).toBe(403);
    expect(JSON.parse(viaApp.body)).toMatchObject({ caller: 'users-a', status: 403, callee: 'RBAC: access denied' });
    const direct = await httpRequest(m.out('users-a', '/secret'), { headers: { host: 'orders' } });
    expect([direct.status, direct.body]).toEqual([403, 'RBAC: access denied']);
    // The gateway still gets through.
    expect(echo(await httpRequest(m.gw('/orders/ok')))).toMatchObject({ instance: 'orders-a', caller: gwId(GATEWAY) });
    // Refused by orders-a's sidecar (its RBAC stat), before its app.
    await waitFor(async () => (await statOf(orders, 'http.inbound.rbac.denied')) === denied0 + 2, 5000, 'orders-a http.inbound.rbac.denied +2');
    expect(m.apps['orders-a']!.hits).toBe(ordersHits0 + 1);

    // reports: the gateway anywhere; users only GET/HEAD under /public.
    const reports = m.sidecars['reports-a']!;
    const rDenied0 = await statOf(reports, 'http.inbound.rbac.denied');
    const asUsers = (p: string, method = 'GET'): Promise<HttpResponse> => httpRequest(m.out('users-a', p), { method, headers: { host: 'reports' } });
    const allowedGet = await asUsers('/public/q1');
    expect(echo(allowedGet)).toMatchObject({ instance: 'reports-a', method: 'GET', path: '/public/q1', caller: svcId('users') });
    expect((await asUsers('/public/q1', 'HEAD')).status).toBe(200);
    const refused = await Promise.all([asUsers('/private/q1'), asUsers('/public/q1', 'POST'), asUsers('/public/q1', 'DELETE'), asUsers('/')]);
    expect(refused.map((r) => [r.status, r.body])).toEqual(Array(4).fill([403, 'RBAC: access denied']));
    // orders is not in reports' list at all, even under /public.
    const fromOrders = await httpRequest(m.out('orders-a', '/public/q1'), { headers: { host: 'reports' } });
    expect(fromOrders.status).toBe(403);
    expect(echo(await httpRequest(m.gw('/reports/private/anything')))).toMatchObject({ instance: 'reports-a', caller: gwId(GATEWAY) });
    await waitFor(async () => (await statOf(reports, 'http.inbound.rbac.denied')) === rDenied0 + 5, 5000, 'reports-a http.inbound.rbac.denied +5');

    // vault has no allow list: open under defaultPolicy allow, closed under deny.
    const vault = m.sidecars['vault-a']!;
    expect(echo(await httpRequest(m.gw('/vault/open')))).toMatchObject({ instance: 'vault-a', caller: gwId(GATEWAY) });
    expect(echo(await httpRequest(m.out('users-a', '/open'), { headers: { host: 'vault' } }))).toMatchObject({ instance: 'vault-a', caller: svcId('users') });
    const vDenied0 = await statOf(vault, 'http.inbound.rbac.denied');
    const client = mintClientCert(m.mg.stateDir, svcId('test-client'));
    const vaultPort = m.ports.instances['vault-a']!.port;
    expect((await mtlsRequest(vaultPort, '/open', { ca: caPem(m), client })).status).toBe(200);
    const lds = await statOf(vault, 'listener_manager.lds.update_success');
    await applyModel(m, m.model({ defaultPolicy: 'deny' }), { waitDrained: false });
    const appliedAt = Date.now();
    // A new connection is refused at once.
    const fresh = await mtlsRequest(vaultPort, '/closed', { ca: caPem(m), client });
    expect([fresh.status, fresh.body]).toEqual([403, 'RBAC: access denied']);
    // The gateway and users-a reach vault-a over connections pooled before the edit. The rules
    // travel in the route configuration (RDS), not the listener: once the edit is ACKed, the
    // very next request on those connections is refused too, with no listener drain.
    const [gw, sc] = await Promise.all([httpRequest(m.gw('/vault/closed')), httpRequest(m.out('users-a', '/closed'), { headers: { host: 'vault' } })]);
    expect([gw.status, gw.body]).toEqual([403, 'RBAC: access denied']);
    expect([sc.status, sc.body]).toEqual([403, 'RBAC: access denied']);
    console.log(`[security e2e] defaultPolicy deny: new and pooled connections refused ${Date.now() - appliedAt} ms after the ACK`);
    // Authorization edits never touch the listener.
    expect(await statOf(vault, 'listener_manager.lds.update_success')).toBe(lds);
    expect(await statOf(vault, 'listener_manager.total_listeners_draining')).toBe(0);
    expect(await statOf(vault, 'http.inbound.rbac.denied')).toBeGreaterThanOrEqual(vDenied0 + 3);
    // Services with their own allow list keep it.
    expect(echo(await httpRequest(m.gw('/users/still-open'))).caller).toBe(gwId(GATEWAY));
    expect(JSON.parse((await httpRequest(`http://127.0.0.1:${m.ports.instances['orders-a']!.app}/call/users/still-open`)).body)).toMatchObject({ status: 200, callee: { caller: svcId('orders') } });
  });

  it('plaintext into a strict inbound listener is refused; permissive accepts plaintext (caller null) and mTLS (caller set)', async () => {
    const m = await theMesh();
    const users = m.sidecars['users-a']!;
    const usersPort = m.ports.instances['users-a']!.port;
    const hits0 = m.apps['users-a']!.hits;
    const sslErrors0 = await statOf(users, listenerStat(usersPort, 'ssl.connection_error'));
    const verifyErrors0 = await statOf(users, listenerStat(usersPort, 'ssl.fail_verify_error'));
    const rq0 = await statOf(users, listenerStat(usersPort, 'http.inbound.downstream_rq_completed'));

    // Strict: an HTTP client gets no response at all, and a raw plaintext request gets no HTTP answer.
    const plain = await httpRequest(`http://127.0.0.1:${usersPort}/plaintext`, { headers: { host: 'users' } });
    expect(plain.status).toBe(0);
    expect(plain.error).toMatch(/ECONNRESET|socket hang up|Parse Error/i);
    const raw = await rawPlaintext(usersPort);
    expect(raw.closed, raw.error).toBe(true);
    expect(raw.received.toString('latin1')).not.toMatch(/HTTP\//);
    // A client certificate from a CA the mesh does not trust, claiming the gateway's identity: refused too.
    const impostor = await mtlsRequest(usersPort, '/impostor', { ca: caPem(m), client: mintClientCert(m.mg.stateDir, gwId(GATEWAY), true) });
    expect(impostor.status, impostor.body).toBe(0);
    expect(m.apps['users-a']!.hits).toBe(hits0);
    // Counted by users-a's listener: two failed handshakes (plaintext), one refused certificate; no request reached HTTP.
    await waitFor(async () => (await statOf(users, listenerStat(usersPort, 'ssl.connection_error'))) === sslErrors0 + 2, 5000, 'users-a inbound ssl.connection_error +2');
    expect(await statOf(users, listenerStat(usersPort, 'ssl.fail_verify_error'))).toBe(verifyErrors0 + 1);
    expect(await statOf(users, listenerStat(usersPort, 'http.inbound.downstream_rq_completed'))).toBe(rq0);

    // Permissive: the same kind of port takes plaintext (no caller) and mTLS (the caller's identity).
    await applyModel(m, m.model({ mtls: 'permissive' }));
    const vaultPort = m.ports.instances['vault-a']!.port;
    const forged = { 'x-forwarded-client-cert': `URI=${gwId(GATEWAY)}` };
    const p1 = await waitFor(async () => {
      const r = await httpRequest(`http://127.0.0.1:${vaultPort}/plaintext`, { headers: { host: 'vault', ...forged } });
      return r.status === 200 ? r : undefined;
    }, 10_000, 'vault-a inbound to accept plaintext after the switch to permissive');
    expect(echo(p1)).toMatchObject({ instance: 'vault-a', path: '/plaintext', caller: null });
    // The forged header did not reach the app at all.
    expect(m.apps['vault-a']!.lastXfcc).toBeUndefined();
    expect(echo(await httpRequest(m.out('users-a', '/mtls'), { headers: { host: 'vault' } }))).toMatchObject({ instance: 'vault-a', caller: svcId('users') });
    expect(echo(await httpRequest(m.gw('/vault/mtls')))).toMatchObject({ instance: 'vault-a', caller: gwId(GATEWAY) });
    // Plaintext does not get around authorization: no verified identity, no entry to orders.
    const plainOrders = await httpRequest(`http://127.0.0.1:${m.ports.instances['orders-a']!.port}/plaintext`, { headers: { host: 'orders', ...forged } });
    expect([plainOrders.status, plainOrders.body]).toEqual([403, 'RBAC: access denied']);
    const plainUsers = await httpRequest(`http://127.0.0.1:${usersPort}/p`, { headers: { host: 'users' } });
    expect([plainUsers.status, plainUsers.body]).toEqual([403, 'RBAC: access denied']);
    expect(echo(await httpRequest(m.gw('/users/p'))).caller).toBe(gwId(GATEWAY));
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Forged identities.

/** Continuous requests from several loops until stopped; every result is kept. */
function trafficLoops(loops: Record<string, () => Promise<HttpResponse>>, check: (name: string, r: HttpResponse) => boolean, pauseMs = 10) {
  let stopped = false;
  const results: Array<{ loop: string; ok: boolean; status: number; error?: string; body?: string }> = [];
  const running = Object.entries(loops).map(async ([name, send]) => {
    while (!stopped) {
      const r = await send();
      const ok = check(name, r);
      results.push({ loop: name, ok, status: r.status, ...(r.error ? { error: r.error } : {}), ...(ok ? {} : { body: r.body.slice(0, 200) }) });
      if (pauseMs) await sleep(pauseMs);
    }
  });
  return {
    results,
    async stop() {
      stopped = true;
      await Promise.all(running);
      return results;
    },
  };
}

describe('forged identities (real Envoys)', () => {
  it("an Envoy claiming a sidecar's identity without a valid token gets none of its secrets and never serves; the legit proxy is unaffected", async () => {
    const m = await theMesh();
    const legit = m.sidecars['users-a']!;
    const certIds = async (e: EnvoyProcess): Promise<unknown> => {
      const h = await heldCerts(e);
      return { leaves: h.leaves.map((l) => [l.serial_number, l.subject_alt_names]), cas: h.cas.map((c) => c.serial_number) };
    };
    const legitCerts = await certIds(legit);
    const legitSds = (await m.mg.proxy('users-a'))!.types['SDS']!;
    const legitSerial = (await securityStatus(m.mg)).identities.find((i) => i.group === 'sidecar/users/users-a')!.serial;
    const reasons = ['missing', 'wrong_identity', 'invalid'] as const;
    const rej0 = Object.fromEntries(await Promise.all(reasons.map(async (r) => [r, await m.mg.metric('meshgate_identity_rejections_total', { reason: r })] as const)));

    const claims = [
      { what: 'no token', nodeId: 'users-b', token: null, variant: 'sotw' as const },
      // The legit proxy's own node id, with a genuine token, but for orders' identity (Delta xDS).
      { what: "a token for orders' identity", nodeId: 'users-a', token: m.token(svcId('orders')), variant: 'delta' as const },
      { what: 'a token for the right identity signed by another key', nodeId: 'users-b', token: new NodeTokens(randomBytes(32)).issue(svcId('users'), 3_600_000), variant: 'sotw' as const },
    ];
    const traffic = trafficLoops(
      {
        gateway: () => httpRequest(m.gw('/users/legit')),
        sidecar: () => httpRequest(`http://127.0.0.1:${m.ports.instances['orders-a']!.app}/call/users/legit`),
      },
      (loop, r) => {
        if (r.status !== 200) return false;
        const body = JSON.parse(r.body) as Echo & { callee?: Echo };
        const e = loop === 'gateway' ? body : body.callee!;
        return e.instance === 'users-a' && e.caller === (loop === 'gateway' ? gwId(GATEWAY) : svcId('orders'));
      },
    );
    const forged: EnvoyProcess[] = [];
    let startedAt = 0;
    try {
      for (const c of claims) {
        const bootstrap = envoyBootstrap({
          nodeId: c.nodeId,
          nodeCluster: 'users',
          xdsHost: '127.0.0.1',
          xdsPort: m.mg.xdsPort,
          adminHost: '127.0.0.1',
          adminPort: 0,
          variant: c.variant,
          ...(c.token ? { metadata: { 'meshgate.token': c.token } } : {}),
        });
        const e = await startEnvoy({ nodeId: `forged-${c.nodeId}`, cluster: 'users', xdsPort: m.mg.xdsPort, variant: c.variant, bootstrap, waitReady: false });
        forged.push(e);
        m.extraEnvoys.push(e);
      }
      startedAt = Date.now();
      // meshgate refused each claim, for its reason.
      await waitFor(
        async () => {
          for (const r of reasons) if ((await m.mg.metric('meshgate_identity_rejections_total', { reason: r })) < rej0[r]! + 1) return false;
          return true;
        },
        15_000,
        'meshgate_identity_rejections_total{reason=missing,wrong_identity,invalid} to increase',
      );
      // Each forged Envoy asked for the secrets and was answered (and ACKed) with nothing.
      const forgedStreams = async (): Promise<ProxyStatus[]> => {
        const all = (await m.mg.status()).proxies;
        const usersA = all.filter((p) => p.nodeId === 'users-a');
        return [...all.filter((p) => p.nodeId === 'users-b'), ...usersA.slice(1)];
      };
      const streams = await waitFor(async () => {
        const s = await forgedStreams();
        return s.length === 3 && s.every((p) => p.types['SDS']?.versionSent && p.types['SDS'].versionAcked === p.types['SDS'].versionSent && p.types['SDS'].subscribed !== '*') ? s : undefined;
      }, 15_000, 'the three forged proxies to ACK an SDS response');
      for (const p of streams) {
        expect([...(p.types['SDS']!.subscribed as string[])].sort(), p.nodeId).toEqual(['identity', 'trust-bundle']);
        if (p.variant === 'sotw') expect(p.types['SDS']!.versionSent, `${p.nodeId}: SDS version of the empty set`).toBe(versionOf([]));
      }

      // Past Envoy's default initial_fetch_timeout (15 s), nothing has gone live without its certificate.
      await sleep(Math.max(0, startedAt + 16_500 - Date.now()));
      for (const [i, e] of forged.entries()) {
        const what = `forged Envoy with ${claims[i]!.what}`;
        expect(e.running, what).toBe(true);
        const secrets = await dumpedSecrets(e);
        expect(secrets.active, what).toEqual([]);
        for (const w of secrets.warming) expect(w['secret'] === undefined || Object.keys(w['secret']).every((k) => k === 'name' || k === '@type'), `${what}: warming secret holds no material`).toBe(true);
        expect((await envoyCerts(e)).filter((c) => (c.cert_chain?.length ?? 0) > 0), what).toEqual([]);
        expect(await dumpedListeners(e), what).toEqual(expect.not.arrayContaining([expect.objectContaining({ states: expect.arrayContaining(['active_state']) })]));
        expect((await e.ready()).status, `${what}: not LIVE`).toBe(503);
      }
      // users-b's inbound port (claimed by two of them) is not served.
      const probe = await tlsPeer(m.ports.instances['users-b']!.port, { ca: caPem(m), ...mintClientCert(m.mg.stateDir, gwId(GATEWAY)) });
      expect(probe.ok).toBe(false);
      expect(probe.error).toMatch(/ECONNREFUSED/);
    } finally {
      const report = await traffic.stop();
      await Promise.all(forged.map((e) => e.stop()));
      const failures = report.filter((r) => !r.ok);
      console.log(`[security e2e] forged identities: ${report.length} legit requests during ${((Date.now() - startedAt) / 1000).toFixed(1)} s, ${failures.length} failed`);
      expect(failures, 'legit requests that failed while forged proxies were connected').toEqual([]);
      expect(report.filter((r) => r.loop === 'gateway').length).toBeGreaterThan(20);
      expect(report.filter((r) => r.loop === 'sidecar').length).toBeGreaterThan(20);
    }
    // The legit users-a: same certificate, same secrets version, nothing re-issued.
    expect(await certIds(legit)).toEqual(legitCerts);
    expect((await m.mg.proxy('users-a'))!.types['SDS']).toEqual(legitSds);
    expect((await securityStatus(m.mg)).identities.find((i) => i.group === 'sidecar/users/users-a')!.serial).toBe(legitSerial);
  }, 60_000);
});

interface SecurityStatus {
  ca: { roots: Array<{ fingerprint: string }> };
  identities: Array<{ group: string; identity: string; serial: string; notBefore: string; notAfter: string; nextRotation: string }>;
}

async function securityStatus(mg: MeshgateProcess): Promise<SecurityStatus> {
  return ((await mg.status()) as unknown as { security: SecurityStatus }).security;
}

// ---------------------------------------------------------------------------------------------
// Certificate rotation.

function rotationModel(p: Mesh['ports'], o: ModelOptions): string {
  const inst = (id: string): string => {
    const q = p.instances[id]!;
    return `      - { id: ${id}, address: 127.0.0.1, port: ${q.port}, app: "127.0.0.1:${q.app}", outboundPort: ${q.outbound}, adminPort: ${q.admin} }`;
  };
  return `# generated by test/e2e/security.e2e.test.ts (rotation)
version: 1
mesh:
  trustDomain: ${TD}
  mtls: ${o.mtls ?? 'strict'}
  certificateTtl: ${o.certificateTtl ?? '12s'}
services:
  users:
    instances:
${inst('users-a')}
  orders:
    instances:
${inst('orders-a')}
gateways:
  ${GATEWAY}:
    adminPort: ${p.gatewayAdmin}
    listeners:
      - { name: public, address: 127.0.0.1, port: ${p.gatewayListener}, protocol: http }
    routes:
      - { match: { pathPrefix: /users }, backend: users }
      - { match: { pathPrefix: /orders }, backend: orders }
`;
}

describe('certificate rotation (real Envoys)', () => {
  const SOAK_MS = 30_000;

  it('certificateTtl 12s under continuous traffic for 30 s: serials rotate in meshgate and in every Envoy, zero failed requests, never an expired certificate', async () => {
    // The main mesh is done with: its Envoys would only take CPU from the soak.
    await main?.stop();
    main = null;
    const m = await startMesh({
      instances: [
        { id: 'users-a', service: 'users', version: 'v1', envoy: true },
        { id: 'orders-a', service: 'orders', version: 'v1', envoy: true },
      ],
      model: rotationModel,
      base: {},
    });
    try {
      const envoys = { [GATEWAY]: m.gateway, 'users-a': m.sidecars['users-a']!, 'orders-a': m.sidecars['orders-a']! };
      const groups = [`gateway/${GATEWAY}`, 'sidecar/orders/orders-a', 'sidecar/users/users-a'];
      const caSerial = serialOf(new X509Certificate(caPem(m)));
      const rotations0 = await m.mg.metric('meshgate_certificate_rotations_total');
      const handshakes0 = Object.fromEntries(
        await Promise.all(['users-a', 'orders-a'].map(async (i) => [i, await statOf(m.sidecars[i]!, listenerStat(m.ports.instances[i]!.port, 'ssl.handshake'))] as const)),
      );
      // users-a's Envoy in health-check-fail mode answers every request with "connection: close":
      // each request to users-a (from the gateway and from orders-a) is a new mTLS handshake with
      // the certificates of the moment. Connections to orders-a stay pooled across rotations.
      expect((await adminPost(m.sidecars['users-a']!.adminPort, '/healthcheck/fail')).status).toBe(200);
      const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });
      const callee = (r: HttpResponse): Echo | null => {
        try {
          const b = JSON.parse(r.body) as Echo & { callee?: Echo };
          return b.callee ?? b;
        } catch {
          return null;
        }
      };
      const traffic = trafficLoops(
        {
          // gateway → service, on pooled (keep-alive) and on new client connections.
          'gateway→users (keep-alive)': () => httpRequest(m.gw('/users/soak'), { agent: keepAlive }),
          'gateway→orders': () => httpRequest(m.gw('/orders/soak')),
          // sidecar → service, through the apps (orders-a → users-a and users-a → orders-a).
          'orders-a→users': () => httpRequest(`http://127.0.0.1:${m.ports.instances['orders-a']!.app}/call/users/soak`),
          'users-a→orders': () => httpRequest(m.out('users-a', '/soak'), { headers: { host: 'orders' } }),
        },
        (loop, r) => {
          if (r.status !== 200) return false;
          const e = callee(r);
          const want: Record<string, [string, string]> = {
            'gateway→users (keep-alive)': ['users-a', gwId(GATEWAY)],
            'gateway→orders': ['orders-a', gwId(GATEWAY)],
            'orders-a→users': ['users-a', svcId('orders')],
            'users-a→orders': ['orders-a', svcId('users')],
          };
          return e?.instance === want[loop]![0] && e.caller === want[loop]![1];
        },
        20,
      );
      const groupOf: Record<string, string> = { [GATEWAY]: `gateway/${GATEWAY}`, 'users-a': 'sidecar/users/users-a', 'orders-a': 'sidecar/orders/orders-a' };
      const client = mintClientCert(m.mg.stateDir, svcId('soak-probe'));
      const presentedUnknown: string[] = [];
      const statusSerials: Record<string, string[]> = Object.fromEntries(groups.map((g) => [g, []]));
      const envoySerials: Record<string, string[]> = Object.fromEntries(Object.keys(envoys).map((n) => [n, []]));
      const problems: string[] = [];
      let polls = 0;
      const started = Date.now();
      try {
        while (Date.now() - started < SOAK_MS) {
          polls++;
          const sec = await securityStatus(m.mg);
          const now = Date.now();
          for (const g of groups) {
            const id = sec.identities.find((i) => i.group === g);
            if (!id) {
              problems.push(`${g}: no identity in /status`);
              continue;
            }
            if (Date.parse(id.notAfter) <= now) problems.push(`${g}: /status shows expired certificate ${id.serial} (notAfter ${id.notAfter})`);
            const list = statusSerials[g]!;
            if (list[list.length - 1] !== normSerial(id.serial)) list.push(normSerial(id.serial));
          }
          for (const [name, e] of Object.entries(envoys)) {
            const certs = await envoyCerts(e);
            const at = Date.now();
            const leaves = new Set<string>();
            for (const c of certs) {
              for (const d of [...(c.cert_chain ?? []), ...(c.ca_cert ?? [])]) {
                // Envoy prints times to the second: the certificate is valid until expiration_time + 1 s at most.
                if (Date.parse(d.expiration_time) + 1000 <= at || Number(d.days_until_expiration) < 0) problems.push(`${name}: holds expired certificate ${d.serial_number} (expiration_time ${d.expiration_time}, now ${new Date(at).toISOString()})`);
                if (Date.parse(d.valid_from) > at) problems.push(`${name}: holds not-yet-valid certificate ${d.serial_number} (valid_from ${d.valid_from})`);
              }
              if (c.cert_chain?.[0]) leaves.add(normSerial(c.cert_chain[0].serial_number));
              for (const ca of c.ca_cert ?? []) if (normSerial(ca.serial_number) !== caSerial) problems.push(`${name}: trusts ${ca.serial_number}, not the meshgate CA`);
            }
            if (leaves.size === 0) problems.push(`${name}: holds no certificate`);
            const list = envoySerials[name]!;
            for (const l of [...leaves].sort()) if (!list.includes(l)) list.push(l);
          }
          // A new handshake with each inbound listener: the certificate it presents chains to
          // ca.crt and is within its validity (Node checks both), and meshgate issued it.
          for (const inst of ['users-a', 'orders-a']) {
            const hs = await tlsPeer(m.ports.instances[inst]!.port, { ca: caPem(m), ...client });
            if (!hs.ok) problems.push(`${inst}: TLS handshake failed: ${hs.error}`);
            else if (!statusSerials[groupOf[inst]!]!.includes(normSerial(hs.peer!.serialNumber))) presentedUnknown.push(`${inst}: ${hs.peer!.serialNumber}`);
          }
          await sleep(500);
        }
      } finally {
        await traffic.stop();
        keepAlive.destroy();
        await adminPost(m.sidecars['users-a']!.adminPort, '/healthcheck/ok');
      }
      const results = traffic.results;
      const failures = results.filter((r) => !r.ok);
      const byLoop: Record<string, number> = {};
      for (const r of results) byLoop[r.loop] = (byLoop[r.loop] ?? 0) + 1;
      const rotations = (await m.mg.metric('meshgate_certificate_rotations_total')) - rotations0;
      const handshakes = Object.fromEntries(
        await Promise.all(['users-a', 'orders-a'].map(async (i) => [i, (await statOf(m.sidecars[i]!, listenerStat(m.ports.instances[i]!.port, 'ssl.handshake'))) - handshakes0[i]!] as const)),
      );
      console.log(
        `[security e2e] rotation soak ${((Date.now() - started) / 1000).toFixed(1)} s, ${polls} polls: ${results.length} requests ${JSON.stringify(byLoop)}, ${failures.length} failed; ` +
          `meshgate_certificate_rotations_total +${rotations}; serials per group in /status ${JSON.stringify(Object.fromEntries(Object.entries(statusSerials).map(([g, l]) => [g, l.length])))}, ` +
          `per Envoy in /certs ${JSON.stringify(Object.fromEntries(Object.entries(envoySerials).map(([g, l]) => [g, l.length])))}; inbound TLS handshakes ${JSON.stringify(handshakes)}`,
      );
      expect(problems).toEqual([]);
      expect(failures.slice(0, 10), `${failures.length} failed requests`).toEqual([]);
      for (const n of Object.values(byLoop)) expect(n).toBeGreaterThan(50);
      // At least two rotations (three serials) everywhere.
      for (const g of groups) expect(statusSerials[g]!.length, `serials of ${g} in /status`).toBeGreaterThanOrEqual(3);
      for (const n of Object.keys(envoys)) expect(envoySerials[n]!.length, `serials in ${n}'s /certs`).toBeGreaterThanOrEqual(3);
      expect(rotations).toBeGreaterThanOrEqual(6);
      // Each request to users-a was a new handshake: rotated certificates were used on both sides.
      // (Give or take the requests in flight on connections opened before the soak.)
      expect(handshakes['users-a']).toBeGreaterThanOrEqual(0.9 * (byLoop['gateway→users (keep-alive)']! + byLoop['orders-a→users']!));
      // Every serial an Envoy held or presented was one meshgate issued for it (the first poll
      // may miss a certificate that was replaced before it).
      expect(presentedUnknown.length, presentedUnknown.join(', ')).toBeLessThanOrEqual(2);
      for (const [n, serials] of Object.entries(envoySerials)) {
        const issued = statusSerials[groupOf[n]!]!;
        expect(serials.filter((s) => !issued.includes(s)).length, `${n} held serials ${JSON.stringify(serials)}, meshgate issued ${JSON.stringify(issued)}`).toBeLessThanOrEqual(1);
      }
    } finally {
      await m.stop();
    }
  }, 75_000);
});

// ---------------------------------------------------------------------------------------------
// A broken CA stops meshgate at startup.

const CA_MODEL = `version: 1
mesh: { trustDomain: ${TD}, mtls: strict }
services:
  users:
    instances: [{ id: users-a, address: 127.0.0.1, port: 15101, app: "127.0.0.1:9101" }]
`;

interface ServeResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `meshgate serve -f` on its own state dir; resolves when it exits, or (listening) after its listening line, stopping it. */
function serve(stateDir: string, extra: string[] = []): Promise<ServeResult> {
  const model = path.join(path.dirname(stateDir), 'mesh.yaml');
  fs.writeFileSync(model, CA_MODEL);
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [MESHGATE_BIN, 'serve', '-f', model, '--state-dir', stateDir, '--xds-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--no-watch', '--log-level', 'warn', ...extra],
      { cwd: REPO_ROOT, timeout: 20_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
    trackChild(child, stateDir);
    child.stdout!.on('data', (c: Buffer) => {
      if (c.toString().includes('"event":"listening"')) child.kill('SIGTERM');
    });
  });
}

/** Every file of a directory with its mode and content hash. */
function listing(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, f);
    out[f] = `${(fs.statSync(p).mode & 0o777).toString(8)} ${createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16)}`;
  }
  return out;
}

describe('a broken CA stops `meshgate serve` (exit 1, the file named, nothing replaced)', () => {
  it('corrupt key, a missing half, a key that does not match, a world-readable key; a good CA in the state dir loads', async () => {
    const a = createRoot();
    const b = createRoot();
    const stateFor = (name: string, files: { crt?: string; key?: string; keyMode?: number }): string => {
      const dir = path.join(makeTempDir(`meshgate-ca-${name}-`), 'state');
      fs.mkdirSync(dir, { mode: 0o700 });
      if (files.crt !== undefined) fs.writeFileSync(path.join(dir, 'ca.crt'), files.crt, { mode: 0o644 });
      if (files.key !== undefined) {
        fs.writeFileSync(path.join(dir, 'ca.key'), files.key, { mode: 0o600 });
        fs.chmodSync(path.join(dir, 'ca.key'), files.keyMode ?? 0o600);
      }
      return dir;
    };
    const cases = [
      { name: 'corrupt-key', files: { crt: a.certPem, key: 'garbage, not a PEM private key\n' }, want: (d: string) => `${d}/ca.key is corrupt or not a private key` },
      { name: 'cert-without-key', files: { crt: a.certPem }, want: (d: string) => `${d}/ca.key is missing but ${d}/ca.crt exists: refusing to create a new root` },
      { name: 'key-without-cert', files: { key: a.keyPem }, want: (d: string) => `${d}/ca.crt is missing but ${d}/ca.key exists: refusing to create a new root` },
      { name: 'mismatched-key', files: { crt: a.certPem, key: b.keyPem }, want: (d: string) => `${d}/ca.key does not match the certificate in ${d}/ca.crt` },
      { name: 'world-readable-key', files: { crt: a.certPem, key: a.keyPem, keyMode: 0o644 }, want: (d: string) => `${d}/ca.key is readable by other users (mode 644)` },
    ];
    const dirs = cases.map((c) => stateFor(c.name, c.files));
    const before = dirs.map(listing);
    const goodDir = stateFor('good', { crt: a.certPem, key: a.keyPem });
    const [good, ...results] = await Promise.all([serve(goodDir), ...dirs.map((d) => serve(d))]);

    // Control: the same CA, intact, is loaded (not replaced) and meshgate serves.
    expect(good.stdout, good.stderr).toContain('"event":"listening"');
    expect(fs.readFileSync(path.join(goodDir, 'ca.crt'), 'utf8')).toBe(a.certPem);
    for (const [i, c] of cases.entries()) {
      const r = results[i]!;
      const lines = r.stderr.trim().split('\n');
      expect(r.code, `${c.name}: ${r.stderr}`).toBe(1);
      expect(r.stdout, c.name).not.toContain('listening');
      expect(lines[lines.length - 1], c.name).toContain(`meshgate: cannot start: ${c.want(dirs[i]!)}`);
      // Nothing created or replaced: no new root, no token key.
      expect(listing(dirs[i]!), c.name).toEqual(before[i]);
      // And no private key material in what it printed.
      expect(r.stderr + r.stdout, c.name).not.toContain('PRIVATE KEY');
    }
  });
});
