// Shared plumbing of the two long benchmark commands that are not part of `npm run bench`:
// S7 (bench/scenarios/s7-soak.ts) and E1 (bench/scenarios/e1-real-envoy.ts). The result file
// (machine, commit, options, one ScenarioResult), time series statistics, and staleness
// histograms taken as differences of the load generator's cumulative ones.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { machine } from '../run.js';
import { HIST_BUCKETS, histBucketEdge, type MarkerReport } from '../loadgen/protocol.js';
import type { ScenarioResult } from './harness.js';
import { REPO } from './servers.js';

export interface LongRunResults {
  benchmark: 'meshgate';
  scenario: string;
  date: string;
  /** `git rev-parse --short HEAD`, and whether src/ had uncommitted changes when measured (dist/ is built from the working tree). */
  commit: { head: string | null; srcDirty: boolean | null };
  smoke: boolean;
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  result: ScenarioResult;
}

export function gitCommit(): { head: string | null; srcDirty: boolean | null } {
  const git = (args: string[]): string | null => {
    try {
      return execFileSync('git', args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const head = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--', 'src']);
  return { head, srcDirty: dirty === null ? null : dirty.length > 0 };
}

/** The runner's machine record (bench/run.ts), with what this run used instead of "no Envoy". */
export function machineInfo(envoy: string): Record<string, unknown> {
  return { ...machine(), envoy };
}

export function writeResults(file: string, r: LongRunResults): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
}

// ---------------------------------------------------------------------------------------
// Time series

export interface Point {
  /** Seconds since the start of the measured run. */
  t: number;
  v: number;
}

/** Mean of the finite values with from <= t < to (NaN if none). */
export function meanIn(points: readonly Point[], from: number, to: number): number {
  let s = 0;
  let n = 0;
  for (const p of points) {
    if (p.t >= from && p.t < to && Number.isFinite(p.v)) {
      s += p.v;
      n++;
    }
  }
  return n ? s / n : Number.NaN;
}

/** Least-squares slope (value per second) of the finite points with t >= from (NaN with < 2 points). */
export function slope(points: readonly Point[], from = Number.NEGATIVE_INFINITY): number {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const p of points) {
    if (p.t >= from && Number.isFinite(p.v)) {
      xs.push(p.t);
      ys.push(p.v);
    }
  }
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den > 0 ? num / den : Number.NaN;
}

/**
 * Memory drift after warm-up over a run of `seconds`: warm-up W = min(300 s, seconds / 3);
 * window length L = min(300 s, (seconds − W) / 2); reference = mean over [W, W + L), final =
 * mean over [seconds − L, seconds]; drift = (final − reference) / reference. For 30 minutes:
 * minutes 5–10 against minutes 25–30.
 */
export function driftWindows(seconds: number): { warmup: number; length: number; reference: [number, number]; final: [number, number] } {
  const warmup = Math.min(300, seconds / 3);
  const length = Math.min(300, (seconds - warmup) / 2);
  return { warmup, length, reference: [warmup, warmup + length], final: [seconds - length, seconds + 1e-9] };
}

export function drift(points: readonly Point[], seconds: number): { reference: number; final: number; driftPct: number; slopePerMinute: number } {
  const w = driftWindows(seconds);
  const reference = meanIn(points, w.reference[0], w.reference[1]);
  const final = meanIn(points, w.final[0], w.final[1]);
  return { reference, final, driftPct: ((final - reference) / reference) * 100, slopePerMinute: slope(points, w.warmup) * 60 };
}

// ---------------------------------------------------------------------------------------
// Staleness histograms (the load generator's marker reports are cumulative)

/** A cumulative marker histogram as a dense-enough map, to subtract an earlier one from. */
export class CumulativeHist {
  private readonly counts = new Map<number, number>();
  count = 0;
  sum = 0;
  max = 0;

  static of(m: MarkerReport | null): CumulativeHist {
    const h = new CumulativeHist();
    if (!m) return h;
    for (const [b, n] of m.hist) h.counts.set(b, n);
    h.count = m.count;
    h.sum = m.sum;
    h.max = m.max;
    return h;
  }

  /** This minus an earlier cumulative histogram: the observations recorded in between. */
  since(earlier: CumulativeHist | null): MarkerReport {
    const hist: Array<[number, number]> = [];
    let top = -1;
    for (const [b, n] of this.counts) {
      const d = n - (earlier?.counts.get(b) ?? 0);
      if (d > 0) {
        hist.push([b, d]);
        if (b > top) top = b;
      }
    }
    hist.sort((a, b) => a[0] - b[0]);
    const count = this.count - (earlier?.count ?? 0);
    // The interval's maximum is known to its bucket (the cumulative max only if it is new).
    const max = top < 0 ? 0 : earlier && this.max === earlier.max ? Math.min(this.max, top === HIST_BUCKETS - 1 ? this.max : histBucketEdge(top)) : this.max;
    return { hist, count, max, sum: this.sum - (earlier?.sum ?? 0), unresolved: 0 };
  }
}
