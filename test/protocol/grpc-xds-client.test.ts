// A real proxyless gRPC client (@grpc/grpc-js-xds) against meshgate over SotW ADS.
//
// meshgate serves an API listener (HttpConnectionManager with RDS and the router filter), a
// RouteConfiguration, EDS clusters and their ClusterLoadAssignments pointing at real grpc-js
// servers on 127.0.0.1. The client channel "xds:///<listener>" must reach server A, then
// follow snapshot changes (an EDS change to B, then an RDS change to a new cluster on C)
// on the same channel and the same ADS stream, ACKing every type it is sent.
//
// Bootstrap: grpc-js-xds reads GRPC_XDS_BOOTSTRAP (a file) or GRPC_XDS_BOOTSTRAP_CONFIG (inline
// JSON) lazily, the first time an xds: channel resolves, and caches it for the process. The
// variable is set before the plugin is imported (dynamic import) and before any channel exists.
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';
import type { StreamStatus, TypeStatus } from '../../src/xds/status.js';
import { TYPE } from '../../src/xds/type-urls.js';

const NODE_ID = `grpc-xds-client-${process.pid}`;
const NODE_CLUSTER = 'grpc-xds-client-test';
const LISTENER = 'echo.meshgate.test';
const ROUTE = 'echo-route';
const CLUSTER_1 = 'echo-cluster-1';
const CLUSTER_2 = 'echo-cluster-2';
const METHOD = '/meshgate.test.Echo/Who';
const XDS_TYPES = ['CDS', 'EDS', 'LDS', 'RDS'] as const;

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

const identity = (b: Buffer): Buffer => b;

// ---------------------------------------------------------------- backends

interface Backend {
  name: string;
  port: number;
  hits: number;
  server: grpc.Server;
}

/** A grpc-js server whose one unary method answers with its own name. */
async function startBackend(name: string): Promise<Backend> {
  const server = new grpc.Server();
  const backend: Backend = { name, port: 0, hits: 0, server };
  const def: grpc.ServiceDefinition = {
    Who: {
      path: METHOD,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
  server.addService(def, {
    Who: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      backend.hits++;
      cb(null, Buffer.from(name, 'utf8'));
    },
  });
  backend.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  return backend;
}

function stopBackend(b: Backend | undefined): Promise<void> {
  if (!b) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      b.server.forceShutdown();
      resolve();
    }, 500);
    b.server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

// ---------------------------------------------------------------- xDS resources

function listener(): Record<string, unknown> {
  return {
    '@type': TYPE.LISTENER,
    name: LISTENER,
    api_listener: {
      api_listener: {
        '@type': HCM,
        stat_prefix: 'echo',
        rds: { route_config_name: ROUTE, config_source: { ads: {}, resource_api_version: 'V3' } },
        http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
      },
    },
  };
}

function route(cluster: string): Record<string, unknown> {
  return {
    '@type': TYPE.ROUTE,
    name: ROUTE,
    virtual_hosts: [{ name: 'echo', domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster } }] }],
  };
}

function edsCluster(name: string): Record<string, unknown> {
  return {
    '@type': TYPE.CLUSTER,
    name,
    type: 'EDS',
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
  };
}

function assignment(cluster: string, port: number): Record<string, unknown> {
  return {
    '@type': TYPE.ENDPOINT,
    cluster_name: cluster,
    endpoints: [
      {
        locality: { region: 'local', zone: 'local-a' },
        load_balancing_weight: 1,
        lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }],
      },
    ],
  };
}

// ---------------------------------------------------------------- helpers

