/**
 * A typed client for the broker, on nothing but `fetch`: runs in Bun, Deno, Node and
 * browsers. Streams reconnect with `Last-Event-ID`; consumers piggyback acks and keep
 * their lease while the handler works.
 */
import { type ConsumeOptions, consumeLoop, EPHEMERAL_EXPIRE_AFTER_MS } from "./consume.ts";
import { BrokerRequestError, BrokerUnreachableError, type Problem, reasonOf } from "./errors.ts";
import { reconnectingStream, type StreamMessage, type StreamOptions } from "./stream.ts";

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

export interface SubscriptionInfo {
  readonly id: string;
  readonly kind: "required" | "stream";
  readonly types: string[];
  readonly ackTimeoutMs?: number;
  readonly expireAfterMs?: number;
  readonly [counter: string]: unknown;
}

/** A CloudEvents Subscriptions API filter: `{"prefix":{"subject":"orders/"}}`, `exact`, `suffix`, `all`, `any`, `not`. */
export type EventFilter = Readonly<Record<string, unknown>>;

/** What `read()` answers: the events selected, how far it read, and the broker's last seq. */
export interface EventPage {
  readonly events: DeliveredEvent[];
  readonly through: number;
  readonly lastSeq: number;
  readonly gap?: { readonly from: number; readonly to: number };
}

/** What `subscribe()` takes: see "Required subscribers" in the API contract. */
export interface SubscriptionSpec {
  readonly types?: readonly string[];
  readonly filters?: readonly EventFilter[];
  readonly name?: string;
  readonly ackTimeoutMs?: number;
  readonly maxBacklog?: number;
  readonly expireAfterMs?: number;
  readonly maxDeliveries?: number;
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

/**
 * Every call throws BrokerRequestError when the broker refuses, and
 * BrokerUnreachableError when it cannot be reached.
 */
export class BrokerClient {
  readonly #url: string;
  readonly #token?: string;
  readonly #fetch: Fetch;

  constructor(options: ClientOptions) {
    this.#url = options.url.replace(/\/$/, "");
    this.#token = options.token;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** Publishes one event, or a batch atomically. */
  publish(events: EventToPublish | readonly EventToPublish[]): Promise<PublishResult> {
    return this.#json("POST", "/events", events);
  }

  /** Kept events after `after`, a page at a time (`limit` examined), selected by types and filters. */
  read(options: { after?: number; limit?: number; types?: readonly string[]; filters?: readonly EventFilter[] } = {}): Promise<EventPage> {
    const query = new URLSearchParams({ after: String(options.after ?? 0), limit: String(options.limit ?? 1_000) });
    if (options.types?.length) query.set("types", options.types.join(","));
    if (options.filters?.length) query.set("filter", JSON.stringify(options.filters));
    return this.#json("GET", `/events?${query}`);
  }

  /** Creates a durable required subscription: it lasts until deleted or idle for `expireAfterMs`. */
  subscribe(spec: SubscriptionSpec): Promise<SubscriptionInfo> {
    return this.#json("POST", "/subscriptions", spec);
  }

  subscription(id: string): Promise<SubscriptionInfo> {
    return this.#json("GET", `/subscriptions/${encodeURIComponent(id)}`);
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
   * Live events as an async iterator, until `signal` aborts. Throws when the first
   * connection fails; after that, reconnects (yielding `reconnecting` messages) and
   * resumes after the last seq seen, up to `maxReconnects` failures in a row.
   */
  stream(options: StreamOptions = {}): AsyncGenerator<StreamMessage> {
    return reconnectingStream((lastSeq) => this.#openStream(options, lastSeq), this.#url, options);
  }

  #openStream(options: StreamOptions, lastSeq: number | undefined): Promise<Response> {
    const query = new URLSearchParams();
    if (options.types?.length) query.set("types", options.types.join(","));
    if (options.filters?.length) query.set("filter", JSON.stringify(options.filters));
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (lastSeq !== undefined) headers["last-event-id"] = String(lastSeq);
    return this.#request("GET", `/events/stream?${query}`, undefined, options.signal, headers);
  }

  /**
   * Pulls and handles events until `signal` aborts: acks ride on the next pull, the
   * lease is extended while the handler works, and a failed event is nacked.
   *
   * With `subscription`, consumes that durable subscription and leaves it in place.
   * With `types` instead, creates an ephemeral subscription for this call alone: it sees
   * events accepted from its creation on, and is deleted when the call ends, however it
   * ends (or, if the process dies, by the broker once idle for 30 s).
   */
  async consume(options: ConsumeOptions): Promise<void> {
    if (options.subscription !== undefined && options.types !== undefined) {
      throw new TypeError("consume() takes subscription (a durable one) or types (an ephemeral one), not both");
    }
    if (options.subscription !== undefined) return consumeLoop(this, await this.subscription(options.subscription), options);
    const ephemeral = await this.subscribe({ types: options.types ?? ["*"], expireAfterMs: EPHEMERAL_EXPIRE_AFTER_MS });
    try {
      await consumeLoop(this, ephemeral, options);
    } finally {
      // If the broker cannot be reached now, its idle expiry removes the subscription.
      await this.unsubscribe(ephemeral.id).catch(() => {});
    }
  }

  async #json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return (await this.#request(method, path, body, signal)).json() as Promise<T>;
  }

  async #request(method: string, path: string, body?: unknown, signal?: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal };
    const response = await this.#fetch(this.#url + path, init).catch((error) => {
      if (signal?.aborted) throw error;
      throw new BrokerUnreachableError(this.#url, `cannot reach the broker at ${this.#url}: ${reasonOf(error)}`, { cause: error });
    });
    if (response.ok) return response;
    throw new BrokerRequestError(response.status, await problemOf(response));
  }
}

async function problemOf(response: Response): Promise<Problem> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { type: "about:blank", title: response.statusText, status: response.status, detail: text };
  }
}
