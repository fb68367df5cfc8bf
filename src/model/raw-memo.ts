// The model text's plain value, read part by part, reusing what the last load read for every
// part whose text is unchanged. A reload of a big model in which one service changed reads that
// service's lines; every other service is the very raw object of the last load, which the schema
// memo (schema-memo.ts) then recognises by identity. A gateway whose routes changed is read
// route by route: its unchanged routes are the last load's raw objects (a gateway of M10k has
// 10 000 routes, 1 MB of text); a service whose instances changed is read instance by instance
// the same way, from its first edit on.
//
// A text the file reader spliced from the last one (file-text.ts, as ModelSource reads the
// file) is not read at all when the change is inside one service or gateway: that entry's new
// text is made from its last text and the new characters (readEntryEdited), so V8 never copies
// the 9 MB text of M10k into one string.
//
// The parts are found by text-split.ts and each is read by the fast YAML reader on its own
// (util/yaml-fast.ts fastParseEntry, fastParseSeqItem), which for the layouts the splitter
// accepts is exactly what fastParseYaml reads for that part in the whole text. The result is that
// value, assembled in text order, or undefined whenever the splitter or the reader is unsure: the
// caller then reads the whole text as before.
import { detach, fastParseEntry, fastParseSeqItem, fastParseYaml, fastReaderTakesChars, fastReaderTakesSize } from '../util/yaml-fast.js';
import type { YamlLimits } from '../util/yaml-source.js';
import { noteReplaced, PrefixSums } from '../ir/list-edits.js';
import { spliceOf, type TextSplice } from './file-text.js';
import { commonEnds, entryAt, isSection, itemLinesIn, type ModelTextLayout, passedOver, shiftedAfter, shiftLayout, splitEntryList, splitModelText, type TextSection } from './text-split.js';

const LF = 0x0a;

/** A part as the last load read it. */
interface ReadPart {
  /** Its exact text (a slice of the last text that had it). */
  text: string;
  /** Its key ('' for a list item). */
  key: string;
  value: unknown;
  /** A gateway read route by route: the rest of its text (`routes:` empty), and each route. */
  list?: { rest: ReadPart; items: ReadPart[]; layout?: ListLayout };
}

/** Where a part's list items are in its text: what an edit inside them needs to find them again without a scan. */
interface ListLayout {
  /** [listStart, listEnd) of the part's text: the items' lines. */
  readonly listStart: number;
  readonly listEnd: number;
  /** Column of the items' "-". */
  readonly indent: number;
  /** The items' text lengths (item k starts at listStart + sums.before(k)); never changed once made (an edit makes a copy). */
  readonly sums: PrefixSums;
}

/** Where the last text and this one differ (commonEnds), and where the changed part started in the last text (its start in this one too). */
interface ChangeHint {
  readonly lastText: string;
  readonly prefix: number;
  readonly suffix: number;
  /** The index, among the last read's parts of its section, of the part the difference is in. */
  readonly index: number;
}

/** Reads the text of a part that is not the last read's (its key line's last part, if any, is `old`). */
type ReadChanged = (text: string, start: number, end: number, old: ReadPart | undefined, hint?: ChangeHint) => ReadPart | undefined;

/** The list of each section's entries read item by item: a gateway's routes, a service's instances. */
const ITEM_LIST = { gateways: 'routes', services: 'instances' } as const;

/**
 * Where a section's map came from, when this memo made it from the last one: the same keys in
 * the same order, each value the very object the last map has but for the names listed. The
 * schema memo then looks at those names alone (a reload of M10k that edits one service would
 * otherwise walk 10 000 names). Kept by base, then by map, both weakly, like ir/list-edits.ts
 * records: a map must not keep the map it was made from alive.
 */
const entryEdits = new WeakMap<object, WeakMap<object, readonly string[]>>();

function noteEntriesReplaced(map: object, base: object, names: readonly string[]): void {
  let byMap = entryEdits.get(base);
  if (byMap === undefined) entryEdits.set(base, (byMap = new WeakMap()));
  byMap.set(map, names);
}

/** The names whose values may differ between `base` and `map`, if this memo made `map` from that very `base` (same keys, same order). */
export function entriesReplacedSince(base: object, map: object): readonly string[] | undefined {
  return entryEdits.get(base)?.get(map);
}

