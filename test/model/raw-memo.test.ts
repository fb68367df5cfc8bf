// Reading a model text part by part (src/model/raw-memo.ts: the line scan of text-split.ts, each
// part read by yaml-fast.ts fastParseEntry, unchanged parts reused) must give exactly what the
// fast reader gives for the whole text, which is what the full parser gives: the same value, in
// the same key order. It may give up (undefined) on anything, but never on a text a fresh memo
// reads, and never read a text the whole-text reader gives up on.
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { replacedSince } from '../../src/ir/list-edits.js';
import { MODEL_YAML_LIMITS } from '../../src/model/load.js';
import { RawModelMemo } from '../../src/model/raw-memo.js';
import { commonEnds, isSection, shiftLayout, splitEntryList, splitModelText } from '../../src/model/text-split.js';
import { fastParseYaml } from '../../src/util/yaml-fast.js';
import { parseYaml, toJs } from '../../src/util/yaml-source.js';
import { rng } from '../helpers/rng.js';
import { randomDoc } from '../unit/yaml-fuzz-gen.js';
import { editModelText, pick } from './model-edits.js';

beforeAll(() => {
  vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
});
afterAll(() => {
  vi.restoreAllMocks();
});

const L = MODEL_YAML_LIMITS;

/**
 * A random text in a model's layout whose sections hold random YAML (yaml-fuzz-gen.ts: odd
 * scalars, keys, indentation, comments, near misses), mostly YAML the fast reader takes.
 */
function randomModelText(r: () => number): string {
  const indent = (doc: string, n: number): string =>
    doc
      .split('\n')
      .map((l) => (l === '' ? l : ' '.repeat(n) + l))
      .join('\n');
  const randomDocTaken = (): string => {
    let d = randomDoc(r);
    for (let i = 0; i < 30 && r() > 0.1 && fastParseYaml(d, L) === undefined; i++) d = randomDoc(r);
    return d;
  };
  // Gateways with a `routes` list (read route by route): items made from a random document's
  // entries ("- key: ..." with the entry's lines under it), scalars and flow collections.
  const gateway = (name: string): string => {
    const q = pick(r, [4, 6, 6, 8]);
    const items: string[] = [];
    for (const entry of randomDocTaken().split(/\n(?=\S)/)) {
      if (entry.trim() === '') continue;
      const lines = entry.split('\n');
      items.push([`${' '.repeat(q)}- ${lines[0]}`, ...lines.slice(1).map((l) => (l ? ' '.repeat(q + 2) + l : l))].join('\n'));
      if (r() < 0.2) items.push(`${' '.repeat(q)}- ${pick(r, ['x', '{ a: 1 }', '[1, 2]', '"q"'])}`);
    }
    const keys = [`    listeners: [{ name: l, port: 1 }]`, `    routes:${pick(r, ['', '', ' # r'])}\n${items.join('\n')}`, ...(r() < 0.5 ? ['    adminPort: 9901'] : [])];
    return [`  ${name}:`, ...keys.sort(() => r() - 0.5)].join('\n');
  };
  const parts: string[] = [];
  if (r() < 0.2) parts.push(pick(r, ['# preamble', '', '  # indented comment', '---']));
  const top = [
    () => 'version: 1',
    () => `mesh:\n${indent(randomDocTaken(), pick(r, [2, 2, 4, 1]))}`,
    () => `services:${pick(r, ['', '', '  # the services'])}\n${indent(randomDocTaken(), pick(r, [2, 2, 2, 4, 1, 3]))}`,
    () => (r() < 0.6 ? `gateways:\n${gateway('gw')}\n${r() < 0.5 ? gateway('edge') : ''}` : `gateways:\n${indent(randomDocTaken(), pick(r, [2, 2, 4]))}`),
  ];
  for (const k of [0, 1, 2, 3].sort(() => r() - 0.5)) if (k === 2 || r() < 0.7) parts.push(top[k]!());
  return parts.join('\n').replace(/\n\n+/g, '\n') + (r() < 0.9 ? '\n' : '');
}

/** The full parser's value, or undefined if it reports an error or more than one document. */
function fullValue(text: string): unknown {
  try {
    const p = parseYaml('t.yaml', text, L);
    return p.docs.length === 1 ? toJs(p, p.docs[0]!, L) : undefined;
  } catch {
    return undefined;
  }
}

function expectSameValue(got: unknown, want: unknown, text: string): void {
  if (!isDeepStrictEqual(got, want) || JSON.stringify(got) !== JSON.stringify(want)) {
    expect.fail(`read part by part: ${JSON.stringify(got)}\nwhole: ${JSON.stringify(want)}\ntext: ${JSON.stringify(text)}`);
  }
}

