// SPIFFE IDs, parsed strictly and compared exactly (RELIABILITY 20): lowercase "spiffe"
// scheme, a trust domain of [a-z0-9.-_], a path of segments [A-Za-z0-9.-_] that are neither
// empty, "." nor "..", and nothing else: no percent-encoding, port, user info, query,
// fragment, NUL or trailing slash.
//
// meshgate's identities: spiffe://<trust domain>/service/<service name> for every instance of a
// service, spiffe://<trust domain>/gateway/<gateway name> for a gateway.

export interface SpiffeId {
  trustDomain: string;
  path: string[];
}

const TRUST_DOMAIN_RE = /^[a-z0-9._-]+$/;
const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;
const MAX_LENGTH = 2048;

export class SpiffeIdError extends Error {}

export function parseSpiffeId(s: string): SpiffeId {
  if (typeof s !== 'string' || s.length === 0) throw new SpiffeIdError('empty SPIFFE ID');
  if (s.length > MAX_LENGTH) throw new SpiffeIdError(`SPIFFE ID longer than ${MAX_LENGTH} characters`);
  if (!s.startsWith('spiffe://')) throw new SpiffeIdError('a SPIFFE ID starts with "spiffe://" (lowercase)');
  const rest = s.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const td = slash < 0 ? rest : rest.slice(0, slash);
  if (!TRUST_DOMAIN_RE.test(td)) throw new SpiffeIdError(`invalid trust domain "${td}": lowercase letters, digits, ".", "-", "_" only (no port, user info or percent-encoding)`);
  if (slash < 0) return { trustDomain: td, path: [] };
  const p = rest.slice(slash + 1);
  const segments = p.split('/');
  for (const seg of segments) {
    if (seg === '') throw new SpiffeIdError('empty path segment (a double or trailing slash)');
    if (seg === '.' || seg === '..') throw new SpiffeIdError(`"${seg}" is not allowed as a path segment`);
    if (!SEGMENT_RE.test(seg)) throw new SpiffeIdError(`invalid path segment "${seg}": letters, digits, ".", "-", "_" only (no percent-encoding, query or fragment)`);
  }
  return { trustDomain: td, path: segments };
}

export function formatSpiffeId(id: SpiffeId): string {
  return `spiffe://${id.trustDomain}${id.path.map((p) => `/${p}`).join('')}`;
}

/** True only if both parse strictly and are the same ID. */
export function sameSpiffeId(a: string, b: string): boolean {
  try {
    return formatSpiffeId(parseSpiffeId(a)) === a && a === b && formatSpiffeId(parseSpiffeId(b)) === b;
  } catch {
    return false;
  }
}

export function serviceIdentity(trustDomain: string, service: string): string {
  return formatSpiffeId({ trustDomain, path: ['service', service] });
}

export function gatewayIdentity(trustDomain: string, gateway: string): string {
  return formatSpiffeId({ trustDomain, path: ['gateway', gateway] });
}
