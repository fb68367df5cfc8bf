// E1 (PERFORMANCE.md): model edit → first 200 on a new route through a real Envoy gateway,
// with 3000 routes configured. Not part of `npm run bench`:
//
//   npm run bench:e1 [-- --routes 3000] [--iterations 20] [--delta] [--smoke] [--services 10]
//        [--no-pin] [--out FILE]
//
// Setup, all on loopback:
//   - ~10 upstream HTTP servers (test/helpers/upstream.ts: 200, body = the service name);
//   - the model: mesh.mtls off; services svc0..svc9 with one instance each whose address:port
//     IS the upstream server; gateway "edge" with one HTTP listener on 127.0.0.1 and N routes
//     `/r{i}/` → svc(i mod 10). In meshgate's model every instance has a sidecar and
//     `address:port` is that sidecar's inbound listener; with mTLS off the gateway's cluster
//     sends plain HTTP to `address:port`, so pointing it at the application itself is what a
//     plaintext sidecar would pass through, and the gateway's xDS (what E1 measures) is the same
//     as with sidecars running. The sidecars never connect; their `app` ports are free ports
//     nobody binds. (With mTLS on, the gateway would need real sidecars for its TLS.)
//   - meshgate (`serve -f`, pinned to core 0 like the suite; bench/lib/servers.ts);
//   - one Envoy 1.40 (test/helpers/envoy.ts, concurrency 1) with the bootstrap from meshgate's
//     own CLI: `meshgate bootstrap -f mesh.yaml --proxy edge --xds … --admin 127.0.0.1:0 -o json`;
//     started before this process pins itself, so it may run on either core;
//   - this process (the poller and the upstreams) on core 1.
//
// Per iteration k (after one untimed warm-up): wait until meshgate is idle; append the route
// `/new{k}/` → svc(k mod 10) to the gateway and rewrite the model file (temp + rename, as an
// editor saves); from the rename, GET /new{k}/x through Envoy in a tight loop over one
// keep-alive connection (each request starts when the previous answered: 404 until the route
// exists) until the first 200. Recorded: rename → first 200; rename → meshgate's
// "configuration applied" log line (its pino time: the new snapshots are set, pushes start);
// rename → Envoy accepted the route configuration (last_updated of the dynamic route config in
// Envoy's /config_dump; Envoy ACKs right after). Both are wall-clock (ms) against the rename's
// wall-clock time.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type EnvoyProcess, envoyVersion, findEnvoy, startEnvoy } from '../../test/helpers/envoy.js';
import { freePorts } from '../../test/helpers/ports.js';
import { startUpstream, type Upstream } from '../../test/helpers/upstream.js';
import { metric, type Metric, type ScenarioResult, writeModel } from '../lib/harness.js';
import { gitCommit, type LongRunResults, machineInfo, writeResults } from '../lib/long-run.js';
import { canPin, MESHGATE_MAIN, type MeshgateHandle, pinSelf, REPO, startMeshgate } from '../lib/servers.js';
import { max, percentile, round, sleep } from '../lib/stats.js';
import { nowMs } from '../loadgen/protocol.js';
import { formatScenario } from '../run.js';
import { settle } from './common.js';

export interface E1Options {
  routes: number;
  iterations: number;
  services: number;
  delta: boolean;
  smoke: boolean;
  pin: boolean;
  workDir: string;
  log: (m: string) => void;
}

export function e1Defaults(smoke: boolean): E1Options {
  return {
    routes: smoke ? 50 : 3000,
    iterations: smoke ? 3 : 20,
    services: 10,
    delta: false,
    smoke,
    pin: true,
    workDir: path.join(REPO, 'bench', 'out', smoke ? 'work-e1-smoke' : 'work-e1'),
    log: (m) => process.stdout.write(`${m}\n`),
  };
}

interface Iteration {
  k: number;
  /** Writing the temp file and renaming it (ms): T0 is taken after the rename, so a hiccup here (a descheduled runner) hides that much from every figure. */
  writeMs: number;
  /** Rename → first 200 through Envoy (ms); NaN if it never came. */
  firstOkMs: number;
  /** Requests sent until then (404s, then the 200). */
  polls: number;
  /** Rename → meshgate's "configuration applied" log line (ms), and that reload's own duration. */
  appliedMs: number;
  reloadMs: number;
  /** Rename → Envoy's last_updated of the route configuration (ms). */
  envoyRdsMs: number;
  body: string;
}

/** Wall-clock ms (sub-ms) on the same base as Date.now(). */
function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** "2026-11-22T01:09:19.598123Z" → epoch ms with the fraction kept. */
function isoMs(s: string | undefined): number {
  if (!s) return Number.NaN;
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(s);
  if (!m) return Date.parse(s);
  return Date.parse(`${m[1]}Z`) + (m[2] ? Number(m[2]) * 1000 : 0);
}