/**
 * Entries replaced in a map in place (readEntryEdited: an edit inside one service of M10k would
 * otherwise copy its 10 000-name map, ~1.3 ms and 0.8 MB per reload). Each map so edited counts
 * its replacements and keeps the last names replaced; a reader that last looked at the map when
 * the count was `seq` asks which names were replaced since (namesReplacedSince), or is told the
 * log no longer reaches back that far.
 */
interface ReplaceLog {
  count: number;
  /** The last names replaced, oldest first, and the count each replacement made. */
  names: string[];
  at: number[];
}
const replaceLogs = new WeakMap<object, ReplaceLog>();
/** Names kept per map (between LOG_KEEP and twice that). */
const LOG_KEEP = 64;

function replaceInPlace(map: Record<string, unknown>, name: string, value: unknown): void {
  map[name] = value;
  let log = replaceLogs.get(map);
  if (log === undefined) replaceLogs.set(map, (log = { count: 0, names: [], at: [] }));
  log.count++;
  log.names.push(name);
  log.at.push(log.count);
  if (log.names.length >= 2 * LOG_KEEP) {
    log.names.splice(0, LOG_KEEP);
    log.at.splice(0, LOG_KEEP);
  }
}

/** How many entries of `map` were replaced in place so far (what to give namesReplacedSince later). */
export function replacementCount(map: object): number {
  return replaceLogs.get(map)?.count ?? 0;
}

/** The names of `map` replaced in place since its replacementCount was `count` (none: empty); undefined if the log no longer reaches back that far. */
export function namesReplacedSince(map: object, count: number): readonly string[] | undefined {
  const log = replaceLogs.get(map);
  if (log === undefined || log.count === count) return NO_NAMES;
  if (count < log.at[0]! - 1) return undefined;
  const names = new Set<string>();
  for (let i = log.at.length - 1; i >= 0 && log.at[i]! > count; i--) names.add(log.names[i]!);
  return [...names];
}

const NO_NAMES: readonly string[] = [];

export class RawModelMemo {
  /** The last read's parts, in text order: the top-level ones, and each section's entries. */
  private top: ReadPart[] = [];
  private services: ReadPart[] = [];
  private gateways: ReadPart[] = [];
  /** The last read's services and gateways maps: given again while every part is (the schema memo then skips the map). */
  private servicesValue: unknown = undefined;
  private gatewaysValue: unknown = undefined;
  /** The last text read part by part, its layout and its value. */
  private last: { text: string; layout: ModelTextLayout; raw: Record<string, unknown> } | null = null;
  /** Parts reused and parts read since the memo was made, lists read by their edited items alone, and reads of a spliced text by its changed entry alone (for tests and benchmarks). */
  readonly counts = { reused: 0, read: 0, itemEdits: 0, splicedEdits: 0, replacedInPlace: 0 };

