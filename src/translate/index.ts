// IR → Envoy resources, per proxy. Pure and deterministic. Each distinct piece of IR is
// translated and encoded once: the IR builder returns the very same object for anything
// unchanged (and shares one object among every proxy that uses it), so the encoder memoises on
// object identity — no per-proxy serialisation to compute a key. Listeners, which differ per
// proxy only in a few fields, are keyed by exactly the fields translateListener reads.
import type { AuthzIR, HttpListenerIR, HttpRouteIR, ListenerIR, ProxyIR, UpstreamIR, VirtualHostIR } from '../ir/types.js';
import { type Resource, resourceFromBytes, resourceFromJson } from '../xds/resource.js';
import { type SplicedTemplate, splicedResource, spliceTemplate } from '../xds/splice.js';
import { TYPE } from '../xds/type-urls.js';
import { translateCluster, usesEds } from './cluster.js';
import { addressBytes, loadAssignmentBytes } from './endpoint.js';
import { translateListener } from './listener.js';
import { translateRoute, virtualHostExtras } from './route.js';
import { emptyRefs, encodeFromJson } from '../xds/json.js';
import { messageType } from '../xds/protos.js';
import { lengthDelimited, stringField } from '../xds/wire.js';

export class ResourceEncoder {
  private readonly clusters = new WeakMap<UpstreamIR, Resource>();
  private readonly assignments = new WeakMap<UpstreamIR, Resource>();
  private readonly proxies = new WeakMap<ProxyIR, Resource[]>();
  private readonly routeConfigs = new WeakMap<readonly VirtualHostIR[], Map<string, Resource>>();
  /** Each route's encoded RouteConfiguration.virtual_hosts.routes entry, and the clusters it names. */
  private readonly routes = new WeakMap<HttpRouteIR, { field: Buffer; clusters: string[] }>();
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
    if (!r) byKey.set(key, (r = this.assembleRouteConfig(l)));
    return r;
  }

  private route(r: HttpRouteIR): { field: Buffer; clusters: string[] } {
    let e = this.routes.get(r);
    if (!e) {
      const refs = emptyRefs();
      // VirtualHost.routes = 3
      e = { field: lengthDelimited(3, encodeFromJson(messageType('envoy.config.route.v3.Route'), translateRoute(r), refs)), clusters: [...refs.clusters] };
      this.routes.set(r, e);
    }
    return e;
  }

  /**
   * translateRouteConfig(l), encoded from each route's cached bytes: a gateway with thousands
   * of routes re-encodes only the routes that changed. Fields in number order, as protobufjs
   * writes them (RouteConfiguration: name = 1, virtual_hosts = 2; VirtualHost: name = 1,
   * domains = 2, routes = 3, then the extras, typed_per_filter_config = 15), so the bytes equal
   * the whole message's encoding.
   */
  private assembleRouteConfig(l: HttpListenerIR): Resource {
    const vhType = messageType('envoy.config.route.v3.VirtualHost');
    const refs = emptyRefs();
    const extras = virtualHostExtras(l);
    const tail = Object.keys(extras).length ? Buffer.from(encodeFromJson(vhType, extras, refs)) : Buffer.alloc(0);
    const parts: Buffer[] = [stringField(1, l.routeConfigName)];
    const clusters = new Set<string>(refs.clusters);
    for (const vh of l.virtualHosts) {
      const vhParts: Buffer[] = [Buffer.from(encodeFromJson(vhType, { name: vh.name, domains: vh.domains }, refs))];
      for (const r of vh.routes) {
        const e = this.route(r);
        vhParts.push(e.field);
        for (const c of e.clusters) clusters.add(c);
      }
      vhParts.push(tail);
      parts.push(lengthDelimited(2, Buffer.concat(vhParts)));
    }
    for (const c of refs.clusters) clusters.add(c);
    return resourceFromBytes(TYPE.ROUTE, l.routeConfigName, Buffer.concat(parts), {
      clusters: [...clusters].sort(),
      routes: [...refs.routes].sort(),
      secrets: [...refs.secrets].sort(),
      endpoints: [],
    });
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
