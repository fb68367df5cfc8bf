// SnapshotCache (src/xds/cache.ts): node identity → group, watchers woken only for their own
// group with exactly what changed, identical sets are no-ops, reloads regroup waiting nodes.
import { describe, expect, it } from 'vitest';
import { type CacheWatcher, type NodeInfo, resolveByIdThenCluster, SnapshotCache, type SnapshotUpdate } from '../../src/xds/cache.js';
import { resourceFromJson } from '../../src/xds/resource.js';
import { Snapshot } from '../../src/xds/snapshot.js';
import { TYPE } from '../../src/xds/type-urls.js';

function cluster(name: string, timeout = '1s') {
  return resourceFromJson(TYPE.CLUSTER, { name, type: 'STATIC', connect_timeout: timeout });
}
/** A snapshot of STATIC clusters; `tag` changes the content of cluster "tagged". */
function snap(names: string[], tag = 'x'): Snapshot {
  return new Snapshot([...names.map((n) => cluster(n)), cluster('tagged', tag === 'x' ? '1s' : `${tag.length + 1}s`)]);
}

class Recorder implements CacheWatcher {
  readonly updates: SnapshotUpdate[] = [];
  readonly node: NodeInfo;
  constructor(id: string, cluster = '') {
    this.node = { id, cluster, userAgent: 'envoy', metadata: {} };
  }
  onUpdate(u: SnapshotUpdate): void {
    this.updates.push(u);
  }
  get last(): SnapshotUpdate | undefined {
    return this.updates[this.updates.length - 1];
  }
  changedNames(i = this.updates.length - 1): Record<string, string[]> | null {
    const c = this.updates[i]?.changed;
    if (c === null || c === undefined) return null;
    return Object.fromEntries([...c].map(([t, s]) => [t, [...s].sort()]));
  }
}

describe('resolveByIdThenCluster', () => {
  it('node id first, then node cluster, then "default", else nothing', () => {
    const node = (id: string, cluster: string): NodeInfo => ({ id, cluster, userAgent: '', metadata: {} });
    const has = (groups: string[]) => (g: string) => groups.includes(g);
    expect(resolveByIdThenCluster(node('n1', 'c1'), has(['n1', 'c1', 'default']))).toBe('n1');
    expect(resolveByIdThenCluster(node('n1', 'c1'), has(['c1', 'default']))).toBe('c1');
    expect(resolveByIdThenCluster(node('n1', 'c1'), has(['default']))).toBe('default');
    expect(resolveByIdThenCluster(node('n1', 'c1'), has(['other']))).toBeUndefined();
    expect(resolveByIdThenCluster(node('', ''), has(['', 'default']))).toBe('default');
  });
});

