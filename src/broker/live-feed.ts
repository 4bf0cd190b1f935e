/**
 * The live side of a broker, the same for every engine: the window of recent events, the
 * streams of this process, and the fan-out between them. An engine appends what was
 * accepted, in seq order: the memory engine what it accepted itself, an instance sharing
 * Redis what any instance accepted, as it reads the shared log. Streams live here alone:
 * a stream is a reader connected to this process, whatever keeps the events.
 */
import type { Clock } from "./clock.ts";
import { TooManySubscriptionsError } from "./errors.ts";
import type { AcceptedEvent } from "./event.ts";
import type { Attributes } from "./filters.ts";
import type { EventLog, LogRead } from "./history.ts";
import type { MemoryPart } from "./memory-budget.ts";
import { Selector } from "./selector.ts";
import { StreamBuffers } from "./stream-buffers.ts";
import { StreamSubscription } from "./stream-subscription.ts";
import { type StreamSpec, streamSpecSchema } from "./subscription-spec.ts";
import { TypeIndex } from "./type-index.ts";
import { unitsFor } from "./unit.ts";
import { parseOrThrow } from "./validate.ts";

/** Settings of a live feed (the broker's defaults: see BrokerOptions). */
export interface LiveFeedOptions {
  /** A stream's buffer, in events and in bytes of JSON. */
  readonly streamBuffer: number;
  readonly streamBufferBytes: number;
  /** Most open streams. */
  readonly maxStreams: number;
  readonly clock: Clock;
  readonly newId: () => string;
  /** The recent events, which streams resume from. */
  readonly log: EventLog;
  /** Where every stream's buffer is counted. */
  readonly streamsMemory: MemoryPart;
}

export class LiveFeed {
  /** Events taken into stream buffers, and events dropped by full ones. */
  readonly stats = { streamDeliveries: 0, drops: 0 };
  readonly #options: LiveFeedOptions;
  readonly #streams = new Map<string, StreamSubscription>();
  readonly #index = new TypeIndex<StreamSubscription>();
  readonly #buffers: StreamBuffers;
  #lastSeq = 0;

  constructor(options: LiveFeedOptions) {
    this.#options = options;
    this.#buffers = new StreamBuffers(options.streamsMemory);
  }

  /** The seq of the last event appended (0 before any). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Open streams now. */
  get count(): number {
    return this.#streams.size;
  }

  /** Bytes stream readers handed on to their runtime and have not come back for (at most one write each). */
  get handedBytes(): number {
    return this.#buffers.handedBytes;
  }

  /** Keeps events that follow on from the last (the log starts again after a jump) and offers them to every stream that selects them. */
  append(events: readonly AcceptedEvent[], attributesOf: (event: AcceptedEvent) => Attributes): void {
    if (events.length === 0) return;
    this.#lastSeq = events[events.length - 1].seq;
    this.#options.log.append(events);
    const fanout = { skip: (sub: StreamSubscription) => sub.paused, filterOf: (sub: StreamSubscription) => sub.selector.filter, attributesOf };
    for (const [sub, unit] of unitsFor(events, this.#index, fanout)) {
      const kept = sub.offer(unit);
      this.stats.streamDeliveries += kept;
      this.stats.drops += unit.count - kept;
    }
  }

  /** Takes the last seq of a log that was kept before this feed started (a restart), with nothing to append. */
  resumeAt(lastSeq: number): void {
    this.#lastSeq = Math.max(this.#lastSeq, lastSeq);
  }

  /** Up to `max` kept events after `afterSeq`, and a gap where they are gone. */
  read(afterSeq: number, max: number): LogRead {
    return this.#options.log.readAfter(afterSeq, max);
  }

  /** An event still kept, if it is. */
  eventAt(seq: number): AcceptedEvent | undefined {
    const [event] = this.#options.log.readAfter(seq - 1, 1).events;
    return event?.seq === seq ? event : undefined;
  }

  /**
   * Opens a stream: events appended from now on, after a replay of the kept ones following
   * `since` when given. A resume point past the last seq is an id of an earlier run: the
   * reader is told, and everything kept is replayed. Throws ValidationError for a bad spec,
   * TooManySubscriptionsError past `maxStreams`.
   */
  open(spec: StreamSpec, owner?: string): StreamSubscription {
    const { types, filters, since } = parseOrThrow(streamSpecSchema, spec);
    const { maxStreams, streamBuffer, streamBufferBytes, newId, clock, log } = this.#options;
    if (this.#streams.size >= maxStreams) throw new TooManySubscriptionsError("stream", maxStreams);
    const reset = since !== undefined && since > this.#lastSeq;
    const replay = since === undefined ? undefined : reset ? { afterSeq: 0, untilSeq: this.#lastSeq, reset: { asked: since } } : { afterSeq: since, untilSeq: this.#lastSeq };
    const limits = { maxEvents: streamBuffer, maxBytes: streamBufferBytes };
    const stream = new StreamSubscription(newId(), new Selector(types, filters), clock.now(), limits, log, this.#buffers, replay);
    stream.owner = owner;
    this.#streams.set(stream.id, stream);
    this.#index.add(stream, stream.types);
    return stream;
  }

  has(id: string): boolean {
    return this.#streams.has(id);
  }

  get(id: string): StreamSubscription | undefined {
    return this.#streams.get(id);
  }

  list(): StreamSubscription[] {
    return [...this.#streams.values()];
  }

  /** Ends a stream: its reader gets a closing notice with `reason`. False when there is none. */
  close(id: string, reason: string): boolean {
    const stream = this.#streams.get(id);
    if (!stream) return false;
    this.#streams.delete(id);
    this.#index.remove(stream, stream.types);
    stream.close(reason);
    return true;
  }

  /** Ends every stream, each reader told `reason`. */
  closeAll(reason: string): void {
    for (const id of [...this.#streams.keys()]) this.close(id, reason);
  }
}
