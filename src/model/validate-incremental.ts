// The semantic checks of a reloaded model, re-run only for what changed since the last model that
// had no diagnostic at all (the baseline). A reload of a 10 000-service model that edits one
// service checks that service, the facts other checks read about it, and its ids and ports
// against indexes of the rest, instead of the whole model (M10k: ~0.3 s → well under 1 ms).
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
//   - instance ids and port claims are counted per key, B's counts kept as indexes: the changed
//     parts' old ids and claims are taken out and their new ones put in; a count above one (or
//     a wildcard and another IPv4 claim on one port) is a clash, and only keys the change
//     touched can newly have one;
//   - a gateway named like a service: only a changed or added part can newly collide;
//   - authorization without mTLS: with mtls off, B had no service with an allow list, so only a
//     changed service can add one; the certificate lifetime is the mesh block's.
// test/model/validate-incremental.test.ts compares this with the full check on thousands of
// edit sequences.
import { isDeepStrictEqual } from 'node:util';
import type { SourcePosition } from '../util/yaml-source.js';
import type { Diagnostic, ModelPath } from './diagnostics.js';
import type { GatewayModel, Model, ServiceModel } from './schema.js';
import {
  checkAllowRules,
  checkGateway,
  checkService,
  type ClaimSink,
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

/** Past this many changed parts, and a quarter of the model, the full check is cheaper. */
const MAX_CHANGED = 64;

/** One fact a check read, and its value. */
interface Read {
  subject: FactSubject;
  name: string;
  fact: string;
  value: FactValue;
}

/** The reads of each service's and gateway's checks (only those that read anything). */
class Recording implements FactRecorder {
  readonly services = new Map<string, Read[]>();
  readonly gateways = new Map<string, Read[]>();
  private kind: FactSubject = 'service';
  private name = '';

  checking(kind: FactSubject, name: string): void {
    this.kind = kind;
    this.name = name;
  }

  read(subject: FactSubject, name: string, fact: string, value: FactValue): void {
    const byName = this.kind === 'service' ? this.services : this.gateways;
    let list = byName.get(this.name);
    if (!list) byName.set(this.name, (list = []));
    list.push({ subject, name, fact, value });
  }
}

/** A count per key, in nested maps (no key strings built per claim). */
class Counts2<A, B> {
  private readonly m = new Map<A, Map<B, number>>();

  get(a: A, b: B): number {
    return this.m.get(a)?.get(b) ?? 0;
  }

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

/** Instance ids and port claims of a set of services and gateways, counted. */
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

/** The last model without diagnostics, and what the incremental checks need to know of it. */
class Baseline {
  /** Each part's reads (parts that read nothing are absent). */
  private readonly serviceReads: Map<string, Read[]>;
  private readonly gatewayReads: Map<string, Read[]>;
  /** "service <name>" / "gateway <name>" → fact → value and readers. */
  private readonly facts = new Map<string, Map<string, KnownFact>>();

  private constructor(
    public model: Model,
    recording: Recording,
    private readonly usage: Usage,
  ) {
    this.serviceReads = recording.services;
    this.gatewayReads = recording.gateways;
    for (const reads of this.serviceReads.values()) this.addReads(reads);
    for (const reads of this.gatewayReads.values()) this.addReads(reads);
  }

  static of(model: Model, recording: Recording): Baseline {
    const usage = new Usage();
    for (const svc of Object.values(model.services)) usage.addService(svc, 1);
    for (const [name, gw] of Object.entries(model.gateways)) usage.addGateway(name, gw, 1);
    return new Baseline(model, recording, usage);
  }

  /**
   * Move to `next` if it has no diagnostic for certain, checking only what changed; false (and
   * nothing moved) if it may have one or the full check is cheaper.
   */
  advance(next: Model): boolean {
    const prev = this.model;
    if (prev.mesh !== next.mesh && !isDeepStrictEqual(prev.mesh, next.mesh)) return false;
    const services = changes(prev.services, next.services);
    const gateways = changes(prev.gateways, next.gateways);
    const changedCount = services.changed.length + services.removed.length + gateways.changed.length + gateways.removed.length;
    if (changedCount > MAX_CHANGED && changedCount * 4 > services.total + gateways.total) return false;

    // The changed parts' own checks, recording what they read.
    const facts = new ModelFacts(next);
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
    for (const name of gateways.changed) {
      recording.checking('gateway', name);
      checkGateway(name, next.gateways[name]!, facts, report, report);
      if (!clean) return false;
    }
    facts.recorder = null;

    // Proxy names, and authorization without mTLS.
    for (const name of services.changed) if (next.gateways[name] !== undefined) return false;
    for (const name of gateways.changed) if (next.services[name] !== undefined) return false;
    if (next.mesh.mtls === 'off' && services.changed.some((name) => usesAuthorization(next.services[name]!))) return false;

    // Instance ids and port claims: the change's effect on the counts.
    const delta = new Usage();
    for (const name of [...services.changed, ...services.removed]) {
      const old = prev.services[name];
      if (old) delta.addService(old, -1);
    }
    for (const name of services.changed) delta.addService(next.services[name]!, 1);
    for (const name of [...gateways.changed, ...gateways.removed]) {
      const old = prev.gateways[name];
      if (old) delta.addGateway(name, old, -1);
    }
    for (const name of gateways.changed) delta.addGateway(name, next.gateways[name]!, 1);
    if (!this.usageStaysClean(delta)) return false;

    // Facts about changed or removed parts that unchanged parts read: the same values now?
    const leaving = new Counts2<string, string>();
    const leavingReads: Read[][] = [];
    for (const name of [...services.changed, ...services.removed]) {
      const reads = this.serviceReads.get(name);
      if (reads) leavingReads.push(reads);
    }
    for (const name of [...gateways.changed, ...gateways.removed]) {
      const reads = this.gatewayReads.get(name);
      if (reads) leavingReads.push(reads);
    }
    for (const reads of leavingReads) for (const r of reads) leaving.add(`${r.subject} ${r.name}`, r.fact, 1);
    const subjects: Array<[FactSubject, string]> = [
      ...[...services.changed, ...services.removed].map((n): [FactSubject, string] => ['service', n]),
      ...[...gateways.changed, ...gateways.removed].map((n): [FactSubject, string] => ['gateway', n]),
    ];
    for (const [subject, name] of subjects) {
      const key = `${subject} ${name}`;
      const known = this.facts.get(key);
      if (!known) continue;
      for (const [fact, k] of known) {
        if (k.readers - leaving.get(key, fact) > 0 && facts.read(subject, name, fact) !== k.value) return false;
      }
    }

    // No diagnostic: move the baseline.
    for (const reads of leavingReads) this.removeReads(reads);
    for (const name of [...services.changed, ...services.removed]) this.serviceReads.delete(name);
    for (const name of [...gateways.changed, ...gateways.removed]) this.gatewayReads.delete(name);
    for (const [name, reads] of recording.services) {
      this.serviceReads.set(name, reads);
      this.addReads(reads);
    }
    for (const [name, reads] of recording.gateways) {
      this.gatewayReads.set(name, reads);
      this.addReads(reads);
    }
    this.applyUsage(delta);
    this.model = next;
    return true;
  }

  /** With `delta` applied, would ids and claims still be free of clashes? (Only keys it adds to can clash.) */
  private usageStaysClean(delta: Usage): boolean {
    const u = this.usage;
    for (const [id, d] of delta.ids.entries()) if (d > 0 && u.ids.get(id) + d > 1) return false;
    for (const [port, host, d] of delta.host.entries()) if (d > 0 && u.host.get(port, host) + d > 1) return false;
    for (const [port, addr, d] of delta.lo.entries()) if (d > 0 && u.lo.get(port, addr) + d > 1) return false;
    const ports = new Set<number>();
    for (const [port, d] of delta.ip.entries()) if (d > 0) ports.add(port);
    for (const [port, d] of delta.wildcard.entries()) if (d > 0) ports.add(port);
    for (const port of ports) {
      if (u.wildcard.get(port) + delta.wildcard.get(port) > 0 && u.ip.get(port) + delta.ip.get(port) > 1) return false;
    }
    return true;
  }

  private applyUsage(delta: Usage): void {
    const u = this.usage;
    for (const [id, d] of delta.ids.entries()) u.ids.add(id, d);
    for (const [port, host, d] of delta.host.entries()) u.host.add(port, host, d);
    for (const [port, addr, d] of delta.lo.entries()) u.lo.add(port, addr, d);
    for (const [port, d] of delta.ip.entries()) u.ip.add(port, d);
    for (const [port, d] of delta.wildcard.entries()) u.wildcard.add(port, d);
  }

  private addReads(reads: readonly Read[]): void {
    for (const r of reads) {
      const key = `${r.subject} ${r.name}`;
      let known = this.facts.get(key);
      if (!known) this.facts.set(key, (known = new Map()));
      const k = known.get(r.fact);
      if (k) {
        k.value = r.value; // equal to k.value whenever an earlier reader remains (checked in advance)
        k.readers++;
      } else known.set(r.fact, { value: r.value, readers: 1 });
    }
  }

  private removeReads(reads: readonly Read[]): void {
    for (const r of reads) {
      const key = `${r.subject} ${r.name}`;
      const known = this.facts.get(key)!;
      const k = known.get(r.fact)!;
      if (--k.readers === 0) {
        known.delete(r.fact);
        if (known.size === 0) this.facts.delete(key);
      }
    }
  }
}

/** Names whose part is not the same object in `next` (changed or added), and names gone. */
function changes<T>(prev: Record<string, T>, next: Record<string, T>): { changed: string[]; removed: string[]; total: number } {
  const changed: string[] = [];
  const removed: string[] = [];
  let total = 0;
  for (const name in next) {
    total++;
    if (next[name] !== prev[name]) changed.push(name);
  }
  for (const name in prev) if (next[name] === undefined) removed.push(name);
  return { changed, removed, total };
}

export class IncrementalValidator {
  private baseline: Baseline | null = null;
  /** Models checked incrementally, and by the full check (for tests and benchmarks). */
  readonly counts = { incremental: 0, full: 0 };

  /** validateModel(model, at), checking only what changed since the last model without diagnostics when it can. */
  validate(model: Model, at: At): Diagnostic[] {
    if (this.baseline?.advance(model)) {
      this.counts.incremental++;
      return [];
    }
    this.counts.full++;
    const recording = new Recording();
    const diagnostics = validateModel(model, at, recording);
    if (diagnostics.length === 0) this.baseline = Baseline.of(model, recording);
    return diagnostics;
  }
}
