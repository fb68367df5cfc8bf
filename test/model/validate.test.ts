// Semantic checks of a schema-valid model (src/model/validate.ts), through loadModelText as the
// CLI and the reload loop use it: every diagnostic is asserted exactly as printed, with
// file:line:column, model path, message and hint (RELIABILITY 10, 12). Errors make the model
// null; warnings leave it usable.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('a valid model', () => {
  it('gives no diagnostics (examples/mesh.yaml)', () => {
    const text = fs.readFileSync(path.join(ROOT, 'examples/mesh.yaml'), 'utf8');
    expect(check(text)).toEqual({ valid: true, lines: [] });
  });
});

describe('references', () => {
  it('reports an unknown service in backend and backends, with a hint when one is close', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
          routes:
            - match: { pathPrefix: /a }
              backends: [{ service: userz }]
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080 }
          routes:
            - match: { pathPrefix: /a }
              backend: user
            - match: { pathPrefix: /b }
              backends: [{ service: usrs, weight: 1 }]
            - match: { pathPrefix: /c }
              backend: billing
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:8:31: error: services.users.routes[0].backends[0].service: unknown service "userz" (did you mean "users"?)',
        'mesh.yaml:15:18: error: gateways.gw.routes[0].backend: unknown service "user" (did you mean "users"?)',
        'mesh.yaml:17:31: error: gateways.gw.routes[1].backends[0].service: unknown service "usrs" (did you mean "users"?)',
        // Nothing close: no hint.
        'mesh.yaml:19:18: error: gateways.gw.routes[2].backend: unknown service "billing"',
      ],
    });
  });

  it('reports a subset that selects no instance, with the labels in use', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080, labels: { version: v1 } }
            - { id: u2, address: 10.0.0.2, port: 8443, app: 127.0.0.1:8080, labels: { version: v2, zone: b } }
          routes:
            - backends: [{ subset: { version: v3 } }]
        orders:
          instances:
            - { id: o1, address: 10.0.0.3, port: 8443, app: 127.0.0.1:8080 }
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080 }
          routes:
            - backends:
                - { service: users, subset: { version: v2, zone: a } }
                - { service: orders, subset: { version: v1 } }
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:8:22: error: services.users.routes[0].backends[0].subset: subset {"version":"v3"} selects no instance of "users" (labels in use: version=v1, version=v2, zone=b)',
        // Every label must match: version=v2 exists, zone=a does not.
        'mesh.yaml:18:31: error: gateways.gw.routes[0].backends[0].subset: subset {"version":"v2","zone":"a"} selects no instance of "users" (labels in use: version=v1, version=v2, zone=b)',
        'mesh.yaml:19:32: error: gateways.gw.routes[0].backends[1].subset: subset {"version":"v1"} selects no instance of "orders" (its instances have no labels)',
      ],
    });
  });

  it('accepts a subset that selects some instances', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080, labels: { version: v1, zone: a } }
            - { id: u2, address: 10.0.0.2, port: 8443, app: 127.0.0.1:8080, labels: { version: v1, zone: b } }
          routes:
            - backends: [{ subset: { version: v1 } }]
    `;
    expect(check(text)).toEqual({ valid: true, lines: [] });
  });
});

describe('duplicates', () => {
  it('reports an instance id used twice, across services, pointing at the first use', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: web-1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
        orders:
          instances:
            - { id: orders-1, address: 10.0.0.2, port: 8443, app: 127.0.0.1:8080 }
            - { id: web-1, address: 10.0.0.3, port: 8443, app: 127.0.0.1:8080 }
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: ['mesh.yaml:9:15: error: services.orders.instances[1].id: duplicate instance id "web-1" (first used at line 5)'],
    });
  });
});

describe('port clashes on one address', () => {
  it('inbound vs outbound of the same instance', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 127.0.0.1, port: 15001, app: 127.0.0.1:9001, outboundPort: 15001 }
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:5:87: error: services.users.instances[0].outboundPort: port clash: the outbound port of u1 uses 127.0.0.1:15001, already used by the inbound port of u1 (services.users.instances[0].port)',
      ],
    });
  });

  it('the app of one instance vs the inbound of another, and an outbound vs a later inbound', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 127.0.0.1, port: 15001, app: 127.0.0.1:9001, outboundPort: 15101 }
            - { id: u2, address: 127.0.0.1, port: 15002, app: 127.0.0.1:15001 }
            - { id: u3, address: 127.0.0.1, port: 15101, app: 127.0.0.1:9003 }
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:6:57: error: services.users.instances[1].app: port clash: the app of u2 uses 127.0.0.1:15001, already used by the inbound port of u1 (services.users.instances[0].port)',
        'mesh.yaml:7:45: error: services.users.instances[2].port: port clash: the inbound port of u3 uses 127.0.0.1:15101, already used by the outbound port of u1 (services.users.instances[0].outboundPort)',
      ],
    });
  });

  it('a gateway listener on 0.0.0.0 vs an inbound port on an IP of the same port', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 10.0.0.1, port: 8080, app: 127.0.0.1:9001 }
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080 }
          routes:
            - backend: users
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:9:28: error: gateways.gw.listeners[0].port: port clash: listener "web" of gateway gw listens on all addresses at port 8080, already used by the inbound port of u1 (services.users.instances[0].port)',
      ],
    });
  });

  it('does not report the same port on different addresses or in different network namespaces', () => {
    const text = yaml`
      version: 1
      services:
        users:
          instances:
            - { id: u1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080, outboundPort: 15001 }
            - { id: u2, address: 10.0.0.2, port: 8443, app: 127.0.0.1:8080, outboundPort: 15001 }
      gateways:
        gw:
          listeners:
            - { name: web, port: 8443, address: 10.0.0.9 }
          routes:
            - backend: users
    `;
    expect(check(text)).toEqual({ valid: true, lines: [] });
  });
});

describe('backends', () => {
  it('reports weights that sum to zero and a mix of weighted and unweighted backends', () => {
    const text = yaml`
      version: 1
      services:
        a:
          instances:
            - { id: a1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
        b:
          instances:
            - { id: b1, address: 10.0.0.2, port: 8443, app: 127.0.0.1:8080 }
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080 }
          routes:
            - match: { pathPrefix: /zero }
              backends: [{ service: a, weight: 0 }, { service: b, weight: 0 }]
            - match: { pathPrefix: /mixed }
              backends: [{ service: a, weight: 5 }, { service: b }]
            - match: { pathPrefix: /fine }
              backends: [{ service: a, weight: 0 }, { service: b, weight: 1 }]
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:15:9: error: gateways.gw.routes[0].backends: weights sum to zero: no traffic could be sent (give at least one backend a positive weight)',
        'mesh.yaml:17:9: error: gateways.gw.routes[1].backends: give every backend a weight, or none (equal split)',
      ],
    });
  });
});

