// Resources that differ only in a few string fields, however deep, encoded once. The template
// is the generic encoding of JSON whose varying strings are placeholders; it is cut, by walking
// the encoded bytes with the message types, into constant bytes, string fields that take a
// value, and the length-delimited messages that enclose those. An instance writes the constant
// bytes and the values, with every enclosing length worked out anew. protobufjs writes each
// field as tag + length + payload wherever it is, so the bytes are exactly what encoding the
// JSON with the values in place gives (tests compare both), and so are the content hashes.
//
// What a template cannot stand for makes it fail to build (holeTemplate throws): a placeholder
// the JSON changed (cut, joined, inside a longer string), or one in a map, a packed field or an
// unknown field. An instance gives up (fillHoles returns null) on a value the generic encoding
// would treat differently: an empty string (not written, or written, depending on the field)
// or one with a lone surrogate (protobufjs writes those unlike Buffer does).
import protobuf from 'protobufjs';
import { emptyRefs, encodeFromJson } from './json.js';
import { findMessageType, messageType } from './protos.js';
import { type Resource, resourceFromPrefixed, type ResourceRefs, versionPrefixLength, writeVersionPrefix } from './resource.js';
import type { TypeUrl } from './type-urls.js';

/** U+10FFFF (a noncharacter) around the value's index: what the JSON has in place of value i. */
const MARK = '\u{10FFFF}';
const MARK_BYTES = Buffer.from(MARK, 'utf8');

/** The placeholder for value `i`. */
export function hole(i: number): string {
  return `${MARK}${i}${MARK}`;
}

/** A string field whose value is values[index]: tag, then length and the value's bytes. */
class Hole {
  constructor(
    readonly tag: Buffer,
    readonly index: number,
  ) {}
}

/** A length-delimited message field holding holes: tag, length, then its parts in order. */
class Nest {
  constructor(
    readonly tag: Buffer,
    readonly parts: ReadonlyArray<Buffer | Hole | Nest>,
    /** Its index in the template's sizes scratch. */
    readonly id: number,
  ) {}
}

type RefList = ReadonlyArray<string | number>;

export interface HoleTemplate {
  readonly values: number;
  /** The message itself (its tag is empty). */
  readonly root: Nest;
  /** Message sizes of one instance, by Nest.id (scratch: instances are made one at a time). */
  readonly sizes: Int32Array;
  /** References as collected from the template: a name, or the index of the value it is. */
  readonly refs: { clusters: RefList; routes: RefList; secrets: RefList };
  /** The references when none is a value (shared by every instance). */
  readonly fixedRefs: Omit<ResourceRefs, 'endpoints'> | null;
}

/** The value index a placeholder string's bytes stand for, or -1 if they are not exactly one. */
function placeholderIndex(buf: Buffer, start: number, end: number): number {
  const m = MARK_BYTES.length;
  if (end - start < 2 * m + 1 || buf.indexOf(MARK_BYTES, start) !== start || buf.indexOf(MARK_BYTES, start + m) !== end - m) return -1;
  const digits = buf.toString('latin1', start + m, end - m);
  return /^(0|[1-9]\d*)$/.test(digits) ? Number(digits) : -1;
}

function readVarint(buf: Buffer, at: { pos: number }): number {
  let n = 0;
  let mul = 1;
  for (;;) {
    const b = buf[at.pos++];
    if (b === undefined) throw new Error('bug: truncated varint in an encoded template');
    n += (b & 0x7f) * mul;
    if (b < 0x80) return n;
    mul *= 0x80;
  }
}

class Cutter {
  nests = 0;

  constructor(private readonly buf: Buffer) {}

  private has(start: number, end: number): boolean {
    const i = this.buf.indexOf(MARK_BYTES, start);
    return i >= 0 && i < end;
  }

