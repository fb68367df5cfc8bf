// An immutable, consistent set of resources for one proxy group. Built once, shared by every
// stream that serves the group. Per-type versions are content hashes over the sorted
// (name, version) pairs, so identical input gives identical versions after a restart.
//
// A type's resources are a TypeSet (sorted by name, hashed, reference checks memoised), interned
// by the identity of the array it was built from: the encoder hands every proxy whose resources
// of a type are the same the very same array (the outbound view's assignments, a service's
// route configurations), so when a view 2000 sidecars share changes, each distinct set is
// sorted, hashed and checked once, not 2000 times.
import { byName, contentHash, type Resource, type ResourceRefs } from './resource.js';
import { ADS_ORDER, shortName, TYPE, type TypeUrl } from './type-urls.js';
import { lowerBound } from '../util/sorted.js';
import { overlayDifference, patchedMap } from './patched-map.js';

export interface SnapshotProblem {
  typeUrl: TypeUrl;
  resource: string;
  message: string;
}

/**
 * Resources grouped per type, in any order within a type. Every array must stay unchanged once
 * given to a Snapshot: type sets are interned by array identity.
 */
export type ResourcesByType = Readonly<Partial<Record<TypeUrl, readonly Resource[]>>>;

/** Reference kinds and the type each names. */
const REF_KINDS: ReadonlyArray<readonly [keyof ResourceRefs, TypeUrl]> = [
  ['clusters', TYPE.CLUSTER],
  ['routes', TYPE.ROUTE],
  ['secrets', TYPE.SECRET],
  ['endpoints', TYPE.ENDPOINT],
];

const TYPE_INDEX = new Map<TypeUrl, number>(ADS_ORDER.map((t, i) => [t, i]));
if (ADS_ORDER.join() !== [TYPE.CLUSTER, TYPE.ENDPOINT, TYPE.LISTENER, TYPE.ROUTE, TYPE.SECRET].join()) throw new Error('bug: Snapshot lists the types in ADS order');
/** For each REF_KINDS entry, the index (ADS order) of the type it names. */
const REF_TARGET: readonly number[] = REF_KINDS.map(([, t]) => TYPE_INDEX.get(t)!);

const EMPTY: ReadonlyMap<string, Resource> = new Map();
const NO_RESOURCES: readonly Resource[] = [];
const NO_NAMES: readonly string[] = [];

/**
 * One type's resources: by name in name order, and the type version. Immutable. Which names
 * its resources refer to, and whether they all resolve in a given set of the target type, are
 * worked out once per set (and per target set), whatever the number of snapshots holding it.
 */
class TypeSet {
  /** Distinct names referred to, per REF_KINDS entry; made on first check. */
  private needs: ReadonlyArray<readonly string[]> | null = null;
  /** Bit k: some resource refers to names of kind REF_KINDS[k] (-1: not worked out yet). */
  private kinds = -1;
  /** What versionOf hashes for this set (name, version pairs in name order), and where each pair starts. */
  private pairs: { text: string; starts: number[] } | null = null;

  constructor(
    readonly typeUrl: TypeUrl,
    /** The array it was built from (what a later snapshot's input is compared with). */
    readonly input: readonly Resource[],
    readonly byName: ReadonlyMap<string, Resource>,
    readonly version: string,
    /**
     * Built from `base` (extendList's one resource added or replaced, or a patch replacing a few
     * resources by others of the same names): its names include all of base's, and its
     * resources are base's but for `extras`.
     */
    readonly parts: { base: TypeSet; extras: readonly Resource[] } | null = null,
  ) {}

  /**
   * Which kinds of reference this set's resources make (bit k for REF_KINDS[k]): most sets
   * make one or two, and a snapshot checks only those (a sidecar's snapshot, rebuilt at every
   * reload of 2000 sidecars, had ~12 checks that found nothing to look up).
   */
  refKinds(): number {
    if (this.kinds >= 0) return this.kinds;
    let bits = 0;
    if (this.parts) {
      bits = this.parts.base.refKinds();
      for (const x of this.parts.extras) bits |= kindsOf(x);
    } else for (let k = 0; k < REF_KINDS.length; k++) if (this.namesNeeded(k).length > 0) bits |= 1 << k;
    return (this.kinds = bits);
  }

