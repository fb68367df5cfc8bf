// YAML with positions: parse bounded input, and map a path inside a document back to
// file:line:column. Used by every loader that reads user files, so errors point at the line.
import YAML, { isMap, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';

export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export interface ParsedYaml {
  file: string;
  docs: Document.Parsed[];
  lines: LineCounter;
}

export interface YamlLimits {
  maxBytes: number;
  /** Alias expansions allowed (YAML bombs fail here). */
  maxAliasCount: number;
  maxDepth: number;
}

export const DEFAULT_YAML_LIMITS: YamlLimits = { maxBytes: 64 * 1024 * 1024, maxAliasCount: 100, maxDepth: 64 };

export class SourceError extends Error {
  constructor(
    message: string,
    readonly position: SourcePosition,
    readonly path: string = '',
  ) {
    super(message);
    this.name = 'SourceError';
  }

  /** "file:line:col: path: message" */
  format(): string {
    const where = `${this.position.file}:${this.position.line}:${this.position.column}`;
    return this.path ? `${where}: ${this.path}: ${this.message}` : `${where}: ${this.message}`;
  }
}

/** Parse YAML text (all documents). Throws SourceError for syntax errors and hostile input. */
export function parseYaml(file: string, text: string, limits: YamlLimits = DEFAULT_YAML_LIMITS): ParsedYaml {
  const at = (line = 1, column = 1): SourcePosition => ({ file, line, column });
  if (Buffer.byteLength(text, 'utf8') > limits.maxBytes) {
    throw new SourceError(`file is larger than the limit of ${limits.maxBytes} bytes`, at());
  }
  if (text.includes('\u0000')) {
    const before = text.slice(0, text.indexOf('\u0000'));
    const line = before.split('\n').length;
    throw new SourceError('file contains a NUL byte: it is binary, not YAML', at(line, 1));
  }
  const lines = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = YAML.parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true }) as Document.Parsed[];
  } catch (err) {
    if (err instanceof RangeError && /call stack/i.test(err.message)) throw new SourceError(tooDeep(limits.maxDepth), at());
    throw new SourceError(`cannot parse YAML: ${(err as Error).message}`, at());
  }
  if (!Array.isArray(docs)) docs = [docs];
  for (const d of docs) {
    const e = d.errors[0];
    if (e) {
      const p = lines.linePos(e.pos[0]);
      // The parser recurses per nesting level and reports running out of stack as an error.
      const msg = /call stack/i.test(e.message) ? tooDeep(limits.maxDepth) : firstLine(e.message);
      throw new SourceError(msg, at(p.line, p.col));
    }
    checkDepth(d.contents, limits.maxDepth, file, lines);
  }
  return { file, docs, lines };
}

/** Convert a document to plain JSON values; alias expansion is bounded. */
export function toJs(parsed: ParsedYaml, doc: Document.Parsed, limits: YamlLimits = DEFAULT_YAML_LIMITS): unknown {
  try {
    return doc.toJS({ maxAliasCount: limits.maxAliasCount });
  } catch (err) {
    const pos = doc.contents?.range ? parsed.lines.linePos(doc.contents.range[0]) : { line: 1, col: 1 };
    const msg = (err as Error).message;
    const why = /alias/i.test(msg) ? `too many alias expansions (over ${limits.maxAliasCount}); a YAML bomb?` : msg;
    throw new SourceError(why, { file: parsed.file, line: pos.line, column: pos.col });
  }
}

function tooDeep(max: number): string {
  return `nesting deeper than ${max} levels`;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

function checkDepth(node: unknown, max: number, file: string, lines: LineCounter): void {
  const stack: Array<[unknown, number]> = [[node, 0]];
  while (stack.length) {
    const [n, d] = stack.pop()!;
    if (d > max) {
      const range = (n as Node).range;
      const p = range ? lines.linePos(range[0]) : { line: 1, col: 1 };
      throw new SourceError(tooDeep(max), { file, line: p.line, column: p.col });
    }
    if (isMap(n)) for (const it of n.items) stack.push([it.value, d + 1]);
    else if (isSeq(n)) for (const it of n.items) stack.push([it, d + 1]);
  }
}

/** Split "a.b[2].c" into ["a", "b", 2, "c"]. */
export function splitPath(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const part of path.split('.')) {
    if (part === '') continue;
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/**
 * Position of the deepest node along `path` in `doc`. A scalar value is pointed at directly;
 * a mapping or list value (or a missing one) by its key, since a block body starts on the
 * lines below the key it belongs to. Keys are tried as written and in lowerCamelCase/
 * snake_case spelling, since proto3 JSON accepts both; a key that itself contains dots (a map
 * key like "envoy.filters.http.cors", split by splitPath) is found by joining the following
 * segments back.
 */
export function locate(
  parsed: ParsedYaml,
  doc: Document.Parsed,
  path: Array<string | number>,
  base: Node | null = null,
  opts: { key?: boolean } = {},
): SourcePosition {
  let node: unknown = base ?? doc.contents;
  let best = node as Node | null;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (typeof seg === 'number' && isSeq(node)) {
      node = node.items[seg];
      if (!node) break;
      if ((node as Node).range) best = node as Node;
    } else if (isMap(node)) {
      const map = node;
      const find = (key: string, spellings: boolean) => {
        const alts = spellings ? [key, key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()), key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] : [key];
        return map.items.find((p) => isScalar(p.key) && alts.includes(String(p.key.value)));
      };
      let pair = find(String(seg), true);
      let j = i;
      while (!pair && j + 1 < path.length && typeof path[j + 1] === 'string') {
        j++;
        pair = find(path.slice(i, j + 1).join('.'), false);
      }
      if (!pair) break;
      i = j;
      node = pair.value;
      // Point at the value of a scalar, at the key of a block (and at the key itself when the
      // key is what is wrong, e.g. an unknown key).
      const last = j === path.length - 1;
      const target = isScalar(node) && !(last && opts.key) ? node : (pair.key as Node | null);
      if (target?.range) best = target;
    } else break;
  }
  const range = best?.range;
  const p = range ? parsed.lines.linePos(range[0]) : { line: 1, col: 1 };
  return { file: parsed.file, line: p.line, column: p.col };
}
