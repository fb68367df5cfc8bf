// Deferred work in bounded slices of the event loop, shared by every kind of it: a sliced
// reload's build, waking proxies after it, the warm-up, and the handling of proxies'
// requests. Each turn of the loop runs what is pending for about `sliceMs` in all, then lets
// timers and I/O run. Slices of each kind scheduled on their own (one setImmediate each) all
// run in the same turn: three kinds of 5 ms work would hold the loop 15 ms, plus the requests
// read meanwhile. One budget per turn keeps every turn short however many kinds are busy.
// A task added `first` (waking proxies after a reload) takes the budget before the others:
// every proxy's push is on the path of a change's convergence, the requests read meanwhile
// (mostly ACKs of those pushes) are not, and handling them first only delays the last push.
import { performance } from 'node:perf_hooks';

/** One kind of work: does some of it before `deadline` (performance.now()), at least one step; true if there is more. */
export type SliceTask = (deadline: number) => boolean;

export class TimeSlices {
  private tasks: SliceTask[] = [];
  /** Tasks that run before `tasks` in every turn (add with `first`). */
  private firstTasks: SliceTask[] = [];
  private scheduled = false;
  /** Small jobs run in order (defer()), as one task. */
  private jobs: Array<() => void> = [];
  private jobAt = 0;
  private jobsQueued = false;

  constructor(readonly sliceMs = 5) {}

  /**
   * Run `task` in the coming turns until it returns false. `first`: before the other tasks and
   * the deferred jobs in every turn (while it has more to do, they get what is left of the
   * budget, which may be nothing).
   */
  add(task: SliceTask, first = false): void {
    (first ? this.firstTasks : this.tasks).push(task);
    this.schedule();
  }

  /** Run `job` in a coming turn, after every job deferred before it. */
  defer(job: () => void): void {
    this.jobs.push(job);
    if (!this.jobsQueued) {
      this.jobsQueued = true;
      this.add(this.runJobs);
    }
  }

  /** Jobs and tasks waiting (for tests and metrics). */
  get pending(): number {
    return this.firstTasks.length + this.tasks.length + (this.jobs.length - this.jobAt);
  }

  private readonly runJobs: SliceTask = (deadline) => {
    const jobs = this.jobs;
    // At least one job per turn, whatever the deadline.
    do {
      const job = jobs[this.jobAt]!;
      jobs[this.jobAt++] = NOOP; // (not kept alive while the rest run)
      try {
        job();
      } catch (err) {
        // A job's own bug: surfaced as an uncaught error, as it would have been run at once; the queue stays consistent.
        setImmediate(() => {
          throw err;
        });
      }
    } while (this.jobAt < jobs.length && performance.now() < deadline);
    if (this.jobAt < jobs.length) return true;
    jobs.length = 0;
    this.jobAt = 0;
    this.jobsQueued = false;
    return false;
  };

  private schedule(): void {
    if (this.scheduled || (this.tasks.length === 0 && this.firstTasks.length === 0)) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const deadline = performance.now() + this.sliceMs;
    // The first tasks, then, with what is left of the budget, the others. Tasks added while a
    // list runs go after what it leaves.
    const first = this.firstTasks;
    this.firstTasks = [];
    let [left, failure] = runTurn(first, deadline);
    this.firstTasks = [...left, ...this.firstTasks];
    if (!failure && (this.firstTasks.length === 0 || performance.now() < deadline)) {
      const turn = this.tasks;
      this.tasks = [];
      [left, failure] = runTurn(turn, deadline);
      this.tasks = [...left, ...this.tasks];
    }
    this.schedule();
    if (failure) throw failure.err; // (a task's own bug: surfaced as before, after the rest is rescheduled)
  };
}

/**
 * Run `list`'s tasks in order until `deadline`. Returns what is still to run, in order: those
 * not reached this turn, then those with more to do; and a task's error, which ends the turn.
 */
function runTurn(list: readonly SliceTask[], deadline: number): [SliceTask[], { err: unknown } | null] {
  const again: SliceTask[] = [];
  let i = 0;
  while (i < list.length) {
    const task = list[i++]!;
    try {
      if (task(deadline)) again.push(task);
    } catch (err) {
      return [[...list.slice(i), ...again], { err }];
    }
    if (performance.now() >= deadline) break;
  }
  return [[...list.slice(i), ...again], null];
}

const NOOP = (): void => undefined;