  /** Parts of the message of `type` encoded at buf[start..end). */
  message(type: protobuf.Type, start: number, end: number, path: string): Nest['parts'] {
    const parts: Array<Buffer | Hole | Nest> = [];
    let constStart = start;
    const flush = (to: number): void => {
      if (to > constStart) parts.push(Buffer.from(this.buf.subarray(constStart, to)));
    };
    const at = { pos: start };
    const any = type.fullName === '.google.protobuf.Any';
    let anyType: protobuf.Type | undefined;
    while (at.pos < end) {
      const fieldStart = at.pos;
      const tag = readVarint(this.buf, at);
      const id = Math.floor(tag / 8);
      const wire = tag % 8;
      if (wire === 0) readVarint(this.buf, at);
      else if (wire === 1) at.pos += 8;
      else if (wire === 5) at.pos += 4;
      else if (wire !== 2) throw new Error(`bug: wire type ${wire} in an encoded template`);
      if (wire !== 2) continue;
      const len = readVarint(this.buf, at);
      const payload = at.pos;
      at.pos += len;
      const field = type.fieldsById[id];
      const fpath = `${path}.${field?.name ?? id}`;
      if (any && id === 1) anyType = findMessageType(this.buf.toString('utf8', payload, at.pos));
      if (!this.has(payload, at.pos)) continue;
      if (!field) throw new Error(`a placeholder in unknown field ${fpath}`);
      const tagBytes = Buffer.from(this.buf.subarray(fieldStart, payload - varintSize(len)));
      let part: Hole | Nest;
      if (field.type === 'string' && !field.map) {
        const i = placeholderIndex(this.buf, payload, at.pos);
        if (i < 0) throw new Error(`${fpath}: a placeholder changed by the translation (not the whole string)`);
        part = new Hole(tagBytes, i);
      } else if (any && id === 2) {
        if (!anyType) throw new Error(`${fpath}: an Any with a placeholder and no known type before it`);
        part = new Nest(tagBytes, this.message(anyType, payload, at.pos, fpath), this.nests++);
      } else {
        field.resolve();
        if (!(field.resolvedType instanceof protobuf.Type) || field.map) throw new Error(`${fpath}: a placeholder in a field that is not a string or a message`);
        part = new Nest(tagBytes, this.message(field.resolvedType, payload, at.pos, fpath), this.nests++);
      }
      flush(fieldStart);
      parts.push(part);
      constStart = at.pos;
    }
    flush(end);
    return parts;
  }
}

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

function refList(names: Set<string>, values: number): RefList {
  return [...names].sort().map((n) => {
    for (let i = 0; i < values; i++) if (n === hole(i)) return i;
    if (n.includes(MARK)) throw new Error(`a reference "${n}" holds a placeholder, not as the whole name`);
    return n;
  });
}

/**
 * A template of message `type` (a name or type URL) from `json` holding hole(0) … hole(values - 1)
 * as whole string values. Throws if the encoding holds a placeholder anywhere else.
 */
export function holeTemplate(type: string, json: Record<string, unknown>, values: number): HoleTemplate {
  const t = messageType(type);
  const r = emptyRefs();
  const buf = Buffer.from(encodeFromJson(t, json, r));
  const cutter = new Cutter(buf);
  const parts = cutter.message(t, 0, buf.length, '');
  const root = new Nest(Buffer.alloc(0), parts, cutter.nests++);
  const refs = { clusters: refList(r.clusters, values), routes: refList(r.routes, values), secrets: refList(r.secrets, values) };
  const fixed = (l: RefList): l is readonly string[] => l.every((x) => typeof x === 'string');
  const fixedRefs = fixed(refs.clusters) && fixed(refs.routes) && fixed(refs.secrets) ? Object.freeze({ clusters: Object.freeze(refs.clusters), routes: Object.freeze(refs.routes), secrets: Object.freeze(refs.secrets) }) : null;
  return { values, root, sizes: new Int32Array(cutter.nests), refs, fixedRefs };
}

/** A lone surrogate (outside a pair): the u flag makes a pair one code point. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** The values' UTF-8 lengths (scratch, grown as needed). */
let lengths = new Int32Array(16);

