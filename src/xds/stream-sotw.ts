// State-of-the-world stream (StreamAggregatedResources and the per-type Stream* methods).
//
// Per type: the subscription, the last response sent (its resources and version), the last
// response ACKed, and at most one response in flight. Responses are built lazily when the
// type is due and nothing is in flight, so a slow proxy only ever receives the newest state.
import type { SnapshotUpdate } from './cache.js';
import type { Resource } from './resource.js';
import { refsOf, retainedResources } from './retention.js';
import { versionOf } from './snapshot.js';
import type { NackRecord, TypeStatus } from './status.js';
import { type InflightResponse, XdsStreamBase } from './stream-base.js';
import { isServedType, shortName, TYPE, type TypeUrl } from './type-urls.js';
import { stringField } from './wire.js';

class SotwTypeState {
  /** A request for this type has been received. */
  requested = false;
  wildcard = false;
  /** Wildcard entered by an empty first request (legacy), as opposed to an explicit "*". */
  legacyWildcard = false;
  names = new Set<string>();
  sent: Map<string, Resource> | null = null;
  sentVersion = '';
  acked: Map<string, Resource> = new Map();
  ackedVersion: string | null = null;
  inflight: InflightResponse | null = null;
  due = false;
  /** The type became due because the snapshot changed (for set→ACK latency). */
  dueFromSnapshot = false;
  /** Names that must be in the next response even if unchanged (EDS after a cluster change). */
  force = new Set<string>();
  lastNack: NackRecord | null = null;
}

const EMPTY_RESOURCES: ReadonlyMap<string, Resource> = new Map();

export class SotwStream extends XdsStreamBase {
  private readonly types = new Map<TypeUrl, SotwTypeState>();

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
        s.acked = s.sent ?? new Map();
        s.ackedVersion = inflight.version;
        this.recordAck(t, inflight);
        // Held references changed: retained resources may now be released.
        this.markReferencedTypesDue(t);
      }
    }

    const wasSubscription = subscriptionKey(s);
    if (names.includes('*')) {
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
    }
    // The first request on a stream always gets a full answer (the proxy may come from
    // another replica); a changed subscription gets an answer if what it selects changed.
    if (!s.requested || subscriptionKey(s) !== wasSubscription) s.due = true;
    s.requested = true;
  }

  private markReferencedTypesDue(acked: TypeUrl): void {
    if (this.fixedType) return;
    const dependents: Record<string, TypeUrl[]> = {
      [TYPE.LISTENER]: [TYPE.CLUSTER, TYPE.ROUTE, TYPE.SECRET],
      [TYPE.ROUTE]: [TYPE.CLUSTER],
      [TYPE.CLUSTER]: [TYPE.ENDPOINT, TYPE.SECRET],
    };
    for (const d of dependents[acked] ?? []) {
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

  private held(t: TypeUrl): Resource[] {
    const s = this.types.get(t);
    if (!s) return [];
    const out = [...s.acked.values()];
    if (s.sent && s.sent !== s.acked) out.push(...s.sent.values());
    return out;
  }

  private respond(t: TypeUrl, s: SotwTypeState): void {
    const snap = this.snapshot!;
    // A proxy that has not proven its identity gets no secrets at all.
    const current = t === TYPE.SECRET && !this.maySendSecrets() ? EMPTY_RESOURCES : snap.resources(t);
    const retained = this.fixedType ? EMPTY_RESOURCES : retainedResources(t, snap, (x) => this.held(x));
    const chosen: Resource[] = [];
    let fastPath = false;
    if (s.wildcard) {
      if (retained.size === 0) {
        chosen.push(...current.values());
        fastPath = true;
      } else {
        const all = new Map(current);
        for (const [n, r] of retained) all.set(n, r);
        chosen.push(...[...all.values()].sort(byName));
      }
    }
    if (!s.wildcard || s.names.size > 0) {
      const seen = new Set(chosen.map((r) => r.name));
      for (const n of s.names) {
        if (seen.has(n)) continue;
        const r = current.get(n) ?? retained.get(n);
        if (r) chosen.push(r);
      }
      if (!fastPath || s.names.size > 0) chosen.sort(byName);
    }
    const version = fastPath && s.names.size === 0 ? snap.typeVersion(t) : versionOf(chosen);
    const forced = s.force.size > 0 && chosen.some((r) => s.force.has(r.name));
    const fromSnapshot = s.dueFromSnapshot;
    s.due = false;
    s.dueFromSnapshot = false;
    if (s.sent !== null && version === s.sentVersion && !forced) return;

    const nonce = this.nextNonce();
    const parts: Buffer[] = [stringField(1, version)];
    for (const r of chosen) parts.push(r.sotwField);
    parts.push(stringField(4, t), stringField(5, nonce), this.deps.controlPlane.sotw);
    const bytes = Buffer.concat(parts);

    const previous = s.sent;
    const sentMap = new Map<string, Resource>();
    for (const r of chosen) sentMap.set(r.name, r);
    s.sent = sentMap;
    s.sentVersion = version;
    for (const r of chosen) s.force.delete(r.name);
    if (t === TYPE.ENDPOINT) this.endWarming(chosen.map((r) => r.name));
    s.inflight = {
      nonce,
      version,
      names: chosen.map((r) => r.name),
      sentAt: performance.now(),
      snapshotSetAt: fromSnapshot ? this.snapshotSetAt : null,
    };
    if (t === TYPE.CLUSTER && !this.fixedType) this.forceEndpointsOfChangedClusters(previous, chosen);
    this.log.debug({ type: shortName(t), version, resources: chosen.length, bytes: bytes.length }, 'push');
    this.write(t, bytes);
  }

  /**
   * A new or changed cluster starts warming and waits for its ClusterLoadAssignment, even if
   * the endpoints did not change (Envoy #13009): mark those assignments to be sent again.
   */
  private forceEndpointsOfChangedClusters(previous: Map<string, Resource> | null, clusters: Resource[]): void {
    const eds = this.state(TYPE.ENDPOINT);
    const needed = refsOf(clusters, 'endpoints');
    for (const n of [...eds.force]) if (!needed.has(n)) eds.force.delete(n);
    for (const c of clusters) {
      const before = previous?.get(c.name);
      if (before?.version === c.version) continue;
      for (const e of c.refs.endpoints) eds.force.add(e);
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

function byName(a: Resource, b: Resource): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function intersects(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  const [small, large] = a.size < b.size ? [a, b] : [b, a];
  for (const x of small) if (large.has(x)) return true;
  return false;
}

function subscriptionKey(s: SotwTypeState): string {
  return `${s.wildcard ? '*' : ''}|${[...s.names].sort().join('\0')}`;
}
