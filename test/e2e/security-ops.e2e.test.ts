// End-to-end tests of mesh security operations with real Envoys and real traffic (strict mTLS):
//   - root CA rotation (`meshgate ca rotate`) under continuous traffic, gateway → service and
//     sidecar → service, keep-alive and new connections, with ramps that keep Envoy opening new
//     upstream mTLS connections while the rotation runs, and one slow proxy (its xDS relayed
//     600 ms late) so that every phase really is mixed for a while: zero failed requests (a
//     rotation that skips "trust both" or drops the old root early fails here by the hundreds);
//     afterwards every Envoy holds a leaf chained to the new root and trusts the new root only;
//     the state dir holds the new root as ca.crt/ca.key and the old one as
//     ca.retired-<time>.crt. Twice.
//   - an interrupted rotation (meshgate SIGKILLed right after POST /ca/rotate answered 202) is
//     found at restart (both roots trusted, /status says so), traffic never fails, and
//     `meshgate ca rotate` finishes it with the root it had started;
//   - xDS over TLS (serve --xds-tls, bootstrap --xds-tls): a pinned bootstrap is configured;
//     a bootstrap pinning another CA, expecting another SAN, or speaking plaintext never is;
//   - meshgate_authz_denials_total counts RBAC denials per callee and verified caller (gRPC
//     access logs from the sidecars), not allowed calls nor the apps' own 403s; `meshgate
//     status` shows the CA and the identity table.
//
// Everything runs on free loopback ports (other test files run concurrently).
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { splitPem } from '../../src/ca/authority.js';
import { NodeTokens } from '../../src/ca/node-token.js';
import { startDemoApp } from '../../src/demo/demo-app.js';
import { envoyBootstrap } from '../../src/translate/bootstrap.js';
import { type EnvoyProcess, startEnvoy, stopAllEnvoys, sumStats } from '../helpers/envoy.js';
import { MESHGATE_BIN, type MeshgateProcess, REPO_ROOT, startMeshgateModel } from '../helpers/meshgate-process.js';
import { cleanupProcessesAndTempDirs, freePorts, keepTempDirs, makeTempDir, sleep, waitFor } from '../helpers/ports.js';
import { httpRequest, type HttpResponse } from '../helpers/upstream.js';

const TD = 'ops.e2e.local';
const GATEWAY = 'edge';
const svcId = (s: string): string => `spiffe://${TD}/service/${s}`;
const gwId = (g: string): string => `spiffe://${TD}/gateway/${g}`;
const XDS_TYPES = ['CDS', 'EDS', 'LDS', 'RDS', 'SDS'];
const PHASES = ['trusting-both', 'reissuing', 'dropping-old-root', 'done'];
/** How late the slow proxy (users-a) applies each push during a rotation. */
const LAG_MS = 600;