  /** Whether every reference of kind REF_KINDS[k] made by this set's resources names a resource of `target`. */
  resolvesIn(k: number, target: TypeSet): boolean {
    if (this.parts) {
      // Base's answer is shared by every set built from it; the extra resources are checked
      // here. (Base failing may be a resource an extra replaced: problems() then walks it all.)
      const kind = REF_KINDS[k]![0];
      for (const x of this.parts.extras) for (const n of x.refs[kind]) if (!target.byName.has(n)) return false;
      return this.parts.base.resolvesIn(k, target);
    }
    const needs = this.namesNeeded(k);
    if (needs.length === 0) return true;
    // A few names are looked up directly (cheaper than the memo; typically a set held by one
    // proxy, e.g. its listeners naming its route configurations and secrets).
    if (needs.length <= FEW_NAMES && !target.parts) {
      for (const n of needs) if (!target.byName.has(n)) return false;
      return true;
    }
    if (!target.parts) return this.missingIn(k, target).length === 0;
    // A target extending a set has all of its names: what that set lacks (a shared answer,
    // e.g. a sidecar's own cluster) is looked up in the target itself.
    for (const n of this.missingIn(k, target.parts.base)) if (!target.byName.has(n)) return false;
    return true;
  }

  /** The names of kind REF_KINDS[k] this set refers to that `target` lacks (memoised per target). */
  private missingIn(k: number, target: TypeSet): readonly string[] {
    const needs = this.namesNeeded(k);
    let byTarget = MISSING.get(needs);
    const hit = byTarget?.get(target);
    if (hit) return hit;
    let missing: string[] | null = null;
    for (const n of needs) if (!target.byName.has(n)) (missing ??= []).push(n);
    const out = missing ?? NO_NAMES;
    if (!byTarget) MISSING.set(needs, (byTarget = new WeakMap()));
    byTarget.set(target, out);
    return out;
  }

  private namesNeeded(k: number): readonly string[] {
    if (!this.needs) {
      this.needs = REF_KINDS.map(([kind]) => {
        // One resource: its own list (distinct names), so that sets holding resources with the
        // very same list (a big route configuration where one route changed, its clusters the
        // same) share what missingIn found.
        if (this.input.length === 1) return this.input[0]!.refs[kind];
        let names: Set<string> | null = null;
        for (const r of this.input) for (const n of r.refs[kind]) (names ??= new Set()).add(n);
        return names ? [...names] : NO_NAMES;
      });
    }
    return this.needs[k]!;
  }

  /** This set with `extra` in its place (replacing a resource of the same name), built without sorting or re-joining. */
  extendedBy(input: readonly Resource[], extra: Resource): TypeSet {
    if (extra.typeUrl !== this.typeUrl) throw new Error(`bug: a ${shortName(extra.typeUrl)} resource "${extra.name}" given as ${shortName(this.typeUrl)}`);
    const m = new Map<string, Resource>();
    let at = -1;
    let replaces = false;
    let i = 0;
    for (const [n, r] of this.byName) {
      if (at < 0 && extra.name <= n) {
        at = i;
        m.set(extra.name, extra);
        replaces = extra.name === n;
      }
      if (n !== extra.name) m.set(n, r);
      i++;
    }
    if (at < 0) {
      at = i;
      m.set(extra.name, extra);
    }
    const { text, starts } = this.pairText();
    const version = contentHash(text.slice(0, starts[at]!) + pairOf(extra) + text.slice(starts[replaces ? at + 1 : at]!));
    return new TypeSet(this.typeUrl, input, m, version, this.partsWith([extra]));
  }

  /**
   * This set with each of `replacements` in the place of the resource of the same name (every
   * name is in this set): the map is copied and the hashed text re-spliced, without sorting
   * or re-joining every pair. The changed names are recorded for diffSnapshots.
   */
  patchedBy(input: readonly Resource[], replacements: readonly Resource[]): TypeSet {
    // Not a copy of the map: an overlay of the replacements on it (patched-map.ts).
    const m = patchedMap(this.byName, replacements.map((r) => [r.name, r] as const));
    const { text, starts } = this.pairText();
    const names = this.sortedNames();
    const at = replacements.map((r) => lowerBound(names, r.name, (n) => n)).sort((a, b) => a - b);
    let out = '';
    let from = 0;
    for (const i of at) {
      out += text.slice(from, starts[i]!) + pairOf(m.get(names[i]!)!);
      from = starts[i + 1]!;
    }
    out += text.slice(from);
    const set = new TypeSet(this.typeUrl, input, m, contentHash(out), this.partsWith(replacements));
    // Same names, so the same order; the starts move only if a version's length changed.
    set.names = names;
    if (out.length === text.length) set.pairs = { text: out, starts };
    let byPatched = PATCHES.get(this.byName);
    if (!byPatched) PATCHES.set(this.byName, (byPatched = new WeakMap()));
    byPatched.set(m, new Set(replacements.map((r) => r.name)));
    return set;
  }

