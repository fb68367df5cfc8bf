// Diagnostics: what is wrong, where (file:line:column and the path in the model), and a
// hint where one is obvious. Expected failures are values, never exceptions.
import { distance } from 'fastest-levenshtein';
import type { SourcePosition } from '../util/yaml-source.js';

export type ModelPath = ReadonlyArray<string | number>;

export interface Diagnostic {
  severity: 'error' | 'warning';
  message: string;
  path: ModelPath;
  position: SourcePosition;
  hint?: string;
}

/** services.users.routes[1].backends[0].weight; odd keys quoted: labels["app.io/name"]. */
export function formatPath(path: ModelPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** "mesh.yaml:12:9: error: services.users.timeout: expected … (hint)" */
export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.position.file}:${d.position.line}:${d.position.column}`;
  const p = d.path.length ? `${formatPath(d.path)}: ` : '';
  const hint = d.hint ? ` (${d.hint})` : '';
  return `${where}: ${d.severity}: ${p}${d.message}${hint}`;
}

/** The closest candidate to `word`, if it is close enough to be a plausible typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(1, Math.floor(Math.max(word.length, best.length) / 3));
  return bestD <= allowed ? best : undefined;
}
