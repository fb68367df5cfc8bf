// The Go load generator worker (bench/loadgen-go) against the Node worker (bench/loadgen/worker.ts):
// the same small connect storm and the same changes, against the stub server and against a real
// meshgate, SotW and Delta, must give every simulated Envoy the same outcome with either worker
// (synced, ACKs per type, responses and bytes received, ACKs per change window, ended null).
// The churn scenario (S4, smoke size) checks the marker/staleness logic: every change delivered
// to every client with both. No timing assertions.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModel } from '../../bench/export.js';
import { launchMeshgate, nodeSpecs, prepareModel, type RunContext, type ScenarioResult, writeModel } from '../../bench/lib/harness.js';
import type { ServerHandle } from '../../bench/lib/servers.js';
import { startStub } from '../../bench/lib/servers.js';
import type { NodeSpec } from '../../bench/lib/wire.js';
import { GO_WORKER_BIN, type WorkerKind } from '../../bench/loadgen/loadgen.js';
import { CDS, EDS, type Mode, nowMs, RDS, typeMask } from '../../bench/loadgen/protocol.js';
import { addSidecarService, editRouteTimeout, sidecarMesh, SMOKE_S2_MESH } from '../../bench/models.js';
import { connectStorm, measureChange } from '../../bench/scenarios/common.js';
import { runS4 } from '../../bench/scenarios/s4-endpoint-churn.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
const HAS_GO = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
const KINDS: WorkerKind[] = ['node', 'go'];
const MODES: Mode[] = ['sotw', 'delta'];

interface ClientOutcome {
  synced: boolean;
  acks: number[];
  responses: number;
  bytes: number;
  ended: unknown;
  /** Per change: ACKs per type and bytes in its window. */
  changes: Array<{ winAcks: number[]; winBytes: number }>;
}

interface Change {
  mask: number;
  apply: () => number | Promise<number>;
}

/** One worker kind: storm, quiet, then each change in its own window; per-client figures. */
async function session(ctx: RunContext, server: ServerHandle, clients: NodeSpec[], mode: Mode, kind: WorkerKind, changes: Change[]): Promise<{ clients: Map<string, ClientOutcome>; reached: number[]; errors: string[] }> {
  process.env['LOADGEN_WORKER'] = kind;
  const storm = await connectStorm(ctx, server, clients, mode, 30_000);
  try {
    expect(storm.lg.kind).toBe(kind);
    const initial = await storm.lg.quiet(300, 10_000);
    const out = new Map<string, ClientOutcome>();
    for (const c of initial.clients) {
      // NaN (not null) where worker.ts sends NaN: loadgen.ts turns the Go worker's nulls back.
      for (const v of [c.syncedAt, c.connectAt, ...c.firstAck, ...c.winLastAck]) expect(typeof v).toBe('number');
      out.set(c.id, { synced: Number.isFinite(c.syncedAt) && c.syncedAt >= c.connectAt, acks: c.acks, responses: c.responses, bytes: c.bytes, ended: c.ended, changes: [] });
      expect(c.winLastAck.every((t) => Number.isNaN(t))).toBe(true);
      c.acks.forEach((n, t) => expect(Number.isNaN(c.firstAck[t]!)).toBe(n === 0));
    }
    const reached: number[] = [];
    for (const ch of changes) {
      const r = await measureChange(ctx, storm.lg, server, ch.mask, ch.apply, 30_000, 300);
      reached.push(r.reached);
      const q = await storm.lg.query();
      for (const c of q.clients) out.get(c.id)!.changes.push({ winAcks: c.winAcks, winBytes: c.winBytes });
    }
    const last = await storm.lg.query();
    for (const c of last.clients) out.get(c.id)!.ended = c.ended;
    return { clients: out, reached, errors: [...storm.lg.errorMessages] };
  } finally {
    await storm.lg.close();
    delete process.env['LOADGEN_WORKER'];
  }
}

/**
 * `secretSlack`: meshgate issues each proxy's certificate when it connects, and its DER length
 * varies by a few bytes from one issuance to the next (random serial, ECDSA signature), so the
 * bytes of the initial sync differ between two runs even with the same worker: allow that
 * much per SDS response there; everything else must be equal.
 */
function expectSame(a: Map<string, ClientOutcome>, b: Map<string, ClientOutcome>, n: number, secretSlack = 0): void {
  expect(a.size).toBe(n);
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [id, x] of a) {
    const y = b.get(id)!;
    expect(x.synced, `${id} synced`).toBe(true);
    expect(x.ended, `${id} ended`).toBeNull();
    expect(Math.abs(y.bytes - x.bytes), `${id} bytes`).toBeLessThanOrEqual(secretSlack * x.acks[4]!);
    expect({ ...y, bytes: 0 }, id).toEqual({ ...x, bytes: 0 });
  }
}

