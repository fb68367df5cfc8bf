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
        } else {
          doc.services.get(svc)!.instances[0]!.address = pick(r, ['10.0.0.1', '10.9.9.9', 'bad address!']);
          doc.touchService(svc); // (the text is emitted per service and cached until touched)
        }
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

  // The raw memo replaces an entry edited alone in the last value's map itself, and the schema
  // memo asks which names were replaced since it last kept that map. Loads that fail leave
  // replacements it has not looked at; all of them must be looked at by the next load.
  it('entries replaced in place while loads failed are all looked at by the next good load', () => {
    const doc = gatewayMesh(SMOKE_M1K);
    const file = new File();
    expect(file.load('m.yaml', doc.text()).got.model).not.toBeNull();
    const check = (what: string): ModelLoad => {
      const text = doc.text();
      const { got } = file.load('m.yaml', text);
      expectSameLoad(got, loadModelTextFullPath('m.yaml', text), what);
      return got;
    };
    const before = file.loader.stats().replacedInPlace;
    setInstancePort(doc, 's1', 0, 70000);
    expect(check('s1 broken').model).toBeNull();
    setServiceProtocol(doc, 's2', 'http2');
    expect(check('s2 edited while s1 is broken').model).toBeNull();
    setInstancePort(doc, 's1', 0, 15001);
    const fixed = check('s1 fixed').model!;
    expect(fixed.services['s2']!.protocol).toBe('http2');
    expect(fixed.services['s1']!.instances[0]!.port).toBe(15001);
    expect(file.loader.stats().replacedInPlace - before).toBe(3);
  });

  it('hundreds of replacements while loads fail, some in a map the other path made: the next good load sees every one', () => {
    const doc = gatewayMesh(SMOKE_M1K);
    const file = new File();
    file.load('m.yaml', doc.text());
    const before = file.loader.stats().replacedInPlace;
    setInstancePort(doc, 's1', 0, 70000);
    // 300 edits of other services, each load failing on s1 (the log keeps at most 128 names).
    for (let k = 0; k < 300; k++) {
      setServiceProtocol(doc, `s${2 + (k % 15)}`, k % 2 === 0 ? 'http2' : 'http');
      expect(file.load('m.yaml', doc.text()).got.model, `edit ${k}`).toBeNull();
    }
    setInstancePort(doc, 's1', 0, 15001);
    const text = doc.text();
    const { got } = file.load('m.yaml', text);
    expectSameLoad(got, loadModelTextFullPath('m.yaml', text), 'after 300 failed loads');
    // (s2 was last edited by edit 285, to http; s3 by edit 286, to http2.)
    expect(got.model!.services['s2']!.protocol).toBe('http');
    expect(got.model!.services['s3']!.protocol).toBe('http2');
    // (Most edits are replaced in place; one that also touches a key line is read the other way.)
    expect(file.loader.stats().replacedInPlace - before).toBeGreaterThan(250);
  });

  it('more names replaced than the log keeps while loads fail: the next good load walks every name', () => {
    const doc = gatewayMesh({ name: 'wide', services: 140, instancesPerService: 1, subsets: 1 });
    const file = new File();
    file.load('m.yaml', doc.text());
    const before = file.loader.stats().replacedInPlace;
    setInstancePort(doc, 's0', 0, 70000);
    // 139 other services edited once each, every load failing on s0: the log keeps the last 64–128 names.
    for (let k = 1; k < 140; k++) {
      setServiceProtocol(doc, `s${k}`, 'http2');
      expect(file.load('m.yaml', doc.text()).got.model, `edit ${k}`).toBeNull();
    }
    setInstancePort(doc, 's0', 0, 15001);
    const text = doc.text();
    const { got } = file.load('m.yaml', text);
    expectSameLoad(got, loadModelTextFullPath('m.yaml', text), 'after 139 failed loads');
    for (let k = 1; k < 140; k++) expect(got.model!.services[`s${k}`]!.protocol, `s${k}`).toBe('http2');
    expect(file.loader.stats().replacedInPlace - before).toBeGreaterThan(120);
  });
});
