// A lean gRPC server: routing by :path, calls (./call.ts) with length-prefixed framing, trailers
// and trailers-only errors, keepalive pings, graceful and forced close. Plain HTTP/2 (h2c) or
// TLS with ALPN h2. It does not listen itself: the owner accepts sockets (with the backlog it
// wants) and hands each one to handleConnection(). Its HTTP/2 is meshgate's own framing
// (../h2/: one buffer per small response, about a third less CPU per push and ACK than
// node:http2 in bench/xds-transport.ts), or node:http2 with `transport: 'node'`.
//
// Why not @grpc/grpc-js: every message through grpc-js' server passes its interceptor chain,
// its stream decoder, an object-mode Node stream around each HTTP/2 stream and a deserialiser
// that built protobufjs objects; in a connect storm (2000 proxies × ~10 messages) that was the
// largest single share of meshgate's CPU. Here a request chunk goes from the HTTP/2 stream's
// 'data' event through the deframer (a view of the chunk, no copy) to the hand-written decoder
// (./discovery-request.ts). bench/xds-transport.ts measured both servers, on node:http2: 2000
// proxies' storm (CDS, EDS, LDS, RDS and their ACKs) cost the server 1.82 s of CPU with grpc-js
// and 1.56 s with this one, an EDS push and its ACK 69 and 63 µs (medians of 3 pinned runs on a shared 2-core machine; the rest
// is mostly node:http2 itself). More in the README's "How meshgate serves xDS".
import http2, { constants, type Http2SecureServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { H2Connection } from '../h2/connection.js';
import { type CallStream, GrpcCall } from './call.js';
import { encodeGrpcMessage, Status } from './status.js';

export interface GrpcServerOptions {
  /** Largest request message accepted (RESOURCE_EXHAUSTED beyond). */
  maxReceiveBytes: number;
  /** Ping every connection this often; close it if a ping is not answered within the timeout. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** Serve TLS (ALPN h2) with this key and certificate chain (PEM); plaintext HTTP/2 if absent. */
  tls?: TlsKeyCert;
  /**
   * HTTP/2 framed by meshgate on the socket (../h2/, the default) or by node:http2 (for
   * comparison: bench/xds-transport.ts --transport node).
   */
  transport?: 'meshgate' | 'node';
}

export interface TlsKeyCert {
  keyPem: string | Buffer;
  certPem: string | Buffer;
}

export interface GrpcMethod {
  /** A decoder for one call: request bytes → what its 'data' listeners get (must not throw). */
  decoder: () => (message: Buffer) => unknown;
  /** Called once per call, synchronously, before any request is read. */
  handler: (call: GrpcCall) => void;
}

/**
 * HTTP/2 settings. Requests are read as they arrive, so large receive windows cost nothing
 * and keep a proxy's big request (tens of thousands of names) from being paced by round trips;
 * the send side is paced by the proxy's own windows (Envoy's default is 256 MiB per stream).
 */
const STREAM_WINDOW = 8 * 1024 * 1024;
const SESSION_WINDOW = 16 * 1024 * 1024;
/** Node rejects new streams on a session whose buffered data exceeds this (MB); a big push is megabytes. */
const MAX_SESSION_MEMORY_MB = 512;
/** Streams open at once on one connection (an Envoy opens one ADS stream, or one per xDS type). */
const MAX_CONCURRENT_STREAMS = 1000;

/** What the server needs of a connection, from node:http2 or meshgate's own. */
interface Session {
  close(): void;
  destroy(): void;
  readonly closed: boolean;
  readonly destroyed: boolean;
  ping(cb: (err: Error | null, duration: number, payload: Buffer) => void): boolean;
}

interface SessionState {
  peer: string;
  pingTimer: NodeJS.Timeout | null;
  pongTimer: NodeJS.Timeout | null;
}

export class GrpcServer {
  private readonly methods = new Map<string, GrpcMethod>();
  private readonly h2: Http2Server | Http2SecureServer | null = null;
  private readonly secureContext: tls.SecureContext | null = null;
  private readonly sessions = new Map<Session, SessionState>();
  private readonly calls = new Set<GrpcCall>();
  /** Accepted sockets (a session closed gracefully waits for its peer to close the socket). */
  private readonly sockets = new Set<Socket>();
  private closing = false;
  private readonly sessionsGone: Array<() => void> = [];

  constructor(private readonly opts: GrpcServerOptions) {
    if (opts.transport !== 'node') {
      if (opts.tls) this.secureContext = tls.createSecureContext({ key: opts.tls.keyPem, cert: opts.tls.certPem });
      return;
    }
    const options = {
      settings: { initialWindowSize: STREAM_WINDOW, enablePush: false },
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
    };
    this.h2 = opts.tls
      ? http2.createSecureServer({ ...options, key: opts.tls.keyPem, cert: opts.tls.certPem, ALPNProtocols: ['h2'], allowHTTP1: false })
      : http2.createServer(options);
    this.h2.on('session', (session: ServerHttp2Session) => this.onSession(session));
    this.h2.on('stream', (stream: http2.ServerHttp2Stream, headers: IncomingHttpHeaders) => this.onStream(stream, headers, this.sessions.get(stream.session as ServerHttp2Session)?.peer ?? ''));
    // Failed handshakes, protocol errors and clients without ALPN h2 cost their connection only.
    this.h2.on('sessionError', () => undefined);
    this.h2.on('tlsClientError', () => undefined);
    this.h2.on('unknownProtocol', (socket: Socket) => socket.destroy());
  }

  /** Route `path` ("/package.Service/Method") to a method. */
  addMethod(path: string, method: GrpcMethod): void {
    this.methods.set(path, method);
  }

  /** Serve one accepted connection (plain TCP; TLS is negotiated here if configured). */
  handleConnection(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    socket.on('error', () => undefined);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.h2) {
      this.h2.emit('connection', socket);
      return;
    }
    if (!this.secureContext) {
      this.startConnection(socket);
      return;
    }
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: this.secureContext, ALPNProtocols: ['h2'] });
    secure.on('error', () => secure.destroy());
    secure.once('secure', () => {
      // Clients without ALPN h2 get no service (as node:http2's server refuses them).
      if (secure.alpnProtocol !== 'h2' || this.closing) secure.destroy();
      else this.startConnection(secure);
    });
  }

  /** meshgate's own HTTP/2 on an accepted (and, with TLS, negotiated) socket. */
  private startConnection(socket: Socket): void {
    const conn = new H2Connection(socket, { streamWindow: STREAM_WINDOW, connectionWindow: SESSION_WINDOW, maxConcurrentStreams: MAX_CONCURRENT_STREAMS });
    const state = this.addSession(conn, socket);
    conn.on('stream', (stream: CallStream, headers: Record<string, string>) => this.onStream(stream, headers, state.peer));
    conn.once('close', () => this.sessionGone(conn, state));
    if (this.closing) {
      conn.close();
      return;
    }
    this.schedulePing(conn, state);
  }

  /** Open calls (for tests and diagnostics). */
  get callCount(): number {
    return this.calls.size;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Stop taking calls: every connection gets a GOAWAY (calls in progress carry on), and calls
   * still open after `graceMs` are ended with UNAVAILABLE and their connections closed.
   * Resolves when every connection is closed.
   */
  close(graceMs: number): Promise<void> {
    this.closing = true;
    for (const s of this.sessions.keys()) if (!s.closed) s.close();
    if (this.sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const call of this.calls) call.end({ code: Status.UNAVAILABLE, details: 'the server is shutting down' });
        // Let the trailers go out, then close whatever is left.
        setTimeout(() => this.forceClose(), 50).unref();
      }, graceMs);
      timer.unref();
      this.sessionsGone.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Close every connection at once. */
  forceClose(): void {
    this.closing = true;
    for (const s of [...this.sessions.keys()]) s.destroy();
    // A session that was closed gracefully waits for its peer to close the connection; one
    // still in the TLS handshake has no session yet.
    for (const socket of [...this.sockets]) socket.destroy();
  }

  private addSession(session: Session, socket: Socket | undefined): SessionState {
    const addr = socket?.remoteAddress ?? '';
    const state: SessionState = {
      peer: addr.includes(':') ? `[${addr}]:${socket?.remotePort ?? 0}` : `${addr}:${socket?.remotePort ?? 0}`,
      pingTimer: null,
      pongTimer: null,
    };
    this.sessions.set(session, state);
    return state;
  }

  private sessionGone(session: Session, state: SessionState): void {
    if (state.pingTimer) clearTimeout(state.pingTimer);
    if (state.pongTimer) clearTimeout(state.pongTimer);
    this.sessions.delete(session);
    if (this.sessions.size === 0) for (const f of this.sessionsGone.splice(0)) f();
  }

  private onSession(session: ServerHttp2Session): void {
    const state = this.addSession(session, session.socket);
    session.on('error', () => undefined);
    session.once('close', () => this.sessionGone(session, state));
    try {
      session.setLocalWindowSize(SESSION_WINDOW);
    } catch {
      // The session is already gone.
    }
    if (this.closing) {
      session.close();
      return;
    }
    this.schedulePing(session, state);
  }

  /** Keepalive: a ping every keepaliveTimeMs; no answer within keepaliveTimeoutMs closes the connection. */
  private schedulePing(session: Session, state: SessionState): void {
    if (this.opts.keepaliveTimeMs <= 0) return;
    state.pingTimer = setTimeout(() => {
      state.pingTimer = null;
      if (session.destroyed || session.closed) return;
      state.pongTimer = setTimeout(() => {
        state.pongTimer = null;
        session.destroy();
      }, this.opts.keepaliveTimeoutMs);
      state.pongTimer.unref();
      const answered = (err: Error | null): void => {
        if (state.pongTimer) clearTimeout(state.pongTimer);
        state.pongTimer = null;
        if (!err) this.schedulePing(session, state);
      };
      try {
        if (!session.ping(answered)) this.schedulePing(session, state); // too many pings outstanding: try later
      } catch {
        session.destroy();
      }
    }, this.opts.keepaliveTimeMs);
    state.pingTimer.unref();
  }

  private onStream(stream: CallStream, headers: IncomingHttpHeaders | Record<string, string>, peer: string): void {
    stream.on('error', () => undefined);
    const contentType = headers[constants.HTTP2_HEADER_CONTENT_TYPE];
    if (headers[constants.HTTP2_HEADER_METHOD] !== 'POST' || typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      // Not gRPC: an HTTP answer, as gRPC servers give.
      stream.respond({ [constants.HTTP2_HEADER_STATUS]: headers[constants.HTTP2_HEADER_METHOD] !== 'POST' ? 405 : 415 }, { endStream: true });
      stream.resume();
      return;
    }
    const path = String(headers[constants.HTTP2_HEADER_PATH] ?? '');
    const method = this.methods.get(path);
    if (!method || this.closing) {
      const code = method ? Status.UNAVAILABLE : Status.UNIMPLEMENTED;
      const details = method ? 'the server is shutting down' : `unknown method ${path}`;
      stream.respond(
        { [constants.HTTP2_HEADER_STATUS]: 200, [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) },
        { endStream: true },
      );
      stream.resume();
      return;
    }
    const encoding = headers['grpc-encoding'];
    const call = new GrpcCall(stream, {
      maxReceiveBytes: this.opts.maxReceiveBytes,
      decode: method.decoder(),
      peer,
      encoding: typeof encoding === 'string' ? encoding : undefined,
    });
    this.calls.add(call);
    stream.once('close', () => this.calls.delete(call));
    method.handler(call);
  }
}
