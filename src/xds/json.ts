// Proto3 JSON <-> protobufjs messages, driven by the loaded descriptors.
//
// protobufjs' own fromObject/toObject do not speak canonical proto3 JSON for the well-known
// types Envoy uses everywhere (Duration "2s", wrappers as bare values, Struct as plain JSON,
// Any with "@type"), accept only one spelling of field names, and ignore unknown keys. This
// module does all three properly, rejects unknown fields with the path that holds them, and
// collects the names a resource refers to (clusters, route configs, secrets) while it walks,
// which is what make-before-break ordering needs. It is the product's core, so it is written
// here rather than borrowed.
import protobuf from 'protobufjs';
import { findMessageType, typeUrlOf } from './protos.js';

export class ProtoJsonError extends Error {
  constructor(
    message: string,
    /** Path inside the resource, e.g. "filter_chains[0].filters[0].typed_config.stat_prefix". */
    readonly path: string,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'ProtoJsonError';
  }
}

/** Names of other resources that one resource refers to. */
export interface Refs {
  clusters: Set<string>;
  routes: Set<string>;
  secrets: Set<string>;
}

export function emptyRefs(): Refs {
  return { clusters: new Set(), routes: new Set(), secrets: new Set() };
}

const MAX_DEPTH = 100;

function isDefaultScalar(v: unknown): boolean {
  return v === 0 || v === false || v === '' || (v instanceof Uint8Array && v.length === 0);
}

function withoutZeros<T extends Record<string, unknown>>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (!isDefaultScalar(v)) out[k as keyof T] = v as T[keyof T];
  return out;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Per message type: which field carries a reference to another resource. */
const REF_FIELDS: Record<string, { field: string; kind: keyof Refs; onlyWith?: string }[]> = {
  'envoy.config.route.v3.RouteAction': [{ field: 'cluster', kind: 'clusters' }],
  'envoy.config.route.v3.RouteAction.RequestMirrorPolicy': [{ field: 'cluster', kind: 'clusters' }],
  'envoy.config.route.v3.WeightedCluster.ClusterWeight': [{ field: 'name', kind: 'clusters' }],
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy': [{ field: 'cluster', kind: 'clusters' }],
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster.ClusterWeight': [
    { field: 'name', kind: 'clusters' },
  ],
  'envoy.config.core.v3.HttpUri': [{ field: 'cluster', kind: 'clusters' }],
  // GrpcService.EnvoyGrpc.cluster_name is not tracked: gRPC side services (access logs,
  // ext_authz) usually name static bootstrap clusters such as meshgate_xds.
  'envoy.extensions.filters.network.http_connection_manager.v3.Rds': [
    { field: 'route_config_name', kind: 'routes' },
  ],
  // A secret without sds_config is a static bootstrap secret, not one this server serves.
  'envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig': [{ field: 'name', kind: 'secrets', onlyWith: 'sds_config' }],
};

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

const fieldIndex = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