  /**
   * The text's value (what fastParseYaml(text) gives), reading only the parts that changed since
   * the last read; undefined if this text is not split or not read part by part (the caller then
   * reads it whole). The memo then holds this text's parts.
   *
   * A value is good until the next read: a read of an edit inside one service or gateway
   * replaces that entry in the last value's map itself (namesReplacedSince tells which).
   */
  read(text: string, limits: YamlLimits): Record<string, unknown> | undefined {
    if (!fastReaderTakesSize(text, limits)) return undefined;
    // Against the last text: the same text, the same value; a difference inside one part (or
    // section entry), its layout without a line scan, and every other part known unchanged.
    const last = this.last;
    // The text made from the last one by the file reader's splice (file-text.ts), the change
    // inside one service or gateway: that entry alone is looked at, and the text is not read.
    const splice = last !== null ? spliceOf(text, last.text) : undefined;
    if (splice !== undefined) {
      const quick = this.readEntryEdited(text, splice, limits);
      if (quick !== undefined) return quick;
    }
    const lastText = last?.text;
    let layout: ModelTextLayout | undefined;
    let changed: { part: number; entry: number } | undefined;
    let ends: { prefix: number; suffix: number } | undefined;
    if (last !== null) {
      // The file reader's splice says where the texts differ (its prefix and suffix are the
      // longest, as commonEnds finds them): a change over several entries need not compare them.
      ends = splice !== undefined ? { prefix: splice.prefix, suffix: splice.suffix } : commonEnds(last.text, text);
      if (ends.prefix === text.length && ends.prefix === last.text.length) {
        this.counts.reused += this.top.length + this.services.length + this.gateways.length;
        return last.raw;
      }
      const shifted = shiftLayout(last.layout, last.text, text, ends.prefix, ends.suffix);
      if (shifted) ({ layout, ...changed } = shifted);
    }
    layout ??= splitModelText(text);
    if (!layout) return undefined;
    // The lines no part holds (comments before the first key, the `services:` lines) are checked
    // here; each part's characters are checked when it is read (or were, when its text was read).
    if (!fastReaderTakesChars(text.slice(0, layout.preambleEnd))) return undefined;
    if (this.top.length === 0 && this.services.length === 0 && this.gateways.length === 0) {
      const seeded = this.seed(text, layout, limits);
      // (If the whole-text reader gives up, so would reading part by part.)
      if (seeded !== 'not seeded') return seeded;
    }
    const counts = { reused: 0, read: 0, itemEdits: 0 };
    const top = new PartReader(this.top, entryReader(0, 0, limits, counts), counts);
    const raw: Record<string, unknown> = {};
    let services: PartReader | null = null;
    let gateways: PartReader | null = null;
    for (let k = 0; k < layout.parts.length; k++) {
      const part = layout.parts[k]!;
      if (!isSection(part)) {
        const p = changed && k !== changed.part ? top.reuse(text, part.start, part.end) : top.part(text, part.start, part.end);
        if (!p || p.key !== part.key) return undefined;
        raw[p.key] = p.value;
        continue;
      }
      const first = part.entryStarts[0]!;
      if (!fastReaderTakesChars(text.slice(part.start, first))) return undefined;
      // Entries sit at depth 1: inside the top-level mapping, as in the whole text.
      const reader = new PartReader(part.key === 'services' ? this.services : this.gateways, listEntryReader(part.indent, 1, ITEM_LIST[part.key], limits, counts), counts);
      if (part.key === 'services') services = reader;
      else gateways = reader;
      const starts = part.entryStarts;
      for (let i = 0; i < starts.length; i++) {
        const end = i + 1 < starts.length ? starts[i + 1]! : part.end;
        const known = changed !== undefined && (k !== changed.part || i !== changed.entry);
        // The entry the difference is in: its reader is told where (a gateway's routes then look at the routes it touches).
        const hint = changed !== undefined && !known && lastText !== undefined && ends !== undefined ? { lastText, prefix: ends.prefix, suffix: ends.suffix, index: i } : undefined;
        if (!(known ? reader.reuse(text, starts[i]!, end) : reader.part(text, starts[i]!, end, hint))) return undefined;
      }
      // Every entry the last read's, in its place: the last read's map (the same keys and values).
      const last = part.key === 'services' ? this.servicesValue : this.gatewaysValue;
      if (reader.unchanged() && last !== undefined) raw[part.key] = last;
      else {
        const entries: Record<string, unknown> = {};
        for (const p of reader.parts) {
          // A repeated key is an error the full path reports (as the whole-text reader gives up on it).
          if (Object.prototype.hasOwnProperty.call(entries, p.key)) return undefined;
          entries[p.key] = p.value;
        }
        // Every entry where the last read had it, some read again: the schema memo looks at those alone.
        const edited = reader.editedInPlace();
        if (edited !== undefined && typeof last === 'object' && last !== null) noteEntriesReplaced(entries, last, edited);
        raw[part.key] = entries;
      }
    }
    this.top = top.parts;
    this.services = services?.parts ?? [];
    this.gateways = gateways?.parts ?? [];
    this.servicesValue = raw['services'];
    this.gatewaysValue = raw['gateways'];
    this.last = { text, layout, raw };
    this.counts.read += counts.read;
    this.counts.reused += counts.reused;
    this.counts.itemEdits += counts.itemEdits;
    return raw;
  }

