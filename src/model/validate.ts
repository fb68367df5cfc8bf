// Semantic checks on a schema-valid model: references, clashes, impossible or shadowed routes,
// regexes. Pure: takes the model and a position lookup, returns diagnostics.
//
// The checks come in two kinds, so that validate-incremental.ts can re-check only what a reload
// changed:
//   - checks of one service (checkService, checkAllowRules) or one gateway (checkGateway). They
//     read the rest of the model only through ModelFacts (does service X exist, is it tcp, does
//     this subset of it select an instance, does gateway Y exist), whose reads can be recorded;
//     anything else they read of the model is only to word a report;
//   - model-wide checks (proxy names, instance ids, port clashes, the mesh block), whose inputs
//     are enumerated by the same functions the incremental checks use (instanceClaims,
//     gatewayClaims, usesAuthorization).
import { RE2JS } from 're2js';
import type { SourcePosition } from '../util/yaml-source.js';
import { type Diagnostic, didYouMean, type ModelPath } from './diagnostics.js';
import type { BackendModel, GatewayModel, GatewayRouteModel, InstanceModel, MatchModel, Model, ServiceModel, ValueMatchModel } from './schema.js';

type At = (path: ModelPath, key?: boolean) => SourcePosition;

type Report = (p: ModelPath, m: string, h?: string) => void;

/** What a check of one service or gateway may learn about another: the value of one fact. */
export type FactValue = boolean | ServiceKind;
/** 'none': no such service. */
export type ServiceKind = 'none' | 'tcp' | 'other';
/** Which part of the model a fact is about. */
export type FactSubject = 'service' | 'gateway';

/** One fact read: about which service or gateway, which fact, and its value. */
export type FactRead = readonly [FactSubject, string, string, FactValue];

/** Told each fact a check reads, and whose checks are running (validate-incremental.ts keeps them). */
export interface FactRecorder {
  /** The checks of this service or gateway start: the reads until the next call are theirs. */
  checking(kind: FactSubject, name: string): void;
  read(subject: FactSubject, name: string, fact: string, value: FactValue): void;
  /** The reads of one gateway route's checks, as one array (the same array while the route is unchanged). */
  readGroup(reads: readonly FactRead[]): void;
  /** At the end: the ids and ports the model claims, as the model-wide checks indexed them. */
  claims(index: ClaimIndex): void;
}

/**
 * The instance ids and ports a model claims, as validateModel indexes them to find clashes (each
 * key holds its first claimer; in a model without diagnostics, its only one). Handed to the
 * recorder so the incremental checks need not index a big model again.
 */
export interface ClaimIndex {
  ids: Map<string, unknown>;
  /** port → host → claim, per space (see ClaimSpace). */
  host: Map<number, Map<string, unknown>>;
  lo: Map<number, Map<string, unknown>>;
  /** port → how many claims are on an IPv4 literal (0.0.0.0 included). */
  ip: Map<number, number>;
  /** port → the claim on 0.0.0.0. */
  wildcard: Map<number, unknown>;
}

/**
 * The facts about a model that the checks of one service or gateway depend on, each named by a
 * string (`exists`, `kind`, `subset <selector>`) so that it can be recorded and read again on
 * another model (`value`).
 */
export class ModelFacts {
  recorder: FactRecorder | null = null;
  /** The reads of the group being checked (group()), if any. */
  private tapped: FactRead[] | null = null;
  private readonly subsets = new Map<string, boolean>();
  private readonly hints = new Map<string, string>();
  private serviceNameList: string[] | null = null;
  private gatewayNameList: string[] | null = null;

  constructor(
    readonly model: Model,
    /** What the checks may reuse from earlier ones (none: check everything). */
    readonly memory: CheckMemory | null = null,
  ) {}

  hasService(name: string): boolean {
    return this.read('service', name, 'exists') as boolean;
  }

  serviceKind(name: string): ServiceKind {
    return this.read('service', name, 'kind') as ServiceKind;
  }

  hasGateway(name: string): boolean {
    return this.read('gateway', name, 'exists') as boolean;
  }

  /** Whether `subset` selects at least one instance of service `name` (which exists). */
  subsetSelects(name: string, subset: Record<string, string>): boolean {
    // labelsMatch depends only on the selector's (key, value) pairs, not on their order.
    const pairs = Object.entries(subset).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return this.read('service', name, `subset ${JSON.stringify(pairs)}`) as boolean;
  }

  /** A fact's value in this model (recorded, if a recorder is set). */
  read(subject: FactSubject, name: string, fact: string): FactValue {
    const v = this.value(subject, name, fact);
    this.recorder?.read(subject, name, fact, v);
    this.tapped?.push([subject, name, fact, v]);
    return v;
  }

