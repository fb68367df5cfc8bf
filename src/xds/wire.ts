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
