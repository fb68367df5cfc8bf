// Proxy identity proofs (src/ca/node-token.ts, RELIABILITY 19): a token verifies only with
// the key that signed it, unaltered and unexpired; anything else is a reason, never an
// exception. The signing key lives in the state directory, 0600, and a readable one is refused.
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaError } from '../../src/ca/authority.js';
import { NodeTokens } from '../../src/ca/node-token.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-token-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => path.join(base, `s${n++}`);

const KEY = randomBytes(32);
const tokens = new NodeTokens(KEY);
const ID = 'spiffe://mesh.local/service/users';
const T0 = 1_800_000_000_000; // a fixed "now"
const HOUR = 3_600_000;

/** A token signed with KEY over any payload text: to reach the checks behind the signature. */
function signed(payloadJson: string): string {
  const payload = Buffer.from(payloadJson).toString('base64url');
  return `v1.${payload}.${createHmac('sha256', KEY).update(`v1.${payload}`).digest('base64url')}`;
}

describe('issue and verify', () => {
  it('a fresh token verifies and carries the identity, issue time and expiry in seconds', () => {
    const t = tokens.issue(ID, HOUR, T0);
    expect(t).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(tokens.verify(t, T0 + 1000)).toEqual({ ok: true, claims: { sub: ID, iat: T0 / 1000, exp: (T0 + HOUR) / 1000 } });
  });

  it('expires at exp: valid one second before, refused at and after', () => {
    const t = tokens.issue(ID, HOUR, T0);
    expect(tokens.verify(t, T0 + HOUR - 1000).ok).toBe(true);
    const at = tokens.verify(t, T0 + HOUR);
    expect(at).toEqual({ ok: false, reason: `token expired at ${new Date(T0 + HOUR).toISOString()}` });
    expect(tokens.verify(t, T0 + 2 * HOUR).ok).toBe(false);
  });

  it('is refused under another key', () => {
    const t = tokens.issue(ID, HOUR, T0);
    expect(new NodeTokens(randomBytes(32)).verify(t, T0)).toEqual({ ok: false, reason: 'bad token signature' });
  });

  it('is refused when the payload is altered (another identity, a later expiry)', () => {
    const t = tokens.issue(ID, HOUR, T0);
    const [v, , sig] = t.split('.');
    for (const claims of [
      { sub: 'spiffe://mesh.local/service/admin', iat: T0 / 1000, exp: (T0 + HOUR) / 1000 },
      { sub: ID, iat: T0 / 1000, exp: (T0 + 1000 * HOUR) / 1000 },
    ]) {
      const forged = `${v}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
      expect(tokens.verify(forged, T0)).toEqual({ ok: false, reason: 'bad token signature' });
    }
  });

  it('is refused when any character of the signature changes, or the signature is cut or padded', () => {
    const t = tokens.issue(ID, HOUR, T0);
    const [v, p, sig] = t.split('.') as [string, string, string];
    for (let i = 0; i < sig.length; i++) {
      const c = sig[i] === 'A' ? 'B' : 'A';
      const bad = `${v}.${p}.${sig.slice(0, i)}${c}${sig.slice(i + 1)}`;
      expect(tokens.verify(bad, T0).ok, `position ${i}`).toBe(false);
    }
    expect(tokens.verify(`${v}.${p}.${sig.slice(0, -1)}`, T0)).toEqual({ ok: false, reason: 'bad token signature' });
    expect(tokens.verify(`${v}.${p}.${sig}A`, T0)).toEqual({ ok: false, reason: 'bad token signature' });
    expect(tokens.verify(`${v}.${p}.`, T0)).toEqual({ ok: false, reason: 'bad token signature' });
  });
});

describe('malformed tokens are reasons, not exceptions', () => {
  it.each([
    ['missing', undefined, 'no token in node metadata'],
    ['empty', '', 'no token in node metadata'],
    ['a number', 42, 'no token in node metadata'],
    ['an object', { sub: ID }, 'no token in node metadata'],
    ['too long', `v1.${'a'.repeat(5000)}.x`, 'token too long'],
    ['two parts', 'v1.abc', 'malformed token'],
    ['four parts', 'v1.a.b.c', 'malformed token'],
    ['another version', tokens.issue(ID, HOUR, T0).replace(/^v1/, 'v2'), 'malformed token'],
    ['garbage', 'not a token at all', 'malformed token'],
  ])('%s', (_what, token, reason) => {
    expect(tokens.verify(token, T0)).toEqual({ ok: false, reason });
  });

  it('a correctly signed payload that is not JSON, or lacks sub or exp', () => {
    expect(tokens.verify(signed('{not json'), T0)).toEqual({ ok: false, reason: 'malformed token payload' });
    expect(tokens.verify(signed(JSON.stringify({ exp: T0 / 1000 + 60 })), T0)).toEqual({ ok: false, reason: 'malformed token claims' });
    expect(tokens.verify(signed(JSON.stringify({ sub: ID })), T0)).toEqual({ ok: false, reason: 'malformed token claims' });
    expect(tokens.verify(signed(JSON.stringify({ sub: ID, exp: String(T0 / 1000 + 60) })), T0)).toEqual({ ok: false, reason: 'malformed token claims' });
    expect(tokens.verify(signed(JSON.stringify({ sub: 7, exp: T0 / 1000 + 60 })), T0)).toEqual({ ok: false, reason: 'malformed token claims' });
  });

  it('a correctly signed payload that is JSON but not an object (null, a number, an array)', () => {
    for (const p of ['null', '7', '"s"', '[]']) {
      let r: unknown;
      expect(() => {
        r = tokens.verify(signed(p), T0);
      }, p).not.toThrow();
      expect(r, p).toEqual({ ok: false, reason: 'malformed token claims' });
    }
  });
});

describe('the signing key file', () => {
  it('is created on first start: 32 random bytes, base64, mode 0600, in a new 0700 directory', () => {
    const dir = freshDir();
    const t = NodeTokens.load(dir);
    const file = path.join(dir, 'token.key');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    expect(key).toHaveLength(32);
    // Tokens survive a restart: the key is reloaded, not regenerated.
    const tok = t.issue(ID, HOUR);
    expect(NodeTokens.load(dir).verify(tok).ok).toBe(true);
    expect(new NodeTokens(key).verify(tok).ok).toBe(true);
    expect(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64').equals(key)).toBe(true);
  });

  it('two state directories have different keys', () => {
    const a = NodeTokens.load(freshDir());
    const b = NodeTokens.load(freshDir());
    expect(b.verify(a.issue(ID, HOUR)).ok).toBe(false);
  });

  it.each([0o644, 0o640, 0o604])('is refused when readable by others (mode %s), and left as it is', (mode) => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    const file = path.join(dir, 'token.key');
    const content = `${randomBytes(32).toString('base64')}\n`;
    fs.writeFileSync(file, content);
    fs.chmodSync(file, mode);
    expect(() => NodeTokens.load(dir)).toThrow(CaError);
    expect(() => NodeTokens.load(dir)).toThrow(`${file} is readable by other users: run "chmod 600 ${file}"`);
    expect(fs.readFileSync(file, 'utf8')).toBe(content);
    expect(fs.statSync(file).mode & 0o777).toBe(mode);
  });

  it('is refused when too short or empty (never replaced by a new key)', () => {
    for (const content of ['', 'c2hvcnQ=\n']) {
      const dir = freshDir();
      fs.mkdirSync(dir);
      const file = path.join(dir, 'token.key');
      fs.writeFileSync(file, content, { mode: 0o600 });
      expect(() => NodeTokens.load(dir)).toThrow(`${file} is corrupt: expected a 32-byte base64 key`);
      expect(fs.readFileSync(file, 'utf8')).toBe(content);
    }
  });
});