  /** Whether every one of `reads` (a group) has the same value in this model; if so, the group is read (recorded) again. */
  readAgain(reads: readonly FactRead[]): boolean {
    for (const [subject, name, fact, v] of reads) if (this.value(subject, name, fact) !== v) return false;
    this.recorder?.readGroup(reads);
    this.tapped?.push(...reads);
    return true;
  }

  /** Run `check`, its reads recorded as one group (returned). */
  group(check: () => void): FactRead[] {
    const recorder = this.recorder;
    const outer = this.tapped;
    this.recorder = null;
    const reads: FactRead[] = (this.tapped = []);
    try {
      check();
    } finally {
      this.recorder = recorder;
      this.tapped = outer;
    }
    recorder?.readGroup(reads);
    outer?.push(...reads);
    return reads;
  }

  private value(subject: FactSubject, name: string, fact: string): FactValue {
    if (subject === 'gateway') return this.model.gateways[name] !== undefined;
    const svc = this.model.services[name];
    if (fact === 'exists') return svc !== undefined;
    if (fact === 'kind') return svc === undefined ? 'none' : svc.protocol === 'tcp' ? 'tcp' : 'other';
    // `subset [[k, v], ...]`: counted once per validation, as thousands of routes may name the
    // same subsets of a service with a thousand instances.
    const key = `${name} ${fact}`;
    let n = this.subsets.get(key);
    if (n === undefined) {
      const selector = Object.fromEntries(JSON.parse(fact.slice('subset '.length)) as Array<[string, string]>);
      n = svc !== undefined && svc.instances.some((inst) => labelsMatch(selector, inst.labels));
      this.subsets.set(key, n);
    }
    return n;
  }

  /** For hints only (never decides whether something is reported). */
  serviceNames(): string[] {
    return (this.serviceNameList ??= Object.keys(this.model.services));
  }

  gatewayNames(): string[] {
    return (this.gatewayNameList ??= Object.keys(this.model.gateways));
  }

  /** The labels a service's instances use, for the hint of a subset that selects none. */
  labelsHint(sname: string): string {
    let h = this.hints.get(sname);
    if (h === undefined) {
      const svc = this.model.services[sname]!;
      const known = [...new Set(svc.instances.flatMap((inst) => Object.entries(inst.labels ?? {}).map(([k, v]) => `${k}=${v}`)))].sort();
      h = known.length ? `labels in use: ${known.join(', ')}` : 'its instances have no labels';
      this.hints.set(sname, h);
    }
    return h;
  }
}

export function labelsMatch(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  for (const [k, v] of Object.entries(selector)) if ((labels ?? {})[k] !== v) return false;
  return true;
}

/** Check an RE2 pattern; returns the reason it is invalid, or undefined. */
export function re2Error(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^error parsing regexp: /, '');
  }
}

/**
 * Every semantic problem of a schema-valid model, in the order the checks find them. With a
 * recorder, also tells it, per service and gateway, the facts its checks read (see ModelFacts);
 * with a memory, skips what earlier checks found clean and still is (see CheckMemory).
 */
export function validateModel(model: Model, at: At, recorder: FactRecorder | null = null, memory: CheckMemory | null = null): Diagnostic[] {
  const out: Diagnostic[] = [];
  const err: Report = (path, message, hint) => {
    out.push({ severity: 'error', message, path, position: at(path), ...(hint ? { hint } : {}) });
  };
  const warn: Report = (path, message, hint) => {
    out.push({ severity: 'warning', message, path, position: at(path), ...(hint ? { hint } : {}) });
  };
  const facts = new ModelFacts(model, memory);
  facts.recorder = recorder;

  // Names that identify proxies must not collide.
  for (const g of Object.keys(model.gateways)) {
    if (model.services[g]) err(['gateways', g], proxyNameClash(g));
  }
  // Id → index of its first path in `idPaths` (a number: the map outlives this check as the
  // incremental checks' index, the paths do not).
  const instanceIds = new Map<string, number>();
  const idPaths: ModelPath[] = [];
  for (const [sname, svc] of Object.entries(model.services)) {
    svc.instances.forEach((inst, i) => {
      const p = ['services', sname, 'instances', i, 'id'];
      const prev = instanceIds.get(inst.id);
      if (prev !== undefined) {
        const pos = at(idPaths[prev]!);
        err(p, `duplicate instance id "${inst.id}" (first used at line ${pos.line})`);
      } else instanceIds.set(inst.id, idPaths.push(p) - 1);
    });
  }

  const ports = checkPortClashes(model, err);
  checkMesh(model, err);
  for (const [sname, svc] of Object.entries(model.services)) {
    recorder?.checking('service', sname);
    checkAllowRules(sname, svc, facts, err);
  }
  for (const [sname, svc] of Object.entries(model.services)) {
    recorder?.checking('service', sname);
    checkService(sname, svc, facts, err, warn);
  }
  for (const [gname, gw] of Object.entries(model.gateways)) {
    recorder?.checking('gateway', gname);
    checkGateway(gname, gw, facts, err, warn);
  }
  recorder?.claims({ ids: instanceIds, ...ports });
  return out;
}

