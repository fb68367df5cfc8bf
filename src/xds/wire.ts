// Hand-assembled protobuf framing for discovery responses. Resources are encoded once per
// snapshot; a response is the concatenation of pre-framed fields, so no resource is ever
// re-serialised per client. Written by hand because it is the hot path and is a few lines.

/** Bytes of a base-128 varint (values below 2^53). */
export function varint(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint: ${n} is not a non-negative safe integer`);
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** Tag + length + payload for a length-delimited field (wire type 2). */
export function lengthDelimited(field: number, payload: Uint8Array): Buffer {
  // field * 8, not field << 3: field numbers reach 2^29 - 1, and << works on signed 32 bits.
  return Buffer.concat([varint(field * 8 + 2), varint(payload.length), payload]);
}

export function stringField(field: number, value: string): Buffer {
  if (value === '') return Buffer.alloc(0);
  return lengthDelimited(field, Buffer.from(value, 'utf8'));
}

/** google.protobuf.Any { type_url = 1; value = 2 } */
export function encodeAny(typeUrl: string, value: Uint8Array): Buffer {
  return Buffer.concat([stringField(1, typeUrl), lengthDelimited(2, value)]);
}

/** Bytes of a varint below 2^53, without making it. */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 5;
  for (n = Math.floor(n / 0x800000000); n > 0; n = Math.floor(n / 0x80)) size++;
  return size;
}

/** Write a varint below 2^53 at `off`; returns the offset after it. */
export function writeVarint(buf: Uint8Array, off: number, n: number): number {
  // Below 2^31 in 32-bit integer arithmetic (lengths, ports).
  if (n < 0x80000000) {
    while (n > 0x7f) {
      buf[off++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[off++] = n;
    return off;
  }
  while (n >= 0x80) {
    buf[off++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[off++] = n;
  return off;
}

/** Below this many UTF-16 units a string is measured and written in JS: a call into Buffer's native code costs more. */
const SHORT = 64;

/**
 * What Buffer.byteLength(s, 'utf8') gives (a lone surrogate counts 3, as Buffer writes U+FFFD
 * for it), counted in JS for short strings.
 */
export function utf8Length(s: string): number {
  const n = s.length;
  if (n >= SHORT) return Buffer.byteLength(s, 'utf8');
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a pair: 4 bytes for 2 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * Write `s` as UTF-8 (`bytes` = utf8Length(s)) at `off`, as buf.write does; returns the offset
 * after it. A short ASCII string (as many bytes as units) is copied unit by unit.
 */
export function writeUtf8(buf: Buffer, off: number, s: string, bytes: number): number {
  const n = s.length;
  if (bytes !== n || n >= SHORT) return off + buf.write(s, off, bytes, 'utf8');
  for (let i = 0; i < n; i++) buf[off + i] = s.charCodeAt(i);
  return off + n;
}
