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
import { replacedSince } from '../ir/list-edits.js';
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
interface HostAssembly {
  readonly routes: readonly HttpRouteIR[];
  readonly fields: readonly RouteField[];
  /** The fields' byte lengths (prefix sums in O(log n)); handed on to the next assembly, which updates it. */
  readonly sums: FieldSums;
  /** Where the first route field starts in the assembly's buffer. */
  readonly fieldsAt: number;
}

interface Assembly {
  readonly hosts: readonly HostAssembly[];
  /** How many routes name each cluster. */
  readonly counts: Map<string, number>;
  /** The names counted, sorted. */
  readonly clusters: readonly string[];
  readonly extras: Extras;
  readonly refs: Resource['refs'];
  /** The resource's buffer (what its version hashes, then its body): the next assembly copies the unchanged routes' bytes from it. */
  readonly buf: Buffer;
}

/** Configurations with at least this many routes keep their last assembly. */
const KEEP_MIN_ROUTES = 64;

/**
 * Byte lengths of a host's route fields as a Fenwick tree: where field i starts (the sum of the
 * lengths before it) and a changed length, each in O(log n), so an assembly that replaces a few
 * routes finds their bytes in the last buffer without a walk over every route.
 */
class FieldSums {
  private readonly tree: Float64Array;
  total = 0;

  constructor(fields: readonly RouteField[]) {
    const n = fields.length;
    const t = new Float64Array(n + 1);
    for (let i = 1; i <= n; i++) {
      const len = fields[i - 1]!.field.length;
      this.total += len;
      t[i]! += len;
      const j = i + (i & -i);
      if (j <= n) t[j]! += t[i]!;
    }
    this.tree = t;
  }

  /** The sum of the lengths of fields [0, i). */
  before(i: number): number {
    let s = 0;
    for (let k = i; k > 0; k -= k & -k) s += this.tree[k]!;
    return s;
  }

  /** Field i's length changed by `delta`. */
  add(i: number, delta: number): void {
    if (delta === 0) return;
    this.total += delta;
    const t = this.tree;
    for (let k = i + 1; k < t.length; k += k & -k) t[k]! += delta;
  }
}

/** The places where `routes` differs from `was` (same length), ascending: the list's record if it has one, else by comparing. */
function changedPlaces(was: readonly HttpRouteIR[], routes: readonly HttpRouteIR[]): readonly number[] {
  if (routes === was) return NO_PLACES;
  const known = replacedSince(was, routes);
  if (known) return known;
  const out: number[] = [];
  for (let i = 0; i < routes.length; i++) if (routes[i] !== was[i]) out.push(i);
  return out;
}

