// Semantic checks on a schema-valid model: references, clashes, impossible or shadowed routes,
// regexes. Pure: takes the model and a position lookup, returns diagnostics.
import { RE2JS } from 're2js';
import type { SourcePosition } from '../util/yaml-source.js';
import { type Diagnostic, didYouMean, type ModelPath } from './diagnostics.js';
import type { BackendModel, MatchModel, Model, ServiceModel, ValueMatchModel } from './schema.js';

type At = (path: ModelPath, key?: boolean) => SourcePosition;

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

export function validateModel(model: Model, at: At): Diagnostic[] {
  const out: Diagnostic[] = [];
  const err = (path: ModelPath, message: string, hint?: string): void => {
    out.push({ severity: 'error', message, path, position: at(path), ...(hint ? { hint } : {}) });
  };
  const warn = (path: ModelPath, message: string, hint?: string): void => {
    out.push({ severity: 'warning', message, path, position: at(path), ...(hint ? { hint } : {}) });
  };
  const serviceNames = Object.keys(model.services);

  // Names that identify proxies must not collide.
  for (const g of Object.keys(model.gateways)) {
    if (model.services[g]) err(['gateways', g], `gateway "${g}" has the same name as a service; a proxy's node cluster must say which it is`);
  }
  const instanceIds = new Map<string, ModelPath>();
  for (const [sname, svc] of Object.entries(model.services)) {
    svc.instances.forEach((inst, i) => {
      const p = ['services', sname, 'instances', i, 'id'];
      const prev = instanceIds.get(inst.id);
      if (prev) {
        const pos = at(prev);
        err(p, `duplicate instance id "${inst.id}" (first used at line ${pos.line})`);
      } else instanceIds.set(inst.id, p);
    });
  }

  checkPortClashes(model, err);
  checkSecurity(model, err, serviceNames);
  const subsets = new SubsetCache();

  for (const [sname, svc] of Object.entries(model.services)) {
    const base = ['services', sname];
    if (svc.protocol === 'tcp' && svc.routes?.length) {
      err([...base, 'routes'], 'a tcp service cannot have HTTP routes', 'remove routes, or set protocol to http, http2 or grpc');
    }
    svc.instances.forEach((inst, i) => {
      for (const [target, _port] of Object.entries(inst.tcpOutbound ?? {})) {
        const p = [...base, 'instances', i, 'tcpOutbound', target];
        const t = model.services[target];
        if (!t) err(p, `unknown service "${target}"`, hint(didYouMean(target, serviceNames)));
        else if (t.protocol !== 'tcp') err(p, `service "${target}" is ${t.protocol}, not tcp; the app reaches it through outboundPort by name`);
      }
    });
    const routes = svc.routes ?? [];
    routes.forEach((r, ri) => {
      const rp = [...base, 'routes', ri];
      if (r.match) checkMatch(r.match, [...rp, 'match'], err);
      checkBackends(model, r.backends, [...rp, 'backends'], sname, err, serviceNames, subsets);
    });
    checkShadowing({ count: routes.length, match: (i) => routes[i]!.match, key: (i) => canonicalMatch(routes[i]!.match), path: (i) => [...base, 'routes', i] }, warn);
  }

  for (const [gname, gw] of Object.entries(model.gateways)) {
    const base = ['gateways', gname];
    const listenerNames = new Set<string>();
    gw.listeners.forEach((l, li) => {
      const lp = [...base, 'listeners', li];
      if (listenerNames.has(l.name)) err([...lp, 'name'], `duplicate listener name "${l.name}"`);
      listenerNames.add(l.name);
      if (l.protocol === 'tcp') {
        if (!l.backend) err(lp, 'a tcp listener needs "backend": the service it forwards to');
        else {
          const svc = model.services[l.backend];
          if (!svc) err([...lp, 'backend'], `unknown service "${l.backend}"`, hint(didYouMean(l.backend, serviceNames)));
          else if (svc.protocol !== 'tcp') err([...lp, 'backend'], `service "${l.backend}" is ${svc.protocol}; a tcp listener forwards to a tcp service`);
        }
        if (l.hosts) err([...lp, 'hosts'], 'hosts apply to http listeners only');
      } else if (l.backend) {
        err([...lp, 'backend'], 'an http listener routes with the gateway\'s "routes"; "backend" is for tcp listeners');
      }
    });
    const httpListeners = gw.listeners.filter((l) => l.protocol === 'http').map((l) => l.name);
    const routes = gw.routes ?? [];
    if (httpListeners.length > 0 && routes.length === 0) warn([...base, 'listeners'], 'http listeners without routes answer every request with 404');
    routes.forEach((r, ri) => {
      const rp = [...base, 'routes', ri];
      for (const [li, ln] of (r.listeners ?? []).entries()) {
        if (!listenerNames.has(ln)) err([...rp, 'listeners', li], `unknown listener "${ln}"`, hint(didYouMean(ln, listenerNames)));
        else if (!httpListeners.includes(ln)) err([...rp, 'listeners', li], `listener "${ln}" is tcp; routes attach to http listeners`);
      }
      if (r.match) checkMatch(r.match, [...rp, 'match'], err);
      if (r.backend && r.backends) err(rp, 'set either "backend" or "backends", not both');
      else if (!r.backend && !r.backends) err(rp, 'a route needs "backend" (a service) or "backends" (weighted services or subsets)');
      if (r.backend) {
        const svc = model.services[r.backend];
        if (!svc) err([...rp, 'backend'], `unknown service "${r.backend}"`, hint(didYouMean(r.backend, serviceNames)));
        else if (svc.protocol === 'tcp') err([...rp, 'backend'], `service "${r.backend}" is tcp; HTTP routes need an http, http2 or grpc service`);
      }
      if (r.backends) checkBackends(model, r.backends, [...rp, 'backends'], undefined, err, serviceNames, subsets);
      if (r.rewrite?.pathPrefix && r.match?.pathRegex) err([...rp, 'rewrite', 'pathPrefix'], 'a path prefix rewrite needs a path or pathPrefix match, not pathRegex');
    });
    // Each route's canonical match is computed once, not once per listener it is checked under.
    const keys: Array<string | undefined> = [];
    const keyOf = (ri: number): string => (keys[ri] ??= canonicalMatch(routes[ri]!.match));
    for (const ln of httpListeners) {
      const mine: number[] = [];
      routes.forEach((r, ri) => {
        if (!r.listeners || r.listeners.includes(ln)) mine.push(ri);
      });
      checkShadowing({ count: mine.length, match: (i) => routes[mine[i]!]!.match, key: (i) => keyOf(mine[i]!), path: (i) => [...base, 'routes', mine[i]!] }, warn);
    }
  }
  return out;
}

