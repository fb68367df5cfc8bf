// The model file as a configuration source: load + validate → IR → Envoy resources → one
// snapshot per proxy (gateway, or sidecar instance).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { IrBuilder } from '../ir/build.js';
import { gatewayGroup, type MeshIR, type ProxyIR, sidecarGroup } from '../ir/types.js';
import { type Diagnostic, formatPath } from '../model/diagnostics.js';
import { FileTextMemo } from '../model/file-text.js';
import { loadModelFile, loadModelTextInSteps, MODEL_YAML_LIMITS, type ModelLoad, type ModelLoadSteps } from '../model/load.js';
import type { Model } from '../model/schema.js';
import { type ProxyResources, ResourceEncoder } from '../translate/index.js';
import type { Resource } from '../xds/resource.js';
import type { MeshSecurity } from './security.js';
import { SourceError } from '../util/yaml-source.js';
import type { GroupResolver, SnapshotProvider } from '../xds/cache.js';
import { Snapshot } from '../xds/snapshot.js';
import { SHORT_NAME } from '../xds/type-urls.js';
import type { ConfigLoad, ConfigSource, LoadJob, PeekedContent } from './config-source.js';

/** A gateway proxy: node cluster = gateway name. A sidecar: node cluster = service, node id = instance id. */
export const resolveModelProxy: GroupResolver = (node, has) => {
  const gw = gatewayGroup(node.cluster);
  if (has(gw)) return gw;
  const sc = sidecarGroup(node.cluster, node.id);
  if (has(sc)) return sc;
  return undefined;
};

/**
 * A diagnostic as a SourceError whose format() is exactly `meshgate validate`'s line
 * (formatDiagnostic: "file:line:col: error: path: message (hint)"), so /status, the serve log
 * and `validate` report a problem the same way.
 */
export function diagnosticToSourceError(d: Diagnostic): SourceError {
  const p = d.path.length ? `${formatPath(d.path)}: ` : '';
  const hint = d.hint ? ` (${d.hint})` : '';
  return new SourceError(`${d.severity}: ${p}${d.message}${hint}`, d.position);
}

export interface BuiltModel {
  model: Model;
  ir: MeshIR;
  snapshots: Map<string, Snapshot>;
  /** Groups whose snapshot is a new object in this build (new, or something in it changed). */
  changed: Set<string>;
  /** The model's set of proxy groups differs from the previous build's. */
  groupsChanged: boolean;
}

/** The SDS secrets of a proxy (certificate and trust bundle) when mTLS is on. */
export type SecretSource = (proxy: ProxyIR) => Resource[];

/**
 * Model → snapshots, incrementally across builds: the IR builder returns the same objects for
 * what did not change, the encoder memoises on them, and a proxy whose resources and secrets
 * are the very same arrays keeps its snapshot. A reload therefore costs a model comparison plus
 * the work of what changed.
 */
export class MeshBuilder {
  readonly ir = new IrBuilder();
  readonly encoder = new ResourceEncoder();
  private snapshots = new Map<string, { resources: ProxyResources; secrets: Resource[]; snapshot: Snapshot }>();
  /** Snapshots made so far (a group whose resources and secrets are unchanged reuses its own). */
  snapshotsMade = 0;
  /**
   * Groups whose snapshot was built ahead (warm-up) and that no proxy has asked for since. A
   * build keeps them without rebuilding them: on connect, the snapshot is used if the group's
   * resources and secrets are still the very same, else one is built on it.
   */
  private readonly ahead = new Set<string>();

  /** How many snapshots built ahead are held. */
  get aheadCount(): number {
    return this.ahead.size;
  }

  /** The snapshot of one group from its resources and secrets, reused when both are unchanged. */
  snapshotFor(group: string, resources: ProxyResources, secrets: Resource[], errors?: { file: string; out: SourceError[] }): Snapshot {
    const hit = this.snapshots.get(group);
    if (hit && hit.resources === resources && hit.secrets === secrets) return hit.snapshot;
    const snapshot = new Snapshot(resources, hit?.snapshot, secrets);
    this.snapshotsMade++;
    if (errors) {
      for (const problem of snapshot.problems()) {
        errors.out.push(new SourceError(`internal error: ${group}: ${SHORT_NAME[problem.typeUrl]} "${problem.resource}" ${problem.message}`, { file: errors.file, line: 1, column: 1 }));
      }
    }
    this.snapshots.set(group, { resources, secrets, snapshot });
    return snapshot;
  }

