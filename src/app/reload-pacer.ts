// How long the next watcher reload waits so that reloads, and the pushes and acknowledgements
// each one sets off, use at most a target share of a core.
//
// A single edit after a quiet spell is loaded at once. Under a stream of edits (endpoint churn:
// the model rewritten every few ms), the cost of reloads (load, build, waking and answering
// every proxy, reading their ACKs) is the CPU time the process uses: what it used beyond
// `target` of the time elapsed is a debt, and the next reload waits until the debt is paid
// (the process idle meanwhile), never longer than cap() (a quarter more than the period a typical
// recent cycle needs at that share, within [minCapMs, maxDelayMs]). What a reload could not wait for
// is carried to the next ones, up to debtLimit(): a typical recent cycle's CPU (at least what one
// wait of minCapMs pays, at most debtMaxMs). So steady costly cycles hold the share (each carries
// what the last could not wait for), while a lone costly cycle (a full garbage collection inside
// one) holds up the next reload or two and the rest is forgiven: the share goes over the target
// for a moment rather than every change of the next second waiting behind it. (Before, each
// reload paid for the cycle before it alone, up to 500 ms in one wait; then up to 300 ms of CPU
// were carried, paid over four capped waits, with every change made meanwhile waiting: three
// paired S4 runs at 1000/s gave SotW staleness p99 291–306 ms against 319–385 and Delta p50
// 80–87 ms against 94–101, at 50 % of a core in both.) The share is asked again when a wait
// ends: the acknowledgements of a big push keep arriving after the next reload is wanted.
// Changes made meanwhile are loaded together: what would have been many small pushes to every
// proxy is one. CPU time rather than event-loop busy time: on a machine shared with other work,
// a loop that waits for the CPU looks busy without using any.
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
  /**
   * CPU milliseconds used beyond the target share, carried from reload to reload (never below
   * 0: a quiet spell earns no credit; at most debtLimit()). One reload's wait is capped (see
   * cap()), so a costly cycle (a full garbage collection in it) is paid back over the next one or
   * two instead of in one long wait that every change made meanwhile would sit through.
   */
  private debt = 0;
  private accountedAt: number | null = null;
  private cpuAt = 0;
  /** CPU per cycle (reload start to reload start), averaged (exponentially) over recent cycles. */
  private cycleCpu = 0;
  private cpuAtStart = 0;

  constructor(
    /** Share of a core reloads and what they set off may use under a stream of edits. */
    readonly target = 0.5,
    /** Longest a wanted reload waits. */
    readonly maxDelayMs = 100,
    private readonly clock: PacerClock = SYSTEM,
    /** One reload may wait at least this long if the debt asks for it (the cap grows with the period a typical cycle needs: cap()). */
    readonly minCapMs = Math.min(150, maxDelayMs),
    /** Most debt ever carried (CPU ms): beyond it, a run of costly cycles goes over the target share rather than waiting ever longer. */
    readonly debtMaxMs = 2 * minCapMs,
  ) {}

  /**
   * Most debt carried now: a typical recent cycle's CPU, at least what one wait of minCapMs
   * pays at the target share, at most debtMaxMs. A spike beyond a typical cycle is forgiven.
   */
  debtLimit(): number {
    return Math.min(this.debtMaxMs, Math.max(this.target * this.minCapMs, this.cycleCpu));
  }

  /**
   * Milliseconds to wait before starting the next reload (0: start now). `waitedMs`: how long
   * this reload has waited already (ask again when a wait ends, with the time waited so far:
   * the total never exceeds the cap).
   */
  delay(waitedMs = 0): number {
    if (this.startedAt === Number.NEGATIVE_INFINITY) return 0;
    this.account();
    if (this.clock.now() - this.startedAt >= HORIZON_MS) {
      this.debt = 0;
      return 0;
    }
    return this.waitFor(this.debt, waitedMs);
  }

  /**
   * What delay() would say now, without accounting (accounting more often than reloads start
   * would change the debt: it never goes below 0, so a look during a quiet spell forgets CPU
   * used before it). For a check made at every watcher event (MeshgateApp.changeSeen).
   */
  wouldDelay(): number {
    if (this.startedAt === Number.NEGATIVE_INFINITY) return 0;
    const now = this.clock.now();
    if (now - this.startedAt >= HORIZON_MS) return 0;
    return this.waitFor(this.debtAt(now, this.clock.cpu()), 0);
  }

  /** The wait that pays `debt` at the target share, within the cap less what was waited already. */
  private waitFor(debt: number, waitedMs: number): number {
    return Math.max(0, Math.min(this.cap() - waitedMs, debt / this.target));
  }

  /**
   * The longest one reload waits: a quarter more than the period a typical recent cycle needs at
   * the target share (its CPU / target: the CPU is not all spent before the wait, the ACKs of its
   * pushes arrive during it), at least minCapMs, at most maxDelayMs. So steady cycles of any cost
   * hold the share (S7: 2000 sidecars pushed to at every reload), and a lone spike is spread.
   */
  cap(): number {
    return Math.min(this.maxDelayMs, Math.max(this.minCapMs, (1.25 * this.cycleCpu) / this.target));
  }

  /** A reload starts now. */
  started(): void {
    this.account();
    const now = this.clock.now();
    const cpu = this.clock.cpu();
    // A cycle's cost: what was used since the last reload began (within the horizon: after a
    // quiet spell the last start is not this cycle's).
    if (now - this.startedAt < HORIZON_MS) this.cycleCpu += 0.25 * (cpu - this.cpuAtStart - this.cycleCpu);
    this.startedAt = now;
    this.cpuAtStart = cpu;
  }

  /** What was used since the last look, less the target share of the time elapsed. */
  private account(): void {
    const now = this.clock.now();
    const cpu = this.clock.cpu();
    this.debt = this.debtAt(now, cpu);
    this.accountedAt = now;
    this.cpuAt = cpu;
  }

  /** The debt at `now` with `cpu` used so far: the last accounted one, plus what was used since beyond the share (within [0, debtLimit()]). */
  private debtAt(now: number, cpu: number): number {
    if (this.accountedAt === null) return this.debt;
    return Math.min(this.debtLimit(), Math.max(0, this.debt + (cpu - this.cpuAt) - this.target * (now - this.accountedAt)));
  }
}
