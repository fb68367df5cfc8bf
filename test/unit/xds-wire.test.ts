// Hand-written protobuf framing (src/xds/wire.ts) checked against protobufjs' own encoder
// and decoder: a response assembled from pre-framed fields must be what protobufjs would
// have written, byte for byte.
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { resourceFromJson } from '../../src/xds/resource.js';
import { messageType } from '../../src/xds/protos.js';
import { TYPE } from '../../src/xds/type-urls.js';
import { encodeAny, lengthDelimited, stringField, utf8Length, varint, varintSize, writeUtf8, writeVarint } from '../../src/xds/wire.js';

const DISCOVERY_RESPONSE = messageType('envoy.service.discovery.v3.DiscoveryResponse');
const DELTA_RESPONSE = messageType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
const ANY = messageType('google.protobuf.Any');

function pbVarint(n: number): Buffer {
  const w = protobuf.Writer.create();
  if (n <= 0xffffffff) w.uint32(n);
  else w.uint64(n);
  return Buffer.from(w.finish());
}

const VARINTS = [0, 1, 2, 127, 128, 129, 255, 256, 300, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35 + 5, 2 ** 49, 2 ** 53 - 1];

describe('varint', () => {
  it.each(VARINTS)('%d encodes like protobufjs', (n) => {
    expect(varint(n)).toEqual(pbVarint(n));
  });

  it('rejects what it cannot encode (negative, fractional, beyond 2^53)', () => {
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Infinity]) expect(() => varint(bad), String(bad)).toThrow(RangeError);
  });

  it.each([...VARINTS, 2 ** 35 - 1, 2 ** 35, 2 ** 42 - 1, 2 ** 42])('%d: varintSize and writeVarint agree with varint', (n) => {
    const buf = Buffer.alloc(12, 0xee);
    const end = writeVarint(buf, 1, n);
    expect(buf.subarray(1, end)).toEqual(varint(n));
    expect(varintSize(n)).toBe(end - 1);
    expect(buf[end]).toBe(0xee);
  });

  it.each(VARINTS)('%d decodes back with protobufjs Reader', (n) => {
    const r = protobuf.Reader.create(varint(n));
    const v = n <= 0xffffffff ? r.uint32() : Number(r.uint64().toString());
    expect(v).toBe(n);
    expect(r.pos).toBe(r.len);
  });
});

describe('utf8Length / writeUtf8', () => {
  it('measure and write as Buffer does: ASCII, 2-, 3- and 4-byte characters, lone surrogates, short and long', () => {
    const pieces = ['', 'a', 'spiffe://x/service/a', 'é', '€', '😀', '\uD800', '\uDC00', 'x\uD83D', '\uDE00y', 'ü'.repeat(70), 'a'.repeat(63), 'a'.repeat(64), 'a'.repeat(300)];
    for (const a of pieces) {
      for (const b of pieces) {
        const s = a + b;
        const bytes = utf8Length(s);
        expect(bytes, JSON.stringify(s)).toBe(Buffer.byteLength(s, 'utf8'));
        const buf = Buffer.alloc(bytes + 2, 0xee);
        expect(writeUtf8(buf, 1, s, bytes)).toBe(bytes + 1);
        expect(buf.subarray(1, bytes + 1).equals(Buffer.from(s, 'utf8')), JSON.stringify(s)).toBe(true);
        expect(buf[bytes + 1]).toBe(0xee);
      }
    }
  });
});

describe('lengthDelimited / stringField / encodeAny', () => {
  const fields = [1, 2, 5, 15, 16, 2047, 2048, 536870911];
  const lengths = [0, 1, 127, 128, 300, 70_000];

  it('matches protobufjs tag + length + bytes for small and large field numbers and lengths', () => {
    for (const f of fields) {
      for (const len of lengths) {
        const payload = Buffer.alloc(len, 0xab);
        const want = Buffer.from(protobuf.Writer.create().uint32(((f << 3) | 2) >>> 0).bytes(payload).finish());
        const got = lengthDelimited(f, payload);
        expect(got.equals(want), `field ${f}, length ${len}: ${got.subarray(0, 8).toString('hex')} vs ${want.subarray(0, 8).toString('hex')}`).toBe(true);
      }
    }
  });

  it('stringField counts UTF-8 bytes, not characters, and omits the empty string (proto3 default)', () => {
    for (const s of ['a', 'é', '日本語', '🚀 rocket', 'x'.repeat(200)]) {
      const want = Buffer.from(protobuf.Writer.create().uint32((1 << 3) | 2).string(s).finish());
      expect(stringField(1, s), s).toEqual(want);
    }
    expect(stringField(1, '').length).toBe(0);
  });

  it('encodeAny is what protobufjs writes for google.protobuf.Any', () => {
    const value = Buffer.from([1, 2, 3, 250, 0]);
    const want = Buffer.from(ANY.encode(ANY.fromObject({ type_url: TYPE.CLUSTER, value })).finish());
    expect(encodeAny(TYPE.CLUSTER, value)).toEqual(want);
    const decoded = ANY.decode(encodeAny(TYPE.LISTENER, value)) as unknown as { type_url: string; value: Uint8Array };
    expect(decoded.type_url).toBe(TYPE.LISTENER);
    expect(Buffer.from(decoded.value)).toEqual(value);
  });
});

