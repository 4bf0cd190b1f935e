// Where an idle SSE stream's memory goes on Deno: `node bench/deno-idle.mjs [count]`.
// For each answer of `bench/servers/deno-idle-bodies.ts`, a fresh server gets `count`
// (9,000) requests on raw sockets held open, and this prints its growth per connection: RSS
// (as row 4 of `bench/run.mjs` reads it), the V8 heap and external memory after a full
// collection, and the kernel's TCP buffers (both ends, from /proc/net/sockstat; not in RSS).
// VARIANTS=…,broker adds event-broker itself (src/deno.ts) holding streams of `GET /events/stream`.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

// 9,000 by default: under `ulimit -n` 20,000 the broker serves at most 9,968 streams.
const count = Number(process.argv[2] ?? 9_000);
const variants = (process.env.VARIANTS ?? "keepalive,pending,stream,bytes,transform,pull").split(",");
const serving = process.env.SERVING ?? "serve"; // or per-connection, as src/deno.ts serves
const v8Flags = process.env.V8_FLAGS ? `,${process.env.V8_FLAGS}` : ""; // e.g. --optimize-for-size
const root = new URL("..", import.meta.url).pathname;
let port = Number(process.env.PORT ?? 9300);

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
const tcpKiB = () => Number(/TCP:.* mem (\d+)/.exec(readFileSync("/proc/net/sockstat", "utf8"))[1]) * 4;

function startServer(variant) {
  const flags = `--v8-flags=--expose-gc${v8Flags}`;
  const script = variant === "broker" ? ["src/deno.ts", "--port", String(port)] : ["bench/servers/deno-idle-bodies.ts", String(port), variant, serving];
  const child = spawn("taskset", ["-c", "0", `${root}node_modules/.bin/deno`, "run", "-A", flags, ...script], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve) => child.stdout.on("data", (chunk) => String(chunk).includes("listening") && resolve(child)));
}

/** A request held open on its own socket; settles once the first chunk of its answer is in (or at once for `pending`). */
function hold(variant) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      const path = variant === "broker" ? "/events/stream?types=idle.*" : "/events";
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
      if (variant === "pending") resolve(socket);
    });
    socket.once("data", () => resolve(socket));
    socket.on("error", reject);
  });
}

/** `Deno.memoryUsage()` after a full collection; event-broker's from its /metrics, without one. */
async function memory(variant) {
  if (variant !== "broker") return await (await fetch(`http://127.0.0.1:${port}/mem`)).json();
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name) => Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)[1]);
  return { heapUsed: value("nodejs_heap_size_used_bytes"), heapTotal: value("nodejs_heap_size_total_bytes"), external: value("nodejs_external_memory_bytes") };
}

async function measure(variant) {
  const server = await startServer(variant);
  await sleep(500);
  const before = { ...(await memory(variant)), rss: rssKiB(server.pid), tcp: tcpKiB() };
  const sockets = [];
  for (let i = 0; i < count; i += 200) sockets.push(...(await Promise.all(Array.from({ length: Math.min(200, count - i) }, () => hold(variant)))));
  await sleep(1_000);
  const [rss, tcp] = [rssKiB(server.pid), tcpKiB()]; // before /mem collects
  const after = { ...(await memory(variant)), rss, tcp };
  const perKiB = (key, scale = 1) => ((after[key] - before[key]) * scale / count).toFixed(1);
  const row = { variant, rss: perKiB("rss"), heapUsed: perKiB("heapUsed", 1 / 1024), heapTotal: perKiB("heapTotal", 1 / 1024), external: perKiB("external", 1 / 1024), kernelTcp: perKiB("tcp") };
  sockets.forEach((socket) => socket.destroy());
  server.kill("SIGKILL");
  port++;
  await sleep(300);
  return row;
}

console.log(`KiB per held connection, ${count.toLocaleString("en-US")} connections, ${serving === "serve" ? "Deno.serve" : "served per connection"}${v8Flags && ", V8 flags " + v8Flags.slice(1)}`);
console.log("| answer | RSS | V8 heap used | V8 heap total | external | kernel TCP (both ends) |");
console.log("|---|---|---|---|---|---|");
for (const variant of variants) {
  const r = await measure(variant);
  console.log(`| ${r.variant} | ${r.rss} | ${r.heapUsed} | ${r.heapTotal} | ${r.external} | ${r.kernelTcp} |`);
}
