// Workload certificate issuance rate on one core (PERFORMANCE.md S6: >= 2000 certificates/s).
//
//   taskset -c 0 npx tsx bench/cert-issuance.ts            # N = 2000 and 10000
//   taskset -c 0 npx tsx bench/cert-issuance.ts 2000 50000  # other sizes
//
// Phases, each over N leaves after a warm-up:
//   issue (meshgate)  WorkloadCertificates.get() for N new groups: what meshgate does per
//                     workload: P-256 key generation, signing, the self-check before use
//                     (parse, issuer, signature, key match) and PEM/PKCS#8 encoding
//   rotate all        WorkloadCertificates.reissue() of those N groups (a forced rotation)
//   keygen + sign     generateKeyPairSync + issueCertificate (DER), nothing else
//   sign only         issueCertificate with one reused key: the template and one ECDSA signature
//   keygen only / self-check only / PEM + PKCS#8 export only: where the rest of the time goes
//   @peculiar/x509    the same leaf with @peculiar/x509, only if it is installed (it is not a
//                     dependency; see bench/README.md for the figure measured earlier)
//
// Prints a table and writes bench/out/cert-issuance.json with the machine description.
import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ephemeralCa } from '../src/ca/authority.js';
import { issueCertificate } from '../src/ca/certificate.js';
import { pem } from '../src/ca/der.js';
import { WorkloadCertificates } from '../src/ca/workload-certs.js';

const TARGET_PER_SECOND = 2000;
const WARMUP = 300;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sizes = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n) && n > 0);
const NS = sizes.length ? sizes : [2000, 10_000];

interface Row {
  phase: string;
  n: number;
  seconds: number;
  perSecond: number;
  usPerCert: number;
  /** CPU time (user + system) per certificate: close to usPerCert when one core does the work. */
  cpuUsPerCert: number;
}

function measure(phase: string, n: number, run: (i: number) => void): Row {
  for (let i = 0; i < Math.min(WARMUP, n); i++) run(-1 - i);
  (globalThis as { gc?: () => void }).gc?.();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) run(i);
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const seconds = ns / 1e9;
  return { phase, n, seconds, perSecond: n / seconds, usPerCert: ns / 1e3 / n, cpuUsPerCert: (cpu.user + cpu.system) / n };
}

const ca = ephemeralCa();
const HOUR = 3_600_000;
const ec = (): { publicKey: KeyObject; privateKey: KeyObject } => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const leafRequest = (publicKey: KeyObject, i: number): Parameters<typeof issueCertificate>[0] => ({
  publicKey,
  notBefore: new Date(Date.now() - 60_000),
  notAfter: new Date(Date.now() + HOUR),
  subject: [],
  uris: [`spiffe://bench.local/service/svc-${i}`],
});

/** @peculiar/x509, if it happens to be installed (never added as a dependency). */
async function peculiarPeer(): Promise<((i: number) => Promise<void>) | null> {
  let x509: Record<string, any>;
  try {
    const name = '@peculiar/x509';
    x509 = (await import(name)) as Record<string, any>;
  } catch {
    return null;
  }
  const { webcrypto } = await import('node:crypto');
  x509['cryptoProvider'].set(webcrypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const caKeys = await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify']);
  const caCert = await x509['X509CertificateGenerator'].createSelfSigned({ name: 'CN=peer root', keys: caKeys, signingAlgorithm: alg, notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000) });
  return async (i: number) => {
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const cert = await x509['X509CertificateGenerator'].create({
      serialNumber: '01',
      subject: '',
      issuer: caCert.subject,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + HOUR),
      signingAlgorithm: alg,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      extensions: [new x509['SubjectAlternativeNameExtension']([{ type: 'url', value: `spiffe://bench.local/service/svc-${i}` }], true)],
    });
    cert.toString('pem');
  };
}

async function measureAsync(phase: string, n: number, run: (i: number) => Promise<void>): Promise<Row> {
  for (let i = 0; i < Math.min(WARMUP, n); i++) await run(-1 - i);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await run(i);
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  return { phase, n, seconds: ns / 1e9, perSecond: n / (ns / 1e9), usPerCert: ns / 1e3 / n, cpuUsPerCert: (cpu.user + cpu.system) / n };
}

