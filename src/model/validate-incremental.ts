// The semantic checks of a reloaded model, re-run only for what changed since the last model that
// had no diagnostic at all (the baseline). A reload of a 10 000-service model that edits one
// service checks that service, the facts other checks read about it, and its ids and ports
// against indexes of the rest, instead of the whole model (M10k: ~0.3 s → ~3 ms, most of it one
// pass over the service names).
//
// It only ever decides "no diagnostic". Whenever the changed parts could give one (or the mesh
// block changed, or too much changed to be worth it), the full check (validate.ts
// validateModel) runs and its diagnostics are the result, so every diagnostic, its message,
// position and order, is the full check's own. A model without diagnostics becomes the new
// baseline; one with diagnostics leaves the baseline as it was, so fixing an edit is again
// checked incrementally.
//
// Why "no diagnostic" holds for the new model when the incremental checks find nothing (with
// the baseline B clean, the mesh block unchanged, and "changed" meaning a service or gateway
// object that is not B's, which the schema memo guarantees for unchanged text):
//   - the checks of one service or gateway (checkService, checkAllowRules, checkGateway) depend
//     on the part itself and on the facts they read through ModelFacts. Changed parts are
//     checked again. An unchanged part reads the same facts as in B; each fact is about one
//     service or gateway, so only facts about changed or removed ones can differ, and those are
//     read again on the new model and compared with B's values (recorded per reader);
//   - instance ids and port claims: B's are indexed by key (validateModel's own index, each key
//     claimed once in B); the changed parts' old ids and claims are taken out and their new
//     ones put in; a key claimed twice (or a wildcard and another IPv4 claim on one port) is a
//     clash, and only keys the change touched can newly have one;
//   - a gateway named like a service: only a changed or added part can newly collide;
//   - authorization without mTLS: with mtls off, B had no service with an allow list, so only a
//     changed service can add one; the certificate lifetime is the mesh block's.
// A changed gateway is cheap too when few of its routes changed: its routes found clean before
// are not checked again while their facts read the same (CheckMemory, validate.ts), and their
// reads are kept per route (the same array while the route is unchanged), so only the changed
// routes' reads are taken out and put in. When its routes list records which places differ
// from the baseline's (ir/list-edits.ts: the loader's one-route edit) and its listeners are the
// same object, only those routes are checked at all, and their shadowing against an index of
// the others' matches (validate.ts checkGatewayRoutesReplaced): every other route is clean in
// the baseline and its reads stay recorded (a fact it read that changed is found below), and
// shadowing is a matter of one route per match and a catch-all only last.
// test/model/validate-incremental.test.ts compares this with the full check on thousands of
// edit sequences.
import { isDeepStrictEqual } from 'node:util';
import { replacedSince } from '../ir/list-edits.js';
import { partChangesSince } from '../ir/model-diff.js';
import type { SourcePosition } from '../util/yaml-source.js';
import type { Diagnostic, ModelPath } from './diagnostics.js';
import type { GatewayModel, Model, ServiceModel } from './schema.js';
import {
  checkAllowRules,
  checkGateway,
  checkGatewayRoutesReplaced,
  CheckMemory,
  type ClaimIndex,
  checkService,
  type ClaimSink,
  type FactRead,
  type FactRecorder,
  type FactSubject,
  type FactValue,
  gatewayClaims,
  instanceClaims,
  isIpLiteral,
  ModelFacts,
  usesAuthorization,
  validateModel,
} from './validate.js';

type At = (path: ModelPath, key?: boolean) => SourcePosition;

/**
 * Past this many changed parts, and three quarters of the model, the full check is as cheap.
 * M1k with the instance ports of K services changed, median load in process: 4.9 ms at K = 250,
 * ~10 ms at 500, 23 ms at 1000 checked incrementally; 24 ms with the full check at any K. The
 * cut was at a quarter: under S4's churn a reload of 300 changes then took 5× one of 250, so a
 * slow reload (a major GC) made the next ones slower still.
 */
