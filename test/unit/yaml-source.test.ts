// YAML with positions (src/util/yaml-source.ts): hostile or broken input gives a clear
// SourceError with file:line:column and bounded memory (RELIABILITY 12, 13); locate() maps a
// path back to the line a user has to fix.
import { describe, expect, it } from 'vitest';
import { DEFAULT_YAML_LIMITS, locate, parseYaml, SourceError, splitPath, toJs, type YamlLimits } from '../../src/util/yaml-source.js';

function load(text: string, limits?: YamlLimits): unknown[] {
  const parsed = parseYaml('model.yaml', text, limits);
  return parsed.docs.map((d) => toJs(parsed, d, limits));
}

/** The SourceError thrown by fn (fails the test if fn does not throw one). */
function sourceError(fn: () => unknown): SourceError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SourceError);
    return err as SourceError;
  }
  throw new Error('expected a SourceError, but nothing was thrown');
}

function where(e: SourceError): string {
  return `${e.position.file}:${e.position.line}:${e.position.column}`;
}

describe('parseYaml / toJs', () => {
  it('parses every document of a stream to plain values', () => {
    expect(load('a: 1\nb: [x, "y"]\n---\n- 1.5\n- true\n- null\n')).toEqual([{ a: 1, b: ['x', 'y'] }, [1.5, true, null]]);
    expect(load('')).toEqual([]);
  });

  it('syntax errors carry line:column', () => {
    const unclosed = sourceError(() => load('ok: 1\nname: "unterminated\nnext: 2\n'));
    expect(unclosed.position.line).toBeGreaterThanOrEqual(2);
    expect(unclosed.message).toMatch(/quote/i);
    expect(unclosed.format()).toMatch(/^model\.yaml:\d+:\d+: /);

    const indent = sourceError(() => load('a: 1\n  b: 2\n'));
    expect(where(indent)).toBe('model.yaml:1:4');

    const flow = sourceError(() => load('a:\n  b: [1, 2\nc: 3\n'));
    expect(flow.position.line).toBeGreaterThanOrEqual(2);
  });

  it('a syntax error in a later document points into that document', () => {
    const e = sourceError(() => load('a: 1\n---\nb: 2\n---\nc: [\n'));
    expect(e.position.line).toBeGreaterThanOrEqual(5);
  });

  it('duplicate keys are rejected at the second key', () => {
    const e = sourceError(() => load('name: a\nport: 1\nname: b\n'));
    expect(where(e)).toBe('model.yaml:3:1');
    expect(e.message).toMatch(/unique/i);
    const nested = sourceError(() => load('outer:\n  x: 1\n  y: 2\n  x: 3\n'));
    expect(where(nested)).toBe('model.yaml:4:3');
  });

  it('a YAML bomb (billion laughs) fails fast with a clear message and bounded memory', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    const names = 'abcdefghi';
    for (let i = 1; i < names.length; i++) lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(', ')}]`);
    // Fully expanded this is 9^9 ≈ 387 million strings.
    const heapBefore = process.memoryUsage().heapUsed;
    const e = sourceError(() => load(lines.join('\n') + '\n'));
    expect(e.message).toMatch(/alias/);
    expect(e.message).toMatch(/YAML bomb/);
    expect(e.position.file).toBe('model.yaml');
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(200 * 1024 * 1024);
  });

  it('a few ordinary aliases are fine', () => {
    expect(load('base: &b {port: 80}\none: *b\ntwo: *b\n')).toEqual([{ base: { port: 80 }, one: { port: 80 }, two: { port: 80 } }]);
  });

  it('deep nesting is rejected: block, flow, and far beyond the parser stack', () => {
    let block = '';
    for (let i = 0; i < 80; i++) block += `${'  '.repeat(i)}k:\n`;
    block += `${'  '.repeat(80)}v: 1\n`;
    const b = sourceError(() => load(block));
    expect(b.message).toBe(`nesting deeper than ${DEFAULT_YAML_LIMITS.maxDepth} levels`);
    expect(b.position.line).toBeGreaterThan(DEFAULT_YAML_LIMITS.maxDepth - 2);

    expect(sourceError(() => load('['.repeat(100) + ']'.repeat(100))).message).toMatch(/nesting deeper than/);
    // 100k levels: the parser itself would run out of stack; still a clean, clear error.
    expect(sourceError(() => load('['.repeat(100_000) + ']'.repeat(100_000))).message).toMatch(/nesting deeper than/);
    expect(sourceError(() => load('- '.repeat(100_000) + 'x')).message).toMatch(/nesting deeper than/);
    expect(sourceError(() => load('{a: '.repeat(50_000) + '1' + '}'.repeat(50_000))).message).toMatch(/nesting deeper than/);

    // Just inside the limit is accepted.
    expect(() => load('['.repeat(DEFAULT_YAML_LIMITS.maxDepth) + ']'.repeat(DEFAULT_YAML_LIMITS.maxDepth))).not.toThrow();
  });

  it('a NUL byte (binary garbage) is rejected with its line', () => {
    const e = sourceError(() => load('a: 1\nb: 2\nc: \u0000\u0001\u00ff'));
    expect(e.message).toMatch(/NUL byte.*binary/);
    expect(e.position.line).toBe(3);
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('latin1');
    expect(sourceError(() => load(garbage)).message).toMatch(/binary/);
  });

  it('a file over the byte limit is rejected before parsing', () => {
    const limits: YamlLimits = { ...DEFAULT_YAML_LIMITS, maxBytes: 1000 };
    const e = sourceError(() => load(`a: "${'x'.repeat(2000)}"\n`, limits));
    expect(e.message).toMatch(/larger than the limit of 1000 bytes/);
    expect(where(e)).toBe('model.yaml:1:1');
    // Bytes, not characters: 400 three-byte characters exceed 1000 bytes.
    expect(sourceError(() => load(`a: "${'日'.repeat(400)}"\n`, limits)).message).toMatch(/limit/);
    expect(() => load(`a: "${'x'.repeat(900)}"\n`, limits)).not.toThrow();
  });
});

describe('splitPath', () => {
  it('splits dotted paths with indexes', () => {
    expect(splitPath('a.b[1].c')).toEqual(['a', 'b', 1, 'c']);
    expect(splitPath('m[0][2]')).toEqual(['m', 0, 2]);
    expect(splitPath('[3].x')).toEqual([3, 'x']);
    expect(splitPath('')).toEqual([]);
    expect(splitPath('typed_config.@type')).toEqual(['typed_config', '@type']);
  });
});

describe('locate', () => {
  const text = [
    'a:', //                                   1
    '  b:', //                                 2
    '    - c: 0', //                           3
    '    - x: 1', //                           4
    '      c: here', //                        5
    '  snake_key:', //                         6
    '    innerValue: 1', //                    7
    '  camelKey:', //                          8
    '    deep:', //                            9
    '      deeper: 2', //                      10
    '  "envoy.filters.http.cors":', //         11
    '    bad: 3', //                           12
    '---',
    'second: doc', //                          14
  ].join('\n');
  const parsed = parseYaml('f.yaml', text);
  const doc0 = parsed.docs[0]!;
  const at = (path: string, doc = doc0): string => {
    const p = locate(parsed, doc, splitPath(path));
    return `${p.line}:${p.column}`;
  };

  it('maps a.b[1].c to that scalar value; a list or mapping to its key', () => {
    expect(at('a.b[1].c')).toBe('5:10');
    expect(at('a.b[0].c')).toBe('3:10');
    expect(at('a.b[1]')).toBe('4:7');
    expect(at('a.b')).toBe('2:3');
    expect(locate(parsed, doc0, [])).toEqual({ file: 'f.yaml', line: 1, column: 1 });
  });

  it('accepts camelCase for snake_case keys and the reverse', () => {
    expect(at('a.snakeKey.inner_value')).toBe('7:17');
    expect(at('a.camel_key.deep.deeper')).toBe('10:15');
    expect(at('a.snakeKey')).toBe('6:3');
  });

  it('points at the key even when its value is a block on the next lines', () => {
    expect(at('a.camelKey.deep')).toBe('9:5');
  });

  it('finds keys that contain dots (map keys split by splitPath)', () => {
    expect(at('a.envoy.filters.http.cors.bad')).toBe('12:10');
    expect(at('a.envoy.filters.http.cors')).toBe('11:3');
  });

  it('stops at the deepest node that exists', () => {
    expect(at('a.b[1].nope.deeper')).toBe('4:7');
    expect(at('a.b[7].c')).toBe('2:3');
    expect(at('missing')).toBe('1:1');
  });

  it('works on later documents', () => {
    const p = locate(parsed, parsed.docs[1]!, ['second']);
    expect(p.line).toBe(14);
  });
});
