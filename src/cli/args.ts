// Small helpers shared by the commands: parsing with clear errors, and durations/sizes.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${usage}`);
  }
}

/** "30s", "500ms", "2m", or a number of milliseconds. */
export function parseDurationMs(v: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new UsageError(`${flag}: expected a duration like 30s or 500ms, got "${v}"`);
  const n = Number(m[1]);
  const ms = Math.round(m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n);
  // Node timers cannot wait longer: a larger delay silently becomes 1 ms.
  if (ms > MAX_TIMER_MS) throw new UsageError(`${flag}: ${v.trim()} is longer than the maximum of ${MAX_TIMER_MS} ms (about 24 days)`);
  return ms;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** "64MiB", "4MB", "1048576". */
export function parseBytes(v: string, flag: string): number {
  const m = /^(\d+)\s*(B|KiB|KB|MiB|MB|GiB|GB)?$/i.exec(v.trim());
  if (!m) throw new UsageError(`${flag}: expected a size like 64MiB, got "${v}"`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const mult: Record<string, number> = { b: 1, kib: 1024, kb: 1000, mib: 1024 ** 2, mb: 1000 ** 2, gib: 1024 ** 3, gb: 1000 ** 3 };
  const n = Number(m[1]) * (mult[unit] ?? 1);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${flag}: ${v.trim()} is too large`);
  return n;
}