describe('hand-framed discovery responses', () => {
  const clusters = ['a', 'b', 'c'].map((n) => resourceFromJson(TYPE.CLUSTER, { name: n, type: 'STATIC', connect_timeout: '1.5s' }));

  it('a DiscoveryResponse from pre-framed fields decodes with protobufjs and equals its encoding byte for byte', () => {
    const version = 'v-Ab_12';
    const nonce = '42';
    const framed = Buffer.concat([stringField(1, version), ...clusters.map((c) => c.sotwField), stringField(4, TYPE.CLUSTER), stringField(5, nonce)]);

    const decoded = DISCOVERY_RESPONSE.decode(framed) as unknown as {
      version_info: string;
      type_url: string;
      nonce: string;
      resources: { type_url: string; value: Uint8Array }[];
    };
    expect(decoded.version_info).toBe(version);
    expect(decoded.type_url).toBe(TYPE.CLUSTER);
    expect(decoded.nonce).toBe(nonce);
    expect(decoded.resources.map((r) => r.type_url)).toEqual([TYPE.CLUSTER, TYPE.CLUSTER, TYPE.CLUSTER]);
    expect(decoded.resources.map((r) => Buffer.from(r.value))).toEqual(clusters.map((c) => c.body));
    const cluster = messageType(TYPE.CLUSTER);
    expect(decoded.resources.map((r) => (cluster.decode(r.value) as unknown as { name: string }).name)).toEqual(['a', 'b', 'c']);

    const viaProtobufjs = Buffer.from(
      DISCOVERY_RESPONSE.encode(
        DISCOVERY_RESPONSE.fromObject({
          version_info: version,
          resources: clusters.map((c) => ({ type_url: TYPE.CLUSTER, value: c.body })),
          type_url: TYPE.CLUSTER,
          nonce,
        }),
      ).finish(),
    );
    expect(framed).toEqual(viaProtobufjs);
  });

  it('a DeltaDiscoveryResponse from pre-framed Resource entries decodes with version, name and resource', () => {
    const framed = Buffer.concat([...clusters.map((c) => c.deltaField), stringField(4, TYPE.CLUSTER), stringField(5, '7')]);
    const decoded = DELTA_RESPONSE.decode(framed) as unknown as {
      type_url: string;
      nonce: string;
      resources: { name: string; version: string; resource: { type_url: string; value: Uint8Array } }[];
    };
    expect(decoded.type_url).toBe(TYPE.CLUSTER);
    expect(decoded.nonce).toBe('7');
    expect(decoded.resources.map((r) => [r.name, r.version])).toEqual(clusters.map((c) => [c.name, c.version]));
    expect(decoded.resources.map((r) => r.resource.type_url)).toEqual([TYPE.CLUSTER, TYPE.CLUSTER, TYPE.CLUSTER]);
    expect(decoded.resources.map((r) => Buffer.from(r.resource.value))).toEqual(clusters.map((c) => c.body));

    const viaProtobufjs = Buffer.from(
      DELTA_RESPONSE.encode(
        DELTA_RESPONSE.fromObject({
          resources: clusters.map((c) => ({ version: c.version, resource: { type_url: TYPE.CLUSTER, value: c.body }, name: c.name })),
          type_url: TYPE.CLUSTER,
          nonce: '7',
        }),
      ).finish(),
    );
    expect(framed).toEqual(viaProtobufjs);
  });

  it('a large resource (length needing a 3-byte varint) frames correctly', () => {
    const big = resourceFromJson(TYPE.ROUTE, {
      name: 'big',
      virtual_hosts: Array.from({ length: 800 }, (_, i) => ({ name: `vh-${i}`, domains: [`host-${i}.example.com`] })),
    });
    expect(big.body.length).toBeGreaterThan(16384);
    const decoded = DISCOVERY_RESPONSE.decode(Buffer.concat([big.sotwField, stringField(4, TYPE.ROUTE)])) as unknown as { resources: { value: Uint8Array }[] };
    expect(Buffer.from(decoded.resources[0]!.value).equals(big.body)).toBe(true);
  });
});
