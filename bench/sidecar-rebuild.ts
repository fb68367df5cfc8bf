// Micro-benchmark: rebuilding every sidecar's snapshot when only the view they all share
// changed. The S2 mesh (50 services × 40 instances = 2000 sidecars, mTLS strict: 51 clusters,
// 50 assignments, 2 listeners, 2 route configurations, 2 secrets each) is loaded through
// ModelSource, every sidecar group is built (as if all 2000 were connected), then the file is
// edited and reloaded N times per edit kind:
//
//   route      one service's route timeout (RDS "outbound" changes for every sidecar)
//   endpoint   the port of instance 0 of one service (one ClusterLoadAssignment every sidecar
//              holds changes, and that instance's inbound listener)
//   none       the same text again (the floor: parse, compare, and 2000 unchanged groups)
//
// Reported per kind (medians): the whole reload (load()), its build part (MeshBuilder.build:
// IR, translation, snapshots), and the build per rebuilt sidecar. Bytes allocated per reload
// come from a child process with a young generation big enough that no GC runs during a
// reload (heap used after − before; Buffers count as external/arrayBuffers).
//
//   node --expose-gc --import tsx bench/sidecar-rebuild.ts [--reloads 20] [--no-alloc] [--only route|endpoint|none]
//       [--cpu-profile FILE]   (a .cpuprofile of the measured reloads only, for bench/lib/cpuprofile.ts)
//       [--heap-profile FILE]  (a sampled .heapprofile of what the measured reloads allocate)
//   taskset -c 0 node --expose-gc --import tsx bench/sidecar-rebuild.ts
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { MeshBuilder, ModelSource } from '../src/app/model-source.js';
import { MeshSecurity } from '../src/app/security.js';
import { editRouteTimeout, type ModelDoc, S2_MESH, setInstancePort, sidecarMesh } from './models.js';

type Kind = 'route' | 'endpoint' | 'none';
const KINDS: readonly Kind[] = ['route', 'endpoint', 'none'];

interface Sample {
  loadMs: number;
  buildMs: number;
  changed: number;
  /** JS heap + external bytes allocated during the reload (alloc child only). */
  bytes?: number;
  gcs?: number;
}

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
const stringOption = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const option = (name: string, def: number): number => Number(stringOption(name) ?? def);
const only = stringOption('--only') as Kind | undefined;

const gc = (): void => {
  const f = (globalThis as { gc?: () => void }).gc;
  if (!f) throw new Error('run with node --expose-gc');
  f();
};

/**
 * Time spent in the reload's build part (IR → resources → snapshots): MeshBuilder.begin and
 * its job's steps where the build runs in slices, else MeshBuilder.build.
 */
let lastBuildMs = 0;
type Fn = (...args: unknown[]) => unknown;
const proto = MeshBuilder.prototype as unknown as Record<string, Fn | undefined>;
const timed = (f: Fn, self: unknown, args: unknown[]): unknown => {
  const t0 = performance.now();
  try {
    return f.apply(self, args);
  } finally {
    lastBuildMs += performance.now() - t0;
  }
};
const begin = proto['begin'];
if (begin) {
  proto['begin'] = function (this: unknown, ...args: unknown[]) {
    lastBuildMs = 0;
    const job = timed(begin, this, args) as { step: Fn };
    const step = job.step;
    job.step = (...a: unknown[]) => timed(step, job, a);
    return job;
  };
} else {
  const build = proto['build']!;
  proto['build'] = function (this: unknown, ...args: unknown[]) {
    lastBuildMs = 0;
    return timed(build, this, args);
  };
}

let gcCount = 0;
new PerformanceObserver((l) => (gcCount += l.getEntries().length)).observe({ entryTypes: ['gc'] });

const allocated = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

async function settle(): Promise<void> {
  gc();
  // GC entries are delivered asynchronously: let them arrive before counting from zero.
  await new Promise((r) => setTimeout(r, 5));
}

