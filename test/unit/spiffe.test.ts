// SPIFFE IDs are parsed strictly and compared exactly (src/ca/spiffe.ts, RELIABILITY 20;
// CVE-2025-66220, java-spiffe #67): every trick that makes two spellings of "the same" ID, or
// smuggles a port, user info, query or NUL, is refused, and nothing is normalised.
import { describe, expect, it } from 'vitest';
import { formatSpiffeId, gatewayIdentity, parseSpiffeId, sameSpiffeId, serviceIdentity, SpiffeIdError } from '../../src/ca/spiffe.js';

describe('parseSpiffeId accepts valid IDs', () => {
  it.each([
    ['spiffe://example.org', { trustDomain: 'example.org', path: [] }],
    ['spiffe://example.org/service/users', { trustDomain: 'example.org', path: ['service', 'users'] }],
    ['spiffe://mesh-1.local/gateway/edge', { trustDomain: 'mesh-1.local', path: ['gateway', 'edge'] }],
    ['spiffe://td_with_underscore/a', { trustDomain: 'td_with_underscore', path: ['a'] }],
    ['spiffe://td/Mixed.Case-path_ok/v1.2', { trustDomain: 'td', path: ['Mixed.Case-path_ok', 'v1.2'] }],
    ['spiffe://td/...', { trustDomain: 'td', path: ['...'] }], // only "." and ".." are dot segments
    ['spiffe://td/.hidden/a..b', { trustDomain: 'td', path: ['.hidden', 'a..b'] }],
    ['spiffe://1.2.3.4/x', { trustDomain: '1.2.3.4', path: ['x'] }],
  ])('%s', (s, want) => {
    expect(parseSpiffeId(s)).toEqual(want);
    expect(formatSpiffeId(parseSpiffeId(s))).toBe(s);
  });

  it('accepts an ID of exactly 2048 characters', () => {
    const s = `spiffe://td/${'a'.repeat(2048 - 'spiffe://td/'.length)}`;
    expect(s).toHaveLength(2048);
    expect(parseSpiffeId(s).path).toHaveLength(1);
  });
});

describe('parseSpiffeId rejects', () => {
  it.each([
    ['empty', '', /empty SPIFFE ID/],
    ['uppercase scheme', 'SPIFFE://td/a', /starts with "spiffe:\/\/" \(lowercase\)/],
    ['mixed-case scheme', 'Spiffe://td/a', /lowercase/],
    ['another scheme', 'https://td/a', /starts with "spiffe:\/\/"/],
    ['a single slash', 'spiffe:/td/a', /starts with "spiffe:\/\/"/],
    ['leading whitespace', ' spiffe://td/a', /starts with/],
    ['no trust domain', 'spiffe:///a', /invalid trust domain ""/],
    ['bare scheme', 'spiffe://', /invalid trust domain ""/],
    ['uppercase trust domain', 'spiffe://Example.org/a', /invalid trust domain "Example.org"/],
    ['a port', 'spiffe://td:443/a', /invalid trust domain "td:443".*no port/],
    ['user info', 'spiffe://u@td/a', /invalid trust domain "u@td".*user info/],
    ['user info and password', 'spiffe://u:p@td/a', /invalid trust domain/],
    ['percent-encoding in the trust domain', 'spiffe://t%64/a', /invalid trust domain "t%64"/],
    ['an IPv6 literal', 'spiffe://[::1]/a', /invalid trust domain/],
    ['a query on the trust domain', 'spiffe://td?x=1', /invalid trust domain "td\?x=1"/],
    ['a fragment on the trust domain', 'spiffe://td#f', /invalid trust domain/],
    ['percent-encoding in the path', 'spiffe://td/service/us%65rs', /invalid path segment "us%65rs".*no percent-encoding/],
    ['an encoded slash', 'spiffe://td/a%2Fb', /invalid path segment/],
    ['an empty segment', 'spiffe://td/a//b', /empty path segment/],
    ['a trailing slash', 'spiffe://td/a/', /empty path segment \(a double or trailing slash\)/],
    ['a trailing slash after the trust domain', 'spiffe://td/', /empty path segment/],
    ['a "." segment', 'spiffe://td/./a', /"\." is not allowed as a path segment/],
    ['a ".." segment', 'spiffe://td/service/../admin', /"\.\." is not allowed as a path segment/],
    ['a trailing ".."', 'spiffe://td/a/..', /"\.\." is not allowed/],
    ['a query', 'spiffe://td/a?x=1', /invalid path segment "a\?x=1".*query/],
    ['a fragment', 'spiffe://td/a#frag', /invalid path segment "a#frag".*fragment/],
    ['a NUL in the path', 'spiffe://td/users\0admin', /invalid path segment/],
    ['a NUL in the trust domain', 'spiffe://td\0.evil/a', /invalid trust domain/],
    ['a space', 'spiffe://td/a b', /invalid path segment/],
    ['non-ASCII', 'spiffe://td/usérs', /invalid path segment/],
    ['a backslash', 'spiffe://td/a\\b', /invalid path segment/],
    ['a newline', 'spiffe://td/a\n', /invalid path segment/],
    ['too long (2049 characters)', `spiffe://td/${'a'.repeat(2049 - 'spiffe://td/'.length)}`, /longer than 2048 characters/],
  ])('%s: %j', (_what, s, message) => {
    expect(() => parseSpiffeId(s)).toThrow(SpiffeIdError);
    expect(() => parseSpiffeId(s)).toThrow(message);
  });

  it('a value that is not a string', () => {
    expect(() => parseSpiffeId(undefined as unknown as string)).toThrow(SpiffeIdError);
    expect(() => parseSpiffeId(42 as unknown as string)).toThrow(SpiffeIdError);
  });
});

