// Model → IR. Pure and deterministic: every list is sorted by a stable key and every name is
// derived from what it denotes. Gateway routes are composed with the routes of the service
// they send to, so a service's canary and split rules hold for every caller.
import { gatewayIdentity, serviceIdentity } from '../ca/spiffe.js';
import type { BackendModel, GatewayModel, GatewayRouteModel, InstanceModel, MatchModel, Model, ServiceModel, ValueMatchModel } from '../model/schema.js';
import { noteReplaced, replacedSince } from './list-edits.js';
import { canonicalizeWithChanges, deepEqual, type ModelChanges } from './model-diff.js';
import { lowerBound } from '../util/sorted.js';
import { labelsMatch } from '../model/validate.js';
import {
  type EndpointIR,
  gatewayGroup,
  type HttpListenerIR,
  type HttpRouteIR,
  type AuthzIR,
  type ListenerIR,
  type MatchIR,
  type MeshIR,
  type ProxyIR,
  sidecarGroup,
  type StringMatchIR,
  type UpstreamIR,
  type VirtualHostIR,
  type WeightedBackendIR,
} from './types.js';

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6 = /^\[?[0-9a-fA-F:]+\]?$/;

export function isIp(host: string): boolean {
  return IPV4.test(host) || (host.includes(':') && IPV6.test(host));
}

function sortedEntries(o: Record<string, string> | undefined): Array<[string, string]> {
  return Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function upstreamKey(service: string, subset: Record<string, string> | undefined | null): string {
  const pairs = sortedEntries(subset ?? undefined);
  return pairs.length === 0 ? service : `${service}|${pairs.map(([k, v]) => `${k}=${v}`).join(',')}`;
}

export function localUpstreamKey(service: string): string {
  return `inbound|${service}`;
}

/** Envoy's socket_address wants an IPv6 literal without the brackets the model allows. */
function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function endpointOf(inst: InstanceModel): EndpointIR {
  return { instanceId: inst.id, host: bareHost(inst.address), port: inst.port, isIp: isIp(inst.address) };
}

function splitHostPort(hp: string): { host: string; port: number } {
  const i = hp.lastIndexOf(':');
  return { host: hp.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hp.slice(i + 1)) };
}

function valueMatch(vm: ValueMatchModel): StringMatchIR {
  if (typeof vm === 'string') return { kind: 'exact', value: vm };
  if ('present' in vm) return { kind: 'present' };
  if ('absent' in vm) return { kind: 'absent' };
  if ('exact' in vm) return { kind: 'exact', value: vm.exact };
  if ('prefix' in vm) return { kind: 'prefix', value: vm.prefix };
  if ('suffix' in vm) return { kind: 'suffix', value: vm.suffix };
  if ('contains' in vm) return { kind: 'contains', value: vm.contains };
  return { kind: 'regex', value: vm.regex };
}

function matchIR(m: MatchModel | undefined): MatchIR {
  const path = m?.pathPrefix !== undefined
    ? { kind: 'prefix' as const, value: m.pathPrefix }
    : m?.path !== undefined
      ? { kind: 'exact' as const, value: m.path }
      : m?.pathRegex !== undefined
        ? { kind: 'regex' as const, value: m.pathRegex }
        : null;
  return {
    path,
    // Header names are case-insensitive; Envoy compares them lowercased.
    headers: Object.keys(m?.headers ?? {})
      .sort()
      .map((name) => ({ name: name.toLowerCase(), match: valueMatch(m!.headers![name]!) })),
    query: Object.keys(m?.queryParams ?? {})
      .sort()
      .map((name) => ({ name, match: valueMatch(m!.queryParams![name]!) })),
    methods: m?.methods ? [...new Set(m.methods)].sort() : null,
  };
}

/** Both matches must hold; null when no request can satisfy both. */
export function mergeMatches(outer: MatchIR, inner: MatchIR): MatchIR | null {
  // A "/" prefix matches every path: it is no condition (and must not block a regex).
  const any = (p: MatchIR['path']): boolean => p !== null && p.kind === 'prefix' && p.value === '/';
  const outerPath = any(outer.path) && inner.path ? null : outer.path;
  const innerPath = any(inner.path) && outer.path ? null : inner.path;
  let path = outerPath ?? innerPath;
  if (outerPath && innerPath) {
    const a = outerPath;
    const b = innerPath;
    if (a.kind === b.kind && a.value === b.value) path = a;
    else if (a.kind === 'prefix' && b.kind === 'prefix') {
      if (b.value.startsWith(a.value)) path = b;
      else if (a.value.startsWith(b.value)) path = a;
      else return null;
    } else if (a.kind === 'prefix' && b.kind === 'exact') {
      if (!b.value.startsWith(a.value)) return null;
      path = b;
    } else if (a.kind === 'exact' && b.kind === 'prefix') {
      if (!a.value.startsWith(b.value)) return null;
      path = a;
    } else return null; // regex with anything else: not expressible as one Envoy route
  }
  let methods = outer.methods ?? inner.methods;
  if (outer.methods && inner.methods) {
    methods = outer.methods.filter((x) => inner.methods!.includes(x));
    if (methods.length === 0) return null;
  }
  const byName = <T extends { name: string }>(xs: T[]): T[] => [...xs].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return {
    path,
    headers: byName([...outer.headers, ...inner.headers]),
    query: byName([...outer.query, ...inner.query]),
    methods,
  };
}

const CATCH_ALL: MatchIR = { path: null, headers: [], query: [], methods: null };

type PathIR = MatchIR['path'];

/**
 * Envoy's prefix_rewrite replaces the prefix (or path) the route matched. When composition
 * narrowed the gateway's prefix to `merged`, the replacement grows by the same tail, so that
 * the upstream still sees `rewrite + rest`.
 */
/**
 * A service route's match, written against the path the service receives, moved to the path
 * the gateway sees when the gateway replaces prefix `from` with `to`. Null if no request can
 * match (a disjoint prefix, or a regex, which cannot be moved).
 */
function underRewrite(m: MatchIR, from: string, to: string): MatchIR | null {
  const p = m.path;
  if (!p || (p.kind === 'prefix' && p.value === '/')) return m;
  if (p.kind === 'regex') return null;
  if (p.value.startsWith(to)) return { ...m, path: { kind: p.kind, value: from + p.value.slice(to.length) } };
  // Every rewritten path starts with `to`, which already satisfies a shorter prefix.
  if (p.kind === 'prefix' && to.startsWith(p.value)) return { ...m, path: null };
  return null;
}

function rewriteFor(rewrite: string | null, outer: PathIR, merged: PathIR): string | null {
  if (rewrite === null || merged === null || merged.kind === 'regex' || outer?.kind === 'exact' || outer?.kind === 'regex') return rewrite;
  const from = outer?.value ?? '/';
  return merged.value.startsWith(from) ? rewrite + merged.value.slice(from.length) : rewrite;
}

/** An upstream a route or listener needs, resolved to its UpstreamIR per build. */
interface UpstreamRef {
  key: string;
  service: string;
  subset: Record<string, string> | null;
}

/** Routes and the upstreams they need. */
interface RoutesMemo {
  routes: HttpRouteIR[];
  refs: Map<string, UpstreamRef>;
}

/** A service's routes, kept while its routes, timeout and protocol are the same. */
interface ServiceRoutesMemo extends RoutesMemo {
  of: { routes: ServiceModel['routes']; timeout: ServiceModel['timeout']; protocol: ServiceModel['protocol'] };
}