describe.skipIf(!HAS_GO)(`Go load generator worker ≡ Node worker${HAS_GO ? '' : ' (skipped: `go` is not on PATH; bench/loadgen-go/build.sh needs Go 1.26)'}`, () => {
  let workDir: string;
  let ctx: RunContext;
  const logs: string[] = [];

  beforeAll(() => {
    execFileSync('bash', [path.join(REPO, 'bench', 'loadgen-go', 'build.sh')], { stdio: 'inherit', timeout: 300_000 });
    expect(fs.existsSync(GO_WORKER_BIN)).toBe(true);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-lg-parity-'));
    ctx = { smoke: true, workDir, pin: false, peer: false, profile: false, churnSeconds: 1, churnRates: [1000], workers: 2, log: (m) => logs.push(m) };
    // Two Go processes too, so that reports from several Go workers are merged.
    process.env['LOADGEN_GO_WORKERS'] = '2';
  }, 320_000);

  afterAll(() => {
    delete process.env['LOADGEN_GO_WORKERS'];
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('stub server: same storm, same RDS and CDS+EDS pushes, same per-client outcome', async () => {
    const doc = sidecarMesh(SMOKE_S2_MESH);
    const m = prepareModel(ctx, 'stub', doc);
    const clients = nodeSpecs(doc.proxies(), m.tokens);
    const dir = path.join(m.dir, 'export');
    exportModel(doc, dir);
    for (const mode of MODES) {
      const stub = await startStub(dir, path.join(m.dir, `stub-${mode}.log`), null);
      try {
        const runs = [];
        for (const kind of KINDS) {
          const bump = (types: string[]) => (): number => {
            stub.bump(types);
            return nowMs();
          };
          runs.push(await session(ctx, stub, clients, mode, kind, [
            { mask: typeMask(RDS), apply: bump(['RDS']) },
            { mask: typeMask(CDS, EDS), apply: bump(['CDS', 'EDS']) },
          ]));
        }
        const [node, go] = runs as [Awaited<ReturnType<typeof session>>, Awaited<ReturnType<typeof session>>];
        expect(node.errors, logs.join('\n')).toEqual([]);
        expect(go.errors, logs.join('\n')).toEqual([]);
        expect(go.reached).toEqual([clients.length, clients.length]);
        expect(node.reached).toEqual(go.reached);
        expectSame(node.clients, go.clients, clients.length);
        // Every type ACKed, and the pushes ACKed in their windows.
        for (const c of go.clients.values()) {
          expect(c.acks.every((n) => n > 0)).toBe(true);
          expect(c.changes[0]!.winAcks).toEqual([0, 0, 0, 1, 0]);
          expect(c.changes[1]!.winAcks).toEqual([1, 1, 0, 0, 0]);
        }
      } finally {
        await stub.stop();
      }
    }
  }, 180_000);

  it('meshgate: same storm, same route edit and new service, same per-client outcome', async () => {
    if (!fs.existsSync(MAIN)) throw new Error('dist/ is missing: run "npm run build" (npm test does)');
    for (const mode of MODES) {
      const runs = [];
      for (const kind of KINDS) {
        // A fresh meshgate and model per worker: both see the same sequence of versions.
        const doc = sidecarMesh(SMOKE_S2_MESH);
        const m = prepareModel(ctx, `mg-${mode}-${kind}`, doc);
        const clients = nodeSpecs(doc.proxies(), m.tokens);
        editRouteTimeout(doc, 's0', '9s');
        const edited = doc.text();
        addSidecarService(doc);
        const added = doc.text();
        const mg = await launchMeshgate(ctx, m, `${mode}-${kind}`);
        try {
          runs.push({
            n: clients.length,
            ...(await session(ctx, mg, clients, mode, kind, [
              { mask: typeMask(RDS), apply: () => writeModel(m.file, edited) },
              { mask: typeMask(CDS, EDS, RDS), apply: () => writeModel(m.file, added) },
            ])),
          });
        } finally {
          await mg.stop();
        }
      }
      const [node, go] = runs as [(typeof runs)[number], (typeof runs)[number]];
      expect(node.errors, logs.join('\n')).toEqual([]);
      expect(go.errors, logs.join('\n')).toEqual([]);
      expect(go.reached).toEqual([go.n, go.n]);
      expect(node.reached).toEqual(go.reached);
      expectSame(node.clients, go.clients, go.n, 16);
      for (const c of go.clients.values()) expect(c.acks.every((n) => n > 0)).toBe(true);
    }
  }, 240_000);

  it('churn (S4 smoke): every endpoint change reaches every client with either worker (markers)', async () => {
    if (!fs.existsSync(MAIN)) throw new Error('dist/ is missing: run "npm run build" (npm test does)');
    const delivered: Record<string, Array<[string, number, number]>> = {};
    for (const kind of KINDS) {
      process.env['LOADGEN_WORKER'] = kind;
      let s: ScenarioResult;
      try {
        s = await runS4({ ...ctx, workDir: path.join(workDir, `s4-${kind}`) });
      } finally {
        delete process.env['LOADGEN_WORKER'];
      }
      const rows = s.metrics.filter((x) => x.name.endsWith('changes delivered'));
      expect(rows.length, logs.join('\n')).toBeGreaterThan(0);
      delivered[kind] = rows.map((x) => [x.name, x.meshgate, Number(/of (\d+)/.exec(x.note ?? '')?.[1])]);
      for (const [name, got, expected] of delivered[kind]!) {
        expect(expected, name).toBeGreaterThan(0);
        expect(got, `${kind}: ${name}`).toBe(expected);
      }
      expect(s.metrics.some((x) => /staleness p99/.test(x.name) && Number.isFinite(x.meshgate) && x.meshgate > 0)).toBe(true);
    }
    expect(delivered['go']!.map((r) => r[0])).toEqual(delivered['node']!.map((r) => r[0]));
  }, 240_000);
});
