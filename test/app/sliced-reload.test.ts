// The watcher's reload runs in slices: the model is read and checked at once, then the
// snapshots are built a few groups at a time and the proxies woken a few groups at a time, with
// the event loop free in between. The result must be exactly a whole reload's, a change written
// meanwhile must be loaded after it, and a whole reload() supersedes a sliced one in progress.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addSidecarService, editRouteTimeout, type ModelDoc, sidecarMesh } from '../../bench/models.js';
import { MeshgateApp } from '../../src/app/meshgate-app.js';
import { ModelSource } from '../../src/app/model-source.js';
import { ReloadPacer } from '../../src/app/reload-pacer.js';
import { silentLogger } from '../../src/util/log.js';
import type { CacheWatcher, NodeInfo, SnapshotUpdate } from '../../src/xds/cache.js';

const SPEC = { name: 'sliced', services: 12, instancesPerService: 5, shards: 2, mtls: 'off' as const };

let dir: string;
let file: string;
let doc: ModelDoc;
let app: MeshgateApp;

const hash = (text: string): string => createHash('sha256').update(text).digest('hex');
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Event-loop turns until `done()`; throws after many. */
async function turnsUntil(done: () => boolean): Promise<number> {
  for (let n = 0; n < 100_000; n++) {
    if (done()) return n;
    await turn();
  }
  throw new Error('never done');
}

/** Every group's snapshot version as a fresh process would build it from `text`. */
function fresh(text: string, groups: string[]): Record<string, string> {
  const f = path.join(dir, `fresh-${hash(text).slice(0, 8)}.yaml`);
  fs.writeFileSync(f, text);
  const src = new ModelSource(f);
  expect(src.load().errors).toEqual([]);
  return Object.fromEntries(groups.map((g) => [g, src.provider.build(g)!.version]));
}

function current(groups: string[]): Record<string, string> {
  return Object.fromEntries(groups.map((g) => [g, app.cache.get(g)!.version]));
}

class Watcher implements CacheWatcher {
  readonly updates: SnapshotUpdate[] = [];
  readonly node: NodeInfo;
  constructor(group: string) {
    const [, svc, id] = group.split('/');
    this.node = { id: id!, cluster: svc!, userAgent: 'test', metadata: {} };
  }
  onUpdate(u: SnapshotUpdate): void {
    this.updates.push(u);
  }
}

const sidecars = (): string[] => doc.proxies().map((p) => p.group);

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mg-sliced-'));
  file = path.join(dir, 'mesh.yaml');
  doc = sidecarMesh(SPEC);
  fs.writeFileSync(file, doc.text());
  // sliceMs 0: every slice builds one group and wakes one group, so the test sees many slices
  // whatever the machine's speed.
  app = new MeshgateApp({ source: new ModelSource(file), xdsListen: '127.0.0.1:0', adminListen: '127.0.0.1:0', log: silentLogger(), watch: false, sliceMs: 0, reloadBusyShare: 1 }); // no pacing: these tests count event-loop turns
  await app.start();
  for (const g of sidecars()) expect(app.cache.getOrBuild(g)).toBeDefined();
});

