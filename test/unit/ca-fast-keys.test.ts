// The fast P-256 key path: keys built from templates must be exactly what OpenSSL expects, and
// match the certificates issued for them. Also: an expired CA issues nothing, and a provided
// intermediate must come with its root.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaError, checkCa, createRoot, ephemeralCa } from '../../src/ca/authority.js';
import { certificateParts, generateP256Key, issuerFrom, issueCertificate, signedBy } from '../../src/ca/certificate.js';
import { OID, pem } from '../../src/ca/der.js';
import { WorkloadCertificates } from '../../src/ca/workload-certs.js';

describe('fast P-256 workload keys', () => {
  it('PKCS#8 and SPKI from templates parse in Node and pass openssl pkey -check, and match the issued certificate', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-keys-'));
    try {
      for (let i = 0; i < 20; i++) {
        const k = generateP256Key();
        const priv = createPrivateKey({ key: k.pkcs8, format: 'der', type: 'pkcs8' });
        const pub = createPublicKey({ key: k.spki, format: 'der', type: 'spki' });
        expect(createPublicKey(priv).export({ type: 'spki', format: 'der' }).equals(pub.export({ type: 'spki', format: 'der' }))).toBe(true);
        if (i < 3) {
          const f = path.join(dir, `k${i}.pem`);
          fs.writeFileSync(f, pem('PRIVATE KEY', k.pkcs8));
          expect(execFileSync('openssl', ['pkey', '-in', f, '-check', '-noout'], { encoding: 'utf8' })).toMatch(/Key is valid/);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('workload certificates carry the key they are issued with, are signed by the CA, and the PEM key matches', () => {
    const ca = ephemeralCa();
    const certs = new WorkloadCertificates(ca, { ttlMs: 3_600_000 });
    const c = certs.get('g', 'spiffe://t/service/a');
    const leaf = new X509Certificate(c.chainPem);
    expect(leaf.checkPrivateKey(createPrivateKey(c.keyPem))).toBe(true);
    expect(leaf.verify(ca.root.publicKey)).toBe(true);
    expect(signedBy(leaf.raw, ca.root.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('URI:spiffe://t/service/a');
    // A certificate signed by another CA is recognised as such.
    const other = ephemeralCa();
    expect(signedBy(leaf.raw, other.root.publicKey)).toBe(false);
    expect(certificateParts(leaf.raw).spki.equals(createPublicKey(c.keyPem).export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('an expired CA issues nothing and says how to recover', () => {
    const ca = ephemeralCa();
    const later = new Date(ca.root.validTo).getTime() + 1000;
    const certs = new WorkloadCertificates(ca, { ttlMs: 3_600_000, now: () => later });
    expect(() => certs.get('g', 'spiffe://t/service/a')).toThrow(CaError);
    expect(() => certs.get('g', 'spiffe://t/service/a')).toThrow(/expired.*meshgate ca rotate/);
  });

  it('a provided intermediate without its root is refused', () => {
    const root = createRoot();
    const rootCert = new X509Certificate(root.certPem);
    const k = generateP256Key();
    const interDer = issueCertificate(
      { publicKey: k, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000), subject: [[OID.commonName, 'intermediate']], ca: { pathLen: 0 } },
      issuerFrom(rootCert, createPrivateKey(root.keyPem)),
    );
    const interPem = pem('CERTIFICATE', interDer);
    const keyPem = pem('PRIVATE KEY', k.pkcs8);
    const files = { cert: 'inter.crt', key: 'inter.key' };
    expect(() => checkCa(interPem, keyPem, files)).toThrow(/does not end with its root/);
    expect(checkCa(interPem + root.certPem, keyPem, files).root.fingerprint256).toBe(rootCert.fingerprint256);
  });
});