/**
 * A gateway route composed with what it sends to, kept while it is the same route object at the
 * same place (any place when named: its origin does not say where) and what it was composed with
 * is current: its service's routes (backend), or its services' timeouts (backends).
 */
interface GatewayRouteMemo extends RoutesMemo {
  gname: string;
  index: number;
  composed: RoutesMemo | null;
  timeouts: Array<number | null> | null;
}

/** An upstream a gateway's routes and listeners name: how many of them (a route counts once), and its IR. */
interface GatewayUpstream {
  ref: UpstreamRef;
  n: number;
  ir: UpstreamIR;
}

type GatewayListenerModel = GatewayModel['listeners'][number];

/** One listener of a gateway: its IR, and for http, its routes' memos (in route order) and virtual hosts. */
interface GatewayListenerState {
  model: GatewayListenerModel;
  /** How many of the gateway's routes it does not take (0: its memos are the gateway's). */
  skipped: number;
  memos: readonly RoutesMemo[] | null;
  vhosts: VirtualHostIR[] | null;
  /** Where each memo's routes begin in the virtual host's routes (and where they end, last). */
  offsets: Int32Array | null;
  ir: ListenerIR;
}

/**
 * A gateway's IR and what it was built from, so that a rebuild redoes only what changed: the
 * routes replaced, added or removed since (found by identity), the routes that read a service
 * changed since (update() notes every changed service in `dirty`), and the upstreams of those
 * services. The upstream list is kept sorted, and is the very same array while its upstreams are.
 */
interface GatewayState {
  mesh: Model['mesh'];
  gw: GatewayModel;
  routes: readonly GatewayRouteModel[];
  /** Per route: its memo, or null when no http listener takes it. */
  memos: Array<GatewayRouteMemo | null>;
  /** The listeners, sorted by name. */
  listeners: GatewayListenerState[];
  /** The http listeners' names (a route without `listeners` goes to each). */
  httpNames: readonly string[];
  upstreams: Map<string, GatewayUpstream>;
  upstreamList: UpstreamIR[];
  /** Services changed (or gone) since the build. */
  dirty: Set<string>;
  /** Too many changed to look at one by one: build afresh (reusing memos). */
  stale: boolean;
  /** Service → the places of the routes whose memo reads it; null until needed after routes moved. */
  users: Map<string, number[]> | null;
  ir: ProxyIR;
}

/** Past this many changed services, a gateway is built afresh (reusing route memos) rather than looked at service by service. */
const GATEWAY_DIRTY_MAX = 1024;

const NO_ROUTES: readonly GatewayRouteModel[] = [];

/** What a sidecar group names in the current model. */
interface SidecarRef {
  kind: 'sidecar';
  service: string;
  svc: ServiceModel;
  inst: InstanceModel;
}

