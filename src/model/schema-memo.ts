// The schema check of a valid model, part by part, reusing the previous load's result for each
// service and gateway whose raw value is unchanged. A live edit of a 1000-service model
// re-validates the service it touched; the result is exactly ModelSchema's (the parts are
// checked with the same schemas; anything unusual is left to ModelSchema), and a reused part is
// the very object the previous load returned, so the model diff (ir/model-diff.ts) finds it
// unchanged at once.
//
// "Unchanged" is first a matter of identity: raw-memo.ts gives the very raw object of the last
// load for a part whose text is unchanged, so those parts cost one comparison each. A raw value
// that is a new object (its text changed, or the text was read whole) is compared deeply; when
// it is equal (a comment or layout edit), the new raw object is kept, so the next load finds it
// by identity.
//
// A gateway's routes and a service's instances are checked item by item (each item's result
// kept by its raw object), so a changed part re-checks the items that changed; and when the raw
// memo says which names it read again in a map otherwise the last one (raw-memo.ts
// entriesReplacedSince), only those names are looked at.
import { z } from 'zod';
import { noteReplaced, replacedSince } from '../ir/list-edits.js';
import { canonicalGateway, canonicalService, deepEqual, notePartChanges } from '../ir/model-diff.js';
import { entriesReplacedSince, namesReplacedSince, replacementCount } from './raw-memo.js';
import { Gateway, GatewayRoute, type GatewayRouteModel, Instance, type InstanceModel, LIMITS, type Model, ModelSchema, Name, Service } from './schema.js';

const TOP_KEYS = new Set(['version', 'mesh', 'services', 'gateways']);

interface Part<T> {
  raw: unknown;
  parsed: T;
}

/** A part's schema check: its result, or undefined if it is not valid. `last`: the last result of its name and the raw value it came from, if any. */
type PartParse<T> = (v: unknown, last?: { raw: unknown; parsed: T }) => T | undefined;

function bySchema<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): PartParse<T> {
  return (v) => {
    const r = schema.safeParse(v);
    return r.success ? r.data : undefined;
  };
}

const parseServiceWhole = bySchema(Service as { safeParse(v: unknown): { success: true; data: Model['services'][string] } | { success: false } });
/**
 * A service without its instances (`instances: null`): the Service schema's result but for
 * them, its keys in the schema's order, instances where the schema puts them (so that the
 * instances, each checked by Instance, go in their place).
 */
const parseServiceRest = bySchema(Service.extend({ instances: z.null() }) as unknown as { safeParse(v: unknown): { success: true; data: Model['services'][string] } | { success: false } });
const parseGatewayWhole = bySchema(Gateway as { safeParse(v: unknown): { success: true; data: Model['gateways'][string] } | { success: false } });

/**
 * deepEqual(a, b) for raw parts; a part whose item list (a gateway's routes, a service's
 * instances) is recorded as a's but at a few places (raw-memo.ts) is compared at those places
 * and in its other keys only.
 */
function sameRaw(a: unknown, b: unknown, listKey: string): boolean {
  if (isPlainObject(a) && isPlainObject(b) && Array.isArray(a[listKey]) && Array.isArray(b[listKey])) {
    const ra = a[listKey];
    const rb = b[listKey];
    const at = replacedSince(ra, rb);
    if (at !== undefined) {
      for (const i of at) if (!deepEqual(ra[i], rb[i])) return false;
      return deepEqual({ ...a, [listKey]: null }, { ...b, [listKey]: null });
    }
  }
  return deepEqual(a, b);
}

/**
 * The items of a part's raw list `items`, each checked by `item` (which reuses the result of a
 * raw item checked before), or undefined if one is not valid. When the raw list is recorded as
 * `lastRaw` but at a few places (raw-memo.ts), the last result's items (`lastParsed`, each the
 * result for the raw item at its place, or an equal object) with those places checked, and
 * recorded the same way for the model diff (canonicalService, canonicalGateway).
 */
function itemsOf<T extends object>(items: readonly unknown[], lastRaw: unknown, lastParsed: readonly T[] | undefined, item: (r: unknown) => T | undefined): T[] | undefined {
  const at = Array.isArray(lastRaw) ? replacedSince(lastRaw, items) : undefined;
  if (at !== undefined && lastParsed !== undefined && lastParsed.length === items.length) {
    const parsed = lastParsed.slice();
    for (const i of at) {
      const p = item(items[i]);
      if (p === undefined) return undefined;
      parsed[i] = p;
    }
    noteReplaced(parsed, lastParsed, at);
    return parsed;
  }
  const parsed: T[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const p = item(items[i]);
    if (p === undefined) return undefined;
    parsed[i] = p;
  }
  return parsed;
}

