// Where the model text's parts are, found by a line scan without parsing: the top-level entries
// (`version: 1`, the `mesh:` block) and the entries directly under `services:` and `gateways:`
// (one per service or gateway), and inside a gateway the items of its `routes` list
// (splitEntryList). raw-memo.ts reads each part on its own and keeps what it read, so a reload
// reads only the parts whose text changed.
//
// Hand-written because it is the measured fast path of every reload: it looks at the first few
// characters of each line (M10k: 9 MB, 140 000 lines, in a few ms). It accepts only the plain
// layout a model is written in, where cutting the text at these lines gives parts that the fast
// YAML reader (util/yaml-fast.ts) reads alone exactly as it reads them in the whole text:
//
//   - at column 0, only blank lines, comments, and the keys `version`, `mesh`, `services`,
//     `gateways` (each at most once) followed by ":" and a space or the end of the line;
//   - `services:` and `gateways:` with nothing after them but spaces and a comment, followed by
//     a block mapping: its first content line sets its indentation, and every content line
//     indented less than that (but not at column 0) gives up;
//   - before the first key, only blank and comment lines.
//
// Anything else (flow style at the top, a document marker or directive, an indented root, an
// unknown or repeated top-level key, an empty section, `services: {...}`, a tab or CR where the
// scan looks) is left to the whole-text reader: splitModelText returns undefined. What the scan
// does not look at (inside a part) is checked when the part is read: the reader gives up on a
// part it does not take, and then the whole text is read as before.

/** The top-level keys a part may have (the model's; any other is an error the full path reports). */
const TOP_KEYS = ['version', 'mesh', 'services', 'gateways'] as const;
export type TopKey = (typeof TOP_KEYS)[number];

export interface TextPart {
  key: TopKey;
  /** Offset of the key line, and of the first line after the part (the next column-0 content line, or the end). */
  start: number;
  end: number;
}

/** `services:` or `gateways:`: a header line, then a block mapping whose entries start at `entryStarts`. */
export interface TextSection extends TextPart {
  key: 'services' | 'gateways';
  /** Column of the entries' keys (> 0). */
  indent: number;
  /** Offset of each entry's key line; entry i ends where entry i + 1 starts (the last at `end`). */
  entryStarts: number[];
}

export interface ModelTextLayout {
  /** Blank and comment lines before the first top-level key: [0, preambleEnd). */
  preambleEnd: number;
  /** In text order; `version` and `mesh` are TextParts, `services` and `gateways` TextSections. */
  parts: Array<TextPart | TextSection>;
}

export function isSection(p: TextPart | TextSection): p is TextSection {
  return p.key === 'services' || p.key === 'gateways';
}

const SP = 0x20;
const HASH = 0x23;
const COLON = 0x3a;
const LF = 0x0a;

/** The layout of a model text, or undefined if it is not written the plain way (see the file header). */
export function splitModelText(text: string): ModelTextLayout | undefined {
  const parts: Array<TextPart | TextSection> = [];
  const seen = new Set<TopKey>();
  let preambleEnd = -1;
  /** The open part, if any, and when it is a section, its entries' indentation (0: not seen yet, or not a section). */
  let part: TextPart | TextSection | null = null;
  let indent = 0;
  const len = text.length;
  for (let pos = 0; pos < len; ) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = len;
    const c0 = text.charCodeAt(pos);
    if (c0 === SP) {
      // Indented. Inside a section whose indentation is known, a line indented more than the
      // entries belongs to the current entry: look at indent + 1 characters and no further
      // (most lines of a model; this loop is most of the scan's time).
      let k = 1;
      if (indent > 0) {
        while (k <= indent && text.charCodeAt(pos + k) === SP) k++;
        if (k > indent) {
          pos = eol + 1;
          continue;
        }
      } else while (text.charCodeAt(pos + k) === SP) k++;
      const c = text.charCodeAt(pos + k);
      const blankOrComment = pos + k >= eol || c === LF || c === HASH;
      if (!blankOrComment) {
        if (!part) return undefined; // content before the first key: an indented root
        if (isSection(part)) {
          if (indent === 0) indent = part.indent = k; // the section's first entry
          if (k !== indent) return undefined; // between column 0 and the entries' column
          part.entryStarts.push(pos);
        }
        // else: a line of the version or mesh part
      }
    } else if (c0 === HASH || pos === eol) {
      // A comment or an empty line at column 0: it belongs to the open part (or the preamble).
    } else {
      // Content at column 0: the next top-level key, or something this scan does not take.
      const key = topKeyAt(text, pos, eol);
      if (key === undefined || seen.has(key)) return undefined;
      if (!closePart(part, pos)) return undefined;
      if (preambleEnd < 0) preambleEnd = pos;
      seen.add(key);
      if (key === 'services' || key === 'gateways') {
        if (!onlyCommentAfter(text, pos + key.length + 1, eol)) return undefined; // `services: {...}` or a value on the line
        part = { key, start: pos, end: -1, indent: 0, entryStarts: [] };
        indent = 0;
      } else {
        part = { key, start: pos, end: -1 };
        indent = 0;
      }
      parts.push(part);
    }
    pos = eol + 1;
  }
  if (!closePart(part, len)) return undefined;
  if (parts.length === 0) return undefined;
  return { preambleEnd, parts };
}

