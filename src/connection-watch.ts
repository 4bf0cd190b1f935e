/**
 * The idle timer of one connection, for a runtime that has none (Deno 2.9), with Bun's
 * rules: a connection must bring a complete request within `timeoutMs` of opening or of
 * its last answer, and a request must be answered within it unless it is held (a stream, a
 * waiting pull, a body watched for silence). Past it, a connection with nothing in flight
 * is closed, and one whose request is overdue is cut.
 */

/**
 * A connection's idle timer, which counts from a request's start (Bun's, and
 * ConnectionWatch's): held off for a request that may rightly take long, and given back.
 */
export interface ConnectionTimer {
  hold(request: Request): void;
  release(request: Request): void;
}

interface RequestState {
  held: boolean;
  /** Asks the runtime for a promise settled once the answer is delivered; asked only when needed, as Deno charges for it. */
  readonly whenDelivered: () => Promise<unknown>;
  delivered?: Promise<unknown>;
}

/** How long a connection answered `Connection: close` may stay open for its answer to be read. */
const CUT_AFTER_CLOSE_MS = 1_000;

export class ConnectionWatch implements ConnectionTimer {
  readonly #requests = new Map<Request, RequestState>();
  #inFlight = 0;
  #unheld = 0;
  #lastActive = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #cutTimer: ReturnType<typeof setTimeout> | undefined;
  #closeWhenIdle = false;
  /** Answered `Connection: close`: it ends soon (see #endAfter), whatever the idle rules say. */
  #ending = false;

  /** `close` ends the connection once idle; `cut` ends it now. */
  constructor(private readonly timeoutMs: number, private readonly close: () => void, private readonly cut: () => void) {
    this.#arm(timeoutMs);
  }

  /** `handle`'s answer to `request`, timed; an answer saying `Connection: close` ends the connection once delivered. */
  async answer(request: Request, whenDelivered: () => Promise<unknown>, handle: (request: Request, timer: ConnectionTimer) => Promise<Response>): Promise<Response> {
    const state: RequestState = { held: false, whenDelivered };
    this.#requests.set(request, state);
    this.#inFlight++;
    this.#unheld++;
    this.#touch();
    try {
      const response = await handle(request, this);
      if (response.headers.get("connection") === "close") this.#endAfter(state.delivered ??= state.whenDelivered(), request.body === null);
      return response;
    } finally {
      this.#requests.delete(request);
      if (state.held) state.delivered!.then(() => this.#ended(state), () => this.#ended(state));
      else this.#ended(state);
    }
  }

  hold(request: Request): void {
    const state = this.#requests.get(request);
    if (!state || state.held) return;
    state.held = true;
    state.delivered ??= state.whenDelivered();
    this.#unheld--;
  }

  release(request: Request): void {
    const state = this.#requests.get(request);
    if (!state?.held) return;
    state.held = false;
    this.#unheld++;
    this.#touch();
  }

  /** When the connection fell idle (no request in flight), or undefined while it is busy. */
  get idleSince(): number | undefined {
    return this.#inFlight === 0 ? this.#lastActive : undefined;
  }

  /** Closes the connection now if idle, else once it is. */
  closeWhenIdle(): void {
    if (this.#ending) return;
    this.#closeWhenIdle = true;
    if (this.#inFlight === 0) this.close();
  }

  /** The connection has ended. */
  stop(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#cutTimer);
  }

  /**
   * Deno 2.9 sends `Connection: close` but keeps the connection open. Without a body, a
   * graceful close lets the answer out and the descriptor go at once. With one, it would
   * wait for the rest of the body nobody reads, and take the connection out of the cut's
   * reach (aborting it then threw inside Deno, reported as uncaught: the process ended);
   * so such a connection is only cut, a second after the answer is delivered: the client
   * has it by then, and has mostly closed the connection itself.
   */
  #endAfter(delivered: Promise<unknown>, bodiless: boolean): void {
    this.#ending = true;
    const end = () => {
      if (bodiless) this.close();
      this.#cutTimer = setTimeout(this.cut, CUT_AFTER_CLOSE_MS);
    };
    delivered.then(end, end);
  }

  #ended(state: RequestState): void {
    this.#inFlight--;
    if (!state.held) this.#unheld--;
    this.#touch();
    if (this.#inFlight === 0 && this.#closeWhenIdle) this.close();
  }

  #touch(): void {
    this.#lastActive = performance.now();
    if (this.#timer === undefined) this.#arm(this.timeoutMs);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#check(), ms);
  }

  #check(): void {
    this.#timer = undefined;
    if (this.#ending) return;
    if (this.#inFlight > 0 && this.#unheld === 0) return; // every request is held; the next one to end re-arms
    const idleMs = performance.now() - this.#lastActive;
    if (idleMs < this.timeoutMs) this.#arm(this.timeoutMs - idleMs);
    else if (this.#inFlight === 0) this.close();
    else this.cut();
  }
}
