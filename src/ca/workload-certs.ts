// Workload certificates: one key and certificate per proxy group (a sidecar instance, or a
// gateway's replicas), carrying the group's SPIFFE ID. Issued on demand, checked before use
// (chain, key match, expiry), and renewed at about half of their lifetime.
import { certificateParts, generateP256Key, issueCertificate, randomSerial, signedBy } from './certificate.js';
import { pem } from './der.js';
import type { X509Certificate } from 'node:crypto';
import { CaError, type LoadedCa } from './authority.js';

export interface WorkloadCert {
  group: string;
  identity: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  rotateAt: Date;
  /** Leaf, then the intermediates up to (not including) the root. */
  chainPem: string;
  keyPem: string;
}

export interface CertOptions {
  ttlMs: number;
  /** Renew when this fraction of the lifetime has passed (default 0.5). */
  renewAt?: number;
  now?: () => number;
}

/** Backdating for clock skew between meshgate and proxies, capped for very short TTLs. */
function backdateMs(ttlMs: number): number {
  return Math.min(60_000, Math.floor(ttlMs / 10));
}

export class WorkloadCertificates {
  private readonly certs = new Map<string, WorkloadCert>();
  /**
   * The earliest rotateAt (ms) among `certs`, null when there are none, undefined when not
   * known: kept on issue, forgotten when the certificate that may hold it goes. Every applied
   * reload asks for it (scheduling the renewal timer); with 100 000 certificates a scan each
   * time was a measurable share of a small reload.
   */
  private earliest: number | null | undefined = null;
  issued = 0;
  rotations = 0;
  private readonly now: () => number;

  constructor(
    private ca: LoadedCa,
    private readonly opts: CertOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** The PEM bundle proxies trust: every root in use (two while a root rotation runs). */
  trustBundlePem(extraRoots: readonly X509Certificate[] = []): string {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const c of [this.ca.root, ...extraRoots]) {
      if (seen.has(c.fingerprint256)) continue;
      seen.add(c.fingerprint256);
      out.push(c.toString());
    }
    return out.join('');
  }

  /**
   * Lifetime of certificates issued from now on. A shorter lifetime also renews, at their next
   * use, the certificates that would outlive it: a lowered TTL takes effect at once.
   */
  setTtl(ttlMs: number): void {
    const lowered = ttlMs < this.opts.ttlMs;
    this.opts.ttlMs = ttlMs;
    if (!lowered) return;
    const now = this.now();
    for (const c of this.certs.values()) {
      if (c.notAfter.getTime() - now > ttlMs) c.rotateAt = new Date(now);
    }
    this.earliest = undefined;
  }

  get authority(): LoadedCa {
    return this.ca;
  }

  /** Switch the signing CA (root rotation); existing certificates stay until re-issued. */
  setAuthority(ca: LoadedCa): void {
    this.ca = ca;
  }

  /** The group's certificate, issuing a new one if it is missing, due, or for another identity. */
  get(group: string, identity: string): WorkloadCert {
    const cur = this.certs.get(group);
    if (cur && cur.identity === identity && cur.rotateAt.getTime() > this.now()) return cur;
    const next = this.issue(group, identity);
    if (cur) this.rotations++;
    this.put(cur, next);
    return next;
  }

  /** Whether the group holds a certificate for `identity` that is not yet due. */
  has(group: string, identity: string): boolean {
    const cur = this.certs.get(group);
    return !!cur && cur.identity === identity && cur.rotateAt.getTime() > this.now();
  }

  get size(): number {
    return this.certs.size;
  }

  /** Force a new certificate (root rotation re-issues every leaf). */
  reissue(group: string): WorkloadCert | undefined {
    const cur = this.certs.get(group);
    if (!cur) return undefined;
    const next = this.issue(group, cur.identity);
    this.rotations++;
    this.put(cur, next);
    return next;
  }

  /** Forget groups that no longer exist. */
  retain(groups: { has(group: string): boolean }): void {
    for (const [g, c] of [...this.certs]) {
      if (groups.has(g)) continue;
      this.certs.delete(g);
      this.forget(c);
    }
  }

  private put(cur: WorkloadCert | undefined, next: WorkloadCert): void {
    if (cur) this.forget(cur);
    this.certs.set(next.group, next);
    const t = next.rotateAt.getTime();
    if (this.earliest === null) this.earliest = this.certs.size === 1 ? t : undefined;
    else if (this.earliest !== undefined && t < this.earliest) this.earliest = t;
  }

  /** `c` is gone: the earliest time is not known any more if it may have been c's. */
  private forget(c: WorkloadCert): void {
    if (this.earliest !== undefined && this.earliest !== null && c.rotateAt.getTime() <= this.earliest) this.earliest = undefined;
  }

  /** When the next certificate is due, or null. */
  nextRotation(): Date | null {
    if (this.earliest === undefined) {
      let min: number | null = null;
      for (const c of this.certs.values()) {
        const t = c.rotateAt.getTime();
        if (min === null || t < min) min = t;
      }
      this.earliest = min;
    }
    return this.earliest === null ? null : new Date(this.earliest);
  }

  /** Groups whose certificate is due now. */
  due(): string[] {
    const t = this.now();
    return [...this.certs.values()].filter((c) => c.rotateAt.getTime() <= t).map((c) => c.group).sort();
  }

  list(): WorkloadCert[] {
    return [...this.certs.values()].sort((a, b) => (a.group < b.group ? -1 : 1));
  }

  private issue(group: string, identity: string): WorkloadCert {
    const now = this.now();
    // A leaf never outlives the CA that signs it; an expired CA issues nothing.
    const caEnd = Math.min(...this.ca.chain.map((c) => new Date(c.validTo).getTime()));
    if (caEnd <= now + 1000) {
      throw new CaError(`the CA certificate (${this.ca.files.cert}) expired on ${new Date(caEnd).toISOString()}: rotate the root ("meshgate ca rotate") or provide a new CA`);
    }
    const key = generateP256Key();
    const notBefore = new Date(now - backdateMs(this.opts.ttlMs));
    const notAfter = new Date(Math.min(now + this.opts.ttlMs, caEnd));
    const serial = randomSerial();
    const der = issueCertificate({ publicKey: key, notBefore, notAfter, subject: [], uris: [identity], serial }, this.ca.issuer);
    // Checked before it is ever pushed: signed by our CA, carrying our key, currently valid.
    if (!signedBy(der, this.ca.chain[0]!.publicKey)) throw new Error('bug: issued certificate does not verify');
    if (!certificateParts(der).spki.equals(key.spki)) throw new Error('bug: issued certificate does not carry its key');
    if (notBefore.getTime() > now || notAfter.getTime() <= now) throw new Error('bug: issued certificate is not currently valid');
    const life = notAfter.getTime() - now;
    const rotateAt = new Date(now + Math.max(1000, Math.floor(life * (this.opts.renewAt ?? 0.5))));
    this.issued++;
    const intermediates = this.ca.chain.slice(0, -1).map((c) => c.toString());
    return {
      group,
      identity,
      serial: serial.toString('hex'),
      notBefore,
      notAfter,
      rotateAt,
      chainPem: pem('CERTIFICATE', der) + intermediates.join(''),
      keyPem: pem('PRIVATE KEY', key.pkcs8),
    };
  }
}
