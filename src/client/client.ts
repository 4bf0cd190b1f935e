/**
 * A typed client for the broker, on nothing but `fetch`: runs in Bun, Deno, Node and
 * browsers. Streams reconnect with `Last-Event-ID`; consumers piggyback acks and keep
 * their lease while the handler works.
 */
import { BrokerRequestError, type Problem } from "./errors.ts";
import { SseParser } from "./sse-parser.ts";

/** An event as the broker delivers it: CloudEvents 1.0 plus `seq` (and `deliveries` when pulled). */
export interface DeliveredEvent {
  readonly specversion: "1.0";
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string;
  readonly seq: number;
  readonly deliveries?: number;
  readonly data?: unknown;
  readonly [attribute: string]: unknown;
}

/** What a producer sends: `type` and whatever CloudEvents attributes it wants to set. */
export interface EventToPublish {
  readonly type: string;
  readonly data?: unknown;
  readonly id?: string;
  readonly source?: string;
  readonly [attribute: string]: unknown;
}

export interface PublishResult {
  readonly accepted: number;
  readonly first: number | null;
  readonly last: number | null;
  readonly duplicates?: number;
  readonly duplicateSeqs?: number[];
}

/** What a stream yields: events, and the broker's notices about them. */
export type StreamMessage =
  | { readonly kind: "event"; readonly event: DeliveredEvent }
  | { readonly kind: "dropped"; readonly count: number; readonly from: number; readonly to: number }
  | { readonly kind: "gap"; readonly from: number; readonly to: number }
  | { readonly kind: "closing"; readonly reason: string };

export interface SubscriptionInfo {
  readonly id: string;
  readonly kind: "required" | "stream";
  readonly types: string[];
  readonly ackTimeoutMs?: number;
  readonly [counter: string]: unknown;
}

export interface ClientOptions {
  /** Where the broker is, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  /** An access token, when the broker has access control on. */
  readonly token?: string;
  readonly fetch?: Fetch;
}

/** The part of `fetch` the client uses, so tests and runtimes may pass their own. */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export interface StreamOptions {
  readonly types?: readonly string[];
  /** Resume after this seq (from the broker's kept history). */
  readonly since?: number;
  readonly signal?: AbortSignal;
  /** Wait before reconnecting (ms; the broker's `retry:` overrides it). */
  readonly retryMs?: number;
}

export interface ConsumeOptions {
  /** An existing required subscription, or the types of a new one. */
  readonly subscription?: string;
  readonly types?: readonly string[];
  /** Events per pull (100) and the long-poll wait (30 s). */
  readonly max?: number;
  readonly waitMs?: number;
  /** Called for each event in order; when it throws, the event is nacked and delivered again. */
  readonly handler: (event: DeliveredEvent) => unknown | Promise<unknown>;
  readonly onError?: (error: unknown, event: DeliveredEvent) => void;
  readonly signal?: AbortSignal;
}

export class BrokerClient {
  readonly #url: string;
  readonly #token?: string;
  readonly #fetch: Fetch;

