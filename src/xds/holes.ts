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
import { utf8Length, varintSize, writeUtf8, writeVarint } from './wire.js';

/** U+10FFFF (a noncharacter) around the value's index: what the JSON has in place of value i. */
const MARK = '\u{10FFFF}';
const MARK_BYTES = Buffer.from(MARK, 'utf8');

/** The placeholder for value `i`. */
export function hole(i: number): string {
  return `${MARK}${i}${MARK}`;
}

/** A string field whose value is values[index], after `prefix` (constant bytes, then its tag); then length and the value's bytes. */
class Hole {
  constructor(
    readonly prefix: Buffer,
    readonly index: number,
  ) {}
}

/** A length-delimited message field holding holes, after `prefix` (constant bytes, then its tag); then length, parts, `tail`. */
class Nest {
  constructor(
    readonly prefix: Buffer,
    readonly parts: ReadonlyArray<Hole | Nest>,
    readonly tail: Buffer,
    /** Its index in the template's sizes scratch. */
    readonly id: number,
  ) {}
}

type RefList = ReadonlyArray<string | number>;

export interface HoleTemplate {
  readonly values: number;
  /**
   * The message as a program of (op, argument) pairs: CONST (a chunk's bytes), HOLE (a value's
   * length and bytes), OPEN (a nested message's length; its bytes follow), CLOSE (its end).
   */
  readonly ops: readonly number[];
  readonly chunks: readonly Uint8Array[];
  /** Message sizes of one instance, by nest id, and the sizing stack (scratch: instances are made one at a time). */
  readonly sizes: Int32Array;
  readonly stack: Int32Array;
  /** References as collected from the template: a name, or the index of the value it is. */
  readonly refs: { clusters: RefList; routes: RefList; secrets: RefList };
  /** The references when none is a value (shared by every instance). */
  readonly fixedRefs: Omit<ResourceRefs, 'endpoints'> | null;
}

const CONST = 0;
const HOLE = 1;
const OPEN = 2;
const CLOSE = 3;

/** `n`'s parts as ops (its own prefix is the parent's); returns the nesting depth below it. */
function compile(n: Nest, ops: number[], chunks: Uint8Array[]): number {
  const constant = (b: Buffer): void => {
    if (b.length) ops.push(CONST, chunks.push(b) - 1);
  };
  let depth = 0;
  for (const p of n.parts) {
    constant(p.prefix);
    if (p instanceof Hole) ops.push(HOLE, p.index);
    else {
      ops.push(OPEN, p.id);
      depth = Math.max(depth, 1 + compile(p, ops, chunks));
      ops.push(CLOSE, p.id);
    }
  }
  constant(n.tail);
  return depth;
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

  /** The message of `type` encoded at buf[start..end), after `prefix`. */
  message(prefix: Buffer, type: protobuf.Type, start: number, end: number, path: string): Nest {
    const parts: Array<Hole | Nest> = [];
    let constStart = start;
    const at = { pos: start };
    const any = type.fullName === '.google.protobuf.Any';
    let anyType: protobuf.Type | undefined;
    while (at.pos < end) {
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
      // The constant bytes since the last hole, and this field's tag.
      const before = Buffer.from(this.buf.subarray(constStart, payload - varintSize(len)));
      if (field.type === 'string' && !field.map) {
        const i = placeholderIndex(this.buf, payload, at.pos);
        if (i < 0) throw new Error(`${fpath}: a placeholder changed by the translation (not the whole string)`);
        parts.push(new Hole(before, i));
      } else if (any && id === 2) {
        if (!anyType) throw new Error(`${fpath}: an Any with a placeholder and no known type before it`);
        parts.push(this.message(before, anyType, payload, at.pos, fpath));
      } else {
        field.resolve();
        if (!(field.resolvedType instanceof protobuf.Type) || field.map) throw new Error(`${fpath}: a placeholder in a field that is not a string or a message`);
        parts.push(this.message(before, field.resolvedType, payload, at.pos, fpath));
      }
      constStart = at.pos;
    }
    return new Nest(prefix, parts, Buffer.from(this.buf.subarray(constStart, end)), this.nests++);
  }
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
  const root = cutter.message(Buffer.alloc(0), t, 0, buf.length, '');
  const ops: number[] = [];
  const chunks: Uint8Array[] = [];
  const depth = compile(root, ops, chunks);
  const refs = { clusters: refList(r.clusters, values), routes: refList(r.routes, values), secrets: refList(r.secrets, values) };
  const fixed = (l: RefList): l is readonly string[] => l.every((x) => typeof x === 'string');
  const fixedRefs = fixed(refs.clusters) && fixed(refs.routes) && fixed(refs.secrets) ? Object.freeze({ clusters: Object.freeze(refs.clusters), routes: Object.freeze(refs.routes), secrets: Object.freeze(refs.secrets) }) : null;
  return { values, ops, chunks, sizes: new Int32Array(cutter.nests), stack: new Int32Array(depth + 1), refs, fixedRefs };
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
    const len = utf8Length(v);
    // As many bytes as units: ASCII, no surrogates to look for.
    if (len === 0 || (len !== v.length && LONE_SURROGATE.test(v))) return false;
    lengths[i] = len;
  }
  return true;
}

