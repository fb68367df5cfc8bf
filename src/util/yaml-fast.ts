// A fast YAML reader for the common, plain shape of a hand-written or generated config file:
// block mappings and sequences, one-line flow collections, one-line plain and quoted scalars,
// comments. No positions, no CST, no document model: it builds the plain JS value directly,
// about 20-40× faster than the `yaml` package's position-tracking parse.
//
// It is an accelerator, never a second source of truth. Whenever the text uses anything
// outside that shape (anchors, aliases, tags, block scalars, multi-line scalars or flow
// collections, explicit keys, directives, more than one document, tabs, CR, unusual
// characters, odd keys, duplicate keys, deep nesting, a size over the limit, ...) or anything
// it is not certain about, it gives up (returns undefined) and the caller uses the full parser
// (yaml-source.ts), which produces the value or the diagnostics. Plain scalars are resolved with
// the `yaml` package's own YAML 1.2 core-schema tags, so `on`/`yes` stay strings, `0o17` is 15,
// `1e3` is 1000, `~` is null, exactly as the full path reads them. For every text it accepts, the
// value equals what parseYaml + toJs produce (test/unit/yaml-fast.test.ts checks that on
// fixtures, generated models and randomised inputs).
import { Document, isScalar } from 'yaml';
import type { YamlLimits } from './yaml-source.js';

/** Thrown inside the parser to give up; never escapes fastParseYaml. */
const BAIL = Symbol('bail');

interface ScalarTag {
  default?: boolean | 'key';
  test?: RegExp;
  resolve: (value: string, onError: (msg: string) => void, options: object) => unknown;
}

interface CoreSchema {
  tags: ScalarTag[];
  str: ScalarTag;
  options: object;
  /** The tags are the known YAML 1.2 core ones, so only text starting with one of "~nNtTfF0-9+-." can be other than a string. */
  knownTags: boolean;
}

/** The YAML 1.2 core schema's scalar tests in the `yaml` package (2.x). */
const CORE_TESTS = [
  '^(?:~|[Nn]ull|NULL)?$',
  '^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$',
  '^0o[0-7]+$',
  '^[-+]?[0-9]+$',
  '^0x[0-9a-fA-F]+$',
  '^(?:[-+]?\\.(?:inf|Inf|INF)|\\.nan|\\.NaN|\\.NAN)$',
  '^[-+]?(?:\\.[0-9]+|[0-9]+(?:\\.[0-9]*)?)[eE][-+]?[0-9]+$',
  '^[-+]?(?:\\.[0-9]+|[0-9]+\\.[0-9]*)$',
];

/**
 * The `yaml` package's scalar tags for the schema parseYaml uses (YAML 1.2 core, its defaults).
 * Null (fast path off) if that schema has anything this reader does not reproduce (compat
 * tags, key-only tags): then every text goes the full way.
 */
const CORE: CoreSchema | null = (() => {
  const doc = new Document(null);
  const schema = doc.schema as unknown as { compat: unknown; tags: Array<ScalarTag & { collection?: string }> } & Record<symbol, ScalarTag>;
  if (schema.compat) return null;
  const scalarSym = Object.getOwnPropertySymbols(schema).find((s) => s.description === 'yaml.scalar');
  const str = scalarSym ? schema[scalarSym] : undefined;
  if (!str) return null;
  const tags = schema.tags.filter((t) => !t.collection);
  if (tags.some((t) => t.default !== true && t.default !== false && t.default !== undefined)) return null;
  const byTest = tags.filter((t) => t.default === true && t.test);
  const knownTags = byTest.map((t) => t.test!.source).join('\n') === CORE_TESTS.join('\n') && byTest.every((t) => t.test!.flags === '');
  return { tags: byTest, str, options: doc.options, knownTags };
})();

/** Characters the fast reader accepts anywhere in the text: LF, printable ASCII, and Unicode
 * from U+00A0 up (surrogates only in valid pairs); no TAB, CR, BOM, C0/C1 controls, DEL, nor
 * U+2028/U+2029 (line separators to some readers). */