function fieldsByJsonOrProtoName(type: protobuf.Type): Map<string, protobuf.Field> {
  let m = fieldIndex.get(type);
  if (!m) {
    m = new Map();
    for (const f of type.fieldsArray) {
      m.set(f.name, f);
      const jsonName = (f.options?.['json_name'] as string | undefined) ?? camel(f.name);
      m.set(jsonName, f);
    }
    fieldIndex.set(type, m);
  }
  return m;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function isPlainObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

const DURATION_RE = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

function parseDuration(v: Json, path: string): { seconds?: number; nanos?: number } {
  if (typeof v !== 'string') throw new ProtoJsonError(`expected a duration string like "1.5s", got ${describe(v)}`, path);
  const m = DURATION_RE.exec(v);
  if (!m) throw new ProtoJsonError(`invalid duration ${JSON.stringify(v)}: expected seconds with an "s" suffix, e.g. "0.25s"`, path);
  const sign = m[1] ? -1 : 1;
  const seconds = Number(m[2]);
  if (seconds > 315576000000) throw new ProtoJsonError(`duration ${v} out of range`, path);
  const nanos = m[3] ? Number(m[3].padEnd(9, '0')) : 0;
  return withoutZeros({ seconds: sign * seconds, nanos: sign * nanos });
}

function parseTimestamp(v: Json, path: string): { seconds?: number; nanos?: number } {
  if (typeof v !== 'string') throw new ProtoJsonError(`expected an RFC 3339 timestamp, got ${describe(v)}`, path);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new ProtoJsonError(`invalid timestamp ${JSON.stringify(v)}`, path);
  const frac = /\.(\d{1,9})/.exec(v)?.[1] ?? '';
  return withoutZeros({ seconds: Math.floor(ms / 1000), nanos: Number(frac.padEnd(9, '0') || 0) });
}

/**
 * Field names of google.protobuf.Value as loaded. protobufjs predefines struct.proto
 * (src/common.js) with lowerCamelCase names whatever `keepCase` says, so they are looked up
 * by field number rather than spelled here.
 */
let valueFieldNames: { null: string; number: string; string: string; bool: string; struct: string; list: string } | undefined;
function valueFields(): NonNullable<typeof valueFieldNames> {
  if (!valueFieldNames) {
    const t = findMessageType('google.protobuf.Value');
    const by = (id: number): string => {
      const f = t?.fieldsById[id];
      if (!f) throw new Error(`google.protobuf.Value has no field ${id}`);
      return f.name;
    };
    valueFieldNames = { null: by(1), number: by(2), string: by(3), bool: by(4), struct: by(5), list: by(6) };
  }
  return valueFieldNames;
}

function jsonToValue(v: Json, path: string, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw new ProtoJsonError('nesting too deep', path);
  const k = valueFields();
  if (v === null) return { [k.null]: 0 };
  if (typeof v === 'number') return { [k.number]: v };
  if (typeof v === 'string') return { [k.string]: v };
  if (typeof v === 'boolean') return { [k.bool]: v };
  if (Array.isArray(v)) return { [k.list]: { values: v.map((x, i) => jsonToValue(x, `${path}[${i}]`, depth + 1)) } };
  return { [k.struct]: jsonToStruct(v, path, depth + 1) };
}

function jsonToStruct(v: Json, path: string, depth: number): Record<string, unknown> {
  if (!isPlainObject(v)) throw new ProtoJsonError(`expected an object, got ${describe(v)}`, path);
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) fields[k] = jsonToValue(v[k] as Json, join(path, k), depth + 1);
  return { fields };
}