// ---------------------------------------------------------------------------------------------
// CLI, status and certificate helpers.

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function meshgateCli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MESHGATE_BIN, ...args], { cwd: REPO_ROOT, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface SecurityStatus {
  ca: { files: { cert: string; key: string }; subject: string; notAfter: string; roots: Array<{ subject: string; fingerprint: string }> };
  identities: Array<{ group: string; identity: string; serial: string; notAfter: string; nextRotation: string }>;
  rootRotation: { phase: string; message: string; startedAt: string | null; finishedAt: string | null; newRoot: string | null } | null;
}

async function security(mg: MeshgateProcess): Promise<SecurityStatus> {
  const s = (await mg.status()) as unknown as { security: SecurityStatus | null };
  if (!s.security) throw new Error('/status has no security section');
  return s.security;
}

const normSerial = (s: string): string => s.toLowerCase().replace(/[^0-9a-f]/g, '').replace(/^0+/, '');

const readCert = (file: string): X509Certificate => new X509Certificate(fs.readFileSync(file));

/** ca.* files of a state dir. */
function caFiles(stateDir: string): string[] {
  return fs
    .readdirSync(stateDir)
    .filter((f) => f.startsWith('ca.'))
    .sort();
}

interface CertDetails {
  serial_number: string;
  subject_alt_names?: Array<{ uri?: string }>;
}

/** Leaves (first of each chain) and CA certificates in Envoy's /certs, de-duplicated by serial. */
async function heldCerts(e: EnvoyProcess): Promise<{ leaves: CertDetails[]; cas: CertDetails[] }> {
  const j = await e.adminJson<{ certificates?: Array<{ ca_cert?: CertDetails[]; cert_chain?: CertDetails[] }> }>('/certs');
  const leaves = new Map<string, CertDetails>();
  const cas = new Map<string, CertDetails>();
  for (const c of j.certificates ?? []) {
    const leaf = c.cert_chain?.[0];
    if (leaf) leaves.set(normSerial(leaf.serial_number), leaf);
    for (const ca of c.ca_cert ?? []) cas.set(normSerial(ca.serial_number), ca);
  }
  return { leaves: [...leaves.values()], cas: [...cas.values()] };
}

/** The identity chain and the trust bundle in Envoy's active SDS secrets (/config_dump). */
async function dumpedSecrets(e: EnvoyProcess): Promise<{ chain: X509Certificate[]; bundle: X509Certificate[]; warming: number }> {
  const dump = await e.configDump();
  const s = (dump.configs.find((c) => String(c['@type']).endsWith('.SecretsConfigDump')) ?? {}) as Record<string, any>;
  const active: Array<Record<string, any>> = s['dynamic_active_secrets'] ?? [];
  const byName = (n: string): Record<string, any> | undefined => active.find((x) => x['name'] === n)?.['secret'];
  const chainPem: string = byName('identity')?.['tls_certificate']?.['certificate_chain']?.['inline_string'] ?? '';
  const bundlePem: string = byName('trust-bundle')?.['validation_context']?.['trusted_ca']?.['inline_string'] ?? '';
  return {
    chain: splitPem(chainPem).map((p) => new X509Certificate(p)),
    bundle: splitPem(bundlePem).map((p) => new X509Certificate(p)),
    warming: (s['dynamic_warming_secrets'] ?? []).length,
  };
}

/** Phases logged by meshgate's root-rotation component, in order (all starts of this state dir's logs). */
function loggedPhases(mg: MeshgateProcess): string[] {
  const out: string[] = [];
  for (const f of fs.readdirSync(mg.dir).filter((n) => /^meshgate\.\d+\.log$/.test(n)).sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))) {
    for (const line of fs.readFileSync(path.join(mg.dir, f), 'utf8').split('\n')) {
      if (!line.includes('"root-rotation"')) continue;
      try {
        const j = JSON.parse(line) as { component?: string; phase?: string };
        if (j.component === 'root-rotation' && j.phase) out.push(j.phase);
      } catch {
        /* partial line */
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// A slow proxy: a TCP relay between one Envoy and meshgate's xDS port that delivers what
// meshgate sends `lagMs` late (in order). While it lags, that Envoy applies each push later
// than the others, as a busy or far-away proxy would: during a root rotation the mesh then
// really is mixed (some proxies in the next phase, this one still in the previous), and new
// connections between them must keep working. A rotation that skipped a step fails here.

class LaggyRelay {
  lagMs = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly targetPort: () => number,
  ) {}

  static async start(targetPort: () => number): Promise<LaggyRelay> {
    const server = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
    const relay = new LaggyRelay(server, port, targetPort);
    server.on('connection', (down) => relay.relay(down));
    return relay;
  }

  private relay(down: net.Socket): void {
    const up = net.connect({ host: '127.0.0.1', port: this.targetPort() });
    for (const s of [down, up]) {
      this.sockets.add(s);
      s.on('close', () => {
        this.sockets.delete(s);
        down.destroy();
        up.destroy();
      });
      s.on('error', () => undefined);
    }
    down.pipe(up);
    // meshgate → Envoy: each chunk is written at max(arrival + lag, previous chunk's time).
    const queue: Array<{ at: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | null = null;
    const pump = (): void => {
      timer = null;
      while (queue.length && queue[0]!.at <= Date.now()) down.write(queue.shift()!.chunk);
      if (queue.length) timer = setTimeout(pump, queue[0]!.at - Date.now());
    };
    up.on('data', (chunk: Buffer) => {
      const at = Math.max(Date.now() + this.lagMs, queue.at(-1)?.at ?? 0);
      queue.push({ at, chunk });
      if (!timer) pump();
    });
    up.on('close', () => timer && clearTimeout(timer));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// The mesh: users and orders behind sidecars, the gateway edge. orders may be called by the
// gateway only; users by the gateway and orders.

const INSTANCES = [
  { id: 'users-a', service: 'users' },
  { id: 'orders-a', service: 'orders' },
] as const;
type InstanceId = (typeof INSTANCES)[number]['id'];

interface InstancePorts {
  port: number;
  app: number;
  outbound: number;
  admin: number;
}

interface Ports {
  gatewayListener: number;
  gatewayAdmin: number;
  instances: Record<InstanceId, InstancePorts>;
}

function meshModel(p: Ports): string {
  const inst = (id: InstanceId): string => {
    const q = p.instances[id];
    return `      - { id: ${id}, address: 127.0.0.1, port: ${q.port}, app: "127.0.0.1:${q.app}", outboundPort: ${q.outbound}, adminPort: ${q.admin} }`;
  };
  return `# generated by test/e2e/security-ops.e2e.test.ts
version: 1
mesh:
  trustDomain: ${TD}
  mtls: strict
services:
  users:
    instances:
${inst('users-a')}
    allow:
      - gateways: [${GATEWAY}]
      - services: [orders]
  orders:
    instances:
${inst('orders-a')}
    allow:
      - gateways: [${GATEWAY}]
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

interface Mesh {
  ports: Ports;
  /** Replaced by a restart. */
  mg: MeshgateProcess;
  gateway: EnvoyProcess;
  sidecars: Record<InstanceId, EnvoyProcess>;
  envoys: EnvoyProcess[];
  /** users-a's Envoy reaches meshgate through this relay. */
  usersRelay: LaggyRelay;
  gw(p: string): string;
  out(inst: InstanceId, p: string): string;
  /** The identity each Envoy holds. */
  identityOf(e: EnvoyProcess): string;
  stop(): Promise<void>;
}

async function startMesh(): Promise<Mesh> {
  const free = await freePorts(2 + 4 * INSTANCES.length);
  const ports: Ports = {
    gatewayListener: free[0]!,
    gatewayAdmin: free[1]!,
    instances: Object.fromEntries(INSTANCES.map((inst, i) => [inst.id, { port: free[2 + 4 * i]!, app: free[3 + 4 * i]!, outbound: free[4 + 4 * i]!, admin: free[5 + 4 * i]! }])) as Record<
      InstanceId,
      InstancePorts
    >,
  };
  const closers: Array<() => Promise<void>> = [];
  const envoys: EnvoyProcess[] = [];
  const holder: { mg?: MeshgateProcess; relay?: LaggyRelay } = {};
  const stop = async (): Promise<void> => {
    await Promise.all(envoys.map((e) => e.stop()));
    await holder.relay?.close();
    await holder.mg?.kill('SIGTERM');
    await Promise.all(closers.map((c) => c()));
  };
  try {
    for (const inst of INSTANCES) {
      const q = ports.instances[inst.id];
      const server = await startDemoApp({ service: inst.service, instance: inst.id, version: 'v1', host: '127.0.0.1', port: q.app, outboundPort: q.outbound });
      // The app's own refusal (not the sidecar's): any path containing /app-403 answers 403.
      const demo = server.listeners('request')[0] as (req: http.IncomingMessage, res: http.ServerResponse) => void;
      server.removeAllListeners('request');
      server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
        if (req.url?.includes('/app-403')) res.writeHead(403, { 'content-type': 'text/plain' }).end('refused by the app\n');
        else demo(req, res);
      });
      closers.push(() => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())));
    }
    const mg = await startMeshgateModel({ model: meshModel(ports) });
    holder.mg = mg;
    // Through the relay: the port of the meshgate running now (restarts keep the port anyway).
    const relay = await LaggyRelay.start(() => holder.mg!.xdsPort);
    holder.relay = relay;
    const tokens = NodeTokens.load(mg.stateDir);
    const identities = new Map<string, string>();
    const start = async (nodeId: string, cluster: string, adminPort: number, identity: string): Promise<EnvoyProcess> => {
      const bootstrap = envoyBootstrap({
        nodeId,
        nodeCluster: cluster,
        xdsHost: '127.0.0.1',
        xdsPort: nodeId === 'users-a' ? relay.port : mg.xdsPort,
        adminHost: '127.0.0.1',
        adminPort,
        variant: 'sotw',
        metadata: { 'meshgate.token': tokens.issue(identity, 3_600_000) },
      });
      const e = await startEnvoy({ nodeId, cluster, xdsPort: mg.xdsPort, variant: 'sotw', bootstrap, readyTimeoutMs: 30_000 });
      envoys.push(e);
      identities.set(nodeId, identity);
      return e;
    };
    const [gateway, ...side] = await Promise.all([
      start(GATEWAY, GATEWAY, ports.gatewayAdmin, gwId(GATEWAY)),
      ...INSTANCES.map((i) => start(i.id, i.service, ports.instances[i.id].admin, svcId(i.service))),
    ]);
    const mesh: Mesh = {
      ports,
      get mg() {
        return holder.mg!;
      },
      set mg(v: MeshgateProcess) {
        holder.mg = v;
      },
      gateway: gateway!,
      sidecars: Object.fromEntries(INSTANCES.map((i, k) => [i.id, side[k]!])) as Record<InstanceId, EnvoyProcess>,
      envoys,
      usersRelay: relay,
      gw: (p) => `http://127.0.0.1:${ports.gatewayListener}${p}`,
      out: (inst, p) => `http://127.0.0.1:${ports.instances[inst].outbound}${p}`,
      identityOf: (e) => identities.get(e.nodeId)!,
      stop,
    };
    await converged(mesh);
    return mesh;
  } catch (err) {
    await stop();
    throw err;
  }
}

async function converged(m: Mesh): Promise<void> {
  await Promise.all(m.envoys.map((e) => m.mg.waitConverged(e.nodeId, XDS_TYPES, 20_000)));
}

// ---------------------------------------------------------------------------------------------
// Continuous traffic: each flow is a loop of requests whose answer must be 200 from the
// expected instance with the expected verified caller; anything else is a failure.

interface Flow {
  name: string;
  url: string;
  headers?: Record<string, string>;
  instance: string;
  caller: string;
}

interface Failure {
  flow: string;
  atMs: number;
  status: number;
  error?: string;
  body: string;
}

class Traffic {
  ok = 0;
  readonly failures: Failure[] = [];
  readonly perFlow: Record<string, number> = {};
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly agents: http.Agent[] = [];
  private readonly t0 = performance.now();
  /** Largest burst a ramp reached. */
  rampPeak = 0;

  /** keepAlive: one connection per loop, reused; otherwise a new connection per request. */
  add(flow: Flow, keepAlive: boolean): this {
    const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
    if (agent) this.agents.push(agent);
    const name = `${flow.name} (${keepAlive ? 'keep-alive' : 'new connections'})`;
    this.loops.push(
      (async () => {
        while (!this.stopped) await this.one(flow, name, agent);
      })(),
    );
    return this;
  }

  /**
   * Bursts of concurrent requests on new client connections, one more each time, from `from`
   * up to `to`: while the bursts grow beyond the connections Envoy already pooled, Envoy keeps
   * opening new upstream connections, i.e. new mTLS handshakes.
   */
  ramp(flow: Flow, from: number, to: number): this {
    const name = `${flow.name} (ramp)`;
    this.loops.push(
      (async () => {
        for (let k = from; !this.stopped; k = Math.min(k + 1, to)) {
          this.rampPeak = Math.max(this.rampPeak, k);
          await Promise.all(Array.from({ length: k }, () => this.one(flow, name, undefined)));
        }
      })(),
    );
    return this;
  }

  private async one(flow: Flow, name: string, agent: http.Agent | undefined): Promise<void> {
    const r: HttpResponse = await httpRequest(flow.url, { ...(agent ? { agent } : {}), ...(flow.headers ? { headers: flow.headers } : {}), timeoutMs: 10_000 });
    let good = false;
    if (r.status === 200) {
      try {
        const e = JSON.parse(r.body) as { instance?: string; caller?: string };
        good = e.instance === flow.instance && e.caller === flow.caller;
      } catch {
        /* not an answer */
      }
    }
    if (good) {
      this.ok++;
      this.perFlow[name] = (this.perFlow[name] ?? 0) + 1;
    } else {
      this.failures.push({ flow: name, atMs: Math.round(performance.now() - this.t0), status: r.status, ...(r.error ? { error: r.error } : {}), body: r.body.slice(0, 200) });
    }
  }

  get total(): number {
    return this.ok + this.failures.length;
  }

  /** Wait until `n` more requests succeeded (or fail the wait). */
  async more(n: number, what: string, timeoutMs = 20_000): Promise<void> {
    const target = this.ok + n;
    await waitFor(() => this.ok >= target, timeoutMs, () => `${n} more successful requests (${what}); failures so far: ${JSON.stringify(this.failures.slice(0, 5))}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const a of this.agents) a.destroy();
  }
}

/** Gateway → users and orders, and orders' sidecar → users: keep-alive and new connections, plus ramps. */
function meshFlows(m: Mesh): { gwUsers: Flow; gwOrders: Flow; ordersUsers: Flow } {
  return {
    gwUsers: { name: 'gateway → users', url: m.gw('/users/rot'), instance: 'users-a', caller: gwId(GATEWAY) },
    gwOrders: { name: 'gateway → orders', url: m.gw('/orders/rot'), instance: 'orders-a', caller: gwId(GATEWAY) },
    ordersUsers: { name: 'orders sidecar → users', url: m.out('orders-a', '/rot'), headers: { host: 'users' }, instance: 'users-a', caller: svcId('orders') },
  };
}

function meshTraffic(m: Mesh, ramp: boolean): Traffic {
  const f = meshFlows(m);
  const t = new Traffic().add(f.gwUsers, true).add(f.gwUsers, true).add(f.gwUsers, false).add(f.gwOrders, true).add(f.gwOrders, false).add(f.ordersUsers, true).add(f.ordersUsers, false);
  if (ramp) addRamps(m, t);
  return t;
}

/**
 * Envoy's upstream pools keep every connection a ramp made them open (HTTP/1.1, idle timeout
 * 1 h): each ramp starts above the largest burst so far, so that it opens new ones again.
 */
let rampBase = 0;
const RAMP_SPAN = 24;

function addRamps(m: Mesh, t: Traffic): void {
  const f = meshFlows(m);
  const from = rampBase + 4;
  rampBase += RAMP_SPAN;
  t.ramp(f.gwUsers, from, rampBase).ramp(f.ordersUsers, from, rampBase);
}

/** New upstream mTLS handshakes: gateway and sidecar clusters (client side), sidecar inbound listeners (server side). */
async function handshakes(m: Mesh): Promise<{ client: number; server: number }> {
  let client = 0;
  let server = 0;
  for (const e of m.envoys) {
    const s = await e.stats('ssl\\.handshake$');
    client += sumStats(s, '.ssl.handshake', 'cluster.');
    server += sumStats(s, '.ssl.handshake', 'listener.');
  }
  return { client, server };
}

/**
 * After a rotation to `newRoot` (from `oldFp`): /status, the state dir and every Envoy agree
 * that the new root is the only one trusted and every leaf was re-issued from it.
 */
async function expectRotated(m: Mesh, o: { oldFp: string; serialsBefore: Map<string, string>; retiredBefore: string[] }): Promise<X509Certificate> {
  const stateDir = m.mg.stateDir;
  const newRoot = readCert(path.join(stateDir, 'ca.crt'));
  // The state dir: the new root and its key, the old root retired, no rotation in progress.
  const files = caFiles(stateDir);
  expect(files.filter((f) => f.startsWith('ca.next'))).toEqual([]);
  const retired = files.filter((f) => /^ca\.retired-.+\.crt$/.test(f) && !o.retiredBefore.includes(f));
  expect(retired).toHaveLength(1);
  expect(readCert(path.join(stateDir, retired[0]!)).fingerprint256).toBe(o.oldFp);
  expect(files.sort()).toEqual([...o.retiredBefore, retired[0]!, 'ca.crt', 'ca.key'].sort());
  expect(newRoot.fingerprint256).not.toBe(o.oldFp);
  const pubFromKey = createPublicKey(createPrivateKey(fs.readFileSync(path.join(stateDir, 'ca.key')))).export({ type: 'spki', format: 'der' });
  expect(Buffer.compare(pubFromKey, newRoot.publicKey.export({ type: 'spki', format: 'der' }))).toBe(0);
  expect(fs.statSync(path.join(stateDir, 'ca.key')).mode & 0o077).toBe(0);

  // /status: one root, the new one; every identity re-issued.
  const sec = await security(m.mg);
  expect(sec.ca.roots.map((r) => r.fingerprint)).toEqual([newRoot.fingerprint256]);
  expect(sec.ca.files.cert).toBe(path.join(stateDir, 'ca.crt'));
  expect(sec.rootRotation).toMatchObject({ phase: 'done', newRoot: newRoot.fingerprint256 });
  expect(sec.identities.map((i) => i.group).sort()).toEqual([...o.serialsBefore.keys()].sort());
  for (const i of sec.identities) expect(normSerial(i.serial), `${i.group} serial`).not.toBe(o.serialsBefore.get(i.group));

  // Every Envoy: its leaf chains to the new root and is the one /status names; it trusts the new root only.
  for (const e of m.envoys) {
    const identity = m.identityOf(e);
    const serial = normSerial(sec.identities.find((i) => i.identity === identity)!.serial);
    const secrets = await dumpedSecrets(e);
    expect(secrets.warming, `${e.nodeId} warming secrets`).toBe(0);
    const leaf = secrets.chain[0]!;
    expect(leaf.subjectAltName, e.nodeId).toBe(`URI:${identity}`);
    expect(leaf.checkIssued(newRoot) && leaf.verify(newRoot.publicKey), `${e.nodeId} leaf issued by the new root`).toBe(true);
    expect(normSerial(leaf.serialNumber)).toBe(serial);
    expect(secrets.bundle.map((c) => c.fingerprint256), `${e.nodeId} trust bundle`).toEqual([newRoot.fingerprint256]);
    // /certs lists every TLS context alive; contexts of connections opened before the rotation
    // may outlive it briefly, so wait (generously) for the steady state.
    await waitFor(
      async () => {
        const held = await heldCerts(e);
        return held.leaves.length === 1 && normSerial(held.leaves[0]!.serial_number) === serial && held.cas.length === 1 && normSerial(held.cas[0]!.serial_number) === normSerial(newRoot.serialNumber);
      },
      15_000,
      () => `${e.nodeId} /certs to hold only its new leaf ${serial} and the new root ${normSerial(newRoot.serialNumber)}`,
    );
  }
  return newRoot;
}

function serialsOf(sec: SecurityStatus): Map<string, string> {
  return new Map(sec.identities.map((i) => [i.group, normSerial(i.serial)]));
}

/** Phases printed by `meshgate ca rotate` ("phase: message" lines). */
function printedPhases(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(0, l.indexOf(':')));
}

/** `phases` is `of` with some entries left out, in the same order. */
function isSubsequence(phases: string[], of: string[]): boolean {
  let i = 0;
  for (const p of phases) {
    while (i < of.length && of[i] !== p) i++;
    if (i === of.length) return false;
    i++;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

let main: Mesh | null = null;
const extraStops: Array<() => Promise<void>> = [];

async function theMesh(): Promise<Mesh> {
  main ??= await startMesh();
  await converged(main);
  return main;
}

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') keepTempDirs();
});

afterAll(async () => {
  await main?.stop();
  for (const s of extraStops) await s();
  await stopAllEnvoys();
  cleanupProcessesAndTempDirs();
});

describe('mesh security operations e2e (real Envoys, strict mTLS)', () => {
  it('meshgate_authz_denials_total counts each RBAC denial by callee and verified caller, not allowed calls; `meshgate status` shows the CA and identities', async () => {
    const m = await theMesh();
    const all0 = await m.mg.metric('meshgate_authz_denials_total');
    const series = { service: 'orders', caller: svcId('users') };
    const denied0 = await m.mg.metric('meshgate_authz_denials_total', series);
    const rbac0 = (await m.sidecars['orders-a'].stat('http.inbound.rbac.denied')) ?? 0;

    // users may not call orders: 4 calls straight into users-a's outbound port, 3 through users-a's app.
    const DENIED = 7;
    const refused = await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => httpRequest(m.out('users-a', `/denied/${i}`), { headers: { host: 'orders' } })),
      ...Array.from({ length: 3 }, (_, i) => httpRequest(`http://127.0.0.1:${m.ports.instances['users-a'].app}/call/orders/denied-app/${i}`)),
    ]);
    expect(refused.map((r) => r.status)).toEqual(Array(DENIED).fill(403));
    // Allowed calls, some to the same callee: gateway → orders, gateway → users, orders → users.
    const allowed = await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => httpRequest(m.gw(`/orders/ok/${i}`))),
      ...Array.from({ length: 3 }, (_, i) => httpRequest(m.gw(`/users/ok/${i}`))),
      ...Array.from({ length: 5 }, (_, i) => httpRequest(m.out('orders-a', `/ok/${i}`), { headers: { host: 'users' } })),
    ]);
    expect(allowed.map((r) => r.status)).toEqual(Array(13).fill(200));
    // 403s the apps answer themselves reach meshgate in the same access logs: not RBAC denials, not counted.
    const appRefused = await Promise.all([
      ...Array.from({ length: 3 }, (_, i) => httpRequest(m.gw(`/orders/app-403/${i}`))),
      ...Array.from({ length: 3 }, (_, i) => httpRequest(m.out('orders-a', `/app-403/${i}`), { headers: { host: 'users' } })),
    ]);
    expect(appRefused.map((r) => [r.status, r.body])).toEqual(Array(6).fill([403, 'refused by the app\n']));
    await waitFor(async () => ((await m.sidecars['orders-a'].stat('http.inbound.rbac.denied')) ?? 0) === rbac0 + DENIED, 5000, 'orders-a rbac.denied +7');

    // Envoy flushes gRPC access logs every second: wait for the count, then a while longer for any excess.
    await waitFor(async () => (await m.mg.metric('meshgate_authz_denials_total', series)) >= denied0 + DENIED, 20_000, () => `meshgate_authz_denials_total{service="orders",caller="${svcId('users')}"} to reach ${denied0 + DENIED}\n${m.mg.logTail()}`);
    await sleep(3000);
    const metrics = await m.mg.metrics();
    expect(await m.mg.metric('meshgate_authz_denials_total', series)).toBe(denied0 + DENIED);
    // Nothing else was counted (no other series moved): the exact series name and labels.
    expect((await m.mg.metric('meshgate_authz_denials_total')) - all0).toBe(DENIED);
    expect(metrics.get(`meshgate_authz_denials_total{service="orders",caller="${svcId('users')}"}`)).toBe(denied0 + DENIED);
    expect(await m.mg.metric('meshgate_authz_denials_total', { caller: gwId(GATEWAY) })).toBe(0);
    expect(await m.mg.metric('meshgate_authz_denials_total', { service: 'users' })).toBe(0);

    // `meshgate status`: proxies SYNCED, the CA with one trusted root, the identity table.
    const sec = await security(m.mg);
    const cli = await meshgateCli(['status', '--admin', `127.0.0.1:${m.mg.adminPort}`]);
    expect(cli.code, cli.stderr).toBe(0);
    const lines = cli.stdout.split('\n');
    for (const e of m.envoys) {
      const row = lines.find((l) => l.startsWith(`${e.nodeId} `));
      expect(row, `status row for ${e.nodeId}\n${cli.stdout}`).toBeDefined();
      expect(row!.trim().split(/\s+/).slice(-5)).toEqual(['SYNCED', 'SYNCED', 'SYNCED', 'SYNCED', 'SYNCED']);
    }
    expect(lines).toContain(`CA: ${sec.ca.subject} (until ${sec.ca.notAfter}); trusted roots: 1`);
    const head = lines.findIndex((l) => /^GROUP\s+IDENTITY\s+SERIAL\s+EXPIRES\s+NEXT ROTATION$/.test(l));
    expect(head, cli.stdout).toBeGreaterThan(0);
    const table = lines.slice(head + 1).filter(Boolean).map((l) => l.split(/\s+/));
    expect(table.map((r) => [r[0], r[1]]).sort()).toEqual(sec.identities.map((i) => [i.group, i.identity]).sort());
    for (const i of sec.identities) {
      expect(table.find((r) => r[0] === i.group)).toEqual([i.group, i.identity, i.serial.slice(0, 16), i.notAfter, i.nextRotation]);
    }
    expect(table.map((r) => r[1]).sort()).toEqual([gwId(GATEWAY), svcId('orders'), svcId('users')]);
  }, 60_000);

  it('`meshgate ca rotate` under continuous traffic: zero failed requests, every leaf re-issued from the new root, old root dropped and retired; twice', async () => {
    const m = await theMesh();
    const firstFp = (await security(m.mg)).ca.roots[0]!.fingerprint;
    const roots: string[] = [firstFp];
    for (const round of [1, 2]) {
      const sec0 = await security(m.mg);
      expect(sec0.ca.roots).toHaveLength(1);
      const oldFp = sec0.ca.roots[0]!.fingerprint;
      expect(readCert(path.join(m.mg.stateDir, 'ca.crt')).fingerprint256).toBe(oldFp);
      const serialsBefore = serialsOf(sec0);
      const retiredBefore = caFiles(m.mg.stateDir).filter((f) => f.startsWith('ca.retired-'));
      const phasesLogged0 = loggedPhases(m.mg).length;

      const traffic = meshTraffic(m, false);
      let rotationMs = 0;
      // /status polled every 20 ms: the phases meshgate goes through with the roots it trusts in
      // each, and the handshake counters when the rotation is seen to start and to finish.
      const seen: Array<{ phase: string; roots: string[] }> = [];
      let hsStart: { client: number; server: number } | undefined;
      let hsDone: { client: number; server: number } | undefined;
      let watching = true;
      let cli: CliResult = { code: -1, stdout: '', stderr: '' };
      const startedBefore = sec0.rootRotation?.startedAt ?? null;
      const watcher = (async () => {
        while (watching && !hsDone) {
          const s = await security(m.mg).catch(() => null);
          const r = s?.rootRotation;
          if (!hsStart && r?.startedAt && r.startedAt !== startedBefore) {
            hsStart = await handshakes(m);
            // New connections from now on, while the roots and leaves change.
            addRamps(m, traffic);
          }
          if (hsStart && r && seen.at(-1)?.phase !== r.phase) seen.push({ phase: r.phase, roots: s.ca.roots.map((x) => x.fingerprint) });
          if (hsStart && r?.finishedAt) hsDone = await handshakes(m);
          await sleep(20);
        }
      })();
      try {
        await traffic.more(100, 'before the rotation');
        // users-a applies every push LAG_MS after the others: each phase really is mixed for a while.
        m.usersRelay.lagMs = LAG_MS;
        const t = performance.now();
        cli = await meshgateCli(['ca', 'rotate', '--admin', `127.0.0.1:${m.mg.adminPort}`]);
        rotationMs = performance.now() - t;
        m.usersRelay.lagMs = 0;
        // Keep going after the old root is dropped: connections opened now use new leaves only.
        await traffic.more(300, 'after the rotation');
      } finally {
        m.usersRelay.lagMs = 0;
        watching = false;
        await watcher;
        await traffic.stop();
      }
      const hs = { client: (hsDone?.client ?? NaN) - (hsStart?.client ?? NaN), server: (hsDone?.server ?? NaN) - (hsStart?.server ?? NaN) };
      const phasesLogged = loggedPhases(m.mg).slice(phasesLogged0);
      const rot = (await security(m.mg)).rootRotation;
      const inMeshgateMs = rot?.startedAt && rot.finishedAt ? Date.parse(rot.finishedAt) - Date.parse(rot.startedAt) : NaN;
      console.log(
        `[security-ops e2e] root rotation #${round}: \`meshgate ca rotate\` took ${rotationMs.toFixed(0)} ms (exit ${cli.code}; ${inMeshgateMs} ms in meshgate, startedAt → finishedAt); ${traffic.total} requests, ${traffic.failures.length} failed; ` +
          `new upstream mTLS handshakes while meshgate rotated: ${hs.client} client side, ${hs.server} server side (ramps up to ${traffic.rampPeak} concurrent); ` +
          `printed phases: ${printedPhases(cli.stdout).join(' → ')}; logged phases: ${phasesLogged.join(' → ')}; per flow ${JSON.stringify(traffic.perFlow)}`,
      );
      expect(cli.code, `${cli.stdout}\n${cli.stderr}`).toBe(0);
      expect(traffic.failures, 'failed requests during the root rotation').toEqual([]);
      // The command prints the phases it saw, in order, ending with done; meshgate went through all of them.
      const printed = printedPhases(cli.stdout);
      expect(printed.at(-1)).toBe('done');
      expect(isSubsequence(printed, PHASES), cli.stdout).toBe(true);
      expect(cli.stdout).toMatch(/^done: root rotation complete$/m);
      expect(phasesLogged).toEqual(PHASES);
      // Each phase lasted at least LAG_MS (users-a's ACKs): /status showed every one, with its roots.
      const newFp = readCert(path.join(m.mg.stateDir, 'ca.crt')).fingerprint256;
      expect(seen).toEqual([
        { phase: 'trusting-both', roots: [oldFp, newFp] },
        { phase: 'reissuing', roots: [newFp, oldFp] },
        { phase: 'dropping-old-root', roots: [newFp] },
        { phase: 'done', roots: [newFp] },
      ]);
      // Every flow kept working, and Envoy did open new mTLS connections while the roots changed.
      for (const f of Object.keys(traffic.perFlow)) expect(traffic.perFlow[f], f).toBeGreaterThan(0);
      // Three flows × (keep-alive, new connections) and two ramps (the two keep-alive gateway → users loops share a name).
      expect(Object.keys(traffic.perFlow)).toHaveLength(8);
      expect(hs.client, 'new client-side mTLS handshakes while the rotation ran').toBeGreaterThan(0);
      expect(hs.server, 'new server-side mTLS handshakes while the rotation ran').toBeGreaterThan(0);

      const newRoot = await expectRotated(m, { oldFp, serialsBefore, retiredBefore });
      expect(roots).not.toContain(newRoot.fingerprint256);
      roots.push(newRoot.fingerprint256);
      // Traffic after the rotation, on fresh connections and through the same Envoys.
      expect(JSON.parse((await httpRequest(m.gw('/users/after'))).body)).toMatchObject({ instance: 'users-a', caller: gwId(GATEWAY) });
      expect(JSON.parse((await httpRequest(m.out('orders-a', '/after'), { headers: { host: 'users' } })).body)).toMatchObject({ instance: 'users-a', caller: svcId('orders') });
    }
    // Two rotations: three distinct roots, the first two retired.
    const retired = caFiles(m.mg.stateDir).filter((f) => f.startsWith('ca.retired-'));
    expect(retired.map((f) => readCert(path.join(m.mg.stateDir, f)).fingerprint256).sort()).toEqual(roots.slice(0, 2).sort());
  }, 80_000);

  it('an interrupted rotation (meshgate SIGKILLed after POST /ca/rotate) is resumed at restart trusting both roots, traffic never fails, and `meshgate ca rotate` finishes it', async () => {
    const m = await theMesh();
    const stateDir = m.mg.stateDir;
    const sec0 = await security(m.mg);
    const oldFp = sec0.ca.roots[0]!.fingerprint;
    const retiredBefore = caFiles(stateDir).filter((f) => f.startsWith('ca.retired-'));
    const traffic = meshTraffic(m, true);
    let nextFp = '';
    let finish: CliResult = { code: -1, stdout: '', stderr: '' };
    let restartedAt = 0;
    try {
      await traffic.more(100, 'before the rotation');
      const res = await fetch(`http://127.0.0.1:${m.mg.adminPort}/ca/rotate`, { method: 'POST' });
      const body = (await res.json()) as { rotation: { phase: string; newRoot: string } };
      const killed = await m.mg.kill('SIGKILL');
      expect(res.status).toBe(202);
      expect(body.rotation.phase).toBe('trusting-both');
      expect(killed.signal).toBe('SIGKILL');
      // Killed mid-rotation: the new root is on disk next to the old one, nothing was persisted yet.
      expect(caFiles(stateDir)).toEqual([...retiredBefore, 'ca.crt', 'ca.key', 'ca.next.crt', 'ca.next.key'].sort());
      nextFp = readCert(path.join(stateDir, 'ca.next.crt')).fingerprint256;
      expect(nextFp).toBe(body.rotation.newRoot);
      expect(readCert(path.join(stateDir, 'ca.crt')).fingerprint256).toBe(oldFp);

      // meshgate is down: the Envoys keep serving with what they have.
      await traffic.more(100, 'while meshgate is down');
      restartedAt = traffic.total;
      m.mg = await m.mg.restart();
      const sec = await security(m.mg);
      expect(sec.rootRotation).toMatchObject({ phase: 'trusting-both', newRoot: nextFp });
      expect(sec.rootRotation!.message).toMatch(/interrupted root rotation/);
      expect(sec.rootRotation!.message).toMatch(/meshgate ca rotate/);
      expect(sec.ca.roots.map((r) => r.fingerprint)).toEqual([oldFp, nextFp]);
      const statusCli = await meshgateCli(['status', '--admin', `127.0.0.1:${m.mg.adminPort}`]);
      expect(statusCli.stdout).toMatch(/trusted roots: 2/);
      expect(statusCli.stdout).toMatch(/^root rotation: trusting-both: an interrupted root rotation was found/m);

      // Every Envoy reconnects, gets its secrets again and trusts both roots; leaves still from the old root.
      await converged(m);
      const oldRoot = readCert(path.join(stateDir, 'ca.crt'));
      for (const e of m.envoys) {
        const s = await waitFor(async () => {
          const d = await dumpedSecrets(e);
          return d.bundle.length === 2 ? d : undefined;
        }, 15_000, `${e.nodeId} to trust both roots`);
        expect(s.bundle.map((c) => c.fingerprint256).sort(), e.nodeId).toEqual([oldFp, nextFp].sort());
        expect(s.chain[0]!.checkIssued(oldRoot) && s.chain[0]!.verify(oldRoot.publicKey), `${e.nodeId} leaf from the old root`).toBe(true);
      }
      await traffic.more(200, 'after the restart');

      // Certificates are issued when a proxy connects: read them once every Envoy has its secrets.
      const serialsBefore = serialsOf(await security(m.mg));
      m.usersRelay.lagMs = LAG_MS;
      finish = await meshgateCli(['ca', 'rotate', '--admin', `127.0.0.1:${m.mg.adminPort}`]);
      m.usersRelay.lagMs = 0;
      expect(finish.code, `${finish.stdout}\n${finish.stderr}`).toBe(0);
      expect(finish.stdout).toMatch(/^done: root rotation complete$/m);
      await traffic.more(300, 'after the finished rotation');
      // The rotation finished with the root it had started, not a third one.
      const newRoot = await expectRotated(m, { oldFp, serialsBefore, retiredBefore });
      expect(newRoot.fingerprint256).toBe(nextFp);
    } finally {
      m.usersRelay.lagMs = 0;
      await traffic.stop();
    }
    console.log(
      `[security-ops e2e] interrupted rotation: ${traffic.total} requests (${restartedAt} before meshgate restarted), ${traffic.failures.length} failed; finishing printed: ${printedPhases(finish.stdout).join(' → ')}`,
    );
    expect(traffic.failures, 'failed requests across the kill, the restart and the finished rotation').toEqual([]);
  }, 80_000);
});

