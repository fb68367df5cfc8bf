// Lowering mesh.certificateTtl renews the certificates that would outlive the new lifetime.
import { describe, expect, it } from 'vitest';
import { ephemeralCa } from '../../src/ca/authority.js';
import { WorkloadCertificates } from '../../src/ca/workload-certs.js';

describe('WorkloadCertificates.setTtl', () => {
  it('a lowered TTL re-issues longer-lived certificates at their next use; a raised one does not', () => {
    let now = Date.parse('2026-11-21T00:00:00Z');
    const certs = new WorkloadCertificates(ephemeralCa(), { ttlMs: 86_400_000, now: () => now });
    const first = certs.get('g', 'spiffe://t/service/a');
    certs.setTtl(2 * 86_400_000);
    expect(certs.get('g', 'spiffe://t/service/a').serial).toBe(first.serial);
    certs.setTtl(12_000);
    const second = certs.get('g', 'spiffe://t/service/a');
    expect(second.serial).not.toBe(first.serial);
    expect(second.notAfter.getTime() - now).toBeLessThanOrEqual(12_000);
    now += 1000;
    expect(certs.get('g', 'spiffe://t/service/a').serial).toBe(second.serial);
  });
});
