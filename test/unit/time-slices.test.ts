// Deferred work in shared slices (src/util/time-slices.ts): every kind of deferred work shares one
// budget per turn of the event loop, kinds not reached in a turn go first in the next, deferred
// jobs run in order (those deferred by a job too), a task added first takes each turn's budget
// before the others, and a job's bug leaves the queue working.
import { describe, expect, it } from 'vitest';
import { type SliceTask, TimeSlices } from '../../src/util/time-slices.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const spin = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};
/** A task of `steps` steps of 1 ms, each recorded as `label` in `order`, as many per turn as the deadline allows (at least one). */
const spinning = (label: string, steps: number, order: string[]): SliceTask => {
  let left = steps;
  return (deadline) => {
    do {
      spin(1);
      order.push(label);
    } while (--left > 0 && performance.now() < deadline);
    return left > 0;
  };
};

describe('time slices', () => {
  it('tasks of several kinds share one budget per turn', async () => {
    const slices = new TimeSlices(4);
    const perTurn: number[] = [];
    let current = 0;
    // Three kinds, each with 40 ms of 1 ms steps: one turn does about 4 ms of them in all.
    const work = [40, 40, 40];
    for (let k = 0; k < 3; k++) {
      slices.add((deadline) => {
        do {
          spin(1);
          current++;
          work[k]!--;
        } while (work[k]! > 0 && performance.now() < deadline);
        return work[k]! > 0;
      });
    }
    while (slices.pending > 0) {
      current = 0;
      await turn();
      if (current > 0) perTurn.push(current);
    }
    expect(work).toEqual([0, 0, 0]);
    // At most the budget plus one step of each kind not yet stopped by the deadline (the first overruns it).
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(4 + 2);
    expect(perTurn.length).toBeGreaterThanOrEqual(120 / 6);
  });

  it('a kind not reached in a turn goes first in the next', async () => {
    const slices = new TimeSlices(2);
    const order: string[] = [];
    let a = 3;
    let b = 3;
    // a: one step per turn, which spins until the turn's deadline (so it uses the whole budget
    // however loaded the machine is: steps of a fixed length did not, and the test was flaky).
    slices.add((deadline) => {
      spin(deadline - performance.now());
      order.push('a');
      return --a > 0;
    });
    slices.add(() => {
      order.push('b');
      return --b > 0;
    });
    while (slices.pending > 0) await turn();
    // Turn 1: a uses the whole budget and b is not reached; turn 2 starts with b, then a; and so on.
    expect(order).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });

  it('a task added first takes the budget before the other tasks and the jobs, which run once it is done', async () => {
    const slices = new TimeSlices(3);
    const order: string[] = [];
    // Jobs and a task queued before it: still, every turn starts with the first task.
    for (let i = 0; i < 4; i++) slices.defer(() => order.push(`job${i}`));
    slices.add(() => {
      order.push('task');
      return false;
    });
    slices.add(spinning('wake', 12, order), true);
    let turns = 0;
    while (slices.pending > 0) {
      await turn();
      turns++;
    }
    // Every wake before any job or task: the first task used each turn's budget while it had more to do.
    expect(order.slice(0, 12)).toEqual(Array(12).fill('wake'));
    expect(order.slice(12).sort()).toEqual(['job0', 'job1', 'job2', 'job3', 'task']);
    expect(turns).toBeGreaterThanOrEqual(4); // 12 ms of wakes in 3 ms turns
  });

  it('what is left of a turn after the first task goes to the others', async () => {
    const slices = new TimeSlices(20);
    const order: string[] = [];
    slices.defer(() => order.push('job'));
    slices.add(() => {
      order.push('wake');
      return false;
    }, true);
    await turn();
    // One turn: the first task was quick, the job ran in the same turn.
    expect(order).toEqual(['wake', 'job']);
    expect(slices.pending).toBe(0);
  });

  it('deferred jobs run in order, with those they defer after them, none at once', async () => {
    const slices = new TimeSlices(5);
    const ran: number[] = [];
    for (let i = 0; i < 5; i++) {
      slices.defer(() => {
        ran.push(i);
        if (i === 2) slices.defer(() => ran.push(100));
      });
    }
    expect(ran).toEqual([]);
    while (slices.pending > 0) await turn();
    expect(ran).toEqual([0, 1, 2, 3, 4, 100]);
  });

  it('jobs spread over turns when they outlast a turn, in order', async () => {
    const slices = new TimeSlices(3);
    const ran: number[] = [];
    for (let i = 0; i < 20; i++)
      slices.defer(() => {
        spin(1);
        ran.push(i);
      });
    await turn();
    expect(ran.length).toBeGreaterThan(0);
    expect(ran.length).toBeLessThan(20);
    while (slices.pending > 0) await turn();
    expect(ran).toEqual([...Array(20).keys()]);
  });

  it('a job that throws is reported as uncaught and the others still run', async () => {
    const slices = new TimeSlices(5);
    const errors: unknown[] = [];
    const onError = (err: unknown): void => void errors.push(err);
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onError);
    try {
      const ran: string[] = [];
      slices.defer(() => ran.push('first'));
      slices.defer(() => {
        throw new Error('a bug');
      });
      slices.defer(() => ran.push('third'));
      while (slices.pending > 0) await turn();
      await turn();
      slices.defer(() => ran.push('later'));
      while (slices.pending > 0) await turn();
      expect(ran).toEqual(['first', 'third', 'later']);
      expect(errors.map((e) => (e as Error).message)).toEqual(['a bug']);
    } finally {
      process.removeListener('uncaughtException', onError);
      for (const l of listeners) process.on('uncaughtException', l);
    }
  });
});
