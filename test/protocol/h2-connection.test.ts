// meshgate's own HTTP/2 server connection (src/xds/h2/connection.ts) against node:http2's
// client (nghttp2) and raw sockets: flow control on responses larger than the client's
// windows, header blocks over CONTINUATION frames, protocol errors answered with GOAWAY, and
// streams refused above the concurrency limit. The gRPC-level behaviour over it (framing,
// statuses, keepalive, TLS, close) is in transport.test.ts, which runs on this transport.
import http2 from 'node:http2';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { H2Connection, type H2Stream } from '../../src/xds/h2/connection.js';
import { FLAG_ACK, FLAG_END_HEADERS, FrameType, frame, H2Error, PREFACE } from '../../src/xds/h2/frames.js';
import { encodeHeaderBlock } from '../../src/xds/h2/hpack.js';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

type Handler = (stream: H2Stream, headers: Record<string, string>) => void;

async function serve(handler: Handler, maxConcurrentStreams = 100): Promise<{ port: number; connections: H2Connection[] }> {
  const connections: H2Connection[] = [];
  const server = net.createServer((socket) => {
    const conn = new H2Connection(socket, { streamWindow: 1 << 20, connectionWindow: 1 << 21, maxConcurrentStreams });
    connections.push(conn);
    conn.on('stream', handler);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => {
    for (const c of connections) c.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, connections };
}

function client(port: number, settings: http2.Settings = {}, padded = false): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`, { settings, ...(padded ? { paddingStrategy: http2.constants.PADDING_STRATEGY_MAX } : {}) });
  s.on('error', () => undefined);
  cleanup.push(() => s.destroy());
  return s;
}

function collect(stream: http2.ClientHttp2Stream): Promise<{ body: Buffer; headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; frames: number }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('error', reject);
    stream.on('end', () => resolve({ body: Buffer.concat(parts), headers, trailers, frames: parts.length }));
  });
}

/** Read frames from a raw socket: [type, flags, streamId, payload]. */
function rawFrames(sock: net.Socket): Array<[number, number, number, Buffer]> {
  const out: Array<[number, number, number, Buffer]> = [];
  let buf = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
      const len = buf.readUIntBE(0, 3);
      out.push([buf[3]!, buf[4]!, buf.readUInt32BE(5) & 0x7fffffff, buf.subarray(9, 9 + len)]);
      buf = buf.subarray(9 + len);
    }
  });
  return out;
}

async function closedWithGoaway(port: number, bytes: Buffer): Promise<number> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  cleanup.push(() => sock.destroy());
  const frames = rawFrames(sock);
  await new Promise<void>((resolve) => sock.on('connect', () => resolve()));
  sock.write(bytes);
  await new Promise<void>((resolve) => sock.on('close', () => resolve()));
  const goaway = frames.find(([t]) => t === FrameType.GOAWAY);
  expect(goaway, 'a GOAWAY frame before the close').toBeDefined();
  return goaway![3].readUInt32BE(4);
}

describe('own HTTP/2 connection', () => {
  it('a response far larger than the client windows arrives whole and in order, paced by its WINDOW_UPDATEs', async () => {
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) & 0xff;
    const { port } = await serve((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      const small = Buffer.from('after');
      // A big message (queued: it is larger than the windows), then a small one that must not overtake it.
      let doneCalls = 0;
      expect(stream.writeMessage(big, Buffer.alloc(0), big.length, () => doneCalls++)).toBe(false);
      stream.writeMessage(small, Buffer.alloc(0), small.length, () => {
        expect(doneCalls).toBe(1);
        doneCalls++;
      });
      stream.end();
    });
    // A stream window of 1000 bytes: every frame the server sends must wait for the client's updates.
    const session = client(port, { initialWindowSize: 1000 });
    const req = session.request({ ':method': 'POST', ':path': '/x', 'content-type': 'application/grpc' });
    req.end();
    const got = await collect(req);
    expect(got.headers[':status']).toBe(200);
    expect(got.trailers['grpc-status']).toBe('0');
    expect(got.body.length).toBe(5 + big.length + 5 + 5);
    expect(got.body.readUInt32BE(1)).toBe(big.length);
    expect(got.body.subarray(5, 5 + big.length).equals(big)).toBe(true);
    expect(got.body.subarray(5 + big.length + 5).toString()).toBe('after');
    expect(got.frames).toBeGreaterThan(100); // at most 1000 bytes per frame
  });

  it('reads a header block spread over CONTINUATION frames, and a request body over many DATA frames, padded or not', async () => {
    const seen: Array<{ headers: Record<string, string>; body: Buffer }> = [];
    const { port } = await serve((stream, headers) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: Buffer) => parts.push(c));
      stream.on('end', () => {
        seen.push({ headers, body: Buffer.concat(parts) });
        stream.respond({ ':status': 200 }, { endStream: true });
      });
    });
    const long = 'v'.repeat(40_000); // > 16 KB: nghttp2 sends HEADERS + CONTINUATION
    const body = Buffer.alloc(100_000, 1);
    // The second client pads every HEADERS and DATA frame as much as it can.
    for (const padded of [false, true]) {
      const session = client(port, {}, padded);
      const req = session.request({ ':method': 'POST', ':path': padded ? '/padded' : '/y', 'x-long': long });
      req.end(body);
      const got = await collect(req);
      expect(got.headers[':status']).toBe(200);
    }
    expect(seen).toHaveLength(2);
    expect(seen.map((x) => x.headers[':path'])).toEqual(['/y', '/padded']);
    for (const x of seen) {
      expect(x.headers['x-long']).toBe(long);
      expect(x.body.equals(body)).toBe(true);
    }
  });

  it('protocol errors end the connection with a GOAWAY saying which', async () => {
    const { port } = await serve(() => undefined);
    const settings = frame(FrameType.SETTINGS, 0, 0);
    expect(await closedWithGoaway(port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe(H2Error.PROTOCOL_ERROR); // not the preface
    expect(await closedWithGoaway(port, Buffer.concat([PREFACE, settings, frame(FrameType.DATA, 0, 0, Buffer.alloc(4))]))).toBe(H2Error.PROTOCOL_ERROR); // DATA on stream 0
    expect(await closedWithGoaway(port, Buffer.concat([PREFACE, settings, frame(FrameType.DATA, 0, 1, Buffer.alloc(20_000))]))).toBe(H2Error.FRAME_SIZE_ERROR);
    expect(await closedWithGoaway(port, Buffer.concat([PREFACE, settings, frame(FrameType.HEADERS, FLAG_END_HEADERS, 1, Buffer.from([0x80]))]))).toBe(H2Error.COMPRESSION_ERROR); // HPACK index 0
    expect(await closedWithGoaway(port, Buffer.concat([PREFACE, settings, frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(4))]))).toBe(H2Error.PROTOCOL_ERROR); // WINDOW_UPDATE of 0
  });

  it('answers PINGs and acknowledges SETTINGS; streams above the concurrency limit are refused', async () => {
    const open: H2Stream[] = [];
    const { port } = await serve((stream) => {
      open.push(stream);
    }, 2);
    const session = client(port);
    await new Promise<void>((resolve) => session.once('connect', () => resolve()));
    const rtt = await new Promise<number>((resolve, reject) => session.ping((err, ms) => (err ? reject(err) : resolve(ms))));
    expect(rtt).toBeGreaterThanOrEqual(0);
    // Three streams opened at once (raw frames: node's client would queue the third itself).
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    cleanup.push(() => sock.destroy());
    const frames = rawFrames(sock);
    const block = encodeHeaderBlock([[':method', 'POST'], [':scheme', 'http'], [':path', '/z'], [':authority', 'x']]);
    sock.write(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0), ...[1, 3, 5].map((id) => frame(FrameType.HEADERS, FLAG_END_HEADERS, id, block))]));
    const deadline = Date.now() + 5000;
    while (!frames.some(([t, , id]) => t === FrameType.RST_STREAM && id === 5) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const rst = frames.find(([t, , id]) => t === FrameType.RST_STREAM && id === 5);
    expect(rst?.[3].readUInt32BE(0)).toBe(http2.constants.NGHTTP2_REFUSED_STREAM);
    expect(frames.some(([t, f]) => t === FrameType.SETTINGS && f === FLAG_ACK)).toBe(true); // our SETTINGS acknowledged
    expect(open).toHaveLength(2);
    // A reset from the client closes the server's stream.
    const closed = new Promise<void>((resolve) => open[0]!.on('close', () => resolve()));
    sock.write(frame(FrameType.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, H2Error.CANCEL])));
    await closed;
    expect(open[0]!.closed).toBe(true);
  });
});
