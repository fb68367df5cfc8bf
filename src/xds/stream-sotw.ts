// State-of-the-world stream (StreamAggregatedResources and the per-type Stream* methods).
//
// Per type: the subscription, the last response sent (its resources and version), the last
// response ACKed, and at most one response in flight. Responses are built lazily when the
// type is due and nothing is in flight, so a slow proxy only ever receives the newest state.
import type { SnapshotUpdate } from './cache.js';
import { byName, type Resource } from './resource.js';
import { refsOf, retainedResources } from './retention.js';
import { type ResponseCache, sotwPartKey, withNonce } from './response-cache.js';
import { Holdings } from './delta-holdings.js';
import { namesCover, type PairDiff, pairDiff } from './map-diff.js';
import { changedBetween, versionOf } from './snapshot.js';
import type { NackRecord, TypeStatus } from './status.js';
import { type InflightResponse, XdsStreamBase } from './stream-base.js';
import { isServedType, shortName, TYPE, type TypeUrl } from './type-urls.js';

const EMPTY_RESOURCES: ReadonlyMap<string, Resource> = new Map();

/** Types whose held resources an ACK of the key type may release (make-before-break). */
const DEPENDENTS: Partial<Record<TypeUrl, readonly TypeUrl[]>> = {
  [TYPE.LISTENER]: [TYPE.CLUSTER, TYPE.ROUTE, TYPE.SECRET],
  [TYPE.ROUTE]: [TYPE.CLUSTER],
  [TYPE.CLUSTER]: [TYPE.ENDPOINT, TYPE.SECRET],
};

class SotwTypeState {
  /** A request for this type has been received. */
  requested = false;
  wildcard = false;
  /** Wildcard entered by an empty first request (legacy), as opposed to an explicit "*". */
  legacyWildcard = false;
  names = new Set<string>();
  /**
   * The request's names array `names` was made from or last found equal to: the request decoder
   * gives the very same (frozen) array when a proxy repeats its names, so an ACK that repeats the
   * subscription is recognised without looking at its names (a gateway asks for 1000 assignments).
   */
  namesFrom: readonly string[] | null = null;
  /** Whether `names` has every name of `map` (namesCover), kept up to date from map to map by their shared difference. */
  covers: { names: ReadonlySet<string>; map: ReadonlyMap<string, Resource>; value: boolean } | null = null;
  /** Shared with every stream that was sent the same response: never mutated. */
  sent: ReadonlyMap<string, Resource> | null = null;
  sentVersion = '';
  acked: ReadonlyMap<string, Resource> = EMPTY_RESOURCES;
  ackedVersion: string | null = null;
  inflight: InflightResponse | null = null;
  due = false;
  /** The type became due because the snapshot changed (for set→ACK latency). */
  dueFromSnapshot = false;
  /** Names that must be in the next response even if unchanged (EDS after a cluster change). */
  force = new Set<string>();
  lastNack: NackRecord | null = null;
  /**
   * Types answered with what changed only (EDS): what the proxy holds, name → version, from
   * the responses it ACKed, less the names it stopped asking for (it drops those). Bounded by
   * the subscription. null until the first ACK (the first answer is always whole).
   */
  holds: Holdings | null = null;
  /** The resources of the response in flight, applied to `holds` when it is ACKed. */
  inflightResources: readonly Resource[] | null = null;
  /**
   * When the response in flight leaves the proxy holding exactly one map: `to`, provided it
   * held exactly `from` (null: nothing) when it is ACKed. Recorded then as that map, not name
   * by name (Holdings).
   */
  inflightExact: { from: ReadonlyMap<string, Resource> | null; to: ReadonlyMap<string, Resource> } | null = null;
}

/**
 * SotW types whose responses need not repeat what the proxy holds: a proxy does not treat a
 * ClusterLoadAssignment missing from a response as removed (only Listener and Cluster
 * responses are the full state; xDS protocol, "Grouping Resources into Responses"), so a
 * change of one service's endpoints is one assignment on the wire, not every one the proxy
 * asked for.
 */
const PARTIAL_TYPES: ReadonlySet<TypeUrl> = new Set([TYPE.ENDPOINT]);

export class SotwStream extends XdsStreamBase {
  private readonly types = new Map<TypeUrl, SotwTypeState>();
  /**
   * Compare what the proxy holds name by name on every partial response instead of taking the
   * shared difference of two maps when it holds exactly one: the reference behaviour (tests).
   */
  protected compareByName = false;

  private state(t: TypeUrl): SotwTypeState {
    let s = this.types.get(t);
    if (!s) this.types.set(t, (s = new SotwTypeState()));
    return s;
  }

