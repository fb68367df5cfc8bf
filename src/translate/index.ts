// IR → Envoy resources, per proxy. Pure and deterministic. Each distinct piece of IR is
// translated and encoded once: the IR builder returns the very same object for anything
// unchanged (and shares one object among every proxy that uses it), so the encoder memoises on
// object identity — no per-proxy serialisation to compute a key. Listeners, which differ per
// proxy only in a few fields, are keyed by exactly the fields translateListener reads.
import type { AuthzIR, HttpListenerIR, ListenerIR, ProxyIR, UpstreamIR, VirtualHostIR } from '../ir/types.js';
import { type Resource, resourceFromJson } from '../xds/resource.js';
import { TYPE } from '../xds/type-urls.js';
import { translateCluster, usesEds } from './cluster.js';
import { loadAssignment } from './endpoint.js';
import { translateListener } from './listener.js';
import { translateRouteConfig } from './route.js';

export class ResourceEncoder {
  private readonly clusters = new WeakMap<UpstreamIR, Resource>();
  private readonly assignments = new WeakMap<UpstreamIR, Resource>();
  private readonly proxies = new WeakMap<ProxyIR, Resource[]>();
  private readonly routeConfigs = new WeakMap<readonly VirtualHostIR[], Map<string, Resource>>();
  private readonly authzIds = new WeakMap<AuthzIR, number>();
  private nextAuthzId = 1;
  /** Listeners by the fields they are built from; what the previous build used stays reusable. */
  private listeners = new Map<string, Resource>();
  private previousListeners = new Map<string, Resource>();

  /** Start a build: listeners the previous build used stay reusable; older entries are dropped. */
  beginBuild(): void {
    this.previousListeners = this.listeners;
    this.listeners = new Map();
  }

  private authzId(a: AuthzIR | null): number {
    if (!a) return 0;
    let id = this.authzIds.get(a);
    if (id === undefined) this.authzIds.set(a, (id = this.nextAuthzId++));
    return id;
  }

  cluster(u: UpstreamIR): Resource {
    let r = this.clusters.get(u);
    if (!r) this.clusters.set(u, (r = resourceFromJson(TYPE.CLUSTER, translateCluster(u))));
    return r;
  }

  assignment(u: UpstreamIR): Resource {
    let r = this.assignments.get(u);
    if (!r) this.assignments.set(u, (r = resourceFromJson(TYPE.ENDPOINT, loadAssignment(u))));
    return r;
  }

  listener(l: ListenerIR): Resource {
    const tls = l.tls ? `${l.tls.mode}\0${l.tls.trustDomain}` : '-';
    const target = l.kind === 'http' ? l.routeConfigName : l.upstream;
    const key = `${l.kind}\0${l.name}\0${l.direction}\0${l.bind.host}\0${l.bind.port}\0${tls}\0${this.authzId(l.authz)}\0${target}`;
    let r = this.listeners.get(key);
    if (r) return r;
    r = this.previousListeners.get(key) ?? resourceFromJson(TYPE.LISTENER, translateListener(l));
    this.listeners.set(key, r);
    return r;
  }

  routeConfig(l: HttpListenerIR): Resource {
    let byKey = this.routeConfigs.get(l.virtualHosts);
    if (!byKey) this.routeConfigs.set(l.virtualHosts, (byKey = new Map()));
    const key = `${l.routeConfigName}\0${l.authz && l.tls ? this.authzId(l.authz) : 0}`;
    let r = byKey.get(key);
    if (!r) byKey.set(key, (r = resourceFromJson(TYPE.ROUTE, translateRouteConfig(l))));
    return r;
  }

  /** A proxy's resources (without secrets): the same array while the proxy's IR is the same object. */
  translateProxy(p: ProxyIR): Resource[] {
    const hit = this.proxies.get(p);
    if (hit) return hit;
    const out: Resource[] = [];
    for (const u of p.upstreams) {
      out.push(this.cluster(u));
      if (usesEds(u)) out.push(this.assignment(u));
    }
    for (const l of p.listeners) {
      out.push(this.listener(l));
      if (l.kind === 'http') out.push(this.routeConfig(l));
    }
    this.proxies.set(p, out);
    return out;
  }
}

/** Every proxy of a mesh IR (render, tests, benchmarks). */
export function translateMesh(ir: { proxies: readonly ProxyIR[] }, enc: ResourceEncoder): Map<string, Resource[]> {
  enc.beginBuild();
  const out = new Map<string, Resource[]>();
  for (const p of ir.proxies) out.set(p.group, enc.translateProxy(p));
  return out;
}

export function translateProxy(p: ProxyIR, enc: ResourceEncoder): Resource[] {
  return enc.translateProxy(p);
}
