// Reloads must not keep earlier model texts alive. Values read from a text were V8 slices of it
// (a 13-character-or-longer substring holds its whole parent): an unchanged service kept across
// reloads by design held the text of the reload that read it, and endpoint churn held every
// earlier text (~1 MB per reload of M1k); a service's instances kept one by one held the text
// of the reload that last read them. Checked in a child process with --expose-gc: 150
// reloads of a 300-service gateway mesh (5 endpoints each) leave the heap where it was after 60,
// and those 60 hold about the state of the instances read one by one, not texts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('reload retention', () => {
  it('a stream of endpoint edits does not grow the heap', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-reload-retention-'));
    try {
      const script = path.join(tmp, 'r.mts');
      const src = (p: string): string => JSON.stringify(path.join(root, p));
      fs.writeFileSync(
        script,
        `import fs from 'node:fs';
import path from 'node:path';
import { gatewayMesh, setInstancePort } from ${src('bench/models.ts')};
import { MeshgateApp } from ${src('src/app/meshgate-app.ts')};
import { ModelSource } from ${src('src/app/model-source.ts')};
import { MeshSecurity } from ${src('src/app/security.ts')};
import { silentLogger } from ${src('src/util/log.ts')};
const file = path.join(${JSON.stringify(tmp)}, 'mesh.yaml');
const doc = gatewayMesh({ name: 'm', services: 300, instancesPerService: 10, subsets: 1 });
fs.writeFileSync(file, doc.text());
const security = new MeshSecurity({ stateDir: null, log: silentLogger() });
const app = new MeshgateApp({ source: new ModelSource(file, security), security, xdsListen: '127.0.0.1:0', adminListen: '127.0.0.1:0', log: silentLogger(), watch: false });
await app.start();
let i = 0;
// Each reload in a task of its own, as the watcher's are: a WeakRef's target is kept alive until
// the task that made it ends, so reloads in one synchronous loop would hold every earlier model.
const reloads = async (n) => { for (let k = 0; k < n; k++) { await new Promise((r) => setImmediate(r)); for (let c = 0; c < 5; c++, i++) setInstancePort(doc, 's' + (i % 300), 0, 20000 + Math.floor(i / 300)); fs.writeFileSync(file, doc.text()); if (!app.reload().ok) throw new Error('rejected'); } };
const heap = async () => { await new Promise((r) => setImmediate(r)); for (let g = 0; g < 4; g++) globalThis.gc(); return process.memoryUsage().heapUsed; };
const start = await heap();
await reloads(60); // (every service edited once: each then holds its instances one by one, state that stays)
const before = await heap();
await reloads(150);
const after = await heap();
await app.stop();
process.stdout.write(JSON.stringify({ text: doc.text().length, growth: after - before, held: before - start }));
process.exit(0);
`,
      );
      const out = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script], { cwd: root, encoding: 'utf8', timeout: 120_000 })) as { text: number; growth: number; held: number };
      // Holding every text would be 150 × the text (~30 MB); a few texts' worth is noise.
      expect(out.growth, JSON.stringify(out)).toBeLessThan(4 * out.text);
      // Every service edited once is held instance by instance (~1 KB per instance here). Were
      // the parts kept from earlier reads slices of the text they were read in, each service
      // would hold the text of its last edit: ~60 texts (16 MB) instead.
      expect(out.held, JSON.stringify(out)).toBeLessThan(20 * out.text);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 150_000);
});
