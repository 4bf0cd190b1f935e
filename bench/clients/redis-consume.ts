// The same job on Redis Streams: pipelined XADD in batches of 100, XREADGROUP COUNT 1000,
// XACK; timed after the same warm-up as `consume.ts`.
import { Redis } from "ioredis";
import { arg, BusyMeter, type CpuSeconds, report, Stopwatch } from "./common.ts";

const port = Number(arg(0, "6390"));
const total = Number(arg(1, "200000"));
const observer = new Redis({ port, host: "127.0.0.1" });
const busy = new BusyMeter(redisCpuSeconds);
const watch = new Stopwatch(Number(arg(2, "50000")), total, () => void busy.start());
const producers = 2;
const event = '{"specversion":"1.0","id":"x","source":"/bench/producer","type":"bench.job","time":"2026-11-28T15:00:00.000Z","datacontenttype":"application/json","data":{"order":"A-1042","qty":3}}';

const writer = new Redis({ port, host: "127.0.0.1" });
const reader = new Redis({ port, host: "127.0.0.1" });
await writer.del("bench");
await writer.xgroup("CREATE", "bench", "g", "$", "MKSTREAM");
let published = 0;

async function produce(): Promise<void> {
  while (published < watch.events) {
    const pipeline = writer.pipeline();
    for (let i = 0; i < 100; i++) pipeline.xadd("bench", "*", "event", event);
    published += 100;
    await pipeline.exec();
  }
}

async function consume(): Promise<void> {
  while (!watch.done) {
    const answer = (await reader.xreadgroup("GROUP", "g", "c", "COUNT", 1000, "BLOCK", 1000, "STREAMS", "bench", ">")) as [string, [string, string[]][]][] | null;
    const entries = answer?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    for (const [, fields] of entries) JSON.parse(fields[1]);
    await reader.xack("bench", "g", ...entries.map(([entryId]) => entryId));
    watch.count(entries.length);
  }
}

await Promise.all([consume(), ...Array.from({ length: producers }, produce)]);
report({ ...watch.result(), ...(await busy.stop()) });
for (const connection of [writer, reader, observer]) connection.disconnect();

/** Redis's CPU seconds so far, from INFO on a connection of its own (the others are busy). */
async function redisCpuSeconds(): Promise<CpuSeconds> {
  const info = await observer.info("cpu");
  const value = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? Number.NaN);
  return { total: value("used_cpu_user") + value("used_cpu_sys"), system: value("used_cpu_sys") };
}
