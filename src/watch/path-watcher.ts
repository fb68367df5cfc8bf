// Watches a file or a directory tree for changes and calls back after a short hold-off.
// A file is watched through its parent directory (editors save by renaming over it); a
// directory recursively. A slow poll backs up fs.watch, which can lose track of a directory
// that is replaced. The callback decides whether content really changed (by hashing).
import fs from 'node:fs';
import path from 'node:path';

export interface WatchOptions {
  /** Quiet time after the last event before calling back. */
  holdOffMs: number;
  /** Upper bound on the delay while events keep coming. */
  maxDelayMs: number;
  /** Safety-net poll interval. */
  pollMs: number;
}

export const DEFAULT_WATCH: WatchOptions = { holdOffMs: 5, maxDelayMs: 200, pollMs: 1000 };

export interface Watcher {
  close(): void;
}

/**
 * Call `onChange` once the target has been quiet for the hold-off after a change; `onEvent` (if
 * given) at every event, at once (the app starts reading the file then, and uses what it read if
 * no event came after its read).
 */
export function watchPath(target: string, onChange: () => void, opts: WatchOptions = DEFAULT_WATCH, onEvent?: () => void): Watcher {
  let holdTimer: NodeJS.Timeout | null = null;
  let firstEventAt = 0;
  let closed = false;
  let lastSig = '';
  const fire = (): void => {
    holdTimer = null;
    firstEventAt = 0;
    // The poll compares against what was last handled, whoever noticed the change: otherwise
    // it would report every change fs.watch already delivered, a second reload each time.
    lastSig = signature(target, isDir);
    if (!closed) onChange();
  };
  const poke = (): void => {
    if (closed) return;
    onEvent?.();
    const now = Date.now();
    if (firstEventAt === 0) firstEventAt = now;
    if (holdTimer) clearTimeout(holdTimer);
    const wait = Math.min(opts.holdOffMs, Math.max(0, firstEventAt + opts.maxDelayMs - now));
    holdTimer = setTimeout(fire, wait);
  };

  let isDir = false;
  try {
    isDir = fs.statSync(target).isDirectory();
  } catch {
    isDir = false;
  }
  const watched = isDir ? target : path.dirname(target);
  const base = path.basename(target);
  let fsw: fs.FSWatcher | null = null;
  const arm = (): void => {
    try {
      fsw = fs.watch(watched, { recursive: isDir, persistent: false }, (_ev, name) => {
        if (isDir || name === null || String(name) === base) poke();
      });
      fsw.on('error', () => {
        fsw?.close();
        fsw = null;
      });
    } catch {
      fsw = null; // directory missing: the poll below re-arms when it returns
    }
  };
  arm();

  lastSig = signature(target, isDir);
  const poll = setInterval(() => {
    if (!fsw) arm();
    const sig = signature(target, isDir);
    if (sig !== lastSig) {
      lastSig = sig;
      poke();
    }
  }, opts.pollMs);
  poll.unref();

  return {
    close(): void {
      closed = true;
      if (holdTimer) clearTimeout(holdTimer);
      clearInterval(poll);
      fsw?.close();
    },
  };
}

/** Cheap change signature: sizes and mtimes (of every file in a tree, for a directory). */
function signature(target: string, isDir: boolean): string {
  try {
    if (!isDir) {
      const st = fs.statSync(target);
      return `${st.size}:${st.mtimeMs}:${st.ino}`;
    }
    const parts: string[] = [];
    const walk = (d: string, depth: number): void => {
      if (depth > 3) return;
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p, depth + 1);
        else {
          const st = fs.statSync(p);
          parts.push(`${p}:${st.size}:${st.mtimeMs}`);
        }
      }
    };
    walk(target, 0);
    return parts.sort().join('|');
  } catch {
    return 'missing';
  }
}