/** `schema`'s result for a raw item, the one found before for the same raw object (a result depends on the raw value alone, and raw values are never modified). */
function memoizedItem<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, memo: WeakMap<object, T>): (r: unknown) => T | undefined {
  return (r) => {
    let p = typeof r === 'object' && r !== null ? memo.get(r) : undefined;
    if (p === undefined) {
      const res = schema.safeParse(r);
      if (!res.success) return undefined;
      p = res.data;
      if (typeof r === 'object' && r !== null) memo.set(r, p);
    }
    return p;
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The services or gateways of the last valid model: each part's raw value and result by name,
 * and the raw map and the map returned for it. A reload gets the very map back when no part
 * changed (raw-memo.ts gives the same raw map then, and an equal one costs a look at each part),
 * and otherwise a new map recorded as the last one but for the names that changed
 * (ir/model-diff.ts notePartChanges), so that the IR's model diff looks at those alone. A changed
 * part is made canonical against the last map's part of its name (ir/model-diff.ts): its
 * unchanged instances, routes and listeners are the last objects, as the IR's diff would make
 * them, and the IR's diff takes it as it is.
 */
class PartMap<T extends object> {
  /** Each name's part (a cache: a load that fails part-way leaves correct entries of its own). */
  private readonly byName = new Map<string, Part<T>>();
  private raw: unknown = undefined;
  /** The raw map's replacementCount when it was kept: the raw memo may replace its entries in place since. */
  private rawCount = 0;
  private keys: string[] = [];
  private out: Record<string, T> | null = null;

  constructor(
    private readonly limit: number,
    private readonly parse: PartParse<T>,
    private readonly canonical: (prev: T, next: T) => T,
    /** The key of the list a part is read item by item (raw-memo.ts), for sameRaw. */
    private readonly listKey: string,
  ) {}

  /**
   * The parts of `raw`, each checked (or reused), and `commit` to make them the last model's;
   * undefined if any is not valid.
   */
  parts(raw: unknown): { parsed: Record<string, T>; commit: () => void } | undefined {
    const prevOut = this.out;
    if (raw === this.raw && prevOut !== null) {
      // The same map: the same entries, but for those the raw memo replaced in it since.
      const replaced = isPlainObject(raw) ? namesReplacedSince(raw, this.rawCount) : NO_NAMES;
      if (replaced?.length === 0) return { parsed: prevOut, commit: NOTHING };
      if (replaced !== undefined) return this.partsEdited(raw as Record<string, unknown>, replaced, prevOut);
    }
    if (raw === undefined) {
      const empty = Object.create(null) as Record<string, T>;
      return { parsed: empty, commit: () => this.keep(raw, [], empty, null) };
    }
    if (!isPlainObject(raw)) return undefined;
    // The raw memo made this map from the last one, the same names in the same order: only the names it read again are looked at.
    const edited = prevOut !== null && isPlainObject(this.raw) && raw !== this.raw ? editedSinceKept(this.raw, this.rawCount, raw) : undefined;
    if (edited !== undefined && prevOut !== null) return this.partsEdited(raw, edited, prevOut);
    const keys = Object.keys(raw);
    if (keys.length > this.limit) return undefined;
    const prevKeys = this.keys;
    const changed: string[] = [];
    let out: Record<string, T> | null = null;
    let kept = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const v = raw[k];
      const before = prevOut !== null ? prevOut[k] : undefined;
      const parsed = this.part(k, v, before);
      if (parsed === undefined) return undefined;
      if (before !== undefined) kept++;
      if (parsed !== before) changed.push(k);
      // A new map from the first name that is not the last map's, in its place (the names before it are).
      if (out === null && (parsed !== before || prevKeys[i] !== k)) {
        out = Object.create(null) as Record<string, T>;
        for (let j = 0; j < i; j++) out[keys[j]!] = prevOut![keys[j]!]!;
      }
      if (out !== null) out[k] = parsed;
    }
    // Names gone (the last map has names this one did not keep).
    const gone = prevOut !== null && kept < prevKeys.length ? prevKeys.filter((k) => !Object.prototype.hasOwnProperty.call(raw, k)) : NO_NAMES;
    if (out === null && (prevOut === null || gone.length > 0)) out = pick(prevOut ?? {}, keys);
    const parsed = out ?? prevOut!;
    if (out !== null && prevOut !== null) notePartChanges(out, prevOut, gone.length ? [...changed, ...gone] : changed);
    return { parsed, commit: () => this.keep(raw, keys, parsed, gone) };
  }

  /** Part `k` of raw value `v`, checked or reused, canonical against `before` (the last map's part of its name); undefined if it is not valid. */
  private part(k: string, v: unknown, before: T | undefined): T | undefined {
    const hit = this.byName.get(k);
    let parsed: T;
    if (hit && (hit.raw === v || sameRaw(hit.raw, v, this.listKey))) {
      parsed = hit.parsed;
      // (A load that failed after this part was read left it here: made canonical against the last map's.)
      if (before !== undefined && parsed !== before) parsed = this.canonical(before, parsed);
      if (hit.raw !== v || parsed !== hit.parsed) this.byName.set(k, { raw: v, parsed });
      return parsed;
    }
    if (!Name.safeParse(k).success) return undefined;
    // Canonical against the last map's part (what notePartChanges promises), else the last one read.
    const base = before ?? hit?.parsed;
    // (The last result read for this name with its raw value: a failed load may have left a newer one than the last map's.)
    const p = this.parse(v, hit);
    if (p === undefined) return undefined;
    parsed = base !== undefined ? this.canonical(base, p) : p;
    this.byName.set(k, { raw: v, parsed });
    return parsed;
  }

  /**
   * parts(raw) when raw has the last raw map's names in its order and differs from it at most
   * at the names `edited` (raw-memo.ts entriesReplacedSince): those parts checked, every other
   * one the last map's.
   */
  private partsEdited(raw: Record<string, unknown>, edited: readonly string[], prevOut: Record<string, T>): { parsed: Record<string, T>; commit: () => void } | undefined {
    const changed: string[] = [];
    const parts: T[] = [];
    for (const k of edited) {
      const before = prevOut[k];
      const parsed = this.part(k, raw[k], before);
      if (parsed === undefined) return undefined;
      if (parsed !== before) {
        changed.push(k);
        parts.push(parsed);
      }
    }
    const keys = this.keys;
    if (changed.length === 0) return { parsed: prevOut, commit: () => this.keep(raw, keys, prevOut, NO_NAMES) };
    // A new map (the last one is the last model's), the names in the same order.
    const out = Object.create(null) as Record<string, T>;
    for (const k of keys) out[k] = prevOut[k]!;
    for (let i = 0; i < changed.length; i++) out[changed[i]!] = parts[i]!;
    notePartChanges(out, prevOut, changed);
    return { parsed: out, commit: () => this.keep(raw, keys, out, NO_NAMES) };
  }

  private keep(raw: unknown, keys: string[], out: Record<string, T>, gone: readonly string[] | null): void {
    if (gone === null) this.byName.clear();
    else for (const k of gone) this.byName.delete(k);
    this.raw = raw;
    this.rawCount = isPlainObject(raw) ? replacementCount(raw) : 0;
    this.keys = keys;
    this.out = out;
  }
}

/**
 * The names whose values may differ between the map kept (`base`, as it was when its
 * replacementCount was `count`) and `map`, which the raw memo made from `base` as it was then:
 * those it read again, those it had replaced in `base` in place before, and those it has
 * replaced in `map` in place since. Undefined if not known.
 */
function editedSinceKept(base: Record<string, unknown>, count: number, map: object): readonly string[] | undefined {
  const edited = entriesReplacedSince(base, map);
  if (edited === undefined) return undefined;
  const before = namesReplacedSince(base, count);
  const after = namesReplacedSince(map, 0);
  if (before === undefined || after === undefined) return undefined;
  return before.length === 0 && after.length === 0 ? edited : [...new Set([...edited, ...before, ...after])];
}

const NOTHING = (): void => {};
const NO_NAMES: readonly string[] = [];

function pick<T>(m: Record<string, T>, keys: readonly string[]): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const k of keys) out[k] = m[k]!;
  return out;
}

