// The fast YAML reader (src/util/yaml-fast.ts) against the full parser (src/util/yaml-source.ts):
// for every text the fast reader accepts, the value must be exactly what parseYaml + toJs give
// (a difference would be a silent config change), and it must give up on everything the full
// parser rejects or reads in a way the fast reader does not reproduce.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gatewayMesh, S2_MESH, sidecarMesh, SMOKE_M10K, SMOKE_M1K, SMOKE_S2_MESH } from '../../bench/models.js';
import { MODEL_YAML_LIMITS } from '../../src/model/load.js';
import { fastParseEntry, fastParseSeqItem, fastParseYaml } from '../../src/util/yaml-fast.js';
import { DEFAULT_YAML_LIMITS, parseYaml, toJs, type YamlLimits } from '../../src/util/yaml-source.js';
import { randomDoc, rng, TRICKY_KEYS, TRICKY_SCALARS } from './yaml-fuzz-gen.js';

// The full parser warns (process.emitWarning) about collection keys, which the generated near
// misses contain; keep the test output readable.
beforeAll(() => {
  vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
});
afterAll(() => {
  vi.restoreAllMocks();
});

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const L = MODEL_YAML_LIMITS;

/** The full path's value: { value } for a single document that parses, else { error }. */
function full(text: string, limits: YamlLimits = L): { value: unknown } | { error: string } {
  try {
    const p = parseYaml('t.yaml', text, limits);
    if (p.docs.length !== 1) return { error: `${p.docs.length} documents` };
    return { value: toJs(p, p.docs[0]!, limits) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Fails unless the fast reader either gives up or agrees exactly with the full parser. */
function agree(text: string, limits: YamlLimits = L): boolean {
  const fast = fastParseYaml(text, limits);
  if (fast === undefined) return false;
  const f = full(text, limits);
  // Deep equality, and the same key order (which decides the order of services, labels, ...).
  if (!('value' in f) || !isDeepStrictEqual(fast, f.value) || JSON.stringify(fast) !== JSON.stringify(f.value)) {
    expect.fail(`fast and full readers disagree on ${JSON.stringify(text)}:\nfast: ${JSON.stringify(fast)}\nfull: ${JSON.stringify(f)}`);
  }
  return true;
}

/** Model files shipped with the project: examples and golden cases. */
export function fixtureModels(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const f of fs.readdirSync(path.join(ROOT, 'examples'))) {
    if (f.endsWith('.yaml')) out.push([`examples/${f}`, fs.readFileSync(path.join(ROOT, 'examples', f), 'utf8')]);
  }
  const golden = path.join(ROOT, 'test/golden');
  for (const d of fs.readdirSync(golden)) {
    for (const name of ['mesh.yaml', 'model.yaml']) {
      const f = path.join(golden, d, name);
      if (fs.existsSync(f)) out.push([`test/golden/${d}/${name}`, fs.readFileSync(f, 'utf8')]);
    }
  }
  return out;
}

describe('fast reader = full parser on real models', () => {
  it.each(fixtureModels())('%s is read by the fast reader, with the same value', (_name, text) => {
    expect(agree(text)).toBe(true);
  });

  // (M1k and M10k themselves are compared by bench/model-load.ts: a full parse of M1k takes a second.)
  it('bench models (S2 mesh, subsets, smoke sizes, 200 services) are read by the fast reader, with the same value', () => {
    const docs = [
      gatewayMesh(SMOKE_M1K),
      gatewayMesh(SMOKE_M10K),
      sidecarMesh(SMOKE_S2_MESH),
      gatewayMesh({ name: 'subsets', services: 30, instancesPerService: 6, subsets: 3, mtls: 'permissive' }),
      sidecarMesh(S2_MESH),
      gatewayMesh({ name: 'M200', services: 200, instancesPerService: 5, subsets: 1 }),
    ];
    for (const d of docs) expect(agree(d.text()), d.name).toBe(true);
  });
});

describe('scalars: YAML 1.2 core schema, exactly as the full parser', () => {
  it.each([
    ['on: yes\noff: no\ny: n\n', { on: 'yes', off: 'no', y: 'n' }],
    ['a: 0o17\nb: 0x1F\nc: 017\nd: +12\ne: -0\n', { a: 15, b: 31, c: 17, d: 12, e: -0 }],
    ['a: 1e3\nb: .5\nc: 1.\nd: .inf\ne: -.Inf\nf: 1_000\ng: 0b101\n', { a: 1000, b: 0.5, c: 1, d: Infinity, e: -Infinity, f: '1_000', g: '0b101' }],
    ['a: .nan\n', { a: NaN }],
    ['a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: nULL\n', { a: null, b: null, c: null, d: null, e: null, f: 'nULL' }],
    ['a: true\nb: True\nc: TRUE\nd: tRUE\n', { a: true, b: true, c: true, d: 'tRUE' }],
    ['a: 2001-12-14\nb: 12:30\nc: 1:30:00\n', { a: '2001-12-14', b: '12:30', c: '1:30:00' }],
    ['a: "1"\nb: \'true\'\nc: "\\u00e9\\x41\\t"\nd: \'it\'\'s\'\n', { a: '1', b: 'true', c: 'éA\t', d: "it's" }],
    ['a: 10.0.0.1:8080\nb: http://x/y # c\nc: a#b\nd: [a:b, 10.0.0.1:80]\n', { a: '10.0.0.1:8080', b: 'http://x/y', c: 'a#b', d: ['a:b', '10.0.0.1:80'] }],
    ['1: a\n8080: b\n"01": c\n', { 1: 'a', 8080: 'b', '01': 'c' }],
  ])('%j', (text, want) => {
    expect(agree(text)).toBe(true);
    expect(fastParseYaml(text, L)).toStrictEqual(want);
  });

  it('every tricky scalar, as a block value, a list item and a flow value, agrees or is left to the full parser', () => {
    let taken = 0;
    for (const s of TRICKY_SCALARS) {
      for (const text of [`k: ${s}\n`, `k:\n  - ${s}\n`, `k: [${s}]\n`, `k: {x: ${s}}\n`, `k: [a, ${s}, b]\n`, `k: {x: ${s}, y: 1}\n`, `- ${s}\n`]) {
        if (agree(text)) taken++;
      }
    }
    // Most of them are taken (the test is not vacuous).
    expect(taken).toBeGreaterThan(TRICKY_SCALARS.length * 3);
  });

  it('every tricky key, in a block and a flow mapping, agrees or is left to the full parser', () => {
    let taken = 0;
    for (const k of TRICKY_KEYS) {
      for (const text of [`${k}: 1\n`, `a: 1\n${k}: 2\n`, `m: {${k}: 1}\n`, `m:\n  - ${k}: 1\n    z: 2\n`]) {
        if (agree(text)) taken++;
      }
    }
    expect(taken).toBeGreaterThan(TRICKY_KEYS.length);
  });
});

describe('structure', () => {
  it.each([
    ['block mapping, nested', 'a:\n  b:\n    c: 1\n  d: 2\ne: 3\n'],
    ['sequence at the key indent', 'a:\n- 1\n- 2\nb: 3\n'],
    ['sequence indented', 'a:\n    - x\n    - y\n'],
    ['compact mappings in a sequence', 'a:\n  - id: 1\n    port: 2\n  -   id: 3\n      port: 4\n'],
    ['nested block in a compact mapping', 'a:\n  - id: 1\n    labels:\n      v: x\n    list:\n    - p\n'],
    ['empty values', 'a:\nb: # c\nc:\n  -\n  - # d\n  - x\n'],
    ['comments and blank lines everywhere', '# top\n\na: 1 # c\n  # odd indent\n\nb:\n# c\n  - 1\n\n'],
    ['indented root', '  a: 1\n  b:\n    c: 2\n'],
    ['opening marker', '---\na: 1\n'],
    ['opening marker with comment', '--- # doc\na: 1\n'],
    ['flow collections', 'a: { x: [1, 2, {y: z}], "q": \'r\', "j":1 }\nb: []\nc: {}\n'],
    ['no final newline', 'a: 1'],
  ])('%s', (_name, text) => {
    expect(agree(text)).toBe(true);
  });

  it.each([
    ['an anchor and alias', 'a: &x 1\nb: *x\n'],
    ['a merge key', 'a: &x {p: 1}\nb:\n  <<: *x\n'],
    ['a bare << key', '<<: 1\n'],
    ['a tag', 'a: !!str 1\n'],
    ['a literal block scalar', 'a: |\n  text\n'],
    ['a folded block scalar', 'a: >\n  text\n'],
    ['a multi-line plain scalar', 'a: one\n  two\n'],
    ['a multi-line quoted scalar', 'a: "one\n  two"\n'],
    ['a multi-line flow collection', 'a: [1,\n  2]\n'],
    ['an explicit key', '? a\n: 1\n'],
    ['two documents', 'a: 1\n---\nb: 2\n'],
    ['a document end marker', 'a: 1\n...\n'],
    ['a directive', '%YAML 1.2\n---\na: 1\n'],
    ['a duplicate key', 'a: 1\nb: 2\na: 3\n'],
    ['a duplicate key spelled differently', 'a: 1\n"a": 2\n'],
    ['a duplicate flow key', 'a: {x: 1, x: 2}\n'],
    ['a tab', 'a:\n\tb: 1\n'],
    ['a tab in a comment', 'a: 1 #\tc\n'],
    ['CRLF line ends', 'a: 1\r\nb: 2\r\n'],
    ['a BOM', '\ufeffa: 1\n'],
    ['a NUL byte', 'a: "\u0000"\n'],
    ['__proto__', '__proto__: {a: 1}\n'],
    ['a top-level list', '- a\n- b\n'],
    ['a top-level scalar', 'just words\n'],
    ['only comments', '# nothing\n'],
    ['an empty text', ''],
    ['a nested implicit key', 'a: b: c\n'],
    ['bad indentation', 'a:\n    b: 1\n  c: 2\n'],
    ['a key with spaces', 'a b: 1\n'],
    ['a flow collection as key', '[a]: 1\n'],
    ['trailing text after a flow collection', 'a: [1] x\n'],
    ['a comment glued to a quoted scalar', 'a: "x"#c\n'],
    ['a compact nested sequence', 'a:\n  - - x\n'],
    ['a scalar on the line below its key', 'a:\n  text\n'],
  ])('gives up on %s', (_name, text) => {
    expect(fastParseYaml(text, L)).toBeUndefined();
  });

  it('gives up beyond the nesting limit (the full parser reports it), and reads up to it', () => {
    const nested = (n: number): string => `x: ${'['.repeat(n)}${']'.repeat(n)}\n`;
    // x's value is at depth 1; n brackets put the innermost list at depth n.
    expect(agree(nested(L.maxDepth))).toBe(true);
    expect(fastParseYaml(nested(L.maxDepth + 1), L)).toBeUndefined();
    expect(full(nested(L.maxDepth + 1))).toEqual({ error: `nesting deeper than ${L.maxDepth} levels` });
    let block = 'x:\n';
    for (let i = 0; i < 40; i++) block += `${'  '.repeat(i + 1)}k${i}:\n`;
    expect(fastParseYaml(block, L)).toBeUndefined();
    expect(fastParseYaml('x: ' + '['.repeat(100_000) + ']'.repeat(100_000), L)).toBeUndefined();
  });

  it('gives up on text over the byte limit (bytes, not characters)', () => {
    const limits: YamlLimits = { ...DEFAULT_YAML_LIMITS, maxBytes: 1000 };
    expect(fastParseYaml(`a: "${'x'.repeat(2000)}"\n`, limits)).toBeUndefined();
    expect(fastParseYaml(`a: "${'日'.repeat(400)}"\n`, limits)).toBeUndefined();
    expect(fastParseYaml(`a: "${'x'.repeat(900)}"\n`, limits)).toEqual({ a: 'x'.repeat(900) });
  });
});

describe('randomised differential test', () => {
  it('agrees with the full parser on every generated text it accepts', () => {
    let taken = 0;
    let valid = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const text = randomDoc(rng(seed));
      if ('value' in full(text)) valid++;
      if (agree(text)) taken++;
    }
    // The generator makes plenty of valid texts the fast reader takes (the test is not vacuous).
    expect(valid).toBeGreaterThan(600);
    expect(taken).toBeGreaterThan(300);
  });
});

describe('fastParseEntry: one entry of a block mapping, read alone', () => {
  /** The entries of the mapping at column `indent`: each from its key line to the next (comment and blank lines with the entry before them). */
  function cut(text: string, indent: number): string[] | undefined {
    const lines = text.split('\n');
    const starts: number[] = [];
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      const n = l.length - l.trimStart().length;
      if (l.trim() === '' || l.trimStart().startsWith('#')) continue;
      // (Not cut here: a sequence at its key's column, document markers.)
      if (n < indent || (n === indent && /^-( |$)/.test(l.trimStart())) || /^(---|\.\.\.|%)/.test(l)) return undefined;
      if (n === indent) starts.push(i);
    }
    if (starts.length === 0 || lines.slice(0, starts[0]).some((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))) return undefined;
    return starts.map((s, k) => lines.slice(s, k + 1 < starts.length ? starts[k + 1] : lines.length).join('\n') + (k + 1 < starts.length ? '\n' : ''));
  }

  it('reads each entry of a generated text as the whole-text reader reads it, at the top and one level down', () => {
    let read = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const doc = randomDoc(rng(seed));
      for (const [text, indent, depth, pickValue] of [
        [doc, 0, 0, (v: Record<string, unknown>) => v],
        [`k:\n${doc.split('\n').map((l) => (l ? `  ${l}` : l)).join('\n')}`, 2, 1, (v: Record<string, unknown>) => v['k'] as Record<string, unknown>],
      ] as const) {
        const whole = fastParseYaml(text, L);
        const body = indent === 0 ? text : text.slice(text.indexOf('\n') + 1);
        const entries = cut(body, indent);
        if (whole === undefined || entries === undefined) continue;
        const value = pickValue(whole);
        // (By key: JS puts integer-like keys first, whatever the text's order.)
        const keys = new Set(Object.keys(value));
        expect(entries.length, JSON.stringify(text)).toBe(keys.size);
        for (const e of entries) {
          const got = fastParseEntry(e, indent, depth, L);
          expect(got, JSON.stringify(e)).toBeDefined();
          expect(keys.delete(got!.key), JSON.stringify(e)).toBe(true);
          expect(isDeepStrictEqual(got!.value, value[got!.key]) && JSON.stringify(got!.value) === JSON.stringify(value[got!.key]), JSON.stringify(e)).toBe(true);
          read++;
        }
      }
    }
    expect(read).toBeGreaterThan(1000);
  });

  it('applies the nesting limit at the depth the entry has in the whole text', () => {
    const nested = (n: number): string => `  a: ${'['.repeat(n)}${']'.repeat(n)}\n`;
    // In "k:\n  a: [[...]]", a's value is at depth 2: n brackets put the innermost list at depth n + 1.
    for (const n of [L.maxDepth - 1, L.maxDepth]) {
      const whole = fastParseYaml(`k:\n${nested(n)}`, L);
      const entry = fastParseEntry(nested(n), 2, 1, L);
      expect(entry === undefined, `n = ${n}`).toBe(whole === undefined);
    }
    expect(fastParseEntry(nested(L.maxDepth - 1), 2, 1, L)).toBeDefined();
  });

  it.each([
    ['two entries', 'a: 1\nb: 2\n', 0],
    ['a comment before the key line', '# c\na: 1\n', 0],
    ['a key at another column', '  a: 1\n', 0],
    ['a less indented line after the entry', '  a:\n    b: 1\n c: 2\n', 2],
    ['a sequence item', '- a\n', 0],
    ['a document marker', '---\na: 1\n', 0],
    ['a tab', 'a:\t1\n', 0],
  ])('gives up on %s', (_name, text, indent) => {
    expect(fastParseEntry(text, indent, indent === 0 ? 0 : 1, L)).toBeUndefined();
  });
});

