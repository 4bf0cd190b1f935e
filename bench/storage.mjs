// The rows of the durable (BROKER_DATA_DIR) and shared (BROKER_REDIS_URL) modes, measured
// with run.mjs's harness: each next to the in-memory broker or to Redis Streams, same run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Redis as the durable and shared rows run it: AOF on, fsync every second (like `sync:
 * normal`). No automatic AOF rewrite: the child it forks shares Redis's core, and outlives
 * a Redis stopped with SIGKILL, still writing into the next turn (and into its directory).
 */
const REDIS_AOF = ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--auto-aof-rewrite-percentage", "0"];

export function storageMeasures(h) {
  const dataDir = () => mkdtempSync(join(tmpdir(), "broker-bench-"));

  async function redis(cpu) {
    const port = h.port();
    const dir = dataDir();
    const server = await h.start(["redis-server", "--port", String(port), "--dir", dir, ...REDIS_AOF], { cpu, ready: /Ready to accept connections/ });
    return { ...server, port, url: `redis://127.0.0.1:${port}`, stop: async () => (await server.stop(), rmSync(dir, { recursive: true, force: true })) };
  }

  /** Batch-100 publishing, in turns, on two brokers started by `starts` (the first is the baseline). */
  async function publishTurns(starts) {
    const servers = [];
    for (const startOne of starts) servers.push(await startOne());
    for (const server of servers) h.wrk(server.url, "publish-batch.lua", 1);
    const rates = servers.map(() => []);
    for (let round = 0; round < h.ROUNDS; round++) servers.forEach((server, index) => rates[index].push(h.wrk(server.url, "publish-batch.lua", h.SECONDS) * 100));
    for (const server of servers) await server.stop();
    const [baseline, broker] = rates.map(h.median);
    return { broker, baseline, ratio: broker / baseline, turnRatios: rates[1].map((rate, round) => rate / rates[0][round]) };
  }

  /** Row 3's client on a broker started by `startBroker`, in turns with Redis Streams (AOF) doing the same job. */
  async function consumeTurns(runtime, startBroker) {
    const turns = { broker: [], baseline: [] };
    for (let round = 0; round < h.ROUNDS; round++) {
      const server = await startBroker();
      turns.broker.push(await h.runClient(h.runtimeCommand[runtime]("bench/clients/consume.ts", [server.url, "200000", "50000"])));
      await server.stop();
      const raw = await redis(h.SERVER_CPU);
      turns.baseline.push(await h.runClient(h.runtimeCommand[runtime]("bench/clients/redis-consume.ts", [String(raw.port), "200000", "50000"])));
      await raw.stop();
    }
    const rate = (results) => h.median(results.map((result) => result.eventsPerSecond));
    const [broker, baseline] = [rate(turns.broker), rate(turns.baseline)];
    return { broker, baseline, ratio: broker / baseline, turnRatios: turns.broker.map((result, round) => result.eventsPerSecond / turns.baseline[round].eventsPerSecond) };
  }

  /** A broker on its own Redis (on the load core: broker and Redis get a core each, as Redis and its client do in the baseline). */
  async function onRedis(runtime, env = {}, cpu) {
    const shared = await redis(h.LOAD_CPU);
    const server = await h.broker(runtime, { BROKER_REDIS_URL: shared.url, ...env }, cpu);
    return { ...server, redis: shared, stop: async () => (await server.stop(), await shared.stop()) };
  }

  async function onDisk(runtime) {
    const dir = dataDir();
    const server = await h.broker(runtime, { BROKER_DATA_DIR: dir });
    return { ...server, stop: async () => (await server.stop(), rmSync(dir, { recursive: true, force: true })) };
  }

  /** Time from start to a healthy answer, on a journal of 1M events and 1,000 subscriptions owing the last 100,000. */
  async function restart(runtime) {
    const dir = dataDir();
    const filled = await h.runClient(h.runtimeCommand[runtime]("bench/clients/fill-journal.ts", [dir, "1000000", "1000", "100000"]));
    const times = [];
    for (let round = 0; round < h.ROUNDS; round++) {
      const started = performance.now();
      const server = await h.broker(runtime, { BROKER_DATA_DIR: dir });
      while (!(await fetch(`${server.url}/healthz`).then((response) => response.ok, () => false))) await new Promise((resolve) => setTimeout(resolve, 10));
      times.push(performance.now() - started);
      await server.stop();
    }
    rmSync(dir, { recursive: true, force: true });
    return { ms: h.median(times), diskBytesPerEvent: filled.diskBytes / filled.events, jsonBytesPerEvent: filled.jsonBytes / filled.events };
  }

  /** 1,000 streams over two instances on one Redis, 100 events/s through the first. */
  async function fanoutAcross(runtime) {
    const first = await onRedis(runtime, { BROKER_MAX_STREAMS: "20000" });
    const second = await h.broker(runtime, { BROKER_REDIS_URL: first.redis.url, BROKER_MAX_STREAMS: "20000" });
    const result = await h.runClient(h.runtimeCommand[runtime]("bench/clients/fanout-instances.ts", [`${first.url},${second.url}`, "1000", "100", String(h.SECONDS)]));
    await second.stop();
    await first.stop();
    return result;
  }

  return {
    durablePublish: (runtime) => publishTurns([() => h.broker(runtime), () => onDisk(runtime)]),
    durableConsume: (runtime) => consumeTurns(runtime, () => onDisk(runtime)),
    restart,
    redisPublish: (runtime) => publishTurns([() => h.broker(runtime), () => onRedis(runtime)]),
    redisConsume: (runtime) => consumeTurns(runtime, () => onRedis(runtime)),
    fanoutAcross,
    processes: (runtime) => publishTurns([() => onRedis(runtime, {}, "0,1"), () => onRedis(runtime, { BROKER_PROCESSES: "2" }, "0,1")]),
  };
}

