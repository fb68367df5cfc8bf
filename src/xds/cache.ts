// The snapshot cache: proxy group → snapshot, and the streams watching each group.
// Node identity is an input: a resolver maps each node to its group, given the groups that
// exist. Setting a snapshot wakes only the streams of that group, and tells them which types
// and names changed so that a stream whose subscription is untouched stays asleep.
import { diffSnapshots, type Snapshot } from './snapshot.js';
import type { TypeUrl } from './type-urls.js';

export interface NodeInfo {
  id: string;
  cluster: string;
  userAgent: string;
  metadata: Record<string, unknown>;
}

/** Maps a node to its group. `has` says which groups currently have a snapshot. */
export type GroupResolver = (node: NodeInfo, has: (group: string) => boolean) => string | undefined;

export interface SnapshotUpdate {
  snapshot: Snapshot;
  /** Changed names per type (shared by every watcher woken with it: read only); `null` means "treat everything as changed" (new group). */
  changed: ReadonlyMap<TypeUrl, ReadonlySet<string>> | null;
  /** When the snapshot was set (performance.now()), for set→ACK latency. */
  setAt: number;
}

export interface CacheWatcher {
  readonly node: NodeInfo;
  onUpdate(update: SnapshotUpdate): void;
}

interface Entry {
  snapshot: Snapshot;
  setAt: number;
}

/**
 * Groups whose snapshot is built only when a proxy of the group connects (the model source:
 * configuration is kept for connected proxies only, as other control planes do). `exists`
 * answers for every group of the current configuration, built or not.
 */
export interface SnapshotProvider {
  exists(group: string): boolean;
  /** The group's snapshot; undefined if it cannot have one. */
  build(group: string): Snapshot | undefined;
}

/** Resolver by node id first, then node cluster, then a group named "default". */
export const resolveByIdThenCluster: GroupResolver = (node, has) => {
  if (node.id && has(node.id)) return node.id;
  if (node.cluster && has(node.cluster)) return node.cluster;
  if (has('default')) return 'default';
  return undefined;
};

export class SnapshotCache {
  private readonly entries = new Map<string, Entry>();
  private readonly watchersByGroup = new Map<string, Set<CacheWatcher>>();
  private readonly groupOf = new Map<CacheWatcher, string | undefined>();
  private readonly listeners = new Set<(group: string, snapshot: Snapshot) => void>();
  private provider: SnapshotProvider | null = null;
  /** The snapshot each watcher was last given: what the next update's `changed` is computed from. */
  private readonly delivered = new WeakMap<CacheWatcher, Snapshot>();
  /** Groups whose new snapshot was set but whose watchers have not all been woken yet (in order). */
  private readonly wakeQueue = new Set<string>();

  constructor(private readonly resolver: GroupResolver = resolveByIdThenCluster) {}

  /** Build snapshots of groups that exist but are not in the cache when a proxy of theirs connects. */
  setProvider(p: SnapshotProvider | null): void {
    this.provider = p;
  }

  private has(group: string): boolean {
    return this.entries.has(group) || (this.provider?.exists(group) ?? false);
  }

  /** The entry of `group`, built by the provider if the group exists but has none yet. */
  private entryFor(group: string): Entry | undefined {
    let e = this.entries.get(group);
    if (e || !this.provider) return e;
    const snapshot = this.provider.build(group);
    if (!snapshot) return undefined;
    e = { snapshot, setAt: performance.now() };
    this.entries.set(group, e);
    for (const fn of this.listeners) fn(group, snapshot);
    return e;
  }

  /** A group's snapshot, built by the provider if it exists but was not built yet (admin dumps). */
  getOrBuild(group: string): Snapshot | undefined {
    return this.entryFor(group)?.snapshot;
  }


  get size(): number {
    return this.entries.size;
  }

  groups(): string[] {
    return [...this.entries.keys()].sort();
  }

  get(group: string): Snapshot | undefined {
    return this.entries.get(group)?.snapshot;
  }

  /** Register a stream; it receives the current snapshot (if any) at once. */
  watch(w: CacheWatcher): () => void {
    const group = this.resolver(w.node, (g) => this.has(g));
    const e = group === undefined ? undefined : this.entryFor(group);
    this.attach(w, group);
    if (e) this.deliverWhole(w, e);
    return () => this.detach(w);
  }

  groupFor(w: CacheWatcher): string | undefined {
    return this.groupOf.get(w);
  }

