// Validation of the mesh security fields (src/model/schema.ts, src/model/validate.ts):
// mesh.certificateTtl, mesh.defaultPolicy and services.<name>.allow. Every diagnostic is
// asserted exactly as `meshgate validate` prints it: file:line:column, path, message, hint.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { loadModelText } from '../../src/model/load.js';

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

/**
 * users, orders and gateway edge, with `mesh` lines (under mesh:), `allow` lines (under
 * services.users) and `extra` lines (more services) spliced in. Line 3 is the first mesh line.
 */
function model(mesh: string[], allow: string[] = [], extra: string[] = []): string {
  return `${[
    'version: 1',
    'mesh:',
    ...mesh.map((l) => `  ${l}`),
    'services:',
    '  users:',
    '    instances:',
    '      - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }',
    ...allow.map((l) => `    ${l}`),
    '  orders:',
    '    instances:',
    '      - { id: o1, address: 10.0.0.2, port: 8443, app: 127.0.0.1:8080 }',
    ...extra.map((l) => `  ${l}`),
    'gateways:',
    '  edge:',
    '    listeners:',
    '      - { name: web, port: 8080 }',
    '    routes:',
    '      - backend: users',
  ].join('\n')}\n`;
}

describe('a valid secure model', () => {
  it('strict mTLS with allow rules by service, gateway, path and method, and a default deny', () => {
    const text = yaml`
      version: 1
      mesh: { mtls: strict, defaultPolicy: deny, certificateTtl: 1h }
      services:
        users:
          instances:
            - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
          allow:
            - { services: [orders], pathPrefix: /api, methods: [GET, POST] }
            - { gateways: [edge] }
            - { services: [orders, users], gateways: [edge] }
        orders:
          instances:
            - { id: o1, address: 10.0.0.2, port: 8443, app: 127.0.0.1:8080 }
        db:
          protocol: tcp
          instances:
            - { id: d1, address: 10.0.0.3, port: 5432, app: 127.0.0.1:5433 }
          allow:
            - { services: [users] }
      gateways:
        edge:
          listeners:
            - { name: web, port: 8080 }
          routes:
            - backend: users
    `;
    expect(check(text)).toEqual({ valid: true, lines: [] });
    expect(loadModelText('mesh.yaml', text).model!.mesh).toEqual({ trustDomain: 'meshgate.local', mtls: 'strict', defaultPolicy: 'deny', certificateTtl: 3_600_000 });
  });

  it('defaults: mTLS off, allow, a 24 h certificate lifetime', () => {
    const r = loadModelText('mesh.yaml', 'version: 1\n');
    expect(r.model!.mesh).toEqual({ trustDomain: 'meshgate.local', mtls: 'off', defaultPolicy: 'allow', certificateTtl: 86_400_000 });
    const partial = loadModelText('mesh.yaml', 'version: 1\nmesh: { mtls: permissive }\n');
    expect(partial.model!.mesh).toEqual({ trustDomain: 'meshgate.local', mtls: 'permissive', defaultPolicy: 'allow', certificateTtl: 86_400_000 });
  });

  it('permissive mTLS is enough for authorization', () => {
    expect(check(model(['mtls: permissive'], ['allow: [{ services: [orders] }]']))).toEqual({ valid: true, lines: [] });
  });

  it('an empty allow list is valid (nobody may call the service)', () => {
    expect(check(model(['mtls: strict'], ['allow: []']))).toEqual({ valid: true, lines: [] });
  });
});

