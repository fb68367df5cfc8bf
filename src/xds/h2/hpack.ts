// HPACK (RFC 7541): header compression for the server-side HTTP/2 connection.
//
// HpackDecoder turns one complete header block (HEADERS + CONTINUATION payloads, concatenated) into
// a list of [name, value] pairs, keeping the dynamic table the peer's encoder builds across blocks.
// Every malformed input throws HpackError, which the connection answers with COMPRESSION_ERROR.
// encodeHeaderBlock writes the server's own response headers without touching any dynamic table,
// so the peer's SETTINGS_HEADER_TABLE_SIZE never matters to us.
// Header octets are kept as they are: strings are read and written as 'latin1'.
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman-table.js';

/** A header block that cannot be decoded; the connection must answer COMPRESSION_ERROR. */
export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}

// ---------------------------------------------------------------------------------------------
// Static table (RFC 7541 Appendix A). Index 1 is STATIC_TABLE[0].

const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

// The overhead RFC 7541 section 4.1 adds to each dynamic table entry's name and value lengths.
const ENTRY_OVERHEAD = 32;

// Integers above this are rejected: no length, index or table size we accept comes near it.
const MAX_INTEGER = 0x7fffffff;

// ---------------------------------------------------------------------------------------------
// Integers (RFC 7541 section 5.1): an N-bit prefix in the first byte, then 7 bits per byte.

/**
 * Encodes `value` with an N-bit prefix; `flags` are the bits above the prefix in the first byte
 * (for example 0x80 for an indexed field).
 */
export function encodeInteger(value: number, prefixBits: number, flags = 0): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > MAX_INTEGER) throw new Error(`HPACK integer out of range: ${value}`);
  const limit = (1 << prefixBits) - 1;
  if (value < limit) return Buffer.from([flags | value]);
  const bytes = [flags | limit];
  let rest = value - limit;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/**
 * Decodes an integer with an N-bit prefix starting at `buf[offset]`. Returns the value and the
 * offset just past it. Throws HpackError if it runs past the buffer or exceeds 2^31 - 1.
 */
export function decodeInteger(buf: Buffer, offset: number, prefixBits: number): { value: number; end: number } {
  const first = buf[offset];
  if (first === undefined) throw new HpackError('integer runs past the end of the block');
  const limit = (1 << prefixBits) - 1;
  let value = first & limit;
  let pos = offset + 1;
  if (value < limit) return { value, end: pos };
  // Continuation bytes: 7 bits each, least significant first. Five of them carry 35 bits, more
  // than any value we accept, so a sixth is an error even if it only adds zeros.
  for (let shift = 0; ; shift += 7) {
    const b = buf[pos];
    if (b === undefined) throw new HpackError('integer runs past the end of the block');
    pos++;
    if (shift > 28) throw new HpackError('integer is encoded in too many bytes');
    value += (b & 0x7f) * 2 ** shift;
    if (value > MAX_INTEGER) throw new HpackError('integer exceeds 2^31 - 1');
    if ((b & 0x80) === 0) return { value, end: pos };
  }
}

// ---------------------------------------------------------------------------------------------
// Huffman decoding (RFC 7541 section 5.2 and Appendix B).
//
// The code is a binary tree with 257 leaves (the 256 octets and EOS) and 256 internal nodes.
// A decoder state is an internal node: the bits read since the last complete symbol. At load time
// we compute, for every state and every possible input byte, what feeding those 8 bits does:
// the state it ends in, the symbols completed on the way (at most two: the shortest code is
// 5 bits), whether EOS was hit, and whether the final state is valid padding (a path of only 1 bits
// from the root, at most 7 long). Decoding is then one table lookup per input byte.

// Packed transition: bits 0-7 next state, 8-15 first symbol, 16-23 second symbol,
// 24-25 symbol count, 26 "ending here is valid padding", 27 "EOS seen (error)".
const T_ACCEPT = 1 << 26;
const T_EOS = 1 << 27;

