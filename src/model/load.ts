// Load the model file: bounded YAML with positions → zod → semantic checks. Every problem is
// reported at once, each with file:line:column and its path in the model.
//
// Two paths, one result. The full path parses with positions (the `yaml` package's document
// model: about 1 s per MB, most of a big model's load). Every text first tries the fast path:
// yaml-fast.ts reads the plain value without positions (giving up on anything unusual), then zod
// and the semantic checks run on it; positions are computed (by the full parse, once) only if a
// semantic check has something to report. A text the fast reader gives up on, or that zod
// rejects, is loaded by the full path from scratch, so syntax, limit and schema diagnostics are
// the full path's own, and semantic ones are the same checks on the same value with the same
// positions (test/model/load-fast-path.test.ts compares both paths whole).
//
// The fast path remembers the last load (ModelLoader), so that a reload costs what changed: the
// text is cut into its top-level parts and its services and gateways by a line scan, and only
// parts whose text changed are read (raw-memo.ts); an unchanged part is the same raw object, so
// the schema check reuses its result (schema-memo.ts) and the semantic checks re-run only for
// what changed (validate-incremental.ts). Each step gives exactly what it gives without memory
// (test/model/load-incremental.test.ts compares loads in sequence with fresh ones and with the
// full path).
import fs from 'node:fs';
import type { Document } from 'yaml';
import { z } from 'zod';
import { fastParseYaml } from '../util/yaml-fast.js';
import { locate, parseYaml, SourceError, toJs, type ParsedYaml, type YamlLimits } from '../util/yaml-source.js';
import { type Diagnostic, didYouMean, type ModelPath } from './diagnostics.js';
import { RawModelMemo } from './raw-memo.js';
import { type Model, ModelSchema } from './schema.js';
import { ModelSchemaMemo } from './schema-memo.js';
import { validateModel } from './validate.js';
import { IncrementalValidator } from './validate-incremental.js';

export const MODEL_YAML_LIMITS: YamlLimits = { maxBytes: 64 * 1024 * 1024, maxAliasCount: 100, maxDepth: 32 };

export interface ModelLoad {
  model: Model | null;
  diagnostics: Diagnostic[];
  /** The text that was loaded (hashed by callers to drop no-op reloads). */
  text: string;
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}

/** Read and load a model file. An unreadable or missing file is a diagnostic, not a throw. */
export function loadModelFile(file: string): ModelLoad {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return fail(file, 'not a regular file');
    if (st.size > MODEL_YAML_LIMITS.maxBytes) return fail(file, `file is ${st.size} bytes; the limit is ${MODEL_YAML_LIMITS.maxBytes}`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return fail(file, e.code === 'ENOENT' ? 'file does not exist' : `cannot read: ${e.message}`);
  }
  return loadModelText(file, text);
}

function fail(file: string, message: string, text = ''): ModelLoad {
  return { model: null, diagnostics: [{ severity: 'error', message, path: [], position: { file, line: 1, column: 1 } }], text };
}

/**
 * Loads model texts, each as loadModelTextFullPath would, remembering what the last loads read
 * and checked so that the next costs what changed (see the file header). What it remembers is
 * reused only for equal text or the same objects, so one loader may load any texts in any order
 * (different files too); the process shares one (loadModelText), tests make fresh ones.
 */
export class ModelLoader {
  /** The raw value of each part of the last text read part by part. */
  private readonly raw = new RawModelMemo();
  /** The schema results of the last valid model's parts. */
  private readonly schema = new ModelSchemaMemo();
  /** The semantic checks' state for the last model without diagnostics. */
  private readonly semantic = new IncrementalValidator();
  /** Texts read whole by the fast reader (not part by part), and loads that took the full path. */
  private readonly counts = { wholeText: 0, fullPath: 0 };

