// IR → Envoy resources, per proxy. Pure and deterministic. Each distinct piece of IR is
// translated and encoded once: the IR builder returns the very same object for anything
// unchanged (and shares one object among every proxy that uses it), so the encoder memoises on
// object identity — no per-proxy serialisation to compute a key. Listeners, which differ per
// proxy only in a few fields, are keyed by exactly the fields translateListener reads.
import type { AuthzIR, HttpListenerIR, ListenerIR, ProxyIR, UpstreamIR, VirtualHostIR } from '../ir/types.js';
import { type Resource, resourceFromBytes, resourceFromJson } from '../xds/resource.js';
import { type SplicedTemplate, splicedResource, spliceTemplate } from '../xds/splice.js';
import { TYPE } from '../xds/type-urls.js';
import { translateCluster, usesEds } from './cluster.js';
import { addressBytes, loadAssignmentBytes } from './endpoint.js';
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
  /** Listeners and clusters minus the field that varies per proxy (address, load assignment). */
  private templates = new Map<string, SplicedTemplate>();
  private previousTemplates = new Map<string, SplicedTemplate>();

  /** Start a build: listeners the previous build used stay reusable; older entries are dropped. */
  beginBuild(): void {
    this.previousListeners = this.listeners;
    this.listeners = new Map();
    this.previousTemplates = this.templates;
    this.templates = new Map();
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

  cluster(u: UpstreamIR): Resource {
    let r = this.clusters.get(u);
    if (r) return r;
    if (usesEds(u)) r = resourceFromJson(TYPE.CLUSTER, translateCluster(u));
    else {
      // STATIC (a sidecar's app) or STRICT_DNS: the endpoints are inline, everything else is
      // shared by every cluster with the same name, protocol and TLS.
      const dns = !u.endpoints.every((e) => e.isIp);
      const key = `${u.key}\0${u.service}\0${u.protocol}\0${u.tls?.serverIdentity ?? '-'}\0${dns}`;
      const t = this.template(key, () => {
        const json = translateCluster(u);
        delete json['load_assignment'];
        return spliceTemplate(TYPE.CLUSTER, u.key, json, 'load_assignment');
      });
      r = splicedResource(t, loadAssignmentBytes(u));
    }
    this.clusters.set(u, r);
    return r;
  }

  assignment(u: UpstreamIR): Resource {
    let r = this.assignments.get(u);
    if (!r) this.assignments.set(u, (r = resourceFromBytes(TYPE.ENDPOINT, u.key, loadAssignmentBytes(u))));
    return r;
  }

  listener(l: ListenerIR): Resource {
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
