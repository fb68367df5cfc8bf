// How long the next watcher reload waits so that reloads, and the pushes and acknowledgements
// each one sets off, use at most a target share of a core.
//
// A single edit after a quiet spell is loaded at once. Under a stream of edits (endpoint churn:
// the model rewritten every few ms), each reload's cost (load, build, waking and answering
// every proxy, reading their ACKs) is measured as the CPU time the process used since that
// reload began; the next one starts once that is at most `target` of the time elapsed, and
// never later than `maxDelayMs` after it was wanted. The share is asked again when a wait
// ends: the acknowledgements of a big push keep arriving after the next reload is wanted,
// and a wait worked out before they were read would start the next reload too early (the
// process then stays at 100 % of its core under steady churn). Changes made meanwhile are loaded
// together: what would have been many small pushes to every proxy is one. CPU time rather
// than event-loop busy time: on a machine shared with other work, a loop that waits for the
// CPU looks busy without using any.
//
// Only a reload that began within HORIZON_MS counts: the CPU used since one that began longer
// ago is not its cost but whatever came later (a connect storm of 2000 proxies after startup
// held S3's first edit for the whole maximum delay: 2 s of CPU since the startup load).
import { performance } from 'node:perf_hooks';

/** A reload that began longer ago than this holds up nothing (its pushes and ACKs are long done). */
export const HORIZON_MS = 1000;

export interface PacerClock {
  /** Wall-clock milliseconds. */
  now(): number;
  /** CPU milliseconds the process has used (user + system). */
  cpu(): number;
}

const SYSTEM: PacerClock = {
  now: () => performance.now(),
  cpu: () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  },
};

export class ReloadPacer {
  private startedAt = Number.NEGATIVE_INFINITY;
  private cpuAtStart = 0;

  constructor(
    /** Share of a core reloads and what they set off may use under a stream of edits. */
    readonly target = 0.5,
    /** Longest a wanted reload waits. */
    readonly maxDelayMs = 100,
    private readonly clock: PacerClock = SYSTEM,
  ) {}

  /**
   * Milliseconds to wait before starting the next reload (0: start now). `waitedMs`: how long
   * this reload has waited already (ask again when a wait ends, with the time waited so far:
   * the total never exceeds maxDelayMs).
   */
  delay(waitedMs = 0): number {
    if (this.startedAt === Number.NEGATIVE_INFINITY) return 0;
    const elapsed = this.clock.now() - this.startedAt;
    if (elapsed >= HORIZON_MS) return 0;
    const busy = this.clock.cpu() - this.cpuAtStart;
    return Math.max(0, Math.min(this.maxDelayMs - waitedMs, busy / this.target - elapsed));
  }

  /** A reload starts now. */
  started(): void {
    this.startedAt = this.clock.now();
    this.cpuAtStart = this.clock.cpu();
  }
}
