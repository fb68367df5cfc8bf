// The hand-written DER encoder (src/ca/der.ts), checked against fixed encodings from X.690 and
// against OpenSSL's parser (`openssl asn1parse`, `openssl x509`): lengths, INTEGERs whose
// first byte has the high bit set, OBJECT IDENTIFIERs, and times on both sides of the
// UTCTime/GeneralizedTime switch in 2050 (RFC 5280 4.1.2.5).
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { issueCertificate, randomSerial, readTlv } from '../../src/ca/certificate.js';
import { bits, derLength, keyUsage, OID, oid, pem, sanUris, smallInt, time, tlv, uint } from '../../src/ca/der.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-der-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;

function writeTmp(content: Buffer | string, ext = 'der'): string {
  const f = path.join(tmp, `f${fileNo++}.${ext}`);
  fs.writeFileSync(f, content);
  return f;
}

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `openssl asn1parse` of one DER value: "prim: OBJECT :2.999.3" → ['OBJECT', '2.999.3']. */
function asn1(der: Buffer): Array<[string, string]> {
  const out = openssl('asn1parse', '-inform', 'DER', '-in', writeTmp(der));
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const m = /(?:prim|cons):\s+(\S+)\s*:?(.*)$/.exec(line);
      if (!m) throw new Error(`unexpected asn1parse line: ${line}`);
      return [m[1]!, m[2]!.trim()];
    });
}

const hex = (b: Buffer): string => b.toString('hex');

describe('derLength', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8180'],
    [255, '81ff'],
    [256, '820100'],
    [65535, '82ffff'],
    [65536, '83010000'],
    [16_777_216, '8401000000'],
  ])('%d → %s (short form below 128, minimal long form above)', (n, want) => {
    expect(hex(derLength(n))).toBe(want);
  });

  it('round-trips through readTlv for lengths around every boundary', () => {
    for (const n of [0, 1, 127, 128, 129, 255, 256, 257, 65535, 65536, 70_000]) {
      const enc = tlv(0x04, Buffer.alloc(n, 0x5a));
      const t = readTlv(enc, 0);
      expect(t.tag).toBe(0x04);
      expect(t.end - t.contentStart, `length ${n}`).toBe(n);
      expect(t.end).toBe(enc.length);
    }
  });

  it('produces lengths OpenSSL parses (a 300-byte OCTET STRING)', () => {
    const enc = tlv(0x04, Buffer.alloc(300, 1));
    expect(hex(enc.subarray(0, 4))).toBe('0482012c');
    const out = openssl('asn1parse', '-inform', 'DER', '-in', writeTmp(enc));
    expect(out).toMatch(/d=0\s+hl=4 l= 300 prim: OCTET STRING/); // 1 tag + 3 length bytes
  });
});

describe('readTlv', () => {
  it('rejects truncated input and indefinite or oversized length forms', () => {
    expect(() => readTlv(Buffer.from([0x30]), 0)).toThrow(/truncated/);
    expect(() => readTlv(Buffer.from([0x04, 0x05, 1, 2]), 0)).toThrow(/truncated/);
    expect(() => readTlv(Buffer.from([0x30, 0x80, 0, 0]), 0)).toThrow(/bad DER length/); // indefinite
    expect(() => readTlv(Buffer.from([0x04, 0x85, 1, 0, 0, 0, 0]), 0)).toThrow(/bad DER length/);
  });
});

describe('INTEGER', () => {
  it.each([
    ['00', '020100'],
    ['000000', '020100'],
    ['01', '020101'],
    ['7f', '02017f'],
    ['80', '02020080'],
    ['ff', '020200ff'],
    ['0080', '02020080'], // the leading zero is kept: it is what keeps 0x80 positive
    ['00007f', '02017f'], // redundant leading zeros are dropped
    ['8000000000000000000000000000000000', '0212008000000000000000000000000000000000'],
  ])('uint(%s) → %s', (input, want) => {
    expect(hex(uint(Buffer.from(input, 'hex')))).toBe(want);
  });

  it.each([
    [0, '020100'],
    [5, '020105'],
    [127, '02017f'],
    [128, '02020080'],
    [255, '020200ff'],
  ])('smallInt(%d) → %s', (n, want) => {
    expect(hex(smallInt(n))).toBe(want);
  });

  it('is read by OpenSSL as the same positive number, high bit or not', () => {
    for (const h of ['80', 'ff', '7f', '00ff', 'deadbeef', '8000000000000000000000000000000001']) {
      const [[type, value]] = asn1(uint(Buffer.from(h, 'hex'))) as [[string, string]];
      expect(type).toBe('INTEGER');
      expect(BigInt(`0x${value}`), h).toBe(BigInt(`0x${h}`));
    }
  });

  it('random serials are 16 bytes, positive and non-zero-led, so they encode in 16 bytes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const s = randomSerial();
      expect(s.length).toBe(16);
      expect(s[0]! & 0x80).toBe(0);
      expect(s[0]).not.toBe(0);
      expect(uint(s).length).toBe(18); // tag + length + 16 bytes: no padding, no trimming
      seen.add(hex(s));
    }
    expect(seen.size).toBe(2000);
  });
});