  protected handleRequest(req: Record<string, unknown>): void {
    const t = this.requestType(req['type_url'], isServedType);
    if (!t) return;
    const s = this.state(t);
    const nonce = typeof req['response_nonce'] === 'string' ? req['response_nonce'] : '';
    const names = Array.isArray(req['resource_names']) ? (req['resource_names'] as string[]) : [];
    this.checkNameCount(names.length);

    // ACK or NACK of the response in flight. A request carrying any other nonce is stale: it
    // acknowledges nothing, but its subscription is still honoured (Envoy #10363).
    if (s.inflight && nonce === s.inflight.nonce) {
      const inflight = s.inflight;
      s.inflight = null;
      const err = req['error_detail'] as Record<string, unknown> | undefined | null;
      if (err && (err['message'] || err['code'])) {
        // NACK: Envoy keeps its previous config. `sent` stays as it is, so the rejected
        // version is never sent again; the next snapshot change converges.
        s.lastNack = this.recordNack(t, inflight, err);
        // Rejected clusters will not warm: do not hold listeners and routes for them.
        if (t === TYPE.CLUSTER) this.endWarming('all');
      } else {
        s.acked = s.sent ?? EMPTY_RESOURCES;
        s.ackedVersion = inflight.version;
        if (s.inflightResources && PARTIAL_TYPES.has(t)) {
          const holds = (s.holds ??= new Holdings());
          const exact = s.inflightExact;
          if (exact && (exact.from === null ? holds.knownSize === 0 : holds.exactBase() === exact.from)) holds.holdAll(exact.to);
          else {
            for (const r of s.inflightResources) holds.setHeld(r);
            // Back to one map if the proxy now holds exactly what was last sent.
            if (s.sent && !this.compareByName && holds.knownSize === s.sent.size) holds.rebase(s.sent, changedBetween);
          }
        }
        this.recordAck(t, inflight);
        // Held references changed: retained resources may now be released.
        this.markReferencedTypesDue(t);
      }
    }

    const wasWildcard = s.wildcard;
    const wasNames = s.names;
    // An ACK repeats the subscription: keep the set when it is the same (no copy, no walk of
    // what the proxy holds).
    const sameSubscription = s.requested && names.length > 0 && !s.wildcard && (names === s.namesFrom || (names.length === s.names.size && names.every((n) => s.names.has(n))));
    s.namesFrom = null;
    if (sameSubscription) {
      s.namesFrom = names;
    } else if (names.includes('*')) {
      s.wildcard = true;
      s.legacyWildcard = false;
      s.names = new Set(names.filter((n) => n !== '*'));
    } else if (names.length === 0) {
      if (!s.requested || s.legacyWildcard) {
        s.wildcard = true;
        s.legacyWildcard = true;
      } else {
        s.wildcard = false;
      }
      s.names = new Set();
    } else {
      s.wildcard = false;
      s.legacyWildcard = false;
      s.names = new Set(names);
      s.namesFrom = names;
    }
    // A name the proxy no longer asks for is dropped by it: asked for again, it is sent again.
    if (s.holds && !s.wildcard && !sameSubscription) for (const n of s.holds.knownNames()) if (!s.names.has(n)) s.holds.delete(n);
    // The first request on a stream always gets a full answer (the proxy may come from
    // another replica); a changed subscription gets an answer if what it selects changed.
    if (!s.requested || s.wildcard !== wasWildcard || !sameNames(s.names, wasNames)) s.due = true;
    s.requested = true;
  }

  private markReferencedTypesDue(acked: TypeUrl): void {
    if (this.fixedType) return;
    for (const d of DEPENDENTS[acked] ?? []) {
      const ds = this.types.get(d);
      if (ds?.requested) ds.due = true;
    }
  }