export class ModelSchemaMemo {
  private readonly services = new PartMap<Model['services'][string]>(LIMITS.services, (v, last) => this.service(v, last), canonicalService, 'instances');
  private readonly gateways = new PartMap<Model['gateways'][string]>(LIMITS.gateways, (v, last) => this.gateway(v, last), canonicalGateway, 'routes');
  private mesh: Part<Model['mesh']> | null = null;
  /** The last model returned: returned again when its mesh block, services and gateways are. */
  private last: Model | null = null;
  /**
   * Each gateway route's result by its raw object: a gateway whose routes changed re-checks only
   * those (raw-memo.ts gives the unchanged routes' raw objects again). Raw values are never
   * modified, and a route's result depends on its raw value alone.
   */
  private readonly gatewayRoute = memoizedItem(GatewayRoute as { safeParse(v: unknown): { success: true; data: GatewayRouteModel } | { success: false } }, new WeakMap());
  /** Each service instance's result by its raw object (as gatewayRoute: a service whose instances changed re-checks only those). */
  private readonly instance = memoizedItem(Instance as { safeParse(v: unknown): { success: true; data: InstanceModel } | { success: false } }, new WeakMap());

  /** ModelSchema.safeParse(raw) when it succeeds; undefined means "ask ModelSchema" (it may fail). */
  parse(raw: unknown): Model | undefined {
    if (!isPlainObject(raw)) return undefined;
    for (const k of Object.keys(raw)) if (!TOP_KEYS.has(k)) return undefined;
    if (raw['version'] !== 1) return undefined;
    const mesh = this.parseMesh(raw['mesh']);
    if (!mesh) return undefined;
    const services = this.services.parts(raw['services']);
    if (!services) return undefined;
    const gateways = this.gateways.parts(raw['gateways']);
    if (!gateways) return undefined;
    services.commit();
    gateways.commit();
    this.mesh = mesh;
    const last = this.last;
    if (last !== null && last.mesh === mesh.parsed && last.services === services.parsed && last.gateways === gateways.parsed) return last;
    return (this.last = { version: 1, mesh: mesh.parsed, services: services.parsed, gateways: gateways.parsed });
  }

