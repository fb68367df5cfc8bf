// What changed between two validated models, expressed as object identity: `canonicalize`
// returns the new model with every part that is deep-equal to the previous model's replaced by
// the previous object. Downstream memos (IR, translation, snapshots) then compare by identity:
// an unchanged service, instance, gateway route or mesh block is the very same object, so the
// work a reload does grows with the edit, not with the model. Cost: a part that is already the
// previous object (the schema memo, model/schema-memo.ts, returns the same object for an
// unchanged service or gateway) is kept without looking inside it; any other part is compared
// deeply (plain JSON data, no allocation while equal). A reload that changed one service costs one
// identity check per other service.
import { noteReplaced, replacedSince } from './list-edits.js';
import { Instance, Service, type GatewayModel, type InstanceModel, type Model, type ServiceModel } from '../model/schema.js';

/**
 * An instance's keys, from the schema itself. Instances are most of a big model, and comparing
 * a fixed list of keys is several times faster than walking each object's keys; the schema is
 * strict, so a validated instance has no other keys.
 */
const INSTANCE_KEYS = Object.keys(Instance.shape) as Array<keyof InstanceModel>;
/** A service's keys besides its instances (compared by identity after reuseElements). */
const SERVICE_KEYS = (Object.keys(Service.shape) as Array<keyof ServiceModel>).filter((k) => k !== 'instances');

function sameInstance(a: InstanceModel, b: InstanceModel): boolean {
  if (a === b) return true;
  for (const k of INSTANCE_KEYS) {
    const x = a[k];
    const y = b[k];
    if (x !== y && (typeof x !== 'object' || !deepEqual(x, y))) return false;
  }
  return true;
}

/** Deep equality of plain JSON data (objects, arrays, strings, numbers, booleans, null). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  let n = 0;
  for (const k in ao) {
    if (!Object.prototype.hasOwnProperty.call(ao, k)) continue;
    n++;
    if (!Object.prototype.hasOwnProperty.call(bo, k) || !deepEqual(ao[k], bo[k])) return false;
  }
  for (const k in bo) if (Object.prototype.hasOwnProperty.call(bo, k)) n--;
  return n === 0;
}

/**
 * `next`'s list with each element deep-equal to `prev`'s element at the same index replaced by
 * it: `prev` itself when that is every element, `next` itself when none is replaced (so that a
 * list already canonical comes back as it is).
 */
function reuseElements<T>(prev: readonly T[] | undefined, next: T[] | undefined, equal: (a: T, b: T) => boolean = deepEqual): T[] | undefined {
  if (!prev || !next) return next;
  let same = prev.length === next.length;
  let replaced = false;
  /** The places where the result holds another object than `prev` (when the lengths agree). */
  const at: number[] = [];
  const out = next.map((x, i) => {
    const p = prev[i];
    if (p === x) return x;
    if (p !== undefined && equal(p, x)) {
      replaced = true;
      return p;
    }
    same = false;
    at.push(i);
    return x;
  });
  if (same) return prev as T[];
  const result = replaced ? out : next;
  // Consumers of the list (the IR of a gateway's routes) look at those places only (list-edits.ts).
  if (prev.length === next.length && result !== prev) noteReplaced(result, prev, at);
  return result;
}

/**
 * A service made canonical against the previous one of its name (see the file header): `next`
 * itself when nothing in it is replaced by a previous object (so that a canonical service comes
 * back as it is).
 */
export function canonicalService(prev: ServiceModel | undefined, next: ServiceModel): ServiceModel {
  if (!prev || prev === next) return prev ?? next;
  // Keep unchanged instances, routes and rules, so per-instance work is reused.
  const instances = reuseElements(prev.instances, next.instances, sameInstance)!;
  if (instances === prev.instances && SERVICE_KEYS.every((k) => deepEqual(prev[k], next[k]))) return prev;
  const routes = reuseElements(prev.routes, next.routes);
  const allow = next.allow && deepEqual(prev.allow, next.allow) ? prev.allow! : next.allow;
  if (instances === next.instances && routes === next.routes && allow === next.allow) return next;
  const out: ServiceModel = { ...next, instances };
  if (next.routes) out.routes = routes!;
  if (next.allow) out.allow = allow!;
  return out;
}

