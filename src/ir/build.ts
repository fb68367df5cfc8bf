// Model → IR. Pure and deterministic: every list is sorted by a stable key and every name is
// derived from what it denotes. Gateway routes are composed with the routes of the service
// they send to, so a service's canary and split rules hold for every caller.
import { gatewayIdentity, serviceIdentity } from '../ca/spiffe.js';
import type { BackendModel, GatewayRouteModel, InstanceModel, MatchModel, Model, ServiceModel, ValueMatchModel } from '../model/schema.js';
import { canonicalize } from './model-diff.js';
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

/** Routes and the upstreams they need, cached while the model objects in `deps` are current. */
interface RoutesMemo {
  deps: readonly unknown[];
  routes: HttpRouteIR[];
  refs: Map<string, UpstreamRef>;
}

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
  private readonly upstreamMemo = new Map<string, { instances: ServiceModel['instances']; protocol: string; mesh: Model['mesh']; ir: UpstreamIR }>();
  private readonly serviceRoutesMemo = new Map<string, RoutesMemo>();
  private readonly authzMemo = new Map<string, { allow: ServiceModel['allow']; mesh: Model['mesh']; ir: AuthzIR | null }>();
  /** Each gateway listener's virtual hosts, kept while its routes are the same memo objects. */
  private readonly gatewayHostsMemo = new Map<string, { routes: readonly RoutesMemo[]; hosts: readonly string[]; vhosts: VirtualHostIR[] }>();
  private readonly gatewayRouteMemo = new WeakMap<object, RoutesMemo & { gname: string; index: number }>();
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

  /** Take a new validated model. Returns the canonical model (unchanged parts are the previous objects). */
  update(next: Model): Model {
    const prev = this.model;
    const model = canonicalize(prev, next);
    this.model = model;
    this.mtls = model.mesh.mtls !== 'off';
    if (!prev || prev.mesh !== model.mesh) {
      this.upstreamMemo.clear();
      this.authzMemo.clear();
      this.proxyMemo.clear();
      this.outbound = null;
    }
    const names = Object.keys(model.services);
    const prevNames = prev ? Object.keys(prev.services) : [];
    if (!sameList(names, prevNames)) this.sortedServiceNames = [...names].sort(byName);
    this.outboundCurrent = false;
    this.groupsChanged = !prev || groupSetChanged(prev, model);
    if (prev && (prev.services !== model.services || prev.gateways !== model.gateways)) this.sweep(model);
    return model;
  }

  /** Drop memo entries of services and proxies that no longer exist. */
  private sweep(model: Model): void {
    for (const [k, e] of this.upstreamMemo) if (model.services[e.ir.service]?.instances !== e.instances) this.upstreamMemo.delete(k);
    for (const [k, e] of this.serviceRoutesMemo) if (!model.services[k] || !sameList(e.deps, serviceRoutesDeps(model.services[k]))) this.serviceRoutesMemo.delete(k);
    for (const [k, e] of this.authzMemo) if (model.services[k]?.allow !== e.allow) this.authzMemo.delete(k);
    for (const k of this.gatewayHostsMemo.keys()) if (!model.gateways[k.slice(0, k.indexOf('/'))]) this.gatewayHostsMemo.delete(k);
    for (const k of this.inboundHostsMemo.keys()) if (!model.services[k]) this.inboundHostsMemo.delete(k);
    for (const k of this.identityMemo.keys()) if (!model.services[k]) this.identityMemo.delete(k);
    for (const g of this.proxyMemo.keys()) if (!this.exists(g)) this.proxyMemo.delete(g);
    for (const g of this.sidecarRefs.keys()) if (!this.exists(g)) this.sidecarRefs.delete(g);
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
    return ref;
  }

  /** One proxy's IR; the same object as last time when nothing it depends on changed. */
  proxy(group: string): ProxyIR | undefined {
    const ref = this.parseGroup(group);
    if (!ref) return undefined;
    // A sidecar's dependencies go to a scratch array, copied only when they changed: every
    // reload asks for every live sidecar, and most are unchanged.
    const deps = ref.kind === 'gateway' ? this.gatewayDeps(ref.name) : this.sidecarDeps(ref.service, ref.svc, ref.inst, this.depsScratch);
    const hit = this.proxyMemo.get(group);
    if (hit && sameList(hit.deps, deps)) return hit.ir;
    const ir = ref.kind === 'gateway' ? this.gateway(ref.name) : this.sidecar(group, ref.service, ref.svc, ref.inst);
    this.proxyMemo.set(group, { deps: deps === this.depsScratch ? [...deps] : deps, ir });
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
    const hit = this.upstreamMemo.get(ref.key);
    // An upstream depends on the service's instances and protocol only (not on its routes).
    if (hit && hit.instances === svc.instances && hit.protocol === svc.protocol && hit.mesh === mesh) return hit.ir;
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
    this.upstreamMemo.set(ref.key, { instances: svc.instances, protocol: svc.protocol, mesh, ir });
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
  private serviceRoutes(name: string): RoutesMemo {
    const svc = this.service(name);
    const deps = serviceRoutesDeps(svc);
    const hit = this.serviceRoutesMemo.get(name);
    if (hit && sameList(hit.deps, deps)) return hit;
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
    const memo = { deps, routes, refs };
    this.serviceRoutesMemo.set(name, memo);
    return memo;
  }

  /**
   * What a gateway route's IR depends on: the routes of the service it composes with, or the
   * timeouts of the services it sends to (their upstreams are resolved per build, not here).
   */
  private routeDeps(r: GatewayRouteModel): unknown[] {
    if (r.backend) return [this.serviceRoutes(r.backend)];
    return (r.backends ?? []).map((b) => this.timeout(undefined, this.service(b.service!)));
  }

  /** One gateway route, composed with its service's routes: the IR routes and upstreams it needs. */
  private gatewayRoute(gname: string, r: GatewayRouteModel, i: number): RoutesMemo {
    const deps = this.routeDeps(r);
    const hit = this.gatewayRouteMemo.get(r);
    if (hit && hit.gname === gname && hit.index === i && sameList(hit.deps, deps)) return hit;
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
    const memo = { gname, index: i, deps, routes, refs };
    this.gatewayRouteMemo.set(r, memo);
    return memo;
  }

  private gatewayDeps(gname: string): unknown[] {
    const gw = this.m.gateways[gname]!;
    const deps: unknown[] = [this.m.mesh, gw];
    for (const l of gw.listeners) if (l.protocol === 'tcp') deps.push(this.service(l.backend!));
    for (const r of gw.routes ?? []) {
      if (r.backend) {
        // The service's routes, and every service whose upstream they name.
        deps.push(this.service(r.backend));
        for (const ref of this.serviceRoutes(r.backend).refs.values()) deps.push(this.service(ref.service));
      } else for (const b of r.backends ?? []) deps.push(this.service(b.service!));
    }
    return deps;
  }

  private gateway(gname: string): ProxyIR {
    const gw = this.m.gateways[gname]!;
    const upstreams = new Map<string, UpstreamIR>();
    const listeners: ListenerIR[] = [];
    for (const l of [...gw.listeners].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const bind = { host: bareHost(l.address ?? '0.0.0.0'), port: l.port };
      if (l.protocol === 'tcp') {
        const ref = this.refOf(l.backend!, null);
        this.resolve([ref], upstreams);
        listeners.push({ kind: 'tcp', name: l.name, direction: 'gateway', bind, tls: null, authz: null, upstream: ref.key });
        continue;
      }
      const memos: RoutesMemo[] = [];
      (gw.routes ?? []).forEach((r, i) => {
        if (r.listeners && !r.listeners.includes(l.name)) return;
        const gr = this.gatewayRoute(gname, r, i);
        memos.push(gr);
        this.resolve(gr.refs.values(), upstreams);
      });
      // The same routes (an edit elsewhere, or of an endpoint): the same virtual hosts, so the
      // encoder reuses the route configuration instead of assembling and hashing it again.
      const key = `${gname}/${l.name}`;
      const hosts = l.hosts ?? ['*'];
      let hit = this.gatewayHostsMemo.get(key);
      if (!hit || !sameList(hit.routes, memos) || !sameList(hit.hosts, hosts)) {
        const routes: HttpRouteIR[] = [];
        for (const m of memos) for (const x of m.routes) routes.push(x);
        hit = { routes: memos, hosts, vhosts: [{ name: l.name, domains: [...new Set(hosts)].sort(), routes }] };
        this.gatewayHostsMemo.set(key, hit);
      }
      listeners.push({ kind: 'http', name: l.name, direction: 'gateway', bind, tls: null, authz: null, routeConfigName: l.name, virtualHosts: hit.vhosts });
    }
    return {
      group: gatewayGroup(gname),
      kind: 'gateway',
      name: gname,
      service: null,
      identity: this.mtls ? gatewayIdentity(this.m.mesh.trustDomain, gname) : null,
      adminPort: gw.adminPort ?? null,
      listeners,
      upstreams: sortUpstreams(upstreams),
      upstreamParts: null,
    };
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

/** Whether two models (canonicalised: unchanged services are the same objects) have different proxy groups. */
function groupSetChanged(a: Model, b: Model): boolean {
  if (!sameList(Object.keys(a.gateways).sort(), Object.keys(b.gateways).sort())) return true;
  const an = Object.keys(a.services);
  const bn = Object.keys(b.services);
  if (an.length !== bn.length) return true;
  for (const n of bn) {
    const x = a.services[n];
    const y = b.services[n]!;
    if (!x) return true;
    if (x === y || x.instances === y.instances) continue;
    if (x.instances.length !== y.instances.length) return true;
    for (let i = 0; i < y.instances.length; i++) if (x.instances[i]!.id !== y.instances[i]!.id) return true;
  }
  return false;
}

/** What a service's routes (as every caller sees them) depend on: its routes, timeout and protocol. */
function serviceRoutesDeps(svc: ServiceModel): unknown[] {
  return [svc.routes, svc.timeout, svc.protocol];
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