interface OutboundView {
  /** The service objects (sorted by name) the view was built from. */
  services: readonly ServiceModel[];
  virtualHosts: VirtualHostIR[];
  upstreams: UpstreamIR[];
  /** The outbound listener per port: one object for every sidecar listening there (kept while virtualHosts is). */
  listeners: Map<number, HttpListenerIR>;
}

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Model → IR, incrementally. `update()` takes each new model; `proxy(group)` builds one proxy's
 * IR on demand. Everything is memoised on the identity of the model objects it was built from
 * (see model-diff.ts: unchanged parts of a new model are the previous objects), so an IR object
 * that is returned again is unchanged and immutable, and translation can memoise on it too.
 * Shared parts (an upstream, a service's routes, the outbound view every sidecar has) are built
 * once and shared by every proxy that uses them.
 */
export class IrBuilder {
  private model: Model | null = null;
  private mtls = false;
  private sortedServiceNames: string[] = [];
  /** Per service, the upstreams of it (whole, and each subset) by key, while its instances and protocol and the mesh are the same. */
  private readonly upstreamMemo = new Map<string, { instances: ServiceModel['instances']; protocol: string; mesh: Model['mesh']; byKey: Map<string, UpstreamIR> }>();
  private readonly serviceRoutesMemo = new Map<string, ServiceRoutesMemo>();
  private readonly authzMemo = new Map<string, { allow: ServiceModel['allow']; mesh: Model['mesh']; ir: AuthzIR | null }>();
  private readonly gatewayRouteMemo = new WeakMap<GatewayRouteModel, GatewayRouteMemo>();
  private readonly gateways = new Map<string, GatewayState>();
  /** Each service's sidecar groups that have a memo here (proxyMemo, sidecarRefs), to drop them when gone. */
  private readonly sidecarGroups = new Map<string, Set<string>>();
  private readonly inboundHostsMemo = new Map<string, VirtualHostIR[]>();
  private readonly instanceIndex = new WeakMap<ServiceModel, Map<string, InstanceModel>>();
  private readonly localMemo = new WeakMap<InstanceModel, UpstreamIR>();
  /** A sidecar's inbound listener, kept while what it is built from is the same (translation memoises on it). */
  private readonly inboundMemo = new WeakMap<InstanceModel, { sname: string; protocol: string; tls: ListenerIR['tls']; authz: AuthzIR | null; ir: ListenerIR }>();
  private readonly proxyMemo = new Map<string, { deps: readonly unknown[]; ir: ProxyIR }>();
  private readonly depsScratch: unknown[] = [];
  private readonly identityMemo = new Map<string, { trustDomain: string; identity: string }>();
  /** Each sidecar group's service and instance, kept while the service is the same object. */
  private readonly sidecarRefs = new Map<string, SidecarRef>();
  private outbound: OutboundView | null = null;
  /** The last update() changed which proxy groups exist. */
  groupsChanged = true;
  private outboundCurrent = false;
  private tlsIR: { mesh: Model['mesh']; ir: ListenerIR['tls'] } | null = null;

  /**
   * Take a new validated model. Returns the canonical model (unchanged parts are the previous
   * objects). What it costs grows with what changed: canonicalize says which services and
   * gateways did, and only their memos are looked at.
   */
  update(next: Model): Model {
    const prev = this.model;
    const { model, changes } = canonicalizeWithChanges(prev, next);
    this.model = model;
    if (prev !== null && model === prev) {
      this.groupsChanged = false;
      return model;
    }
    this.mtls = model.mesh.mtls !== 'off';
    if (changes === null || changes.mesh) {
      this.upstreamMemo.clear();
      this.authzMemo.clear();
      this.proxyMemo.clear();
      this.outbound = null;
    }
    if (prev === null || changes === null) {
      this.sortedServiceNames = Object.keys(model.services).sort(byName);
      this.groupsChanged = true;
      this.outboundCurrent = false;
      return model;
    }
    const svc = changes.services;
    if (svc.changed.length || svc.removed.length || changes.mesh) this.outboundCurrent = false;
    const added = svc.changed.filter((n) => prev.services[n] === undefined);
    if (added.length || svc.removed.length) this.sortedServiceNames = withNames(this.sortedServiceNames, added, svc.removed);
    this.groupsChanged = groupSetChanged(prev, model, changes);
    for (const g of changes.gateways.removed) this.gateways.delete(g);
    if (svc.changed.length || svc.removed.length) {
      for (const st of this.gateways.values()) {
        if (st.stale) continue;
        for (const n of svc.changed) st.dirty.add(n);
        for (const n of svc.removed) st.dirty.add(n);
        if (st.dirty.size > GATEWAY_DIRTY_MAX) {
          st.stale = true;
          st.dirty.clear();
        }
      }
    }
    this.sweep(changes);
    return model;
  }

  /** Drop the memo entries of services that changed or are gone, and of sidecars that no longer exist. */
  private sweep(changes: ModelChanges): void {
    const model = this.m;
    for (const names of [changes.services.changed, changes.services.removed]) {
      for (const name of names) {
        const svc = model.services[name];
        const up = this.upstreamMemo.get(name);
        if (up && (!svc || svc.instances !== up.instances || svc.protocol !== up.protocol)) this.upstreamMemo.delete(name);
        const sr = this.serviceRoutesMemo.get(name);
        if (sr && (!svc || !serviceRoutesCurrent(sr, svc))) this.serviceRoutesMemo.delete(name);
        const az = this.authzMemo.get(name);
        if (az && (!svc || svc.allow !== az.allow)) this.authzMemo.delete(name);
        if (!svc) {
          this.inboundHostsMemo.delete(name);
          this.identityMemo.delete(name);
        }
        const groups = this.sidecarGroups.get(name);
        if (groups) {
          for (const g of groups) {
            if (this.exists(g)) continue;
            this.proxyMemo.delete(g);
            this.sidecarRefs.delete(g);
            groups.delete(g);
          }
          if (groups.size === 0) this.sidecarGroups.delete(name);
        }
      }
    }
  }

  /** How many entries each memo keyed by service, proxy group or gateway holds (for tests: what sweep drops). */
  memoCounts(): Record<string, number> {
    let upstreams = 0;
    for (const e of this.upstreamMemo.values()) upstreams += e.byKey.size;
    let sidecarGroups = 0;
    for (const g of this.sidecarGroups.values()) sidecarGroups += g.size;
    return {
      upstreams,
      serviceRoutes: this.serviceRoutesMemo.size,
      authz: this.authzMemo.size,
      inboundHosts: this.inboundHostsMemo.size,
      identities: this.identityMemo.size,
      proxies: this.proxyMemo.size,
      sidecarRefs: this.sidecarRefs.size,
      sidecarGroups,
      gateways: this.gateways.size,
    };
  }

  private get m(): Model {
    if (!this.model) throw new Error('bug: IrBuilder used before update()');
    return this.model;
  }

  /** Every proxy group of the model, sorted. */
  groups(): string[] {
    const m = this.m;
    const out: string[] = [];
    for (const g of Object.keys(m.gateways)) out.push(gatewayGroup(g));
    for (const s of Object.keys(m.services)) for (const i of m.services[s]!.instances) out.push(sidecarGroup(s, i.id));
    return out.sort(byName);
  }

  /** Every sidecar group with the identity it will have (mTLS on), without building any IR. */
  *sidecarIdentities(): Generator<{ group: string; identity: string }> {
    const m = this.m;
    if (m.mesh.mtls === 'off') return;
    for (const s of Object.keys(m.services)) {
      const identity = serviceIdentity(m.mesh.trustDomain, s);
      for (const i of m.services[s]!.instances) yield { group: sidecarGroup(s, i.id), identity };
    }
  }

  gatewayGroups(): string[] {
    return Object.keys(this.m.gateways).map(gatewayGroup);
  }

  exists(group: string): boolean {
    const ref = this.parseGroup(group);
    return ref !== null;
  }

  private parseGroup(group: string): { kind: 'gateway'; name: string } | SidecarRef | null {
    const m = this.m;
    if (group.startsWith('gateway/')) {
      const name = group.slice(8);
      return Object.prototype.hasOwnProperty.call(m.gateways, name) ? { kind: 'gateway', name } : null;
    }
    if (!group.startsWith('sidecar/')) return null;
    // Every reload asks for every live sidecar group: what a group names is worked out again
    // only when its service changed.
    const hit = this.sidecarRefs.get(group);
    if (hit && m.services[hit.service] === hit.svc) return hit;
    const slash = group.indexOf('/', 8);
    if (slash < 0) return null;
    const service = group.slice(8, slash);
    if (!Object.prototype.hasOwnProperty.call(m.services, service)) return null;
    const svc = m.services[service]!;
    let idx = this.instanceIndex.get(svc);
    if (!idx) {
      idx = new Map(svc.instances.map((i) => [i.id, i]));
      this.instanceIndex.set(svc, idx);
    }
    const inst = idx.get(group.slice(slash + 1));
    if (!inst) return null;
    const ref: SidecarRef = { kind: 'sidecar', service, svc, inst };
    this.sidecarRefs.set(group, ref);
    let groups = this.sidecarGroups.get(service);
    if (!groups) this.sidecarGroups.set(service, (groups = new Set()));
    groups.add(group);
    return ref;
  }

  /** One proxy's IR; the same object as last time when nothing it depends on changed. */
  proxy(group: string): ProxyIR | undefined {
    const ref = this.parseGroup(group);
    if (!ref) return undefined;
    if (ref.kind === 'gateway') return this.gateway(ref.name);
    // A sidecar's dependencies go to a scratch array, copied only when they changed: every
    // reload asks for every live sidecar, and most are unchanged.
    const deps = this.sidecarDeps(ref.service, ref.svc, ref.inst, this.depsScratch);
    const hit = this.proxyMemo.get(group);
    if (hit && sameList(hit.deps, deps)) return hit.ir;
    const ir = this.sidecar(group, ref.service, ref.svc, ref.inst);
    this.proxyMemo.set(group, { deps: [...deps], ir });
    return ir;
  }

  /** Who may call `service`, on the verified identity of the caller. */
  private authz(service: string): AuthzIR | null {
    const svc = this.service(service);
    const mesh = this.m.mesh;
    const hit = this.authzMemo.get(service);
    // Who may call depends on the allow rules and the mesh only (not on the instances).
    if (hit && hit.allow === svc.allow && hit.mesh === mesh) return hit.ir;
    let ir: AuthzIR | null = null;
    if (this.mtls) {
      const td = mesh.trustDomain;
      if (!svc.allow) ir = mesh.defaultPolicy === 'deny' ? { rules: [] } : null;
      else {
        ir = {
          rules: svc.allow.map((r, i) => ({
            name: `allow-${String(i).padStart(3, '0')}`,
            principals: [...new Set([...(r.services ?? []).map((n) => serviceIdentity(td, n)), ...(r.gateways ?? []).map((n) => gatewayIdentity(td, n))])].sort(),
            pathPrefix: r.pathPrefix ?? null,
            methods: r.methods ? [...new Set(r.methods)].sort() : null,
          })),
        };
      }
    }
    this.authzMemo.set(service, { allow: svc.allow, mesh, ir });
    return ir;
  }

  private service(name: string): ServiceModel {
    const s = this.m.services[name];
    if (!s) throw new Error(`bug: unknown service ${name} after validation`);
    return s;
  }

  private upstream(ref: UpstreamRef): UpstreamIR {
    const svc = this.service(ref.service);
    const mesh = this.m.mesh;
    // An upstream depends on the service's instances and protocol only (not on its routes).
    let of = this.upstreamMemo.get(ref.service);
    if (!of || of.instances !== svc.instances || of.protocol !== svc.protocol || of.mesh !== mesh) {
      of = { instances: svc.instances, protocol: svc.protocol, mesh, byKey: new Map() };
      this.upstreamMemo.set(ref.service, of);
    }
    const hit = of.byKey.get(ref.key);
    if (hit) return hit;
    const subset = ref.subset;
    const insts = svc.instances.filter((i) => !subset || labelsMatch(subset, i.labels));
    const ir: UpstreamIR = {
      key: ref.key,
      service: ref.service,
      subset: subset ? sortedEntries(subset) : null,
      protocol: svc.protocol,
      endpoints: insts.map(endpointOf).sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1)),
      local: false,
      tls: this.mtls ? { serverIdentity: serviceIdentity(mesh.trustDomain, ref.service) } : null,
    };
    of.byKey.set(ref.key, ir);
    return ir;
  }

  private refOf(service: string, subset: Record<string, string> | undefined | null): UpstreamRef {
    return { key: upstreamKey(service, subset), service, subset: subset ?? null };
  }

  private resolve(refs: Iterable<UpstreamRef>, into: Map<string, UpstreamIR>): void {
    for (const r of refs) if (!into.has(r.key)) into.set(r.key, this.upstream(r));
  }

  private backends(list: BackendModel[], owner: string | undefined, refs: Map<string, UpstreamRef>): WeightedBackendIR[] {
    const weighted = list.every((b) => b.weight !== undefined);
    const out = new Map<string, number>();
    for (const b of list) {
      const w = weighted ? b.weight! : 1;
      if (w === 0) continue; // no traffic: no cluster either
      const ref = this.refOf(b.service ?? owner!, b.subset ?? null);
      if (!refs.has(ref.key)) refs.set(ref.key, ref);
      out.set(ref.key, (out.get(ref.key) ?? 0) + w);
    }
    // Sorted by cluster, so reordering backends in the model changes nothing.
    return [...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([upstream, weight]) => ({ upstream, weight }));
  }

  /** A route's timeout: its own, else the service's, else none for gRPC (streams), else Envoy's default. */
  private timeout(own: number | undefined, svc: ServiceModel): number | null {
    return own ?? svc.timeout ?? (svc.protocol === 'grpc' ? 0 : null);
  }

  /** The routes every caller of `name` uses, ending in a catch-all to the whole service. */
  private serviceRoutes(name: string): ServiceRoutesMemo {
    const svc = this.service(name);
    const hit = this.serviceRoutesMemo.get(name);
    if (hit && serviceRoutesCurrent(hit, svc)) return hit;
    const refs = new Map<string, UpstreamRef>();
    const routes: HttpRouteIR[] = (svc.routes ?? []).map((r, i) => ({
      origin: r.name ? `${name}/${r.name}` : `services.${name}.routes[${i}]`,
      match: matchIR(r.match),
      backends: this.backends(r.backends, name, refs),
      rewritePathPrefix: null,
      rewriteHost: null,
      timeoutMs: this.timeout(r.timeout, svc),
    }));
    const last = routes[routes.length - 1];
    if (!last || !isCatchAll(last.match)) {
      const ref = this.refOf(name, null);
      if (!refs.has(ref.key)) refs.set(ref.key, ref);
      routes.push({
        origin: `services.${name}`,
        match: CATCH_ALL,
        backends: [{ upstream: ref.key, weight: 1 }],
        rewritePathPrefix: null,
        rewriteHost: null,
        timeoutMs: this.timeout(undefined, svc),
      });
    }
    const memo: ServiceRoutesMemo = { of: { routes: svc.routes, timeout: svc.timeout, protocol: svc.protocol }, routes, refs };
    this.serviceRoutesMemo.set(name, memo);
    return memo;
  }

  /** Whether a gateway route's memo is current: composed with the same service routes, or its services' timeouts the same. */
  private routeMemoCurrent(m: GatewayRouteMemo, r: GatewayRouteModel): boolean {
    if (r.backend) return m.composed === this.serviceRoutes(r.backend);
    const bs = r.backends ?? [];
    const ts = m.timeouts!;
    if (ts.length !== bs.length) return false;
    for (let k = 0; k < bs.length; k++) if (ts[k] !== this.timeout(undefined, this.service(bs[k]!.service!))) return false;
    return true;
  }

  /** One gateway route, composed with its service's routes: the IR routes and upstreams it needs. */
  private gatewayRoute(gname: string, r: GatewayRouteModel, i: number): GatewayRouteMemo {
    const hit = this.gatewayRouteMemo.get(r);
    if (hit && hit.gname === gname && (hit.index === i || r.name) && this.routeMemoCurrent(hit, r)) return hit;
    const origin = r.name ? `${gname}/${r.name}` : `gateways.${gname}.routes[${i}]`;
    const outer = matchIR(r.match);
    const rewritePathPrefix = r.rewrite?.pathPrefix ?? null;
    const rewriteHost = r.rewrite?.host ?? null;
    const refs = new Map<string, UpstreamRef>();
    const routes: HttpRouteIR[] = [];
    if (r.backends) {
      // Without its own timeout, the route keeps its services' timeout when they agree on one.
      const svcTimeouts = new Set(r.backends.map((b) => this.timeout(undefined, this.service(b.service!))));
      const svcTimeout = svcTimeouts.size === 1 ? [...svcTimeouts][0]! : null;
      routes.push({ origin, match: outer, backends: this.backends(r.backends, undefined, refs), rewritePathPrefix, rewriteHost, timeoutMs: r.timeout ?? svcTimeout });
    } else {
      // Only the upstreams of service routes that combine with this gateway route are sent to the gateway.
      const sr = this.serviceRoutes(r.backend!);
      for (const route of sr.routes) {
        // A service route's path is the path the service receives, i.e. after this route's
        // rewrite: translate it back to the path the gateway sees before merging.
        const inner = rewritePathPrefix !== null && outer.path?.kind === 'prefix' ? underRewrite(route.match, outer.path.value, rewritePathPrefix) : route.match;
        if (!inner) continue;
        const match = mergeMatches(outer, inner);
        if (!match) continue;
        for (const b of route.backends) refs.set(b.upstream, sr.refs.get(b.upstream)!);
        routes.push({
          origin: route.origin === `services.${r.backend}` ? origin : `${origin}+${route.origin}`,
          match,
          backends: route.backends,
          rewritePathPrefix: rewriteFor(rewritePathPrefix, outer.path, match.path),
          rewriteHost,
          timeoutMs: r.timeout ?? route.timeoutMs,
        });
      }
    }
    const memo: GatewayRouteMemo = {
      gname,
      index: i,
      composed: r.backend ? this.serviceRoutes(r.backend) : null,
      timeouts: r.backend ? null : (r.backends ?? []).map((b) => this.timeout(undefined, this.service(b.service!))),
      routes,
      refs,
    };
    this.gatewayRouteMemo.set(r, memo);
    return memo;
  }

  /** A gateway's IR: the last one while nothing it is built from changed, else rebuilt from what changed. */
  private gateway(gname: string): ProxyIR {
    const gw = this.m.gateways[gname]!;
    const st = this.gateways.get(gname);
    if (st && st.mesh === this.m.mesh && !st.stale && st.gw.listeners === gw.listeners) {
      if (st.gw === gw && st.dirty.size === 0) return st.ir;
      return this.gatewayUpdate(gname, gw, st);
    }
    const next = this.gatewayBuild(gname, gw, st);
    this.gateways.set(gname, next);
    return next.ir;
  }

  /**
   * A gateway built afresh (reusing route memos, and from `last`, the state of its last build if
   * any, every listener, virtual host list and the upstream list that came out the same).
   */
  private gatewayBuild(gname: string, gw: GatewayModel, last: GatewayState | undefined): GatewayState {
    const routes = gw.routes ?? NO_ROUTES;
    const sorted = [...gw.listeners].sort((a, b) => (a.name < b.name ? -1 : 1));
    const httpNames = sorted.filter((l) => l.protocol !== 'tcp').map((l) => l.name);
    const upstreams = new Map<string, GatewayUpstream>();
    const memos: Array<GatewayRouteMemo | null> = new Array(routes.length);
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i]!;
      const m = takenByAny(r, httpNames) ? this.gatewayRoute(gname, r, i) : null;
      memos[i] = m;
      if (m) for (const ref of m.refs.values()) this.countUpstream(upstreams, ref, null);
    }
    const lastListeners = new Map((last?.listeners ?? []).map((l) => [l.model.name, l]));
    const listeners = sorted.map((l) => {
      if (l.protocol === 'tcp') this.countUpstream(upstreams, this.refOf(l.backend!, null), null);
      return this.gatewayListener(l, routes, memos, lastListeners.get(l.name), l.protocol === 'tcp' ? 0 : countSkipped(routes, 0, routes.length, l.name), null);
    });
    const list = [...upstreams.values()].map((e) => e.ir).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const upstreamList = last && sameList(last.upstreamList, list) ? last.upstreamList : list;
    const ir: ProxyIR = {
      group: gatewayGroup(gname),
      kind: 'gateway',
      name: gname,
      service: null,
      identity: this.mtls ? gatewayIdentity(this.m.mesh.trustDomain, gname) : null,
      adminPort: gw.adminPort ?? null,
      listeners: listeners.map((l) => l.ir),
      upstreams: upstreamList,
      upstreamParts: null,
    };
    return { mesh: this.m.mesh, gw, routes, memos, listeners, httpNames, upstreams, upstreamList, dirty: new Set(), stale: false, users: null, ir };
  }

  /**
   * One listener of a gateway. An http listener with the same routes as `last` (an edit
   * elsewhere, or of an endpoint) keeps its virtual hosts, so the encoder reuses the route
   * configuration instead of assembling and hashing it again; the same listener too keeps its IR.
   */
  private gatewayListener(
    l: GatewayListenerModel,
    routes: readonly GatewayRouteModel[],
    memos: ReadonlyArray<GatewayRouteMemo | null>,
    last: GatewayListenerState | undefined,
    skipped: number,
    changed: readonly number[] | null,
  ): GatewayListenerState {
    if (l.protocol === 'tcp') {
      if (last?.model === l) return last;
      const bind = { host: bareHost(l.address ?? '0.0.0.0'), port: l.port };
      return { model: l, skipped: 0, memos: null, vhosts: null, offsets: null, ir: { kind: 'tcp', name: l.name, direction: 'gateway', bind, tls: null, authz: null, upstream: upstreamKey(l.backend!, null) } };
    }
    // Taking every route (the usual): the gateway's memos themselves (no route without a memo then).
    const all = skipped === 0;
    const mine = all ? (memos as readonly RoutesMemo[]) : takenMemos(routes, memos, l.name);
    const sameHosts = last !== undefined && last.model.name === l.name && (last.model.hosts === l.hosts || deepEqual(last.model.hosts, l.hosts));
    const lastMemos = last?.memos;
    if (sameHosts && lastMemos && (lastMemos === mine || (all && changed && last.skipped === 0 ? changed.length === 0 : sameList(lastMemos, mine)))) {
      if (last.model === l) return last;
      return { ...last, model: l, skipped, ir: this.httpGatewayListener(l, last.vhosts!) };
    }
    // A few memos changed in place, in a listener that takes every route before and after: the
    // last routes list with theirs replaced (no look into the others).
    const flat =
      all && changed && last?.skipped === 0 && last.offsets && lastMemos && lastMemos.length === mine.length
        ? patchRoutes(last.vhosts![0]!.routes, last.offsets, mine, changed)
        : flattenRoutes(mine);
    const vhosts: VirtualHostIR[] = [{ name: l.name, domains: sameHosts ? last.vhosts![0]!.domains : [...new Set(l.hosts ?? ['*'])].sort(), routes: flat.routes }];
    return { model: l, skipped, memos: mine, vhosts, offsets: flat.offsets, ir: this.httpGatewayListener(l, vhosts) };
  }

  private httpGatewayListener(l: GatewayListenerModel, vhosts: VirtualHostIR[]): ListenerIR {
    const bind = { host: bareHost(l.address ?? '0.0.0.0'), port: l.port };
    return { kind: 'http', name: l.name, direction: 'gateway', bind, tls: null, authz: null, routeConfigName: l.name, virtualHosts: vhosts };
  }

  /** One more route or listener naming `ref`'s upstream (its IR resolved when it is new here; its key noted in `added`). */
  private countUpstream(upstreams: Map<string, GatewayUpstream>, ref: UpstreamRef, added: string[] | null): void {
    const e = upstreams.get(ref.key);
    if (e) e.n++;
    else {
      upstreams.set(ref.key, { ref, n: 1, ir: this.upstream(ref) });
      added?.push(ref.key);
    }
  }

  /** A gateway upstream resolved again (its service changed); its key noted in `replaced` when its IR is new. */
  private reresolve(e: GatewayUpstream, replaced: string[]): void {
    const ir = this.upstream(e.ref);
    if (ir === e.ir) return;
    e.ir = ir;
    replaced.push(e.ref.key);
  }

  /**
   * A gateway rebuilt from what changed since `st` (its listeners are the same objects, and so
   * is the mesh): the routes replaced, added or removed (the span between the routes the two
   * lists begin and end with, by identity), the routes that read a changed service (`st.users`),
   * and the upstreams of the changed services. Whatever came out the same keeps its object.
   */
  private gatewayUpdate(gname: string, gw: GatewayModel, st: GatewayState): ProxyIR {
    const routes = gw.routes ?? NO_ROUTES;
    const old = st.routes;
    let memos = st.memos;
    /** Memos no longer used, and new ones (their upstreams are counted out and in). */
    const out: RoutesMemo[] = [];
    const into: RoutesMemo[] = [];
    /** Per http listener, how many routes it does not take (listeners in st.listeners' order). */
    let skipped: number[] | null = null;
    /** The places whose memo changed, while the routes did not move (null: they did). */
    let changed: number[] | null = [];
    if (routes !== old) {
      const n = routes.length;
      const o = old.length;
      // The span from the first to the last place that differs: known when the list records
      // where it differs from the last (list-edits.ts), else by comparing from both ends.
      const known = replacedSince(old, routes);
      const p = known ? (known.length ? known[0]! : n) : commonPrefix(routes, old);
      const q = known ? (known.length ? n - 1 - known[known.length - 1]! : 0) : commonSuffix(routes, old, p);
      const shift = n - o;
      let next: Array<GatewayRouteMemo | null>;
      for (let i = p; i < o - q; i++) if (memos[i]) out.push(memos[i]!);
      if (shift === 0) {
        next = memos.slice();
        for (let i = p; i < n - q; i++) {
          const m = takenByAny(routes[i]!, st.httpNames) ? this.gatewayRoute(gname, routes[i]!, i) : null;
          next[i] = m;
          if (m) into.push(m);
          if (m !== memos[i]) changed.push(i);
        }
      } else {
        changed = null;
        next = memos.slice(0, p);
        for (let i = p; i < n - q; i++) {
          const m = takenByAny(routes[i]!, st.httpNames) ? this.gatewayRoute(gname, routes[i]!, i) : null;
          next.push(m);
          if (m) into.push(m);
        }
        // The routes after the span moved: a named one keeps its memo, an unnamed one's origin says where it is.
        for (let i = n - q; i < n; i++) {
          const was = memos[i - shift]!;
          const m = was === null ? null : this.gatewayRoute(gname, routes[i]!, i);
          next.push(m);
          if (m !== was) {
            out.push(was);
            into.push(m!);
          }
        }
      }
      if (shift !== 0) st.users = null;
      else if (st.users) for (let i = p; i < n - q; i++) if (routes[i] !== old[i]) moveUser(st.users, i, memos[i] ? old[i]! : null, next[i] ? routes[i]! : null);
      skipped = st.listeners.map((l) => (l.memos === null ? 0 : l.skipped - countSkipped(old, p, o - q, l.model.name) + countSkipped(routes, p, n - q, l.model.name)));
      memos = next;
    }
    // Routes that read a changed service.
    if (st.dirty.size) {
      st.users ??= routeUsers(routes, memos);
      for (const name of st.dirty) {
        for (const i of st.users.get(name) ?? []) {
          const was = memos[i]!;
          const m = this.gatewayRoute(gname, routes[i]!, i);
          if (m === was) continue;
          if (memos === st.memos) memos = memos.slice();
          memos[i] = m;
          changed?.push(i);
          out.push(was);
          into.push(m);
        }
      }
    }
    // Upstreams: counted in first, then out, so one that only moved between routes stays.
    const ups = st.upstreams;
    const added: string[] = [];
    const removed = new Set<string>();
    for (const m of into) for (const ref of m.refs.values()) this.countUpstream(ups, ref, added);
    for (const m of out) {
      for (const key of m.refs.keys()) {
        const e = ups.get(key)!;
        if (--e.n === 0) {
          ups.delete(key);
          removed.add(key);
        }
      }
    }
    // The upstreams of changed services (whole, and subsets: "name|..."), resolved again.
    const replaced: string[] = [];
    for (const name of st.dirty) {
      const whole = ups.get(name);
      if (whole && !added.includes(name)) this.reresolve(whole, replaced);
      const prefix = `${name}|`;
      for (let k = lowerBound(st.upstreamList, prefix, (u) => u.key); k < st.upstreamList.length && st.upstreamList[k]!.key.startsWith(prefix); k++) {
        const e = ups.get(st.upstreamList[k]!.key);
        if (e) this.reresolve(e, replaced);
      }
    }
    st.dirty.clear();
    let list = st.upstreamList;
    if (added.length || removed.size) {
      list = mergeUpstreams(list, removed, added.map((k) => ups.get(k)!.ir));
      for (const key of replaced) list[lowerBound(list, key, (u) => u.key)] = ups.get(key)!.ir;
    } else if (replaced.length) {
      // The same upstreams but a few: the encoder then looks at those places alone (list-edits.ts).
      list = list.slice();
      const at: number[] = [];
      for (const key of replaced) {
        const i = lowerBound(list, key, (u) => u.key);
        list[i] = ups.get(key)!.ir;
        at.push(i);
      }
      noteReplaced(list, st.upstreamList, [...new Set(at)].sort((a, b) => a - b));
    }
    // Listeners: each http one again when a route memo changed (the same memos: the same object).
    let listeners = st.listeners;
    if (memos !== st.memos) {
      changed?.sort((a, b) => a - b);
      const next = listeners.map((l, k) => (l.memos === null ? l : this.gatewayListener(l.model, routes, memos, l, skipped ? skipped[k]! : l.skipped, changed)));
      if (!sameList(next, listeners)) listeners = next;
    }
    const adminPort = gw.adminPort ?? null;
    let ir = st.ir;
    if (listeners !== st.listeners || list !== st.upstreamList || adminPort !== ir.adminPort) {
      ir = { ...ir, adminPort, listeners: listeners === st.listeners ? ir.listeners : listeners.map((l) => l.ir), upstreams: list };
    }
    st.gw = gw;
    st.routes = routes;
    st.memos = memos;
    st.listeners = listeners;
    st.upstreamList = list;
    st.ir = ir;
    return ir;
  }

  /** What every sidecar with an outbound listener sees: one virtual host per http service, and their upstreams. */
  private outboundView(): OutboundView {
    if (this.outboundCurrent && this.outbound) return this.outbound;
    const services = this.sortedServiceNames.map((n) => this.service(n));
    if (!this.outbound || !sameList(this.outbound.services, services)) {
      const prevHosts = new Map<string, VirtualHostIR>();
      for (const vh of this.outbound?.virtualHosts ?? []) prevHosts.set(vh.name, vh);
      const virtualHosts: VirtualHostIR[] = [];
      const upstreams = new Map<string, UpstreamIR>();
      for (const name of this.sortedServiceNames) {
        if (this.service(name).protocol === 'tcp') continue;
        const sr = this.serviceRoutes(name);
        const prev = prevHosts.get(name);
        virtualHosts.push(prev && prev.routes === sr.routes ? prev : { name, domains: [name], routes: sr.routes });
        this.resolve(sr.refs.values(), upstreams);
      }
      // Only instances changed: the same virtual hosts, so the outbound route configuration is
      // reused; only routes changed: the same upstream list, so every sidecar's clusters and
      // assignments are the same arrays (translation and snapshots compare them by identity).
      const last = this.outbound;
      const sameHosts = last !== null && sameList(last.virtualHosts, virtualHosts);
      const sorted = sortUpstreams(upstreams);
      this.outbound = {
        services,
        virtualHosts: sameHosts ? last.virtualHosts : virtualHosts,
        upstreams: last && sameList(last.upstreams, sorted) ? last.upstreams : sorted,
        listeners: sameHosts ? last.listeners : new Map(),
      };
    }
    this.outboundCurrent = true;
    return this.outbound;
  }

  private tls(): ListenerIR['tls'] {
    const mesh = this.m.mesh;
    if (this.tlsIR?.mesh !== mesh) this.tlsIR = { mesh, ir: mesh.mtls === 'off' ? null : { mode: mesh.mtls, trustDomain: mesh.trustDomain } };
    return this.tlsIR.ir;
  }

  private inboundHosts(sname: string): VirtualHostIR[] {
    let vhs = this.inboundHostsMemo.get(sname);
    if (!vhs) {
      const localKey = localUpstreamKey(sname);
      vhs = [
        {
          name: 'inbound',
          domains: ['*'],
          // Callers enforce the service's timeouts (per route, per gateway route); here the
          // timeout is disabled (0), or Envoy's 15 s default or the service's own timeout
          // would cut a caller's longer one short.
          routes: [{ origin: `services.${sname}`, match: CATCH_ALL, backends: [{ upstream: localKey, weight: 1 }], rewritePathPrefix: null, rewriteHost: null, timeoutMs: 0 }],
        },
      ];
      this.inboundHostsMemo.set(sname, vhs);
    }
    return vhs;
  }

  /** The app behind a sidecar: the same object while the instance and the service's protocol are. */
  private localUpstream(sname: string, svc: ServiceModel, inst: InstanceModel): UpstreamIR {
    const hit = this.localMemo.get(inst);
    if (hit && hit.service === sname && hit.protocol === svc.protocol) return hit;
    const local = splitHostPort(inst.app);
    const key = localUpstreamKey(sname);
    const ir: UpstreamIR = {
      key,
      service: sname,
      subset: null,
      protocol: svc.protocol,
      endpoints: [{ instanceId: inst.id, host: local.host, port: local.port, isIp: isIp(local.host) }],
      local: true,
      tls: null,
    };
    this.localMemo.set(inst, ir);
    return ir;
  }

  /** What a sidecar's IR is built from, into `deps` (emptied first). */
  private sidecarDeps(sname: string, svc: ServiceModel, inst: InstanceModel, deps: unknown[]): unknown[] {
    deps.length = 0;
    deps.push(this.m.mesh, inst, svc.protocol, this.authz(sname));
    if (inst.outboundPort !== undefined) deps.push(this.outboundView());
    if (inst.tcpOutbound) for (const target of Object.keys(inst.tcpOutbound)) deps.push(this.upstream(this.refOf(target, null)));
    return deps;
  }

  /** A service's SPIFFE ID (the same string for every instance). */
  private serviceIdentity(sname: string): string {
    const td = this.m.mesh.trustDomain;
    const hit = this.identityMemo.get(sname);
    if (hit?.trustDomain === td) return hit.identity;
    const identity = serviceIdentity(td, sname);
    this.identityMemo.set(sname, { trustDomain: td, identity });
    return identity;
  }

  /** A sidecar's inbound listener: the same object while the instance, protocol, TLS and authorization are. */
  private inboundListener(sname: string, svc: ServiceModel, inst: InstanceModel): ListenerIR {
    const tls = this.tls();
    const authz = this.authz(sname);
    const hit = this.inboundMemo.get(inst);
    if (hit && hit.sname === sname && hit.protocol === svc.protocol && hit.tls === tls && hit.authz === authz) return hit.ir;
    const bind = { host: bareHost(inst.bind ?? (isIp(inst.address) ? inst.address : '0.0.0.0')), port: inst.port };
    const ir: ListenerIR =
      svc.protocol === 'tcp'
        ? { kind: 'tcp', name: 'inbound', direction: 'inbound', bind, tls, authz, upstream: localUpstreamKey(sname) }
        : { kind: 'http', name: 'inbound', direction: 'inbound', bind, tls, authz, routeConfigName: 'inbound', virtualHosts: this.inboundHosts(sname) };
    this.inboundMemo.set(inst, { sname, protocol: svc.protocol, tls, authz, ir });
    return ir;
  }

  /** The outbound listener on `port`: one object for every sidecar of the view listening there. */
  private outboundListener(view: OutboundView, port: number): HttpListenerIR {
    let l = view.listeners.get(port);
    if (!l) {
      l = { kind: 'http', name: 'outbound', direction: 'outbound', bind: { host: '127.0.0.1', port }, tls: null, authz: null, routeConfigName: 'outbound', virtualHosts: view.virtualHosts };
      view.listeners.set(port, l);
    }
    return l;
  }

  /** `group`: the caller's string (the key of its maps: lookups by the IR's group then compare the very same string). */
  private sidecar(group: string, sname: string, svc: ServiceModel, inst: InstanceModel): ProxyIR {
    const local = this.localUpstream(sname, svc, inst);
    const listeners: ListenerIR[] = [this.inboundListener(sname, svc, inst)];
    const view = inst.outboundPort !== undefined ? this.outboundView() : null;
    if (view) listeners.push(this.outboundListener(view, inst.outboundPort!));
    const identity = this.mtls ? this.serviceIdentity(sname) : null;
    const adminPort = inst.adminPort ?? null;
    if (view && (!inst.tcpOutbound || Object.keys(inst.tcpOutbound).length === 0)) {
      // The common shape: the view's upstreams plus the app. Translation shares the view's
      // part between every sidecar of the view (upstreamParts).
      return new ViewSidecarIR(group, inst.id, sname, identity, adminPort, listeners, { shared: view.upstreams, own: local });
    }
    const tcpTargets = Object.keys(inst.tcpOutbound ?? {}).sort();
    const upstreams = new Map<string, UpstreamIR>([[local.key, local]]);
    if (view) for (const u of view.upstreams) if (!upstreams.has(u.key)) upstreams.set(u.key, u);
    for (const target of tcpTargets) {
      const ref = this.refOf(target, null);
      this.resolve([ref], upstreams);
      listeners.push({
        kind: 'tcp',
        name: `outbound-tcp|${target}`,
        direction: 'outbound',
        bind: { host: '127.0.0.1', port: inst.tcpOutbound![target]! },
        tls: null,
        authz: null,
        upstream: ref.key,
      });
    }
    return { group, kind: 'sidecar', name: inst.id, service: sname, identity, adminPort, listeners, upstreams: sortUpstreams(upstreams), upstreamParts: null };
  }
}

