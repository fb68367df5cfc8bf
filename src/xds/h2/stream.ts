// One HTTP/2 stream of meshgate's own server connection (./connection.ts): the small part of
// node:http2's Http2Stream surface that the gRPC call (../grpc/call.ts) uses ('data', 'end',
// 'drain', 'wantTrailers', 'close' events; write() with backpressure, respond(), sendTrailers(),
// end(), close(code)), plus writeMessage(), which frames a gRPC message from its parts with one
// copy of the body. What goes on the wire is the connection's job (StreamOwner).
import { EventEmitter } from 'node:events';
import { DEFAULT_MAX_FRAME, type Done, H2Error, outBuffer } from './frames.js';

/** A stream's write() returns false once this many bytes wait for its flow-control window or the socket. */
export const STREAM_HIGH_WATER = 16 * 1024;
/** Messages up to this size go out as one buffer (frame header and message copied together). */
const COPY_MAX = DEFAULT_MAX_FRAME;

/** What a stream asks of its connection. */
export interface StreamOwner {
  sendHeaders(streamId: number, headers: Record<string, string | number>, endStream: boolean): void;
  sendEndStream(streamId: number): void;
  /** A DATA payload laid out after 9 bytes of room for the frame header. */
  sendData(s: H2Stream, buf: Buffer, done: Done | undefined): boolean;
  flushStream(s: H2Stream): void;
  resetStream(s: H2Stream, code: number): void;
  closeStream(s: H2Stream, err: Error | null): void;
}

/** One write waiting for flow-control window or for the socket: bytes from `off`, `done` once they are all handed to the socket. */
interface Pending {
  buf: Buffer;
  off: number;
  done: Done | undefined;
}

export class H2Stream extends EventEmitter {
  /** What the peer sent: its END_STREAM arrived. */
  readableEnded = false;
  /** Our side is finished (END_STREAM sent or queued, or reset). */
  private localEnded = false;
  /** Fully closed ('close' emitted). */
  closed = false;
  destroyed = false;
  /** Flow-control window for what we send. */
  sendWindow: number;
  /** Received bytes not yet given back to the peer with a WINDOW_UPDATE. */
  recvConsumed = 0;
  headersSent = false;
  private waitForTrailers = false;
  /** Writes waiting for window or for the socket, in order. */
  readonly queue: Pending[] = [];
  queuedBytes = 0;
  /** write() said false: 'drain' is owed once the queue is below the high-water mark. */
  needDrain = false;
  /** end() was called: trailers (or an empty END_STREAM DATA frame) follow the queued data. */
  private ending = false;
  private corked = 0;
  private corkedChunks: Buffer[] = [];
  private corkedDone: Done | undefined;

  constructor(
    readonly id: number,
    private readonly conn: StreamOwner,
    sendWindow: number,
  ) {
    super();
    this.sendWindow = sendWindow;
  }

  /** Data is always delivered as it arrives (for Http2Stream compatibility). */
  resume(): this {
    return this;
  }

  respond(headers: Record<string, string | number>, opts: { endStream?: boolean; waitForTrailers?: boolean } = {}): void {
    if (this.headersSent || this.localEnded || this.closed) return;
    this.headersSent = true;
    this.waitForTrailers = opts.waitForTrailers === true;
    const endStream = opts.endStream === true;
    this.conn.sendHeaders(this.id, headers, endStream);
    if (endStream) this.localEnd();
  }

