// The benchmark suite (PERFORMANCE.md S1–S6 and the load generator's ceiling), one command:
//
//   npm run bench                 full sizes; writes bench/out/results.json
//   npm run bench:smoke           tiny sizes (CI, well under a minute); bench/out/results-smoke.json
//   node --expose-gc --import tsx bench/run.ts [--smoke] [--only S2,S3] [--no-peer] [--profile]
//        [--no-pin] [--duration 60] [--rates 100,1000,5000] [--workers 4] [--out FILE]
//
// Servers (meshgate, the go-control-plane peer, the stub) run pinned to core 0; this process,
// its load generator workers and the in-process S1 run on core 1. Needs `npm run build`
// (meshgate runs from dist/); the npm scripts build first.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { meets, type Metric, profilesIn, type RunContext, type ScenarioResult } from './lib/harness.js';
import { type ProfileSummary, summarizeProfile } from './lib/cpuprofile.js';
import { canPin, peerBuilt, pinSelf, REPO } from './lib/servers.js';
import { fmtBytes, fmtMs, fmtPct, round } from './lib/stats.js';
import { buildGoWorker, LoadGen, loadgenWorker, tsxLoader } from './loadgen/loadgen.js';
import { runLoadgenCeiling } from './scenarios/loadgen-ceiling.js';
import { runS1 } from './scenarios/s1-translate.js';
import { runS2 } from './scenarios/s2-connect-storm.js';
import { runS3 } from './scenarios/s3-fanout.js';
import { runS4 } from './scenarios/s4-endpoint-churn.js';
import { runS5 } from './scenarios/s5-big-gateway.js';

export const ALL_SCENARIOS = ['LG', 'S1', 'S2', 'S3', 'S4', 'S5', 'S6'] as const;
export type ScenarioId = (typeof ALL_SCENARIOS)[number];

export interface RunOptions {
  smoke: boolean;
  only?: readonly string[];
  peer?: boolean;
  profile?: boolean;
  pin?: boolean;
  churnSeconds?: number;
  churnRates?: number[];
  workers?: number;
  workDir?: string;
  log?: (msg: string) => void;
}

export interface Results {
  benchmark: 'meshgate';
  date: string;
  smoke: boolean;
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  scenarios: Array<ScenarioResult | { id: string; title: string; error: string }>;
}