describe('SnapshotCache', () => {
  it('a watcher gets the current snapshot of its group at once, marked as all-changed', () => {
    const cache = new SnapshotCache();
    const s = snap(['a']);
    expect(cache.set('front', s)).toBe(true);
    const w = new Recorder('n1', 'front');
    cache.watch(w);
    expect(w.updates).toHaveLength(1);
    expect(w.last!.snapshot).toBe(s);
    expect(w.last!.changed).toBeNull();
    expect(cache.groupFor(w)).toBe('front');
  });

  it('a watcher with no matching group waits silently', () => {
    const cache = new SnapshotCache();
    cache.set('other', snap(['a']));
    const w = new Recorder('n1', 'front');
    cache.watch(w);
    expect(w.updates).toHaveLength(0);
    expect(cache.groupFor(w)).toBeUndefined();
  });

  it('set() wakes only the watchers of that group, with exactly the changed names', () => {
    const cache = new SnapshotCache();
    cache.set('front', snap(['a', 'b']));
    cache.set('back', snap(['z']));
    const f1 = new Recorder('f1', 'front');
    const f2 = new Recorder('f2', 'front');
    const b1 = new Recorder('b1', 'back');
    for (const w of [f1, f2, b1]) cache.watch(w);

    const next = snap(['a', 'c'], 'changed'); // b removed, c added, tagged changed, a unchanged
    expect(cache.set('front', next)).toBe(true);
    for (const w of [f1, f2]) {
      expect(w.updates).toHaveLength(2);
      expect(w.last!.snapshot).toBe(next);
      expect(w.changedNames()).toEqual({ [TYPE.CLUSTER]: ['b', 'c', 'tagged'] });
    }
    expect(b1.updates).toHaveLength(1); // only its initial snapshot
  });

  it('set() with an identical snapshot (a different object, same content) returns false and wakes nobody', () => {
    const cache = new SnapshotCache();
    const w = new Recorder('n', 'g');
    cache.set('g', snap(['a']));
    cache.watch(w);
    const sets: string[] = [];
    cache.onSet((g) => sets.push(g));
    expect(cache.set('g', snap(['a']))).toBe(false);
    expect(w.updates).toHaveLength(1);
    expect(sets).toEqual([]);
    expect(cache.set('g', snap(['a', 'b']))).toBe(true);
    expect(sets).toEqual(['g']);
  });

  it('after unwatch a watcher is never woken again', () => {
    const cache = new SnapshotCache();
    cache.set('g', snap(['a']));
    const w = new Recorder('n', 'g');
    const stop = cache.watch(w);
    stop();
    cache.set('g', snap(['b']));
    cache.set('n', snap(['c']));
    cache.replaceAll(new Map([['g', snap(['d'])]]));
    expect(w.updates).toHaveLength(1);
    expect(cache.groupFor(w)).toBeUndefined();
  });

  it('a node waiting for a group receives it when the group appears; a node of a broader group moves to a more specific one', () => {
    const cache = new SnapshotCache();
    const waiting = new Recorder('n-wait', 'svc');
    cache.watch(waiting);
    expect(waiting.updates).toHaveLength(0);

    const dflt = snap(['d']);
    cache.set('default', dflt);
    expect(waiting.updates).toHaveLength(1);
    expect(waiting.last!.snapshot).toBe(dflt);
    expect(cache.groupFor(waiting)).toBe('default');

    const other = new Recorder('n-other', 'elsewhere');
    cache.watch(other);
    expect(cache.groupFor(other)).toBe('default');

    const bySvc = snap(['s']);
    cache.set('svc', bySvc); // cluster match beats "default"
    expect(cache.groupFor(waiting)).toBe('svc');
    expect(waiting.updates).toHaveLength(2);
    expect(waiting.last!.snapshot).toBe(bySvc);
    expect(waiting.last!.changed).toBeNull();
    expect(other.updates).toHaveLength(1); // stays in default, not woken

    const byId = snap(['i']);
    cache.set('n-wait', byId); // node id beats cluster
    expect(cache.groupFor(waiting)).toBe('n-wait');
    expect(waiting.last!.snapshot).toBe(byId);
    expect(waiting.updates).toHaveLength(3);

    // A change to the group it left does not reach it any more.
    cache.set('svc', snap(['s', 's2']));
    expect(waiting.updates).toHaveLength(3);
  });

  it('replaceAll adds and removes groups and reports the changed ones, sorted', () => {
    const cache = new SnapshotCache();
    cache.set('a', snap(['1']));
    cache.set('b', snap(['2']));
    const changed = cache.replaceAll(
      new Map([
        ['c', snap(['3'])],
        ['b', snap(['2'])], // identical
        ['a', snap(['1', 'x'])], // changed
      ]),
    );
    expect(changed).toEqual(['a', 'c']);
    expect(cache.groups()).toEqual(['a', 'b', 'c']);
    expect(cache.replaceAll(new Map([['c', snap(['3'])]]))).toEqual([]);
    expect(cache.groups()).toEqual(['c']);
    expect(cache.size).toBe(1);
  });

  it('replaceAll with identical content wakes nobody', () => {
    const cache = new SnapshotCache();
    cache.replaceAll(new Map([['default', snap(['a'])], ['g', snap(['b'])]]));
    const w1 = new Recorder('x', 'g');
    const w2 = new Recorder('y', 'zzz');
    cache.watch(w1);
    cache.watch(w2);
    expect(cache.replaceAll(new Map([['g', snap(['b'])], ['default', snap(['a'])]]))).toEqual([]);
    expect(w1.updates).toHaveLength(1);
    expect(w2.updates).toHaveLength(1);
  });

  it('replaceAll regroups: removed group → fallback to "default"; no fallback → detached and not pushed', () => {
    const cache = new SnapshotCache();
    const dflt = snap(['d']);
    cache.replaceAll(new Map([['svc', snap(['s'])], ['default', dflt], ['lonely', snap(['l'])]]));
    const w = new Recorder('n1', 'svc');
    cache.watch(w);
    expect(cache.groupFor(w)).toBe('svc');

    cache.replaceAll(new Map([['default', dflt], ['lonely', snap(['l'])]]));
    expect(cache.groupFor(w)).toBe('default');
    expect(w.updates).toHaveLength(2);
    expect(w.last!.snapshot).toBe(dflt);
    expect(w.last!.changed).toBeNull();

    const l = new Recorder('n2', 'lonely');
    cache.watch(l);
    cache.replaceAll(new Map([['only-this', snap(['o'])]]));
    // Its group is gone and nothing else matches: it keeps what it has, nothing is pushed.
    expect(cache.groupFor(l)).toBeUndefined();
    expect(l.updates).toHaveLength(1);
    expect(cache.groupFor(w)).toBeUndefined();
    expect(w.updates).toHaveLength(2);

    // When a matching group appears again, it is pushed.
    const back = snap(['back']);
    cache.replaceAll(new Map([['lonely', back]]));
    expect(cache.groupFor(l)).toBe('lonely');
    expect(l.last!.snapshot).toBe(back);
    expect(l.updates).toHaveLength(2);
  });

  it('replaceAll that adds a specific group and changes the broader one: a moving node sees only its new group', () => {
    const cache = new SnapshotCache();
    cache.replaceAll(new Map([['default', snap(['d'])]]));
    const mover = new Recorder('n1', 'c');
    const stayer = new Recorder('n2', 'c');
    cache.watch(mover);
    cache.watch(stayer);

    const dflt2 = snap(['d', 'd2']);
    const mine = snap(['mine']);
    // Map order puts the changed broader group first, so a naive implementation pushes it to
    // the mover before regrouping.
    const changed = cache.replaceAll(new Map([['default', dflt2], ['n1', mine]]));
    expect(changed).toEqual(['default', 'n1']);

    expect(cache.groupFor(mover)).toBe('n1');
    expect(mover.updates.map((u) => u.snapshot)).toEqual([mover.updates[0]!.snapshot, mine]);
    expect(mover.last!.changed).toBeNull();

    expect(cache.groupFor(stayer)).toBe('default');
    expect(stayer.updates).toHaveLength(2);
    expect(stayer.last!.snapshot).toBe(dflt2);
    expect(stayer.changedNames()).toEqual({ [TYPE.CLUSTER]: ['d2'] });
  });

  it('a custom resolver is honoured (node identity is an input)', () => {
    const cache = new SnapshotCache((node, has) => {
      const role = node.metadata['role'];
      return typeof role === 'string' && has(role) ? role : undefined;
    });
    cache.set('gateway', snap(['gw']));
    const gw: Recorder = new Recorder('whatever', 'whatever');
    (gw.node.metadata as Record<string, unknown>)['role'] = 'gateway';
    const none = new Recorder('gateway', 'gateway'); // id/cluster alone mean nothing to this resolver
    cache.watch(gw);
    cache.watch(none);
    expect(cache.groupFor(gw)).toBe('gateway');
    expect(gw.updates).toHaveLength(1);
    expect(none.updates).toHaveLength(0);
  });

  it('onSet listeners see every effective change, including new groups from replaceAll, and can unsubscribe', () => {
    const cache = new SnapshotCache();
    const seen: string[] = [];
    const off = cache.onSet((g, s) => seen.push(`${g}:${s.size()}`));
    cache.set('a', snap(['1']));
    cache.set('a', snap(['1'])); // identical
    cache.replaceAll(new Map([['a', snap(['1', '2'])], ['b', snap([])]]));
    off();
    cache.set('a', snap(['9']));
    expect(seen.sort()).toEqual(['a:2', 'a:3', 'b:1']);
  });
});

