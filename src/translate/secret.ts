// Certificate material → envoy.extensions.transport_sockets.tls.v3.Secret. The certificate
// and its key travel together in one Secret; the trust bundle is a validation-context Secret.
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
