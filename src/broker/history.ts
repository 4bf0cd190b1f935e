import type { AcceptedEvent } from "./event.ts";

/** Seqs a reader asked for that are no longer kept. */
export interface Gap {
  readonly from: number;
  readonly to: number;
}

/** What a read of the log found after a seq. */
export interface LogRead {
  /** Up to the asked number of events, in seq order, all after the asked seq. */
  readonly events: readonly AcceptedEvent[];
  /** Set when events right after the asked seq are gone. */
  readonly gap?: Gap;
}

/**
 * The log of accepted events, kept behind this narrow interface so a durable journal
 * or a shared backend can replace the in-memory ring.
 */
export interface EventLog {
  /** Appends events whose seqs follow on from the last appended one. */
  append(events: readonly AcceptedEvent[]): void;
  /** Reads up to `max` events with a seq above `afterSeq`. */
  readAfter(afterSeq: number, max: number): LogRead;
}

/** A bounded ring of the most recent `capacity` events; older ones fall off. */
export class RingHistory implements EventLog {
  readonly #ring: (AcceptedEvent | undefined)[];
  #oldestSeq = 1;
  #nextSeq = 1;

  constructor(readonly capacity: number) {
    this.#ring = new Array(Math.max(capacity, 0));
  }

  append(events: readonly AcceptedEvent[]): void {
    for (const event of events) {
      if (this.capacity > 0) this.#ring[event.seq % this.capacity] = event;
      this.#nextSeq = event.seq + 1;
    }
    this.#oldestSeq = Math.max(this.#oldestSeq, this.#nextSeq - this.capacity);
  }

  readAfter(afterSeq: number, max: number): LogRead {
    const first = Math.max(afterSeq + 1, this.#oldestSeq);
    const gap = first > afterSeq + 1 ? { from: afterSeq + 1, to: first - 1 } : undefined;
    const end = Math.min(this.#nextSeq, first + max);
    const events: AcceptedEvent[] = [];
    for (let seq = first; seq < end; seq++) events.push(this.#ring[seq % this.capacity]!);
    return gap ? { events, gap } : { events };
  }
}
