import type { AcceptedEvent } from "./event.ts";
import type { EventLog, Gap, LogRead } from "./history.ts";
import type { EvictableBuffer, StreamBuffers } from "./stream-buffers.ts";
import type { Filter } from "./filters.ts";
import type { Selector } from "./selector.ts";
import { Unit } from "./unit.ts";

/** Something the broker tells a stream's reader besides events. */
export type StreamNotice =
  | { readonly kind: "dropped"; readonly count: number; readonly from: number; readonly to: number }
  | { readonly kind: "gap"; readonly from: number; readonly to: number }
  | { readonly kind: "reset"; readonly asked: number; readonly lastSeq: number }
  | { readonly kind: "closing"; readonly reason: string };

export type StreamItem = AcceptedEvent | StreamNotice;

export function isNotice(item: StreamItem): item is StreamNotice {
  return "kind" in item;
}

/** Bounds of a stream's buffer: whichever fills first. */
export interface StreamBufferLimits {
  /** Events held for a reader that has not caught up (default 1,024). */
  readonly maxEvents: number;
  /** Bytes of encoded JSON held likewise (default 1 MiB). */
  readonly maxBytes: number;
}

/** Replay from the log, for a resumed stream: events in (afterSeq, untilSeq]. */
export interface Replay {
  readonly afterSeq: number;
  readonly untilSeq: number;
  /** Sent first: the reader asked to resume after a seq this broker never gave (it holds ids of an earlier run). */
  readonly reset?: { readonly asked: number };
}

type DropNotice = { kind: "dropped"; count: number; from: number; to: number };

/**
 * A non-required subscriber: the broker offers it events, which wait in a bounded buffer
 * until its reader takes them; when the buffer is full the event is dropped and counted,
 * so a slow reader never slows the broker.
 *
 * The bound is for a reader that has fallen behind, not for one that waits: while its
 * reader waits (its last read found nothing), a stream takes every event offered until
 * the reader's next turn, so publishes that land together (an NDJSON body's groups,
 * requests handled in one turn of the event loop) never overflow a reader that keeps up.
 *
 * Every stream's buffer is also counted in one part of the memory budget shared by all
 * streams (see StreamBuffers): when it is spent, the buffers whose readers came back
 * longest ago are emptied first, so however many streams stall, together they hold no
 * more than that part, and a reader that keeps up does not lose events because others
 * stalled.
 */
export class StreamSubscription implements EvictableBuffer {
  readonly kind = "stream";
  paused = false;
  /** Who created it, when access control is on; anyone else is told it does not exist. */
  owner: string | undefined;
  /** Events handed to the reader, and events dropped for a full buffer. */
  delivered = 0;
  dropped = 0;
  /** Called when items become readable after `read()` came back empty. */
  onReadable: (() => void) | null = null;

  /**
   * Units of events, shared with every stream that takes the same ones, and drop notices,
   * in order: a drop is reported right after the events that fit. The reader has already
   * read the first `#offset` events of the first unit.
   */
  #buffer: (Unit | DropNotice)[] = [];
  #offset = 0;
  #bufferedEvents = 0;
  #bufferedBytes = 0;
  /** Bytes the reader handed on and has not come back from: one write, bounded by the reader. */
  #handedBytes = 0;
  /**
   * The last `read()` found nothing and nothing was handed on since: the reader is waiting,
   * and will pass on what comes at its next turn. Not before the first read (a reader that
   * never reads is stalled, not waiting), nor once released.
   */
  #readerWaiting = false;
  /** Emptied to make room for other streams: takes nothing until its reader comes back. */
  #evicted = false;
  #replay: { afterSeq: number; untilSeq: number } | null;
  /** History the log is fetching for the replay (from Redis), and what it fetched, until read. */
  #fetching = false;
  #fetched: LogRead | null = null;
  #closingReason: string | null = null;
  #finished = false;
  #reset: StreamNotice | null = null;

  constructor(
    readonly id: string,
    readonly selector: Selector,
    readonly created: number,
    private readonly limits: StreamBufferLimits,
    private readonly log: EventLog,
    private readonly shared: StreamBuffers,
    replay?: Replay,
  ) {
    this.#replay = replay && replay.afterSeq < replay.untilSeq ? { afterSeq: replay.afterSeq, untilSeq: replay.untilSeq } : null;
    if (replay?.reset) this.#reset = { kind: "reset", asked: replay.reset.asked, lastSeq: replay.untilSeq };
  }

  get types(): readonly string[] {
    return this.selector.types;
  }

