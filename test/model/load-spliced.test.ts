// Texts as ModelSource gets them: the file's bytes read by a FileTextMemo (file-text.ts), which
// splices each text from the last one without reading it and records the splice; the loader's
// raw memo then reads only the service or gateway the splice is in (raw-memo.ts
// readEntryEdited), without reading the text either. Every load must equal the full path's
// and a fresh loader's, whole, on random edit sequences: shipped and bench models edited at
// random (changes inside one entry, across entries, at key lines, odd YAML), instance and route
// edits of bench models, two files read and loaded in turns (each splice record is about the
// other file's texts half the time), and loads abandoned part-way.
import { describe, expect, it } from 'vitest';
import { shippedAndBenchModels } from '../helpers/models.js';
import { gatewayMesh, setInstancePort, setServiceProtocol, sidecarMesh, SMOKE_M1K, SMOKE_S2_MESH } from '../../bench/models.js';
import { FileTextMemo } from '../../src/model/file-text.js';
import { loadModelTextFullPath, ModelLoader, type ModelLoad } from '../../src/model/load.js';
import { rng } from '../helpers/rng.js';
import { editModelText, pick } from './model-edits.js';
import { expectSameLoad, muteParserWarnings } from './load-compare.js';

muteParserWarnings();

/** A file as ModelSource reads it: its bytes through a FileTextMemo, then the loader. */
class File {
  readonly memo = new FileTextMemo();
  readonly loader = new ModelLoader();

  load(name: string, text: string): { got: ModelLoad; text: string } {
    const read = this.memo.read(Buffer.from(text, 'utf8')).text;
    return { got: this.loader.load(name, read), text: read };
  }
}

describe('spliced texts = the full path', () => {
  it('random edits of every shipped and bench model, two files in turns', () => {
    let spliced = 0;
    let seed = 4000;
    for (const [name, base] of shippedAndBenchModels()) {
      const r = rng(seed++);
      const files = [new File(), new File()];
      const texts = [base, base];
      for (let step = 0; step < 60; step++) {
        const k = r() < 0.5 ? 0 : 1;
        const x = r();
        if (x < 0.1) texts[k] = base;
        else texts[k] = editModelText(texts[k]!, r);
        const file = files[k]!;
        const before = file.loader.stats().splicedEdits;
        const { got, text } = file.load(name, texts[k]!);
        spliced += file.loader.stats().splicedEdits - before;
        const what = `${name} step ${step} file ${k}: ${JSON.stringify(text)}`;
        expect(text, what).toBe(texts[k]);
        expectSameLoad(got, loadModelTextFullPath(name, text), what);
      }
    }
    expect(spliced).toBeGreaterThan(60);
  });

  it('instance, protocol and route edits of bench models, some loads abandoned part-way', () => {
    let spliced = 0;
    for (const seed of [1, 2, 3]) {
      const r = rng(seed * 131);
      const sidecars = sidecarMesh(SMOKE_S2_MESH);
      const gateway = gatewayMesh(SMOKE_M1K);
      const file = new File();
      const loader = file.loader;
      for (let step = 0; step < 120; step++) {
        const doc = step % 40 < 20 ? sidecars : gateway;
        const svc = pick(r, [...doc.services.keys()]);
        const x = r();
        if (x < 0.5) setInstancePort(doc, svc, Math.floor(r() * doc.services.get(svc)!.instances.length), pick(r, [15000, 15002, 15003, 70000]));
        else if (x < 0.7) setServiceProtocol(doc, svc, pick(r, ['http', 'http2']));
        else if (doc === gateway) {
          const routes = doc.gateways.get('edge')!.routes;
          routes[Math.floor(r() * routes.length)]!.match = { pathPrefix: pick(r, ['/a/', '/b/', `/${svc}/`]) };
          doc.touchGateways();
        } else doc.services.get(svc)!.instances[0]!.address = pick(r, ['10.0.0.1', '10.9.9.9', 'bad address!']);
        const text = doc.text();
        const read = file.memo.read(Buffer.from(text, 'utf8')).text;
        // Now and then the load is abandoned after a step or two, and started again.
        if (r() < 0.3) {
          const steps = loader.loadInSteps('m.yaml', read);
          for (let k = Math.floor(r() * 3); k >= 0; k--) if (steps.step() !== null) break;
        }
        const before = loader.stats().splicedEdits;
        const got = loader.load('m.yaml', read);
        spliced += loader.stats().splicedEdits - before;
        const what = `seed ${seed} step ${step}`;
        expectSameLoad(got, loadModelTextFullPath('m.yaml', text), what);
        expectSameLoad(got, new ModelLoader().load('m.yaml', text), what);
      }
    }
    expect(spliced).toBeGreaterThan(150);
  });

  it('an edit inside one service of a spliced text reads that service alone, and keeps every other object', () => {
    const doc = gatewayMesh(SMOKE_M1K);
    const file = new File();
    const first = file.load('m.yaml', doc.text()).got.model!;
    setServiceProtocol(doc, 's5', 'http2');
    const before = file.loader.stats();
    const second = file.load('m.yaml', doc.text()).got.model!;
    const after = file.loader.stats();
    expect(after.splicedEdits - before.splicedEdits).toBe(1);
    expect(second.services['s5']!.protocol).toBe('http2');
    for (const name of Object.keys(first.services)) if (name !== 's5') expect(second.services[name], name).toBe(first.services[name]);
    expect(second.gateways['edge']).toBe(first.gateways['edge']);
  });
});
