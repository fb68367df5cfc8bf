// IR → Envoy resources, per proxy. Pure and deterministic. Each distinct piece of IR is
// translated and encoded once: the IR builder returns the very same object for anything
// unchanged (and shares one object among every proxy that uses it), so the encoder memoises on
// object identity — no per-proxy serialisation to compute a key. Listeners, which differ per
// proxy only in a few fields, are keyed by exactly the fields translateListener reads (once per
// ListenerIR object).
//
// A proxy's resources come grouped per xDS type (translateProxyByType), and the per-type arrays
// are shared wherever their content is: every sidecar of the outbound view gets the very same
// assignments array, the sidecars of a service the same route configurations array, and a
// proxy whose resources of a type did not change the same array as last build. Snapshots
// intern a type's sorted, hashed and checked set on that array's identity (xds/snapshot.ts).
import { replacedSince } from '../ir/list-edits.js';
import type { AuthzIR, HttpListenerIR, ListenerIR, ProxyIR, UpstreamIR, VirtualHostIR } from '../ir/types.js';
import type { Resource } from '../xds/resource.js';
import { type SplicedTemplate, splicedResource, spliceTemplate } from '../xds/splice.js';
import { extendList, type ResourcesByType } from '../xds/snapshot.js';
import { TYPE } from '../xds/type-urls.js';
import { translateCluster, usesEds } from './cluster.js';
import { addressBytes, loadAssignmentBytes, loadAssignmentResource } from './endpoint.js';
import { translateListener } from './listener.js';
import { RouteConfigAssembler } from './route-config.js';
import { edsClusterResource } from './templates.js';

/** A proxy's resources per type (no secrets). The arrays never change; many proxies share them. */
export interface ProxyResources extends ResourcesByType {
  readonly [TYPE.CLUSTER]: readonly Resource[];
  readonly [TYPE.ENDPOINT]: readonly Resource[];
  readonly [TYPE.LISTENER]: readonly Resource[];
  readonly [TYPE.ROUTE]: readonly Resource[];
}

/** The clusters and assignments of a list of upstreams shared by many proxies (ProxyIR.upstreamParts). */
interface SharedUpstreams {
  clusters: readonly Resource[];
  endpoints: readonly Resource[];
  /** Per own upstream's cluster: the shared clusters with it in place. */
  clustersWithOwn: WeakMap<Resource, readonly Resource[]>;
  /** Per own upstream's assignment (an EDS own upstream): the shared assignments with it in place. */
  endpointsWithOwn: WeakMap<Resource, readonly Resource[]>;
}

/** A proxy's clusters and assignments, in its upstream list's order. */
interface EncodedUpstreams {
  readonly clusters: readonly Resource[];
  readonly endpoints: readonly Resource[];
  /** For a long list (PATCH_LIST_MIN or more): each upstream's assignment's place in `endpoints`, -1 if it has none. */
  readonly endpointAt: Int32Array | null;
}

/** Upstream lists this long or longer are patched from the list they were made from (patchedUpstreams). */
const PATCH_LIST_MIN = 256;
/** Long lists remembered to patch from (about one per gateway). */
const RECENT_LONG_MAX = 16;

interface UpstreamResources {
  readonly cluster: Resource;
  /** null: not an EDS cluster (its endpoints are inline). */
  readonly assignment: Resource | null;
}

const NO_RESOURCES: readonly Resource[] = Object.freeze([]);