async function run(reloads: number, measureAlloc: boolean): Promise<Record<Kind, Sample[]>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-sidecar-rebuild-'));
  try {
    const file = path.join(dir, 'mesh.yaml');
    const doc: ModelDoc = sidecarMesh(S2_MESH);
    fs.writeFileSync(file, doc.text());
    const security = new MeshSecurity({ stateDir: null, log: pino({ level: 'silent' }) });
    const source = new ModelSource(file, security);
    const first = source.load();
    if (first.errors.length) throw new Error(first.errors.map((e) => e.message).join('; '));
    const groups = doc.proxies().map((p) => p.group);
    for (const g of groups) if (!source.provider.build(g)) throw new Error(`no snapshot for ${g}`);
    const live = (): string[] => [...source.lastBuilt!.snapshots.keys()];

    let step = 0;
    const apply = (kind: Kind): void => {
      step++;
      // Different values each time, so every reload is a change (s7: arbitrary, not special).
      if (kind === 'route') editRouteTimeout(doc, 's7', `${1000 + step}ms`);
      else if (kind === 'endpoint') setInstancePort(doc, 's7', 0, 20000 + step);
      fs.writeFileSync(file, doc.text());
    };
    const reload = async (): Promise<Sample> => {
      await settle();
      const gcs0 = gcCount;
      const a0 = allocated();
      const t0 = performance.now();
      const r = source.load(live);
      const loadMs = performance.now() - t0;
      const a1 = allocated();
      if (r.errors.length) throw new Error(r.errors.map((e) => e.message).join('; '));
      const changed = source.lastBuilt!.changed.size;
      const sample: Sample = { loadMs, buildMs: lastBuildMs, changed };
      if (measureAlloc) {
        await new Promise((res) => setTimeout(res, 5));
        sample.bytes = a1 - a0;
        sample.gcs = gcCount - gcs0;
      }
      return sample;
    };

    // Warm up (JIT, memo tables) with every kind, then measure the kinds interleaved so that
    // a noisy neighbour hurts them alike.
    for (let i = 0; i < 3; i++) for (const k of KINDS) {
      apply(k);
      await reload();
    }
    const out: Record<Kind, Sample[]> = { route: [], endpoint: [], none: [] };
    const profileFile = stringOption('--cpu-profile');
    const heapFile = stringOption('--heap-profile');
    const session = profileFile || heapFile ? new Session() : null;
    if (session) session.connect();
    if (session && profileFile) {
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    if (session && heapFile) {
      await session.post('HeapProfiler.enable');
      // Sampled every 1 KiB allocated on average; objects collected meanwhile are kept in the profile.
      await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    }
    for (let i = 0; i < reloads; i++) {
      for (const k of KINDS) {
        if (only && k !== only) continue;
        apply(k);
        out[k].push(await reload());
      }
    }
    if (session && profileFile) {
      const { profile } = await session.post('Profiler.stop');
      fs.writeFileSync(profileFile, JSON.stringify(profile));
    }
    if (session && heapFile) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      fs.writeFileSync(heapFile, JSON.stringify(profile));
    }
    session?.disconnect();
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const reloads = option('--reloads', 20);
  if (flag('--alloc-child')) {
    const r = await run(option('--reloads', 5), true);
    process.stdout.write(JSON.stringify(r));
    return;
  }
  const timing = await run(reloads, false);
  let alloc: Record<Kind, Sample[]> | null = null;
  if (!flag('--no-alloc')) {
    // A young generation of 2 GiB: no scavenge during a reload, so heap used after − before
    // is what the reload allocated.
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, '--max-semi-space-size=2048', '--min-semi-space-size=2048', fileURLToPath(import.meta.url), '--alloc-child', '--reloads', '5', ...(only ? ['--only', only] : [])],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    if (child.status !== 0) throw new Error(`allocation run failed: ${child.stderr}`);
    alloc = JSON.parse(child.stdout) as Record<Kind, Sample[]>;
  }
  const rows = KINDS.filter((k) => timing[k].length > 0).map((k) => {
    const s = timing[k];
    const changed = median(s.map((x) => x.changed));
    const buildMs = median(s.map((x) => x.buildMs));
    const a = alloc?.[k];
    return {
      kind: k,
      reloads: s.length,
      changedGroups: changed,
      loadMs: +median(s.map((x) => x.loadMs)).toFixed(1),
      buildMs: +buildMs.toFixed(1),
      buildMin: +Math.min(...s.map((x) => x.buildMs)).toFixed(1),
      usPerSidecar: changed ? +((buildMs * 1000) / changed).toFixed(1) : null,
      allocMB: a?.length ? +(median(a.map((x) => x.bytes!)) / 1e6).toFixed(1) : null,
      allocKBPerSidecar: a?.length && changed ? +(median(a.map((x) => x.bytes!)) / 1e3 / changed).toFixed(1) : null,
      allocGcs: a?.length ? Math.max(...a.map((x) => x.gcs!)) : null,
    };
  });
  console.table(rows);
  if (flag('--json')) process.stdout.write(JSON.stringify(rows) + '\n');
}

await main();
