/**
 * Accepting connections one at a time and serving each on its own, for a runtime whose
 * server has no idle timer and whose accept loop dies when the process runs out of file
 * descriptors (Deno 2.9's `Deno.serve`). Each connection is timed by a ConnectionWatch.
 * A connection accepted while `maxConnections` are open waits for room: for one to end, or
 * to take the place of the one idle longest once that has idled a second (so a flood of
 * connections that send nothing cannot lock others out); after two seconds without room
 * it is closed. When accept fails (out of descriptors), it is tried again shortly.
 */
import { type ConnectionTimer, ConnectionWatch } from "./connection-watch.ts";

/** One connection being served. */
export interface ServedConnection {
  /** Settles once the connection has ended. */
  readonly finished: Promise<void>;
  /** Closes the connection once no request on it is in flight; at once when none is. */
  shutdown(): Promise<void>;
}

/**
 * Serves one connection until `signal` aborts it, calling `handle` for each request with a
 * way to learn when its answer has been delivered.
 */
export type ServeConnection<C> = (
  connection: C,
  signal: AbortSignal,
  handle: (request: Request, whenDelivered: () => Promise<unknown>) => Promise<Response>,
) => ServedConnection;

export type Handler = (request: Request, timer: ConnectionTimer) => Promise<Response>;

export interface Listener<C> {
  accept(): Promise<C>;
  close(): void;
}

export interface AcceptLoopOptions {
  readonly maxConnections: number;
  /** See ConnectionWatch. */
  readonly idleTimeoutMs: number;
  readonly warn?: (line: string) => void;
}

/** How long accepting waits before trying again after it failed, or looking again for room. */
const RETRY_MS = 50;
/** A connection idle this long may be closed to make room for a new one. */
const IDLE_BEFORE_EVICTION_MS = 1_000;
/** How long a new connection waits for room before it is closed. */
const ROOM_WAIT_MS = 2_000;

export class AcceptLoop<C extends { close(): void }> {
  readonly #open = new Map<ServedConnection, ConnectionWatch>();
  #listener: Listener<C> | null = null;
  #failing = false;

  constructor(private readonly options: AcceptLoopOptions) {}

  /** Accepts from `listener` until `stop()`, serving each connection with `serve` and each request with `handle`. */
  async run(listener: Listener<C>, serve: ServeConnection<C>, handle: Handler): Promise<void> {
    this.#listener = listener;
    while (this.#listener) {
      try {
        const connection = await listener.accept();
        this.#failing = false;
        if (await this.#madeRoom()) this.#serve(connection, serve, handle);
        else connection.close();
      } catch (error) {
        if (this.#listener) await this.#acceptFailed(error);
      }
    }
  }

  /** Stops accepting; open connections go on. */
  stop(): void {
    this.#listener?.close();
    this.#listener = null;
  }

  /** Closes every connection once its requests are answered; resolves when all have ended. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#open.keys()].map((connection) => {
      connection.shutdown().catch(() => {});
      return connection.finished.catch(() => {});
    }));
  }

  /** Whether there is room for one more connection, now or within ROOM_WAIT_MS. */
  async #madeRoom(): Promise<boolean> {
    for (let waitedMs = 0; waitedMs < ROOM_WAIT_MS; waitedMs += RETRY_MS) {
      if (this.#open.size < this.options.maxConnections || this.#closeIdlest()) return true;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
    return false;
  }

  /** Closes the connection idle longest, if for long enough; whether it did. */
  #closeIdlest(): boolean {
    let idlest: [ServedConnection, ConnectionWatch] | undefined;
    for (const entry of this.#open) {
      const since = entry[1].idleSince;
      if (since !== undefined && since < (idlest?.[1].idleSince ?? Infinity)) idlest = entry;
    }
    if (!idlest || performance.now() - idlest[1].idleSince! < IDLE_BEFORE_EVICTION_MS) return false;
    this.#open.delete(idlest[0]);
    idlest[1].closeWhenIdle();
    return true;
  }

  async #acceptFailed(error: unknown): Promise<void> {
    if (!this.#failing) this.options.warn?.(`warning: accepting a connection failed (${String(error)}); retrying while ${this.#open.size} are open`);
    this.#failing = true;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }

  #serve(connection: C, serve: ServeConnection<C>, handle: Handler): void {
    const abort = new AbortController();
    const watch = new ConnectionWatch(this.options.idleTimeoutMs, () => void served.shutdown().catch(() => {}), () => cut(abort));
    const served = serve(connection, abort.signal, (request, whenDelivered) => watch.answer(request, whenDelivered, handle));
    this.#open.set(served, watch);
    served.finished.catch(() => {}).then(() => {
      watch.stop();
      this.#open.delete(served);
    });
  }
}

let cutting = false;
let guarded = false;

/**
 * Aborts a connection's serving. Deno 2.9's abort listener cancels the connection's
 * resource, and throws BadResource when a graceful close (or the client) released it
 * first; a listener's throw is reported as uncaught, which ends the process. That one
 * throw, during this call, is let go: the connection is gone already.
 */
function cut(abort: AbortController): void {
  if (!guarded) {
    guarded = true;
    globalThis.addEventListener("error", (event) => {
      if (cutting && (event as ErrorEvent).error?.name === "BadResource") event.preventDefault();
    });
  }
  cutting = true;
  try {
    abort.abort();
  } finally {
    cutting = false;
  }
}
