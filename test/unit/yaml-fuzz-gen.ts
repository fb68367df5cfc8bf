// Random YAML-ish texts for differential tests of the fast reader (src/util/yaml-fast.ts)
// against the full parser: mostly inside the shape the fast reader takes, with near misses
// (odd scalars, keys, indentation, comments, flow collections, markers) mixed in.

import { rng } from '../helpers/rng.js';

export { rng };


/** Plain and quoted scalars that different YAML readers (or YAML versions) disagree on. */
export const TRICKY_SCALARS = [
  'a', 'users', 'x-y', 'a.b/c', 's0-1', '127.0.0.1', '10.0.0.1:8080', 'http://x/y', '/v1/users', '*.example.com', 'example.*',
  '1', '-1', '+1', '0', '-0', '+0', '00', '010', '0o17', '0o8', '0O17', '0x1F', '0X1F', '0xg', '0b101', '1_000', '1,000',
  '1.5', '1.', '.5', '-.5', '+.5', '1.50', '1e3', '1E3', '1e+3', '1.5e-3', '1e', 'e3', '.e3', '12e03',
  '9007199254740993', '123456789012345678901234567890', '1:30', '1:30:00', '190:20:30',
  '.inf', '.Inf', '.INF', '-.inf', '+.inf', 'inf', 'Infinity', '.nan', '.NaN', '.NAN', 'nan', 'NaN',
  'true', 'True', 'TRUE', 'tRUE', 'false', 'False', 'FALSE', 'yes', 'Yes', 'YES', 'no', 'No', 'on', 'On', 'ON', 'off', 'Off', 'y', 'Y', 'n', 'N',
  'null', 'Null', 'NULL', 'nULL', '~', '-', '--', '---', '...', '....',
  '2001-12-14', '2001-12-14t21:59:43.10-05:00', '2001-12-14 21:59:43.10 -5', '12:30',
  '=', '<<', '<', '>a', '|a', 'a|b', 'a>b', '@a', '`a', '%a', '&a', '*a', '!a', '!!str 1', '!!int "1"', '?a', '? a', ':a', ': a', '-a', '- a', '-1a',
  'a b', 'a  b', 'a #b', 'a#b', '#a', 'a: b', 'a:b', 'a:', 'a ,b', 'a,b', 'a]', 'a}', 'a[', 'a{', "a'b", 'a"b', "it's",
  'a :b', 'a : b', 'a::b', 'a:: b', '::', ':', 'a\\b', 'a/b#', 'x ]', 'x }', '[a]]', '{a}}', '- -', '-.5', '-:', '?', '?:', 'a?', 'a!', 'a&', 'a*', 'a%',
  'é', 'naïve', 'a\u00a0', '\u00a0a', 'a\u3000', '日本', '😀', 'a\u2028b', 'a\u0085b',
  '""', "''", '"a"', "'a'", '"a\\"b"', '"a\\\\b"', '"\\u00e9\\x41\\U0001F600"', '"\\q"', '"\\x4"', '"\\ud83d\\ude00"', '"a\\/b"', '"\\0\\a\\b\\e\\f\\n\\r\\t\\v\\N\\_\\L\\P\\ "',
  "'it''s'", "'a''", "'''", '"a" b', '"a"b', "'a' #c", '"a"#c', '"unterminated', "'unterminated", '"\\"', '"a\\', "'a\"b'", '"a\'b"',
  '[]', '{}', '[ ]', '{ }', '[a]', '[a, b]', '[a,b]', '[ a , b ]', '[a, [b, [c]]]', '[a, , b]', '[a,]', '[,a]', '[a b]', '[a:b]', '[a: b]', '[a #b]', '[a] b', '[a]#c', '[a] #c',
  '{a: 1}', '{a:1}', '{"a":1}', "{'a':1}", '{"a": 1, "b": [1, 2]}', '{a: 1,}', '{a, b}', '{a: }', '{a: 1, a: 2}', '{a: {b: {c: d}}}', '{a: [1, {b: c}]}', '{ a : 1 }',
  '{a: 10.0.0.1:80}', '{a: http://x}', '{a: x:}', '{a: b: c}', '{? a: 1}', '{a: &x 1}', '{a: *x}', '{a: !!str 1}', '{__proto__: 1}', '{"__proto__": 1}', '{1: a}', '{01: a}', '{true: a}', '{null: a}', '{~: a}',
  '[1, -1, .5, 0x1F, 0o17, true, ~, null, yes]', '{a: "", b: \'\', c: "x y"}', '[a,b', '{a: 1', 'a]b', '[[[]]]', '{"a":{"b":{"c":[{"d":null}]}}}',
];

