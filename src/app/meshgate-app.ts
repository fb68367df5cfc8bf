// Composition root: config source → cache → xDS server, the admin server, and the reload loop.
import type { Logger } from 'pino';
import client from 'prom-client';
import { AdminServer } from '../admin/server.js';
import { TimeSlices } from '../util/time-slices.js';
import { watchPath, type Watcher } from '../watch/path-watcher.js';
import { SnapshotCache } from '../xds/cache.js';
import { XdsMetrics } from '../xds/metrics.js';
import { protoRoot } from '../xds/protos.js';
import { XdsServer } from '../xds/server.js';
import type { StreamLimits } from '../xds/stream-base.js';
import type { ConfigLoad, ConfigSource, LoadJob } from './config-source.js';
import { LoopLateness } from './loop-lateness.js';
import { ReloadPacer } from './reload-pacer.js';
import { RootRotation } from './root-rotation.js';
import type { MeshSecurity } from './security.js';

/**
 * Deferred work (util/time-slices.ts) runs this long (ms) per turn before it lets timers and I/O
 * run. S7 (2000 sidecars under churn): 2 ms gave an event-loop delay p99 of 12–16 ms, 5 ms 18–22 ms,
 * with the same convergence (the ACKs read between slices are work of the same size either way).
 */
const SLICE_MS = 2;
/** Under a stream of edits, reloads and what they set off keep the event loop busy at most this share of the time… */
const RELOAD_BUSY_SHARE = 0.5;
/** …and a wanted reload waits at most this long (ms) for it. */
const RELOAD_MAX_PACE_MS = 500;
/** The warm-up takes at most this long (ms) of a turn of the event loop. */
const WARMUP_SLICE_MS = 2;
/** The warm-up (work done ahead while idle) starts this long (ms) after a load. */
const WARMUP_DELAY_MS = 200;

export interface AppOptions {
  source: ConfigSource;
  xdsListen: string;
  adminListen: string;
  log: Logger;
  watch?: boolean;
  limits?: Partial<StreamLimits>;
  maxReceiveBytes?: number;
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  /** The CA, certificates and identity proofs (mTLS models). */
  security?: MeshSecurity;
  /** How long (ms) deferred work (a sliced reload's build, wake-ups, warm-up, requests) runs per turn of the event loop before it lets timers and I/O run (default SLICE_MS). */
  sliceMs?: number;
  /** Share of the time watcher reloads may keep the event loop busy under a stream of edits (default 0.5; 1 disables pacing). */
  reloadBusyShare?: number;
  /** Longest (ms) a watcher reload waits for that (default 500). */
  reloadMaxPaceMs?: number;
  /** The pacer itself (tests give one with their own clock); overrides the two options above. */
  reloadPacer?: ReloadPacer;
  /** Serve xDS over TLS with this key and certificate chain (PEM). */
  xdsCredentials?: import('../xds/server.js').TlsKeyCert;
}

export interface LoadRecord {
  at: string;
  ok: boolean;
  contentHash: string;
  errors: string[];
  warnings: string[];
  changedGroups: string[];
}

export class MeshgateApp {
  readonly cache: SnapshotCache;
  readonly metrics: XdsMetrics;
  readonly xds: XdsServer;
  readonly admin: AdminServer;
  readonly startedAt = new Date();
  ready = false;
  lastApplied: LoadRecord | null = null;
  lastAttempt: LoadRecord | null = null;
  private watcher: Watcher | null = null;
  private rotationTimer: NodeJS.Timeout | null = null;
  readonly security: MeshSecurity | null;
  readonly rootRotation: RootRotation | null;
  private readonly log: Logger;
  private readonly reloads: client.Counter<'result'>;
  /** meshgate_event_loop_lateness_seconds (loop-lateness.ts). */
  private readonly lateness: LoopLateness;
  /** The turns of the event loop deferred work shares: builds, wake-ups, warm-up, requests. */
  private readonly slices: TimeSlices;

