// The admin HTTP server (its own port): /healthz, /readyz, /status, /metrics, /debug/config.
import http from 'node:http';
import type { Logger } from 'pino';
import type { LoadRecord } from '../app/meshgate-app.js';
import type { RootRotation } from '../app/root-rotation.js';
import type { MeshSecurity } from '../app/security.js';
import type { SnapshotCache } from '../xds/cache.js';
import type { XdsMetrics } from '../xds/metrics.js';
import type { XdsStatusBoard } from '../xds/status.js';
import { ADS_ORDER, SHORT_NAME } from '../xds/type-urls.js';
import { dumpSnapshot } from './config-dump.js';

export interface AdminView {
  readonly ready: boolean;
  readonly startedAt: Date;
  readonly sourceDescription: string;
  readonly lastApplied: LoadRecord | null;
  readonly lastAttempt: LoadRecord | null;
  readonly cache: SnapshotCache;
  readonly metrics: XdsMetrics;
  readonly xds: { readonly board: XdsStatusBoard };
  readonly security: MeshSecurity | null;
  readonly rootRotation: RootRotation | null;
}

export class AdminServer {
  private readonly server: http.Server;
  private readonly log: Logger;

  constructor(
    private readonly app: AdminView,
    log: Logger,
  ) {
    this.log = log.child({ component: 'admin' });
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'admin handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    this.server.keepAliveTimeout = 5000;
  }

  listen(address: string): Promise<number> {
    const { host, port } = splitHostPort(address);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const addr = this.server.address();
        const bound = typeof addr === 'object' && addr ? addr.port : port;
        this.log.info({ address: `${host}:${bound}` }, 'admin server listening');
        resolve(bound);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  status(): Record<string, unknown> {
    const app = this.app;
    return {
      meshgate: { ready: app.ready, startedAt: app.startedAt.toISOString(), source: app.sourceDescription },
      config: {
        applied: app.lastApplied,
        lastAttempt: app.lastAttempt && app.lastAttempt !== app.lastApplied ? app.lastAttempt : null,
        groups: app.cache.groups().map((g) => {
          const s = app.cache.get(g)!;
          const counts: Record<string, number> = {};
          for (const t of ADS_ORDER) counts[SHORT_NAME[t]] = s.resources(t).size;
          return { name: g, version: s.version, resources: counts };
        }),
      },
      security: app.security
        ? {
            ca: {
              files: app.security.ca.files,
              subject: app.security.ca.chain[0]!.subject.replace(/\n/g, ', '),
              notAfter: new Date(app.security.ca.chain[0]!.validTo).toISOString(),
              roots: [app.security.ca.root, ...app.security.extraRoots].map((r) => ({ subject: r.subject.replace(/\n/g, ', '), fingerprint: r.fingerprint256 })),
            },
            identities: app.security.identityStatus(),
            rootRotation: app.rootRotation?.status ?? null,
          }
        : null,
      proxies: app.xds.board.view(),
      recentNacks: app.xds.board.recentNacks(),
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (req.method === 'POST' && url.pathname === '/ca/rotate') {
      const rot = this.app.rootRotation;
      if (!rot) {
        json(res, 404, { error: 'no CA: root rotation needs meshgate serve -f (a model)' });
        return;
      }
      if (rot.isRunning) {
        json(res, 409, { error: 'a root rotation is already running', rotation: rot.status });
        return;
      }
      rot.run().catch((err: unknown) => this.log.error({ err }, 'root rotation failed'));
      json(res, 202, { rotation: rot.status });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (url.pathname) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz':
        if (this.app.ready) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        else res.writeHead(503, { 'content-type': 'text/plain' }).end('not ready: no configuration loaded yet\n');
        return;
      case '/status':
        json(res, 200, this.status());
        return;
      case '/metrics': {
        const body = await this.app.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.app.metrics.registry.contentType }).end(body);
        return;
      }
      case '/debug/config': {
        const group = url.searchParams.get('group');
        if (!group) {
          json(res, 200, { groups: this.app.cache.groups() });
          return;
        }
        // A group no proxy is connected to is built for the dump (and kept until the next reload).
        const snap = this.app.cache.getOrBuild(group);
        if (!snap) {
          json(res, 404, { error: `no group "${group}"`, groups: this.app.cache.groups() });
          return;
        }
        json(res, 200, dumpSnapshot(snap));
        return;
      }
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz /readyz /status /metrics /debug/config (POST /ca/rotate)\n');
    }
  }
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body, null, 2) + '\n');
}

export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  if (!m) throw new Error(`expected HOST:PORT, got "${address}"`);
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}