/** Their rows of the table. */
export function storageRows(r, { fmt, turnsRatio }) {
  const rows = {
    durablePublish: () => [["2d. publish batches of 100, durable (events/s)", fmt(r.durablePublish.broker), `in memory ${fmt(r.durablePublish.baseline)}`, turnsRatio(r.durablePublish), "≥ 0.8×"]],
    durableConsume: () => [["3d. acked consumption, durable (events/s)", fmt(r.durableConsume.broker), `Redis Streams, AOF everysec ${fmt(r.durableConsume.baseline)}`, turnsRatio(r.durableConsume), "≥ 1.3×"]],
    restart: () => [["9. durable restart, 1M events, 1,000 subs owing 100k (ms to healthy); disk per event", `${fmt(r.restart.ms)} ms; ${fmt(r.restart.diskBytesPerEvent)} B on disk`, `its JSON ${fmt(r.restart.jsonBytesPerEvent)} B`, `${fmt(r.restart.diskBytesPerEvent / r.restart.jsonBytesPerEvent, 2)}× on disk`, "≤ 2,000 ms"]],
    redisPublish: () => [["2r. publish batches of 100, on Redis (events/s)", fmt(r.redisPublish.broker), `in memory ${fmt(r.redisPublish.baseline)}`, turnsRatio(r.redisPublish), "≥ 0.3×"]],
    redisConsume: () => [["3r. acked consumption, on Redis (events/s)", fmt(r.redisConsume.broker), `Redis Streams, AOF everysec ${fmt(r.redisConsume.baseline)}`, turnsRatio(r.redisConsume), "≥ 0.7×"]],
    fanoutAcross: () => [[
      "5r. fan-out, 1k streams over 2 instances × 100 ev/s",
      r.fanoutAcross.instances.map((i, n) => `instance ${n + 1}: ${fmt(i.delivered)}/${fmt(r.fanoutAcross.sent * i.streams)}, ${i.dropped} dropped, p99 ${fmt(i.p99Ms, 1)} ms`).join("; "),
      "",
      "",
      "0 drops, p99 ≤ 150 ms",
    ]],
    processes: () => [["10. publish batches of 100 on Redis, 2 processes (events/s)", fmt(r.processes.broker), `1 process ${fmt(r.processes.baseline)}`, turnsRatio(r.processes), "≥ 1×"]],
  };
  return Object.entries(rows).filter(([measure]) => r[measure] !== undefined).flatMap(([, build]) => build());
}
