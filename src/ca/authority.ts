// meshgate's certificate authority: a root (ECDSA P-256) it creates on first start, or a root
// or intermediate the user provides. It never silently mints a new root: a missing half, a
// corrupt file, a key that does not match, a certificate that is not a CA or has expired, or a
// key file others can read stops startup with a message saying what to do.
import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Issuer, issueCertificate, issuerFrom } from './certificate.js';
import { OID, pem } from './der.js';

export class CaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaError';
  }
}

export interface CaFiles {
  cert: string;
  key: string;
}

export interface LoadedCa {
  /** Certificates from the signing CA up to (and including) the root, PEM each. */
  chain: X509Certificate[];
  key: KeyObject;
  issuer: Issuer;
  /** Roots that relying parties trust (the last certificate of the chain). */
  root: X509Certificate;
  created: boolean;
  files: CaFiles;
}

const ROOT_VALIDITY_DAYS = 3650;

export function splitPem(text: string, label = 'CERTIFICATE'): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => `${m[0]}\n`);
}

function readPrivate(file: string): string {
  const st = fs.statSync(file);
  if ((st.mode & 0o077) !== 0) {
    throw new CaError(`${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}): run "chmod 600 ${file}"`);
  }
  return fs.readFileSync(file, 'utf8');
}

/** Parse and check a CA certificate chain and key. */
export function checkCa(certPem: string, keyPem: string, files: CaFiles, now = new Date()): Omit<LoadedCa, 'created'> {
  const blocks = splitPem(certPem);
  if (blocks.length === 0) throw new CaError(`${files.cert} holds no PEM certificate`);
  let chain: X509Certificate[];
  try {
    chain = blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    throw new CaError(`${files.cert} is corrupt: ${(err as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new CaError(`${files.key} is corrupt or not a private key: ${(err as Error).message}`);
  }
  const signing = chain[0]!;
  if (!signing.checkPrivateKey(key)) throw new CaError(`${files.key} does not match the certificate in ${files.cert}`);
  if (!signing.ca) throw new CaError(`${files.cert} is not a CA certificate (basicConstraints CA:FALSE)`);
  for (const c of chain) {
    if (new Date(c.validTo) <= now) throw new CaError(`${files.cert}: certificate "${c.subject.replace(/\n/g, ', ')}" expired on ${c.validTo}`);
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) {
      throw new CaError(`${files.cert}: certificate ${i + 1} is not signed by certificate ${i + 2}; list the chain from the signing CA up to the root`);
    }
  }
  const root = chain[chain.length - 1]!;
  if (!root.checkIssued(root)) {
    throw new CaError(`${files.cert}: the chain does not end with its root; after the CA certificate, list its chain up to and including the self-signed root`);
  }
  if (!root.verify(root.publicKey)) throw new CaError(`${files.cert}: the root's self-signature does not verify`);
  return { chain, key, issuer: issuerFrom(signing, key), root, files };
}

/** A CA that lives only in memory (render, tests). */
export function ephemeralCa(): LoadedCa {
  const { certPem, keyPem } = createRoot();
  return { ...checkCa(certPem, keyPem, { cert: '(in memory)', key: '(in memory)' }), created: true };
}

/** Create a new root CA (certificate and key). */
export function createRoot(now = new Date()): { certPem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = issueCertificate(
    {
      publicKey,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + ROOT_VALIDITY_DAYS * 86_400_000),
      subject: [
        [OID.organization, 'meshgate'],
        [OID.commonName, `meshgate root CA ${now.toISOString().slice(0, 19)}Z`],
      ],
      ca: { pathLen: 1 },
    },
    null,
    privateKey,
  );
  return { certPem: pem('CERTIFICATE', der), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/**
 * Load the CA from `files`, or create a root there if neither file exists. A provided CA
 * (`provided`) is only loaded, never created.
 */
export function loadOrCreateCa(stateDir: string, provided?: CaFiles, createProvided = false): LoadedCa {
  const files = provided ?? { cert: path.join(stateDir, 'ca.crt'), key: path.join(stateDir, 'ca.key') };
  const hasCert = fs.existsSync(files.cert);
  const hasKey = fs.existsSync(files.key);
  if (provided && !createProvided && (!hasCert || !hasKey)) {
    throw new CaError(`the CA you provided is incomplete: ${!hasCert ? files.cert : files.key} does not exist`);
  }
  if (hasCert !== hasKey) {
    const missing = hasCert ? files.key : files.cert;
    throw new CaError(
      `${missing} is missing but ${hasCert ? files.cert : files.key} exists: refusing to create a new root (every proxy would stop trusting the mesh). Restore the missing file, or remove both to start a new CA.`,
    );
  }
  if (!hasCert) {
    fs.mkdirSync(path.dirname(files.key), { recursive: true, mode: 0o700 });
    const { certPem, keyPem } = createRoot();
    fs.writeFileSync(files.key, keyPem, { mode: 0o600, flag: 'wx' });
    fs.writeFileSync(files.cert, certPem, { mode: 0o644, flag: 'wx' });
    return { ...checkCa(certPem, keyPem, files), created: true };
  }
  const keyPem = readPrivate(files.key);
  const certPem = fs.readFileSync(files.cert, 'utf8');
  return { ...checkCa(certPem, keyPem, files), created: false };
}