describe('OBJECT IDENTIFIER', () => {
  it.each([
    [OID.ecdsaWithSHA256, '06082a8648ce3d040302'],
    ['1.2.840.113549.1.1.11', '06092a864886f70d01010b'],
    [OID.commonName, '0603550403'],
    [OID.subjectAltName, '0603551d11'],
    [OID.serverAuth, '06082b06010505070301'],
    [OID.clientAuth, '06082b06010505070302'],
  ])('%s → %s (known encodings)', (dotted, want) => {
    expect(hex(oid(dotted))).toBe(want);
  });

  it.each(['1.3.6.1.4.1.99999.1.2', '1.2.3.4.5.300000', '1.2.127.128.16383.16384.2097151.2097152', '1.3.6.1.4.1.54321.4294967296'])(
    '%s is read back by OpenSSL as the same OID',
    (dotted) => {
      // OIDs OpenSSL has no name for, so that it prints them numerically.
      expect(asn1(oid(dotted))).toEqual([['OBJECT', dotted]]);
    },
  );

  it('encodes a first subidentifier above 127 in base 128 (arcs 2.48 and beyond, X.690 8.19.4)', () => {
    // 2.999.3: first subidentifier 40*2+999 = 1079 = 0x88 0x37.
    expect(hex(oid('2.999.3'))).toBe('0603883703');
    const [[, value]] = asn1(oid('2.999.3')) as [[string, string]];
    expect(value).toBe('2.999.3');
  });
});

describe('time', () => {
  it.each([
    ['2026-11-21T22:08:25.123Z', '170d3236313132313232303832355a'], // UTCTime, milliseconds dropped
    ['1950-01-01T00:00:00.000Z', '170d3530303130313030303030305a'], // UTCTime "50" = 1950
    ['2049-12-31T23:59:59.999Z', '170d3439313233313233353935395a'], // last UTCTime second
    ['2050-01-01T00:00:00.000Z', '180f32303530303130313030303030305a'], // GeneralizedTime from 2050
    ['1949-12-31T23:59:59.000Z', '180f31393439313233313233353935395a'], // and before 1950
    ['9999-12-31T23:59:59.000Z', '180f39393939313233313233353935395a'],
  ])('%s → %s', (iso, want) => {
    expect(hex(time(new Date(iso)))).toBe(want);
  });

  it('is read by OpenSSL and Node as the same instant on both sides of 2050', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const cases: Array<[string, string, string, string]> = [
      // notBefore, notAfter, and how OpenSSL prints them
      ['2049-12-31T23:59:59.000Z', '2050-01-01T00:00:00.000Z', 'Dec 31 23:59:59 2049 GMT', 'Jan  1 00:00:00 2050 GMT'],
      ['1950-01-01T00:00:00.000Z', '2100-06-15T12:30:45.000Z', 'Jan  1 00:00:00 1950 GMT', 'Jun 15 12:30:45 2100 GMT'],
      ['1949-12-31T23:59:59.000Z', '2049-12-31T23:59:59.000Z', 'Dec 31 23:59:59 1949 GMT', 'Dec 31 23:59:59 2049 GMT'],
    ];
    for (const [nb, na, wantNb, wantNa] of cases) {
      const der = issueCertificate({ publicKey, notBefore: new Date(nb), notAfter: new Date(na), subject: [[OID.commonName, 'time']] }, null, privateKey);
      const f = writeTmp(pem('CERTIFICATE', der), 'pem');
      const out = openssl('x509', '-in', f, '-noout', '-startdate', '-enddate');
      expect(out).toBe(`notBefore=${wantNb}\nnotAfter=${wantNa}\n`);
      const types = openssl('asn1parse', '-in', f).match(/prim: (UTCTIME|GENERALIZEDTIME)/g)!;
      const kind = (iso: string): string => (new Date(iso).getUTCFullYear() >= 1950 && new Date(iso).getUTCFullYear() < 2050 ? 'prim: UTCTIME' : 'prim: GENERALIZEDTIME');
      expect(types).toEqual([kind(nb), kind(na)]);
      const x = new X509Certificate(der);
      expect(new Date(x.validFrom).toISOString()).toBe(nb);
      expect(new Date(x.validTo).toISOString()).toBe(na);
    }
  });
});

describe('other pieces', () => {
  it('keyUsage sets the right bits and counts unused trailing bits', () => {
    expect(hex(keyUsage({ digitalSignature: true }))).toBe('03020780');
    expect(hex(keyUsage({ digitalSignature: true, keyEncipherment: true }))).toBe('030205a0');
    expect(hex(keyUsage({ keyCertSign: true, cRLSign: true }))).toBe('03020106');
    expect(hex(keyUsage({ digitalSignature: true, keyCertSign: true, cRLSign: true }))).toBe('03020186');
  });

  it('bits is a BIT STRING with no unused bits; sanUris uses [6] IMPLICIT IA5String', () => {
    expect(hex(bits(Buffer.from('abcd', 'hex')))).toBe('030300abcd');
    expect(hex(sanUris(['spiffe://a/b']))).toBe(`300e860c${Buffer.from('spiffe://a/b').toString('hex')}`);
  });

  it('pem wraps base64 at 64 characters and round-trips', () => {
    const der = Buffer.alloc(200, 0xab);
    const p = pem('TEST', der);
    const lines = p.trimEnd().split('\n');
    expect(lines[0]).toBe('-----BEGIN TEST-----');
    expect(lines[lines.length - 1]).toBe('-----END TEST-----');
    const body = lines.slice(1, -1);
    expect(body.slice(0, -1).every((l) => l.length === 64)).toBe(true);
    expect(body[body.length - 1]!.length).toBeLessThanOrEqual(64);
    expect(Buffer.from(body.join(''), 'base64').equals(der)).toBe(true);
    // Exactly 48 bytes: one full line, no empty line before END.
    expect(pem('X', Buffer.alloc(48)).split('\n')).toHaveLength(4);
  });
});