export class ResourceEncoder {
  /** Each upstream's cluster, and its assignment if it uses EDS (one lookup for both). */
  private readonly upstreamResources = new WeakMap<UpstreamIR, UpstreamResources>();
  /** A proxy's clusters and assignments by its upstreams array (a gateway's: the same array while its upstreams are unchanged). */
  private readonly upstreamLists = new WeakMap<readonly UpstreamIR[], EncodedUpstreams>();
  /**
   * The long upstream lists encoded last (a gateway's), each replaced by the list patched from it:
   * a list the IR made from one of these with a few upstreams replaced (list-edits.ts) is patched,
   * not walked (M10k: 10 000 lookups, ~1.3 ms per reload for one changed service). Bounded.
   */
  private recentLong: Array<{ list: readonly UpstreamIR[]; encoded: EncodedUpstreams }> = [];
  /** Long upstream lists patched from an earlier one, and encoded whole (for tests and benchmarks). */
  readonly upstreamListCounts = { patched: 0, encoded: 0 };
  private readonly proxies = new WeakMap<ProxyIR, Resource[]>();
  private readonly grouped = new WeakMap<ProxyIR, ProxyResources>();
  private readonly shared = new WeakMap<readonly UpstreamIR[], SharedUpstreams>();
  /** The shared part built last: a new list whose resources are the same keeps its arrays. */
  private lastShared: SharedUpstreams | null = null;
  private readonly lists = new ListInterner();
  /** Each listener's resource, by ListenerIR object (the key string below is built once per object). */
  private readonly listenerOf = new WeakMap<ListenerIR, Resource>();
  private readonly routeConfigs = new WeakMap<readonly VirtualHostIR[], Map<string, Resource>>();
  /** Route configurations from per-route bytes (each route encoded once, wherever it is). */
  private readonly assembler = new RouteConfigAssembler();
  private readonly authzIds = new WeakMap<AuthzIR, number>();
  private nextAuthzId = 1;
  /** Listeners by the fields they are built from; what the previous build used stays reusable. */
  private listeners = new Map<string, Resource>();
  private previousListeners = new Map<string, Resource>();
  /** Listeners and clusters minus the field that varies per proxy (address, load assignment). */
  private templates = new Map<string, SplicedTemplate>();
  private previousTemplates = new Map<string, SplicedTemplate>();

  /** Start a build: listeners the previous build used stay reusable; older entries are dropped. */
  beginBuild(): void {
    this.previousListeners = this.listeners;
    this.listeners = new Map();
    this.previousTemplates = this.templates;
    this.templates = new Map();
    this.assembler.beginBuild();
  }

  private template(key: string, make: () => SplicedTemplate): SplicedTemplate {
    let t = this.templates.get(key);
    if (t) return t;
    t = this.previousTemplates.get(key) ?? make();
    this.templates.set(key, t);
    return t;
  }

  private authzId(a: AuthzIR | null): number {
    if (!a) return 0;
    let id = this.authzIds.get(a);
    if (id === undefined) this.authzIds.set(a, (id = this.nextAuthzId++));
    return id;
  }

  private upstream(u: UpstreamIR): UpstreamResources {
    let e = this.upstreamResources.get(u);
    if (!e) {
      e = usesEds(u) ? { cluster: edsClusterResource(u), assignment: loadAssignmentResource(u) } : { cluster: this.inlineCluster(u), assignment: null };
      this.upstreamResources.set(u, e);
    }
    return e;
  }

  cluster(u: UpstreamIR): Resource {
    return this.upstream(u).cluster;
  }

  /** The assignment of an EDS upstream. */
  assignment(u: UpstreamIR): Resource {
    const r = this.upstream(u).assignment;
    if (!r) throw new Error(`bug: no assignment for ${u.key}, which does not use EDS`);
    return r;
  }

  /**
   * A STATIC (a sidecar's app) or STRICT_DNS cluster: the endpoints are inline, everything else
   * is shared by every cluster with the same name, protocol and TLS.
   */
  private inlineCluster(u: UpstreamIR): Resource {
    const dns = !u.endpoints.every((e) => e.isIp);
    const key = `${u.key}\0${u.service}\0${u.protocol}\0${u.tls?.serverIdentity ?? '-'}\0${dns}`;
    const t = this.template(key, () => {
      const json = translateCluster(u);
      delete json['load_assignment'];
      return spliceTemplate(TYPE.CLUSTER, u.key, json, 'load_assignment');
    });
    return splicedResource(t, loadAssignmentBytes(u));
  }

  /** The clusters and assignments of `list`, in its order (and, with `places`, where each assignment is, for a long list). */
  private encodeUpstreams(list: readonly UpstreamIR[], places = false): { clusters: Resource[]; endpoints: Resource[]; endpointAt: Int32Array | null } {
    // Sized once (a gateway's 10 000 upstreams pushed one by one regrew both arrays: ~0.3 MB of garbage per build).
    const clusters = new Array<Resource>(list.length);
    const endpoints = new Array<Resource>(list.length);
    const endpointAt = places && list.length >= PATCH_LIST_MIN ? new Int32Array(list.length) : null;
    let n = 0;
    for (let i = 0; i < list.length; i++) {
      const e = this.upstream(list[i]!);
      clusters[i] = e.cluster;
      if (endpointAt) endpointAt[i] = e.assignment ? n : -1;
      if (e.assignment) endpoints[n++] = e.assignment;
    }
    endpoints.length = n;
    return { clusters, endpoints, endpointAt };
  }

