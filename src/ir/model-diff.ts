// What changed between two validated models, expressed as object identity: `canonicalize`
// returns the new model with every part that is deep-equal to the previous model's replaced by
// the previous object. Downstream memos (IR, translation, snapshots) then compare by identity:
// an unchanged service, instance, gateway route or mesh block is the very same object, so the
// work a reload does grows with the edit, not with the model. Cost: a part that is already the
// previous object (the schema memo, model/schema-memo.ts, returns the same object for an
// unchanged service or gateway) is kept without looking inside it; any other part is compared
// deeply (plain JSON data, no allocation while equal). A reload that changed one service costs one
// identity check per other service.
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

/** `next`'s list with each element deep-equal to `prev`'s element at the same index replaced by it. */
function reuseElements<T>(prev: readonly T[] | undefined, next: T[] | undefined, equal: (a: T, b: T) => boolean = deepEqual): T[] | undefined {
  if (!prev || !next) return next;
  let same = prev.length === next.length;
  const out = next.map((x, i) => {
    const p = prev[i];
    if (p !== undefined && equal(p, x)) return p;
    same = false;
    return x;
  });
  return same ? (prev as T[]) : out;
}

function canonicalService(prev: ServiceModel | undefined, next: ServiceModel): ServiceModel {
  if (!prev || prev === next) return prev ?? next;
  // Keep unchanged instances, routes and rules, so per-instance work is reused.
  const instances = reuseElements(prev.instances, next.instances, sameInstance)!;
  if (instances === prev.instances && SERVICE_KEYS.every((k) => deepEqual(prev[k], next[k]))) return prev;
  const out: ServiceModel = { ...next, instances };
  if (next.routes) out.routes = reuseElements(prev.routes, next.routes)!;
  if (next.allow) out.allow = deepEqual(prev.allow, next.allow) ? prev.allow! : next.allow;
  return out;
}

function canonicalGateway(prev: GatewayModel | undefined, next: GatewayModel): GatewayModel {
  if (!prev || prev === next) return prev ?? next;
  if (deepEqual(prev, next)) return prev;
  const out: GatewayModel = { ...next, listeners: reuseElements(prev.listeners, next.listeners)! };
  if (next.routes) out.routes = reuseElements(prev.routes, next.routes)!;
  return out;
}

/** `next` with every part equal to `prev`'s replaced by `prev`'s object (see the file header). */
export function canonicalize(prev: Model | null, next: Model): Model {
  if (!prev || prev === next) return prev ?? next;
  // Unchanged collections stay the same objects too (callers skip work on them).
  const services = canonicalMap(prev.services, next.services, canonicalService);
  const gateways = canonicalMap(prev.gateways, next.gateways, canonicalGateway);
  return { ...next, mesh: deepEqual(prev.mesh, next.mesh) ? prev.mesh : next.mesh, services, gateways };
}

/**
 * `next`'s parts made canonical against `prev`'s of the same name: `prev` itself when every part
 * is the previous one (and none was added or removed), else a new map without a prototype, like
 * the schema's (a name such as "constructor" finds nothing unless it is there).
 */
function canonicalMap<T>(prev: Record<string, T>, next: Record<string, T>, canonical: (p: T | undefined, n: T) => T): Record<string, T> {
  const names = Object.keys(next);
  const out = Object.create(null) as Record<string, T>;
  let same = true;
  for (const name of names) {
    const p = prev[name];
    const c = canonical(p, next[name]!);
    if (c !== p) same = false;
    out[name] = c;
  }
  return same && names.length === Object.keys(prev).length ? prev : out;
}
