// The model file's text and content hash, from its bytes, at the cost of what changed since the
// last read. A reload of M10k (9 MB) that edits one route otherwise decodes 9 MB of UTF-8
// (~12 ms) and hashes them (~11 ms) before anything else happens.
//
// The result is exactly what `bytes.toString('utf8')` and sha256 of that text (hex) give:
//   - the bytes are compared with the last read's in large native compares: the same bytes give
//     the last text and hash;
//   - the hash is worked out when first asked for (LazyHash), so a reload does not wait for it;
//   - the hash is SHA-256 over the bytes when they are valid UTF-8 (decoding then encoding gives
//     them back, so it equals the hash of the text), resumed from the state the last read's hash
//     had at a checkpoint before the first changed byte (a hash is a function of the bytes read
//     so far, and those are the same): the cost is the bytes from there to the end;
//   - the text is the last text before the first changed byte and after the last one, with the
//     bytes between decoded alone, when the last bytes were ASCII: a byte is then a character,
//     so offsets agree, and the cuts fall between characters of the new bytes too (they are
//     valid UTF-8 whose bytes on either side of the middle are ASCII);
//   - anything else (invalid UTF-8, a non-ASCII last text) is read whole, as before.
// test/model/file-text.test.ts compares it with the whole read on random edit sequences.
//
// The spliced text is never made flat here: V8 keeps `a + b` as a pair of strings until a
// character of it is read, and then copies it whole (M10k: ~6 ms, most of a reload). It is kept
// as a few flat pieces (slices of the last flat text, and the new characters), each new text
// cut from those pieces rather than from the last text, and the splice is recorded
// (lastSplice) so that the model loader (raw-memo.ts) can find what changed without reading
// the text. After MAX_PIECES pieces the text is made flat once.
import { isAscii, isUtf8 } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';

/** Past this many pieces, a text is made flat (one copy) and becomes the single piece. */
const MAX_PIECES = 32;

/**
 * The last text a FileTextMemo made by splicing: `text` is `base` (the text it read before)
 * with the characters [prefix, base.length - suffix) replaced by `mid`. One record for the
 * process (the last splice of any memo): a reader compares both strings by identity first, so
 * a record about other texts costs nothing and is never used for them.
 */
export interface TextSplice {
  readonly text: string;
  readonly base: string;
  readonly prefix: number;
  readonly suffix: number;
  readonly mid: string;
}

let lastSplice: TextSplice | null = null;

/** How `text` was made from `base` by the last splice, if it was. */
export function spliceOf(text: string, base: string): TextSplice | undefined {
  const s = lastSplice;
  // (Identical strings compare at once; these are, whenever the record is about these texts.)
  return s !== null && s.text === text && s.base === base ? s : undefined;
}

/** The hash state is kept every this many bytes. */
const CHECKPOINT = 256 * 1024;
/**
 * Bytes compared by the first native call while looking for the first and last difference; each
 * next call compares twice as many, up to MAX_CHUNK (fewer calls over a big file; a difference
 * is then found by halving within the chunk).
 */
const CHUNK = 64 * 1024;
const MAX_CHUNK = 4 * 1024 * 1024;

interface LastRead {
  bytes: Buffer;
  /** The buffer `bytes` is a view of, when readFile read them (it may be reused once free). */
  backing: Buffer | null;
  text: string;
  hash: LazyHash;
  /** The bytes are valid UTF-8, and ASCII. */
  utf8: boolean;
  ascii: boolean;
  /** Flat strings whose concatenation is `text` (when ascii). */
  pieces: string[];
}

export interface FileText {
  text: string;
  /** The very bytes of the last read (its text and hash are these). */
  same: boolean;
  /** sha256 of the text (UTF-8), hex: worked out on the first call (the same for every call). */
  hash(): string;
}

/**
 * A read's sha256, worked out when first asked for: a reload need not wait for it (the app asks
 * once the proxies have been pushed to). Over the bytes when they are valid UTF-8, resumed from
 * the previous read's hash state at a checkpoint before the first changed byte, if that one was
 * worked out by then (never a chain: a hash not asked for is not kept waiting for the next).
 */
class LazyHash {
  private value: string | null = null;
  /** The hash state after k × CHECKPOINT bytes (only over valid UTF-8 bytes: made with the value). */
  private checkpoints: Hash[] | null = null;

  constructor(
    private bytes: Buffer | null,
    /** Or, for bytes that are not valid UTF-8, the text (decoding replaced invalid sequences). */
    private text: string | null,
    /** The previous read's checkpoints that cover only bytes these begin with. */
    private from: Hash[] | null,
    private readonly counts: { resumedHash: number },
  ) {}

