// Fan-out: `streams` filtered SSE streams; first `rate` events/s for latency, then as fast as possible.
import { arg, countIn, eventsJson, openRawStream, post, report } from "./common.ts";

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
const start = performance.now();
const cpuAtStart = { server: await serverCpuSeconds(), client: process.cpuUsage() };
for (let i = 0; i < sent; i++) {
  const due = start + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  void post(`${url}/events`, `{"type":"bench.tick","data":{"t":${performance.now().toFixed(3)}}}`);
}
console.error(`sent ${sent}`);
await new Promise((resolve) => setTimeout(resolve, 500));
measuring = false;
const steadySeconds = (performance.now() - start) / 1_000;
const clientCpu = process.cpuUsage(cpuAtStart.client);
const serverCpu = await serverCpuSeconds();
const serverCpuShare = (serverCpu.total - cpuAtStart.server.total) / steadySeconds;
const serverKernelShare = (serverCpu.system - cpuAtStart.server.system) / steadySeconds;
const clientCpuShare = (clientCpu.user + clientCpu.system) / 1e6 / steadySeconds;
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
  serverCpuShare: Number(serverCpuShare.toFixed(2)),
  serverKernelShare: Number(serverKernelShare.toFixed(2)),
  clientCpuShare: Number(clientCpuShare.toFixed(2)),
  saturatedDeliveriesPerSecond: saturated,
  droppedDuringSaturation: dropped,
});
for (const socket of sockets) socket.destroy();

/** The server's CPU seconds so far, in all and in the kernel, from its /metrics (NaN for the bare baseline, which has none). */
async function serverCpuSeconds(): Promise<{ total: number; system: number }> {
  const lines = (await (await fetch(`${url}/metrics`)).text()).split("\n");
  const value = (name: string) => Number(lines.find((line) => line.startsWith(`${name} `))?.split(" ")[1] ?? Number.NaN);
  return { total: value("process_cpu_seconds_total"), system: value("process_cpu_system_seconds_total") };
}

async function droppedSoFar(): Promise<number> {
  const { subscriptions } = await (await fetch(`${url}/subscriptions`)).json();
  return subscriptions.reduce((sum: number, sub: { dropped: number }) => sum + sub.dropped, 0);
}
process.exit(0);
