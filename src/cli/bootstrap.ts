import YAML from 'yaml';
import { splitHostPort } from '../admin/server.js';
import { NodeTokens, TOKEN_METADATA_KEY } from '../ca/node-token.js';
import { XDS_SERVER_IDENTITY, xdsCaPem } from '../ca/xds-tls.js';
import { envoyBootstrap } from '../translate/bootstrap.js';
import { parse, UsageError } from './args.js';
import { loadBuiltModel, ModelInvalid, proxyNames } from './model-cli.js';

export const BOOTSTRAP_USAGE = `Usage: meshgate bootstrap -f FILE --proxy NAME [options]

Print a complete Envoy bootstrap for one proxy of the model: its node identity (a gateway:
node cluster = gateway name; a sidecar: node cluster = service, node id = instance id), the
ADS cluster pointing at meshgate, and the admin address.

Options:
  -f, --file FILE          the model file (default mesh.yaml)
  --proxy NAME             a gateway name or a sidecar instance id
  --xds HOST:PORT          where Envoy reaches meshgate (default 127.0.0.1:18000)
  --admin HOST:PORT        Envoy's admin address (default 127.0.0.1:<adminPort from the model, else 9901>)
  --node-id ID             node id for a gateway replica (default: the gateway name)
  --delta                  use the incremental (Delta) xDS protocol
  --state-dir DIR          meshgate's state directory, whose key signs the proxy's identity
                           token when mTLS is on (default .meshgate; must be the one serve uses)
  --token-ttl DURATION     lifetime of that token (default 365d)
  --xds-tls                reach meshgate over TLS (serve --xds-tls), pinning the xDS CA from
                           --state-dir
  -o, --output FORMAT      yaml (default) or json
  -h, --help               show this help
`;

function parseTtl(v: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(v);
  if (!m) throw new UsageError(`--token-ttl: expected a duration like 365d or 12h, got "${v}"`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export async function bootstrapCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      file: { type: 'string', short: 'f', default: 'mesh.yaml' },
      proxy: { type: 'string' },
      xds: { type: 'string', default: '127.0.0.1:18000' },
      admin: { type: 'string' },
      'node-id': { type: 'string' },
      delta: { type: 'boolean', default: false },
      'state-dir': { type: 'string', default: '.meshgate' },
      'token-ttl': { type: 'string', default: '365d' },
      'xds-tls': { type: 'boolean', default: false },
      output: { type: 'string', short: 'o', default: 'yaml' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    BOOTSTRAP_USAGE,
  );
  if (values.help) {
    process.stdout.write(BOOTSTRAP_USAGE);
    return 0;
  }
  if (!values.proxy) throw new UsageError(`bootstrap needs --proxy NAME\n\n${BOOTSTRAP_USAGE}`);
  let built;
  try {
    built = loadBuiltModel(values.file!);
  } catch (err) {
    if (err instanceof ModelInvalid) {
      process.stderr.write(`${err.report}\n`);
      return 1;
    }
    throw err;
  }
  const proxy = built.ir.proxies.find((p) => p.name === values.proxy);
  if (!proxy) {
    process.stderr.write(`meshgate: no proxy "${values.proxy}" in ${values.file}; proxies: ${proxyNames(built).join(', ')}\n`);
    return 1;
  }
  const xds = splitHostPort(values.xds!);
  const admin = values.admin ? splitHostPort(values.admin) : { host: '127.0.0.1', port: proxy.adminPort ?? 9901 };
  const boot = envoyBootstrap({
    nodeId: proxy.kind === 'gateway' ? (values['node-id'] ?? proxy.name) : proxy.name,
    nodeCluster: proxy.kind === 'gateway' ? proxy.name : proxy.service!,
    xdsHost: xds.host,
    xdsPort: xds.port,
    adminHost: admin.host,
    adminPort: admin.port,
    variant: values.delta ? 'delta' : 'sotw',
    ...(values['xds-tls'] ? { xdsTls: { caPem: xdsCaPem(values['state-dir']!), serverIdentity: XDS_SERVER_IDENTITY } } : {}),
    ...(proxy.identity ? { metadata: { [TOKEN_METADATA_KEY]: NodeTokens.load(values['state-dir']!).issue(proxy.identity, parseTtl(values['token-ttl']!)) } } : {}),
  });
  process.stdout.write(values.output === 'json' ? `${JSON.stringify(boot, null, 2)}\n` : YAML.stringify(boot, { lineWidth: 0, aliasDuplicateObjects: false }));
  return 0;
}