describe('fastParseSeqItem: one item of a block sequence, read alone', () => {
  it('reads each item of a generated list as the whole-text reader reads it', () => {
    let read = 0;
    for (let seed = 1; seed <= 6000; seed++) {
      const r = rng(seed);
      // "k:" then items at column q: each a random document's entry ("- key: ..." with its lines under it).
      const q = [0, 2, 4][Math.floor(r() * 3)]!;
      const items = randomDoc(r)
        .split(/\n(?=\S)/)
        .filter((e) => e.trim() !== '')
        .map((e) => {
          const lines = e.split('\n');
          return [`${' '.repeat(q)}- ${lines[0]}`, ...lines.slice(1).map((l) => (l ? ' '.repeat(q + 2) + l : l))].join('\n') + '\n';
        });
      const whole = fastParseYaml(`k:\n${items.join('')}`, L);
      if (whole === undefined) continue;
      const list = whole['k'] as unknown[];
      expect(list.length).toBe(items.length);
      items.forEach((item, i) => {
        // In "k:\n- ...", the list is k's value, at depth 1.
        const got = fastParseSeqItem(item, q, 1, L);
        expect(got, JSON.stringify(item)).toBeDefined();
        expect(isDeepStrictEqual(got!.value, list[i]) && JSON.stringify(got!.value) === JSON.stringify(list[i]), JSON.stringify(item)).toBe(true);
        read++;
      });
    }
    expect(read).toBeGreaterThan(1000);
  });

  it.each([
    ['two items', '- a\n- b\n', 0],
    ['a key line', 'a: 1\n', 0],
    ['an item at another column', '  - a\n', 0],
    ['a less indented line after the item', '    - a:\n        b: 1\n   c: 2\n', 4],
    ['a tab', '- a:\t1\n', 0],
  ])('gives up on %s', (_name, text, indent) => {
    expect(fastParseSeqItem(text, indent, 1, L)).toBeUndefined();
  });
});
