// Summarise a V8 .cpuprofile (node --cpu-prof): self time per function and per source file,
// and inclusive time of the functions that matter.
//
//   npx tsx bench/lib/cpuprofile.ts FILE.cpuprofile [N] [FROM_MS TO_MS]   (monotonic-clock window)
//   npx tsx bench/lib/cpuprofile.ts FILE.cpuprofile --under FUNCTION [N] [FROM_MS TO_MS]
//       self time of what runs under FUNCTION (by name), e.g. --under respond
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of samples that were not idle/GC/program. */
  busyPct: number;
  top: Array<{ fn: string; selfMs: number; selfPct: number }>;
  files: Array<{ file: string; selfMs: number; selfPct: number }>;
  inclusive: Array<{ fn: string; totalMs: number; totalPct: number }>;
}

function label(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url ? f.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/') : '';
  return `${f.functionName || '(anonymous)'}${file ? ` ${file}:${f.lineNumber + 1}` : ''}`;
}

/**
 * Summarise a profile, optionally only the samples taken within [fromMs, toMs] on the
 * machine's monotonic clock (V8 stamps samples with the same clock as process.hrtime).
 */
export function summarizeProfile(file: string, n = 20, window?: { fromMs: number; toMs: number }): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  if (window) {
    let t = p.startTime;
    const samples: number[] = [];
    const deltas: number[] = [];
    let kept = 0;
    for (let i = 0; i < p.samples.length; i++) {
      t += p.timeDeltas[i] ?? 0;
      if (t / 1000 >= window.fromMs && t / 1000 <= window.toMs) {
        samples.push(p.samples[i]!);
        deltas.push(p.timeDeltas[i] ?? 0);
        kept += p.timeDeltas[i] ?? 0;
      }
    }
    p.samples = samples;
    p.timeDeltas = deltas;
    p.startTime = 0;
    p.endTime = kept;
  }
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  const totalMs = (p.endTime - p.startTime) / 1000;
  let idle = 0;
  const fnSelf = new Map<string, number>();
  const fileSelf = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, ms] of self) {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') idle += ms;
    const l = label(node);
    fnSelf.set(l, (fnSelf.get(l) ?? 0) + ms);
    const url = node.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/') || `(${name})`;
    fileSelf.set(url, (fileSelf.get(url) ?? 0) + ms);
    // Inclusive: once per distinct label on the stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cl = label(byId.get(cur)!);
      if (seen.has(cl)) continue;
      seen.add(cl);
      incl.set(cl, (incl.get(cl) ?? 0) + ms);
    }
  }
  const busy = Math.max(1e-9, totalMs - idle);
  const sorted = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1]);
  return {
    totalMs,
    busyPct: (busy / totalMs) * 100,
    top: sorted(fnSelf)
      .filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(program)'))
      .slice(0, n)
      .map(([fn, ms]) => ({ fn, selfMs: ms, selfPct: (ms / busy) * 100 })),
    files: sorted(fileSelf)
      .filter(([k]) => k !== '((idle))' && k !== '((program))')
      .slice(0, n)
      .map(([f, ms]) => ({ file: f, selfMs: ms, selfPct: (ms / busy) * 100 })),
    inclusive: sorted(incl)
      .filter(([k]) => !k.startsWith('(root)') && !k.startsWith('(idle)') && !k.startsWith('(program)'))
      .slice(0, n * 2)
      .map(([fn, ms]) => ({ fn, totalMs: ms, totalPct: (ms / busy) * 100 })),
  };
}

/** Self time of the functions running under any frame named `fn` (within the window). */
export function selfUnder(file: string, fn: string, n = 20, window?: { fromMs: number; toMs: number }): { totalMs: number; busyMs: number; top: Array<{ fn: string; selfMs: number }> } {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const agg = new Map<string, number>();
  let t = p.startTime;
  let total = 0;
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (window && (t / 1000 < window.fromMs || t / 1000 > window.toMs)) continue;
    const id = p.samples[i]!;
    const ms = (p.timeDeltas[i] ?? 0) / 1000;
    const name = byId.get(id)!.callFrame.functionName;
    if (name !== '(idle)' && name !== '(program)') busy += ms;
    let inside = false;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if (byId.get(cur)!.callFrame.functionName === fn) {
        inside = true;
        break;
      }
    }
    if (!inside) continue;
    total += ms;
    const l = label(byId.get(id)!);
    agg.set(l, (agg.get(l) ?? 0) + ms);
  }
  return { totalMs: total, busyMs: busy, top: [...agg].sort((a, b) => b[1] - a[1]).slice(0, n).map(([f, ms]) => ({ fn: f, selfMs: ms })) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (file && process.argv[3] === '--under' && process.argv[4]) {
    const [n, from, to] = process.argv.slice(5);
    const r = selfUnder(file, process.argv[4], Number(n ?? 20), from && to ? { fromMs: Number(from), toMs: Number(to) } : undefined);
    process.stdout.write(`under ${process.argv[4]}: ${r.totalMs.toFixed(0)} ms of ${r.busyMs.toFixed(0)} ms busy\n`);
    for (const x of r.top) process.stdout.write(`  ${x.selfMs.toFixed(0).padStart(7)} ms  ${x.fn}\n`);
    process.exit(0);
  }
  if (!file) {
    process.stderr.write('usage: tsx bench/lib/cpuprofile.ts FILE.cpuprofile [N]\n');
    process.exit(2);
  }
  const from = process.argv[4];
  const to = process.argv[5];
  const s = summarizeProfile(file, Number(process.argv[3] ?? 25), from && to ? { fromMs: Number(from), toMs: Number(to) } : undefined);
  process.stdout.write(`${file}: ${s.totalMs.toFixed(0)} ms, busy ${s.busyPct.toFixed(0)} %\n\nself time:\n`);
  for (const t of s.top) process.stdout.write(`  ${t.selfPct.toFixed(1).padStart(5)} %  ${t.selfMs.toFixed(0).padStart(7)} ms  ${t.fn}\n`);
  process.stdout.write('\nby file (self):\n');
  for (const f of s.files) process.stdout.write(`  ${f.selfPct.toFixed(1).padStart(5)} %  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.file}\n`);
  process.stdout.write('\ninclusive:\n');
  for (const t of s.inclusive) process.stdout.write(`  ${t.totalPct.toFixed(1).padStart(5)} %  ${t.totalMs.toFixed(0).padStart(7)} ms  ${t.fn}\n`);
}
