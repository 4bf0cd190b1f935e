/** A live stream over Server-Sent Events that reconnects with `Last-Event-ID` when dropped. */
import type { DeliveredEvent } from "./client.ts";
import { BrokerRequestError, BrokerUnreachableError, reasonOf } from "./errors.ts";
import { SseParser } from "./sse-parser.ts";

/** What a stream yields: events, the broker's notices, and the client's own reconnect attempts. */
export type StreamMessage =
  | { readonly kind: "event"; readonly event: DeliveredEvent }
  | { readonly kind: "subscribed"; readonly id: string }
  | { readonly kind: "dropped"; readonly count: number; readonly from: number; readonly to: number }
  | { readonly kind: "gap"; readonly from: number; readonly to: number }
  | { readonly kind: "reset"; readonly asked: number; readonly lastSeq: number }
  | { readonly kind: "closing"; readonly reason: string }
  | { readonly kind: "reconnecting"; readonly attempt: number; readonly delayMs: number; readonly reason: string };

export interface StreamOptions {
  readonly types?: readonly string[];
  /** CloudEvents Subscriptions API filters, ANDed with `types`. */
  readonly filters?: readonly Readonly<Record<string, unknown>>[];
  /** Resume after this seq (from the broker's kept history). */
  readonly since?: number;
  readonly signal?: AbortSignal;
  /** Wait before reconnecting (ms; the broker's `retry:` overrides it). */
  readonly retryMs?: number;
  /** Failed reconnects in a row before the stream throws BrokerUnreachableError (unlimited by default). */
  readonly maxReconnects?: number;
}

/** Opens the stream resuming after `lastSeq`; rejects with BrokerRequestError or BrokerUnreachableError. */
export type OpenStream = (lastSeq: number | undefined) => Promise<Response>;

/**
 * The first connection is not retried (its failure is thrown, as `nats.connect()` does);
 * once connected, a dropped or ended stream is reopened after the last seq seen.
 */
export async function* reconnectingStream(open: OpenStream, url: string, options: StreamOptions): AsyncGenerator<StreamMessage> {
  const state = { lastSeq: options.since, retryMs: options.retryMs ?? 2_000 };
  let response: Response | undefined = await open(state.lastSeq).catch((error) => {
    if (options.signal?.aborted) return undefined;
    throw error;
  });
  while (response) {
    let reason = "the broker ended the stream";
    try {
      for await (const message of readMessages(response, (ms) => (state.retryMs = ms))) {
        if (message.kind === "event") state.lastSeq = message.event.seq;
        yield message;
      }
    } catch (error) {
      reason = reasonOf(error);
    }
    response = yield* reopen(open, url, options, state, reason);
  }
}

/** Yields each attempt, and returns the new response, or undefined once aborted. */
async function* reopen(open: OpenStream, url: string, options: StreamOptions, state: { lastSeq?: number; retryMs: number }, reason: string): AsyncGenerator<StreamMessage, Response | undefined> {
  const maxReconnects = options.maxReconnects ?? Infinity;
  for (let attempt = 1; !options.signal?.aborted; attempt++) {
    if (attempt > maxReconnects) {
      throw new BrokerUnreachableError(url, `lost the stream from ${url} and ${maxReconnects} reconnects in a row failed: ${reason}`);
    }
    yield { kind: "reconnecting", attempt, delayMs: state.retryMs, reason };
    await sleep(state.retryMs, options.signal);
    if (options.signal?.aborted) break;
    try {
      return await open(state.lastSeq);
    } catch (error) {
      if (error instanceof BrokerRequestError && !error.retryable) throw error;
      reason = reasonOf(error);
    }
  }
  return undefined;
}

async function* readMessages(response: Response, setRetry: (ms: number) => void): AsyncGenerator<StreamMessage> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    for (const message of parser.feed(decoder.decode(chunk, { stream: true }))) {
      if (message.retry !== undefined) setRetry(message.retry);
      const parsed = toStreamMessage(message.event, message.data);
      if (parsed) yield parsed;
    }
  }
}

const NOTICE_KINDS: Record<string, StreamMessage["kind"]> = {
  "broker.subscribed": "subscribed",
  "broker.dropped": "dropped",
  "broker.gap": "gap",
  "broker.reset": "reset",
  "broker.closing": "closing",
};

function toStreamMessage(name: string | undefined, data: string): StreamMessage | undefined {
  if (data === "") return undefined;
  if (name === undefined) return { kind: "event", event: JSON.parse(data) };
  const kind = NOTICE_KINDS[name];
  return kind === undefined ? undefined : { kind, ...JSON.parse(data) };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