/** A gateway made canonical against the previous one of its name (`next` itself when nothing in it is replaced). */
export function canonicalGateway(prev: GatewayModel | undefined, next: GatewayModel): GatewayModel {
  if (!prev || prev === next) return prev ?? next;
  // Routes recorded as prev's but at a few places (the loader's one-route edit): only those are looked at.
  const at = prev.routes && next.routes ? replacedSince(prev.routes, next.routes) : undefined;
  if (at !== undefined) return canonicalGatewayAt(prev, next, at);
  if (deepEqual(prev, next)) return prev;
  const listeners = reuseElements(prev.listeners, next.listeners)!;
  const routes = reuseElements(prev.routes, next.routes);
  if (listeners === next.listeners && routes === next.routes) return next;
  const out: GatewayModel = { ...next, listeners };
  if (next.routes) out.routes = routes!;
  return out;
}

/** canonicalGateway when next's routes are prev's but at the places `at` (ir/list-edits.ts). */
function canonicalGatewayAt(prev: GatewayModel, next: GatewayModel, at: readonly number[]): GatewayModel {
  const before = prev.routes!;
  let routes = next.routes!;
  let copy: GatewayModel['routes'] | null = null;
  const still: number[] = [];
  for (const i of at) {
    const p = before[i]!;
    const x = routes[i]!;
    if (p === x) continue;
    if (deepEqual(p, x)) (copy ??= routes.slice())[i] = p;
    else still.push(i);
  }
  if (still.length === 0) routes = before as NonNullable<GatewayModel['routes']>;
  else if (copy) {
    routes = copy;
    noteReplaced(routes, before, still);
  }
  const listeners = reuseElements(prev.listeners, next.listeners)!;
  const rest = (g: GatewayModel): GatewayModel => ({ ...g, listeners: [], routes: [] });
  if (routes === before && listeners === prev.listeners && deepEqual(rest(prev), rest(next))) return prev;
  if (listeners === next.listeners && routes === next.routes) return next;
  return { ...next, listeners, routes };
}

/** Names whose part is not the previous object (changed or added), and names gone. */
export interface NameChanges {
  changed: readonly string[];
  removed: readonly string[];
}

/** What differs between two canonical models: null means everything (there was no previous model). */
export interface ModelChanges {
  mesh: boolean;
  services: NameChanges;
  gateways: NameChanges;
}

const NO_NAMES: readonly string[] = [];
const NO_CHANGES: NameChanges = { changed: NO_NAMES, removed: NO_NAMES };

/**
 * Where a services or gateways map came from, when its maker knows (the schema memo,
 * model/schema-memo.ts): `base` with the parts named in `changed` added, replaced or removed,
 * every other name's part the very object `base` has, and each changed part already canonical
 * against `base`'s of its name (canonicalService, canonicalGateway). With `base` the previous
 * model's map, canonicalMap takes those names as they are instead of looking at every name.
 */
// Keyed by the base, weakly both ways: a map must not keep the map it was made from alive (a
// model's map made from the last one at every reload would hold every earlier model, a chain
// through all history: ~1 MB per reload of M1k).
const provenance = new WeakMap<object, WeakMap<object, readonly string[]>>();

/** Record that `map` is `base` but for the parts named in `changed` (see provenance). */
export function notePartChanges(map: object, base: object, changed: readonly string[]): void {
  let byMap = provenance.get(base);
  if (!byMap) provenance.set(base, (byMap = new WeakMap()));
  byMap.set(map, changed);
}

