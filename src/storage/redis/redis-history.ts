/**
 * What a stream of this instance resumes from: the instance's window of recent events
 * (`historySize`, in memory), and before it whatever the log in Redis still keeps. A read
 * that starts before the window is fetched from Redis, a page at a time (as many events as
 * the stream's buffer holds, in events and in bytes), and handed to the stream when it
 * arrives: a resume point older than the window gets `broker.gap` only for what Redis no
 * longer keeps either.
 */
import type { AcceptedEvent, EventLog, LogRead, RingHistory } from "../../broker/mod.ts";

/** Reads the log in Redis: the kept events `from` to `to`, at most `max` and about `maxBytes`. */
export type LogReader = (from: number, to: number, max: number, maxBytes: number) => Promise<AcceptedEvent[]>;

export class RedisHistory implements EventLog {
  constructor(private readonly window: RingHistory, private readonly readLog: LogReader, private readonly pageBytes: number) {}

  append(events: readonly AcceptedEvent[]): void {
    this.window.append(events);
  }

  readAfter(afterSeq: number, max: number, ready?: (read: LogRead) => void): LogRead {
    const held = this.window.readAfter(afterSeq, max);
    if (!held.gap || !ready) return held;
    const before = held.gap.to; // the window starts after it
    this.readLog(afterSeq + 1, before, max, this.pageBytes).then(
      (events) => ready(this.#page(afterSeq, before, max, events)),
      () => ready(held), // Redis out of reach: what the window holds, and the gap
    );
    return { events: [], pending: true };
  }

  /** What Redis kept of (afterSeq, before], a gap where it kept nothing, then the window's first events if there is room. */
  #page(afterSeq: number, before: number, max: number, fetched: readonly AcceptedEvent[]): LogRead {
    const first = fetched[0]?.seq ?? before + 1;
    const gap = first > afterSeq + 1 ? { from: afterSeq + 1, to: first - 1 } : undefined;
    const reachedWindow = fetched.length === 0 || fetched[fetched.length - 1].seq >= before;
    const events = reachedWindow && fetched.length < max ? [...fetched, ...this.window.readAfter(before, max - fetched.length).events] : fetched;
    return gap ? { events, gap } : { events };
  }
}
