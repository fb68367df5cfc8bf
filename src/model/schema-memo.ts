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
import { deepEqual } from '../ir/model-diff.js';
import { Gateway, GatewayRoute, type GatewayRouteModel, LIMITS, type Model, ModelSchema, Name, Service } from './schema.js';

const TOP_KEYS = new Set(['version', 'mesh', 'services', 'gateways']);

interface Part<T> {
  raw: unknown;
  parsed: T;
}

/** A part's schema check: its result, or undefined if it is not valid. */
type PartParse<T> = (v: unknown) => T | undefined;

function bySchema<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): PartParse<T> {
  return (v) => {
    const r = schema.safeParse(v);
    return r.success ? r.data : undefined;
  };
}

const parseService = bySchema(Service as { safeParse(v: unknown): { success: true; data: Model['services'][string] } | { success: false } });
const parseGatewayWhole = bySchema(Gateway as { safeParse(v: unknown): { success: true; data: Model['gateways'][string] } | { success: false } });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Entries of a name → part map, each checked (or reused); undefined if any is not valid. */
function parts<T>(raw: unknown, limit: number, parse: PartParse<T>, prev: Map<string, Part<T>>, next: Map<string, Part<T>>): Record<string, T> | undefined {
  if (raw === undefined) return Object.create(null) as Record<string, T>;
  if (!isPlainObject(raw)) return undefined;
  const keys = Object.keys(raw);
  if (keys.length > limit) return undefined;
  const out = Object.create(null) as Record<string, T>;
  for (const k of keys) {
    const v = raw[k];
    const hit = prev.get(k);
    if (hit && (hit.raw === v || deepEqual(hit.raw, v))) {
      out[k] = hit.parsed;
      next.set(k, hit.raw === v ? hit : { raw: v, parsed: hit.parsed });
      continue;
    }
    if (!Name.safeParse(k).success) return undefined;
    const parsed = parse(v);
    if (parsed === undefined) return undefined;
    out[k] = parsed;
    next.set(k, { raw: v, parsed });
  }
  return out;
}

export class ModelSchemaMemo {
  private services = new Map<string, Part<Model['services'][string]>>();
  private gateways = new Map<string, Part<Model['gateways'][string]>>();
  private mesh: Part<Model['mesh']> | null = null;
  /**
   * Each gateway route's result by its raw object: a gateway whose routes changed re-checks only
   * those (raw-memo.ts gives the unchanged routes' raw objects again). Raw values are never
   * modified, and a route's result depends on its raw value alone.
   */
  private readonly gatewayRoutes = new WeakMap<object, GatewayRouteModel>();
  private readonly parseGateway: PartParse<Model['gateways'][string]> = (v) => this.gateway(v);

  /** ModelSchema.safeParse(raw) when it succeeds; undefined means "ask ModelSchema" (it may fail). */
  parse(raw: unknown): Model | undefined {
    if (!isPlainObject(raw)) return undefined;
    for (const k of Object.keys(raw)) if (!TOP_KEYS.has(k)) return undefined;
    if (raw['version'] !== 1) return undefined;
    const mesh = this.parseMesh(raw['mesh']);
    if (!mesh) return undefined;
    const nextServices = new Map<string, Part<Model['services'][string]>>();
    const nextGateways = new Map<string, Part<Model['gateways'][string]>>();
    const services = parts(raw['services'], LIMITS.services, parseService, this.services, nextServices);
    if (!services) return undefined;
    const gateways = parts(raw['gateways'], LIMITS.gateways, this.parseGateway, this.gateways, nextGateways);
    if (!gateways) return undefined;
    this.services = nextServices;
    this.gateways = nextGateways;
    this.mesh = mesh;
    return { version: 1, mesh: mesh.parsed, services, gateways };
  }

  /**
   * Gateway.safeParse(v)'s result: the gateway without its routes by the Gateway schema, each
   * route by GatewayRoute (the array's only other rule, its length, checked here), so that a
   * route whose raw object was checked before is not checked again.
   */
  private gateway(v: unknown): Model['gateways'][string] | undefined {
    const routes = isPlainObject(v) ? v['routes'] : undefined;
    if (!Array.isArray(routes) || routes.length > LIMITS.routesPerGateway) return parseGatewayWhole(v);
    const rest = parseGatewayWhole({ ...(v as Record<string, unknown>), routes: [] });
    if (rest === undefined) return undefined;
    const parsed: GatewayRouteModel[] = new Array(routes.length);
    for (let i = 0; i < routes.length; i++) {
      const r: unknown = routes[i];
      let p = typeof r === 'object' && r !== null ? this.gatewayRoutes.get(r) : undefined;
      if (p === undefined) {
        const res = GatewayRoute.safeParse(r);
        if (!res.success) return undefined;
        p = res.data;
        if (typeof r === 'object' && r !== null) this.gatewayRoutes.set(r, p);
      }
      parsed[i] = p;
    }
    // The schema's output, whose routes (an empty list) sit where the schema puts them.
    rest.routes = parsed;
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