  /**
   * read(text) when `text` is the last text with the characters [prefix, lastLength - suffix)
   * replaced (`splice`) and the change lies in lines inside one service or gateway that the
   * line scan passes over (as shiftLayout requires): that entry's new text is made from its
   * last text and the new characters, and read as read() reads it (listEntryReader, told where
   * the change is); every other part is the last read's, and neither this text nor the last is
   * read (a character read of a text the file reader spliced makes V8 copy it whole: M10k,
   * ~6 ms). The parts kept hold their texts as they were (equal to this text's there).
   * Undefined (read the general way) whenever it is not that simple.
   */
  private readEntryEdited(text: string, splice: TextSplice, limits: YamlLimits): Record<string, unknown> | undefined {
    const last = this.last!;
    const where = entryAt(last.layout, splice.prefix);
    if (where === undefined) return undefined;
    const section = last.layout.parts[where.part] as TextSection;
    const parts = section.key === 'services' ? this.services : this.gateways;
    const i = where.entry;
    const old = parts[i];
    const start = section.entryStarts[i]!;
    const end = i + 1 < section.entryStarts.length ? section.entryStarts[i + 1]! : section.end;
    if (old === undefined || parts.length !== section.entryStarts.length || old.text.length !== end - start) return undefined;
    // The change in the entry's own offsets: [p, a) of its last text, [p, a + d) of its new one.
    const p = splice.prefix - start;
    const a = last.text.length - splice.suffix - start;
    const d = text.length - last.text.length;
    if (a > old.text.length) return undefined;
    // (A copy of its own: the pieces joined would hold the texts they were cut from.)
    const entryText = detach(old.text.slice(0, p) + splice.mid + old.text.slice(a));
    // The lines the change touches, in both: inside the entry, and passed over by the scan.
    const line = p === 0 ? 0 : old.text.lastIndexOf('\n', p - 1) + 1;
    if (line === 0) return undefined; // (the entry's key line)
    const aligned = (a === 0 || old.text.charCodeAt(a - 1) === LF) && (a + d === 0 || entryText.charCodeAt(a + d - 1) === LF);
    const extra = aligned ? 0 : 1;
    const toOld = Math.max(a + extra, line + 1);
    const toNew = Math.max(a + d + extra, line + 1);
    if (toOld > old.text.length || toNew > entryText.length) return undefined;
    if (!passedOver(old.text, line, toOld, section.indent) || !passedOver(entryText, line, toNew, section.indent)) return undefined;
    const counts = { reused: 0, read: 0, itemEdits: 0 };
    const readEntry = listEntryReader(section.indent, 1, ITEM_LIST[section.key], limits, counts);
    const hint: ChangeHint = { lastText: old.text, prefix: p, suffix: old.text.length - a, index: i };
    const part = readEntry(entryText, 0, entryText.length, old, hint);
    if (part === undefined || part.key !== old.key) return undefined;
    const lastMap = (section.key === 'services' ? this.servicesValue : this.gatewaysValue) as Record<string, unknown> | undefined;
    let raw: Record<string, unknown>;
    if (typeof lastMap === 'object' && lastMap !== null && last.raw[section.key] === lastMap && lastMap[part.key] === old.value) {
      // The entry replaced in the last value itself (the contract of read(): a value is good
      // until the next read), and the replacement logged for the schema memo.
      parts[i] = part;
      replaceInPlace(lastMap, part.key, part.value);
      raw = last.raw;
      this.counts.replacedInPlace++;
    } else {
      const next = parts.slice();
      next[i] = part;
      const entries: Record<string, unknown> = {};
      for (const q of next) entries[q.key] = q.value;
      if (typeof lastMap === 'object' && lastMap !== null) noteEntriesReplaced(entries, lastMap, [part.key]);
      raw = { ...last.raw, [section.key]: entries };
      if (section.key === 'services') {
        this.services = next;
        this.servicesValue = entries;
      } else {
        this.gateways = next;
        this.gatewaysValue = entries;
      }
    }
    this.last = { text, layout: shiftedAfter(last.layout, start + line, d), raw };
    this.counts.read += counts.read;
    this.counts.reused += counts.reused + this.top.length + this.services.length + this.gateways.length - 1;
    this.counts.itemEdits += counts.itemEdits;
    this.counts.splicedEdits++;
    return raw;
  }