/**
 * A sidecar whose upstreams are the outbound view's plus its app (ProxyIR.upstreamParts). The
 * list itself is made when first read: translation reads the parts, and every sidecar of the
 * view is rebuilt when the view changes.
 */
class ViewSidecarIR implements ProxyIR {
  readonly kind = 'sidecar';
  private list: UpstreamIR[] | null = null;

  constructor(
    readonly group: string,
    readonly name: string,
    readonly service: string,
    readonly identity: string | null,
    readonly adminPort: number | null,
    readonly listeners: ListenerIR[],
    readonly upstreamParts: { shared: readonly UpstreamIR[]; own: UpstreamIR },
  ) {}

  get upstreams(): UpstreamIR[] {
    return (this.list ??= withLocal(this.upstreamParts.shared, this.upstreamParts.own));
  }
}

/**
 * `sorted` (by key) with `local` at its place: what sortUpstreams gives for the same set (an
 * entry of `sorted` with local's key is left out, as the map-based path keeps the first), without
 * a map and a sort per sidecar — every sidecar with an outbound listener is rebuilt when the
 * shared view changes.
 */
function withLocal(sorted: readonly UpstreamIR[], local: UpstreamIR): UpstreamIR[] {
  const lo = lowerBound(sorted, local.key, (u) => u.key);
  const out = sorted.slice(0, lo);
  out.push(local);
  for (let i = lo; i < sorted.length; i++) if (sorted[i]!.key !== local.key) out.push(sorted[i]!);
  return out;
}

