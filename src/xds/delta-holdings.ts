// What a Delta proxy holds of one type: name → version ("known"), and for the names this stream
// sent, the Resource itself ("held", for make-before-break references).
//
// Kept as a shared base plus per-name overrides. The base is a snapshot's immutable resource
// map that the proxy was sent whole (its first response: a big gateway's 10 000 clusters or
// assignments, shared by every stream that was sent the same set); an override records what
// differs from the base for one name: a Resource sent since, a version only (announced by the
// proxy in initial_resource_versions), or nothing (removed, unsubscribed). Recording a first push
// is then one assignment instead of a map entry per resource per stream. When overrides grow past
// half the base, the base is folded into them (what a plain map would have held all along).
import type { Resource } from './resource.js';

/** What the proxy holds of one name: nothing, a version only (initial_resource_versions), or a resource this stream sent. */
const NONE = 0;
const VERSION = 1;
const HELD = 2;

/** Folding the base into the overrides once there are at least this many, and half the base. */
const FOLD_MIN = 64;

export class Holdings {
  private base: ReadonlyMap<string, Resource> | null = null;
  private readonly over = new Map<string, Resource | string | null>();
  private known = 0;
  private held = 0;

  /** Names whose version the proxy holds. */
  get knownSize(): number {
    return this.known;
  }

  /** Names whose resource this stream sent and the proxy holds. */
  get heldSize(): number {
    return this.held;
  }

  private entry(n: string): Resource | string | null | undefined {
    const o = this.over.get(n);
    if (o !== undefined || this.over.has(n)) return o;
    return this.base?.get(n);
  }

  /** The version the proxy holds of `n`, if any. */
  version(n: string): string | undefined {
    const e = this.entry(n);
    return e == null ? undefined : typeof e === 'string' ? e : e.version;
  }

  has(n: string): boolean {
    return this.entry(n) != null;
  }

  /** The resource this stream sent for `n`, if the proxy holds it. */
  heldResource(n: string): Resource | undefined {
    const e = this.entry(n);
    return e != null && typeof e !== 'string' ? e : undefined;
  }

  hasHeld(n: string): boolean {
    return this.heldResource(n) !== undefined;
  }

  private set(n: string, v: Resource | string | null): void {
    const before = kindOf(this.entry(n));
    const after = kindOf(v);
    if (before !== NONE) this.known--;
    if (before === HELD) this.held--;
    if (after !== NONE) this.known++;
    if (after === HELD) this.held++;
    if (this.base) {
      // An override equal to the base is no override.
      const b = this.base.get(n);
      if (b !== undefined ? v === b : v === null) {
        this.over.delete(n);
        return;
      }
    } else if (v === null) {
      this.over.delete(n);
      return;
    }
    this.over.set(n, v);
    if (this.base && this.over.size >= FOLD_MIN && this.over.size > this.base.size / 2) this.fold();
  }

  /** The proxy holds `r` (sent by this stream, or found to be the version it announced). */
  setHeld(r: Resource): void {
    this.set(r.name, r);
  }

  /** The proxy holds version `v` of `n` (initial_resource_versions). */
  setVersion(n: string, v: string): void {
    this.set(n, v);
  }

  /** The snapshot map the proxy holds exactly (no name differs from it), or null. */
  exactBase(): ReadonlyMap<string, Resource> | null {
    return this.over.size === 0 ? this.base : null;
  }

  /**
   * If the proxy holds exactly the resources of `all` (by version), record it as that map and
   * return true. `diff(a, b)` gives the names two maps differ in; the check costs the overrides
   * and the difference between the base and `all`, not the size of the type.
   */
  rebase(all: ReadonlyMap<string, Resource>, diff: (a: ReadonlyMap<string, Resource>, b: ReadonlyMap<string, Resource>) => ReadonlySet<string>): boolean {
    if (this.base === all && this.over.size === 0) return true;
    if (!this.base || this.known !== all.size || this.held !== all.size) return false;
    for (const [n, v] of this.over) {
      const r = all.get(n);
      if (v === null ? r !== undefined : typeof v === 'string' || r === undefined || r.version !== v.version) return false;
    }
    for (const n of diff(this.base, all)) if (!this.over.has(n)) return false;
    this.holdAll(all);
    return true;
  }

  /** The proxy holds nothing of `n`. */
  delete(n: string): void {
    this.set(n, null);
  }

  /**
   * The proxy holds exactly every resource of `all` (it was sent the whole set and held nothing
   * before). `all` must not change: a snapshot's resource map.
   */
  holdAll(all: ReadonlyMap<string, Resource>): void {
    this.over.clear();
    this.base = all;
    this.known = this.held = all.size;
  }

  /** Names whose version the proxy holds (a copy: safe to delete while iterating). */
  knownNames(): string[] {
    const out: string[] = [];
    if (this.base) for (const n of this.base.keys()) if (!this.over.has(n)) out.push(n);
    for (const [n, v] of this.over) if (v !== null) out.push(n);
    return out;
  }

  /** The resources this stream sent that the proxy holds. */
  heldResources(): Resource[] {
    const out: Resource[] = [];
    if (this.base) for (const [n, r] of this.base) if (!this.over.has(n)) out.push(r);
    for (const v of this.over.values()) if (v !== null && typeof v !== 'string') out.push(v);
    return out;
  }

  private fold(): void {
    const base = this.base!;
    this.base = null;
    for (const [n, r] of base) if (!this.over.has(n)) this.over.set(n, r);
    for (const [n, v] of this.over) if (v === null) this.over.delete(n);
  }
}

function kindOf(e: Resource | string | null | undefined): number {
  return e == null ? NONE : typeof e === 'string' ? VERSION : HELD;
}