describe('matches', () => {
  it('reports regexes RE2 rejects: lookahead and an unbalanced parenthesis, wherever a regex goes', () => {
    const text = yaml`
      version: 1
      services:
        a:
          instances:
            - { id: a1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080 }
          routes:
            - match: { pathRegex: "/x(?=y)" }
              backend: a
            - match: { pathRegex: "a(b" }
              backend: a
            - match: { headers: { x-id: { regex: "(?=x)" } } }
              backend: a
            - match: { queryParams: { q: { regex: "a(b" } } }
              backend: a
            - match: { pathRegex: "/items/[0-9]+", headers: { x-v: { regex: "v(1|2)" } } }
              backend: a
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:11:29: error: gateways.gw.routes[0].match.pathRegex: invalid RE2 regex: invalid or unsupported Perl syntax: `(?=`',
        'mesh.yaml:13:29: error: gateways.gw.routes[1].match.pathRegex: invalid RE2 regex: missing closing ): `a(b`',
        'mesh.yaml:15:44: error: gateways.gw.routes[2].match.headers.x-id.regex: invalid RE2 regex: invalid or unsupported Perl syntax: `(?=`',
        'mesh.yaml:17:45: error: gateways.gw.routes[3].match.queryParams.q.regex: invalid RE2 regex: missing closing ): `a(b`',
      ],
    });
  });

  it('reports an invalid regex in a service route too', () => {
    const text = yaml`
      version: 1
      services:
        a:
          instances:
            - { id: a1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
          routes:
            - match: { pathRegex: "(?<!x)y" }
              backends: [{}]
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: ['mesh.yaml:7:29: error: services.a.routes[0].match.pathRegex: invalid RE2 regex: invalid named capture: `(?<!x)y`'],
    });
  });

  it('rejects a pseudo-header match (":authority" is not a header name here)', () => {
    const text = yaml`
      version: 1
      services:
        a:
          instances:
            - { id: a1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080 }
          routes:
            - match: { headers: { ":authority": example.com } }
              backend: a
    `;
    // The schema's header-name rule catches it before validate.ts's pseudo-header check.
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:11:43: error: gateways.gw.routes[0].match.headers[":authority"]: pseudo-headers cannot be matched here; use path, pathPrefix or methods',
      ],
    });
  });

  it('reports a query parameter matched as absent (Envoy cannot express it)', () => {
    const text = yaml`
      version: 1
      services:
        a:
          instances:
            - { id: a1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
          routes:
            - match: { queryParams: { debug: { absent: true } } }
              backends: [{}]
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: ['mesh.yaml:7:33: error: services.a.routes[0].match.queryParams.debug: Envoy cannot match an absent query parameter (match on its presence or value instead)'],
    });
  });

  it('reports more than one path condition in one match', () => {
    const text = yaml`
      version: 1
      services:
        a:
          instances:
            - { id: a1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
          routes:
            - match: { pathPrefix: /a, path: /a/b }
              backends: [{}]
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: ['mesh.yaml:7:9: error: services.a.routes[0].match: set only one of pathPrefix, path, pathRegex (found pathPrefix and path)'],
    });
  });
});

