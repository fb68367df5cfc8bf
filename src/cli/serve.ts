import type { ConfigSource } from '../app/config-source.js';
import { CaError } from '../ca/authority.js';
import { loadXdsTls } from '../ca/xds-tls.js';
import { MeshgateApp } from '../app/meshgate-app.js';
import { MeshSecurity } from '../app/security.js';
import { ModelSource } from '../app/model-source.js';
import { ResourceDirSource } from '../resources/resource-dir-source.js';
import { createLogger } from '../util/log.js';
import { parse, parseBytes, parseDurationMs, UsageError } from './args.js';

export const SERVE_USAGE = `Usage: meshgate serve -f FILE [options]
       meshgate serve --resources DIR [options]

Serve Envoy configuration over xDS (ADS and per-type services, SotW and Delta) and watch the
input for changes: a valid edit reaches every affected proxy; an invalid edit is rejected
with the same errors as "meshgate validate", and the last good configuration keeps serving.

Input (one of):
  -f, --file FILE              the model file (services, gateways, routes)
  -r, --resources DIR          Envoy resources as YAML/JSON: DIR/<group>/*.yaml; a proxy joins
                               the group named after its node id, else its node cluster, else
                               "default"

Options:
  --xds-listen HOST:PORT       xDS gRPC address (default 127.0.0.1:18000)
  --admin-listen HOST:PORT     admin HTTP address (default 127.0.0.1:19000)
  --max-message-bytes SIZE     largest xDS message sent or received (default 64MiB)
  --keepalive-time DURATION    HTTP/2 ping interval on xDS connections (default 30s)
  --keepalive-timeout DURATION time to wait for a ping answer before closing (default 10s)
  --stall-timeout DURATION     end a stream whose proxy stops reading (default 30s)
  --state-dir DIR              where the CA (ca.crt, ca.key) and the token key live; created on
                               first start (default .meshgate)
  --ca-cert FILE --ca-key FILE use this CA (a root, or an intermediate followed by its chain)
                               instead of the one in --state-dir
  --xds-tls                    serve xDS over TLS, with a server certificate from a dedicated xDS
                               CA in --state-dir (bootstraps pin it: meshgate bootstrap --xds-tls)
  --no-watch                   do not reload when the input changes
  --log-level LEVEL            trace, debug, info, warn, error (default info)
  -h, --help                   show this help
`;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      file: { type: 'string', short: 'f' },
      resources: { type: 'string', short: 'r' },
      'xds-listen': { type: 'string', default: '127.0.0.1:18000' },
      'admin-listen': { type: 'string', default: '127.0.0.1:19000' },
      'max-message-bytes': { type: 'string', default: '64MiB' },
      'keepalive-time': { type: 'string', default: '30s' },
      'keepalive-timeout': { type: 'string', default: '10s' },
      'stall-timeout': { type: 'string', default: '30s' },
      'no-watch': { type: 'boolean', default: false },
      'state-dir': { type: 'string', default: '.meshgate' },
      'ca-cert': { type: 'string' },
      'ca-key': { type: 'string' },
      'xds-tls': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: process.env['MESHGATE_LOG_LEVEL'] ?? 'info' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    SERVE_USAGE,
  );
  if (values.help) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  if (!values.file === !values.resources) throw new UsageError(`serve needs exactly one input: -f FILE or --resources DIR\n\n${SERVE_USAGE}`);
  const log = createLogger(values['log-level']);
  if (!values['ca-cert'] !== !values['ca-key']) throw new UsageError('--ca-cert and --ca-key go together');
  let security: MeshSecurity | undefined;
  if (values.file) {
    try {
      security = new MeshSecurity({
        stateDir: values['state-dir']!,
        ...(values['ca-cert'] ? { ca: { cert: values['ca-cert'], key: values['ca-key']! } } : {}),
        log,
      });
    } catch (err) {
      if (err instanceof CaError) {
        process.stderr.write(`meshgate: cannot start: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  }
  let xdsCredentials: { keyPem: string; certPem: string } | undefined;
  if (values['xds-tls']) {
    // One key and certificate chain, no client certificates (proxies prove who they are with
    // their identity token).
    const t = loadXdsTls(values['state-dir']!);
    xdsCredentials = { keyPem: t.keyPem, certPem: t.certPem };
  }
  const source: ConfigSource = values.file ? new ModelSource(values.file, security ?? null) : new ResourceDirSource(values.resources!);
  const maxBytes = parseBytes(values['max-message-bytes']!, '--max-message-bytes');
  const app = new MeshgateApp({
    source,
    ...(security ? { security } : {}),
    ...(xdsCredentials ? { xdsCredentials } : {}),
    xdsListen: values['xds-listen']!,
    adminListen: values['admin-listen']!,
    log,
    watch: !values['no-watch'],
    limits: { maxSendBytes: maxBytes, stallTimeoutMs: parseDurationMs(values['stall-timeout']!, '--stall-timeout') },
    maxReceiveBytes: maxBytes,
    keepaliveTimeMs: parseDurationMs(values['keepalive-time']!, '--keepalive-time'),
    keepaliveTimeoutMs: parseDurationMs(values['keepalive-timeout']!, '--keepalive-timeout'),
  });
  const { xdsPort, adminPort } = await app.start();
  // One machine-readable line for scripts and tests that start meshgate on port 0.
  process.stdout.write(`${JSON.stringify({ event: 'listening', xdsPort, adminPort, ready: app.ready })}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      log.info('shutting down');
      void app.stop().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  log.flush();
  return 0;
}
