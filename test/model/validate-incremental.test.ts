// Incremental semantic checks (src/model/validate-incremental.ts) must give exactly what the full
// check (validateModel) gives, on every model of a sequence of edits: it may only skip the full
// check when the full check would report nothing. Each sequence edits a random, clash-prone model
// the way reloads do: a changed service or gateway is a new object, an unchanged one the same
// object (as the schema memo gives them), and sometimes an unchanged one is a new, equal object.
import { describe, expect, it } from 'vitest';
import { noteReplaced } from '../../src/ir/list-edits.js';
import type { ModelPath } from '../../src/model/diagnostics.js';
import { Gateway, Mesh, type Model, Service } from '../../src/model/schema.js';
import { IncrementalValidator } from '../../src/model/validate-incremental.js';
import { validateModel } from '../../src/model/validate.js';
import { rng } from '../helpers/rng.js';

/** A position that depends on the path only (the checks word positions into some messages). */
const at = (p: ModelPath): { file: string; line: number; column: number } => ({ file: 'm.yaml', line: p.length + 1, column: String(p[p.length - 1] ?? '').length + 1 });

const SERVICE_NAMES = ['a', 'b', 'c', 'd', 'e', 'f'];
/** Also names of gateways: a service of that name clashes with the gateway. */
const RISKY_SERVICE_NAMES = ['edge', 'gw', 'x'];
const GATEWAY_NAMES = ['gw', 'edge', 'side'];
const PORTS = [8080, 15000, 15001, 9901];
const ADDRESSES = ['10.0.0.1', '10.0.0.2', '127.0.0.1', 'localhost', '0.0.0.0', 'app.local'];
const IPS = ['0.0.0.0', '10.0.0.1', '10.0.0.2', '127.0.0.1'];
const LABEL_KEYS = ['version', 'zone'];
const LABEL_VALUES = ['v1', 'v2'];

type Raw = Record<string, unknown>;

/**
 * Random parts, each choice usually the one a valid model makes and now and then one that
 * clashes, names something missing, shadows a route, ... (`risky`).
 */
