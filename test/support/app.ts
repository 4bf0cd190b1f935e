// The whole HTTP app in-process, on a fake clock, on the way of keeping state that
// BROKER_TEST_ENGINE names: `memory` (the default), `sqlite` (a journal in a temporary
// directory) or `redis` (two instances sharing one Redis, each request to either at random).
// Tests reach the broker through HTTP or through the helpers below, built on the Engine
// interface, so that each assertion holds on every engine.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { type AcceptedEvent, type Engine, isNotice, LocalEngine, type PullOptions, type RequiredSpec, type StreamSpec, type StreamSubscription, type SubscriberOptions, type SubscriptionView } from "../../src/broker/mod.ts";
import { type Settings, type SettingsInput, settingsSchema } from "../../src/config.ts";
import { brokerOptionsOf, type BrokerServer, createBrokerServer } from "../../src/server.ts";
import { RedisKeys } from "../../src/storage/redis/keys.ts";
import { RedisEngine } from "../../src/storage/redis/redis-engine.ts";
import { SqliteJournal } from "../../src/storage/sqlite-journal.ts";
import { engineKind, type EngineKind } from "./engine-kind.ts";
import { FakeClock } from "./fake-clock.ts";
import { sharedRedis } from "./redis-server.ts";
import { eventually } from "./wait.ts";

/** One running instance: its engine and its HTTP app. */
export interface Instance {
  readonly engine: Engine;
  request(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, body: unknown, contentType?: string): Promise<Response>;
}

/** The instances of one test app on one engine, and what it takes to stop them. */
interface Deployment {
  readonly servers: BrokerServer[];
  /** The seq of the last accepted event, once every instance has caught up with it. */
  lastSeq(): Promise<number>;
  stop(): Promise<void>;
}

const DEPLOYMENTS: Record<EngineKind, (settings: Settings, clock: FakeClock) => Promise<Deployment>> = {
  memory: async (settings, clock) => oneProcess(createBrokerServer(settings, clock)),
  sqlite: async (settings, clock) => {
    const dir = mkdtempSync(join(tmpdir(), "broker-routes-"));
    const journal = new SqliteJournal(dir, { sync: "normal" });
    return oneProcess(createBrokerServer(settings, clock, new LocalEngine({ ...brokerOptionsOf(settings, clock), journal })), () => {
      journal.close();
      rmSync(dir, { recursive: true, force: true });
    });
  },
  redis: sharingRedis,
};

function oneProcess(server: BrokerServer, stop = () => {}): Deployment {
  return { servers: [server], lastSeq: async () => (await server.engine.health()).lastSeq, stop: async () => stop() };
}

/** Two instances on one Redis under a prefix of their own. */
async function sharingRedis(settings: Settings, clock: FakeClock): Promise<Deployment> {
  const { url } = await sharedRedis();
  const prefix = `routes:${crypto.randomUUID()}:`;
  // Generous: these tests are about the routes, and this machine has stalled a command past
  // the 2 s default (Redis out of reach is tested in test/e2e/redis.test.ts, with the default).
  const open = () => RedisEngine.open({ ...brokerOptionsOf(settings, clock), url, prefix, commandTimeoutMs: 10_000 });
  const servers = (await Promise.all([open(), open()])).map((engine) => createBrokerServer(settings, clock, engine));
  // Each instance learns of new events through its tail, a few ms after Redis accepted them:
  // the log's end is read from Redis, then every instance is waited for.
  const client = new Redis(url, { lazyConnect: true });
  const seqKey = new RedisKeys(prefix).seq();
  return {
    servers,
    async lastSeq() {
      const end = Number((await client.get(seqKey)) ?? 0);
      await eventually(async () => (await Promise.all(servers.map((server) => server.engine.health()))).every((health) => health.lastSeq >= end), 3_000, `every instance following the log to seq ${end}`);
      return end;
    },
    stop: async () => client.disconnect(),
  };
}

