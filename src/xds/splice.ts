// Resources that differ only in one field, encoded once. The message minus that field is
// encoded as two parts, the fields numbered below it and those above it; each instance is then
// low + the field + high. protobufjs writes fields in field-number order, so the bytes are
// exactly what encoding the whole message gives (tests compare both), and so are the content
// hashes. Used where thousands of proxies hold a resource that varies in one small field
// (a sidecar's inbound listener address, its local app's load assignment).
import { emptyRefs, encodeFromJson, ProtoJsonError } from './json.js';
import { messageType } from './protos.js';
import { type Resource, resourceFromPrefixed, type ResourceRefs, versionPrefixLength, writeVersionPrefix } from './resource.js';
import type { TypeUrl } from './type-urls.js';
import { utf8Length, varintSize, writeVarint } from './wire.js';

export interface SplicedTemplate {
  readonly typeUrl: TypeUrl;
  readonly name: string;
  readonly low: Buffer;
  readonly high: Buffer;
  readonly field: number;
  readonly refs: ResourceRefs;
}

/**
 * `json` (proto field names, without `field`) as a template for messages that differ in the
 * message-typed field `field`. The references the template names are collected as usual.
 */
export function spliceTemplate(typeUrl: TypeUrl, name: string, json: Record<string, unknown>, field: string): SplicedTemplate {
  const type = messageType(typeUrl);
  const f = type.fields[field];
  if (!f) throw new ProtoJsonError(`no field "${field}" in ${type.name}`, '');
  const low: Record<string, unknown> = {};
  const high: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    const g = type.fields[k];
    if (!g) throw new ProtoJsonError(`template key "${k}" is not a field name of ${type.name}`, k);
    if (g.id === f.id) throw new ProtoJsonError(`the template sets the spliced field "${field}"`, k);
    (g.id < f.id ? low : high)[k] = v;
  }
  const refs = emptyRefs();
  const lowBytes = Buffer.from(encodeFromJson(type, low, refs));
  const highBytes = Buffer.from(encodeFromJson(type, high, refs));
  return {
    typeUrl,
    name,
    low: lowBytes,
    high: highBytes,
    field: f.id,
    refs: { clusters: [...refs.clusters].sort(), routes: [...refs.routes].sort(), secrets: [...refs.secrets].sort(), endpoints: [] },
  };
}

/** The template with `value` (the encoded field message) in its place, written after what its version hashes first. */
export function splicedResource(t: SplicedTemplate, value: Uint8Array): Resource {
  const tag = t.field * 8 + 2;
  const size = t.low.length + varintSize(tag) + varintSize(value.length) + value.length + t.high.length;
  const nameBytes = utf8Length(t.name);
  const at = versionPrefixLength(t.typeUrl, nameBytes);
  const buf = Buffer.allocUnsafe(at + size);
  let off = writeVersionPrefix(buf, t.typeUrl, t.name, nameBytes);
  buf.set(t.low, off);
  off = writeVarint(buf, off + t.low.length, tag);
  off = writeVarint(buf, off, value.length);
  buf.set(value, off);
  buf.set(t.high, off + value.length);
  return resourceFromPrefixed(t.typeUrl, t.name, buf, at, t.refs);
}
