// watchPath (src/watch/path-watcher.ts) on real temp files: every way an editor or a deploy
// tool replaces a file is noticed, bursts coalesce, and deletion does not kill the watcher
// (RELIABILITY 26). No timing assertions: only generous waits for something to happen.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watchPath, type Watcher, type WatchOptions } from '../../src/watch/path-watcher.js';

const OPTS: WatchOptions = { holdOffMs: 30, maxDelayMs: 300, pollMs: 150 };
const PATIENCE_MS = 10_000;

let dir: string;
const watchers: Watcher[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-watch-'));
});
afterEach(() => {
  for (const w of watchers.splice(0)) w.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(pred: () => boolean, what: string): Promise<void> {
  const until = Date.now() + PATIENCE_MS;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Wait until no callback has arrived for a while (longer than hold-off, max delay and poll). */
async function settle(counter: { n: number }): Promise<void> {
  let last = -1;
  while (last !== counter.n) {
    last = counter.n;
    await sleep(OPTS.maxDelayMs + OPTS.pollMs * 3);
  }
}

function watch(target: string, opts: WatchOptions = OPTS): { n: number } {
  const counter = { n: 0 };
  watchers.push(watchPath(target, () => counter.n++, opts));
  return counter;
}

describe('watchPath on a file', () => {
  it('notices a rename over the file (write a temp file, then rename it into place)', async () => {
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, 'v: 1\n');
    const c = watch(file);
    await settle(c);
    const before = c.n;
    fs.writeFileSync(path.join(dir, '.mesh.yaml.tmp'), 'v: 2\n');
    fs.renameSync(path.join(dir, '.mesh.yaml.tmp'), file);
    await waitFor(() => c.n > before, 'a callback after rename-over');
    expect(fs.readFileSync(file, 'utf8')).toBe('v: 2\n');
  });

  it('notices truncate-then-write', async () => {
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, 'v: 1\n');
    const c = watch(file);
    await settle(c);
    const before = c.n;
    fs.truncateSync(file, 0);
    await sleep(5);
    fs.appendFileSync(file, 'v: 22\n');
    await waitFor(() => c.n > before, 'a callback after truncate-then-write');
  });

  it('coalesces a burst of writes into few callbacks', async () => {
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, 'v: 0\n');
    const c = watch(file);
    await settle(c);
    const before = c.n;
    const writes = 200;
    for (let i = 1; i <= writes; i++) {
      fs.writeFileSync(file, `v: ${i}\n`);
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => c.n > before, 'a callback after the burst');
    await settle(c);
    const calls = c.n - before;
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThan(writes / 10);
  });

  it('survives the file being deleted, and calls back when it is created again', async () => {
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, 'v: 1\n');
    const c = watch(file);
    await settle(c);
    fs.rmSync(file);
    await settle(c); // a callback here is allowed (the consumer sees the file missing)
    const afterDelete = c.n;
    fs.writeFileSync(file, 'v: 2\n');
    await waitFor(() => c.n > afterDelete, 'a callback after re-creation');
  });

  it('notices a symlink swapped to another target', async () => {
    const a = path.join(dir, 'a.yaml');
    const b = path.join(dir, 'b.yaml');
    fs.writeFileSync(a, 'v: a\n');
    fs.writeFileSync(b, 'v: bb\n');
    const link = path.join(dir, 'mesh.yaml');
    fs.symlinkSync(a, link);
    const c = watch(link);
    await settle(c);
    const before = c.n;
    const tmp = path.join(dir, '.swap');
    fs.symlinkSync(b, tmp);
    fs.renameSync(tmp, link); // atomic swap, as `ln -sfn` + mv or Kubernetes ..data do
    await waitFor(() => c.n > before, 'a callback after the symlink swap');
    expect(fs.readFileSync(link, 'utf8')).toBe('v: bb\n');
  });

  it('ignores other files in the same directory', async () => {
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, 'v: 1\n');
    const c = watch(file);
    await settle(c);
    const before = c.n;
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(dir, `other-${i}.yaml`), 'x');
    await settle(c);
    expect(c.n).toBe(before);
  });

  it('works when the file and its directory appear only later', async () => {
    const file = path.join(dir, 'later', 'mesh.yaml');
    const c = watch(file);
    await sleep(OPTS.pollMs * 2);
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, 'v: 1\n');
    await waitFor(() => c.n > 0, 'a callback once the file exists');
  });

  it('never calls back after close()', async () => {
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, 'v: 1\n');
    const counter = { n: 0 };
    const w = watchPath(file, () => counter.n++, OPTS);
    await settle(counter);
    fs.writeFileSync(file, 'v: 2\n');
    w.close();
    fs.writeFileSync(file, 'v: 33\n');
    await sleep(OPTS.maxDelayMs + OPTS.pollMs * 4);
    expect(counter.n).toBe(0);
  });
});

describe('watchPath on a directory', () => {
  it('sees a new file in an existing subfolder and in a new subfolder', async () => {
    fs.mkdirSync(path.join(dir, 'group-a'));
    fs.writeFileSync(path.join(dir, 'group-a', 'one.yaml'), 'x: 1\n');
    const c = watch(dir);
    await settle(c);

    let before = c.n;
    fs.writeFileSync(path.join(dir, 'group-a', 'two.yaml'), 'x: 2\n');
    await waitFor(() => c.n > before, 'a callback for a new file in an existing subfolder');

    await settle(c);
    before = c.n;
    fs.mkdirSync(path.join(dir, 'group-b'));
    fs.writeFileSync(path.join(dir, 'group-b', 'three.yaml'), 'x: 3\n');
    await waitFor(() => c.n > before, 'a callback for a file in a new subfolder');

    await settle(c);
    before = c.n;
    fs.writeFileSync(path.join(dir, 'group-b', 'three.yaml'), 'x: 333\n');
    await waitFor(() => c.n > before, 'a callback for a change in the new subfolder');

    await settle(c);
    before = c.n;
    fs.rmSync(path.join(dir, 'group-a'), { recursive: true });
    await waitFor(() => c.n > before, 'a callback for a removed subfolder');
  });
});

describe('watchPath: the per-event callback', () => {
  it('is called at once at each event, before the hold-off ends; the change callback follows once, after the events', async () => {
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, 'v: 1\n');
    const order: string[] = [];
    // A long hold-off: the events of three writes come well inside it.
    watchers.push(watchPath(file, () => order.push('quiet'), { holdOffMs: 400, maxDelayMs: 2000, pollMs: 60_000 }, () => order.push('event')));
    await sleep(100);
    for (const v of [2, 3, 4]) fs.writeFileSync(file, `v: ${v}\n`);
    await waitFor(() => order.includes('event'), 'an event');
    // Seen at once: no change callback yet.
    expect(order.includes('quiet')).toBe(false);
    await waitFor(() => order.includes('quiet'), 'the change callback');
    await sleep(500);
    expect(order.filter((x) => x === 'quiet')).toHaveLength(1);
    expect(order.at(-1)).toBe('quiet');
    expect(order.indexOf('event')).toBe(0);
  });
});
