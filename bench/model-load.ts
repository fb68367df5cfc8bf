// Model loading cost.
//
//   node --expose-gc --max-old-space-size=8192 --import tsx bench/model-load.ts [s7|s5|s4] [--reloads N] [--profile FILE]
//   npx tsx bench/model-load.ts phases [--m10k] [--reps N] [--only NAME] [--gc]
//
// s7, s5 (default s7): reloads of a model file through ModelSource, as a running server makes
// them, after one first load (every memo warm). Per reload it times
//   peek    ModelSource.peekContentHash: the file's text and hash (src/model/file-text.ts)
//   load    ModelSource.loadInSlices: the model load (src/model/load.ts) and the IR update
//   build   the snapshots, stepped to the end in 5 ms slices
// and, on a ModelLoader of its own fed the same file (read by a FileTextMemo of its own, as
// ModelSource reads it), each step of ModelLoader.loadInSteps:
//   read    the text's plain value (raw-memo.ts), schema (schema-memo.ts), semantic
//           (validate-incremental.ts)
// then prints the median, p90 and max of each over N reloads (default 30), after 5 unmeasured
// ones. --profile FILE writes a CPU profile of the measured reloads (open it in Chrome DevTools).
//   s7  the S7 soak pattern: sidecarMesh(S2_MESH) (50 services × 40 instances); each reload
//       moves instance 0 of all 50 services to another port and changes s0's route timeout;
//   s5  the S5 pattern: gatewayMesh(M10K) (10 000 services × 10 instances, a gateway of
//       10 000 routes, ~9 MB); each reload flips s0's protocol between http and http2.
//   s4  the S4 pattern at 1000/s paced to ~10 reloads a second: gatewayMesh(M1K); each reload
//       moves instance 0 of the next 100 services (in file order, wrapping) to another port.
//
// phases: whole loads, phase by phase. --gc (with node --expose-gc --import tsx) runs a full GC
// before each timing. That makes the figures less noisy but slower than in a running server: a
// forced GC shrinks the young generation, so the allocation-heavy phases that follow pay more
// scavenges.
//
// For each model (M1k, S2-mesh, and M10k with --m10k) it times:
//   total            loadModelText, as callers use it (a valid model takes the fast path)
//   full total       loadModelTextFullPath: the position-tracking path (what invalid input takes)
//   full: ...        that path's phases: YAML parse (parseYaml) · toJs · zod · semantic
//   fast: ...        the fast path's phases: fast read (yaml-fast.ts) · zod · semantic
// Each cell is the median of N repetitions (default 5; 3 for M10k) after one warm-up, with the
// minimum in parentheses (on a shared, busy machine the minimum is the steadier figure). It
// also checks, once per model, that the fast reader's value equals the full parser's.
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ModelSource } from '../src/app/model-source.js';
import { MeshSecurity } from '../src/app/security.js';
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import { FileTextMemo } from '../src/model/file-text.js';
import { loadModelText, loadModelTextFullPath, MODEL_YAML_LIMITS, ModelLoader } from '../src/model/load.js';
import { ModelSchema, type Model } from '../src/model/schema.js';
import { validateModel } from '../src/model/validate.js';
import { fastParseYaml } from '../src/util/yaml-fast.js';
import { locate, parseYaml, toJs } from '../src/util/yaml-source.js';
import { editRouteTimeout, gatewayMesh, M10K, M1K, type ModelDoc, S2_MESH, setInstancePort, setServiceProtocol, sidecarMesh } from './models.js';

const args = process.argv.slice(2);
const mode = args[0] === 's7' || args[0] === 's5' || args[0] === 's4' || args[0] === 'phases' ? args[0] : 's7';
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


// ---------------------------------------------------------------------------------------
// s7, s5: reloads through ModelSource

interface Pattern {
  doc: ModelDoc;
  /** The groups a running server would have live (built at every reload). */
  live: string[];
  /** The k-th reload's edit. */
  edit: (k: number) => void;
}