  /** Which ways the loads went so far (for tests and benchmarks). */
  stats(): { partsReused: number; partsRead: number; itemEdits: number; splicedEdits: number; replacedInPlace: number; wholeText: number; fullPath: number; checkedIncrementally: number; checkedFully: number; routesReplaced: number } {
    return {
      partsReused: this.raw.counts.reused,
      partsRead: this.raw.counts.read,
      itemEdits: this.raw.counts.itemEdits,
      splicedEdits: this.raw.counts.splicedEdits,
      replacedInPlace: this.raw.counts.replacedInPlace,
      routesReplaced: this.semantic.counts.routesReplaced,
      wholeText: this.counts.wholeText,
      fullPath: this.counts.fullPath,
      checkedIncrementally: this.semantic.counts.incremental,
      checkedFully: this.semantic.counts.full,
    };
  }

  /** The load of `text`, at once (loadInSteps run to its end). */
  load(file: string, text: string): ModelLoad {
    return runToEnd(this.loadInSteps(file, text));
  }

  /**
   * The load of `text` a phase per step (the fast read, the schema check, the semantic checks;
   * the full path's parse, plain value, schema and semantic checks), so that a caller can let
   * the event loop run between phases. Each phase leaves the memos consistent on its own (each
   * is a cache of its inputs, committed at the end of its phase), so a load abandoned between
   * steps leaves nothing a later load could be misled by.
   */
  loadInSteps(file: string, text: string): ModelLoadSteps {
    return stepsOf(this.phases(file, text));
  }

  private *phases(file: string, text: string): Generator<void, ModelLoad, void> {
    // (The part-by-part read first: it gives nothing for a blank text, and it does not read a
    // text the file reader spliced, which V8 would copy whole at the first character read.)
    let raw: Record<string, unknown> | undefined = this.raw.read(text, MODEL_YAML_LIMITS);
    if (raw === undefined) {
      if (isBlank(text)) return fail(file, 'the model file is empty: expected at least "version: 1"', text);
      this.counts.wholeText++;
      raw = fastParseYaml(text, MODEL_YAML_LIMITS);
    }
    if (raw !== undefined) {
      yield;
      // Parts unchanged since the last load are not checked again (schema-memo.ts).
      const memoized = this.schema.parse(raw);
      const result = memoized ? ({ success: true, data: memoized } as const) : ModelSchema.safeParse(raw);
      if (result.success) {
        yield;
        // Positions only when a semantic check reports something (a warning on a valid model, or
        // an error): parse with positions once, then locate as the full path does.
        let full: { parsed: ParsedYaml; doc: Document.Parsed } | undefined;
        const at: At = (path, key = false) => {
          full ??= parseWithPositions(file, text);
          return locate(full.parsed, full.doc, [...path], null, { key });
        };
        try {
          const diagnostics = sortByPosition(this.semantic.validate(result.data, at));
          return { model: hasErrors(diagnostics) ? null : result.data, diagnostics, text };
        } catch (err) {
          if (!(err instanceof PathsDisagree)) throw err;
          // Cannot happen for a text the fast reader accepts; if it does, the full path decides.
        }
      }
    }
    yield;
    this.counts.fullPath++;
    return yield* fullPathPhases(file, text);
  }
}

/** A load in steps: step() does one phase; null until the last, which gives the load. */
export interface ModelLoadSteps {
  step(): ModelLoad | null;
}

function stepsOf(phases: Generator<void, ModelLoad, void>): ModelLoadSteps {
  let result: ModelLoad | null = null;
  return {
    step: () => {
      if (result !== null) return result;
      const r = phases.next();
      if (r.done) result = r.value;
      return result;
    },
  };
}

function runToEnd(steps: ModelLoadSteps): ModelLoad {
  for (;;) {
    const r = steps.step();
    if (r !== null) return r;
  }
}

/** Only white space (what `text.trim() === ''` says, without copying a big text). */
function isBlank(text: string): boolean {
  return !/\S/.test(text);
}

/** The loader every load in the process shares. */
const processLoader = new ModelLoader();

export function loadModelText(file: string, text: string): ModelLoad {
  return processLoader.load(file, text);
}