/** The names `map` may differ in from `base`, if its maker recorded them against that very map. */
export function partChangesSince(base: object, map: object): readonly string[] | undefined {
  return provenance.get(base)?.get(map);
}

/** `next` with every part equal to `prev`'s replaced by `prev`'s object (see the file header). */
export function canonicalize(prev: Model | null, next: Model): Model {
  return canonicalizeWithChanges(prev, next).model;
}

/** canonicalize, and which names changed (null: no previous model). */
export function canonicalizeWithChanges(prev: Model | null, next: Model): { model: Model; changes: ModelChanges | null } {
  if (!prev) return { model: next, changes: null };
  if (prev === next) return { model: prev, changes: { mesh: false, services: NO_CHANGES, gateways: NO_CHANGES } };
  // Unchanged collections stay the same objects too (callers skip work on them).
  const services = canonicalMap(prev.services, next.services, canonicalService);
  const gateways = canonicalMap(prev.gateways, next.gateways, canonicalGateway);
  const mesh = prev.mesh === next.mesh || deepEqual(prev.mesh, next.mesh) ? prev.mesh : next.mesh;
  const changes = { mesh: mesh !== prev.mesh, services: services.changes, gateways: gateways.changes };
  // `next` itself when all its parts are canonical already; `prev` when nothing changed.
  if (mesh === prev.mesh && services.map === prev.services && gateways.map === prev.gateways && next.version === prev.version) return { model: prev, changes };
  if (mesh === next.mesh && services.map === next.services && gateways.map === next.gateways) return { model: next, changes };
  return { model: { ...next, mesh, services: services.map, gateways: gateways.map }, changes };
}

/**
 * `next`'s parts made canonical against `prev`'s of the same name, and the names that changed:
 * `prev` itself when every part is the previous one (and none was added or removed), `next`
 * itself when each of its parts is already canonical (the previous object, or a changed one
 * `canonical` keeps), else a new map without a prototype, like the schema's (a name such as
 * "constructor" finds nothing unless it is there). When `next` records its changes against
 * `prev` (notePartChanges), those names are taken as they are (canonical already) and no other
 * name is looked at.
 */
function canonicalMap<T>(prev: Record<string, T>, next: Record<string, T>, canonical: (p: T | undefined, n: T) => T): { map: Record<string, T>; changes: NameChanges } {
  if (prev === next) return { map: prev, changes: NO_CHANGES };
  const known = partChangesSince(prev, next);
  if (known) {
    const changed: string[] = [];
    const removed: string[] = [];
    for (const name of known) {
      if (next[name] !== undefined) changed.push(name);
      else if (prev[name] !== undefined) removed.push(name);
    }
    return { map: changed.length || removed.length ? next : prev, changes: changed.length || removed.length ? { changed, removed } : NO_CHANGES };
  }
  const names = Object.keys(next);
  const changed: string[] = [];
  let removed: string[] = [];
  let out: Record<string, T> | null = null;
  let added = 0;
  for (let k = 0; k < names.length; k++) {
    const name = names[k]!;
    const p = prev[name];
    const n = next[name]!;
    const c = canonical(p, n);
    if (c !== p) {
      changed.push(name);
      if (p === undefined) added++;
    }
    if (c !== n && out === null) {
      // The first part that is not `next`'s: a copy of `next` (whose parts so far are canonical).
      out = Object.create(null) as Record<string, T>;
      for (let j = 0; j < k; j++) out[names[j]!] = next[names[j]!]!;
    }
    if (out !== null) out[name] = c;
  }
  // Names gone: looked for only when some are (`prev` has more names than `next` kept).
  if (countKeys(prev) > names.length - added) removed = Object.keys(prev).filter((name) => next[name] === undefined);
  if (changed.length === 0 && removed.length === 0) return { map: prev, changes: NO_CHANGES };
  return { map: out ?? next, changes: { changed, removed } };
}

function countKeys(o: object): number {
  let n = 0;
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) n++;
  return n;
}
