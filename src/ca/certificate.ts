// Issue X.509 certificates: self-signed roots and SPIFFE leaf certificates (URI SAN only).
import { createECDH, createHash, createPublicKey, KeyObject, randomBytes, sign, verify, X509Certificate } from 'node:crypto';
import { bits, explicit, extension, keyUsage, name, OID, oid, sanUris, seq, smallInt, tlv, time, uint } from './der.js';

export interface Issuer {
  /** DER of the issuer's certificate. */
  certDer: Buffer;
  key: KeyObject;
  /** DER of the issuer's subject Name (becomes the leaf's issuer). */
  subjectName: Buffer;
  /** The issuer's subject key identifier (becomes the leaf's authority key identifier). */
  keyId: Buffer;
}

/** A public key as DER SubjectPublicKeyInfo, with its key identifier. */
export interface PublicKeyDer {
  spki: Buffer;
  keyId: Buffer;
}

export interface CertificateRequest {
  publicKey: KeyObject | PublicKeyDer;
  notBefore: Date;
  notAfter: Date;
  /** Subject attributes, e.g. [[OID.organization, 'meshgate'], [OID.commonName, 'users']]. */
  subject: ReadonlyArray<readonly [string, string]>;
  uris?: readonly string[];
  ca?: { pathLen?: number };
  serial?: Buffer;
}

function signatureAlgorithm(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'ec') return seq(oid(OID.ecdsaWithSHA256));
  if (key.asymmetricKeyType === 'rsa') return seq(oid('1.2.840.113549.1.1.11'), tlv(0x05));
  throw new Error(`unsupported CA key type ${key.asymmetricKeyType ?? 'unknown'}: use ECDSA or RSA`);
}

/** SubjectPublicKeyInfo → the public key bit string contents, hashed (RFC 5280 4.2.1.2 method 1). */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const outer = readTlv(spki, 0);
  const alg = readTlv(spki, outer.contentStart);
  const bitString = readTlv(spki, alg.end);
  return createHash('sha1').update(spki.subarray(bitString.contentStart + 1, bitString.end)).digest();
}

/** A random positive 128-bit serial. */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}

/** Build and sign one certificate. `issuer` null means self-signed with `selfKey`. */
export function issueCertificate(req: CertificateRequest, issuer: Issuer | null, selfKey?: KeyObject): Buffer {
  const signingKey = issuer?.key ?? selfKey;
  if (!signingKey) throw new Error('a self-signed certificate needs its private key');
  const subjectName = name(req.subject);
  const issuerName = issuer?.subjectName ?? subjectName;
  const pub = req.publicKey instanceof KeyObject ? { spki: req.publicKey.export({ type: 'spki', format: 'der' }), keyId: keyIdentifier(req.publicKey) } : req.publicKey;
  const skid = pub.keyId;
  const akid = issuer?.keyId ?? skid;
  const exts: Buffer[] = [];
  if (req.ca) {
    const bc = req.ca.pathLen !== undefined ? seq(tlv(0x01, Buffer.from([0xff])), smallInt(req.ca.pathLen)) : seq(tlv(0x01, Buffer.from([0xff])));
    exts.push(extension(OID.basicConstraints, true, bc));
    exts.push(extension(OID.keyUsage, true, keyUsage({ keyCertSign: true, cRLSign: true, digitalSignature: true })));
  } else {
    exts.push(extension(OID.basicConstraints, true, seq()));
    // keyEncipherment is for RSA key transport; RFC 8813 forbids it on EC keys.
    exts.push(extension(OID.keyUsage, true, keyUsage({ digitalSignature: true, keyEncipherment: req.publicKey instanceof KeyObject && req.publicKey.asymmetricKeyType === 'rsa' })));
    exts.push(extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))));
  }
  if (req.uris?.length) exts.push(extension(OID.subjectAltName, req.subject.length === 0, sanUris(req.uris)));
  exts.push(extension(OID.subjectKeyIdentifier, false, tlv(0x04, skid)));
  exts.push(extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, akid))));
  const algId = signatureAlgorithm(signingKey);
  const tbs = seq(
    explicit(0, smallInt(2)),
    uint(req.serial ?? randomSerial()),
    algId,
    issuerName,
    seq(time(req.notBefore), time(req.notAfter)),
    subjectName,
    pub.spki,
    explicit(3, seq(...exts)),
  );
  const signature = sign('sha256', tbs, signingKey);
  return seq(tbs, algId, bits(signature));
}

// ---------------------------------------------------------------------------------------------
// Fast P-256 workload keys. Node 20's OpenSSL 3 key encoders and decoders dominate issuance
// (exporting and re-parsing keys took ~60 % of the time; signing ~5 %), so a workload key is
// made with ECDH and its SPKI and PKCS#8 encodings are fixed templates around the raw point and
// scalar. Measured in bench/cert-issuance.ts. (Not JWK export: on Node 20 exporting a freshly
// generated key as JWK can deadlock with a concurrent garbage collection.)

const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
const P256_ALGORITHM = Buffer.from('301306072a8648ce3d020106082a8648ce3d030107', 'hex');

