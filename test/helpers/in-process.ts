// An xDS server in this process on 127.0.0.1:0, with a cache the test drives directly.
import { SnapshotCache, type GroupResolver, resolveByIdThenCluster } from '../../src/xds/cache.js';
import { resourceFromJson, type Resource } from '../../src/xds/resource.js';
import { XdsServer, type XdsServerOptions } from '../../src/xds/server.js';
import { Snapshot } from '../../src/xds/snapshot.js';
import { isServedType } from '../../src/xds/type-urls.js';
import { silentLogger } from '../../src/util/log.js';

export interface InProcessServer {
  port: number;
  address: string;
  cache: SnapshotCache;
  server: XdsServer;
  /** Set a group's snapshot from proto3-JSON resources, each with "@type". */
  set(group: string, resources: Record<string, unknown>[]): Snapshot;
  close(): Promise<void>;
}

export function snapshotOf(resources: Record<string, unknown>[]): Snapshot {
  return new Snapshot(resources.map(toResource));
}

export function toResource(json: Record<string, unknown>): Resource {
  const { '@type': t, ...body } = json;
  if (typeof t !== 'string' || !isServedType(t)) throw new Error(`bad @type ${String(t)}`);
  return resourceFromJson(t, body);
}

export async function startInProcess(
  opts: Partial<Omit<XdsServerOptions, 'cache' | 'log'>> & { resolver?: GroupResolver } = {},
): Promise<InProcessServer> {
  const cache = new SnapshotCache(opts.resolver ?? resolveByIdThenCluster);
  const server = new XdsServer({ ...opts, cache, log: silentLogger() });
  const port = await server.listen('127.0.0.1:0');
  return {
    port,
    address: `127.0.0.1:${port}`,
    cache,
    server,
    set(group, resources) {
      const snap = snapshotOf(resources);
      cache.set(group, snap);
      return snap;
    },
    close: () => server.close(200),
  };
}