  get(): string {
    if (this.value !== null) return this.value;
    if (this.text !== null) {
      this.value = createHash('sha256').update(this.text).digest('hex');
      this.text = null;
      return this.value;
    }
    const bytes = this.bytes!;
    const checkpoints = this.from !== null ? this.from : [createHash('sha256')];
    if (this.from !== null) this.counts.resumedHash++;
    let h = checkpoints[checkpoints.length - 1]!.copy();
    for (let at = (checkpoints.length - 1) * CHECKPOINT; at < bytes.length; at += CHECKPOINT) {
      const end = Math.min(at + CHECKPOINT, bytes.length);
      h.update(bytes.subarray(at, end));
      if (end - at === CHECKPOINT) {
        checkpoints.push(h);
        h = h.copy();
      }
    }
    this.value = h.digest('hex');
    this.checkpoints = checkpoints;
    this.bytes = null;
    this.from = null;
    return this.value;
  }

  /** Whether the bytes are still needed (the hash is not worked out yet). */
  holdsBytes(): boolean {
    return this.bytes !== null;
  }

  /** The checkpoints a read of other bytes that begin with the first `p` of these may resume from, if worked out. */
  checkpointsBefore(p: number): Hash[] | null {
    if (this.checkpoints === null) return null;
    const k = Math.min(Math.floor(p / CHECKPOINT), this.checkpoints.length - 1);
    return k > 0 ? this.checkpoints.slice(0, k + 1) : null;
  }
}

/**
 * readFile reads into a buffer it keeps rather than a new one: a new 9 MB buffer per reload (M10k)
 * costs ~4.5 ms of page faults and zeroing (a read into a warm buffer: ~0.4 ms) and adds to the
 * external memory that makes V8 start a full collection. Two buffers take turns: the last read's
 * (compared with the next), and a spare, reused only once the read it held has no hash left to
 * work out (its LazyHash let go of the bytes); otherwise a new one is taken, as readFileSync would.
 */
interface Spare {
  buf: Buffer;
  /** The hash of the read these bytes were, if it may still need them. */
  hash: LazyHash | null;
}

export class FileTextMemo {
  private last: LastRead | null = null;
  private spare: Spare | null = null;
  /** Reads that reused the last hash state or text (for tests and benchmarks); readFile's buffers. */
  readonly counts = { same: 0, resumedHash: 0, splicedText: 0, whole: 0, buffersReused: 0, buffersNew: 0 };

  /** `read` of the file at `path`, read into a buffer this memo keeps (see Spare). Throws what fs throws. */
  readFile(path: string): FileText {
    const fd = fs.openSync(path, 'r');
    let bytes: Buffer;
    let backing: Buffer;
    try {
      const size = fs.fstatSync(fd).size;
      const spare = this.spare;
      if (spare !== null && spare.buf.length > size && (spare.hash === null || !spare.hash.holdsBytes())) {
        backing = spare.buf;
        this.counts.buffersReused++;
      } else {
        // Room to grow a little, and one byte more than the file so that a full buffer means more to read.
        backing = Buffer.allocUnsafeSlow(size + Math.max(4096, size >> 4) + 1);
        this.counts.buffersNew++;
      }
      this.spare = null;
      let n = 0;
      for (;;) {
        if (n === backing.length) {
          // The file grew past the buffer while being read: carry on in a bigger one.
          const bigger = Buffer.allocUnsafeSlow(backing.length * 2);
          backing.copy(bigger, 0, 0, n);
          backing = bigger;
        }
        const got = fs.readSync(fd, backing, n, backing.length - n, null);
        if (got === 0) break;
        n += got;
      }
      bytes = backing.subarray(0, n);
    } finally {
      fs.closeSync(fd);
    }
    return this.readInto(bytes, backing);
  }

  /** The text of `bytes` (UTF-8), and its sha256 hex on demand. The memo then holds these bytes (the caller must not modify them). */
  read(bytes: Buffer): FileText {
    return this.readInto(bytes, null);
  }

