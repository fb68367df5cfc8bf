// Random edits of a model text, as a person (or a bad tool) makes them: a value changed inside a
// service, a line deleted, duplicated, re-indented or moved, a key misspelt, a service added
// (copied under a new name, with fresh ids and ports), removed, renamed or moved, a comment or
// blank line anywhere, and now and then YAML the plain layout does not use (anchors, aliases,
// tags, flow style at the top, document markers, tabs, CR, a BOM, odd indentation).

/** Values for "key: value" edits: model words, numbers, ports, and YAML's tricky scalars. */
const VALUES = [
  's0', 's1', 'users', 'orders', 'edge', 'public', '/', '/x', '/v1/users', '10s', '0s', '250ms', 'tcp', 'http', 'http2', 'grpc', 'deny', 'allow', 'strict', 'off', 'permissive',
  '8080', '15000', '15001', '0', '70000', '0.0.0.0', '127.0.0.1', '10.9.9.9', '127.0.0.1:8080', 'v1', 'v2', 'true', 'null', '~', 'yes', '0x1F', '1e3', '"quoted"', "'single'",
  '[]', '{}', '[a, b]', '{ version: v2 }', '"a: b"', 'a #c', '&x y', '*x', '!!str 1',
];

/** Lines that are not in the plain layout (each alone is valid YAML or close to it). */
const ODD_LINES = ['---', '...', '%YAML 1.2', '# comment', '', '   ', '  # indented comment', '\t', 'x: 1', 'services: {}', 'version: 1', '? complex', '- item', '  &anchor', '  <<: *anchor', 'mesh: { mtls: strict }'];

export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/** [start, end) line ranges of the entries under `services:` or `gateways:` (key lines one indent deeper). */
export function entries(lines: readonly string[], section: 'services' | 'gateways'): Array<[number, number]> {
  const at = lines.findIndex((l) => l.startsWith(`${section}:`));
  if (at < 0) return [];
  let end = at + 1;
  while (end < lines.length && (lines[end] === '' || lines[end]!.startsWith(' ') || lines[end]!.startsWith('#'))) end++;
  let indent = -1;
  const out: Array<[number, number]> = [];
  for (let i = at + 1; i < end; i++) {
    const l = lines[i]!;
    if (l.trim() === '' || l.trim().startsWith('#')) continue;
    const n = indentOf(l);
    if (indent < 0) indent = n;
    if (n === indent) {
      if (out.length) out[out.length - 1]![1] = i;
      out.push([i, end]);
    }
  }
  return out;
}

let copies = 0;

/** A copy of an entry's lines under a new key, with new instance ids, addresses and ports. */
function copyEntry(block: readonly string[], r: () => number): string[] {
  const n = ++copies;
  return block.map((l, i) => {
    if (i === 0) return l.replace(/^(\s*)([^:\s]+):/, `$1$2-copy${n}:`);
    return l
      .replace(/\bid: ([A-Za-z0-9-]+)/g, `id: $1-c${n}`)
      .replace(/\baddress: (\d+)\.(\d+)\.(\d+)\.(\d+)/g, () => `address: 10.${200 + (n % 50)}.${Math.floor(r() * 250)}.${Math.floor(r() * 250)}`)
      .replace(/\b(port|outboundPort|adminPort): (\d+)/g, (_, k: string) => `${k}: ${20000 + ((n * 7 + Math.floor(r() * 1000)) % 40000)}`);
  });
}

