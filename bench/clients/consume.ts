// Acked consumption end to end: producers post batches of 100 while one required
// subscriber pulls (max 1,000, ack piggybacked) until `total` events are acknowledged.
import { arg, eventsJson, post, report } from "./common.ts";

const url = arg(0, "http://127.0.0.1:8787");
const total = Number(arg(1, "200000"));
const producers = 2;

const { id } = await (await post(`${url}/subscriptions`, JSON.stringify({ types: ["bench.*"], name: "bench" }))).json();
let published = 0;
let acked = 0;
const started = performance.now();

async function produce(worker: number): Promise<void> {
  for (let batch = 0; published < total; batch++) {
    const response = await post(`${url}/events`, eventsJson("bench.job", 100, `p${worker}-${batch}`, '{"order":"A-1042","qty":3}'));
    if (response.status === 202) published += 100;
    else await new Promise((resolve) => setTimeout(resolve, 2)); // 503: backpressure, try again
    await response.arrayBuffer();
  }
}

async function consume(): Promise<void> {
  let ack: number | undefined;
  while (acked < total) {
    const response = await post(`${url}/subscriptions/${id}/pull`, JSON.stringify({ max: 1000, waitMs: 1000, ...(ack === undefined ? {} : { ack }) }));
    const { events } = await response.json();
    if (events.length === 0) continue;
    ack = events.at(-1).seq;
    acked += events.length;
  }
  await post(`${url}/subscriptions/${id}/ack`, JSON.stringify({ seq: ack }));
}

await Promise.all([consume(), ...Array.from({ length: producers }, (_, worker) => produce(worker))]);
const seconds = (performance.now() - started) / 1000;
report({ eventsPerSecond: Math.round(acked / seconds), acked, seconds });