const WRAPPERS = new Set([
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

const fullNames = new WeakMap<protobuf.Type, string>();

/** The type's name without the leading dot. Memoised: protobufjs rebuilds it from the parents on every read. */
function fullName(type: protobuf.Type): string {
  let n = fullNames.get(type);
  if (n === undefined) {
    n = type.fullName.startsWith('.') ? type.fullName.slice(1) : type.fullName;
    fullNames.set(type, n);
  }
  return n;
}

class Converter {
  constructor(readonly refs: Refs) {}

  /** JSON → object shaped for type.fromObject (Any already encoded to bytes). */
  message(type: protobuf.Type, v: Json, path: string, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) throw new ProtoJsonError('nesting too deep', path);
    const name = fullName(type);
    switch (name) {
      case 'google.protobuf.Duration':
        return parseDuration(v, path);
      case 'google.protobuf.Timestamp':
        return parseTimestamp(v, path);
      case 'google.protobuf.Struct':
        return jsonToStruct(v, path, depth);
      case 'google.protobuf.Value':
        return jsonToValue(v, path, depth);
      case 'google.protobuf.ListValue':
        if (!Array.isArray(v)) throw new ProtoJsonError(`expected a list, got ${describe(v)}`, path);
        return { values: v.map((x, i) => jsonToValue(x, `${path}[${i}]`, depth + 1)) };
      case 'google.protobuf.FieldMask':
        if (typeof v !== 'string') throw new ProtoJsonError(`expected a field mask string, got ${describe(v)}`, path);
        return { paths: v === '' ? [] : v.split(',').map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) };
      case 'google.protobuf.Any':
        return this.any(v, path, depth);
      default:
        if (WRAPPERS.has(name)) {
          const inner = type.fields['value'];
          if (!inner) throw new ProtoJsonError(`malformed wrapper type ${name}`, path);
          if (isPlainObject(v) && 'value' in v) v = v['value'] as Json; // tolerate {value: x}
          return withoutZeros({ value: this.scalar(inner, v, path) });
        }
    }
    if (!isPlainObject(v)) throw new ProtoJsonError(`expected an object for ${name}, got ${describe(v)}`, path);
    const byName = fieldsByJsonOrProtoName(type);
    const out: Record<string, unknown> = {};
    const oneofSeen = new Map<string, string>();
    const keyOf = new Map<string, string>(); // field name → the key that set it
    for (const key of Object.keys(v)) {
      const field = byName.get(key);
      const fpath = join(path, key);
      if (!field) throw new ProtoJsonError(`unknown field "${key}" in ${name}`, fpath);
      const twice = keyOf.get(field.name);
      if (twice !== undefined) throw new ProtoJsonError(`"${key}" and "${twice}" are the same field; set it once`, fpath);
      keyOf.set(field.name, key);
      const value = v[key] as Json;
      if (value === null && fullName(type) !== 'google.protobuf.Value') continue; // null means unset
      if (field.partOf) {
        const other = oneofSeen.get(field.partOf.name);
        if (other && other !== field.name) {
          throw new ProtoJsonError(`"${field.name}" and "${other}" are alternatives (oneof ${field.partOf.name}); set only one`, fpath);
        }
        oneofSeen.set(field.partOf.name, field.name);
      }
      const converted = this.field(field, value, fpath, depth + 1);
      // Canonical proto3: a plain scalar or enum at its default is not written (as other
      // encoders do), so `codec_type: AUTO` or `nanos: 0` costs no bytes and no version change.
      // Oneof members and proto3 `optional` fields (synthetic oneofs) keep explicit zeros.
      if (!field.partOf && !field.repeated && !field.map && isDefaultScalar(converted)) continue;
      out[field.name] = converted;
    }
    const hooks = REF_FIELDS[name];
    if (hooks) {
      for (const h of hooks) {
        const ref = out[h.field];
        if (h.onlyWith && out[h.onlyWith] === undefined) continue;
        if (typeof ref === 'string' && ref !== '') this.refs[h.kind].add(ref);
      }
    }
    return out;
  }

  private field(field: protobuf.Field, v: Json, path: string, depth: number): unknown {
    field.resolve();
    if (field.map) {
      if (!isPlainObject(v)) throw new ProtoJsonError(`expected an object (map), got ${describe(v)}`, path);
      const out: Record<string, unknown> = {};
      // For a map field, type/resolvedType describe the value.
      for (const k of Object.keys(v).sort()) {
        out[k] = this.single(field, v[k] as Json, `${path}.${k}`, depth);
      }
      return out;
    }
    if (field.repeated) {
      if (!Array.isArray(v)) throw new ProtoJsonError(`expected a list, got ${describe(v)}`, path);
      return v.map((x, i) => this.single(field, x, `${path}[${i}]`, depth));
    }
    return this.single(field, v, path, depth);
  }

  private single(field: protobuf.Field, v: Json, path: string, depth: number): unknown {
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Type) return this.message(rt, v, path, depth);
    if (rt instanceof protobuf.Enum) {
      if (typeof v === 'string') {
        if (!Object.prototype.hasOwnProperty.call(rt.values, v)) {
          throw new ProtoJsonError(`unknown value ${JSON.stringify(v)} for enum ${rt.name}; expected one of ${Object.keys(rt.values).join(', ')}`, path);
        }
        return rt.values[v];
      }
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      throw new ProtoJsonError(`expected an enum name for ${rt.name}, got ${describe(v)}`, path);
    }
    return this.scalar(field, v, path);
  }

  private scalar(field: protobuf.Field, v: Json, path: string): unknown {
    switch (field.type) {
      case 'string':
        if (typeof v !== 'string') throw new ProtoJsonError(`expected a string, got ${describe(v)}`, path);
        return v;
      case 'bool':
        if (typeof v !== 'boolean') throw new ProtoJsonError(`expected true or false, got ${describe(v)}`, path);
        return v;
      case 'bytes':
        if (typeof v !== 'string') throw new ProtoJsonError(`expected base64 bytes, got ${describe(v)}`, path);
        return Buffer.from(v, 'base64');
      case 'double':
      case 'float':
        if (typeof v === 'number') return v;
        if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
        throw new ProtoJsonError(`expected a number, got ${describe(v)}`, path);
      case 'int32':
      case 'sint32':
      case 'sfixed32':
      case 'uint32':
      case 'fixed32':
      case 'int64':
      case 'sint64':
      case 'sfixed64':
      case 'uint64':
      case 'fixed64': {
        const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
        if (typeof n !== 'number' || !Number.isInteger(n)) throw new ProtoJsonError(`expected an integer, got ${describe(v)}`, path);
        if (field.type.startsWith('u') || field.type === 'fixed32' || field.type === 'fixed64') {
          if (n < 0) throw new ProtoJsonError(`expected a non-negative integer, got ${n}`, path);
        }
        const unsigned32 = field.type === 'uint32' || field.type === 'fixed32';
        if (field.type.endsWith('32') && (n > (unsigned32 ? 0xffffffff : 0x7fffffff) || n < -0x80000000)) {
          throw new ProtoJsonError(`integer ${n} out of 32-bit range`, path);
        }
        return n;
      }
      default:
        throw new ProtoJsonError(`unsupported field type ${field.type}`, path);
    }
  }

  private any(v: Json, path: string, depth: number): Record<string, unknown> {
    if (!isPlainObject(v)) throw new ProtoJsonError(`expected an object with "@type", got ${describe(v)}`, path);
    const url = v['@type'];
    if (typeof url !== 'string' || url === '') throw new ProtoJsonError('an Any needs "@type"', path);
    const inner = findMessageType(url);
    if (!inner) throw new ProtoJsonError(`unknown type ${JSON.stringify(url)} (not in the loaded Envoy API)`, join(path, '@type'));
    const rest: Record<string, Json> = {};
    for (const k of Object.keys(v)) if (k !== '@type') rest[k] = v[k] as Json;
    const innerName = fullName(inner);
    const special = innerName.startsWith('google.protobuf.') && (WRAPPERS.has(innerName) || ['google.protobuf.Duration', 'google.protobuf.Timestamp', 'google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue', 'google.protobuf.FieldMask'].includes(innerName));
    const body = special ? (rest['value'] as Json) : rest;
    const obj = this.message(inner, body, path, depth + 1);
    const bytes = inner.encode(obj).finish();
    return { type_url: typeUrlOf(innerName), value: bytes };
  }
}

