import path from 'node:path';
import type { ConfigLoad, ConfigSource } from '../app/config-source.js';
import { type GroupResolver, resolveByIdThenCluster } from '../xds/cache.js';
import { loadResourceDir } from './load-dir.js';

export class ResourceDirSource implements ConfigSource {
  readonly description: string;
  readonly watchTarget: string;
  readonly resolver: GroupResolver = resolveByIdThenCluster;

  constructor(dir: string) {
    this.watchTarget = path.resolve(dir);
    this.description = `resources directory ${dir}`;
  }

  load(): ConfigLoad {
    const r = loadResourceDir(this.watchTarget);
    return { snapshots: r.snapshots, errors: r.errors, warnings: [], contentHash: r.contentHash };
  }
}
