// The xDS gRPC server: ADS and the five per-type discovery services, each with a SotW and a
// Delta method, on one port. Responses are pre-encoded buffers (identity serialiser);
// requests are decoded with the registry, and a request that does not decode ends its own
// stream with INVALID_ARGUMENT instead of throwing.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { SnapshotCache } from './cache.js';
import { addAccessLogService } from './access-log-service.js';
import { XdsMetrics } from './metrics.js';
import { messageType } from './protos.js';
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
}

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

  constructor(private readonly opts: XdsServerOptions) {
    this.metrics = opts.metrics ?? new XdsMetrics();
    const id = opts.controlPlaneId ?? 'meshgate';
    const cp = stringField(1, id);
    this.deps = {
      cache: opts.cache,
      metrics: this.metrics,
      board: this.board,
      log: opts.log.child({ component: 'xds' }),
      limits: { ...DEFAULT_LIMITS, ...opts.limits },
      controlPlane: { sotw: lengthDelimited(6, cp), delta: lengthDelimited(7, cp) },
      ...(opts.secretPolicy ? { secretPolicy: opts.secretPolicy } : {}),
    };
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxReceiveBytes ?? 16 * 1024 * 1024,
      'grpc.max_send_message_length': this.deps.limits.maxSendBytes,
      'grpc.keepalive_time_ms': opts.keepaliveTimeMs ?? 30_000,
      'grpc.keepalive_timeout_ms': opts.keepaliveTimeoutMs ?? 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.max_ping_strikes': 0,
    });
    const sotwDecode = decoderFor('envoy.service.discovery.v3.DiscoveryRequest');
    const deltaDecode = decoderFor('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    const identity = (b: Buffer): Buffer => b;
    for (const svc of DISCOVERY_SERVICES) {
      const label = svc.typeUrl ? shortName(svc.typeUrl).toLowerCase() : 'ads';
      const def: grpc.ServiceDefinition = {
        [svc.sotw]: {
          path: `/${svc.service}/${svc.sotw}`,
          requestStream: true,
          responseStream: true,
          requestSerialize: identity,
          requestDeserialize: sotwDecode,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
        [svc.delta]: {
          path: `/${svc.service}/${svc.delta}`,
          requestStream: true,
          responseStream: true,
          requestSerialize: identity,
          requestDeserialize: deltaDecode,
          responseSerialize: identity,
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

  /** Bind to "host:port" (port 0 picks a free one). Resolves to the bound port. */
  listen(address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, this.opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, port) => {
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

  /** Stop accepting streams; end open ones after `graceMs`. */
  close(graceMs = 1000): Promise<void> {
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
    this.server.forceShutdown();
  }
}