class Gen {
  constructor(private readonly r: () => number) {}

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }

  maybe<T>(p: number, v: () => T): T | undefined {
    return this.r() < p ? v() : undefined;
  }

  risky(): boolean {
    return this.r() < 0.025;
  }

  labels(): Record<string, string> {
    return Object.fromEntries(LABEL_KEYS.filter(() => this.r() < 0.6).map((k) => [k, this.pick(LABEL_VALUES)]));
  }

  serviceName(): string {
    return this.risky() ? this.pick(RISKY_SERVICE_NAMES) : this.pick(SERVICE_NAMES);
  }

  instance(service: string, i: number): Raw {
    const n = SERVICE_NAMES.indexOf(service) + 1;
    // An address shared with other instances comes with any port: its loopback claims (app,
    // outbound, admin) can then clash while its inbound port does not.
    const shared = this.risky();
    return {
      // (A risky id may be any instance's: one added since the last clean model too.)
      id: this.risky() ? `${this.pick(SERVICE_NAMES)}${this.pick([0, 1, 2])}` : `${service}${i}`,
      address: shared ? this.pick(ADDRESSES) : `10.1.${n}.${i + 1}`,
      port: shared || this.risky() ? this.pick(PORTS) : 15000,
      app: this.risky() ? `${this.pick(['10.0.0.9', 'localhost'])}:${this.pick(PORTS)}` : '127.0.0.1:8080',
      outboundPort: this.maybe(0.4, () => (this.risky() ? this.pick(PORTS) : 15001)),
      adminPort: this.maybe(0.2, () => (this.risky() ? this.pick(PORTS) : 9901)),
      bind: this.maybe(0.05, () => this.pick(IPS)),
      tcpOutbound: this.risky() ? { [this.serviceName()]: this.pick([16000, 16001]) } : undefined,
      // Instance 0 is always v1: the subset routes select.
      labels: { version: i === 0 ? 'v1' : this.pick(LABEL_VALUES), ...(this.r() < 0.3 ? { zone: this.pick(LABEL_VALUES) } : {}) },
    };
  }

  backend(owner: boolean): Raw {
    return {
      service: owner && this.r() < 0.3 ? undefined : this.serviceName(),
      subset: this.maybe(0.3, () => (this.risky() ? { version: this.pick(['v2', 'v9']) } : { version: 'v1' })),
      weight: this.risky() ? this.pick([0, 1]) : undefined,
    };
  }

  match(i: number): Raw | undefined {
    return this.risky() ? this.pick([undefined, { pathPrefix: '/' }, { pathPrefix: '/r0' }, { pathRegex: '(' }, { headers: { ':path': 'x' } }]) : { pathPrefix: `/r${i}`, ...(this.r() < 0.2 ? { methods: ['GET'] } : {}) };
  }

  service(name: string): Raw {
    const protocol = this.risky() ? 'tcp' : this.pick(['http', 'http2', 'grpc']);
    return {
      protocol,
      instances: Array.from({ length: 1 + Math.floor(this.r() * 3) }, (_, i) => this.instance(name, i)),
      routes: this.maybe(protocol === 'tcp' ? 0.05 : 0.5, () => Array.from({ length: Math.floor(this.r() * 3) }, (_, i) => ({ match: this.match(i), backends: [this.backend(true)] }))),
      allow: this.maybe(0.2, () => [{ services: this.risky() ? undefined : [this.serviceName()], gateways: this.risky() ? [this.pick(GATEWAY_NAMES)] : undefined, methods: this.maybe(0.1, () => ['GET']) }]),
    };
  }

  gateway(name: string): Raw {
    const listeners: Raw[] = [{ name: 'l0', port: this.risky() ? this.pick([8080, 15000]) : 8100 + GATEWAY_NAMES.indexOf(name), address: this.maybe(0.2, () => this.pick(IPS)) }];
    if (this.r() < 0.15) listeners.push({ name: 'l1', port: 9100 + GATEWAY_NAMES.indexOf(name), protocol: 'tcp', backend: this.serviceName() });
    // Routes may name l2: a listeners edit that drops it (or makes it tcp) breaks them.
    if (this.r() < 0.6) listeners.push({ name: 'l2', port: 9200 + GATEWAY_NAMES.indexOf(name), protocol: this.r() < 0.1 ? 'tcp' : 'http' });
    return {
      listeners,
      adminPort: this.maybe(0.3, () => (this.risky() ? this.pick(PORTS) : 9800 + GATEWAY_NAMES.indexOf(name))),
      routes: Array.from({ length: (this.risky() ? 0 : 1) + Math.floor(this.r() * 3) }, (_, i) =>
        this.r() < 0.5 ? { match: this.match(i), backend: this.serviceName() } : { match: this.match(i), backends: [this.backend(false)], listeners: this.maybe(0.4, () => [this.pick(['l0', 'l2', 'l2'])]) },
      ),
    };
  }

  mesh(): Raw {
    return { mtls: this.pick(['strict', 'strict', 'permissive', 'off']), defaultPolicy: this.r() < 0.1 ? 'deny' : 'allow' };
  }
}

/** JSON round trip: drop the undefined the generator leaves. */
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function model(mesh: Model['mesh'], services: Map<string, Model['services'][string]>, gateways: Map<string, Model['gateways'][string]>): Model {
  return { version: 1, mesh, services: Object.assign(Object.create(null), Object.fromEntries(services)), gateways: Object.assign(Object.create(null), Object.fromEntries(gateways)) };
}

