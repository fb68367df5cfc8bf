// Tiny HTTP upstreams for routing assertions, and HTTP clients that drive traffic through Envoy.
import http from 'node:http';
import type net from 'node:net';

export interface Upstream {
  name: string;
  port: number;
  /** Requests answered so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * An HTTP/1.1 server on 127.0.0.1:0 that answers every request with 200, body `name` and the
 * header `x-upstream: name`. Idle keep-alive connections are kept for a long time so that
 * Envoy's pooled upstream connections are never closed under it during a test.
 */
export async function startUpstream(name: string): Promise<Upstream> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name, 'content-length': Buffer.byteLength(name) });
      res.end(name);
    });
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
  return {
    name,
    port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface HttpResult {
  ok: boolean;
  status: number;
  body: string;
  /** The client socket that carried the request (same object = same connection). */
  socket: net.Socket | null;
  error?: string;
}

/** GET `url`; never throws (a transport error gives ok:false, status 0). */
export function httpGet(url: string, opts: { agent?: http.Agent; timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<HttpResult> {
  return new Promise((resolve) => {
    let socket: net.Socket | null = null;
    const req = http.get(url, { agent: opts.agent ?? false, headers: opts.headers ?? {}, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ ok: res.statusCode === 200, status: res.statusCode ?? 0, body, socket });
      });
      res.on('error', (err) => resolve({ ok: false, status: res.statusCode ?? 0, body: '', socket, error: err.message }));
    });
    req.on('socket', (s) => (socket = s));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ ok: false, status: 0, body: '', socket, error: err.message }));
  });
}

export interface TrafficReport {
  total: number;
  failures: HttpResult[];
  /** Response bodies (upstream names) in order, collapsed runs: e.g. ['A', 'B']. */
  sequence: string[];
  /** Count of responses per body. */
  byBody: Record<string, number>;
  /** Distinct client sockets used (1 with a keep-alive agent that never reconnected). */
  sockets: number;
}

export interface Traffic {
  /** Stop sending and report. */
  stop(): Promise<TrafficReport>;
  /** Report so far, without stopping. */
  snapshot(): TrafficReport;
}

/**
 * Send GET requests to `url` one after another (each starts when the previous ends) until
 * stopped. With `keepAlive`, every request goes through one http.Agent limited to one socket,
 * so a dropped connection shows up as a second socket.
 */
export function startTraffic(url: string, opts: { keepAlive?: boolean; pauseMs?: number; timeoutMs?: number } = {}): Traffic {
  const agent = opts.keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1, keepAliveMsecs: 1000 }) : undefined;
  const results: HttpResult[] = [];
  const sockets = new Set<net.Socket>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const r = await httpGet(url, { ...(agent ? { agent } : {}), timeoutMs: opts.timeoutMs ?? 5000 });
      if (r.socket) sockets.add(r.socket);
      r.socket = null; // do not keep sockets alive in the report
      results.push(r);
      if (opts.pauseMs) await new Promise((res) => setTimeout(res, opts.pauseMs));
    }
  })();
  const report = (): TrafficReport => {
    const sequence: string[] = [];
    const byBody: Record<string, number> = {};
    for (const r of results) {
      if (!r.ok) continue;
      byBody[r.body] = (byBody[r.body] ?? 0) + 1;
      if (sequence[sequence.length - 1] !== r.body) sequence.push(r.body);
    }
    return { total: results.length, failures: results.filter((r) => !r.ok), sequence, byBody, sockets: sockets.size };
  };
  return {
    snapshot: report,
    async stop() {
      stopped = true;
      await loop;
      agent?.destroy();
      return report();
    },
  };
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Transport error (status 0), if any. */
  error?: string;
}

/** Any method, any headers; never throws (a transport error gives status 0 and `error`). */
export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; agent?: http.Agent; timeoutMs?: number; body?: string } = {},
): Promise<HttpResponse> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: opts.method ?? 'GET', agent: opts.agent ?? false, headers: opts.headers ?? {}, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => resolve({ status: 0, headers: res.headers, body: '', error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, headers: {}, body: '', error: err.message }));
    req.end(opts.body);
  });
}