export function proxyNameClash(g: string): string {
  return `gateway "${g}" has the same name as a service; a proxy's node cluster must say which it is`;
}

/** Whether a service's authorization needs mTLS (mesh.mtls off with any such service is an error). */
export function usesAuthorization(svc: ServiceModel): boolean {
  return Boolean(svc.allow);
}

/** The mesh block, and whether authorization is used without mTLS (which reads every service). */
function checkMesh(model: Model, err: Report): void {
  const ttl = model.mesh.certificateTtl;
  if (ttl < 10_000 || ttl > 366 * 86_400_000) err(['mesh', 'certificateTtl'], 'a certificate lifetime from 10s to 366 days');
  const usesAuthz = model.mesh.defaultPolicy === 'deny' || Object.values(model.services).some(usesAuthorization);
  if (usesAuthz && model.mesh.mtls === 'off') {
    err(['mesh', 'mtls'], 'authorization needs mTLS: callers are identified by their certificates', 'set mesh.mtls to strict (or permissive)');
  }
}

/** One service's allow rules: callers that exist, narrowing a tcp service allows. */
export function checkAllowRules(sname: string, svc: ServiceModel, facts: ModelFacts, err: Report): void {
  (svc.allow ?? []).forEach((rule, i) => {
    const p = ['services', sname, 'allow', i];
    if (!rule.services && !rule.gateways) err(p, 'an allow rule names its callers: "services" and/or "gateways"');
    (rule.services ?? []).forEach((n, j) => {
      if (!facts.hasService(n)) err([...p, 'services', j], `unknown service "${n}"`, hint(didYouMean(n, facts.serviceNames())));
    });
    (rule.gateways ?? []).forEach((n, j) => {
      if (!facts.hasGateway(n)) err([...p, 'gateways', j], `unknown gateway "${n}"`, hint(didYouMean(n, facts.gatewayNames())));
    });
    if (svc.protocol === 'tcp' && (rule.pathPrefix || rule.methods)) err(p, 'a tcp service can only be narrowed by caller, not by path or method');
  });
}

/** One service: its tcp outbound targets, its routes (matches, backends, shadowing). */
export function checkService(sname: string, svc: ServiceModel, facts: ModelFacts, err: Report, warn: Report): void {
  const base = ['services', sname];
  if (svc.protocol === 'tcp' && svc.routes?.length) {
    err([...base, 'routes'], 'a tcp service cannot have HTTP routes', 'remove routes, or set protocol to http, http2 or grpc');
  }
  svc.instances.forEach((inst, i) => {
    for (const [target, _port] of Object.entries(inst.tcpOutbound ?? {})) {
      const p = [...base, 'instances', i, 'tcpOutbound', target];
      const kind = facts.serviceKind(target);
      if (kind === 'none') err(p, `unknown service "${target}"`, hint(didYouMean(target, facts.serviceNames())));
      else if (kind !== 'tcp') err(p, `service "${target}" is ${facts.model.services[target]!.protocol}, not tcp; the app reaches it through outboundPort by name`);
    }
  });
  const routes = svc.routes ?? [];
  routes.forEach((r, ri) => {
    const rp = [...base, 'routes', ri];
    if (r.match) checkMatch(r.match, [...rp, 'match'], err);
    checkBackends(r.backends, [...rp, 'backends'], sname, facts, err);
  });
  checkShadowing({ count: routes.length, match: (i) => routes[i]!.match, key: (i) => canonicalMatch(routes[i]!.match), path: (i) => [...base, 'routes', i] }, warn);
}

