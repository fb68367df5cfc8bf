// The xDS gRPC server: ADS and the five per-type discovery services, each with a SotW and a
// Delta method, on one port. Responses are pre-encoded buffers (identity serialiser);
// requests are decoded with the registry, and a request that does not decode ends its own
// stream with INVALID_ARGUMENT instead of throwing.
//
// meshgate owns the listening sockets (net.Server with a large accept backlog) and hands each
// accepted connection to grpc-js through a connection injector, which applies the server's
// credentials (TLS with --xds-tls) exactly as grpc-js' own listener would: with grpc-js'
// listener, Node's default backlog of 511 overflowed when thousands of proxies connected at
// once, and every dropped SYN cost its proxy a one-second retransmission.
import { lookup } from 'node:dns/promises';
import { isIP, type Server as NetServer, createServer as createNetServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { SnapshotCache } from './cache.js';
import { addAccessLogService } from './access-log-service.js';
import { XdsMetrics } from './metrics.js';
import { messageType } from './protos.js';
import { ResponseCache, type ResponseBytes, type ResponseCacheOptions } from './response-cache.js';
import { DeltaStream } from './stream-delta.js';
import { DEFAULT_LIMITS, type DuplexCall, type StreamDeps, type StreamLimits } from './stream-base.js';
import { SotwStream } from './stream-sotw.js';
import { XdsStatusBoard } from './status.js';
import { DISCOVERY_SERVICES, shortName } from './type-urls.js';
import { lengthDelimited, stringField } from './wire.js';

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
  credentials?: grpc.ServerCredentials;
  controlPlaneId?: string;
  /** Whether a proxy may receive its group's secrets (identity proof). */
  secretPolicy?: StreamDeps['secretPolicy'];
  /** Accept queue length of the xDS listening sockets (default 4096; the kernel caps it at net.core.somaxconn). */
  backlog?: number;
  /** Bounds of the shared response cache. */
  responseCache?: ResponseCacheOptions;
}

/** Default accept backlog: a connect storm of thousands of proxies fits in the queue. */
export const DEFAULT_BACKLOG = 4096;

const DECODE_OPTIONS = { longs: String, enums: Number, defaults: false, arrays: true, objects: true } as const;

function decoderFor(typeName: string): (buf: Buffer) => unknown {
  const type = messageType(typeName);
  return (buf: Buffer) => {
    try {
      return type.toObject(type.decode(buf), DECODE_OPTIONS);
    } catch (err) {
      return { decodeError: err instanceof Error ? err.message : String(err) };
    }
  };
}

export class XdsServer {
  readonly metrics: XdsMetrics;
  readonly board = new XdsStatusBoard();
  private readonly server: grpc.Server;
  private readonly deps: StreamDeps;
  private port = 0;
  private readonly listeners: NetServer[] = [];
  private injector: grpc.ConnectionInjector | null = null;

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
    };
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxReceiveBytes ?? 16 * 1024 * 1024,
      'grpc.max_send_message_length': this.deps.limits.maxSendBytes,
      'grpc.keepalive_time_ms': opts.keepaliveTimeMs ?? 30_000,
      'grpc.keepalive_timeout_ms': opts.keepaliveTimeoutMs ?? 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.max_ping_strikes': 0,
      // Channelz (per-call and per-message bookkeeping for an introspection service meshgate
      // does not expose) costs about 5 % of a connect storm.
      'grpc.enable_channelz': 0,
    });
    const sotwDecode = decoderFor('envoy.service.discovery.v3.DiscoveryRequest');
    const deltaDecode = decoderFor('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    const identity = (b: Buffer): Buffer => b;
    // A response is a ResponseBytes (body + nonce field) that grpc-js copies into its frame
    // through byteLength and copy(): see response-cache.ts.
    const framed = (r: ResponseBytes): Buffer => r as unknown as Buffer;
    for (const svc of DISCOVERY_SERVICES) {
      const label = svc.typeUrl ? shortName(svc.typeUrl).toLowerCase() : 'ads';
      const def: grpc.ServiceDefinition = {
        [svc.sotw]: {
          path: `/${svc.service}/${svc.sotw}`,
          requestStream: true,
          responseStream: true,
          requestSerialize: identity,
          requestDeserialize: sotwDecode,
          responseSerialize: framed,
          responseDeserialize: identity,
        },
        [svc.delta]: {
          path: `/${svc.service}/${svc.delta}`,
          requestStream: true,
          responseStream: true,
          requestSerialize: identity,
          requestDeserialize: deltaDecode,
          responseSerialize: framed,
          responseDeserialize: identity,
        },
      };
      this.server.addService(def, {
        [svc.sotw]: (call: grpc.ServerDuplexStream<unknown, Buffer>) => {
          new SotwStream(call as unknown as DuplexCall, this.deps, 'sotw', label, svc.typeUrl);
        },
        [svc.delta]: (call: grpc.ServerDuplexStream<unknown, Buffer>) => {
          new DeltaStream(call as unknown as DuplexCall, this.deps, 'delta', label, svc.typeUrl);
        },
      });
    }
    addAccessLogService(this.server, this.metrics, this.deps.log);
  }

  /**
   * Bind to "host:port" (port 0 picks a free one; a host name binds every address it resolves
   * to, as grpc-js does). Resolves to the bound port. Other address forms (e.g. "unix:…") go
   * to grpc-js' own listener.
   */
  async listen(address: string): Promise<number> {
    const credentials = this.opts.credentials ?? grpc.ServerCredentials.createInsecure();
    const hp = parseHostPort(address);
    if (!hp) return this.bindWithGrpc(address, credentials);
    const hosts = isIP(hp.host) ? [hp.host] : [...new Set((await lookup(hp.host, { all: true })).map((a) => a.address))];
    if (hosts.length === 0) throw new Error(`xDS listen address ${address}: ${hp.host} resolves to no address`);
    const injector = (this.injector ??= this.server.createConnectionInjector(credentials));
    const backlog = this.opts.backlog ?? DEFAULT_BACKLOG;
    let port = hp.port;
    let firstError: Error | null = null;
    for (const host of hosts) {
      try {
        const srv = await listenOne(host, port, backlog, (socket) => injector.injectConnection(socket));
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

  private bindWithGrpc(address: string, credentials: grpc.ServerCredentials): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, credentials, (err, port) => {
        if (err) return reject(err);
        this.port = port;
        this.deps.log.info({ address, port }, 'xDS server listening');
        resolve(port);
      });
    });
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

  /** Stop accepting streams; end open ones after `graceMs`. */
  close(graceMs = 1000): Promise<void> {
    this.stopListening();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Close every connection at once (tests simulating a crash use a real process kill instead). */
  forceClose(): void {
    this.stopListening();
    this.server.forceShutdown();
  }
}

/** "host:port" or "[v6]:port"; null for anything else (left to grpc-js). */
export function parseHostPort(address: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: (m[1] ?? m[2])!, port };
}

function listenOne(host: string, port: number, backlog: number, onConnection: (socket: import('node:net').Socket) => void): Promise<NetServer> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer(onConnection);
    const onError = (err: Error): void => reject(err);
    srv.once('error', onError);
    srv.listen({ host, port, backlog }, () => {
      srv.off('error', onError);
      // Accept errors (EMFILE…) must not crash the process; the connection is simply lost.
      srv.on('error', () => {});
      resolve(srv);
    });
  });
}