async function eventually<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `; last error: ${last instanceof Error ? last.message : String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function who(client: grpc.Client): Promise<string> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest<Buffer, Buffer>(
      METHOD,
      identity,
      identity,
      Buffer.alloc(0),
      { deadline: Date.now() + 3_000 },
      (err, res) => (err ? reject(err) : resolve(res!.toString('utf8'))),
    );
  });
}

/** Poll RPCs until one is answered by `name`; then check the next few all are. */
async function expectServedBy(client: grpc.Client, name: string): Promise<void> {
  await eventually(`an RPC answered by ${name}`, async () => ((await who(client)) === name ? true : undefined));
  for (let i = 0; i < 5; i++) expect(await who(client)).toBe(name);
}

describe('@grpc/grpc-js-xds as a proxyless client of meshgate (SotW ADS)', () => {
  let xds: InProcessServer;
  let a: Backend;
  let b: Backend;
  let c: Backend;
  let client: grpc.Client | undefined;
  let adsStreamId: number;
  const savedEnv = { GRPC_XDS_BOOTSTRAP: process.env['GRPC_XDS_BOOTSTRAP'], GRPC_XDS_BOOTSTRAP_CONFIG: process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] };

  function clientStreams(): StreamStatus[] {
    return xds.server.board.view().filter((s) => s.nodeId === NODE_ID);
  }

  /** The client's ADS stream once all four types are ACKed at the version sent; undefined until then. */
  function settled(): StreamStatus | undefined {
    const streams = clientStreams();
    if (streams.length !== 1) return undefined;
    const s = streams[0]!;
    for (const t of XDS_TYPES) {
      const ts: TypeStatus | undefined = s.types[t];
      if (!ts || ts.versionSent === null || ts.versionAcked !== ts.versionSent || ts.pending) return undefined;
    }
    return s;
  }

  beforeAll(async () => {
    [a, b, c] = await Promise.all([startBackend('server-A'), startBackend('server-B'), startBackend('server-C')]);
    xds = await startInProcess();
    xds.set(NODE_ID, [listener(), route(CLUSTER_1), edsCluster(CLUSTER_1), assignment(CLUSTER_1, a.port)]);

    delete process.env['GRPC_XDS_BOOTSTRAP']; // a file path would take precedence over the inline config
    process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = JSON.stringify({
      xds_servers: [{ server_uri: xds.address, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      // grpc-js-xds 1.14 rejects a node without "locality" ("locality field missing in node element").
      node: { id: NODE_ID, cluster: NODE_CLUSTER, locality: {} },
    });
    const xdsPlugin = await import('@grpc/grpc-js-xds');
    xdsPlugin.register();
  });

  afterAll(async () => {
    client?.close();
    await Promise.all([xds?.close(), stopBackend(a), stopBackend(b), stopBackend(c)]);
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('registers with the same @grpc/grpc-js instance the test uses', () => {
    const fromTest = createRequire(import.meta.url);
    const fromPlugin = createRequire(fromTest.resolve('@grpc/grpc-js-xds'));
    expect(fromPlugin.resolve('@grpc/grpc-js')).toBe(fromTest.resolve('@grpc/grpc-js'));
  });

  it('resolves xds:///<listener> through meshgate and reaches server A', async () => {
    client = new grpc.Client(`xds:///${LISTENER}`, grpc.credentials.createInsecure());
    await expectServedBy(client, 'server-A');
    expect(a.hits).toBeGreaterThan(0);
    expect(b.hits).toBe(0);

    const s = await eventually('all four types ACKed', settled);
    expect(s.nodeId).toBe(NODE_ID);
    expect(s.cluster).toBe(NODE_CLUSTER);
    expect(s.group).toBe(NODE_ID);
    expect(s.variant).toBe('sotw');
    expect(s.service).toBe('ads');
    expect(s.userAgent).toMatch(/grpc/i);
    expect(s.types['LDS']!.subscribed).toEqual([LISTENER]);
    expect(s.types['RDS']!.subscribed).toEqual([ROUTE]);
    expect(s.types['CDS']!.subscribed).toEqual([CLUSTER_1]);
    expect(s.types['EDS']!.subscribed).toEqual([CLUSTER_1]);
    for (const t of XDS_TYPES) expect(s.types[t]!.lastNack, `${t} NACK`).toBeNull();
    adsStreamId = s.streamId;
  });

  it('moves RPCs to server B when the ClusterLoadAssignment changes, on the same channel', async () => {
    const before = await eventually('settled', settled);
    const bHits = b.hits;
    xds.set(NODE_ID, [listener(), route(CLUSTER_1), edsCluster(CLUSTER_1), assignment(CLUSTER_1, b.port)]);
    await expectServedBy(client!, 'server-B');
    expect(b.hits).toBeGreaterThan(bHits);

    const s = await eventually('EDS change ACKed', () => {
      const x = settled();
      return x && x.types['EDS']!.versionAcked !== before.types['EDS']!.versionAcked ? x : undefined;
    });
    expect(s.streamId).toBe(adsStreamId);
    // Only EDS changed; the other types were not re-versioned.
    for (const t of ['CDS', 'LDS', 'RDS'] as const) expect(s.types[t]!.versionAcked).toBe(before.types[t]!.versionAcked);
  });

  it('moves RPCs to server C when the route points at another cluster, on the same channel', async () => {
    const before = await eventually('settled', settled);
    xds.set(NODE_ID, [
      listener(),
      route(CLUSTER_2),
      edsCluster(CLUSTER_1),
      assignment(CLUSTER_1, b.port),
      edsCluster(CLUSTER_2),
      assignment(CLUSTER_2, c.port),
    ]);
    await expectServedBy(client!, 'server-C');

    const s = await eventually('RDS change ACKed and CDS/EDS following it', () => {
      const x = settled();
      if (!x) return undefined;
      const cds = x.types['CDS']!.subscribed;
      return x.types['RDS']!.versionAcked !== before.types['RDS']!.versionAcked && Array.isArray(cds) && cds.join() === CLUSTER_2 ? x : undefined;
    });
    expect(s.streamId).toBe(adsStreamId);
    expect(s.types['LDS']!.versionAcked).toBe(before.types['LDS']!.versionAcked);
    expect(s.types['EDS']!.subscribed).toEqual([CLUSTER_2]);
    expect(xds.server.board.recentNacks().filter((n) => n.nodeId === NODE_ID)).toEqual([]);
  });
});