export interface P256Key extends PublicKeyDer {
  /** PKCS#8 DER of the private key (with its public point). */
  pkcs8: Buffer;
}

export function generateP256Key(): P256Key {
  const ecdh = createECDH('prime256v1');
  const point = ecdh.generateKeys(); // uncompressed, 65 bytes
  const raw = ecdh.getPrivateKey();
  const d = raw.length === 32 ? raw : Buffer.concat([Buffer.alloc(32 - raw.length), raw]);
  // RFC 5915 ECPrivateKey { version 1, privateKey, [1] publicKey } inside RFC 5208 PKCS#8.
  const ecPrivateKey = tlv(0x30, smallInt(1), tlv(0x04, d), tlv(0xa1, bits(point)));
  const pkcs8 = tlv(0x30, smallInt(0), P256_ALGORITHM, tlv(0x04, ecPrivateKey));
  return { spki: Buffer.concat([P256_SPKI_PREFIX, point]), keyId: createHash('sha1').update(point).digest(), pkcs8 };
}

/** The parts of a DER certificate: the signed TBS bytes, the signature, the subject key. */
export function certificateParts(der: Buffer): { tbs: Buffer; signature: Buffer; spki: Buffer } {
  const cert = readTlv(der, 0);
  const tbs = readTlv(der, cert.contentStart);
  const alg = readTlv(der, tbs.end);
  const sig = readTlv(der, alg.end);
  // TBS: [0] version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo
  let p = tbs.contentStart;
  if (readTlv(der, p).tag === 0xa0) p = readTlv(der, p).end;
  for (let i = 0; i < 5; i++) p = readTlv(der, p).end;
  const spki = readTlv(der, p);
  return { tbs: der.subarray(cert.contentStart, tbs.end), signature: der.subarray(sig.contentStart + 1, sig.end), spki: der.subarray(p, spki.end) };
}

/** Does `der` carry a valid signature by `issuerKey` over its TBS bytes? */
export function signedBy(der: Buffer, issuerKey: KeyObject): boolean {
  const { tbs, signature } = certificateParts(der);
  return verify('sha256', tbs, issuerKey, signature);
}

// ---------------------------------------------------------------------------------------------
// Just enough DER reading to take a certificate's subject Name and key identifier.

interface Tlv {
  tag: number;
  contentStart: number;
  end: number;
}

export function readTlv(buf: Buffer, at: number): Tlv {
  if (at + 2 > buf.length) throw new Error('truncated DER');
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > buf.length) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > buf.length) throw new Error('truncated DER');
  return { tag, contentStart: p, end: p + len };
}

/** The DER of a certificate's subject Name. */
export function subjectNameOf(certDer: Buffer): Buffer {
  const cert = readTlv(certDer, 0);
  const tbs = readTlv(certDer, cert.contentStart);
  let p = tbs.contentStart;
  let el = readTlv(certDer, p);
  if (el.tag === 0xa0) {
    p = el.end; // version
    el = readTlv(certDer, p);
  }
  // serial, signature algorithm, issuer, validity, subject
  for (let i = 0; i < 4; i++) {
    p = readTlv(certDer, p).end;
  }
  const subject = readTlv(certDer, p);
  return certDer.subarray(p, subject.end);
}

/** The value of a certificate's subjectKeyIdentifier extension, or null if it has none. */
export function subjectKeyIdOf(certDer: Buffer): Buffer | null {
  const cert = readTlv(certDer, 0);
  const tbs = readTlv(certDer, cert.contentStart);
  const skiOid = oid(OID.subjectKeyIdentifier);
  for (let p = tbs.contentStart; p < tbs.end; ) {
    const el = readTlv(certDer, p);
    p = el.end;
    if (el.tag !== 0xa3) continue; // [3] extensions
    const exts = readTlv(certDer, el.contentStart);
    for (let q = exts.contentStart; q < exts.end; ) {
      const ext = readTlv(certDer, q);
      q = ext.end;
      const id = readTlv(certDer, ext.contentStart);
      if (!certDer.subarray(ext.contentStart, id.end).equals(skiOid)) continue;
      let value = readTlv(certDer, id.end);
      if (value.tag === 0x01) value = readTlv(certDer, value.end); // the critical flag
      const keyId = readTlv(certDer, value.contentStart);
      return Buffer.from(certDer.subarray(keyId.contentStart, keyId.end));
    }
  }
  return null;
}

/**
 * The issuer description used to sign leaves under a CA certificate and key. The leaves'
 * authority key identifier is the issuer's own subject key identifier when it has one: a CA
 * made elsewhere may not derive it as SHA-1 of its key (RFC 5280 4.2.1.2 allows any method; Let's
 * Encrypt and newer Go use truncated SHA-256, golang/go#71746), and OpenSSL/BoringSSL do not take a
 * certificate whose AKI differs from it as the issuer.
 */
export function issuerFrom(cert: X509Certificate, key: KeyObject): Issuer {
  const keyId = subjectKeyIdOf(cert.raw) ?? keyIdentifier(createPublicKey(cert.publicKey.export({ type: 'spki', format: 'pem' })));
  return { certDer: cert.raw, key, subjectName: subjectNameOf(cert.raw), keyId };
}