/** loadModelText a phase per step (ModelLoader.loadInSteps), with the same loader. */
export function loadModelTextInSteps(file: string, text: string): ModelLoadSteps {
  return processLoader.loadInSteps(file, text);
}

/** The full parser disagreed with the fast reader about a text the fast reader accepted. */
class PathsDisagree extends Error {}

function parseWithPositions(file: string, text: string): { parsed: ParsedYaml; doc: Document.Parsed } {
  try {
    const parsed = parseYaml(file, text, MODEL_YAML_LIMITS);
    if (parsed.docs.length === 1) return { parsed, doc: parsed.docs[0]! };
  } catch {
    // fall through
  }
  throw new PathsDisagree(file);
}

/**
 * Load with the position-tracking parser only (what loadModelText falls back to for anything the
 * fast reader does not take, and for every invalid model). Exported for tests and benchmarks
 * that compare the two paths.
 */
export function loadModelTextFullPath(file: string, text: string): ModelLoad {
  return runToEnd(stepsOf(fullPathPhases(file, text)));
}

/** The full path, a phase per step: the parse with positions, the plain value, the schema, the semantic checks. */
function* fullPathPhases(file: string, text: string): Generator<void, ModelLoad, void> {
  if (isBlank(text)) return fail(file, 'the model file is empty: expected at least "version: 1"', text);
  let parsed: ParsedYaml;
  let raw: unknown;
  let doc: Document.Parsed;
  try {
    parsed = parseYaml(file, text, MODEL_YAML_LIMITS);
    if (parsed.docs.length === 0 || (parsed.docs.length === 1 && parsed.docs[0]!.contents === null)) {
      return fail(file, 'the model file has no content (only comments?): expected at least "version: 1"', text);
    }
    if (parsed.docs.length !== 1) {
      const second = parsed.docs[1];
      const pos = second?.range ? parsed.lines.linePos(second.range[0]) : { line: 1, col: 1 };
      return {
        model: null,
        text,
        diagnostics: [{ severity: 'error', message: `expected one YAML document, found ${parsed.docs.length}`, path: [], position: { file, line: pos.line, column: pos.col } }],
      };
    }
    doc = parsed.docs[0]!;
  } catch (err) {
    if (err instanceof SourceError) return sourceErrorLoad(err, text);
    throw err;
  }
  yield;
  try {
    raw = toJs(parsed, doc, MODEL_YAML_LIMITS);
  } catch (err) {
    if (err instanceof SourceError) return sourceErrorLoad(err, text);
    throw err;
  }
  const at: At = (path, key = false) => locate(parsed, doc, [...path], null, { key });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { model: null, text, diagnostics: [{ severity: 'error', message: 'the model must be a mapping with "version: 1" at the top', path: [], position: at([]) }] };
  }
  yield;
  const result = ModelSchema.safeParse(raw);
  if (!result.success) {
    const diagnostics = result.error.issues.flatMap((i) => issueToDiagnostics(i, raw, at));
    yield;
    // Report the semantic problems too: prune what the schema rejected and check the rest.
    diagnostics.push(...semanticAfterPruning(raw, result.error.issues, at));
    return { model: null, text, diagnostics: sortByPosition(dedupe(diagnostics)) };
  }
  yield;
  const diagnostics = sortByPosition(validateModel(result.data, at));
  return { model: hasErrors(diagnostics) ? null : result.data, diagnostics, text };
}

function sourceErrorLoad(err: SourceError, text: string): ModelLoad {
  return { model: null, text, diagnostics: [{ severity: 'error', message: err.message, path: [], position: err.position }] };
}

type Issue = z.core.$ZodIssue;

type At = (p: ModelPath, key?: boolean) => Diagnostic['position'];

const DROPPED = Symbol('dropped');