const MAX_CHANGED = 64;

/**
 * The reads of one service's or gateway's checks: single reads, and groups (one per gateway
 * route: a route unchanged since the last check gives the very same array, validate.ts), kept as
 * a multiset so that a gateway whose routes changed is compared group by group.
 */
interface EntityReads {
  loose: FactRead[];
  groups: Array<readonly FactRead[]>;
}

const NO_READS: EntityReads = { loose: [], groups: [] };

/** The reads of each service's and gateway's checks (only those that read anything). */
class Recording implements FactRecorder {
  readonly services = new Map<string, EntityReads>();
  readonly gateways = new Map<string, EntityReads>();
  private kind: FactSubject = 'service';
  private name = '';

  checking(kind: FactSubject, name: string): void {
    this.kind = kind;
    this.name = name;
  }

  read(subject: FactSubject, name: string, fact: string, value: FactValue): void {
    this.entity().loose.push([subject, name, fact, value]);
  }

  /** The full check's claim index (validateModel hands it over at the end). */
  index: ClaimIndex | null = null;

  claims(index: ClaimIndex): void {
    this.index = index;
  }

  readGroup(reads: readonly FactRead[]): void {
    if (reads.length === 0) return;
    this.entity().groups.push(reads);
  }

  private entity(): EntityReads {
    const byName = this.kind === 'service' ? this.services : this.gateways;
    let e = byName.get(this.name);
    if (!e) byName.set(this.name, (e = { loose: [], groups: [] }));
    return e;
  }
}

/**
 * The reads that leave and come when a part's reads change from `old` to `now` (groups in both
 * are neither). The groups come in check order, an unchanged route's the very same array, so
 * those the two begin and end with are passed over by identity (no map of 10 000 routes' groups
 * for a gateway with one route changed), and the rest compared as multisets.
 */
function readsChange(old: EntityReads, now: EntityReads): { gone: Array<readonly FactRead[]>; came: Array<readonly FactRead[]> } {
  const gone: Array<readonly FactRead[]> = [old.loose];
  const came: Array<readonly FactRead[]> = [now.loose];
  const a = old.groups;
  const b = now.groups;
  const n = Math.min(a.length, b.length);
  let p = 0;
  while (p < n && a[p] === b[p]) p++;
  let q = 0;
  while (q < n - p && a[a.length - 1 - q] === b[b.length - 1 - q]) q++;
  const left = new Map<readonly FactRead[], number>();
  for (let i = p; i < a.length - q; i++) left.set(a[i]!, (left.get(a[i]!) ?? 0) + 1);
  for (let i = p; i < b.length - q; i++) {
    const k = left.get(b[i]!) ?? 0;
    if (k > 0) left.set(b[i]!, k - 1);
    else came.push(b[i]!);
  }
  for (const [g, k] of left) for (let j = 0; j < k; j++) gone.push(g);
  return { gone, came };
}

/** A count per key, in nested maps (no key strings built per claim). */
class Counts2<A, B> {
  private readonly m = new Map<A, Map<B, number>>();

  add(a: A, b: B, d: number): void {
    let inner = this.m.get(a);
    if (!inner) this.m.set(a, (inner = new Map()));
    const n = (inner.get(b) ?? 0) + d;
    if (n === 0) {
      inner.delete(b);
      if (inner.size === 0) this.m.delete(a);
    } else inner.set(b, n);
  }

  *entries(): Generator<[A, B, number]> {
    for (const [a, inner] of this.m) for (const [b, n] of inner) yield [a, b, n];
  }
}

class Counts<K> {
  private readonly m = new Map<K, number>();

  get(k: K): number {
    return this.m.get(k) ?? 0;
  }

  add(k: K, d: number): void {
    const n = (this.m.get(k) ?? 0) + d;
    if (n === 0) this.m.delete(k);
    else this.m.set(k, n);
  }

  entries(): IterableIterator<[K, number]> {
    return this.m.entries();
  }
}