/** How many elements `a` and `b` begin with that are the same. */
function commonPrefix(a: readonly unknown[], b: readonly unknown[]): number {
  const n = Math.min(a.length, b.length);
  let p = 0;
  while (p < n && a[p] === b[p]) p++;
  return p;
}

/** How many elements `a` and `b` end with that are the same, besides their first `p`. */
function commonSuffix(a: readonly unknown[], b: readonly unknown[], p: number): number {
  const n = Math.min(a.length, b.length) - p;
  const da = a.length - 1;
  const db = b.length - 1;
  let q = 0;
  while (q < n && a[da - q] === b[db - q]) q++;
  return q;
}

/** How many of `routes[from..to)` listener `name` does not take. */
function countSkipped(routes: readonly GatewayRouteModel[], from: number, to: number, name: string): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const ls = routes[i]!.listeners;
    if (ls && !ls.includes(name)) n++;
  }
  return n;
}

/** The memos of the routes listener `name` takes, in route order. */
function takenMemos(routes: readonly GatewayRouteModel[], memos: ReadonlyArray<RoutesMemo | null>, name: string): RoutesMemo[] {
  const mine: RoutesMemo[] = [];
  for (let i = 0; i < routes.length; i++) {
    const ls = routes[i]!.listeners;
    if (!ls || ls.includes(name)) mine.push(memos[i]!);
  }
  return mine;
}

