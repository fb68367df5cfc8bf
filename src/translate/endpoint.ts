// UpstreamIR → envoy.config.endpoint.v3.ClusterLoadAssignment, as proto3 JSON and, for the hot
// path, encoded by hand: endpoint churn re-encodes assignments all the time and sidecars each
// hold one for their app, and the hand encoding is a few lines (tests compare it byte for byte
// with protobufjs's encoding of the JSON).
import type { UpstreamIR } from '../ir/types.js';
import { encodeFromJson } from '../xds/json.js';
import { messageType } from '../xds/protos.js';
import { type Resource, resourceFromBytes, resourceFromPrefixed, versionPrefixLength, writeVersionPrefix } from '../xds/resource.js';
import { TYPE } from '../xds/type-urls.js';
import { utf8Length, varintSize, writeUtf8, writeVarint } from '../xds/wire.js';
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

/** A length-delimited field's size: tag (fields below 16 take one byte) + length + payload. */
const ld = (payload: number): number => 1 + varintSize(payload) + payload;

/** SocketAddress { address = 2; port_value = 3 }: port_value is in a oneof, so 0 is written too. */
const socketSize = (hostBytes: number, port: number): number => (hostBytes ? ld(hostBytes) : 0) + 1 + varintSize(port);

function writeAddress(buf: Buffer, off: number, host: string, hostBytes: number, port: number, socket: number): number {
  buf[off++] = 0x0a; // Address.socket_address
  off = writeVarint(buf, off, socket);
  if (hostBytes) {
    buf[off++] = 0x12; // SocketAddress.address
    off = writeVarint(buf, off, hostBytes);
    off = writeUtf8(buf, off, host, hostBytes);
  }
  buf[off++] = 0x18; // SocketAddress.port_value
  return writeVarint(buf, off, port);
}

/** envoy.config.core.v3.Address { socket_address = 1: SocketAddress { address = 2; port_value = 3 } } */
export function addressBytes(host: string, port: number): Buffer {
  const hostBytes = utf8Length(host);
  const socket = socketSize(hostBytes, port);
  const buf = Buffer.allocUnsafe(ld(socket));
  writeAddress(buf, 0, host, hostBytes, port, socket);
  return buf;
}

/** Per endpoint, the sizes an assignment is written with (scratch, grown as needed). */
const HOST = 0;
const HOSTNAME = 1;
const SOCKET = 2;
const ADDRESS = 3;
const ENDPOINT = 4;
const LB = 5;
const PER = 6;
let sizes = new Int32Array(PER * 64);
/** The LocalityLbEndpoints message's size, as measured last. */
let localitySize = 0;

/** A lone surrogate (outside a pair): the u flag makes a pair one code point. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * The encoded size of loadAssignment(u)'s message, each endpoint's sizes in `sizes`; -1 if a
 * string has a lone surrogate (protobufjs writes those unlike Buffer, and unlike itself above 40
 * units: such an assignment is encoded from JSON).
 */
function measure(u: UpstreamIR, nameBytes: number): number {
  const eps = u.endpoints;
  if (sizes.length < eps.length * PER) sizes = new Int32Array(eps.length * PER * 2);
  let locality = 0;
  if (nameBytes !== u.key.length && LONE_SURROGATE.test(u.key)) return -1;
  for (let i = 0, z = 0; i < eps.length; i++, z += PER) {
    const e = eps[i]!;
    const host = utf8Length(e.host);
    const hostname = utf8Length(e.instanceId);
    if ((host !== e.host.length && LONE_SURROGATE.test(e.host)) || (hostname !== e.instanceId.length && LONE_SURROGATE.test(e.instanceId))) return -1;
    const socket = socketSize(host, e.port);
    // Address { socket_address = 1 }
    const address = ld(socket);
    // Endpoint { address = 1; hostname = 3 }
    const endpoint = ld(address) + (hostname ? ld(hostname) : 0);
    // LbEndpoint { endpoint = 1 }
    const lb = ld(endpoint);
    sizes[z + HOST] = host;
    sizes[z + HOSTNAME] = hostname;
    sizes[z + SOCKET] = socket;
    sizes[z + ADDRESS] = address;
    sizes[z + ENDPOINT] = endpoint;
    sizes[z + LB] = lb;
    locality += ld(lb);
  }
  localitySize = locality;
  return (nameBytes ? ld(nameBytes) : 0) + ld(locality);
}

/** Where writeShortEndpoints writes (grown as needed). */
let scratch = Buffer.allocUnsafe(16 * 1024);

/** An ASCII string copied to scratch at `off`; -1 if it is not ASCII. */
function copyAscii(s: string, off: number): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    scratch[off++] = c;
  }
  return off;
}

/**
 * The LocalityLbEndpoints message of u's endpoints written to `scratch` in one pass, when every
 * endpoint's messages are below 128 bytes (their lengths take one byte, patched in once written)
 * and its strings ASCII: the common case, with no pass to measure first. Returns its size, or
 * -1 if an endpoint is not like that (the caller measures, then writes).
 */
