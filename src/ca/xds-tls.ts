// TLS for meshgate's own xDS port. Envoy bootstraps cannot be updated over xDS, so the xDS
// server has a dedicated, long-lived CA in the state directory (xds-ca.crt, xds-ca.key) that
// bootstraps pin, independent of the mesh root (which can be rotated). The server certificate
// (xds.crt, xds.key) carries the URI SAN spiffe://meshgate/xds-server, which bootstraps
// require exactly.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadOrCreateCa } from './authority.js';
import { issueCertificate } from './certificate.js';
import { pem } from './der.js';

export const XDS_SERVER_IDENTITY = 'spiffe://meshgate/xds-server';
const SERVER_VALIDITY_MS = 825 * 86_400_000;

export interface XdsTlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Load (or create on first use) the xDS CA and server certificate in `stateDir`. */
export function loadXdsTls(stateDir: string, now = Date.now()): XdsTlsMaterial {
  const ca = loadOrCreateCa(stateDir, { cert: path.join(stateDir, 'xds-ca.crt'), key: path.join(stateDir, 'xds-ca.key') }, true);
  const certFile = path.join(stateDir, 'xds.crt');
  const keyFile = path.join(stateDir, 'xds.key');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    const cert = new X509Certificate(fs.readFileSync(certFile));
    const keyPem = fs.readFileSync(keyFile, 'utf8');
    const fresh = new Date(cert.validTo).getTime() - now > 30 * 86_400_000;
    if (fresh && cert.checkIssued(ca.root) && cert.verify(ca.root.publicKey)) {
      return { caPem: ca.root.toString(), certPem: cert.toString(), keyPem };
    }
  }
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = issueCertificate(
    { publicKey, notBefore: new Date(now - 60_000), notAfter: new Date(now + SERVER_VALIDITY_MS), subject: [], uris: [XDS_SERVER_IDENTITY] },
    ca.issuer,
  );
  const certPem = pem('CERTIFICATE', der);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  fs.writeFileSync(keyFile, keyPem, { mode: 0o600 });
  fs.writeFileSync(certFile, certPem);
  return { caPem: ca.root.toString(), certPem, keyPem };
}

/** The xDS CA certificate for bootstraps (created with the server certificate if missing). */
export function xdsCaPem(stateDir: string): string {
  return loadXdsTls(stateDir).caPem;
}
