// Certificates built by src/ca/certificate.ts, read back by Node's X509Certificate and by
// OpenSSL (`openssl x509 -text`, `openssl verify`): a self-signed root, SPIFFE leaves (empty
// subject, critical URI SAN), an intermediate, an RSA issuer, and a CA made by OpenSSL whose
// subject key identifier is not SHA-1 of its key.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { issueCertificate, issuerFrom, keyIdentifier, subjectKeyIdOf, subjectNameOf } from '../../src/ca/certificate.js';
import { name, OID, pem } from '../../src/ca/der.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-cert-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;

function writePem(content: string | Buffer): string {
  const f = path.join(tmp, `c${fileNo++}.pem`);
  fs.writeFileSync(f, Buffer.isBuffer(content) ? pem('CERTIFICATE', content) : content);
  return f;
}

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `openssl verify`: 'OK' or OpenSSL's error text. */
function verify(leaf: Buffer | string, root: Buffer | string, untrusted: Array<Buffer | string> = [], purpose?: string): string {
  const args = ['verify', '-CAfile', writePem(root)];
  if (untrusted.length) args.push('-untrusted', writePem(untrusted.map((u) => (Buffer.isBuffer(u) ? pem('CERTIFICATE', u) : u)).join('')));
  if (purpose) args.push('-purpose', purpose);
  try {
    const out = openssl(...args, writePem(leaf));
    return out.trim().endsWith(': OK') ? 'OK' : out;
  } catch (err) {
    const e = err as { stdout: string; stderr: string };
    return `${e.stdout}${e.stderr}`;
  }
}

/** The lines under one extension heading of `openssl x509 -text`, with its "critical" flag. */
function extension(text: string, heading: string): { critical: boolean; value: string } | undefined {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.trim().startsWith(`${heading}:`));
  if (i < 0) return undefined;
  const value: string[] = [];
  for (const l of lines.slice(i + 1)) {
    if (/^\s{12}\S/.test(l) && !/^\s{16}/.test(l)) break; // next extension heading
    if (/^\s{4}\S/.test(l) && !/^\s{8}/.test(l)) break; // "Signature Algorithm" after the extensions
    value.push(l.trim());
  }
  return { critical: lines[i]!.includes('critical'), value: value.join(' ').trim() };
}

function text(der: Buffer | string): string {
  return openssl('x509', '-in', writePem(der), '-noout', '-text');
}

/** SHA-1 of the public key bit string, as OpenSSL computes it (-ocspid), as AA:BB:… */
function opensslKeyHash(der: Buffer): string {
  const out = openssl('x509', '-in', writePem(der), '-noout', '-ocspid');
  const h = /Public key OCSP hash: ([0-9A-F]+)/.exec(out)![1]!;
  return h.match(/../g)!.join(':');
}

const colonHex = (b: Buffer): string => b.toString('hex').toUpperCase().match(/../g)!.join(':');

const ec = (): { publicKey: KeyObject; privateKey: KeyObject } => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const now = Date.now();
const HOUR = 3_600_000;

function makeRoot(key = ec(), pathLen = 1): { der: Buffer; key: KeyObject; cert: X509Certificate } {
  const der = issueCertificate(
    {
      publicKey: key.publicKey,
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 24 * HOUR),
      subject: [
        [OID.organization, 'meshgate'],
        [OID.commonName, 'test root'],
      ],
      ca: { pathLen },
    },
    null,
    key.privateKey,
  );
  return { der, key: key.privateKey, cert: new X509Certificate(der) };
}

function makeLeaf(issuer: { cert: X509Certificate; key: KeyObject }, opts: { uris?: string[]; subject?: Array<[string, string]> } = {}): { der: Buffer; key: KeyObject } {
  const k = ec();
  const der = issueCertificate(
    {
      publicKey: k.publicKey,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + HOUR),
      subject: opts.subject ?? [],
      uris: opts.uris ?? ['spiffe://mesh.test/service/users'],
    },
    issuerFrom(issuer.cert, issuer.key),
  );
  return { der, key: k.privateKey };
}