  /** Send trailers (after everything written before); ends our side of the stream. */
  sendTrailers(headers: Record<string, string | number>): void {
    if (this.localEnded || this.closed) return;
    this.conn.sendHeaders(this.id, headers, true);
    this.localEnd();
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked === 0 || --this.corked > 0) return;
    const chunks = this.corkedChunks;
    const done = this.corkedDone;
    this.corkedChunks = [];
    this.corkedDone = undefined;
    if (chunks.length === 0) return;
    this.writeChunks(chunks, done);
  }

  write(chunk: Buffer, done?: Done): boolean {
    if (this.localEnded || this.ending || this.closed) {
      if (done) queueMicrotask(() => done(new Error('write after end')));
      return false;
    }
    if (this.corked > 0) {
      this.corkedChunks.push(chunk);
      if (done) {
        const prev = this.corkedDone;
        this.corkedDone = prev ? (err) => (prev(err), done(err)) : done;
      }
      return this.queuedBytes < STREAM_HIGH_WATER;
    }
    return this.writeChunks([chunk], done);
  }

  /**
   * One gRPC message from its parts (5-byte prefix added here): one DATA frame in one buffer
   * when it is small and the windows allow, the body never copied twice.
   */
  writeMessage(body: Buffer, tail: Buffer, length: number, done?: Done): boolean {
    if (this.localEnded || this.ending || this.closed) {
      if (done) queueMicrotask(() => done(new Error('write after end')));
      return false;
    }
    const total = 5 + length;
    if (total <= COPY_MAX) {
      const buf = outBuffer(9 + total);
      buf[9] = 0;
      buf.writeUInt32BE(length, 10);
      body.copy(buf, 14);
      tail.copy(buf, 14 + body.length);
      return this.conn.sendData(this, buf, done);
    }
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(length, 1);
    return this.writeChunks(tail.length > 0 ? [prefix, body, tail] : [prefix, body], done);
  }

  private writeChunks(chunks: Buffer[], done: Done | undefined): boolean {
    let total = 0;
    for (const c of chunks) total += c.length;
    if (total === 0) {
      if (done) queueMicrotask(() => done(null));
      return this.queuedBytes < STREAM_HIGH_WATER;
    }
    if (total + 9 <= COPY_MAX) {
      const buf = outBuffer(9 + total);
      let off = 9;
      for (const c of chunks) off += c.copy(buf, off);
      return this.conn.sendData(this, buf, done);
    }
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      if (c.length === 0) continue;
      this.queue.push({ buf: c, off: 0, done: i === chunks.length - 1 ? done : undefined });
      this.queuedBytes += c.length;
    }
    this.conn.flushStream(this);
    const ok = this.queuedBytes < STREAM_HIGH_WATER;
    if (!ok) this.needDrain = true;
    return ok;
  }

  /** No more data from us: trailers ('wantTrailers') or an empty END_STREAM frame once the queue is out. */
  end(): void {
    if (this.ending || this.localEnded || this.closed) return;
    this.ending = true;
    this.afterFlush();
  }

  /** Reset the stream with `code` (NO_ERROR by default). */
  close(code: number = H2Error.NO_ERROR): void {
    if (this.closed) return;
    this.conn.resetStream(this, code);
  }

  /** Called by the connection when the queue may have emptied. */
  afterFlush(): void {
    if (this.needDrain && this.queuedBytes < STREAM_HIGH_WATER) {
      this.needDrain = false;
      this.emit('drain');
    }
    if (this.ending && !this.localEnded && this.queue.length === 0) {
      if (this.waitForTrailers) {
        this.waitForTrailers = false;
        this.emit('wantTrailers');
        if (!this.localEnded) {
          // No trailers were sent: end the stream with an empty DATA frame.
          this.conn.sendEndStream(this.id);
          this.localEnd();
        }
      } else {
        this.conn.sendEndStream(this.id);
        this.localEnd();
      }
    }
  }

  private localEnd(): void {
    this.localEnded = true;
    this.ending = true;
    if (this.readableEnded) this.conn.closeStream(this, null);
  }

  /** The peer's END_STREAM. */
  remoteEnd(): void {
    if (this.readableEnded) return;
    this.readableEnded = true;
    this.emit('end');
    if (this.localEnded) this.conn.closeStream(this, null);
  }

  /** Closed by the connection (both sides ended, a reset, or the connection gone). */
  finish(err: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.destroyed = err !== null;
    const pending = this.queue.splice(0);
    this.queuedBytes = 0;
    for (const p of pending) if (p.done) p.done(err ?? new Error('stream closed'));
    if (err && this.listenerCount('error') > 0) this.emit('error', err);
    this.emit('close');
  }
}
