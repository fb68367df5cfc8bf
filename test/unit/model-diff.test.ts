// canonicalize (src/ir/model-diff.ts) returns the new model with every unchanged part replaced by
// the previous object: always equal to the new model, the same object wherever nothing changed,
// and a part that is already the previous object is kept without being looked into.
import { describe, expect, it } from 'vitest';
import { gatewayMesh, setInstancePort, SMOKE_M1K } from '../../bench/models.js';
import { canonicalize } from '../../src/ir/model-diff.js';
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