/** One gateway: its listeners, its routes (listeners, matches, backends, rewrites, shadowing). */
export function checkGateway(gname: string, gw: GatewayModel, facts: ModelFacts, err: Report, warn: Report): void {
  const base = ['gateways', gname];
  const listenerNames = new Set<string>();
  gw.listeners.forEach((l, li) => {
    const lp = [...base, 'listeners', li];
    if (listenerNames.has(l.name)) err([...lp, 'name'], `duplicate listener name "${l.name}"`);
    listenerNames.add(l.name);
    if (l.protocol === 'tcp') {
      if (!l.backend) err(lp, 'a tcp listener needs "backend": the service it forwards to');
      else {
        const kind = facts.serviceKind(l.backend);
        if (kind === 'none') err([...lp, 'backend'], `unknown service "${l.backend}"`, hint(didYouMean(l.backend, facts.serviceNames())));
        else if (kind !== 'tcp') err([...lp, 'backend'], `service "${l.backend}" is ${facts.model.services[l.backend]!.protocol}; a tcp listener forwards to a tcp service`);
      }
      if (l.hosts) err([...lp, 'hosts'], 'hosts apply to http listeners only');
    } else if (l.backend) {
      err([...lp, 'backend'], 'an http listener routes with the gateway\'s "routes"; "backend" is for tcp listeners');
    }
  });
  const httpListeners = gw.listeners.filter((l) => l.protocol === 'http').map((l) => l.name);
  const routes = gw.routes ?? [];
  if (httpListeners.length > 0 && routes.length === 0) warn([...base, 'listeners'], 'http listeners without routes answer every request with 404');
  // A route checked before against the same listeners, that reported nothing and whose facts
  // read the same now, reports nothing now: it is not checked again (a gateway with 10 000 routes
  // is checked on every reload that edits one).
  const memory = facts.memory;
  const context = memory ? JSON.stringify(gw.listeners.map((l) => [l.name, l.protocol])) : '';
  routes.forEach((r, ri) => {
    const clean = memory?.cleanGatewayRoutes.get(r);
    if (clean !== undefined && clean.listeners === context && facts.readAgain(clean.reads)) return;
    let reported = false;
    const reads = facts.group(() =>
      checkGatewayRoute(r, [...base, 'routes', ri], listenerNames, httpListeners, facts, (p, m, h) => {
        reported = true;
        err(p, m, h);
      }),
    );
    if (!reported) memory?.cleanGatewayRoutes.set(r, { listeners: context, reads });
  });
  // Each route's canonical match is computed once, not once per listener it is checked under.
  const keys: Array<string | undefined> = [];
  const keyOf = (ri: number): string => (keys[ri] ??= canonicalMatch(routes[ri]!.match));
  let shadowed = false;
  const shadowWarn: Report = (p, m, h) => {
    shadowed = true;
    warn(p, m, h);
  };
  for (const ln of httpListeners) {
    const mine: number[] = [];
    routes.forEach((r, ri) => {
      if (!r.listeners || r.listeners.includes(ln)) mine.push(ri);
    });
    checkShadowing({ count: mine.length, match: (i) => routes[mine[i]!]!.match, key: (i) => keyOf(mine[i]!), path: (i) => [...base, 'routes', mine[i]!] }, shadowWarn);
  }
  // Every http listener takes every route and none shadows another: what the next check of this
  // gateway with a few routes replaced needs to know of the others (ShadowIndex).
  if (memory && !shadowed && httpListeners.length > 0 && routes.every((r) => !r.listeners)) {
    const counts = new Map<string, number>();
    const catchAlls = new Set<number>();
    for (let ri = 0; ri < routes.length; ri++) {
      counts.set(keyOf(ri), 1);
      if (matchesEverything(routes[ri]!.match)) catchAlls.add(ri);
    }
    memory.shadowIndexes.set(routes, { counts, catchAlls });
  }
}

/**
 * A gateway's routes that no route shadows, all in one list: how many routes have each
 * canonical match (one each), and where the routes that match everything are (none, or the
 * last). Kept for the routes list it was made for (CheckMemory.shadowIndexes). It is made when
 * every http listener takes every route (each listener's list is that list); a replaced route
 * may take fewer listeners later: each listener's list is then part of the whole list, in its
 * order, and the whole list without shadowing has none in any part of it either.
 */
export interface ShadowIndex {
  readonly counts: Map<string, number>;
  readonly catchAlls: Set<number>;
}

/**
 * checkGateway for `gw`, which is `prev` (a gateway the last clean check found nothing in, with
 * the same listeners) with the routes at `at` replaced (same number of routes): only those
 * routes are checked, and their shadowing against the others through the index prev's check
 * left. (The other routes are prev's, clean; the caller compares the facts they read.) Returns the reads of each route in order
 * (prev's `groups` with the replaced ones' changed) and how to move the index to `gw`'s routes,
 * or null when it cannot say "no diagnostic" that way (the caller then checks the gateway whole).
 */
