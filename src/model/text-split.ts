// Where the model text's parts are, found by a line scan without parsing: the top-level entries
// (`version: 1`, the `mesh:` block) and the entries directly under `services:` and `gateways:`
// (one per service or gateway). raw-memo.ts reads each part on its own and keeps what it read,
// so a reload reads only the parts whose text changed.
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
