// Incremental (Delta) stream (DeltaAggregatedResources and the per-type Delta* methods).
//
// Per type: the subscription (wildcard and/or names), what the proxy holds (name → version,
// seeded from initial_resource_versions on reconnect), and at most one response in flight.
// A response carries only resources whose version differs from what the proxy holds, plus
// removed_resources for what it holds that no longer exists.
import type { SnapshotUpdate } from './cache.js';
import { byName, inNameOrder, type Resource } from './resource.js';
import { retainedResources } from './retention.js';
import type { NackRecord, TypeStatus } from './status.js';
import { type InflightResponse, XdsStreamBase } from './stream-base.js';
import { isServedType, shortName, TYPE, type TypeUrl } from './type-urls.js';
import { deltaKey, withNonce } from './response-cache.js';
import { changedBetween } from './snapshot.js';
import { namesCover, type PairDiff, pairDiff } from './map-diff.js';
import { Holdings } from './delta-holdings.js';

class DeltaTypeState {
  requested = false;
  wildcard = false;
  names = new Set<string>();
  /** What the proxy holds: name → version, and the resources this stream sent (for references). */
  holds = new Holdings();
  /** Older resources the proxy may still hold while a change is in flight or was NACKed. */
  shadow = new Map<string, Resource>();
  inflight: InflightResponse | null = null;
  responded = false;
  due = false;
  dueFromSnapshot = false;
  force = new Set<string>();
  /**
   * Names to look at in the next response: 'all' (the first response, a new group, a wildcard
   * subscription), the changed and (re)subscribed names since the last response, or null
   * (none). A push thus costs what changed, not the size of the type.
   */
  dirty: 'all' | Set<string> | null = 'all';
  /**
   * Names in `held` or `shadow` that the current snapshot does not have: the only candidates
   * for make-before-break retention, whose status changes as referrers are sent and ACKed.
   */
  missing: Set<string> | null = null;
  versionSent: string | null = null;
  versionAcked: string | null = null;
  /** Bumped whenever the subscription (names, wildcard) changes: keys `covers`. */
  namesGen = 0;
  /** Whether the subscription selects every resource of `all` (memoised per subscription and map). */
  covers: { all: ReadonlyMap<string, Resource>; gen: number; value: boolean } | null = null;
  lastNack: NackRecord | null = null;
}

const EMPTY_RESOURCES: ReadonlyMap<string, Resource> = new Map();

/** Types whose held resources an ACK of the key type may release (make-before-break). */
const DEPENDENTS: Partial<Record<TypeUrl, readonly TypeUrl[]>> = {
  [TYPE.LISTENER]: [TYPE.CLUSTER, TYPE.ROUTE, TYPE.SECRET],
  [TYPE.ROUTE]: [TYPE.CLUSTER],
  [TYPE.CLUSTER]: [TYPE.ENDPOINT, TYPE.SECRET],
};

export class DeltaStream extends XdsStreamBase {
  private readonly types = new Map<TypeUrl, DeltaTypeState>();
  /**
   * Compare every selected name on every response instead of only those that may have
   * changed: the reference behaviour the incremental path must match (tests run both).
   */
  protected compareEverything = false;

  private state(t: TypeUrl): DeltaTypeState {
    let s = this.types.get(t);
    if (!s) this.types.set(t, (s = new DeltaTypeState()));
    return s;
  }

