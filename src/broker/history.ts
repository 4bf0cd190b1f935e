import type { AcceptedEvent } from "./event.ts";
import type { MemoryPart } from "./memory-budget.ts";

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
  /** Set when the events are being fetched from a store outside this process: the read is handed to `ready` when they are. */
  readonly pending?: true;
}

/**
 * The log of accepted events, kept behind this narrow interface so a durable journal
 * or a shared backend can replace the in-memory ring.
 */
export interface EventLog {
  /** Appends events whose seqs follow on from the last appended one (after a jump, the log starts again there). */
  append(events: readonly AcceptedEvent[]): void;
  /**
   * Reads up to `max` events with a seq above `afterSeq`. A log that must fetch them (from
   * Redis) and is given `ready` answers `{ events: [], pending: true }` now, and the read
   * to `ready` once it has them; without `ready`, it answers with what it holds.
   */
  readAfter(afterSeq: number, max: number, ready?: (read: LogRead) => void): LogRead;
}

/** Bytes a ring without a memory part may hold. */
const DEFAULT_MAX_BYTES = 16 * 1_048_576;
/** The ring's first allocation; it doubles as events need room, up to its bound. */
const INITIAL_BYTES = 65_536;

const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * A bounded ring of the most recent events: at most `capacity` of them, and at most what
 * `memory` allows (it counts what the ring allocates); the oldest fall off first.
 *
 * Why bytes: each event is kept as its type then its JSON, in UTF-8, back to back with the
 * others in one buffer, and decoded again when read (a resumed stream, `GET /events`).
 * Kept as 10,000 strings, the history cost the garbage collector, under publish load, a
 * quarter of the broker's publishing rate (bench/README, "Round three"); kept as bytes, it
 * costs it nothing.
 */
export class RingHistory implements EventLog {
  readonly #maxBytes: number;
  /** Per slot (seq % capacity): where its event's bytes start, its type's length, its JSON's size. */
  readonly #starts: Float64Array;
  readonly #typeLengths: Uint8Array;
  readonly #sizes: Uint32Array;
  #bytes = new Uint8Array(0);
  /** Where the next event's bytes go, and the bytes of the events kept. */
  #head = 0;
  #keptBytes = 0;
  #oldestSeq = 1;
  #nextSeq = 1;

  /** Bytes held per slot beside the events' own: where each starts, its type's length, its JSON's size. */
  static readonly SLOT_BYTES = 8 + 1 + 4;

  constructor(readonly capacity: number, private readonly memory?: MemoryPart) {
    const slots = Math.max(capacity, 0);
    this.#starts = new Float64Array(slots);
    this.#typeLengths = new Uint8Array(slots);
    this.#sizes = new Uint32Array(slots);
    this.#maxBytes = Math.max(0, (memory?.limit ?? DEFAULT_MAX_BYTES) - slots * RingHistory.SLOT_BYTES);
    memory?.take(slots * RingHistory.SLOT_BYTES);
  }

  /** The seq of the oldest event kept (the next seq when none is). */
  get oldestSeq(): number {
    return this.#oldestSeq;
  }

