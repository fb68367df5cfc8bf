// Instance edits of a service through the loader's shortcuts: the raw memo reads a changed
// service instance by instance (raw-memo.ts), the schema memo checks the instances read again
// alone (schema-memo.ts), the semantic checks move only their ids and claims
// (validate-incremental.ts). Every load of a random sequence of instance edits (added, removed,
// swapped, moved to another address, port or labels, given invalid values, duplicate ids or
// ports, a broken line) must equal the full path's whole (model, diagnostics with file:line:column,
// path, message and hint), and an instance equal to the last model's at its place must be the
// very same object.
import { describe, expect, it } from 'vitest';
import { loadModelTextFullPath, ModelLoader } from '../../src/model/load.js';
import type { Model } from '../../src/model/schema.js';
import { rng } from '../helpers/rng.js';
import { pick } from './model-edits.js';
import { expectSameLoad, muteParserWarnings } from './load-compare.js';

muteParserWarnings();

/** A service's instances as lines: flow style (one line each) or block style (a few lines each). */
interface Svc {
  name: string;
  protocol?: string;
  instances: string[][];
  subset: string;
}

let next = 0;

/** A new instance's lines: a fresh id, address and labels, in flow or block style. */
function instance(r: () => number, svc: string, style: 'flow' | 'block'): string[] {
  const n = next++;
  const id = `${svc}-i${n}`;
  const address = `10.${Math.floor(r() * 3)}.${Math.floor(r() * 4)}.${n % 250}`;
  const shard = pick(r, ['0', '1']);
  if (style === 'flow') return [`      - {"id": "${id}", "address": "${address}", "port": 15000, "app": "127.0.0.1:8080", "labels": {"shard": "${shard}"}}`];
  return [`      - id: ${id}`, `        address: ${address}`, '        port: 15000', '        app: 127.0.0.1:8080', '        labels:', `          shard: "${shard}"`];
}