function checkSecurity(model: Model, err: (p: ModelPath, m: string, h?: string) => void, serviceNames: string[]): void {
  const ttl = model.mesh.certificateTtl;
  if (ttl < 10_000 || ttl > 366 * 86_400_000) err(['mesh', 'certificateTtl'], 'a certificate lifetime from 10s to 366 days');
  const gatewayNames = Object.keys(model.gateways);
  const usesAuthz = model.mesh.defaultPolicy === 'deny' || Object.values(model.services).some((s) => s.allow);
  if (usesAuthz && model.mesh.mtls === 'off') {
    err(['mesh', 'mtls'], 'authorization needs mTLS: callers are identified by their certificates', 'set mesh.mtls to strict (or permissive)');
  }
  for (const [sname, svc] of Object.entries(model.services)) {
    (svc.allow ?? []).forEach((rule, i) => {
      const p = ['services', sname, 'allow', i];
      if (!rule.services && !rule.gateways) err(p, 'an allow rule names its callers: "services" and/or "gateways"');
      (rule.services ?? []).forEach((n, j) => {
        if (!model.services[n]) err([...p, 'services', j], `unknown service "${n}"`, hint(didYouMean(n, serviceNames)));
      });
      (rule.gateways ?? []).forEach((n, j) => {
        if (!model.gateways[n]) err([...p, 'gateways', j], `unknown gateway "${n}"`, hint(didYouMean(n, gatewayNames)));
      });
      if (svc.protocol === 'tcp' && (rule.pathPrefix || rule.methods)) err(p, 'a tcp service can only be narrowed by caller, not by path or method');
    });
  }
}

function hint(guess: string | undefined): string | undefined {
  return guess ? `did you mean "${guess}"?` : undefined;
}

function checkMatch(m: MatchModel, path: ModelPath, err: (p: ModelPath, m: string, h?: string) => void): void {
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

function checkBackends(
  model: Model,
  backends: BackendModel[],
  path: ModelPath,
  owner: string | undefined,
  err: (p: ModelPath, m: string, h?: string) => void,
  serviceNames: string[],
  subsets: SubsetCache,
): void {
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
    const svc: ServiceModel | undefined = model.services[sname];
    if (!svc) {
      err([...bp, 'service'], `unknown service "${sname}"`, hint(didYouMean(sname, serviceNames)));
      return;
    }
    if (svc.protocol === 'tcp') err([...bp, 'service'], `service "${sname}" is tcp; HTTP routes need an http, http2 or grpc service`);
    if (b.subset) {
      if (subsets.count(sname, svc, b.subset) === 0) {
        err([...bp, 'subset'], `subset ${JSON.stringify(b.subset)} selects no instance of "${sname}"`, subsets.labelsHint(sname, svc));
      }
    }
  });
}

/**
 * How many instances of a service a subset selects, and the labels a service's instances use,
 * each computed once per validation: thousands of routes may name the same subsets of a service
 * with a thousand instances.
 */
class SubsetCache {
  private readonly counts = new Map<string, number>();
  private readonly hints = new Map<string, string>();

  count(sname: string, svc: ServiceModel, subset: Record<string, string>): number {
    // labelsMatch depends only on the selector's (key, value) pairs, not on their order.
    const pairs = Object.entries(subset).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = JSON.stringify([sname, pairs]);
    let n = this.counts.get(key);
    if (n === undefined) {
      n = svc.instances.filter((inst) => labelsMatch(subset, inst.labels)).length;
      this.counts.set(key, n);
    }
    return n;
  }