describe('a self-signed root', () => {
  const root = makeRoot();
  const t = text(root.der);

  it('is a CA that Node reads, issued by and verifying against itself', () => {
    expect(root.cert.ca).toBe(true);
    expect(root.cert.subject).toBe('O=meshgate\nCN=test root');
    expect(root.cert.issuer).toBe(root.cert.subject);
    expect(root.cert.checkIssued(root.cert)).toBe(true);
    expect(root.cert.verify(root.cert.publicKey)).toBe(true);
    expect(root.cert.checkPrivateKey(root.key)).toBe(true);
    expect(root.cert.serialNumber).toMatch(/^[0-9A-F]{32}$/);
  });

  it('has critical basicConstraints CA:TRUE with its path length and critical certificate-signing key usage', () => {
    expect(t).toMatch(/Version: 3 \(0x2\)/);
    expect(t).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(extension(t, 'X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:TRUE, pathlen:1' });
    expect(extension(t, 'X509v3 Key Usage')).toEqual({ critical: true, value: 'Digital Signature, Certificate Sign, CRL Sign' });
    expect(extension(t, 'X509v3 Extended Key Usage')).toBeUndefined();
  });

  it('has SKI = AKI = SHA-1 of its public key (RFC 5280 4.2.1.2 method 1), as OpenSSL computes it', () => {
    const ski = extension(t, 'X509v3 Subject Key Identifier')!.value;
    expect(ski).toBe(opensslKeyHash(root.der));
    expect(ski).toBe(colonHex(keyIdentifier(root.cert.publicKey)));
    expect(extension(t, 'X509v3 Authority Key Identifier')!.value.replace(/^keyid:/, '')).toBe(ski);
    expect(subjectKeyIdOf(root.der)!.equals(keyIdentifier(root.cert.publicKey))).toBe(true);
  });

  it('verifies with openssl as its own trust anchor, and not against another root', () => {
    expect(verify(root.der, root.der)).toBe('OK');
    expect(verify(root.der, makeRoot().der)).toMatch(/self-signed certificate|unable to get local issuer/);
  });

  it('needs a signing key', () => {
    const k = ec();
    expect(() => issueCertificate({ publicKey: k.publicKey, notBefore: new Date(now), notAfter: new Date(now + HOUR), subject: [] }, null)).toThrow(/needs its private key/);
  });
});

describe('a SPIFFE leaf', () => {
  const root = makeRoot();
  const leaf = makeLeaf(root);
  const t = text(leaf.der);
  const x = new X509Certificate(leaf.der);

  it('has an empty subject, the issuer name byte for byte, and the SPIFFE ID as its only SAN', () => {
    expect(x.subject || '').toBe(''); // Node reports an empty subject as undefined
    expect(t).toMatch(/\n\s+Subject: ?\n/);
    expect(x.issuer).toBe(root.cert.subject);
    expect(subjectNameOf(leaf.der).length).toBe(2); // an empty SEQUENCE
    expect(x.subjectAltName).toBe('URI:spiffe://mesh.test/service/users');
    expect(x.ca).toBe(false);
  });

  it('marks the SAN critical because the subject is empty (RFC 5280 4.2.1.6)', () => {
    expect(extension(t, 'X509v3 Subject Alternative Name')).toEqual({ critical: true, value: 'URI:spiffe://mesh.test/service/users' });
  });

  it('is an end entity for TLS client and server use', () => {
    expect(extension(t, 'X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:FALSE' });
    // EC key: digitalSignature only (RFC 8813: no keyEncipherment or dataEncipherment on EC keys).
    expect(extension(t, 'X509v3 Key Usage')).toEqual({ critical: true, value: 'Digital Signature' });
    expect(extension(t, 'X509v3 Extended Key Usage')).toEqual({ critical: false, value: 'TLS Web Server Authentication, TLS Web Client Authentication' });
    expect(x.keyUsage?.sort()).toEqual([OID.serverAuth, OID.clientAuth].sort());
  });

  it('has SKI = SHA-1 of its own key and AKI = the issuer\'s SKI', () => {
    expect(extension(t, 'X509v3 Subject Key Identifier')!.value).toBe(opensslKeyHash(leaf.der));
    const rootSki = extension(text(root.der), 'X509v3 Subject Key Identifier')!.value;
    expect(extension(t, 'X509v3 Authority Key Identifier')!.value.replace(/^keyid:/, '')).toBe(rootSki);
  });

  it('is signed by the root: Node and openssl verify it for both TLS purposes', () => {
    expect(x.checkIssued(root.cert)).toBe(true);
    expect(x.verify(root.cert.publicKey)).toBe(true);
    expect(x.checkPrivateKey(leaf.key)).toBe(true);
    expect(verify(leaf.der, root.der, [], 'sslserver')).toBe('OK');
    expect(verify(leaf.der, root.der, [], 'sslclient')).toBe('OK');
  });

  it('does not verify against another root with the same name', () => {
    const other = makeRoot();
    expect(other.cert.subject).toBe(root.cert.subject);
    expect(x.verify(other.cert.publicKey)).toBe(false);
    expect(verify(leaf.der, other.der)).not.toBe('OK');
  });

  it('with a subject, keeps the SAN non-critical; several URIs are all listed', () => {
    const l = makeLeaf(root, { subject: [[OID.commonName, 'users']], uris: ['spiffe://mesh.test/a', 'spiffe://mesh.test/b'] });
    const lt = text(l.der);
    expect(extension(lt, 'X509v3 Subject Alternative Name')).toEqual({ critical: false, value: 'URI:spiffe://mesh.test/a, URI:spiffe://mesh.test/b' });
    expect(new X509Certificate(l.der).subject).toBe('CN=users');
    expect(verify(l.der, root.der)).toBe('OK');
  });

  it('an RSA leaf key also gets keyEncipherment (RSA key transport)', () => {
    const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const der = issueCertificate({ publicKey: k.publicKey, notBefore: new Date(now), notAfter: new Date(now + HOUR), subject: [], uris: ['spiffe://mesh.test/x'] }, issuerFrom(root.cert, root.key));
    expect(extension(text(der), 'X509v3 Key Usage')).toEqual({ critical: true, value: 'Digital Signature, Key Encipherment' });
    expect(verify(der, root.der, [], 'sslserver')).toBe('OK');
  });

  it('without URIs has no SAN extension at all', () => {
    const l = makeLeaf(root, { subject: [[OID.commonName, 'x']], uris: [] });
    expect(extension(text(l.der), 'X509v3 Subject Alternative Name')).toBeUndefined();
  });
});