/** Convert proto3 JSON (snake_case or lowerCamelCase keys) to an encoded message. */
export function encodeFromJson(type: protobuf.Type, json: unknown, refs: Refs = emptyRefs()): Uint8Array {
  const conv = new Converter(refs);
  const obj = conv.message(type, json as Json, '', 0);
  // The converter already produces what protobufjs' encoder reads (enum numbers, Buffers for
  // bytes, encoded Anys, plain nested objects): fromObject would copy it all once more.
  return type.encode(obj).finish();
}

// ---------------------------------------------------------------------------------------------
// Encoded message → canonical proto3 JSON (snake_case names, as Envoy's /config_dump prints).

function durationToJson(m: { seconds?: unknown; nanos?: number }): string {
  const s = Number(m.seconds ?? 0);
  const n = m.nanos ?? 0;
  const neg = s < 0 || n < 0;
  let frac = '';
  if (n !== 0) {
    frac = String(Math.abs(n)).padStart(9, '0');
    frac = '.' + (frac.endsWith('000000') ? frac.slice(0, 3) : frac.endsWith('000') ? frac.slice(0, 6) : frac);
  }
  return `${neg ? '-' : ''}${Math.abs(s)}${frac}s`;
}

function longToJson(v: unknown): string {
  return typeof v === 'object' && v !== null && 'toString' in v ? String(v) : String(v);
}

