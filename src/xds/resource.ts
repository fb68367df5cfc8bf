// One Envoy resource, encoded once: its bytes, content-hash version, the pre-framed fields
// that SotW and Delta responses concatenate, and the names of the resources it refers to.
import { createHash } from 'node:crypto';
import { emptyRefs, encodeFromJson, ProtoJsonError } from './json.js';
import { messageType } from './protos.js';
import { TYPE, type TypeUrl } from './type-urls.js';
import { encodeAny, lengthDelimited, stringField } from './wire.js';

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

export function contentHash(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('base64url').slice(0, 22);
}

const NO_REFS: ResourceRefs = Object.freeze({ clusters: [], routes: [], secrets: [], endpoints: [] });

/** Build a resource from already-encoded bytes. */
export function resourceFromBytes(typeUrl: TypeUrl, name: string, body: Buffer, refs: ResourceRefs = NO_REFS): Resource {
  const version = contentHash(typeUrl, '\0', name, '\0', body);
  const any = encodeAny(typeUrl, body);
  const sotwField = lengthDelimited(2, any);
  // envoy.service.discovery.v3.Resource: version = 1, resource = 2, name = 3
  const deltaResource = Buffer.concat([stringField(1, version), lengthDelimited(2, any), stringField(3, name)]);
  const deltaField = lengthDelimited(2, deltaResource);
  return { typeUrl, name, version, body, sotwField, deltaField, refs };
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