function buildHuffmanTransitions(): Uint32Array {
  // children[2 * node + bit]: >= 0 is an internal node, < 0 is a leaf holding symbol ~value.
  // 0 means "not yet set" (node 0 is the root and is never anyone's child).
  const children = new Int32Array(2 * 256);
  let nodeCount = 1;
  for (let sym = 0; sym <= 256; sym++) {
    const code = HUFFMAN_CODES[sym];
    const len = HUFFMAN_LENGTHS[sym];
    if (code === undefined || len === undefined) throw new Error('Huffman table is incomplete');
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const slot = 2 * node + ((code >>> i) & 1);
      if (i === 0) {
        if (children[slot] !== 0) throw new Error('Huffman table is not a prefix code');
        children[slot] = ~sym;
      } else {
        let next = children[slot] ?? 0;
        if (next < 0) throw new Error('Huffman table is not a prefix code');
        if (next === 0) {
          if (nodeCount >= 256) throw new Error('Huffman table has too many nodes');
          next = nodeCount++;
          children[slot] = next;
        }
        node = next;
      }
    }
  }
  if (nodeCount !== 256 || children.includes(0)) throw new Error('Huffman table is not a complete code');

  // States from which the string may end: the root and the first 7 nodes along the all-1s path.
  const accepting = new Uint8Array(256);
  let onesPath = 0;
  accepting[0] = 1;
  for (let depth = 1; depth <= 7; depth++) {
    onesPath = children[2 * onesPath + 1] ?? 0;
    accepting[onesPath] = 1;
  }

  const transitions = new Uint32Array(256 * 256);
  for (let state = 0; state < 256; state++) {
    for (let byte = 0; byte < 256; byte++) {
      let node = state;
      let count = 0;
      let symbols = 0;
      let eos = false;
      for (let i = 7; i >= 0; i--) {
        const child = children[2 * node + ((byte >> i) & 1)] ?? 0;
        if (child >= 0) {
          node = child;
          continue;
        }
        const sym = ~child;
        if (sym === 256) {
          eos = true;
          break;
        }
        symbols |= sym << (8 + 8 * count);
        count++;
        node = 0;
      }
      transitions[state * 256 + byte] =
        node | symbols | (count << 24) | (accepting[node] ? T_ACCEPT : 0) | (eos ? T_EOS : 0);
    }
  }
  return transitions;
}

const HUFFMAN_TRANSITIONS = buildHuffmanTransitions();

/** Decodes a Huffman-coded string literal (the octets of `buf` from `start` to `end`). */
function huffmanDecode(buf: Buffer, start: number, end: number): string {
  // Each symbol takes at least 5 bits, so the output is at most 8/5 of the input.
  const out = Buffer.allocUnsafe(Math.ceil(((end - start) * 8) / 5));
  let n = 0;
  let state = 0;
  let accept = true;
  for (let pos = start; pos < end; pos++) {
    const t = HUFFMAN_TRANSITIONS[state * 256 + (buf[pos] ?? 0)] ?? T_EOS;
    if (t & T_EOS) throw new HpackError('Huffman string contains EOS');
    const count = (t >>> 24) & 3;
    if (count > 0) out[n++] = (t >>> 8) & 0xff;
    if (count > 1) out[n++] = (t >>> 16) & 0xff;
    state = t & 0xff;
    accept = (t & T_ACCEPT) !== 0;
  }
  if (!accept) throw new HpackError('Huffman string has invalid padding');
  return out.toString('latin1', 0, n);
}

// ---------------------------------------------------------------------------------------------
// Decoder.

export class HpackDecoder {
  // Newest entry first, so dynamic index 62 is entries[0].
  private readonly entries: Array<readonly [string, string]> = [];
  private size = 0;
  private capacity: number;

  /** `maxTableSize` is our SETTINGS_HEADER_TABLE_SIZE: the largest size update the peer may send. */
  constructor(private readonly maxTableSize = 4096) {
    this.capacity = maxTableSize;
  }

  /** The dynamic table's current size in RFC 7541 terms (sum of name + value + 32 per entry). */
  get tableSize(): number {
    return this.size;
  }

  /**
   * Decodes one complete header block. Throws HpackError on any malformed input, and once the
   * decoded list's size (name + value + 32 per field, as SETTINGS_MAX_HEADER_LIST_SIZE counts
   * it) passes `maxListSize`: a small block of indexed fields can name a big table entry many times.
   */
  decode(block: Buffer, maxListSize = Number.POSITIVE_INFINITY): Array<[string, string]> {
    const headers: Array<[string, string]> = [];
    let pos = 0;
    let listSize = 0;
    while (pos < block.length) {
      if (headers.length > 0) {
        const [n, v] = headers[headers.length - 1]!;
        listSize += n.length + v.length + 32;
        if (listSize > maxListSize) throw new HpackError(`header list larger than ${maxListSize} bytes`);
      }
      const b = block[pos] ?? 0;
      if (b & 0x80) {
        // Indexed header field (section 6.1).
        const { value: index, end } = decodeInteger(block, pos, 7);
        pos = end;
        const [name, value] = this.lookup(index);
        headers.push([name, value]);
      } else if (b & 0x40) {
        // Literal header field with incremental indexing (section 6.2.1).
        const field = this.readLiteral(block, pos, 6);
        pos = field.end;
        headers.push([field.name, field.value]);
        this.insert(field.name, field.value);
      } else if (b & 0x20) {
        // Dynamic table size update (section 6.3): only before the first field of a block.
        if (headers.length > 0) throw new HpackError('dynamic table size update after a header field');
        const { value: newSize, end } = decodeInteger(block, pos, 5);
        pos = end;
        if (newSize > this.maxTableSize) throw new HpackError(`dynamic table size update ${newSize} above ${this.maxTableSize}`);
        this.capacity = newSize;
        this.evict(0);
      } else {
        // Literal header field without indexing (0000xxxx) or never indexed (0001xxxx),
        // sections 6.2.2 and 6.2.3: both leave the table alone.
        const field = this.readLiteral(block, pos, 4);
        pos = field.end;
        headers.push([field.name, field.value]);
      }
    }
    const last = headers[headers.length - 1];
    if (last && listSize + last[0].length + last[1].length + 32 > maxListSize) throw new HpackError(`header list larger than ${maxListSize} bytes`);
    return headers;
  }

