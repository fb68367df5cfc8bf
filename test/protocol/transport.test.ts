// meshgate's gRPC transport on node:http2 (src/xds/grpc/), seen from raw HTTP/2 and TCP
// clients: framing across DATA frames, compressed messages, unknown methods, oversize
// requests, non-gRPC requests, keepalive on a peer that stops answering pings, TLS with ALPN
// h2, a Unix socket, graceful and forced close.
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { loadXdsTls } from '../../src/ca/xds-tls.js';
import { eventually, encodeSotwRequest, methodPath } from '../helpers/xds-client.js';
import { harness, nextAndAck, staticCluster, TYPE } from './fixtures.js';

const h = harness();
const cleanup: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const ADS = methodPath('ads', 'sotw');
const WORLD = [staticCluster('a', 1), staticCluster('b', 2)];

function frame(msg: Buffer, flag = 0): Buffer {
  const out = Buffer.alloc(5 + msg.length);
  out[0] = flag;
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, 5);
  return out;
}

interface RawCall {
  stream: http2.ClientHttp2Stream;
  /** Response messages (unframed). */
  messages: Buffer[];
  /** Response headers, then the status (from trailers, or from the headers of a trailers-only answer). */
  done: Promise<{ status: number | null; grpcStatus: number; grpcMessage: string; trailersOnly: boolean }>;
  nextMessage(timeoutMs?: number): Promise<Buffer>;
}

function connect(port: number): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  s.on('error', () => undefined);
  cleanup.push(() => void s.destroy());
  return s;
}

