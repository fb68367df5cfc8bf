// UpstreamIR → envoy.config.endpoint.v3.ClusterLoadAssignment, as proto3 JSON and, for the hot
// path, encoded by hand: endpoint churn re-encodes assignments all the time and sidecars each
// hold one for their app, and the hand encoding is a few lines (tests compare it byte for byte
// with protobufjs's encoding of the JSON).
import type { EndpointIR, UpstreamIR } from '../ir/types.js';
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

/** Bytes of a varint below 2^32 (ports, lengths). */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, off: number, n: number): number {
  while (n >= 0x80) {
    buf[off++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[off++] = n;
  return off;
}

/** A length-delimited field's size: tag (fields below 16 take one byte) + length + payload. */
const ld = (payload: number): number => 1 + varintSize(payload) + payload;

interface EndpointSizes {
  host: number;
  hostname: number;
  socket: number;
  address: number;
  endpoint: number;
  lb: number;
}

function sizes(host: string, port: number, hostname: string): EndpointSizes {
  const hostBytes = Buffer.byteLength(host, 'utf8');
  const hostnameBytes = Buffer.byteLength(hostname, 'utf8');
  // SocketAddress { address = 2; port_value = 3 }
  const socket = (hostBytes ? ld(hostBytes) : 0) + (port ? 1 + varintSize(port) : 0);
  // Address { socket_address = 1 }
  const address = ld(socket);
  // Endpoint { address = 1; hostname = 3 }
  const endpoint = ld(address) + (hostnameBytes ? ld(hostnameBytes) : 0);
  // LbEndpoint { endpoint = 1 }
  const lb = ld(endpoint);
  return { host: hostBytes, hostname: hostnameBytes, socket, address, endpoint, lb };
}

function writeString(buf: Buffer, off: number, tag: number, s: string, bytes: number): number {
  if (!bytes) return off;
  buf[off++] = tag;
  off = writeVarint(buf, off, bytes);
  return off + buf.write(s, off, bytes, 'utf8');
}

function writeAddress(buf: Buffer, off: number, host: string, port: number, z: EndpointSizes): number {
  buf[off++] = 0x0a; // Address.socket_address
  off = writeVarint(buf, off, z.socket);
  off = writeString(buf, off, 0x12, host, z.host); // SocketAddress.address
  if (port) {
    buf[off++] = 0x18; // SocketAddress.port_value
    off = writeVarint(buf, off, port);
  }
  return off;
}

/** envoy.config.core.v3.Address { socket_address = 1: SocketAddress { address = 2; port_value = 3 } } */
export function addressBytes(host: string, port: number): Buffer {
  const z = sizes(host, port, '');
  const buf = Buffer.allocUnsafe(z.address);
  writeAddress(buf, 0, host, port, z);
  return buf;
}

/**
 * loadAssignment(u), encoded into one buffer (sizes first, then the bytes):
 * ClusterLoadAssignment { cluster_name = 1; endpoints = 2: LocalityLbEndpoints { lb_endpoints = 2:
 * LbEndpoint { endpoint = 1: Endpoint { address = 1; hostname = 3 } } } }.
 */
export function loadAssignmentBytes(u: UpstreamIR): Buffer {
  const all = u.endpoints.map((e: EndpointIR) => sizes(e.host, e.port, e.instanceId));
  let locality = 0;
  for (const z of all) locality += ld(z.lb);
  const nameBytes = Buffer.byteLength(u.key, 'utf8');
  const buf = Buffer.allocUnsafe((nameBytes ? ld(nameBytes) : 0) + ld(locality));
  let off = writeString(buf, 0, 0x0a, u.key, nameBytes);
  buf[off++] = 0x12; // ClusterLoadAssignment.endpoints
  off = writeVarint(buf, off, locality);
  u.endpoints.forEach((e, i) => {
    const z = all[i]!;
    buf[off++] = 0x12; // LocalityLbEndpoints.lb_endpoints
    off = writeVarint(buf, off, z.lb);
    buf[off++] = 0x0a; // LbEndpoint.endpoint
    off = writeVarint(buf, off, z.endpoint);
    buf[off++] = 0x0a; // Endpoint.address
    off = writeVarint(buf, off, z.address);
    off = writeAddress(buf, off, e.host, e.port, z);
    off = writeString(buf, off, 0x1a, e.instanceId, z.hostname); // Endpoint.hostname
  });
  if (off !== buf.length) throw new Error(`bug: load assignment encoded ${off} of ${buf.length} bytes`);
  return buf;
}