describe('SnapshotCache: deferred wake-ups (a reload that wakes thousands of proxies in slices)', () => {
  const C = TYPE.CLUSTER;

  /** Groups a and b, each with one watcher that has been given its first snapshot. */
  function twoWatchedGroups(): { cache: SnapshotCache; wa: Recorder; wb: Recorder } {
    const cache = new SnapshotCache();
    cache.replaceAll(new Map([['a', snap(['1'])], ['b', snap(['1'])]]));
    const wa = new Recorder('a');
    const wb = new Recorder('b');
    cache.watch(wa);
    cache.watch(wb);
    return { cache, wa, wb };
  }

  it('replaceAll with deferWakes makes the snapshots current at once and wakes nobody until wakeQueued', () => {
    const { cache, wa, wb } = twoWatchedGroups();
    const a2 = snap(['1', '2']);
    const b2 = snap(['1', '3']);
    expect(cache.replaceAll(new Map([['a', a2], ['b', b2]]), { deferWakes: true })).toEqual(['a', 'b']);
    expect(cache.get('a')).toBe(a2);
    expect(wa.updates).toHaveLength(1);
    expect(wb.updates).toHaveLength(1);
    expect(cache.pendingWakes).toBe(2);
    expect(cache.wakeQueued(Number.POSITIVE_INFINITY)).toBe(false);
    expect(cache.pendingWakes).toBe(0);
    expect(wa.last!.snapshot).toBe(a2);
    expect(wa.changedNames()).toEqual({ [C]: ['2'] });
    expect(wb.changedNames()).toEqual({ [C]: ['3'] });
  });

  it('wakeQueued with a deadline already past still wakes one group per call (always progress)', () => {
    const cache = new SnapshotCache();
    cache.replaceAll(new Map(['a', 'b', 'c'].map((g) => [g, snap(['1'])])));
    const ws = ['a', 'b', 'c'].map((g) => new Recorder(g));
    for (const w of ws) cache.watch(w);
    cache.replaceAll(new Map(['a', 'b', 'c'].map((g) => [g, snap(['1', '2'])])), { deferWakes: true });
    expect(cache.wakeQueued(0)).toBe(true);
    expect(ws.map((w) => w.updates.length)).toEqual([2, 1, 1]);
    expect(cache.wakeQueued(0)).toBe(true);
    expect(cache.wakeQueued(0)).toBe(false);
    expect(ws.map((w) => w.updates.length)).toEqual([2, 2, 2]);
  });

  it('a group changed twice before its turn: one update, with every name changed since what the watcher was given', () => {
    const cache = new SnapshotCache();
    cache.replaceAll(new Map([['a', snap(['1'])]]));
    const w = new Recorder('a');
    cache.watch(w);
    cache.replaceAll(new Map([['a', snap(['1', '2'])]]), { deferWakes: true });
    const third = snap(['1', '2', '3'], 'changed');
    cache.replaceAll(new Map([['a', third]]), { deferWakes: true });
    cache.wakeQueued(Number.POSITIVE_INFINITY);
    expect(w.updates).toHaveLength(2);
    expect(w.last!.snapshot).toBe(third);
    expect(w.changedNames()).toEqual({ [C]: ['2', '3', 'tagged'] });
  });

  it('set() on a group waiting to be woken wakes it now, once; replaceAll without deferWakes wakes what was queued before', () => {
    const { cache, wa, wb } = twoWatchedGroups();
    cache.replaceAll(new Map([['a', snap(['1', '2'])], ['b', snap(['1', '2'])]]), { deferWakes: true });
    cache.set('a', snap(['1', '2', '4']));
    expect(wa.updates).toHaveLength(2);
    expect(wa.changedNames()).toEqual({ [C]: ['2', '4'] });
    expect(cache.pendingWakes).toBe(1);
    cache.replaceAll(new Map([['a', cache.get('a')!], ['b', cache.get('b')!]]));
    expect(cache.pendingWakes).toBe(0);
    expect(wa.updates).toHaveLength(2);
    expect(wb.updates).toHaveLength(2);
    expect(wb.changedNames()).toEqual({ [C]: ['2'] });
  });

  it('a watcher that joins a group while its wake-up is queued gets the whole snapshot, and nothing again at its turn', () => {
    const cache = new SnapshotCache();
    cache.replaceAll(new Map([['a', snap(['1'])]]));
    const old = new Recorder('a');
    cache.watch(old);
    const next = snap(['1', '2']);
    cache.replaceAll(new Map([['a', next]]), { deferWakes: true });
    const late = new Recorder('a');
    cache.watch(late);
    expect(late.updates).toHaveLength(1);
    expect(late.last!.snapshot).toBe(next);
    expect(late.last!.changed).toBeNull();
    cache.wakeQueued(Number.POSITIVE_INFINITY);
    expect(late.updates).toHaveLength(1);
    expect(old.updates).toHaveLength(2);
    expect(old.changedNames()).toEqual({ [C]: ['2'] });
  });
});
