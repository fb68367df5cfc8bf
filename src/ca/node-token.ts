// Proxy identity proof: a signed, expiring token that `meshgate bootstrap` puts in the node's
// metadata ("meshgate.token"). A proxy receives an identity's private key only if its token
// names exactly that identity. HMAC-SHA256 with a key kept in the state directory (0600).
//
// Format: v1.<base64url(JSON {sub, iat, exp})>.<base64url(HMAC(key, "v1." + payload))>
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CaError } from './authority.js';

export const TOKEN_METADATA_KEY = 'meshgate.token';

export interface TokenClaims {
  /** The SPIFFE ID the bearer may hold. */
  sub: string;
  iat: number;
  exp: number;
}

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: string };

export class NodeTokens {
  constructor(private readonly key: Buffer) {}

  /** Load the signing key from the state directory, creating it on first start. */
  static load(stateDir: string): NodeTokens {
    const file = path.join(stateDir, 'token.key');
    if (!fs.existsSync(file)) {
      fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    }
    const st = fs.statSync(file);
    if ((st.mode & 0o077) !== 0) throw new CaError(`${file} is readable by other users: run "chmod 600 ${file}"`);
    const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length < 32) throw new CaError(`${file} is corrupt: expected a 32-byte base64 key`);
    return new NodeTokens(key);
  }

  issue(sub: string, ttlMs: number, now = Date.now()): string {
    const payload = Buffer.from(JSON.stringify({ sub, iat: Math.floor(now / 1000), exp: Math.floor((now + ttlMs) / 1000) })).toString('base64url');
    return `v1.${payload}.${this.mac(payload)}`;
  }

  verify(token: unknown, now = Date.now()): TokenCheck {
    if (typeof token !== 'string' || token.length === 0) return { ok: false, reason: 'no token in node metadata' };
    if (token.length > 4096) return { ok: false, reason: 'token too long' };
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== 'v1') return { ok: false, reason: 'malformed token' };
    const expected = Buffer.from(this.mac(parts[1]!));
    const given = Buffer.from(parts[2]!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'bad token signature' };
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return { ok: false, reason: 'malformed token payload' };
    }
    if (claims === null || typeof claims !== 'object' || typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return { ok: false, reason: 'malformed token claims' };
    if (claims.exp * 1000 <= now) return { ok: false, reason: `token expired at ${new Date(claims.exp * 1000).toISOString()}` };
    return { ok: true, claims };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(`v1.${payload}`).digest('base64url');
  }
}
