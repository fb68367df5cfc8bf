// MeshSecurity.secretsFor: a proxy's SDS secrets are the very same array while its certificate
// and the trusted roots are the same (snapshots take the SDS type over by that identity), and a
// new one when either changes; the trust bundle is one resource for every proxy.
import { describe, expect, it } from 'vitest';
import { MeshSecurity } from '../../src/app/security.js';
import { ephemeralCa } from '../../src/ca/authority.js';
import type { ProxyIR } from '../../src/ir/types.js';
import { silentLogger } from '../../src/util/log.js';

const proxy = (group: string, identity: string | null): ProxyIR => ({
  group,
  kind: 'sidecar',
  name: group,
  service: 'svc',
  identity,
  adminPort: null,
  listeners: [],
  upstreams: [],
  upstreamParts: null,
});

describe('secretsFor', () => {
  it('is the same array while the certificate and the roots are the same', () => {
    const sec = new MeshSecurity({ stateDir: null, log: silentLogger() });
    const a = proxy('sidecar/svc/a', 'spiffe://meshgate.local/service/svc');
    const b = proxy('sidecar/svc/b', 'spiffe://meshgate.local/service/svc');
    const first = sec.secretsFor(a);
    expect(first.map((r) => r.name)).toHaveLength(2);
    expect(sec.secretsFor(a)).toBe(first);
    const other = sec.secretsFor(b);
    expect(other).not.toBe(first);
    expect(other[1]).toBe(first[1]); // one trust bundle resource
    expect(sec.secretsFor(proxy('sidecar/svc/c', null))).toEqual([]);
  });

  it('is new after the certificate is re-issued, or the trusted roots change', () => {
    const sec = new MeshSecurity({ stateDir: null, log: silentLogger() });
    const a = proxy('sidecar/svc/a', 'spiffe://meshgate.local/service/svc');
    const first = sec.secretsFor(a);
    sec.reissueAll();
    const reissued = sec.secretsFor(a);
    expect(reissued).not.toBe(first);
    expect(reissued[0]!.version).not.toBe(first[0]!.version);
    expect(reissued[1]).toBe(first[1]);
    // A second trusted root: a new bundle (and so new secrets), the same certificate.
    const next = ephemeralCa();
    sec.extraRoots = [next.root];
    const trustingBoth = sec.secretsFor(a);
    expect(trustingBoth).not.toBe(reissued);
    expect(trustingBoth[0]).toBe(reissued[0]);
    expect(trustingBoth[1]!.version).not.toBe(reissued[1]!.version);
    expect(sec.secretsFor(a)).toBe(trustingBoth);
    // Back to one root (a new array with the same roots as before): the first bundle's content.
    sec.extraRoots = [];
    const back = sec.secretsFor(a);
    expect(back).not.toBe(trustingBoth);
    expect(back[1]!.version).toBe(first[1]!.version);
    // The same roots in a new array: nothing to re-encode.
    sec.extraRoots = [];
    expect(sec.secretsFor(a)).toBe(back);
  });
});