  /**
   * The parts of a set built from this one with `extras`: this set and them, or, if this set
   * was itself built from another, that one and every extra since (its names are a subset of
   * this set's, and checking the older resources too is only conservative: problems() walks a
   * set whose check fails). Never a chain: a set patched at every reload must not hold every
   * earlier one. Past PARTS_MAX extras the new set stands alone (checked whole, once).
   */
  private partsWith(extras: readonly Resource[]): { base: TypeSet; extras: readonly Resource[] } | null {
    if (!this.parts) return { base: this, extras };
    const all = [...this.parts.extras, ...extras];
    return all.length <= PARTS_MAX ? { base: this.parts.base, extras: all } : null;
  }

  /** The resources in name order (the map's order), made once per set. */
  private ordered: readonly Resource[] | null = null;
  inOrder(): readonly Resource[] {
    return (this.ordered ??= [...this.byName.values()]);
  }

  /** The names in order (made once per set, shared by the sets patched from it). */
  private names: readonly string[] | null = null;
  sortedNames(): readonly string[] {
    return (this.names ??= [...this.byName.keys()]);
  }

  private pairText(): { text: string; starts: number[] } {
    if (!this.pairs) {
      const parts: string[] = [];
      const starts: number[] = [];
      let at = 0;
      for (const r of this.byName.values()) {
        const p = pairOf(r);
        starts.push(at);
        parts.push(p);
        at += p.length;
      }
      starts.push(at);
      this.pairs = { text: parts.join(''), starts };
    }
    return this.pairs;
  }
}

/** The kinds of reference one resource makes (bit k for REF_KINDS[k]). */
function kindsOf(r: Resource): number {
  let bits = 0;
  for (let k = 0; k < REF_KINDS.length; k++) if (r.refs[REF_KINDS[k]![0]].length > 0) bits |= 1 << k;
  return bits;
}

/** Names a set refers to (TypeSet.namesNeeded) → target set → the names the target lacks. */
const MISSING = new WeakMap<readonly string[], WeakMap<TypeSet, readonly string[]>>();

/**
 * Patched type maps (TypeSet.patchedBy): base map → patched map → the names replaced. Keyed by
 * the base, weakly both ways: a patched map must not keep the map it was patched from alive (a
 * set patched at every reload would hold every earlier one, a chain through all history).
 */
const PATCHES = new WeakMap<ReadonlyMap<string, Resource>, WeakMap<ReadonlyMap<string, Resource>, Set<string>>>();

/** Up to this many replaced resources (and at most one in PATCH_SHARE), a new list is patched from the base set. */
const PATCH_MAX = 64;
/** Most extra resources a set built from another records (TypeSet.partsWith). */
const PARTS_MAX = 64;
const PATCH_SHARE = 8;

/**
 * The resources of `list` that replace, at the same position, a resource of the same name in
 * `base` (the previous input): null if none did, if anything else differs (an added, removed
 * or moved resource), or if too many changed to be worth patching.
 */
function replacementsOf(base: readonly Resource[], list: readonly Resource[]): Resource[] | null {
  if (base.length !== list.length || list.length < PATCH_SHARE * 2) return null;
  const max = Math.min(PATCH_MAX, Math.floor(list.length / PATCH_SHARE));
  let out: Resource[] | null = null;
  for (let i = 0; i < list.length; i++) {
    const r = list[i]!;
    const b = base[i]!;
    if (r === b) continue;
    if (r.name !== b.name || r.typeUrl !== b.typeUrl) return null;
    if (r.version === b.version) continue;
    (out ??= []).push(r);
    if (out.length > max) return null;
  }
  return out;
}

/** What versionOf hashes for one resource. */
const pairOf = (r: Resource): string => `${r.name}\0${r.version}\n`;

const EMPTY_VERSION = contentHash('');

/** Up to this many names, references are checked without memoising. */
const FEW_NAMES = 4;