describe('incremental semantic checks = validateModel', () => {
  it('on 400 sequences of 25 edits of random, clash-prone models', () => {
    const counts = { clean: 0, withDiagnostics: 0, incremental: 0, full: 0 };
    for (let seed = 1; seed <= 400; seed++) {
      const r = rng(seed);
      const g = new Gen(r);
      let mesh = Mesh.parse(plain({ mtls: 'strict' }));
      const services = new Map<string, Model['services'][string]>();
      const gateways = new Map<string, Model['gateways'][string]>();
      for (const n of SERVICE_NAMES) services.set(n, Service.parse(plain(g.service(n))));
      for (const n of GATEWAY_NAMES.slice(0, Math.floor(r() * 3))) gateways.set(n, Gateway.parse(plain(g.gateway(n))));
      const v = new IncrementalValidator();
      let lastClean: { mesh: Model['mesh']; services: Map<string, Model['services'][string]>; gateways: Map<string, Model['gateways'][string]> } | null = null;
      let lastHadDiagnostics = false;
      for (let step = 0; step < 25; step++) {
        if (step > 0) {
          // Now and then back to the last model without diagnostics (an undo), then edits.
          if (lastHadDiagnostics && lastClean && r() < 0.6) {
            mesh = lastClean.mesh;
            services.clear();
            for (const [k, x] of lastClean.services) services.set(k, x);
            gateways.clear();
            for (const [k, x] of lastClean.gateways) gateways.set(k, x);
          }
          // One to three parts change, are added or removed (a whole service or gateway, or one
          // instance of a service); now and then the mesh block, or an equal new object.
          for (let k = 0; k < 1 + Math.floor(r() * r() * 3); k++) {
            const x = r();
            if (x < 0.45) {
              const n = g.serviceName();
              const old = services.get(n);
              if (old && r() < 0.5) {
                const raw = plain(old) as Raw & { instances: Raw[] };
                const i = Math.floor(r() * raw.instances.length);
                raw.instances[i] = g.instance(n, i);
                services.set(n, Service.parse(plain(raw)));
              } else services.set(n, Service.parse(plain(g.service(n))));
            } else if (x < 0.5) services.delete(g.pick([...SERVICE_NAMES, ...RISKY_SERVICE_NAMES, ...RISKY_SERVICE_NAMES]));
            else if (x < 0.62) {
              const n = g.pick(GATEWAY_NAMES);
              gateways.set(n, Gateway.parse(plain(g.gateway(n))));
            } else if (x < 0.75) {
              // One route of a gateway replaced, added or removed; the others the same objects
              // (as the schema memo keeps them), or its listeners changed under the same routes.
              const n = g.pick([...gateways.keys()]);
              const gw = n === undefined ? undefined : gateways.get(n);
              if (n !== undefined && gw) {
                const routes = [...(gw.routes ?? [])];
                const y = r();
                const fresh = (): Model['gateways'][string]['routes'] => Gateway.parse(plain(g.gateway(n))).routes;
                if (y < 0.2) gateways.set(n, { ...Gateway.parse(plain(g.gateway(n))), routes: gw.routes });
                else if (y < 0.4 && routes.length) routes.splice(Math.floor(r() * routes.length), 1);
                else if (y < 0.6) routes.splice(Math.floor(r() * (routes.length + 1)), 0, ...(fresh() ?? []).slice(0, 1));
                else if (routes.length) routes[Math.floor(r() * routes.length)] = (fresh() ?? [])[0] ?? routes[0]!;
                if (y >= 0.2) gateways.set(n, { ...gw, routes });
              }
            } else if (x < 0.82) gateways.delete(g.pick(GATEWAY_NAMES));
            else if (x < 0.87) mesh = Mesh.parse(plain(g.mesh()));
            else if (x < 0.95) {
              const n = g.pick([...services.keys()]);
              if (n) services.set(n, Service.parse(plain(services.get(n))));
            } else {
              const n = g.pick([...gateways.keys()]);
              if (n) gateways.set(n, Gateway.parse(plain(gateways.get(n))));
            }
          }
        }
        const m = model(mesh, services, gateways);
        const before = v.counts.incremental;
        const got = v.validate(m, at);
        const want = validateModel(m, at);
        expect(got, `seed ${seed} step ${step}`).toEqual(want);
        lastHadDiagnostics = want.length > 0;
        if (want.length === 0) {
          counts.clean++;
          lastClean = { mesh, services: new Map(services), gateways: new Map(gateways) };
        } else counts.withDiagnostics++;
        if (v.counts.incremental > before) counts.incremental++;
        else counts.full++;
      }
    }
    // Both kinds of model, and both ways of checking, are exercised.
    expect(counts.clean).toBeGreaterThan(2000);
    expect(counts.withDiagnostics).toBeGreaterThan(2000);
    expect(counts.incremental).toBeGreaterThan(2000);
  });

  // What an incremental step adds must be in the indexes the next step checks against: each
  // case adds a part (checked incrementally, clean), then another that clashes with it.
  it.each([
    ['an instance id', { id: 'x0', address: '10.0.1.1', port: 15000, app: '127.0.0.1:8080' }, { id: 'x0', address: '10.0.2.1', port: 15000, app: '127.0.0.1:8080' }],
    ['an inbound port', { id: 'x0', address: '10.0.1.1', port: 15000, app: '127.0.0.1:8080' }, { id: 'y0', address: '10.0.1.1', port: 15000, app: '127.0.0.1:8081' }],
    ['a loopback port', { id: 'x0', address: '10.0.1.1', port: 15000, app: '127.0.0.1:8080' }, { id: 'y0', address: '10.0.1.1', port: 15001, app: '127.0.0.1:8080' }],
    ['an outbound port', { id: 'x0', address: 'app.local', port: 15000, app: '127.0.0.1:8080', outboundPort: 15009 }, { id: 'y0', address: 'app.local', port: 15002, app: '127.0.0.1:8081', adminPort: 15009 }],
    ['an IPv4 bind, then a wildcard', { id: 'x0', address: '10.0.1.1', port: 15005, app: '127.0.0.1:8080' }, { id: 'y0', address: '10.0.2.1', bind: '0.0.0.0', port: 15005, app: '127.0.0.1:8080' }],
    ['a wildcard bind, then an IPv4 one', { id: 'x0', address: '10.0.2.1', bind: '0.0.0.0', port: 15006, app: '127.0.0.1:8080' }, { id: 'y0', address: '10.0.1.1', port: 15006, app: '127.0.0.1:8080' }],
  ])('%s added incrementally is found by the next step', (_, first, second) => {
    const mesh = Mesh.parse({});
    const base = Service.parse({ instances: [{ id: 'a0', address: '10.9.9.9', port: 15000, app: '127.0.0.1:8080' }] });
    const v = new IncrementalValidator();
    const services = new Map([['a', base]]);
    expect(v.validate(model(mesh, services, new Map()), at)).toEqual([]);
    services.set('x', Service.parse({ instances: [first] }));
    expect(v.validate(model(mesh, services, new Map()), at)).toEqual([]);
    expect(v.counts.incremental).toBe(1);
    services.set('y', Service.parse({ instances: [second] }));
    const m = model(mesh, services, new Map());
    const got = v.validate(m, at);
    expect(got.length).toBeGreaterThan(0);
    expect(got).toEqual(validateModel(m, at));
  });

  it('a model without diagnostics after one with them is checked incrementally (against the last clean one)', () => {
    const ok = Service.parse({ instances: [{ id: 'a0', address: '10.0.0.1', port: 15000, app: '127.0.0.1:8080' }] });
    const clash = Service.parse({ instances: [{ id: 'b0', address: '10.0.0.1', port: 15000, app: '127.0.0.1:8080' }] });
    const fixed = Service.parse({ instances: [{ id: 'b0', address: '10.0.0.2', port: 15000, app: '127.0.0.1:8080' }] });
    const mesh = Mesh.parse({});
    const v = new IncrementalValidator();
    const services = new Map([['a', ok]]);
    expect(v.validate(model(mesh, services, new Map()), at)).toEqual([]);
    services.set('b', clash);
    expect(v.validate(model(mesh, services, new Map()), at).map((d) => d.message)).toEqual([
      'port clash: the inbound port of b0 uses 10.0.0.1:15000, already used by the inbound port of a0 (services.a.instances[0].port)',
      'port clash: the app of b0 uses 10.0.0.1/lo:8080, already used by the app of a0 (services.a.instances[0].app)',
    ]);
    services.set('b', fixed);
    const incremental = v.counts.incremental;
    expect(v.validate(model(mesh, services, new Map()), at)).toEqual([]);
    expect(v.counts.incremental).toBe(incremental + 1);
  });
});

