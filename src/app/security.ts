// Mesh security at the composition layer: the CA, the workload certificates served over SDS,
// and proxy identity proofs. Translation stays pure: the IR names each proxy's identity and
// the listeners and clusters refer to secrets by name; this module supplies the secrets.
import type { Logger } from 'pino';
import client from 'prom-client';
import { randomBytes } from 'node:crypto';
import { type CaFiles, ephemeralCa, loadOrCreateCa, type LoadedCa } from '../ca/authority.js';
import { NodeTokens, TOKEN_METADATA_KEY } from '../ca/node-token.js';
import { type WorkloadCert, WorkloadCertificates } from '../ca/workload-certs.js';
import type { ProxyIR } from '../ir/types.js';
import { IDENTITY_SECRET } from '../translate/common.js';
import { identitySecretBytes, trustBundleSecret } from '../translate/secret.js';
import type { NodeInfo } from '../xds/cache.js';
import { type Resource, resourceFromBytes, resourceFromJson } from '../xds/resource.js';
import { TYPE } from '../xds/type-urls.js';

export interface SecurityOptions {
  /** Where the CA and the token key live; null keeps everything in memory (render, tests). */
  stateDir: string | null;
  /** A CA the user provides (root or intermediate, with its chain). */
  ca?: CaFiles;
  log: Logger;
  now?: () => number;
}

/** The trust-bundle Secret of one set of trusted roots. */
interface TrustBundle {
  /** The root objects it was last checked against (the CA's, then extraRoots). */
  roots: readonly LoadedCa['root'][];
  /** Their fingerprints. */
  key: string;
  resource: Resource;
}

export interface IdentityStatus {
  group: string;
  identity: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  nextRotation: string;
}

export class MeshSecurity {
  /** The signing CA. Replaced by a root rotation. */
  ca: LoadedCa;
  /** Where the CA lives (null: in memory, or a CA the user provides and rotates). */
  readonly stateDir: string | null;
  readonly userProvidedCa: boolean;
  readonly certs: WorkloadCertificates;
  readonly tokens: NodeTokens;
  /** Group → identity, from the last applied model. */
  private identities = new Map<string, string>();
  private ttlMs = 86_400_000;
  private readonly log: Logger;
  private readonly issuedCounter: client.Counter;
  private readonly rotationCounter: client.Counter;
  private readonly rejectedClaims: client.Counter<'reason'>;
  private readonly metricList: client.Metric[];
  /** Roots still trusted besides the CA's own (during a root rotation). */
  extraRoots: LoadedCa['root'][] = [];

  constructor(opts: SecurityOptions) {
    this.log = opts.log.child({ component: 'security' });
    this.stateDir = opts.stateDir;
    this.userProvidedCa = !!opts.ca;
    this.ca = opts.stateDir === null && !opts.ca ? ephemeralCa() : loadOrCreateCa(opts.stateDir ?? '.', opts.ca);
    this.log.info(
      { ca: this.ca.files.cert, created: this.ca.created, subject: this.ca.chain[0]!.subject.replace(/\n/g, ', '), notAfter: this.ca.chain[0]!.validTo },
      this.ca.created ? 'created a new root CA' : 'loaded the CA',
    );
    this.tokens = opts.stateDir === null ? new NodeTokens(randomBytes(32)) : NodeTokens.load(opts.stateDir);
    this.certs = new WorkloadCertificates(this.ca, { ttlMs: this.ttlMs, ...(opts.now ? { now: opts.now } : {}) });
    this.issuedCounter = new client.Counter({ name: 'meshgate_certificates_issued_total', help: 'Workload certificates issued.', registers: [] });
    this.rotationCounter = new client.Counter({ name: 'meshgate_certificate_rotations_total', help: 'Workload certificates renewed before expiry.', registers: [] });
    this.rejectedClaims = new client.Counter({
      name: 'meshgate_identity_rejections_total',
      help: 'Proxies refused an identity\'s secrets because they could not prove that identity.',
      labelNames: ['reason'],
      registers: [],
    });
    this.metricList = [this.issuedCounter, this.rotationCounter, this.rejectedClaims];
  }

  /** Expose this module's counters on the app's registry. */
  registerMetrics(registry: client.Registry): void {
    for (const m of this.metricList) registry.registerMetric(m);
  }

  /** Sign from now on with `ca` (root rotation); certificates already issued stay valid. */
  setAuthority(ca: LoadedCa): void {
    this.ca = ca;
    this.certs.setAuthority(ca);
  }

  setTtl(ttlMs: number): void {
    if (ttlMs !== this.ttlMs) {
      this.ttlMs = ttlMs;
      this.certs.setTtl(ttlMs);
    }
  }

  /** Encoded secrets per group, reused while the certificate and the bundle are unchanged. */
  private readonly encoded = new Map<string, { cert: WorkloadCert; bundle: TrustBundle; resources: Resource[] }>();
  private bundleCache: TrustBundle | null = null;

