// UpstreamIR → envoy.config.endpoint.v3.ClusterLoadAssignment, as proto3 JSON and, for the hot
// path, encoded by hand: endpoint churn re-encodes assignments all the time and sidecars each
// hold one for their app, and the hand encoding is a few lines (tests compare it byte for byte
// with protobufjs's encoding of the JSON).
import type { EndpointIR, UpstreamIR } from '../ir/types.js';
import { lengthDelimited, stringField, varintField } from '../xds/wire.js';
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

/** envoy.config.core.v3.Address { socket_address = 1: SocketAddress { address = 2; port_value = 3 } } */
export function addressBytes(host: string, port: number): Buffer {
  return lengthDelimited(1, Buffer.concat([stringField(2, host), varintField(3, port)]));
}

function lbEndpointBytes(e: EndpointIR): Buffer {
  // LbEndpoint { endpoint = 1: Endpoint { address = 1; hostname = 3 } }
  return lengthDelimited(1, Buffer.concat([lengthDelimited(1, addressBytes(e.host, e.port)), stringField(3, e.instanceId)]));
}

/** loadAssignment(u), encoded: ClusterLoadAssignment { cluster_name = 1; endpoints = 2: LocalityLbEndpoints { lb_endpoints = 2 } }. */
export function loadAssignmentBytes(u: UpstreamIR): Buffer {
  const lb: Buffer[] = [];
  for (const e of u.endpoints) lb.push(lengthDelimited(2, lbEndpointBytes(e)));
  return Buffer.concat([stringField(1, u.key), lengthDelimited(2, Buffer.concat(lb))]);
}