  /**
   * Build the snapshots of every gateway and of `only` (groups that do not exist are skipped),
   * or of every group. Groups not built keep no state here; snapshotOf() builds one later.
   */
  build(next: Model, file: string, secrets?: SecretSource, only?: Iterable<string>): { built: BuiltModel; errors: SourceError[] } {
    const list = only ? [...only] : undefined;
    return this.begin(next, file, secrets, list ? () => list : undefined).step(Number.POSITIVE_INFINITY)!;
  }

  /**
   * build(), one group at a time: step(deadline) builds groups until `deadline`
   * (performance.now()) and returns the result once all are built, so that a reload of
   * thousands of sidecars can leave the event loop free between slices. The IR is updated to
   * `next` at once (a proxy connecting meanwhile is built from it). `only` is asked again at
   * the end, so a group built on demand while the job ran is in the result too.
   */
  begin(next: Model, file: string, secrets?: SecretSource, only?: () => Iterable<string>): BuildJob {
    const model = this.ir.update(next);
    this.encoder.beginBuild();
    const wanted = (): string[] => (only ? [...new Set([...this.ir.gatewayGroups(), ...only()])].filter((g) => this.ir.exists(g)).sort() : this.ir.groups());
    const groups = wanted();
    const proxies: ProxyIR[] = [];
    const snapshots = new Map<string, Snapshot>();
    const changed = new Set<string>();
    const errors: SourceError[] = [];
    const groupsChanged = this.ir.groupsChanged;
    let i = 0;
    const buildGroup = (g: string): void => {
      const p = this.ir.proxy(g)!;
      proxies.push(p);
      const resources = this.encoder.translateProxyByType(p);
      const prev = this.snapshots.get(g)?.snapshot;
      const snap = this.snapshotFor(g, resources, p.identity && secrets ? secrets(p) : NO_SECRETS, { file, out: errors });
      if (snap !== prev) changed.add(g);
      snapshots.set(g, snap);
    };
    return {
      step: (deadline) => {
        while (i < groups.length) {
          buildGroup(groups[i++]!);
          if (i < groups.length && performance.now() >= deadline) return null;
        }
        if (only) for (const g of wanted()) if (!snapshots.has(g)) buildGroup(g);
        if (this.snapshots.size > snapshots.size) {
          for (const g of [...this.snapshots.keys()]) {
            if (snapshots.has(g) || (this.ahead.has(g) && this.ir.exists(g))) continue;
            this.snapshots.delete(g);
            this.ahead.delete(g);
          }
        }
        proxies.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
        const ir: MeshIR = { trustDomain: model.mesh.trustDomain, mtls: model.mesh.mtls, certificateTtlMs: model.mesh.certificateTtl, proxies };
        return { built: { model, ir, snapshots, changed, groupsChanged }, errors };
      },
    };
  }

  /** Whether `group` has a snapshot built (live, or built ahead since the last build). */
  hasSnapshot(group: string): boolean {
    return this.snapshots.has(group);
  }

  /**
   * One group's snapshot from the last build's model (a proxy of a group not built yet
   * connected, or `ahead`: the warm-up building it before any proxy asks).
   */
  snapshotOf(group: string, file: string, secrets?: SecretSource, ahead = false): { snapshot: Snapshot | undefined; errors: SourceError[] } {
    const p = this.ir.proxy(group);
    if (!p) return { snapshot: undefined, errors: [] };
    if (ahead) this.ahead.add(group);
    else this.ahead.delete(group);
    const errors: SourceError[] = [];
    const snapshot = this.snapshotFor(group, this.encoder.translateProxyByType(p), p.identity && secrets ? secrets(p) : NO_SECRETS, { file, out: errors });
    return { snapshot, errors };
  }
}

const NO_SECRETS: Resource[] = [];

function fileSignature(st: fs.Stats): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}

/** A build in progress (MeshBuilder.begin). */
export interface BuildJob {
  /** Build until `deadline` (performance.now()); the result once every group is built, else null. */
  step(deadline: number): { built: BuiltModel; errors: SourceError[] } | null;
}

/** At most this many certificates are issued ahead of their proxy's first connection… */
export const WARMUP_MAX = 10_000;
/** …and at most this many sidecar snapshots built ahead. */
export const SNAPSHOTS_AHEAD_MAX = 4096;

/**
 * Model → snapshots. Consistency problems here are bugs in the translator (or a missing
 * secret source for an mTLS model), reported as errors.
 */
export function buildSnapshots(model: Model, builder: MeshBuilder, file: string, secrets?: SecretSource, only?: Iterable<string>): { built: BuiltModel; errors: SourceError[] } {
  return builder.build(model, file, secrets, only);
}

export class ModelSource implements ConfigSource {
  readonly description: string;
  readonly watchTarget: string;
  readonly resolver = resolveModelProxy;
  private readonly builder = new MeshBuilder();
  /** The last model that built without errors. */
  lastBuilt: BuiltModel | null = null;
  lastDiagnostics: Diagnostic[] = [];

