// A reload must give exactly what a load without memory gives: ModelLoader (src/model/load.ts)
// remembers the last loads (the parts of the text it read, raw-memo.ts; the schema results,
// schema-memo.ts; the semantic checks' state, validate-incremental.ts), and every load in a
// sequence of random edits must equal, whole (model, diagnostics with message, path, position
// and hint, key order), both a fresh loader's load and the full, position-tracking path. The
// sequences start from every shipped model (examples, golden models) and the bench models, and
// drift through valid models, models with warnings, semantic and schema errors and texts the
// fast reader does not take, going back now and then to earlier texts.
import { describe, expect, it } from 'vitest';
import { shippedAndBenchModels } from '../helpers/models.js';
import { gatewayMesh, setInstancePort, SMOKE_M1K } from '../../bench/models.js';
import { loadModelTextFullPath, ModelLoader } from '../../src/model/load.js';
import { rng } from '../helpers/rng.js';
import { editModelText, pick } from './model-edits.js';
import { expectSameLoad, muteParserWarnings } from './load-compare.js';

muteParserWarnings();

describe('a reload = a load without memory = the full path', () => {
  it('thousands of random edit sequences from every shipped and bench model', () => {
    const outcomes = { valid: 0, warnings: 0, invalid: 0 };
    const all = shippedAndBenchModels();
    const loaders: ModelLoader[] = [];
    let seed = 1000;
    for (const [name, base] of all) {
      // Three sequences per model, each with its own loader (the memory is per loader).
      for (let run = 0; run < 3; run++) {
        const r = rng(seed++);
        const loader = new ModelLoader();
        loaders.push(loader);
        const history = [base];
        let text = base;
        for (let step = 0; step < 70; step++) {
          const x = r();
          if (step === 0) text = base;
          else if (x < 0.2) text = pick(r, history); // back to an earlier text (an undo, a revert)
          else if (x < 0.3) text = base;
          else {
            text = editModelText(text, r);
            if (r() < 0.3) text = editModelText(text, r);
          }
          history.push(text);
          const what = `${name} run ${run} step ${step}: ${JSON.stringify(text)}`;
          const want = loadModelTextFullPath(name, text);
          expectSameLoad(loader.load(name, text), want, what);
          expectSameLoad(new ModelLoader().load(name, text), want, what);
          if (want.model === null) outcomes.invalid++;
          else if (want.diagnostics.length) outcomes.warnings++;
          else outcomes.valid++;
        }
      }
    }
    // Every outcome, and every way through the loader, is exercised.
    const stats = loaders.map((l) => l.stats()).reduce((a, b) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v + b[k as keyof typeof b]])) as typeof a);
    expect(outcomes.valid).toBeGreaterThan(500);
    expect(outcomes.warnings).toBeGreaterThan(20);
    expect(outcomes.invalid).toBeGreaterThan(1000);
    expect(stats.partsReused).toBeGreaterThan(3 * stats.partsRead);
    expect(stats.wholeText).toBeGreaterThan(500);
    expect(stats.fullPath).toBeGreaterThan(1000);
    expect(stats.checkedIncrementally).toBeGreaterThan(500);
    expect(stats.checkedFully).toBeGreaterThan(200);
  });

  it('bench edits of M1k (smoke): a route, a port, a service added', () => {
    const doc = gatewayMesh(SMOKE_M1K);
    doc.services.get('s3')!.routes = [{ name: 'default', backends: [{ subset: {} }], timeout: '1s' }];
    doc.touchService('s3');
    const loader = new ModelLoader();
    const r = rng(7);
    for (let step = 0; step < 60; step++) {
      const x = r();
      if (x < 0.4) {
        doc.services.get('s3')!.routes![0]!.timeout = pick(r, ['1s', '2s', '250ms']);
        doc.touchService('s3');
      } else if (x < 0.8) setInstancePort(doc, `s${Math.floor(r() * 20)}`, Math.floor(r() * 2), pick(r, [15000, 15002, 15003]));
      else {
        const i = Math.floor(r() * 20);
        doc.gateways.get('edge')!.routes[i]!.match = { pathPrefix: pick(r, [`/a${i}/`, `/b${i}/`, `/s${i}/`]) };
        doc.touchGateways();
      }
      const text = doc.text();
      expectSameLoad(loader.load('m.yaml', text), loadModelTextFullPath('m.yaml', text), `step ${step}`);
    }
    expect(loader.stats().checkedIncrementally).toBeGreaterThan(20);
  });

  it('a batch of changes to most services is still checked incrementally; to nearly all of them, fully', () => {
    // Under endpoint churn a slow reload gathers more changes for the next one: the incremental
    // check must not give way to the full one (5× the time of the batch that just missed it) while
    // it is still cheaper, or one slow reload makes the next ones slower.
    const doc = gatewayMesh({ name: 'batch', services: 100, instancesPerService: 2, subsets: 1 });
    const loader = new ModelLoader();
    loader.load('m.yaml', doc.text());
    const batch = (count: number, port: number): { incremental: number; full: number } => {
      for (let s = 0; s < count; s++) setInstancePort(doc, `s${s}`, 0, port);
      const text = doc.text();
      const before = loader.stats();
      expectSameLoad(loader.load('m.yaml', text), loadModelTextFullPath('m.yaml', text), `${count} services changed`);
      const after = loader.stats();
      return { incremental: after.checkedIncrementally - before.checkedIncrementally, full: after.checkedFully - before.checkedFully };
    };
    // 70 of 100: past 64 and a quarter (the full check before), within three quarters.
    expect(batch(70, 15010)).toEqual({ incremental: 1, full: 0 });
    expect(batch(75, 15011)).toEqual({ incremental: 1, full: 0 });
    // 80 of 100: past three quarters.
    expect(batch(80, 15012)).toEqual({ incremental: 0, full: 1 });
  });
});