describe('unreachable routes (warnings: the model stays valid)', () => {
  it('warns about every route after a catch-all', () => {
    const text = yaml`
      version: 1
      services:
        a:
          instances:
            - { id: a1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080 }
          routes:
            - match: { pathPrefix: /a }
              backend: a
            - match: { pathPrefix: / }
              backend: a
            - match: { pathPrefix: /b }
              backend: a
            - match: { path: /c, methods: [GET] }
              backend: a
    `;
    expect(check(text)).toEqual({
      valid: true,
      lines: [
        'mesh.yaml:15:9: warning: gateways.gw.routes[2]: unreachable: the route at gateways.gw.routes[1] above matches every request (move this route above it)',
        'mesh.yaml:17:9: warning: gateways.gw.routes[3]: unreachable: the route at gateways.gw.routes[1] above matches every request (move this route above it)',
      ],
    });
  });

  it('warns about a route with the same match as an earlier one, also in a service', () => {
    const text = yaml`
      version: 1
      services:
        a:
          instances:
            - { id: a1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080, labels: { v: "1" } }
          routes:
            - match: { headers: { x-canary: "true" } }
              backends: [{ subset: { v: "1" } }]
            - match: { headers: { x-canary: "true" } }
              backends: [{}]
      gateways:
        gw:
          listeners:
            - { name: web, port: 8080 }
          routes:
            - match: { pathPrefix: /a, methods: [GET] }
              backend: a
            - match: { pathPrefix: /a, methods: [POST] }
              backend: a
            - match: { pathPrefix: /a, methods: [GET] }
              backend: a
    `;
    expect(check(text)).toEqual({
      valid: true,
      lines: [
        'mesh.yaml:9:9: warning: services.a.routes[1]: unreachable: the route at services.a.routes[0] has the same match',
        'mesh.yaml:20:9: warning: gateways.gw.routes[2]: unreachable: the route at gateways.gw.routes[0] has the same match',
      ],
    });
  });

  it('checks shadowing per listener: a catch-all on one listener does not hide routes on another', () => {
    const text = yaml`
      version: 1
      services:
        a:
          instances:
            - { id: a1, address: 10.0.0.1, port: 8443, app: 127.0.0.1:8080 }
      gateways:
        gw:
          listeners:
            - { name: public, port: 8080 }
            - { name: admin, port: 9090 }
          routes:
            - listeners: [public]
              backend: a
            - match: { pathPrefix: /admin }
              listeners: [admin]
              backend: a
    `;
    expect(check(text)).toEqual({ valid: true, lines: [] });
  });
});