/** Whether the template takes `values` (each non-empty, well-formed), with their lengths in `lengths`. */
function measure(t: HoleTemplate, values: readonly string[]): boolean {
  if (values.length !== t.values) throw new Error(`bug: ${values.length} values for a template of ${t.values}`);
  if (lengths.length < values.length) lengths = new Int32Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === '' || LONE_SURROGATE.test(v)) return false;
    lengths[i] = Buffer.byteLength(v, 'utf8');
  }
  return true;
}

function sizeOf(t: HoleTemplate, n: Nest): number {
  let size = 0;
  for (const p of n.parts) {
    if (p instanceof Hole) {
      const len = lengths[p.index]!;
      size += p.tag.length + varintSize(len) + len;
    } else if (p instanceof Nest) {
      const len = sizeOf(t, p);
      t.sizes[p.id] = len;
      size += p.tag.length + varintSize(len) + len;
    } else size += p.length;
  }
  return size;
}

function writeParts(t: HoleTemplate, n: Nest, values: readonly string[], buf: Buffer, off: number): number {
  for (const p of n.parts) {
    if (p instanceof Hole) {
      const len = lengths[p.index]!;
      off += p.tag.copy(buf, off);
      off = writeVarint(buf, off, len);
      off += buf.write(values[p.index]!, off, len, 'utf8');
    } else if (p instanceof Nest) {
      off += p.tag.copy(buf, off);
      off = writeVarint(buf, off, t.sizes[p.id]!);
      off = writeParts(t, p, values, buf, off);
    } else off += p.copy(buf, off);
  }
  return off;
}

/** The measured instance, written after `before` bytes left to the caller. */
function write(t: HoleTemplate, values: readonly string[], before: number): Buffer {
  const size = sizeOf(t, t.root);
  const buf = Buffer.allocUnsafe(before + size);
  const end = writeParts(t, t.root, values, buf, before);
  if (end !== buf.length) throw new Error(`bug: a template instance encoded ${end - before} of ${size} bytes`);
  return buf;
}

/**
 * The template's message with `values` in place; null if a value is empty or not well-formed
 * UTF-16 (the caller encodes the JSON instead).
 */
export function fillHoles(t: HoleTemplate, values: readonly string[]): Buffer | null {
  return measure(t, values) ? write(t, values, 0) : null;
}

function refsWith(l: RefList, values: readonly string[]): readonly string[] {
  const names = new Set<string>();
  for (const x of l) names.add(typeof x === 'number' ? values[x]! : x);
  return [...names].sort();
}

/** The names an instance refers to (values in place, sorted), and `endpoints`. */
export function holeRefs(t: HoleTemplate, values: readonly string[], endpoints: readonly string[]): ResourceRefs {
  const f = t.fixedRefs;
  return f
    ? { clusters: f.clusters, routes: f.routes, secrets: f.secrets, endpoints }
    : { clusters: refsWith(t.refs.clusters, values), routes: refsWith(t.refs.routes, values), secrets: refsWith(t.refs.secrets, values), endpoints };
}

/**
 * The resource `name` of type `typeUrl` (the template's type) whose body is the template with
 * `values` in place, its references the template's (values in place) and `endpoints`; null as
 * for fillHoles. The body follows what its version hashes first, in one buffer.
 */
export function holeResource(t: HoleTemplate, typeUrl: TypeUrl, name: string, values: readonly string[], endpoints: readonly string[]): Resource | null {
  if (!measure(t, values) || name === '' || LONE_SURROGATE.test(name)) return null;
  const nameBytes = Buffer.byteLength(name, 'utf8');
  const at = versionPrefixLength(typeUrl, nameBytes);
  const buf = write(t, values, at);
  writeVersionPrefix(buf, typeUrl, name, nameBytes);
  return resourceFromPrefixed(typeUrl, name, buf, at, holeRefs(t, values, endpoints));
}