const UNSUPPORTED_CHAR = /[^\n\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\ud800-\udfff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Plain mapping keys the fast reader takes (others, e.g. with spaces, go the full way). */
const PLAIN_KEY = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;

/** Longest implicit key taken (YAML caps implicit keys at 1024 characters). */
const MAX_KEY = 512;

/**
 * The plain JS value of a single-document YAML text whose top level is a block mapping, or
 * undefined when the text is outside what this reader handles (see the file comment). Never
 * throws on any input.
 */
export function fastParseYaml(text: string, limits: YamlLimits): Record<string, unknown> | undefined {
  if (!CORE || !fastReaderTakesSize(text, limits) || !fastReaderTakesChars(text)) return undefined;
  try {
    return new FastReader(text, limits.maxDepth, CORE).document();
  } catch (err) {
    if (err === BAIL) return undefined;
    // Anything unexpected (a bug here): the full parser decides.
    return undefined;
  }
}

/** Whether the fast reader is on and `text` (a whole model) is within the size limit it reads. */
export function fastReaderTakesSize(text: string, limits: YamlLimits): boolean {
  if (!CORE) return false;
  if (text.length > limits.maxBytes) return false;
  return !(text.length * 3 > limits.maxBytes && Buffer.byteLength(text, 'utf8') > limits.maxBytes);
}

/** Whether every character of `text` is one the fast reader takes (see UNSUPPORTED_CHAR). */
export function fastReaderTakesChars(text: string): boolean {
  return !UNSUPPORTED_CHAR.test(text);
}

/**
 * One entry of a block mapping, read on its own: `text` is the entry's lines, cut from a larger
 * text at line boundaries (its key line at column `indent` first, then its value's lines and any
 * blank or comment lines), and `depth` is the nesting depth of the mapping that holds it there
 * (0 for the top level), so the depth limit applies as it would in the whole text. Used by
 * model/raw-memo.ts to read only the entries of a model that changed since the last load.
 *
 * For an entry whose surroundings are what that module checks (the next content line after it
 * is less indented, or is the next key of the same mapping), this is exactly what fastParseYaml
 * reads for the entry in the whole text: the same reader, from the same line, at the same
 * depth, meets the same lines. Undefined if the text is not one such entry or the reader gives
 * up; never throws.
 */
export function fastParseEntry(text: string, indent: number, depth: number, limits: YamlLimits): { key: string; value: unknown } | undefined {
  if (!CORE || !fastReaderTakesChars(text)) return undefined;
  try {
    return new FastReader(text, limits.maxDepth, CORE).entry(indent, depth);
  } catch {
    // BAIL, or a bug here: the caller reads the whole text instead.
    return undefined;
  }
}

/**
 * One item of a block sequence, read on its own: `text` is the item's lines (its "-" at column
 * `indent` first, then the lines of its value and any blank or comment lines), and `depth` the
 * nesting depth of the sequence in the whole text. For an item whose next content line in the
 * whole text is the next item, or less indented, this is what fastParseYaml reads for it there.
 * Used by model/raw-memo.ts to read only the gateway routes that changed. Undefined if the text
 * is not one such item or the reader gives up; never throws.
 */
export function fastParseSeqItem(text: string, indent: number, depth: number, limits: YamlLimits): { value: unknown } | undefined {
  if (!CORE || !fastReaderTakesChars(text)) return undefined;
  try {
    return { value: new FastReader(text, limits.maxDepth, CORE).seqItemAlone(indent, depth) };
  } catch {
    return undefined;
  }
}

function bail(): never {
  throw BAIL;
}

const SP = 0x20;
const HASH = 0x23;
const DASH = 0x2d;
const COLON = 0x3a;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const COMMA = 0x2c;

/** Double-quoted escapes with a fixed meaning (as the `yaml` package reads them). */
const ESCAPES = new Map<string, string>([
  ['0', '\0'],
  ['a', '\x07'],
  ['b', '\b'],
  ['e', '\x1b'],
  ['f', '\f'],
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
  ['v', '\v'],
  ['N', '\u0085'],
  ['_', '\u00a0'],
  ['L', '\u2028'],
  ['P', '\u2029'],
  [' ', ' '],
  ['"', '"'],
  ['/', '/'],
  ['\\', '\\'],
]);

class FastReader {
  private readonly lines: string[];
  /** Index of the next line not yet consumed. */
  private li = 0;

  constructor(
    text: string,
    private readonly maxDepth: number,
    private readonly core: CoreSchema,
  ) {
    this.lines = text.split('\n');
  }

  document(): Record<string, unknown> {
    let l = this.nextContent(true);
    if (l < 0) bail();
    let line = this.lines[l]!;
    // One optional "---" (alone on its line, or with a comment) before the content.
    if (line.startsWith('---')) {
      if (!isBlankOrComment(line, 3)) bail();
      this.li = l + 1;
      l = this.nextContent(false);
      if (l < 0) bail();
      line = this.lines[l]!;
    }
    const n = indentOf(line);
    if (!this.isKeyLine(line, n)) bail();
    const root = this.mapping(n, 0, l, n);
    if (this.nextContent(false) >= 0) bail(); // something left over (less indented than the root)
    return root;
  }

  /** The text's one entry, of a mapping at column `n` and nesting `depth` (see fastParseEntry). */
  entry(n: number, depth: number): { key: string; value: unknown } {
    if (this.nextContent(false) !== 0) bail(); // the key line comes first
    const line = this.lines[0]!;
    if (indentOf(line) !== n || !this.isKeyLine(line, n)) bail();
    const m = this.mapping(n, depth, 0, n);
    if (this.nextContent(false) >= 0) bail(); // a line less indented than the entry
    let key: string | undefined;
    for (const k in m) {
      if (key !== undefined) bail(); // a second key at column n: not one entry
      key = k;
    }
    if (key === undefined) bail();
    return { key, value: m[key] };
  }

  /**
   * Skip blank and comment lines; the index of the next content line, or -1 at the end. A
   * document marker or directive at column 0 gives up (unless `first` allows the opening "---").
   */
  private nextContent(first: boolean): number {
    const lines = this.lines;
    for (let l = this.li; l < lines.length; l++) {
      const line = lines[l]!;
      const c0 = line.charCodeAt(0);
      if (c0 === DASH || c0 === 0x2e /* . */ || c0 === 0x25 /* % */) {
        if (c0 === 0x25) bail();
        if (line.startsWith('...') || (line.startsWith('---') && !first)) bail();
      }
      const n = indentOf(line);
      if (n === line.length || line.charCodeAt(n) === HASH) continue;
      this.li = l;
      return l;
    }
    this.li = lines.length;
    return -1;
  }

  private checkDepth(depth: number): void {
    if (depth > this.maxDepth) bail();
  }

  /** Does the text of `line` from column `col` start with an implicit key ("key:" + space/end)? */
  private isKeyLine(line: string, col: number): boolean {
    const c = line.charCodeAt(col);
    // A flow collection as a key ("[a, b]: x") is not taken: the value reader then finds the
    // ": x" after the collection and gives up.
    if (c === LBRACKET || c === LBRACE) return false;
    if (c === DQUOTE || c === SQUOTE) {
      const end = c === DQUOTE ? doubleQuotedEnd(line, col) : singleQuotedEnd(line, col);
      if (end < 0) return false;
      return line.charCodeAt(end) === COLON && (end + 1 === line.length || line.charCodeAt(end + 1) === SP);
    }
    return plainKeyEnd(line, col) >= 0;
  }

  /**
   * A block mapping whose keys are at column `n`. Its first entry is on line `l` at column
   * `col` (col > n only for a mapping that starts after "- " on a sequence item's line, where
   * col is then also its key column: n === col).
   */
  private mapping(n: number, depth: number, l: number, col: number): Record<string, unknown> {
    this.checkDepth(depth);
    const out: Record<string, unknown> = {};
    let line = this.lines[l]!;
    let at = col;
    for (;;) {
      // One entry: key, then an inline value or a block below.
      let key: string;
      let p: number; // just after the ":"
      const c = line.charCodeAt(at);
      if (c === DQUOTE || c === SQUOTE) {
        const end = c === DQUOTE ? doubleQuotedEnd(line, at) : singleQuotedEnd(line, at);
        if (end < 0 || line.charCodeAt(end) !== COLON) bail();
        if (end - at > MAX_KEY) bail();
        key = c === DQUOTE ? doubleQuotedValue(line, at, end) : singleQuotedValue(line, at, end);
        p = end + 1;
        if (p < line.length && line.charCodeAt(p) !== SP) bail();
      } else {
        const end = plainKeyEnd(line, at);
        if (end < 0) bail();
        key = this.plainKey(line.slice(at, end));
        p = end + 1;
      }
      if (key === '__proto__' || Object.prototype.hasOwnProperty.call(out, key)) bail();
      this.li = l + 1;
      const v = skipSpaces(line, p);
      let value: unknown;
      if (v === line.length || line.charCodeAt(v) === HASH) {
        // "key:" (maybe with a comment): the value is the block below, or null.
        value = this.blockBelow(n, depth + 1, true);
      } else {
        value = this.inlineValue(line, v, depth + 1);
      }
      out[key] = value;
      // The next entry must be at column n; less indented ends the mapping.
      const next = this.nextContent(false);
      if (next < 0) return out;
      line = this.lines[next]!;
      const ind = indentOf(line);
      if (ind < n) return out;
      if (ind > n) bail();
      if (!this.isKeyLine(line, n)) bail(); // e.g. "- item" or a scalar where a key belongs
      l = next;
      at = n;
    }
  }

  /** The text's one item, of a block sequence at column `n` and nesting `depth` (see fastParseSeqItem). */
  seqItemAlone(n: number, depth: number): unknown {
    if (this.nextContent(false) !== 0) bail(); // the "-" line comes first
    const line = this.lines[0]!;
    if (indentOf(line) !== n || !isSeqItem(line, n)) bail();
    this.checkDepth(depth);
    const value = this.seqItem(n, depth, 0, line);
    if (this.nextContent(false) >= 0) bail(); // a second item, or a line that does not belong to this one
    return value;
  }

  /** A block sequence whose "-" are at column n; the first item is on line l. */
  private sequence(n: number, depth: number, l: number): unknown[] {
    this.checkDepth(depth);
    const out: unknown[] = [];
    let line = this.lines[l]!;
    for (;;) {
      out.push(this.seqItem(n, depth, l, line));
      const next = this.nextContent(false);
      if (next < 0) return out;
      line = this.lines[next]!;
      const ind = indentOf(line);
      if (ind < n) return out;
      if (ind > n || !isSeqItem(line, n)) {
        // A key at column n ends a sequence that is a mapping's value at the same indent;
        // anything else does not belong here.
        if (ind === n && this.isKeyLine(line, n)) return out;
        bail();
      }
      l = next;
    }
  }

  /** The value of the sequence item on line l (`line`), whose "-" is at column n. */
  private seqItem(n: number, depth: number, l: number, line: string): unknown {
    // line[n] === "-", followed by a space or the end of the line.
    this.li = l + 1;
    const v = skipSpaces(line, n + 1);
    if (v === line.length || line.charCodeAt(v) === HASH) return this.blockBelow(n, depth + 1, false);
    const c = line.charCodeAt(v);
    if (c === DASH && (v + 1 === line.length || line.charCodeAt(v + 1) === SP)) bail(); // "- - x"
    if (this.isKeyLine(line, v)) {
      this.li = l;
      return this.mapping(v, depth + 1, l, v);
    }
    return this.inlineValue(line, v, depth + 1);
  }

  /**
   * The value of "key:" or "-" with nothing after it on the line: a block on the following
   * lines (more indented; or, for a mapping's value, a sequence at the same indent), else null.
   */
  private blockBelow(n: number, depth: number, inMapping: boolean): unknown {
    this.checkDepth(depth);
    const l = this.nextContent(false);
    if (l < 0) return null;
    const line = this.lines[l]!;
    const ind = indentOf(line);
    if (ind < n) return null;
    if (ind === n) {
      if (inMapping && isSeqItem(line, n)) return this.sequence(n, depth, l);
      return null;
    }
    if (isSeqItem(line, ind)) return this.sequence(ind, depth, l);
    if (this.isKeyLine(line, ind)) return this.mapping(ind, depth, l, ind);
    return bail(); // a scalar or flow collection on its own line: valid YAML, but not taken here
  }

  /** A value that starts at `v` on `line` and must end on it (then only a comment may follow). */
  private inlineValue(line: string, v: number, depth: number): unknown {
    this.checkDepth(depth);
    const c = line.charCodeAt(v);
    let value: unknown;
    let end: number;
    if (c === LBRACKET || c === LBRACE) {
      const r = new FlowReader(line, v, this.maxDepth, this);
      value = r.node(depth);
      end = r.pos;
    } else if (c === DQUOTE) {
      const e = doubleQuotedEnd(line, v);
      if (e < 0) bail();
      value = doubleQuotedValue(line, v, e);
      end = e;
    } else if (c === SQUOTE) {
      const e = singleQuotedEnd(line, v);
      if (e < 0) bail();
      value = singleQuotedValue(line, v, e);
      end = e;
    } else {
      // A plain scalar: up to " #" or the end of the line.
      if (!plainStartOk(line, v)) bail();
      let e = line.indexOf(' #', v);
      if (e < 0) e = line.length;
      const src = trimSpacesEnd(line.slice(v, e));
      // "a: b: c" (a nested implicit key) is an error in YAML; a value ending in ":" too.
      if (src.includes(': ') || src.charCodeAt(src.length - 1) === COLON) bail();
      return this.resolvePlain(src);
    }
    // After a quoted scalar or flow collection: spaces, then the end or a comment.
    if (end < line.length) {
      const s = skipSpaces(line, end);
      if (s < line.length && (s === end || line.charCodeAt(s) !== HASH)) bail();
    }
    return value;
  }

  /** A plain scalar, resolved by the core schema's tags exactly as the `yaml` package does. */
  resolvePlain(src: string): unknown {
    const tags = this.core.tags;
    let tag: ScalarTag = this.core.str;
    // Every core tag other than str matches only text starting with one of "~nNtTfF0-9+-."
    // (or ""): anything else is a string, without trying eight regexes.
    const c = src.charCodeAt(0);
    if (!this.core.knownTags || src.length === 0 || MAYBE_NOT_STRING[c] === 1) {
      for (const t of tags) {
        if (t.test!.test(src)) {
          tag = t;
          break;
        }
      }
    } else return detach(src);
    let failed = false;
    const res = tag.resolve(
      src,
      () => {
        failed = true;
      },
      this.core.options,
    );
    if (failed) bail();
    const v = isScalar(res) ? (res as { value: unknown }).value : res;
    if (typeof v === 'bigint') bail();
    if (v !== null && typeof v === 'object') bail();
    return typeof v === 'string' ? detach(v) : v;
  }

  /** A plain key as a JS property name: a string, or a number that reads back the same. */
  plainKey(src: string): string {
    if (src.length > MAX_KEY || !PLAIN_KEY.test(src)) bail();
    const v = this.resolvePlain(src);
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && String(v) === src) return src;
    return bail();
  }
}