// A gateway whose routes list records the places it differs from the last one (as the loader's
// canonical model does, ir/list-edits.ts) is checked by those routes alone, their shadowing
// against an index of the others (validate.ts checkGatewayRoutesReplaced). Sequences of such
// edits, with risky routes (a catch-all anywhere, a match another route has, an unknown or tcp
// service, a route on one listener, a bad regex), now and then a service edited at the same
// time, an undo, or a record against another list: every model's diagnostics must be
// validateModel's.
describe('a gateway with a few routes replaced in place (the list records where)', () => {
  it('on 300 sequences of 30 edits: exactly validateModel', () => {
    const counts = { clean: 0, withDiagnostics: 0 };
    const v = new IncrementalValidator();
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed * 613);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
      const mesh = Mesh.parse({});
      const services = new Map<string, Model['services'][string]>();
      for (const n of SERVICE_NAMES) services.set(n, Service.parse({ protocol: n === 'f' ? 'tcp' : 'http', instances: [{ id: `${n}0`, address: `10.1.${SERVICE_NAMES.indexOf(n) + 1}.1`, port: 15000, app: '127.0.0.1:8080', labels: { version: 'v1' } }] }));
      const n = 20 + Math.floor(r() * 20);
      let k = 0;
      const route = (i: number): Raw => {
        const x = r();
        const match =
          x < 0.04 ? { pathPrefix: '/' } : x < 0.08 ? { pathPrefix: `/r${Math.floor(r() * n)}` } : x < 0.1 ? { pathRegex: '(' } : x < 0.12 ? undefined : { pathPrefix: `/r${i}-${k++}`, ...(r() < 0.2 ? { methods: ['GET'] } : {}) };
        const y = r();
        if (y < 0.04) return { match, backend: pick(['f', 'nope']) };
        if (y < 0.07) return { match, backend: 'a', listeners: ['l1'] };
        if (y < 0.3) return { match, backends: [{ service: pick(SERVICE_NAMES.slice(0, 5)), subset: r() < 0.1 ? { version: 'v9' } : { version: 'v1' } }] };
        return { match, backend: pick(SERVICE_NAMES.slice(0, 5)) };
      };
      const listeners = Gateway.parse({ listeners: r() < 0.5 ? [{ name: 'l0', port: 8100 }] : [{ name: 'l0', port: 8100 }, { name: 'l1', port: 8101 }] }).listeners;
      const clean = (): Raw => ({ match: { pathPrefix: `/c${k++}` }, backend: pick(SERVICE_NAMES.slice(0, 5)) });
      let gw: Model['gateways'][string] = { ...Gateway.parse({ listeners: [{ name: 'l0', port: 8100 }], routes: Array.from({ length: n }, clean) }), listeners };
      let lastClean: { gw: Model['gateways'][string]; services: Map<string, Model['services'][string]> } | null = null;
      let lastHadDiagnostics = false;
      for (let step = 0; step < 30; step++) {
        if (step > 0) {
          if (lastHadDiagnostics && lastClean && r() < 0.5) {
            gw = lastClean.gw;
            services.clear();
            for (const [name, s] of lastClean.services) services.set(name, s);
          } else {
            const routes = [...gw.routes!];
            const places = new Set<number>();
            for (let j = 0; j < 1 + Math.floor(r() * r() * 4); j++) {
              const i = r() < 0.2 ? routes.length - 1 : Math.floor(r() * routes.length);
              const z = r();
              // A new route, a clean one, or another route's object moved here.
              routes[i] = z < 0.5 ? Gateway.parse({ listeners: [{ name: 'l0', port: 1 }], routes: [route(i)] }).routes![0]! : z < 0.8 ? Gateway.parse({ listeners: [{ name: 'l0', port: 1 }], routes: [clean()] }).routes![0]! : routes[Math.floor(r() * routes.length)]!;
              places.add(i);
            }
            const at = [...places].sort((a, b) => a - b).filter((i) => routes[i] !== gw.routes![i]);
            const w = r();
            // The record the loader makes; now and then none, or one against another list.
            if (w < 0.85) noteReplaced(routes, gw.routes!, at);
            else if (w < 0.92) noteReplaced(routes, [...gw.routes!], at.slice(1)); // (another list's record: not this edit's)
            gw = { ...gw, routes };
            if (r() < 0.1) {
              const s = pick(SERVICE_NAMES.slice(0, 5));
              services.set(s, Service.parse({ protocol: r() < 0.3 ? 'tcp' : 'http', instances: [{ id: `${s}0`, address: `10.1.${SERVICE_NAMES.indexOf(s) + 1}.1`, port: 15000, app: '127.0.0.1:8080', labels: { version: 'v1' } }] }));
            }
          }
        }
        const m = model(mesh, services, new Map([['edge', gw]]));
        const got = v.validate(m, at);
        const want = validateModel(m, at);
        expect(got, `seed ${seed} step ${step}`).toEqual(want);
        lastHadDiagnostics = want.length > 0;
        if (want.length === 0) {
          counts.clean++;
          lastClean = { gw, services: new Map(services) };
        } else counts.withDiagnostics++;
      }
    }
    expect(counts.clean).toBeGreaterThan(1500);
    expect(counts.withDiagnostics).toBeGreaterThan(1500);
    // The shortcut was taken most of the times it could be.
    expect(v.counts.routesReplaced).toBeGreaterThan(1000);
  });
});