  constructor(options: ClientOptions) {
    this.#url = options.url.replace(/\/$/, "");
    this.#token = options.token;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** Publishes one event, or a batch atomically. Throws BrokerRequestError when refused. */
  publish(events: EventToPublish | readonly EventToPublish[]): Promise<PublishResult> {
    return this.#json("POST", "/events", events);
  }

  /** Creates a required subscription. */
  subscribe(spec: { types?: readonly string[]; name?: string; ackTimeoutMs?: number; maxBacklog?: number; expireAfterMs?: number; maxDeliveries?: number }): Promise<SubscriptionInfo> {
    return this.#json("POST", "/subscriptions", spec);
  }

  async unsubscribe(id: string): Promise<void> {
    await this.#request("DELETE", `/subscriptions/${encodeURIComponent(id)}`);
  }

  /** Long-polls a required subscription, acknowledging `ack` first when given. */
  async pull(id: string, options: { max?: number; waitMs?: number; ack?: number; signal?: AbortSignal } = {}): Promise<DeliveredEvent[]> {
    const { signal, ...body } = options;
    const answer = await this.#json<{ events: DeliveredEvent[] }>("POST", `/subscriptions/${encodeURIComponent(id)}/pull`, body, signal);
    return answer.events;
  }

  ack(id: string, seq: number): Promise<{ ackedSeq: number; backlog: number }> {
    return this.#json("POST", `/subscriptions/${encodeURIComponent(id)}/ack`, { seq });
  }

  nack(id: string, seq: number): Promise<{ ackedSeq: number; backlog: number }> {
    return this.#json("POST", `/subscriptions/${encodeURIComponent(id)}/nack`, { seq });
  }

  extend(id: string, ms: number): Promise<{ leaseExpiresAt: string }> {
    return this.#json("POST", `/subscriptions/${encodeURIComponent(id)}/extend`, { ms });
  }

  /**
   * Live events as an async iterator. Reconnects after network errors and server
   * restarts, resuming after the last seq seen; ends when `signal` aborts.
   */
  async *stream(options: StreamOptions = {}): AsyncGenerator<StreamMessage> {
    let lastSeq = options.since;
    let retryMs = options.retryMs ?? 2_000;
    while (!options.signal?.aborted) {
      try {
        for await (const message of this.#connectStream(options, lastSeq, (ms) => (retryMs = ms))) {
          if (message.kind === "event") lastSeq = message.event.seq;
          yield message;
        }
      } catch (error) {
        if (error instanceof BrokerRequestError && !error.retryable) throw error;
        if (options.signal?.aborted) return;
      }
      await sleep(retryMs, options.signal);
    }
  }

  async *#connectStream(options: StreamOptions, lastSeq: number | undefined, setRetry: (ms: number) => void): AsyncGenerator<StreamMessage> {
    const query = new URLSearchParams();
    if (options.types?.length) query.set("types", options.types.join(","));
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (lastSeq !== undefined) headers["last-event-id"] = String(lastSeq);
    const response = await this.#request("GET", `/events/stream?${query}`, undefined, options.signal, headers);
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

  /**
   * Pulls and handles events until `signal` aborts: acks ride on the next pull, the
   * lease is extended while the handler works, and a failed event is nacked.
   */
  async consume(options: ConsumeOptions): Promise<void> {
    const subscription = options.subscription
      ? await this.#json<SubscriptionInfo>("GET", `/subscriptions/${encodeURIComponent(options.subscription)}`)
      : await this.subscribe({ types: options.types ?? ["*"] });
    const leaseMs = subscription.ackTimeoutMs ?? 30_000;
    let ack: number | undefined;
    while (!options.signal?.aborted) {
      let events: DeliveredEvent[];
      try {
        events = await this.pull(subscription.id, { max: options.max ?? 100, waitMs: options.waitMs ?? 30_000, ack, signal: options.signal });
      } catch (error) {
        if (options.signal?.aborted) break;
        throw error;
      }
      ack = undefined;
      const handled = await this.#keepLease(subscription.id, leaseMs, () => handleInOrder(events, options));
      if (handled.failed) await this.nack(subscription.id, handled.failed.seq);
      if (handled.lastDone !== undefined) ack = handled.lastDone;
    }
    if (ack !== undefined) await this.ack(subscription.id, ack);
  }

  async #keepLease<T>(id: string, leaseMs: number, work: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => this.extend(id, leaseMs).catch(() => {}), Math.max(1, Math.floor(leaseMs / 2)));
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  async #json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return (await this.#request(method, path, body, signal)).json() as Promise<T>;
  }

  async #request(method: string, path: string, body?: unknown, signal?: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const response = await this.#fetch(this.#url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    if (response.ok) return response;
    throw new BrokerRequestError(response.status, await problemOf(response));
  }
}

async function handleInOrder(events: readonly DeliveredEvent[], options: ConsumeOptions): Promise<{ lastDone?: number; failed?: DeliveredEvent }> {
  let lastDone: number | undefined;
  for (const event of events) {
    try {
      await options.handler(event);
      lastDone = event.seq;
    } catch (error) {
      options.onError?.(error, event);
      return { lastDone, failed: event };
    }
  }
  return { lastDone };
}

function toStreamMessage(name: string | undefined, data: string): StreamMessage | undefined {
  if (data === "") return undefined;
  if (name === undefined) return { kind: "event", event: JSON.parse(data) };
  const notice = JSON.parse(data);
  if (name === "broker.dropped") return { kind: "dropped", ...notice };
  if (name === "broker.gap") return { kind: "gap", ...notice };
  if (name === "broker.closing") return { kind: "closing", ...notice };
  return undefined;
}

async function problemOf(response: Response): Promise<Problem> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { type: "about:blank", title: response.statusText, status: response.status, detail: text };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
