// HPACK codec (src/xds/h2/hpack.ts): the RFC 7541 Appendix C examples (integers, single fields,
// request and response series with and without Huffman, with dynamic table sizes), a round trip
// through encodeHeaderBlock, Huffman coding of every octet, malformed blocks (each must throw
// HpackError), random input (never anything but HpackError), and header blocks written by a real
// HTTP/2 client (node:http2, i.e. nghttp2) read off the wire by a raw TCP server.
import http2 from 'node:http2';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { HpackDecoder, HpackError, decodeInteger, encodeHeaderBlock, encodeInteger } from '../../src/xds/h2/hpack.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from '../../src/xds/h2/huffman-table.js';
import { FLAG_ACK, FLAG_END_HEADERS, FLAG_PADDED, FLAG_PRIORITY, FrameType, frame, PREFACE } from '../../src/xds/h2/frames.js';
import { rng } from '../helpers/rng.js';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

// A tiny Huffman encoder built straight from the table, to make test inputs: codes as bit
// strings, padded with 1 bits to a whole octet.
function huffmanEncode(octets: Buffer): Buffer {
  let bits = '';
  for (const o of octets) bits += codeBits(o);
  bits += '1'.repeat((8 - (bits.length % 8)) % 8);
  const out = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(bits.slice(8 * i, 8 * i + 8), 2);
  return out;
}

function codeBits(sym: number): string {
  const code = HUFFMAN_CODES[sym] ?? 0;
  const len = HUFFMAN_LENGTHS[sym] ?? 0;
  return code.toString(2).padStart(len, '0');
}

// A string literal with the H bit set.
function huffmanLiteral(octets: Buffer): Buffer {
  const coded = huffmanEncode(octets);
  return Buffer.concat([encodeInteger(coded.length, 7, 0x80), coded]);
}

function expectHpackError(block: Buffer, decoder = new HpackDecoder()): void {
  expect(() => decoder.decode(block)).toThrow(HpackError);
}

describe('Huffman table', () => {
  it('has 257 codes forming a complete prefix code, with EOS last', () => {
    expect(HUFFMAN_CODES).toHaveLength(257);
    expect(HUFFMAN_LENGTHS).toHaveLength(257);
    // Kraft sum of a complete code is exactly 1 (exact in binary floating point at these lengths).
    expect(HUFFMAN_LENGTHS.reduce((s, l) => s + 2 ** -l, 0)).toBe(1);
    expect(HUFFMAN_CODES[256]).toBe(0x3fffffff);
    expect(HUFFMAN_LENGTHS[256]).toBe(30);
    // Spot checks from RFC 7541 Appendix B.
    expect(codeBits(0x30)).toBe('00000'); // '0'
    expect(codeBits(0x61)).toBe('00011'); // 'a'
    expect(codeBits(0x20)).toBe('010100'); // ' '
    expect(codeBits(0x00)).toBe('1111111111000');
  });
});

describe('integers (RFC 7541 C.1)', () => {
  it('C.1.1: 10 with a 5-bit prefix', () => {
    expect(encodeInteger(10, 5)).toEqual(hex('0a'));
    expect(decodeInteger(hex('0a'), 0, 5)).toEqual({ value: 10, end: 1 });
  });
  it('C.1.2: 1337 with a 5-bit prefix', () => {
    expect(encodeInteger(1337, 5)).toEqual(hex('1f9a0a'));
    expect(decodeInteger(hex('1f9a0a'), 0, 5)).toEqual({ value: 1337, end: 3 });
  });
  it('C.1.3: 42 at an octet boundary (8-bit prefix)', () => {
    expect(encodeInteger(42, 8)).toEqual(hex('2a'));
    expect(decodeInteger(hex('2a'), 0, 8)).toEqual({ value: 42, end: 1 });
  });
  it('keeps the flag bits, ignores them when decoding, and round-trips edge values', () => {
    for (const prefix of [4, 5, 6, 7, 8]) {
      for (const v of [0, 1, 14, 15, 16, 30, 31, 62, 63, 126, 127, 128, 255, 256, 4096, 2 ** 21, 2 ** 31 - 1]) {
        const flags = prefix === 8 ? 0 : 0x80;
        const enc = encodeInteger(v, prefix, flags);
        expect((enc[0] ?? 0) & flags).toBe(flags);
        expect(decodeInteger(Buffer.concat([hex('ff'), enc]), 1, prefix)).toEqual({ value: v, end: enc.length + 1 });
      }
    }
  });
  it('rejects a value above 2^31 - 1, a run past the buffer, and too many continuation bytes', () => {
    expect(() => decodeInteger(encodeInteger(2 ** 31 - 1, 5), 0, 5)).not.toThrow();
    expect(() => decodeInteger(hex('1fe1ffffff07'), 0, 5)).toThrow(HpackError); // exactly 2^31
    expect(() => decodeInteger(hex('1f'), 0, 5)).toThrow(HpackError);
    expect(() => decodeInteger(hex('1f8080'), 0, 5)).toThrow(HpackError);
    expect(() => decodeInteger(hex(''), 0, 5)).toThrow(HpackError);
    expect(() => decodeInteger(hex('1f808080808000'), 0, 5)).toThrow(HpackError);
  });
});

