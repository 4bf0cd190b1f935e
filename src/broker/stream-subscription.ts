import type { AcceptedEvent } from "./event.ts";
import type { EventLog, Gap } from "./history.ts";
import type { MemoryPart } from "./memory-budget.ts";
import { matchesAny } from "./type-pattern.ts";

/** Something the broker tells a stream's reader besides events. */
export type StreamNotice =
  | { readonly kind: "dropped"; readonly count: number; readonly from: number; readonly to: number }
  | { readonly kind: "gap"; readonly from: number; readonly to: number }
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
}

type DropNotice = { kind: "dropped"; count: number; from: number; to: number };

/**
 * A non-required subscriber: the broker offers it events, which wait in a bounded buffer
 * until its reader takes them; when the buffer is full the event is dropped and counted,
 * so a slow reader never slows the broker.
 *
 * Every stream's buffer, and what its reader has handed on to the runtime and the runtime
 * has not yet taken, is counted in one budget shared by all streams. A reader that waits
 * for events always gets them (up to its own bound), since it passes them on at once; a
 * stalled one is also refused when the shared budget is spent, so however many streams
 * stall, together they hold no more than that budget.
 */
export class StreamSubscription {
  readonly kind = "stream";
  paused = false;
  /** Who created it, when access control is on; anyone else is told it does not exist. */
  owner: string | undefined;
  /** Events handed to the reader, and events dropped for a full buffer. */
  delivered = 0;
  dropped = 0;
  /** Called when items become readable after `read()` came back empty. */
  onReadable: (() => void) | null = null;

  /** Events and drop notices, in order: a drop is reported right after the events that fit. */
  #buffer: StreamItem[] = [];
  #bufferedEvents = 0;
  #bufferedBytes = 0;
  /** Bytes the reader handed on and has not come back from. */
  #handedBytes = 0;
  /** The last `read()` found nothing: the reader is waiting, and will pass on what comes at once. */
  #readerWaiting = true;
  #replay: { afterSeq: number; untilSeq: number } | null;
  #closingReason: string | null = null;
  #finished = false;

  constructor(
    readonly id: string,
    readonly types: readonly string[],
    readonly created: number,
    private readonly limits: StreamBufferLimits,
    private readonly log: EventLog,
    private readonly memory: MemoryPart,
    replay?: Replay,
  ) {
    this.#replay = replay && replay.afterSeq < replay.untilSeq ? { ...replay } : null;
  }

  /** Whether the reader has been handed the closing notice; nothing follows it. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Events waiting for the reader. */
  get buffered(): number {
    return this.#bufferedEvents;
  }

  /** Takes a live event into the buffer, or drops it when there is no room; returns whether it was kept. */
  offer(event: AcceptedEvent): boolean {
    if (this.#closingReason !== null) return false;
    const wasEmpty = this.#buffer.length === 0;
    if (this.#hasRoomFor(event.size)) {
      this.#buffer.push(event);
      this.#bufferedEvents++;
      this.#bufferedBytes += event.size;
      this.memory.take(event.size);
    } else this.#drop(event.seq);
    if (wasEmpty) this.onReadable?.();
    return this.#buffer.at(-1) === event;
  }

  /**
   * What is ready for the reader, in order, holding events of at most `maxBytes` (at
   * least one); empty when it must wait for `onReadable`. Reading again means the reader
   * is done with what it was handed before.
   */
  read(maxBytes = Infinity): StreamItem[] {
    this.#letGoOfHanded();
    if (this.#finished) return [];
    let items: StreamItem[] = [];
    while (this.#replay && items.length === 0) items = this.#readReplay(this.#replay, maxBytes);
    if (items.length === 0) items = this.#readBuffer(maxBytes);
    this.#readerWaiting = items.length === 0;
    return items;
  }

  /** The reader passed `bytes` on to its transport; they count against the streams' budget until it reads again. */
  handed(bytes: number): void {
    this.#handedBytes += bytes;
    this.memory.take(bytes);
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
    this.memory.release(this.#bufferedBytes);
    this.#buffer = [];
    this.#bufferedEvents = this.#bufferedBytes = 0;
    this.#finished = true;
  }

  #hasRoomFor(bytes: number): boolean {
    if (this.#bufferedEvents >= this.limits.maxEvents || this.#bufferedBytes + bytes > this.limits.maxBytes) return false;
    return this.#readerWaiting || this.memory.fits(bytes);
  }

  #readBuffer(maxBytes: number): StreamItem[] {
    let count = 0;
    let bytes = 0;
    let events = 0;
    for (const item of this.#buffer) {
      if (!isNotice(item)) {
        if (events > 0 && bytes + item.size > maxBytes) break;
        bytes += item.size;
        events++;
      }
      count++;
    }
    const items = count === this.#buffer.length ? this.#buffer : this.#buffer.slice(0, count);
    this.#buffer = count === this.#buffer.length ? [] : this.#buffer.slice(count);
    this.#bufferedEvents -= events;
    this.#bufferedBytes -= bytes;
    this.memory.release(bytes);
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
    if (last && isNotice(last) && last.kind === "dropped" && last.to === seq - 1) {
      (last as DropNotice).count++;
      (last as DropNotice).to = seq;
    } else this.#buffer.push({ kind: "dropped", count: 1, from: seq, to: seq });
  }

  #letGoOfHanded(): void {
    this.memory.release(this.#handedBytes);
    this.#handedBytes = 0;
  }

  /** One buffer's worth of history at a time, so replay memory stays bounded too. */
  #readReplay(replay: { afterSeq: number; untilSeq: number }, maxBytes: number): StreamItem[] {
    const room = Math.min(this.limits.maxEvents, replay.untilSeq - replay.afterSeq);
    const { events, gap } = this.log.readAfter(replay.afterSeq, room);
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
      if (!matchesAny(this.types, event.type)) continue;
      items.push(event);
      bytes += event.size;
      this.delivered++;
    }
    replay.afterSeq = Math.max(readThrough, gap ? Math.min(gap.to, replay.untilSeq) : replay.afterSeq);
    if (replay.afterSeq >= replay.untilSeq) this.#replay = null;
    return items;
  }
}

function gapNotice(gap: Gap, untilSeq: number): StreamNotice {
  return { kind: "gap", from: gap.from, to: Math.min(gap.to, untilSeq) };
}
