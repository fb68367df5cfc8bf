// A resource's entry in a discovery response, measured and written straight into the
// response's buffer: SotW `resources` (field 2, an Any) and Delta `resources` (field 2, a
// Resource{version = 1, resource = 2 (Any), name = 3}).
//
// A response is assembled once per distinct resource set (response-cache.ts). Writing each
// entry where it lands copies each body once; building a framed field per resource first and
// concatenating them copied every body twice and allocated a field per resource that most
// resources never needed again (a big gateway's first push: 20 000 fields, 8 MB).
import type { Resource } from './resource.js';
import { utf8Length, varintSize, writeUtf8, writeVarint } from './wire.js';

/** `Any.type_url` (field 1) with its tag and length, per type URL (type URLs are ASCII). */
const TYPE_URL_FIELD = new Map<string, Buffer>();

function typeUrlField(typeUrl: string): Buffer {
  let f = TYPE_URL_FIELD.get(typeUrl);
  if (!f) {
    const n = Buffer.byteLength(typeUrl, 'utf8');
    f = Buffer.allocUnsafe(1 + varintSize(n) + n);
    const off = writeVarint(f, 1, n);
    f[0] = 0x0a; // field 1, wire type 2
    f.write(typeUrl, off, 'utf8');
    TYPE_URL_FIELD.set(typeUrl, f);
  }
  return f;
}

/** Bytes of a length-delimited field (tag below 16) carrying `n` bytes. */
function ld(n: number): number {
  return 1 + varintSize(n) + n;
}

function anySize(r: Resource): number {
  return typeUrlField(r.typeUrl).length + ld(r.body.length);
}

function writeAny(buf: Buffer, off: number, r: Resource, size: number): number {
  buf[off++] = 0x12; // entry: field 2, wire type 2
  off = writeVarint(buf, off, size);
  off += typeUrlField(r.typeUrl).copy(buf, off);
  buf[off++] = 0x12; // Any.value: field 2, wire type 2
  off = writeVarint(buf, off, r.body.length);
  return off + r.body.copy(buf, off);
}

/** Bytes of `r`'s SotW entry (DiscoveryResponse.resources). */
export function sotwEntrySize(r: Resource): number {
  return ld(anySize(r));
}

/** Write `r`'s SotW entry at `off`; returns the offset after it. */
export function writeSotwEntry(buf: Buffer, off: number, r: Resource): number {
  return writeAny(buf, off, r, anySize(r));
}

function deltaInnerSize(r: Resource, nameBytes: number): number {
  return ld(r.version.length) + ld(anySize(r)) + (nameBytes > 0 ? ld(nameBytes) : 0);
}

/** Bytes of `r`'s Delta entry (DeltaDiscoveryResponse.resources). */
export function deltaEntrySize(r: Resource): number {
  return ld(deltaInnerSize(r, utf8Length(r.name)));
}

/** Write `r`'s Delta entry at `off`; returns the offset after it. */
export function writeDeltaEntry(buf: Buffer, off: number, r: Resource): number {
  const nameBytes = utf8Length(r.name);
  buf[off++] = 0x12; // entry: field 2, wire type 2
  off = writeVarint(buf, off, deltaInnerSize(r, nameBytes));
  // Resource.version (1): a content hash, ASCII; never empty.
  buf[off++] = 0x0a;
  off = writeVarint(buf, off, r.version.length);
  off += buf.write(r.version, off, 'latin1');
  // Resource.resource (2): the Any.
  off = writeAny(buf, off, r, anySize(r));
  if (nameBytes > 0) {
    buf[off++] = 0x1a; // Resource.name (3)
    off = writeVarint(buf, off, nameBytes);
    off = writeUtf8(buf, off, r.name, nameBytes);
  }
  return off;
}
