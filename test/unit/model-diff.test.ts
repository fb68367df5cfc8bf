// canonicalize (src/ir/model-diff.ts) returns the new model with every unchanged part replaced by
// the previous object: always equal to the new model, the same object wherever nothing changed,
// and a part that is already the previous object is kept without being looked into.
import { describe, expect, it } from 'vitest';
import { gatewayMesh, setInstancePort, SMOKE_M1K } from '../../bench/models.js';
import { canonicalize, canonicalizeWithChanges, notePartChanges, partChangesSince } from '../../src/ir/model-diff.js';
import { ModelLoader } from '../../src/model/load.js';
import type { Model } from '../../src/model/schema.js';
import { rng } from '../helpers/rng.js';

function load(loader: ModelLoader, text: string): Model {
  const r = loader.load('m.yaml', text);
  if (!r.model) throw new Error(r.diagnostics[0]?.message);
  return r.model;
}

/** An object that throws when anything inside it is read. */
function untouchable<T extends object>(v: T): T {
  return new Proxy(v, {
    get: () => {
      throw new Error('looked into');
    },
    ownKeys: () => {
      throw new Error('looked into');
    },
  });
}

describe('canonicalize', () => {
  it('keeps a service or gateway that is already the previous object without looking into it', () => {
    const model = load(new ModelLoader(), gatewayMesh(SMOKE_M1K).text());
    const s3 = untouchable(model.services['s3']!);
    const edge = untouchable(model.gateways['edge']!);
    const prev: Model = { ...model, services: Object.assign(Object.create(null), model.services, { s3 }), gateways: Object.assign(Object.create(null), { edge }) };
    const next: Model = { ...prev, services: Object.assign(Object.create(null), prev.services) };
    const out = canonicalize(prev, next);
    expect(out.services).toBe(prev.services);
    expect(out.gateways).toBe(prev.gateways);
    expect(canonicalize(prev, prev)).toBe(prev);
  });

  it('is equal to the new model, and keeps the previous objects of what did not change', () => {
    const doc = gatewayMesh(SMOKE_M1K);
    // Separate loaders: no part of `next` is `prev`'s object, so everything is compared.
    const prev = load(new ModelLoader(), doc.text());
    setInstancePort(doc, 's4', 1, 15007);
    doc.gateways.get('edge')!.routes[2]!.match = { pathPrefix: '/x/' };
    doc.touchGateways();
    const next = load(new ModelLoader(), doc.text());
    const out = canonicalize(prev, next);
    expect(out).toEqual(next);
    expect(JSON.stringify(out)).toBe(JSON.stringify(next));
    expect(out.mesh).toBe(prev.mesh);
    for (const name of Object.keys(next.services)) {
      if (name === 's4') {
        expect(out.services[name]).not.toBe(prev.services[name]);
        expect(out.services[name]!.instances[0]).toBe(prev.services[name]!.instances[0]);
        expect(out.services[name]!.instances[1]).not.toBe(prev.services[name]!.instances[1]);
      } else expect(out.services[name], name).toBe(prev.services[name]);
    }
    const routes = out.gateways['edge']!.routes!;
    routes.forEach((r, i) => (i === 2 ? expect(r).not.toBe(prev.gateways['edge']!.routes![i]) : expect(r).toBe(prev.gateways['edge']!.routes![i])));
    // Maps without a prototype, like the schema's.
    expect(Object.getPrototypeOf(out.services)).toBeNull();
    expect(out.services['constructor']).toBeUndefined();
  });

  it('equals the new model on random edit sequences (same or fresh objects)', () => {
    const r = rng(11);
    const doc = gatewayMesh(SMOKE_M1K);
    const shared = new ModelLoader();
    let prev = load(shared, doc.text());
    for (let step = 0; step < 200; step++) {
      const x = r();
      if (x < 0.5) setInstancePort(doc, `s${Math.floor(r() * 20)}`, Math.floor(r() * 2), 15000 + Math.floor(r() * 3));
      else {
        const i = Math.floor(r() * 20);
        doc.gateways.get('edge')!.routes[i]!.match = { pathPrefix: `/p${i}-${Math.floor(r() * 3)}/` };
        doc.touchGateways();
      }
      const next = load(r() < 0.7 ? shared : new ModelLoader(), doc.text());
      const out = canonicalize(prev, next);
      expect(out).toEqual(next);
      expect(JSON.stringify(out)).toBe(JSON.stringify(next));
      prev = out;
    }
  });
});