  private readInto(bytes: Buffer, backing: Buffer | null): FileText {
    const last = this.last;
    if (last !== null && last.bytes.length === bytes.length && last.bytes.equals(bytes)) {
      this.counts.same++;
      // Nothing holds these bytes: their buffer is the spare again.
      if (backing !== null) this.spare = { buf: backing, hash: null };
      return { text: last.text, same: true, hash: () => last.hash.get() };
    }
    // From here on the last read's buffer is the spare (free once its hash no longer needs it).
    this.spare = last?.backing ? { buf: last.backing, hash: last.hash } : null;
    const p = last?.utf8 ? commonPrefix(last.bytes, bytes) : 0;
    // After an ASCII read, the bytes before the first difference and after the last are ASCII:
    // whole characters, which no multi-byte sequence runs into, so these bytes are valid UTF-8
    // exactly when the bytes between are (checked alone: not the 9 MB of M10k at each reload).
    const s = last?.ascii ? commonSuffix(last.bytes, bytes, p) : -1;
    const utf8 = s >= 0 ? isUtf8(bytes.subarray(p, bytes.length - s)) : isUtf8(bytes);
    if (!utf8) {
      const text = bytes.toString('utf8');
      this.last = null;
      // The hash is of the text: these bytes are held by nobody.
      if (backing !== null) this.spare = { buf: backing, hash: null };
      lastSplice = null;
      this.counts.whole++;
      const hash = new LazyHash(null, text, null, this.counts);
      return { text, same: false, hash: () => hash.get() };
    }
    const hash = new LazyHash(bytes, null, last?.utf8 ? last.hash.checkpointsBefore(p) : null, this.counts);
    // The text: the last text's lines around the changed ones, when it was ASCII.
    let text: string | undefined;
    let ascii = false;
    let pieces: string[] = [];
    lastSplice = null;
    if (last?.ascii) {
      // The bytes before the first difference and after the last are the last bytes' (ASCII:
      // a byte is a character, and the cuts fall between characters of the new bytes too).
      const to = bytes.length - s;
      const midBytes = bytes.subarray(p, to);
      ascii = isAscii(midBytes);
      const mid = midBytes.toString(ascii ? 'latin1' : 'utf8');
      pieces = splicePieces(last.pieces, p, last.text.length - s, mid);
      text = concat(pieces);
      if (ascii && pieces.length > MAX_PIECES) pieces = [flat(text)];
      lastSplice = { text, base: last.text, prefix: p, suffix: s, mid };
      this.counts.splicedText++;
    }
    if (text === undefined) {
      text = bytes.toString('utf8');
      ascii = isAscii(bytes);
      pieces = [text];
      this.counts.whole++;
    }
    this.last = { bytes, backing, text, hash, utf8, ascii, pieces: ascii ? pieces : [] };
    return { text, same: false, hash: () => hash.get() };
  }
}

/**
 * The pieces of a text (flat strings, concatenated) with characters [from, to) replaced by
 * `mid`: the pieces before `from` and after `to` as they are, the two cut by them sliced (a
 * slice of a flat string is cheap; of a concatenation it would copy the whole), `mid` between.
 */
function splicePieces(pieces: readonly string[], from: number, to: number, mid: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (const piece of pieces) {
    const end = at + piece.length;
    if (end <= from) out.push(piece);
    else if (at < from) out.push(piece.slice(0, from - at));
    at = end;
  }
  if (mid.length > 0) out.push(mid);
  at = 0;
  for (const piece of pieces) {
    const end = at + piece.length;
    if (at >= to) out.push(piece);
    else if (end > to) out.push(piece.slice(to - at));
    at = end;
  }
  return out;
}

function concat(pieces: readonly string[]): string {
  let text = '';
  for (const piece of pieces) text += piece;
  return text;
}

/** `text` made flat: reading a character of a concatenation makes V8 copy it into one string. */
function flat(text: string): string {
  text.charCodeAt(0);
  return text;
}

/** How many bytes `a` and `b` begin with that are the same. */
function commonPrefix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let p = 0;
  let chunk = CHUNK;
  while (p < n) {
    const e = Math.min(p + chunk, n);
    if (a.compare(b, p, e, p, e) !== 0) return p + firstDifference(a, b, p, e);
    p = e;
    chunk = Math.min(chunk * 2, MAX_CHUNK);
  }
  return n;
}

/** The offset from `from` of the first byte where a and b differ in [from, to) (they do). */
function firstDifference(a: Buffer, b: Buffer, from: number, to: number): number {
  // Halving: [from, lo) is equal, [from, hi) is not.
  let lo = from;
  let hi = to;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (a.compare(b, lo, mid, lo, mid) === 0) lo = mid;
    else hi = mid;
  }
  return lo - from;
}

/** How many bytes `a` and `b` end with that are the same, besides the first `p` of the shorter. */
function commonSuffix(a: Buffer, b: Buffer, p: number): number {
  const n = Math.min(a.length, b.length) - p;
  let s = 0;
  let chunk = CHUNK;
  while (s < n) {
    const len = Math.min(chunk, n - s);
    const ae = a.length - s;
    const be = b.length - s;
    if (a.compare(b, be - len, be, ae - len, ae) !== 0) {
      // The last difference in this chunk: halving on the equal tail's length.
      let lo = 0; // a tail of lo bytes is equal
      let hi = len; // a tail of hi bytes is not
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        if (a.compare(b, be - mid, be, ae - mid, ae) === 0) lo = mid;
        else hi = mid;
      }
      return s + lo;
    }
    s += len;
    chunk = Math.min(chunk * 2, MAX_CHUNK);
  }
  return n;
}
