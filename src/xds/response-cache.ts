// Assembled discovery responses, shared by every stream that sends the same resource set.
//
// Thousands of proxies subscribe to identical sets (every sidecar of a mesh receives the same
// clusters and endpoint assignments, often from different groups whose snapshots hold the
// same resources). A response is everything but the nonce: the version, the pre-framed
// resource fields, the type URL and the control plane identifier. It is assembled once per
// distinct resource set and kept in a bytes-bounded LRU; a stream appends its own nonce
// field (protobuf fields may come in any order, and every field here appears once).
// A body is kept only once a second stream asks for it: answers unique to one proxy (its
// inbound listener, its own certificate) are built, sent and dropped, so the cache holds what
// is actually shared.
//
// Keys are content keys, never object identities: a SotW body is keyed by its type and its
// version (a content hash over the (name, version) pairs it carries), so two groups with
// identical resources share one buffer, and a changed resource gives a new version, hence a
// new key.
import type { Resource } from './resource.js';
import type { TypeUrl } from './type-urls.js';
import { deltaEntrySize, sotwEntrySize, writeDeltaEntry, writeSotwEntry } from './entry-writer.js';
import { stringField } from './wire.js';

/** A SotW DiscoveryResponse for one exact resource set, without its nonce. */
export interface SotwBody {
  readonly typeUrl: TypeUrl;
  readonly version: string;
  /** The resources, sorted by name. */
  readonly resources: readonly Resource[];
  readonly byName: ReadonlyMap<string, Resource>;
  readonly names: readonly string[];
  /** Fields version_info (1), resources (2), type_url (4), control_plane (6). */
  readonly bytes: Buffer;
}

/** Rough per-entry overhead beyond the body bytes (maps, arrays, key), for the byte bound. */
const ENTRY_OVERHEAD = 256;
const PER_RESOURCE_OVERHEAD = 64;
/** Keys remembered as asked for once (count, and characters); beyond either it starts over. */
const MAX_SEEN_ONCE = 8192;
const MAX_SEEN_ONCE_CHARS = 8 * 1024 * 1024;

/**
 * A Map used as an LRU (insertion order = recency), bounded by an estimate of the bytes its
 * entries hold. A hit moves its entry to the young end only once it has aged past half the
 * map, so that thousands of hits on the same few entries do not each delete and re-insert.
 */
class ByteLru<V> {
  private readonly map = new Map<string, { value: V; size: number; stamp: number }>();
  private bytes = 0;
  private clock = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (this.clock - e.stamp > this.map.size / 2) {
      this.map.delete(key);
      e.stamp = ++this.clock;
      this.map.set(key, e);
    }
    return e.value;
  }

  set(key: string, value: V, size: number): void {
    if (size > this.maxBytes) return; // would evict everything; serve it uncached
    const old = this.map.get(key);
    if (old) {
      this.bytes -= old.size;
      this.map.delete(key);
    }
    this.map.set(key, { value, size, stamp: ++this.clock });
    this.bytes += size;
    if (this.bytes <= this.maxBytes) return;
    for (const [k, e] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= e.size;
    }
  }

  get size(): number {
    return this.map.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}

export interface ResponseCacheOptions {
  /** Bound on the assembled bodies kept (SotW and Delta together). Default 64 MiB. */
  maxBytes?: number;
}

export interface ResponseCacheStats {
  hits: number;
  misses: number;
  /** Bodies built but not kept (asked for once so far). */
  notKept: number;
  entries: number;
  bytes: number;
}

export class ResponseCache {
  private readonly bodies: ByteLru<SotwBody | Buffer>;
  private hits = 0;
  private misses = 0;
  private notKept = 0;
  /** Keys asked for once: the second request for a key stores its body. */
  private readonly seenOnce = new Set<string>();
  private seenOnceChars = 0;

  constructor(
    /** Pre-encoded ControlPlane fields: 6 in DiscoveryResponse, 7 in DeltaDiscoveryResponse. */
    private readonly controlPlane: { sotw: Buffer; delta: Buffer },
    opts: ResponseCacheOptions = {},
  ) {
    this.bodies = new ByteLru(opts.maxBytes ?? 64 * 1024 * 1024);
  }

  /**
   * The SotW response body of `version` (the content hash of exactly the resources `list`
   * returns, sorted by name). `list` runs only when the body is not cached.
   */
  sotw(typeUrl: TypeUrl, version: string, list: () => readonly Resource[]): SotwBody {
    const key = `S${typeUrl}\0${version}`;
    const hit = this.bodies.get(key) as SotwBody | undefined;
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const resources = list();
    const byName = new Map<string, Resource>();
    const names: string[] = [];
    for (const r of resources) {
      byName.set(r.name, r);
      names.push(r.name);
    }
    const bytes = assemble(stringField(1, version), resources, false, [stringField(4, typeUrl), this.controlPlane.sotw]);
    const body: SotwBody = { typeUrl, version, resources, byName, names, bytes };
    // Counted twice: the entry keeps its Resource objects (and their framed fields) alive
    // after their snapshot is replaced.
    if (this.admit(key)) this.bodies.set(key, body, 2 * body.bytes.length + ENTRY_OVERHEAD + PER_RESOURCE_OVERHEAD * resources.length);
    return body;
  }

