// Sidecar snapshots built ahead while idle (ModelSource.warmup, after the certificates): a proxy
// that connects later is served the snapshot built ahead (none is made on connect), and the next
// load drops what was built ahead instead of rebuilding it (only live groups are rebuilt).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type MeshBuilder, ModelSource, SNAPSHOTS_AHEAD_MAX } from '../../src/app/model-source.js';
import { MeshSecurity } from '../../src/app/security.js';
import { silentLogger } from '../../src/util/log.js';

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
  it('are served on connect without making another, and dropped (not rebuilt) by the next load', () => {
    const { source, builder, file } = setup(BASE);
    expect(source.load(() => []).errors).toEqual([]);
    const group = 'sidecar/orders/orders-a';
    expect(builder.hasSnapshot(group)).toBe(false);
    runWarmup(source);
    expect(builder.hasSnapshot(group)).toBe(true);
    expect(builder.hasSnapshot('sidecar/users/users-v2-a')).toBe(true);
    const made = builder.snapshotsMade;
    expect(source.provider.build(group)).toBeDefined();
    expect(builder.snapshotsMade).toBe(made); // the one built ahead
    // A load with no live sidecar: the ones built ahead are dropped, not rebuilt.
    fs.writeFileSync(file, BASE.replace('weight: 90', 'weight: 80').replace('weight: 10', 'weight: 20'));
    const before = builder.snapshotsMade;
    expect(source.load(() => []).errors).toEqual([]);
    expect(builder.hasSnapshot(group)).toBe(false);
    expect(builder.snapshotsMade - before).toBe(1); // the gateway only
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
