import type { AcceptedEvent } from "./event.ts";
import { eventMemory, type MemoryPart } from "./memory-budget.ts";

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

/**
 * A bounded ring of the most recent events: at most `capacity` of them, and at most what
 * `memory` allows; the oldest fall off first.
 */
export class RingHistory implements EventLog {
  readonly #ring: (AcceptedEvent | undefined)[];
  #oldestSeq = 1;
  #nextSeq = 1;

  constructor(readonly capacity: number, private readonly memory?: MemoryPart) {
    this.#ring = new Array(Math.max(capacity, 0));
  }

  /** The seq of the oldest event kept (the next seq when none is). */
  get oldestSeq(): number {
    return this.#oldestSeq;
  }

  append(events: readonly AcceptedEvent[]): void {
    if (this.capacity === 0) {
      this.#oldestSeq = this.#nextSeq = (events.at(-1)?.seq ?? this.#nextSeq - 1) + 1;
      return;
    }
    for (const event of events) {
      if (this.#oldestSeq === this.#nextSeq) this.#oldestSeq = this.#nextSeq = event.seq; // empty: it starts where the log is
      if (event.seq - this.capacity >= this.#oldestSeq) this.#forgetOldest();
      this.#ring[event.seq % this.capacity] = event;
      this.memory?.take(eventMemory(event));
      this.#nextSeq = event.seq + 1;
    }
    while (this.memory && this.memory.used > this.memory.limit && this.#oldestSeq < this.#nextSeq) this.#forgetOldest();
  }

  readAfter(afterSeq: number, max: number): LogRead {
    const first = Math.max(afterSeq + 1, this.#oldestSeq);
    const gap = first > afterSeq + 1 ? { from: afterSeq + 1, to: first - 1 } : undefined;
    const end = Math.min(this.#nextSeq, first + max);
    const events: AcceptedEvent[] = [];
    for (let seq = first; seq < end; seq++) events.push(this.#ring[seq % this.capacity]!);
    return gap ? { events, gap } : { events };
  }

  #forgetOldest(): void {
    const slot = this.#oldestSeq % this.capacity;
    const event = this.#ring[slot];
    if (event) this.memory?.release(eventMemory(event));
    this.#ring[slot] = undefined;
    this.#oldestSeq++;
  }
}

/** What `JournaledHistory` reads of a journal. */
export interface EventArchive {
  readAfter(afterSeq: number, max: number): readonly AcceptedEvent[];
  oldestSeq(): number;
}

/**
 * The in-memory ring in front of a journal: recent events come from memory, older ones
 * from the journal, a page at a time, so resuming from long ago never loads it all.
 */
export class JournaledHistory implements EventLog {
  constructor(private readonly ring: RingHistory, private readonly archive: EventArchive) {}

  append(events: readonly AcceptedEvent[]): void {
    this.ring.append(events);
  }

  readAfter(afterSeq: number, max: number): LogRead {
    const from = Math.max(afterSeq, this.archive.oldestSeq() - 1);
    // Nothing the journal holds is older than the ring: the ring answers, with any gap.
    if (from + 1 >= this.ring.oldestSeq) return this.ring.readAfter(afterSeq, max);
    const events = this.archive.readAfter(from, Math.min(max, this.ring.oldestSeq - from - 1));
    return from > afterSeq ? { events, gap: { from: afterSeq + 1, to: from } } : { events };
  }
}
