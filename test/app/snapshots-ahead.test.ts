// Sidecar snapshots built ahead while idle (ModelSource.warmup, after the certificates): a proxy
// that connects later is served the snapshot built ahead (none is made on connect); loads do not
// rebuild what was built ahead (only live groups), and a proxy connecting after a load that
// changed its configuration gets a new snapshot, not the stale one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type MeshBuilder, ModelSource, SNAPSHOTS_AHEAD_MAX } from '../../src/app/model-source.js';
import { MeshSecurity } from '../../src/app/security.js';
import { silentLogger } from '../../src/util/log.js';
import type { Snapshot } from '../../src/xds/snapshot.js';
import { TYPE } from '../../src/xds/type-urls.js';

const BASE = fs.readFileSync(path.resolve(import.meta.dirname, '../../examples/mesh.yaml'), 'utf8');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mg-ahead-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function setup(text: string): { source: ModelSource; builder: MeshBuilder; file: string } {
  const file = path.join(dir, `mesh-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, text);
  const security = new MeshSecurity({ stateDir: null, log: silentLogger() });
  const source = new ModelSource(file, security);
  return { source, builder: (source as unknown as { builder: MeshBuilder }).builder, file };
}

function runWarmup(source: ModelSource): number {
  const step = source.warmup()!;
  let n = 0;
  while (step()) n++;
  return n;
}

describe('sidecar snapshots built ahead', () => {
  it('are served on connect without making another; loads do not rebuild them; a changed one is rebuilt on connect', () => {
    const { source, builder, file } = setup(BASE);
    expect(source.load(() => []).errors).toEqual([]);
    const group = 'sidecar/orders/orders-a';
    expect(builder.hasSnapshot(group)).toBe(false);
    runWarmup(source);
    expect(builder.hasSnapshot(group)).toBe(true);
    expect(builder.hasSnapshot('sidecar/users/users-v2-a')).toBe(true);
    const made = builder.snapshotsMade;
    const ahead = source.provider.build(group)!;
    expect(builder.snapshotsMade).toBe(made); // the one built ahead
    // A load with no live sidecar rebuilds the gateway only, and keeps what was built ahead.
    fs.writeFileSync(file, BASE.replace('weight: 90', 'weight: 80').replace('weight: 10', 'weight: 20'));
    const before = builder.snapshotsMade;
    expect(source.load(() => []).errors).toEqual([]);
    expect(builder.snapshotsMade - before).toBe(1);
    expect(builder.hasSnapshot('sidecar/users/users-v2-a')).toBe(true);
    // users-v2-a's outbound routes to users changed (the weights): connecting, it gets a new
    // snapshot, the same as building it afresh from this model would give.
    const stale = (builder as unknown as { snapshots: Map<string, { snapshot: Snapshot }> }).snapshots.get('sidecar/users/users-v2-a')!.snapshot;
    const now = source.provider.build('sidecar/users/users-v2-a')!;
    expect(now).not.toBe(stale);
    const fresh = setup(fs.readFileSync(file, 'utf8'));
    expect(fresh.source.load(() => ['sidecar/users/users-v2-a']).errors).toEqual([]);
    // (its own CA, so compared without the secrets)
    const afresh = fresh.source.lastBuilt!.snapshots.get('sidecar/users/users-v2-a')!;
    for (const t of [TYPE.CLUSTER, TYPE.ENDPOINT, TYPE.LISTENER, TYPE.ROUTE]) expect(now.typeVersion(t), t).toBe(afresh.typeVersion(t));
    expect(now.typeVersion(TYPE.ROUTE)).not.toBe(stale.typeVersion(TYPE.ROUTE));
    expect(ahead).toBeDefined();
    // A group built ahead that leaves the model is dropped by the next load.
    expect(builder.hasSnapshot('sidecar/users/users-v1-a')).toBe(true);
    const text = fs.readFileSync(file, 'utf8');
    const start = text.indexOf('      - id: users-v1-a');
    const end = text.indexOf('      - id: users-v2-a');
    fs.writeFileSync(file, text.slice(0, start) + text.slice(end).replace(/subset: \{ version: v1 \}/g, 'subset: { version: v2 }'));
    expect(source.load(() => []).errors.map((e) => e.format())).toEqual([]);
    expect(builder.hasSnapshot('sidecar/users/users-v1-a')).toBe(false);
  });

  it(`stop at ${SNAPSHOTS_AHEAD_MAX} groups`, () => {
    // More sidecars than are built ahead: services of 1000 instances each.
    const n = SNAPSHOTS_AHEAD_MAX + 10;
    const perService = 1000;
    const name = (i: number): string => `sidecar/s${Math.floor(i / perService)}/s${Math.floor(i / perService)}-${i % perService}`;
    let text = 'version: 1\nmesh: { mtls: off }\nservices:\n';
    for (let s = 0; s * perService < n; s++) {
      text += `  s${s}:\n    protocol: http\n    instances:\n`;
      for (let i = s * perService; i < Math.min(n, (s + 1) * perService); i++) text += `      - { id: s${s}-${i % perService}, address: 10.${s}.${Math.floor((i % perService) / 250)}.${(i % 250) + 1}, port: 8080, app: 10.${s}.${Math.floor((i % perService) / 250)}.${(i % 250) + 1}:9000 }\n`;
    }
    const { source, builder } = setup(text);
    const r = source.load(() => []);
    expect(r.errors.map((e) => e.format())).toEqual([]);
    runWarmup(source);
    let ahead = 0;
    for (let i = 0; i < n; i++) if (builder.hasSnapshot(name(i))) ahead++;
    expect(ahead).toBe(SNAPSHOTS_AHEAD_MAX);
  });
});