  get filters(): readonly Filter[] {
    return this.selector.filters;
  }

  /** Whether the reader has been handed the closing notice; nothing follows it. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Events waiting for the reader. */
  get buffered(): number {
    return this.#bufferedEvents;
  }

  /**
   * Takes the events of a publish into the buffer, as many as fit in order; the rest are
   * dropped. Returns how many it kept.
   */
  offer(unit: Unit): number {
    if (this.#closingReason !== null) return 0;
    const wasEmpty = this.#buffer.length === 0;
    const fitting = this.#fittingPart(unit);
    if (fitting.count > 0) this.#keep(fitting);
    for (let index = fitting.count; index < unit.count; index++) this.#drop(unit.events[index].seq);
    if (wasEmpty && this.#buffer.length > 0) this.onReadable?.();
    return fitting.count;
  }

  /**
   * What is ready for the reader, in order, holding events of at most `maxBytes` (at
   * least one: an event larger than that comes last); empty when it must wait for
   * `onReadable`. Reading again means the reader is done with what it was handed before.
   */
  read(maxBytes = Infinity): StreamItem[] {
    this.#letGoOfHanded();
    this.#evicted = false;
    if (this.#finished) return [];
    let items: StreamItem[] = this.#reset ? [this.#reset] : [];
    this.#reset = null;
    while (this.#replay && items.length === 0) {
      const replayed = this.#readReplay(this.#replay, maxBytes);
      if (replayed === null) break; // being fetched: onReadable follows
      items = replayed;
    }
    if (items.length === 0 && this.#replay === null) items = this.#readBuffer(maxBytes);
    this.#readerWaiting = items.length === 0;
    return items;
  }

  /**
   * The reader's transport now holds `bytes` of what it was given (this replaces what it
   * held before); they are reported as handed until it reads or hands on again.
   */
  handed(bytes: number): void {
    this.#letGoOfHanded();
    this.#handedBytes = bytes;
    this.shared.handedBytes += bytes;
    this.#readerWaiting = false;
  }

  /** Ends the stream: the reader gets what is buffered, then a closing notice. */
  close(reason: string): void {
    if (this.#closingReason !== null) return;
    this.#closingReason = reason;
    this.onReadable?.();
  }

  /** The reader is gone: lets go of everything buffered and handed. Idempotent. */
  release(): void {
    this.#letGoOfHanded();
    this.#empty();
    this.#finished = true;
    this.#readerWaiting = false; // until the stream is removed, what it is offered keeps to the bound
  }

  /** Drops everything buffered to give its memory to other streams, reporting it as one drop. */
  evict(): void {
    let drop: DropNotice | null = null;
    const add = (count: number, from: number, to: number) => {
      if (drop) {
        drop.count += count;
        drop.to = to;
      } else drop = { kind: "dropped", count, from, to };
    };
    this.#buffer.forEach((entry, index) => {
      if (!(entry instanceof Unit)) return add(entry.count, entry.from, entry.to);
      const events = entry.events;
      const from = index === 0 ? this.#offset : 0;
      add(events.length - from, events[from].seq, events[events.length - 1].seq);
    });
    this.dropped += this.#bufferedEvents;
    this.#empty();
    if (drop) this.#buffer = [drop];
    this.#evicted = true;
  }

  /**
   * The events of `unit` this buffer has room for: all of it, a first part, or none. A
   * waiting reader's buffer takes all of it past its own bounds, but only if the streams'
   * part of the budget holds it, so that the part still bounds what all streams keep.
   */
  #fittingPart(unit: Unit): Unit {
    if (this.#evicted) return EMPTY;
    const part = this.#withinOwnBounds(unit);
    if (part !== unit && this.#readerWaiting && this.#inStreamsPart(unit)) return unit;
    if (part === EMPTY) return EMPTY;
    return this.#inStreamsPart(part) || this.#readerWaiting ? part : EMPTY;
  }

  /** Whether the streams' part holds `unit`: another buffer holds it already, it fits, or emptying stalled buffers makes room. */
  #inStreamsPart(unit: Unit): boolean {
    const shared = this.shared;
    return unit.holders > 0 || shared.memory.fits(unit.bytes) || shared.makeRoom(unit.bytes, this);
  }

  /** The first events of `unit` that fit this buffer's own bounds. */
  #withinOwnBounds(unit: Unit): Unit {
    const roomForEvents = this.limits.maxEvents - this.#bufferedEvents;
    const roomForBytes = this.limits.maxBytes - this.#bufferedBytes;
    if (unit.count <= roomForEvents && unit.size <= roomForBytes) return unit;
    let count = 0;
    let bytes = 0;
    for (const event of unit.events) {
      if (count >= roomForEvents || bytes + event.size > roomForBytes) break;
      bytes += event.size;
      count++;
    }
    return count === 0 ? EMPTY : new Unit([unit.events.slice(0, count)]);
  }

  #keep(unit: Unit): void {
    if (this.#bufferedEvents === 0) this.shared.filled(this);
    this.shared.hold(unit);
    this.#buffer.push(unit);
    this.#bufferedEvents += unit.count;
    this.#bufferedBytes += unit.size;
  }

  /** Lets go of every buffered unit, leaving the buffer empty. */
  #empty(): void {
    for (const entry of this.#buffer) if (entry instanceof Unit) this.shared.release(entry);
    this.shared.emptied(this);
    this.#buffer = [];
    this.#offset = 0;
    this.#bufferedEvents = this.#bufferedBytes = 0;
  }

  #readBuffer(maxBytes: number): StreamItem[] {
    const items: StreamItem[] = [];
    let bytes = 0;
    let events = 0;
    reading: while (this.#buffer.length > 0) {
      const entry = this.#buffer[0];
      if (!(entry instanceof Unit)) {
        items.push(entry);
        this.#buffer.shift();
        continue;
      }
      for (; this.#offset < entry.events.length; this.#offset++) {
        const event = entry.events[this.#offset];
        if (events > 0 && (bytes + event.size > maxBytes || bytes > maxBytes)) break reading;
        items.push(event);
        bytes += event.size;
        events++;
      }
      this.shared.release(entry);
      this.#buffer.shift();
      this.#offset = 0;
    }
    this.#bufferedEvents -= events;
    this.#bufferedBytes -= bytes;
    if (this.#bufferedEvents === 0) this.shared.emptied(this);
    else this.shared.filled(this);
    this.delivered += events;
    if (this.#buffer.length === 0 && this.#closingReason !== null) {
      items.push({ kind: "closing", reason: this.#closingReason });
      this.#finished = true;
    }
    return items;
  }

  #drop(seq: number): void {
    this.dropped++;
    const last = this.#buffer.at(-1);
    if (last && !(last instanceof Unit) && last.to === seq - 1) {
      last.count++;
      last.to = seq;
    } else this.#buffer.push({ kind: "dropped", count: 1, from: seq, to: seq });
  }

  #letGoOfHanded(): void {
    this.shared.handedBytes -= this.#handedBytes;
    this.#handedBytes = 0;
  }

  /**
   * One buffer's worth of history at a time, so replay memory stays bounded too; null while
   * the log fetches it (from Redis), which it hands back to be read when the reader comes.
   */
  #readReplay(replay: { afterSeq: number; untilSeq: number }, maxBytes: number): StreamItem[] | null {
    let read = this.#fetched;
    this.#fetched = null;
    if (!read) {
      if (this.#fetching) return null;
      const room = Math.min(this.limits.maxEvents, replay.untilSeq - replay.afterSeq);
      read = this.log.readAfter(replay.afterSeq, room, (page) => {
        this.#fetching = false;
        this.#fetched = page;
        this.onReadable?.();
      });
      if (read.pending) {
        this.#fetching = true;
        return null;
      }
    }
    const { events, gap } = read;
    const byteLimit = Math.min(maxBytes, this.limits.maxBytes);
    const items: StreamItem[] = gap ? [gapNotice(gap, replay.untilSeq)] : [];
    // An empty read means the log holds nothing more: the replay is over.
    let readThrough = events.length === 0 ? replay.untilSeq : replay.afterSeq;
    let bytes = 0;
    for (const event of events) {
      if (event.seq > replay.untilSeq) {
        readThrough = replay.untilSeq;
        break;
      }
      if (bytes > 0 && bytes + event.size > byteLimit) break;
      readThrough = event.seq;
      if (!this.selector.selects(event.type, () => JSON.parse(event.json))) continue;
      items.push(event);
      bytes += event.size;
      this.delivered++;
    }
    replay.afterSeq = Math.max(readThrough, gap ? Math.min(gap.to, replay.untilSeq) : replay.afterSeq);
    if (replay.afterSeq >= replay.untilSeq) this.#replay = null;
    return items;
  }
}

const EMPTY = new Unit([[]]);

function gapNotice(gap: Gap, untilSeq: number): StreamNotice {
  return { kind: "gap", from: gap.from, to: Math.min(gap.to, untilSeq) };
}