  protected handleRequest(req: Record<string, unknown>): void {
    const t = this.requestType(req['type_url'], isServedType);
    if (!t) return;
    const s = this.state(t);
    const nonce = typeof req['response_nonce'] === 'string' ? req['response_nonce'] : '';
    const subscribe = stringList(req['resource_names_subscribe']);
    const unsubscribe = stringList(req['resource_names_unsubscribe']);
    this.checkNameCount(subscribe.length + s.names.size);

    if (s.inflight && nonce === s.inflight.nonce) {
      const inflight = s.inflight;
      s.inflight = null;
      const err = req['error_detail'] as Record<string, unknown> | undefined | null;
      if (err && (err['message'] || err['code'])) {
        // NACK: the proxy kept its old resources; `known` keeps what we sent, so the
        // rejected versions are not sent again; `shadow` keeps the old ones referenced.
        s.lastNack = this.recordNack(t, inflight, err);
        // Rejected clusters will not warm: do not hold listeners and routes for them.
        if (t === TYPE.CLUSTER) this.endWarming('all');
      } else {
        // What the proxy replaced is no longer held from before. `missing` is kept exact at
        // every other change, so only names leaving `shadow` can change it here (a first
        // push of thousands of resources has no shadow: nothing to walk).
        if (s.shadow.size > 0) for (const n of inflight.names) if (s.shadow.delete(n)) this.touch(t, s, n);
        this.maybeRebase(t, s);
        s.versionAcked = inflight.version;
        this.recordAck(t, inflight);
        this.markReferencedTypesDue(t);
      }
    }

    const first = !s.requested;
    if (first) {
      const initial = req['initial_resource_versions'];
      if (initial && typeof initial === 'object') {
        const entries = Object.entries(initial as Record<string, unknown>);
        this.checkNameCount(entries.length);
        for (const [n, v] of entries) if (typeof v === 'string') s.holds.setVersion(n, v);
      }
      if (subscribe.length === 0) s.wildcard = true; // legacy wildcard
    }
    // Subscriptions are honoured whatever the nonce.
    for (const n of subscribe) {
      if (n === '*') {
        if (!s.wildcard) s.dirty = 'all';
        s.wildcard = true;
        continue;
      }
      markDirty(s, n);
      // An explicit (re)subscribe after the first request is answered even if unchanged.
      if (!first) {
        s.holds.delete(n);
        this.touch(t, s, n);
      }
      s.names.add(n);
    }
    for (const n of unsubscribe) {
      if (n === '*') {
        s.wildcard = false;
        for (const k of s.holds.knownNames()) {
          if (!s.names.has(k)) {
            s.holds.delete(k);
            this.touch(t, s, k);
          }
        }
        continue;
      }
      s.names.delete(n);
      if (!s.wildcard) {
        s.holds.delete(n);
        this.touch(t, s, n);
      }
    }
    if (first || subscribe.length > 0 || unsubscribe.length > 0) {
      s.due = true;
      s.namesGen++;
    }
    s.requested = true;
  }

  private markReferencedTypesDue(acked: TypeUrl): void {
    if (this.fixedType) return;
    for (const d of DEPENDENTS[acked] ?? []) {
      const ds = this.types.get(d);
      // Only resources gone from the snapshot are retained (`missing` names them): with none,
      // there is nothing to release and no response to work out (an RDS ACK from each of 2000
      // sidecars would otherwise look at their CDS for nothing).
      if (ds?.requested && ds.missing) ds.due = true;
    }
  }

  protected onSnapshot(update: SnapshotUpdate): void {
    for (const [t, s] of this.types) {
      if (update.changed === null) {
        // A new group (or the first snapshot): everything is to be compared.
        s.dirty = 'all';
        s.missing = null;
        if (s.holds.heldSize > 0) for (const r of s.holds.heldResources()) this.touch(t, s, r.name);
        for (const n of s.shadow.keys()) this.touch(t, s, n);
        if (!s.requested) continue;
        s.due = true;
        s.dueFromSnapshot = true;
        continue;
      }
      if (!s.requested) continue;
      const changed = update.changed.get(t);
      if (!changed) continue;
      if (this.exactCandidate(t, s)) {
        // The proxy holds a whole snapshot map of this type exactly and selects all of it: the
        // next response is the difference between two maps, worked out once for every stream
        // in the same state (respond); no name needs looking at here but those the new map
        // lacks (held and gone: `missing`). Should the state stop being exact before the
        // response, everything is compared.
        const all = this.snapshot!.resources(t);
        for (const n of pairDiff(s.holds.exactBase()!, all).removed) this.touch(t, s, n);
        s.dirty = 'all';
        s.due = true;
        s.dueFromSnapshot = true;
        continue;
      }
      let any = false;
      for (const n of changed) {
        if (s.holds.hasHeld(n) || s.shadow.has(n) || s.missing?.has(n)) this.touch(t, s, n);
        if (s.wildcard || s.names.has(n) || s.holds.has(n)) {
          markDirty(s, n);
          any = true;
        }
      }
      if (any) {
        s.due = true;
        s.dueFromSnapshot = true;
      }
    }
  }