export function checkGatewayRoutesReplaced(
  gname: string,
  prev: GatewayModel,
  gw: GatewayModel,
  at: readonly number[],
  groups: ReadonlyArray<readonly FactRead[]>,
  facts: ModelFacts,
): { groups: Array<readonly FactRead[]>; moveIndex: () => void } | null {
  const memory = facts.memory;
  const old = prev.routes ?? [];
  const routes = gw.routes ?? [];
  const index = memory?.shadowIndexes.get(old);
  if (!memory || !index || prev.listeners !== gw.listeners || old.length !== routes.length || groups.length !== routes.length) return null;
  const base = ['gateways', gname];
  const listenerNames = new Set(gw.listeners.map((l) => l.name));
  const httpListeners = gw.listeners.filter((l) => l.protocol === 'http').map((l) => l.name);
  // (The index says nothing of a gateway whose routes no listener takes: they are not checked for shadowing.)
  if (httpListeners.length === 0) return null;
  const context = JSON.stringify(gw.listeners.map((l) => [l.name, l.protocol]));
  const out = groups.slice();
  const recorder = facts.recorder;
  facts.recorder = null;
  try {
    for (const i of at) {
      const r = routes[i]!;
      const clean = memory.cleanGatewayRoutes.get(r);
      if (clean !== undefined && clean.listeners === context && facts.readAgain(clean.reads)) {
        out[i] = clean.reads;
        continue;
      }
      let reported = false;
      const reads = facts.group(() =>
        checkGatewayRoute(r, [...base, 'routes', i], listenerNames, httpListeners, facts, () => {
          reported = true;
        }),
      );
      if (reported || reads.length === 0) return null;
      memory.cleanGatewayRoutes.set(r, { listeners: context, reads });
      out[i] = reads;
    }
  } finally {
    facts.recorder = recorder;
  }
  // Shadowing: the replaced routes' matches out, the new ones in; still one route per match,
  // and a route matching everything only last?
  const delta = new Map<string, number>();
  for (const i of at) {
    const a = canonicalMatch(old[i]!.match);
    const b = canonicalMatch(routes[i]!.match);
    if (a === b) continue;
    delta.set(a, (delta.get(a) ?? 0) - 1);
    delta.set(b, (delta.get(b) ?? 0) + 1);
  }
  for (const [k, d] of delta) if ((index.counts.get(k) ?? 0) + d > 1) return null;
  const catchAll = (i: number): boolean => (at.includes(i) ? matchesEverything(routes[i]!.match) : index.catchAlls.has(i));
  for (const i of index.catchAlls) if (i !== routes.length - 1 && catchAll(i)) return null;
  for (const i of at) if (i !== routes.length - 1 && matchesEverything(routes[i]!.match)) return null;
  return {
    groups: out,
    moveIndex: () => {
      for (const [k, d] of delta) {
        const n = (index.counts.get(k) ?? 0) + d;
        if (n === 0) index.counts.delete(k);
        else index.counts.set(k, n);
      }
      for (const i of at) {
        if (matchesEverything(routes[i]!.match)) index.catchAlls.add(i);
        else index.catchAlls.delete(i);
      }
      memory.shadowIndexes.delete(old);
      memory.shadowIndexes.set(routes, index);
    },
  };
}

/**
 * What checks may reuse from earlier checks (of earlier models): the gateway routes whose own
 * checks (checkGatewayRoute) reported nothing, with the listeners they were checked against
 * (names and protocols, as JSON) and the facts they read. Parsed parts are never modified, and
 * a reload keeps the objects of unchanged routes (schema-memo.ts). Owned by the incremental
 * checks (validate-incremental.ts); validateModel without it checks everything.
 */
export class CheckMemory {
  readonly cleanGatewayRoutes = new WeakMap<GatewayRouteModel, { listeners: string; reads: FactRead[] }>();
  /** A clean gateway's routes list → its ShadowIndex (made by checkGateway, moved by checkGatewayRoutesReplaced). */
  readonly shadowIndexes = new WeakMap<readonly GatewayRouteModel[], ShadowIndex>();
}

/** One gateway route's own checks: its listeners, match, backend(s) and rewrite. */
function checkGatewayRoute(r: GatewayRouteModel, rp: ModelPath, listenerNames: Set<string>, httpListeners: string[], facts: ModelFacts, err: Report): void {
  for (const [li, ln] of (r.listeners ?? []).entries()) {
    if (!listenerNames.has(ln)) err([...rp, 'listeners', li], `unknown listener "${ln}"`, hint(didYouMean(ln, listenerNames)));
    else if (!httpListeners.includes(ln)) err([...rp, 'listeners', li], `listener "${ln}" is tcp; routes attach to http listeners`);
  }
  if (r.match) checkMatch(r.match, [...rp, 'match'], err);
  if (r.backend && r.backends) err(rp, 'set either "backend" or "backends", not both');
  else if (!r.backend && !r.backends) err(rp, 'a route needs "backend" (a service) or "backends" (weighted services or subsets)');
  if (r.backend) {
    const kind = facts.serviceKind(r.backend);
    if (kind === 'none') err([...rp, 'backend'], `unknown service "${r.backend}"`, hint(didYouMean(r.backend, facts.serviceNames())));
    else if (kind === 'tcp') err([...rp, 'backend'], `service "${r.backend}" is tcp; HTTP routes need an http, http2 or grpc service`);
  }
  if (r.backends) checkBackends(r.backends, [...rp, 'backends'], undefined, facts, err);
  if (r.rewrite?.pathPrefix && r.match?.pathRegex) err([...rp, 'rewrite', 'pathPrefix'], 'a path prefix rewrite needs a path or pathPrefix match, not pathRegex');
}