export function machine(): Record<string, unknown> {
  let cpusAllowed: string | null = null;
  try {
    cpusAllowed = /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? null;
  } catch {
    /* not Linux */
  }
  let goVersion: string | null = null;
  try {
    goVersion = execFileSync('go', ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    /* no Go */
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    envoy: 'none (Envoy-free: simulated proxies)',
    go: goVersion,
    peerBuilt: peerBuilt(),
    loadAverage: os.loadavg().map((x) => round(x, 2)),
    runnerCpusAllowed: cpusAllowed,
  };
}

/** S6: bench/cert-issuance.ts (owned separately), run pinned to core 0; its JSON becomes metrics. */
async function runS6(ctx: RunContext): Promise<ScenarioResult> {
  const script = path.join(REPO, 'bench', 'cert-issuance.ts');
  if (!fs.existsSync(script)) {
    return { id: 'S6', title: 'Certificates', params: {}, metrics: [], notes: ['bench/cert-issuance.ts does not exist'], peer: 'not applicable' };
  }
  const out = path.join(REPO, 'bench', 'out', 'cert-issuance.json');
  // The smoke run must not replace a full run's file.
  const previous = ctx.smoke && fs.existsSync(out) ? fs.readFileSync(out) : null;
  const args = [...(ctx.pin && canPin() ? ['taskset', '-c', '0'] : []), process.execPath, '--expose-gc', '--import', tsxLoader(), script, ...(ctx.smoke ? ['50'] : [])];
  ctx.log(`  ${path.relative(REPO, script)} ${ctx.smoke ? '50' : '(2000, 10000)'}`);
  const r = spawnSync(args[0]!, args.slice(1), { cwd: REPO, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`cert-issuance.ts failed (${r.status}): ${(r.stderr || r.stdout).slice(-2000)}`);
  const j = JSON.parse(fs.readFileSync(out, 'utf8')) as {
    results: Array<{ phase: string; n: number; seconds: number; perSecond: number; cpuUsPerCert: number }>;
    summary: { issuePerSecond: number; rotate2000Seconds: number | null };
  };
  if (previous) fs.writeFileSync(out, previous);
  const metrics: Metric[] = [];
  for (const row of j.results) {
    if (row.phase === 'issue (meshgate)') metrics.push({ name: `issue ${row.n} certificates (one core)`, unit: '/s', meshgate: row.perSecond, ...(ctx.smoke ? {} : { target: { op: '>=', value: 2000 } }) });
    if (row.phase.startsWith('rotate all')) metrics.push({ name: `rotate ${row.n} (reissue), CPU time`, unit: 'ms', meshgate: row.seconds * 1000, ...(row.n === 2000 && !ctx.smoke ? { target: { op: '<=', value: 2000 } } : {}) });
    if (row.phase.startsWith('keygen + sign') || row.phase.startsWith('sign only') || row.phase.startsWith('keygen only')) metrics.push({ name: `${row.phase} ×${row.n}`, unit: '/s', meshgate: row.perSecond });
  }
  return {
    id: 'S6',
    title: 'Certificates (bench/cert-issuance.ts)',
    params: { smoke: ctx.smoke },
    metrics,
    notes: ['from bench/cert-issuance.ts (see its header); "rotate 2000 while S3 p99 degrades ≤ 20 %" is not measured here', ...(previous ? ['smoke: bench/out/cert-issuance.json restored to the previous full run'] : [])],
    detail: j as unknown as Record<string, unknown>,
    peer: '@peculiar/x509 only if installed (see cert-issuance.json)',
  };
}

const RUNNERS: Record<ScenarioId, (ctx: RunContext) => Promise<ScenarioResult>> = {
  LG: runLoadgenCeiling,
  S1: runS1,
  S2: runS2,
  S3: runS3,
  S4: runS4,
  S5: runS5,
  S6: runS6,
};

const TITLES: Record<ScenarioId, string> = {
  LG: 'Load generator ceiling',
  S1: 'Translate only',
  S2: 'Connect storm',
  S3: 'Fan-out',
  S4: 'Endpoint churn',
  S5: 'Big gateway',
  S6: 'Certificates',
};

export async function runBench(o: RunOptions): Promise<Results> {
  const log = o.log ?? ((m: string) => process.stdout.write(`${m}\n`));
  const pin = (o.pin ?? true) && os.cpus().length >= 2 && canPin();
  if (pin) pinSelf('1');
  const workDir = o.workDir ?? path.join(REPO, 'bench', 'out', o.smoke ? 'work-smoke' : 'work');
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  const ctx: RunContext = {
    smoke: o.smoke,
    workDir,
    pin,
    peer: o.peer ?? true,
    profile: o.profile ?? false,
    churnSeconds: o.churnSeconds ?? (o.smoke ? 1 : 60),
    churnRates: o.churnRates ?? (o.smoke ? [1000] : [100, 1000, 5000]),
    workers: o.workers ?? (o.smoke ? 2 : 4),
    log,
  };
  const wanted = (o.only?.length ? o.only.map((s) => s.toUpperCase()) : [...ALL_SCENARIOS]) as ScenarioId[];
  if (!o.smoke) buildGoWorker(log);
  const lgWorker = loadgenWorker();
  const lgProcesses = lgWorker.processes ?? ctx.workers;
  const results: Results = {
    benchmark: 'meshgate',
    date: new Date().toISOString(),
    smoke: o.smoke,
    machine: machine(),
    options: { pin, peer: ctx.peer ? (peerBuilt() ? 'built' : 'peer not built') : 'disabled', profile: ctx.profile, churnSeconds: ctx.churnSeconds, churnRates: ctx.churnRates, workers: ctx.workers, loadgenWorker: lgWorker.kind, loadgenProcesses: lgProcesses },
    scenarios: [],
  };
  log(`meshgate benchmarks (${o.smoke ? 'smoke' : 'full'}): ${results.machine['cpu']}, ${results.machine['cores']} cores, node ${process.version}; servers on core 0, load generator on core 1${pin ? '' : ' (not pinned)'}; load generator: ${lgWorker.kind} worker × ${lgProcesses} (${lgWorker.why}); peer: ${results.options['peer']}`);
  LoadGen.setPooling(true);
  try {
    await runAll(ctx, wanted, results, log);
  } finally {
    await LoadGen.drainPool();
  }
  return results;
}

async function runAll(ctx: RunContext, wanted: ScenarioId[], results: Results, log: (m: string) => void): Promise<void> {
  for (const id of wanted) {
    const run = RUNNERS[id];
    if (!run) {
      log(`unknown scenario ${id}`);
      continue;
    }
    log(`\n== ${id} ${TITLES[id]}`);
    const t0 = performance.now();
    try {
      const r = await run(ctx);
      if (ctx.profile && r.profiles?.length) {
        const summaries: Array<{ file: string; label: string } & ProfileSummary> = r.profiles.map((p) => ({ file: p, label: 'whole process', ...summarizeProfile(p, 15) }));
        for (const w of r.profileWindows ?? []) for (const f of profilesIn(ctx, w.tag)) summaries.push({ file: f, label: w.label, ...summarizeProfile(f, 15, w) });
        r.detail = { ...r.detail, profileSummaries: summaries };
      }
      results.scenarios.push(r);
      log(formatScenario(r));
    } catch (err) {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      log(`  FAILED: ${message}`);
      results.scenarios.push({ id, title: TITLES[id], error: message });
    }
    log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

function fmt(v: number | null | undefined, unit: Metric['unit']): string {
  if (v === null || v === undefined) return '';
  if (!Number.isFinite(v)) return '–';
  switch (unit) {
    case 'ms':
      return fmtMs(v);
    case 'bytes':
      return fmtBytes(v);
    case '%':
      return fmtPct(v);
    case 'x':
      return `${v.toFixed(2)}×`;
    case '/s':
      return `${Math.round(v)}/s`;
    default:
      return String(Math.round(v));
  }
}

export function formatScenario(r: ScenarioResult): string {
  const rows: string[][] = [['metric', 'meshgate', 'peer', 'meshgate/peer', 'target', '']];
  for (const m of r.metrics) {
    const ratio = m.peer !== null && m.peer !== undefined && Number.isFinite(m.peer) && m.peer !== 0 && m.unit !== 'x' && m.unit !== '%' ? `${(m.meshgate / m.peer).toFixed(2)}×` : '';
    const ok = meets(m);
    rows.push([m.name + (m.note ? ` (${m.note})` : ''), fmt(m.meshgate, m.unit), m.peer === undefined ? '' : m.peer === null ? 'n/a' : fmt(m.peer, m.unit), ratio, m.target ? `${m.target.op} ${fmt(m.target.value, m.unit)}` : '', ok === null ? '' : ok ? 'ok' : 'MISS']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => `  ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`.trimEnd());
  lines.splice(1, 0, `  ${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  const out = [`  ${r.id} ${r.title}: peer ${r.peer}`, ...lines];
  for (const n of r.notes) out.push(`  note: ${n}`);
  const ps = (r.detail?.['profileSummaries'] ?? []) as Array<{ file: string; label: string } & ProfileSummary>;
  for (const p of ps) {
    out.push(`  meshgate profile, ${p.label} (${path.relative(REPO, p.file)}, ${p.totalMs.toFixed(0)} ms sampled, ${p.busyPct.toFixed(0)} % busy):`);
    out.push('    self:');
    for (const t of p.top.slice(0, 8)) out.push(`      ${t.selfPct.toFixed(1).padStart(5)} %  ${t.fn}`);
    out.push('    inclusive (meshgate code):');
    for (const t of p.inclusive.filter((x) => x.fn.includes('dist/src/')).slice(0, 10)) out.push(`      ${t.totalPct.toFixed(1).padStart(5)} %  ${t.fn}`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      'no-peer': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      duration: { type: 'string' },
      rates: { type: 'string' },
      workers: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: node --expose-gc --import tsx bench/run.ts [--smoke] [--only LG,S1,S2,S3,S4,S5,S6] [--no-peer] [--profile] [--no-pin] [--duration SECONDS] [--rates 100,1000,5000] [--workers N] [--out FILE]\n');
    return;
  }
  const results = await runBench({
    smoke: values.smoke!,
    ...(values.only ? { only: values.only.split(',').map((s) => s.trim()) } : {}),
    peer: !values['no-peer'],
    profile: values.profile!,
    pin: !values['no-pin'],
    ...(values.duration ? { churnSeconds: Number(values.duration) } : {}),
    ...(values.rates ? { churnRates: values.rates.split(',').map(Number) } : {}),
    ...(values.workers ? { workers: Number(values.workers) } : {}),
  });
  const out = values.out ?? path.join(REPO, 'bench', 'out', values.smoke ? 'results-smoke.json' : 'results.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(results, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), out)}\n`);
  const failed = results.scenarios.filter((s) => 'error' in s);
  if (failed.length) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.join(REPO, 'bench', 'run.ts')) {
  // Piped into `head`: keep running (and stop every server) instead of dying on EPIPE.
  process.stdout.on('error', () => {});
  // Ctrl-C / SIGTERM: exit, so that the servers started are killed on the way out.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
