// Make-before-break: a resource the proxy may still use is not removed until nothing it holds
// refers to it. Clusters are kept while a held route or listener names them, endpoints while
// a held cluster needs them, route configurations while a held listener names them, secrets
// while a held listener or cluster names them.
import type { Resource, ResourceRefs } from './resource.js';
import type { Snapshot } from './snapshot.js';
import { TYPE, type TypeUrl } from './type-urls.js';

const REFERRERS: Partial<Record<TypeUrl, ReadonlyArray<readonly [TypeUrl, keyof ResourceRefs]>>> = {
  [TYPE.CLUSTER]: [
    [TYPE.LISTENER, 'clusters'],
    [TYPE.ROUTE, 'clusters'],
  ],
  [TYPE.ENDPOINT]: [[TYPE.CLUSTER, 'endpoints']],
  [TYPE.ROUTE]: [[TYPE.LISTENER, 'routes']],
  [TYPE.SECRET]: [
    [TYPE.LISTENER, 'secrets'],
    [TYPE.CLUSTER, 'secrets'],
  ],
};

/** Resources of one type that the proxy may hold, for every type. */
export type HeldLookup = (t: TypeUrl) => Iterable<Resource>;

/**
 * Resources of type `t` that are gone from `snapshot` but still referenced by something the
 * proxy holds, keyed by name. Empty (and cheap) in the common case where nothing held is gone.
 */
export function retainedResources(t: TypeUrl, snapshot: Snapshot, held: HeldLookup): Map<string, Resource> {
  const out = new Map<string, Resource>();
  const referrers = REFERRERS[t];
  if (!referrers) return out;
  const current = snapshot.resources(t);
  let missing: Map<string, Resource> | undefined;
  for (const r of held(t)) {
    if (!current.has(r.name)) (missing ??= new Map()).set(r.name, r);
  }
  if (!missing) return out;
  for (const [refType, kind] of referrers) {
    for (const holder of held(refType)) {
      for (const name of holder.refs[kind]) {
        const r = missing.get(name);
        if (r) out.set(name, r);
      }
    }
  }
  return out;
}

/** Names a set of resources of one type needs of `kind` (e.g. the endpoints of clusters). */
export function refsOf(resources: Iterable<Resource>, kind: keyof ResourceRefs): Set<string> {
  const s = new Set<string>();
  for (const r of resources) for (const n of r.refs[kind]) s.add(n);
  return s;
}