function cpusAllowed(): string | null {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    cpusAllowed: cpusAllowed(),
    node: process.version,
    openssl: process.versions.openssl,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
  console.log(`cert-issuance: ${machine.cpu}, ${machine.cores} cores (this process may run on: ${machine.cpusAllowed ?? '?'}), Node ${machine.node}, OpenSSL ${machine.openssl}`);
  if (machine.cpusAllowed && (machine.cpusAllowed.includes('-') || machine.cpusAllowed.includes(','))) {
    console.log('note: not pinned to one core; run with `taskset -c 0` for the one-core figure (the work is single-threaded either way)');
  }

  const rows: Row[] = [];
  const reusedKey = ec();
  const sampleDer = issueCertificate(leafRequest(reusedKey.publicKey, 0), ca.issuer);
  const sampleKey = reusedKey.privateKey;
  for (const n of NS) {
    const certs = new WorkloadCertificates(ca, { ttlMs: HOUR });
    rows.push(measure('issue (meshgate)', n, (i) => void certs.get(i < 0 ? `warm/${i}` : `sidecar/svc/${i}`, `spiffe://bench.local/service/svc-${i < 0 ? 0 : i}`)));
    certs.retain(new Set(Array.from({ length: n }, (_, i) => `sidecar/svc/${i}`)));
    rows.push(measure('rotate all (reissue)', n, (i) => void certs.reissue(`sidecar/svc/${i < 0 ? 0 : i}`)));
    rows.push(measure('keygen + sign', n, (i) => void issueCertificate(leafRequest(ec().publicKey, i), ca.issuer)));
    rows.push(measure('sign only (reused key)', n, (i) => void issueCertificate(leafRequest(reusedKey.publicKey, i), ca.issuer)));
    rows.push(measure('keygen only', n, () => void ec()));
    rows.push(
      measure('self-check only', n, () => {
        const leaf = new X509Certificate(sampleDer);
        if (!leaf.checkIssued(ca.chain[0]!) || !leaf.verify(ca.chain[0]!.publicKey) || !leaf.checkPrivateKey(sampleKey)) throw new Error('self-check failed');
      }),
    );
    rows.push(
      measure('PEM + PKCS#8 export only', n, () => {
        pem('CERTIFICATE', sampleDer);
        sampleKey.export({ type: 'pkcs8', format: 'pem' });
      }),
    );
  }

  const peer = await peculiarPeer();
  if (peer) {
    for (const n of NS) rows.push(await measureAsync('@peculiar/x509 keygen + sign', n, peer));
  }

  const pad = (s: string, w: number): string => s.padEnd(w);
  const num = (x: number, w: number, d = 0): string => x.toFixed(d).padStart(w);
  console.log(`\n${pad('phase', 30)}${'N'.padStart(7)}${'seconds'.padStart(10)}${'certs/s'.padStart(10)}${'µs/cert'.padStart(10)}${'cpu µs'.padStart(9)}`);
  for (const r of rows) console.log(`${pad(r.phase, 30)}${num(r.n, 7)}${num(r.seconds, 10, 3)}${num(r.perSecond, 10)}${num(r.usPerCert, 10, 1)}${num(r.cpuUsPerCert, 9, 1)}`);

  const issue = rows.filter((r) => r.phase === 'issue (meshgate)');
  const worst = Math.min(...issue.map((r) => r.perSecond));
  const rotate2000 = rows.find((r) => r.phase === 'rotate all (reissue)' && r.n === 2000);
  // Wall-clock rates suffer when other processes share the core; CPU time per certificate is
  // the rate one whole core would give. Both are reported; the target is judged on wall time.
  const cpuRate = 1e6 / Math.max(...issue.map((r) => r.cpuUsPerCert));
  console.log(`\nS6 target: >= ${TARGET_PER_SECOND} certs/s on one core: meshgate issues ${worst.toFixed(0)}/s wall-clock (${(worst / TARGET_PER_SECOND).toFixed(2)}x the target) → ${worst >= TARGET_PER_SECOND ? 'met' : 'NOT met'}; ${cpuRate.toFixed(0)}/s per core of CPU time (load average now ${os.loadavg()[0]!.toFixed(2)})`);
  if (rotate2000) {
    console.log(
      `forced rotation of 2000 workloads: ${rotate2000.seconds.toFixed(2)} s (${((rotate2000.cpuUsPerCert * rotate2000.n) / 1e6).toFixed(2)} s CPU) on one core (S6 budget 2 s; the S3 latency impact is not measured here)`,
    );
  }
  if (!peer) console.log('peer @peculiar/x509: not installed (not a dependency); bench/README.md records the earlier probe: 222 certs/s on this machine');
  const pecRow = rows.find((r) => r.phase.startsWith('@peculiar'));
  if (pecRow) console.log(`ratio meshgate / @peculiar/x509 (same run): ${(worst / pecRow.perSecond).toFixed(1)}x`);

  const out = path.join(ROOT, 'bench', 'out', 'cert-issuance.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    `${JSON.stringify(
      {
        benchmark: 'cert-issuance',
        scenario: 'PERFORMANCE.md S6',
        date: new Date().toISOString(),
        machine,
        targetPerSecond: TARGET_PER_SECOND,
        warmup: WARMUP,
        results: rows,
        summary: { issuePerSecond: worst, targetMet: worst >= TARGET_PER_SECOND, rotate2000Seconds: rotate2000?.seconds ?? null },
        peer: pecRow ? { name: '@peculiar/x509', perSecond: pecRow.perSecond } : { name: '@peculiar/x509', installed: false, earlierProbePerSecond: 222 },
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
}

await main();