describe('RawModelMemo = the whole-text reader', () => {
  it('on 1000 sequences of 16 edits of random model-shaped texts', () => {
    const counts = { read: 0, reused: 0, gaveUp: 0, sequences: 0, readByItem: 0 };
    for (let seed = 1; seed <= 1000; seed++) {
      const r = rng(seed);
      const memo = new RawModelMemo();
      const base = randomModelText(r);
      const history = [base];
      let text = base;
      for (let step = 0; step < 16; step++) {
        if (step > 0) text = r() < 0.3 ? pick(r, history) : r() < 0.15 ? randomModelText(r) : editModelText(text, r);
        history.push(text);
        const got = memo.read(text, L);
        const fresh = new RawModelMemo().read(text, L);
        const whole = fastParseYaml(text, L);
        // A fresh memo reads exactly the texts a used one reads, to the same value.
        expect(got === undefined, `memory changed whether ${JSON.stringify(text)} is read part by part`).toBe(fresh === undefined);
        if (got === undefined) {
          counts.gaveUp++;
          continue;
        }
        if (whole === undefined) expect.fail(`read part by part, but the whole-text reader gives up: ${JSON.stringify(text)}`);
        expectSameValue(got, whole, text);
        expectSameValue(fresh, whole, text);
        expectSameValue(got, fullValue(text), text);
        counts.read++;
        for (const part of splitModelText(text)!.parts) {
          if (!isSection(part) || part.key !== 'gateways') continue;
          part.entryStarts.forEach((s, i) => {
            if (splitEntryList(text, s, part.entryStarts[i + 1] ?? part.end, part.indent, 'routes')) counts.readByItem++;
          });
        }
      }
      counts.sequences++;
      counts.reused += memo.counts.reused;
    }
    expect(counts.read).toBeGreaterThan(2000);
    expect(counts.readByItem).toBeGreaterThan(500);
    expect(counts.gaveUp).toBeGreaterThan(2000);
    expect(counts.reused).toBeGreaterThan(5000);
  });
});

describe('shiftLayout = splitModelText', () => {
  /** A small edit at a random place: characters or lines inserted, deleted or replaced. */
  function localEdit(text: string, r: () => number): string {
    const at = Math.floor(r() * (text.length + 1));
    const len = Math.floor(r() * 4) * (r() < 0.3 ? 20 : 1);
    const bits = ['\n', ' ', '  ', '#', 'x', ': ', '- ', '\n  ', '\n    y: 1', '\nz:', '\n# c\n', '\t', '\r', '\n  b:\n    instances: []'];
    const ins = r() < 0.6 ? pick(r, bits) : '';
    return text.slice(0, at) + ins + text.slice(Math.min(text.length, at + (ins && r() < 0.5 ? 0 : len)));
  }

  it('gives the layout the scan gives, whenever it gives one, on 20 000 edits', () => {
    const counts = { shifted: 0, split: 0 };
    for (let seed = 1; seed <= 2000; seed++) {
      const r = rng(seed * 13);
      let text = randomModelText(r);
      let layout = splitModelText(text);
      for (let step = 0; step < 10; step++) {
        const next = r() < 0.7 ? localEdit(text, r) : editModelText(text, r);
        const want = splitModelText(next);
        if (layout && next !== text) {
          const { prefix, suffix } = commonEnds(text, next);
          expect(text.slice(0, prefix)).toBe(next.slice(0, prefix));
          expect(text.slice(text.length - suffix)).toBe(next.slice(next.length - suffix));
          expect(prefix + suffix).toBeLessThanOrEqual(Math.min(text.length, next.length));
          const got = shiftLayout(layout, text, next, prefix, suffix);
          if (got) {
            counts.shifted++;
            expect(got.layout, `${JSON.stringify(text)} -> ${JSON.stringify(next)}`).toEqual(want);
            // The parts and entries other than the one named are the same text.
            const old = layout.parts;
            got.layout.parts.forEach((p, k) => {
              const same = (a: number, b: number, c: number, d: number): void => expect(next.slice(a, b)).toBe(text.slice(c, d));
              if (k !== got.part) same(p.start, p.end, old[k]!.start, old[k]!.end);
              else if (isSection(p)) {
                const o = old[k] as typeof p;
                p.entryStarts.forEach((s, i) => {
                  if (i !== got.entry) same(s, p.entryStarts[i + 1] ?? p.end, o.entryStarts[i]!, o.entryStarts[i + 1] ?? o.end);
                });
              }
            });
          } else if (want) counts.split++;
        }
        text = next;
        layout = want;
      }
    }
    expect(counts.shifted).toBeGreaterThan(3000);
    expect(counts.split).toBeGreaterThan(1000);
  });
});