/** Instance ids and port claims of some services and gateways, counted (what a change takes out and puts in). */
class Usage {
  readonly ids = new Counts<string>();
  /** port → host → claims, per space. */
  readonly host = new Counts2<number, string>();
  readonly lo = new Counts2<number, string>();
  /** port → claims on an IPv4 literal (0.0.0.0 included), and on 0.0.0.0. */
  readonly ip = new Counts<number>();
  readonly wildcard = new Counts<number>();

  addService(svc: ServiceModel, d: 1 | -1): void {
    const sink = this.sink(d);
    for (const inst of svc.instances) {
      this.ids.add(inst.id, d);
      instanceClaims(NO_PATH, inst, sink);
    }
  }

  /**
   * A service `was` (none: added) now `now`: its old ids and claims out, its new ones in. When
   * the instances list records the places it differs from was's (ir/list-edits.ts: the loader's
   * instance edits), only those instances' (every other one is the very same object).
   */
  changeService(was: ServiceModel | undefined, now: ServiceModel): void {
    const at = was ? replacedSince(was.instances, now.instances) : undefined;
    if (was === undefined || at === undefined) {
      if (was) this.addService(was, -1);
      this.addService(now, 1);
      return;
    }
    const out = this.sink(-1);
    const come = this.sink(1);
    for (const i of at) {
      const a = was.instances[i]!;
      const b = now.instances[i]!;
      this.ids.add(a.id, -1);
      instanceClaims(NO_PATH, a, out);
      this.ids.add(b.id, 1);
      instanceClaims(NO_PATH, b, come);
    }
  }

  addGateway(name: string, gw: GatewayModel, d: 1 | -1): void {
    gatewayClaims(name, gw, this.sink(d));
  }

  private sink(d: number): ClaimSink {
    return (space, host, port) => {
      if (space === 'lo') return this.lo.add(port, host, d);
      this.host.add(port, host, d);
      if (isIpLiteral(host)) this.ip.add(port, d);
      if (host === '0.0.0.0') this.wildcard.add(port, d);
    };
  }
}

/** Claims need an owner path only to word a clash; the counts never report one. */
const NO_PATH: ModelPath = [];

/** A fact as the baseline's checks read it, and how many reads there were. */
interface KnownFact {
  value: FactValue;
  readers: number;
}

/** Something per fact: by subject (service or gateway), name, then fact (nested maps: no key strings built per read). */
class PerFact<V> {
  private readonly bySubject = { service: new Map<string, Map<string, V>>(), gateway: new Map<string, Map<string, V>>() };

  of(subject: FactSubject, name: string): Map<string, V> | undefined {
    return this.bySubject[subject].get(name);
  }

  ofOrNew(subject: FactSubject, name: string): Map<string, V> {
    const m = this.bySubject[subject];
    let inner = m.get(name);
    if (!inner) m.set(name, (inner = new Map()));
    return inner;
  }

  drop(subject: FactSubject, name: string): void {
    this.bySubject[subject].delete(name);
  }
}

/** The last model without diagnostics, and what the incremental checks need to know of it. */
class Baseline {
  /** Each part's reads (parts that read nothing are absent). */
  private readonly serviceReads: Map<string, EntityReads>;
  private readonly gatewayReads: Map<string, EntityReads>;
  /** Every fact the checks read, its value and how many reads. */
  private readonly facts = new PerFact<KnownFact>();
  /** How many services and gateways the model has. */
  private serviceCount: number;
  private gatewayCount: number;

  private constructor(
    public model: Model,
    recording: Recording,
    /** The model's ids and claims: validateModel's own index (each key once: the model has no clash). */
    private readonly usage: ClaimIndex,
  ) {
    this.serviceReads = recording.services;
    this.gatewayReads = recording.gateways;
    this.serviceCount = Object.keys(model.services).length;
    this.gatewayCount = Object.keys(model.gateways).length;
    for (const reads of [...this.serviceReads.values(), ...this.gatewayReads.values()]) {
      this.addReads(reads.loose);
      for (const g of reads.groups) this.addReads(g);
    }
  }

