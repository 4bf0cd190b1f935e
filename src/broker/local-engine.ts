/**
 * The engine of one process: the broker core in memory, durable when it is given a
 * journal. Every call is the core's, answered at once in memory; with a journal, a call
 * that changes what a restart brings back (a publish, an ack, a nack, a pause, a
 * subscription made or removed) is answered once the turn's group commit has written it.
 */
import { Broker, type BrokerOptions, type PublishOptions, type PullOptions, type SubscriberOptions, type Subscription } from "./broker.ts";
import type { AckResult, Engine, EngineHealth, EngineStats, LogPage, SubscriptionView } from "./engine.ts";
import type { Selector } from "./selector.ts";
import type { MemoryBudget } from "./memory-budget.ts";
import type { StreamSubscription } from "./stream-subscription.ts";
import type { RequiredSpec, StreamSpec } from "./subscription-spec.ts";

export class LocalEngine implements Engine {
  readonly broker: Broker;
  /** Whether calls wait for commits: with a journal. Memory takes none of those paths. */
  readonly #durable: boolean;

  constructor(options: Partial<BrokerOptions> = {}) {
    this.broker = new Broker(options);
    this.#durable = options.journal !== undefined;
  }

  get memory(): MemoryBudget {
    return this.broker.memory;
  }

  get closed(): boolean {
    return this.broker.closed;
  }

  get maxBatch(): number {
    return this.broker.options.maxBatch;
  }

  async send(event: unknown, options?: PublishOptions) {
    return this.#durable ? await this.broker.sendGrouped(event, options) : this.broker.send(event, options);
  }

  async sendBatch(events: readonly unknown[], options?: PublishOptions) {
    return this.#durable ? await this.broker.sendBatchGrouped(events, options) : this.broker.sendBatch(events, options);
  }

  async subscribe(spec: RequiredSpec, options?: SubscriberOptions): Promise<SubscriptionView> {
    const view = viewOf(this.broker.subscribe({ kind: "required", ...spec }, options));
    if (this.#durable) await this.broker.committed();
    return view;
  }

  async subscribeBatch(specs: readonly RequiredSpec[], options?: SubscriberOptions): Promise<SubscriptionView[]> {
    const views = this.broker.subscribeBatch(specs, options).map(viewOf);
    if (this.#durable) await this.broker.committed();
    return views;
  }

  async openStream(spec: StreamSpec, options?: SubscriberOptions): Promise<StreamSubscription> {
    return this.broker.subscribe({ kind: "stream", ...spec }, options);
  }

  async describe(id: string): Promise<SubscriptionView> {
    return viewOf(this.broker.get(id));
  }

  async list(): Promise<SubscriptionView[]> {
    return this.broker.list().map(viewOf);
  }

  async remove(id: string, reason?: string): Promise<boolean> {
    const removed = this.broker.unsubscribe(id, reason);
    if (removed && this.#durable) await this.broker.committed();
    return removed;
  }

  async setPaused(id: string, paused: boolean): Promise<SubscriptionView> {
    const view = viewOf(this.broker.setPaused(id, paused));
    if (this.#durable) await this.broker.committed();
    return view;
  }

  /** An ack in the pull is committed before anything is taken: a failed commit refuses the pull, having delivered nothing. */
  async pull(id: string, options: PullOptions = {}) {
    if (!this.#durable || options.ack === undefined) return await this.broker.pull(id, options);
    await this.ack(id, options.ack);
    return await this.broker.pull(id, { ...options, ack: undefined });
  }

  async ack(id: string, seq: number): Promise<AckResult> {
    const { ackedSeq, backlog } = this.broker.ack(id, seq);
    if (this.#durable) await this.broker.committed();
    return { ackedSeq, backlog };
  }

  async nack(id: string, seq: number): Promise<AckResult> {
    const { ackedSeq, backlog } = this.broker.nack(id, seq);
    if (this.#durable) await this.broker.committed();
    return { ackedSeq, backlog };
  }

  async extend(id: string, ms: number): Promise<number> {
    return this.broker.extend(id, ms);
  }

  async parked(id: string) {
    const sub = this.broker.get(id);
    return sub.kind === "required" ? [...sub.parked] : [];
  }

  async read(afterSeq: number, max: number, selector: Selector): Promise<LogPage> {
    const { events, gap } = this.broker.read(afterSeq, max);
    const through = events.at(-1)?.seq ?? Math.max(afterSeq, gap?.to ?? afterSeq);
    const selected = events.filter((event) => selector.selects(event.type, () => JSON.parse(event.json)));
    return { events: selected, through, lastSeq: this.broker.lastSeq, ...(gap ? { gap } : {}) };
  }

  async sweep(): Promise<void> {
    this.broker.sweep();
  }

  stats(): EngineStats {
    const { broker } = this;
    return { ...broker.stats, ...broker.feed.stats, lastSeq: broker.lastSeq, openStreams: broker.streamCount, streamHandedBytes: broker.streamHandedBytes };
  }

  async health(): Promise<EngineHealth> {
    const failure = this.broker.storageFailure;
    return { serving: !this.broker.closed && !failure, lastSeq: this.broker.lastSeq, ...(failure ? { storageFailure: failure.message } : {}) };
  }

  /** Closes the core, then its journal, if it has one. */
  async close(): Promise<void> {
    this.broker.close("shutdown");
    this.broker.options.journal?.close();
  }
}

/** A snapshot of a subscription. */
export function viewOf(sub: Subscription): SubscriptionView {
  const common = {
    id: sub.id,
    kind: sub.kind as SubscriptionView["kind"],
    types: sub.types,
    filters: sub.filters,
    paused: sub.paused,
    created: sub.created,
    owner: sub.owner,
    delivered: sub.delivered,
  };
  if (sub.kind === "stream") return { ...common, backlog: sub.buffered, dropped: sub.dropped };
  const { options } = sub;
  return {
    ...common,
    backlog: sub.backlog,
    dropped: 0,
    required: {
      name: sub.name,
      ackedSeq: sub.ackedSeq,
      lastDeliveredSeq: sub.lastDeliveredSeq,
      redelivered: sub.redelivered,
      parked: sub.parkedCount,
      waiting: sub.waiters.length,
      ackTimeoutMs: options.ackTimeoutMs,
      maxBacklog: options.maxBacklog,
      expireAfterMs: options.expireAfterMs,
      maxDeliveries: options.maxDeliveries,
    },
  };
}
