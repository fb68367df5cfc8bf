// What a reload of a big model costs when little changed:
//
//   node --expose-gc --import tsx bench/model-reload.ts [--reps N] [--only M1k|M10k] [--no-gc]
//
// For M1k and M10k (bench/models.ts gatewayMesh) it loads the model once (warming every memo),
// then, for each kind of edit, alternates between two texts that differ by that edit, so every
// timed load is a real change against the previous one:
//
//   nothing        the same text again (a new string of equal content)
//   service route  one service's route timeout (the service has one route; the others none)
//   instance port  one instance's port
//   gateway route  the path of the gateway's first route (S1's one-route change; the gateway
//                  entry holds every route, so its text is ~10 % of M1k's)
//
// and times, per reload: reading the file and its content hash as ModelSource.peekContentHash
// does (src/model/file-text.ts: the cost of what changed since the last read; "whole": a utf8
// read and a sha256 of the text, as before), loadModelText (text → validated model, src/model/load.ts),
// IrBuilder.update (canonicalize: keep the previous objects of unchanged parts, src/ir/build.ts)
// and, for reference, validateModel alone on the loaded model (the semantic checks' share of
// the load). Each figure is the median of N reloads (default 15) with the minimum in
// parentheses; a full GC runs before each timed step (off with --no-gc).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileTextMemo } from '../src/model/file-text.js';
import { IrBuilder } from '../src/ir/build.js';
import { loadModelText } from '../src/model/load.js';
import type { Model } from '../src/model/schema.js';
import { validateModel } from '../src/model/validate.js';
import { gatewayMesh, type GatewayMeshSpec, M10K, M1K, type ModelDoc, setInstancePort } from './models.js';

const args = process.argv.slice(2);
const repsArg = args.indexOf('--reps');
const reps = repsArg >= 0 ? Number(args[repsArg + 1]) : 15;
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? args[onlyArg + 1] : undefined;
const useGc = !args.includes('--no-gc');

function gc(): void {
  if (useGc) (globalThis as { gc?: () => void }).gc?.();
}

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const v = fn();
  return [v, performance.now() - t0];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** One kind of edit: applied with `flip` false then true, alternately. */
interface Edit {
  name: string;
  apply(doc: ModelDoc, flip: boolean): void;
}

const MID = (doc: ModelDoc): string => `s${Math.floor(doc.services.size / 2)}`;

const EDITS: Edit[] = [
  { name: 'nothing', apply: () => undefined },
  {
    name: 'service route',
    apply: (doc, flip) => {
      const s = doc.services.get(MID(doc))!;
      s.routes![0]!.timeout = flip ? '2s' : '1s';
      doc.touchService(MID(doc));
    },
  },
  { name: 'instance port', apply: (doc, flip) => setInstancePort(doc, MID(doc), 0, flip ? 15002 : 15000) },
  {
    name: 'gateway route',
    apply: (doc, flip) => {
      doc.gateways.get('edge')!.routes[0]!.match = { pathPrefix: flip ? '/changed/' : '/s0/' };
      doc.touchGateways();
    },
  },
];

interface Cell {
  read: number[];
  readWhole: number[];
  load: number[];
  update: number[];
  semantic: number[];
}

function measure(spec: GatewayMeshSpec): Map<string, Cell> {
  const doc = gatewayMesh(spec);
  // One service with a route, so "service route" edits a service route (the others have none).
  doc.services.get(MID(doc))!.routes = [{ name: 'default', backends: [{ subset: {} }], timeout: '1s' }];
  doc.touchService(MID(doc));
  const builder = new IrBuilder();
  const load = (text: string): Model => {
    const r = loadModelText('mesh.yaml', text);
    if (!r.model) throw new Error(`${spec.name}: the model does not load: ${r.diagnostics[0]?.message}`);
    return r.model;
  };
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'model-reload-')), 'mesh.yaml');
  const fileText = new FileTextMemo();
  fs.writeFileSync(file, doc.text());
  fileText.read(fs.readFileSync(file));
  builder.update(load(doc.text()));
  const out = new Map<string, Cell>();
  for (const edit of EDITS) {
    const cell: Cell = { read: [], readWhole: [], load: [], update: [], semantic: [] };
    // One untimed reload first (warm-up), then the timed ones.
    for (let rep = 0; rep <= reps; rep++) {
      edit.apply(doc, rep % 2 === 0);
      const text = doc.text();
      fs.writeFileSync(file, text);
      gc();
      const [, tReadWhole] = time(() => createHash('sha256').update(fs.readFileSync(file, 'utf8')).digest('hex'));
      gc();
      const [read, tRead] = time(() => fileText.read(fs.readFileSync(file)));
      if (read.text !== text) throw new Error('bug: the file read back differs');
      gc();
      const [model, tLoad] = time(() => load(text));
      gc();
      const [, tUpdate] = time(() => builder.update(model));
      gc();
      const [, tSem] = time(() =>
        validateModel(model, () => {
          throw new Error('a valid bench model needs no positions');
        }),
      );
      if (rep === 0) continue;
      cell.read.push(tRead);
      cell.readWhole.push(tReadWhole);
      cell.load.push(tLoad);
      cell.update.push(tUpdate);
      cell.semantic.push(tSem);
    }
    out.set(edit.name, cell);
  }
  return out;
}

function main(): void {
  const sizes = [M1K, M10K].filter((s) => !only || s.name === only);
  const fmt = (xs: number[]): string => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)})`;
  const rows: string[][] = [['model', 'edit', 'read+hash ms', '(whole)', 'load ms', 'update ms', 'load+update ms', 'validateModel alone ms']];
  for (const spec of sizes) {
    process.stderr.write(`${spec.name}: ${reps} reloads per edit...\n`);
    for (const [name, c] of measure(spec)) {
      const total = c.load.map((x, i) => x + c.update[i]!);
      rows.push([spec.name, name, fmt(c.read), fmt(c.readWhole), fmt(c.load), fmt(c.update), fmt(total), fmt(c.semantic)]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  if (useGc && !(globalThis as { gc?: () => void }).gc) console.log('(a GC before each step needs node --expose-gc)');
}

main();