  /**
   * A first read (nothing to reuse): the whole text at once (fastParseYaml: faster than reading
   * M10k's 20 000 parts one by one), then each part's value taken from it by its key (or a
   * route's by its place), which is what reading that part alone gives (the layout is one the
   * parts read alone in). Undefined if the whole-text reader gives up; 'not seeded' (read part by
   * part instead) if a key line is not a plain name.
   */
  private seed(text: string, layout: ModelTextLayout, limits: YamlLimits): Record<string, unknown> | undefined | 'not seeded' {
    const raw = fastParseYaml(text, limits);
    if (!raw) return undefined;
    const top: ReadPart[] = [];
    const sections: Record<'services' | 'gateways', ReadPart[]> = { services: [], gateways: [] };
    for (const part of layout.parts) {
      if (!isSection(part)) {
        top.push({ text: text.slice(part.start, part.end), key: part.key, value: raw[part.key] });
        continue;
      }
      const entries = raw[part.key] as Record<string, unknown>;
      const starts = part.entryStarts;
      for (let i = 0; i < starts.length; i++) {
        const start = starts[i]!;
        const end = i + 1 < starts.length ? starts[i + 1]! : part.end;
        const key = plainKeyAt(text, start + part.indent);
        if (key === undefined || !Object.prototype.hasOwnProperty.call(entries, key)) return 'not seeded';
        const read: ReadPart = { text: text.slice(start, end), key, value: entries[key] };
        const listKey = ITEM_LIST[part.key];
        // A gateway's routes are kept item by item from the start (one gateway may hold 100 000);
        // a service's instances once the service is edited: item by item, M10k's 100 000
        // instances would double the memory the memo holds (~28 MB more), for services most of
        // which are never edited.
        const list = part.key === 'gateways' ? splitEntryList(text, start, end, part.indent, listKey) : undefined;
        const value = read.value as Record<string, unknown>;
        const items = list ? value[listKey] : undefined;
        if (list && Array.isArray(items) && items.length === list.itemStarts.length) {
          const restText = detach(text.slice(start, list.listStart) + text.slice(list.listEnd, end));
          // (What the rest reads as alone: the gateway with its list empty.)
          const rest: ReadPart = { text: restText, key, value: { ...value, [listKey]: null } };
          const parts = list.itemStarts.map((s, k) => ({ text: text.slice(s, k + 1 < list.itemStarts.length ? list.itemStarts[k + 1]! : list.listEnd), key: '', value: items[k] }));
          read.list = {
            rest,
            items: parts,
            layout: { listStart: list.listStart - start, listEnd: list.listEnd - start, indent: list.indent, sums: new PrefixSums(parts.map((p) => p.text.length)) },
          };
        }
        sections[part.key].push(read);
      }
      if (Object.keys(entries).length !== starts.length) return 'not seeded';
    }
    this.top = top;
    this.services = sections.services;
    this.gateways = sections.gateways;
    this.servicesValue = raw['services'];
    this.gatewaysValue = raw['gateways'];
    this.last = { text, layout, raw };
    this.counts.read += top.length + sections.services.length + sections.gateways.length;
    return raw;
  }
}

/** The plain key (a name: letters, digits, "-", "_", ".", "/") of the key line at `at`, if it is one. */
function plainKeyAt(text: string, at: number): string | undefined {
  PLAIN_KEY_LINE.lastIndex = at;
  const m = PLAIN_KEY_LINE.exec(text);
  return m ? m[1] : undefined;
}

const PLAIN_KEY_LINE = /([A-Za-z0-9_][A-Za-z0-9_./-]*):(?= |\n|$)/y;

/** Reads an entry of a mapping at column `indent`, nesting `depth`, whole. */
function entryReader(indent: number, depth: number, limits: YamlLimits, counts: { read: number }): ReadChanged {
  return (text, start, end) => {
    const partText = text.slice(start, end);
    const read = fastParseEntry(partText, indent, depth, limits);
    if (!read) return undefined;
    counts.read++;
    return { text: partText, key: read.key, value: read.value };
  };
}

/**
 * Reads an entry whose block list `listKey` is laid out plainly (splitEntryList) item by item,
 * reusing the last read's items of the same entry whose text is unchanged; any other entry whole.
 */
