// An xDS stream without a transport: a call that records what the stream writes, and the
// dependencies a stream needs (cache, metrics, status board, response cache), for unit tests
// that drive SotwStream / DeltaStream directly.
import { EventEmitter } from 'node:events';
import type { SnapshotCache } from '../../src/xds/cache.js';
import { XdsMetrics } from '../../src/xds/metrics.js';
import { ResponseCache, type ResponseBytes } from '../../src/xds/response-cache.js';
import { XdsStatusBoard } from '../../src/xds/status.js';
import { DEFAULT_LIMITS, type DuplexCall, type StreamDeps } from '../../src/xds/stream-base.js';
import { lengthDelimited, stringField } from '../../src/xds/wire.js';
import { silentLogger } from '../../src/util/log.js';

export class FakeCall extends EventEmitter implements DuplexCall {
  readonly written: Buffer[] = [];
  write(chunk: ResponseBytes, done?: (err?: Error | null) => void): boolean {
    this.written.push(chunk.toBuffer());
    done?.();
    return true;
  }
  end(): void {}
  getPeer(): string {
    return 'ipv4:127.0.0.1:1';
  }
}

export function depsFor(cache: SnapshotCache, secretPolicy?: StreamDeps['secretPolicy']): StreamDeps {
  const cp = stringField(1, 'meshgate');
  const controlPlane = { sotw: lengthDelimited(6, cp), delta: lengthDelimited(7, cp) };
  return {
    cache,
    metrics: new XdsMetrics(),
    board: new XdsStatusBoard(),
    log: silentLogger(),
    limits: DEFAULT_LIMITS,
    controlPlane,
    responses: new ResponseCache(controlPlane),
    ...(secretPolicy ? { secretPolicy } : {}),
  };
}