/** The instance's size (measured values), the nested messages' sizes in t.sizes. */
function sizeOf(t: HoleTemplate): number {
  const { ops, chunks, sizes, stack } = t;
  let size = 0;
  let sp = 0;
  for (let k = 0; k < ops.length; k += 2) {
    const arg = ops[k + 1]!;
    switch (ops[k]) {
      case CONST:
        size += chunks[arg]!.length;
        break;
      case HOLE: {
        const len = lengths[arg]!;
        size += varintSize(len) + len;
        break;
      }
      case OPEN:
        stack[sp++] = size;
        size = 0;
        break;
      default:
        sizes[arg] = size;
        size += stack[--sp]! + varintSize(size);
    }
  }
  return size;
}

/** Below this many bytes a constant is copied byte by byte (cheaper than a call to set). */
const SMALL = 24;

function writeOps(t: HoleTemplate, values: readonly string[], buf: Buffer, off: number): number {
  const { ops, chunks, sizes } = t;
  for (let k = 0; k < ops.length; k += 2) {
    const arg = ops[k + 1]!;
    switch (ops[k]) {
      case CONST: {
        const c = chunks[arg]!;
        if (c.length < SMALL) for (let j = 0; j < c.length; j++) buf[off++] = c[j]!;
        else {
          buf.set(c, off);
          off += c.length;
        }
        break;
      }
      case HOLE: {
        const len = lengths[arg]!;
        off = writeVarint(buf, off, len);
        off = writeUtf8(buf, off, values[arg]!, len);
        break;
      }
      case OPEN:
        off = writeVarint(buf, off, sizes[arg]!);
    }
  }
  return off;
}

/** The measured instance, written after `before` bytes left to the caller. */
function write(t: HoleTemplate, values: readonly string[], before: number): Buffer {
  const size = sizeOf(t);
  const buf = Buffer.allocUnsafe(before + size);
  const end = writeOps(t, values, buf, before);
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

const NO_NAMES: readonly string[] = Object.freeze([]);

function refsWith(l: RefList, values: readonly string[]): readonly string[] {
  if (l.length === 0) return NO_NAMES;
  if (l.length === 1) {
    const x = l[0]!;
    return [typeof x === 'number' ? values[x]! : x];
  }
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
  if (!measure(t, values)) return null;
  const nameBytes = utf8Length(name);
  if (nameBytes === 0 || (nameBytes !== name.length && LONE_SURROGATE.test(name))) return null;
  const at = versionPrefixLength(typeUrl, nameBytes);
  const buf = write(t, values, at);
  writeVersionPrefix(buf, typeUrl, name, nameBytes);
  return resourceFromPrefixed(typeUrl, name, buf, at, holeRefs(t, values, endpoints));
}