function writeShortEndpoints(u: UpstreamIR): number {
  const eps = u.endpoints;
  let off = 0;
  for (let i = 0; i < eps.length; i++) {
    const e = eps[i]!;
    const { host, instanceId } = e;
    // Longer strings could make a message 128 bytes or more.
    if (host.length > 96 || instanceId.length > 96) return -1;
    // At most 8 tag and length bytes, 2 strings of 96 and a port before giving up.
    if (off + 256 > scratch.length) scratch = Buffer.concat([scratch.subarray(0, off), Buffer.allocUnsafe(scratch.length)]);
    scratch[off] = 0x12; // LocalityLbEndpoints.lb_endpoints
    const lb = off + 1;
    scratch[lb + 1] = 0x0a; // LbEndpoint.endpoint
    const endpoint = lb + 2;
    scratch[endpoint + 1] = 0x0a; // Endpoint.address
    const address = endpoint + 2;
    scratch[address + 1] = 0x0a; // Address.socket_address
    const socket = address + 2;
    off = socket + 1;
    if (host.length) {
      scratch[off] = 0x12; // SocketAddress.address
      scratch[off + 1] = host.length;
      off = copyAscii(host, off + 2);
      if (off < 0) return -1;
    }
    scratch[off++] = 0x18; // SocketAddress.port_value
    off = writeVarint(scratch, off, e.port);
    scratch[socket] = off - socket - 1;
    scratch[address] = off - address - 1;
    if (instanceId.length) {
      scratch[off] = 0x1a; // Endpoint.hostname
      scratch[off + 1] = instanceId.length;
      off = copyAscii(instanceId, off + 2);
      if (off < 0) return -1;
    }
    const n = off - endpoint - 1;
    if (n >= 0x80 - 2) return -1; // (LbEndpoint's length is n + 2)
    scratch[endpoint] = n;
    scratch[lb] = n + 2;
  }
  return off;
}

/** ClusterLoadAssignment's cluster_name (when not empty) and the tag and length of its one LocalityLbEndpoints. */
function writeAssignmentHeader(buf: Buffer, off: number, name: string, nameBytes: number, localitySize: number): number {
  if (nameBytes) {
    buf[off++] = 0x0a; // ClusterLoadAssignment.cluster_name
    off = writeVarint(buf, off, nameBytes);
    off = writeUtf8(buf, off, name, nameBytes);
  }
  buf[off++] = 0x12; // ClusterLoadAssignment.endpoints
  return writeVarint(buf, off, localitySize);
}

/** The measured assignment, written at `off` (its size `size`). */
function writeAssignment(u: UpstreamIR, nameBytes: number, size: number, buf: Buffer, off: number): number {
  const end = off + size;
  off = writeAssignmentHeader(buf, off, u.key, nameBytes, localitySize);
  const eps = u.endpoints;
  for (let i = 0, z = 0; i < eps.length; i++, z += PER) {
    const e = eps[i]!;
    buf[off++] = 0x12; // LocalityLbEndpoints.lb_endpoints
    off = writeVarint(buf, off, sizes[z + LB]!);
    buf[off++] = 0x0a; // LbEndpoint.endpoint
    off = writeVarint(buf, off, sizes[z + ENDPOINT]!);
    buf[off++] = 0x0a; // Endpoint.address
    off = writeVarint(buf, off, sizes[z + ADDRESS]!);
    off = writeAddress(buf, off, e.host, sizes[z + HOST]!, e.port, sizes[z + SOCKET]!);
    const hostname = sizes[z + HOSTNAME]!;
    if (hostname) {
      buf[off++] = 0x1a; // Endpoint.hostname
      off = writeVarint(buf, off, hostname);
      off = writeUtf8(buf, off, e.instanceId, hostname);
    }
  }
  if (off !== end) throw new Error(`bug: load assignment encoded ${off} of ${end} bytes`);
  return off;
}

/**
 * loadAssignment(u), encoded into one buffer (sizes first, then the bytes):
 * ClusterLoadAssignment { cluster_name = 1; endpoints = 2: LocalityLbEndpoints { lb_endpoints = 2:
 * LbEndpoint { endpoint = 1: Endpoint { address = 1; hostname = 3 } } } }.
 */
export function loadAssignmentBytes(u: UpstreamIR): Buffer {
  const nameBytes = utf8Length(u.key);
  const size = measure(u, nameBytes);
  if (size < 0) return Buffer.from(encodeFromJson(messageType(TYPE.ENDPOINT), loadAssignment(u)));
  const buf = Buffer.allocUnsafe(size);
  writeAssignment(u, nameBytes, size, buf, 0);
  return buf;
}

/** resourceFromBytes(TYPE.ENDPOINT, u.key, loadAssignmentBytes(u)), written after what its version hashes first (one buffer, no copy). */
export function loadAssignmentResource(u: UpstreamIR): Resource {
  const nameBytes = utf8Length(u.key);
  const locality = nameBytes !== u.key.length && LONE_SURROGATE.test(u.key) ? -1 : writeShortEndpoints(u);
  if (locality >= 0) {
    // The endpoints are in `scratch`: the header, then a copy of them.
    const at = versionPrefixLength(TYPE.ENDPOINT, nameBytes);
    const buf = Buffer.allocUnsafe(at + (nameBytes ? ld(nameBytes) : 0) + ld(locality));
    let off = writeVersionPrefix(buf, TYPE.ENDPOINT, u.key, nameBytes);
    off = writeAssignmentHeader(buf, off, u.key, nameBytes, locality);
    buf.set(scratch.subarray(0, locality), off);
    return resourceFromPrefixed(TYPE.ENDPOINT, u.key, buf, at);
  }
  const size = measure(u, nameBytes);
  if (size < 0) return resourceFromBytes(TYPE.ENDPOINT, u.key, loadAssignmentBytes(u));
  const at = versionPrefixLength(TYPE.ENDPOINT, nameBytes);
  const buf = Buffer.allocUnsafe(at + size);
  writeVersionPrefix(buf, TYPE.ENDPOINT, u.key, nameBytes);
  writeAssignment(u, nameBytes, size, buf, at);
  return resourceFromPrefixed(TYPE.ENDPOINT, u.key, buf, at);
}