function modelText(o: { upstreams: Upstream[]; apps: number[]; gatewayPort: number }, routes: string[]): string {
  const lines = ['# generated by bench/scenarios/e1-real-envoy.ts', 'version: 1', 'mesh:', '  trustDomain: bench.local', '  mtls: off', 'services:'];
  o.upstreams.forEach((u, i) => {
    lines.push(`  ${u.name}:`, '    instances:', `      - ${JSON.stringify({ id: `${u.name}-0`, address: '127.0.0.1', port: u.port, app: `127.0.0.1:${o.apps[i]}` })}`);
  });
  lines.push('gateways:', '  edge:', '    listeners:', `      - ${JSON.stringify({ name: 'public', port: o.gatewayPort, address: '127.0.0.1', protocol: 'http', hosts: ['*'] })}`, '    routes:');
  return `${lines.join('\n')}\n${routes.join('\n')}\n`;
}

function routeLine(name: string, prefix: string, backend: string): string {
  return `      - ${JSON.stringify({ name, match: { pathPrefix: prefix }, backend })}`;
}

/** One keep-alive connection; GET → status and body. */
function poller(port: number): { get(p: string): Promise<{ status: number; body: string }>; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  return {
    get: (p) =>
      new Promise((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: p, agent, timeout: 10_000 }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', () => resolve({ status: 0, body: '' }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => resolve({ status: 0, body: '' }));
      }),
    close: () => agent.destroy(),
  };
}

/** The gateway's dynamic route configuration in Envoy: its last_updated (epoch ms) and route count. */
async function envoyRoutes(envoy: EnvoyProcess): Promise<{ lastUpdated: number; routes: number; version: string }> {
  const dump = await envoy.configDump({ resource: 'dynamic_route_configs' });
  let lastUpdated = Number.NaN;
  let routes = 0;
  let version = '';
  for (const c of dump.configs as Array<{ last_updated?: string; version_info?: string; route_config?: { virtual_hosts?: Array<{ routes?: unknown[] }> } }>) {
    const t = isoMs(c.last_updated);
    if (!(t <= lastUpdated)) {
      lastUpdated = t;
      version = c.version_info ?? '';
    }
    for (const vh of c.route_config?.virtual_hosts ?? []) routes += vh.routes?.length ?? 0;
  }
  return { lastUpdated, routes, version };
}

/** "configuration applied" records in meshgate's log: wall time (epoch ms) and reload ms. */
function appliedRecords(logFile: string): Array<{ at: number; ms: number }> {
  const out: Array<{ at: number; ms: number }> = [];
  let text = '';
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return out;
  }
  for (const l of text.split('\n')) {
    if (!l.includes('configuration applied')) continue;
    try {
      const j = JSON.parse(l) as { time?: string | number; ms?: number };
      out.push({ at: typeof j.time === 'number' ? j.time : isoMs(j.time), ms: j.ms ?? Number.NaN });
    } catch {
      /* not JSON */
    }
  }
  return out;
}

