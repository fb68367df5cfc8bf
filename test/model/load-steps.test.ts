// A load in steps (ModelLoader.loadInSteps, the caller yielding the event loop between them)
// must be the load at once: the same model and diagnostics, and the same memory afterwards, so
// that the loads after it go the same way. A stepped load may be abandoned part-way (the file
// changed again and a new load started): the memos must then still give every later load
// exactly what a load without memory gives.
import { describe, expect, it } from 'vitest';
import { shippedAndBenchModels } from '../helpers/models.js';
import { loadModelTextFullPath, ModelLoader, type ModelLoad, type ModelLoadSteps } from '../../src/model/load.js';
import { rng } from '../helpers/rng.js';
import { editModelText, pick } from './model-edits.js';
import { expectSameLoad, muteParserWarnings } from './load-compare.js';

muteParserWarnings();

/** Run `steps` to the end; how many steps it took, and the load. */
function runSteps(steps: ModelLoadSteps): { load: ModelLoad; steps: number } {
  for (let n = 1; ; n++) {
    const r = steps.step();
    if (r !== null) return { load: r, steps: n };
    if (n > 100) throw new Error('a load in steps that does not end');
  }
}

/** Random edit sequences from every shipped and bench model: [label, texts]. */
function editSequences(seed: number, length: number): Array<[string, string[]]> {
  return shippedAndBenchModels().map(([name, base], k) => {
    const r = rng(seed + k);
    const texts = [base];
    let text = base;
    for (let step = 1; step < length; step++) {
      if (r() < 0.15) text = pick(r, texts);
      else text = editModelText(text, r);
      texts.push(text);
    }
    return [name, texts];
  });
}

describe('a load in steps', () => {
  it('equals the load at once, and leaves the same memory (random edit sequences)', () => {
    let multiStep = 0;
    for (const [name, texts] of editSequences(500, 40)) {
      const atOnce = new ModelLoader();
      const stepped = new ModelLoader();
      texts.forEach((text, i) => {
        const what = `${name} step ${i}: ${JSON.stringify(text)}`;
        const want = atOnce.load(name, text);
        const got = runSteps(stepped.loadInSteps(name, text));
        if (got.steps > 2) multiStep++;
        expectSameLoad(got.load, want, what);
        // The same ways through the memos, so far: the same memory.
        expect(stepped.stats(), what).toEqual(atOnce.stats());
      });
    }
    expect(multiStep).toBeGreaterThan(200);
  });

  it('abandoned part-way leaves memos every later load is right with', () => {
    let abandoned = 0;
    for (const [name, texts] of editSequences(900, 40)) {
      const r = rng(texts.length * 31 + name.length);
      const loader = new ModelLoader();
      texts.forEach((text, i) => {
        // Now and then a load of another text (an earlier one, or this one edited) abandoned after a few steps.
        if (r() < 0.5) {
          const other = r() < 0.5 ? pick(r, texts.slice(0, i + 1)) : editModelText(text, r);
          const steps = loader.loadInSteps(name, other);
          const n = 1 + Math.floor(r() * 3);
          for (let k = 0; k < n; k++) if (steps.step() !== null) break;
          abandoned++;
        }
        const what = `${name} step ${i}: ${JSON.stringify(text)}`;
        const want = loadModelTextFullPath(name, text);
        expectSameLoad(r() < 0.5 ? loader.load(name, text) : runSteps(loader.loadInSteps(name, text)).load, want, what);
      });
    }
    expect(abandoned).toBeGreaterThan(100);
  });

  it('a step after the last gives the load again', () => {
    const [name, text] = shippedAndBenchModels()[0]!;
    const steps = new ModelLoader().loadInSteps(name, text);
    const { load } = runSteps(steps);
    expect(steps.step()).toBe(load);
  });
});