describe('unchanged parts are the same objects', () => {
  it('a service whose text did not change is the very object of the last load; a changed one is new', () => {
    const doc = gatewayMesh(SMOKE_M1K);
    const loader = new ModelLoader();
    loader.load('m.yaml', doc.text());
    // (A service's first edit reads all its instances; from then on, those that changed.)
    setInstancePort(doc, 's3', 0, 15008);
    const first = loader.load('m.yaml', doc.text()).model!;
    setInstancePort(doc, 's3', 0, 15009);
    const before = loader.stats();
    const second = loader.load('m.yaml', doc.text()).model!;
    const after = loader.stats();
    for (const name of Object.keys(first.services)) {
      if (name === 's3') expect(second.services[name]).not.toBe(first.services[name]);
      else expect(second.services[name], name).toBe(first.services[name]);
    }
    expect(second.services['s3']!.instances[0]!.port).toBe(15009);
    // Its other instance is the very object too (read, checked and diffed instance by instance).
    expect(second.services['s3']!.instances[1]).toBe(first.services['s3']!.instances[1]);
    expect(second.gateways['edge']).toBe(first.gateways['edge']);
    expect(second.mesh).toBe(first.mesh);
    // One part read (the instance); every other reused; checked incrementally.
    expect(after.partsRead - before.partsRead).toBe(1);
    // The other services, the service without its instances and its other instance, the gateway, `version` and `mesh`.
    expect(after.partsReused - before.partsReused).toBe(Object.keys(first.services).length - 1 + 2 + 1 + 2);
    expect(after.checkedIncrementally - before.checkedIncrementally).toBe(1);
  });

  it('a gateway with one route changed keeps the objects of its other routes', () => {
    const doc = gatewayMesh(SMOKE_M1K);
    const loader = new ModelLoader();
    const first = loader.load('m.yaml', doc.text()).model!;
    doc.gateways.get('edge')!.routes[3]!.match = { pathPrefix: '/changed/' };
    doc.touchGateways();
    const before = loader.stats();
    const second = loader.load('m.yaml', doc.text()).model!;
    const [a, b] = [first.gateways['edge']!.routes!, second.gateways['edge']!.routes!];
    expect(second.gateways['edge']).not.toBe(first.gateways['edge']);
    expect(b[3]).not.toBe(a[3]);
    expect(b[3]!.match).toEqual({ pathPrefix: '/changed/' });
    b.forEach((r, i) => i !== 3 && expect(r, `route ${i}`).toBe(a[i]));
    for (const name of Object.keys(first.services)) expect(second.services[name]).toBe(first.services[name]);
    // The route read, nothing else; checked incrementally.
    const after = loader.stats();
    expect(after.partsRead - before.partsRead).toBe(1);
    expect(after.checkedIncrementally - before.checkedIncrementally).toBe(1);
  });

  it('routes added, removed, moved: only the new routes are read', () => {
    const doc = gatewayMesh(SMOKE_M1K);
    const loader = new ModelLoader();
    loader.load('m.yaml', doc.text());
    const routes = doc.gateways.get('edge')!.routes;
    const reads = (edit: () => void): number => {
      edit();
      doc.touchGateways();
      const before = loader.stats().partsRead;
      expect(loader.load('m.yaml', doc.text()).model).not.toBeNull();
      return loader.stats().partsRead - before;
    };
    const got = [
      reads(() => routes.splice(5, 0, { match: { pathPrefix: '/new/' }, backend: 's1' })),
      reads(() => routes.splice(9, 1)),
      reads(() => routes.splice(2, 0, { match: { pathPrefix: '/a/' }, backend: 's1' }, { match: { pathPrefix: '/b/' }, backend: 's2' })),
      reads(() => routes.splice(12, 0, routes.splice(1, 1)[0]!)),
      reads(() => routes.reverse()),
    ];
    // Added: read. Removed: nothing read. Routes moved (one, or all reversed): none read, as
    // many routes as before between the first and the last line that changed, each found among
    // the last read's routes there by its text (raw-memo.ts readItemsEdited).
    expect(got).toEqual([1, 0, 2, 0, 0]);
  });

  it('a comment or layout edit inside a service keeps its object (its raw value is equal)', () => {
    const loader = new ModelLoader();
    const text = gatewayMesh(SMOKE_M1K).text();
    const first = loader.load('m.yaml', text).model!;
    const edited = text.replace('  s2:\n', '  s2:   # the second service\n');
    expect(edited).not.toBe(text);
    const second = loader.load('m.yaml', edited).model!;
    expect(second.services['s2']).toBe(first.services['s2']);
  });
});

