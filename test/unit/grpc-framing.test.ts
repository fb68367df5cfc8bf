// gRPC length-prefixed framing (src/xds/grpc/framing.ts): messages split across chunks at every
// possible point, several messages per chunk, empty messages, and the two errors (a length
// above the limit, announced before its body arrives; a flag byte other than 0 and 1).
import { describe, expect, it } from 'vitest';
import { Deframer, frameHeader } from '../../src/xds/grpc/framing.js';
import { encodeGrpcMessage } from '../../src/xds/grpc/status.js';
import { rng } from '../helpers/rng.js';

function frame(msg: Buffer, flag = 0): Buffer {
  const h = frameHeader(msg.length);
  h[0] = flag;
  return Buffer.concat([h, msg]);
}

function feed(d: Deframer, chunks: Buffer[]): { messages: Array<[string, boolean]>; error: unknown } {
  const messages: Array<[string, boolean]> = [];
  for (const c of chunks) {
    const error = d.push(c, (m, compressed) => messages.push([m.toString('latin1'), compressed]));
    if (error) return { messages, error };
  }
  return { messages, error: null };
}

describe('gRPC message framing', () => {
  const msgs = [Buffer.from('first message'), Buffer.alloc(0), Buffer.from('x'.repeat(70_000)), Buffer.from([0, 1, 2, 3, 4, 5])];
  const stream = Buffer.concat(msgs.map((m) => frame(m)));
  const expected = msgs.map((m) => [m.toString('latin1'), false]);

  it('every split of a stream of messages into two chunks gives the same messages', () => {
    for (let cut = 0; cut <= stream.length; cut += cut < 40 || cut > stream.length - 40 ? 1 : 997) {
      const d = new Deframer(1 << 20);
      const { messages, error } = feed(d, [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(error).toBeNull();
      expect(messages, `cut at ${cut}`).toEqual(expected);
      expect(d.partial).toBe(false);
    }
  });

  it('random chunkings (one byte at a time included) give the same messages', () => {
    const r = rng(5);
    for (let run = 0; run < 60; run++) {
      const chunks: Buffer[] = [];
      const maxChunk = run === 0 ? 1 : 1 + Math.floor(r() * (run % 2 ? 8 : 20_000));
      for (let off = 0; off < stream.length; ) {
        const n = Math.min(stream.length - off, 1 + Math.floor(r() * maxChunk));
        chunks.push(stream.subarray(off, off + n));
        off += n;
      }
      const { messages, error } = feed(new Deframer(1 << 20), chunks);
      expect(error).toBeNull();
      expect(messages, `run ${run}`).toEqual(expected);
    }
  });

  it('a message inside one chunk is a view of it (no copy); a split one is gathered', () => {
    const chunk = frame(Buffer.from('abc'));
    const got: Buffer[] = [];
    new Deframer(100).push(chunk, (m) => got.push(m));
    expect(got[0]!.buffer).toBe(chunk.buffer);
    const d = new Deframer(100);
    d.push(chunk.subarray(0, 6), (m) => got.push(m));
    expect(d.partial).toBe(true);
    d.push(chunk.subarray(6), (m) => got.push(m));
    expect(got[1]!.toString()).toBe('abc');
  });

  it('the compressed flag is reported with the message', () => {
    expect(feed(new Deframer(100), [frame(Buffer.from('z'), 1)]).messages).toEqual([['z', true]]);
  });

  it('a length above the limit is refused from the header alone; so is a flag other than 0 or 1', () => {
    const big = frameHeader(101);
    expect(feed(new Deframer(100), [big]).error).toEqual({ kind: 'too_large', value: 101 });
    expect(feed(new Deframer(100), [big.subarray(0, 2), big.subarray(2)]).error).toEqual({ kind: 'too_large', value: 101 });
    expect(feed(new Deframer(101), [frame(Buffer.alloc(101))]).error).toBeNull();
    expect(feed(new Deframer(100), [frame(Buffer.from('a'), 2)]).error).toEqual({ kind: 'bad_flag', value: 2 });
    // Messages before the bad one are delivered.
    expect(feed(new Deframer(100), [Buffer.concat([frame(Buffer.from('ok')), frame(Buffer.from('a'), 0x80)])]).messages).toEqual([['ok', false]]);
  });

  it('grpc-message is percent-encoded (printable ASCII but % as is)', () => {
    expect(encodeGrpcMessage('plain text: ok')).toBe('plain text: ok');
    expect(encodeGrpcMessage('100% né\n')).toBe('100%25 n%C3%A9%0A');
    expect(decodeURIComponent(encodeGrpcMessage('ünïcødé 🚀 %'))).toBe('ünïcødé 🚀 %');
  });
});