/** First characters of plain scalars that a core tag other than str may match ("" too). */
const MAYBE_NOT_STRING = new Uint8Array(128);
for (const ch of '~nNtTfF0123456789+-.') MAYBE_NOT_STRING[ch.charCodeAt(0)] = 1;

/** One flow collection on one line: [a, "b", {c: 1}]. */
class FlowReader {
  constructor(
    private readonly s: string,
    public pos: number,
    private readonly maxDepth: number,
    private readonly owner: FastReader,
  ) {}

  node(depth: number): unknown {
    if (depth > this.maxDepth) bail();
    const s = this.s;
    const c = s.charCodeAt(this.pos);
    if (c === LBRACKET) {
      this.pos++;
      const out: unknown[] = [];
      this.spaces();
      if (s.charCodeAt(this.pos) === RBRACKET) {
        this.pos++;
        return out;
      }
      do out.push(this.node(depth + 1));
      while (!this.flowEntryEnd(RBRACKET));
      return out;
    }
    if (c === LBRACE) {
      this.pos++;
      const out: Record<string, unknown> = {};
      this.spaces();
      if (s.charCodeAt(this.pos) === RBRACE) {
        this.pos++;
        return out;
      }
      do {
        const key = this.key();
        if (key === '__proto__' || Object.prototype.hasOwnProperty.call(out, key)) bail();
        out[key] = this.node(depth + 1);
      } while (!this.flowEntryEnd(RBRACE));
      return out;
    }
    if (c === DQUOTE || c === SQUOTE) return this.quoted();
    return this.plain();
  }

