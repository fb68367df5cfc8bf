// Model loading cost, per phase:
//
//   npx tsx bench/model-load.ts [--m10k] [--reps N] [--only NAME] [--gc]
//
// --gc (with node --expose-gc --import tsx) runs a full GC before each timing. That makes the
// figures less noisy but slower than in a running server: a forced GC shrinks the young
// generation, so the allocation-heavy phases that follow pay more scavenges.
//
// For each model (M1k, S2-mesh, and M10k with --m10k) it times:
//   total            loadModelText, as callers use it (a valid model takes the fast path)
//   full total       loadModelTextFullPath: the position-tracking path (what invalid input takes)
//   full: ...        that path's phases: YAML parse (parseYaml) · toJs · zod · semantic
//   fast: ...        the fast path's phases: fast read (yaml-fast.ts) · zod · semantic
// Each cell is the median of N repetitions (default 5; 3 for M10k) after one warm-up, with the
// minimum in parentheses (on a shared, busy machine the minimum is the steadier figure). It
// also checks, once per model, that the fast reader's value equals the full parser's.
import { isDeepStrictEqual } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadModelText, loadModelTextFullPath, MODEL_YAML_LIMITS } from '../src/model/load.js';
import { ModelSchema, type Model } from '../src/model/schema.js';
import { validateModel } from '../src/model/validate.js';
import { fastParseYaml } from '../src/util/yaml-fast.js';
import { locate, parseYaml, toJs } from '../src/util/yaml-source.js';
import { gatewayMesh, M10K, M1K, S2_MESH, sidecarMesh } from './models.js';

const args = process.argv.slice(2);
const withM10k = args.includes('--m10k');
const repsArg = args.indexOf('--reps');
const reps = repsArg >= 0 ? Number(args[repsArg + 1]) : 5;
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? args[onlyArg + 1] : undefined;

interface Row {
  model: string;
  mb: number;
  phases: Record<string, { median: number; min: number }>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

const forceGc = args.includes('--gc');
function gc(): void {
  if (forceGc) (globalThis as { gc?: () => void }).gc?.();
}

function measure(name: string, text: string, n: number): Row {
  const samples: Record<string, number[]> = {};
  const add = (k: string, ms: number): void => {
    (samples[k] ??= []).push(ms);
  };
  checkSameValue(name, text);
  // Each measurement runs in its own function, after a GC, so one's garbage (a full parse of
  // M1k leaves a large document behind) does not slow the next.
  for (let rep = 0; rep <= n; rep++) {
    const keep = rep > 0; // rep 0 warms up
    const phases = { ...totals(name, text), ...fastPhases(text), ...fullPhases(text) };
    if (keep) for (const [k, v] of Object.entries(phases)) add(k, v);
  }
  const phases: Row['phases'] = {};
  for (const [k, v] of Object.entries(samples)) phases[k] = { median: median(v), min: Math.min(...v) };
  return { model: name, mb: Buffer.byteLength(text) / 1e6, phases };
}

/** The fast reader must give the full parser's value (once per model, not timed). */
function checkSameValue(name: string, text: string): void {
  const fast = fastParseYaml(text, MODEL_YAML_LIMITS);
  if (fast === undefined) {
    process.stderr.write(`${name}: the fast reader gives up on this model\n`);
    return;
  }
  const parsed = parseYaml('model.yaml', text, MODEL_YAML_LIMITS);
  const full = toJs(parsed, parsed.docs[0]!, MODEL_YAML_LIMITS);
  if (!isDeepStrictEqual(fast, full) || JSON.stringify(fast) !== JSON.stringify(full)) throw new Error(`${name}: the fast reader's value differs from the full parser's`);
}

/** loadModelText (what callers get) and loadModelTextFullPath (what invalid input costs). */
function totals(name: string, text: string): Record<string, number> {
  gc();
  let ok = false;
  const tTotal = time(() => {
    ok = loadModelText('model.yaml', text).model !== null;
  });
  if (!ok) throw new Error(`${name}: the generated model does not load`);
  gc();
  const tFull = time(() => {
    loadModelTextFullPath('model.yaml', text);
  });
  return { total: tTotal, 'full total': tFull };
}

/** The full (position-tracking) path, phase by phase. */
function fullPhases(text: string): Record<string, number> {
  gc();
  let parsed!: ReturnType<typeof parseYaml>;
  let raw: unknown;
  let model!: Model;
  const tParse = time(() => {
    parsed = parseYaml('model.yaml', text, MODEL_YAML_LIMITS);
  });
  const doc = parsed.docs[0]!;
  const tToJs = time(() => {
    raw = toJs(parsed, doc, MODEL_YAML_LIMITS);
  });
  const tZod = time(() => {
    const r = ModelSchema.safeParse(raw);
    if (!r.success) throw new Error('zod rejected the model');
    model = r.data;
  });
  const tSem = time(() => {
    validateModel(model, (p, key = false) => locate(parsed, doc, [...p], null, { key }));
  });
  return { 'full: parse': tParse, 'full: toJs': tToJs, 'full: zod': tZod, 'full: semantic': tSem, 'full: sum': tParse + tToJs + tZod + tSem };
}

/** The fast path's phases (as loadModelText runs them for a valid model); none if the fast reader gives up. */
function fastPhases(text: string): Record<string, number> {
  gc();
  let raw: unknown;
  let model!: Model;
  const tRead = time(() => {
    raw = fastParseYaml(text, MODEL_YAML_LIMITS);
  });
  if (raw === undefined) return {};
  const tZod = time(() => {
    const r = ModelSchema.safeParse(raw);
    if (!r.success) throw new Error('zod rejected the model');
    model = r.data;
  });
  const tSem = time(() => {
    validateModel(model, () => {
      throw new Error('a valid bench model needs no positions');
    });
  });
  return { 'fast: read': tRead, 'fast: zod': tZod, 'fast: semantic': tSem, 'fast: sum': tRead + tZod + tSem };
}

function main(): void {
  const models: Array<[string, () => string, number]> = [
    ['M1k', () => gatewayMesh(M1K).text(), reps],
    ['S2-mesh', () => sidecarMesh(S2_MESH).text(), reps],
  ];
  if (withM10k) models.push(['M10k', () => gatewayMesh(M10K).text(), Math.min(reps, 3)]);
  const rows: Row[] = [];
  for (const [name, gen, n] of models) {
    if (only && only !== name) continue;
    const text = gen();
    process.stderr.write(`${name}: ${(Buffer.byteLength(text) / 1e6).toFixed(2)} MB, ${n} reps...\n`);
    rows.push(measure(name, text, n));
  }
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.phases)))];
  const header = ['phase: median ms (min)', ...rows.map((r) => `${r.model} (${r.mb.toFixed(2)} MB)`)];
  const cell = (p: { median: number; min: number } | undefined): string => (p === undefined ? '-' : `${p.median.toFixed(1)} (${p.min.toFixed(1)})`);
  const table = [header, ...keys.map((k) => [k, ...rows.map((r) => cell(r.phases[k]))])];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) console.log(row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  if (forceGc && !(globalThis as { gc?: () => void }).gc) console.log('(--gc needs node --expose-gc --import tsx bench/model-load.ts)');
}

main();