/** The IR routes of `memos`, in order, and where each memo's begin. */
function flattenRoutes(memos: readonly RoutesMemo[]): { routes: HttpRouteIR[]; offsets: Int32Array } {
  const all: HttpRouteIR[] = [];
  const offsets = new Int32Array(memos.length + 1);
  for (let i = 0; i < memos.length; i++) {
    offsets[i] = all.length;
    const rs = memos[i]!.routes;
    for (let k = 0; k < rs.length; k++) all.push(rs[k]!);
  }
  offsets[memos.length] = all.length;
  return { routes: all, offsets };
}

/**
 * flattenRoutes(memos) from the last result (`all`, `offsets`), given the places whose memo
 * changed (ascending; the others are the same objects): the unchanged runs are copied, so the
 * cost is one copy of the list, not a look into each memo (at 10 000 routes, most of what a
 * gateway rebuild cost).
 */
function patchRoutes(all: readonly HttpRouteIR[], offsets: Int32Array, memos: readonly RoutesMemo[], changed: readonly number[]): { routes: HttpRouteIR[]; offsets: Int32Array } {
  let sameCounts = true;
  for (const i of changed) if (memos[i]!.routes.length !== offsets[i + 1]! - offsets[i]!) sameCounts = false;
  if (sameCounts) {
    const out = all.slice();
    const at: number[] = [];
    let last = -1;
    for (const i of changed) {
      if (i === last) continue;
      last = i;
      const rs = memos[i]!.routes;
      for (let k = 0; k < rs.length; k++) {
        out[offsets[i]! + k] = rs[k]!;
        at.push(offsets[i]! + k);
      }
    }
    // The route configuration's assembly then looks at these places only (list-edits.ts).
    noteReplaced(out, all, at);
    return { routes: out, offsets };
  }
  const out: HttpRouteIR[] = [];
  const next = new Int32Array(offsets.length);
  let from = 0;
  for (const i of changed) {
    // The unchanged memos before i: their routes as they were, each now `out.length - offsets[from]` later.
    const d = out.length - offsets[from]!;
    for (let j = from; j < i; j++) next[j] = offsets[j]! + d;
    for (let k = offsets[from]!; k < offsets[i]!; k++) out.push(all[k]!);
    next[i] = out.length;
    const rs = memos[i]!.routes;
    for (let k = 0; k < rs.length; k++) out.push(rs[k]!);
    from = i + 1;
  }
  const d = out.length - offsets[from]!;
  for (let j = from; j < memos.length; j++) next[j] = offsets[j]! + d;
  for (let k = offsets[from]!; k < all.length; k++) out.push(all[k]!);
  next[memos.length] = out.length;
  return { routes: out, offsets: next };
}

