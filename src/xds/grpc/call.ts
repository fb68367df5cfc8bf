// One gRPC call on one HTTP/2 stream: requests read through the deframer and the method's
// decoder, responses written as length-prefixed messages, the status sent as trailers (or as
// a trailers-only response when nothing was sent before). It is the DuplexCall the xDS
// streams use (stream-base.ts): write() honours the HTTP/2 stream's backpressure and calls
// `done` once the bytes have gone to the connection (so a peer that stops reading leaves it
// pending), emit('error', {code, details}) ends the call with that status, and the events are
// data, end (the peer half-closed), error, cancelled (the peer reset the stream or the
// connection went away), close and drain.
import { constants } from 'node:http2';
import { Deframer, type FrameError, frameHeader } from './framing.js';
import { type CallStatus, encodeGrpcMessage, Status } from './status.js';

const { HTTP2_HEADER_STATUS, HTTP2_HEADER_CONTENT_TYPE, NGHTTP2_NO_ERROR } = constants;

/** A response in two pieces (a shared body and this stream's nonce field): ResponseBytes. */
export interface MessagePieces {
  readonly body: Buffer;
  readonly nonceField: Buffer;
  readonly length: number;
}

type Listener = (...args: unknown[]) => void;

export interface CallOptions {
  maxReceiveBytes: number;
  /** Request bytes → the object passed to 'data' listeners (never throws). */
  decode: (message: Buffer) => unknown;
  peer: string;
  /** The request's grpc-encoding header. */
  encoding: string | undefined;
}

const EMPTY: Listener[] = [];

type Done = (err?: Error | null) => void;

/**
 * The HTTP/2 stream under a call: node:http2's ServerHttp2Stream or meshgate's own
 * (../h2/connection.ts), which also takes a message in parts (writeMessage) and frames it
 * with one copy of the body.
 */
export interface CallStream {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'drain' | 'wantTrailers' | 'close', fn: () => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  once(event: 'close', fn: () => void): unknown;
  write(chunk: Buffer, done?: Done): boolean;
  cork(): void;
  uncork(): void;
  respond(headers: Record<string, string | number>, options: { endStream?: boolean; waitForTrailers?: boolean }): void;
  sendTrailers(headers: Record<string, string | number>): void;
  end(): void;
  close(code?: number): void;
  resume(): unknown;
  readonly destroyed: boolean;
  readonly closed: boolean;
  readonly readableEnded: boolean;
  writeMessage?(body: Buffer, tail: Buffer, length: number, done?: Done): boolean;
}

/**
 * How a response goes to the HTTP/2 stream: copied with its 5-byte header into one buffer
 * (one write), or as three pieces (header, shared body, nonce) in one corked writev that never
 * copies the body. One write is cheaper for small responses (each piece of a writev costs a
 * Writable buffer entry); above COPY_BELOW the copy costs more. 'auto' picks by size
 * (bench/xds-transport.ts --write-mode measures the three).
 */
export type WriteMode = 'auto' | 'pieces' | 'concat';
let writeMode: WriteMode = 'auto';
const COPY_BELOW = 16 * 1024;
/** For the transport benchmark. */
export function setWriteMode(mode: WriteMode): void {
  writeMode = mode;
}

export class GrpcCall {
  private readonly listeners = new Map<string, Listener[]>();
  private readonly deframer: Deframer;
  private headersSent = false;
  /** The status has been decided (trailers queued or sent). */
  private finished = false;
  /** The HTTP/2 stream is gone (closed or reset). */
  private gone = false;
  private status: CallStatus = { code: Status.OK, details: '' };

  constructor(
    readonly stream: CallStream,
    private readonly opts: CallOptions,
  ) {
    this.deframer = new Deframer(opts.maxReceiveBytes);
    stream.on('data', (chunk: Buffer) => this.onChunk(chunk));
    stream.on('end', () => this.onEnd());
    stream.on('drain', () => this.dispatch('drain'));
    stream.on('wantTrailers', () => this.sendTrailers());
    stream.on('error', () => undefined); // a reset or a lost connection: 'close' follows
    stream.on('close', () => {
      this.gone = true;
      const cancelled = !this.finished;
      this.finished = true;
      if (cancelled) this.dispatch('cancelled');
      this.dispatch('close');
    });
  }

  on(event: string, fn: Listener): this {
    const list = this.listeners.get(event);
    if (list) list.push(fn);
    else this.listeners.set(event, [fn]);
    return this;
  }

  /** emit('error', {code, details}) ends the call with that status (as grpc-js' server calls do). */
  emit(event: string, ...args: unknown[]): boolean {
    if (event === 'error') {
      const s = args[0] as Partial<CallStatus> | undefined;
      this.end({ code: typeof s?.code === 'number' ? s.code : Status.UNKNOWN, details: typeof s?.details === 'string' ? s.details : '' });
    }
    return this.dispatch(event, ...args);
  }

  getPeer(): string {
    return this.opts.peer;
  }

  get ended(): boolean {
    return this.finished;
  }