describe('issuers other than a P-256 root', () => {
  const root = makeRoot();

  function intermediate(key: { publicKey: KeyObject; privateKey: KeyObject }, pathLen = 0): { der: Buffer; key: KeyObject; cert: X509Certificate } {
    const der = issueCertificate(
      { publicKey: key.publicKey, notBefore: new Date(now - HOUR), notAfter: new Date(now + 12 * HOUR), subject: [[OID.commonName, 'test intermediate']], ca: { pathLen } },
      issuerFrom(root.cert, root.key),
    );
    return { der, key: key.privateKey, cert: new X509Certificate(der) };
  }

  it('an RSA intermediate under the EC root signs leaves with sha256WithRSAEncryption that chain to the root', () => {
    const inter = intermediate(generateKeyPairSync('rsa', { modulusLength: 2048 }));
    const it = text(inter.der);
    expect(extension(it, 'X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:TRUE, pathlen:0' });
    expect(it).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    const leaf = makeLeaf(inter);
    const lt = text(leaf.der);
    expect(lt).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
    expect(lt).toMatch(/Issuer: CN = test intermediate/);
    expect(new X509Certificate(leaf.der).verify(inter.cert.publicKey)).toBe(true);
    expect(verify(leaf.der, root.der, [inter.der], 'sslclient')).toBe('OK');
    // Without the intermediate there is no path to the root.
    expect(verify(leaf.der, root.der)).toMatch(/unable to get local issuer certificate/);
  });

  it('a pathlen:0 intermediate cannot sign another CA that then signs leaves (openssl refuses the path)', () => {
    const inter = intermediate(ec(), 0);
    const k = ec();
    const sub = issueCertificate(
      { publicKey: k.publicKey, notBefore: new Date(now - HOUR), notAfter: new Date(now + HOUR), subject: [[OID.commonName, 'sub']], ca: {} },
      issuerFrom(inter.cert, inter.key),
    );
    const leaf = makeLeaf({ cert: new X509Certificate(sub), key: k.privateKey });
    expect(verify(leaf.der, root.der, [inter.der, sub])).toMatch(/path length constraint exceeded/);
  });

  it('a CA made by OpenSSL with its own SKI method: leaves carry that SKI as their AKI and verify', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'ossl-'));
    const f = (n: string): string => path.join(dir, n);
    fs.writeFileSync(f('ext.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=01:02:03:04:05:06:07:08\nauthorityKeyIdentifier=keyid\n');
    fs.writeFileSync(f('root.pem'), pem('CERTIFICATE', root.der));
    fs.writeFileSync(f('root.key'), root.key.export({ type: 'pkcs8', format: 'pem' }));
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('i.key'), '-out', f('i.csr'), '-subj', '/O=elsewhere/CN=openssl intermediate');
    openssl('x509', '-req', '-in', f('i.csr'), '-CA', f('root.pem'), '-CAkey', f('root.key'), '-set_serial', '7', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('i.pem'));
    const inter = { cert: new X509Certificate(fs.readFileSync(f('i.pem'))), key: createPrivateKey(fs.readFileSync(f('i.key'))) };
    expect(subjectKeyIdOf(inter.cert.raw)!.toString('hex')).toBe('0102030405060708');
    // The issuer's name is copied byte for byte (OpenSSL writes UTF8String or PrintableString).
    expect(subjectNameOf(inter.cert.raw).equals(name([[OID.organization, 'elsewhere'], [OID.commonName, 'openssl intermediate']]))).toBe(true);
    const leaf = makeLeaf(inter);
    const lt = text(leaf.der);
    expect(extension(lt, 'X509v3 Authority Key Identifier')!.value.replace(/^keyid:/, '')).toBe('01:02:03:04:05:06:07:08');
    expect(new X509Certificate(leaf.der).checkIssued(inter.cert)).toBe(true);
    expect(verify(leaf.der, root.der, [inter.cert.raw])).toBe('OK');
  });

  it('refuses a CA key type it cannot sign with', () => {
    const ed = generateKeyPairSync('ed25519');
    const k = ec();
    expect(() => issueCertificate({ publicKey: k.publicKey, notBefore: new Date(now), notAfter: new Date(now + HOUR), subject: [] }, null, ed.privateKey)).toThrow(/unsupported CA key type ed25519/);
  });
});