function hint(guess: string | undefined): string | undefined {
  return guess ? `did you mean "${guess}"?` : undefined;
}

function checkMatch(m: MatchModel, path: ModelPath, err: Report): void {
  const kinds = (['pathPrefix', 'path', 'pathRegex'] as const).filter((k) => m[k] !== undefined);
  if (kinds.length > 1) err(path, `set only one of pathPrefix, path, pathRegex (found ${kinds.join(' and ')})`);
  if (m.pathRegex !== undefined) {
    const e = re2Error(m.pathRegex);
    if (e) err([...path, 'pathRegex'], `invalid RE2 regex: ${e}`);
  }
  for (const [kind, map] of [
    ['headers', m.headers],
    ['queryParams', m.queryParams],
  ] as const) {
    for (const [name, vm] of Object.entries(map ?? {})) {
      const p = [...path, kind, name];
      if (kind === 'headers' && name.startsWith(':')) err(p, 'pseudo-headers cannot be matched here; use path, pathPrefix or methods');
      if (kind === 'queryParams' && typeof vm === 'object' && 'absent' in vm) err(p, 'Envoy cannot match an absent query parameter', 'match on its presence or value instead');
      const re = regexOf(vm);
      if (re !== undefined) {
        const e = re2Error(re);
        if (e) err([...p, 'regex'], `invalid RE2 regex: ${e}`);
      }
    }
  }
}

function regexOf(vm: ValueMatchModel): string | undefined {
  return typeof vm === 'object' && 'regex' in vm ? vm.regex : undefined;
}

function checkBackends(backends: BackendModel[], path: ModelPath, owner: string | undefined, facts: ModelFacts, err: Report): void {
  const weighted = backends.filter((b) => b.weight !== undefined).length;
  if (weighted > 0 && weighted < backends.length) {
    err(path, 'give every backend a weight, or none (equal split)');
  }
  if (weighted === backends.length && backends.reduce((s, b) => s + (b.weight ?? 0), 0) === 0) {
    err(path, 'weights sum to zero: no traffic could be sent', 'give at least one backend a positive weight');
  }
  backends.forEach((b, i) => {
    const bp = [...path, i];
    const sname = b.service ?? owner;
    if (!sname) {
      err(bp, 'missing "service": which service does this backend send to?');
      return;
    }
    const kind = facts.serviceKind(sname);
    if (kind === 'none') {
      err([...bp, 'service'], `unknown service "${sname}"`, hint(didYouMean(sname, facts.serviceNames())));
      return;
    }
    if (kind === 'tcp') err([...bp, 'service'], `service "${sname}" is tcp; HTTP routes need an http, http2 or grpc service`);
    if (b.subset && !facts.subsetSelects(sname, b.subset)) {
      err([...bp, 'subset'], `subset ${JSON.stringify(b.subset)} selects no instance of "${sname}"`, facts.labelsHint(sname));
    }
  });
}

/** Routes checked together for shadowing, by position in their list (paths built only to warn). */
interface RouteList {
  count: number;
  match(i: number): MatchModel | undefined;
  /** canonicalMatch of route i. */
  key(i: number): string;
  path(i: number): ModelPath;
}

/** A route that matches every request hides all routes after it in the same list. */
function checkShadowing(routes: RouteList, warn: (p: ModelPath, m: string, h?: string) => void): void {
  const seen = new Map<string, number>();
  let catchAll = -1;
  for (let i = 0; i < routes.count; i++) {
    if (catchAll >= 0) {
      warn(routes.path(i), `unreachable: the route at ${describePath(routes.path(catchAll))} above matches every request`, 'move this route above it');
      continue;
    }
    const key = routes.key(i);
    const dup = seen.get(key);
    if (dup !== undefined) warn(routes.path(i), `unreachable: the route at ${describePath(routes.path(dup))} has the same match`);
    else seen.set(key, i);
    if (matchesEverything(routes.match(i))) catchAll = i;
  }
}

/**
 * Each match's canonical form, by match object: parsed parts are never modified, and a reload
 * keeps the objects of unchanged routes (schema-memo.ts), so a gateway's 10 000 routes are not
 * canonicalised again on every reload that edits one of them.
 */
