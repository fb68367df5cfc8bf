// Certificate material → envoy.extensions.transport_sockets.tls.v3.Secret. The certificate
// and its key travel together in one Secret; the trust bundle is a validation-context Secret.
import { varintSize, writeVarint } from '../xds/wire.js';
import { IDENTITY_SECRET, TRUST_BUNDLE_SECRET } from './common.js';

export function identitySecret(chainPem: string, keyPem: string): Record<string, unknown> {
  return {
    name: IDENTITY_SECRET,
    tls_certificate: { certificate_chain: { inline_string: chainPem }, private_key: { inline_string: keyPem } },
  };
}

export function trustBundleSecret(bundlePem: string): Record<string, unknown> {
  return { name: TRUST_BUNDLE_SECRET, validation_context: { trusted_ca: { inline_string: bundlePem } } };
}

/**
 * identitySecret's protobuf encoding, written directly: Secret{name = 1, tls_certificate = 2
 * {certificate_chain = 1, private_key = 2: DataSource{inline_string = 3}}}. Every sidecar's first
 * connection encodes one; through the generic JSON encoder (and the decode that finds a
 * resource's name) that was ~80 µs per proxy of a connect storm, this is a few.
 */
export function identitySecretBytes(chainPem: string, keyPem: string): Buffer {
  const name = Buffer.from(IDENTITY_SECRET, 'utf8');
  const chain = Buffer.from(chainPem, 'utf8');
  const key = Buffer.from(keyPem, 'utf8');
  const ds = (n: number): number => 1 + varintSize(n) + n; // DataSource{inline_string} body
  const chainDs = ds(chain.length);
  const keyDs = ds(key.length);
  const tls = 1 + varintSize(chainDs) + chainDs + 1 + varintSize(keyDs) + keyDs;
  const size = 1 + varintSize(name.length) + name.length + 1 + varintSize(tls) + tls;
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  const field = (tag: number, len: number): void => {
    out[off++] = tag;
    off = writeVarint(out, off, len);
  };
  field(0x0a, name.length); // Secret.name
  off += name.copy(out, off);
  field(0x12, tls); // Secret.tls_certificate
  field(0x0a, chainDs); // TlsCertificate.certificate_chain
  field(0x1a, chain.length); // DataSource.inline_string
  off += chain.copy(out, off);
  field(0x12, keyDs); // TlsCertificate.private_key
  field(0x1a, key.length);
  off += key.copy(out, off);
  if (off !== size) throw new Error(`bug: identity secret written to ${off} bytes, measured ${size}`);
  return out;
}