  /** "key: " (plain) or "\"key\":" / "'key':" (quoted; the value may follow at once). */
  private key(): string {
    const s = this.s;
    const c = s.charCodeAt(this.pos);
    if (c === DQUOTE || c === SQUOTE) {
      const start = this.pos;
      const k = this.quoted();
      if (this.pos - start > MAX_KEY) bail();
      if (s.charCodeAt(this.pos) !== COLON) bail();
      this.pos++;
      this.spaces();
      return k;
    }
    let e = this.pos;
    while (e < s.length && s.charCodeAt(e) !== COLON) e++;
    if (e >= s.length || s.charCodeAt(e + 1) !== SP) bail();
    const k = this.owner.plainKey(s.slice(this.pos, e));
    this.pos = e + 1;
    this.spaces();
    return k;
  }

  private quoted(): string {
    const s = this.s;
    const start = this.pos;
    if (s.charCodeAt(start) === DQUOTE) {
      const e = doubleQuotedEnd(s, start);
      if (e < 0) bail();
      this.pos = e;
      return doubleQuotedValue(s, start, e);
    }
    const e = singleQuotedEnd(s, start);
    if (e < 0) bail();
    this.pos = e;
    return singleQuotedValue(s, start, e);
  }

  /** A plain scalar inside a flow collection: up to , ] } (":" only inside, as in 10.0.0.1:80). */
  private plain(): unknown {
    const s = this.s;
    const start = this.pos;
    if (!plainStartOk(s, start)) bail();
    let e = start;
    for (; e < s.length; e++) {
      const c = s.charCodeAt(e);
      if (c === COMMA || c === RBRACKET || c === RBRACE) break;
      if (c === LBRACKET || c === LBRACE || c === DQUOTE || c === SQUOTE || c === HASH) bail();
      if (c === COLON) {
        const d = s.charCodeAt(e + 1);
        if (e + 1 >= s.length || d === SP || d === COMMA || d === RBRACKET || d === RBRACE || d === LBRACKET || d === LBRACE) bail();
      }
    }
    if (e >= s.length) bail(); // the collection continues on the next line
    const src = trimSpacesEnd(s.slice(start, e));
    if (src.length === 0) bail();
    this.pos = e;
    return this.owner.resolvePlain(src);
  }

