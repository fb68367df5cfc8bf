// Route configurations assembled from per-route bytes: translateRouteConfig(l) encoded without
// encoding it whole. Fields in number order, as protobufjs writes them (RouteConfiguration:
// name = 1, virtual_hosts = 2; VirtualHost: name = 1, domains = 2, routes = 3, then the extras,
// typed_per_filter_config = 15), so the bytes equal the whole message's encoding (tests compare).
//
// A gateway with thousands of routes re-encodes only the routes that changed, and a big
// configuration keeps what its last assembly was made of: the next one (one route edited) takes
// each route at the same place that is the same object as it was, without a lookup, and keeps
// the clusters named by counting the references the changed routes drop and add, so it is a
// walk over the routes, a copy and one hash, not a sort of every cluster name.
import type { AuthzIR, HttpListenerIR, HttpRouteIR } from '../ir/types.js';
import { emptyRefs, encodeFromJson } from '../xds/json.js';
import { messageType } from '../xds/protos.js';
import { type Resource, resourceFromPrefixed, versionPrefixLength, writeVersionPrefix } from '../xds/resource.js';
import { TYPE } from '../xds/type-urls.js';
import { utf8Length, varintSize, writeUtf8, writeVarint } from '../xds/wire.js';
import { virtualHostExtras } from './route.js';
import { type RouteField, RouteFields, virtualHostHeader } from './templates.js';

/** What a listener adds to each virtual host (virtualHostExtras), encoded, and the names it refers to. */
interface Extras {
  readonly tail: Buffer;
  readonly clusters: readonly string[];
  readonly routes: readonly string[];
  readonly secrets: readonly string[];
}

const NO_NAMES: readonly string[] = Object.freeze([]);
const NO_EXTRAS: Extras = Object.freeze({ tail: Buffer.alloc(0), clusters: NO_NAMES, routes: NO_NAMES, secrets: NO_NAMES });

/** What an assembly was made of, per virtual host: its routes and their fields, place by place. */
interface Assembly {
  readonly hosts: ReadonlyArray<{ readonly routes: readonly HttpRouteIR[]; readonly fields: readonly RouteField[] }>;
  /** How many routes name each cluster. */
  readonly counts: Map<string, number>;
  /** The names counted, sorted. */
  readonly clusters: readonly string[];
}

/** Configurations with at least this many routes keep their last assembly. */
const KEEP_MIN_ROUTES = 64;

export class RouteConfigAssembler {
  /** Each route's field, by route object (wherever it is). */
  private readonly routes = new WeakMap<HttpRouteIR, RouteField>();
  private readonly fields = new RouteFields();
  private readonly extras = new WeakMap<AuthzIR, Extras>();
  /** The last assembly of each big configuration, by the key routeConfig memoises under. */
  private readonly last = new Map<string, Assembly>();

  beginBuild(): void {
    this.fields.beginBuild();
  }

  private route(r: HttpRouteIR): RouteField {
    let e = this.routes.get(r);
    if (!e) this.routes.set(r, (e = this.fields.field(r)));
    return e;
  }

  private extrasOf(l: HttpListenerIR): Extras {
    // virtualHostExtras reads the listener's authorization, and only with TLS.
    if (!(l.authz && l.tls)) return NO_EXTRAS;
    let e = this.extras.get(l.authz);
    if (!e) {
      const refs = emptyRefs();
      const tail = Buffer.from(encodeFromJson(messageType('envoy.config.route.v3.VirtualHost'), virtualHostExtras(l), refs));
      e = { tail, clusters: [...refs.clusters].sort(), routes: [...refs.routes].sort(), secrets: [...refs.secrets].sort() };
      this.extras.set(l.authz, e);
    }
    return e;
  }

