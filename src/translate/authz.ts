// AuthzIR → RBAC filters (HTTP and network). Principals are matched on the peer certificate's
// URI SAN, verified by the TLS handshake, and compared exactly: never on a header a caller
// could set.
import type { AuthzIR } from '../ir/types.js';
import { T } from './common.js';

function policies(a: AuthzIR, http: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of a.rules) {
    const conditions: Record<string, unknown>[] = [];
    if (http && r.pathPrefix) conditions.push({ url_path: { path: { prefix: r.pathPrefix } } });
    if (http && r.methods) conditions.push({ or_rules: { rules: r.methods.map((m) => ({ header: { name: ':method', string_match: { exact: m } } })) } });
    out[r.name] = {
      permissions: conditions.length === 0 ? [{ any: true }] : conditions.length === 1 ? conditions : [{ and_rules: { rules: conditions } }],
      principals: r.principals.map((p) => ({ authenticated: { principal_name: { exact: p } } })),
    };
  }
  return out;
}

/**
 * The RBAC HTTP filter of an inbound listener: without rules of its own, it enforces what the
 * route configuration gives it per virtual host (rbacPerRoute). Keeping the rules in RDS means
 * an authorization edit changes only the route configuration: it applies to the next request,
 * even on connections already open, and never drains the listener.
 */
export function httpRbacFilter(): Record<string, unknown> {
  return { name: RBAC_FILTER, typed_config: { '@type': T.HTTP_RBAC } };
}

/** typed_per_filter_config entry enforcing `a` on a virtual host. */
export function rbacPerRoute(a: AuthzIR): Record<string, unknown> {
  return { [RBAC_FILTER]: { '@type': T.HTTP_RBAC_PER_ROUTE, rbac: { rules: { action: 'ALLOW', policies: policies(a, true) } } } };
}

export const RBAC_FILTER = 'envoy.filters.http.rbac';

export function networkRbacFilter(a: AuthzIR, statPrefix: string): Record<string, unknown> {
  return {
    name: 'envoy.filters.network.rbac',
    typed_config: { '@type': T.NETWORK_RBAC, stat_prefix: statPrefix, rules: { action: 'ALLOW', policies: policies(a, false) } },
  };
}
