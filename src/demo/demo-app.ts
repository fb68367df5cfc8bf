// A demo service: answers every request with who it is. GET /call/<service>/<path> calls
// another service through this instance's sidecar (outbound port, Host = service name) and
// returns that answer, to show east-west traffic.
import http from 'node:http';

export interface DemoAppOptions {
  service: string;
  instance: string;
  version: string;
  host: string;
  port: number;
  outboundPort: number | null;
}

export function startDemoApp(o: DemoAppOptions): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const call = /^\/call\/([a-z0-9-]+)(\/.*)?$/.exec(url);
    if (call && o.outboundPort !== null) {
      const target = call[1]!;
      const rest = call[2] ?? '/';
      const out = http.request(
        { host: '127.0.0.1', port: o.outboundPort, path: rest, method: 'GET', headers: { host: target, 'x-canary': req.headers['x-canary'] ?? '' } },
        (up) => {
          let body = '';
          up.on('data', (c: Buffer) => (body += c));
          up.on('end', () => {
            res.writeHead(up.statusCode ?? 502, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ caller: o.instance, status: up.statusCode, callee: safeJson(body) }) + '\n');
          });
        },
      );
      out.on('error', (err) => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ caller: o.instance, error: err.message }) + '\n');
      });
      out.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': o.instance });
    res.end(
      JSON.stringify({
        service: o.service,
        instance: o.instance,
        version: o.version,
        method: req.method,
        path: url,
        host: req.headers.host,
        // The caller's verified identity, set by this app's sidecar from the mTLS handshake.
        caller: callerIdentity(req.headers['x-forwarded-client-cert']),
      }) + '\n',
    );
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve(server));
  });
}

/** The URI (SPIFFE ID) of the last element of an x-forwarded-client-cert header, if any. */
export function callerIdentity(xfcc: string | string[] | undefined): string | null {
  const v = Array.isArray(xfcc) ? xfcc[xfcc.length - 1] : xfcc;
  if (!v) return null;
  const last = v.split(',').at(-1) ?? '';
  const m = /(?:^|;)URI=("?)([^";]+)\1/.exec(last);
  return m ? m[2]! : null;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
