import YAML from 'yaml';
import { dumpSnapshot } from '../admin/config-dump.js';
import { parse, UsageError } from './args.js';
import { loadBuiltModel, ModelInvalid, proxyGroup, proxyNames } from './model-cli.js';

export const RENDER_USAGE = `Usage: meshgate render -f FILE --proxy NAME [-o yaml|json]

Print the exact Envoy resources one proxy receives: clusters, endpoints, listeners, routes and
secrets, with their versions, in Envoy's own JSON/YAML form (as /config_dump shows them).

Options:
  -f, --file FILE      the model file
  --proxy NAME         a gateway name or a sidecar instance id
  -o, --output FORMAT  yaml (default) or json
  -h, --help           show this help
`;

export async function renderCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    { file: { type: 'string', short: 'f' }, proxy: { type: 'string' }, output: { type: 'string', short: 'o', default: 'yaml' }, help: { type: 'boolean', short: 'h', default: false } },
    RENDER_USAGE,
  );
  if (values.help) {
    process.stdout.write(RENDER_USAGE);
    return 0;
  }
  if (!values.file || !values.proxy) throw new UsageError(`render needs -f FILE and --proxy NAME\n\n${RENDER_USAGE}`);
  if (values.output !== 'yaml' && values.output !== 'json') throw new UsageError(`--output must be yaml or json, got "${values.output}"`);
  let built;
  try {
    built = loadBuiltModel(values.file);
  } catch (err) {
    if (err instanceof ModelInvalid) {
      process.stderr.write(`${err.report}\n`);
      return 1;
    }
    throw err;
  }
  const group = proxyGroup(built, values.proxy);
  if (!group) {
    process.stderr.write(`meshgate: no proxy "${values.proxy}" in ${values.file}; proxies: ${proxyNames(built).join(', ')}\n`);
    return 1;
  }
  const dump = dumpSnapshot(built.snapshots.get(group)!);
  const body = { proxy: values.proxy, group, ...dump };
  process.stdout.write(values.output === 'json' ? `${JSON.stringify(body, null, 2)}\n` : YAML.stringify(body, { lineWidth: 0, aliasDuplicateObjects: false }));
  return 0;
}
