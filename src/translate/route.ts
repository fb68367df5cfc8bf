// Virtual hosts and routes → envoy.config.route.v3.RouteConfiguration.
import type { HttpListenerIR, HttpRouteIR, MatchIR, StringMatchIR } from '../ir/types.js';
import { rbacPerRoute } from './authz.js';
import { durationMs } from './common.js';

function stringMatcher(m: Exclude<StringMatchIR, { kind: 'present' | 'absent' }>): Record<string, unknown> {
  return m.kind === 'regex' ? { safe_regex: { regex: m.value } } : { [m.kind]: m.value };
}

function headerMatcher(name: string, m: StringMatchIR): Record<string, unknown> {
  if (m.kind === 'present') return { name, present_match: true };
  if (m.kind === 'absent') return { name, present_match: true, invert_match: true };
  return { name, string_match: stringMatcher(m) };
}

export function translateMatch(m: MatchIR): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!m.path) out['prefix'] = '/';
  else if (m.path.kind === 'prefix') out['prefix'] = m.path.value;
  else if (m.path.kind === 'exact') out['path'] = m.path.value;
  else out['safe_regex'] = { regex: m.path.value };
  const headers = m.headers.map((h) => headerMatcher(h.name, h.match));
  if (m.methods) {
    const methods = m.methods;
    headers.push(
      methods.length === 1
        ? { name: ':method', string_match: { exact: methods[0] } }
        : { name: ':method', string_match: { safe_regex: { regex: methods.join('|') } } },
    );
  }
  if (headers.length) out['headers'] = headers;
  if (m.query.length) {
    out['query_parameters'] = m.query.map((q) =>
      q.match.kind === 'present' || q.match.kind === 'absent' ? { name: q.name, present_match: true } : { name: q.name, string_match: stringMatcher(q.match) },
    );
  }
  return out;
}

function routeAction(r: HttpRouteIR): Record<string, unknown> {
  const action: Record<string, unknown> = {};
  if (r.backends.length === 1) action['cluster'] = r.backends[0]!.upstream;
  else action['weighted_clusters'] = { clusters: r.backends.map((b) => ({ name: b.upstream, weight: b.weight })) };
  if (r.timeoutMs !== null) action['timeout'] = durationMs(r.timeoutMs);
  if (r.rewritePathPrefix !== null) action['prefix_rewrite'] = r.rewritePathPrefix;
  if (r.rewriteHost !== null) action['host_rewrite_literal'] = r.rewriteHost;
  return action;
}

export function translateRoute(r: HttpRouteIR): Record<string, unknown> {
  return { name: r.origin, match: translateMatch(r.match), route: routeAction(r) };
}

/** What a listener adds to each of its virtual hosts besides name, domains and routes. */
export function virtualHostExtras(l: HttpListenerIR): Record<string, unknown> {
  // Authorization of an inbound listener (see translate/authz.ts).
  return l.authz && l.tls ? { typed_per_filter_config: rbacPerRoute(l.authz) } : {};
}

export function translateRouteConfig(l: HttpListenerIR): Record<string, unknown> {
  const extras = virtualHostExtras(l);
  return {
    name: l.routeConfigName,
    virtual_hosts: l.virtualHosts.map((vh) => ({ name: vh.name, domains: vh.domains, routes: vh.routes.map(translateRoute), ...extras })),
  };
}