// One-route edits of a gateway, as S1 makes them, through every shortcut a reload has for them:
// the raw memo reads the touched routes alone (raw-memo.ts), the schema memo checks the routes at
// the places the raw list records and canonicalGateway looks at those alone (schema-memo.ts,
// ir/model-diff.ts), the semantic checks check those routes and their shadowing alone
// (validate.ts). Edits that make a route invalid (schema or semantics), a warning, an equal
// route written another way, two routes at once, another gateway broken in the same load (the
// schema memo then holds a part newer than the last model's), undos: every load must be a
// fresh loader's.
describe('one-route edits of a gateway through the shortcuts', () => {
  it.each([1, 2, 3])('seed %i: 150 edits equal a fresh load', (seed) => {
    const r = rng(seed * 977);
    const doc = gatewayMesh({ name: 'g', services: 40, instancesPerService: 1, subsets: 1, mtls: 'strict' });
    // (Another gateway after edge: a load where it is broken has read and checked edge's edit first.)
    let text = `${doc.text()}  side:\n    listeners: [{"name": "s", "port": 18099}]\n    routes:\n      - {"match": {"pathPrefix": "/side/"}, "backend": "s1"}\n`;
    const loader = new ModelLoader();
    const history = [text];
    const routeLines = (t: string): number[] => {
      const out: number[] = [];
      for (let at = t.indexOf('\n      - {', t.indexOf('  edge:')); at >= 0 && at < t.indexOf('  side:'); at = t.indexOf('\n      - {', at + 1)) out.push(at + 1);
      return out;
    };
    const replaceLine = (t: string, at: number, line: string): string => t.slice(0, at) + line + t.slice(t.indexOf('\n', at));
    const route = (step: number): string => {
      const x = r();
      const n = Math.floor(r() * 40);
      if (x < 0.6) return `      - {"match": {"pathPrefix": "/e${step}/"}, "backend": "s${n}"}`;
      if (x < 0.64) return `      - {"match": {"pathPrefix": 5}, "backend": "s${n}"}`; // schema error
      if (x < 0.67) return `      - {"match": {"pathPrefix": "/e${step}/"}, "backend": "nope"}`; // unknown service
      if (x < 0.72) return `      - {"match": {"pathPrefix": "/s${n}/"}, "backend": "s${n}"}`; // another route's match: a warning, or the route itself again
      if (x < 0.75) return `      - {"match": {"pathPrefix": "/"}, "backend": "s${n}"}`; // catch-all: hides the rest unless last
      if (x < 0.85) return `      - {"backend": "s${n}", "match": {"pathPrefix": "/s${n}/"}}`; // an equal route, keys the other way round
      return `      - {"match": {"pathPrefix": "/w${step}/"}, "backends": [{"service": "s${n}", "weight": 2}, {"service": "s1", "weight": 1}]}`;
    };
    let shortcuts = 0;
    let lastClean = text;
    let lastHadDiagnostics = false;
    for (let step = 0; step < 150; step++) {
      if (step > 0) {
        if (lastHadDiagnostics && r() < 0.6) text = lastClean; // the edit undone
        if (r() < 0.05) text = pick(r, history);
        else {
          const lines = routeLines(text);
          for (let k = 0; k < (r() < 0.2 ? 2 : 1); k++) text = replaceLine(text, pick(r, lines), route(step));
          // Now and then the other gateway broken in the same load, and mended in the next.
          if (r() < 0.15) text = text.replace('"/side/"}, "backend": "s1"}', '"/side/"}, "backend": 7}');
          else text = text.replace('"/side/"}, "backend": 7}', '"/side/"}, "backend": "s1"}');
        }
        history.push(text);
      }
      const before = loader.stats();
      const got = loader.load('m.yaml', text);
      const after = loader.stats();
      if (after.itemEdits > before.itemEdits) shortcuts++;
      const want = new ModelLoader().load('m.yaml', text);
      expect(got.diagnostics, `step ${step}`).toEqual(want.diagnostics);
      expect(got.model, `step ${step}`).toEqual(want.model);
      lastHadDiagnostics = want.diagnostics.length > 0;
      if (!lastHadDiagnostics) lastClean = text;
    }
    expect(shortcuts).toBeGreaterThan(50);
    expect(loader.stats().routesReplaced).toBeGreaterThan(30);
  });
});
