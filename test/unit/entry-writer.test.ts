// Response entries written straight into a response buffer (src/xds/entry-writer.ts) must be the
// bytes protobufjs writes for the same DiscoveryResponse / DeltaDiscoveryResponse entry: body
// sizes around varint boundaries, names with multi-byte characters, an empty body.
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { deltaEntrySize, sotwEntrySize, writeDeltaEntry, writeSotwEntry } from '../../src/xds/entry-writer.js';
import { resourceFromBytes, type Resource } from '../../src/xds/resource.js';
import { ADS_ORDER } from '../../src/xds/type-urls.js';
import { rng } from '../helpers/rng.js';

/** What protobufjs writes for the SotW entry (field 2, Any) and the Delta entry (field 2, Resource). */
function reference(r: Resource): { sotw: Buffer; delta: Buffer } {
  const any = protobuf.Writer.create().uint32(10).string(r.typeUrl).uint32(18).bytes(r.body).finish();
  const sotw = Buffer.from(protobuf.Writer.create().uint32(18).bytes(any).finish());
  const inner = protobuf.Writer.create().uint32(10).string(r.version).uint32(18).bytes(any);
  if (r.name !== '') inner.uint32(26).string(r.name);
  const delta = Buffer.from(protobuf.Writer.create().uint32(18).bytes(inner.finish()).finish());
  return { sotw, delta };
}

const NAME_CHARS = ['a', 'z', '0', '-', '.', '/', 'é', 'ß', '中', '😀'];

describe('entry writer', () => {
  it('writes what protobufjs writes, at any offset, for random resources of every type', () => {
    const rand = rng(7);
    const sizes = [0, 1, 100, 127, 128, 129, 16383, 16384, 16385, 70_000];
    for (let i = 0; i < 200; i++) {
      const size = i < sizes.length ? sizes[i]! : Math.floor(rand() * 3000);
      const body = Buffer.alloc(size);
      for (let k = 0; k < size; k++) body[k] = Math.floor(rand() * 256);
      let name = '';
      const len = 1 + Math.floor(rand() * (rand() < 0.1 ? 200 : 20));
      for (let k = 0; k < len; k++) name += NAME_CHARS[Math.floor(rand() * NAME_CHARS.length)];
      const r = resourceFromBytes(ADS_ORDER[i % ADS_ORDER.length]!, name, body);
      const ref = reference(r);
      expect(sotwEntrySize(r), `sotw size ${i}`).toBe(ref.sotw.length);
      expect(deltaEntrySize(r), `delta size ${i}`).toBe(ref.delta.length);
      const at = 3 + (i % 5);
      const buf = Buffer.alloc(at + ref.delta.length + ref.sotw.length + 2, 0xee);
      const mid = writeDeltaEntry(buf, at, r);
      expect(mid - at).toBe(ref.delta.length);
      const end = writeSotwEntry(buf, mid, r);
      expect(buf.subarray(at, mid).equals(ref.delta), `delta bytes ${i}`).toBe(true);
      expect(buf.subarray(mid, end).equals(ref.sotw), `sotw bytes ${i}`).toBe(true);
      expect(buf[end]).toBe(0xee);
      expect(buf[at - 1]).toBe(0xee);
      // The per-resource fields are the same bytes.
      expect(r.sotwField.equals(ref.sotw)).toBe(true);
      expect(r.deltaField.equals(ref.delta)).toBe(true);
    }
  });
});
