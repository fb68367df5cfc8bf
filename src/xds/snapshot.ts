// An immutable, consistent set of resources for one proxy group. Built once, shared by every
// stream that serves the group. Per-type versions are content hashes over the sorted
// (name, version) pairs, so identical input gives identical versions after a restart.
import { contentHash, type Resource } from './resource.js';
import { ADS_ORDER, shortName, TYPE, type TypeUrl } from './type-urls.js';

export interface SnapshotProblem {
  typeUrl: TypeUrl;
  resource: string;
  message: string;
}

export class Snapshot {
  private readonly byType = new Map<TypeUrl, ReadonlyMap<string, Resource>>();
  private readonly typeVersions = new Map<TypeUrl, string>();
  /** Each type's resources in the order they were given (what derive() compares). */
  private readonly inputs = new Map<TypeUrl, readonly Resource[]>();
  /** Types derive() took over unchanged from the previous snapshot. */
  private readonly reused = new Set<TypeUrl>();
  /** problems() found none (set once it ran). */
  private checkedClean = false;
  /** Built on a clean base, and no name of a reused type's possible targets went away. */
  private readonly onlyNewTypesNeedChecks: boolean;
  /** Identity of the whole snapshot: a hash over every type version. */
  readonly version: string;

  /**
   * `base`: a previous snapshot of the same group. Types whose resources are the very same
   * objects in the same order are taken over from it (no sorting, no hashing), so a snapshot
   * where one type changed costs little more than that type.
   */
  constructor(resources: Iterable<Resource>, base?: Snapshot) {
    const groups = new Map<TypeUrl, Resource[]>();
    for (const t of ADS_ORDER) groups.set(t, []);
    for (const r of resources) {
      const list = groups.get(r.typeUrl);
      if (!list) throw new Error(`unsupported type ${r.typeUrl}`);
      list.push(r);
    }
    for (const [t, list] of groups) {
      this.inputs.set(t, list);
      const prev = base?.inputs.get(t);
      if (base && prev && sameItems(prev, list)) {
        this.byType.set(t, base.byType.get(t)!);
        this.typeVersions.set(t, base.typeVersions.get(t)!);
        this.reused.add(t);
        continue;
      }
      const sorted = [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const m = new Map<string, Resource>();
      for (const r of sorted) {
        if (m.has(r.name)) throw new DuplicateResourceError(t, r.name);
        m.set(r.name, r);
      }
      this.byType.set(t, m);
      this.typeVersions.set(t, versionOf(sorted));
    }
    this.version = contentHash(...ADS_ORDER.map((t) => this.typeVersions.get(t) ?? ''));
    let lostName = false;
    if (base && this.reused.size > 0) {
      for (const t of ADS_ORDER) {
        if (this.reused.has(t)) continue;
        const now = this.byType.get(t)!;
        for (const n of base.resources(t).keys()) if (!now.has(n)) lostName = true;
      }
    }
    this.onlyNewTypesNeedChecks = base !== undefined && base.checkedClean && this.reused.size > 0 && !lostName;
  }

  resources(typeUrl: TypeUrl): ReadonlyMap<string, Resource> {
    return this.byType.get(typeUrl) ?? EMPTY;
  }

  get(typeUrl: TypeUrl, name: string): Resource | undefined {
    return this.byType.get(typeUrl)?.get(name);
  }

  typeVersion(typeUrl: TypeUrl): string {
    return this.typeVersions.get(typeUrl) ?? EMPTY_VERSION;
  }

  /** Number of resources of every type. */
  size(): number {
    let n = 0;
    for (const m of this.byType.values()) n += m.size;
    return n;
  }

  /**
   * References that point at nothing in this snapshot: a listener naming a missing route
   * configuration, an EDS cluster without its ClusterLoadAssignment, a missing secret, or a
   * route naming a missing cluster. Each would leave Envoy warming or answering 503.
   */
  problems(): SnapshotProblem[] {
    const out: SnapshotProblem[] = [];
    // Built on a base without problems where no name went away: only the types that changed
    // can have new problems (reused resources point at names that all still exist).
    for (const t of ADS_ORDER) {
      if (this.onlyNewTypesNeedChecks && this.reused.has(t)) continue;
      for (const r of this.resources(t).values()) {
        for (const c of r.refs.clusters) {
          if (!this.get(TYPE.CLUSTER, c)) out.push({ typeUrl: t, resource: r.name, message: `refers to cluster "${c}", which is not defined` });
        }
        for (const rc of r.refs.routes) {
          if (!this.get(TYPE.ROUTE, rc)) out.push({ typeUrl: t, resource: r.name, message: `refers to route configuration "${rc}" (RDS), which is not defined` });
        }
        for (const s of r.refs.secrets) {
          if (!this.get(TYPE.SECRET, s)) out.push({ typeUrl: t, resource: r.name, message: `refers to secret "${s}" (SDS), which is not defined` });
        }
        for (const e of r.refs.endpoints) {
          if (!this.get(TYPE.ENDPOINT, e)) out.push({ typeUrl: t, resource: r.name, message: `is an EDS cluster but ClusterLoadAssignment "${e}" is not defined` });
        }
      }
    }
    this.checkedClean = out.length === 0;
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

const EMPTY: ReadonlyMap<string, Resource> = new Map();

function sameItems(a: readonly Resource[], b: readonly Resource[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y && (x.name !== y.name || x.version !== y.version)) return false;
  }
  return true;
}
const EMPTY_VERSION = contentHash('');

/** Version of a list of resources (sorted by name by the caller). */
export function versionOf(list: Iterable<Resource>): string {
  const parts: string[] = [];
  for (const r of list) parts.push(r.name, '\0', r.version, '\n');
  return parts.length === 0 ? EMPTY_VERSION : contentHash(parts.join(''));
}

/** Types whose resource set differs between two snapshots, with the names that changed. */
export function diffSnapshots(prev: Snapshot | undefined, next: Snapshot): Map<TypeUrl, Set<string>> {
  const changed = new Map<TypeUrl, Set<string>>();
  for (const t of ADS_ORDER) {
    if (prev && prev.typeVersion(t) === next.typeVersion(t)) continue;
    const names = new Set<string>();
    const a = prev?.resources(t) ?? EMPTY;
    const b = next.resources(t);
    for (const [n, r] of b) if (a.get(n)?.version !== r.version) names.add(n);
    for (const n of a.keys()) if (!b.has(n)) names.add(n);
    if (names.size > 0) changed.set(t, names);
  }
  return changed;
}
