import { parse, UsageError } from './args.js';

export const CA_USAGE = `Usage: meshgate ca rotate [--admin HOST:PORT]

Rotate the mesh's root CA on a running meshgate, with no failed handshakes:
  1. a new root is created and every proxy is sent the trust bundle {old, new};
  2. once every connected proxy has acknowledged it, every workload certificate is re-issued
     from the new root;
  3. once those are acknowledged, the old root is dropped from the bundle, the new root
     becomes ca.crt/ca.key in the state directory and the old certificate is kept as
     ca.retired-<time>.crt.
If proxies do not acknowledge in time, the rotation stops with both roots trusted; run the
command again to finish. Prints each phase; exit 0 when done, 1 if it stopped.

Options:
  --admin HOST:PORT   meshgate's admin address (default 127.0.0.1:19000)
  -h, --help          show this help
`;

interface Rotation {
  phase: string;
  message: string;
  history?: Array<{ phase: string; message: string }>;
}

export async function caCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '-h' || sub === '--help') {
    process.stdout.write(CA_USAGE);
    return sub ? 0 : 2;
  }
  if (sub !== 'rotate') throw new UsageError(`unknown ca command "${sub}"\n\n${CA_USAGE}`);
  const { values } = parse(rest, { admin: { type: 'string', default: '127.0.0.1:19000' }, help: { type: 'boolean', short: 'h', default: false } }, CA_USAGE);
  if (values.help) {
    process.stdout.write(CA_USAGE);
    return 0;
  }
  const base = `http://${values.admin}`;
  let res: Response;
  try {
    res = await fetch(`${base}/ca/rotate`, { method: 'POST' });
  } catch (err) {
    process.stderr.write(`meshgate: cannot reach meshgate's admin API at ${values.admin}: ${(err as Error).message}\n`);
    return 1;
  }
  const body = (await res.json()) as { error?: string; rotation?: Rotation };
  if (res.status !== 202) {
    process.stderr.write(`meshgate: ${body.error ?? `unexpected answer ${res.status}`}\n`);
    return 1;
  }
  let printed = 0;
  for (;;) {
    const status = (await (await fetch(`${base}/status`)).json()) as { security?: { rootRotation?: Rotation } };
    const rot = status.security?.rootRotation;
    // Print every phase the run went through, even those shorter than the polling interval.
    for (const h of (rot?.history ?? []).slice(printed)) process.stdout.write(`${h.phase}: ${h.message}\n`);
    printed = Math.max(printed, rot?.history?.length ?? 0);
    if (rot?.phase === 'done') return 0;
    if (rot?.phase === 'failed') return 1;
    await new Promise((r) => setTimeout(r, 200));
  }
}