  constructor(
    file: string,
    private readonly security: MeshSecurity | null = null,
  ) {
    this.watchTarget = path.resolve(file);
    this.description = `model file ${file}`;
  }

  private secrets(): SecretSource | undefined {
    const sec = this.security;
    return sec ? (p) => sec.secretsFor(p) : undefined;
  }

  /**
   * The file's content: whether it is the very bytes the last peek read, and its hash on demand.
   * The text read is kept, with the file's identity, for the load that usually follows (the app
   * peeks, then loads only if the content is new): one read of a multi-megabyte model per reload
   * instead of two, and no hash of it on the way (model/file-text.ts).
   */
  peekContent(): PeekedContent | null {
    this.peeked = null;
    try {
      const st = fs.statSync(this.watchTarget);
      // Only a regular file within the limit is kept: anything else is read and reported by load.
      if (!(st.isFile() && st.size <= MODEL_YAML_LIMITS.maxBytes)) {
        const hash = createHash('sha256').update(fs.readFileSync(this.watchTarget, 'utf8')).digest('hex');
        return { same: false, hash: () => hash };
      }
      // The text at the cost of what changed since the last read; the hash when asked for.
      const read = this.fileText.readFile(this.watchTarget);
      this.peeked = { text: read.text, hash: read.hash, sig: fileSignature(st) };
      return read;
    } catch {
      return null;
    }
  }

  /** The file's content hash (peekContent's, worked out now). */
  peekContentHash(): string | null {
    return this.peekContent()?.hash() ?? null;
  }

  /** The last file read's bytes, text and hash state (peekContent). */
  private readonly fileText = new FileTextMemo();

  /** The text peekContent read, if the file is still the one it read (same inode, size, mtime). */
  private takePeeked(): { text: string; hash: () => string } | null {
    const p = this.peeked;
    this.peeked = null;
    if (!p) return null;
    try {
      return fileSignature(fs.statSync(this.watchTarget)) === p.sig ? p : null;
    } catch {
      return null;
    }
  }

  private peeked: { text: string; hash: () => string; sig: string } | null = null;

  /** New snapshots for `groups` with fresh secrets (certificate rotation), from the last build. */
  rebuild(groups: readonly string[]): Map<string, Snapshot> {
    const out = new Map<string, Snapshot>();
    const built = this.lastBuilt;
    const secrets = this.secrets();
    if (!built || !secrets) return out;
    for (const g of groups) {
      const p = this.builder.ir.proxy(g);
      if (!p) continue;
      const snap = this.builder.snapshotFor(g, this.builder.encoder.translateProxyByType(p), secrets(p));
      built.snapshots.set(g, snap);
      out.set(g, snap);
    }
    return out;
  }

  /**
   * Snapshots of groups not built at the last load, built when a proxy of theirs connects (see
   * the README). A consistency problem here is a translator bug: it throws.
   */
  readonly provider: SnapshotProvider = {
    exists: (g) => this.lastBuilt !== null && this.builder.ir.exists(g),
    build: (g) => {
      if (!this.lastBuilt) return undefined;
      const r = this.builder.snapshotOf(g, this.watchTarget, this.secrets());
      if (r.errors.length) throw new Error(r.errors.map((e) => e.message).join('; '));
      if (r.snapshot) this.lastBuilt.snapshots.set(g, r.snapshot);
      return r.snapshot;
    },
  };

  /**
   * Work done ahead while meshgate is idle, so that proxies connecting later (a scale-up, a
   * connect storm after a restart) find it ready: first the certificates of sidecars that have
   * not connected yet, then their snapshots. Bounded: at most WARMUP_MAX certificates and
   * SNAPSHOTS_AHEAD_MAX snapshots are held ahead, so a model with 100 000 instances does not
   * hold 100 000 keys and configurations for proxies that may never connect. A snapshot built
   * ahead is not a live group: loads do not rebuild it; a proxy that connects gets it if its
   * resources are still the same, else one built on it.
   */
  warmup(): (() => boolean) | null {
    if (!this.lastBuilt) return null;
    const sec = this.security;
    const certs = sec ? this.builder.ir.sidecarIdentities() : null;
    let groups: Iterator<string> | null = null;
    let ahead = 0;
    return () => {
      if (sec && certs) {
        for (;;) {
          if (ahead >= WARMUP_MAX || sec.certs.size >= WARMUP_MAX) break;
          const n = certs.next();
          if (n.done) break;
          if (sec.prepare(n.value.group, n.value.identity)) {
            ahead++;
            return true;
          }
        }
      }
      if (this.builder.aheadCount >= SNAPSHOTS_AHEAD_MAX) return false; // (before listing 100 000 groups)
      groups ??= this.builder.ir.groups().values();
      for (;;) {
        if (this.builder.aheadCount >= SNAPSHOTS_AHEAD_MAX) return false;
        const n = groups.next();
        if (n.done) return false;
        if (this.builder.hasSnapshot(n.value)) continue; // live (gateways, connected sidecars) or built ahead
        this.builder.snapshotOf(n.value, this.watchTarget, this.secrets(), true);
        return true;
      }
    };
  }