describe('canonicalize with what changed', () => {
  it('takes a map recorded as the last one but for some names as it is, looking at no other name', () => {
    const loader = new ModelLoader();
    const doc = gatewayMesh(SMOKE_M1K);
    const prev = load(loader, doc.text());
    setInstancePort(doc, 's4', 1, 15007);
    const next = load(loader, doc.text());
    // The loader recorded what changed: s4 alone.
    expect(partChangesSince(prev.services, next.services)).toEqual(['s4']);
    // Every other part: untouchable (a look into it throws), in a copy recorded the same way.
    const services = Object.create(null) as Model['services'];
    for (const name of Object.keys(next.services)) services[name] = name === 's4' ? next.services[name]! : untouchable(next.services[name]!);
    notePartChanges(services, prev.services, ['s4']);
    const { model, changes } = canonicalizeWithChanges(prev, { ...next, services });
    expect(model.services).toBe(services);
    expect(changes!.services).toEqual({ changed: ['s4'], removed: [] });
    expect(changes!.gateways).toEqual({ changed: [], removed: [] });
    expect(changes!.mesh).toBe(false);
  });

  it('says which names changed, were added and were removed, with the loader\'s record and without', () => {
    const doc = gatewayMesh(SMOKE_M1K);
    const shared = new ModelLoader();
    const prev = load(shared, doc.text());
    setInstancePort(doc, 's2', 0, 15003);
    doc.services.delete('s5');
    doc.addService('extra', { instances: [{ id: 'extra-0', address: '10.200.0.1', port: 8443, app: '127.0.0.1:8080' }] });
    doc.gateways.get('edge')!.routes = doc.gateways.get('edge')!.routes.filter((r) => r.backend !== 's5');
    doc.touchGateways();
    const text = doc.text();
    for (const next of [load(shared, text), load(new ModelLoader(), text)]) {
      const { model, changes } = canonicalizeWithChanges(prev, next);
      expect(model).toEqual(next);
      expect([...changes!.services.changed].sort()).toEqual(['extra', 's2']);
      expect(changes!.services.removed).toEqual(['s5']);
      expect(changes!.gateways.changed).toEqual(['edge']);
      for (const name of Object.keys(next.services)) if (name !== 's2' && name !== 'extra') expect(model.services[name]).toBe(prev.services[name]);
    }
  });

  it('gives a canonical model back as it is: canonicalize is idempotent by identity', () => {
    const doc = gatewayMesh(SMOKE_M1K);
    const prev = load(new ModelLoader(), doc.text());
    setInstancePort(doc, 's3', 0, 15011);
    doc.gateways.get('edge')!.routes[1]!.match = { pathPrefix: '/y/' };
    doc.touchGateways();
    const once = canonicalize(prev, load(new ModelLoader(), doc.text()));
    expect(once.services['s3']).not.toBe(prev.services['s3']);
    expect(once.services['s3']!.instances[1]).toBe(prev.services['s3']!.instances[1]);
    const twice = canonicalizeWithChanges(prev, once);
    expect(twice.model).toBe(once);
    expect(twice.changes!.services.changed).toEqual(['s3']);
  });

  it('the loader gives the last model, and the last maps, back while nothing in them changed', () => {
    const doc = gatewayMesh(SMOKE_M1K);
    const loader = new ModelLoader();
    const a = load(loader, doc.text());
    expect(load(loader, doc.text())).toBe(a);
    doc.gateways.get('edge')!.routes[0]!.match = { pathPrefix: '/z/' };
    doc.touchGateways();
    const b = load(loader, doc.text());
    expect(b).not.toBe(a);
    expect(b.services).toBe(a.services);
    expect(b.mesh).toBe(a.mesh);
    expect(partChangesSince(a.gateways, b.gateways)).toEqual(['edge']);
    // Services in another order: a new map in the text's order (and no name changed).
    const text = doc.text();
    const s1 = text.indexOf('\n  s1:\n');
    const s2 = text.indexOf('\n  s2:\n');
    const swapped = text.slice(0, s1) + text.slice(s2, text.indexOf('\n  s3:\n')) + text.slice(s1, s2) + text.slice(text.indexOf('\n  s3:\n'));
    const c = load(loader, swapped);
    expect(Object.keys(c.services).slice(0, 4)).toEqual(['s0', 's2', 's1', 's3']);
    expect(partChangesSince(b.services, c.services)).toEqual([]);
    expect(canonicalizeWithChanges(b, c).changes!.services).toEqual({ changed: [], removed: [] });
  });
});