const canonicalMatches = new WeakMap<MatchModel, string>();

function canonicalMatch(m: MatchModel | undefined): string {
  if (m === undefined) return canonicalMatchOf(undefined);
  let k = canonicalMatches.get(m);
  if (k === undefined) canonicalMatches.set(m, (k = canonicalMatchOf(m)));
  return k;
}

/** A match's meaning as a string: key order and method order do not matter. */
function canonicalMatchOf(m: MatchModel | undefined): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
    return v;
  };
  const norm = { ...(m ?? {}), ...(m?.methods ? { methods: [...new Set(m.methods)].sort() } : {}) };
  if (norm.pathPrefix === '/') delete norm.pathPrefix;
  return JSON.stringify(sortKeys(norm));
}

function describePath(p: ModelPath): string {
  return p.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('').replace(/^\./, '');
}

function matchesEverything(m: MatchModel | undefined): boolean {
  if (!m) return true;
  const noConditions = !m.headers && !m.queryParams && !m.methods && !m.path && !m.pathRegex;
  return noConditions && (m.pathPrefix === undefined || m.pathPrefix === '/');
}

/**
 * Who claims a port. Its path and description are built only when a clash is reported: a big
 * model claims tens of thousands of ports and (almost) never clashes.
 */
export interface PortUser {
  /** Path of the owning instance or gateway: ['services', name, 'instances', i] or ['gateways', name]. */
  owner: ModelPath;
  /** Rest of the path below the owner. */
  field: ReadonlyArray<string | number>;
  /** Which port it is, for the message (e.g. "the inbound port of u1"). */
  kind: 'inbound' | 'outbound' | 'tcpOutbound' | 'admin' | 'app' | 'listener' | 'gatewayAdmin';
  /** Instance id, listener name, or gateway name. */
  name: string;
  /** tcpOutbound target service / the listener's gateway. */
  extra?: string;
}

function userPath(u: PortUser): ModelPath {
  return [...u.owner, ...u.field];
}

function userWhat(u: PortUser): string {
  switch (u.kind) {
    case 'inbound':
      return `the inbound port of ${u.name}`;
    case 'outbound':
      return `the outbound port of ${u.name}`;
    case 'tcpOutbound':
      return `the tcp outbound port of ${u.name} for ${u.extra}`;
    case 'admin':
      return `the admin port of ${u.name}`;
    case 'app':
      return `the app of ${u.name}`;
    case 'listener':
      return `listener "${u.name}" of gateway ${u.extra}`;
    case 'gatewayAdmin':
      return `the admin port of gateway ${u.name}`;
  }
}

const PORT_FIELD = ['port'];
const OUTBOUND_FIELD = ['outboundPort'];
const ADMIN_FIELD = ['adminPort'];
const APP_FIELD = ['app'];

/**
 * Where a claimed port is: on a host (an IP or name, as a listener binds it), or on the loopback
 * of the network namespace of instance address `host` ('lo': "<address>/lo" in messages). Two
 * claims clash when they are in the same space on the same host and port, or when one is on
 * 0.0.0.0 and the other on an IPv4 literal (isIpLiteral) with the same port.
 */
export type ClaimSpace = 'host' | 'lo';
export type ClaimSink = (space: ClaimSpace, host: string, port: number, user: PortUser) => void;

export function isIpLiteral(host: string): boolean {
  return IPV4_RE.test(host);
}

/** The ports instance `owner` (['services', name, 'instances', i]) claims, in check order. */
export function instanceClaims(owner: ModelPath, inst: InstanceModel, sink: ClaimSink): void {
  const name = inst.id;
  const host = inst.address;
  sink('host', inst.bind ?? host, inst.port, { owner, field: PORT_FIELD, kind: 'inbound', name });
  // The outbound listener binds loopback in the instance's network namespace; instances
  // that share an address share that namespace (the loopback demo does).
  if (inst.outboundPort !== undefined) loopback(host, inst.outboundPort, { owner, field: OUTBOUND_FIELD, kind: 'outbound', name }, sink);
  if (inst.tcpOutbound) {
    for (const [t, port] of Object.entries(inst.tcpOutbound)) loopback(host, port, { owner, field: ['tcpOutbound', t], kind: 'tcpOutbound', name, extra: t }, sink);
  }
  if (inst.adminPort !== undefined) loopback(host, inst.adminPort, { owner, field: ADMIN_FIELD, kind: 'admin', name }, sink);
  const colon = inst.app.lastIndexOf(':');
  const appHost = inst.app.slice(0, colon);
  const appPort = Number(inst.app.slice(colon + 1));
  const app: PortUser = { owner, field: APP_FIELD, kind: 'app', name };
  if (appHost === '127.0.0.1' || appHost === 'localhost') loopback(host, appPort, app, sink);
  else sink('host', appHost, appPort, app);
}

