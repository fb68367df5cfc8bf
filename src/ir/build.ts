// Model → IR. Pure and deterministic: every list is sorted by a stable key and every name is
// derived from what it denotes. Gateway routes are composed with the routes of the service
// they send to, so a service's canary and split rules hold for every caller.
import { gatewayIdentity, serviceIdentity } from '../ca/spiffe.js';
import type { BackendModel, InstanceModel, MatchModel, Model, ServiceModel, ValueMatchModel } from '../model/schema.js';
import { labelsMatch } from '../model/validate.js';
import {
  type EndpointIR,
  gatewayGroup,
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

interface Resolved {
  routes: HttpRouteIR[];
  upstreams: Map<string, UpstreamIR>;
}

class Builder {
  private readonly mtls: boolean;

  constructor(private readonly model: Model) {
    this.mtls = model.mesh.mtls !== 'off';
  }

  /** Who may call `service`, on the verified identity of the caller. */
  authz(service: string): AuthzIR | null {
    const svc = this.service(service);
    if (!this.mtls) return null;
    const td = this.model.mesh.trustDomain;
    if (!svc.allow) return this.model.mesh.defaultPolicy === 'deny' ? { rules: [] } : null;
    return {
      rules: svc.allow.map((r, i) => ({
        name: `allow-${String(i).padStart(3, '0')}`,
        principals: [...new Set([...(r.services ?? []).map((n) => serviceIdentity(td, n)), ...(r.gateways ?? []).map((n) => gatewayIdentity(td, n))])].sort(),
        pathPrefix: r.pathPrefix ?? null,
        methods: r.methods ? [...new Set(r.methods)].sort() : null,
      })),
    };
  }

  service(name: string): ServiceModel {
    const s = this.model.services[name];
    if (!s) throw new Error(`bug: unknown service ${name} after validation`);
    return s;
  }

  upstream(service: string, subset: Record<string, string> | undefined | null, into: Map<string, UpstreamIR>): string {
    const key = upstreamKey(service, subset);
    if (!into.has(key)) {
      const svc = this.service(service);
      const insts = svc.instances.filter((i) => !subset || labelsMatch(subset, i.labels));
      into.set(key, {
        key,
        service,
        subset: subset ? sortedEntries(subset) : null,
        protocol: svc.protocol,
        endpoints: insts.map(endpointOf).sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1)),
        local: false,
        tls: this.mtls ? { serverIdentity: serviceIdentity(this.model.mesh.trustDomain, service) } : null,
      });
    }
    return key;
  }

  backends(list: BackendModel[], owner: string | undefined, into: Map<string, UpstreamIR>): WeightedBackendIR[] {
    const weighted = list.every((b) => b.weight !== undefined);
    const out = new Map<string, number>();
    for (const b of list) {
      const w = weighted ? b.weight! : 1;
      if (w === 0) continue; // no traffic: no cluster either
      const key = this.upstream(b.service ?? owner!, b.subset ?? null, into);
      out.set(key, (out.get(key) ?? 0) + w);
    }
    // Sorted by cluster, so reordering backends in the model changes nothing.
    return [...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([upstream, weight]) => ({ upstream, weight }));
  }

  /** A route's timeout: its own, else the service's, else none for gRPC (streams), else Envoy's default. */
  timeout(own: number | undefined, svc: ServiceModel): number | null {
    return own ?? svc.timeout ?? (svc.protocol === 'grpc' ? 0 : null);
  }

  /** The routes every caller of `name` uses, ending in a catch-all to the whole service. */
  serviceRoutes(name: string, into: Map<string, UpstreamIR>): HttpRouteIR[] {
    const svc = this.service(name);
    const routes: HttpRouteIR[] = (svc.routes ?? []).map((r, i) => ({
      origin: r.name ? `${name}/${r.name}` : `services.${name}.routes[${i}]`,
      match: matchIR(r.match),
      backends: this.backends(r.backends, name, into),
      rewritePathPrefix: null,
      rewriteHost: null,
      timeoutMs: this.timeout(r.timeout, svc),
    }));
    const last = routes[routes.length - 1];
    if (!last || !isCatchAll(last.match)) {
      routes.push({
        origin: `services.${name}`,
        match: CATCH_ALL,
        backends: [{ upstream: this.upstream(name, null, into), weight: 1 }],
        rewritePathPrefix: null,
        rewriteHost: null,
        timeoutMs: this.timeout(undefined, svc),
      });
    }
    return routes;
  }

  gatewayRoutes(gname: string, listener: string): Resolved {
    const gw = this.model.gateways[gname]!;
    const upstreams = new Map<string, UpstreamIR>();
    const routes: HttpRouteIR[] = [];
    (gw.routes ?? []).forEach((r, i) => {
      if (r.listeners && !r.listeners.includes(listener)) return;
      const origin = r.name ? `${gname}/${r.name}` : `gateways.${gname}.routes[${i}]`;
      const outer = matchIR(r.match);
      const rewritePathPrefix = r.rewrite?.pathPrefix ?? null;
      const rewriteHost = r.rewrite?.host ?? null;
      if (r.backends) {
        // Without its own timeout, the route keeps its services' timeout when they agree on one.
        const svcTimeouts = new Set(r.backends.map((b) => this.timeout(undefined, this.service(b.service!))));
        const svcTimeout = svcTimeouts.size === 1 ? [...svcTimeouts][0]! : null;
        routes.push({ origin, match: outer, backends: this.backends(r.backends, undefined, upstreams), rewritePathPrefix, rewriteHost, timeoutMs: r.timeout ?? svcTimeout });
        return;
      }
      // The service's routes are resolved apart, so that the upstreams of service routes that
      // cannot combine with this gateway route are not sent to the gateway.
      const candidates = new Map<string, UpstreamIR>();
      for (const sr of this.serviceRoutes(r.backend!, candidates)) {
        // A service route's path is the path the service receives, i.e. after this route's
        // rewrite: translate it back to the path the gateway sees before merging.
        const inner = rewritePathPrefix !== null && outer.path?.kind === 'prefix' ? underRewrite(sr.match, outer.path.value, rewritePathPrefix) : sr.match;
        if (!inner) continue;
        const match = mergeMatches(outer, inner);
        if (!match) continue;
        for (const b of sr.backends) upstreams.set(b.upstream, candidates.get(b.upstream)!);
        routes.push({
          origin: sr.origin === `services.${r.backend}` ? origin : `${origin}+${sr.origin}`,
          match,
          backends: sr.backends,
          rewritePathPrefix: rewriteFor(rewritePathPrefix, outer.path, match.path),
          rewriteHost,
          timeoutMs: r.timeout ?? sr.timeoutMs,
        });
      }
    });
    return { routes, upstreams };
  }

  build(): MeshIR {
    const proxies: ProxyIR[] = [];
    for (const gname of Object.keys(this.model.gateways).sort()) {
      const gw = this.model.gateways[gname]!;
      const upstreams = new Map<string, UpstreamIR>();
      const listeners: ListenerIR[] = [];
      for (const l of [...gw.listeners].sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const bind = { host: bareHost(l.address ?? '0.0.0.0'), port: l.port };
        if (l.protocol === 'tcp') {
          listeners.push({ kind: 'tcp', name: l.name, direction: 'gateway', bind, tls: null, authz: null, upstream: this.upstream(l.backend!, null, upstreams) });
          continue;
        }
        const r = this.gatewayRoutes(gname, l.name);
        for (const [k, u] of r.upstreams) upstreams.set(k, u);
        const vh: VirtualHostIR = { name: l.name, domains: [...new Set(l.hosts ?? ['*'])].sort(), routes: r.routes };
        listeners.push({ kind: 'http', name: l.name, direction: 'gateway', bind, tls: null, authz: null, routeConfigName: l.name, virtualHosts: [vh] });
      }
      proxies.push({
        group: gatewayGroup(gname),
        kind: 'gateway',
        name: gname,
        service: null,
        identity: this.mtls ? gatewayIdentity(this.model.mesh.trustDomain, gname) : null,
        adminPort: gw.adminPort ?? null,
        listeners,
        upstreams: sortUpstreams(upstreams),
      });
    }
    for (const sname of Object.keys(this.model.services).sort()) {
      const svc = this.model.services[sname]!;
      for (const inst of [...svc.instances].sort((a, b) => (a.id < b.id ? -1 : 1))) proxies.push(this.sidecar(sname, svc, inst));
    }
    proxies.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
    return { trustDomain: this.model.mesh.trustDomain, mtls: this.model.mesh.mtls, certificateTtlMs: this.model.mesh.certificateTtl, proxies };
  }

  private outboundVirtualHosts(upstreams: Map<string, UpstreamIR>): VirtualHostIR[] {
    const vhosts: VirtualHostIR[] = [];
    for (const name of Object.keys(this.model.services).sort()) {
      if (this.service(name).protocol === 'tcp') continue;
      vhosts.push({ name, domains: [name], routes: this.serviceRoutes(name, upstreams) });
    }
    return vhosts;
  }

  private sidecar(sname: string, svc: ServiceModel, inst: InstanceModel): ProxyIR {
    const upstreams = new Map<string, UpstreamIR>();
    const local = splitHostPort(inst.app);
    const localKey = localUpstreamKey(sname);
    upstreams.set(localKey, {
      key: localKey,
      service: sname,
      subset: null,
      protocol: svc.protocol,
      endpoints: [{ instanceId: inst.id, host: local.host, port: local.port, isIp: isIp(local.host) }],
      local: true,
      tls: null,
    });
    const listeners: ListenerIR[] = [];
    const mode = this.model.mesh.mtls;
    const tls = mode === 'off' ? null : { mode, trustDomain: this.model.mesh.trustDomain };
    const authz = this.authz(sname);
    const inboundBind = { host: bareHost(inst.bind ?? (isIp(inst.address) ? inst.address : '0.0.0.0')), port: inst.port };
    if (svc.protocol === 'tcp') {
      listeners.push({ kind: 'tcp', name: 'inbound', direction: 'inbound', bind: inboundBind, tls, authz, upstream: localKey });
    } else {
      listeners.push({
        kind: 'http',
        name: 'inbound',
        direction: 'inbound',
        bind: inboundBind,
        tls,
        authz,
        routeConfigName: 'inbound',
        virtualHosts: [
          {
            name: 'inbound',
            domains: ['*'],
            // Callers enforce the service's timeouts (per route, per gateway route); here the
            // timeout is disabled (0), or Envoy's 15 s default or the service's own timeout
            // would cut a caller's longer one short.
            routes: [{ origin: `services.${sname}`, match: CATCH_ALL, backends: [{ upstream: localKey, weight: 1 }], rewritePathPrefix: null, rewriteHost: null, timeoutMs: 0 }],
          },
        ],
      });
    }
    if (inst.outboundPort !== undefined) {
      listeners.push({
        kind: 'http',
        name: 'outbound',
        direction: 'outbound',
        bind: { host: '127.0.0.1', port: inst.outboundPort },
        tls: null,
        authz: null,
        routeConfigName: 'outbound',
        virtualHosts: this.outboundVirtualHosts(upstreams),
      });
    }
    for (const target of Object.keys(inst.tcpOutbound ?? {}).sort()) {
      listeners.push({
        kind: 'tcp',
        name: `outbound-tcp|${target}`,
        direction: 'outbound',
        bind: { host: '127.0.0.1', port: inst.tcpOutbound![target]! },
        tls: null,
        authz: null,
        upstream: this.upstream(target, null, upstreams),
      });
    }
    return {
      group: sidecarGroup(sname, inst.id),
      kind: 'sidecar',
      name: inst.id,
      service: sname,
      identity: tls ? serviceIdentity(this.model.mesh.trustDomain, sname) : null,
      adminPort: inst.adminPort ?? null,
      listeners,
      upstreams: sortUpstreams(upstreams),
    };
  }
}

function isCatchAll(m: MatchIR): boolean {
  return !m.headers.length && !m.query.length && !m.methods && (!m.path || (m.path.kind === 'prefix' && m.path.value === '/'));
}

function sortUpstreams(m: Map<string, UpstreamIR>): UpstreamIR[] {
  return [...m.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Build the IR of a validated model. */
export function buildMeshIR(model: Model): MeshIR {
  return new Builder(model).build();
}
