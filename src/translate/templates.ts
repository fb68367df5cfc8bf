// Resources encoded from templates with string holes (xds/holes.ts) instead of from JSON each:
// the generic encoder costs tens of microseconds a resource, a template instance about one.
import type { UpstreamIR } from '../ir/types.js';
import { fillHoles, hole, type HoleTemplate, holeTemplate } from '../xds/holes.js';
import { type Resource, resourceFromJson } from '../xds/resource.js';
import { TYPE } from '../xds/type-urls.js';
import { translateCluster, usesEds } from './cluster.js';

/** EDS cluster templates by what translateCluster reads of an EDS upstream besides its strings: protocol, TLS on or off. */
const edsTemplates = new Map<string, HoleTemplate>();

function edsTemplate(u: UpstreamIR): HoleTemplate {
  const key = `${u.protocol}\0${u.tls ? 1 : 0}`;
  let t = edsTemplates.get(key);
  if (t) return t;
  // The strings an EDS cluster varies in: its name, and with TLS the SNI (the service) and the
  // SAN it accepts (the service's identity).
  const json = translateCluster({ ...u, key: hole(0), service: hole(1), tls: u.tls ? { serverIdentity: hole(2) } : null });
  const eds = json['eds_cluster_config'] as { service_name?: string } | undefined;
  if (json['type'] !== 'EDS' || !eds || eds.service_name !== undefined) throw new Error('bug: an EDS cluster template that is not EDS named after the cluster');
  t = holeTemplate(TYPE.CLUSTER, json, u.tls ? 3 : 1);
  edsTemplates.set(key, t);
  return t;
}

/**
 * resourceFromJson(TYPE.CLUSTER, translateCluster(u)) for an EDS upstream, from its template:
 * the same bytes, version and references (an EDS cluster's assignment is named after it).
 */
export function edsClusterResource(u: UpstreamIR): Resource {
  if (!usesEds(u)) throw new Error(`bug: ${u.key} is not an EDS upstream`);
  const values = u.tls ? [u.key, u.service, u.tls.serverIdentity] : [u.key];
  return fillHoles(edsTemplate(u), u.key, values, [u.key]) ?? resourceFromJson(TYPE.CLUSTER, translateCluster(u));
}