  /**
   * After an entry of a flow collection: true at its closing bracket `close` (consumed), false
   * past a comma before the next entry. Anything else, a trailing comma or an empty entry, gives up.
   */
  private flowEntryEnd(close: number): boolean {
    const s = this.s;
    this.spaces();
    const d = s.charCodeAt(this.pos);
    if (d === close) {
      this.pos++;
      return true;
    }
    if (d !== COMMA) bail();
    this.pos++;
    this.spaces();
    const e = s.charCodeAt(this.pos);
    if (e === close || e === COMMA) bail();
    return false;
  }

  private spaces(): void {
    const s = this.s;
    while (s.charCodeAt(this.pos) === SP) this.pos++;
  }
}

/** Drop trailing spaces (only U+0020: YAML does not count other Unicode spaces as white space). */
function trimSpacesEnd(s: string): string {
  let e = s.length;
  while (e > 0 && s.charCodeAt(e - 1) === SP) e--;
  return e === s.length ? s : s.slice(0, e);
}

function indentOf(line: string): number {
  let n = 0;
  while (line.charCodeAt(n) === SP) n++;
  return n;
}

function skipSpaces(line: string, i: number): number {
  while (line.charCodeAt(i) === SP) i++;
  return i;
}

function isBlankOrComment(line: string, from: number): boolean {
  const s = skipSpaces(line, from);
  return s === line.length || (s > from && line.charCodeAt(s) === HASH);
}