  static of(model: Model, recording: Recording): Baseline {
    if (!recording.index) throw new Error('bug: validateModel did not hand over its claim index');
    return new Baseline(model, recording, recording.index);
  }

  /**
   * Move to `next` if it has no diagnostic for certain, checking only what changed; false (and
   * nothing moved) if it may have one or the full check is cheaper.
   */
  advance(next: Model, memory: CheckMemory, counts: { routesReplaced: number }): boolean {
    const prev = this.model;
    if (prev === next) return true; // (the loader gives the last model again when nothing changed)
    if (prev.mesh !== next.mesh && !isDeepStrictEqual(prev.mesh, next.mesh)) return false;
    const services = changes(prev.services, this.serviceCount, next.services);
    const gateways = changes(prev.gateways, this.gatewayCount, next.gateways);
    const changedCount = services.changed.length + services.removed.length + gateways.changed.length + gateways.removed.length;
    if (changedCount > MAX_CHANGED && changedCount * 4 > 3 * (services.total + gateways.total)) return false;

    // The changed parts' own checks, recording what they read.
    const facts = new ModelFacts(next, memory);
    const recording = new Recording();
    facts.recorder = recording;
    let clean = true;
    const report = (): void => {
      clean = false;
    };
    for (const name of services.changed) {
      const svc = next.services[name]!;
      recording.checking('service', name);
      checkAllowRules(name, svc, facts, report);
      checkService(name, svc, facts, report, report);
      if (!clean) return false;
    }
    /** Shadow indexes to move to the new routes lists once the model is known clean. */
    const indexMoves: Array<() => void> = [];
    for (const name of gateways.changed) {
      recording.checking('gateway', name);
      const gw = next.gateways[name]!;
      // A few routes replaced in a gateway: those routes are checked, and their shadowing
      // against the others' index. (The others read what they read in the baseline: the facts
      // about changed services among them are compared below like every unchanged part's.)
      const quick = this.routesReplaced(name, prev.gateways[name], gw, facts);
      if (quick) {
        counts.routesReplaced++;
        recording.gateways.set(name, quick.reads);
        indexMoves.push(quick.moveIndex);
        continue;
      }
      checkGateway(name, gw, facts, report, report);
      if (!clean) return false;
    }
    facts.recorder = null;

    // Proxy names, and authorization without mTLS.
    for (const name of services.changed) if (next.gateways[name] !== undefined) return false;
    for (const name of gateways.changed) if (next.services[name] !== undefined) return false;
    if (next.mesh.mtls === 'off' && services.changed.some((name) => usesAuthorization(next.services[name]!))) return false;

    // Instance ids and port claims: the change's effect on the counts.
    const delta = new Usage();
    for (const name of services.changed) delta.changeService(prev.services[name], next.services[name]!);
    for (const name of services.removed) delta.addService(prev.services[name]!, -1);
    for (const name of [...gateways.changed, ...gateways.removed]) {
      const old = prev.gateways[name];
      if (old) delta.addGateway(name, old, -1);
    }
    for (const name of gateways.changed) delta.addGateway(name, next.gateways[name]!, 1);
    if (!this.usageStaysClean(delta)) return false;

    // Facts about changed or removed parts that unchanged parts read: the same values now?
    // (The reads that leave are the changed parts' old ones, but for gateway routes unchanged.)
    const moves: Array<{ byName: Map<string, EntityReads>; name: string; now: EntityReads | undefined; gone: Array<readonly FactRead[]>; came: Array<readonly FactRead[]> }> = [];
    for (const [names, byName, now] of [
      [services.changed, this.serviceReads, recording.services],
      [services.removed, this.serviceReads, null],
      [gateways.changed, this.gatewayReads, recording.gateways],
      [gateways.removed, this.gatewayReads, null],
    ] as const) {
      for (const name of names) {
        const reads = now?.get(name);
        moves.push({ byName, name, now: reads, ...readsChange(byName.get(name) ?? NO_READS, reads ?? NO_READS) });
      }
    }
    const leaving = new PerFact<number>();
    for (const c of moves) {
      for (const reads of c.gone) {
        for (const [subject, name, fact] of reads) {
          const m = leaving.ofOrNew(subject, name);
          m.set(fact, (m.get(fact) ?? 0) + 1);
        }
      }
    }
    const subjects: Array<[FactSubject, string]> = [
      ...[...services.changed, ...services.removed].map((n): [FactSubject, string] => ['service', n]),
      ...[...gateways.changed, ...gateways.removed].map((n): [FactSubject, string] => ['gateway', n]),
    ];
    for (const [subject, name] of subjects) {
      const known = this.facts.of(subject, name);
      if (!known) continue;
      const left = leaving.of(subject, name);
      for (const [fact, k] of known) {
        if (k.readers - (left?.get(fact) ?? 0) > 0 && facts.read(subject, name, fact) !== k.value) return false;
      }
    }

    // No diagnostic: move the baseline.
    for (const move of indexMoves) move();
    for (const c of moves) for (const reads of c.gone) this.removeReads(reads);
    for (const c of moves) {
      for (const reads of c.came) this.addReads(reads);
      if (c.now) c.byName.set(c.name, c.now);
      else c.byName.delete(c.name);
    }
    this.applyUsage(delta);
    this.model = next;
    this.serviceCount = services.total;
    this.gatewayCount = gateways.total;
    return true;
  }