  protected onSnapshot(update: SnapshotUpdate): void {
    for (const [t, s] of this.types) {
      if (!s.requested) continue;
      const changed = update.changed?.get(t);
      if (update.changed === null || (changed && (s.wildcard || intersects(changed, s.names)))) {
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

  /** Whether the proxy may hold a resource of type `t` that `current` no longer has. */
  private holdsMissing(t: TypeUrl, current: ReadonlyMap<string, Resource>): boolean {
    const s = this.types.get(t);
    if (!s) return false;
    return !namesWithin(s.acked, current) || (s.sent !== null && s.sent !== s.acked && !namesWithin(s.sent, current));
  }

  private held(t: TypeUrl): Resource[] {
    const s = this.types.get(t);
    if (!s) return [];
    const out = [...s.acked.values()];
    if (s.sent && s.sent !== s.acked) out.push(...s.sent.values());
    return out;
  }

  private respond(t: TypeUrl, s: SotwTypeState): void {
    const snap = this.snapshot!;
    const cache = this.deps.responses;
    // A proxy that has not proven its identity gets no secrets at all.
    const current = t === TYPE.SECRET && !this.maySendSecrets() ? EMPTY_RESOURCES : snap.resources(t);
    const retained = this.fixedType || !this.holdsMissing(t, snap.resources(t)) ? EMPTY_RESOURCES : retainedResources(t, snap, (x) => this.held(x));
    // What to send: `chosen` (sorted by name) and its version, the content hash of its
    // (name, version) pairs. The common wildcard answer is the whole type of the snapshot,
    // whose version the snapshot already has: nothing is listed or hashed for it.
    let chosen: readonly Resource[] | null = null;
    let version: string;
    if (retained.size === 0 && current === snap.resources(t) && (s.wildcard ? s.names.size === 0 : covers(s, current))) {
      // The whole type: a wildcard, or names that include every resource of it (a gateway
      // asking for thousands of assignments by name; names of missing resources add nothing).
      version = snap.typeVersion(t);
    } else {
      const list: Resource[] = [];
      if (s.wildcard) {
        if (retained.size === 0) list.push(...current.values());
        else {
          const all = new Map(current);
          for (const [n, r] of retained) all.set(n, r);
          list.push(...all.values());
        }
      }
      if (!s.wildcard || s.names.size > 0) {
        const seen = s.wildcard ? new Set(list.map((r) => r.name)) : null;
        for (const n of s.names) {
          if (seen?.has(n)) continue;
          const r = current.get(n) ?? retained.get(n);
          if (r) list.push(r);
        }
      }
      list.sort(byName);
      chosen = list;
      version = versionOf(list);
    }
    const forced = s.force.size > 0 && (chosen ? chosen.some((r) => s.force.has(r.name)) : anyIn(s.force, current));
    const fromSnapshot = s.dueFromSnapshot;
    s.due = false;
    s.dueFromSnapshot = false;
    if (s.sent !== null && version === s.sentVersion && !forced) return;

    // Everything but the nonce is shared by every stream sending this exact resource set.
    const body = cache.sotw(t, version, () => chosen ?? [...current.values()]);
    // What the proxy does not hold yet (partial types, once it ACKed something): all of it
    // the first time, the changed and forced ones after.
    let sending: readonly Resource[] = body.resources;
    let names: readonly string[] = body.names;
    let payload = body.bytes;
    // A first answer of a partial type leaves the proxy holding exactly this body's map once ACKed.
    let exact: SotwTypeState['inflightExact'] = PARTIAL_TYPES.has(t) && !s.holds && !this.compareByName ? { from: null, to: body.byName } : null;
    if (s.holds && PARTIAL_TYPES.has(t)) {
      const holds = s.holds;
      const base = s.force.size === 0 && !this.compareByName ? holds.exactBase() : null;
      // Holding exactly one map: what changed is the two maps' difference, shared by every
      // stream in the same state; otherwise compare name by name.
      const d = base ? pairDiff(base, body.byName) : null;
      const changed = d ? d.changed : body.resources.filter((r) => holds.version(r.name) !== r.version || s.force.has(r.name));
      // The proxy holds exactly this body's map once the changes are ACKed (nothing it holds
      // is missing from the body).
      exact = d && d.removed.length === 0 ? { from: base, to: body.byName } : null;
      if (changed.length === 0) {
        // The proxy holds every one of these already (it dropped what it no longer asks for):
        // nothing to send. Record that it holds this set, at this version, all of it ACKed.
        if (exact) holds.holdAll(body.byName);
        s.sent = s.acked = body.byName;
        s.sentVersion = version;
        s.ackedVersion = version;
        return;
      }
      if (changed.length < body.resources.length) {
        sending = changed;
        names = d ? d.names : changed.map((r) => r.name);
        payload = d ? sotwPartOf(cache, t, version, d) : cache.sotwPart(t, version, changed);
      }
    }
    const nonce = this.nextNonce();
    const bytes = withNonce(payload, nonce);

    const previous = s.sent;
    s.sent = body.byName;
    s.sentVersion = version;
    s.inflightResources = sending;
    s.inflightExact = exact;
    if (s.force.size > 0) for (const n of names) s.force.delete(n);
    if (t === TYPE.ENDPOINT) this.endWarming(names);
    s.inflight = {
      nonce,
      version,
      names,
      sentAt: performance.now(),
      snapshotSetAt: fromSnapshot ? this.snapshotSetAt : null,
    };
    if (t === TYPE.CLUSTER && !this.fixedType) this.forceEndpointsOfChangedClusters(previous, body.resources);
    if (this.debugEnabled()) this.log.debug({ type: shortName(t), version, resources: body.names.length, bytes: bytes.length }, 'push');
    this.write(t, bytes);
  }

  /**
   * A new or changed cluster starts warming and waits for its ClusterLoadAssignment, even if
   * the endpoints did not change (Envoy #13009): mark those assignments to be sent again.
   */
  private forceEndpointsOfChangedClusters(previous: ReadonlyMap<string, Resource> | null, clusters: readonly Resource[]): void {
    const eds = this.state(TYPE.ENDPOINT);
    const needed = neededEndpoints(clusters);
    for (const n of [...eds.force]) if (!needed.has(n)) eds.force.delete(n);
    // Before any assignment was sent, the first EDS response sends every requested one anyway.
    const force = eds.sent !== null;
    for (const c of clusters) {
      const before = previous?.get(c.name);
      if (before?.version === c.version) continue;
      if (force) for (const e of c.refs.endpoints) eds.force.add(e);
      // A new cluster has nothing serving under its name until its endpoints arrive.
      if (!before) this.startWarming(c.refs.endpoints);
    }
    if (eds.force.size > 0 && eds.requested) eds.due = true;
  }

  protected typeStatus(): Record<string, TypeStatus> {
    const out: Record<string, TypeStatus> = {};
    for (const [t, s] of this.types) {
      if (!s.requested) continue;
      out[shortName(t)] = {
        subscribed: s.wildcard && s.names.size === 0 ? '*' : [...(s.wildcard ? ['*'] : []), ...[...s.names].sort()],
        versionSent: s.sent ? s.sentVersion : null,
        versionAcked: s.ackedVersion,
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

/** The SotW body carrying a pair difference's changes at `version`, its cache key made once per pair. */
function sotwPartOf(cache: ResponseCache, t: TypeUrl, version: string, d: PairDiff): Buffer {
  if (d.sotwKey?.version !== version) d.sotwKey = { version, key: sotwPartKey(t, version, d.changed) };
  return cache.sotwPartByKey(d.sotwKey.key, t, version, d.changed);
}

/**
 * namesCover(s.names, map), from the last answer for this subscription when there is one: a map
 * that only changed resources the last one had, or removed some, is still covered if the last
 * was; one that added names needs only those looked up. The difference of the two maps is
 * shared by every stream (pairDiff), so a reload costs each of 500 gateway streams a lookup,
 * not a walk of 1000 names.
 */
function covers(s: SotwTypeState, map: ReadonlyMap<string, Resource>): boolean {
  const memo = s.covers;
  let value: boolean;
  if (memo && memo.names === s.names && memo.map === map) return memo.value;
  if (memo && memo.names === s.names && memo.value) {
    const d = pairDiff(memo.map, map);
    value = d.added.every((n) => s.names.has(n));
  } else value = namesCover(s.names, map);
  if (memo) {
    memo.names = s.names;
    memo.map = map;
    memo.value = value;
  } else s.covers = { names: s.names, map, value };
  return value;
}

/**
 * Whether every name of `a` is in `b`, memoised per pair: both are immutable and shared (a sent
 * or ACKed set is a cached response's map, `b` a snapshot's), so thousands of streams holding
 * the same response against the same snapshot ask once.
 */
const WITHIN = new WeakMap<ReadonlyMap<string, unknown>, WeakMap<ReadonlyMap<string, unknown>, boolean>>();
function namesWithin(a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>): boolean {
  if (a.size === 0) return true;
  let memo = WITHIN.get(a);
  if (!memo) WITHIN.set(a, (memo = new WeakMap()));
  let v = memo.get(b);
  if (v === undefined) {
    v = true;
    for (const n of a.keys()) {
      if (!b.has(n)) {
        v = false;
        break;
      }
    }
    memo.set(b, v);
  }
  return v;
}

function anyIn(names: ReadonlySet<string>, m: ReadonlyMap<string, unknown>): boolean {
  for (const n of names) if (m.has(n)) return true;
  return false;
}

function intersects(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  const [small, large] = a.size < b.size ? [a, b] : [b, a];
  for (const x of small) if (large.has(x)) return true;
  return false;
}

function sameNames(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const n of a) if (!b.has(n)) return false;
  return true;
}

/** The endpoint assignments a cluster list needs, memoised per (shared, immutable) list. */
const NEEDED_ENDPOINTS = new WeakMap<readonly Resource[], ReadonlySet<string>>();
function neededEndpoints(clusters: readonly Resource[]): ReadonlySet<string> {
  let v = NEEDED_ENDPOINTS.get(clusters);
  if (!v) NEEDED_ENDPOINTS.set(clusters, (v = refsOf(clusters, 'endpoints')));
  return v;
}