  load(live?: () => Iterable<string>): ConfigLoad {
    return this.loadInSlices(live).step(Number.POSITIVE_INFINITY)!;
  }

  /**
   * Read and check the model a phase per step (ModelLoader.loadInSteps), then build its
   * snapshots in slices (MeshBuilder.begin): step(deadline) works until `deadline`, at least
   * one phase or group, so that no part of a reload holds the event loop for long.
   */
  loadInSlices(live?: () => Iterable<string>): LoadJob {
    const peeked = this.takePeeked();
    // Without a peeked text (the file changed since, or was not peeked), read it now and load it at once.
    const loading: ModelLoadSteps = peeked ? loadModelTextInSteps(this.watchTarget, peeked.text) : { step: () => loadModelFile(this.watchTarget) };
    let loaded: ModelLoad | null = null;
    let built: LoadJob | null = null;
    const phaseMs = { load: 0, build: 0 };
    /** The model read and checked (phase by phase until `deadline`): nothing is built or kept from it yet. */
    const loadOnly = (deadline: number): boolean => {
      let t = performance.now();
      while (!loaded) {
        loaded = loading.step();
        const now = performance.now();
        phaseMs.load += now - t;
        t = now;
        if (!loaded && now >= deadline) return false;
      }
      return true;
    };
    return {
      loadOnly,
      step: (deadline) => {
        if (!built) {
          if (!loadOnly(deadline)) return null;
          const t = performance.now();
          built = this.afterLoad(loaded!, peeked?.hash, live);
          phaseMs.load += performance.now() - t;
          if (performance.now() >= deadline) return null;
        }
        const t = performance.now();
        const load = built.step(deadline);
        phaseMs.build += performance.now() - t;
        if (load) load.phaseMs = phaseMs;
        return load;
      },
    };
  }

  /** A load read and checked: its errors, or the job building its snapshots. */
  private afterLoad(r: ModelLoad, peekedHash: (() => string) | undefined, live?: () => Iterable<string>): LoadJob {
    this.lastDiagnostics = r.diagnostics;
    // (Worked out when first read: a reload applies and pushes without waiting for it.)
    const text = r.text;
    const hashOf = peekedHash ?? (() => createHash('sha256').update(text).digest('hex'));
    const errors = r.diagnostics.filter((d) => d.severity === 'error').map(diagnosticToSourceError);
    const warnings = r.diagnostics.filter((d) => d.severity === 'warning').map(diagnosticToSourceError);
    const done = (load: ConfigLoad): LoadJob => ({ step: () => load });
    let hash: string | null = null;
    const contentHash = (): string => (hash ??= hashOf());
    if (!r.model || errors.length) return done({ snapshots: new Map(), errors, warnings, contentHash: contentHash() });
    if (r.model.mesh.mtls !== 'off' && !this.security) {
      const e = new SourceError('mesh.mtls needs a certificate authority, but this source has none (construct ModelSource with a MeshSecurity)', { file: this.watchTarget, line: 1, column: 1 }, 'mesh.mtls');
      return done({ snapshots: new Map(), errors: [e], warnings, contentHash: contentHash() });
    }
    this.security?.setTtl(r.model.mesh.certificateTtl);
    const job = this.builder.begin(r.model, this.watchTarget, this.secrets(), live);
    return {
      step: (deadline) => {
        const res = job.step(deadline);
        if (!res) return null;
        const { built, errors: buildErrors } = res;
        if (buildErrors.length === 0) {
          this.lastBuilt = built;
          const ir = this.builder.ir;
          // Certificates of groups that no longer exist are dropped; only a change of the set of
          // groups can make one (a walk of every certificate per reload was ~5 % of endpoint churn).
          if (built.groupsChanged) this.security?.retain({ has: (g) => ir.exists(g) });
        } else if (this.lastBuilt) {
          // Not applied: groups built on demand from now on must come from the last good model.
          this.builder.ir.update(this.lastBuilt.model);
        }
        return {
          snapshots: built.snapshots,
          errors: buildErrors,
          warnings,
          get contentHash() {
            return contentHash();
          },
          groupsChanged: built.groupsChanged,
        };
      },
    };
  }
}
