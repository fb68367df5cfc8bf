// The server side of one HTTP/2 connection (RFC 9113), framed by meshgate itself on the socket,
// for gRPC: the connection preface and settings, HEADERS (+ CONTINUATION) decoded with HPACK
// (./hpack.ts), DATA in both directions with flow control, RST_STREAM, PING, GOAWAY and
// WINDOW_UPDATE. No server push, no priorities (PRIORITY frames are read and ignored).
//
// Why not node:http2: every push to a proxy and every ACK back went through Node's Http2Stream
// (a Duplex stream), its C++ session and nghttp2's framing before reaching the socket. Measured
// with bench/transport-floor.ts on 2000 connections, that doubled the server's CPU per push and
// answer over plain TCP (30 against 17 µs), and a change every sidecar must receive is 2000 of
// them. Here a DATA frame is one buffer (frame header, gRPC header and message, copied once
// from the shared body) written to the socket, and a request's DATA payload is handed on as a
// view of what the socket read.
//
// Its streams are ./stream.ts; frames and their constants ./frames.ts; header blocks ./hpack.ts.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import {
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  type Done,
  FLAG_ACK,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PADDED,
  FLAG_PRIORITY,
  FrameType,
  frame,
  H2Error,
  MAX_WINDOW,
  PREFACE,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_FRAME_SIZE,
  SETTINGS_MAX_HEADER_LIST_SIZE,
  writeFrameHead,
} from './frames.js';
import { encodeHeaderBlock, HpackDecoder, HpackError } from './hpack.js';
import { H2Stream, STREAM_HIGH_WATER, type StreamOwner } from './stream.js';

export { H2Error } from './frames.js';
export type { H2Stream } from './stream.js';

/** Largest header block accepted (HEADERS and its CONTINUATIONs): a request's headers are a few hundred bytes. */
const MAX_HEADER_BLOCK = 64 * 1024;
/**
 * Data waits in the streams' queues (not in the socket's buffer) once the socket holds this much
 * unsent: a big push goes out a few frames ahead of the kernel, not all at once into memory.
 */
const SOCKET_HIGH_WATER = 256 * 1024;

export interface H2ConnectionOptions {
  /** Receive window of each stream, and of the connection. */
  streamWindow: number;
  connectionWindow: number;
  /** Streams open at once; more are refused (REFUSED_STREAM). */
  maxConcurrentStreams: number;
}

type H2Headers = Record<string, string>;