/** The ports gateway `gname` claims, in check order. */
export function gatewayClaims(gname: string, gw: GatewayModel, sink: ClaimSink): void {
  gw.listeners.forEach((l, li) => {
    sink('host', l.address ?? '0.0.0.0', l.port, { owner: ['gateways', gname], field: ['listeners', li, 'port'], kind: 'listener', name: l.name, extra: gname });
  });
  if (gw.adminPort !== undefined) sink('host', '127.0.0.1', gw.adminPort, { owner: ['gateways', gname], field: ADMIN_FIELD, kind: 'gatewayAdmin', name: gname });
}

/** A claim on the loopback of `address`'s network namespace: the host's own loopback for local addresses. */
function loopback(address: string, port: number, user: PortUser, sink: ClaimSink): void {
  // (netns(address) === '127.0.0.1', without building "<address>/lo" for every claim)
  if (address === '127.0.0.1' || address === 'localhost' || address === '0.0.0.0') sink('host', '127.0.0.1', port, user);
  else sink('lo', address, port, user);
}

/** Reports every port clash; returns the index of the claims it kept (ClaimIndex). */
function checkPortClashes(model: Model, err: Report): Omit<ClaimIndex, 'ids'> {
  // (host, port) → first user (port → host → user). Wildcard 0.0.0.0 clashes with any
  // IP-literal binding on the port. The maps hold an index into `users` (a number: they outlive
  // this check as the incremental checks' index, the users do not).
  const users: PortUser[] = [];
  const used = new Map<number, Map<string, number>>();
  const wildcard = new Map<number, number>();
  /** Port → the first user (in claim order) that bound it on an IP literal, and how many did. */
  const firstIpUser = new Map<number, number>();
  const ipClaims = new Map<number, number>();
  const claim = (host: string, port: number, user: PortUser): void => {
    let onPort = used.get(port);
    if (!onPort) used.set(port, (onPort = new Map()));
    const ip = isIpLiteral(host);
    const prev = onPort.get(host) ?? (ip ? wildcard.get(port) : undefined);
    if (prev !== undefined) {
      const p = users[prev]!;
      err(userPath(user), `port clash: ${userWhat(user)} uses ${host}:${port}, already used by ${userWhat(p)} (${describePath(userPath(p))})`);
      return;
    }
    const u = users.push(user) - 1;
    if (host === '0.0.0.0') {
      const first = firstIpUser.get(port);
      if (first !== undefined) {
        const f = users[first]!;
        err(userPath(user), `port clash: ${userWhat(user)} listens on all addresses at port ${port}, already used by ${userWhat(f)} (${describePath(userPath(f))})`);
        return;
      }
      wildcard.set(port, u);
    }
    onPort.set(host, u);
    if (ip) {
      if (!firstIpUser.has(port)) firstIpUser.set(port, u);
      ipClaims.set(port, (ipClaims.get(port) ?? 0) + 1);
    }
  };
  // Loopback of an instance's own network namespace: netns(address). Hosts "<address>/lo" are
  // never IP literals and never equal a plain host (no host in the model contains "/"), so they
  // are kept apart, by address, without building a string per claim.
  const usedLo = new Map<number, Map<string, number>>();
  const claimLo = (address: string, port: number, user: PortUser): void => {
    let onPort = usedLo.get(port);
    if (!onPort) usedLo.set(port, (onPort = new Map()));
    const prev = onPort.get(address);
    if (prev !== undefined) {
      const p = users[prev]!;
      err(userPath(user), `port clash: ${userWhat(user)} uses ${netns(address)}:${port}, already used by ${userWhat(p)} (${describePath(userPath(p))})`);
      return;
    }
    onPort.set(address, users.push(user) - 1);
  };
  const sink: ClaimSink = (space, host, port, user) => (space === 'host' ? claim(host, port, user) : claimLo(host, port, user));
  for (const [sname, svc] of Object.entries(model.services)) {
    svc.instances.forEach((inst, i) => instanceClaims(['services', sname, 'instances', i], inst, sink));
  }
  for (const [gname, gw] of Object.entries(model.gateways)) gatewayClaims(gname, gw, sink);
  return { host: used, lo: usedLo, ip: ipClaims, wildcard };
}

const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Loopback of the network namespace an address stands for. */
function netns(address: string): string {
  return address === '127.0.0.1' || address === 'localhost' || address === '0.0.0.0' ? '127.0.0.1' : `${address}/lo`;
}