function instanceOf(server: BrokerServer): Instance {
  const request = async (path: string, init?: RequestInit) => await server.fetch(new Request(`http://broker.test${path}`, init));
  const post = (path: string, body: unknown, contentType = "application/json") =>
    request(path, {
      method: "POST",
      headers: { "content-type": contentType },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { engine: server.engine, request, post };
}

export type TestApp = Awaited<ReturnType<typeof testApp>>;

/** The whole HTTP app on the engine under test, on a fake clock; call `close()` at the end. */
export async function testApp(overrides: SettingsInput = {}) {
  const clock = new FakeClock();
  // Requests here name the broker broker.test, which a browser could only use if it were its name.
  const deployment = await DEPLOYMENTS[engineKind](settingsSchema.parse({ hosts: "broker.test", ...overrides }), clock);
  const instances = deployment.servers.map(instanceOf);
  const any = () => instances[Math.floor(Math.random() * instances.length)];
  let closed: Promise<void> | undefined;
  return {
    clock,
    /** Every instance; one unless the engine is shared. */
    instances,
    /** Sends a request to any instance. */
    request: (path: string, init?: RequestInit) => any().request(path, init),
    post: (path: string, body: unknown, contentType?: string) => any().post(path, body, contentType),
    /** Any one instance, for what each process bounds alone (its streams, its waiting pulls). */
    one: any,
    /** Two instances, different ones where there are several: what crosses instances is tested across them. */
    apart(): [Instance, Instance] {
      const first = Math.floor(Math.random() * instances.length);
      return [instances[first], instances[(first + 1) % instances.length]];
    },
    /** The instance holding stream `id`: a stream lives in the process its reader is connected to. */
    holding(id: string): Instance {
      const holder = instances.find((instance) => !(instance.engine instanceof RedisEngine) || instance.engine.holds(id));
      if (!holder) throw new Error(`no instance holds stream ${id}`);
      return holder;
    },
    /** The seq of the last accepted event (0 before any). */
    lastSeq: () => deployment.lastSeq(),
    /** Every subscription, of every instance. */
    async list(): Promise<SubscriptionView[]> {
      const byId = new Map<string, SubscriptionView>();
      for (const instance of instances) for (const sub of await instance.engine.list()) byId.set(sub.id, sub);
      return [...byId.values()];
    },
    /** Open streams, of every instance. */
    openStreams: () => instances.reduce((sum, instance) => sum + instance.engine.stats().openStreams, 0),
    /** A stream opened on any instance, read as its SSE connection would read it. */
    openStream: async (spec: StreamSpec = {}, options?: SubscriberOptions) => new TestStream(await any().engine.openStream(spec, options)),
    subscribe: (spec: RequiredSpec = {}) => any().engine.subscribe(spec),
    pull: (id: string, options?: PullOptions) => any().engine.pull(id, options),
    ack: (id: string, seq: number) => any().engine.ack(id, seq),
    close(): Promise<void> {
      closed ??= (async () => {
        await Promise.all(deployment.servers.map((server) => server.close()));
        await deployment.stop();
      })();
      return closed;
    },
  };
}

/** A stream subscription read directly, as its connection would: events come when the instance has them. */
export class TestStream {
  constructor(readonly subscription: StreamSubscription) {}

  get id(): string {
    return this.subscription.id;
  }

  /** The next `count` events (parsed; notices skipped), waiting up to `timeoutMs` for them. */
  async next(count = 1, timeoutMs = 3_000): Promise<Record<string, unknown>[]> {
    const events: AcceptedEvent[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      events.push(...this.subscription.read().filter((item) => !isNotice(item)) as AcceptedEvent[]);
      if (events.length >= count) return events.map((event) => JSON.parse(event.json));
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${events.length} of ${count} events reached the stream within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.subscription.onReadable = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.subscription.onReadable = null;
    }
  }
}

/** Asserts a problem+json answer and returns its body. */
export async function problemOf(response: Response, status: number): Promise<Record<string, unknown> & { errors?: { path: string; message: string }[] }> {
  const body = await response.json();
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${JSON.stringify(body)}`);
  if (!response.headers.get("content-type")?.startsWith("application/problem+json")) {
    throw new Error(`not a problem+json answer: ${response.headers.get("content-type")}`);
  }
  for (const field of ["type", "title", "status", "detail"]) {
    if (!(field in body)) throw new Error(`problem lacks ${field}: ${JSON.stringify(body)}`);
  }
  return body;
}
