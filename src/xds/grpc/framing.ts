// gRPC length-prefixed messages: a 1-byte flag (0 plain, 1 compressed), a 4-byte big-endian
// length, then the message. Request bytes arrive in HTTP/2 DATA chunks of any size; a message
// may span chunks and a chunk may hold several messages. A message inside one chunk is passed
// on as a view of that chunk (no copy); one spread over chunks is gathered once.

/** Why a request stream cannot be read further. */
export interface FrameError {
  kind: 'too_large' | 'bad_flag';
  /** The announced length (too_large) or the flag byte (bad_flag). */
  value: number;
}

export type MessageSink = (message: Buffer, compressed: boolean) => void;

export class Deframer {
  /** Bytes of a header split across chunks (allocated the first time one is). */
  private head: Buffer | null = null;
  private headLen = 0;
  /** Length of the message being gathered; -1 while reading a header. */
  private need = -1;
  private compressed = false;
  private parts: Buffer[] = [];
  private have = 0;

  constructor(private readonly maxBytes: number) {}

  /** Feed one chunk; `sink` gets each complete message. Returns an error to stop reading. */
  push(chunk: Buffer, sink: MessageSink): FrameError | null {
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      if (this.need < 0) {
        let flag: number;
        let len: number;
        if (this.headLen === 0 && n - off >= 5) {
          flag = chunk[off]!;
          len = chunk.readUInt32BE(off + 1);
          off += 5;
        } else {
          const head = (this.head ??= Buffer.alloc(5));
          const take = Math.min(5 - this.headLen, n - off);
          chunk.copy(head, this.headLen, off, off + take);
          this.headLen += take;
          off += take;
          if (this.headLen < 5) return null;
          this.headLen = 0;
          flag = head[0]!;
          len = head.readUInt32BE(1);
        }
        if (flag > 1) return { kind: 'bad_flag', value: flag };
        if (len > this.maxBytes) return { kind: 'too_large', value: len };
        if (n - off >= len) {
          sink(chunk.subarray(off, off + len), flag === 1);
          off += len;
          continue;
        }
        this.need = len;
        this.compressed = flag === 1;
        this.parts.push(chunk.subarray(off));
        this.have = n - off;
        return null;
      }
      const take = Math.min(this.need - this.have, n - off);
      this.parts.push(take === n - off && off === 0 ? chunk : chunk.subarray(off, off + take));
      this.have += take;
      off += take;
      if (this.have === this.need) {
        const message = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.need);
        const compressed = this.compressed;
        this.parts = [];
        this.have = 0;
        this.need = -1;
        sink(message, compressed);
      }
    }
    return null;
  }

  /** Bytes of an incomplete message held (a stream that ends here ended mid-message). */
  get partial(): boolean {
    return this.headLen > 0 || this.need >= 0;
  }
}

/** The 5-byte header of an uncompressed message of `length` bytes. */
export function frameHeader(length: number): Buffer {
  const h = Buffer.allocUnsafe(5);
  h[0] = 0;
  h.writeUInt32BE(length, 1);
  return h;
}