function listEntryReader(indent: number, depth: number, listKey: string, limits: YamlLimits, counts: { reused: number; read: number; itemEdits: number }): ReadChanged {
  const whole = entryReader(indent, depth, limits, counts);
  const itemDepth = depth + 2;
  return (text, start, end, old, hint) => {
    if (hint !== undefined && old?.list?.layout !== undefined) {
      const quick = readItemsEdited(text, start, end, old, hint, listKey, itemDepth, limits, counts);
      if (quick !== undefined) {
        counts.itemEdits++;
        return quick;
      }
    }
    const list = splitEntryList(text, start, end, indent, listKey);
    if (!list) return whole(text, start, end, old);
    // The entry without its list's items: `listKey:` reads as null there. (A copy: the two
    // slices joined would hold this whole text for as long as the entry is not read again.)
    const restText = detach(text.slice(start, list.listStart) + text.slice(list.listEnd, end));
    const oldRest = old?.list?.rest;
    let rest: ReadPart | undefined;
    if (oldRest !== undefined && oldRest.text === restText) {
      // (Its text kept as it is, a string of its own once read: an entry not edited again must
      // not hold this whole text, nor each entry the text of the reload that last edited it.)
      rest = oldRest;
      counts.reused++;
    } else {
      rest = whole(restText, 0, restText.length, undefined);
      if (!rest) return undefined;
    }
    const restValue = rest.value as Record<string, unknown> | null;
    if (restValue === null || typeof restValue !== 'object' || restValue[listKey] !== null) return undefined;
    // The items sit in the entry's value (depth + 1), in its list (depth + 2).
    const items = new PartReader(
      old?.list?.items ?? [],
      (t, s, e) => {
        // (A copy: an item kept while its entry is not edited again must not hold this whole text.)
        const itemText = detach(t.slice(s, e));
        const read = fastParseSeqItem(itemText, list.indent, itemDepth, limits);
        if (!read) return undefined;
        counts.read++;
        return { text: itemText, key: '', value: read.value };
      },
      counts,
      KEEP_TEXTS,
    );
    const starts = list.itemStarts;
    const values: unknown[] = [];
    for (let i = 0; i < starts.length; i++) {
      const p = items.part(text, starts[i]!, i + 1 < starts.length ? starts[i + 1]! : list.listEnd);
      if (!p) return undefined;
      values.push(p.value);
    }
    // The schema memo and the model diff look at the items read alone (ir/list-edits.ts).
    noteItemsRead(values, old, listKey);
    // A new object (the last read's rest value is kept as it was), with the list where the rest has it.
    const value = { ...restValue, [listKey]: values };
    const layout: ListLayout = { listStart: list.listStart - start, listEnd: list.listEnd - start, indent: list.indent, sums: new PrefixSums(items.parts.map((p) => p.text.length)) };
    return { text: text.slice(start, end), key: rest.key, value, list: { rest, items: items.parts, layout } };
  };
}

/** Record that `values` are the last read's list of `old` but at the places whose object differs (when as many). */
function noteItemsRead(values: unknown[], old: ReadPart | undefined, listKey: string): void {
  const before = old !== undefined && old.value !== null && typeof old.value === 'object' ? (old.value as Record<string, unknown>)[listKey] : undefined;
  if (!Array.isArray(before) || before.length !== values.length) return;
  const at: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i] !== before[i]) at.push(i);
  noteReplaced(values, before, at);
}

/**
 * The entry `old` read again where the difference between the last text and this one
 * (`hint`) lies inside its list's items: the items the changed lines touch are found by their
 * lengths (no scan of the entry, no look at the others), the lines between the first and the
 * last of them are scanned as splitEntryList scans items (only item lines, and lines inside
 * items, or it gives up), and if there are as many items there as before, each is read
 * unless its text is the same; every other item and the rest are the last read's. Undefined
 * (read the entry the general way) whenever it is not that simple.
 */
