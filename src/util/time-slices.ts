// Deferred work in bounded slices of the event loop, shared by every kind of it: a sliced
// reload's build, waking proxies after it, the warm-up, and the handling of proxies'
// requests. Each turn of the loop runs what is pending for about `sliceMs` in all, then lets
// timers and I/O run. Slices of each kind scheduled on their own (one setImmediate each) all
// run in the same turn: three kinds of 5 ms work would hold the loop 15 ms, plus the requests
// read meanwhile. One budget per turn keeps every turn short however many kinds are busy.
import { performance } from 'node:perf_hooks';

/** One kind of work: does some of it before `deadline` (performance.now()), at least one step; true if there is more. */
export type SliceTask = (deadline: number) => boolean;

export class TimeSlices {
  private tasks: SliceTask[] = [];
  private scheduled = false;
  /** Small jobs run in order (defer()), as one task. */
  private jobs: Array<() => void> = [];
  private jobAt = 0;
  private jobsQueued = false;

  constructor(readonly sliceMs = 5) {}

  /** Run `task` in the coming turns until it returns false. */
  add(task: SliceTask): void {
    this.tasks.push(task);
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
    return this.tasks.length + (this.jobs.length - this.jobAt);
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
    if (this.scheduled || this.tasks.length === 0) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const deadline = performance.now() + this.sliceMs;
    const turn = this.tasks;
    this.tasks = [];
    const again: SliceTask[] = [];
    let i = 0;
    let failure: { err: unknown } | null = null;
    while (i < turn.length) {
      const task = turn[i++]!;
      try {
        if (task(deadline)) again.push(task);
      } catch (err) {
        failure = { err };
        break;
      }
      if (performance.now() >= deadline) break;
    }
    // Those not reached this turn go first next turn; then those with more to do; then new ones.
    this.tasks = [...turn.slice(i), ...again, ...this.tasks];
    this.schedule();
    if (failure) throw failure.err; // (a task's own bug: surfaced as before, after the rest is rescheduled)
  };
}

const NOOP = (): void => undefined;