export const TRICKY_KEYS = [
  'a', 'b', 'c', 'version', 'services', 'x-y', 'a.b/c', 'app.io/name', 'a_b', '_a', 'A',
  '1', '01', '1.0', '1e3', '-1', '0x1', '0o7', 'true', 'True', 'yes', 'on', 'y', 'n', 'null', 'Null', '~', '.inf', '.nan',
  '"a"', "'a'", '"b"', '"a b"', "'it''s'", '"\\u0061"', '""', '"x-canary"', '"envoy.filters.http.cors"',
  'a b', 'a#b', 'a #b', '-a', '--a', '<<', '__proto__', '"__proto__"', 'constructor', 'toString', 'hasOwnProperty',
  'a:', 'a::', 'a :', '"a" ', "'a' ", '"a\\"b"', 'a\\b', '-', '.', '_', '0', '00', '-0', '1_0',
  '? a', '&x a', '*x', '!t a', 'a:b', '"a":', 'é', 'a\u00a0',
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** A random flow collection, mostly well-formed. */
function flow(r: () => number, depth: number): string {
  const sp = (): string => pick(r, ['', ' ', ' ', '  ']);
  if (depth > 3 || r() < 0.35) return pick(r, TRICKY_SCALARS.filter((s) => s.length < 12));
  const n = Math.floor(r() * 4);
  if (r() < 0.5) {
    const items = Array.from({ length: n }, () => flow(r, depth + 1));
    return `[${sp()}${items.join(`${sp()},${pick(r, [' ', ' ', ''])}`)}${sp()}]`;
  }
  const used = new Set<string>();
  const items: string[] = [];
  for (let i = 0; i < n; i++) {
    let k = pick(r, TRICKY_KEYS.filter((x) => !x.includes(':') || r() < 0.1));
    if (used.has(k) && r() < 0.9) k = `k${i}`;
    used.add(k);
    items.push(`${k}:${pick(r, [' ', ' ', '  ', ''])}${flow(r, depth + 1)}`);
  }
  return `{${sp()}${items.join(`${sp()},${pick(r, [' ', ' ', ''])}`)}${sp()}}`;
}

function scalarOrFlow(r: () => number): string {
  const x = r();
  if (x < 0.55) return pick(r, TRICKY_SCALARS);
  return flow(r, 0);
}

function comment(r: () => number): string {
  return r() < 0.15 ? pick(r, [' # c', '  # c: d', ' #', '# not a comment', ' # é', ' #- x']) : '';
}

/**
 * A random document: a block mapping (usually at column 0) with nested mappings, sequences,
 * compact mappings in sequences, flow values, comments and blank lines; sometimes with a
 * near miss (wrong indentation, a stray line, a marker).
 */
export function randomDoc(r: () => number): string {
  const lines: string[] = [];
  if (r() < 0.05) lines.push(pick(r, ['---', '--- # c', '%YAML 1.2\n---', '# top', '', '--- a: 1']));
  const rootIndent = r() < 0.05 ? 2 : 0;
  const step = (): number => pick(r, [2, 2, 2, 4, 1, 3]);
  const block = (indent: number, depth: number, kind: 'map' | 'seq'): void => {
    const n = 1 + Math.floor(r() * (depth === 0 ? 5 : 3));
    const used = new Set<string>();
    for (let i = 0; i < n; i++) {
      if (r() < 0.08) lines.push(pick(r, ['', '   ', '# comment', `${' '.repeat(indent)}# c`, ' # odd indent']));
      const pad = ' '.repeat(indent);
      if (kind === 'map') {
        let k = r() < 0.7 ? pick(r, ['a', 'b', 'c', 'name', 'port', 'x-y', 'items', 'list']) : pick(r, TRICKY_KEYS);
        if (used.has(k) && r() < 0.95) k = `k${i}`;
        used.add(k);
        const x = r();
        if (x < 0.5 || depth > 4) lines.push(`${pad}${k}:${pick(r, [' ', ' ', '  '])}${scalarOrFlow(r)}${comment(r)}`);
        else if (x < 0.7) {
          lines.push(`${pad}${k}:${comment(r)}`);
          block(indent + step(), depth + 1, 'map');
        } else if (x < 0.9) {
          lines.push(`${pad}${k}:${comment(r)}`);
          block(r() < 0.4 ? indent : indent + step(), depth + 1, 'seq');
        } else lines.push(`${pad}${k}:${pick(r, ['', ' ', ' # c'])}`);
      } else {
        const x = r();
        if (x < 0.45 || depth > 4) lines.push(`${pad}-${pick(r, [' ', ' ', '  '])}${scalarOrFlow(r)}${comment(r)}`);
        else if (x < 0.75) {
          // compact mapping: "- k: v" then keys aligned under k
          const gap = pick(r, [' ', ' ', '   ']);
          const col = indent + 1 + gap.length;
          const m = 1 + Math.floor(r() * 3);
          const ks = ['id', 'address', 'port', 'labels', 'k'];
          for (let j = 0; j < m; j++) {
            const lead = j === 0 ? `${pad}-${gap}` : ' '.repeat(r() < 0.05 ? col + 1 : col);
            const key = ks[j]!;
            if (r() < 0.2) {
              lines.push(`${lead}${key}:`);
              block(r() < 0.3 ? col : col + step(), depth + 2, r() < 0.5 ? 'map' : 'seq');
            } else lines.push(`${lead}${key}: ${scalarOrFlow(r)}${comment(r)}`);
          }
        } else if (x < 0.9) {
          lines.push(`${pad}-${comment(r)}`);
          block(indent + step(), depth + 1, r() < 0.5 ? 'map' : 'seq');
        } else lines.push(`${pad}-`);
      }
      if (r() < 0.02) lines.push(pick(r, ['---', '...', `${pad}  continuation`, `${pad}\tx: 1`, `${pad}x: 1\r`, `${pad}? k`, `${pad}: v`, `${pad}- - x`, `${pad}k: |`, `${pad}  text`]));
    }
  };
  block(rootIndent, 0, 'map');
  let text = lines.join('\n') + (r() < 0.9 ? '\n' : '');
  if (r() < 0.03) text = `\ufeff${text}`;
  return text;
}
