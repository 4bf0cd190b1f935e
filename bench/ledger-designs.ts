// Issue 28, item 2: the two ways to keep required subscriptions on Redis, measured on the
// same queue. Row 3r's consumer pulls 1,000 events with the ack of the last pull, so a
// cycle is "ack, then take":
//   scripts:  today's design, the rules in Lua: take.lua acknowledging first (1 script call).
//   cas:      the rules in TypeScript, Redis only storing them: read the state and the
//             units a take may need (one pipelined round trip), decide in the instance,
//             write back with a small compare-and-set script (one more). Only the round
//             trips and the Redis work are real here, the decision a stand-in of the same
//             size: this is the floor of that design, not an implementation of it.
// Neither reads the events themselves: both would, the same way.
// Publishing (row 2r) is the same in both: accepting a publish and the backlog check must
// be one atomic step whichever side decides pulls, so only consumption is compared.
//
// bun bench/ledger-designs.ts [events per turn] [turns]   (starts its own redis-server)
import { Redis } from "ioredis";
import { RedisEngine } from "../src/storage/redis/redis-engine.ts";
import { RedisKeys } from "../src/storage/redis/keys.ts";
import { Scripts } from "../src/storage/redis/scripts.ts";
import { startRedis } from "../test/support/redis-server.ts";

const EVENTS = Number(process.argv[2] ?? 100_000);
const TURNS = Number(process.argv[3] ?? 5);
const BATCH = 100;
const PULL = 1_000;

const CAS = `
if redis.call("HGET", KEYS[1], "rev") ~= ARGV[1] then return 0 end
redis.call("HSET", KEYS[1], "rev", tonumber(ARGV[1]) + 1, "acked", ARGV[2], "lastDelivered", ARGV[3], "next", ARGV[4], "nextOffset", 0,
  "base", ARGV[5], "runs", ARGV[6], "lastPulledAt", ARGV[7], "delivered", ARGV[8])
if tonumber(ARGV[9]) > 0 then
  redis.call("LTRIM", KEYS[2], ARGV[9], -1)
  redis.call("HINCRBY", KEYS[1], "backlog", -tonumber(ARGV[10]))
end
return 1
`;

const redis = await startRedis({ appendonly: true });
const client = new Redis(redis.url);
const casSha = (await client.script("LOAD", CAS)) as string;

/** A subscription with `EVENTS` events waiting, published in batches of 100 through the engine. */
async function filled(prefix: string): Promise<{ engine: RedisEngine; id: string; keys: RedisKeys }> {
  const engine = await RedisEngine.open({ url: redis.url, prefix, dedupeWindowMs: 0 });
  const { id } = await engine.subscribe({ name: "bench", maxBacklog: EVENTS });
  const event = { type: "bench.job", source: "/bench", data: { order: "A-1042", qty: 3 } };
  for (let sent = 0; sent < EVENTS; sent += BATCH) await engine.sendBatch(Array.from({ length: BATCH }, () => event));
  return { engine, id, keys: new RedisKeys(prefix) };
}

/** Redis's CPU seconds so far (its own count, whatever else the machine does). */
async function redisCpu(): Promise<number> {
  const info = await client.info("cpu");
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
}

/** A turn's rate, and Redis's CPU µs an event, timed around `cycles`. */
async function timed(cycles: () => Promise<void>): Promise<{ rate: number; redisUs: number }> {
  const [started, cpu] = [performance.now(), await redisCpu()];
  await cycles();
  const [seconds, redisSeconds] = [(performance.now() - started) / 1_000, (await redisCpu()) - cpu];
  return { rate: EVENTS / seconds, redisUs: (redisSeconds * 1e6) / EVENTS };
}

