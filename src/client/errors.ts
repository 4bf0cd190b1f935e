/** An RFC 9457 problem, as the broker answers errors. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly errors?: readonly { path: string; message: string }[];
  readonly [extension: string]: unknown;
}

/** The broker refused a request; `problem` says why. */
export class BrokerRequestError extends Error {
  constructor(readonly status: number, readonly problem: Problem, options?: { cause?: unknown }) {
    super(`${status} ${problem.title}: ${problem.detail}`, options);
    this.name = "BrokerRequestError";
  }

  /** Worth retrying later: backpressure, shutdown, or too many subscriptions. */
  get retryable(): boolean {
    return this.status === 503 || this.status === 429;
  }
}

/** No answer from the broker at `url`: refused, reset, or unknown host; `cause` is the runtime's own error. */
export class BrokerUnreachableError extends Error {
  constructor(readonly url: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BrokerUnreachableError";
  }
}

/** The runtime's own words for a failure: Deno puts them in the innermost `cause`, Bun in the message. */
export function reasonOf(error: unknown): string {
  let innermost = error;
  while (innermost instanceof Error && innermost.cause instanceof Error) innermost = innermost.cause;
  return innermost instanceof Error ? innermost.message : String(innermost);
}