export async function runE1(o: E1Options): Promise<LongRunResults> {
  const log = o.log;
  const startedAt = new Date().toISOString();
  const commit = gitCommit();
  fs.rmSync(o.workDir, { recursive: true, force: true });
  const dir = path.join(o.workDir, 'e1');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'mesh.yaml');
  const stateDir = path.join(dir, 'state');
  const pin = o.pin && os.cpus().length >= 2 && canPin();
  const envoyBin = findEnvoy();
  const fullVersion = envoyVersion();
  const semver = /\/(\d+\.\d+\.\d+)\//.exec(fullVersion)?.[1];
  const version = semver ? `Envoy ${semver}` : fullVersion;

  const upstreams: Upstream[] = [];
  let mg: MeshgateHandle | null = null;
  let envoy: EnvoyProcess | null = null;
  let poll: ReturnType<typeof poller> | null = null;
  try {
    for (let i = 0; i < o.services; i++) upstreams.push(await startUpstream(`svc${i}`));
    const [gatewayPort, ...apps] = await freePorts(o.services + 1);
    const shape = { upstreams, apps, gatewayPort: gatewayPort! };
    const routes: string[] = [];
    for (let i = 0; i < o.routes; i++) routes.push(routeLine(`r${i}`, `/r${i}/`, upstreams[i % o.services]!.name));
    writeModel(file, modelText(shape, routes));
    log(`E1 real Envoy: ${o.routes} gateway routes over ${o.services} services, ${o.iterations} iterations, ${o.delta ? 'Delta' : 'SotW'}; ${version}`);

    const t0 = nowMs();
    mg = await startMeshgate({ modelFile: file, stateDir, logFile: path.join(dir, 'meshgate-e1.log'), cpus: pin ? '0' : null, nodeArgs: (process.env['MESHGATE_BENCH_NODE_ARGS'] ?? '').split(/\s+/).filter(Boolean) });
    const startupMs = nowMs() - t0;
    const boot = JSON.parse(
      execFileSync(process.execPath, [MESHGATE_MAIN, 'bootstrap', '-f', file, '--proxy', 'edge', '--xds', mg.target, '--admin', '127.0.0.1:0', '-o', 'json', '--state-dir', stateDir, ...(o.delta ? ['--delta'] : [])], { encoding: 'utf8' }),
    ) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'edge-bootstrap.json'), JSON.stringify(boot, null, 2));
    const t1 = nowMs();
    envoy = await startEnvoy({ nodeId: 'edge', xdsPort: mg.port, variant: o.delta ? 'delta' : 'sotw', bootstrap: boot, concurrency: 1, readyTimeoutMs: 120_000 });
    const envoyReadyMs = nowMs() - t1;
    // Only now: Envoy (started above) keeps the affinity it was born with (any core).
    if (pin) pinSelf('1');
    poll = poller(gatewayPort!);
    const p = poll;
    const ready = nowMs();
    for (;;) {
      const a = await p.get('/r0/x');
      const b = await p.get(`/r${o.routes - 1}/x`);
      if (a.status === 200 && b.status === 200) break;
      if (nowMs() - ready > 60_000) throw new Error(`Envoy never routed /r0/ and /r${o.routes - 1}/ (got ${a.status}, ${b.status}); Envoy log: ${envoy.logPath}`);
      await sleep(50);
    }
    const initial = await envoyRoutes(envoy);
    log(`  meshgate ready in ${startupMs.toFixed(0)} ms; Envoy live in ${envoyReadyMs.toFixed(0)} ms with ${initial.routes} routes`);

    const iterations: Iteration[] = [];
    const total = o.iterations + 1; // the first is a warm-up
    for (let k = 0; k < total; k++) {
      await settle(mg, 150, 60_000);
      await sleep(100);
      const svc = upstreams[k % o.services]!.name;
      const urlPath = `/new${k}/x`;
      const before = await p.get(urlPath);
      if (before.status !== 404) throw new Error(`${urlPath} answered ${before.status} before its route existed`);
      routes.push(routeLine(`new${k}`, `/new${k}/`, svc));
      const text = modelText(shape, routes);
      const nApplied = appliedRecords(mg.logFile).length;
      const wallOffset = wallMs() - nowMs();
      const pre = nowMs();
      const m0 = writeModel(file, text); // the monotonic time right after the rename
      const wall0 = m0 + wallOffset;
      let polls = 0;
      let firstOk = Number.NaN;
      let body = '';
      for (;;) {
        const r = await p.get(urlPath);
        polls++;
        if (r.status === 200) {
          firstOk = nowMs() - m0;
          body = r.body;
          break;
        }
        if (nowMs() - m0 > 120_000) break;
      }
      // meshgate's log line and Envoy's route config update for this edit.
      let applied: { at: number; ms: number } | undefined;
      for (let i = 0; i < 50 && !applied; i++) {
        applied = appliedRecords(mg.logFile)[nApplied];
        if (!applied) await sleep(20);
      }
      const er = await envoyRoutes(envoy);
      const it: Iteration = {
        k,
        writeMs: m0 - pre,
        firstOkMs: firstOk,
        polls,
        appliedMs: applied ? applied.at - wall0 : Number.NaN,
        reloadMs: applied?.ms ?? Number.NaN,
        envoyRdsMs: er.lastUpdated - wall0,
        body,
      };
      if (body && body !== svc) throw new Error(`${urlPath} was answered by ${body}, not ${svc}`);
      log(`  ${k === 0 ? 'warm-up' : `#${k}`.padStart(7)}: first 200 after ${it.firstOkMs.toFixed(1)} ms (${polls} requests); meshgate applied ${it.appliedMs.toFixed(0)} ms (reload ${it.reloadMs} ms); Envoy RDS ${it.envoyRdsMs.toFixed(1)} ms; write+rename ${it.writeMs.toFixed(1)} ms`);
      if (k > 0) iterations.push(it);
    }

    const first = iterations.map((x) => x.firstOkMs);
    const applied = iterations.map((x) => x.appliedMs);
    const rds = iterations.map((x) => x.envoyRdsMs);
    const reload = iterations.map((x) => x.reloadMs);
    const ok = first.filter(Number.isFinite).length;
    const smoke = o.smoke;
    const metrics: Metric[] = [
      metric('edit → first 200 p50', 'ms', percentile(first, 50), smoke ? {} : { target: { op: '<=', value: 50 } }),
      metric('edit → first 200 p90', 'ms', percentile(first, 90)),
      metric('edit → first 200 max', 'ms', max(first)),
      metric('edits that reached a 200', 'count', ok, { note: `of ${iterations.length}` }),
      metric('edit → meshgate "configuration applied" p50', 'ms', percentile(applied, 50), { note: `p90 ${percentile(applied, 90).toFixed(0)} ms, max ${max(applied).toFixed(0)} ms` }),
      metric('meshgate reload duration p50 (its log)', 'ms', percentile(reload, 50), { note: `max ${max(reload).toFixed(0)} ms` }),
      metric('edit → Envoy accepted the route configuration p50', 'ms', percentile(rds, 50), { note: `p90 ${percentile(rds, 90).toFixed(0)} ms, max ${max(rds).toFixed(0)} ms` }),
      metric('requests polled per edit (median)', 'count', percentile(iterations.map((x) => x.polls), 50)),
      metric('meshgate startup to ready', 'ms', startupMs),
      metric('Envoy start to LIVE', 'ms', envoyReadyMs),
      metric('routes configured in Envoy at the start', 'count', initial.routes),
    ];
    const result: ScenarioResult = {
      id: 'E1',
      title: 'Real Envoy: edit → first 200',
      params: { routes: o.routes, iterations: o.iterations, services: o.services, variant: o.delta ? 'delta' : 'sotw' },
      metrics,
      notes: [
        `model: mesh.mtls off; ${o.services} services with one instance each whose address:port is an upstream HTTP server on loopback (the gateway talks to it directly: no sidecar Envoys run); gateway "edge": one HTTP listener on 127.0.0.1, ${o.routes} routes /r{i}/ → svc(i mod ${o.services}); each iteration appends /new{k}/ (the model grows by one route per iteration)`,
        `one ${version} (${envoyBin}), concurrency 1, bootstrap from \`meshgate bootstrap --proxy edge -o json\`${o.delta ? ' --delta' : ''}; meshgate ${pin ? 'pinned to core 0, this process (poller, upstreams) to core 1, Envoy unpinned' : 'not pinned'}`,
        'edit → first 200: the rename of the model file → the first 200 on /new{k}/x through Envoy, polled in a tight loop (one keep-alive connection, each GET sent when the previous answered); includes the watcher hold-off, the reload, the push, Envoy applying RDS, and the poll interval (one request round trip)',
        'edit → applied: the pino time of meshgate\'s "configuration applied" line (ms resolution) − the rename (wall clock); edit → Envoy: last_updated of the dynamic route configuration in Envoy\'s /config_dump − the rename',
        ...(ok < iterations.length ? [`${iterations.length - ok} edits never answered 200 within 120 s`] : []),
      ],
      detail: { iterations, envoyBin, envoyVersion: fullVersion, initialRouteVersion: initial.version },
      peer: 'not applicable',
    };
    return {
      benchmark: 'meshgate',
      scenario: 'E1',
      date: startedAt,
      commit,
      smoke: o.smoke,
      machine: machineInfo(version),
      options: { routes: o.routes, iterations: o.iterations, services: o.services, delta: o.delta, pin },
      result,
    };
  } finally {
    poll?.close();
    await envoy?.stop();
    await mg?.stop();
    await Promise.all(upstreams.map((u) => u.close()));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      routes: { type: 'string' },
      iterations: { type: 'string' },
      services: { type: 'string' },
      delta: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench:e1 -- [--routes 3000] [--iterations 20] [--delta] [--smoke] [--services 10] [--no-pin] [--out FILE]\n');
    return;
  }
  const o = e1Defaults(values.smoke!);
  if (values.routes) o.routes = Number(values.routes);
  if (values.iterations) o.iterations = Number(values.iterations);
  if (values.services) o.services = Number(values.services);
  o.delta = values.delta!;
  o.pin = !values['no-pin'];
  if (!(o.routes >= 1) || !(o.iterations >= 1) || !(o.services >= 1)) throw new Error('--routes, --iterations and --services must be positive');
  const r = await runE1(o);
  process.stdout.write(`\n${formatScenario(r.result)}\n`);
  const out = values.out ?? path.join(REPO, 'bench', 'out', o.smoke ? 'results-e1-smoke.json' : 'results-e1.json');
  writeResults(out, r);
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), out)}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.join(REPO, 'bench', 'scenarios', 'e1-real-envoy.ts')) {
  process.stdout.on('error', () => {});
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
