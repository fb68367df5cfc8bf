// Just enough protobuf for the load generator: encode discovery requests by hand and read
// discovery responses one level deep (type URL, version, nonce, resource names, removed
// names) without decoding resources. A few fixed paths into Cluster, Listener and
// ClusterLoadAssignment bodies give the names a real Envoy would subscribe to next (EDS
// names from clusters, RDS names from listeners, SDS names from both) and, for the
// endpoint-churn scenario, a marker port in an assignment. Field numbers are Envoy v3's.

// ---------------------------------------------------------------------------------------
// Writing

function varintBytes(n: number, out: number[]): void {
  let v = n;
  while (v > 0x7f) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function header(field: number, len: number): Buffer {
  const b: number[] = [];
  varintBytes(field * 8 + 2, b);
  varintBytes(len, b);
  return Buffer.from(b);
}

export function bytesField(field: number, payload: Buffer): Buffer {
  return Buffer.concat([header(field, payload.length), payload]);
}

export function strField(field: number, s: string): Buffer {
  if (s === '') return Buffer.alloc(0);
  return bytesField(field, Buffer.from(s, 'utf8'));
}

export interface NodeSpec {
  id: string;
  cluster: string;
  /** String-valued node metadata (e.g. meshgate.token). */
  metadata?: Record<string, string>;
}

/** envoy.config.core.v3.Node { id=1, cluster=2, metadata=3 (Struct), user_agent_name=6, user_agent_version=7 }. */
export function encodeNode(n: NodeSpec): Buffer {
  const parts: Buffer[] = [strField(1, n.id), strField(2, n.cluster)];
  const md = Object.entries(n.metadata ?? {});
  if (md.length) {
    // google.protobuf.Struct { map<string, Value> fields = 1 }; Value { string_value = 3 }
    const entries = md.map(([k, v]) => bytesField(1, Buffer.concat([strField(1, k), bytesField(2, strField(3, v))])));
    parts.push(bytesField(3, Buffer.concat(entries)));
  }
  parts.push(strField(6, 'envoy'), strField(7, '1.40.0/bench'));
  return Buffer.concat(parts);
}

export interface SotwRequestSpec {
  node?: Buffer | null;
  typeUrl: string;
  versionInfo?: string;
  names?: readonly string[];
  nonce?: string;
}

/** DiscoveryRequest { version_info=1, node=2, resource_names=3, type_url=4, response_nonce=5 }. */
export function encodeSotwRequest(r: SotwRequestSpec): Buffer {
  const parts: Buffer[] = [strField(1, r.versionInfo ?? '')];
  if (r.node) parts.push(bytesField(2, r.node));
  for (const n of r.names ?? []) parts.push(bytesField(3, Buffer.from(n, 'utf8')));
  parts.push(strField(4, r.typeUrl), strField(5, r.nonce ?? ''));
  return Buffer.concat(parts);
}

export interface DeltaRequestSpec {
  node?: Buffer | null;
  typeUrl: string;
  subscribe?: readonly string[];
  unsubscribe?: readonly string[];
  nonce?: string;
}

/** DeltaDiscoveryRequest { node=1, type_url=2, subscribe=3, unsubscribe=4, response_nonce=6 }. */
export function encodeDeltaRequest(r: DeltaRequestSpec): Buffer {
  const parts: Buffer[] = [];
  if (r.node) parts.push(bytesField(1, r.node));
  parts.push(strField(2, r.typeUrl));
  for (const n of r.subscribe ?? []) parts.push(bytesField(3, Buffer.from(n, 'utf8')));
  for (const n of r.unsubscribe ?? []) parts.push(bytesField(4, Buffer.from(n, 'utf8')));
  parts.push(strField(6, r.nonce ?? ''));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------
// Reading

/** A cursor over one message's fields. Only wire types 0, 1, 2 and 5 occur in xDS. */
export class FieldReader {
  pos: number;
  field = 0;
  wireType = 0;
  /** For wire type 2: the payload's bounds. For 0: the value. */
  start = 0;
  end = 0;
  value = 0;

  constructor(
    readonly buf: Buffer,
    from = 0,
    readonly limit = buf.length,
  ) {
    this.pos = from;
  }

  private varint(): number {
    const b = this.buf;
    let result = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.limit) throw new RangeError('truncated varint');
      const byte = b[this.pos++]!;
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) return result;
      mul *= 128;
    }
  }

  /** Advance to the next field; false at the end. */
  next(): boolean {
    if (this.pos >= this.limit) return false;
    const tag = this.varint();
    this.field = Math.floor(tag / 8);
    this.wireType = tag & 7;
    switch (this.wireType) {
      case 0:
        this.value = this.varint();
        break;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const len = this.varint();
        this.start = this.pos;
        this.end = this.pos + len;
        if (this.end > this.limit) throw new RangeError('truncated field');
        this.pos = this.end;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new RangeError(`unsupported wire type ${this.wireType}`);
    }
    return true;
  }

  string(): string {
    return this.buf.toString('utf8', this.start, this.end);
  }

  sub(): FieldReader {
    return new FieldReader(this.buf, this.start, this.end);
  }
}

