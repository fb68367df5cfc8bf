import { parse } from './args.js';

export const STATUS_USAGE = `Usage: meshgate status [--admin HOST:PORT] [--json]

Show every connected proxy's sync state, read from a running meshgate's admin API.
Per type: SYNCED (the proxy ACKed what was sent), PENDING (sent, not yet ACKed), NACKED (the
proxy rejected the last version; see the message), or - (not subscribed).

Options:
  --admin HOST:PORT   meshgate's admin address (default 127.0.0.1:19000)
  --json              print the raw /status JSON
  -h, --help          show this help
`;

interface TypeStatus {
  versionSent: string | null;
  versionAcked: string | null;
  pending: boolean;
  lastNack: { version: string; message: string } | null;
}

interface ProxyStatus {
  nodeId: string;
  cluster: string;
  userAgent: string;
  variant: string;
  group: string | null;
  types: Record<string, TypeStatus>;
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { admin: { type: 'string', default: '127.0.0.1:19000' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, STATUS_USAGE);
  if (values.help) {
    process.stdout.write(STATUS_USAGE);
    return 0;
  }
  let body: Record<string, unknown>;
  try {
    const res = await fetch(`http://${values.admin}/status`);
    body = (await res.json()) as Record<string, unknown>;
  } catch (err) {
    process.stderr.write(`meshgate: cannot reach meshgate's admin API at ${values.admin}: ${(err as Error).message}\n`);
    return 1;
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(renderStatus(body));
  return 0;
}

export function typeState(t: TypeStatus | undefined): string {
  if (!t) return '-';
  if (t.lastNack && t.lastNack.version === t.versionSent) return 'NACKED';
  if (t.pending || t.versionSent !== t.versionAcked) return 'PENDING';
  return 'SYNCED';
}

export function renderStatus(body: Record<string, unknown>): string {
  const mg = body['meshgate'] as { ready: boolean; source: string };
  const config = body['config'] as { applied: { at: string } | null; lastAttempt: { at: string; errors: string[] } | null };
  const proxies = (body['proxies'] as ProxyStatus[]) ?? [];
  const lines: string[] = [];
  lines.push(`meshgate: ${mg.ready ? 'ready' : 'NOT READY'}, ${mg.source}${config.applied ? `, applied ${config.applied.at}` : ''}`);
  if (config.lastAttempt && config.lastAttempt.errors.length) {
    lines.push(`last edit REJECTED at ${config.lastAttempt.at} (still serving the previous configuration):`);
    for (const e of config.lastAttempt.errors) lines.push(`  ${e}`);
  }
  const header = ['PROXY', 'CLUSTER', 'VARIANT', 'ENVOY', 'CDS', 'EDS', 'LDS', 'RDS', 'SDS'];
  const rows = proxies.map((p) => [
    p.nodeId,
    p.cluster,
    p.variant,
    p.userAgent || '-',
    ...['CDS', 'EDS', 'LDS', 'RDS', 'SDS'].map((t) => typeState(p.types[t])),
  ]);
  if (rows.length === 0) lines.push('no proxies connected');
  else {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
    lines.push(fmt(header), ...rows.map(fmt));
    for (const p of proxies) {
      for (const [t, s] of Object.entries(p.types)) {
        if (s.lastNack && s.lastNack.version === s.versionSent) lines.push(`${p.nodeId} ${t} NACK: ${s.lastNack.message}`);
      }
    }
  }
  const sec = body['security'] as
    | { ca: { subject: string; notAfter: string; roots: Array<{ subject: string }> }; identities: Array<{ group: string; identity: string; serial: string; notAfter: string; nextRotation: string }>; rootRotation: { phase: string; message: string } | null }
    | null
    | undefined;
  if (sec) {
    lines.push('', `CA: ${sec.ca.subject} (until ${sec.ca.notAfter}); trusted roots: ${sec.ca.roots.length}`);
    if (sec.rootRotation && sec.rootRotation.phase !== 'idle') lines.push(`root rotation: ${sec.rootRotation.phase}: ${sec.rootRotation.message}`);
    if (sec.identities.length) {
      const head = ['GROUP', 'IDENTITY', 'SERIAL', 'EXPIRES', 'NEXT ROTATION'];
      const rows = sec.identities.map((i) => [i.group, i.identity, i.serial.slice(0, 16), i.notAfter, i.nextRotation]);
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
      lines.push(fmt(head), ...rows.map(fmt));
    }
  }
  return `${lines.join('\n')}\n`;
}