  /**
   * The SDS secrets of one proxy: its certificate and key, and the trust bundle. The same array
   * while the certificate and the trusted roots are the same (a snapshot takes the type over
   * by that identity), at the cost of a few lookups: every reload asks for every live sidecar.
   */
  secretsFor(p: ProxyIR): Resource[] {
    if (!p.identity) return [];
    if (this.identities.get(p.group) !== p.identity) this.identities.set(p.group, p.identity);
    const issued = this.certs.issued;
    const rotations = this.certs.rotations;
    const cert = this.certs.get(p.group, p.identity);
    if (this.certs.issued !== issued || this.certs.rotations !== rotations) this.count({ issued, rotations });
    const bundle = this.bundle();
    const hit = this.encoded.get(p.group);
    if (hit && hit.cert === cert && hit.bundle === bundle) return hit.resources;
    // Only the roots changed (a root rotation): the certificate's secret is the one encoded already.
    const identity = hit && hit.cert === cert ? hit.resources[0]! : resourceFromBytes(TYPE.SECRET, IDENTITY_SECRET, identitySecretBytes(cert.chainPem, cert.keyPem));
    const resources = [identity, bundle.resource];
    this.encoded.set(p.group, { cert, bundle, resources });
    return resources;
  }

  /** The trust-bundle Secret, encoded once per set of trusted roots (the CA's root and extraRoots). */
  private bundle(): TrustBundle {
    const b = this.bundleCache;
    if (b && b.roots[0] === this.ca.root && b.roots.length === this.extraRoots.length + 1) {
      let same = true;
      for (let i = 0; i < this.extraRoots.length; i++) same &&= b.roots[i + 1] === this.extraRoots[i];
      if (same) return b;
    }
    const roots = [this.ca.root, ...this.extraRoots];
    const key = roots.map((r) => r.fingerprint256).join(',');
    if (b?.key === key) {
      // Other objects for the same roots (a CA loaded again): the same bundle, and secrets.
      b.roots = roots;
      return b;
    }
    this.bundleCache = { roots, key, resource: resourceFromJson(TYPE.SECRET, trustBundleSecret(this.certs.trustBundlePem(this.extraRoots))) };
    return this.bundleCache;
  }

  /**
   * Issue a group's certificate ahead of its first connection (idle-time warm-up). Returns
   * false if it already had a current one.
   */
  prepare(group: string, identity: string): boolean {
    if (this.certs.has(group, identity)) return false;
    const before = { issued: this.certs.issued, rotations: this.certs.rotations };
    this.certs.get(group, identity);
    this.count(before);
    return true;
  }

  /** Groups whose proxies hold an identity. */
  groupsWithIdentity(): Set<string> {
    return new Set(this.identities.keys());
  }

  /** Forget identities of proxies that are gone from the model. */
  retain(groups: { has(group: string): boolean }): void {
    this.certs.retain(groups);
    for (const g of [...this.identities.keys()]) if (!groups.has(g)) this.identities.delete(g);
    for (const g of [...this.encoded.keys()]) if (!groups.has(g)) this.encoded.delete(g);
  }

  private count(before: { issued: number; rotations: number }): void {
    const issued = this.certs.issued - before.issued;
    const rotated = this.certs.rotations - before.rotations;
    if (issued > 0) this.issuedCounter.inc(issued);
    if (rotated > 0) this.rotationCounter.inc(rotated);
  }

  /** Renew every certificate that is due; returns the groups whose secrets changed. */
  renewDue(): string[] {
    const due = this.certs.due();
    const before = { issued: this.certs.issued, rotations: this.certs.rotations };
    for (const g of due) {
      const id = this.identities.get(g);
      if (id) this.certs.get(g, id);
    }
    this.count(before);
    return due;
  }

  /** Re-issue every certificate now (root rotation). */
  reissueAll(): string[] {
    const before = { issued: this.certs.issued, rotations: this.certs.rotations };
    const groups = this.certs.list().map((c) => c.group);
    for (const g of groups) this.certs.reissue(g);
    this.count(before);
    return groups;
  }

  /**
   * May this proxy receive the secrets of `group`? Only if its node metadata carries a valid
   * token naming exactly the group's identity. Refusals are logged and counted.
   */
  mayReceiveSecrets(node: NodeInfo, group: string | undefined): { ok: boolean; reason: string } {
    if (group === undefined) return { ok: false, reason: 'no group' };
    const identity = this.identities.get(group);
    if (!identity) return { ok: true, reason: 'no identity (mTLS off)' };
    const check = this.tokens.verify(node.metadata[TOKEN_METADATA_KEY]);
    let reason: string | null = null;
    if (!check.ok) reason = check.reason;
    else if (check.claims.sub !== identity) reason = `token is for ${check.claims.sub}, not ${identity}`;
    if (reason === null) return { ok: true, reason: 'token verified' };
    this.rejectedClaims.inc({ reason: check.ok ? 'wrong_identity' : reason.startsWith('token expired') ? 'expired' : reason.startsWith('no token') ? 'missing' : 'invalid' });
    this.log.warn({ node: node.id, cluster: node.cluster, claimed: identity, reason }, 'refused to send an identity\'s secrets to a proxy that did not prove it');
    return { ok: false, reason };
  }

  identityStatus(): IdentityStatus[] {
    return this.certs.list().map((c) => ({
      group: c.group,
      identity: c.identity,
      serial: c.serial,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      nextRotation: c.rotateAt.toISOString(),
    }));
  }
}