function readItemsEdited(text: string, start: number, end: number, old: ReadPart, hint: ChangeHint, listKey: string, itemDepth: number, limits: YamlLimits, counts: { reused: number; read: number }): ReadPart | undefined {
  const list = old.list!;
  const layout = list.layout!;
  const oldLen = old.text.length;
  const d = end - start - oldLen;
  // The difference, in the entry's offsets: its first character (the same in both), and where
  // the common end begins in the last entry and in this one.
  const p = hint.prefix - start;
  const aOld = hint.lastText.length - hint.suffix - start;
  const aNew = text.length - hint.suffix - start;
  // (The whole difference inside this entry; the entry starts where it did, before the difference.)
  if (p < 0 || aOld > oldLen || aNew - aOld !== d) return undefined;
  const lineStart = p === 0 ? 0 : old.text.lastIndexOf('\n', p - 1) + 1;
  // The changed lines end at the common end, or past the line it begins in when it does not begin a line in both.
  const aligned = (aOld === 0 || old.text.charCodeAt(aOld - 1) === LF) && (aNew === 0 || text.charCodeAt(start + aNew - 1) === LF);
  const touchedEnd = aligned ? aOld : aOld + 1;
  const n = layout.sums.size;
  if (n === 0 || lineStart < layout.listStart || touchedEnd > layout.listEnd) return undefined;
  const itemStart = (k: number): number => layout.listStart + layout.sums.before(k);
  // The first item the changed lines touch, and the last (the last one starting before touchedEnd).
  const f = layout.sums.pieceAt(lineStart - layout.listStart);
  let l = layout.sums.pieceAt(Math.max(0, touchedEnd - 1 - layout.listStart));
  if (l + 1 < n && itemStart(l + 1) < touchedEnd) l++;
  if (f > l) return undefined;
  // Those items' lines in this text: [r0, r1) of the entry.
  const r0 = itemStart(f);
  const r1 = (l + 1 < n ? itemStart(l + 1) : layout.listEnd) + d;
  const starts = itemLinesIn(text, start + r0, start + r1, layout.indent);
  if (starts === undefined || starts.length !== l - f + 1) return undefined;
  const items = list.items.slice();
  const oldValues = (old.value as Record<string, unknown>)[listKey] as unknown[];
  if (!Array.isArray(oldValues) || oldValues.length !== n || items.length !== n) return undefined;
  const values = oldValues.slice();
  const sums = layout.sums.clone();
  const replaced: number[] = [];
  let reused = 0;
  let read = 0;
  const texts = starts.map((at, j) => text.slice(at, j + 1 < starts.length ? starts[j + 1]! : start + r1));
  /** The last read's items at the places whose text changed, by text, each taken once: items moved among them are found, not read. */
  let byText: Map<string, ReadPart[]> | null = null;
  for (let j = 0; j < starts.length; j++) {
    const k = f + j;
    const itemText = texts[j]!;
    const was = list.items[k]!;
    sums.add(k, itemText.length - was.text.length);
    if (itemText === was.text) {
      reused++;
      continue;
    }
    if (byText === null) {
      byText = new Map();
      for (let i = texts.length - 1; i >= 0; i--) {
        const it = list.items[f + i]!;
        if (texts[i] === it.text) continue;
        const same = byText.get(it.text);
        if (same) same.push(it);
        else byText.set(it.text, [it]);
      }
    }
    const found = byText.get(itemText)?.pop();
    if (found !== undefined) {
      reused++;
      items[k] = found;
      values[k] = found.value;
      replaced.push(k);
      continue;
    }
    // (A copy: the item must not keep this whole text alive once it is the last one no more.)
    const own = detach(itemText);
    const item = fastParseSeqItem(own, layout.indent, itemDepth, limits);
    if (!item) return undefined;
    read++;
    items[k] = { text: own, key: '', value: item.value };
    values[k] = item.value;
    replaced.push(k);
  }
  // (The items not looked at, and the rest, are the last read's too.)
  counts.reused += reused + n - texts.length + 1;
  counts.read += read;
  // The schema memo and the model diff look at these places only (ir/list-edits.ts).
  noteReplaced(values, oldValues, replaced);
  const value = { ...(list.rest.value as Record<string, unknown>), [listKey]: values };
  return { text: text.slice(start, end), key: list.rest.key, value, list: { rest: list.rest, items, layout: { listStart: layout.listStart, listEnd: layout.listEnd + d, indent: layout.indent, sums } } };
}

/**
 * Reads the parts of one mapping (or list) in text order, each the last read's part if its text
 * is the same, else read now. The last read's parts are tried in order first (an edit leaves the
 * others where they were), then by their key line (parts added, removed or moved). The parts
 * kept hold slices of this text: the memo keeps only the last text alive, never a chain of older
 * ones.
 */