/** Field 1 (the name in Cluster, Listener, RouteConfiguration, Secret; cluster_name in a CLA). */
export function nameOf(buf: Buffer, start: number, end: number): string {
  const r = new FieldReader(buf, start, end);
  while (r.next()) if (r.field === 1 && r.wireType === 2) return r.string();
  return '';
}

export interface AnyRef {
  typeUrl: string;
  /** Bounds of the Any's value inside the response buffer. */
  start: number;
  end: number;
}

export interface DecodedResponse {
  typeUrl: string;
  /** version_info (SotW) or system_version_info (Delta). */
  version: string;
  nonce: string;
  /** SotW: every resource; Delta: the resources sent (only when asked for: see the decoders). */
  resources: Array<{ name: string; version: string; any: AnyRef | null }>;
  /** Number of resources in the response. */
  count: number;
  removed: string[];
}

function readAny(r: FieldReader): AnyRef {
  const a = r.sub();
  const out: AnyRef = { typeUrl: '', start: 0, end: 0 };
  while (a.next()) {
    if (a.field === 1 && a.wireType === 2) out.typeUrl = a.string();
    else if (a.field === 2 && a.wireType === 2) {
      out.start = a.start;
      out.end = a.end;
    }
  }
  return out;
}

/** DiscoveryResponse { version_info=1, resources=2 (Any), type_url=4, nonce=5 }. Resources are listed only if `wantNames`. */
export function decodeSotwResponse(buf: Buffer, wantNames: boolean): DecodedResponse {
  const r = new FieldReader(buf);
  const out: DecodedResponse = { typeUrl: '', version: '', nonce: '', resources: [], count: 0, removed: [] };
  while (r.next()) {
    if (r.wireType !== 2) continue;
    switch (r.field) {
      case 1:
        out.version = r.string();
        break;
      case 2:
        out.count++;
        if (wantNames) {
          const any = readAny(r);
          out.resources.push({ name: nameOf(buf, any.start, any.end), version: '', any });
        }
        break;
      case 4:
        out.typeUrl = r.string();
        break;
      case 5:
        out.nonce = r.string();
        break;
    }
  }
  return out;
}