  /** A proxy's own list encoded whole (and remembered if long, for patchedUpstreams). */
  private encodedUpstreams(list: readonly UpstreamIR[]): EncodedUpstreams {
    const e = this.encodeUpstreams(list, true);
    const encoded: EncodedUpstreams = { clusters: this.lists.intern(e.clusters), endpoints: this.lists.intern(e.endpoints), endpointAt: e.endpointAt };
    if (e.endpointAt) {
      this.upstreamListCounts.encoded++;
      this.recentLong.push({ list, encoded });
      if (this.recentLong.length > RECENT_LONG_MAX) this.recentLong.shift();
    }
    return encoded;
  }

  /**
   * `list` encoded from a recent long list it was made from (list-edits.ts: the same upstreams
   * but at a few places): its arrays copied with those places replaced. Undefined if it was not
   * made so, or if a replaced upstream gained or lost its assignment (EDS to DNS: the
   * assignments' places shift), which is then encoded whole.
   */
  private patchedUpstreams(list: readonly UpstreamIR[]): EncodedUpstreams | undefined {
    if (list.length < PATCH_LIST_MIN) return undefined;
    for (let k = 0; k < this.recentLong.length; k++) {
      const base = this.recentLong[k]!;
      const at = replacedSince(base.list, list);
      if (at === undefined) continue;
      const endpointAt = base.encoded.endpointAt!;
      const clusters = base.encoded.clusters.slice();
      let endpoints: Resource[] | null = null;
      for (const i of at) {
        const e = this.upstream(list[i]!);
        const j = endpointAt[i]!;
        if ((j >= 0) !== (e.assignment !== null)) return undefined;
        clusters[i] = e.cluster;
        if (e.assignment) (endpoints ??= base.encoded.endpoints.slice())[j] = e.assignment;
      }
      const encoded: EncodedUpstreams = { clusters, endpoints: endpoints ?? base.encoded.endpoints, endpointAt };
      // The new list takes its base's place: the next edit is made from it.
      this.recentLong[k] = { list, encoded };
      this.upstreamListCounts.patched++;
      return encoded;
    }
    return undefined;
  }

  listener(l: ListenerIR): Resource {
    let r = this.listenerOf.get(l);
    if (!r) this.listenerOf.set(l, (r = this.listenerByKey(l)));
    return r;
  }

  private listenerByKey(l: ListenerIR): Resource {
    const tls = l.tls ? `${l.tls.mode}\0${l.tls.trustDomain}` : '-';
    const target = l.kind === 'http' ? l.routeConfigName : l.upstream;
    const key = `${l.kind}\0${l.name}\0${l.direction}\0${l.bind.host}\0${l.bind.port}\0${tls}\0${this.authzId(l.authz)}\0${target}`;
    let r = this.listeners.get(key);
    if (r) return r;
    r = this.previousListeners.get(key);
    if (!r) {
      // Inbound listeners of a service's instances differ only in their address.
      const t = this.template(`${l.kind}\0${l.name}\0${l.direction}\0${tls}\0${this.authzId(l.authz)}\0${target}`, () => {
        const json = translateListener(l);
        delete json['address'];
        return spliceTemplate(TYPE.LISTENER, l.name, json, 'address');
      });
      r = splicedResource(t, addressBytes(l.bind.host, l.bind.port));
    }
    this.listeners.set(key, r);
    return r;
  }

  routeConfig(l: HttpListenerIR): Resource {
    let byKey = this.routeConfigs.get(l.virtualHosts);
    if (!byKey) this.routeConfigs.set(l.virtualHosts, (byKey = new Map()));
    const key = `${l.routeConfigName}\0${l.authz && l.tls ? this.authzId(l.authz) : 0}`;
    let r = byKey.get(key);
    if (!r) byKey.set(key, (r = this.assembler.assemble(l, key)));
    return r;
  }

