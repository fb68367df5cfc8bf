// The xDS gRPC server: ADS and the five per-type discovery services, each with a SotW and a
// Delta method, plus the access log service, on one port. The transport is meshgate's own
// gRPC server (./grpc/) on its own HTTP/2 framing (./h2/): requests are decoded by hand-written
// decoders (./grpc/discovery-request.ts), and a request that does not decode ends its own
// stream with INVALID_ARGUMENT instead of throwing; responses are pre-encoded (ResponseBytes: a
// shared body and the stream's nonce), copied once into their DATA frame when small, written as
// views of the body when large.
//
// meshgate owns the listening sockets (net.Server with a large accept backlog) and hands each
// accepted connection to the HTTP/2 server (TLS with --xds-tls): with Node's default backlog
// of 511, a connect storm of thousands of proxies overflowed the accept queue, and every
// dropped SYN cost its proxy a one-second retransmission.
import fs from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP, type Server as NetServer, type Socket, createServer as createNetServer } from 'node:net';
import type { Logger } from 'pino';
import type { SnapshotCache } from './cache.js';
import { addAccessLogService } from './access-log-service.js';
import { decodeDeltaDiscoveryRequest, discoveryRequestDecoder } from './grpc/discovery-request.js';
import { GrpcServer, type TlsKeyCert } from './grpc/server.js';
import { XdsMetrics } from './metrics.js';
import { ResponseCache, type ResponseCacheOptions } from './response-cache.js';
import { DeltaStream } from './stream-delta.js';
import { DEFAULT_LIMITS, type DuplexCall, type StreamDeps, type StreamLimits } from './stream-base.js';
import { SotwStream } from './stream-sotw.js';
import { XdsStatusBoard } from './status.js';
import { DISCOVERY_SERVICES, shortName } from './type-urls.js';
import { lengthDelimited, stringField } from './wire.js';

export type { TlsKeyCert } from './grpc/server.js';

export interface XdsServerOptions {
  cache: SnapshotCache;
  log: Logger;
  metrics?: XdsMetrics;
  limits?: Partial<StreamLimits>;
  /** Largest request accepted (default 16 MiB). */
  maxReceiveBytes?: number;
  /** HTTP/2 keepalive: ping interval and how long to wait for the answer. */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  /** Serve TLS (ALPN h2) with this key and certificate chain (PEM); plaintext HTTP/2 if absent. */
  credentials?: TlsKeyCert;
  controlPlaneId?: string;
  /** Whether a proxy may receive its group's secrets (identity proof). */
  secretPolicy?: StreamDeps['secretPolicy'];
  /** Accept queue length of the xDS listening sockets (default 4096; the kernel caps it at net.core.somaxconn). */
  backlog?: number;
  /** Bounds of the shared response cache. */
  responseCache?: ResponseCacheOptions;
  /** Requests are handled through this (the app's time slices) instead of as they are read (StreamDeps.defer). */
  defer?: StreamDeps['defer'];
  /** HTTP/2 framed by meshgate (default) or by node:http2 (for comparison). */
  transport?: 'meshgate' | 'node';
}

/** Default accept backlog: a connect storm of thousands of proxies fits in the queue. */
export const DEFAULT_BACKLOG = 4096;

export class XdsServer {
  readonly metrics: XdsMetrics;
  readonly board = new XdsStatusBoard();
  private readonly server: GrpcServer;
  private readonly deps: StreamDeps;
  private port = 0;
  private readonly listeners: NetServer[] = [];

  constructor(private readonly opts: XdsServerOptions) {
    this.metrics = opts.metrics ?? new XdsMetrics();
    const id = opts.controlPlaneId ?? 'meshgate';
    const cp = stringField(1, id);
    const controlPlane = { sotw: lengthDelimited(6, cp), delta: lengthDelimited(7, cp) };
    this.deps = {
      cache: opts.cache,
      metrics: this.metrics,
      board: this.board,
      log: opts.log.child({ component: 'xds' }),
      limits: { ...DEFAULT_LIMITS, ...opts.limits },
      controlPlane,
      responses: new ResponseCache(controlPlane, opts.responseCache),
      ...(opts.secretPolicy ? { secretPolicy: opts.secretPolicy } : {}),
      ...(opts.defer ? { defer: opts.defer } : {}),
    };
    this.server = new GrpcServer({
      maxReceiveBytes: opts.maxReceiveBytes ?? 16 * 1024 * 1024,
      keepaliveTimeMs: opts.keepaliveTimeMs ?? 30_000,
      keepaliveTimeoutMs: opts.keepaliveTimeoutMs ?? 10_000,
      ...(opts.credentials ? { tls: opts.credentials } : {}),
      ...(opts.transport ? { transport: opts.transport } : {}),
    });
    for (const svc of DISCOVERY_SERVICES) {
      const label = svc.typeUrl ? shortName(svc.typeUrl).toLowerCase() : 'ads';
      this.server.addMethod(`/${svc.service}/${svc.sotw}`, {
        decoder: discoveryRequestDecoder,
        handler: (call) => {
          new SotwStream(call satisfies DuplexCall, this.deps, 'sotw', label, svc.typeUrl);
        },
      });
      this.server.addMethod(`/${svc.service}/${svc.delta}`, {
        decoder: () => decodeDeltaDiscoveryRequest,
        handler: (call) => {
          new DeltaStream(call satisfies DuplexCall, this.deps, 'delta', label, svc.typeUrl);
        },
      });
    }
    addAccessLogService(this.server, this.metrics, this.deps.log);
  }