afterEach(async () => {
  await app.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('sliced reload', () => {
  it('builds in many slices with the event loop running between them, and applies exactly what a whole load builds', async () => {
    const before = app.lastApplied!.contentHash;
    editRouteTimeout(doc, 's0', '9s');
    const text = doc.text();
    fs.writeFileSync(file, text);
    app.reloadInSlices();
    // One group per slice: nothing is applied when the call returns.
    expect(app.lastApplied!.contentHash).toBe(before);
    const turns = await turnsUntil(() => app.lastApplied!.contentHash === hash(text));
    expect(turns).toBeGreaterThan(sidecars().length / 2);
    expect(app.lastApplied!.changedGroups).toEqual([...sidecars()].sort());
    expect(current(sidecars())).toEqual(fresh(text, sidecars()));
  });

  it('wakes the proxies in slices after applying, each with what changed', async () => {
    const groups = sidecars();
    const ws = groups.map((g) => new Watcher(g));
    for (const w of ws) app.cache.watch(w);
    expect(ws.every((w) => w.updates.length === 1)).toBe(true);
    editRouteTimeout(doc, 's0', '11s');
    const text = doc.text();
    fs.writeFileSync(file, text);
    app.reloadInSlices();
    await turnsUntil(() => app.lastApplied!.contentHash === hash(text));
    // Applied: every snapshot is current, the wake-ups are still under way.
    expect(app.cache.pendingWakes).toBeGreaterThan(0);
    expect(ws.filter((w) => w.updates.length === 2).length).toBeLessThan(groups.length);
    await turnsUntil(() => app.cache.pendingWakes === 0);
    for (const [i, w] of ws.entries()) {
      expect(w.updates).toHaveLength(2);
      expect(w.updates[1]!.snapshot).toBe(app.cache.get(groups[i]!));
      expect([...w.updates[1]!.changed!.keys()].map((t) => t.split('.').pop())).toEqual(['RouteConfiguration']);
    }
  });

  it('a change written while a sliced reload runs is loaded right after it', async () => {
    editRouteTimeout(doc, 's0', '12s');
    fs.writeFileSync(file, doc.text());
    app.reloadInSlices();
    const name = addSidecarService(doc);
    const last = doc.text();
    fs.writeFileSync(file, last);
    app.reloadInSlices(); // noticed meanwhile: queued, not started
    await turnsUntil(() => app.lastApplied!.contentHash === hash(last));
    const groups = [...sidecars().filter((g) => !g.startsWith(`sidecar/${name}/`))];
    expect(current(groups)).toEqual(fresh(last, groups));
  });

  it('reload() supersedes a sliced reload in progress, which then never applies', async () => {
    editRouteTimeout(doc, 's0', '13s');
    const middle = doc.text();
    fs.writeFileSync(file, middle);
    app.reloadInSlices();
    editRouteTimeout(doc, 's0', '14s');
    const last = doc.text();
    fs.writeFileSync(file, last);
    expect(app.reload().contentHash).toBe(hash(last));
    for (let i = 0; i < sidecars().length * 3; i++) await turn();
    expect(app.lastApplied!.contentHash).toBe(hash(last));
    expect(app.lastAttempt!.contentHash).toBe(hash(last));
    expect(current(sidecars())).toEqual(fresh(last, sidecars()));
  });

  it('a group first built while a sliced reload runs is part of what it applies', async () => {
    // A new service with an instance nobody has built; its proxy "connects" mid-reload.
    const name = addSidecarService(doc);
    const text = doc.text();
    fs.writeFileSync(file, text);
    app.reloadInSlices();
    const group = sidecars().find((g) => g.startsWith(`sidecar/${name}/`))!;
    // The model is read and checked in the reload's first steps; from then on the new group
    // can be built on demand, while the reload still builds the others.
    await turnsUntil(() => app.cache.getOrBuild(group) !== undefined);
    expect(app.lastApplied!.contentHash).not.toBe(hash(text));
    await turnsUntil(() => app.lastApplied!.contentHash === hash(text));
    await turnsUntil(() => app.cache.pendingWakes === 0);
    const built = app.cache.groups();
    expect(built).toContain(group);
    expect(built).toHaveLength(sidecars().length - SPEC.instancesPerService + 1);
    expect(current(built)).toEqual(fresh(text, built));
  });

  it('a model with errors is rejected by a sliced reload as by a whole one, keeping the last good configuration', async () => {
    const good = current(sidecars());
    fs.writeFileSync(file, `${doc.text()}  broken: [\n`);
    app.reloadInSlices();
    await turnsUntil(() => app.lastAttempt?.ok === false);
    expect(app.lastAttempt!.errors.join('\n')).toMatch(/mesh\.yaml:\d+:\d+/);
    expect(current(sidecars())).toEqual(good);
  });
});

// The watcher's events start an early load (read and check the file at once); the end of the
// hold-off (changeQuiet) lets it go on to build and apply only if no event came after its read.
describe('early load at the watcher event', () => {
  /** Every snapshot set in the cache from now on: (group, version). */
  function recordSets(): Array<[string, string]> {
    const sets: Array<[string, string]> = [];
    app.cache.onSet((g, snap) => sets.push([g, snap.version]));
    return sets;
  }

  it('read at the event, applied at the end of the hold-off, exactly what a load after it builds', async () => {
    editRouteTimeout(doc, 's0', '31s');
    const text = doc.text();
    fs.writeFileSync(file, text);
    app.changeSeen();
    // Read and checked meanwhile; nothing applied before the hold-off ends.
    for (let i = 0; i < 50; i++) await turn();
    expect(app.lastAttempt!.contentHash).not.toBe(hash(text));
    app.changeQuiet();
    await turnsUntil(() => app.lastApplied!.contentHash === hash(text));
    expect(app.earlyLoads).toEqual({ started: 1, used: 1, dropped: 0 });
    expect(current(sidecars())).toEqual(fresh(text, sidecars()));
  });

  it('a file still being written when the event came: what the early load read is never applied nor reported', async () => {
    const sets = recordSets();
    // The first event finds the file half written: a model without its last service (valid) ...
    const full = doc.text();
    const cut = full.slice(0, full.lastIndexOf('\n  s11:') + 1);
    // ... then the rest is written (another event), and the hold-off ends.
    const text = await seenThenCompleted(cut, '32s');
    await turnsUntil(() => app.cache.pendingWakes === 0);
    expect(app.earlyLoads).toEqual({ started: 1, used: 0, dropped: 1 });
    expect(current(sidecars())).toEqual(fresh(text, sidecars()));
    // Nothing of the cut model was ever in the cache (its sidecars of s11 would have had no snapshot; the others other versions).
    const cutVersions = fresh(cut, sidecars().filter((g) => !g.startsWith('sidecar/s11/')));
    expect(sets.filter(([g, v]) => cutVersions[g] === v)).toEqual([]);
    expect(app.lastAttempt!.ok).toBe(true);
  });

  /**
   * The file holds `first` at the first event and its early load reads it; then the complete
   * model (s0's route timeout `timeout`) is written, another event comes, and the hold-off ends.
   * Resolves with the complete text once it is applied.
   */
  async function seenThenCompleted(first: string, timeout: string): Promise<string> {
    fs.writeFileSync(file, first);
    app.changeSeen();
    for (let i = 0; i < 50; i++) await turn();
    editRouteTimeout(doc, 's0', timeout);
    const text = doc.text();
    fs.writeFileSync(file, text);
    app.changeSeen();
    app.changeQuiet();
    await turnsUntil(() => app.lastApplied!.contentHash === hash(text));
    return text;
  }

  async function reloadsCounted(result: string): Promise<number> {
    const m = await app.metrics.registry.getSingleMetric('meshgate_config_reloads_total')!.get();
    return m.values.find((v) => v.labels['result'] === result)?.value ?? 0;
  }

  it('an invalid half-written file seen at the event is not reported when the complete file follows', async () => {
    const applied = await reloadsCounted('applied');
    await seenThenCompleted(`${doc.text()}  broken: [\n`, '33s');
    // The only attempt after the hold-off is the complete file's: none was rejected.
    expect(app.lastAttempt!.ok).toBe(true);
    expect(await reloadsCounted('rejected')).toBe(0);
    expect(await reloadsCounted('applied')).toBe(applied + 1);
    expect(app.earlyLoads).toEqual({ started: 1, used: 0, dropped: 1 });
  });

  it('no early load while a push is in progress: under a stream of edits reloads keep their pace', async () => {
    // A pacer that never holds a reload back (its clock sees no CPU used): only the push in progress can.
    await app.stop();
    app = new MeshgateApp({ source: new ModelSource(file), xdsListen: '127.0.0.1:0', adminListen: '127.0.0.1:0', log: silentLogger(), watch: false, sliceMs: 0, reloadPacer: new ReloadPacer(0.5, 500, { now: () => performance.now(), cpu: () => 0 }) });
    await app.start();
    const ws = sidecars().map((g) => new Watcher(g));
    for (const w of ws) app.cache.watch(w);
    editRouteTimeout(doc, 's0', '35s');
    const text = doc.text();
    fs.writeFileSync(file, text);
    app.reloadInSlices();
    await turnsUntil(() => app.lastApplied!.contentHash === hash(text));
    // Applied; the proxies are still being woken (one group per slice here).
    expect(app.cache.pendingWakes).toBeGreaterThan(0);
    editRouteTimeout(doc, 's0', '36s');
    fs.writeFileSync(file, doc.text());
    app.changeSeen();
    expect(app.earlyLoads.started).toBe(0);
    // Once idle again (the wake-ups, and what they set off, done), an event starts one.
    await turnsUntil(() => {
      app.changeSeen();
      return app.earlyLoads.started === 1;
    });
    expect(app.cache.pendingWakes).toBe(0);
  });

  it('reload() supersedes an early load: it is dropped at the end of the hold-off', async () => {
    editRouteTimeout(doc, 's0', '34s');
    const text = doc.text();
    fs.writeFileSync(file, text);
    app.changeSeen();
    expect(app.reload().contentHash).toBe(hash(text));
    app.changeQuiet();
    for (let i = 0; i < sidecars().length * 3; i++) await turn();
    expect(app.earlyLoads).toEqual({ started: 1, used: 0, dropped: 1 });
    expect(app.lastApplied!.contentHash).toBe(hash(text));
    expect(current(sidecars())).toEqual(fresh(text, sidecars()));
  });
});

describe('ModelSource: the text peekContentHash read is what the following load uses, only while the file is the same', () => {
  it('peek then load: the load is of the peeked content; a file replaced in between is read again', () => {
    const src = new ModelSource(file);
    const first = fs.readFileSync(file, 'utf8');
    expect(src.peekContentHash()).toBe(hash(first));
    expect(src.load().contentHash).toBe(hash(first));
    // Peek, then the file is replaced (new inode, new size): the load reads the new file.
    expect(src.peekContentHash()).toBe(hash(first));
    editRouteTimeout(doc, 's1', '21s');
    const next = doc.text();
    fs.writeFileSync(`${file}.tmp`, next);
    fs.renameSync(`${file}.tmp`, file);
    const r = src.load();
    expect(r.contentHash).toBe(hash(next));
    expect(r.errors).toEqual([]);
    // A load without a peek before it reads the file.
    expect(src.load().contentHash).toBe(hash(next));
  });

  it('a file that is not within the limits is not kept by the peek: the load reports it', () => {
    const src = new ModelSource(dir); // a directory, not a file
    expect(src.peekContentHash()).toBeNull();
    expect(src.load().errors.map((e) => e.message).join()).toMatch(/not a regular file/);
  });
});