function valueToJson(m: Record<string, unknown>): unknown {
  // Own properties only: a decoded message carries every field's default on its prototype,
  // so `'nullValue' in m` is always true.
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(m, k);
  const k = valueFields();
  if (has(k.null)) return null;
  if (has(k.number)) return m[k.number];
  if (has(k.string)) return m[k.string];
  if (has(k.bool)) return m[k.bool];
  if (has(k.struct)) return structToJson(m[k.struct] as Record<string, unknown>);
  if (has(k.list)) return ((m[k.list] as { values?: Record<string, unknown>[] }).values ?? []).map(valueToJson);
  return null;
}

function structToJson(m: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (m['fields'] ?? {}) as Record<string, Record<string, unknown>>;
  for (const k of Object.keys(fields).sort()) out[k] = valueToJson(fields[k] as Record<string, unknown>);
  return out;
}

function messageToJson(type: protobuf.Type, m: protobuf.Message | Record<string, unknown>): unknown {
  const name = fullName(type);
  const rec = m as Record<string, unknown>;
  switch (name) {
    case 'google.protobuf.Duration':
      return durationToJson(rec as { seconds?: unknown; nanos?: number });
    case 'google.protobuf.Timestamp': {
      const ms = Number(rec['seconds'] ?? 0) * 1000 + Math.floor(Number(rec['nanos'] ?? 0) / 1e6);
      return new Date(ms).toISOString().replace('.000Z', 'Z');
    }
    case 'google.protobuf.Struct':
      return structToJson(rec);
    case 'google.protobuf.Value':
      return valueToJson(rec);
    case 'google.protobuf.ListValue':
      return ((rec['values'] ?? []) as Record<string, unknown>[]).map(valueToJson);
    case 'google.protobuf.FieldMask':
      return ((rec['paths'] ?? []) as string[]).map(camel).join(',');
    case 'google.protobuf.Any':
      return anyToJson(rec['type_url'] as string, rec['value'] as Uint8Array);
    default:
      if (WRAPPERS.has(name)) {
        const f = type.fields['value'];
        return f ? scalarToJson(f, rec['value']) : rec['value'];
      }
  }
  const out: Record<string, unknown> = {};
  for (const f of type.fieldsArray) {
    if (!Object.prototype.hasOwnProperty.call(rec, f.name)) continue;
    const v = rec[f.name];
    if (v === undefined || v === null) continue;
    f.resolve();
    if (f.map) {
      const entries = v as Record<string, unknown>;
      const keys = Object.keys(entries).sort();
      if (keys.length === 0) continue;
      const mo: Record<string, unknown> = {};
      for (const k of keys) mo[k] = singleToJson(f, entries[k]);
      out[f.name] = mo;
    } else if (f.repeated) {
      const arr = v as unknown[];
      if (arr.length === 0) continue;
      out[f.name] = arr.map((x) => singleToJson(f, x));
    } else {
      out[f.name] = singleToJson(f, v);
    }
  }
  return out;
}

function singleToJson(f: protobuf.Field, v: unknown): unknown {
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Type) return messageToJson(rt, v as Record<string, unknown>);
  if (rt instanceof protobuf.Enum) return rt.valuesById[v as number] ?? v;
  return scalarToJson(f, v);
}

function scalarToJson(f: protobuf.Field, v: unknown): unknown {
  switch (f.type) {
    case 'bytes':
      return Buffer.from(v as Uint8Array).toString('base64');
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return longToJson(v);
    default:
      return v;
  }
}

/** Decode an Any's payload to proto3 JSON with "@type". */
export function anyToJson(typeUrl: string, value: Uint8Array): Record<string, unknown> {
  const type = findMessageType(typeUrl);
  if (!type) return { '@type': typeUrl, value: Buffer.from(value).toString('base64') };
  const body = messageToJson(type, type.decode(value));
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    return { '@type': typeUrl, ...(body as Record<string, unknown>) };
  }
  return { '@type': typeUrl, value: body };
}

/** Decode an encoded message of `type` to proto3 JSON. */
export function decodeToJson(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  return messageToJson(type, type.decode(bytes)) as Record<string, unknown>;
}
