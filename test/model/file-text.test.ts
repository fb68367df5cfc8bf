// FileTextMemo (src/model/file-text.ts): the text and sha256 (on demand) of a file's bytes, read after each
// edit of a seeded sequence, must be exactly the whole read's (bytes.toString('utf8') and
// sha256 of that text), whatever the edit: ASCII or not, valid UTF-8 or not, at the start, in the
// middle, at the end, across the hash checkpoints, longer, shorter, or the same bytes again.
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileTextMemo, spliceOf } from '../../src/model/file-text.js';
import { commonEnds } from '../../src/model/text-split.js';
import { rng } from '../helpers/rng.js';

function whole(bytes: Buffer): { text: string; hash: string } {
  const text = bytes.toString('utf8');
  return { text, hash: createHash('sha256').update(text).digest('hex') };
}

/** A model-like text of `lines` lines. */
function modelText(lines: number, r: () => number): string {
  const out: string[] = ['version: 1', 'services:'];
  for (let i = 0; i < lines; i++) out.push(`  s${i}:\n    instances:\n      - {"id": "s${i}-0", "address": "10.0.${i % 250}.${Math.floor(r() * 250)}", "port": 8080}`);
  return out.join('\n') + '\n';
}

const PIECES = ['x', 'route: /a/\n', '\n', 'é', '→ ü\n', '😀', '  - {"id": "n"}\n', ''];
const INVALID = [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xe2, 0x82])];

describe('FileTextMemo', () => {
  it.each([1, 2, 3, 4])('seed %i: 300 edits, each read equal to the whole read', (seed) => {
    const r = rng(seed * 4099);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    // Big enough for several hash checkpoints (256 KiB).
    let bytes: Buffer = Buffer.from(modelText(seed % 2 ? 9000 : 300, r));
    const memo = new FileTextMemo();
    let splices = 0;
    const first = memo.read(bytes);
    expect({ text: first.text, hash: first.hash() }).toEqual(whole(bytes));
    for (let step = 0; step < 300; step++) {
      const at = Math.floor(r() * (bytes.length + 1));
      const kind = Math.floor(r() * 7);
      let next: Buffer;
      if (kind === 0) next = Buffer.from(bytes); // the same bytes, another buffer
      else if (kind === 1) next = Buffer.concat([bytes.subarray(0, at), Buffer.from(pick(PIECES)), bytes.subarray(at)]);
      else if (kind === 2) next = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + Math.floor(r() * 40)))]);
      else if (kind === 3) {
        // Overwrite a byte with another ASCII letter (same length).
        next = Buffer.from(bytes);
        if (at < next.length && next[at]! < 0x80 && next[at] !== 0x0a) next[at] = 0x61 + Math.floor(r() * 26);
      } else if (kind === 4) next = r() < 0.5 ? Buffer.concat([Buffer.from(pick(PIECES)), bytes]) : Buffer.concat([bytes, Buffer.from(pick(PIECES))]);
      else if (kind === 5 && r() < 0.3) next = Buffer.concat([bytes.subarray(0, at), pick(INVALID), bytes.subarray(at)]);
      else {
        // Valid again: drop anything that is not ASCII now and then (back to the fast path).
        next = r() < 0.5 ? Buffer.from(whole(bytes).text.replace(/[^\x00-\x7f]/g, '?')) : Buffer.from(bytes);
      }
      const lastText = memo.read(bytes).text; // (the same bytes again: the last text)
      const got = memo.read(next);
      const want = whole(next);
      // A recorded splice says exactly where the texts differ (the raw memo takes it for commonEnds).
      const sp = spliceOf(got.text, lastText);
      if (sp) {
        splices++;
        expect({ prefix: sp.prefix, suffix: sp.suffix }, `step ${step} kind ${kind}`).toEqual(commonEnds(lastText, got.text));
      }
      // (The memo keeps no last read of bytes that are not valid UTF-8: those are never "the same".)
      expect(got.same, `step ${step} kind ${kind}`).toBe(next.equals(bytes) && isUtf8(bytes));
      // The hash is worked out when asked for: most reads ask, some never do (the next read
      // then cannot resume from this one's state, and must still be right).
      if (r() < 0.7) expect(got.hash(), `step ${step} kind ${kind}`).toBe(want.hash);
      expect(got.text === want.text, `step ${step} kind ${kind}`).toBe(true);
      bytes = next;
    }
    // The shortcuts were taken (not everything read whole).
    expect(memo.counts.same).toBeGreaterThan(0);
    expect(memo.counts.splicedText).toBeGreaterThan(20);
    expect(splices).toBeGreaterThan(20);
    if (seed % 2) expect(memo.counts.resumedHash).toBeGreaterThan(20);
  });

  it('an edit at the very end of a big file resumes the hash near the end', () => {
    const text = 'a: 1\n'.repeat(400_000);
    const memo = new FileTextMemo();
    memo.read(Buffer.from(text)).hash();
    const next = Buffer.from(`${text}b: 2\n`);
    const got = memo.read(next);
    expect(memo.counts.resumedHash).toBe(0); // (not asked for yet)
    expect({ text: got.text, hash: got.hash() }).toEqual(whole(next));
    expect(memo.counts.resumedHash).toBe(1);
    expect(memo.counts.splicedText).toBe(1);
  });

  it('readFile: each read and hash equal to the whole read, however late the hash is asked for, while the buffers are reused', () => {
    // readFile reads into a kept buffer: one whose read still has its hash to work out must not
    // be written over (a read's hash asked for after later reads must still be that read's).
    const r = rng(77);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-file-text-'));
    const file = path.join(dir, 'mesh.yaml');
    try {
      let text = modelText(3000, r);
      const memo = new FileTextMemo();
      const pending: Array<{ hash: () => string; want: string }> = [];
      for (let step = 0; step < 200; step++) {
        const at = Math.floor(r() * text.length);
        const kind = Math.floor(r() * 4);
        if (kind === 0) text = `${text.slice(0, at)}x${text.slice(at)}`;
        else if (kind === 1) text = `${text.slice(0, at)}${text.slice(at + 1 + Math.floor(r() * 30))}`;
        else if (kind === 2) text = `${text}${'  s: {}\n'.repeat(1 + Math.floor(r() * 500))}`; // grows past the buffer's room now and then
        // kind 3: the same bytes again
        fs.writeFileSync(file, text);
        const got = memo.readFile(file);
        const want = whole(Buffer.from(text));
        expect(got.text === want.text, `step ${step}`).toBe(true);
        // Hashes asked for at once, later (after a few more reads), or never.
        const when = r();
        if (when < 0.4) expect(got.hash(), `step ${step}`).toBe(want.hash);
        else if (when < 0.7) pending.push({ hash: got.hash, want: want.hash });
        if (pending.length > 0 && r() < 0.3) {
          const p = pending.splice(Math.floor(r() * pending.length), 1)[0]!;
          expect(p.hash(), `step ${step}: a hash asked for late`).toBe(p.want);
        }
      }
      for (const p of pending) expect(p.hash()).toBe(p.want);
      expect(memo.counts.buffersReused).toBeGreaterThan(50);
      expect(memo.counts.buffersNew).toBeGreaterThan(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