  protected flush(): void {
    if (!this.snapshot) return;
    for (const t of this.typesInOrder()) {
      if (!this.writable) return;
      const s = this.types.get(t);
      if (!s || !s.requested || !s.due || s.inflight || this.heldForWarming(t)) continue;
      this.respond(t, s);
    }
  }

  private heldResources(t: TypeUrl): Resource[] {
    const s = this.types.get(t);
    if (!s) return [];
    const held = s.holds.heldResources();
    for (const r of s.shadow.values()) held.push(r);
    return held;
  }

  /** Keep `missing` exact for `n` after its snapshot, held or shadow entry changed. */
  private touch(t: TypeUrl, s: DeltaTypeState, n: string): void {
    if ((s.holds.hasHeld(n) || s.shadow.has(n)) && this.snapshot && !this.snapshot.resources(t).has(n)) (s.missing ??= new Set()).add(n);
    else if (s.missing) {
      s.missing.delete(n);
      if (s.missing.size === 0) s.missing = null;
    }
  }

  /**
   * Whether the proxy holds exactly a snapshot map of `t` (a type nothing else refers through:
   * assignments, secrets) and selects every resource of the current one: then what to send is
   * the difference of the two maps, the same for every stream in that state.
   */
  private exactCandidate(t: TypeUrl, s: DeltaTypeState): boolean {
    if (this.compareEverything || !EXACT_TYPES.has(t) || !this.snapshot) return false;
    if (s.force.size > 0 || s.shadow.size > 0 || s.missing || !s.holds.exactBase()) return false;
    if (t === TYPE.SECRET && !this.maySendSecrets()) return false;
    return this.coversAll(s, this.snapshot.resources(t));
  }

  /** After a push or ACK of the general path: back to the exact state if the proxy now holds exactly the current map. */
  private maybeRebase(t: TypeUrl, s: DeltaTypeState): void {
    if (this.compareEverything || !EXACT_TYPES.has(t) || !this.snapshot || s.shadow.size > 0 || s.missing || s.holds.exactBase()) return;
    if (t === TYPE.SECRET && !this.maySendSecrets()) return;
    const all = this.snapshot.resources(t);
    if (s.holds.knownSize === all.size && this.coversAll(s, all)) s.holds.rebase(all, changedBetween);
  }

  private coversAll(s: DeltaTypeState, all: ReadonlyMap<string, Resource>): boolean {
    if (s.wildcard) return true;
    const c = s.covers;
    if (c && c.gen === s.namesGen) {
      if (c.all === all) return c.value;
      // Covering the previous map: the new one is covered if its added names are (the
      // difference of the two maps is shared by every stream), not by walking it.
      if (c.value) {
        let value = true;
        for (const n of pairDiff(c.all, all).added) if (!s.names.has(n)) value = false;
        s.covers = { all, gen: s.namesGen, value };
        return value;
      }
    }
    const value = namesCover(s.names, all);
    s.covers = { all, gen: s.namesGen, value };
    return value;
  }