describe('single fields (RFC 7541 C.2)', () => {
  it('C.2.1: literal with indexing', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'))).toEqual([
      ['custom-key', 'custom-header'],
    ]);
    expect(d.tableSize).toBe(55);
  });
  it('C.2.2: literal without indexing', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('040c 2f73 616d 706c 652f 7061 7468'))).toEqual([[':path', '/sample/path']]);
    expect(d.tableSize).toBe(0);
  });
  it('C.2.3: literal never indexed', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'))).toEqual([['password', 'secret']]);
    expect(d.tableSize).toBe(0);
  });
  it('C.2.4: indexed field', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('82'))).toEqual([[':method', 'GET']]);
    expect(d.tableSize).toBe(0);
  });
});

type Step = { block: string; headers: Array<[string, string]>; size: number };

function runSeries(maxTableSize: number, steps: Step[]): void {
  const d = new HpackDecoder(maxTableSize);
  for (const step of steps) {
    expect(d.decode(hex(step.block))).toEqual(step.headers);
    expect(d.tableSize).toBe(step.size);
  }
}

const REQ1: Array<[string, string]> = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const REQ2: Array<[string, string]> = [...REQ1, ['cache-control', 'no-cache']];
const REQ3: Array<[string, string]> = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];

const RESP1: Array<[string, string]> = [
  [':status', '302'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
  ['location', 'https://www.example.com'],
];
const RESP2: Array<[string, string]> = [[':status', '307'], ...RESP1.slice(1)];
const RESP3: Array<[string, string]> = [
  [':status', '200'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
  ['location', 'https://www.example.com'],
  ['content-encoding', 'gzip'],
  ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
];

describe('header list series (RFC 7541 C.3-C.6)', () => {
  it('C.3: requests without Huffman', () => {
    runSeries(4096, [
      { block: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', headers: REQ1, size: 57 },
      { block: '8286 84be 5808 6e6f 2d63 6163 6865', headers: REQ2, size: 110 },
      { block: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65', headers: REQ3, size: 164 },
    ]);
  });

  it('C.4: requests with Huffman', () => {
    runSeries(4096, [
      { block: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', headers: REQ1, size: 57 },
      { block: '8286 84be 5886 a8eb 1064 9cbf', headers: REQ2, size: 110 },
      { block: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', headers: REQ3, size: 164 },
    ]);
  });

  it('C.5: responses without Huffman, 256-byte table with eviction', () => {
    runSeries(256, [
      {
        block: `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
                2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
                6c65 2e63 6f6d`,
        headers: RESP1,
        size: 222,
      },
      { block: '4803 3330 37c1 c0bf', headers: RESP2, size: 222 },
      {
        block: `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
                54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
                5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
                3d31`,
        headers: RESP3,
        size: 215,
      },
    ]);
  });

  it('C.6: responses with Huffman, 256-byte table with eviction', () => {
    runSeries(256, [
      {
        block: `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
                2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
        headers: RESP1,
        size: 222,
      },
      { block: '4883 640e ffc1 c0bf', headers: RESP2, size: 222 },
      {
        block: `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
                77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
                9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
        headers: RESP3,
        size: 215,
      },
    ]);
  });
});

describe('dynamic table', () => {
  it('an entry larger than the table empties it without error', () => {
    const d = new HpackDecoder(100);
    d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')); // 55 bytes
    expect(d.tableSize).toBe(55);
    const big = Buffer.concat([hex('40'), encodeInteger(3, 7), Buffer.from('big'), encodeInteger(70, 7), Buffer.alloc(70, 0x78)]);
    expect(d.decode(big)).toEqual([['big', 'x'.repeat(70)]]);
    expect(d.tableSize).toBe(0);
    expectHpackError(hex('be'), d);
  });

  it('size updates at the start of a block shrink and evict, and may grow back up to the maximum', () => {
    const d = new HpackDecoder();
    d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'));
    expect(d.tableSize).toBe(57);
    // Two updates (to 0, then back to 4096) before a field referring to the static table.
    expect(d.decode(Buffer.concat([hex('20'), encodeInteger(4096, 5, 0x20), hex('82')]))).toEqual([[':method', 'GET']]);
    expect(d.tableSize).toBe(0);
    expectHpackError(hex('be'), d);
    // A size update may also be the whole block.
    expect(d.decode(encodeInteger(100, 5, 0x20))).toEqual([]);
  });
});

describe('encodeHeaderBlock', () => {
  it('writes :status from the static table as an indexed field and the rest as literals without indexing', () => {
    expect(encodeHeaderBlock([[':status', '200']])).toEqual(hex('88'));
    expect(encodeHeaderBlock([[':status', '500']])).toEqual(hex('8e'));
    // :status outside the static table: literal without indexing, name index 8.
    expect(encodeHeaderBlock([[':status', '302']])).toEqual(Buffer.concat([hex('0803'), Buffer.from('302')]));
    // content-type is static index 31: 4-bit prefix 15 then 16.
    expect(encodeHeaderBlock([['content-type', 'application/grpc']])).toEqual(
      Buffer.concat([hex('0f10'), hex('10'), Buffer.from('application/grpc')]),
    );
    // A name not in the static table is written literally.
    expect(encodeHeaderBlock([['grpc-status', '0']])).toEqual(
      Buffer.concat([hex('00'), hex('0b'), Buffer.from('grpc-status'), hex('01'), Buffer.from('0')]),
    );
  });

  it('round-trips through the decoder and leaves its dynamic table empty', () => {
    const headers: Array<[string, string]> = [
      [':status', '200'],
      ['content-type', 'application/grpc'],
      ['grpc-encoding', 'identity'],
      ['x-long', 'v'.repeat(300)],
      ['x-octets', Buffer.from(Array.from({ length: 223 }, (_, i) => i + 0x21)).toString('latin1')],
      ['x-empty', ''],
      [':status', '418'],
      ['grpc-status', '0'],
      ['grpc-message', 'all%20good'],
    ];
    const d = new HpackDecoder(0);
    expect(d.decode(encodeHeaderBlock(headers))).toEqual(headers);
    expect(d.decode(encodeHeaderBlock(headers))).toEqual(headers);
    expect(d.tableSize).toBe(0);
  });

  it('rejects upper-case names and characters above 0xff', () => {
    expect(() => encodeHeaderBlock([['Content-Type', 'x']])).toThrow(Error);
    expect(() => encodeHeaderBlock([['x-a', 'caf\u00e9']])).not.toThrow();
    expect(() => encodeHeaderBlock([['x-a', '\u20ac']])).toThrow(Error);
  });
});

describe('Huffman decoding', () => {
  it('round-trips every octet value, alone and all together, in names and values', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const d = new HpackDecoder();
    for (let i = 0; i < 256; i++) {
      const one = Buffer.from([i, i, i]);
      const block = Buffer.concat([hex('00'), huffmanLiteral(one), huffmanLiteral(one.subarray(0, 1))]);
      expect(d.decode(block)).toEqual([[one.toString('latin1'), one.subarray(0, 1).toString('latin1')]]);
    }
    const reversed = Buffer.from(all).reverse();
    const block = Buffer.concat([hex('40'), huffmanLiteral(all), huffmanLiteral(reversed)]);
    expect(d.decode(block)).toEqual([[all.toString('latin1'), reversed.toString('latin1')]]);
    // The entry went into the dynamic table with its decoded length.
    expect(d.tableSize).toBe(256 + 256 + 32);
    expect(d.decode(hex('be'))).toEqual([[all.toString('latin1'), reversed.toString('latin1')]]);
  });

  it('decodes an empty Huffman string and strings of every padding length 0..7', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('0480'))).toEqual([[':path', '']]);
    // 'a' (5 bits) repeated n times needs 5n bits: padding is (8 - 5n % 8) % 8, covering 0..7.
    for (let n = 1; n <= 8; n++) {
      const text = Buffer.from('a'.repeat(n));
      expect(d.decode(Buffer.concat([hex('04'), huffmanLiteral(text)]))).toEqual([[':path', 'a'.repeat(n)]]);
    }
  });
});

describe('malformed blocks throw HpackError', () => {
  const cases: Array<[string, Buffer]> = [
    ['a truncated integer', hex('ff')],
    ['a truncated integer continuation', hex('ff80')],
    ['an integer above 2^31 - 1', hex('ffffffffff0f')],
    ['index 0', hex('80')],
    ['an index beyond the static table with an empty dynamic table', hex('be')],
    ['an index far beyond the tables', hex('ff8001')],
    ['a literal name index beyond the tables', hex('7f0001 61')],
    ['a string longer than the block', Buffer.concat([hex('0405'), Buffer.from('abc')])],
    ['a name string longer than the block', Buffer.concat([hex('0005'), Buffer.from('ab')])],
    ['a literal with its value missing', Buffer.concat([hex('0003'), Buffer.from('abc')])],
    // 32 one bits: EOS (30 ones) fully inside the string.
    ['EOS inside a Huffman string', hex('0484ffffffff')],
    // 'a' then EOS then padding, across byte boundaries: 00011 + 30 ones + 5 ones = 40 bits.
    ['EOS after a symbol', hex('04851fffffffff')],
    // 'a' (00011) + 111 then a whole byte of ones: 11 bits of padding.
    ['padding longer than 7 bits', hex('04821fff')],
    // Only padding: one byte of ones.
    ['a Huffman string of 8 padding bits', hex('0481ff')],
    // 'a' (00011) + 110: the padding has a 0 bit.
    ['padding containing a 0 bit', hex('04811e')],
    ['padding of all 0 bits', hex('048118')],
    ['a size update above the maximum', encodeInteger(4097, 5, 0x20)],
    ['a size update after a field', hex('8220')],
  ];
  for (const [what, block] of cases) {
    it(what, () => expectHpackError(block));
  }

  it('a size update above a smaller constructor maximum', () => {
    expectHpackError(encodeInteger(257, 5, 0x20), new HpackDecoder(256));
    expect(new HpackDecoder(256).decode(encodeInteger(256, 5, 0x20))).toEqual([]);
  });

  it('2000 random byte strings, and mutated valid blocks, never throw anything but HpackError', () => {
    const next = rng(7541);
    const valid = [
      hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'),
      hex('4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6'),
      hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'),
    ];
    const shared = new HpackDecoder();
    let decoded = 0;
    for (let i = 0; i < 2000; i++) {
      let block: Buffer;
      if (i % 2 === 0) {
        block = Buffer.from(Array.from({ length: Math.floor(next() * 48) }, () => Math.floor(next() * 256)));
      } else {
        block = Buffer.from(valid[i % valid.length] ?? hex(''));
        const flips = 1 + Math.floor(next() * 3);
        for (let f = 0; f < flips && block.length > 0; f++) block[Math.floor(next() * block.length)] = Math.floor(next() * 256);
        block = block.subarray(0, Math.floor(next() * (block.length + 1)));
      }
      for (const d of [new HpackDecoder(), shared]) {
        try {
          d.decode(block);
          decoded++;
        } catch (err) {
          if (!(err instanceof HpackError)) throw new Error(`seed 7541 case ${i}: ${String(err)} for ${block.toString('hex')}`);
        }
      }
    }
    // Some inputs are valid, some not: both paths were exercised.
    expect(decoded).toBeGreaterThan(0);
    expect(decoded).toBeLessThan(4000);
  });
});

// ---------------------------------------------------------------------------------------------
// A real HTTP/2 client: node:http2 sends requests to a raw TCP server that reads the connection
// preface and frames and hands back the header block of each request (HEADERS + CONTINUATION,
// with PADDED and PRIORITY fields stripped).

/** Listens, and resolves with the first `count` request header blocks one client connection sends. */
async function captureHeaderBlocks(
  count: number,
  send: (port: number) => () => void,
): Promise<Array<{ streamId: number; flags: number; block: Buffer }>> {
  const blocks: Array<{ streamId: number; flags: number; block: Buffer }> = [];
  let cleanup = (): void => {};
  const server = net.createServer();
  try {
    return await new Promise((resolve, reject) => {
      server.on('error', reject);
      server.on('connection', (socket) => {
        socket.on('error', () => {});
        // Our (empty) SETTINGS: defaults everywhere, including a 4096-byte header table.
        socket.write(frame(FrameType.SETTINGS, 0, 0));
        let buf = Buffer.alloc(0);
        let prefaceSeen = false;
        let pending: { streamId: number; flags: number; parts: Buffer[] } | undefined;
        socket.on('data', (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          if (!prefaceSeen) {
            if (buf.length < PREFACE.length) return;
            if (!buf.subarray(0, PREFACE.length).equals(PREFACE)) return reject(new Error('bad connection preface'));
            buf = buf.subarray(PREFACE.length);
            prefaceSeen = true;
          }
          while (buf.length >= 9) {
            const length = buf.readUIntBE(0, 3);
            if (buf.length < 9 + length) break;
            const type = buf[3] ?? 0;
            const flags = buf[4] ?? 0;
            const streamId = buf.readUInt32BE(5) & 0x7fffffff;
            let payload = buf.subarray(9, 9 + length);
            buf = buf.subarray(9 + length);
            if (type === FrameType.SETTINGS && !(flags & FLAG_ACK)) socket.write(frame(FrameType.SETTINGS, FLAG_ACK, 0));
            if (type === FrameType.HEADERS) {
              if (flags & FLAG_PADDED) {
                const padLength = payload[0] ?? 0;
                payload = payload.subarray(1, payload.length - padLength);
              }
              if (flags & FLAG_PRIORITY) payload = payload.subarray(5);
              pending = { streamId, flags, parts: [payload] };
            } else if (type === FrameType.CONTINUATION && pending) {
              pending.parts.push(payload);
            } else {
              continue;
            }
            if (flags & FLAG_END_HEADERS && pending) {
              blocks.push({ streamId: pending.streamId, flags: pending.flags, block: Buffer.concat(pending.parts) });
              pending = undefined;
              if (blocks.length === count) resolve(blocks);
            }
          }
        });
      });
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (address === null || typeof address === 'string') return reject(new Error('no port'));
        cleanup = send(address.port);
      });
    });
  } finally {
    cleanup();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('header blocks from node:http2 (nghttp2)', () => {
  it('decodes two requests on one connection, the second through the dynamic table', async () => {
    const longValue = 'token-' + 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(8);
    const blocks = await captureHeaderBlocks(2, (port) => {
      const client = http2.connect(`http://127.0.0.1:${port}`, {
        paddingStrategy: http2.constants.PADDING_STRATEGY_MAX,
      });
      client.on('error', () => {});
      for (const path of ['/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', '/second?x=1']) {
        const req = client.request({
          ':method': 'POST',
          ':path': path,
          'content-type': 'application/grpc',
          'x-custom-long': longValue,
        });
        req.on('error', () => {});
        req.end();
      }
      return () => client.destroy();
    });

    const decoder = new HpackDecoder();
    const [first, second] = blocks;
    if (!first || !second) throw new Error('expected two header blocks');
    expect([first.streamId, second.streamId]).toEqual([1, 3]);
    // PADDING_STRATEGY_MAX makes nghttp2 pad its HEADERS frames, so the stripping above ran.
    expect(first.flags & FLAG_PADDED).toBe(FLAG_PADDED);

    const h1 = decoder.decode(first.block);
    const size1 = decoder.tableSize;
    const h2 = decoder.decode(second.block);
    const get = (hs: Array<[string, string]>, name: string): string | undefined => hs.find(([n]) => n === name)?.[1];

    expect(get(h1, ':method')).toBe('POST');
    expect(get(h1, ':path')).toBe('/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources');
    expect(get(h1, ':scheme')).toBe('http');
    expect(get(h1, ':authority')).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(get(h1, 'content-type')).toBe('application/grpc');
    expect(get(h1, 'x-custom-long')).toBe(longValue);

    expect(get(h2, ':method')).toBe('POST');
    expect(get(h2, ':path')).toBe('/second?x=1');
    expect(get(h2, ':scheme')).toBe('http');
    expect(get(h2, ':authority')).toBe(get(h1, ':authority'));
    expect(get(h2, 'x-custom-long')).toBe(longValue);

    // nghttp2 indexed fields of the first request, and the second block refers to them instead of
    // repeating the long value: it is far shorter than that value.
    expect(size1).toBeGreaterThan(longValue.length);
    expect(first.block.length).toBeGreaterThan(longValue.length / 2);
    expect(second.block.length).toBeLessThan(longValue.length / 4);
    // The long value went over the wire Huffman-coded: its raw octets are not in the block, its
    // Huffman string literal (H bit, length, code) is.
    expect(first.block.includes(Buffer.from(longValue, 'latin1'))).toBe(false);
    expect(first.block.includes(huffmanLiteral(Buffer.from(longValue, 'latin1')))).toBe(true);
  });
});
