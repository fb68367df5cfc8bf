// UpstreamIR → envoy.config.endpoint.v3.ClusterLoadAssignment.
import type { UpstreamIR } from '../ir/types.js';
import { socketAddress } from './common.js';

export function loadAssignment(u: UpstreamIR): Record<string, unknown> {
  return {
    cluster_name: u.key,
    endpoints: [
      {
        lb_endpoints: u.endpoints.map((e) => ({
          endpoint: { address: socketAddress(e.host, e.port), hostname: e.instanceId },
        })),
      },
    ],
  };
}