  constructor(private readonly opts: AppOptions) {
    this.log = opts.log.child({ component: 'app' });
    this.slices = new TimeSlices(opts.sliceMs ?? SLICE_MS);
    this.cache = new SnapshotCache(opts.source.resolver);
    const provider = opts.source.provider;
    if (provider) {
      this.cache.setProvider({
        exists: (g) => provider.exists(g),
        build: (g) => {
          try {
            return provider.build(g);
          } catch (err) {
            this.log.error({ err, group: g }, 'bug while building a group\'s configuration; its proxies get nothing until the next load');
            return undefined;
          }
        },
      });
    }
    this.security = opts.security ?? null;
    const t0 = performance.now();
    protoRoot();
    this.log.debug({ ms: Math.round(performance.now() - t0) }, 'proto registry loaded');
    this.metrics = new XdsMetrics();
    client.collectDefaultMetrics({ register: this.metrics.registry, prefix: 'meshgate_' });
    this.lateness = new LoopLateness(this.metrics.registry);
    this.reloads = new client.Counter({
      name: 'meshgate_config_reloads_total',
      help: 'Configuration loads by result (applied, unchanged, rejected).',
      labelNames: ['result'],
      registers: [this.metrics.registry],
    });
    this.cache.onSet(() => this.metrics.countSnapshotSet());
    opts.security?.registerMetrics(this.metrics.registry);
    this.xds = new XdsServer({
      cache: this.cache,
      log: opts.log,
      metrics: this.metrics,
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.maxReceiveBytes ? { maxReceiveBytes: opts.maxReceiveBytes } : {}),
      ...(opts.keepaliveTimeMs ? { keepaliveTimeMs: opts.keepaliveTimeMs } : {}),
      ...(opts.keepaliveTimeoutMs ? { keepaliveTimeoutMs: opts.keepaliveTimeoutMs } : {}),
      ...(opts.xdsCredentials ? { credentials: opts.xdsCredentials } : {}),
      defer: (job) => this.slices.defer(job),
      ...(opts.security ? { secretPolicy: (node, group) => opts.security!.mayReceiveSecrets(node, group) } : {}),
    });
    this.rootRotation = opts.security
      ? new RootRotation(
          opts.security,
          {
            board: this.xds.board,
            groupsWithIdentity: () => opts.security!.groupsWithIdentity(),
            republish: () => this.republishSecrets(),
          },
          opts.log,
        )
      : null;
    this.rootRotation?.resumePending();
    this.admin = new AdminServer(this, opts.log);
  }

  get sourceDescription(): string {
    return this.opts.source.description;
  }

  /** Load, then listen. The xDS port answers only once a load has succeeded. */
  async start(): Promise<{ xdsPort: number; adminPort: number }> {
    this.reload();
    const adminPort = await this.admin.listen(this.opts.adminListen);
    const xdsPort = await this.xds.listen(this.opts.xdsListen);
    if (this.opts.watch !== false) {
      this.watcher = watchPath(
        this.opts.source.watchTarget,
        () => this.changeQuiet(),
        undefined,
        () => this.changeSeen(),
      );
    }
    return { xdsPort, adminPort };
  }

  /**
   * Load the source at once; apply it only if it has no errors. Returns the record of this
   * attempt. A sliced reload in progress is abandoned (this one reads the newest input).
   */
  reload(): LoadRecord {
    this.reloadGeneration++;
    this.reloading = false;
    const t0 = performance.now();
    if (this.unchangedInput()) return this.lastAttempt!;
    const peekMs = performance.now() - t0;
    let load: ConfigLoad;
    try {
      // Rebuilt: every group built so far (a proxy of it connected, or it was dumped) that still exists.
      load = this.opts.source.load(() => this.cache.groups());
    } catch (err) {
      return this.loadBug(err);
    }
    return this.apply(load, t0, 1, false, peekMs);
  }

  /**
   * The watcher saw an event. The hold-off that follows (the file may still be being written) is
   * not waited out idle: the file is read and checked now (an early load), which changes nothing
   * anything is served from. If no other event comes after this read, the load goes on to build
   * and apply when the hold-off ends (changeQuiet); otherwise it is dropped and the file read
   * again then. Nothing of an early load is applied or logged before the hold-off ends. One
   * early load per burst of events, and only when meshgate is idle (no reload running, no push
   * or its ACKs in progress, the pacer not holding reloads back): under a stream of edits the
   * reloads keep their pace as before.
   */
  changeSeen(): void {
    this.eventCount++;
    const src = this.opts.source;
    // Only while idle: not while a reload runs, its proxies are still being woken, or their
    // requests (the ACKs of a push) wait to be handled, so that it never slows a push in progress.
    if (this.early || !src.loadInSlices || this.reloading || this.waking || this.slices.pending > 0 || this.paceTimer || this.pacer.wouldDelay() > 0) return;
    const t0 = performance.now();
    // The content already handled: nothing to read early (the hold-off's reload says so, and counts it).
    if (this.unchangedInput(false)) return;
    const peekMs = performance.now() - t0;
    let job: LoadJob;
    try {
      job = src.loadInSlices(() => this.cache.groups());
    } catch {
      return; // (the hold-off's reload reads it again, and reports what is wrong)
    }
    const loadOnly = job.loadOnly?.bind(job);
    if (!loadOnly) return;
    this.pacer.started();
    this.earlyLoads.started++;
    const e: EarlyLoad = { job, count: this.eventCount, gen: this.reloadGeneration, t0, peekMs, slices: 0 };
    this.early = e;
    this.slices.add((deadline) => {
      if (this.early !== e || e.gen !== this.reloadGeneration) return false;
      e.slices++;
      try {
        return !loadOnly(deadline);
      } catch {
        if (this.early === e) this.early = null;
        return false;
      }
    });
  }

  /**
   * The watcher's hold-off ended: the early load goes on if nothing changed after its read (it
   * read what the file holds now), else the file is read again (reloadInSlices).
   */
  changeQuiet(): void {
    const e = this.early;
    this.early = null;
    if (e && e.count === this.eventCount && e.gen === this.reloadGeneration && !this.reloading && !this.paceTimer) {
      this.earlyLoads.used++;
      this.runLoad(e.job, e.t0, e.peekMs, e.slices);
      return;
    }
    if (e) this.earlyLoads.dropped++;
    this.reloadInSlices();
  }

  /** Watcher events seen: an early load is used only if none came after its read. */
  private eventCount = 0;
  /** The load started at a watcher event, before the hold-off ended (changeSeen). */
  private early: EarlyLoad | null = null;
  /** Early loads started, used at the end of their hold-off, and dropped there (the file changed again after their read, or a reload superseded them). */
  readonly earlyLoads = { started: 0, used: 0, dropped: 0 };

  /**
   * The watcher's reload: the model is read and checked at once, its snapshots are built in
   * slices of about SLICE_MS, and the proxies are woken in slices too (SnapshotCache.wakeQueued),
   * with the event loop free in between: streams keep answering, and a reload of thousands of
   * sidecars never holds them up for its whole length. A change noticed meanwhile is loaded
   * when this one is applied (so a steady stream of changes cannot starve it).
   */
  reloadInSlices(): void {
    const src = this.opts.source;
    if (!src.loadInSlices) {
      this.reload();
      return;
    }
    if (this.reloading) {
      this.reloadWanted = true;
      return;
    }
    if (this.paceTimer) return; // a paced reload is already due
    const wantedAt = performance.now();
    const wait = this.pacer.delay();
    if (wait > 0) {
      // When the wait ends, the pacer is asked again (what the last reload set off may still have
      // been running), never past its maximum in all; then whatever the file holds by then is loaded.
      const paced = (ms: number): void => {
        this.paceTimer = setTimeout(() => {
          this.paceTimer = null;
          const more = this.pacer.delay(performance.now() - wantedAt);
          if (more > 0) paced(more);
          else this.startReloadInSlices();
        }, ms);
      };
      paced(wait);
      return;
    }
    this.startReloadInSlices();
  }

  private startReloadInSlices(): void {
    const src = this.opts.source;
    if (!src.loadInSlices) return;
    if (this.reloading) {
      this.reloadWanted = true;
      return;
    }
    this.pacer.started();
    const t0 = performance.now();
    if (this.unchangedInput()) return;
    const peekMs = performance.now() - t0;
    let job: LoadJob;
    try {
      job = src.loadInSlices(() => this.cache.groups());
    } catch (err) {
      this.reloadGeneration++;
      this.loadBug(err);
      return;
    }
    this.runLoad(job, t0, peekMs, 0);
  }

  /** Go on with `job` (read, checked, built) in the shared slices, then apply it and wake the proxies. */
  private runLoad(job: LoadJob, t0: number, peekMs: number, slicesSoFar: number): void {
    const gen = ++this.reloadGeneration;
    this.reloading = true;
    let slices = slicesSoFar;
    // The model's load (a phase per step) and then the build run in the shared time slices, from the next turn.
    this.slices.add((deadline) => {
      if (gen !== this.reloadGeneration) return false; // superseded by reload() or stop()
      slices++;
      let load: ConfigLoad | null;
      try {
        load = job.step(deadline);
      } catch (err) {
        this.reloading = false;
        this.loadBug(err);
        this.nextWantedReload();
        return false;
      }
      if (!load) return true;
      this.reloading = false;
      this.apply(load, t0, slices, true, peekMs);
      this.wakeInSlices();
      this.nextWantedReload();
      return false;
    });
  }

  private reloadGeneration = 0;
  private reloading = false;
  /** Spaces watcher reloads under a stream of edits (reload-pacer.ts). */
  private pacerInstance: ReloadPacer | null = null;
  private get pacer(): ReloadPacer {
    return (this.pacerInstance ??= this.opts.reloadPacer ?? new ReloadPacer(this.opts.reloadBusyShare ?? RELOAD_BUSY_SHARE, this.opts.reloadMaxPaceMs ?? RELOAD_MAX_PACE_MS));
  }
  private paceTimer: NodeJS.Timeout | null = null;
  private reloadWanted = false;
  private waking = false;

  private nextWantedReload(): void {
    if (!this.reloadWanted) return;
    this.reloadWanted = false;
    setImmediate(() => this.reloadInSlices());
  }

  /** Wake the proxies of groups a sliced reload changed, in the shared time slices. */
  private wakeInSlices(): void {
    if (this.waking) return;
    this.waking = true;
    // First in every turn: the requests read meanwhile (their ACKs, mostly) wait for the last push.
    this.slices.add((deadline) => {
      if (this.cache.wakeQueued(deadline)) return true;
      this.waking = false;
      return false;
    }, true);
  }

  /**
   * Content already handled (applied or rejected): nothing to parse, build or log again. Only
   * the very bytes the last peek read can be (other bytes are new, or an earlier content again,
   * which a load then finds unchanged), so a changed file is not hashed here.
   */
  private unchangedInput(count = true): boolean {
    const peek = this.opts.source.peekContent?.();
    if (peek?.same && this.lastAttempt && peek.hash() === this.lastAttempt.contentHash) {
      if (count) this.reloads.inc({ result: 'unchanged' });
      return true;
    }
    return false;
  }

  private loadBug(err: unknown): LoadRecord {
    this.log.error({ err }, 'bug while loading configuration; keeping the last good configuration');
    const rec: LoadRecord = { at: new Date().toISOString(), ok: false, contentHash: '', errors: [`internal error: ${(err as Error).message}`], warnings: [], changedGroups: [] };
    this.lastAttempt = rec;
    this.reloads.inc({ result: 'rejected' });
    return rec;
  }

  /** Apply a complete load (or record why not); `deferWakes`: the caller wakes the proxies. */
  private apply(load: ConfigLoad, t0: number, slices: number, deferWakes: boolean, peekMs: number): LoadRecord {
    const tApply = performance.now();
    const rec: LoadRecord = {
      at: new Date().toISOString(),
      ok: load.errors.length === 0,
      // (The load's, read when first asked for: applying and pushing do not wait for a hash of the input.)
      get contentHash(): string {
        return load.contentHash;
      },
      errors: load.errors.map((e) => e.format()),
      warnings: load.warnings.map((e) => e.format()),
      changedGroups: [],
    };
    if (!rec.ok) {
      if (this.lastAttempt?.contentHash !== rec.contentHash || this.lastAttempt.ok) {
        for (const e of rec.errors) this.log.error(e);
        this.log.error({ errors: rec.errors.length }, 'configuration rejected; still serving the last good configuration');
      }
      this.lastAttempt = rec;
      this.reloads.inc({ result: 'rejected' });
      return rec;
    }
    const changed = this.cache.replaceAll(load.snapshots, { groupsChanged: load.groupsChanged === true, deferWakes });
    // The last applied content again (after another that was rejected, say): nothing changed in
    // the cache either. Only then is the hash needed.
    if (changed.length === 0 && this.lastApplied && this.lastApplied.contentHash === rec.contentHash) {
      this.lastAttempt = this.lastApplied;
      this.reloads.inc({ result: 'unchanged' });
      return this.lastApplied;
    }
    rec.changedGroups = changed;
    for (const w of rec.warnings) this.log.warn(w);
    this.lastApplied = rec;
    this.lastAttempt = rec;
    this.ready = true;
    this.scheduleRotation();
    this.startWarmup();
    this.reloads.inc({ result: 'applied' });
    // Bounded: at thousands of proxies the full list would make one log line tens of KB (/status has it).
    const now = performance.now();
    // Where the time went: reading the file (peek), reading and checking the model (load),
    // building snapshots (build), handing them to the cache (apply); the rest of `ms` is time
    // between slices, when other work ran.
    const phases = load.phaseMs ? { peek: round1(peekMs), load: round1(load.phaseMs.load), build: round1(load.phaseMs.build), apply: round1(now - tApply) } : undefined;
    this.log.info({ groups: load.snapshots.size, changedCount: rec.changedGroups.length, changed: rec.changedGroups.slice(0, 20), ms: round1(now - t0), slices, ...(phases ? { phases } : {}) }, 'configuration applied');
    return rec;
  }

  private warmupGeneration = 0;

  /**
   * Do the source's warm-up (certificates and snapshots of proxies not connected yet) in slices
   * of ~2 ms between I/O callbacks, so it never holds up a stream; a new load restarts it, after
   * WARMUP_DELAY_MS, so that the pushes a load sets off go out first.
   */
  private startWarmup(): void {
    const gen = ++this.warmupGeneration;
    const timer = setTimeout(() => {
      void this.lastApplied?.contentHash; // (worked out now, off the reload's path: /status shows it)
      if (gen === this.warmupGeneration) this.runWarmup(gen);
    }, WARMUP_DELAY_MS);
    timer.unref();
  }

  private runWarmup(gen: number): void {
    const step = this.opts.source.warmup?.();
    if (!step) return;
    let done = 0;
    this.slices.add((deadline) => {
      if (gen !== this.warmupGeneration) return false;
      // At most WARMUP_SLICE_MS of a turn: the warm-up is for idle time.
      const end = Math.min(deadline, performance.now() + WARMUP_SLICE_MS);
      do {
        if (!step()) {
          if (done) this.log.debug({ certificates: done }, 'issued certificates ahead of their proxies');
          this.scheduleRotation();
          return false;
        }
        done++;
      } while (performance.now() < end);
      return true;
    });
  }

  /** Renew certificates at about half of their lifetime: a timer for the next one due. */
  private scheduleRotation(): void {
    if (!this.security || !this.opts.source.rebuild) return;
    if (this.rotationTimer) clearTimeout(this.rotationTimer);
    const next = this.security.certs.nextRotation();
    if (!next) return;
    const wait = Math.min(Math.max(0, next.getTime() - Date.now()), 3_600_000);
    this.rotationTimer = setTimeout(() => this.rotateDue(), wait);
    this.rotationTimer.unref();
  }

  /** Re-issue due certificates and publish the affected groups' snapshots. */
  rotateDue(): string[] {
    const groups = this.security?.renewDue() ?? [];
    if (groups.length && this.opts.source.rebuild) {
      this.publishSecrets(groups);
      this.log.info({ groups }, 'rotated workload certificates');
    }
    this.scheduleRotation();
    return groups;
  }

  /** New snapshots, with the current secrets, for those of `groups` the cache holds. */
  private publishSecrets(groups: readonly string[]): void {
    // Groups without a snapshot in the cache get theirs (with the new secrets) when a proxy connects.
    for (const [g, snap] of this.opts.source.rebuild?.(groups.filter((g) => this.cache.get(g))) ?? []) this.cache.set(g, snap);
  }

  /** Rebuild every group that holds secrets (the trust bundle or leaves changed) and publish. */
  republishSecrets(): string[] {
    const groups = [...(this.security?.groupsWithIdentity() ?? [])].sort();
    if (groups.length) this.publishSecrets(groups);
    this.scheduleRotation();
    return groups;
  }

  async stop(): Promise<void> {
    this.lateness.stop();
    if (this.rotationTimer) clearTimeout(this.rotationTimer);
    if (this.paceTimer) clearTimeout(this.paceTimer);
    this.paceTimer = null;
    this.reloadGeneration++;
    this.early = null;
    this.warmupGeneration++;
    this.watcher?.close();
    await Promise.all([this.xds.close(500), this.admin.close()]);
  }
}

const round1 = (ms: number): number => Math.round(ms * 10) / 10;

/** A load started at a watcher event (MeshgateApp.changeSeen). */
interface EarlyLoad {
  job: LoadJob;
  /** The watcher events seen when it read the file. */
  count: number;
  /** The reload generation then: a reload started since supersedes it. */
  gen: number;
  t0: number;
  peekMs: number;
  slices: number;
}
