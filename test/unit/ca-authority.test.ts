// The CA's files (src/ca/authority.ts, RELIABILITY 18): created once in an empty state
// directory (key 0600), reloaded as the same root afterwards, and refused, with a message
// naming the file, whenever they are incomplete, corrupt, mismatched, not a CA, expired or
// readable by others. A refused start never creates or rewrites a file: a new root would make
// every proxy stop trusting the mesh.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaError, checkCa, createRoot, ephemeralCa, loadOrCreateCa, splitPem } from '../../src/ca/authority.js';
import { issueCertificate, issuerFrom } from '../../src/ca/certificate.js';
import { OID, pem } from '../../src/ca/der.js';
import { WorkloadCertificates } from '../../src/ca/workload-certs.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-ca-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
let dirNo = 0;

function freshDir(): string {
  return path.join(base, `state${dirNo++}`);
}

/** A state directory holding exactly these files (mode 0600 unless said otherwise). */
function stateWith(files: Record<string, string | { content: string; mode: number }>): string {
  const dir = freshDir();
  fs.mkdirSync(dir, { mode: 0o700 });
  for (const [n, v] of Object.entries(files)) {
    const { content, mode } = typeof v === 'string' ? { content: v, mode: 0o600 } : v;
    fs.writeFileSync(path.join(dir, n), content, { mode });
    fs.chmodSync(path.join(dir, n), mode);
  }
  return dir;
}

/** Every file in `dir` with its content and mode, to show a refused start changed nothing. */
function snapshot(dir: string): Record<string, { content: string; mode: string; mtimeMs: number }> {
  const out: Record<string, { content: string; mode: string; mtimeMs: number }> = {};
  for (const n of fs.readdirSync(dir).sort()) {
    const st = fs.statSync(path.join(dir, n));
    out[n] = { content: fs.readFileSync(path.join(dir, n), 'utf8'), mode: (st.mode & 0o777).toString(8), mtimeMs: st.mtimeMs };
  }
  return out;
}

/** loadOrCreateCa must throw a CaError matching `message`, and leave `dir` exactly as it was. */
function expectRefusal(dir: string, message: RegExp, provided?: { cert: string; key: string }): CaError {
  const before = snapshot(dir);
  let caught: unknown;
  try {
    loadOrCreateCa(dir, provided);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'loadOrCreateCa should have refused').toBeInstanceOf(CaError);
  expect((caught as CaError).message).toMatch(message);
  expect(snapshot(dir)).toEqual(before);
  return caught as CaError;
}

const mode = (f: string): number => fs.statSync(f).mode & 0o777;
const root = createRoot();
const otherRoot = createRoot();

