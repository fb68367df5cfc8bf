// Where snapshots come from: a directory of raw Envoy resources now, the model file later.
// A source is loaded whole; any error means nothing from that load is applied.
import type { GroupResolver, SnapshotProvider } from '../xds/cache.js';
import type { Snapshot } from '../xds/snapshot.js';
import type { SourceError } from '../util/yaml-source.js';

export interface ConfigLoad {
  snapshots: Map<string, Snapshot>;
  errors: SourceError[];
  warnings: SourceError[];
  /** Hash of the input (/status shows it; a load of the last applied content again changes nothing). May be a getter that works it out when first read. */
  readonly contentHash: string;
  /** The set of groups changed (some groups are not in `snapshots`: see ConfigSource.provider). */
  groupsChanged?: boolean;
  /** Milliseconds spent reading and checking the model, and building snapshots (the log shows them). */
  phaseMs?: { load: number; build: number };
}

/** What a source's peek found. */
export interface PeekedContent {
  /** The very content the last peek read (its bytes compared: no hash needed to say so). */
  same: boolean;
  /** The content's hash (what a load of it reports as contentHash), worked out on the first call. */
  hash(): string;
}

export interface LoadJob {
  step(deadline: number): ConfigLoad | null;
  /**
   * Only read and check the input, until `deadline`; true once that part is done (step() then
   * goes on with the rest). Reading and checking changes nothing anything is served from, so it
   * may be done before it is known whether the load will be wanted (MeshgateApp's early load).
   */
  loadOnly?(deadline: number): boolean;
}

export interface ConfigSource {
  /** For logs and /status, e.g. "resources directory ./envoy/resources". */
  readonly description: string;
  /** File or directory to watch. */
  readonly watchTarget: string;
  /** Which group a connecting proxy belongs to. */
  readonly resolver: GroupResolver;
  /**
   * Load the input. `live`: the groups the cache holds (built before: a proxy of theirs
   * connected). A source with a `provider` builds those (and its gateways) only; the provider
   * builds the others when a proxy of theirs connects.
   */
  load(live?: () => Iterable<string>): ConfigLoad;
  /**
   * load() in slices: the returned job's step(deadline) works until `deadline`
   * (performance.now()) and returns the load once it is complete, else null. Reading and
   * checking the input is done in these steps too, not when the job is made. Lets a reload of
   * thousands of proxies leave the event loop free between slices.
   */
  loadInSlices?(live?: () => Iterable<string>): LoadJob;
  /** Builds the snapshot of a group nobody was connected to when it was loaded. */
  readonly provider?: SnapshotProvider;
  /** The input without loading it (a cheap check that lets reload skip no-ops); null if it cannot be read. */
  peekContent?(): PeekedContent | null;
  /**
   * Work worth doing ahead while idle (certificates of proxies that have not connected yet),
   * one small step per call; false when there is nothing left.
   */
  warmup?(): (() => boolean) | null;
  /** New snapshots for some groups from the last load (certificate rotation). */
  rebuild?(groups: readonly string[]): Map<string, Snapshot>;
}
