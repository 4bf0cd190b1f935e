/**
 * `GET /metrics` in the Prometheus text format. Counters are read from the broker's
 * lifetime stats at scrape time; the hot path only bumps plain numbers.
 */
import { Hono } from "hono";
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { Engine, SubscriptionView } from "../src/broker/mod.ts";
import type { AppEnv } from "./env.ts";

/** Required subscriptions given their own backlog and lag series, largest backlog first. */
const MAX_LABELLED_SUBSCRIPTIONS = 50;

/**
 * Default runtime series left out: on Bun, heap space statistics walk the whole heap on
 * every scrape (≈ 24 ms with 300,000 objects, a stall every stream and pull waits out);
 * the heap's size and use are still reported, from `process.memoryUsage()`.
 */
const COSTLY_DEFAULT_SERIES = ["total", "used", "available"].map((part) => `nodejs_heap_space_size_${part}_bytes`);

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly #refused: Counter<"reason">;

  /** Required subscriptions as of this scrape: listed once, read by several series. */
  #scrape: Promise<SubscriptionView[]> | undefined;

  constructor(private readonly broker: Engine) {
    collectDefaultMetrics({ register: this.registry });
    for (const name of COSTLY_DEFAULT_SERIES) this.registry.removeSingleMetric(name);
    // prom-client reads /proc/self/status, which Deno 2.9 allows only with --allow-all (it reports 0 otherwise).
    this.registry.removeSingleMetric("process_resident_memory_bytes");
    this.#gauge("process_resident_memory_bytes", "Resident memory size in bytes.", () => process.memoryUsage().rss);
    const registers = [this.registry];
    const stats = () => broker.stats();
    this.#total("broker_events_accepted_total", "Events accepted.", () => stats().accepted);
    this.#total("broker_duplicates_total", "Events not accepted again: their (source, id) was seen within the dedupe window.", () => stats().duplicates);
    this.#total("broker_stream_drops_total", "Events dropped by full stream buffers.", () => stats().drops);
    this.#total("broker_redeliveries_total", "Events delivered again to required subscribers.", () => stats().redeliveries);
    this.#total("broker_parked_total", "Events parked after maxDeliveries.", () => stats().parked);
    new Counter({
      name: "broker_deliveries_total", help: "Events delivered, by subscriber kind.", labelNames: ["kind"], registers,
      collect() {
        this.reset();
        this.inc({ kind: "stream" }, stats().streamDeliveries);
        this.inc({ kind: "required" }, stats().requiredDeliveries);
      },
    });
    new Counter({
      name: "broker_background_failures_total", help: "Failures of the engine's background work (following the shared log, expiry and retention), by task.", labelNames: ["task"], registers,
      collect() {
        this.reset();
        for (const [task, count] of Object.entries(stats().backgroundFailures ?? {})) this.inc({ task }, count);
      },
    });
    this.#gauge("broker_last_seq", "Seq of the last accepted event.", () => stats().lastSeq);
    this.#gauge("broker_open_streams", "Open live streams.", () => stats().openStreams);
    this.#gauge("broker_stream_handed_bytes", "Bytes handed to the runtime for streams and not yet taken (at most one write each).", () => stats().streamHandedBytes);
    this.#gauge("broker_required_subscriptions", "Required subscriptions.", async () => (await this.#required()).length);
    this.#gauge("broker_pull_waits", "Pulls waiting for events.", async () => (await this.#required()).reduce((sum, sub) => sum + (sub.required?.waiting ?? 0), 0));
    this.#perSubscription("broker_subscription_backlog", "Unacknowledged events of a required subscription.", (sub) => sub.backlog);
    this.#perSubscription("broker_subscription_lag", "Seqs between the last accepted event and a subscription's ack point.", (sub) => stats().lastSeq - (sub.required?.ackedSeq ?? 0));
    this.#memoryGauges();
    this.#refused = new Counter({ name: "broker_publish_refused_total", help: "Publish requests refused, by reason.", labelNames: ["reason"], registers });
  }

  /** Counts a refused publish request by its problem code. */
  countRefusal(status: number, error: unknown): void {
    this.#refused.inc({ reason: (error as { code?: string }).code ?? `status-${status}` });
  }

  routes() {
    return new Hono<AppEnv>().get("/", async (c) => {
      this.#scrape = undefined;
      return c.body(await this.registry.metrics(), 200, { "Content-Type": this.registry.contentType });
    });
  }

  #required(): Promise<SubscriptionView[]> {
    this.#scrape ??= this.broker.list().then((subs) => subs.filter((sub) => sub.kind === "required"));
    return this.#scrape;
  }

  #total(name: string, help: string, read: () => number): void {
    new Counter({ name, help, registers: [this.registry], collect() {
      this.reset();
      this.inc(read());
    } });
  }

  #gauge(name: string, help: string, read: () => number | Promise<number>): void {
    new Gauge({ name, help, registers: [this.registry], async collect() {
      this.set(await read());
    } });
  }

  /** How full each part of the memory budget is, and its bound. */
  #memoryGauges(): void {
    const parts = Object.values(this.broker.memory.parts);
    const registers = [this.registry];
    new Gauge({ name: "broker_memory_used_bytes", help: "Bytes held by each part of the memory budget (an estimate of heap).", labelNames: ["part"], registers, collect() {
      for (const part of parts) this.set({ part: part.name }, part.used);
    } });
    new Gauge({ name: "broker_memory_limit_bytes", help: "The bound of each part of the memory budget.", labelNames: ["part"], registers, collect() {
      for (const part of parts) this.set({ part: part.name }, part.limit);
    } });
  }

  #perSubscription(name: string, help: string, read: (sub: SubscriptionView) => number): void {
    const required = () => this.#required();
    new Gauge({ name, help, labelNames: ["subscription", "name"], registers: [this.registry], async collect() {
      this.reset();
      const largest = [...(await required())].sort((a, b) => b.backlog - a.backlog).slice(0, MAX_LABELLED_SUBSCRIPTIONS);
      for (const sub of largest) this.set({ subscription: sub.id, name: sub.required?.name ?? "" }, read(sub));
    } });
  }
}
