// Fan-out: `streams` filtered SSE streams; first `rate` events/s for latency, then as fast as possible.
import { arg, BusyMeter, brokerCpuSeconds, countIn, eventsJson, openRawStream, post, report } from "./common.ts";

const url = arg(0, "http://127.0.0.1:8787");
const streamCount = Number(arg(1, "1000"));
const rate = Number(arg(2, "100"));
const seconds = Number(arg(3, "5"));

const ID = Buffer.from("\nid: ");
const STAMP = Buffer.from('"t":');
let delivered = 0;
const latencies: number[] = [];
let measuring = true;

function onChunk(chunk: Buffer): void {
  delivered += countIn(chunk, ID);
  if (!measuring) return;
  const now = performance.now();
  for (let at = chunk.indexOf(STAMP); at !== -1; at = chunk.indexOf(STAMP, at + 4)) {
    latencies.push(now - Number.parseFloat(chunk.toString("latin1", at + 4, at + 24)));
  }
}

const sockets = [];
for (let i = 0; i < streamCount; i += 200) {
  const wave = Array.from({ length: Math.min(200, streamCount - i) }, () => openRawStream(url, "/events/stream?types=bench.*", onChunk));
  sockets.push(...(await Promise.all(wave)));
}

console.error(`opened ${sockets.length} streams`);
// Phase 1: a steady rate, one event per request, stamped with its send time.
delivered = 0;
const sent = rate * seconds;
const busy = new BusyMeter(() => brokerCpuSeconds(url));
await busy.start();
const start = performance.now();
for (let i = 0; i < sent; i++) {
  const due = start + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  void post(`${url}/events`, `{"type":"bench.tick","data":{"t":${performance.now().toFixed(3)}}}`);
}
console.error(`sent ${sent}`);
await new Promise((resolve) => setTimeout(resolve, 500));
measuring = false;
const busySteady = await busy.stop();
const steadyDelivered = delivered;
const droppedSteady = await droppedSoFar();
console.error(`steady phase done`);
latencies.sort((a, b) => a - b);
const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] ?? NaN;

// Phase 2: saturation: batches of 100 as fast as the server takes them.
delivered = 0;
const body = eventsJson("bench.tick", 100, "s", '{"x":1}').replaceAll(/"id":"s-\d+",/g, "");
const satStart = performance.now();
let stop = false;
setTimeout(() => (stop = true), seconds * 1000);
const publishers = Array.from({ length: 2 }, async () => {
  while (!stop) await (await post(`${url}/events`, body)).arrayBuffer();
});
await Promise.all(publishers);
const satSeconds = (performance.now() - satStart) / 1000;
const saturated = Math.round(delivered / satSeconds);
await new Promise((resolve) => setTimeout(resolve, 300));
const dropped = (await droppedSoFar()) - droppedSteady;

report({
  expected: sent * streamCount,
  steadyDelivered,
  droppedSteady,
  p50Ms: Number(percentile(50).toFixed(2)),
  p99Ms: Number(percentile(99).toFixed(2)),
  ...busySteady,
  saturatedDeliveriesPerSecond: saturated,
  droppedDuringSaturation: dropped,
});
for (const socket of sockets) socket.destroy();

async function droppedSoFar(): Promise<number> {
  const { subscriptions } = await (await fetch(`${url}/subscriptions`)).json();
  return subscriptions.reduce((sum: number, sub: { dropped: number }) => sum + sub.dropped, 0);
}
process.exit(0);
