import assert from "node:assert/strict";
import { type SseMessage, SseParser } from "../../src/client/mod.ts";
import { requestTo, type Target } from "./http.ts";
import { within } from "./wait.ts";

export type { SseMessage };

/** Reads SSE messages (and comments) from a response body as they arrive. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  readonly #parser = new SseParser();
  readonly #ready: SseMessage[] = [];
  /** Every raw byte read so far, decoded. */
  raw = "";

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** The next message, or null when the stream ended. */
  async next(): Promise<SseMessage | null> {
    while (this.#ready.length === 0) {
      const { done, value } = await this.#reader.read();
      if (done) return null;
      const text = this.#decoder.decode(value, { stream: true });
      this.raw += text;
      this.#ready.push(...this.#parser.feed(text));
    }
    return this.#ready.shift()!;
  }

  /** Messages until `stop` says so (inclusive), failing after `timeoutMs`. */
  async until(stop: (message: SseMessage) => boolean, timeoutMs = 3_000): Promise<SseMessage[]> {
    const messages: SseMessage[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)), timeoutMs);
    });
    try {
      for (;;) {
        const message = await Promise.race([this.next(), timeout]);
        if (message === null) throw new Error(`stream ended; got ${JSON.stringify(messages)}`);
        messages.push(message);
        if (stop(message)) return messages;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

/** Whether a message is an event (unnamed, as EventSource.onmessage sees it). */
export const isEvent = (message: SseMessage) => message.event === undefined && message.data !== "" && message.comment === undefined;

/**
 * Opens GET /events/stream`query` and reads its first two messages: the retry line and the
 * broker.subscribed notice, whose data names the stream's subscription `id`.
 */
export async function openStream(target: Target, query = "", init: RequestInit = {}) {
  const response = await requestTo(target, `/events/stream${query}`, init);
  if (response.status !== 200) assert.fail(`GET /events/stream${query} answered ${response.status}: ${await response.text()}`);
  const reader = new SseReader(response.body!);
  const retry = await within(reader.next(), 3_000, "the retry line");
  const subscribed = await within(reader.next(), 3_000, "broker.subscribed");
  assert.equal(subscribed?.event, "broker.subscribed", JSON.stringify(subscribed));
  return { response, reader, retry, subscribed, id: JSON.parse(subscribed!.data).id as string };
}
