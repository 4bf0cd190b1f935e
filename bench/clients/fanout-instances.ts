// Fan-out across instances: `streams` filtered SSE streams spread evenly over the instances
// at `urls` (comma list), `rate` events/s published one per request through the first,
// stamped with their send time: delivered, dropped and publish→receive p50/p99 per instance.
import { arg, countIn, openRawStream, post, report } from "./common.ts";

const urls = arg(0, "http://127.0.0.1:8787").split(",");
const streamCount = Number(arg(1, "1000"));
const rate = Number(arg(2, "100"));
const seconds = Number(arg(3, "5"));

const ID = Buffer.from("\nid: ");
const STAMP = Buffer.from('"t":');

interface Instance {
  delivered: number;
  latencies: number[];
}
const instances: Instance[] = urls.map(() => ({ delivered: 0, latencies: [] }));

function reader(instance: Instance) {
  return (chunk: Buffer) => {
    instance.delivered += countIn(chunk, ID);
    const now = performance.now();
    for (let at = chunk.indexOf(STAMP); at !== -1; at = chunk.indexOf(STAMP, at + 4)) {
      instance.latencies.push(now - Number.parseFloat(chunk.toString("latin1", at + 4, at + 24)));
    }
  };
}

const sockets = [];
for (let i = 0; i < streamCount; i += 200) {
  const wave = Array.from({ length: Math.min(200, streamCount - i) }, (_, j) => {
    const index = (i + j) % urls.length;
    return openRawStream(urls[index], "/events/stream?types=bench.*", reader(instances[index]));
  });
  sockets.push(...(await Promise.all(wave)));
}
for (const instance of instances) instance.delivered = 0;

const sent = rate * seconds;
const start = performance.now();
for (let i = 0; i < sent; i++) {
  const wait = start + (i * 1000) / rate - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  void post(`${urls[0]}/events`, `{"type":"bench.tick","data":{"t":${performance.now().toFixed(3)}}}`);
}
await new Promise((resolve) => setTimeout(resolve, 1_000));

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
report({
  sent,
  instances: await Promise.all(instances.map(async (instance, index) => {
    const sorted = instance.latencies.sort((a, b) => a - b);
    return {
      streams: Math.ceil((streamCount - index) / urls.length),
      delivered: instance.delivered,
      dropped: await droppedOn(urls[index]),
      p50Ms: Number(percentile(sorted, 50).toFixed(2)),
      p99Ms: Number(percentile(sorted, 99).toFixed(2)),
    };
  })),
});
for (const socket of sockets) socket.destroy();
process.exit(0);

/** Events the instance at `url` dropped for its own streams, from its /metrics. */
async function droppedOn(url: string): Promise<number> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  return Number(/^broker_stream_drops_total (\d+)/m.exec(metrics)?.[1] ?? Number.NaN);
}
