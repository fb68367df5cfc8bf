// The model text's plain value, read part by part, reusing what the last load read for every
// part whose text is unchanged. A reload of a big model in which one service changed reads that
// service's lines; every other service is the very raw object of the last load, which the schema
// memo (schema-memo.ts) then recognises by identity.
//
// The parts are found by text-split.ts and each is read by the fast YAML reader on its own
// (util/yaml-fast.ts fastParseEntry), which for the layouts the splitter accepts is exactly what
// fastParseYaml reads for that part in the whole text. The result is that value, assembled in
// text order, or undefined whenever the splitter or the reader is unsure: the caller then reads
// the whole text as before.
import { fastParseEntry, fastReaderTakesChars, fastReaderTakesSize } from '../util/yaml-fast.js';
import type { YamlLimits } from '../util/yaml-source.js';
import { isSection, splitModelText } from './text-split.js';

/** A part as the last load read it. */
interface ReadPart {
  /** Its exact text (a slice of the last text that had it). */
  text: string;
  key: string;
  value: unknown;
}

export class RawModelMemo {
  /** The last read's parts, in text order: the top-level ones, and each section's entries. */
  private top: ReadPart[] = [];
  private services: ReadPart[] = [];
  private gateways: ReadPart[] = [];
  /** Parts reused and parts read since the memo was made (for tests and benchmarks). */
  readonly counts = { reused: 0, read: 0 };

  /**
   * The text's value (what fastParseYaml(text) gives), reading only the parts that changed since
   * the last read; undefined if this text is not split or not read part by part (the caller then
   * reads it whole). The memo then holds this text's parts.
   */
  read(text: string, limits: YamlLimits): Record<string, unknown> | undefined {
    if (!fastReaderTakesSize(text, limits)) return undefined;
    const layout = splitModelText(text);
    if (!layout) return undefined;
    // The lines no part holds (comments before the first key, the `services:` lines) are checked
    // here; each part's characters are checked when it is read (or were, when its text was read).
    if (!fastReaderTakesChars(text.slice(0, layout.preambleEnd))) return undefined;
    const top = new PartReader(this.top, 0, 0, limits);
    const sections = { services: new PartReader(this.services, 1, 0, limits), gateways: new PartReader(this.gateways, 1, 0, limits) };
    const raw: Record<string, unknown> = {};
    for (const part of layout.parts) {
      if (!isSection(part)) {
        const p = top.part(text, part.start, part.end);
        if (!p || p.key !== part.key) return undefined;
        raw[p.key] = p.value;
        continue;
      }
      const first = part.entryStarts[0]!;
      if (!fastReaderTakesChars(text.slice(part.start, first))) return undefined;
      // Entries sit at depth 1: inside the top-level mapping, as in the whole text.
      const reader = sections[part.key];
      reader.indent = part.indent;
      const entries: Record<string, unknown> = {};
      const starts = part.entryStarts;
      for (let i = 0; i < starts.length; i++) {
        const p = reader.part(text, starts[i]!, i + 1 < starts.length ? starts[i + 1]! : part.end);
        // A repeated key is an error the full path reports (as the whole-text reader gives up on it).
        if (!p || Object.prototype.hasOwnProperty.call(entries, p.key)) return undefined;
        entries[p.key] = p.value;
      }
      raw[part.key] = entries;
    }
    this.top = top.parts;
    this.services = sections.services.parts;
    this.gateways = sections.gateways.parts;
    for (const r of [top, sections.services, sections.gateways]) {
      this.counts.read += r.read;
      this.counts.reused += r.parts.length - r.read;
    }
    return raw;
  }
}

/**
 * Reads the parts of one mapping in text order, each the last read's part if its text is the
 * same, else read now. The last read's parts are tried in order first (an edit leaves the others
 * where they were), then by their key line (parts added, removed or moved). The parts kept hold
 * slices of this text: the memo keeps only the last text alive, never a chain of older ones.
 */
class PartReader {
  /** This read's parts, in order. */
  readonly parts: ReadPart[] = [];
  /** How many of them were read (the others are the last read's). */
  read = 0;
  /** The next of the last read's parts, in order. */
  private next = 0;
  private byKeyLine: Map<string, number> | null = null;

  constructor(
    private readonly prev: readonly ReadPart[],
    private readonly depth: number,
    public indent: number,
    private readonly limits: YamlLimits,
  ) {}

  part(text: string, start: number, end: number): ReadPart | undefined {
    const partText = text.slice(start, end);
    let i = this.next;
    let old = this.prev[i];
    if (old === undefined || old.text !== partText) {
      // (=== compares the characters of two slices in bulk; startsWith at an offset was ~10×
      // slower.) Not the next part unchanged: the same key line next (that part, edited), or
      // elsewhere (moved), or none (added).
      let eol = partText.indexOf('\n');
      if (eol < 0) eol = partText.length;
      const keyLine = partText.slice(0, eol);
      if (old === undefined || !sameKeyLine(old.text, keyLine)) {
        this.byKeyLine ??= indexByKeyLine(this.prev);
        const at = this.byKeyLine.get(keyLine);
        i = at ?? -1;
        old = at === undefined ? undefined : this.prev[at];
      }
      if (i >= 0) this.next = i + 1;
      if (old === undefined || old.text !== partText) {
        const read = fastParseEntry(partText, this.indent, this.depth, this.limits);
        if (!read) return undefined;
        const part = { text: partText, key: read.key, value: read.value };
        this.parts.push(part);
        this.read++;
        return part;
      }
    } else this.next = i + 1;
    old.text = partText;
    this.parts.push(old);
    return old;
  }
}

function sameKeyLine(text: string, keyLine: string): boolean {
  return text.startsWith(keyLine) && (text.length === keyLine.length || text.charCodeAt(keyLine.length) === 0x0a);
}

function indexByKeyLine(parts: readonly ReadPart[]): Map<string, number> {
  const m = new Map<string, number>();
  parts.forEach((p, i) => {
    let eol = p.text.indexOf('\n');
    if (eol < 0) eol = p.text.length;
    const k = p.text.slice(0, eol);
    if (!m.has(k)) m.set(k, i);
  });
  return m;
}