/** Whether an http listener of `httpNames` takes gateway route `r`. */
function takenByAny(r: GatewayRouteModel, httpNames: readonly string[]): boolean {
  if (!r.listeners) return httpNames.length > 0;
  for (const n of httpNames) if (r.listeners.includes(n)) return true;
  return false;
}

/** Each service a gateway route's memo reads (its backend's routes, or its backends' timeouts). */
function eachRouteService(r: GatewayRouteModel, f: (service: string) => void): void {
  if (r.backend) f(r.backend);
  else for (const b of r.backends ?? []) f(b.service!);
}

/** Service → the places of the routes (those with a memo) whose memo reads it. */
function routeUsers(routes: readonly GatewayRouteModel[], memos: ReadonlyArray<RoutesMemo | null>): Map<string, number[]> {
  const users = new Map<string, number[]>();
  for (let i = 0; i < routes.length; i++) {
    if (!memos[i]) continue;
    eachRouteService(routes[i]!, (s) => {
      const at = users.get(s);
      if (!at) users.set(s, [i]);
      else if (at[at.length - 1] !== i) at.push(i);
    });
  }
  return users;
}

/** Route `i` was `before` and is `after` (null: no memo): move it between the services' lists. */
function moveUser(users: Map<string, number[]>, i: number, before: GatewayRouteModel | null, after: GatewayRouteModel | null): void {
  if (before) {
    eachRouteService(before, (s) => {
      const at = users.get(s);
      const k = at ? at.indexOf(i) : -1;
      if (k < 0) return;
      at!.splice(k, 1);
      if (at!.length === 0) users.delete(s);
    });
  }
  if (after) {
    eachRouteService(after, (s) => {
      const at = users.get(s);
      if (!at) users.set(s, [i]);
      else if (!at.includes(i)) at.push(i);
    });
  }
}