/** "-" at column n followed by a space or the end of the line. */
function isSeqItem(line: string, n: number): boolean {
  return line.charCodeAt(n) === DASH && (n + 1 === line.length || line.charCodeAt(n + 1) === SP);
}

/**
 * The end of a plain implicit key starting at `col` (the index of its ":"), or -1 if the text
 * there is not "key:" followed by a space or the end of the line. A " #" before any such ":"
 * makes the rest a comment: not a key.
 */
function plainKeyEnd(line: string, col: number): number {
  for (let i = col; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === COLON) {
      if (i + 1 === line.length || line.charCodeAt(i + 1) === SP) return i > col ? i : -1;
    } else if (c === HASH && i > col && line.charCodeAt(i - 1) === SP) return -1;
  }
  return -1;
}

/** May a plain scalar start at s[i]? (Not with an indicator, nor "-", "?", ":" before a space.) */
function plainStartOk(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  switch (c) {
    case DASH:
    case 0x3f: // ?
    case COLON: {
      const d = s.charCodeAt(i + 1);
      return i + 1 < s.length && d !== SP && d !== COMMA && d !== RBRACKET && d !== RBRACE && d !== LBRACKET && d !== LBRACE;
    }
    case COMMA:
    case LBRACKET:
    case RBRACKET:
    case LBRACE:
    case RBRACE:
    case HASH:
    case 0x26: // &
    case 0x2a: // *
    case 0x21: // !
    case 0x7c: // |
    case 0x3e: // >
    case DQUOTE:
    case SQUOTE:
    case 0x25: // %
    case 0x40: // @
    case 0x60: // `
    case SP:
      return false;
    default:
      return !Number.isNaN(c);
  }
}