  /**
   * A SotW response body carrying `part` (sorted by name) of the resources of `version`: what
   * changed for a proxy of a type that need not be sent whole (EDS). Keyed by the version and
   * the resources' own versions, so every proxy missing the same resources shares it.
   */
  sotwPart(typeUrl: TypeUrl, version: string, part: readonly Resource[]): Buffer {
    return this.sotwPartByKey(sotwPartKey(typeUrl, version, part), typeUrl, version, part);
  }

  /** sotwPart with its key (sotwPartKey) made by the caller. */
  sotwPartByKey(key: string, typeUrl: TypeUrl, version: string, part: readonly Resource[]): Buffer {
    return this.bytes(key, () => assemble(stringField(1, version), part, false, [stringField(4, typeUrl), this.controlPlane.sotw]));
  }

  /**
   * A Delta response body (without nonce): system_version_info, the resources to send (sorted
   * by name), the type URL, the removed names (sorted) and the control plane. `key` must
   * identify exactly that content (see deltaKey).
   */
  delta(key: string, version: string, typeUrl: TypeUrl, toSend: readonly Resource[], removed: readonly string[]): Buffer {
    return this.bytes(key, () => {
      const tail: Buffer[] = [stringField(4, typeUrl)];
      for (const n of removed) tail.push(stringField(6, n));
      tail.push(this.controlPlane.delta);
      return assemble(stringField(1, version), toSend, true, tail);
    });
  }

  /** The body of `key`, assembled by `assemble` when it is not cached (and kept from its second request on). */
  private bytes(key: string, assemble: () => Buffer): Buffer {
    const hit = this.bodies.get(key) as Buffer | undefined;
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const bytes = assemble();
    if (this.admit(key)) this.bodies.set(key, bytes, bytes.length + key.length + ENTRY_OVERHEAD);
    return bytes;
  }

  /** Whether to keep the body of `key`: only from its second request on. */
  private admit(key: string): boolean {
    if (this.seenOnce.delete(key)) {
      this.seenOnceChars -= key.length;
      return true;
    }
    if (this.seenOnce.size >= MAX_SEEN_ONCE || this.seenOnceChars + key.length > MAX_SEEN_ONCE_CHARS) {
      this.seenOnce.clear();
      this.seenOnceChars = 0;
    }
    this.seenOnce.add(key);
    this.seenOnceChars += key.length;
    this.notKept++;
    return false;
  }

  stats(): ResponseCacheStats {
    return { hits: this.hits, misses: this.misses, notKept: this.notKept, entries: this.bodies.size, bytes: this.bodies.byteSize };
  }

  clear(): void {
    this.bodies.clear();
    this.seenOnce.clear();
    this.seenOnceChars = 0;
  }
}

/**
 * `head`, the resources' entries (SotW or Delta) and `tail`, written into one buffer of the
 * exact size: each resource's body is copied once, where it lands (entry-writer.ts).
 */
function assemble(head: Buffer, resources: readonly Resource[], delta: boolean, tail: readonly Buffer[]): Buffer {
  let size = head.length;
  for (const r of resources) size += delta ? deltaEntrySize(r) : sotwEntrySize(r);
  for (const t of tail) size += t.length;
  const out = Buffer.allocUnsafe(size);
  let off = head.copy(out, 0);
  if (delta) for (const r of resources) off = writeDeltaEntry(out, off, r);
  else for (const r of resources) off = writeSotwEntry(out, off, r);
  for (const t of tail) off += t.copy(out, off);
  if (off !== size) throw new Error(`bug: response assembled to ${off} bytes, measured ${size}`);
  return out;
}

/** Content key of a partial SotW response: its type, version and the versions of what it carries. */
export function sotwPartKey(typeUrl: TypeUrl, version: string, part: readonly Resource[]): string {
  let key = `P${typeUrl}\0${version}\0`;
  for (const r of part) key += `${r.version.length}:${r.version}`;
  return key;
}

/**
 * Content key of a Delta response: its type, system version, the resources it sends and the
 * names it removes. A resource is named by its version alone: a content hash over its type,
 * name and bytes. `allOf` short-cuts the common "the whole type, nothing removed" answer: the
 * type version already identifies that set.
 */
export function deltaKey(typeUrl: TypeUrl, version: string, toSend: readonly Resource[], removed: readonly string[], allOf: boolean): string {
  if (allOf) return `A${typeUrl}\0${version}`;
  let key = `D${typeUrl}\0${version}\0`;
  // Length-prefixed, so that no list of names or versions can read as another.
  for (const r of toSend) key += `${r.version.length}:${r.version}`;
  key += '-';
  for (const n of removed) key += `${n.length}:${n}`;
  return key;
}

/**
 * One stream's response: a shared body followed by this stream's nonce field (field 5 in both
 * response kinds), kept as the two pieces. The transport (grpc/call.ts) writes a big response as
 * the gRPC header, the shared body and the nonce in one writev, so a multi-megabyte body is never
 * copied per stream; a small one it copies into one buffer.
 */
export class ResponseBytes {
  readonly length: number;
  constructor(
    readonly body: Buffer,
    readonly nonceField: Buffer,
  ) {
    this.length = body.length + nonceField.length;
  }

  /** The response as one buffer (tests, debugging). */
  toBuffer(): Buffer {
    return Buffer.concat([this.body, this.nonceField], this.length);
  }
}

/** `body` followed by the nonce field, as the two pieces the transport writes. */
export function withNonce(body: Buffer, nonce: string): ResponseBytes {
  return new ResponseBytes(body, stringField(5, nonce));
}
