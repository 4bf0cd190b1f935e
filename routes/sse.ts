/**
 * Server-Sent Events framing, the connection that drains one stream subscription, and the
 * hub that decides when connections write. Each write holds everything the subscription
 * has ready; each event is framed and encoded once, for every stream it reaches.
 */
import { type AcceptedEvent, isNotice, type MemoryPart, type StreamItem, type StreamNotice, type StreamSubscription } from "../src/broker/mod.ts";

/** Headers of every event stream; `X-Accel-Buffering: no` stops nginx buffering it. */
export const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache",
  "X-Accel-Buffering": "no",
} as const;

const utf8 = new TextEncoder();
const PING = ": ping\n\n";
/**
 * Most bytes of events in one write: what the runtime holds for a stalled reader is one
 * write, so this bounds it; a reader that keeps up gets the rest on its next pull. An
 * event larger than this is written a slice of this size at a time.
 */
export const MAX_WRITE_BYTES = 262_144;
/** Share of the streams' part of the memory budget that frames kept for streams to share may take. */
const FRAME_CACHE_SHARE = 0.25;

/** A named SSE message, for broker notices (EventSource's `onmessage` ignores them). */
export function namedMessage(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

function noticeMessage(notice: StreamNotice): string {
  const { kind, ...data } = notice;
  return namedMessage(`broker.${kind}`, data);
}

/** Frames items (and a ping) into one chunk. Event types are `[A-Za-z0-9._:-]`, so no field can break a line. */
export function encodeItems(items: readonly StreamItem[], named: boolean, ping: boolean, frames: FrameCache): Uint8Array {
  const parts = items.map((item) => (isNotice(item) ? utf8.encode(noticeMessage(item)) : frames.frameOf(item, named)));
  if (ping) parts.push(utf8.encode(PING));
  if (parts.length === 1) return parts[0];
  const chunk = new Uint8Array(parts.reduce((length, part) => length + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    chunk.set(part, offset);
    offset += part.length;
  }
  return chunk;
}

/**
 * The SSE frames of the most recent events, so that a thousand streams waking for the
 * same event write one shared frame instead of framing it a thousand times. Frames are
 * only read, never changed, once made. Bounded: one frame per slot and kind, and a
 * quarter of the streams' part of the memory budget in all (where they are counted), the
 * oldest forgotten first; a frame that does not fit is made for its caller alone.
 */
export class FrameCache {
  readonly #slots: ({ event: AcceptedEvent; plain?: Uint8Array; named?: Uint8Array } | undefined)[] = new Array(1_024);
  /** Cached frames, oldest first, with where they are. */
  readonly #order: { index: number; event: AcceptedEvent; named: boolean; bytes: number }[] = [];
  #bytes = 0;
  readonly #maxBytes: number;

  constructor(private readonly memory?: MemoryPart) {
    this.#maxBytes = memory ? memory.limit * FRAME_CACHE_SHARE : 4 * 1_048_576;
  }

  frameOf(event: AcceptedEvent, named: boolean): Uint8Array {
    const index = event.seq % this.#slots.length;
    let slot = this.#slots[index];
    if (slot?.event !== event) this.#slots[index] = slot = { event };
    const cached = named ? slot.named : slot.plain;
    if (cached) return cached;
    const made = frame(event, named);
    if (made.length > this.#maxBytes) return made;
    while (this.#bytes + made.length > this.#maxBytes) this.#forgetOldest();
    if (named) slot.named = made;
    else slot.plain = made;
    this.#order.push({ index, event, named, bytes: made.length });
    this.#bytes += made.length;
    this.memory?.take(made.length);
    return made;
  }

  #forgetOldest(): void {
    const { index, event, named, bytes } = this.#order.shift()!;
    const slot = this.#slots[index];
    if (slot?.event === event) {
      if (named) slot.named = undefined;
      else slot.plain = undefined;
    }
    this.#bytes -= bytes;
    this.memory?.release(bytes);
  }
}

function frame(event: AcceptedEvent, named: boolean): Uint8Array {
  const prefix = named ? `event: ${event.type}\nid: ${event.seq}\ndata: ` : `id: ${event.seq}\ndata: `;
  return utf8.encode(`${prefix}${event.json}\n\n`);
}

/** A frame too large for one write, handed on a slice at a time: views of it, never copies. */
class SlicedFrame {
  #offset = 0;

  constructor(private readonly frame: Uint8Array) {}

  get done(): boolean {
    return this.#offset >= this.frame.length;
  }

  /** The next slice, of at most `MAX_WRITE_BYTES`. */
  next(): Uint8Array {
    const slice = this.frame.subarray(this.#offset, this.#offset + MAX_WRITE_BYTES);
    this.#offset += slice.length;
    return slice;
  }
}

export interface SseOptions {
  /** Sent first, as `retry:`: how long EventSource waits before reconnecting (ms). */
  readonly retryMs: number;
  /** Adds `event: <type>` to each event. */
  readonly named: boolean;
  /** Called once when the connection ends, however it ends. */
  readonly onEnd: () => void;
  /** Frames shared by every connection of the hub. */
  readonly frames: FrameCache;
}

/**
 * One open event stream. It writes only when the runtime has taken its last chunk, so a
 * slow reader leaves events in the subscription's bounded buffer, and it ends after the
 * closing notice. When to write is the hub's call: see `SseHub`.
 */
export class SseConnection {
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  /** The runtime asked for a chunk that has not been written yet. */
  #wanted = false;
  #pingDue = false;
  #ended = false;
  /** An event too large for one write, part written. */
  #sliced: SlicedFrame | null = null;

  constructor(readonly subscription: StreamSubscription, private readonly options: SseOptions, private readonly writeSoon: () => void) {
    subscription.onReadable = writeSoon;
  }

  /** Asks for a `: ping` comment with the next write, so idle proxies keep the stream. */
  ping(): void {
    this.#pingDue = true;
    this.writeSoon();
  }

  /**
   * The response body. On Deno every JavaScript body stream costs about the same, 32 KiB of
   * it a fixed ring Deno copies it through (bench/README.md, "Idle streams on Deno"); a pull
   * source is what tells the connection that the runtime has taken its last chunk.
   */
  body(): ReadableStream<Uint8Array> {
    const preamble = `retry: ${this.options.retryMs}\n\n` + namedMessage("broker.subscribed", { id: this.subscription.id });
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
        controller.enqueue(utf8.encode(preamble));
      },
      pull: () => {
        this.#wanted = true;
        this.write();
      },
      cancel: () => this.end(),
    }, { highWaterMark: 0 });
  }

  /**
   * Writes what the subscription has ready, up to `MAX_WRITE_BYTES` of events, as one
   * chunk, if the runtime wants one; or the next slice of a large event.
   */
  write(): void {
    const controller = this.#controller;
    if (!this.#wanted || controller === null || this.#ended) return;
    const chunks = this.#sliced ? [this.#nextSlice()] : this.#nextChunks();
    if (chunks.length === 0) return;
    this.#wanted = false;
    try {
      for (const chunk of chunks) controller.enqueue(chunk);
      this.subscription.handed(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
      if (this.subscription.finished && !this.#sliced) {
        controller.close();
        this.end();
      }
    } catch {
      this.end(); // the client is gone and the runtime already cancelled the stream
    }
  }

  /** What the subscription has ready: framed items, then the first slice of a large event if one comes. */
  #nextChunks(): Uint8Array[] {
    const items = this.subscription.read(MAX_WRITE_BYTES);
    const large = items.findIndex((item) => !isNotice(item) && item.size > MAX_WRITE_BYTES);
    const framed = large === -1 ? items : items.slice(0, large);
    const chunks = framed.length > 0 || this.#pingDue ? [encodeItems(framed, this.options.named, this.#pingDue, this.options.frames)] : [];
    this.#pingDue = false;
    if (large !== -1) {
      this.#sliced = new SlicedFrame(this.options.frames.frameOf(items[large] as AcceptedEvent, this.options.named));
      chunks.push(this.#nextSlice());
    }
    return chunks;
  }

  #nextSlice(): Uint8Array {
    const slice = this.#sliced!.next();
    if (this.#sliced!.done) this.#sliced = null;
    return slice;
  }

  /** Idempotent: the client left, the stream finished, or the runtime signalled late. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.subscription.release();
    this.options.onEnd();
  }
}

/**
 * Every open connection. Connections with something to write are written once per turn of
 * the event loop, after the requests that turn brought: when publishes arrive faster than
 * a thousand streams can be written, each stream gets one write holding all of them
 * instead of one write per event, so a backlog drains in one pass instead of growing.
 */
export class SseHub {
  readonly #connections = new Set<SseConnection>();
  #due = new Set<SseConnection>();
  #writeScheduled = false;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #drained: (() => void) | null = null;
  readonly #frames: FrameCache;

  /** @param memory the streams' part of the memory budget, where shared frames are counted. */
  constructor(heartbeatMs: number, memory?: MemoryPart) {
    this.#frames = new FrameCache(memory);
    this.#heartbeat = setInterval(() => this.#connections.forEach((connection) => connection.ping()), heartbeatMs);
  }

  /** A connection for `subscription`, held until it ends. */
  open(subscription: StreamSubscription, options: Omit<SseOptions, "frames">): SseConnection {
    const connection: SseConnection = new SseConnection(subscription, {
      ...options,
      frames: this.#frames,
      onEnd: () => {
        this.#connections.delete(connection);
        options.onEnd();
        if (this.#connections.size === 0) this.#drained?.();
      },
    }, () => this.#writeSoon(connection));
    this.#connections.add(connection);
    return connection;
  }

  #writeSoon(connection: SseConnection): void {
    this.#due.add(connection);
    if (this.#writeScheduled) return;
    this.#writeScheduled = true;
    setImmediate(() => this.#writeDue());
  }

  #writeDue(): void {
    const due = this.#due;
    this.#due = new Set();
    this.#writeScheduled = false;
    for (const connection of due) connection.write();
  }

  /** Resolves once every connection has ended, or after `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    clearInterval(this.#heartbeat);
    if (this.#connections.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => (this.#drained = resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
}