/** Index just after the closing quote of a one-line double-quoted scalar at `start`, or -1. */
function doubleQuotedEnd(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === DQUOTE) return i + 1;
  }
  return -1;
}

/** Index just after the closing quote of a one-line single-quoted scalar at `start`, or -1. */
function singleQuotedEnd(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    if (s.charCodeAt(i) === SQUOTE) {
      if (s.charCodeAt(i + 1) === SQUOTE) i++;
      else return i + 1;
    }
  }
  return -1;
}

function doubleQuotedValue(s: string, start: number, end: number): string {
  const inner = s.slice(start + 1, end - 1);
  if (!inner.includes('\\')) return detach(inner);
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i]!;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = inner[++i];
    if (next === undefined) bail();
    const simple = ESCAPES.get(next);
    if (simple !== undefined) out += simple;
    else if (next === 'x' || next === 'u' || next === 'U') {
      const len = next === 'x' ? 2 : next === 'u' ? 4 : 8;
      const hex = inner.substr(i + 1, len);
      if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) bail();
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) bail();
      out += String.fromCodePoint(code);
      i += len;
    } else bail();
  }
  return out;
}

function singleQuotedValue(s: string, start: number, end: number): string {
  return detach(s.slice(start + 1, end - 1).replace(/''/g, "'"));
}

/**
 * `s` as a string that does not keep the text it was cut (or joined) from alive. V8 makes a substring of 13
 * characters or more a slice that holds its whole parent: a value kept from a model (an unchanged
 * service's `app: 127.0.0.1:8080`, kept across reloads by design) would hold that reload's whole
 * text, and a reload every few ms under endpoint churn held every earlier text (~1 MB each for
 * M1k). Concatenating makes a new string; cutting it back copies the characters into a flat one
 * that refers to nothing else.
 */
export function detach(s: string): string {
  return s.length < 13 ? s : (s + ' ').slice(0, -1);
}
