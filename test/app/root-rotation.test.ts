// Root rotation that stops (proxies do not ACK in time) and is run again: it finishes with the
// new root as ca.crt and the old root kept as ca.retired-<time>.crt, whichever step it stopped
// in. (The real-Envoy rotation tests are in test/e2e/security-ops.e2e.test.ts.)
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RootRotation } from '../../src/app/root-rotation.js';
import { MeshSecurity } from '../../src/app/security.js';
import { silentLogger } from '../../src/util/log.js';
import type { XdsStatusBoard } from '../../src/xds/status.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const fingerprint = (file: string): string => new X509Certificate(fs.readFileSync(file)).fingerprint256;

describe('root rotation run again after it stopped', () => {
  for (const [stopAt, phase] of [
    [1, 'trusting-both'],
    [2, 'reissuing'],
    [3, 'dropping-old-root'],
  ] as const) {
    it(`stopped in ${phase}: the second run finishes and retires the old root`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-rotation-'));
      dirs.push(dir);
      const log = silentLogger();
      const security = new MeshSecurity({ stateDir: dir, log });
      const oldFp = fingerprint(path.join(dir, 'ca.crt'));
      // One proxy of group "g" that does not ACK the `stopAt`-th publication.
      let publications = 0;
      let stuck = false;
      const lagging = { nodeId: 'slow', group: 'g', types: { SDS: { pending: true, versionSent: '2', versionAcked: '1' } } };
      const rotation = new RootRotation(
        security,
        {
          republish: () => {
            publications++;
            stuck = publications === stopAt;
          },
          board: { view: () => (stuck ? [lagging] : []) } as unknown as XdsStatusBoard,
          groupsWithIdentity: () => new Set(['g']),
        },
        log,
        200,
      );
      const first = await rotation.run();
      expect(first.phase).toBe('failed');
      expect(fs.readdirSync(dir).sort()).toEqual(['ca.crt', 'ca.key', 'ca.next.crt', 'ca.next.key', 'token.key']);
      const nextFp = fingerprint(path.join(dir, 'ca.next.crt'));
      expect(fingerprint(path.join(dir, 'ca.crt'))).toBe(oldFp);

      stuck = false;
      publications = 100;
      const second = await rotation.run();
      expect(second.phase).toBe('done');
      const files = fs.readdirSync(dir).sort();
      expect(files.filter((f) => !f.startsWith('ca.retired-'))).toEqual(['ca.crt', 'ca.key', 'token.key']);
      expect(fingerprint(path.join(dir, 'ca.crt'))).toBe(nextFp);
      const retired = files.filter((f) => f.startsWith('ca.retired-'));
      expect(retired.map((f) => fingerprint(path.join(dir, f)))).toEqual([oldFp]);
      expect(security.ca.root.fingerprint256).toBe(nextFp);
      expect(security.extraRoots).toEqual([]);
    });
  }
});