  /**
   * checkGatewayRoutesReplaced for gateway `name`, `was` in the baseline and `gw` now, when gw's
   * routes list records the places it differs from was's (ir/list-edits.ts): the gateway's reads
   * now (the listeners' as they were, each route's group) and how to move the shadow index; null
   * to check the gateway whole.
   */
  private routesReplaced(name: string, was: GatewayModel | undefined, gw: GatewayModel, facts: ModelFacts): { reads: EntityReads; moveIndex: () => void } | null {
    if (!was || !was.routes || !gw.routes) return null;
    const at = replacedSince(was.routes, gw.routes);
    const old = this.gatewayReads.get(name);
    if (!at || !old) return null;
    const r = checkGatewayRoutesReplaced(name, was, gw, at, old.groups, facts);
    return r && { reads: { loose: old.loose, groups: r.groups }, moveIndex: r.moveIndex };
  }

  /** With `delta` applied, would ids and claims still be free of clashes? (Only keys it adds to can clash.) */
  private usageStaysClean(delta: Usage): boolean {
    const u = this.usage;
    for (const [id, d] of delta.ids.entries()) if (d > 0 && has(u.ids, id) + d > 1) return false;
    for (const [port, host, d] of delta.host.entries()) if (d > 0 && has(u.host.get(port), host) + d > 1) return false;
    for (const [port, addr, d] of delta.lo.entries()) if (d > 0 && has(u.lo.get(port), addr) + d > 1) return false;
    const ports = new Set<number>();
    for (const [port, d] of delta.ip.entries()) if (d > 0) ports.add(port);
    for (const [port, d] of delta.wildcard.entries()) if (d > 0) ports.add(port);
    for (const port of ports) {
      if (has(u.wildcard, port) + delta.wildcard.get(port) > 0 && (u.ip.get(port) ?? 0) + delta.ip.get(port) > 1) return false;
    }
    return true;
  }

  private applyUsage(delta: Usage): void {
    const u = this.usage;
    for (const [id, d] of delta.ids.entries()) present(u.ids, id, d);
    for (const [port, host, d] of delta.host.entries()) presentIn(u.host, port, host, d);
    for (const [port, addr, d] of delta.lo.entries()) presentIn(u.lo, port, addr, d);
    for (const [port, d] of delta.wildcard.entries()) present(u.wildcard, port, d);
    for (const [port, d] of delta.ip.entries()) {
      const n = (u.ip.get(port) ?? 0) + d;
      if (n === 0) u.ip.delete(port);
      else u.ip.set(port, n);
    }
  }

