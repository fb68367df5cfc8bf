// Resources encoded from templates with string holes (xds/holes.ts) instead of from JSON each:
// the generic encoder costs tens of microseconds a resource, a template instance about one.
import type { HttpRouteIR, Protocol, StringMatchIR, UpstreamIR } from '../ir/types.js';
import { fillHoles, hole, holeRefs, holeResource, type HoleTemplate, holeTemplate } from '../xds/holes.js';
import { emptyRefs, encodeFromJson } from '../xds/json.js';
import { messageType } from '../xds/protos.js';
import { type Resource, resourceFromJson } from '../xds/resource.js';
import { TYPE } from '../xds/type-urls.js';
import { translateCluster, usesEds } from './cluster.js';
import { translateRoute } from './route.js';

/** EDS cluster templates by what translateCluster reads of an EDS upstream besides its strings: TLS off or on, then the protocol. */
const edsTemplates = [new Map<Protocol, HoleTemplate>(), new Map<Protocol, HoleTemplate>()] as const;

function edsTemplate(u: UpstreamIR): HoleTemplate {
  const byProtocol = edsTemplates[u.tls ? 1 : 0];
  let t = byProtocol.get(u.protocol);
  if (t) return t;
  // The strings an EDS cluster varies in: its name, and with TLS the SNI (the service) and the
  // SAN it accepts (the service's identity).
  const json = translateCluster({ ...u, key: hole(0), service: hole(1), tls: u.tls ? { serverIdentity: hole(2) } : null });
  const eds = json['eds_cluster_config'] as { service_name?: string } | undefined;
  if (json['type'] !== 'EDS' || !eds || eds.service_name !== undefined) throw new Error('bug: an EDS cluster template that is not EDS named after the cluster');
  t = holeTemplate(TYPE.CLUSTER, json, u.tls ? 3 : 1);
  byProtocol.set(u.protocol, t);
  return t;
}

/**
 * resourceFromJson(TYPE.CLUSTER, translateCluster(u)) for an EDS upstream, from its template:
 * the same bytes, version and references (an EDS cluster's assignment is named after it).
 */
export function edsClusterResource(u: UpstreamIR): Resource {
  if (!usesEds(u)) throw new Error(`bug: ${u.key} is not an EDS upstream`);
  const values = u.tls ? [u.key, u.service, u.tls.serverIdentity] : [u.key];
  return holeResource(edsTemplate(u), TYPE.CLUSTER, u.key, values, [u.key]) ?? resourceFromJson(TYPE.CLUSTER, translateCluster(u));
}

/** A route's VirtualHost.routes field (tag, length, Route) and the clusters it names, sorted. */
export interface RouteField {
  readonly field: Buffer;
  readonly clusters: readonly string[];
}

/**
 * The strings of a route that translateRoute writes whole into string fields, in a fixed order
 * (withHoles makes the same walk), into `values`; returns what else the translation reads (the
 * route's shape): which matchers of which kinds, the methods (joined into one regex), weights,
 * timeout, which rewrites.
 */
function routeShape(r: HttpRouteIR, values: string[]): string {
  values.push(r.origin);
  const m = r.match;
  if (r.backends.length === 1 && m.headers.length === 0 && m.query.length === 0 && m.methods === null && r.timeoutMs === null && r.rewritePathPrefix === null && r.rewriteHost === null) {
    // The commonest shape (a path, one backend, nothing else) under a constant key: no key to
    // build and hash. The values in the same order as below; one backend's weight is not written.
    if (!m.path) {
      values.push(r.backends[0]!.upstream);
      return '=-';
    }
    values.push(m.path.value, r.backends[0]!.upstream);
    return SIMPLE_SHAPES[m.path.kind];
  }
  let key = m.path ? m.path.kind : '-';
  if (m.path) values.push(m.path.value);
  for (const h of m.headers) {
    values.push(h.name);
    key += `\0h${h.match.kind}`;
    if ('value' in h.match) values.push(h.match.value);
  }
  for (const q of m.query) {
    values.push(q.name);
    key += `\0q${q.match.kind}`;
    if ('value' in q.match) values.push(q.match.value);
  }
  key += `\0${m.methods ? JSON.stringify(m.methods) : '-'}`;
  for (const b of r.backends) {
    values.push(b.upstream);
    key += `\0b${b.weight}`;
  }
  key += `\0${r.timeoutMs}`;
  if (r.rewritePathPrefix !== null) values.push(r.rewritePathPrefix);
  if (r.rewriteHost !== null) values.push(r.rewriteHost);
  return `${key}\0${r.rewritePathPrefix === null ? '-' : 'p'}${r.rewriteHost === null ? '-' : 'h'}`;
}