/** End the open part at `end`; false if it is a section without entries (`services:` alone is null). */
function closePart(part: TextPart | TextSection | null, end: number): boolean {
  if (!part) return true;
  part.end = end;
  return !isSection(part) || part.entryStarts.length > 0;
}

/** The top-level key at `pos` ("version:" followed by a space or the end of the line), if it is one of the model's. */
function topKeyAt(text: string, pos: number, eol: number): TopKey | undefined {
  for (const k of TOP_KEYS) {
    const colon = pos + k.length;
    if (colon < eol && text.charCodeAt(colon) === COLON && text.startsWith(k, pos)) {
      const after = colon + 1;
      if (after === eol || text.charCodeAt(after) === SP) return k;
    }
  }
  return undefined;
}

/** Only spaces from `from` to `eol`, or spaces then a comment (at least one space before the "#"). */
function onlyCommentAfter(text: string, from: number, eol: number): boolean {
  let i = from;
  while (i < eol && text.charCodeAt(i) === SP) i++;
  return i === eol || (i > from && text.charCodeAt(i) === HASH);
}

/**
 * The items of a block sequence under key `listKey` inside one entry of a section (a gateway's
 * `routes`), so that a gateway whose routes changed is read route by route:
 *
 *     ␣␣edge:                  the entry's key line (at `indent`), nothing after the ":"
 *     ␣␣␣␣listeners: ...       the entry's keys, at one column (> indent)
 *     ␣␣␣␣routes:              `listKey`, nothing after the ":"
 *     ␣␣␣␣␣␣- {...}            items: "-" at one column (at or right of the keys'), each
 *     ␣␣␣␣␣␣- match: ...       with the lines indented more than its "-"
 *     ␣␣␣␣␣␣␣␣backend: x
 *     ␣␣␣␣adminPort: 9901      the next key ends the list (or the entry's end)
 *
 * The rest of the entry (`listStart`..`listEnd` cut out) reads as the entry with `listKey`
 * empty (null); each item reads alone as it does in the list (yaml-fast.ts fastParseSeqItem).
 * Undefined when the entry is laid out any other way (it is then read whole).
 */
export interface TextList {
  /** Column of the items' "-". */
  indent: number;
  /** Offset of each item's first line; item i ends where item i + 1 starts (the last at listEnd). */
  itemStarts: number[];
  /** The items' lines: [listStart, listEnd). */
  listStart: number;
  listEnd: number;
}

export function splitEntryList(text: string, start: number, end: number, indent: number, listKey: string): TextList | undefined {
  let pos = start;
  let eol = lineEnd(text, pos, end);
  // The entry's key line: a plain key, nothing after the colon but a comment.
  let i = pos + indent;
  while (i < eol && text.charCodeAt(i) !== COLON && text.charCodeAt(i) !== SP) i++;
  if (i === pos + indent || text.charCodeAt(i) !== COLON || !onlyCommentAfter(text, i + 1, eol)) return undefined;
  let keyIndent = -1;
  /** -1: before the list; 0: after "listKey:", before its first item; 1: in the list; 2: after it. */
  let state = -1;
  let itemIndent = -1;
  const itemStarts: number[] = [];
  let listStart = -1;
  let listEnd = -1;
  for (pos = eol + 1; pos < end; pos = eol + 1) {
    eol = lineEnd(text, pos, end);
    let k = 0;
    while (pos + k < eol && text.charCodeAt(pos + k) === SP) k++;
    if (pos + k === eol || text.charCodeAt(pos + k) === HASH) continue; // blank or comment: with what it is in
    if (state === 1) {
      if (k > itemIndent) continue; // inside the current item
      if (k === itemIndent && isItemAt(text, pos + k, eol)) {
        itemStarts.push(pos);
        continue;
      }
      // The list ends at the entry's next key; anything else gives up.
      if (k !== keyIndent) return undefined;
      listEnd = pos;
      state = 2;
      continue;
    }
    if (keyIndent < 0) keyIndent = k;
    if (k <= indent) return undefined; // (the splitter ends entries at such lines; never here)
    if (state === 0) {
      // The first content line after "listKey:": the first item.
      if (k < keyIndent || !isItemAt(text, pos + k, eol)) return undefined;
      itemIndent = k;
      listStart = pos;
      itemStarts.push(pos);
      state = 1;
      continue;
    }
    if (k !== keyIndent) {
      if (k > keyIndent) continue; // the value of another key
      return undefined;
    }
    if (state < 0 && text.startsWith(listKey, pos + k) && text.charCodeAt(pos + k + listKey.length) === COLON && onlyCommentAfter(text, pos + k + listKey.length + 1, eol)) {
      state = 0;
    }
  }
  if (state === 1) {
    listEnd = end;
    state = 2;
  }
  if (state !== 2) return undefined;
  // Comment and blank lines between the last item and the next key belong to the last item;
  // comment lines before the first item stay with "listKey:".
  return { indent: itemIndent, itemStarts, listStart, listEnd };
}