/** `list` (sorted by key) without the keys in `removed` and with `added` (any order) at their places: what sorting the whole set gives. */
function mergeUpstreams(list: readonly UpstreamIR[], removed: ReadonlySet<string>, added: UpstreamIR[]): UpstreamIR[] {
  added.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out: UpstreamIR[] = [];
  let j = 0;
  for (const u of list) {
    if (removed.size && removed.has(u.key)) continue;
    while (j < added.length && added[j]!.key < u.key) out.push(added[j++]!);
    out.push(u);
  }
  while (j < added.length) out.push(added[j++]!);
  return out;
}

/** `sorted` without `removed`, with `added` at their places. */
function withNames(sorted: readonly string[], added: string[], removed: readonly string[]): string[] {
  const gone = new Set(removed);
  added.sort(byName);
  const out: string[] = [];
  let j = 0;
  for (const n of sorted) {
    if (gone.has(n)) continue;
    while (j < added.length && added[j]! < n) out.push(added[j++]!);
    out.push(n);
  }
  while (j < added.length) out.push(added[j++]!);
  return out;
}

/** Whether two models (canonicalised: unchanged services are the same objects) have different proxy groups, given what changed. */
function groupSetChanged(a: Model, b: Model, changes: ModelChanges): boolean {
  if (changes.gateways.removed.length || changes.services.removed.length) return true;
  for (const n of changes.gateways.changed) if (a.gateways[n] === undefined) return true;
  for (const n of changes.services.changed) {
    const x = a.services[n];
    const y = b.services[n]!;
    if (!x) return true;
    if (x === y || x.instances === y.instances) continue;
    if (x.instances.length !== y.instances.length) return true;
    for (let i = 0; i < y.instances.length; i++) if (x.instances[i]!.id !== y.instances[i]!.id) return true;
  }
  return false;
}

/** Whether a service's routes (as every caller sees them) are current: they depend on its routes, timeout and protocol. */
function serviceRoutesCurrent(m: ServiceRoutesMemo, svc: ServiceModel): boolean {
  return m.of.routes === svc.routes && m.of.timeout === svc.timeout && m.of.protocol === svc.protocol;
}

function isCatchAll(m: MatchIR): boolean {
  return !m.headers.length && !m.query.length && !m.methods && (!m.path || (m.path.kind === 'prefix' && m.path.value === '/'));
}

function sortUpstreams(m: Map<string, UpstreamIR>): UpstreamIR[] {
  return [...m.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Build the IR of a validated model (every proxy, from scratch). */
export function buildMeshIR(model: Model): MeshIR {
  const b = new IrBuilder();
  b.update(model);
  return {
    trustDomain: model.mesh.trustDomain,
    mtls: model.mesh.mtls,
    certificateTtlMs: model.mesh.certificateTtl,
    proxies: b.groups().map((g) => b.proxy(g)!),
  };
}
