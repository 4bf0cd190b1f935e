// Acked consumption end to end: producers post batches of 100 while one required
// subscriber pulls (max 1,000, ack piggybacked) until `total` events are acknowledged
// after the first `warmup` (not timed: the runtime's compilers are still at work then).
import { arg, BusyMeter, brokerCpuSeconds, eventsJson, post, report, Stopwatch } from "./common.ts";

const url = arg(0, "http://127.0.0.1:8787");
const total = Number(arg(1, "200000"));
const busy = new BusyMeter(() => brokerCpuSeconds(url));
const watch = new Stopwatch(Number(arg(2, "50000")), total, () => void busy.start());
const producers = 2;

const { id } = await (await post(`${url}/subscriptions`, JSON.stringify({ types: ["bench.*"], name: "bench" }))).json();
let published = 0;

async function produce(worker: number): Promise<void> {
  for (let batch = 0; published < watch.events; batch++) {
    const response = await post(`${url}/events`, eventsJson("bench.job", 100, `p${worker}-${batch}`, '{"order":"A-1042","qty":3}'));
    if (response.status === 202) published += 100;
    else await new Promise((resolve) => setTimeout(resolve, 2)); // 503: backpressure, try again
    await response.arrayBuffer();
  }
}

async function consume(): Promise<void> {
  let ack: number | undefined;
  while (!watch.done) {
    const response = await post(`${url}/subscriptions/${id}/pull`, JSON.stringify({ max: 1000, waitMs: 1000, ...(ack === undefined ? {} : { ack }) }));
    const { events } = await response.json();
    if (events.length === 0) continue;
    ack = events.at(-1).seq;
    watch.count(events.length);
  }
  await post(`${url}/subscriptions/${id}/ack`, JSON.stringify({ seq: ack }));
}

await Promise.all([consume(), ...Array.from({ length: producers }, (_, worker) => produce(worker))]);
report({ ...watch.result(), ...(await busy.stop()) });