/** The empty set of each type (ADS order). */
const EMPTY_SETS: readonly TypeSet[] = ADS_ORDER.map((t) => new TypeSet(t, NO_RESOURCES, EMPTY, EMPTY_VERSION));

/** Interned sets per type (ADS order): input array → its set. Weak: a set lives as long as its array. */
const INTERNED: ReadonlyArray<WeakMap<readonly Resource[], TypeSet>> = ADS_ORDER.map(() => new WeakMap());

/** Arrays made by extendList: the array they extend and the resource added. */
const EXTENSIONS = new WeakMap<readonly Resource[], { base: readonly Resource[]; extra: Resource }>();

/**
 * `base` (sorted by name, never changed afterwards) with `extra` at its place by name, replacing
 * a resource of the same name. A snapshot given the returned array builds that type from base's
 * set (interned once for every array extending it) instead of sorting and hashing it all, and
 * checks references against base's set once for all of them: e.g. a sidecar's clusters, the
 * outbound view's clusters plus its app's.
 */
export function extendList(base: readonly Resource[], extra: Resource): readonly Resource[] {
  const lo = lowerBound(base, extra.name, (r) => r.name);
  const out = base.slice(0, lo);
  out.push(extra);
  for (let i = base[lo]?.name === extra.name ? lo + 1 : lo; i < base.length; i++) out.push(base[i]!);
  EXTENSIONS.set(out, { base, extra });
  return out;
}

function buildSet(t: TypeUrl, list: readonly Resource[]): TypeSet {
  for (const r of list) if (r.typeUrl !== t) throw new Error(`bug: a ${shortName(r.typeUrl)} resource "${r.name}" given as ${shortName(t)}`);
  const sorted = [...list].sort(byName);
  const m = new Map<string, Resource>();
  for (const r of sorted) {
    if (m.has(r.name)) throw new DuplicateResourceError(t, r.name);
    m.set(r.name, r);
  }
  return new TypeSet(t, list, m, versionOf(sorted));
}

/**
 * The set of `list` (type index i): the base snapshot's when it was built from the same array
 * or from the same resources, else the interned one, else a new one. `intern`: the array is the
 * caller's and stays unchanged (not one this module made for a single snapshot).
 */
function typeSet(i: number, list: readonly Resource[], baseSet: TypeSet | undefined, intern: boolean): TypeSet {
  if (list.length === 0) return EMPTY_SETS[i]!;
  if (baseSet?.input === list) return baseSet;
  const interned = intern ? INTERNED[i]!.get(list) : undefined;
  if (interned) return interned;
  let set: TypeSet;
  const replaced = baseSet ? replacementsOf(baseSet.input, list) : null;
  if (baseSet && replaced) set = baseSet.patchedBy(list, replaced);
  else if (baseSet && sameItems(baseSet.input, list)) set = baseSet;
  else {
    const ext = intern ? EXTENSIONS.get(list) : undefined;
    const extended = ext ? typeSet(i, ext.base, undefined, true) : undefined;
    set = ext && extended !== EMPTY_SETS[i] ? extended!.extendedBy(list, ext.extra) : buildSet(ADS_ORDER[i]!, list);
  }
  if (intern) INTERNED[i]!.set(list, set);
  return set;
}