/**
 * Report semantic problems alongside schema errors: remove every value the schema rejected
 * (an unknown key, a bad value, a list item, or the parent of a missing required key),
 * re-parse, and run the semantic checks on what remains. List items are removed one by one
 * and indices are mapped back, so positions stay right. Diagnostics that could be artefacts
 * of the pruning are dropped: those at or under a pruned path, at its parent or grandparent,
 * and those naming a service or gateway that was pruned away.
 */
function semanticAfterPruning(raw: unknown, issues: readonly Issue[], at: At): Diagnostic[] {
  const clone = structuredClone(raw) as Record<string, unknown>;
  const pruned: ModelPath[] = []; // original coordinates
  const prunedNames = new Set<string>();
  // Array path (current coordinates) → original index of each remaining item.
  const indexMaps = new Map<string, number[]>();
  const toOriginal = (path: ModelPath): ModelPath => {
    const out: Array<string | number> = [];
    const cur: Array<string | number> = [];
    for (const seg of path) {
      if (typeof seg === 'number') {
        const m = indexMaps.get(JSON.stringify(cur));
        out.push(m?.[seg] ?? seg);
      } else out.push(seg);
      cur.push(seg);
    }
    return out;
  };
  let current = issues;
  for (let round = 0; round < 6; round++) {
    const touchedArrays = new Set<string>();
    for (const issue of current) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      const targets: ModelPath[] =
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((k) => [...path, k])
          : issue.code === 'invalid_type' && valueAt(clone, path) === undefined
            ? [path.slice(0, -1)]
            : [path];
      for (const t of targets) {
        if (t.length === 0) continue;
        const parent = valueAt(clone, t.slice(0, -1));
        if (parent === null || typeof parent !== 'object') continue;
        const orig = toOriginal(t);
        pruned.push(orig);
        if (orig.length === 2 && (orig[0] === 'services' || orig[0] === 'gateways')) prunedNames.add(String(orig[1]));
        const last = t[t.length - 1]!;
        if (Array.isArray(parent)) {
          (parent as unknown[])[last as number] = DROPPED;
          touchedArrays.add(JSON.stringify(t.slice(0, -1)));
        } else delete (parent as Record<string, unknown>)[last as string];
      }
    }
    for (const key of touchedArrays) {
      const arrPath = JSON.parse(key) as ModelPath;
      const arr = valueAt(clone, arrPath) as unknown[] | undefined;
      if (!Array.isArray(arr)) continue;
      const before = indexMaps.get(key) ?? arr.map((_, i) => i);
      const kept: number[] = [];
      const items: unknown[] = [];
      arr.forEach((v, i) => {
        if (v !== DROPPED) {
          kept.push(before[i] ?? i);
          items.push(v);
        }
      });
      arr.splice(0, arr.length, ...items);
      indexMaps.set(key, kept);
    }
    const again = ModelSchema.safeParse(clone);
    if (again.success) {
      const related = (p: ModelPath): boolean =>
        pruned.some((q) => {
          const common = Math.min(p.length, q.length);
          for (let i = 0; i < common; i++) if (p[i] !== q[i]) return false;
          // p is under q, or p is q's parent or grandparent.
          return p.length >= q.length || q.length - p.length <= 2;
        });
      const mentionsPruned = (d: Diagnostic): boolean => [...prunedNames].some((n) => d.message.includes(`"${n}"`));
      return validateModel(again.data, (p, key) => at(toOriginal(p), key))
        .map((d) => ({ ...d, path: toOriginal(d.path) }))
        .filter((d) => !related(d.path) && !mentionsPruned(d));
    }
    current = again.error.issues;
  }
  return [];
}

function valueAt(root: unknown, path: ModelPath): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg as string];
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const VALUE_MATCH_FORMS = ['exact', 'prefix', 'suffix', 'contains', 'regex', 'present', 'absent'];