  private respond(t: TypeUrl, s: DeltaTypeState): void {
    const snap = this.snapshot!;
    const all = snap.resources(t);
    // A proxy that has not proven its identity gets no secrets at all.
    const current = t === TYPE.SECRET && !this.maySendSecrets() ? EMPTY_RESOURCES : all;
    // Resources gone from the snapshot that something the proxy holds still refers to.
    let retained: ReadonlyMap<string, Resource> | null = null;
    const retainedNow = (): ReadonlyMap<string, Resource> =>
      (retained ??= this.fixedType || !s.missing ? EMPTY_RESOURCES : retainedResources(t, snap, (x) => this.heldResources(x)));

    if (s.requested && this.exactCandidate(t, s) && current === all && this.respondExact(t, s, all)) return;

    const toSend: Resource[] = [];
    const removed: string[] = [];
    let sentFromCurrent = 0;
    /** `r` is wanted: send it unless the proxy has this version. */
    const consider = (r: Resource, isCurrent: boolean): void => {
      if (s.holds.version(r.name) !== r.version || s.force.has(r.name)) {
        toSend.push(r);
        if (isCurrent) sentFromCurrent++;
      } else if (!s.holds.hasHeld(r.name)) {
        s.holds.setHeld(r);
        this.touch(t, s, r.name);
      }
    };
    const dirty = this.compareEverything ? 'all' : s.dirty;
    s.dirty = null;
    // The first answer for a type the proxy holds nothing of, selecting all of it (a wildcard,
    // or names that cover the type: a gateway subscribing to 10 000 assignments): the whole set,
    // in name order, with nothing to compare; the proxy then holds exactly the snapshot's map,
    // recorded as that map (Holdings.holdAll) instead of name by name.
    const whole =
      dirty === 'all' && !this.compareEverything && current === all && all.size > 0 && s.holds.knownSize === 0 && s.shadow.size === 0 && !s.missing && this.coversAll(s, all)
        ? snap.inOrder(t)
        : null;
    if (whole) {
      sentFromCurrent = all.size;
    } else if (dirty === 'all') {
      // Compare everything the subscription selects with what the proxy holds.
      const kept = retainedNow();
      if (s.wildcard) {
        for (const r of current.values()) consider(r, true);
        for (const r of kept.values()) if (!current.has(r.name)) consider(r, false);
      }
      for (const n of s.names) {
        if (s.wildcard && (current.has(n) || kept.has(n))) continue;
        const c = current.get(n);
        if (c) consider(c, true);
        else {
          const r = kept.get(n);
          if (r) consider(r, false);
        }
      }
      for (const n of s.holds.knownNames()) {
        if (!((s.wildcard || s.names.has(n)) && (current.has(n) || kept.has(n)))) removed.push(n);
      }
    } else {
      // Only names that may have changed for this proxy: changed in the snapshot or
      // (re)subscribed since the last response, forced (EDS after a cluster change), or held
      // but gone from the snapshot (kept for make-before-break while something held refers
      // to them: their referrers may have been sent or ACKed since).
      const examine = (n: string): void => {
        const wanted = s.wildcard || s.names.has(n);
        const c = wanted ? current.get(n) : undefined;
        if (c) return consider(c, true);
        const r = wanted ? retainedNow().get(n) : undefined;
        if (r) return consider(r, false);
        if (s.holds.has(n)) removed.push(n);
      };
      let names: Iterable<string> | null = dirty;
      if (s.force.size > 0 || s.missing) {
        const u = new Set<string>(dirty ?? []);
        for (const n of s.force) u.add(n);
        if (s.missing) for (const n of s.missing) u.add(n);
        names = u;
      }
      if (names) for (const n of names) examine(n);
    }
    const fromSnapshot = s.dueFromSnapshot;
    s.due = false;
    s.dueFromSnapshot = false;
    if (!whole && toSend.length === 0 && removed.length === 0 && s.responded) return;

    if (!whole && !inNameOrder(toSend)) toSend.sort(byName);
    const sending: readonly Resource[] = whole ?? toSend;
    const newClusters = t === TYPE.CLUSTER ? (whole ?? toSend.filter((r) => !s.holds.has(r.name))) : [];
    removed.sort();
    const version = snap.typeVersion(t);
    // Everything but the nonce is shared by every stream sending the same resources.
    const allOf = current === all && removed.length === 0 && sentFromCurrent === all.size && sending.length === all.size;
    const body = this.deps.responses.delta(deltaKey(t, version, sending, removed, allOf), version, t, sending, removed);
    const nonce = this.nextNonce();
    const bytes = withNonce(body, nonce);

    if (whole) {
      s.holds.holdAll(all);
      if (s.force.size > 0) for (const n of [...s.force]) if (all.has(n)) s.force.delete(n);
    } else for (const r of toSend) {
      const old = s.holds.heldResource(r.name);
      if (old && old !== r && !s.shadow.has(r.name)) s.shadow.set(r.name, old);
      s.holds.setHeld(r);
      if (s.force.size > 0) s.force.delete(r.name);
      // A resource of the snapshot can only leave `missing`: nothing to do while it is empty.
      if (s.missing || !all.has(r.name)) this.touch(t, s, r.name);
    }
    for (const n of removed) {
      const old = s.holds.heldResource(n);
      if (old && !s.shadow.has(n)) s.shadow.set(n, old);
      s.holds.delete(n);
      this.touch(t, s, n);
    }
    s.responded = true;
    s.versionSent = version;
    s.inflight = {
      nonce,
      version,
      names: whole ? snap.names(t) : [...toSend.map((r) => r.name), ...removed],
      sentAt: performance.now(),
      snapshotSetAt: fromSnapshot ? this.snapshotSetAt : null,
    };
    if (t === TYPE.CLUSTER && !this.fixedType) {
      const eds = this.state(TYPE.ENDPOINT);
      // The proxy holds no assignment yet: every one it asks for is sent anyway.
      if (eds.holds.knownSize > 0) for (const c of sending) for (const e of c.refs.endpoints) eds.force.add(e);
      if (eds.force.size > 0 && eds.requested) eds.due = true;
      // A new cluster has nothing serving under its name until its endpoints arrive.
      for (const c of newClusters) this.startWarming(c.refs.endpoints);
    }
    if (t === TYPE.ENDPOINT) this.endWarming(whole ? snap.names(t) : toSend.map((r) => r.name));
    if (!whole) this.maybeRebase(t, s);
    if (this.debugEnabled()) this.log.debug({ type: shortName(t), version, resources: sending.length, removed: removed.length, bytes: bytes.length }, 'delta push');
    this.write(t, bytes);
  }