const NO_PLACES: readonly number[] = Object.freeze([]);

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
    const same = prev !== undefined && prev.extras === extras && prev.hosts.length === l.virtualHosts.length && l.virtualHosts.every((vh, i) => vh.routes.length === prev.hosts[i]!.routes.length);
    let routeCount = 0;
    for (const vh of l.virtualHosts) routeCount += vh.routes.length;
    let assembly: Assembly;
    // (The same numbers of routes as an assembly kept: this one is kept too, and takes prev's state over.)
    if (same) assembly = this.spliced(l, prev);
    else {
      const counts = new Map<string, number>();
      const hosts = l.virtualHosts.map((vh) => {
        const fields = vh.routes.map((r) => {
          const f = this.route(r);
          for (const c of f.clusters) counts.set(c, (counts.get(c) ?? 0) + 1);
          return f;
        });
        return { routes: vh.routes, fields, sums: new FieldSums(fields) };
      });
      const clusters = [...counts.keys()].sort();
      assembly = this.encode(l, hosts, counts, clusters, extras, null);
    }
    if (routeCount >= KEEP_MIN_ROUTES) this.last.set(key, assembly);
    else if (prev) this.last.delete(key);
    return resourceFromPrefixed(TYPE.ROUTE, l.routeConfigName, assembly.buf, versionPrefixLength(TYPE.ROUTE, utf8Length(l.routeConfigName)), assembly.refs);
  }

  /**
   * The assembly of `l` from `prev`, whose virtual hosts have as many routes each: the routes at
   * the same place that are the same objects keep their fields and their bytes (copied from the
   * last buffer in runs), the counts follow the changed ones (all additions first, so a name
   * both dropped and added is not lost). prev's counts and sums are taken over and updated: the
   * new assembly replaces it.
   */
  private spliced(l: HttpListenerIR, prev: Assembly): Assembly {
    const counts = prev.counts;
    const dropped: RouteField[] = [];
    const added: string[] = [];
    /** Per host: the places replaced, their fields' old starts and lengths (relative to the host's first field). */
    const edits: Array<{ at: number[]; oldStart: number[]; oldLen: number[]; oldTotal: number }> = [];
    const hosts: Array<{ routes: readonly HttpRouteIR[]; fields: readonly RouteField[]; sums: FieldSums }> = [];
    l.virtualHosts.forEach((vh, v) => {
      const was = prev.hosts[v]!;
      const places = changedPlaces(was.routes, vh.routes);
      const edit = { at: [] as number[], oldStart: [] as number[], oldLen: [] as number[], oldTotal: was.sums.total };
      let fields = was.fields;
      const sums = was.sums;
      for (const i of places) {
        const r = vh.routes[i]!;
        if (r === was.routes[i]) continue;
        const f = this.route(r);
        const old = was.fields[i]!;
        if (f === old) continue;
        if (fields === was.fields) fields = was.fields.slice();
        (fields as RouteField[])[i] = f;
        edit.at.push(i);
        edit.oldStart.push(sums.before(i));
        edit.oldLen.push(old.field.length);
        dropped.push(old);
        for (const c of f.clusters) {
          const n = counts.get(c) ?? 0;
          counts.set(c, n + 1);
          if (n === 0) added.push(c);
        }
      }
      // Lengths updated once every old start is known (a start counts the lengths before it).
      for (let k = 0; k < edit.at.length; k++) sums.add(edit.at[k]!, fields[edit.at[k]!]!.field.length - edit.oldLen[k]!);
      edits.push(edit);
      hosts.push({ routes: vh.routes, fields, sums });
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
    const clusters = added.length || gone.length ? withChanges(prev.clusters, added, gone) : prev.clusters;
    return this.encode(l, hosts, counts, clusters, prev.extras, { prev, edits });
  }

  /**
   * RouteConfiguration { name = 1; virtual_hosts = 2: VirtualHost { name, domains, routes…, extras } }, written after what its version hashes first.
   * With `from`, each host's route fields are the last assembly's bytes with the fields at the edited places replaced.
   */
  private encode(
    l: HttpListenerIR,
    hosts: ReadonlyArray<{ routes: readonly HttpRouteIR[]; fields: readonly RouteField[]; sums: FieldSums }>,
    counts: Map<string, number>,
    clusters: readonly string[],
    extras: Extras,
    from: { prev: Assembly; edits: ReadonlyArray<{ at: readonly number[]; oldStart: readonly number[]; oldLen: readonly number[]; oldTotal: number }> } | null,
  ): Assembly {
    const name = l.routeConfigName;
    const headers = l.virtualHosts.map((vh) => virtualHostHeader(vh.name, vh.domains));
    const sizes = hosts.map((h, v) => headers[v]!.length + h.sums.total + extras.tail.length);
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
    const out: HostAssembly[] = [];
    hosts.forEach((h, v) => {
      buf[off++] = 0x12; // RouteConfiguration.virtual_hosts
      off = writeVarint(buf, off, sizes[v]!);
      off = copy(buf, off, headers[v]!);
      const fieldsAt = off;
      if (from) {
        // The last bytes of this host's fields, in runs between the edited places.
        const src = from.prev.buf;
        const base = from.prev.hosts[v]!.fieldsAt;
        const e = from.edits[v]!;
        let done = 0;
        for (let k = 0; k < e.at.length; k++) {
          off += src.copy(buf, off, base + done, base + e.oldStart[k]!);
          off = copy(buf, off, h.fields[e.at[k]!]!.field);
          done = e.oldStart[k]! + e.oldLen[k]!;
        }
        off += src.copy(buf, off, base + done, base + e.oldTotal);
      } else for (const f of h.fields) off = copy(buf, off, f.field);
      off = copy(buf, off, extras.tail);
      out.push({ routes: h.routes, fields: h.fields, sums: h.sums, fieldsAt });
    });
    if (off !== buf.length) throw new Error(`bug: route configuration ${name} encoded ${off - at} of ${size} bytes`);
    const refs: Resource['refs'] =
      from && clusters === from.prev.clusters
        ? from.prev.refs
        : {
            clusters: extras.clusters.length ? [...new Set([...clusters, ...extras.clusters])].sort() : clusters,
            routes: extras.routes,
            secrets: extras.secrets,
            endpoints: NO_NAMES,
          };
    return { hosts: out, counts, clusters, extras, refs, buf };
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
