// The model file's text and content hash, from its bytes, at the cost of what changed since the
// last read. A reload of M10k (9 MB) that edits one route otherwise decodes 9 MB of UTF-8
// (~12 ms) and hashes them (~11 ms) before anything else happens.
//
// The result is exactly what `bytes.toString('utf8')` and sha256 of that text (hex) give:
//   - the bytes are compared with the last read's in large native compares: the same bytes give
//     the last text and hash;
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
import { isAscii, isUtf8 } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';

/** The hash state is kept every this many bytes. */
const CHECKPOINT = 256 * 1024;
/** Bytes compared per native call while looking for the first and last difference. */
const CHUNK = 64 * 1024;

interface LastRead {
  bytes: Buffer;
  text: string;
  hash: string;
  /** The bytes are valid UTF-8, and ASCII. */
  utf8: boolean;
  ascii: boolean;
  /** The hash state after k × CHECKPOINT bytes (only when utf8: the hash is over the bytes). */
  checkpoints: Hash[];
}

export interface FileText {
  text: string;
  /** sha256 of the text (UTF-8), hex. */
  hash: string;
}

export class FileTextMemo {
  private last: LastRead | null = null;
  /** Reads that reused the last hash state or text (for tests and benchmarks). */
  readonly counts = { same: 0, resumedHash: 0, splicedText: 0, whole: 0 };

  /** The text of `bytes` (UTF-8) and its sha256 hex. The memo then holds these bytes (the caller must not modify them). */
  read(bytes: Buffer): FileText {
    const last = this.last;
    if (last !== null && last.bytes.length === bytes.length && last.bytes.equals(bytes)) {
      this.counts.same++;
      return { text: last.text, hash: last.hash };
    }
    const utf8 = isUtf8(bytes);
    if (!utf8) {
      // (Decoding replaces invalid sequences: the hash is of the text, not of these bytes.)
      const text = bytes.toString('utf8');
      this.last = null;
      this.counts.whole++;
      return { text, hash: createHash('sha256').update(text).digest('hex') };
    }
    const p = last?.utf8 ? commonPrefix(last.bytes, bytes) : 0;
    // The hash, from the last checkpoint at or before the first changed byte.
    const k = last?.utf8 ? Math.min(Math.floor(p / CHECKPOINT), last.checkpoints.length - 1) : 0;
    const checkpoints = last?.utf8 && k > 0 ? last.checkpoints.slice(0, k + 1) : [createHash('sha256')];
    if (k > 0) this.counts.resumedHash++;
    let h = checkpoints[checkpoints.length - 1]!.copy();
    for (let at = (checkpoints.length - 1) * CHECKPOINT; at < bytes.length; at += CHECKPOINT) {
      const end = Math.min(at + CHECKPOINT, bytes.length);
      h.update(bytes.subarray(at, end));
      if (end - at === CHECKPOINT) {
        checkpoints.push(h);
        h = h.copy();
      }
    }
    const hash = h.digest('hex');
    // The text: the last text's lines around the changed ones, when it was ASCII.
    let text: string | undefined;
    let ascii = false;
    if (last?.ascii) {
      // The bytes before the first difference and after the last are the last bytes' (ASCII:
      // a byte is a character, and the cuts fall between characters of the new bytes too).
      const s = commonSuffix(last.bytes, bytes, p);
      const to = bytes.length - s;
      const mid = bytes.subarray(p, to);
      ascii = isAscii(mid);
      text = last.text.slice(0, p) + mid.toString(ascii ? 'latin1' : 'utf8') + last.text.slice(last.text.length - s);
      this.counts.splicedText++;
    }
    if (text === undefined) {
      text = bytes.toString('utf8');
      ascii = isAscii(bytes);
      this.counts.whole++;
    }
    this.last = { bytes, text, hash, utf8, ascii, checkpoints };
    return { text, hash };
  }
}

/** How many bytes `a` and `b` begin with that are the same. */
function commonPrefix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let p = 0;
  while (p < n) {
    const e = Math.min(p + CHUNK, n);
    if (a.compare(b, p, e, p, e) !== 0) return p + firstDifference(a, b, p, e);
    p = e;
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
  while (s < n) {
    const len = Math.min(CHUNK, n - s);
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
  }
  return n;
}