/** One random edit of `text`. */
export function editModelText(text: string, r: () => number): string {
  const lines = text.split('\n');
  const i = Math.floor(r() * lines.length);
  const line = lines[i]!;
  const section = r() < 0.75 ? 'services' : 'gateways';
  const es = entries(lines, section);
  const x = r();
  if (x < 0.3) {
    // A new value for a "key: value" on a line (block or flow).
    const ms = [...line.matchAll(/([A-Za-z]+): ?([^,{}[\]#\n]+?)(?=\s*(,|}|]|$|#))/g)];
    const m = ms.length ? pick(r, ms) : undefined;
    if (m && m.index !== undefined) {
      const at = m.index + m[0].length - m[2]!.length;
      lines[i] = line.slice(0, at) + pick(r, VALUES) + line.slice(at + m[2]!.length);
    }
  } else if (x < 0.36) lines.splice(i, 1);
  else if (x < 0.41) lines.splice(i, 0, line);
  else if (x < 0.46) lines[i] = r() < 0.5 ? ` ${line}` : line.replace(/^ {1,2}/, '');
  else if (x < 0.5) {
    const j = Math.floor(r() * lines.length);
    [lines[i], lines[j]] = [lines[j]!, line];
  } else if (x < 0.54) {
    // A typo in a key.
    const ms = [...line.matchAll(/([A-Za-z]{3,}):/g)];
    const m = ms.length ? pick(r, ms) : undefined;
    if (m && m.index !== undefined) lines[i] = line.slice(0, m.index) + m[1]!.slice(0, -1) + line.slice(m.index + m[1]!.length);
  } else if (x < 0.62 && es.length) {
    // A service or gateway added: a copy with fresh ids and ports, after a random entry.
    const [s, e] = pick(r, es);
    const [, after] = pick(r, es);
    lines.splice(after, 0, ...copyEntry(lines.slice(s, e), r));
  } else if (x < 0.67 && es.length) {
    const [s, e] = pick(r, es);
    lines.splice(s, e - s);
  } else if (x < 0.71 && es.length > 1) {
    // Two entries swap places.
    const a = pick(r, es);
    const b = pick(r, es);
    const [first, second] = a[0] < b[0] ? [a, b] : [b, a];
    if (first[0] !== second[0]) {
      const blockA = lines.slice(first[0], first[1]);
      const blockB = lines.slice(second[0], second[1]);
      lines.splice(second[0], second[1] - second[0], ...blockA);
      lines.splice(first[0], first[1] - first[0], ...blockB);
    }
  } else if (x < 0.74 && es.length) {
    // A service renamed (or given another's name: a duplicate key).
    const [s] = pick(r, es);
    const other = lines[pick(r, es)[0]]!.trim();
    lines[s] = lines[s]!.replace(/^(\s*)[^:\s]+:/, r() < 0.7 ? `$1renamed${Math.floor(r() * 3)}:` : `$1${other.split(':')[0]}:`);
  } else if (x < 0.79) {
    // A list item (with everything under it) repeated: duplicate ids, port clashes, shadowed
    // routes (warnings).
    const items = lines.flatMap((l, k) => (/^\s*- /.test(l) ? [k] : []));
    if (items.length) {
      const k = pick(r, items);
      const ind = indentOf(lines[k]!);
      let end = k + 1;
      while (end < lines.length && lines[end]!.trim() !== '' && indentOf(lines[end]!) > ind) end++;
      lines.splice(end, 0, ...lines.slice(k, end));
    } else lines.splice(i + 1, 0, line.replace(/([A-Za-z]+):/, '$1x:'));
  } else if (x < 0.87) {
    // A comment or blank line, at any indentation.
    lines.splice(i, 0, pick(r, ['', '#', '# c', '  # c', '      # deep', ' # odd', '    ', '#: not: a key']));
  } else if (x < 0.9) {
    // The mesh block.
    const m = lines.findIndex((l) => /^\s+mtls: /.test(l));
    if (m >= 0) lines[m] = lines[m]!.replace(/mtls: \S+/, `mtls: ${pick(r, ['off', 'strict', 'permissive'])}`);
    else lines.splice(lines.findIndex((l) => l.startsWith('version')) + 1, 0, 'mesh:', `  mtls: ${pick(r, ['off', 'strict'])}`);
  } else if (x < 0.92) {
    // An anchor and an alias (valid YAML the fast reader does not take).
    const ms = [...line.matchAll(/: ([A-Za-z0-9./]+)/g)];
    if (ms.length) {
      lines[i] = line.replace(/: ([A-Za-z0-9./]+)/, ': &a $1');
      const j = Math.floor(r() * lines.length);
      lines[j] = lines[j]!.replace(/: ([A-Za-z0-9./]+)/, ': *a');
    }
  } else if (x < 0.94) lines[i] = line.replace(/^( *)/, r() < 0.5 ? '$1\t' : '\t$1');
  else if (x < 0.95) lines[i] = `${line}\r`;
  else if (x < 0.96) return `\ufeff${text}`;
  else if (x < 0.97) {
    // Flow style at the top: one section as a flow mapping.
    const at = lines.findIndex((l) => l.startsWith(`${section}:`));
    if (at >= 0 && es.length) lines.splice(at, es[es.length - 1]![1] - at, `${section}: {}`);
  } else lines.splice(i, 0, pick(r, ODD_LINES));
  return lines.join('\n');
}