  /**
   * Write one message. Returns false when the HTTP/2 stream's buffer is above its high-water
   * mark ('drain' follows); `done` runs once the bytes have been handed to the connection.
   */
  write(msg: MessagePieces, done?: (err?: Error | null) => void): boolean {
    const s = this.stream;
    if (this.finished || s.destroyed) {
      if (done) queueMicrotask(() => done(new Error('call already ended')));
      return false;
    }
    this.respond();
    const { body, nonceField } = msg;
    if (s.writeMessage && writeMode === 'auto') return s.writeMessage(body, nonceField, msg.length, done);
    if (writeMode === 'concat' || (writeMode === 'auto' && msg.length < COPY_BELOW)) {
      const all = Buffer.allocUnsafe(5 + msg.length);
      all[0] = 0;
      all.writeUInt32BE(msg.length, 1);
      body.copy(all, 5);
      nonceField.copy(all, 5 + body.length);
      return s.write(all, done);
    }
    // One writev of three pieces: the shared body is passed by reference, never copied here.
    s.cork();
    s.write(frameHeader(msg.length));
    if (nonceField.length === 0) {
      const ok = s.write(body, done);
      s.uncork();
      return ok;
    }
    if (body.length > 0) s.write(body);
    const ok = s.write(nonceField, done);
    s.uncork();
    return ok;
  }

  /** Write a message given as one buffer (the access log service's empty response). */
  writeBuffer(message: Buffer): boolean {
    if (this.finished || this.stream.destroyed) return false;
    this.respond();
    this.stream.cork();
    this.stream.write(frameHeader(message.length));
    const ok = this.stream.write(message);
    this.stream.uncork();
    return ok;
  }

  /** End the call with `status` (OK by default). Later calls do nothing. */
  end(status: CallStatus = { code: Status.OK, details: '' }): void {
    if (this.finished) return;
    this.finished = true;
    this.status = status;
    const s = this.stream;
    if (this.gone || s.destroyed || s.closed) return;
    if (!this.headersSent) {
      // Trailers-only: the status in the one HEADERS frame, which ends the stream.
      this.headersSent = true;
      s.respond(
        {
          [HTTP2_HEADER_STATUS]: 200,
          [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
          'grpc-status': String(status.code),
          ...(status.details ? { 'grpc-message': encodeGrpcMessage(status.details) } : {}),
        },
        { endStream: true },
      );
      this.closeReadSide();
    } else {
      s.end(); // 'wantTrailers' sends the status once the queued messages are out
    }
  }

  /**
   * A trailers-only status is sent but the peer has not half-closed: reset the stream with
   * NO_ERROR after it (as gRPC servers do), so a peer that keeps it open does not hold it here.
   */
  private closeReadSide(): void {
    const s = this.stream;
    if (!s.readableEnded && !s.closed && !s.destroyed) s.close(NGHTTP2_NO_ERROR);
  }

  private respond(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond(
      { [HTTP2_HEADER_STATUS]: 200, [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc', 'grpc-accept-encoding': 'identity' },
      { waitForTrailers: true },
    );
  }

  private sendTrailers(): void {
    const { code, details } = this.status;
    try {
      // No reset after these: submitted while the stream's last write completes, nghttp2 would
      // send a RST_STREAM ahead of them (the peer would see "RST_STREAM with code 0", not the
      // status). gRPC clients end the stream on its trailers.
      this.stream.sendTrailers({ 'grpc-status': String(code), ...(details ? { 'grpc-message': encodeGrpcMessage(details) } : {}) });
    } catch {
      // The stream was reset meanwhile.
    }
  }

  private onChunk(chunk: Buffer): void {
    if (this.finished) return;
    const err = this.deframer.push(chunk, (message, compressed) => this.onMessage(message, compressed));
    if (err) this.end(frameStatus(err, this.opts.maxReceiveBytes));
  }

  private onMessage(message: Buffer, compressed: boolean): void {
    if (this.finished) return;
    if (compressed) {
      const enc = this.opts.encoding;
      this.end(
        !enc || enc === 'identity'
          ? { code: Status.INTERNAL, details: 'compressed flag set on a message whose grpc-encoding is identity' }
          : { code: Status.UNIMPLEMENTED, details: `compressed requests (grpc-encoding ${enc}) are not supported; send them uncompressed` },
      );
      return;
    }
    this.dispatch('data', this.opts.decode(message));
  }

  private onEnd(): void {
    if (this.finished) return;
    if (this.deframer.partial) {
      this.end({ code: Status.INTERNAL, details: 'request stream ended in the middle of a message' });
      return;
    }
    this.dispatch('end');
    // The peer has said all it will: finish the call if its handler did not.
    this.end();
  }

  private dispatch(event: string, ...args: unknown[]): boolean {
    const list = this.listeners.get(event) ?? EMPTY;
    for (const fn of list) fn(...args);
    return list.length > 0;
  }
}

function frameStatus(err: FrameError, max: number): CallStatus {
  if (err.kind === 'too_large') return { code: Status.RESOURCE_EXHAUSTED, details: `Received message larger than max (${err.value} vs. ${max})` };
  return { code: Status.INTERNAL, details: `invalid message flag ${err.value} (only 0 and 1 exist)` };
}