/**
 * The starts of the items in [from, to) of a list whose items' "-" are at column `indent`, as
 * splitEntryList finds them, when every line there is an item's first line (at `indent`), a
 * line inside an item (indented more), blank or a comment, and the first is an item's: a run of
 * whole items in the middle of a list. Undefined for anything else.
 */
export function itemLinesIn(text: string, from: number, to: number, indent: number): number[] | undefined {
  const starts: number[] = [];
  for (let pos = from, eol = 0; pos < to; pos = eol + 1) {
    eol = lineEnd(text, pos, to);
    let k = 0;
    while (pos + k < eol && text.charCodeAt(pos + k) === SP) k++;
    if (pos + k === eol || text.charCodeAt(pos + k) === HASH) {
      if (starts.length === 0) return undefined;
      continue;
    }
    if (k > indent && starts.length > 0) continue;
    if (k === indent && isItemAt(text, pos + k, eol)) {
      starts.push(pos);
      continue;
    }
    return undefined;
  }
  return starts.length ? starts : undefined;
}

/** "-" followed by a space or the end of the line. */
function isItemAt(text: string, at: number, eol: number): boolean {
  return text.charCodeAt(at) === 0x2d && (at + 1 === eol || text.charCodeAt(at + 1) === SP);
}

function lineEnd(text: string, pos: number, end: number): number {
  const e = text.indexOf('\n', pos);
  return e < 0 || e > end ? end : e;
}

/**
 * How many characters `a` and `b` begin with that are the same, and how many they end with
 * besides those. Compared a chunk at a time (=== on two slices compares their characters in
 * bulk), then halved down within the first chunk that differs: M10k's 9 MB in about a millisecond.
 */