  /** Called for every snapshot actually changed (for metrics, status, exports). */
  onSet(fn: (group: string, snapshot: Snapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Set one group's snapshot. Returns false if it was identical to the current one. */
  set(group: string, snapshot: Snapshot): boolean {
    const prev = this.entries.get(group);
    if (prev?.snapshot.sameContent(snapshot)) return false;
    const setAt = performance.now();
    this.entries.set(group, { snapshot, setAt });
    for (const fn of this.listeners) fn(group, snapshot);
    if (!prev) {
      // A new group may capture streams that were waiting, or that matched a broader group.
      this.regroupAll();
      return true;
    }
    // Woken now; a wake-up still queued for this group by replaceAll has nothing left to do.
    this.wakeQueue.delete(group);
    this.wakeGroup(group);
    return true;
  }

  /**
   * Replace every group at once (a reload). Groups absent from `next` are dropped: their
   * proxies keep the configuration they have (nothing is pushed to them) until they are
   * matched by another group.
   */
  replaceAll(next: ReadonlyMap<string, Snapshot>, opts: { groupsChanged?: boolean; deferWakes?: boolean } = {}): string[] {
    const changedGroups: string[] = [];
    const updated: string[] = [];
    // The provider's set of groups changed: proxies waiting for a group, or matched by a
    // broader one, may now belong elsewhere.
    let membershipChanged = opts.groupsChanged === true;
    for (const g of [...this.entries.keys()]) {
      if (!next.has(g)) {
        this.entries.delete(g);
        // A group that still exists but was not rebuilt is built again when a proxy of it
        // connects; resolution does not change.
        if (!(this.provider?.exists(g) && !this.watchersByGroup.has(g))) membershipChanged = true;
      }
    }
    for (const [g, snap] of next) {
      const prev = this.entries.get(g);
      if (prev?.snapshot.sameContent(snap)) continue;
      changedGroups.push(g);
      const entry = { snapshot: snap, setAt: performance.now() };
      this.entries.set(g, entry);
      for (const fn of this.listeners) fn(g, snap);
      if (prev) updated.push(g);
      else membershipChanged = true;
    }
    // Regroup before waking anyone, so that a node moving to another group is never pushed
    // the new snapshot of the group it is leaving. Moved nodes got their whole new snapshot.
    if (membershipChanged) this.regroupAll();
    for (const g of updated) this.wakeQueue.add(g);
    if (!opts.deferWakes) this.wakeQueued(Number.POSITIVE_INFINITY);
    return changedGroups.sort();
  }

  /**
   * Wake the watchers of queued groups until `deadline` (performance.now()); true if some are
   * left. replaceAll with `deferWakes` leaves them queued, so that the caller can spread
   * thousands of pushes over several turns of the event loop instead of one long one. Every
   * group's new snapshot is already current (a proxy that connects or asks gets it); a
   * watcher woken later is told what changed since what it was last given, so nothing is lost
   * when a group changes again before its turn.
   */
  wakeQueued(deadline: number): boolean {
    // At least one group per call, whatever the deadline: every call makes progress.
    for (const g of this.wakeQueue) {
      this.wakeQueue.delete(g);
      this.wakeGroup(g);
      if (this.wakeQueue.size > 0 && performance.now() >= deadline) return true;
    }
    return false;
  }

  /** Groups waiting to be woken (replaceAll with deferWakes). */
  get pendingWakes(): number {
    return this.wakeQueue.size;
  }

  /** Tell each watcher of `group` what changed since the snapshot it was last given. */
  private wakeGroup(group: string): void {
    const e = this.entries.get(group);
    const ws = this.watchersByGroup.get(group);
    if (!e || !ws) return;
    let lastFrom: Snapshot | undefined;
    let lastChanged: ReadonlyMap<TypeUrl, ReadonlySet<string>> | null = null;
    for (const w of [...ws]) {
      const from = this.delivered.get(w);
      if (from === e.snapshot) continue;
      if (!from) {
        this.deliverWhole(w, e);
        continue;
      }
      // The watchers of a group were normally all given the same snapshot: one diff for all.
      if (from !== lastFrom) {
        lastFrom = from;
        lastChanged = diffSnapshots(from, e.snapshot);
      }
      this.delivered.set(w, e.snapshot);
      w.onUpdate({ snapshot: e.snapshot, changed: lastChanged, setAt: e.setAt });
    }
  }

  /** Give a watcher a whole snapshot (a new group for it: everything is to be compared). */
  private deliverWhole(w: CacheWatcher, e: Entry): void {
    this.delivered.set(w, e.snapshot);
    w.onUpdate({ snapshot: e.snapshot, changed: null, setAt: e.setAt });
  }

  private attach(w: CacheWatcher, group: string | undefined): void {
    this.groupOf.set(w, group);
    if (group === undefined) return;
    let set = this.watchersByGroup.get(group);
    if (!set) this.watchersByGroup.set(group, (set = new Set()));
    set.add(w);
  }

  private detach(w: CacheWatcher): void {
    const g = this.groupOf.get(w);
    if (g !== undefined) {
      const set = this.watchersByGroup.get(g);
      set?.delete(w);
      if (set && set.size === 0) this.watchersByGroup.delete(g);
    }
    this.groupOf.delete(w);
  }

  /** Re-resolve every watcher; returns those that moved to another group. */
  private regroupAll(): Set<CacheWatcher> {
    const moved = new Set<CacheWatcher>();
    for (const [w, old] of [...this.groupOf]) {
      const group = this.resolver(w.node, (g) => this.has(g));
      if (group === old) continue;
      moved.add(w);
      this.detach(w);
      const e = group === undefined ? undefined : this.entryFor(group);
      this.attach(w, group);
      if (e) this.deliverWhole(w, e);
    }
    return moved;
  }
}
