// One Envoy resource, encoded once: its bytes, content-hash version, the pre-framed fields
// that SotW and Delta responses concatenate, and the names of the resources it refers to.
import { hash } from 'node:crypto';
import { emptyRefs, encodeFromJson, ProtoJsonError } from './json.js';
import { messageType } from './protos.js';
import { TYPE, type TypeUrl } from './type-urls.js';
import { deltaEntrySize, sotwEntrySize, writeDeltaEntry, writeSotwEntry } from './entry-writer.js';
import { utf8Length, writeUtf8 } from './wire.js';

export interface ResourceRefs {
  readonly clusters: readonly string[];
  readonly routes: readonly string[];
  readonly secrets: readonly string[];
  /** ClusterLoadAssignment names an EDS cluster needs. */
  readonly endpoints: readonly string[];
}

export interface Resource {
  readonly typeUrl: TypeUrl;
  readonly name: string;
  /** Content hash of the encoded message: equal bytes give equal versions, on any replica. */
  readonly version: string;
  /** The encoded message (the Any's value). */
  readonly body: Buffer;
  /** DiscoveryResponse.resources entry: field 2, an Any. */
  readonly sotwField: Buffer;
  /** DeltaDiscoveryResponse.resources entry: field 2, a Resource{version, resource, name}. */
  readonly deltaField: Buffer;
  readonly refs: ResourceRefs;
}

const NAME_FIELD: Record<TypeUrl, string> = {
  [TYPE.CLUSTER]: 'name',
  [TYPE.ENDPOINT]: 'cluster_name',
  [TYPE.LISTENER]: 'name',
  [TYPE.ROUTE]: 'name',
  [TYPE.SECRET]: 'name',
};

/** Name order of resources (what responses and type versions use). */
export function byName(a: Resource, b: Resource): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Whether `list` is already in name order (then it needs no sort). */
export function inNameOrder(list: readonly Resource[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i - 1]!.name > list[i]!.name) return false;
  return true;
}

export function contentHash(...parts: string[]): string {
  return hash('sha256', parts.join(''), 'base64url').slice(0, 22);
}

const NO_REFS: ResourceRefs = Object.freeze({ clusters: [], routes: [], secrets: [], endpoints: [] });

/** Where resourceVersion lays out what it hashes (grown as needed; bodies above SCRATCH_MAX are concatenated instead). */
let scratch = Buffer.allocUnsafe(16 * 1024);
const SCRATCH_MAX = 1024 * 1024;

/**
 * A resource's version: the same value contentHash(typeUrl, '\0', name, '\0', body) gives, in one
 * call (crypto.hash is about twice as fast as a Hash object for these small inputs), over the
 * prefix and a copy of the body in a reused buffer (cheaper than concatenating them anew).
 */
function resourceVersion(typeUrl: TypeUrl, name: string, body: Buffer): string {
  const nameBytes = utf8Length(name);
  const size = versionPrefixLength(typeUrl, nameBytes) + body.length;
  if (size > SCRATCH_MAX) return hash('sha256', Buffer.concat([Buffer.from(`${typeUrl}\0${name}\0`, 'utf8'), body]), 'base64url').slice(0, 22);
  if (size > scratch.length) scratch = Buffer.allocUnsafe(Math.max(size, 2 * scratch.length));
  scratch.set(body, writeVersionPrefix(scratch, typeUrl, name, nameBytes));
  return hash('sha256', scratch.subarray(0, size), 'base64url').slice(0, 22);
}

/**
 * The framed fields are made when first served: most resources of a big mesh are built for
 * proxies that receive them later or never (a model edit rebuilds; a sidecar may never connect).
 */
class EncodedResource implements Resource {
  private sotw: Buffer | null = null;
  private delta: Buffer | null = null;
  constructor(
    readonly typeUrl: TypeUrl,
    readonly name: string,
    readonly version: string,
    readonly body: Buffer,
    readonly refs: ResourceRefs,
  ) {}

  get sotwField(): Buffer {
    if (!this.sotw) {
      this.sotw = Buffer.allocUnsafe(sotwEntrySize(this));
      writeSotwEntry(this.sotw, 0, this);
    }
    return this.sotw;
  }

  get deltaField(): Buffer {
    if (!this.delta) {
      this.delta = Buffer.allocUnsafe(deltaEntrySize(this));
      writeDeltaEntry(this.delta, 0, this);
    }
    return this.delta;
  }
}

/** Bytes of `${typeUrl}\0` (type URLs are ASCII), per type: the start of what a version hashes. */
const TYPE_PREFIX = new Map<string, Buffer>();

/** How many bytes resourceVersion hashes before the body: `${typeUrl}\0${name}\0`, `nameBytes` the name's UTF-8 length. */
export function versionPrefixLength(typeUrl: TypeUrl, nameBytes: number): number {
  return typeUrl.length + nameBytes + 2;
}

/**
 * Write what resourceVersion hashes before the body at the start of `buf`; returns where the
 * body starts. For encoders that write a body straight after it, so the version is one hash of
 * one buffer (resourceFromPrefixed) with no copy.
 */
export function writeVersionPrefix(buf: Buffer, typeUrl: TypeUrl, name: string, nameBytes: number): number {
  let t = TYPE_PREFIX.get(typeUrl);
  if (!t) TYPE_PREFIX.set(typeUrl, (t = Buffer.from(`${typeUrl}\0`, 'latin1')));
  t.copy(buf, 0);
  let off = t.length;
  off = writeUtf8(buf, off, name, nameBytes);
  buf[off++] = 0;
  return off;
}

/** A resource whose body is buf[at..], buf[0..at) holding what writeVersionPrefix wrote. */
export function resourceFromPrefixed(typeUrl: TypeUrl, name: string, buf: Buffer, at: number, refs: ResourceRefs = NO_REFS): Resource {
  const version = hash('sha256', buf, 'base64url').slice(0, 22);
  return new EncodedResource(typeUrl, name, version, buf.subarray(at), refs);
}

/** Build a resource from already-encoded bytes. */
export function resourceFromBytes(typeUrl: TypeUrl, name: string, body: Buffer, refs: ResourceRefs = NO_REFS): Resource {
  return new EncodedResource(typeUrl, name, resourceVersion(typeUrl, name, body), body, refs);
}

/** Build a resource from proto3 JSON. Throws ProtoJsonError (with a path) on bad input. */
export function resourceFromJson(typeUrl: TypeUrl, json: unknown): Resource {
  const type = messageType(typeUrl);
  const refs = emptyRefs();
  const body = Buffer.from(encodeFromJson(type, json, refs));
  const decoded = type.decode(body) as unknown as Record<string, unknown>;
  const name = decoded[NAME_FIELD[typeUrl]];
  if (typeof name !== 'string' || name === '') {
    throw new ProtoJsonError(`a ${type.name} needs a non-empty "${NAME_FIELD[typeUrl]}"`, '');
  }
  const endpoints: string[] = [];
  if (typeUrl === TYPE.CLUSTER) {
    // Cluster.DiscoveryType EDS = 3; eds_cluster_config.service_name defaults to the cluster name.
    if (decoded['type'] === 3) {
      const eds = decoded['eds_cluster_config'] as { service_name?: string } | undefined;
      endpoints.push(eds?.service_name || name);
    }
  }
  return resourceFromBytes(typeUrl, name, body, {
    clusters: [...refs.clusters].sort(),
    routes: [...refs.routes].sort(),
    secrets: [...refs.secrets].sort(),
    endpoints,
  });
}