/** Grouped input is a plain object; anything else (an array, a set, a generator) is iterated. (TypeScript checks its keys.) */
function isGrouped(x: Iterable<Resource> | ResourcesByType): x is ResourcesByType {
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

export class Snapshot {
  /** One set per type, in ADS order. */
  private readonly sets: readonly TypeSet[];
  /** Bit i: type i is the very set of the base snapshot, which had no problems. */
  private readonly checkedInBase: number;
  /** problems() found none (set once it ran). */
  private clean = false;
  private wholeVersion: string | null = null;

  /**
   * `resources`: the resources in any order, or grouped per type (ResourcesByType, a plain
   * object whose arrays never change afterwards: they are interned by identity). `base`: a
   * previous snapshot of the same group; types whose input is the very same array, or the same
   * resources in the same order, are taken over from it (no sorting, no hashing), so a snapshot
   * where one type changed costs little more than that type. `secrets`: the SDS type, given
   * apart from the translated resources (mesh security supplies them; with grouped input, an
   * array that never changes afterwards either).
   */
  constructor(resources: Iterable<Resource> | ResourcesByType, base?: Snapshot, secrets?: readonly Resource[]) {
    let sets: TypeSet[];
    if (!isGrouped(resources)) {
      const groups: Resource[][] = ADS_ORDER.map(() => []);
      const add = (r: Resource): void => {
        const i = TYPE_INDEX.get(r.typeUrl);
        if (i === undefined) throw new Error(`unsupported type ${r.typeUrl}`);
        groups[i]!.push(r);
      };
      for (const r of resources) add(r);
      if (secrets) for (const r of secrets) add(r);
      sets = groups.map((list, i) => typeSet(i, list, base?.sets[i], false));
    } else {
      const b = base?.sets;
      sets = [
        typeSet(0, resources[TYPE.CLUSTER] ?? NO_RESOURCES, b?.[0], true),
        typeSet(1, resources[TYPE.ENDPOINT] ?? NO_RESOURCES, b?.[1], true),
        typeSet(2, resources[TYPE.LISTENER] ?? NO_RESOURCES, b?.[2], true),
        typeSet(3, resources[TYPE.ROUTE] ?? NO_RESOURCES, b?.[3], true),
        typeSet(4, secrets ?? resources[TYPE.SECRET] ?? NO_RESOURCES, b?.[4], true),
      ];
    }
    let checked = 0;
    if (base?.clean) for (let i = 0; i < sets.length; i++) if (sets[i] === base.sets[i]) checked |= 1 << i;
    this.sets = sets;
    this.checkedInBase = checked;
  }

  /**
   * Identity of the whole snapshot: a hash over every type version, worked out when first
   * asked for (a reload builds thousands of sidecar snapshots; sameContent() compares them
   * without it).
   */
  get version(): string {
    const s = this.sets;
    return (this.wholeVersion ??= contentHash(s[0]!.version + s[1]!.version + s[2]!.version + s[3]!.version + s[4]!.version));
  }

  /** Whether `other` has the very same content: every type's version equal. */
  sameContent(other: Snapshot): boolean {
    if (other === this) return true;
    for (let i = 0; i < this.sets.length; i++) if (this.sets[i]!.version !== other.sets[i]!.version) return false;
    return true;
  }

  private set(typeUrl: TypeUrl): TypeSet | undefined {
    const i = TYPE_INDEX.get(typeUrl);
    return i === undefined ? undefined : this.sets[i];
  }

  /** The resources of one type by name, in name order; the same map object on every call. */
  resources(typeUrl: TypeUrl): ReadonlyMap<string, Resource> {
    return this.set(typeUrl)?.byName ?? EMPTY;
  }

  get(typeUrl: TypeUrl, name: string): Resource | undefined {
    return this.set(typeUrl)?.byName.get(name);
  }

  /** The resources of one type in name order, and their names: the same arrays on every call. */
  inOrder(typeUrl: TypeUrl): readonly Resource[] {
    return this.set(typeUrl)?.inOrder() ?? NO_RESOURCES;
  }

  names(typeUrl: TypeUrl): readonly string[] {
    return this.set(typeUrl)?.sortedNames() ?? NO_NAMES;
  }

  typeVersion(typeUrl: TypeUrl): string {
    return this.set(typeUrl)?.version ?? EMPTY_VERSION;
  }

  /** Number of resources of every type. */
  size(): number {
    let n = 0;
    for (const s of this.sets) n += s.byName.size;
    return n;
  }

  /**
   * References that point at nothing in this snapshot: a listener naming a missing route
   * configuration, an EDS cluster without its ClusterLoadAssignment, a missing secret, or a
   * route naming a missing cluster. Each would leave Envoy warming or answering 503.
   */
  problems(): SnapshotProblem[] {
    // A pair of sets (referrer, target) that both come from a base without problems resolves;
    // any other pair is checked, memoised on the pair, so sets shared by many snapshots are
    // checked once. Only a snapshot with a problem is walked resource by resource.
    const sets = this.sets;
    for (let i = 0; i < sets.length; i++) {
      const s = sets[i]!;
      const kinds = s.refKinds();
      for (let k = 0; k < REF_KINDS.length; k++) {
        if (!((kinds >> k) & 1)) continue;
        const j = REF_TARGET[k]!;
        if ((this.checkedInBase >> i) & (this.checkedInBase >> j) & 1) continue;
        if (!s.resolvesIn(k, sets[j]!)) return this.listProblems();
      }
    }
    this.clean = true;
    return [];
  }

  private listProblems(): SnapshotProblem[] {
    const out: SnapshotProblem[] = [];
    for (const s of this.sets) {
      const t = s.typeUrl;
      for (const r of s.byName.values()) {
        for (const c of r.refs.clusters) {
          if (!this.get(TYPE.CLUSTER, c)) out.push({ typeUrl: t, resource: r.name, message: `refers to cluster "${c}", which is not defined` });
        }
        for (const rc of r.refs.routes) {
          if (!this.get(TYPE.ROUTE, rc)) out.push({ typeUrl: t, resource: r.name, message: `refers to route configuration "${rc}" (RDS), which is not defined` });
        }
        for (const sec of r.refs.secrets) {
          if (!this.get(TYPE.SECRET, sec)) out.push({ typeUrl: t, resource: r.name, message: `refers to secret "${sec}" (SDS), which is not defined` });
        }
        for (const e of r.refs.endpoints) {
          if (!this.get(TYPE.ENDPOINT, e)) out.push({ typeUrl: t, resource: r.name, message: `is an EDS cluster but ClusterLoadAssignment "${e}" is not defined` });
        }
      }
    }
    return out;
  }
}

export class DuplicateResourceError extends Error {
  constructor(
    readonly typeUrl: TypeUrl,
    readonly resourceName: string,
  ) {
    super(`duplicate ${shortName(typeUrl)} resource "${resourceName}"`);
    this.name = 'DuplicateResourceError';
  }
}


function sameItems(a: readonly Resource[], b: readonly Resource[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y && (x.name !== y.name || x.version !== y.version)) return false;
  }
  return true;
}

