import { formatDiagnostic } from '../model/diagnostics.js';
import { hasErrors, loadModelFile } from '../model/load.js';
import { parse, UsageError } from './args.js';

export const VALIDATE_USAGE = `Usage: meshgate validate -f FILE [--format text|json]

Check a model file without serving it. Prints every error and warning with
file:line:column and the path in the model. Exit status 0 if the model is valid (warnings
allowed), 1 if it has errors.

Options:
  -f, --file FILE        the model file
  --format text|json     output format (default text)
  -h, --help             show this help
`;

export async function validateCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { file: { type: 'string', short: 'f' }, format: { type: 'string', default: 'text' }, help: { type: 'boolean', short: 'h', default: false } }, VALIDATE_USAGE);
  if (values.help) {
    process.stdout.write(VALIDATE_USAGE);
    return 0;
  }
  if (!values.file) throw new UsageError(`validate needs -f FILE\n\n${VALIDATE_USAGE}`);
  const r = loadModelFile(values.file);
  const ok = r.model !== null && !hasErrors(r.diagnostics);
  if (values.format === 'json') {
    process.stdout.write(`${JSON.stringify({ ok, diagnostics: r.diagnostics }, null, 2)}\n`);
    return ok ? 0 : 1;
  }
  for (const d of r.diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
  const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = r.diagnostics.length - errors;
  if (ok) {
    const m = r.model!;
    const instances = Object.values(m.services).reduce((n, s) => n + s.instances.length, 0);
    process.stdout.write(`${values.file}: valid (${Object.keys(m.services).length} services, ${instances} instances, ${Object.keys(m.gateways).length} gateway${Object.keys(m.gateways).length === 1 ? "" : "s"}${warnings ? `, ${warnings} warnings` : ''})\n`);
  } else {
    process.stdout.write(`${values.file}: ${errors} error${errors === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}\n`);
  }
  return ok ? 0 : 1;
}
