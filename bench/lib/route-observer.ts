// One extra xDS client that watches a route configuration and times route changes: S7's
// route changes set the timeout of one service's route to (BASE + k) ms for change k, so the
// observer can tell from the RouteConfiguration it receives which changes it holds (the load
// generator's simulated Envoys do not decode routes). It is a real gRPC client (grpc-js,
// test/helpers/xds-client.ts) on RDS (SotW), running in the runner process; it ACKs every
// response. Staleness of change k = the moment it first holds change k or a later one − the
// moment the model file with change k was renamed (both on the monotonic clock).
import { type SotwResponse, type SotwStream, TYPE, XdsTestClient } from '../../test/helpers/xds-client.js';
import { nowMs } from '../loadgen/protocol.js';

export interface RouteObserverOptions {
  /** xDS server, HOST:PORT. */
  target: string;
  node: { id: string; cluster: string };
  /** The route configuration to watch (e.g. "outbound"). */
  routeConfig: string;
  /** Virtual host (by name or domain) and route (by name suffix) whose timeout carries the change index. */
  virtualHost: string;
  route: string;
  /** Timeout of change k is base + k milliseconds. */
  base: number;
}

export interface RouteObserverReport {
  /** Changes written / held by the observer. */
  written: number;
  observed: number;
  responses: number;
  /** Staleness of each observed change (ms), in change order. */
  stalenessMs: number[];
  ended: string | null;
}

/** "1.001s" (proto3 JSON Duration) → 1001 ms. */
function durationMs(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const m = /^(\d+)(?:\.(\d+))?s$/.exec(v);
  if (!m) return null;
  return Number(m[1]) * 1000 + Math.round(Number(`0.${m[2] ?? '0'}`) * 1000);
}

export class RouteObserver {
  private readonly client: XdsTestClient;
  private readonly stream: SotwStream;
  private readonly writes: number[] = [];
  private readonly staleness: number[] = [];
  /** Highest change index held so far (−1: none). */
  private held = -1;
  private responses = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private firstResponse: Promise<void>;
  private resolveFirst: () => void = () => {};

  constructor(private readonly o: RouteObserverOptions) {
    this.client = new XdsTestClient(o.target, { node: o.node });
    this.stream = this.client.sotw('rds', o.node);
    this.firstResponse = new Promise((r) => (this.resolveFirst = r));
  }

  /** Subscribe and resolve once the first response arrived. */
  async start(timeoutMs = 60_000): Promise<void> {
    this.stream.subscribe(TYPE.ROUTE, [this.o.routeConfig]);
    this.loop = this.run();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.firstResponse,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`route observer: no RDS response within ${timeoutMs} ms`)), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let res: SotwResponse;
      try {
        res = await this.stream.next(3_600_000);
      } catch {
        return; // ended (or stopped)
      }
      const t = nowMs();
      this.stream.received.length = 0; // the helper keeps every response; a soak must not
      this.responses++;
      const k = this.changeIn(res);
      if (k !== null && k > this.held) {
        for (let j = this.held + 1; j <= k; j++) {
          const w = this.writes[j];
          if (w !== undefined) this.staleness[j] = t - w;
        }
        this.held = k;
      }
      this.stream.ack(res);
      this.resolveFirst();
    }
  }

  /** The change index the response's route carries, or null (no timeout yet, or not found). */
  private changeIn(res: SotwResponse): number | null {
    const rc = res.resources.find((r) => r.name === this.o.routeConfig);
    const vhosts = (rc?.json['virtual_hosts'] ?? []) as Array<{ name?: string; domains?: string[]; routes?: Array<{ name?: string; route?: { timeout?: unknown } }> }>;
    const vh = vhosts.find((v) => v.name === this.o.virtualHost || v.domains?.includes(this.o.virtualHost));
    const route = vh?.routes?.find((r) => r.name === this.o.route || r.name?.endsWith(`/${this.o.route}`));
    const ms = durationMs(route?.route?.timeout);
    return ms === null ? null : ms - this.o.base;
  }

  /** Route change k was written at time t (writeModel's T0: just before the rename). */
  written(k: number, t: number): void {
    this.writes[k] = t;
  }

  /** The timeout string of change k. */
  timeoutOf(k: number): string {
    return `${this.o.base + k}ms`;
  }

  get heldChange(): number {
    return this.held;
  }

  report(): RouteObserverReport {
    const s = this.staleness.filter((x) => x !== undefined);
    return { written: this.writes.length, observed: s.length, responses: this.responses, stalenessMs: s, ended: this.stream.ended ? `${this.stream.ended.code}: ${this.stream.ended.details}` : null };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.client.close();
    await this.loop;
  }
}
