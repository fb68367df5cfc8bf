// Requests handled through StreamDeps.defer (the app's time slices): nothing is answered as it
// is read; run in order, each request gets the answer it got at once before, and the peer's
// half-close is handled after the requests read before it.
import { describe, expect, it } from 'vitest';
import { SnapshotCache } from '../../src/xds/cache.js';
import { MAX_REQUESTS_WAITING } from '../../src/xds/stream-base.js';
import { SotwStream } from '../../src/xds/stream-sotw.js';
import { TYPE } from '../../src/xds/type-urls.js';
import { snapshotOf } from '../helpers/in-process.js';
import { decodeSotwResponse } from '../helpers/xds-client.js';
import { cla } from '../protocol/fixtures.js';
import { depsFor, FakeCall } from '../helpers/stream-harness.js';

const NODE = { id: 'n1', cluster: 'c' };

function setup(): { call: FakeCall; jobs: Array<() => void>; run: () => void; cache: SnapshotCache } {
  const cache = new SnapshotCache();
  cache.set(NODE.id, snapshotOf(['c0', 'c1'].map((c) => cla(c, 1))));
  const jobs: Array<() => void> = [];
  const call = new FakeCall();
  new SotwStream(call, { ...depsFor(cache), defer: (job) => jobs.push(job) }, 'sotw', 'ads', null);
  const run = (): void => {
    while (jobs.length) jobs.shift()!();
  };
  return { call, jobs, run, cache };
}

describe('deferred requests', () => {
  it('are answered when their jobs run, in order, as they were at once', () => {
    const { call, jobs, run } = setup();
    call.emit('data', { node: NODE, type_url: TYPE.ENDPOINT, resource_names: ['c0'] });
    expect(call.written).toHaveLength(0);
    expect(jobs).toHaveLength(1);
    run();
    expect(call.written).toHaveLength(1);
    const first = decodeSotwResponse(call.written[0]!);
    expect(first.names).toEqual(['c0']);
    // An ACK then a wider subscription, read in one go: handled in that order (the ACK first,
    // else the wider request would wait behind the response in flight).
    call.emit('data', { type_url: TYPE.ENDPOINT, resource_names: ['c0'], response_nonce: first.nonce, version_info: first.version_info });
    call.emit('data', { type_url: TYPE.ENDPOINT, resource_names: ['c0', 'c1'], response_nonce: first.nonce, version_info: first.version_info });
    expect(call.written).toHaveLength(1);
    run();
    expect(call.written).toHaveLength(2);
    expect(decodeSotwResponse(call.written[1]!).names).toEqual(['c1']); // (EDS: the name added)
    call.emit('close');
  });

  it('a half-close is handled after the requests read before it', () => {
    const { call, run, cache } = setup();
    call.emit('data', { node: NODE, type_url: TYPE.ENDPOINT, resource_names: ['c0', 'c1'] });
    call.emit('end');
    run();
    // The request was answered, then the stream closed: later snapshots are not pushed.
    expect(call.written).toHaveLength(1);
    cache.set(NODE.id, snapshotOf(['c0', 'c1'].map((c) => cla(c, 2))));
    run();
    expect(call.written).toHaveLength(1);
  });

  it('a stream with more requests waiting than any proxy would send is ended (RESOURCE_EXHAUSTED), and its queue is not grown further', () => {
    const { call, jobs, run } = setup();
    const errors: Array<{ code: number; details: string }> = [];
    call.on('error', (e: { code: number; details: string }) => errors.push(e));
    const req = { node: NODE, type_url: TYPE.ENDPOINT, resource_names: ['c0'] };
    for (let i = 0; i < MAX_REQUESTS_WAITING; i++) call.emit('data', structuredClone(req));
    expect(errors).toHaveLength(0);
    call.emit('data', structuredClone(req));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe(8);
    expect(errors[0]!.details).toMatch(/requests waiting/);
    call.emit('data', structuredClone(req));
    expect(jobs).toHaveLength(MAX_REQUESTS_WAITING);
    run();
    expect(call.written).toHaveLength(0); // (ended: nothing is answered)
  });

  it('requests handled as they come never count as waiting', () => {
    const { call, run } = setup();
    const errors: unknown[] = [];
    call.on('error', (e: unknown) => errors.push(e));
    call.emit('data', { node: NODE, type_url: TYPE.ENDPOINT, resource_names: ['c0'] });
    run();
    for (let i = 0; i < MAX_REQUESTS_WAITING * 2; i++) {
      const last = decodeSotwResponse(call.written.at(-1)!);
      call.emit('data', { type_url: TYPE.ENDPOINT, resource_names: ['c0'], response_nonce: last.nonce, version_info: last.version_info });
      run();
    }
    expect(errors).toHaveLength(0);
  });
});
