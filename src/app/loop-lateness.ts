// meshgate_event_loop_lateness_seconds: how late a 10 ms timer fires, as a cumulative histogram.
// prom-client's default event-loop metrics (meshgate_nodejs_eventloop_lag_*) are percentiles of
// the interval since the last scrape; a histogram lets Prometheus (histogram_quantile) or a
// benchmark work out the delay's percentiles over any window: the soak benchmark (S7) reads its
// p99 over the whole run after warm-up from two scrapes.
import client from 'prom-client';

/** Bucket bounds (seconds): fine around the 20 ms that PERFORMANCE.md allows at p99. */
export const LATENESS_BUCKETS_S = [0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const LATENESS_INTERVAL_MS = 10;

export class LoopLateness {
  private readonly timer: NodeJS.Timeout;

  constructor(registry: client.Registry) {
    const hist = new client.Histogram({
      name: 'meshgate_event_loop_lateness_seconds',
      help: `How late a ${LATENESS_INTERVAL_MS} ms timer ran (event-loop delay): work that held the loop, garbage collection, native I/O.`,
      buckets: LATENESS_BUCKETS_S,
      registers: [registry],
    });
    let due = performance.now() + LATENESS_INTERVAL_MS;
    this.timer = setInterval(() => {
      const now = performance.now();
      hist.observe(Math.max(0, now - due) / 1000);
      due = now + LATENESS_INTERVAL_MS;
    }, LATENESS_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