/** DeltaDiscoveryResponse { system_version_info=1, resources=2 (Resource{version=1, resource=2, name=3}), type_url=4, nonce=5, removed_resources=6 }. */
export function decodeDeltaResponse(buf: Buffer, wantBodies: boolean): DecodedResponse {
  const r = new FieldReader(buf);
  const out: DecodedResponse = { typeUrl: '', version: '', nonce: '', resources: [], count: 0, removed: [] };
  while (r.next()) {
    if (r.wireType !== 2) continue;
    switch (r.field) {
      case 1:
        out.version = r.string();
        break;
      case 2: {
        const res = r.sub();
        let name = '';
        let version = '';
        let any: AnyRef | null = null;
        while (res.next()) {
          if (res.wireType !== 2) continue;
          if (res.field === 3) name = res.string();
          else if (res.field === 1) version = res.string();
          else if (res.field === 2 && wantBodies) any = readAny(res);
        }
        out.count++;
        out.resources.push({ name, version, any });
        break;
      }
      case 4:
        out.typeUrl = r.string();
        break;
      case 5:
        out.nonce = r.string();
        break;
      case 6:
        out.removed.push(r.string());
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// References inside resources (fixed paths, Envoy v3 field numbers)

export interface Refs {
  endpoints: string[];
  routes: string[];
  secrets: string[];
}

/** Every message at `path` (a list of length-delimited field numbers) under [start, end). */
function each(buf: Buffer, start: number, end: number, path: readonly number[], fn: (start: number, end: number) => void): void {
  if (path.length === 0) {
    fn(start, end);
    return;
  }
  const [head, ...rest] = path;
  const r = new FieldReader(buf, start, end);
  while (r.next()) if (r.field === head && r.wireType === 2) each(buf, r.start, r.end, rest, fn);
}

/** SDS secret names in a CommonTlsContext (tls_certificate_sds_secret_configs=6, validation_context_sds_secret_config=7, combined_validation_context=8 → 2). */
function tlsSecrets(buf: Buffer, start: number, end: number, out: string[]): void {
  const name = (s: number, e: number): void => {
    const n = nameOf(buf, s, e);
    if (n) out.push(n);
  };
  each(buf, start, end, [6], name);
  each(buf, start, end, [7], name);
  each(buf, start, end, [8, 2], name);
}

/** TransportSocket { typed_config = 3 (Any → value 2) } → *TlsContext { common_tls_context = 1 }. */
function transportSocketSecrets(buf: Buffer, start: number, end: number, out: string[]): void {
  each(buf, start, end, [3, 2, 1], (s, e) => tlsSecrets(buf, s, e, out));
}

/** Cluster { name=1, type=2 (EDS=3), eds_cluster_config=3 { service_name=2 }, transport_socket=24 }. */
export function clusterRefs(buf: Buffer, start: number, end: number): Refs {
  const r = new FieldReader(buf, start, end);
  let name = '';
  let eds = false;
  let serviceName = '';
  const secrets: string[] = [];
  while (r.next()) {
    if (r.field === 1 && r.wireType === 2) name = r.string();
    else if (r.field === 2 && r.wireType === 0) eds = r.value === 3;
    else if (r.field === 3 && r.wireType === 2) {
      const c = r.sub();
      while (c.next()) if (c.field === 2 && c.wireType === 2) serviceName = c.string();
    } else if (r.field === 24 && r.wireType === 2) transportSocketSecrets(buf, r.start, r.end, secrets);
  }
  return { endpoints: eds ? [serviceName || name] : [], routes: [], secrets };
}

/**
 * Listener { filter_chains=3 { filters=3 { typed_config=4 (Any) → HttpConnectionManager { rds=3 { route_config_name=2 } } }, transport_socket=6 } }.
 * Only filters whose Any type is the HttpConnectionManager are looked into (a TcpProxy's
 * field 3 means something else).
 */
export function listenerRefs(buf: Buffer, start: number, end: number): Refs {
  const routes: string[] = [];
  const secrets: string[] = [];
  each(buf, start, end, [3], (fcS, fcE) => {
    each(buf, fcS, fcE, [3, 4], (anyS, anyE) => {
      const a = new FieldReader(buf, anyS, anyE);
      let type = '';
      let vs = 0;
      let ve = 0;
      while (a.next()) {
        if (a.field === 1 && a.wireType === 2) type = a.string();
        else if (a.field === 2 && a.wireType === 2) {
          vs = a.start;
          ve = a.end;
        }
      }
      if (!type.endsWith('.HttpConnectionManager')) return;
      each(buf, vs, ve, [3], (rs, re) => {
        const rr = new FieldReader(buf, rs, re);
        while (rr.next()) if (rr.field === 2 && rr.wireType === 2) routes.push(rr.string());
      });
    });
    each(buf, fcS, fcE, [6], (ts, te) => transportSocketSecrets(buf, ts, te, secrets));
  });
  return { endpoints: [], routes, secrets };
}

/**
 * The largest endpoint port in a ClusterLoadAssignment { endpoints=2 { lb_endpoints=2 { endpoint=1
 * { address=1 { socket_address=1 { port_value=3 } } } } } } (the churn scenario's marker).
 */
export function maxEndpointPort(buf: Buffer, start: number, end: number): number {
  let max = -1;
  each(buf, start, end, [2, 2, 1, 1, 1], (s, e) => {
    const r = new FieldReader(buf, s, e);
    while (r.next()) if (r.field === 3 && r.wireType === 0 && r.value > max) max = r.value;
  });
  return max;
}