describe('first start in an empty state directory', () => {
  const dir = freshDir();
  const ca = loadOrCreateCa(dir);

  it('creates ca.crt and ca.key, the key 0600 and the new directory 0700', () => {
    expect(ca.created).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual(['ca.crt', 'ca.key']);
    expect(ca.files).toEqual({ cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') });
    expect(mode(path.join(dir, 'ca.key'))).toBe(0o600);
    expect(mode(path.join(dir, 'ca.crt'))).toBe(0o644);
    expect(mode(dir)).toBe(0o700);
  });

  it('holds a self-signed ECDSA P-256 root valid for about ten years, and its key', () => {
    expect(ca.chain).toHaveLength(1);
    expect(ca.root).toBe(ca.chain[0]);
    expect(ca.root.ca).toBe(true);
    expect(ca.root.checkIssued(ca.root) && ca.root.verify(ca.root.publicKey)).toBe(true);
    expect(ca.root.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(ca.root.checkPrivateKey(ca.key)).toBe(true);
    const years = (new Date(ca.root.validTo).getTime() - Date.now()) / (365.25 * 86_400_000);
    expect(years).toBeGreaterThan(9.9);
    expect(years).toBeLessThan(10.1);
    expect(ca.root.subject).toMatch(/^O=meshgate\nCN=meshgate root CA /);
    expect(new X509Certificate(fs.readFileSync(path.join(dir, 'ca.crt'))).fingerprint256).toBe(ca.root.fingerprint256);
  });

  it('reloads the same root and key on the next start, creating nothing', () => {
    const before = snapshot(dir);
    const again = loadOrCreateCa(dir);
    expect(again.created).toBe(false);
    expect(again.root.fingerprint256).toBe(ca.root.fingerprint256);
    expect(again.key.export({ type: 'pkcs8', format: 'der' }).equals(ca.key.export({ type: 'pkcs8', format: 'der' }))).toBe(true);
    expect(again.issuer.keyId.equals(ca.issuer.keyId)).toBe(true);
    expect(snapshot(dir)).toEqual(before);
  });

  it('creates the key file 0600 even under a permissive umask', () => {
    const old = process.umask(0o000);
    try {
      const d = freshDir();
      loadOrCreateCa(d);
      expect(mode(path.join(d, 'ca.key'))).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });
});

describe('refuses to start, naming the file, and touches nothing', () => {
  it('when the key is missing but the certificate exists', () => {
    const dir = stateWith({ 'ca.crt': { content: root.certPem, mode: 0o644 } });
    const e = expectRefusal(dir, /ca\.key is missing but .*ca\.crt exists: refusing to create a new root/);
    expect(e.message).toContain(path.join(dir, 'ca.key'));
    expect(e.message).toMatch(/Restore the missing file, or remove both/);
  });

  it('when the certificate is missing but the key exists', () => {
    const dir = stateWith({ 'ca.key': root.keyPem });
    const e = expectRefusal(dir, /ca\.crt is missing but .*ca\.key exists: refusing to create a new root/);
    expect(e.message).toContain(path.join(dir, 'ca.crt'));
  });

  it('when the certificate file holds no PEM certificate', () => {
    const dir = stateWith({ 'ca.crt': 'not a certificate\n', 'ca.key': root.keyPem });
    expectRefusal(dir, new RegExp(`^${escape(path.join(dir, 'ca.crt'))} holds no PEM certificate$`));
  });

  it('when the certificate is corrupt (a PEM block that does not parse)', () => {
    const bad = root.certPem.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
    const dir = stateWith({ 'ca.crt': bad, 'ca.key': root.keyPem });
    expectRefusal(dir, new RegExp(`^${escape(path.join(dir, 'ca.crt'))} is corrupt: `));
  });

  it('when the key is corrupt', () => {
    const dir = stateWith({ 'ca.crt': root.certPem, 'ca.key': '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' });
    expectRefusal(dir, new RegExp(`^${escape(path.join(dir, 'ca.key'))} is corrupt or not a private key: `));
  });

  it('when the key is a public key', () => {
    const pubPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const dir = stateWith({ 'ca.crt': root.certPem, 'ca.key': pubPem });
    expectRefusal(dir, /ca\.key is corrupt or not a private key/);
  });

  it('when the key belongs to another certificate (same type, or RSA)', () => {
    const dir = stateWith({ 'ca.crt': root.certPem, 'ca.key': otherRoot.keyPem });
    expectRefusal(dir, new RegExp(`^${escape(path.join(dir, 'ca.key'))} does not match the certificate in ${escape(path.join(dir, 'ca.crt'))}$`));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expectRefusal(stateWith({ 'ca.crt': root.certPem, 'ca.key': rsa }), /ca\.key does not match the certificate in .*ca\.crt$/);
  });

  it('when the certificate is not a CA (a leaf and its own key)', () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const ca = ephemeralCa();
    const leaf = issueCertificate({ publicKey: k.publicKey, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000), subject: [[OID.commonName, 'leaf']] }, ca.issuer);
    const dir = stateWith({ 'ca.crt': pem('CERTIFICATE', leaf), 'ca.key': k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });
    expectRefusal(dir, /ca\.crt is not a CA certificate \(basicConstraints CA:FALSE\)$/);
  });

  it('when the certificate has expired', () => {
    const old = createRoot(new Date(Date.now() - 11 * 365 * 86_400_000));
    const dir = stateWith({ 'ca.crt': old.certPem, 'ca.key': old.keyPem });
    expectRefusal(dir, /ca\.crt: certificate "O=meshgate, CN=meshgate root CA .*" expired on /);
  });

  it('when the root\'s self-signature does not verify', () => {
    const der = new X509Certificate(root.certPem).raw;
    const tampered = Buffer.from(der);
    tampered[tampered.length - 5]! ^= 0x01; // inside the signature value
    const dir = stateWith({ 'ca.crt': pem('CERTIFICATE', tampered), 'ca.key': root.keyPem });
    expectRefusal(dir, /ca\.crt: the root's self-signature does not verify$/);
  });

  it.each([0o640, 0o604, 0o644, 0o660])('when the key file is readable by others (mode %s)', (m) => {
    const dir = stateWith({ 'ca.crt': { content: root.certPem, mode: 0o644 }, 'ca.key': { content: root.keyPem, mode: m } });
    const f = path.join(dir, 'ca.key');
    expectRefusal(dir, new RegExp(`^${escape(f)} is readable by other users \\(mode ${m.toString(8)}\\): run "chmod 600 ${escape(f)}"$`));
  });

  it('when a provided CA is incomplete (never creates one in its place)', () => {
    const dir = stateWith({ 'my.crt': root.certPem });
    expectRefusal(dir, /the CA you provided is incomplete: .*my\.key does not exist/, { cert: path.join(dir, 'my.crt'), key: path.join(dir, 'my.key') });
    const empty = stateWith({});
    expectRefusal(empty, /the CA you provided is incomplete: .*my\.crt does not exist/, { cert: path.join(empty, 'my.crt'), key: path.join(empty, 'my.key') });
    expect(fs.readdirSync(empty)).toEqual([]);
  });
});

describe('a provided intermediate with its chain', () => {
  // The intermediate is built with the module itself: signed by a root we keep apart.
  const rootCa = ephemeralCa();
  const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const interDer = issueCertificate(
    { publicKey: k.publicKey, notBefore: new Date(now - 60_000), notAfter: new Date(now + 30 * 86_400_000), subject: [[OID.organization, 'corp'], [OID.commonName, 'mesh intermediate']], ca: { pathLen: 0 } },
    rootCa.issuer,
  );
  const interPem = pem('CERTIFICATE', interDer);
  const keyPem = k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const dir = stateWith({ 'chain.pem': { content: interPem + rootCa.root.toString(), mode: 0o644 }, 'mesh.key': keyPem });
  const files = { cert: path.join(dir, 'chain.pem'), key: path.join(dir, 'mesh.key') };

  it('loads: signs with the intermediate, trusts the root', () => {
    const ca = loadOrCreateCa(path.join(dir, 'unused-state'), files);
    expect(ca.created).toBe(false);
    expect(ca.chain.map((c) => c.subject)).toEqual(['O=corp\nCN=mesh intermediate', rootCa.root.subject]);
    expect(ca.root.fingerprint256).toBe(rootCa.root.fingerprint256);
    expect(ca.files).toEqual(files);
    expect(fs.existsSync(path.join(dir, 'unused-state'))).toBe(false);
  });

  it('issues leaves that chain through the intermediate to the root (openssl verify)', () => {
    const ca = loadOrCreateCa(path.join(dir, 'unused-state'), files);
    const certs = new WorkloadCertificates(ca, { ttlMs: 3_600_000 });
    const leaf = certs.get('g', 'spiffe://corp.test/service/users');
    const blocks = splitPem(leaf.chainPem);
    expect(blocks).toHaveLength(2);
    expect(new X509Certificate(blocks[1]!).fingerprint256).toBe(new X509Certificate(interPem).fingerprint256);
    expect(certs.trustBundlePem()).toBe(rootCa.root.toString());
    const f = (n: string, c: string): string => {
      fs.writeFileSync(path.join(dir, n), c);
      return path.join(dir, n);
    };
    const out = execFileSync('openssl', ['verify', '-CAfile', f('bundle.pem', certs.trustBundlePem()), '-untrusted', f('inter.pem', blocks[1]!), f('leaf.pem', blocks[0]!)], { encoding: 'utf8' });
    expect(out.trim()).toMatch(/: OK$/);
    for (const n of ['bundle.pem', 'inter.pem', 'leaf.pem']) fs.rmSync(path.join(dir, n));
  });

  it('refuses the chain listed root-first', () => {
    const d = stateWith({ 'chain.pem': rootCa.root.toString() + interPem, 'mesh.key': keyPem });
    // The first certificate is the signing one: the root does not match the intermediate's key.
    expectRefusal(d, /mesh\.key does not match the certificate in .*chain\.pem$/, { cert: path.join(d, 'chain.pem'), key: path.join(d, 'mesh.key') });
  });

  it('refuses a chain whose next certificate is not the issuer', () => {
    const d = stateWith({ 'chain.pem': interPem + otherRoot.certPem, 'mesh.key': keyPem });
    expectRefusal(d, /chain\.pem: certificate 1 is not signed by certificate 2; list the chain from the signing CA up to the root$/, {
      cert: path.join(d, 'chain.pem'),
      key: path.join(d, 'mesh.key'),
    });
  });

  it('checkCa reports an expired certificate anywhere in the chain', () => {
    const later = new Date(now + 31 * 86_400_000);
    expect(() => checkCa(interPem + rootCa.root.toString(), keyPem, files, later)).toThrow(/certificate "O=corp, CN=mesh intermediate" expired on /);
  });
});

describe('issuerFrom on a loaded CA', () => {
  it('signs leaves whose issuer is the CA subject and whose AKI is the CA SKI', () => {
    const ca = ephemeralCa();
    const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const leaf = new X509Certificate(
      issueCertificate({ publicKey: k.publicKey, notBefore: new Date(), notAfter: new Date(Date.now() + 60_000), subject: [], uris: ['spiffe://x/y'] }, issuerFrom(ca.root, ca.key)),
    );
    expect(leaf.issuer).toBe(ca.root.subject);
    expect(leaf.checkIssued(ca.root)).toBe(true);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