describe('protocols', () => {
  it('reports a tcp service with HTTP routes', () => {
    const text = yaml`
      version: 1
      services:
        db:
          protocol: tcp
          instances:
            - { id: db1, address: 10.0.0.1, port: 5432, app: 127.0.0.1:5432 }
          routes:
            - backends: [{}]
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:7:5: error: services.db.routes: a tcp service cannot have HTTP routes (remove routes, or set protocol to http, http2 or grpc)',
        'mesh.yaml:8:20: error: services.db.routes[0].backends[0].service: service "db" is tcp; HTTP routes need an http, http2 or grpc service',
      ],
    });
  });

  it('reports tcp listeners without a tcp backend and HTTP routes to a tcp service', () => {
    const text = yaml`
      version: 1
      services:
        db:
          protocol: tcp
          instances:
            - { id: db1, address: 10.0.0.1, port: 15432, app: 127.0.0.1:5432 }
        web:
          instances:
            - { id: w1, address: 10.0.0.2, port: 8443, app: 127.0.0.1:8080, tcpOutbound: { web: 5000 } }
      gateways:
        gw:
          listeners:
            - { name: pg, port: 5432, protocol: tcp }
            - { name: pg2, port: 5433, protocol: tcp, backend: web }
            - { name: http, port: 8080 }
          routes:
            - backend: db
    `;
    expect(check(text)).toEqual({
      valid: false,
      lines: [
        'mesh.yaml:9:91: error: services.web.instances[0].tcpOutbound.web: service "web" is http, not tcp; the app reaches it through outboundPort by name',
        'mesh.yaml:13:9: error: gateways.gw.listeners[0]: a tcp listener needs "backend": the service it forwards to',
        'mesh.yaml:14:58: error: gateways.gw.listeners[1].backend: service "web" is http; a tcp listener forwards to a tcp service',
        'mesh.yaml:17:18: error: gateways.gw.routes[0].backend: service "db" is tcp; HTTP routes need an http, http2 or grpc service',
      ],
    });
  });
});

describe('names that are also Object.prototype properties', () => {
  it('a reference to "constructor" is an unknown service unless one is defined', () => {
    const text = `version: 1
services:
  users:
    instances:
      - { id: u1, address: 10.0.0.1, port: 8080, app: 127.0.0.1:9000 }
gateways:
  edge:
    listeners: [{ name: web, port: 8000 }]
    routes:
      - { match: { pathPrefix: / }, backend: constructor }
`;
    const r = check(text);
    expect(r.valid).toBe(false);
    expect(r.lines.join('\n')).toContain('gateways.edge.routes[0].backend: unknown service "constructor"');
    const defined = text.replace('services:\n', 'services:\n  constructor:\n    instances:\n      - { id: c1, address: 10.0.0.2, port: 8080, app: 127.0.0.1:9001 }\n');
    expect(check(defined).valid).toBe(true);
  });
});
