// A type set patched or extended at every reload must not keep the sets (and resources) it was
// built from alive: a sidecar's assignments, patched at every endpoint change, once held every
// earlier version through `parts.base` and the patch record (S7's heap grew by ~6 MiB/s).
// Checked in a child process with --expose-gc: after 300 rebuilds, the first snapshot's
// assignment map is collected once nothing but the memos refers to it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('snapshot retention', () => {
  it('sets built from earlier ones (patched, extended) do not keep them alive', () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const root = path.resolve(here, '../..');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-retention-'));
    try {
      const script = path.join(tmp, 'r.mts');
      const src = (p: string): string => JSON.stringify(path.join(root, p));
      fs.writeFileSync(
        script,
        `import { Snapshot, extendList } from ${src('src/xds/snapshot.ts')};
import { resourceFromBytes } from ${src('src/xds/resource.ts')};
import { TYPE } from ${src('src/xds/type-urls.ts')};
const cla = (n, v) => resourceFromBytes(TYPE.ENDPOINT, n, Buffer.from(n + ':' + v));
// The shared assignments of a view (patched: one of 64 changes per build) and one proxy's own
// added to them (extended), rebuilt 300 times on the previous snapshot.
let shared = Array.from({ length: 64 }, (_, i) => cla('e' + i, 0));
let snap = new Snapshot({ [TYPE.ENDPOINT]: extendList(shared, cla('own', 0)) });
const first = new WeakRef(snap.resources(TYPE.ENDPOINT));
const firstShared = new WeakRef(new Snapshot({ [TYPE.ENDPOINT]: shared }).resources(TYPE.ENDPOINT));
let sharedSnap = new Snapshot({ [TYPE.ENDPOINT]: shared });
for (let k = 1; k <= 300; k++) {
  shared = shared.map((r, i) => (i === k % 64 ? cla(r.name, k) : r));
  sharedSnap = new Snapshot({ [TYPE.ENDPOINT]: shared }, sharedSnap);
  snap = new Snapshot({ [TYPE.ENDPOINT]: extendList(shared, cla('own', k)) }, snap);
  if (snap.problems().length) throw new Error('problems');
}
for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
process.stdout.write(JSON.stringify({ first: first.deref() !== undefined, firstShared: firstShared.deref() !== undefined, size: snap.resources(TYPE.ENDPOINT).size }));
`,
      );
      const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(JSON.parse(out)).toEqual({ first: false, firstShared: false, size: 65 });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