function rawCall(session: http2.ClientHttp2Session, pathName: string, headers: Record<string, string> = {}): RawCall {
  const stream = session.request({ ':method': 'POST', ':path': pathName, 'content-type': 'application/grpc', te: 'trailers', ...headers });
  stream.on('error', () => undefined);
  const messages: Buffer[] = [];
  const waiters: Array<() => void> = [];
  let pending = Buffer.alloc(0);
  stream.on('data', (c: Buffer) => {
    pending = Buffer.concat([pending, c]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const len = pending.readUInt32BE(1);
      messages.push(pending.subarray(5, 5 + len));
      pending = pending.subarray(5 + len);
      for (const w of waiters.splice(0)) w();
    }
  });
  let status: number | null = null;
  let fromHeaders: { code: number; message: string } | null = null;
  stream.on('response', (hd) => {
    status = Number(hd[':status']);
    if (hd['grpc-status'] !== undefined) fromHeaders = { code: Number(hd['grpc-status']), message: decodeURIComponent(String(hd['grpc-message'] ?? '')) };
  });
  const done = new Promise<{ status: number | null; grpcStatus: number; grpcMessage: string; trailersOnly: boolean }>((resolve) => {
    stream.on('trailers', (t) => resolve({ status, grpcStatus: Number(t['grpc-status']), grpcMessage: decodeURIComponent(String(t['grpc-message'] ?? '')), trailersOnly: false }));
    stream.on('close', () => {
      if (fromHeaders) resolve({ status, grpcStatus: fromHeaders.code, grpcMessage: fromHeaders.message, trailersOnly: true });
      resolve({ status, grpcStatus: -1, grpcMessage: `closed (rst ${stream.rstCode})`, trailersOnly: false });
    });
  });
  const nextMessage = async (timeoutMs = 10_000): Promise<Buffer> => {
    const seen = messages.length;
    const deadline = Date.now() + timeoutMs;
    while (messages.length <= seen) {
      if (Date.now() > deadline) throw new Error('no message');
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return messages[seen]!;
  };
  return { stream, messages, done, nextMessage };
}

const cdsRequest = (): Buffer => encodeSotwRequest({ node: { id: 'node-1', cluster: 'c1' }, type_url: TYPE.CLUSTER });

describe('gRPC transport', () => {
  it('reads a request split over many DATA frames, and two requests in one frame', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const call = rawCall(connect(srv.port), ADS);
    const bytes = frame(cdsRequest());
    // One byte per write, each in its own turn of the event loop (its own DATA frame).
    for (const b of bytes) {
      call.stream.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    const first = await call.nextMessage();
    expect(first.length).toBeGreaterThan(0);
    // Two requests (a repeated subscription, then an unknown type) in one write: both read,
    // neither ends the stream.
    call.stream.write(Buffer.concat([frame(encodeSotwRequest({ type_url: TYPE.CLUSTER })), frame(encodeSotwRequest({ type_url: 'type.googleapis.com/x.Unknown' }))]));
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.server.board.streamCount).toBe(1);
    call.stream.close();
  });

  it('a compressed message is refused with a status (INTERNAL under identity, UNIMPLEMENTED under gzip); the connection carries on', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const session = connect(srv.port);
    const identity = rawCall(session, ADS);
    identity.stream.write(frame(cdsRequest(), 1));
    expect(await identity.done).toMatchObject({ status: 200, grpcStatus: grpc.status.INTERNAL, trailersOnly: true });
    const gzip = rawCall(session, ADS, { 'grpc-encoding': 'gzip' });
    gzip.stream.write(frame(cdsRequest(), 1));
    const st = await gzip.done;
    expect(st.grpcStatus).toBe(grpc.status.UNIMPLEMENTED);
    expect(st.grpcMessage).toMatch(/gzip/);
    // An uncompressed message under grpc-encoding gzip is fine (the flag says which is which).
    const plain = rawCall(session, ADS, { 'grpc-encoding': 'gzip' });
    plain.stream.write(frame(cdsRequest()));
    expect((await plain.nextMessage()).length).toBeGreaterThan(0);
    plain.stream.close();
  });

  it('an unknown method gets UNIMPLEMENTED (trailers-only), from raw HTTP/2 and from grpc-js', async () => {
    const srv = await h.start();
    const call = rawCall(connect(srv.port), '/envoy.service.discovery.v3.AggregatedDiscoveryService/NoSuchMethod');
    call.stream.end(frame(Buffer.alloc(0)));
    const st = await call.done;
    expect(st).toMatchObject({ status: 200, grpcStatus: grpc.status.UNIMPLEMENTED, trailersOnly: true });
    expect(st.grpcMessage).toContain('NoSuchMethod');

    const client = new grpc.Client(srv.address, grpc.credentials.createInsecure());
    cleanup.push(() => client.close());
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.makeUnaryRequest('/some.Service/Method', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (e) => resolve(e!)),
    );
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('a request above maxReceiveBytes gets RESOURCE_EXHAUSTED as soon as its header announces it', async () => {
    const srv = await h.start({ maxReceiveBytes: 1000 });
    srv.set('node-1', WORLD);
    const session = connect(srv.port);
    const call = rawCall(session, ADS);
    // Only the 5-byte header of a 1 MB message is sent.
    const head = Buffer.alloc(5);
    head.writeUInt32BE(1_000_000, 1);
    call.stream.write(head);
    const st = await call.done;
    expect(st.grpcStatus).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(st.grpcMessage).toMatch(/1000000 vs\. 1000/);
    // A request at the limit is read.
    const ok = rawCall(session, ADS);
    ok.stream.write(frame(cdsRequest()));
    expect((await ok.nextMessage()).length).toBeGreaterThan(0);
    ok.stream.close();
  });

  it('a request that is not gRPC gets an HTTP error; a stream that ends mid-message gets INTERNAL', async () => {
    const srv = await h.start();
    const session = connect(srv.port);
    const get = session.request({ ':method': 'GET', ':path': ADS });
    get.on('error', () => undefined);
    expect(await new Promise((r) => get.on('response', (hd) => r(hd[':status'])))).toBe(405);
    const json = session.request({ ':method': 'POST', ':path': ADS, 'content-type': 'application/json' });
    json.on('error', () => undefined);
    expect(await new Promise((r) => json.on('response', (hd) => r(hd[':status'])))).toBe(415);
    const cut = rawCall(session, ADS);
    cut.stream.end(frame(cdsRequest()).subarray(0, 10));
    expect((await cut.done).grpcStatus).toBe(grpc.status.INTERNAL);
  });

  it('a peer that half-closes its requests gets OK', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const call = rawCall(connect(srv.port), ADS);
    call.stream.write(frame(cdsRequest()));
    await call.nextMessage();
    call.stream.end();
    expect(await call.done).toMatchObject({ grpcStatus: grpc.status.OK, trailersOnly: false });
    await eventually(() => srv.server.board.streamCount === 0, 5000, 'the stream to be released');
    await eventually(() => srv.server.transport.calls === 0, 5000, 'the call to be released');
  });

  it('calls are released when their peers cancel them or their connection goes; the connection count follows', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const sessions = [connect(srv.port), connect(srv.port)];
    const calls = sessions.flatMap((s) => [rawCall(s, ADS), rawCall(s, ADS)]);
    for (const c of calls) c.stream.write(frame(cdsRequest()));
    await Promise.all(calls.map((c) => c.nextMessage()));
    expect(srv.server.transport).toEqual({ connections: 2, calls: 4 });
    calls[0]!.stream.close(http2.constants.NGHTTP2_CANCEL);
    await eventually(() => srv.server.transport.calls === 3, 5000, 'the cancelled call to be released');
    sessions[1]!.destroy();
    await eventually(() => srv.server.transport.calls === 1 && srv.server.transport.connections === 1, 5000, 'the lost connection to be released');
    expect(srv.server.board.streamCount).toBe(1);
  });

  it('keepalive: a connection that does not answer pings is closed; one that does stays, and its own pings are answered', async () => {
    const srv = await h.start({ keepaliveTimeMs: 100, keepaliveTimeoutMs: 150 });
    // A raw TCP peer: the HTTP/2 preface and an empty SETTINGS frame, then silence.
    const sock = net.connect(srv.port, '127.0.0.1');
    cleanup.push(() => void sock.destroy());
    const frameTypes: number[] = [];
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        frameTypes.push(buf[3]!);
        buf = buf.subarray(9 + buf.readUIntBE(0, 3));
      }
    });
    const closed = new Promise<number>((resolve) => {
      const t0 = Date.now();
      sock.on('close', () => resolve(Date.now() - t0));
    });
    sock.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));

    const live = connect(srv.port);
    const call = rawCall(live, ADS);
    call.stream.write(frame(cdsRequest()));
    const ms = await closed;
    expect(frameTypes).toContain(6); // the server sent a PING
    expect(ms).toBeLessThan(5000);
    // The live connection answered every ping and is still open; the server answers its pings.
    await new Promise((r) => setTimeout(r, 500));
    expect(live.closed || live.destroyed).toBe(false);
    for (let i = 0; i < 5; i++) {
      const rtt = await new Promise<number>((resolve, reject) => live.ping((err, d) => (err ? reject(err) : resolve(d))));
      expect(rtt).toBeGreaterThanOrEqual(0);
    }
    expect(srv.server.transport.connections).toBe(1);
  });

  it('TLS: ALPN h2 with the xDS certificate; a client without h2 is refused', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-transport-tls-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const tls = loadXdsTls(dir);
    const srv = await h.start({ credentials: { keyPem: tls.keyPem, certPem: tls.certPem } });
    srv.set('node-1', WORLD);
    const session = http2.connect(`https://localhost:${srv.port}`, { ca: tls.caPem, checkServerIdentity: () => undefined });
    session.on('error', () => undefined);
    cleanup.push(() => void session.destroy());
    const call = rawCall(session, ADS);
    call.stream.write(frame(cdsRequest()));
    expect((await call.nextMessage()).length).toBeGreaterThan(0);
    expect(session.alpnProtocol).toBe('h2');
    call.stream.close();

    // The same over grpc-js (its own TLS and HTTP/2 stack).
    const client = h.client(srv.address);
    const grpcTls = new grpc.Client(srv.address, grpc.credentials.createSsl(Buffer.from(tls.caPem), null, null, { checkServerIdentity: () => undefined }));
    cleanup.push(() => grpcTls.close());
    void client;
    const raw = grpcTls.makeBidiStreamRequest(ADS, (b: Buffer) => b, (b: Buffer) => b);
    raw.on('error', () => undefined);
    const got = new Promise<Buffer>((resolve) => raw.once('data', resolve));
    raw.write(cdsRequest());
    expect((await got).length).toBeGreaterThan(0);
    raw.cancel();

    // HTTP/1.1 only over TLS: no h2, no service.
    const { default: tlsMod } = await import('node:tls');
    const h1 = tlsMod.connect({ port: srv.port, host: '127.0.0.1', ca: tls.caPem, ALPNProtocols: ['http/1.1'], checkServerIdentity: () => undefined });
    h1.on('error', () => undefined);
    cleanup.push(() => void h1.destroy());
    await new Promise<void>((resolve) => h1.on('close', () => resolve()));
  });

  it('listens on a Unix socket', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-unix-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const sock = path.join(dir, 'xds.sock');
    expect(await srv.server.listen(`unix:${sock}`)).toBe(0);
    const s = h.client(`unix:${sock}`).sotw();
    s.subscribe(TYPE.CLUSTER, []);
    expect((await nextAndAck(s)).names).toEqual(['a', 'b']);
  });

  it('graceful close: open streams carry on through the grace period, new streams are refused, the rest end with UNAVAILABLE', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const client = h.client(srv.address);
    const s = client.sotw();
    s.subscribe(TYPE.CLUSTER, []);
    await nextAndAck(s);
    const t0 = Date.now();
    const closed = srv.server.close(800);
    // During the grace period the open stream is still served.
    await new Promise((r) => setTimeout(r, 100));
    srv.set('node-1', [...WORLD, staticCluster('c', 3)]);
    expect((await nextAndAck(s)).names).toEqual(['a', 'b', 'c']);
    // No new connection is accepted.
    const late = h.client(srv.address).sotw();
    late.subscribe(TYPE.CLUSTER, []);
    expect((await late.status(10_000)).code).toBe(grpc.status.UNAVAILABLE);
    await closed;
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(750);
    expect(took).toBeLessThan(3000);
    const st = await s.status(5000);
    expect(st).toEqual({ code: grpc.status.UNAVAILABLE, details: 'the server is shutting down' });
    expect(srv.server.transport).toEqual({ connections: 0, calls: 0 });
  });

  it('graceful close finishes early when every connection is gone; forced close cuts at once', async () => {
    const srv = await h.start();
    srv.set('node-1', WORLD);
    const session = connect(srv.port);
    const call = rawCall(session, ADS);
    call.stream.write(frame(cdsRequest()));
    await call.nextMessage();
    const t0 = Date.now();
    const closed = srv.server.close(10_000);
    await new Promise((r) => setTimeout(r, 100));
    session.destroy();
    await closed;
    expect(Date.now() - t0).toBeLessThan(5000);

    const srv2 = await h.start();
    srv2.set('node-1', WORLD);
    const s = h.client(srv2.address).sotw();
    s.subscribe(TYPE.CLUSTER, []);
    await nextAndAck(s);
    srv2.server.forceClose();
    expect((await s.status(5000)).code).toBe(grpc.status.UNAVAILABLE);
    await eventually(() => srv2.server.board.streamCount === 0, 5000, 'the stream to be released');
  });
});