describe('allow rules', () => {
  it('report unknown services and gateways, with a hint when one is close', () => {
    const text = model(['mtls: strict'], ['allow:', '  - { services: [order, billing] }', '  - { gateways: [edg, public] }']);
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:9:22: error: services.users.allow[0].services[0]: unknown service "order" (did you mean "orders"?)',
        'mesh.yaml:9:29: error: services.users.allow[0].services[1]: unknown service "billing"',
        'mesh.yaml:10:22: error: services.users.allow[1].gateways[0]: unknown gateway "edg" (did you mean "edge"?)',
        'mesh.yaml:10:27: error: services.users.allow[1].gateways[1]: unknown gateway "public"',
      ],
    });
  });

  it('a service name in gateways (or the reverse) is unknown there', () => {
    const text = model(['mtls: strict'], ['allow: [{ services: [edge], gateways: [orders] }]']);
    expect(check(text).lines).toEqual([
      'mesh.yaml:8:26: error: services.users.allow[0].services[0]: unknown service "edge"',
      'mesh.yaml:8:44: error: services.users.allow[0].gateways[0]: unknown gateway "orders"',
    ]);
  });

  it('an allow rule without callers is an error', () => {
    const text = model(['mtls: strict'], ['allow:', '  - { pathPrefix: /admin }', '  - { methods: [GET] }']);
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:9:9: error: services.users.allow[0]: an allow rule names its callers: "services" and/or "gateways"',
        'mesh.yaml:10:9: error: services.users.allow[1]: an allow rule names its callers: "services" and/or "gateways"',
      ],
    });
  });

  it('empty caller lists, bad paths, unknown methods and unknown keys are schema errors', () => {
    const text = model(['mtls: strict'], ['allow:', '  - { services: [] }', '  - { services: [orders], pathPrefix: admin }', '  - { services: [orders], methods: [FETCH] }', '  - { services: [orders], paths: [/a] }']);
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:9:11: error: services.users.allow[0].services: Too small: expected array to have >=1 items; got a list',
        'mesh.yaml:10:43: error: services.users.allow[1].pathPrefix: expected a path starting with "/", got "admin"',
        'mesh.yaml:11:41: error: services.users.allow[2].methods[0]: expected one of "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", got "FETCH"',
        'mesh.yaml:12:31: error: services.users.allow[3].paths: unknown key "paths" (expected one of: services, gateways, pathPrefix, methods)',
      ],
    });
  });

  it('a tcp service can be narrowed by caller only, not by pathPrefix or methods', () => {
    const text = model(
      ['mtls: strict'],
      [],
      [
        'db:',
        '  protocol: tcp',
        '  instances:',
        '    - { id: d1, address: 10.0.0.3, port: 5432, app: 127.0.0.1:5433 }',
        '  allow:',
        '    - { services: [users], pathPrefix: /x }',
        '    - { services: [users], methods: [GET] }',
        '    - { services: [users] }',
      ],
    );
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:16:9: error: services.db.allow[0]: a tcp service can only be narrowed by caller, not by path or method',
        'mesh.yaml:17:9: error: services.db.allow[1]: a tcp service can only be narrowed by caller, not by path or method',
      ],
    });
  });
});

describe('authorization needs mTLS', () => {
  it('allow rules with mtls off are an error at mesh.mtls, with a hint', () => {
    expect(check(model(['mtls: off'], ['allow: [{ services: [orders] }]']))).toEqual({
      valid: false,
      lines: ['mesh.yaml:3:9: error: mesh.mtls: authorization needs mTLS: callers are identified by their certificates (set mesh.mtls to strict (or permissive))'],
    });
  });

  it('defaultPolicy deny with mtls off is the same error', () => {
    expect(check(model(['mtls: off', 'defaultPolicy: deny']))).toEqual({
      valid: false,
      lines: ['mesh.yaml:3:9: error: mesh.mtls: authorization needs mTLS: callers are identified by their certificates (set mesh.mtls to strict (or permissive))'],
    });
  });

  it('allow rules with mtls left at its default (off) are reported where mesh is', () => {
    const r = check(model(['trustDomain: corp.local'], ['allow: [{ gateways: [edge] }]']));
    expect(r.valid).toBe(false);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^mesh\.yaml:\d+:\d+: error: mesh\.mtls: authorization needs mTLS: callers are identified by their certificates \(set mesh\.mtls to strict \(or permissive\)\)$/);
  });

  it('defaultPolicy allow with mtls off is fine', () => {
    expect(check(model(['mtls: off', 'defaultPolicy: allow']))).toEqual({ valid: true, lines: [] });
  });
});

describe('mesh.certificateTtl', () => {
  it.each(['10s', '10000ms', '1m', '24h', '8784h', '1d', '366d'])('accepts %s (10 s to 366 days)', (ttl) => {
    expect(check(model(['mtls: strict', `certificateTtl: ${ttl}`]))).toEqual({ valid: true, lines: [] });
  });

  it.each(['9s', '9999ms', '8785h', '9000h', '367d'])('refuses %s', (ttl) => {
    expect(check(model(['mtls: strict', `certificateTtl: ${ttl}`]))).toEqual({
      valid: false,
      lines: ['mesh.yaml:4:19: error: mesh.certificateTtl: a certificate lifetime from 10s to 366 days'],
    });
  });

  it.each(['2days', '-1h', 'forever', '1w'])('refuses %s as a duration', (ttl) => {
    const r = check(model([`certificateTtl: ${ttl}`]));
    expect(r.valid).toBe(false);
    expect(r.lines).toEqual([`mesh.yaml:3:19: error: mesh.certificateTtl: expected a duration like 250ms, 2s, 1m, 24h or 30d, got "${ttl}"`]);
  });
});

describe('mesh.defaultPolicy and mesh.mtls', () => {
  it('refuse unknown values', () => {
    const r = check(model(['mtls: on', 'defaultPolicy: block']));
    expect(r.valid).toBe(false);
    expect(r.lines).toHaveLength(2);
    expect(r.lines[0]).toMatch(/^mesh\.yaml:3:9: error: mesh\.mtls: .*"off".*"permissive".*"strict"/);
    expect(r.lines[1]).toMatch(/^mesh\.yaml:4:18: error: mesh\.defaultPolicy: .*"allow".*"deny"/);
  });
});