function modelText(services: Svc[]): string {
  const lines = ['version: 1', 'mesh:', '  mtls: strict', 'services:'];
  for (const s of services) {
    lines.push(`  ${s.name}:`);
    if (s.protocol) lines.push(`    protocol: ${s.protocol}`);
    lines.push('    instances:');
    for (const inst of s.instances) lines.push(...inst);
    lines.push('    routes:', `      - {"name": "default", "backends": [{"subset": {"shard": "${s.subset}"}}]}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Values an instance's key may be given: valid ones, and invalid ones the schema or the semantic checks reject. */
const VALUES: Record<string, string[]> = {
  port: ['15000', '15002', '15003', '16000', '0', '70000', '"x"', '15000.5'],
  address: ['10.0.0.1', '10.1.1.1', '10.2.3.4', 'not an address!', '10.0.0.0.0', 'host-a.example'],
  app: ['127.0.0.1:8080', '127.0.0.1:8081', '10.9.9.9:80', 'nope', '127.0.0.1:99999'],
  id: ['dup', 'dup2', 'Bad_Id', 'x-1'],
};

/** One random instance edit of `services` (in place). */
function editInstances(r: () => number, services: Svc[]): void {
  const s = pick(r, services);
  const style = r() < 0.5 ? 'flow' : 'block';
  const k = Math.floor(r() * s.instances.length);
  const x = r();
  if (x < 0.45 && s.instances.length > 0) {
    // A key of one instance given another value.
    const key = pick(r, Object.keys(VALUES));
    const value = pick(r, VALUES[key]!);
    s.instances[k] = s.instances[k]!.map((l) => l.replace(new RegExp(`("?${key}"?): ("[^"]*"|[^,}\\s]+)`), `$1: ${/^[\d"]/.test(value) || key === 'port' ? value : `"${value}"`}`));
  } else if (x < 0.55 && s.instances.length > 0) {
    // Labels changed: another shard (the route's subset may select none), an invalid label.
    const shard = pick(r, ['0', '1', '2', 'bad value!']);
    s.instances[k] = s.instances[k]!.map((l) => l.replace(/("?shard"?): "[^"]*"/, `$1: "${shard}"`));
  } else if (x < 0.7) s.instances.splice(Math.floor(r() * (s.instances.length + 1)), 0, instance(r, s.name, style));
  else if (x < 0.8 && s.instances.length > 0) s.instances.splice(k, 1); // the last one removed: "at least one instance"
  else if (x < 0.87 && s.instances.length > 1) {
    const j = Math.floor(r() * s.instances.length);
    [s.instances[k], s.instances[j]] = [s.instances[j]!, s.instances[k]!];
  } else if (x < 0.9 && s.instances.length > 0) s.instances.splice(k, 0, s.instances[k]!.slice()); // a duplicate: ids and ports clash
  else if (x < 0.93) s.protocol = pick(r, [undefined, 'http2', 'tcp']); // tcp with routes: an error
  else if (x < 0.96) s.subset = pick(r, ['0', '1', '3']);
  else if (s.instances.length > 0) {
    // A broken line: an unknown key, or indentation the reader does not take.
    s.instances[k] = s.instances[k]!.map((l, i) => (i === 0 ? (r() < 0.5 ? l.replace('"port"', '"prot"').replace('port:', 'prot:') : ` ${l}`) : l));
  }
}

/** Every instance equal to the last model's at its place is the very same object (the last load had no errors). */
function expectInstancesKept(prev: Model, now: Model, what: string): void {
  for (const [name, svc] of Object.entries(now.services)) {
    const was = prev.services[name];
    if (!was) continue;
    svc.instances.forEach((inst, i) => {
      const old = was.instances[i];
      if (old !== undefined && JSON.stringify(old) === JSON.stringify(inst)) expect(inst, `${what}: ${name} instance ${i}`).toBe(old);
    });
  }
}

function services(r: () => number, count: number, perService: number): Svc[] {
  return Array.from({ length: count }, (_, s) => {
    const name = `svc${s}`;
    return { name, subset: '0', instances: Array.from({ length: perService }, () => instance(r, name, r() < 0.5 ? 'flow' : 'block')) };
  });
}

describe('instance edits = the full path', () => {
  it.each([1, 2, 3, 4])('seed %i: 200 random instance edits', (seed) => {
    const r = rng(seed * 7919);
    let svcs = services(r, 6, 8);
    let lastClean = structuredClone(svcs);
    const loader = new ModelLoader();
    /** The last load's model (null: it had errors), and the last model loaded. */
    let last: Model | null = null;
    let lastModel: Model | null = null;
    const outcomes = { valid: 0, invalid: 0 };
    let instancesRead = 0;
    let instances = 0;
    for (let step = 0; step < 200; step++) {
      // An invalid edit is mostly undone next (as a person fixes a typo), else edited further.
      if (step > 0 && last === null && r() < 0.6) svcs = structuredClone(lastClean);
      if (step > 0) for (let e = 0; e < (r() < 0.2 ? 2 : 1); e++) editInstances(r, svcs);
      const text = modelText(svcs);
      const what = `seed ${seed} step ${step}: ${JSON.stringify(text)}`;
      const before = loader.stats().partsRead;
      const got = loader.load('m.yaml', text);
      if (step > 0) instancesRead += loader.stats().partsRead - before;
      expectSameLoad(got, loadModelTextFullPath('m.yaml', text), what);
      if (got.model) {
        outcomes.valid++;
        instances += svcs.reduce((n, s) => n + s.instances.length, 0);
        // (After a load with errors, the IR's own diff makes them so: canonicalize against its last model.)
        if (last !== null && lastModel !== null) expectInstancesKept(lastModel, got.model, `seed ${seed} step ${step}`);
        lastModel = got.model;
        lastClean = structuredClone(svcs);
      } else outcomes.invalid++;
      last = got.model;
    }
    expect(outcomes.valid).toBeGreaterThan(40);
    expect(outcomes.invalid).toBeGreaterThan(40);
    // Changed services are read instance by instance: far fewer parts read than instances loaded.
    expect(instancesRead * 5).toBeLessThan(instances);
  });

  it('a valid model whose instances were edited is checked incrementally, its unchanged instances kept', () => {
    const r = rng(77);
    const svcs = services(r, 4, 10);
    const loader = new ModelLoader();
    loader.load('m.yaml', modelText(svcs));
    // (A service's first edit reads all its instances; from then on, those that changed.)
    svcs[1]!.instances[3] = svcs[1]!.instances[3]!.map((l) => l.replace(/("?port"?): 15000/, '$1: 15008'));
    svcs[2]!.instances[5] = svcs[2]!.instances[5]!.map((l) => l.replace(/("?shard"?): "[^"]*"/, '$1: "6"'));
    const first = loader.load('m.yaml', modelText(svcs)).model!;
    // Instance 3 of svc1 moved to another port; instance 5 of svc2 given another label.
    svcs[1]!.instances[3] = svcs[1]!.instances[3]!.map((l) => l.replace(/("?port"?): 15008/, '$1: 15009'));
    svcs[2]!.instances[5] = svcs[2]!.instances[5]!.map((l) => l.replace(/("?shard"?): "[^"]*"/, '$1: "7"'));
    const before = loader.stats();
    const second = loader.load('m.yaml', modelText(svcs)).model!;
    const after = loader.stats();
    expect(second.services['svc1']!.instances[3]!.port).toBe(15009);
    for (const [name, i] of [['svc1', 3], ['svc2', 5]] as const) {
      second.services[name]!.instances.forEach((inst, k) => (k === i ? expect(inst).not.toBe(first.services[name]!.instances[k]) : expect(inst, `${name} ${k}`).toBe(first.services[name]!.instances[k])));
    }
    expect(second.services['svc0']).toBe(first.services['svc0']);
    expect(after.partsRead - before.partsRead).toBe(2);
    expect(after.checkedIncrementally - before.checkedIncrementally).toBe(1);
  });
});