describe('splitModelText', () => {
  const ok = ['version: 1', 'mesh:', '  mtls: strict', 'services:', '  a:', '    instances: []', '  b: {}', 'gateways:', '  gw:', '    listeners: []', ''].join('\n');

  it('splits at top-level keys and at the entries of services and gateways', () => {
    const layout = splitModelText(ok)!;
    expect(layout.parts.map((p) => [p.key, ok.slice(p.start, p.end)])).toEqual([
      ['version', 'version: 1\n'],
      ['mesh', 'mesh:\n  mtls: strict\n'],
      ['services', 'services:\n  a:\n    instances: []\n  b: {}\n'],
      ['gateways', 'gateways:\n  gw:\n    listeners: []\n'],
    ]);
    const services = layout.parts[2] as { indent: number; entryStarts: number[] };
    expect(services.indent).toBe(2);
    expect(services.entryStarts.map((s) => ok.slice(s, s + 4))).toEqual(['  a:', '  b:']);
  });

  it('keeps comments and blank lines anywhere with the part they are in', () => {
    const text = ['# preamble', '', 'version: 1 # v', 'services:   # all', '# col 0', '  a:', '# col 0 inside', '      # deep', ' # odd', '    instances: []', '', '  b: {}'].join('\n');
    const layout = splitModelText(text)!;
    expect(layout.preambleEnd).toBe('# preamble\n\n'.length);
    expect(new RawModelMemo().read(text, L)).toEqual(fastParseYaml(text, L));
  });

  it.each([
    ['flow style at the top', '{version: 1, services: {}}'],
    ['services as a flow mapping', 'version: 1\nservices: {a: {instances: []}}\n'],
    ['a value on the services line', 'version: 1\nservices: x\n'],
    ['an empty section', 'version: 1\nservices:\ngateways:\n  g: {}\n'],
    ['a document marker', '---\nversion: 1\nservices:\n  a: {}\n'],
    ['a second document', 'version: 1\nservices:\n  a: {}\n---\nversion: 1\n'],
    ['a directive', '%YAML 1.2\nversion: 1\nservices:\n  a: {}\n'],
    ['an unknown top-level key', 'version: 1\nextra: 1\nservices:\n  a: {}\n'],
    ['a repeated top-level key', 'version: 1\nservices:\n  a: {}\nservices:\n  b: {}\n'],
    ['an indented root', '  version: 1\n  services:\n    a: {}\n'],
    ['a line between column 0 and the entries', 'version: 1\nservices:\n    a: {}\n  b: {}\n'],
    ['a tab at column 0', 'version: 1\nservices:\n\t a: {}\n'],
    ['a BOM', '\ufeffversion: 1\nservices:\n  a: {}\n'],
    ['a quoted top-level key', '"version": 1\nservices:\n  a: {}\n'],
    ['no space after the colon', 'version:1\nservices:\n  a: {}\n'],
    ['a sequence at column 0', 'version: 1\nservices:\n- a\n'],
  ])('gives up on %s', (_, text) => {
    expect(splitModelText(text)).toBeUndefined();
  });

  it.each([
    ['a duplicate service', 'version: 1\nservices:\n  a: {}\n  a: {}\n'],
    ['an anchor and an alias', 'version: 1\nservices:\n  a: &x {}\n  b: *x\n'],
    ['a tag', 'version: 1\nservices:\n  a: !!map {}\n'],
    ['a tab inside an entry', 'version: 1\nservices:\n  a:\n    x:\t1\n'],
    ['a CR', 'version: 1\r\nservices:\n  a: {}\n'],
    ['a sequence as an entry', 'version: 1\nservices:\n  - a\n'],
    ['a block scalar', 'version: 1\nservices:\n  a: |\n    text\n'],
    ['a line less indented than its entry inside it', 'version: 1\nservices:\n  a:\n      x: 1\n    y: 1\n'],
  ])('splits but does not read %s (the whole text decides)', (_, text) => {
    expect(new RawModelMemo().read(text, L)).toBeUndefined();
  });
});