  /**
   * Bind to "host:port" (port 0 picks a free one; a host name binds every address it resolves
   * to), or to a Unix socket ("unix:PATH", "unix:///ABSOLUTE/PATH"; an old socket file there is
   * replaced). Resolves to the bound port (0 for a Unix socket).
   */
  async listen(address: string): Promise<number> {
    const backlog = this.opts.backlog ?? DEFAULT_BACKLOG;
    const onConnection = (socket: Socket): void => this.server.handleConnection(socket);
    if (address.startsWith('unix:')) {
      const path = address.startsWith('unix://') ? address.slice('unix://'.length) : address.slice('unix:'.length);
      if (path === '') throw new Error(`xDS listen address ${address}: no socket path`);
      try {
        if (fs.lstatSync(path).isSocket()) fs.unlinkSync(path);
      } catch {
        // nothing there
      }
      this.listeners.push(await listenOne({ path, backlog }, onConnection));
      this.deps.log.info({ address, backlog }, 'xDS server listening');
      return 0;
    }
    const hp = parseHostPort(address);
    if (!hp) throw new Error(`xDS listen address ${address}: expected HOST:PORT, [V6]:PORT or unix:PATH`);
    const hosts = isIP(hp.host) ? [hp.host] : [...new Set((await lookup(hp.host, { all: true })).map((a) => a.address))];
    if (hosts.length === 0) throw new Error(`xDS listen address ${address}: ${hp.host} resolves to no address`);
    let port = hp.port;
    let firstError: Error | null = null;
    for (const host of hosts) {
      try {
        const srv = await listenOne({ host, port, backlog }, onConnection);
        this.listeners.push(srv);
        const a = srv.address();
        if (a && typeof a === 'object') port = a.port; // port 0: the others bind the same port
      } catch (err) {
        firstError ??= err as Error;
      }
    }
    if (this.listeners.length === 0) throw firstError ?? new Error(`cannot listen on ${address}`);
    this.port = port;
    this.deps.log.info({ address, port, backlog }, 'xDS server listening');
    return port;
  }

  get boundPort(): number {
    return this.port;
  }

  /** The shared response cache (hits, misses, size), for tests and diagnostics. */
  get responseCache(): ResponseCache {
    return this.deps.responses;
  }

  /** Stop accepting connections (open ones carry on). */
  private stopListening(): void {
    for (const l of this.listeners.splice(0)) l.close();
  }

  /**
   * Stop accepting connections and calls (open connections get a GOAWAY); end the streams
   * still open after `graceMs` with UNAVAILABLE. Resolves when every connection is closed.
   */
  close(graceMs = 1000): Promise<void> {
    this.stopListening();
    return this.server.close(graceMs);
  }

  /** Close every connection at once (tests simulating a crash use a real process kill instead). */
  forceClose(): void {
    this.stopListening();
    this.server.forceClose();
  }

  /** Open connections and calls (tests, diagnostics). */
  get transport(): { connections: number; calls: number } {
    return { connections: this.server.sessionCount, calls: this.server.callCount };
  }
}

/** "host:port" or "[v6]:port"; null for anything else. */
export function parseHostPort(address: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: (m[1] ?? m[2])!, port };
}

function listenOne(where: { host: string; port: number; backlog: number } | { path: string; backlog: number }, onConnection: (socket: Socket) => void): Promise<NetServer> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer(onConnection);
    const onError = (err: Error): void => reject(err);
    srv.once('error', onError);
    srv.listen(where, () => {
      srv.off('error', onError);
      // Accept errors (EMFILE…) must not crash the process; the connection is simply lost.
      srv.on('error', () => {});
      resolve(srv);
    });
  });
}
