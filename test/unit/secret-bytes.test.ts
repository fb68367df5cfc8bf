// The identity Secret written by hand (identitySecretBytes) must be byte for byte what the
// generic JSON encoder writes for identitySecret, and decode to the same certificate and key.
import { describe, expect, it } from 'vitest';
import { identitySecret, identitySecretBytes } from '../../src/translate/secret.js';
import { resourceFromBytes, resourceFromJson } from '../../src/xds/resource.js';
import { TYPE } from '../../src/xds/type-urls.js';
import { IDENTITY_SECRET } from '../../src/translate/common.js';
import { rng } from '../helpers/rng.js';

describe('identity secret bytes', () => {
  it('equal the JSON encoding, with the same version, for certificates and keys of many sizes', () => {
    const rand = rng(11);
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n-é';
    const text = (n: number): string => Array.from({ length: n }, () => chars[Math.floor(rand() * chars.length)]).join('');
    for (const [c, k] of [[0, 0], [1, 1], [100, 127], [128, 129], [1500, 240], [16_400, 3000], [70_000, 20]] as const) {
      const chain = text(c);
      const key = text(k);
      const viaJson = resourceFromJson(TYPE.SECRET, identitySecret(chain, key));
      const direct = resourceFromBytes(TYPE.SECRET, IDENTITY_SECRET, identitySecretBytes(chain, key));
      expect(direct.name).toBe(viaJson.name);
      expect(direct.body.equals(viaJson.body), `${c}/${k}`).toBe(true);
      expect(direct.version).toBe(viaJson.version);
    }
  });
});
