// The hand-written DiscoveryRequest / DeltaDiscoveryRequest decoders against protobufjs (what
// the server used before): randomised messages encoded with the registry, decoded by both,
// every field meshgate reads compared; every prefix of a message (truncation), random garbage,
// unknown fields of every wire type, and the malformed inputs the protocol tests send.
import { describe, expect, it } from 'vitest';
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest, discoveryRequestDecoder } from '../../src/xds/grpc/discovery-request.js';
import { messageType } from '../../src/xds/protos.js';
import { structToPlain } from '../../src/xds/stream-base.js';
import { rng } from '../helpers/rng.js';

const SOTW = messageType('envoy.service.discovery.v3.DiscoveryRequest');
const DELTA = messageType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
const OPTIONS = { longs: String, enums: Number, defaults: false, arrays: true, objects: true } as const;

type Obj = Record<string, unknown>;

function reference(type: typeof SOTW, buf: Buffer): Obj | { decodeError: string } {
  try {
    return type.toObject(type.decode(buf), OPTIONS);
  } catch (err) {
    return { decodeError: (err as Error).message };
  }
}

class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  maybe(p = 0.5): boolean {
    return this.r() < p;
  }
  str(): string {
    const kind = this.int(6);
    if (kind === 0) return '';
    if (kind === 1) return 'ünïcødé-名前-🚀'.slice(0, 1 + this.int(12));
    if (kind === 2) return 'x'.repeat(60 + this.int(200)); // beyond the short-ASCII path
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-._/*';
    let s = '';
    for (let i = 1 + this.int(40); i > 0; i--) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  list<T>(n: number, f: () => T): T[] {
    return Array.from({ length: this.int(n + 1) }, f);
  }
  value(depth: number): Obj {
    switch (this.int(depth > 2 ? 4 : 6)) {
      case 0:
        return { null_value: 0 };
      case 1:
        return { number_value: this.pick([0, -1.5, 3, 1e300, -0, 2 ** 53 + 2, this.r() * 1000 - 500]) };
      case 2:
        return { string_value: this.str() };
      case 3:
        return { bool_value: this.maybe() };
      case 4:
        return { struct_value: this.struct(depth + 1) };
      default:
        return { list_value: { values: this.list(4, () => this.value(depth + 1)) } };
    }
  }
  struct(depth = 0): Obj {
    const fields: Obj = {};
    for (let i = this.int(5); i > 0; i--) fields[this.maybe(0.1) ? '' : this.str()] = this.value(depth);
    return { fields };
  }
  node(): Obj {
    const n: Obj = {};
    if (this.maybe(0.9)) n['id'] = this.str();
    if (this.maybe(0.9)) n['cluster'] = this.str();
    if (this.maybe(0.7)) n['metadata'] = this.struct();
    if (this.maybe()) n['user_agent_name'] = this.pick(['envoy', 'grpc-node-js', this.str()]);
    if (this.maybe(0.3)) n['user_agent_version'] = this.str();
    else if (this.maybe(0.5)) {
      n['user_agent_build_version'] = {
        version: { major_number: this.pick([0, 1, 127, 128, 2 ** 31, 2 ** 32 - 1]), minor_number: this.int(40), patch: this.int(3) },
        ...(this.maybe() ? { metadata: this.struct() } : {}),
      };
    }
    // Fields meshgate does not read (skipped by the hand-written decoder).
    if (this.maybe()) n['locality'] = { region: this.str(), zone: this.str(), sub_zone: this.str() };
    if (this.maybe()) n['client_features'] = this.list(3, () => this.str());
    if (this.maybe(0.3)) n['extensions'] = [{ name: this.str(), category: this.str(), disabled: this.maybe(), type_urls: [this.str()] }];
    if (this.maybe(0.3)) n['listening_addresses'] = [{ socket_address: { address: '10.0.0.1', port_value: this.int(65536) } }];
    if (this.maybe(0.2)) n['dynamic_parameters'] = { [this.str()]: { params: { a: this.str() } } };
    return n;
  }
  status(): Obj {
    const s: Obj = {};
    if (this.maybe(0.8)) s['code'] = this.pick([0, 3, 13, -1, -2147483648, 2147483647]);
    if (this.maybe(0.8)) s['message'] = this.str();
    if (this.maybe(0.3)) s['details'] = [{ type_url: 'type.googleapis.com/google.protobuf.StringValue', value: Buffer.from([10, 1, 65]) }];
    return s;
  }
  sotw(): Obj {
    const m: Obj = {};
    if (this.maybe()) m['version_info'] = this.str();
    if (this.maybe(0.6)) m['node'] = this.node();
    m['resource_names'] = this.list(60, () => this.str());
    if (this.maybe(0.9)) m['type_url'] = this.str();
    if (this.maybe(0.7)) m['response_nonce'] = this.str();
    if (this.maybe(0.3)) m['error_detail'] = this.status();
    if (this.maybe(0.2)) m['resource_locators'] = [{ url: this.str() }];
    return m;
  }
  delta(): Obj {
    const m: Obj = {};
    if (this.maybe(0.6)) m['node'] = this.node();
    if (this.maybe(0.9)) m['type_url'] = this.str();
    m['resource_names_subscribe'] = this.list(40, () => this.str());
    m['resource_names_unsubscribe'] = this.list(10, () => this.str());
    if (this.maybe()) {
      const ivs: Obj = {};
      for (let i = this.int(30); i > 0; i--) ivs[this.str()] = this.str();
      m['initial_resource_versions'] = ivs;
    }
    if (this.maybe(0.7)) m['response_nonce'] = this.str();
    if (this.maybe(0.3)) m['error_detail'] = this.status();
    if (this.maybe(0.2)) m['resource_locators_subscribe'] = [{ url: this.str() }];
    return m;
  }
  /** Unknown top-level fields of every wire type (group included), as bytes to append. */
  unknownFields(): Buffer {
    const parts: number[] = [];
    for (let i = this.int(4); i > 0; i--) {
      const field = this.pick([15, 99, 1000, 536870911]);
      const wt = this.pick([0, 1, 2, 3, 5]);
      pushVarint(parts, field * 8 + wt);
      if (wt === 0) pushVarint(parts, this.pick([0, 1, 300, 2 ** 32 + 5]));
      else if (wt === 1) parts.push(1, 2, 3, 4, 5, 6, 7, 8);
      else if (wt === 5) parts.push(1, 2, 3, 4);
      else if (wt === 2) {
        pushVarint(parts, 3);
        parts.push(0x61, 0x62, 0x63);
      } else {
        pushVarint(parts, (field + 1) * 8 + 0); // a varint inside the group
        pushVarint(parts, 7);
        pushVarint(parts, field * 8 + 4); // end group
      }
    }
    return Buffer.from(parts);
  }
}

