// How long the next watcher reload waits so that reloads, and the pushes and acknowledgements
// each one sets off, keep the event loop busy at most a target share of the time.
//
// A single edit after a quiet spell is loaded at once. Under a stream of edits (endpoint churn:
// the model rewritten every few ms), each reload's cost (load, build, waking and answering
// every proxy, reading their ACKs) is measured as the event loop's active time since that
// reload began; the next one starts once that time is at most `target` of the time elapsed,
// and never later than `maxDelayMs` after it was wanted. Changes made meanwhile are loaded
// together: what would have been many small pushes to every proxy is one.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface PacerClock {
  now(): number;
  /** The event loop's utilisation since `since` (performance.eventLoopUtilization). */
  elu(since?: EventLoopUtilization): EventLoopUtilization;
}

const SYSTEM: PacerClock = {
  now: () => performance.now(),
  elu: (since) => (since ? performance.eventLoopUtilization(since) : performance.eventLoopUtilization()),
};

export class ReloadPacer {
  private startedAt = Number.NEGATIVE_INFINITY;
  private eluAtStart: EventLoopUtilization | null = null;

  constructor(
    /** Share of the time reloads and what they set off may keep the event loop busy. */
    readonly target = 0.5,
    /** Longest a wanted reload waits. */
    readonly maxDelayMs = 100,
    private readonly clock: PacerClock = SYSTEM,
  ) {}

  /** Milliseconds to wait before starting the next reload (0: start now). */
  delay(): number {
    if (!this.eluAtStart) return 0;
    const elapsed = this.clock.now() - this.startedAt;
    const busy = this.clock.elu(this.eluAtStart).active;
    return Math.max(0, Math.min(this.maxDelayMs, busy / this.target - elapsed));
  }

  /** A reload starts now. */
  started(): void {
    this.startedAt = this.clock.now();
    this.eluAtStart = this.clock.elu();
  }
}
