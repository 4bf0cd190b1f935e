/** Named errors of the broker core. Each carries a stable `code` the HTTP edge maps to a status. */

/** One bad field: `path` is a JSON Pointer into the input (`/0/type`). */
export interface FieldIssue {
  readonly path: string;
  readonly message: string;
}

/** Every code a core error carries: the HTTP edge maps each to a status, and must map them all. */
export type BrokerErrorCode =
  | "invalid"
  | "batch-too-large"
  | "backlog-full"
  | "memory-full"
  | "forbidden"
  | "too-many-subscriptions"
  | "too-many-pulls"
  | "not-found"
  | "not-required"
  | "never-delivered"
  | "storage-unavailable"
  | "closed";

export abstract class BrokerError extends Error {
  abstract readonly code: BrokerErrorCode;
}

/** The input is not acceptable; nothing was changed. */
export class ValidationError extends BrokerError {
  readonly code = "invalid";
  constructor(readonly issues: readonly FieldIssue[], message = "the input is not valid") {
    super(message);
  }
}

/** A batch holds more events than `maxBatch`. */
export class BatchTooLargeError extends BrokerError {
  readonly code = "batch-too-large";
  constructor(readonly size: number, readonly maxBatch: number) {
    super(`the batch holds ${size} events; at most ${maxBatch} are accepted at once`);
  }
}

/** Accepting would overflow a required subscription's backlog; nothing was accepted. */
export class BacklogFullError extends BrokerError {
  readonly code = "backlog-full";
  constructor(readonly subscriptionId: string, readonly maxBacklog: number) {
    super(`subscription ${subscriptionId} already holds its maximum backlog of ${maxBacklog} unacknowledged events`);
  }
}

/** Accepting would take a part of the broker's memory budget past its bound; nothing was accepted. */
export class MemoryBudgetError extends BrokerError {
  readonly code = "memory-full";
  constructor(readonly part: string, readonly limitBytes: number, readonly subscriptionId?: string) {
    super(`the broker's memory budget for ${part} (${limitBytes} bytes) is spent${subscriptionId ? `; subscription ${subscriptionId} holds the largest backlog` : ""}`);
  }
}

/** The caller may not publish an event of this type; nothing was accepted. */
export class ForbiddenTypeError extends BrokerError {
  readonly code = "forbidden";
  constructor(readonly type: string, readonly path: string) {
    super(`this caller may not publish events of type ${type}`);
  }
}

/** A configured bound on open subscriptions was reached. */
export class TooManySubscriptionsError extends BrokerError {
  readonly code = "too-many-subscriptions";
  constructor(readonly kind: string, readonly limit: number) {
    super(`at most ${limit} ${kind} subscriptions may be open at once`);
  }
}

/** As many pulls as `maxWaitingPulls` are already waiting for events. */
export class TooManyWaitingPullsError extends BrokerError {
  readonly code = "too-many-pulls";
  constructor(readonly limit: number) {
    super(`at most ${limit} pulls may wait for events at once`);
  }
}

export class SubscriptionNotFoundError extends BrokerError {
  readonly code = "not-found";
  constructor(readonly subscriptionId: string) {
    super(`no subscription has the id ${subscriptionId}`);
  }
}

/** A pull or ack was sent to a live stream, which has neither. */
export class NotRequiredError extends BrokerError {
  readonly code = "not-required";
  constructor(readonly subscriptionId: string) {
    super(`subscription ${subscriptionId} is a live stream; only required subscriptions are pulled and acknowledged`);
  }
}

/** An ack or nack names a seq this subscription has not been delivered yet. */
export class NeverDeliveredError extends BrokerError {
  readonly code = "never-delivered";
  constructor(readonly seq: number, readonly lastDeliveredSeq: number) {
    super(`seq ${seq} was never delivered to this subscription; the last delivered seq is ${lastDeliveredSeq}`);
  }
}

/** The broker's storage cannot be written (or reached); nothing of the operation was taken. */
export class StorageError extends BrokerError {
  readonly code = "storage-unavailable";
}

/** The broker is shutting down and accepts nothing more. */
export class BrokerClosedError extends BrokerError {
  readonly code = "closed";
  constructor() {
    super("the broker is shutting down");
  }
}
