// Model texts that tests of loading run over: every shipped example, every golden model, and
// small bench models (gateway with many routes, sidecar mesh, subsets).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatewayMesh, sidecarMesh, SMOKE_M1K, SMOKE_S2_MESH } from '../../bench/models.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** [label, text] of every shipped and golden model and three small bench models. */
export function shippedAndBenchModels(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const f of fs.readdirSync(path.join(ROOT, 'examples')).sort()) {
    if (f.endsWith('.yaml')) out.push([`examples/${f}`, fs.readFileSync(path.join(ROOT, 'examples', f), 'utf8')]);
  }
  const golden = path.join(ROOT, 'test/golden');
  for (const d of fs.readdirSync(golden).sort()) {
    const f = path.join(golden, d, 'mesh.yaml');
    if (fs.existsSync(f)) out.push([`test/golden/${d}/mesh.yaml`, fs.readFileSync(f, 'utf8')]);
  }
  out.push(['bench M1k (smoke)', gatewayMesh(SMOKE_M1K).text()]);
  out.push(['bench S2 mesh (smoke)', sidecarMesh(SMOKE_S2_MESH).text()]);
  out.push(['bench subsets', gatewayMesh({ name: 'subsets', services: 6, instancesPerService: 4, subsets: 2 }).text()]);
  return out;
}