/** The connection-level protocol error that ends the connection with a GOAWAY. */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class H2Connection extends EventEmitter implements StreamOwner {
  private readonly streams = new Map<number, H2Stream>();
  private readonly decoder = new HpackDecoder();
  private buffered: Buffer | null = null;
  private prefaceSeen = false;
  private lastStreamId = 0;
  /** Peer settings. */
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  /** Our send window on the connection. */
  private connSendWindow = DEFAULT_WINDOW;
  /** Received bytes on the connection not yet given back. */
  private connRecvConsumed = 0;
  /** A header block in progress (HEADERS without END_HEADERS, then CONTINUATION). */
  private headerBlock: { streamId: number; endStream: boolean; parts: Buffer[]; size: number } | null = null;
  /** Streams with data waiting for window (connection or their own) or for the socket. */
  private readonly blocked = new Set<H2Stream>();
  /** The socket's buffer is full: data waits in the streams' queues until 'drain'. */
  private socketBlocked = false;
  private goawaySent = false;
  private pings = new Map<string, { at: number; cb: (err: Error | null, ms: number, payload: Buffer) => void }>();
  private pingSeq = 0;
  closed = false;
  destroyed = false;

  constructor(
    readonly socket: Socket,
    private readonly opts: H2ConnectionOptions,
  ) {
    super();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onSocketDrain());
    socket.on('error', () => undefined);
    socket.on('close', () => this.onSocketClose());
    // Our settings, then the connection's receive window raised from the default.
    const s = Buffer.allocUnsafe(18);
    s.writeUInt16BE(SETTINGS_MAX_CONCURRENT_STREAMS, 0);
    s.writeUInt32BE(opts.maxConcurrentStreams, 2);
    s.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
    s.writeUInt32BE(opts.streamWindow, 8);
    s.writeUInt16BE(SETTINGS_MAX_HEADER_LIST_SIZE, 12);
    s.writeUInt32BE(MAX_HEADER_BLOCK, 14);
    this.socket.write(frame(FrameType.SETTINGS, 0, 0, s));
    if (opts.connectionWindow > DEFAULT_WINDOW) this.sendWindowUpdate(0, opts.connectionWindow - DEFAULT_WINDOW);
  }

  // ---- session API used by the gRPC server ----

  /** Graceful close: GOAWAY, no new streams; the socket is closed once the open streams are done. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sendGoaway(H2Error.NO_ERROR);
    this.endIfIdle();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.closed = true;
    this.destroyed = true;
    this.socket.destroy();
  }

  /** Send a PING; `cb` gets the round trip when its ACK arrives. */
  ping(cb: (err: Error | null, ms: number, payload: Buffer) => void): boolean {
    if (this.destroyed) return false;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(++this.pingSeq >>> 0, 4);
    this.pings.set(payload.toString('latin1'), { at: performance.now(), cb });
    this.socket.write(frame(FrameType.PING, 0, 0, payload));
    return true;
  }

  // ---- sending ----

  sendHeaders(streamId: number, headers: Record<string, string | number>, endStream: boolean): void {
    const block = headerBlockFor(headers);
    const end = endStream ? FLAG_END_STREAM : 0;
    if (block.length <= this.peerMaxFrame) {
      const b = Buffer.allocUnsafe(9 + block.length);
      writeFrameHead(b, 0, block.length, FrameType.HEADERS, FLAG_END_HEADERS | end, streamId);
      block.copy(b, 9);
      this.write(b);
      return;
    }
    // A block above the peer's frame size (a long grpc-message): HEADERS, then CONTINUATION frames.
    for (let off = 0; off < block.length; off += this.peerMaxFrame) {
      const part = block.subarray(off, Math.min(block.length, off + this.peerMaxFrame));
      const last = off + part.length === block.length ? FLAG_END_HEADERS : 0;
      this.write(off === 0 ? frame(FrameType.HEADERS, end | last, streamId, part) : frame(FrameType.CONTINUATION, last, streamId, part));
    }
  }

  sendEndStream(streamId: number): void {
    this.write(frame(FrameType.DATA, FLAG_END_STREAM, streamId));
  }

  /**
   * A DATA payload already laid out after 9 bytes of room for its frame header: sent at once
   * if nothing waits before it and the windows allow, else queued.
   */
  sendData(s: H2Stream, buf: Buffer, done: Done | undefined): boolean {
    const n = buf.length - 9;
    if (s.queue.length === 0 && !this.socketBlocked && n <= this.connSendWindow && n <= s.sendWindow && n <= this.peerMaxFrame) {
      writeFrameHead(buf, 0, n, FrameType.DATA, 0, s.id);
      this.connSendWindow -= n;
      s.sendWindow -= n;
      const ok = done ? this.socket.write(buf, done) : this.socket.write(buf);
      if (!ok) this.checkSocket();
      return true;
    }
    s.queue.push({ buf, off: 9, done });
    s.queuedBytes += n;
    this.flushStream(s);
    const ok = s.queuedBytes < STREAM_HIGH_WATER;
    if (!ok) s.needDrain = true;
    return ok;
  }

  /** Send what the windows and the socket allow of one stream's queue. */
  flushStream(s: H2Stream): void {
    let corked = false;
    while (s.queue.length > 0 && !this.socketBlocked) {
      const room = Math.min(this.connSendWindow, s.sendWindow, this.peerMaxFrame);
      if (room <= 0) break;
      // Gather up to `room` bytes from the front of the queue into one frame.
      const parts: Buffer[] = [];
      let n = 0;
      let done: Done | undefined;
      const dones: Done[] = [];
      while (s.queue.length > 0 && n < room) {
        const p = s.queue[0]!;
        const left = p.buf.length - p.off;
        const take = Math.min(left, room - n);
        parts.push(p.buf.subarray(p.off, p.off + take));
        n += take;
        if (take === left) {
          s.queue.shift();
          if (p.done) dones.push(p.done);
        } else {
          p.off += take;
        }
      }
      if (dones.length === 1) done = dones[0];
      else if (dones.length > 1) done = (err) => dones.forEach((d) => d(err));
      this.connSendWindow -= n;
      s.sendWindow -= n;
      s.queuedBytes -= n;
      if (!corked && parts.length > 0) {
        this.socket.cork();
        corked = true;
      }
      const head = Buffer.allocUnsafe(9);
      writeFrameHead(head, 0, n, FrameType.DATA, 0, s.id);
      let ok = this.socket.write(head);
      for (let i = 0; i < parts.length; i++) ok = (i === parts.length - 1 && done ? this.socket.write(parts[i]!, done) : this.socket.write(parts[i]!)) && ok;
      if (!ok) this.checkSocket();
    }
    if (corked) this.socket.uncork();
    if (s.queue.length > 0) this.blocked.add(s);
    else this.blocked.delete(s);
    s.afterFlush();
  }

  private flushBlocked(): void {
    if (this.blocked.size === 0) return; // the usual case: every WINDOW_UPDATE and drain lands here
    for (const s of [...this.blocked]) {
      if (this.socketBlocked || this.connSendWindow <= 0) break;
      this.flushStream(s);
    }
  }

  resetStream(s: H2Stream, code: number): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(code, 0);
    this.write(frame(FrameType.RST_STREAM, 0, s.id, p));
    this.closeStream(s, code === H2Error.NO_ERROR ? null : new Error(`stream reset by the server (code ${code})`));
  }

  closeStream(s: H2Stream, err: Error | null): void {
    if (!this.streams.delete(s.id)) return;
    this.blocked.delete(s);
    s.finish(err);
    this.endIfIdle();
  }

  private write(b: Buffer): void {
    if (this.destroyed) return;
    if (!this.socket.write(b)) this.checkSocket();
  }

  /** After a write the socket said to hold: stop sending data once it has SOCKET_HIGH_WATER unsent ('drain' resumes). */
  private checkSocket(): void {
    if (this.socket.writableLength >= SOCKET_HIGH_WATER) this.socketBlocked = true;
  }

  private sendWindowUpdate(streamId: number, increment: number): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(increment, 0);
    this.write(frame(FrameType.WINDOW_UPDATE, 0, streamId, p));
  }

  private sendGoaway(code: number, debug?: string): void {
    if (this.goawaySent && code === H2Error.NO_ERROR) return;
    this.goawaySent = true;
    const d = debug ? Buffer.from(debug, 'utf8') : Buffer.alloc(0);
    const p = Buffer.allocUnsafe(8 + d.length);
    p.writeUInt32BE(this.lastStreamId, 0);
    p.writeUInt32BE(code, 4);
    d.copy(p, 8);
    this.write(frame(FrameType.GOAWAY, 0, 0, p));
  }

  private endIfIdle(): void {
    if (this.closed && this.streams.size === 0 && !this.destroyed) this.socket.end();
  }

  // ---- reading ----

  private onData(chunk: Buffer): void {
    if (this.destroyed) return; // after a connection error: the GOAWAY is out, nothing more is read
    let buf = chunk;
    if (this.buffered) {
      buf = Buffer.concat([this.buffered, chunk]);
      this.buffered = null;
    }
    try {
      let off = 0;
      if (!this.prefaceSeen) {
        if (buf.length < PREFACE.length) {
          if (!PREFACE.subarray(0, buf.length).equals(buf)) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad connection preface');
          this.buffered = buf;
          return;
        }
        if (!buf.subarray(0, PREFACE.length).equals(PREFACE)) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad connection preface');
        this.prefaceSeen = true;
        off = PREFACE.length;
      }
      while (buf.length - off >= 9) {
        const length = (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
        if (length > DEFAULT_MAX_FRAME) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
        if (buf.length - off < 9 + length) break;
        const type = buf[off + 3]!;
        const flags = buf[off + 4]!;
        const streamId = buf.readUInt32BE(off + 5) & 0x7fffffff;
        const payload = buf.subarray(off + 9, off + 9 + length);
        off += 9 + length;
        this.onFrame(type, flags, streamId, payload);
        if (this.destroyed) return;
      }
      if (off < buf.length) this.buffered = buf.subarray(off);
    } catch (err) {
      if (err instanceof ConnectionError) {
        this.sendGoaway(err.code, err.message);
        this.socket.end();
        this.destroyed = true;
        setTimeout(() => this.socket.destroy(), 1000).unref();
        return;
      }
      throw err;
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.headerBlock && type !== FrameType.CONTINUATION) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'expected CONTINUATION');
    switch (type) {
      case FrameType.DATA:
        return this.onDataFrame(flags, streamId, payload);
      case FrameType.HEADERS:
        return this.onHeadersFrame(flags, streamId, payload);
      case FrameType.CONTINUATION:
        return this.onContinuation(flags, streamId, payload);
      case FrameType.PRIORITY:
        if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (payload.length !== 5) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'PRIORITY length');
        return;
      case FrameType.RST_STREAM: {
        if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
        if (payload.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'RST_STREAM length');
        if (streamId > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'RST_STREAM on an idle stream');
        const s = this.streams.get(streamId);
        if (s) this.closeStream(s, new Error(`stream reset by the peer (code ${payload.readUInt32BE(0)})`));
        return;
      }
      case FrameType.SETTINGS:
        return this.onSettings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FrameType.PING:
        if (streamId !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PING on a stream');
        if (payload.length !== 8) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'PING length');
        if (flags & FLAG_ACK) {
          const key = payload.toString('latin1');
          const p = this.pings.get(key);
          if (p) {
            this.pings.delete(key);
            p.cb(null, performance.now() - p.at, Buffer.from(payload));
          }
        } else {
          this.write(frame(FrameType.PING, FLAG_ACK, 0, payload));
        }
        return;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'GOAWAY on a stream');
        if (payload.length < 8) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'GOAWAY length');
        // The peer opens no more streams; the open ones carry on.
        return;
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(streamId, payload);
      default:
        return; // unknown frame types are ignored
    }
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & FLAG_ACK) {
      if (payload.length !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS length');
    for (let i = 0; i < payload.length; i += 6) {
      const id = payload.readUInt16BE(i);
      const value = payload.readUInt32BE(i + 2);
      if (id === SETTINGS_ENABLE_PUSH && value > 1) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'ENABLE_PUSH above 1');
      if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'INITIAL_WINDOW_SIZE above 2^31-1');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'stream window above 2^31-1');
        }
      } else if (id === SETTINGS_MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > 16_777_215) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'MAX_FRAME_SIZE out of range');
        this.peerMaxFrame = value;
      }
      // HEADER_TABLE_SIZE: our encoder never uses the dynamic table. MAX_CONCURRENT_STREAMS: we open none.
          }
    this.write(frame(FrameType.SETTINGS, FLAG_ACK, 0));
    this.flushBlocked();
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (inc === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window above 2^31-1');
      this.flushBlocked();
      return;
    }
    const s = this.streams.get(streamId);
    if (!s) {
      if (streamId > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE on an idle stream');
      return; // a stream closed meanwhile
    }
    if (inc === 0) return this.resetStream(s, H2Error.PROTOCOL_ERROR);
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return this.resetStream(s, H2Error.FLOW_CONTROL_ERROR);
    if (s.queue.length > 0) this.flushStream(s);
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on stream 0');
    const n = payload.length; // padding counts against the windows too
    this.connRecvConsumed += n;
    if (this.connRecvConsumed > this.opts.connectionWindow) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window exceeded');
    if (this.connRecvConsumed >= this.opts.connectionWindow / 2) {
      this.sendWindowUpdate(0, this.connRecvConsumed);
      this.connRecvConsumed = 0;
    }
    let data = payload;
    if (flags & FLAG_PADDED) {
      if (n < 1 || payload[0]! >= n) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad padding');
      data = payload.subarray(1, n - payload[0]!);
    }
    const s = this.streams.get(streamId);
    if (!s || s.readableEnded) {
      if (streamId > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on an idle stream');
      // Closed, or half-closed by the peer: STREAM_CLOSED (once the stream is gone here, the frame is dropped).
      if (s) this.resetStream(s, H2Error.STREAM_CLOSED);
      return;
    }
    s.recvConsumed += n;
    if (s.recvConsumed > this.opts.streamWindow) return this.resetStream(s, H2Error.FLOW_CONTROL_ERROR);
    if (data.length > 0) s.emit('data', data);
    if (s.closed) return;
    if (flags & FLAG_END_STREAM) {
      s.remoteEnd();
      return;
    }
    if (s.recvConsumed >= this.opts.streamWindow / 2) {
      this.sendWindowUpdate(s.id, s.recvConsumed);
      s.recvConsumed = 0;
    }
  }

  private onHeadersFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let start = 0;
    let end = payload.length;
    if (flags & FLAG_PADDED) {
      if (payload.length < 1) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad padding');
      const pad = payload[0]!;
      start = 1;
      end -= pad;
    }
    if (flags & FLAG_PRIORITY) start += 5;
    if (start > end) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad padding');
    const fragment = payload.subarray(start, end);
    const block = { streamId, endStream: (flags & FLAG_END_STREAM) !== 0, parts: [fragment], size: fragment.length };
    if (flags & FLAG_END_HEADERS) this.onHeaderBlock(block.streamId, block.endStream, fragment);
    else this.headerBlock = block;
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const b = this.headerBlock;
    if (!b || b.streamId !== streamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    b.parts.push(payload);
    b.size += payload.length;
    if (b.size > MAX_HEADER_BLOCK) throw new ConnectionError(H2Error.ENHANCE_YOUR_CALM, 'header block too large');
    if (flags & FLAG_END_HEADERS) {
      this.headerBlock = null;
      this.onHeaderBlock(b.streamId, b.endStream, Buffer.concat(b.parts, b.size));
    }
  }

  private onHeaderBlock(streamId: number, endStream: boolean, block: Buffer): void {
    let fields: Array<[string, string]>;
    try {
      fields = this.decoder.decode(block, MAX_HEADER_BLOCK);
    } catch (err) {
      if (err instanceof HpackError) throw new ConnectionError(H2Error.COMPRESSION_ERROR, err.message);
      throw err;
    }
    const existing = this.streams.get(streamId);
    if (existing) {
      // Trailers from the peer: they must end its side.
      if (!endStream || existing.readableEnded) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'HEADERS on an open stream without END_STREAM');
      existing.remoteEnd();
      return;
    }
    if (streamId % 2 === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS opening stream ${streamId}`);
    if (streamId <= this.lastStreamId) return; // a stream closed here already (reset after a trailers-only answer)
    this.lastStreamId = streamId;
    if (this.closed || this.streams.size >= this.opts.maxConcurrentStreams) {
      const p = Buffer.allocUnsafe(4);
      p.writeUInt32BE(H2Error.REFUSED_STREAM, 0);
      this.write(frame(FrameType.RST_STREAM, 0, streamId, p));
      return;
    }
    const headers: H2Headers = {};
    for (const [name, value] of fields) {
      const prev = headers[name];
      headers[name] = prev === undefined ? value : `${prev}, ${value}`;
    }
    const s = new H2Stream(streamId, this, this.peerInitialWindow);
    this.streams.set(streamId, s);
    if (headers[':method'] === undefined || headers[':path'] === undefined) {
      this.resetStream(s, H2Error.PROTOCOL_ERROR);
      return;
    }
    this.emit('stream', s, headers);
    if (endStream && !s.closed) s.remoteEnd();
  }

  private onSocketDrain(): void {
    this.socketBlocked = false;
    this.flushBlocked();
  }

  private onSocketClose(): void {
    this.closed = true;
    this.destroyed = true;
    const err = new Error('connection closed');
    for (const s of [...this.streams.values()]) {
      this.streams.delete(s.id);
      s.finish(err);
    }
    this.blocked.clear();
    for (const p of this.pings.values()) p.cb(err, 0, Buffer.alloc(0));
    this.pings.clear();
    this.emit('close');
  }
}

/** The response headers every gRPC call starts with, encoded once. */
const blockCache = new Map<string, Buffer>();
function headerBlockFor(headers: Record<string, string | number>): Buffer {
  const entries = Object.entries(headers).map(([k, v]) => [k, String(v)] as const);
  // Common blocks (the gRPC response headers, an OK status) are the same every time.
  const key = entries.length <= 3 ? entries.map(([k, v]) => `${k}\0${v}`).join('\0') : null;
  const hit = key === null ? undefined : blockCache.get(key);
  if (hit) return hit;
  // Pseudo-headers first.
  entries.sort((a, b) => (a[0].startsWith(':') ? 0 : 1) - (b[0].startsWith(':') ? 0 : 1));
  const block = encodeHeaderBlock(entries);
  if (key !== null && blockCache.size < 64) blockCache.set(key, block);
  return block;
}
