// Small statistics and formatting helpers for the benchmark tables.

/** Percentile (0..100, nearest rank) of numbers; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * xs.length));
  return xs[Math.min(xs.length, rank) - 1]!;
}

export function max(values: readonly number[]): number {
  let m = Number.NaN;
  for (const v of values) if (Number.isFinite(v) && !(v <= m)) m = v;
  return m;
}

export function sum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) if (Number.isFinite(v)) s += v;
  return s;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Round to `digits` significant decimals for JSON output. */
export function round(v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function fmtMs(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v >= 10_000) return `${(v / 1000).toFixed(1)} s`;
  if (v >= 100) return `${Math.round(v)} ms`;
  if (v >= 10) return `${v.toFixed(1)} ms`;
  return `${v.toFixed(2)} ms`;
}

export function fmtBytes(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1024 ** 3) return `${(v / 1024 ** 3).toFixed(2)} GiB`;
  if (a >= 1024 ** 2) return `${(v / 1024 ** 2).toFixed(1)} MiB`;
  if (a >= 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${Math.round(v)} B`;
}

export function fmtPct(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(0)} %` : '–';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