  /**
   * A proxy's resources (without secrets), per type: the same object while the proxy's IR is the
   * same object, and arrays shared with other proxies and with the previous build where their
   * content is the same.
   */
  translateProxyByType(p: ProxyIR): ProxyResources {
    let out = this.grouped.get(p);
    if (out) return out;
    let clusters: readonly Resource[];
    let endpoints: readonly Resource[];
    if (p.upstreamParts) {
      ({ clusters, endpoints } = this.withOwn(this.sharedUpstreams(p.upstreamParts.shared), p.upstreamParts.own));
    } else {
      let g = this.upstreamLists.get(p.upstreams);
      if (!g) this.upstreamLists.set(p.upstreams, (g = this.patchedUpstreams(p.upstreams) ?? this.encodedUpstreams(p.upstreams)));
      ({ clusters, endpoints } = g);
    }
    const listeners: Resource[] = [];
    const routes: Resource[] = [];
    for (const l of p.listeners) {
      listeners.push(this.listener(l));
      if (l.kind === 'http') routes.push(this.routeConfig(l));
    }
    out = {
      [TYPE.CLUSTER]: clusters,
      [TYPE.ENDPOINT]: endpoints,
      [TYPE.LISTENER]: this.lists.intern(listeners),
      [TYPE.ROUTE]: this.lists.intern(routes),
    };
    this.grouped.set(p, out);
    return out;
  }

  /** A proxy's resources (without secrets) in one array: the same array while the proxy's IR is the same object. */
  translateProxy(p: ProxyIR): Resource[] {
    let out = this.proxies.get(p);
    if (!out) {
      const g = this.translateProxyByType(p);
      out = [...g[TYPE.CLUSTER], ...g[TYPE.ENDPOINT], ...g[TYPE.LISTENER], ...g[TYPE.ROUTE]];
      this.proxies.set(p, out);
    }
    return out;
  }

  private sharedUpstreams(list: readonly UpstreamIR[]): SharedUpstreams {
    let s = this.shared.get(list);
    if (s) return s;
    const { clusters, endpoints } = this.encodeUpstreams(list);
    // A new list (an endpoint edit makes new upstream objects) whose clusters are the same
    // keeps the clusters array of every proxy of the view; likewise the assignments.
    const last = this.lastShared;
    const sameClusters = last !== null && sameResources(last.clusters, clusters);
    const sameEndpoints = last !== null && sameResources(last.endpoints, endpoints);
    s = {
      clusters: sameClusters ? last.clusters : clusters,
      endpoints: sameEndpoints ? last.endpoints : endpoints,
      clustersWithOwn: sameClusters ? last.clustersWithOwn : new WeakMap(),
      endpointsWithOwn: sameEndpoints ? last.endpointsWithOwn : new WeakMap(),
    };
    this.shared.set(list, s);
    this.lastShared = s;
    return s;
  }

  /** The shared clusters and assignments with `own`'s in place (by name, replacing one of the same name). */
  private withOwn(s: SharedUpstreams, own: UpstreamIR): { clusters: readonly Resource[]; endpoints: readonly Resource[] } {
    const { cluster, assignment } = this.upstream(own);
    let clusters = s.clustersWithOwn.get(cluster);
    if (!clusters) s.clustersWithOwn.set(cluster, (clusters = extendList(s.clusters, cluster)));
    if (!assignment) return { clusters, endpoints: s.endpoints };
    let endpoints = s.endpointsWithOwn.get(assignment);
    if (!endpoints) s.endpointsWithOwn.set(assignment, (endpoints = extendList(s.endpoints, assignment)));
    return { clusters, endpoints };
  }
}

/** Same names and versions in the same order (equal content: a snapshot treats them alike). */
function sameResources(a: readonly Resource[], b: readonly Resource[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && (a[i]!.name !== b[i]!.name || a[i]!.version !== b[i]!.version)) return false;
  return true;
}

/**
 * The same array for the same resources in the same order, so that a proxy whose resources of a
 * type did not change, or that has the same as other proxies (a service's route configurations),
 * hands the snapshot an array it has already interned. Keyed by resource identity through weak
 * maps: an entry lives as long as its resources. Lists longer than LIST_INTERN_MAX are not
 * interned (a gateway's thousand clusters: walking them costs about what they save).
 */
class ListInterner {
  private readonly root = new WeakMap<Resource, ListNode>();

  intern(items: Resource[]): readonly Resource[] {
    if (items.length === 0) return NO_RESOURCES;
    if (items.length > LIST_INTERN_MAX) return items;
    let level = this.root;
    for (let i = 0; ; i++) {
      let node = level.get(items[i]!);
      if (!node) level.set(items[i]!, (node = { list: null, next: null }));
      if (i === items.length - 1) return (node.list ??= items);
      level = node.next ??= new WeakMap();
    }
  }
}

interface ListNode {
  list: readonly Resource[] | null;
  next: WeakMap<Resource, ListNode> | null;
}

const LIST_INTERN_MAX = 8;