  labelsHint(sname: string, svc: ServiceModel): string {
    let h = this.hints.get(sname);
    if (h === undefined) {
      const known = [...new Set(svc.instances.flatMap((inst) => Object.entries(inst.labels ?? {}).map(([k, v]) => `${k}=${v}`)))].sort();
      h = known.length ? `labels in use: ${known.join(', ')}` : 'its instances have no labels';
      this.hints.set(sname, h);
    }
    return h;
  }
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

/** A match's meaning as a string: key order and method order do not matter. */
function canonicalMatch(m: MatchModel | undefined): string {
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
interface PortUser {
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

function checkPortClashes(model: Model, err: (p: ModelPath, m: string, h?: string) => void): void {
  // (host, port) → first user (port → host → user). Wildcard 0.0.0.0 clashes with any
  // IP-literal binding on the port.
  const used = new Map<number, Map<string, PortUser>>();
  const wildcard = new Map<number, PortUser>();
  /** Port → the first user (in claim order) that bound it on an IP literal. */
  const firstIpUser = new Map<number, PortUser>();
  const isIp = (h: string): boolean => IPV4_RE.test(h);
  const claim = (host: string, port: number, user: PortUser): void => {
    let onPort = used.get(port);
    if (!onPort) used.set(port, (onPort = new Map()));
    const ip = isIp(host);
    const prev = onPort.get(host) ?? (ip ? wildcard.get(port) : undefined);
    if (prev) {
      err(userPath(user), `port clash: ${userWhat(user)} uses ${host}:${port}, already used by ${userWhat(prev)} (${describePath(userPath(prev))})`);
      return;
    }
    if (host === '0.0.0.0') {
      const first = firstIpUser.get(port);
      if (first) {
        err(userPath(user), `port clash: ${userWhat(user)} listens on all addresses at port ${port}, already used by ${userWhat(first)} (${describePath(userPath(first))})`);
        return;
      }
      wildcard.set(port, user);
    }
    onPort.set(host, user);
    if (ip && !firstIpUser.has(port)) firstIpUser.set(port, user);
  };
  // Loopback of an instance's own network namespace: netns(address). Hosts "<address>/lo" are
  // never IP literals and never equal a plain host (no host in the model contains "/"), so they
  // are kept apart, by address, without building a string per claim.
  const usedLo = new Map<number, Map<string, PortUser>>();
  const claimLo = (address: string, port: number, user: PortUser): void => {
    const host = netns(address);
    if (host === '127.0.0.1') return claim(host, port, user);
    let onPort = usedLo.get(port);
    if (!onPort) usedLo.set(port, (onPort = new Map()));
    const prev = onPort.get(address);
    if (prev) {
      err(userPath(user), `port clash: ${userWhat(user)} uses ${host}:${port}, already used by ${userWhat(prev)} (${describePath(userPath(prev))})`);
      return;
    }
    onPort.set(address, user);
  };
  for (const [sname, svc] of Object.entries(model.services)) {
    svc.instances.forEach((inst, i) => {
      const owner = ['services', sname, 'instances', i];
      const name = inst.id;
      const host = inst.address;
      claim(inst.bind ?? host, inst.port, { owner, field: PORT_FIELD, kind: 'inbound', name });
      // The outbound listener binds loopback in the instance's network namespace; instances
      // that share an address share that namespace (the loopback demo does).
      if (inst.outboundPort !== undefined) claimLo(host, inst.outboundPort, { owner, field: OUTBOUND_FIELD, kind: 'outbound', name });
      if (inst.tcpOutbound) {
        for (const [t, port] of Object.entries(inst.tcpOutbound)) claimLo(host, port, { owner, field: ['tcpOutbound', t], kind: 'tcpOutbound', name, extra: t });
      }
      if (inst.adminPort !== undefined) claimLo(host, inst.adminPort, { owner, field: ADMIN_FIELD, kind: 'admin', name });
      const colon = inst.app.lastIndexOf(':');
      const appHost = inst.app.slice(0, colon);
      const appPort = Number(inst.app.slice(colon + 1));
      const app: PortUser = { owner, field: APP_FIELD, kind: 'app', name };
      if (appHost === '127.0.0.1' || appHost === 'localhost') claimLo(host, appPort, app);
      else claim(appHost, appPort, app);
    });
  }
  for (const [gname, gw] of Object.entries(model.gateways)) {
    gw.listeners.forEach((l, li) => {
      claim(l.address ?? '0.0.0.0', l.port, { owner: ['gateways', gname], field: ['listeners', li, 'port'], kind: 'listener', name: l.name, extra: gname });
    });
    if (gw.adminPort !== undefined) claim('127.0.0.1', gw.adminPort, { owner: ['gateways', gname], field: ADMIN_FIELD, kind: 'gatewayAdmin', name: gname });
  }
}

const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Loopback of the network namespace an address stands for. */
function netns(address: string): string {
  return address === '127.0.0.1' || address === 'localhost' || address === '0.0.0.0' ? '127.0.0.1' : `${address}/lo`;
}