export function commonEnds(a: string, b: string): { prefix: number; suffix: number } {
  const n = Math.min(a.length, b.length);
  let p = 0;
  while (p < n) {
    const to = Math.min(n, p + CHUNK);
    if (a.slice(p, to) !== b.slice(p, to)) break;
    p = to;
  }
  for (let to = Math.min(n, p + CHUNK); to - p > 64; ) {
    const mid = (p + to) >>> 1;
    if (a.slice(p, mid) === b.slice(p, mid)) p = mid;
    else to = mid;
  }
  while (p < n && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  const m = n - p;
  const ea = a.length;
  const eb = b.length;
  let s = 0;
  while (s < m) {
    const to = Math.min(m, s + CHUNK);
    if (a.slice(ea - to, ea - s) !== b.slice(eb - to, eb - s)) break;
    s = to;
  }
  for (let to = Math.min(m, s + CHUNK); to - s > 64; ) {
    const mid = (s + to) >>> 1;
    if (a.slice(ea - mid, ea - s) === b.slice(eb - mid, eb - s)) s = mid;
    else to = mid;
  }
  while (s < m && a.charCodeAt(ea - 1 - s) === b.charCodeAt(eb - 1 - s)) s++;
  return { prefix: p, suffix: s };
}

const CHUNK = 65536;

/**
 * The layout of `text` from `last`, the layout of `lastText`, when the two texts differ only
 * between their first `prefix` and last `suffix` characters and every line that difference
 * touches, in either text, is one the line scan passes over inside the part (or section entry)
 * it is in: deeper than the entries, or blank, or a comment. Then the scan would find the very
 * same parts, those after the difference moved by the change in length, so it is not run (M10k:
 * 140 000 lines). `part` is the index of the part the difference is in, `entry` the index of the
 * section entry (-1: the lines between the section's key and its first entry, or not a section).
 * Undefined when the difference reaches a key line, the preamble, or anything else the scan
 * looks at: the caller splits the text afresh.
 */
export function shiftLayout(last: ModelTextLayout, lastText: string, text: string, prefix: number, suffix: number): { layout: ModelTextLayout; part: number; entry: number } | undefined {
  const line = prefix === 0 ? 0 : lastText.lastIndexOf('\n', prefix - 1) + 1;
  let k = last.parts.length - 1;
  while (k >= 0 && last.parts[k]!.start > line) k--;
  if (k < 0) return undefined; // (in the preamble)
  const part = last.parts[k]!;
  // (Before a section's first entry the scan takes the first content line as an entry, whatever its indentation.)
  const indent = !isSection(part) ? 0 : line < part.entryStarts[0]! ? Number.MAX_SAFE_INTEGER : part.indent;
  // The lines the difference touches: from `line` to where the common end begins, and that line
  // too unless the common end begins a line in both texts (then its lines are the same lines).
  const [a, b] = [lastText.length - suffix, text.length - suffix];
  const aligned = (a === 0 || lastText.charCodeAt(a - 1) === LF) && (b === 0 || text.charCodeAt(b - 1) === LF);
  const extra = aligned ? 0 : 1;
  if (!passedOver(lastText, line, Math.max(a + extra, line + 1), indent) || !passedOver(text, line, Math.max(b + extra, line + 1), indent)) return undefined;
  let entry = -1;
  if (isSection(part)) {
    let lo = 0;
    let hi = part.entryStarts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (part.entryStarts[mid]! <= line) lo = mid + 1;
      else hi = mid;
    }
    entry = lo - 1;
  }
  // (No part or entry starts at `line`: its line is passed over. A part that ends there is the last
  // one, ending with the text: what is added at its end is in it.)
  return { layout: shiftedAfter(last, line, text.length - lastText.length), part: k, entry };
}

/** `last` with every offset at or after `line` moved by `d` (the text changed by d characters in lines no part or entry starts at). */
export function shiftedAfter(last: ModelTextLayout, line: number, d: number): ModelTextLayout {
  const at = (x: number): number => (x >= line ? x + d : x);
  const parts = last.parts.map((p): TextPart | TextSection => {
    if (!isSection(p)) return { key: p.key, start: at(p.start), end: at(p.end) };
    const starts = d === 0 || p.end < line ? p.entryStarts : p.entryStarts.map(at);
    return { key: p.key, start: at(p.start), end: at(p.end), indent: p.indent, entryStarts: starts };
  });
  return { preambleEnd: last.preambleEnd, parts };
}

/**
 * Where in `layout` offset `x` is: the index of the section and of its entry that hold it
 * (the entry starting at or before x), or undefined when x is in the preamble, a top-level part
 * that is not a section, or a section's lines before its first entry.
 */
export function entryAt(layout: ModelTextLayout, x: number): { part: number; entry: number } | undefined {
  let k = layout.parts.length - 1;
  while (k >= 0 && layout.parts[k]!.start > x) k--;
  if (k < 0) return undefined;
  const part = layout.parts[k]!;
  if (!isSection(part) || x >= part.end || x < part.entryStarts[0]!) return undefined;
  let lo = 0;
  let hi = part.entryStarts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (part.entryStarts[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return { part: k, entry: lo - 1 };
}

/**
 * Whether the scan passes over every line of `text` that starts in [from, to) (`from` a line
 * start) inside a part: in a section whose entries are at column `indent`, a line indented
 * deeper, or blank, or a comment; elsewhere (indent 0) any indented, blank or comment line.
 */
export function passedOver(text: string, from: number, to: number, indent: number): boolean {
  const len = text.length;
  for (let pos = from; pos < to && pos < len; ) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = len;
    const c0 = text.charCodeAt(pos);
    if (c0 === SP) {
      let k = 1;
      if (indent > 0) {
        while (k <= indent && text.charCodeAt(pos + k) === SP) k++;
        if (k <= indent) {
          const c = text.charCodeAt(pos + k);
          if (!(pos + k >= eol || c === LF || c === HASH)) return false;
        }
      }
    } else if (c0 !== HASH && pos !== eol) return false;
    pos = eol + 1;
  }
  return true;
}