// A gateway's routes read again by the items an edit touches alone (raw-memo.ts readItemsEdited):
// edits inside a long list of routes laid out every way the list splitter takes (one-line and
// block items, lines inside items, comments and blank lines, a key after the list or none),
// each character-level or line-level (a line dedented, an item marker added or dropped, items
// swapped), must read exactly what the whole-text reader reads; the routes list records only
// places whose value is another object.
describe('RawModelMemo: edits inside a gateway\'s routes', () => {
  function routesText(r: () => number): string {
    const q = pick(r, [4, 6]);
    const items: string[] = [];
    for (let i = 0; i < 40; i++) {
      const x = r();
      if (x < 0.5) items.push(`${' '.repeat(q)}- {"match": {"pathPrefix": "/r${i}/"}, "backend": "s${i % 7}"}`);
      else if (x < 0.8) items.push(`${' '.repeat(q)}- match:\n${' '.repeat(q + 4)}pathPrefix: /r${i}/\n${' '.repeat(q + 2)}backend: s${i % 7}`);
      else if (x < 0.9) items.push(`${' '.repeat(q)}- backend: s${i}${r() < 0.5 ? '  # why' : ''}`);
      else items.push(`${pick(r, ['', '  ', ' '.repeat(q)])}# between ${i}\n${' '.repeat(q)}- x${i}`);
      if (r() < 0.1) items.push('');
    }
    const after = r() < 0.5 ? '\n    adminPort: 9901' : '';
    return `version: 1\nservices:\n  s1:\n    instances: []\ngateways:\n  edge:\n    listeners: [{ name: l, port: 1 }]\n    routes:\n${items.join('\n')}${after}\n${r() < 0.5 ? '  side:\n    routes:\n      - a\n' : ''}`;
  }

  function routesEdit(text: string, r: () => number): string {
    const from = text.indexOf('    routes:\n') + 12;
    const to = text.indexOf('\n  side:') > 0 ? text.indexOf('\n  side:') : text.length;
    const at = from + Math.floor(r() * (to - from));
    const lineStart = text.lastIndexOf('\n', at - 1) + 1;
    const lineEnd = text.indexOf('\n', at) < 0 ? text.length : text.indexOf('\n', at);
    const x = r();
    if (x < 0.35) {
      // Characters inserted or deleted.
      const ins = pick(r, ['x', ' ', '  ', '-', '- ', '#', ':', '\n', '\n      ', '\n    - y', '/', '"', '9']);
      return text.slice(0, at) + (r() < 0.6 ? ins : '') + text.slice(Math.min(text.length, at + (r() < 0.5 ? 0 : 1 + Math.floor(r() * 3))));
    }
    if (x < 0.5) return text.slice(0, lineStart) + text.slice(lineStart, lineEnd).replace(/^ {1,2}/, '') + text.slice(lineEnd); // a line dedented
    if (x < 0.6) return text.slice(0, lineStart) + '  ' + text.slice(lineStart); // indented
    if (x < 0.7) return text.slice(0, lineStart) + text.slice(lineStart, lineEnd).replace('- ', '  ') + text.slice(lineEnd); // an item marker dropped
    if (x < 0.8) {
      // The path of a one-line route changed (the bench's edit), with the same length or not.
      return text.slice(0, at) + text.slice(at).replace(/"\/r(\d+)\/"/, (_, n: string) => `"/e${r() < 0.5 ? n : Number(n) * 7}/"`);
    }
    if (x < 0.9) {
      // Two neighbouring lines swapped.
      const next = text.indexOf('\n', lineEnd + 1) < 0 ? text.length : text.indexOf('\n', lineEnd + 1);
      if (lineEnd >= text.length) return text;
      return text.slice(0, lineStart) + text.slice(lineEnd + 1, next) + '\n' + text.slice(lineStart, lineEnd) + text.slice(next);
    }
    return text.slice(0, lineStart) + text.slice(lineEnd + 1); // a line removed
  }

  it('on 400 sequences of 25 edits: exactly the whole-text reader, and records only what changed', () => {
    const counts = { read: 0, gaveUp: 0 };
    let itemEdits = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const r = rng(seed * 31);
      const memo = new RawModelMemo();
      let text = routesText(r);
      /** The last text read (an edit the reader gives up on is followed by one of this text). */
      let good = text;
      let lastRoutes: unknown[] | undefined;
      for (let step = 0; step < 25; step++) {
        if (step > 0) text = routesEdit(good, r);
        const got = memo.read(text, L);
        const whole = fastParseYaml(text, L);
        const fresh = new RawModelMemo().read(text, L);
        expect(got === undefined, `memory changed whether ${JSON.stringify(text)} is read part by part`).toBe(fresh === undefined);
        if (got === undefined) {
          counts.gaveUp++;
          lastRoutes = undefined;
          continue;
        }
        if (whole === undefined) expect.fail(`read part by part, but the whole-text reader gives up: ${JSON.stringify(text)}`);
        expectSameValue(got, whole, text);
        counts.read++;
        good = text;
        const routes = ((got['gateways'] as Record<string, Record<string, unknown>> | undefined)?.['edge']?.['routes'] ?? undefined) as unknown[] | undefined;
        const at = routes && Array.isArray(routes) && lastRoutes ? replacedSince(lastRoutes, routes) : undefined;
        if (at) {
          for (let i = 0; i < routes!.length; i++) if (!at.includes(i)) expect(routes![i], `step ${step}: place ${i} not recorded`).toBe(lastRoutes![i]);
        }
        lastRoutes = Array.isArray(routes) ? routes : undefined;
      }
      itemEdits += memo.counts.itemEdits;
    }
    expect(counts.read).toBeGreaterThan(4000);
    expect(itemEdits).toBeGreaterThan(1500);
  });
});