// ---------------------------------------------------------------------------------------------
// xDS over TLS.

describe('xDS over TLS (serve --xds-tls, bootstrap --xds-tls)', () => {
  it('a bootstrap pinning the xDS CA is configured and carries traffic; one pinning another CA, expecting another SAN, or plaintext never connects', async () => {
    const [listener, gwAdmin, apiPort, apiApp, apiOut, apiAdmin, badCa, badSan, plain] = await freePorts(9);
    const model = `# generated by test/e2e/security-ops.e2e.test.ts (xDS over TLS)
version: 1
mesh:
  trustDomain: ${TD}
  mtls: strict
services:
  api:
    instances:
      - { id: api-a, address: 127.0.0.1, port: ${apiPort}, app: "127.0.0.1:${apiApp}", outboundPort: ${apiOut}, adminPort: ${apiAdmin} }
    allow:
      - gateways: [${GATEWAY}]
gateways:
  ${GATEWAY}:
    listeners:
      - { name: public, address: 127.0.0.1, port: ${listener}, protocol: http }
    routes:
      - { match: { pathPrefix: /api }, backend: api }
`;
    const app = await startDemoApp({ service: 'api', instance: 'api-a', version: 'v1', host: '127.0.0.1', port: apiApp!, outboundPort: apiOut! });
    const envoys: EnvoyProcess[] = [];
    let mg: MeshgateProcess | undefined;
    const stop = async (): Promise<void> => {
      await Promise.all(envoys.map((e) => e.stop()));
      await mg?.kill('SIGTERM');
      await new Promise<void>((resolve) => (app.close(() => resolve()), app.closeAllConnections()));
    };
    extraStops.push(stop);
    mg = await startMeshgateModel({ model, args: ['--xds-tls'] });
    const stateDir = mg.stateDir;
    const bootstrap = async (proxy: string, adminPort: number, extra: string[], dir = stateDir): Promise<Record<string, any>> => {
      const r = await meshgateCli(['bootstrap', '-f', mg!.modelPath, '--proxy', proxy, '--xds', mg!.xdsAddress, '--admin', `127.0.0.1:${adminPort}`, '--state-dir', dir, '-o', 'json', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, any>;
    };
    const xdsCluster = (b: Record<string, any>): Record<string, any> => b['static_resources']['clusters'][0];

    // The xDS server's certificate: issued by the xDS CA in the state dir (not the mesh root), URI SAN spiffe://meshgate/xds-server.
    const xdsCa = readCert(path.join(stateDir, 'xds-ca.crt'));
    expect(xdsCa.fingerprint256).not.toBe(readCert(path.join(stateDir, 'ca.crt')).fingerprint256);
    const served = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: mg!.xdsPort, ca: xdsCa.toString(), ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }, () => {
        const p = s.getPeerCertificate();
        s.destroy();
        resolve(p);
      });
      s.once('error', reject);
    });
    expect(served.subjectaltname).toBe('URI:spiffe://meshgate/xds-server');

    // The good bootstraps pin exactly that CA and SAN.
    const good = await bootstrap(GATEWAY, gwAdmin!, ['--xds-tls']);
    const goodSide = await bootstrap('api-a', apiAdmin!, ['--xds-tls']);
    const vc = xdsCluster(good)['transport_socket']['typed_config']['common_tls_context']['validation_context'];
    expect(new X509Certificate(vc['trusted_ca']['inline_string']).fingerprint256).toBe(xdsCa.fingerprint256);
    expect(vc['match_typed_subject_alt_names']).toEqual([{ san_type: 'URI', matcher: { exact: 'spiffe://meshgate/xds-server' } }]);

    // The bad ones: another state dir's xDS CA; the right CA but another SAN; no TLS at all.
    const otherDir = makeTempDir('meshgate-ops-other-state-');
    const wrongCa = await bootstrap(GATEWAY, badCa!, ['--xds-tls', '--node-id', 'edge-wrong-ca'], otherDir);
    expect(xdsCluster(wrongCa)['transport_socket']['typed_config']['common_tls_context']['validation_context']['trusted_ca']['inline_string']).not.toBe(xdsCa.toString());
    const wrongSan = await bootstrap(GATEWAY, badSan!, ['--xds-tls', '--node-id', 'edge-wrong-san']);
    xdsCluster(wrongSan)['transport_socket']['typed_config']['common_tls_context']['validation_context']['match_typed_subject_alt_names'][0]['matcher']['exact'] = 'spiffe://meshgate/not-the-xds-server';
    const plaintext = await bootstrap(GATEWAY, plain!, ['--node-id', 'edge-plaintext']);
    expect(xdsCluster(plaintext)['transport_socket']).toBeUndefined();

    const [gw, side] = await Promise.all([
      startEnvoy({ nodeId: GATEWAY, xdsPort: mg.xdsPort, variant: 'sotw', bootstrap: good, readyTimeoutMs: 30_000 }),
      startEnvoy({ nodeId: 'api-a', xdsPort: mg.xdsPort, variant: 'sotw', bootstrap: goodSide, readyTimeoutMs: 30_000 }),
    ]);
    envoys.push(gw!, side!);
    const bad = await Promise.all(
      [
        ['edge-wrong-ca', wrongCa],
        ['edge-wrong-san', wrongSan],
        ['edge-plaintext', plaintext],
      ].map(([nodeId, b]) => startEnvoy({ nodeId: nodeId as string, xdsPort: mg!.xdsPort, variant: 'sotw', bootstrap: b as Record<string, unknown>, waitReady: false })),
    );
    envoys.push(...bad);

    // The pinned ones: configured over TLS (SYNCED everything, secrets included), and traffic flows over mTLS.
    await Promise.all([GATEWAY, 'api-a'].map((n) => mg!.waitConverged(n, XDS_TYPES, 20_000)));
    const r = await waitFor(async () => {
      const x = await httpRequest(`http://127.0.0.1:${listener}/api/over-tls`);
      return x.status === 200 ? x : undefined;
    }, 15_000, 'gateway → api over the xDS-over-TLS mesh');
    expect(JSON.parse(r.body)).toMatchObject({ instance: 'api-a', path: '/api/over-tls', caller: gwId(GATEWAY) });
    for (const e of [gw!, side!]) {
      expect(await e.stat('control_plane.connected_state'), e.nodeId).toBe(1);
      expect(await e.stat('cluster.meshgate_xds.ssl.handshake'), `${e.nodeId} reached meshgate over TLS`).toBeGreaterThan(0);
    }
    const statusCli = await meshgateCli(['status', '--admin', `127.0.0.1:${mg.adminPort}`]);
    for (const n of [GATEWAY, 'api-a']) {
      expect(statusCli.stdout.split('\n').find((l) => l.startsWith(`${n} `))?.trim().split(/\s+/).slice(-5), statusCli.stdout).toEqual(Array(5).fill('SYNCED'));
    }

    // The others: each has tried (and retried) to connect, and never got anywhere.
    await Promise.all(
      bad.map((e) => waitFor(async () => ((await e.stat('cluster.meshgate_xds.upstream_cx_total')) ?? 0) >= 3, 30_000, `${e.nodeId} to retry connecting to meshgate`)),
    );
    const [eCa, eSan, ePlain] = bad as [EnvoyProcess, EnvoyProcess, EnvoyProcess];
    expect(await eCa.stat('cluster.meshgate_xds.ssl.fail_verify_error')).toBeGreaterThan(0);
    expect(await eSan.stat('cluster.meshgate_xds.ssl.fail_verify_san')).toBeGreaterThan(0);
    expect((await ePlain.stat('cluster.meshgate_xds.ssl.handshake')) ?? 0).toBe(0);
    const proxies = (await mg.status()).proxies.map((p) => p.nodeId).sort();
    expect(proxies).toEqual(['api-a', GATEWAY].sort());
    for (const e of bad) {
      // Not control_plane.connected_state: Envoy sets it to 1 as each stream attempt starts,
      // before the TLS handshake fails, so a single sample can catch a retry in flight. What
      // counts is that the proxy never got a stream (above), a config or a listener.
      expect((await e.ready()).status, e.nodeId).not.toBe(200);
      expect(await e.listeners(), e.nodeId).toEqual([]);
      expect((await e.stat('cluster_manager.cds.update_success')) ?? 0, e.nodeId).toBe(0);
    }
    await stop();
  }, 70_000);
});
