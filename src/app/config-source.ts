// Where snapshots come from: a directory of raw Envoy resources now, the model file later.
// A source is loaded whole; any error means nothing from that load is applied.
import type { GroupResolver } from '../xds/cache.js';
import type { Snapshot } from '../xds/snapshot.js';
import type { SourceError } from '../util/yaml-source.js';

export interface ConfigLoad {
  snapshots: Map<string, Snapshot>;
  errors: SourceError[];
  warnings: SourceError[];
  /** Hash of the input; an unchanged hash is not reloaded. */
  contentHash: string;
}

export interface ConfigSource {
  /** For logs and /status, e.g. "resources directory ./envoy/resources". */
  readonly description: string;
  /** File or directory to watch. */
  readonly watchTarget: string;
  /** Which group a connecting proxy belongs to. */
  readonly resolver: GroupResolver;
  load(): ConfigLoad;
  /** The input's content hash without loading it (a cheap check that lets reload skip no-ops). */
  peekContentHash?(): string | null;
  /** New snapshots for some groups from the last load (certificate rotation). */
  rebuild?(groups: readonly string[]): Map<string, Snapshot>;
}
