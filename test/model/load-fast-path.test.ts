// loadModelText's fast path (src/model/load.ts with src/util/yaml-fast.ts) must give exactly what
// the full, position-tracking path gives: the same model, and the same diagnostics (message,
// path, file:line:column, hint) for warnings, semantic errors and schema errors alike. Checked on
// every shipped model and on thousands of edits of them (deleted, duplicated, re-indented, typo'd
// and re-valued lines), which yield valid models, models with warnings and invalid ones.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { shippedAndBenchModels } from '../helpers/models.js';
import { loadModelText, loadModelTextFullPath, MODEL_YAML_LIMITS } from '../../src/model/load.js';
import { ModelSchema } from '../../src/model/schema.js';
import { fastParseYaml } from '../../src/util/yaml-fast.js';
import { rng, TRICKY_SCALARS } from '../unit/yaml-fuzz-gen.js';

// The full parser warns (process.emitWarning) about odd keys some edits produce; keep the test
// output readable.
beforeAll(() => {
  vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
});
afterAll(() => {
  vi.restoreAllMocks();
});

/**
 * Both paths, compared whole. Returns which way the fast path went: 'full' (the fast reader
 * gave up), 'schema' (zod rejected it: loaded by the full path), or 'semantic' (checked on the
 * fast reader's value), and how many diagnostics there were.
 */
function same(file: string, text: string): { way: 'full' | 'schema' | 'semantic'; valid: boolean; diagnostics: number } {
  const got = loadModelText(file, text);
  const want = loadModelTextFullPath(file, text);
  expect(got, `loading ${JSON.stringify(text)}`).toStrictEqual(want);
  // Key order too (toStrictEqual ignores it; it decides the order of services, routes' headers, ...).
  expect(JSON.stringify(got)).toBe(JSON.stringify(want));
  const raw = fastParseYaml(text, MODEL_YAML_LIMITS);
  const way = raw === undefined ? 'full' : ModelSchema.safeParse(raw).success ? 'semantic' : 'schema';
  return { way, valid: got.model !== null, diagnostics: got.diagnostics.length };
}

const VALUES = [...TRICKY_SCALARS.filter((s) => s.length < 16), 's0', 's1', 'users', 'orders', 'edge', 'public', '/', '/x', '10s', '0s', 'tcp', 'http2', 'grpc', 'deny', 'strict', 'off', '8080', '15000', '0.0.0.0', '127.0.0.1:8080'];

/** One random edit of a model text. */
function mutate(text: string, r: () => number): string {
  const lines = text.split('\n');
  const i = Math.floor(r() * lines.length);
  const line = lines[i]!;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  switch (Math.floor(r() * 7)) {
    case 0:
      lines.splice(i, 1);
      break;
    case 1:
      lines.splice(i, 0, line);
      break;
    case 2:
      lines[i] = r() < 0.5 ? ` ${line}` : line.replace(/^ {1,2}/, '');
      break;
    case 3: {
      // A new value for a "key: value" (block or flow).
      const ms = [...line.matchAll(/([A-Za-z]+): ?([^,{}[\]#\n]+?)(?=\s*(,|}|]|$|#))/g)];
      const m = ms.length ? pick(ms) : undefined;
      if (m && m.index !== undefined) {
        const at = m.index + m[0].length - m[2]!.length;
        lines[i] = line.slice(0, at) + pick(VALUES) + line.slice(at + m[2]!.length);
      }
      break;
    }
    case 4: {
      // A typo in a key.
      const ms = [...line.matchAll(/([A-Za-z]{3,}):/g)];
      const m = ms.length ? pick(ms) : undefined;
      if (m && m.index !== undefined) lines[i] = line.slice(0, m.index) + m[1]!.slice(0, -1) + line.slice(m.index + m[1]!.length);
      break;
    }
    case 5: {
      const j = Math.floor(r() * lines.length);
      [lines[i], lines[j]] = [lines[j]!, line];
      break;
    }
    default: {
      // Repeat a list item with everything below it (duplicate ids, port clashes, shadowed
      // routes), or a mapping entry under another key.
      if (/^\s*- /.test(line)) {
        const ind = line.search(/\S/);
        let end = i + 1;
        while (end < lines.length && lines[end]!.trim() !== '' && lines[end]!.search(/\S/) > ind) end++;
        lines.splice(end, 0, ...lines.slice(i, end));
      } else lines.splice(i + 1, 0, line.replace(/([A-Za-z]+):/, '$1x:'));
    }
  }
  return lines.join('\n');
}

describe('fast path = full path', () => {
  it.each(shippedAndBenchModels())('%s: same model and diagnostics, through the fast reader', (name, text) => {
    const r = same(name, text);
    expect(r.way).toBe('semantic');
    expect(r.valid).toBe(true);
  });

  it('thousands of edits of those models: same model and diagnostics either way', () => {
    const counts = { full: 0, schema: 0, semanticClean: 0, semanticWarnings: 0, semanticErrors: 0 };
    const all = shippedAndBenchModels();
    let seed = 1;
    for (const [name, text] of all) {
      const n = name.startsWith('bench') ? 15 : 60;
      for (let k = 0; k < n; k++) {
        const r = rng(seed++);
        let t = mutate(text, r);
        if (r() < 0.3) t = mutate(t, r);
        const res = same(name, t);
        if (res.way !== 'semantic') counts[res.way]++;
        else if (!res.valid) counts.semanticErrors++;
        else if (res.diagnostics > 0) counts.semanticWarnings++;
        else counts.semanticClean++;
      }
    }
    // Every kind of outcome is exercised.
    expect(counts.full).toBeGreaterThan(50);
    expect(counts.schema).toBeGreaterThan(50);
    expect(counts.semanticClean).toBeGreaterThan(50);
    expect(counts.semanticWarnings).toBeGreaterThan(5);
    expect(counts.semanticErrors).toBeGreaterThan(20);
  });

  it('a warning on a valid model is placed by the full parse (run only then)', () => {
    const text = [
      'version: 1',
      'services:',
      '  users:',
      '    instances:',
      '      - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }',
      '    routes:',
      '      - backends: [{ service: users }]',
      '      - match: { pathPrefix: /x }',
      '        backends: [{ service: users }]',
      '',
    ].join('\n');
    expect(fastParseYaml(text, MODEL_YAML_LIMITS)).toBeDefined();
    const r = loadModelText('mesh.yaml', text);
    expect(r.model).not.toBeNull();
    expect(r.diagnostics.map((d) => `${d.position.line}:${d.position.column} ${d.severity} ${d.message}`)).toEqual([
      '8:9 warning unreachable: the route at services.users.routes[0] above matches every request',
    ]);
    expect(r).toStrictEqual(loadModelTextFullPath('mesh.yaml', text));
  });
});
