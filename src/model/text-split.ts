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

/** "-" followed by a space or the end of the line. */
function isItemAt(text: string, at: number, eol: number): boolean {
  return text.charCodeAt(at) === 0x2d && (at + 1 === eol || text.charCodeAt(at + 1) === SP);
}

function lineEnd(text: string, pos: number, end: number): number {
  const e = text.indexOf('\n', pos);
  return e < 0 || e > end ? end : e;
}
