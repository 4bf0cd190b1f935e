/** The pull loop behind `BrokerClient.consume()`. */
import type { BrokerClient, DeliveredEvent, SubscriptionInfo } from "./client.ts";

export interface ConsumeOptions {
  /** A durable subscription made with `subscribe()`: consumed, never deleted. */
  readonly subscription?: string;
  /** Or the types of an ephemeral subscription, made for this call and deleted when it ends. */
  readonly types?: readonly string[];
  /** Events per pull (100) and the long-poll wait (30 s). */
  readonly max?: number;
  readonly waitMs?: number;
  /** Called for each event in order; when it throws, the event is nacked and delivered again. */
  readonly handler: (event: DeliveredEvent) => unknown | Promise<unknown>;
  readonly onError?: (error: unknown, event: DeliveredEvent) => void;
  readonly signal?: AbortSignal;
}

/**
 * How long the broker keeps an ephemeral subscription whose consumer stopped pulling
 * without deleting it (a crash): short, as NATS's ephemeral consumers (5 s), yet longer
 * than a pull's round trip, so that its backlog does not hold publishers back for long.
 */
export const EPHEMERAL_EXPIRE_AFTER_MS = 30_000;

export async function consumeLoop(client: BrokerClient, subscription: SubscriptionInfo, options: ConsumeOptions): Promise<void> {
  const keepAliveMs = keepAliveIntervalMs(subscription);
  let ack: number | undefined;
  while (!options.signal?.aborted) {
    let events: DeliveredEvent[];
    try {
      events = await client.pull(subscription.id, { max: options.max ?? 100, waitMs: options.waitMs ?? 30_000, ack, signal: options.signal });
    } catch (error) {
      if (options.signal?.aborted) break;
      throw error;
    }
    ack = undefined;
    const handled = await keepAlive(client, subscription, keepAliveMs, () => handleInOrder(events, options));
    if (handled.failed) await client.nack(subscription.id, handled.failed.seq);
    if (handled.lastDone !== undefined) ack = handled.lastDone;
  }
  if (ack !== undefined) await client.ack(subscription.id, ack);
}

/** Half the lease, or half the idle expiry when that is shorter: an extend renews both. */
function keepAliveIntervalMs(subscription: SubscriptionInfo): number {
  const leaseMs = subscription.ackTimeoutMs ?? 30_000;
  const expireMs = subscription.expireAfterMs || Infinity;
  return Math.max(1, Math.floor(Math.min(leaseMs, expireMs) / 2));
}

async function keepAlive<T>(client: BrokerClient, subscription: SubscriptionInfo, intervalMs: number, work: () => Promise<T>): Promise<T> {
  const leaseMs = subscription.ackTimeoutMs ?? 30_000;
  const timer = setInterval(() => client.extend(subscription.id, leaseMs).catch(() => {}), intervalMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
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