  append(events: readonly AcceptedEvent[]): void {
    if (this.capacity === 0) {
      this.#forgetAll((events.at(-1)?.seq ?? this.#nextSeq - 1) + 1);
      return;
    }
    for (const event of events) {
      // Empty, or after a jump (another instance's log was trimmed past what this one had): it starts where the log is.
      if (this.#oldestSeq === this.#nextSeq || event.seq !== this.#nextSeq) this.#forgetAll(event.seq);
      if (event.seq - this.capacity >= this.#oldestSeq) this.#forgetOldest();
      if (!this.#makeRoom(event.type.length + event.size) || !this.#write(event)) {
        this.#forgetAll(event.seq + 1); // it is not kept, so nothing before it may be either
        continue;
      }
      this.#nextSeq = event.seq + 1;
    }
  }

  readAfter(afterSeq: number, max: number): LogRead {
    const first = Math.max(afterSeq + 1, this.#oldestSeq);
    const gap = first > afterSeq + 1 ? { from: afterSeq + 1, to: first - 1 } : undefined;
    const end = Math.min(this.#nextSeq, first + max);
    const events: AcceptedEvent[] = [];
    for (let seq = first; seq < end; seq++) events.push(this.#read(seq));
    return gap ? { events, gap } : { events };
  }

  /**
   * Writes the event at the head, where `#makeRoom` made room for it: its type (ASCII, as
   * every accepted type is, a byte a character, copied by hand: cheaper than a view to
   * encode into), then its JSON. False if either was not what it said it was.
   */
  #write(event: AcceptedEvent): boolean {
    const { type, json, size } = event;
    const start = this.#head;
    const bytes = this.#bytes;
    if (type.length > 0xff) return false;
    for (let i = 0; i < type.length; i++) {
      const unit = type.charCodeAt(i);
      if (unit > 0x7f) return false;
      bytes[start + i] = unit;
    }
    const written = utf8.encodeInto(json, bytes.subarray(start + type.length, start + type.length + size));
    if (written.read !== json.length || written.written !== size) return false;
    const slot = event.seq % this.capacity;
    this.#starts[slot] = start;
    this.#typeLengths[slot] = type.length;
    this.#sizes[slot] = size;
    this.#head = start + type.length + size;
    this.#keptBytes += type.length + size;
    return true;
  }

  #read(seq: number): AcceptedEvent {
    const slot = seq % this.capacity;
    const start = this.#starts[slot];
    const jsonStart = start + this.#typeLengths[slot];
    const size = this.#sizes[slot];
    return { seq, type: text.decode(this.#bytes.subarray(start, jsonStart)), json: text.decode(this.#bytes.subarray(jsonStart, jsonStart + size)), size };
  }

  /**
   * Frees `bytes` contiguous bytes at the head, growing the buffer or forgetting the
   * oldest events; false when `bytes` are more than the ring may ever hold.
   */
  #makeRoom(bytes: number): boolean {
    if (bytes > this.#maxBytes) return false;
    if (this.#keptBytes + bytes > this.#bytes.length && this.#bytes.length < this.#maxBytes) this.#grow(this.#keptBytes + bytes);
    for (;;) {
      if (this.#oldestSeq === this.#nextSeq) {
        this.#head = 0;
        return bytes <= this.#bytes.length;
      }
      const oldest = this.#starts[this.#oldestSeq % this.capacity];
      if (this.#head > oldest) {
        if (this.#head + bytes <= this.#bytes.length) return true;
        this.#head = 0; // wraps: the end of the buffer stays unused until the head comes round again
      } else if (this.#head < oldest && this.#head + bytes <= oldest) return true;
      else this.#forgetOldest();
    }
  }

  /** A buffer of at least `bytes` (doubling, up to the bound), the kept events moved to its start, oldest first. */
  #grow(bytes: number): void {
    const grown = new Uint8Array(Math.min(this.#maxBytes, Math.max(INITIAL_BYTES, 2 * this.#bytes.length, bytes)));
    let at = 0;
    for (let seq = this.#oldestSeq; seq < this.#nextSeq; seq++) {
      const slot = seq % this.capacity;
      const start = this.#starts[slot];
      const length = this.#typeLengths[slot] + this.#sizes[slot];
      grown.set(this.#bytes.subarray(start, start + length), at);
      this.#starts[slot] = at;
      at += length;
    }
    this.memory?.take(grown.length - this.#bytes.length);
    this.#bytes = grown;
    this.#head = at;
  }

  #forgetOldest(): void {
    const slot = this.#oldestSeq % this.capacity;
    this.#keptBytes -= this.#typeLengths[slot] + this.#sizes[slot];
    this.#oldestSeq++;
  }

  #forgetAll(nextSeq: number): void {
    this.#oldestSeq = this.#nextSeq = nextSeq;
    this.#keptBytes = 0;
    this.#head = 0;
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
