import type { Clock } from "../../src/broker/mod.ts";

const MAX_TIMERS_PER_ADVANCE = 100_000;

/** A clock that only moves when a test advances it, firing due timers in order. */
export class FakeClock implements Clock {
  #now: number;
  #timers: { at: number; order: number; callback: () => void }[] = [];
  #order = 0;

  constructor(start = Date.parse("2026-11-28T15:00:00.000Z")) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, ms: number): () => void {
    const timer = { at: this.#now + ms, order: this.#order++, callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /**
   * Moves time forward by `ms`, running each timer that falls due on the way. Throws after
   * `MAX_TIMERS_PER_ADVANCE` of them: a timer that re-arms itself for the same instant would
   * otherwise spin here for ever, where no test timeout can stop it.
   */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (let fired = 0; ; fired++) {
      if (fired === MAX_TIMERS_PER_ADVANCE) throw new Error(`FakeClock.advance(${ms}) ran ${fired} timers; is one re-arming itself for the same instant?`);
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.callback();
    }
    this.#now = end;
  }
}