function issueToDiagnostics(issue: Issue, raw: unknown, at: At): Diagnostic[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const got = valueAt(raw, path);
  const d = (message: string, p: ModelPath = path, hint?: string, atKey = false): Diagnostic => ({
    severity: 'error',
    message,
    path: p,
    position: at(p, atKey),
    ...(hint ? { hint } : {}),
  });
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(path);
      return issue.keys.map((k) => {
        const guess = didYouMean(k, allowed);
        return d(`unknown key "${k}"`, [...path, k], guess ? `did you mean "${guess}"?` : allowed.length ? `expected one of: ${allowed.join(', ')}` : undefined, true);
      });
    }
    case 'invalid_type':
      if (got === undefined) return [d(`missing required key "${String(path[path.length - 1])}"`, path)];
      return [d(`expected ${friendlyExpected(issue)}, got ${show(got)}`)];
    case 'invalid_value':
      if (got === undefined) return [d(`missing required key "${String(path[path.length - 1])}"`, path, `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`)];
      return [d(`expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${show(got)}`)];
    case 'invalid_union': {
      const parent = path[path.length - 2];
      if (parent === 'headers' || parent === 'queryParams') {
        let hint: string | undefined;
        if (got && typeof got === 'object' && !Array.isArray(got)) {
          const key = Object.keys(got)[0];
          const guess = key ? didYouMean(key, VALUE_MATCH_FORMS) : undefined;
          if (guess && guess !== key) hint = `did you mean "${guess}"?`;
        }
        return [d(`expected a string (exact match) or one of {exact: …}, {prefix: …}, {suffix: …}, {contains: …}, {regex: …}, {present: true}, {absent: true}; got ${show(got)}`, path, hint)];
      }
      return [d(`invalid value ${show(got)}`)];
    }
    case 'invalid_key': {
      const inner = issue.issues[0]?.message ?? 'invalid key';
      return [d(`invalid key "${String(path[path.length - 1])}": expected ${inner}`, path, undefined, true)];
    }
    case 'too_small':
    case 'too_big':
    case 'invalid_format':
    case 'custom':
    case 'not_multiple_of':
    default: {
      const msg = issue.message;
      if (/^(Too small|Too big|Invalid)/.test(msg)) return [d(`${msg.replace(/^Invalid input: /, '')}; got ${show(got)}`)];
      return [d(`expected ${msg}, got ${show(got)}`)];
    }
  }
}

function friendlyExpected(issue: Extract<Issue, { code: 'invalid_type' }>): string {
  if (issue.message && !issue.message.startsWith('Invalid input')) return issue.message;
  const e = String(issue.expected);
  return { object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false', int: 'a whole number' }[e] ?? e;
}

function sortByPosition(ds: Diagnostic[]): Diagnostic[] {
  return ds.sort((a, b) => a.position.line - b.position.line || a.position.column - b.position.column);
}

function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((x) => {
    const k = `${x.position.line}:${x.position.column}:${x.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Keys the schema allows for the object at `path` (for "did you mean"). */
function allowedKeys(path: ModelPath): string[] {
  let s: z.ZodType | undefined = ModelSchema;
  for (const seg of path) {
    s = unwrap(s);
    if (!s) return [];
    const def = (s as unknown as { def: { type: string } }).def;
    if (def.type === 'object') s = (s as unknown as z.ZodObject).shape[seg as string] as z.ZodType | undefined;
    else if (def.type === 'record') s = (def as unknown as { valueType: z.ZodType }).valueType;
    else if (def.type === 'array') s = (def as unknown as { element: z.ZodType }).element;
    else return [];
  }
  s = unwrap(s);
  if (!s) return [];
  if ((s as unknown as { def: { type: string } }).def.type === 'object') return Object.keys((s as unknown as z.ZodObject).shape);
  return [];
}

function unwrap(s: z.ZodType | undefined): z.ZodType | undefined {
  let cur = s;
  for (let i = 0; i < 10 && cur; i++) {
    const def = (cur as unknown as { def: Record<string, unknown> & { type: string } }).def;
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') cur = def['innerType'] as z.ZodType;
    else if (def.type === 'pipe') cur = def['in'] as z.ZodType;
    else return cur;
  }
  return cur;
}