  /** translateRouteConfig(l) as a resource; `key` names the configuration among those assembled (its last assembly is kept under it). */
  assemble(l: HttpListenerIR, key: string): Resource {
    const extras = this.extrasOf(l);
    const prev = this.last.get(key);
    const same = prev !== undefined && prev.hosts.length === l.virtualHosts.length && l.virtualHosts.every((vh, i) => vh.routes.length === prev.hosts[i]!.routes.length);
    const hosts: Array<{ routes: readonly HttpRouteIR[]; fields: RouteField[] }> = [];
    let counts: Map<string, number>;
    let clusters: readonly string[];
    let routeCount = 0;
    if (same) {
      // Routes at the same place that are the same objects keep their fields; the counts follow
      // the changed ones (all additions first, so a name both dropped and added is not lost).
      counts = prev.counts;
      const dropped: RouteField[] = [];
      const added: string[] = [];
      l.virtualHosts.forEach((vh, v) => {
        const was = prev.hosts[v]!;
        const fields: RouteField[] = new Array<RouteField>(vh.routes.length);
        for (let i = 0; i < vh.routes.length; i++) {
          const r = vh.routes[i]!;
          if (r === was.routes[i]) {
            fields[i] = was.fields[i]!;
            continue;
          }
          const f = this.route(r);
          fields[i] = f;
          dropped.push(was.fields[i]!);
          for (const c of f.clusters) {
            const n = counts.get(c) ?? 0;
            counts.set(c, n + 1);
            if (n === 0) added.push(c);
          }
        }
        routeCount += vh.routes.length;
        hosts.push({ routes: vh.routes, fields });
      });
      const gone: string[] = [];
      for (const f of dropped) {
        for (const c of f.clusters) {
          const n = counts.get(c)! - 1;
          if (n === 0) {
            counts.delete(c);
            gone.push(c);
          } else counts.set(c, n);
        }
      }
      clusters = added.length || gone.length ? withChanges(prev.clusters, added, gone) : prev.clusters;
    } else {
      counts = new Map();
      for (const vh of l.virtualHosts) {
        const fields = vh.routes.map((r) => {
          const f = this.route(r);
          for (const c of f.clusters) counts.set(c, (counts.get(c) ?? 0) + 1);
          return f;
        });
        routeCount += fields.length;
        hosts.push({ routes: vh.routes, fields });
      }
      clusters = [...counts.keys()].sort();
    }
    if (routeCount >= KEEP_MIN_ROUTES) this.last.set(key, { hosts, counts, clusters });
    else if (prev) this.last.delete(key);
    return this.encode(l, hosts, extras, {
      clusters: extras.clusters.length ? [...new Set([...clusters, ...extras.clusters])].sort() : clusters,
      routes: extras.routes,
      secrets: extras.secrets,
      endpoints: NO_NAMES,
    });
  }

  /** RouteConfiguration { name = 1; virtual_hosts = 2: VirtualHost { name, domains, routes…, extras } }, written after what its version hashes first. */
  private encode(l: HttpListenerIR, hosts: ReadonlyArray<{ fields: readonly RouteField[] }>, extras: Extras, refs: Resource['refs']): Resource {
    const name = l.routeConfigName;
    const headers = l.virtualHosts.map((vh) => virtualHostHeader(vh.name, vh.domains));
    const sizes = hosts.map((h, v) => {
      let size = headers[v]!.length + extras.tail.length;
      for (const f of h.fields) size += f.field.length;
      return size;
    });
    const nameBytes = utf8Length(name);
    // name = 1 is not written when empty (proto3).
    let size = nameBytes ? 1 + varintSize(nameBytes) + nameBytes : 0;
    for (const s of sizes) size += 1 + varintSize(s) + s;
    const at = versionPrefixLength(TYPE.ROUTE, nameBytes);
    const buf = Buffer.allocUnsafe(at + size);
    let off = writeVersionPrefix(buf, TYPE.ROUTE, name, nameBytes);
    if (nameBytes) {
      buf[off++] = 0x0a; // RouteConfiguration.name
      off = writeVarint(buf, off, nameBytes);
      off = writeUtf8(buf, off, name, nameBytes);
    }
    hosts.forEach((h, v) => {
      buf[off++] = 0x12; // RouteConfiguration.virtual_hosts
      off = writeVarint(buf, off, sizes[v]!);
      off = copy(buf, off, headers[v]!);
      for (const f of h.fields) off = copy(buf, off, f.field);
      off = copy(buf, off, extras.tail);
    });
    if (off !== buf.length) throw new Error(`bug: route configuration ${name} encoded ${off - at} of ${size} bytes`);
    return resourceFromPrefixed(TYPE.ROUTE, name, buf, at, refs);
  }
}

function copy(buf: Buffer, off: number, b: Uint8Array): number {
  buf.set(b, off);
  return off + b.length;
}

/** `sorted` with the names `added` (none in it) and without those `gone` (all in it), sorted. */
function withChanges(sorted: readonly string[], added: readonly string[], gone: readonly string[]): readonly string[] {
  const drop = new Set(gone);
  const add = [...added].sort();
  const out: string[] = [];
  let j = 0;
  for (const n of sorted) {
    while (j < add.length && add[j]! < n) out.push(add[j++]!);
    if (!drop.has(n)) out.push(n);
  }
  while (j < add.length) out.push(add[j++]!);
  return out;
}