/** Version of a list of resources (sorted by name by the caller). */
export function versionOf(list: Iterable<Resource>): string {
  const parts: string[] = [];
  for (const r of list) parts.push(r.name, '\0', r.version, '\n');
  return parts.length === 0 ? EMPTY_VERSION : contentHash(parts.join(''));
}

/** Changed names between two type maps (previous → next), for maps of many resources. */
const DIFFS = new WeakMap<ReadonlyMap<string, Resource>, WeakMap<ReadonlyMap<string, Resource>, Set<string>>>();
/** From this many resources (both maps together), a diff is memoised on the pair of maps. */
const DIFF_MEMO_MIN = 16;

/**
 * Types whose resource set differs between two snapshots, with the names that changed. The name
 * sets of large types are memoised on the pair of type sets and shared by every caller (every
 * sidecar of a view whose assignments changed gets the same one): read them, never change them.
 */
export function diffSnapshots(prev: Snapshot | undefined, next: Snapshot): Map<TypeUrl, Set<string>> {
  const changed = new Map<TypeUrl, Set<string>>();
  for (const t of ADS_ORDER) {
    if (prev && prev.typeVersion(t) === next.typeVersion(t)) continue;
    const names = changedNames(prev?.resources(t) ?? EMPTY, next.resources(t));
    if (names.size > 0) changed.set(t, names);
  }
  return changed;
}

/**
 * Names whose resource differs between two resource maps of one type (added, removed or at
 * another version); memoised on the pair of maps for large ones, so read it, never change it.
 */
export function changedBetween(a: ReadonlyMap<string, Resource>, b: ReadonlyMap<string, Resource>): ReadonlySet<string> {
  return changedNames(a, b);
}

function changedNames(a: ReadonlyMap<string, Resource>, b: ReadonlyMap<string, Resource>): Set<string> {
  const patched = PATCHES.get(a)?.get(b);
  if (patched) return patched;
  // Two patches of the same map (a proxy that skipped reloads): only their replacements can differ.
  const overlaid = overlayDifference(a, b, sameVersion);
  if (overlaid) return overlaid;
  const memo = a.size + b.size >= DIFF_MEMO_MIN;
  let byNext = memo ? DIFFS.get(a) : undefined;
  const hit = byNext?.get(b);
  if (hit) return hit;
  const names = new Set<string>();
  for (const [n, r] of b) if (a.get(n)?.version !== r.version) names.add(n);
  for (const n of a.keys()) if (!b.has(n)) names.add(n);
  if (memo) {
    if (!byNext) DIFFS.set(a, (byNext = new WeakMap()));
    byNext.set(b, names);
  }
  return names;
}

const sameVersion = (x: Resource, y: Resource): boolean => x.version === y.version;
