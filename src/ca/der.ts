// Minimal DER encoding for X.509 v3 certificates (ECDSA P-256 / SHA-256).
//
// Written by hand because issuance speed matters (PERFORMANCE.md S6: >= 2000 certificates/s on
// one core) and the maintained JavaScript X.509 library measured here, @peculiar/x509 2.2,
// issued 222 leaf certificates/s on this machine; a certificate is a fixed template plus a
// serial, validity, key and SAN, then one crypto.sign() call. Parsing and verification use
// Node's own crypto.X509Certificate.

export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  let v = n;
  while (v > 0) {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

export const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
export const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c);
export const octets = (b: Buffer): Buffer => tlv(0x04, b);
export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
export const explicit = (n: number, ...c: Buffer[]): Buffer => tlv(0xa0 | n, ...c);

/** BIT STRING with no unused bits. */
export const bits = (b: Buffer): Buffer => tlv(0x03, Buffer.from([0]), b);

/** A non-negative INTEGER from big-endian bytes (a leading 0 keeps it positive). */
export function uint(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  return tlv(0x02, (trimmed[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export function smallInt(n: number): Buffer {
  return uint(Buffer.from([n]));
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [];
  // The first two arcs make one subidentifier, base-128 like the rest (2.999 is 0x88 0x37).
  for (const p of [40 * parts[0]! + parts[1]!, ...parts.slice(2)]) {
    const stack: number[] = [p & 0x7f];
    let v = Math.floor(p / 128);
    while (v > 0) {
      stack.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime before 2050, GeneralizedTime after (RFC 5280 4.1.2.5). */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // 2026-11-21T22:08:25.123Z
  const y = d.getUTCFullYear();
  const rest = iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
  if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(String(y).slice(2) + rest, 'ascii'));
  return tlv(0x18, Buffer.from(String(y) + rest, 'ascii'));
}

export const OID = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export function name(attrs: ReadonlyArray<readonly [string, string]>): Buffer {
  return seq(...attrs.map(([o, v]) => set(seq(oid(o), utf8(v)))));
}

export function extension(o: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(o), bool(true), octets(value)) : seq(oid(o), octets(value));
}

/** KeyUsage bits: digitalSignature(0), keyEncipherment(2), keyCertSign(5), cRLSign(6). */
export function keyUsage(flags: { digitalSignature?: boolean; keyEncipherment?: boolean; keyCertSign?: boolean; cRLSign?: boolean }): Buffer {
  let byte = 0;
  if (flags.digitalSignature) byte |= 0x80;
  if (flags.keyEncipherment) byte |= 0x20;
  if (flags.keyCertSign) byte |= 0x04;
  if (flags.cRLSign) byte |= 0x02;
  // Unused trailing bits of the last byte.
  let unused = 0;
  while (unused < 7 && ((byte >> unused) & 1) === 0) unused++;
  return tlv(0x03, Buffer.from([unused, byte]));
}

/** SubjectAltName with URI entries ([6] IMPLICIT IA5String). */
export function sanUris(uris: readonly string[]): Buffer {
  return seq(...uris.map((u) => tlv(0x86, Buffer.from(u, 'ascii'))));
}

export function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