  /** Looks up an index in the static table (1..61) then the dynamic table (62..). */
  private lookup(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    const entry = index <= STATIC_TABLE.length ? STATIC_TABLE[index - 1] : this.entries[index - STATIC_TABLE.length - 1];
    if (entry === undefined) throw new HpackError(`index ${index} is beyond the tables`);
    return entry;
  }

  /** Reads a literal field: the name (indexed with an N-bit prefix, or literal if 0), then the value. */
  private readLiteral(block: Buffer, pos: number, prefixBits: number): { name: string; value: string; end: number } {
    const { value: nameIndex, end } = decodeInteger(block, pos, prefixBits);
    let name: string;
    let next = end;
    if (nameIndex === 0) {
      ({ text: name, end: next } = readString(block, next));
    } else {
      name = this.lookup(nameIndex)[0];
    }
    const value = readString(block, next);
    return { name, value: value.text, end: value.end };
  }

  /** Adds an entry at the front of the dynamic table, evicting old entries to make room (section 4.4). */
  private insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.capacity) {
      // An entry larger than the table empties it and is not added; this is not an error.
      this.entries.length = 0;
      this.size = 0;
      return;
    }
    this.evict(entrySize);
    this.entries.unshift([name, value]);
    this.size += entrySize;
  }

  /** Drops the oldest entries until `room` more bytes fit within the capacity. */
  private evict(room: number): void {
    while (this.size + room > this.capacity) {
      const oldest = this.entries.pop();
      if (oldest === undefined) break;
      this.size -= oldest[0].length + oldest[1].length + ENTRY_OVERHEAD;
    }
  }
}

/** Reads a string literal (section 5.2): H bit, 7-bit-prefix length, then raw or Huffman octets. */
function readString(block: Buffer, pos: number): { text: string; end: number } {
  const huffman = ((block[pos] ?? 0) & 0x80) !== 0;
  const { value: length, end: start } = decodeInteger(block, pos, 7);
  const end = start + length;
  if (end > block.length) throw new HpackError('string runs past the end of the block');
  const text = huffman ? huffmanDecode(block, start, end) : block.toString('latin1', start, end);
  return { text, end };
}

// ---------------------------------------------------------------------------------------------
// Encoder for the server's own responses.

// The first static index of each name, for "literal with indexed name".
const STATIC_NAME_INDEX = new Map<string, number>();
STATIC_TABLE.forEach(([name], i) => {
  if (!STATIC_NAME_INDEX.has(name)) STATIC_NAME_INDEX.set(name, i + 1);
});

// The :status values the static table holds in full (indices 8..14).
const STATIC_STATUS_INDEX = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  if (name === ':status') STATIC_STATUS_INDEX.set(value, i + 1);
});

/** Writes a raw (non-Huffman) string literal; throws if it holds characters that are not octets. */
function encodeString(text: string, what: string): Buffer[] {
  if (/[^\x00-\xff]/.test(text)) throw new Error(`header ${what} has characters above 0xff: ${JSON.stringify(text)}`);
  return [encodeInteger(text.length, 7, 0x00), Buffer.from(text, 'latin1')];
}

/**
 * Encodes response headers. `:status` with a value in the static table becomes an indexed field;
 * everything else is a literal without indexing (static name index where there is one), with raw
 * strings. Names must be lower case.
 */
export function encodeHeaderBlock(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    if (/[A-Z]/.test(name)) throw new Error(`header name must be lower case: ${name}`);
    const statusIndex = name === ':status' ? STATIC_STATUS_INDEX.get(value) : undefined;
    if (statusIndex !== undefined) {
      parts.push(encodeInteger(statusIndex, 7, 0x80));
      continue;
    }
    const nameIndex = STATIC_NAME_INDEX.get(name);
    if (nameIndex !== undefined) {
      parts.push(encodeInteger(nameIndex, 4, 0x00));
    } else {
      parts.push(encodeInteger(0, 4, 0x00), ...encodeString(name, 'name'));
    }
    parts.push(...encodeString(value, 'value'));
  }
  return Buffer.concat(parts);
}
