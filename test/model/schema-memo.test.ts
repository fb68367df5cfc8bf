// ModelSchemaMemo must give exactly ModelSchema's result for a valid model, whatever the
// previous loads were, and leave every invalid model to ModelSchema (undefined).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MODEL_YAML_LIMITS } from '../../src/model/load.js';
import { ModelSchemaMemo } from '../../src/model/schema-memo.js';
import { ModelSchema } from '../../src/model/schema.js';
import { fastParseYaml } from '../../src/util/yaml-fast.js';
import { rng } from '../helpers/rng.js';

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'golden');
const fixtures = fs.readdirSync(GOLDEN).filter((d) => fs.existsSync(path.join(GOLDEN, d, 'mesh.yaml'))).sort();


const VALUES: unknown[] = ['x', 'users', 0, -1, 8080, 70000, true, null, {}, [], '10.0.0.9', 'http2', 'tcp', '250ms', 'strict', { pathPrefix: '/a' }, [{ service: 'users', weight: 1 }]];

/** Every (container, key) in a JSON value. */
function slots(v: unknown, out: Array<[Record<string, unknown> | unknown[], string | number]> = []): typeof out {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push([v as Record<string, unknown>, k]), slots(x, out);
  return out;
}

describe('ModelSchemaMemo', () => {
  it.each(fixtures)('%s: 300 random edits, each equal to ModelSchema', (name) => {
    const r = rng(name.length * 31 + name.charCodeAt(1));
    const memo = new ModelSchemaMemo();
    let raw = fastParseYaml(fs.readFileSync(path.join(GOLDEN, name, 'mesh.yaml'), 'utf8'), MODEL_YAML_LIMITS) as Record<string, unknown>;
    expect(raw).toBeDefined();
    let valid = 0;
    for (let step = 0; step < 300; step++) {
      const next = structuredClone(raw);
      const all = slots(next);
      const [container, key] = all[Math.floor(r() * all.length)]!;
      if (r() < 0.15 && !Array.isArray(container)) delete (container as Record<string, unknown>)[key as string];
      else (container as Record<string | number, unknown>)[key] = structuredClone(VALUES[Math.floor(r() * VALUES.length)]);
      const want = ModelSchema.safeParse(next);
      const got = memo.parse(next);
      if (want.success) {
        expect(got, `step ${step}`).toEqual(want.data);
        valid++;
        raw = next;
      } else {
        expect(got, `step ${step}: invalid input must be left to ModelSchema`).toBeUndefined();
      }
      // The fixture itself again: reused parts give the same result.
      const again = ModelSchema.safeParse(raw);
      expect(memo.parse(raw)).toEqual(again.success ? again.data : undefined);
    }
    expect(valid).toBeGreaterThan(0);
  });

  it('reuses the parsed object of an unchanged service', () => {
    const memo = new ModelSchemaMemo();
    const raw = { version: 1, services: { a: { instances: [{ id: 'a1', address: '10.0.0.1', port: 80, app: '127.0.0.1:9000' }] }, b: { instances: [{ id: 'b1', address: '10.0.0.2', port: 80, app: '127.0.0.1:9001' }] } } };
    const first = memo.parse(structuredClone(raw))!;
    const edited = structuredClone(raw);
    edited.services.b.instances[0]!.port = 81;
    const second = memo.parse(edited)!;
    expect(second.services['a']).toBe(first.services['a']);
    expect(second.services['b']).not.toBe(first.services['b']);
    expect(second.services['b']!.instances[0]!.port).toBe(81);
  });

  it('reuses the mesh block and every part whose raw value is the same object or an equal one', () => {
    const memo = new ModelSchemaMemo();
    const a = { instances: [{ id: 'a1', address: '10.0.0.1', port: 80, app: '127.0.0.1:9000' }] };
    const gw = { listeners: [{ name: 'web', port: 8080 }] };
    const mesh = { mtls: 'strict' };
    const first = memo.parse({ version: 1, mesh, services: { a }, gateways: { gw } })!;
    // The same raw objects (a part whose text did not change, raw-memo.ts).
    const second = memo.parse({ version: 1, mesh, services: { a }, gateways: { gw } })!;
    expect(second.services['a']).toBe(first.services['a']);
    expect(second.gateways['gw']).toBe(first.gateways['gw']);
    expect(second.mesh).toBe(first.mesh);
    // Equal new objects (a comment edit, or a text read whole).
    const third = memo.parse(structuredClone({ version: 1, mesh, services: { a }, gateways: { gw } }))!;
    expect(third.services['a']).toBe(first.services['a']);
    expect(third.mesh).toBe(first.mesh);
    expect(third).toEqual(ModelSchema.parse({ version: 1, mesh, services: { a }, gateways: { gw } }));
  });
});
