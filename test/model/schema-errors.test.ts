// Schema errors and hostile input (src/model/load.ts, src/model/schema.ts, src/util/yaml-source.ts):
// every problem comes back as a diagnostic with file:line:column, the model path, a message and
// a hint where one is obvious; bad input never throws, never hangs and never expands without
// bound (RELIABILITY 10, 12, 13). Diagnostics are asserted exactly as the CLI prints them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { loadModelFile, loadModelText, MODEL_YAML_LIMITS } from '../../src/model/load.js';

/** Dedent a template literal; line 1 is the first line after the opening backtick. */
function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ''), '');
  const lines = raw.replace(/^\n/, '').replace(/\n[ \t]*$/, '\n').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

function check(text: string): { valid: boolean; lines: string[] } {
  const r = loadModelText('mesh.yaml', text);
  return { valid: r.model !== null, lines: r.diagnostics.map(formatDiagnostic) };
}

/** A temporary directory for one test, removed afterwards. */
function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-model-'));
  try {
    return fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('schema errors', () => {
  it('reports an unknown key with a did-you-mean hint ("backned" → "backend")', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080 }
          routes:
            - match: { pathPrefix: /u }
              backned: users
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        // The misspelt key is the whole story: no derived "a route needs a backend" error.
        'mesh.yaml:12:9: error: gateways.gw.routes[0].backned: unknown key "backned" (did you mean "backend"?)',
      ],
    });
  });

  it('lists the allowed keys when no key is close, and hints at the value-match forms', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080, hostz: [a.example.com] }
          routes:
            - match: { pathPrefix: /u, headers: { x-a: { prefx: b } } }
              backend: users
              colour: blue
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:9:34: error: gateways.gw.listeners[0].hostz: unknown key "hostz" (did you mean "hosts"?)',
        'mesh.yaml:11:45: error: gateways.gw.routes[0].match.headers.x-a: expected a string (exact match) or one of {exact: …}, {prefix: …}, {suffix: …}, {contains: …}, {regex: …}, {present: true}, {absent: true}; got a mapping (did you mean "prefix"?)',
        'mesh.yaml:13:9: error: gateways.gw.routes[0].colour: unknown key "colour" (expected one of: name, listeners, match, backend, backends, rewrite, timeout)',
      ],
    });
  });

  it('reports a value of the wrong type', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - id: u1
              address: 10.0.0.1
              port: "8443"
              app: 127.0.0.1:8080
        orders:
          instances: { id: o1 }
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:7:15: error: services.users.instances[0].port: expected a number, got "8443"',
        'mesh.yaml:10:5: error: services.orders.instances: expected a list, got a mapping',
      ],
    });
  });

  it('reports a value outside an enum', () => {
    const text = yaml`
      version: 1
      mesh: { mtls: on }
      services:
        users:
          protocol: websocket
          instances:
            - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:2:15: error: mesh.mtls: expected one of "off", "permissive", "strict", got "on"',
        'mesh.yaml:5:15: error: services.users.protocol: expected one of "http", "http2", "grpc", "tcp", got "websocket"',
      ],
    });
  });

  it('reports a missing required key at the mapping that lacks it', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 10.0.0.1, app: 127.0.0.1:8080 }
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: ['mesh.yaml:5:9: error: services.users.instances[0].port: missing required key "port"'],
    });
  });

  it('reports a missing or wrong format version', () => {
    expect(check('services: {}\n')).toEqual({ valid: false, lines: ['mesh.yaml:1:1: error: version: missing required key \"version\" (expected 1)'] });
    expect(check('version: 2\n')).toEqual({ valid: false, lines: ['mesh.yaml:1:10: error: version: expected one of 1, got 2'] });
  });

  it('reports values that break a format rule', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - id: U1
              address: "not an address!"
              port: 0
              app: 127.0.0.1:70000
              labels: { "bad key": x }
          timeout: 5 seconds
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:5:13: error: services.users.instances[0].id: expected a name: lowercase letters, digits and "-", starting and ending with a letter or digit, got "U1"',
        'mesh.yaml:6:18: error: services.users.instances[0].address: expected an IP address or a DNS name, got "not an address!"',
        'mesh.yaml:7:15: error: services.users.instances[0].port: expected a port from 1 to 65535, got 0',
        'mesh.yaml:8:14: error: services.users.instances[0].app: expected HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:9101, got "127.0.0.1:70000"',
        'mesh.yaml:9:19: error: services.users.instances[0].labels["bad key"]: invalid key "bad key": expected a label key: letters, digits, ".", "_", "/", "-"',
        'mesh.yaml:10:14: error: services.users.timeout: expected a duration like 250ms, 2s, 1m, 24h or 30d, got "5 seconds"',
      ],
    });
  });

  it('reports schema and semantic errors together, in line order', () => {
    const text = yaml`
      version: 1
      services:
        users:
          timeout: soon
          instances:
            - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
        orders:
          instances:
            - { id: u1, address: 10.0.0.2, port: 8443, app: 127.0.0.1:8080 }
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080, protocl: http }
          routes:
            - match: { pathRegex: "a(b" }
              backend: order
            - backends: [{ service: users, weight: 0 }]
              timeout: 1x
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:4:14: error: services.users.timeout: expected a duration like 250ms, 2s, 1m, 24h or 30d, got "soon"',
        'mesh.yaml:9:15: error: services.orders.instances[0].id: duplicate instance id "u1" (first used at line 6)',
        'mesh.yaml:13:34: error: gateways.gw.listeners[0].protocl: unknown key "protocl" (did you mean "protocol"?)',
        'mesh.yaml:15:29: error: gateways.gw.routes[0].match.pathRegex: invalid RE2 regex: missing closing ): `a(b`',
        'mesh.yaml:16:18: error: gateways.gw.routes[0].backend: unknown service "order" (did you mean "orders"?)',
        'mesh.yaml:17:9: error: gateways.gw.routes[1].backends: weights sum to zero: no traffic could be sent (give at least one backend a positive weight)',
        'mesh.yaml:18:18: error: gateways.gw.routes[1].timeout: expected a duration like 250ms, 2s, 1m, 24h or 30d, got "1x"',
      ],
    });
  });

  // A bad list item is pruned alone (indices mapped back), so the service keeps its other
  // instances: references to it are not called unknown, and checks that need its instances
  // (duplicate ids) still run.
  it('does not report a service with a schema error as unknown', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
            - { id: u2, address: 10.0.0.2, port: "x", app: 127.0.0.1:8080 }
        orders:
          instances:
            - { id: u1, address: 10.0.0.3, port: 8443, app: 127.0.0.1:8080 }
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080 }
          routes:
            - backend: users
    `;
    const got = check(text);
    expect(got.lines).toContain('mesh.yaml:6:44: error: services.users.instances[1].port: expected a number, got "x"');
    expect(got.lines.filter((l) => l.includes('unknown service'))).toEqual([]);
    expect(got.lines).toContainEqual(expect.stringMatching(/services\.orders\.instances\[0\]\.id: duplicate instance id "u1"/));
  });
});

describe('hostile input', () => {
  it('rejects an empty file and a file of blank lines', () => {
    const want = { valid: false, lines: ['mesh.yaml:1:1: error: the model file is empty: expected at least "version: 1"'] };
    expect(check('')).toEqual(want);
    expect(check('  \n\n\t\n')).toEqual(want);
  });

  it('rejects a file with only comments', () => {
    expect(check('# meshgate model\n# nothing here yet\n')).toEqual({
      valid: false,
      lines: ['mesh.yaml:1:1: error: the model file has no content (only comments?): expected at least \"version: 1\"'],
    });
  });

  it('rejects binary garbage with a NUL byte, read from a file', () => {
    withTempDir((dir) => {
      const file = path.join(dir, 'mesh.yaml');
      // An ELF header: 0x7f "ELF", class, data, version, then NUL padding.
      fs.writeFileSync(file, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0xff, 0xfe]));
      const r = loadModelFile(file);
      expect(r.model).toBeNull();
      expect(r.diagnostics.map(formatDiagnostic)).toEqual([`${file}:1:1: error: file contains a NUL byte: it is binary, not YAML`]);
    });
    // The line of the first NUL is reported.
    expect(check('version: 1\nservices:\n  a\u0000b: {}\n')).toEqual({
      valid: false,
      lines: ['mesh.yaml:3:1: error: file contains a NUL byte: it is binary, not YAML'],
    });
  });

  it('fails fast on a YAML bomb (billion laughs with nested aliases)', () => {
    const lines = ['version: 1', 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    const names = 'abcdefghij';
    for (let i = 1; i < names.length; i++) {
      const prev = names[i - 1]!;
      lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    // Fully expanded, "j" alone would hold 9^10 (about 3.5 billion) strings.
    const text = `${lines.join('\n')}\n`;
    const r = loadModelText('mesh.yaml', text);
    expect(r.model).toBeNull();
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([`mesh.yaml:1:1: error: too many alias expansions (over ${MODEL_YAML_LIMITS.maxAliasCount}); a YAML bomb?`]);
  });

  it('still accepts a few ordinary aliases', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080, labels: &v1 { version: v1, team: core } }
            - { id: u2, address: 10.0.0.2, port: 8443, app: 127.0.0.1:8080, labels: *v1 }
          routes:
            - backends: [{ subset: *v1 }]
    `;
    expect(check(text)).toEqual({ valid: true, lines: [] });
  });

  it(`rejects nesting deeper than ${MODEL_YAML_LIMITS.maxDepth} levels, and accepts the limit`, () => {
    const nested = (n: number): string => `version: 1\nx: ${'['.repeat(n)}${']'.repeat(n)}\n`;
    // At the limit the document is parsed; only the unknown key is left to report.
    expect(check(nested(32))).toEqual({
      valid: false,
      lines: ['mesh.yaml:2:1: error: x: unknown key "x" (expected one of: version, mesh, services, gateways)'],
    });
    // One deeper: the innermost "[" (column 4 + 32) is reported.
    expect(check(nested(33))).toEqual({ valid: false, lines: ['mesh.yaml:2:36: error: nesting deeper than 32 levels'] });
    // Deep block mappings too.
    let block = 'version: 1\nx:\n';
    for (let i = 0; i < 40; i++) block += `${'  '.repeat(i + 1)}k${i}:\n`;
    const deep = check(block);
    expect(deep.valid).toBe(false);
    expect(deep.lines).toEqual([expect.stringMatching(/^mesh\.yaml:\d+:\d+: error: nesting deeper than 32 levels$/)]);
  });

  it('rejects pathological nesting (100k levels) with the same message, without crashing', () => {
    const n = 100_000;
    const r = check(`version: 1\nx: ${'['.repeat(n)}${']'.repeat(n)}\n`);
    expect(r.valid).toBe(false);
    // Where the parser gives up depends on the stack; the message does not.
    expect(r.lines).toEqual([expect.stringMatching(/^mesh\.yaml:2:\d+: error: nesting deeper than 32 levels$/)]);
  });

  it('rejects two YAML documents in one file, pointing at the second', () => {
    const text = yaml`
      version: 1
      services: {}
      ---
      version: 1
    `;
    expect(check(text)).toEqual({ valid: false, lines: ['mesh.yaml:3:1: error: expected one YAML document, found 2'] });
  });

  it('rejects a top-level list or scalar', () => {
    const want = { valid: false, lines: ['mesh.yaml:1:1: error: the model must be a mapping with "version: 1" at the top'] };
    expect(check('- version: 1\n- services: {}\n')).toEqual(want);
    expect(check('just some words\n')).toEqual(want);
  });

  it('reports YAML syntax errors and duplicate keys at their position', () => {
    expect(check('version: 1\nservices: {a: [}\n')).toEqual({
      valid: false,
      lines: ['mesh.yaml:2:16: error: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    });
    expect(check('version: 1\nservices: {}\nversion: 1\n')).toEqual({ valid: false, lines: ['mesh.yaml:3:1: error: Map keys must be unique'] });
  });

  it('rejects a file over the size limit by its size, before reading it', () => {
    withTempDir((dir) => {
      const file = path.join(dir, 'big.yaml');
      // A sparse file: over the limit without writing it all.
      const size = MODEL_YAML_LIMITS.maxBytes + 1024 * 1024;
      fs.writeFileSync(file, 'version: 1\n');
      fs.truncateSync(file, size);
      const r = loadModelFile(file);
      expect(r.model).toBeNull();
      expect(r.text).toBe('');
      expect(r.diagnostics.map(formatDiagnostic)).toEqual([`${file}:1:1: error: file is ${size} bytes; the limit is ${MODEL_YAML_LIMITS.maxBytes}`]);
    });
  });

  it('rejects oversized text given directly, and a missing file', () => {
    const big = `version: 1\n${'#'.repeat(MODEL_YAML_LIMITS.maxBytes)}\n`;
    expect(check(big)).toEqual({ valid: false, lines: [`mesh.yaml:1:1: error: file is larger than the limit of ${MODEL_YAML_LIMITS.maxBytes} bytes`] });
    withTempDir((dir) => {
      const file = path.join(dir, 'absent.yaml');
      expect(loadModelFile(file).diagnostics.map(formatDiagnostic)).toEqual([`${file}:1:1: error: file does not exist`]);
      expect(loadModelFile(dir).diagnostics.map(formatDiagnostic)).toEqual([`${dir}:1:1: error: not a regular file`]);
    });
  });
});
