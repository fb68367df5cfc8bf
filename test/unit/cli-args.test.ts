// Command-line value parsing (src/cli/args.ts): durations and sizes accept the documented
// forms and reject everything else with a UsageError naming the flag.
import { describe, expect, it } from 'vitest';
import { parse, parseBytes, parseDurationMs, UsageError } from '../../src/cli/args.js';

describe('parseDurationMs', () => {
  it.each([
    ['30s', 30_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1500', 1500],
    ['0', 0],
    ['1.5s', 1500],
    ['0.25s', 250],
    ['0.5m', 30_000],
    [' 10s ', 10_000],
    ['1.5ms', 2],
  ])('%j → %d ms', (input, ms) => {
    expect(parseDurationMs(input, '--flag')).toBe(ms);
  });

  it.each(['', 's', 'ms', '-1s', '1h', '1 s', '1S', '1e3', '.5s', '1.s', '10sec', 'abc', '1s1', 'Infinity', '0x10', '5m30s'])('rejects %j', (input) => {
    expect(() => parseDurationMs(input, '--keepalive-time')).toThrow(UsageError);
    expect(() => parseDurationMs(input, '--keepalive-time')).toThrow(/^--keepalive-time: expected a duration/);
  });

  it('rejects durations longer than a Node timer can wait (they would fire after 1 ms)', () => {
    expect(parseDurationMs('2147483647', '--stall-timeout')).toBe(2 ** 31 - 1);
    expect(parseDurationMs('35791m', '--stall-timeout')).toBe(35_791 * 60_000);
    for (const big of ['2147483648', '9999999s', '40000m', '99999999999999999999']) {
      expect(() => parseDurationMs(big, '--stall-timeout'), big).toThrow(/^--stall-timeout: .*longer than the maximum/);
    }
  });
});

describe('parseBytes', () => {
  it.each([
    ['1048576', 1_048_576],
    ['0', 0],
    ['100B', 100],
    ['4KB', 4000],
    ['4KiB', 4096],
    ['4MB', 4_000_000],
    ['64MiB', 64 * 1024 * 1024],
    ['1GiB', 1024 ** 3],
    ['2GB', 2_000_000_000],
    ['64 MiB', 64 * 1024 * 1024],
    ['64mib', 64 * 1024 * 1024],
    [' 8kib ', 8192],
  ])('%j → %d bytes', (input, n) => {
    expect(parseBytes(input, '--flag')).toBe(n);
  });

  it.each(['', 'MiB', '-1', '1.5MiB', '64M', '64K', '64 M', '1TB', 'lots', '0x100', '1e6', '64MiB!'])('rejects %j', (input) => {
    expect(() => parseBytes(input, '--max-message-bytes')).toThrow(UsageError);
    expect(() => parseBytes(input, '--max-message-bytes')).toThrow(/^--max-message-bytes: expected a size/);
  });

  it('rejects sizes beyond exact integer range', () => {
    expect(() => parseBytes('99999999999999999999', '--max-message-bytes')).toThrow(/too large/);
    expect(() => parseBytes('9999999999GiB', '--max-message-bytes')).toThrow(/too large/);
  });
});

describe('parse', () => {
  it('turns unknown options into a UsageError carrying the usage text', () => {
    const options = { name: { type: 'string' as const } };
    expect(parse(['--name', 'x'], options, 'USAGE').values.name).toBe('x');
    expect(() => parse(['--nmae', 'x'], options, 'USAGE TEXT')).toThrow(UsageError);
    expect(() => parse(['--nmae', 'x'], options, 'USAGE TEXT')).toThrow(/USAGE TEXT/);
    expect(() => parse(['positional'], options, 'USAGE')).toThrow(UsageError);
  });
});