  /**
   * The exact case (exactCandidate): send what differs between the map the proxy holds and
   * `all`, worked out once per pair of maps (pairDiff) and shared by every stream in the same
   * state; the proxy then holds `all` exactly. Returns false (nothing done) if the difference
   * removes something: removals go through the general path, which keeps what held resources
   * still refer to.
   */
  private respondExact(t: TypeUrl, s: DeltaTypeState, all: ReadonlyMap<string, Resource>): boolean {
    const base = s.holds.exactBase()!;
    const snap = this.snapshot!;
    const version = snap.typeVersion(t);
    const d = pairDiff(base, all);
    if (d.removed.length > 0) return false;
    const fromSnapshot = s.dueFromSnapshot;
    s.due = false;
    s.dueFromSnapshot = false;
    s.dirty = null;
    s.holds.holdAll(all);
    if (d.changed.length === 0 && s.responded) return true;
    const body = this.deps.responses.delta(deltaKeyOf(t, d, all, version), version, t, d.changed, NO_NAMES);
    const nonce = this.nextNonce();
    const bytes = withNonce(body, nonce);
    s.responded = true;
    s.versionSent = version;
    s.inflight = { nonce, version, names: d.names, sentAt: performance.now(), snapshotSetAt: fromSnapshot ? this.snapshotSetAt : null };
    if (t === TYPE.ENDPOINT) this.endWarming(d.names);
    if (this.debugEnabled()) this.log.debug({ type: shortName(t), version, resources: d.changed.length, removed: 0, bytes: bytes.length }, 'delta push');
    this.write(t, bytes);
    return true;
  }

  protected typeStatus(): Record<string, TypeStatus> {
    const out: Record<string, TypeStatus> = {};
    for (const [t, s] of this.types) {
      if (!s.requested) continue;
      out[shortName(t)] = {
        subscribed: s.wildcard && s.names.size === 0 ? '*' : [...(s.wildcard ? ['*'] : []), ...[...s.names].sort()],
        versionSent: s.versionSent,
        versionAcked: s.versionAcked,
        pending: s.inflight !== null || s.due,
        lastNack: s.lastNack,
      };
    }
    return out;
  }

  protected releaseState(): void {
    this.types.clear();
    this.snapshot = undefined;
  }
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Types whose resources refer to nothing: a proxy's older versions of them need no keeping. */
const EXACT_TYPES: ReadonlySet<TypeUrl> = new Set([TYPE.ENDPOINT, TYPE.SECRET]);

const NO_NAMES: readonly string[] = [];

/** The cache key of a Delta response sending `d.changed` at `version`, made once per pair of maps. */
function deltaKeyOf(t: TypeUrl, d: PairDiff, to: ReadonlyMap<string, Resource>, version: string): string {
  if (d.deltaKey?.version !== version) d.deltaKey = { version, key: deltaKey(t, version, d.changed, NO_NAMES, d.changed.length === to.size) };
  return d.deltaKey.key;
}

function markDirty(s: DeltaTypeState, name: string): void {
  if (s.dirty === 'all') return;
  if (!s.dirty) s.dirty = new Set();
  s.dirty.add(name);
}