function pattern(name: 's7' | 's5' | 's4'): Pattern {
  if (name === 's4') {
    const doc = gatewayMesh(M1K);
    const services = [...doc.services.keys()];
    const PER_RELOAD = 100;
    return {
      doc,
      live: ['gateway/edge'],
      edit: (k) => {
        for (let i = 0; i < PER_RELOAD; i++) {
          const n = k * PER_RELOAD + i;
          setInstancePort(doc, services[n % services.length]!, 0, 20000 + Math.floor(n / services.length));
        }
      },
    };
  }
  if (name === 's7') {
    const doc = sidecarMesh(S2_MESH);
    const services = [...doc.services.keys()];
    return {
      doc,
      live: doc.proxies().map((p) => p.group),
      edit: (k) => {
        for (const svc of services) setInstancePort(doc, svc, 0, 20000 + k);
        editRouteTimeout(doc, 's0', `${1000 + k}ms`);
      },
    };
  }
  const doc = gatewayMesh(M10K);
  return { doc, live: ['gateway/edge'], edit: (k) => setServiceProtocol(doc, 's0', k % 2 === 0 ? 'http2' : 'http') };
}

const WARM_RELOADS = 5;

async function reloads(name: 's7' | 's5' | 's4'): Promise<void> {
  const n = argValue('--reloads', 30);
  const profileFile = args.includes('--profile') ? args[args.indexOf('--profile') + 1] : undefined;
  const p = pattern(name);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-load-'));
  const file = path.join(dir, 'mesh.yaml');
  const write = (text: string): void => {
    // (As an editor saves: a new file renamed over the old one.)
    fs.writeFileSync(`${file}.tmp`, text);
    fs.renameSync(`${file}.tmp`, file);
  };
  const text0 = p.doc.text();
  write(text0);
  const src = new ModelSource(file, new MeshSecurity({ stateDir: null, log: pino({ level: 'silent' }) }));
  const live = (): string[] => p.live;
  const loader = new ModelLoader();
  const fileText = new FileTextMemo();
  fileText.read(fs.readFileSync(file));
  src.peekContentHash();
  let t = performance.now();
  const first = src.load(live);
  loader.load(file, text0);
  console.log(`${name}: ${(Buffer.byteLength(text0) / 1e6).toFixed(2)} MB; first load ${(performance.now() - t).toFixed(0)} ms, ${first.errors.length} errors, ${first.snapshots.size} snapshots`);
  const samples: Record<string, number[]> = {};
  const session = new Session();
  for (let k = 0; k < WARM_RELOADS + n; k++) {
    if (k === WARM_RELOADS && profileFile) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.start');
    }
    p.edit(k);
    const text = p.doc.text();
    write(text);
    const row = reloadOnce(src, live);
    // (The file's text as ModelSource gets it: spliced from the last one by a FileTextMemo.)
    const steps = loadSteps(loader, file, fileText.read(fs.readFileSync(file)).text);
    if (k < WARM_RELOADS) continue;
    for (const [key, ms] of Object.entries({ ...row, ...steps })) (samples[key] ??= []).push(ms);
  }
  if (profileFile) {
    const { profile } = await session.post('Profiler.stop');
    fs.writeFileSync(profileFile, JSON.stringify(profile));
    console.log(`profile: ${profileFile}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`${n} reloads, ms:   median     p90     max`);
  for (const [key, xs] of Object.entries(samples)) {
    const s = [...xs].sort((a, b) => a - b);
    const at = (q: number): string => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(1).padStart(8);
    console.log(`  ${key.padEnd(14)}${at(0.5)}${at(0.9)}${at(1)}`);
  }
}

/** One reload through ModelSource: peek, load, build (to the end, in 5 ms slices). */
function reloadOnce(src: ModelSource, live: () => string[]): Record<string, number> {
  const t0 = performance.now();
  src.peekContentHash();
  const t1 = performance.now();
  const job = src.loadInSlices(live);
  const t2 = performance.now();
  let r;
  while (!(r = job.step(performance.now() + 5)));
  const t3 = performance.now();
  if (r.errors.length) throw new Error(`reload failed: ${r.errors[0]!.message}`);
  return { peek: t1 - t0, load: t2 - t1, build: t3 - t2 };
}

/** The same text through a ModelLoader's steps: each step's time (read, schema, semantic). */
function loadSteps(loader: ModelLoader, file: string, text: string): Record<string, number> {
  const names = ['  read', '  schema', '  semantic'];
  const out: Record<string, number> = {};
  const steps = loader.loadInSteps(file, text);
  for (let i = 0; ; i++) {
    const t0 = performance.now();
    const r = steps.step();
    out[names[i] ?? `  step ${i + 1}`] = performance.now() - t0;
    if (r === null) continue;
    if (r.model === null) throw new Error(`the model does not load: ${r.diagnostics[0]?.message}`);
    return out;
  }
}

function argValue(flag: string, fallback: number): number {
  const at = args.indexOf(flag);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}

if (mode === 'phases') main();
else await reloads(mode);
