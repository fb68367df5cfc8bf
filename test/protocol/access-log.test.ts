// The access log service (client-streaming StreamAccessLogs) on meshgate's gRPC transport:
// a grpc-js client streams log messages and half-closes; RBAC denials are counted per service
// and caller, other entries are not, and the call ends OK with the empty response.
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { messageType } from '../../src/xds/protos.js';
import { harness } from './fixtures.js';

const h = harness();
const MESSAGE = messageType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
const PATH = '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs';
const CALLER = 'spiffe://mesh.local/ns/default/sa/web';

function entry(details: string, san?: string): Record<string, unknown> {
  return {
    response: { response_code: { value: 403 }, response_code_details: details },
    ...(san ? { common_properties: { tls_properties: { peer_certificate_properties: { subject_alt_name: [{ uri: san }] } } } } : {}),
  };
}

describe('Access log service', () => {
  it('counts RBAC denials from a client stream and answers OK when the proxy half-closes', async () => {
    const srv = await h.start();
    const client = new grpc.Client(srv.address, grpc.credentials.createInsecure());
    try {
      const encode = (m: Record<string, unknown>): Buffer => Buffer.from(MESSAGE.encode(MESSAGE.fromObject(m)).finish());
      const response = new Promise<Buffer>((resolve, reject) => {
        const call = client.makeClientStreamRequest(PATH, encode, (b: Buffer) => b, (err, res) => (err ? reject(err) : resolve(res!)));
        call.write({ identifier: { node: { id: 'orders-1', cluster: 'orders' }, log_name: 'als' }, http_logs: { log_entry: [entry('rbac_access_denied_matched_policy[none]', CALLER)] } });
        call.write({ http_logs: { log_entry: [entry('rbac_access_denied_matched_policy[none]'), entry('via_upstream', CALLER)] } });
        call.end();
      });
      expect((await response).length).toBe(0);
      const counted = (await srv.server.metrics.authzDenials.get()).values.map((v) => [v.labels['service'], v.labels['caller'], v.value]);
      expect(counted.sort()).toEqual(
        [
          ['orders', CALLER, 1],
          ['orders', 'unauthenticated', 1],
        ].sort(),
      );
    } finally {
      client.close();
    }
  });
});