  private addReads(reads: readonly FactRead[]): void {
    for (const [subject, name, fact, value] of reads) {
      const known = this.facts.ofOrNew(subject, name);
      const k = known.get(fact);
      if (k) {
        k.value = value; // equal to k.value whenever an earlier reader remains (checked in advance)
        k.readers++;
      } else known.set(fact, { value, readers: 1 });
    }
  }

  private removeReads(reads: readonly FactRead[]): void {
    for (const [subject, name, fact] of reads) {
      const known = this.facts.of(subject, name)!;
      const k = known.get(fact)!;
      if (--k.readers === 0) {
        known.delete(fact);
        if (known.size === 0) this.facts.drop(subject, name);
      }
    }
  }
}

/** 1 if `key` is in `m` (a key of the claim index is claimed once), else 0. */
function has<K>(m: Map<K, unknown> | undefined, key: K): number {
  return m !== undefined && m.has(key) ? 1 : 0;
}

/** Apply a change `d` of a key's claims to the index (which holds it when claimed once, and not when not). */
function present<K>(m: Map<K, unknown>, key: K, d: number): void {
  const n = has(m, key) + d;
  if (n <= 0) m.delete(key);
  else if (!m.has(key)) m.set(key, true);
}

function presentIn<A, B>(m: Map<A, Map<B, unknown>>, a: A, b: B, d: number): void {
  let inner = m.get(a);
  if (!inner) m.set(a, (inner = new Map()));
  present(inner, b, d);
  if (inner.size === 0) m.delete(a);
}

/**
 * Names whose part is not the same object in `next` (changed or added), and names gone: none
 * when `next` is `prev`, and only the names its maker recorded when it recorded them against
 * `prev` (ir/model-diff.ts partChangesSince), else a look at every name.
 */
function changes<T>(prev: Record<string, T>, prevTotal: number, next: Record<string, T>): { changed: string[]; removed: string[]; total: number } {
  const changed: string[] = [];
  const removed: string[] = [];
  if (prev === next) return { changed, removed, total: prevTotal };
  const known = partChangesSince(prev, next);
  if (known) {
    let total = prevTotal;
    for (const name of known) {
      const p = prev[name];
      const n = next[name];
      if (n === undefined) {
        if (p !== undefined) {
          removed.push(name);
          total--;
        }
      } else if (n !== p) {
        changed.push(name);
        if (p === undefined) total++;
      }
    }
    return { changed, removed, total };
  }
  let total = 0;
  let added = 0;
  for (const name in next) {
    total++;
    const p = prev[name];
    if (next[name] !== p) {
      changed.push(name);
      if (p === undefined) added++;
    }
  }
  // Only look for names gone when some are (`prev` has more names than `next` kept).
  if (prevTotal > total - added) for (const name in prev) if (next[name] === undefined) removed.push(name);
  return { changed, removed, total };
}

export class IncrementalValidator {
  private baseline: Baseline | null = null;
  /** Gateway routes found clean, for the checks of the next models (incremental or full). */
  private readonly memory = new CheckMemory();
  /** Models checked incrementally, and by the full check; gateways checked by their replaced routes alone (for tests and benchmarks). */
  readonly counts = { incremental: 0, full: 0, routesReplaced: 0 };

  /** validateModel(model, at), checking only what changed since the last model without diagnostics when it can. */
  validate(model: Model, at: At): Diagnostic[] {
    if (this.baseline?.advance(model, this.memory, this.counts)) {
      this.counts.incremental++;
      return [];
    }
    this.counts.full++;
    const recording = new Recording();
    const diagnostics = validateModel(model, at, recording, this.memory);
    if (diagnostics.length === 0) this.baseline = Baseline.of(model, recording);
    return diagnostics;
  }
}