async function scriptsTurn(): Promise<{ rate: number; redisUs: number }> {
  const { engine, id, keys } = await filled(`scripts:${crypto.randomUUID()}:`);
  const scripts = new Scripts(client, keys);
  const limits = { maxEvents: PULL, maxBytes: 1_048_576, ackTimeoutMs: 30_000, maxDeliveries: 0, maxParked: 1_000 };
  const result = await timed(async () => {
    let acked: number | undefined;
    for (let taken = 0; taken < EVENTS;) {
      const reply = await scripts.take(id, { ...limits, now: Date.now(), ack: acked });
      if (reply.kind !== "ok") throw new Error("the subscription is there");
      taken += reply.units.reduce((sum, unit) => sum + unit.seqs.length, 0);
      acked = reply.units.at(-1)?.seqs.at(-1) ?? acked;
    }
  });
  await engine.close();
  return result;
}

async function casTurn(): Promise<{ rate: number; redisUs: number }> {
  const { engine, id, keys } = await filled(`cas:${crypto.randomUUID()}:`);
  await client.hset(keys.state(id), "rev", 0);
  const result = await timed(async () => {
  let acked = 0;
  let base = 0;
  for (let taken = 0; taken < EVENTS;) {
    const [[, state], [, units]] = (await client.pipeline().hgetall(keys.state(id)).lrange(keys.queue(id), 0, PULL / BATCH + 1).exec())! as [[null, Record<string, string>], [null, string[]]];
    // The decision's stand-in: the units acked go, the next ones up to PULL events are taken, their leases recorded.
    const parsed = units.map((unit) => unit.split("|")).map(([ranges, , count]) => ({ ranges, count: Number(count), last: Number(ranges.split("-").at(-1)) }));
    const acking = parsed.filter((unit) => unit.last <= acked);
    const ackedEvents = acking.reduce((sum, unit) => sum + unit.count, 0);
    const taking = parsed.slice(acking.length, acking.length + PULL / BATCH);
    const last = taking.at(-1)?.last ?? acked;
    const runs = JSON.stringify(taking.map((unit) => [Number(unit.ranges.split("-")[0]), unit.last + 1, 1, Date.now() + 30_000]));
    base += acking.length;
    const written = await client.evalsha(casSha, 2, keys.state(id), keys.queue(id), state.rev, acked, last, base + taking.length, base, runs, Date.now(), Number(state.delivered ?? 0) + taking.length * BATCH, acking.length, ackedEvents);
    if (written !== 1) throw new Error("no other instance writes here: the compare-and-set must hold");
    taken += taking.reduce((sum, unit) => sum + unit.count, 0);
    acked = last;
  }
  });
  await engine.close();
  return result;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const turns = { scripts: [] as { rate: number; redisUs: number }[], cas: [] as { rate: number; redisUs: number }[] };
for (let turn = 0; turn < TURNS; turn++) {
  turns.scripts.push(await scriptsTurn());
  turns.cas.push(await casTurn());
}
const fmt = (n: number) => Math.round(n).toLocaleString("en");
const spread = (values: number[], digits = 2) => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
console.log(`ack + take of ${fmt(EVENTS)} events, pulls of ${PULL}, batches of ${BATCH}, Redis with AOF; ${TURNS} turns each, alternated`);
for (const [name, results] of Object.entries(turns)) {
  const rates = results.map((result) => result.rate);
  const cpu = results.map((result) => result.redisUs);
  console.log(`${name.padEnd(8)} ${fmt(median(rates))} events/s (turns ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}); Redis CPU ${median(cpu).toFixed(3)} µs an event (turns ${spread(cpu, 3)})`);
}
const ratios = turns.cas.map((result, turn) => result.rate / turns.scripts[turn].rate);
const cpuRatios = turns.cas.map((result, turn) => result.redisUs / turns.scripts[turn].redisUs);
console.log(`cas / scripts: rate ${median(ratios).toFixed(2)}× (turns ${spread(ratios)}), Redis CPU ${median(cpuRatios).toFixed(2)}× (turns ${spread(cpuRatios)})`);
client.disconnect();
await redis.stop({ removeDir: true });