function pushVarint(out: number[], n: number): void {
  while (n > 0x7f) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

/** Everything meshgate reads from a decoded request (stream-sotw, stream-delta, stream-base, security). */
function view(o: Obj): Obj {
  if ('decodeError' in o) return { error: true };
  const node = (o['node'] ?? null) as Obj | null;
  const err = (o['error_detail'] ?? null) as Obj | null;
  const bv = node?.['user_agent_build_version'] as Obj | undefined;
  return {
    version_info: o['version_info'],
    type_url: o['type_url'],
    response_nonce: o['response_nonce'],
    resource_names: o['resource_names'],
    resource_names_subscribe: o['resource_names_subscribe'],
    resource_names_unsubscribe: o['resource_names_unsubscribe'],
    initial_resource_versions: o['initial_resource_versions'] === undefined ? undefined : Object.entries(o['initial_resource_versions'] as Obj),
    error_detail: err ? { code: err['code'], message: err['message'] } : err,
    node: node
      ? {
          id: node['id'],
          cluster: node['cluster'],
          user_agent_name: node['user_agent_name'],
          user_agent_version: node['user_agent_version'],
          build: bv ? { version: bv['version'], metadata: bv['metadata'] === undefined ? undefined : structToPlain(bv['metadata']) } : bv,
          metadata: node['metadata'] === undefined ? undefined : structToPlain(node['metadata']),
          metadataRaw: node['metadata'] === undefined ? undefined : JSON.parse(JSON.stringify(node['metadata'])),
          client_features: node['client_features'],
        }
      : node,
  };
}

const KINDS = [
  { name: 'DiscoveryRequest', type: SOTW, mine: decodeDiscoveryRequest, gen: (g: Gen) => g.sotw() },
  { name: 'DiscoveryRequest (stream decoder)', type: SOTW, mine: discoveryRequestDecoder(), gen: (g: Gen) => g.sotw() },
  { name: 'DeltaDiscoveryRequest', type: DELTA, mine: decodeDeltaDiscoveryRequest, gen: (g: Gen) => g.delta() },
] as const;

describe('hand-written request decoders', () => {
  for (const k of KINDS) {
    it(`${k.name}: 1500 random messages decode as protobufjs decodes them (fields meshgate reads)`, () => {
      for (let seed = 1; seed <= 1500; seed++) {
        const g = new Gen(rng(seed));
        const obj = k.gen(g);
        const encoded = Buffer.from(k.type.encode(k.type.fromObject(obj)).finish());
        const buf = g.maybe(0.3) ? Buffer.concat([encoded, g.unknownFields()]) : encoded;
        const ref = reference(k.type, buf);
        expect('decodeError' in ref, `seed ${seed}: protobufjs failed`).toBe(false);
        const got = k.mine(buf) as Obj;
        expect(view(got), `seed ${seed}`).toEqual(view(ref));
        // Repeated fields and maps are present even when empty, as with toObject({arrays, objects}).
        for (const [key, v] of Object.entries(ref)) if (Array.isArray(v)) expect(Array.isArray(got[key]), `seed ${seed}: ${key}`).toBe(true);
      }
    });

    it(`${k.name}: every prefix of a message decodes as protobufjs at a field boundary and is refused elsewhere`, () => {
      // protobufjs is lenient with a nested message cut short (it reads past its end as zeros);
      // the hand-written decoder is not: a prefix that does not end between top-level fields is
      // refused, and one that does decodes exactly as protobufjs decodes it.
      for (let seed = 1; seed <= 40; seed++) {
        const g = new Gen(rng(1e6 + seed));
        const buf = Buffer.from(k.type.encode(k.type.fromObject(k.gen(g))).finish());
        const boundaries = topLevelBoundaries(buf);
        for (let n = 0; n < buf.length; n++) {
          const cut = buf.subarray(0, n);
          const got = k.mine(cut) as Obj;
          if (boundaries.has(n)) expect(view(got), `seed ${seed}, prefix ${n}`).toEqual(view(reference(k.type, cut)));
          else expect('decodeError' in got, `seed ${seed}, prefix ${n} (inside a field)`).toBe(true);
        }
      }
    });

    it(`${k.name}: random bytes never throw (a value or { decodeError })`, () => {
      const r = rng(42);
      for (let i = 0; i < 20000; i++) {
        const buf = Buffer.from(Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256)));
        const got = k.mine(buf) as Obj;
        expect(typeof got).toBe('object');
        if ('decodeError' in got) expect(typeof got['decodeError']).toBe('string');
      }
    });
  }

  it('a stream decoder that remembers recent names gives what protobufjs gives, request after request', () => {
    // Requests of one stream repeat, change and interleave their names (as Envoy's ACKs of
    // several types do), with names also after other fields and runs too short to remember.
    const g = new Gen(rng(7));
    const lists = Array.from({ length: 6 }, (_, i) => Array.from({ length: i === 0 ? 1 : 3 + g.int(40) }, () => g.str()));
    // Lists of the same byte length that differ in one byte, and in order only.
    lists.push(Array.from({ length: 12 }, (_, i) => `cluster-${i}`), Array.from({ length: 12 }, (_, i) => `cluster-${i === 7 ? 8 : i}`));
    lists.push(Array.from({ length: 12 }, (_, i) => `cluster-${11 - i}`));
    const decode = discoveryRequestDecoder();
    for (let i = 0; i < 3000; i++) {
      const names = g.pick(lists);
      let buf = Buffer.from(SOTW.encode(SOTW.fromObject({ type_url: g.str(), response_nonce: String(i), resource_names: names })).finish());
      if (g.maybe(0.2)) buf = Buffer.concat([buf, field(3, Buffer.from(g.str()))]); // a name after the nonce
      if (g.maybe(0.1)) buf = Buffer.concat([field(3, Buffer.from('first')), buf]); // a name before the run
      const got = decode(buf) as Obj;
      expect(view(got), `request ${i}`).toEqual(view(reference(SOTW, buf) as Obj));
    }
    // A remembered list is frozen: a stream cannot change what another request will get.
    const again = Buffer.from(SOTW.encode(SOTW.fromObject({ resource_names: lists[1] })).finish());
    decode(again);
    expect(Object.isFrozen((decode(again) as Obj)['resource_names'])).toBe(true);
    expect((decode(again) as Obj)['resource_names']).toBe((decode(again) as Obj)['resource_names']);
  });

  it('malformed inputs give { decodeError }', () => {
    const bad: Array<[string, number[]]> = [
      ['varint longer than 10 bytes', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
      ['wire type 7', [0x0f]],
      ['wire type 6', [0x0e]],
      ['end group without a start', [0x0c]],
      ['length beyond the end', [0x12, 0x05, 0x01]],
      ['tag cut in the middle', [0x80]],
      ['fixed64 cut short', [0x79, 1, 2, 3]],
      ['group never closed', [0x7b, 0x08, 0x01]],
    ];
    for (const [what, bytes] of bad) {
      for (const decode of [decodeDiscoveryRequest, decodeDeltaDiscoveryRequest, discoveryRequestDecoder()]) {
        expect(decode(Buffer.from(bytes)), what).toHaveProperty('decodeError');
      }
    }
    // A node (field 2 in SotW, 1 in Delta) whose inner field overruns it: protobufjs reads
    // past such an end as zeros; the hand-written decoder refuses it.
    expect(decodeDiscoveryRequest(Buffer.from([0x12, 0x02, 0x0a, 0x05, 0x61, 0x62, 0x63, 0x64, 0x65]))).toHaveProperty('decodeError');
    expect(decodeDeltaDiscoveryRequest(Buffer.from([0x0a, 0x02, 0x0a, 0x05, 0x61, 0x62, 0x63, 0x64, 0x65]))).toHaveProperty('decodeError');
    // A deeply nested Struct (node metadata) gives a value or { decodeError }, never a throw.
    let struct: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 5000; i++) {
      const value = field(5, struct); // Value { struct_value }
      const entry = field(2, value); // map entry { value }
      struct = field(1, entry); // Struct { fields }
    }
    const req = field(2, field(3, struct)); // DiscoveryRequest { node { metadata } }
    expect(typeof decodeDiscoveryRequest(req)).toBe('object');
  });

  it('an empty message decodes to the empty request; wire-type mismatches on known fields are skipped', () => {
    expect(decodeDiscoveryRequest(Buffer.alloc(0))).toEqual({ resource_names: [], resource_locators: [] });
    // type_url (field 4) sent as a varint: not a string, skipped.
    expect(decodeDiscoveryRequest(Buffer.from([0x20, 0x05]))).toEqual({ resource_names: [], resource_locators: [] });
    // A map key "__proto__" is an ordinary key.
    const d = DELTA.encode(DELTA.fromObject({ initial_resource_versions: { __proto__x: 'v' } })).finish();
    const got = decodeDeltaDiscoveryRequest(Buffer.from(d)) as Obj;
    expect(Object.entries(got['initial_resource_versions'] as Obj)).toEqual([['__proto__x', 'v']]);
    const raw = Buffer.from([0x2a, 0x0f, 0x0a, 0x09, ...Buffer.from('__proto__'), 0x12, 0x02, 0x76, 0x31]);
    const proto = decodeDeltaDiscoveryRequest(raw) as Obj;
    expect(Object.entries(proto['initial_resource_versions'] as Obj)).toEqual([['__proto__', 'v1']]);
  });
});

/** Offsets between top-level fields of a valid message (every field here is length-delimited). */
function topLevelBoundaries(buf: Buffer): Set<number> {
  const out = new Set<number>([0]);
  let pos = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[pos++]!;
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    if ((tag & 7) !== 2) throw new Error(`unexpected wire type in a generated message: ${tag}`);
    const len = varint(); // (not `pos += varint()`: that adds to the offset before the length)
    pos += len;
    out.add(pos);
  }
  return out;
}

/** A length-delimited field. */
function field(n: number, payload: Buffer): Buffer {
  const head: number[] = [];
  pushVarint(head, n * 8 + 2);
  pushVarint(head, payload.length);
  return Buffer.concat([Buffer.from(head), payload]);
}