describe('sameSpiffeId compares exactly, and only valid IDs', () => {
  it('is true for the same valid ID', () => {
    expect(sameSpiffeId('spiffe://td/service/users', 'spiffe://td/service/users')).toBe(true);
    expect(sameSpiffeId('spiffe://td', 'spiffe://td')).toBe(true);
  });

  it.each([
    ['spiffe://td/service/users', 'spiffe://td/service/Users'], // path case matters
    ['spiffe://td/service/users', 'spiffe://td/service/users/'],
    ['spiffe://td/service/users', 'spiffe://td/service/us%65rs'],
    ['spiffe://td/service/users', 'SPIFFE://td/service/users'],
    ['spiffe://td/service/users', 'spiffe://TD/service/users'],
    ['spiffe://td/service/users', 'spiffe://td:443/service/users'],
    ['spiffe://td/service/users', 'spiffe://td/service/./users'],
    ['spiffe://td/service/users', 'spiffe://td/service/x/../users'],
    ['spiffe://td/service/users', 'spiffe://td/service/users\0'],
    ['spiffe://td/service/users', 'spiffe://td/service/users-admin'],
    ['spiffe://td/service/users', 'spiffe://td/service'],
    ['spiffe://td/service/users', 'spiffe://td2/service/users'],
  ])('%s ≠ %j', (a, b) => {
    expect(sameSpiffeId(a, b)).toBe(false);
    expect(sameSpiffeId(b, a)).toBe(false);
  });

  it('is false when both sides are the same invalid string', () => {
    for (const bad of ['SPIFFE://td/a', 'spiffe://td/a/', 'spiffe://td/%61', 'spiffe://td/a?b', '']) expect(sameSpiffeId(bad, bad), bad).toBe(false);
  });
});

describe("meshgate's identities", () => {
  it('are spiffe://<trust domain>/service/<name> and spiffe://<trust domain>/gateway/<name>', () => {
    expect(serviceIdentity('mesh.local', 'users')).toBe('spiffe://mesh.local/service/users');
    expect(gatewayIdentity('mesh.local', 'edge')).toBe('spiffe://mesh.local/gateway/edge');
  });

  it('built from any name and trust domain the model schema allows, parse back to themselves', () => {
    for (const td of ['meshgate.local', 'a-b.c', 'x1', 'a'.repeat(253)]) {
      for (const n of ['users', '0', 'a-b', 'x'.repeat(63)]) {
        for (const id of [serviceIdentity(td, n), gatewayIdentity(td, n)]) expect(sameSpiffeId(id, id), id).toBe(true);
      }
    }
  });
});
