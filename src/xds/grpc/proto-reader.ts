// A protobuf wire-format reader over one Buffer: varints, fixed64, length-delimited slices,
// and skipping a field by its wire type. Errors are DecodeErrors (truncated input, a varint
// longer than 10 bytes, wire types 4, 6 and 7 where a field starts). Used by the hand-written
// request decoders (discovery-request.ts).

export class DecodeError extends Error {}

type Utf8Slice = (this: Buffer, start: number, end: number) => string;
// Buffer's own UTF-8 slice (what buf.toString('utf8', s, e) calls after checking its arguments).
const utf8Slice: Utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: Utf8Slice }).utf8Slice ?? function (this: Buffer, s: number, e: number) {
  return this.toString('utf8', s, e);
};

export class ProtoReader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  /** A varint as an unsigned 32-bit number (longer varints keep their low 32 bits). */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= this.end) throw this.truncated(1);
    let b = buf[pos++]!;
    let v = b & 0x7f;
    if (b < 0x80) {
      this.pos = pos;
      return v;
    }
    for (let shift = 7; shift < 35; shift += 7) {
      if (pos >= this.end) throw this.truncated(1);
      b = buf[pos++]!;
      v |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return v >>> 0;
      }
    }
    // Bytes 6 to 10 only carry high bits.
    for (let i = 5; i < 10; i++) {
      if (pos >= this.end) throw this.truncated(1);
      if (buf[pos++]! < 0x80) {
        this.pos = pos;
        return v >>> 0;
      }
    }
    throw new DecodeError(`invalid varint encoding at offset ${this.pos}`);
  }

  /** int32: the low 32 bits of the varint, signed. */
  int32(): number {
    return this.uint32() | 0;
  }

  bool(): boolean {
    return this.uint32() !== 0;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw this.truncated(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** The length prefix of a length-delimited field; returns the end of its payload. */
  delimited(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.end) throw this.truncated(len);
    return end;
  }

  string(): string {
    const end = this.delimited();
    const start = this.pos;
    this.pos = end;
    if (start === end) return '';
    return utf8Slice.call(this.buf, start, end);
  }

  /** Skip a field whose tag has just been read. */
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.uint32();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.pos = this.delimited();
        return;
      case 3: {
        // A group: skip fields until its end tag.
        for (;;) {
          const wt = this.uint32() & 7;
          if (wt === 4) return;
          this.skip(wt);
        }
      }
      case 5:
        this.advance(4);
        return;
      default:
        throw new DecodeError(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw this.truncated(n);
    this.pos += n;
  }

  private truncated(n: number): DecodeError {
    return new DecodeError(`index out of range: ${this.pos} + ${n} > ${this.end}`);
  }
}
