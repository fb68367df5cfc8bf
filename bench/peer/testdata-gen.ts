// Writes small exports for the go-control-plane peer from model files, with meshgate's own
// code (model → IR → snapshots, mTLS secrets from an in-memory CA). Test data only: the
// benchmark writes its exports itself.
//
//   npx tsx bench/peer/testdata-gen.ts MODEL.yaml OUT_DIR [MODEL2.yaml OUT_DIR2 ...]
//   npx tsx bench/peer/testdata-gen.ts --bootstrap NODE_ID NODE_CLUSTER XDS_PORT ADMIN_PORT sotw|delta
//
// The second form prints meshgate's Envoy bootstrap (ADS to 127.0.0.1:XDS_PORT) as JSON.
//
// Every pair shares one CA and one certificate store, so a second export of an edited model
// differs from the first only where the model changed (the certificates stay the same).
//
// Node ids: a sidecar group's node id is its instance id; a gateway group's is the gateway
// name (meshgate itself resolves a gateway by node.cluster; the peer keys by node id).
import fs from 'node:fs';
import path from 'node:path';
import { buildSnapshots, MeshBuilder } from '../../src/app/model-source.js';
import { MeshSecurity } from '../../src/app/security.js';
import { loadModelFile } from '../../src/model/load.js';
import { envoyBootstrap } from '../../src/translate/bootstrap.js';
import { silentLogger } from '../../src/util/log.js';
import { ADS_ORDER } from '../../src/xds/type-urls.js';

interface ExportResource {
  typeUrl: string;
  name: string;
  version: string;
  value: string;
}
interface ExportGroup {
  group: string;
  nodeIds: string[];
  version: string;
  resources: ExportResource[];
}

const args = process.argv.slice(2);
if (args[0] === '--bootstrap') {
  const [nodeId, nodeCluster, port, admin, variant] = args.slice(1);
  if (!nodeId || !nodeCluster || !port || !admin || (variant !== 'sotw' && variant !== 'delta')) {
    console.error('usage: npx tsx bench/peer/testdata-gen.ts --bootstrap NODE_ID NODE_CLUSTER XDS_PORT ADMIN_PORT sotw|delta');
    process.exit(2);
  }
  const b = envoyBootstrap({ nodeId, nodeCluster, xdsHost: '127.0.0.1', xdsPort: Number(port), adminHost: '127.0.0.1', adminPort: Number(admin), variant });
  console.log(JSON.stringify(b, null, 1));
  process.exit(0);
}
if (args.length === 0 || args.length % 2 !== 0) {
  console.error('usage: npx tsx bench/peer/testdata-gen.ts MODEL.yaml OUT_DIR [MODEL2.yaml OUT_DIR2 ...]');
  process.exit(2);
}

const security = new MeshSecurity({ stateDir: null, log: silentLogger() });
const encoder = new MeshBuilder();

for (let i = 0; i < args.length; i += 2) {
  const file = args[i]!;
  const out = args[i + 1]!;
  const loaded = loadModelFile(file);
  const errs = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (!loaded.model || errs.length) {
    console.error(`${file}: ${errs.map((d) => d.message).join('; ') || 'no model'}`);
    process.exit(1);
  }
  security.setTtl(loaded.model.mesh.certificateTtl);
  const secrets = loaded.model.mesh.mtls !== 'off' ? (p: Parameters<MeshSecurity['secretsFor']>[0]) => security.secretsFor(p) : undefined;
  const { built, errors } = buildSnapshots(loaded.model, encoder, file, secrets);
  if (errors.length) {
    console.error(errors.map((e) => e.message).join('\n'));
    process.exit(1);
  }
  const groups: ExportGroup[] = [];
  let resources = 0;
  for (const p of built.ir.proxies) {
    const snap = built.snapshots.get(p.group)!;
    const list: ExportResource[] = [];
    for (const t of ADS_ORDER) {
      for (const r of snap.resources(t).values()) {
        list.push({ typeUrl: r.typeUrl, name: r.name, version: r.version, value: r.body.toString('base64') });
      }
    }
    resources += list.length;
    groups.push({ group: p.group, nodeIds: [p.name], version: snap.version, resources: list });
  }
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'snapshots.json'), JSON.stringify({ groups }, null, 1) + '\n');
  // Per-type versions as meshgate computes them, for checking the peer (not part of the format).
  const typeVersions: Record<string, Record<string, string>> = {};
  for (const p of built.ir.proxies) {
    const snap = built.snapshots.get(p.group)!;
    typeVersions[p.group] = Object.fromEntries(ADS_ORDER.map((t) => [t, snap.typeVersion(t)]));
  }
  fs.writeFileSync(path.join(out, 'type-versions.json'), JSON.stringify(typeVersions, null, 1) + '\n');
  console.log(`${out}: ${groups.length} groups, ${resources} resources`);
}
