import type { AcceptedEvent } from "./event.ts";
import type { EventLog, Gap } from "./history.ts";
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

/**
 * A non-required subscriber: the broker offers it events, which wait in a bounded buffer
 * until its reader takes them; when the buffer is full the event is dropped and counted,
 * so a slow reader never slows the broker.
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

  #buffer: AcceptedEvent[] = [];
  #bufferedBytes = 0;
  #unreportedDrop: { count: number; from: number; to: number } | null = null;
  #replay: { afterSeq: number; untilSeq: number } | null;
  #closingReason: string | null = null;
  #finished = false;

  constructor(
    readonly id: string,
    readonly types: readonly string[],
    readonly created: number,
    private readonly limits: StreamBufferLimits,
    private readonly log: EventLog,
    replay?: Replay,
  ) {
    this.#replay = replay && replay.afterSeq < replay.untilSeq ? { ...replay } : null;
  }

  /** Whether the reader has been handed the closing notice; nothing follows it. */
  get finished(): boolean {
    return this.#finished;
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  /**
   * Takes a live event into the buffer, or drops it when the buffer is full; returns
   * whether it was kept. `bytes` is `jsonBytes(event)`, measured once for every stream.
   */
  offer(event: AcceptedEvent, bytes: number): boolean {
    if (this.#closingReason !== null) return false;
    const wasEmpty = this.#buffer.length === 0 && this.#unreportedDrop === null;
    const full = this.#buffer.length >= this.limits.maxEvents || this.#bufferedBytes + bytes > this.limits.maxBytes;
    if (full) this.#drop(event.seq);
    else {
      this.#buffer.push(event);
      this.#bufferedBytes += bytes;
    }
    if (wasEmpty) this.onReadable?.();
    return !full;
  }

  /** Everything ready for the reader, in order; empty when it must wait for `onReadable`. */
  read(): StreamItem[] {
    if (this.#finished) return [];
    while (this.#replay) {
      const replayed = this.#readReplay(this.#replay);
      if (replayed.length > 0) return replayed;
    }
    const items: StreamItem[] = this.#buffer;
    this.delivered += items.length;
    this.#buffer = [];
    this.#bufferedBytes = 0;
    // Drops happen only while the buffer is full, so they all follow what it held.
    if (this.#unreportedDrop) items.push({ kind: "dropped", ...this.#unreportedDrop });
    this.#unreportedDrop = null;
    if (this.#closingReason !== null) {
      items.push({ kind: "closing", reason: this.#closingReason });
      this.#finished = true;
    }
    return items;
  }

  /** Ends the stream: the reader gets what is buffered, then a closing notice. */
  close(reason: string): void {
    if (this.#closingReason !== null) return;
    this.#closingReason = reason;
    this.onReadable?.();
  }

  #drop(seq: number): void {
    this.dropped++;
    const drop = this.#unreportedDrop;
    if (drop) {
      drop.count++;
      drop.to = seq;
    } else this.#unreportedDrop = { count: 1, from: seq, to: seq };
  }

  /** One buffer's worth of history at a time, so replay memory stays bounded too. */
  #readReplay(replay: { afterSeq: number; untilSeq: number }): StreamItem[] {
    const room = Math.min(this.limits.maxEvents, replay.untilSeq - replay.afterSeq);
    const { events, gap } = this.log.readAfter(replay.afterSeq, room);
    const items: StreamItem[] = [];
    if (gap) items.push(gapNotice(gap, replay.untilSeq));
    for (const event of events) {
      if (event.seq > replay.untilSeq) break;
      if (matchesAny(this.types, event.type)) items.push(event);
    }
    this.delivered += items.length - (gap ? 1 : 0);
    // An empty read means the log holds nothing more: the replay is over.
    replay.afterSeq = Math.min(events.at(-1)?.seq ?? replay.untilSeq, replay.untilSeq);
    if (replay.afterSeq >= replay.untilSeq) this.#replay = null;
    return items;
  }
}

function gapNotice(gap: Gap, untilSeq: number): StreamNotice {
  return { kind: "gap", from: gap.from, to: Math.min(gap.to, untilSeq) };
}