class PartReader {
  /** This read's parts, in order. */
  readonly parts: ReadPart[] = [];
  /** The next of the last read's parts, in order. */
  private next = 0;
  private byKeyLine: Map<string, number> | null = null;
  /** A part was read, or one of the last read's taken out of its place. */
  private moved = false;
  /** Parts that did not line up with the last read's, before the key line index is made. */
  private misses = 0;
  /** The keys of the parts read in the place of the last read's part of the same key line (edited in place), while every part is in its place. */
  private edited: string[] | null = [];

  constructor(
    private readonly prev: readonly ReadPart[],
    private readonly readChanged: ReadChanged,
    private readonly counts: { reused: number },
    /**
     * A part reused keeps its text as it is (items: strings of their own, kept while their entry
     * is not read again), instead of taking this text's slice (entries: each reload re-slices
     * every entry, so the memo holds this text alone).
     */
    private readonly keepTexts = false,
  ) {}

  part(text: string, start: number, end: number, hint?: ChangeHint): ReadPart | undefined {
    const partText = text.slice(start, end);
    let i = this.next;
    let old = this.prev[i];
    if (old === undefined || old.text !== partText) {
      // (=== compares the characters of two slices in bulk; startsWith at an offset was ~10×
      // slower.) Not the next part unchanged: the one after it unchanged (that one removed), the
      // same key line next (that part, edited), or elsewhere (moved), or none (added).
      const after = this.prev[i + 1];
      if (after !== undefined && after.text === partText) {
        i++;
        old = after;
      } else {
        let eol = partText.indexOf('\n');
        if (eol < 0) eol = partText.length;
        const keyLine = partText.slice(0, eol);
        if (old === undefined || !sameKeyLine(old.text, keyLine)) {
          // Looked up by key line once the parts have not lined up a few times (parts moved);
          // before that, read: most often a part added, or a list item edited in place (a
          // one-line item's key line is all of it), and indexing 10 000 routes' key lines cost
          // more than the read.
          if (this.byKeyLine === null && ++this.misses <= MISSES_BEFORE_INDEX) {
            i = -1;
            old = undefined;
          } else {
            this.byKeyLine ??= indexByKeyLine(this.prev);
            const at = this.byKeyLine.get(keyLine);
            i = at ?? -1;
            old = at === undefined ? undefined : this.prev[at];
          }
        }
      }
      if (i >= 0) this.next = i + 1;
      if (old === undefined || old.text !== partText) {
        // (The hint is about the last read's part at its index: given only with that part.)
        const part = this.readChanged(text, start, end, old, old !== undefined && hint !== undefined && i === hint.index ? hint : undefined);
        if (!part) return undefined;
        if (old !== undefined && i === this.parts.length && part.key === old.key) this.edited?.push(part.key);
        else this.edited = null;
        this.moved = true;
        this.parts.push(part);
        return part;
      }
    } else this.next = i + 1;
    if (i !== this.parts.length) this.outOfPlace();
    if (!this.keepTexts) old.text = partText;
    this.parts.push(old);
    this.counts.reused++;
    return old;
  }

  /** The last read's next part, known to be unchanged (the text differs elsewhere): kept without a look at its text. */
  reuse(text: string, start: number, end: number): ReadPart | undefined {
    const old = this.prev[this.next];
    if (old === undefined) return this.part(text, start, end);
    if (this.next !== this.parts.length) this.outOfPlace();
    this.next++;
    if (!this.keepTexts) old.text = text.slice(start, end);
    this.parts.push(old);
    this.counts.reused++;
    return old;
  }

  private outOfPlace(): void {
    this.moved = true;
    this.edited = null;
  }

  /**
   * The keys of the parts read again, when every part is where the last read had the part of
   * its key (none added, removed or moved): undefined otherwise.
   */
  editedInPlace(): readonly string[] | undefined {
    return this.edited !== null && this.parts.length === this.prev.length ? this.edited : undefined;
  }

  /** Every part so far is the last read's part at the same place, and there are as many. */
  unchanged(): boolean {
    return !this.moved && this.parts.length === this.prev.length;
  }
}

const KEEP_TEXTS = true;

/** How many parts that do not line up are read before the last read's parts are indexed by key line. */
const MISSES_BEFORE_INDEX = 4;

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
