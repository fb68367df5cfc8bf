// The reload pacer (src/app/reload-pacer.ts): a reload after a quiet spell starts at once; under
// a stream of edits the next waits until the CPU time used since the last reload began
// is at most the target share of the time elapsed, and never longer than the maximum delay.
import { describe, expect, it } from 'vitest';
import { HORIZON_MS, type PacerClock, ReloadPacer } from '../../src/app/reload-pacer.js';

/** A clock whose time and CPU time the test moves by hand. */
function fakeClock(): PacerClock & { advance(ms: number, cpuMs: number): void } {
  let now = 1000;
  let cpu = 0;
  return {
    now: () => now,
    cpu: () => cpu,
    advance(ms: number, cpuMs: number) {
      now += ms;
      cpu += cpuMs;
    },
  };
}

describe('reload pacer', () => {
  it('lets the first reload and one after a quiet spell start at once', () => {
    const c = fakeClock();
    const p = new ReloadPacer(0.5, 100, c);
    expect(p.delay()).toBe(0);
    p.started();
    c.advance(40, 30); // a reload and its pushes: 30 ms busy
    c.advance(1000, 0); // quiet
    expect(p.delay()).toBe(0);
  });

  it('CPU used long after the last reload began (a connect storm) does not hold up the next one', () => {
    const c = fakeClock();
    const p = new ReloadPacer(0.5, 500, c);
    p.started(); // the startup load
    c.advance(200, 200);
    c.advance(2300, 2000); // 2000 proxies connect: 2 s of CPU
    c.advance(HORIZON_MS, 50); // quiet enough to edit
    expect(p.delay()).toBe(0);
    // A reload within the horizon still paces the next one.
    p.started();
    c.advance(100, 100);
    expect(p.delay()).toBeCloseTo(100);
  });

  it('under a stream of edits, waits until the busy share falls to the target', () => {
    const c = fakeClock();
    const p = new ReloadPacer(0.5, 100, c);
    p.started();
    c.advance(20, 20); // 20 ms busy in 20 ms: wait until 40 ms have passed
    expect(p.delay()).toBeCloseTo(20);
    c.advance(10, 0);
    expect(p.delay()).toBeCloseTo(10);
    c.advance(10, 0);
    expect(p.delay()).toBe(0);
  });

  it('wouldDelay answers as delay would, and looking changes nothing (delay() at every event would forget the quiet spell before a burst)', () => {
    const c = fakeClock();
    const plain = new ReloadPacer(0.5, 500, c);
    const looked = new ReloadPacer(0.5, 500, c);
    const accounted = new ReloadPacer(0.5, 500, c);
    for (const p of [plain, looked, accounted]) p.started();
    // A quiet spell looked at every 20 ms (a watcher event each), then a burst of 60 ms.
    for (let k = 0; k < 5; k++) {
      c.advance(20, 0);
      expect(looked.wouldDelay()).toBe(0);
      accounted.delay();
    }
    c.advance(60, 60);
    // 60 ms of CPU in 160 ms: under half; the quiet spell counts.
    expect(plain.delay()).toBe(0);
    expect(looked.wouldDelay()).toBe(0);
    expect(looked.delay()).toBe(0);
    // Accounting at each look clamps the debt at 0 during the quiet spell and then counts the burst alone.
    expect(accounted.delay()).toBeCloseTo(60);
    // And it answers as delay() does when there is debt.
    c.advance(20, 20);
    expect(looked.wouldDelay()).toBeCloseTo(plain.delay());
  });

  it('never waits longer than the maximum delay', () => {
    const c = fakeClock();
    const p = new ReloadPacer(0.5, 100, c);
    p.started();
    c.advance(150, 150); // would want 300 ms
    expect(p.delay()).toBe(100);
  });

  it('with a target of 1 waits only while the loop was busy all along', () => {
    const c = fakeClock();
    const p = new ReloadPacer(1, 100, c);
    p.started();
    c.advance(20, 10);
    expect(p.delay()).toBe(0);
  });

  it('what one reload could not wait for is carried to the next ones, up to a typical cycle: a lone spike is forgiven beyond it', () => {
    const c = fakeClock();
    const p = new ReloadPacer(0.5, 100, c);
    // Cheap cycles: a reload and its pushes, 20 ms of CPU, then the wait the pacer asks for.
    const cheap = (): number => {
      p.started();
      c.advance(20, 20);
      const d = p.delay();
      c.advance(d, 0);
      return d;
    };
    for (let i = 0; i < 20; i++) cheap();
    expect(cheap()).toBeCloseTo(20);
    expect(p.debtLimit()).toBe(50); // the typical cycle (20 ms) is less than one minimum wait pays (0.5 × 100)
    // A costly cycle (a full GC in it): 200 ms busy, 100 ms over the share; 50 carried, paid by one wait.
    p.started();
    c.advance(200, 200);
    expect(p.delay()).toBe(100);
    c.advance(100, 0);
    // The next cycle waits as a cheap cycle alone: nothing more carried (before: 50 ms of CPU more, 100 ms of waiting).
    expect(cheap()).toBeCloseTo(20);
    // Steady costly cycles carry up to what a typical one costs, at most debtMaxMs (200).
    for (let i = 0; i < 10; i++) {
      p.started();
      c.advance(400, 400);
    }
    c.advance(0, 0);
    expect(p.delay()).toBe(100);
    expect(p.debtLimit()).toBe(p.debtMaxMs);
    // 2 s over the share, but only debtMaxMs carried: 400 ms idle pays it all.
    c.advance(2 * p.debtMaxMs - 1, 0);
    expect(p.delay()).toBeGreaterThan(0);
    c.advance(1, 0);
    expect(p.delay()).toBe(0);
  });

  it('steady costly cycles still get half a core: the cap grows with the typical cycle (up to the maximum), a lone spike does not make it', () => {
    const c = fakeClock();
    const p = new ReloadPacer(0.5, 500, c);
    expect(p.cap()).toBe(150);
    let busy = 0;
    let total = 0;
    // One cycle: the reload (`cost` ms, all busy), then the ACKs of its pushes (`after` ms of CPU
    // arriving over the first 1.5 × `after` ms of the wait), then idle until the pacer lets the next
    // reload start (asked again every 10 ms, as the app asks again when a wait ends).
    const cycle = (cost: number, after = 0): void => {
      p.started();
      c.advance(cost, cost);
      let waited = 0;
      let acks = after;
      for (let d = p.delay(); d > 0; d = p.delay(waited)) {
        const step = Math.min(d, 10);
        const used = Math.min(acks, step / 1.5);
        c.advance(step, used);
        acks -= used;
        waited += step;
      }
      busy += cost + after - acks;
      total += cost + waited;
    };
    for (let i = 0; i < 10; i++) cycle(300); // 2000 sidecars pushed to at every reload (S7)
    busy = total = 0;
    for (let i = 0; i < 20; i++) cycle(300);
    expect(busy / total).toBeCloseTo(0.5, 1); // a fixed 150 ms cap would give 300 / 450 = 0.67
    // Half of a cycle's CPU spent while it waits (its ACKs): still half a core. A cap from the
    // reload's own share of the cycle (1.25 × what it alone earns: 250 ms here) gives 0.57.
    for (let i = 0; i < 10; i++) cycle(100, 100);
    busy = total = 0;
    for (let i = 0; i < 20; i++) cycle(100, 100);
    expect(busy / total).toBeLessThan(0.53);
    // Cheap cycles (S4's 500 gateways: ~45 ms): the cap comes back down to its minimum...
    for (let i = 0; i < 30; i++) cycle(45);
    expect(p.cap()).toBe(150);
    // ...and one spike among them waits at most that, the rest carried to the next cycles.
    p.started();
    c.advance(250, 250);
    expect(p.delay()).toBe(150);
  });

  it('asked again when a wait ends, waits on for what arrived meanwhile, within the maximum in all', () => {
    const c = fakeClock();
    const p = new ReloadPacer(0.5, 100, c);
    p.started();
    c.advance(20, 20); // the reload: 20 ms busy in 20 ms
    expect(p.delay()).toBeCloseTo(20);
    c.advance(20, 20); // the wait: the ACKs of its pushes used the core meanwhile
    expect(p.delay(20)).toBeCloseTo(40); // 40 ms busy in 40 ms: 80 ms in all
    c.advance(40, 40); // still busy: 80 in 80 would want 80 more, but 60 ms have been waited
    expect(p.delay(60)).toBeCloseTo(40);
    c.advance(40, 0);
    expect(p.delay(100)).toBe(0);
  });
});
