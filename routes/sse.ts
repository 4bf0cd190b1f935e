/**
 * Server-Sent Events framing, the connection that drains one stream subscription, and the
 * hub that decides when connections write. Each write holds everything the subscription
 * has ready; each event is framed and encoded once, for every stream it reaches.
 */
import { type AcceptedEvent, isNotice, type StreamItem, type StreamNotice, type StreamSubscription } from "../src/broker/mod.ts";

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
 * write, so this bounds it; a reader that keeps up gets the rest on its next pull.
 */
const MAX_WRITE_BYTES = 65_536;

/** A named SSE message, for broker notices (EventSource's `onmessage` ignores them). */
export function namedMessage(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

function noticeMessage(notice: StreamNotice): string {
  const { kind, ...data } = notice;
  return namedMessage(`broker.${kind}`, data);
}

/** Frames items (and a ping) into one chunk. Event types are `[A-Za-z0-9._:-]`, so no field can break a line. */
export function encodeItems(items: readonly StreamItem[], named: boolean, ping: boolean): Uint8Array {
  const parts = items.map((item) => (isNotice(item) ? utf8.encode(noticeMessage(item)) : recentFrames.frameOf(item, named)));
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
 * only read, never changed, once made. Bounded: one frame per slot and kind.
 */
class RecentFrames {
  readonly #slots: ({ event: AcceptedEvent; plain?: Uint8Array; named?: Uint8Array } | undefined)[] = new Array(1_024);

  frameOf(event: AcceptedEvent, named: boolean): Uint8Array {
    const index = event.seq % this.#slots.length;
    let slot = this.#slots[index];
    if (slot?.event !== event) this.#slots[index] = slot = { event };
    if (named) return (slot.named ??= frame(event, true));
    return (slot.plain ??= frame(event, false));
  }
}

const recentFrames = new RecentFrames();

function frame(event: AcceptedEvent, named: boolean): Uint8Array {
  const prefix = named ? `event: ${event.type}\nid: ${event.seq}\ndata: ` : `id: ${event.seq}\ndata: `;
  return utf8.encode(`${prefix}${event.json}\n\n`);
}

export interface SseOptions {
  /** Sent first, as `retry:`: how long EventSource waits before reconnecting (ms). */
  readonly retryMs: number;
  /** Adds `event: <type>` to each event. */
  readonly named: boolean;
  /** Called once when the connection ends, however it ends. */
  readonly onEnd: () => void;
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

  constructor(readonly subscription: StreamSubscription, private readonly options: SseOptions, private readonly writeSoon: () => void) {
    subscription.onReadable = writeSoon;
  }

  /** Asks for a `: ping` comment with the next write, so idle proxies keep the stream. */
  ping(): void {
    this.#pingDue = true;
    this.writeSoon();
  }

  /** The response body. */
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

  /** Writes what the subscription has ready, up to `MAX_WRITE_BYTES` of events, as one chunk, if the runtime wants one. */
  write(): void {
    const controller = this.#controller;
    if (!this.#wanted || controller === null) return;
    if (this.#ended) return;
    const items = this.subscription.read(MAX_WRITE_BYTES);
    if (items.length === 0 && !this.#pingDue) return;
    const chunk = encodeItems(items, this.options.named, this.#pingDue);
    this.#wanted = false;
    this.#pingDue = false;
    try {
      controller.enqueue(chunk);
      this.subscription.handed(chunk.length);
      if (this.subscription.finished) {
        controller.close();
        this.end();
      }
    } catch {
      this.end(); // the client is gone and the runtime already cancelled the stream
    }
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

  constructor(heartbeatMs: number) {
    this.#heartbeat = setInterval(() => this.#connections.forEach((connection) => connection.ping()), heartbeatMs);
  }

  /** A connection for `subscription`, held until it ends. */
  open(subscription: StreamSubscription, options: SseOptions): SseConnection {
    const connection: SseConnection = new SseConnection(subscription, {
      ...options,
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