  /**
   * Gateway.safeParse(v)'s result: the gateway without its routes by the Gateway schema, each
   * route by GatewayRoute (the array's only other rule, its length, checked here), so that a
   * route whose raw object was checked before is not checked again.
   */
  private gateway(v: unknown, last?: { raw: unknown; parsed: Model['gateways'][string] }): Model['gateways'][string] | undefined {
    const routes = isPlainObject(v) ? v['routes'] : undefined;
    if (!Array.isArray(routes) || routes.length > LIMITS.routesPerGateway) return parseGatewayWhole(v);
    const rest = parseGatewayWhole({ ...(v as Record<string, unknown>), routes: [] });
    if (rest === undefined) return undefined;
    const lastRaw = last && isPlainObject(last.raw) ? last.raw['routes'] : undefined;
    const parsed = itemsOf(routes, lastRaw, last?.parsed.routes, this.gatewayRoute);
    if (parsed === undefined) return undefined;
    // The schema's output, whose routes (an empty list) sit where the schema puts them.
    rest.routes = parsed;
    return rest;
  }

  /**
   * Service.safeParse(v)'s result, as gateway(): the service without its instances, each
   * instance by Instance (the array's other rules, its length, checked here), so that an
   * instance whose raw object was checked before is not checked again.
   */
  private service(v: unknown, last?: { raw: unknown; parsed: Model['services'][string] }): Model['services'][string] | undefined {
    const instances = isPlainObject(v) ? v['instances'] : undefined;
    // A service seen for the first time is checked whole: remembering each instance's result
    // for every service of M10k (100 000) would cost ~4 MB for services most never edited.
    if (last === undefined || !Array.isArray(instances) || instances.length < 1 || instances.length > LIMITS.instancesPerService) return parseServiceWhole(v);
    const rest = parseServiceRest({ ...(v as Record<string, unknown>), instances: null });
    if (rest === undefined) return undefined;
    const lastRaw = last && isPlainObject(last.raw) ? last.raw['instances'] : undefined;
    const parsed = itemsOf(instances, lastRaw, last?.parsed.instances, this.instance);
    if (parsed === undefined) return undefined;
    rest.instances = parsed;
    return rest;
  }

  /** The mesh block, the last load's object when its raw value is unchanged. */
  private parseMesh(raw: unknown): Part<Model['mesh']> | undefined {
    const hit = this.mesh;
    if (hit && (hit.raw === raw || deepEqual(hit.raw, raw))) return hit;
    const r = ModelSchema.shape.mesh.safeParse(raw);
    return r.success ? { raw, parsed: r.data as Model['mesh'] } : undefined;
  }
}

