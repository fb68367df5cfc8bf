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
  /** Identity of the whole snapshot: a hash over every type version. */
  readonly version: string;

  constructor(resources: Iterable<Resource>) {
    const groups = new Map<TypeUrl, Resource[]>();
    for (const t of ADS_ORDER) groups.set(t, []);
    for (const r of resources) {
      const list = groups.get(r.typeUrl);
      if (!list) throw new Error(`unsupported type ${r.typeUrl}`);
      list.push(r);
    }
    for (const [t, list] of groups) {
      list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const m = new Map<string, Resource>();
      for (const r of list) {
        if (m.has(r.name)) throw new DuplicateResourceError(t, r.name);
        m.set(r.name, r);
      }
      this.byType.set(t, m);
      this.typeVersions.set(t, versionOf(list));
    }
    this.version = contentHash(...ADS_ORDER.map((t) => this.typeVersions.get(t) ?? ''));
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
    for (const t of ADS_ORDER) {
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