const SIMPLE_SHAPES = { prefix: '=prefix', exact: '=exact', regex: '=regex' } as const;

/** The route with each string routeShape takes as a value replaced by its placeholder, in the same order. */
function withHoles(r: HttpRouteIR): { route: HttpRouteIR; values: number } {
  let i = 0;
  const h = (): string => hole(i++);
  const str = (s: StringMatchIR): StringMatchIR => ('value' in s ? { kind: s.kind, value: h() } : s);
  const m = r.match;
  const route: HttpRouteIR = {
    origin: h(),
    match: {
      path: m.path ? { kind: m.path.kind, value: h() } : null,
      headers: m.headers.map((x) => ({ name: h(), match: str(x.match) })),
      query: m.query.map((x) => ({ name: h(), match: str(x.match) })),
      methods: m.methods,
    },
    backends: r.backends.map((b) => ({ upstream: h(), weight: b.weight })),
    timeoutMs: r.timeoutMs,
    rewritePathPrefix: r.rewritePathPrefix === null ? null : h(),
    rewriteHost: r.rewriteHost === null ? null : h(),
  };
  return { route, values: i };
}

const VIRTUAL_HOST = 'envoy.config.route.v3.VirtualHost';

/** The route field encoded from JSON, as the templates' must equal. */
function routeFieldFromJson(r: HttpRouteIR): RouteField {
  const refs = emptyRefs();
  // A VirtualHost holding just this route is the field: VirtualHost.routes = 3.
  const field = Buffer.from(encodeFromJson(messageType(VIRTUAL_HOST), { routes: [translateRoute(r)] }, refs));
  return { field, clusters: [...refs.clusters].sort() };
}

/**
 * Route fields from templates per route shape (routeShape): a gateway's thousand routes to as
 * many services are one shape. A shape is made a template the second time it is met (a
 * template costs about two encodings); what the previous build met stays, older shapes go.
 */
export class RouteFields {
  /** Per shape: its template, or 1 when met once. */
  private shapes = new Map<string, HoleTemplate | 1>();
  private previous = new Map<string, HoleTemplate | 1>();

  beginBuild(): void {
    this.previous = this.shapes;
    this.shapes = new Map();
  }

  field(r: HttpRouteIR): RouteField {
    const values: string[] = [];
    const key = routeShape(r, values);
    let t = this.shapes.get(key) ?? this.previous.get(key);
    if (t === undefined) {
      this.shapes.set(key, 1);
      return routeFieldFromJson(r);
    }
    if (t === 1) {
      const { route, values: n } = withHoles(r);
      if (n !== values.length) throw new Error(`bug: routeShape takes ${values.length} values, withHoles ${n}`);
      t = holeTemplate(VIRTUAL_HOST, { routes: [translateRoute(route)] }, n);
    }
    this.shapes.set(key, t);
    const field = fillHoles(t, values);
    return field ? { field, clusters: holeRefs(t, values, NO_NAMES).clusters } : routeFieldFromJson(r);
  }
}

const NO_NAMES: readonly string[] = Object.freeze([]);

/** VirtualHost name and domains templates, by the number of domains. */
const hostHeaders = new Map<number, HoleTemplate>();

/** VirtualHost { name = 1; domains = 2 } encoded: what a virtual host's bytes start with. */
export function virtualHostHeader(name: string, domains: readonly string[]): Buffer {
  let t = hostHeaders.get(domains.length);
  if (!t) {
    t = holeTemplate(VIRTUAL_HOST, { name: hole(0), domains: domains.map((_, i) => hole(i + 1)) }, domains.length + 1);
    hostHeaders.set(domains.length, t);
  }
  return fillHoles(t, [name, ...domains]) ?? Buffer.from(encodeFromJson(messageType(VIRTUAL_HOST), { name, domains }));
}
