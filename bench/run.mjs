// `npm run bench`: every figure of the performance issue, for Bun and Deno, with same-run
// ratios against the baselines. The server under test runs on core 0, the load on core 1.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { storageMeasures, storageRows } from "./storage.mjs";

const SERVER_CPU = "0";
const LOAD_CPU = "1";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RUNTIMES = (process.env.BENCH_RUNTIMES ?? "bun,deno").split(",");
const ONLY = process.env.BENCH_ONLY?.split(",");
const root = new URL("..", import.meta.url).pathname;

const runtimeCommand = {
  bun: (file, args = []) => [`${root}node_modules/.bin/bun`, file, ...args],
  deno: (file, args = []) => [`${root}node_modules/.bin/deno`, "run", "-A", "--v8-flags=--expose-gc", file, ...args],
};

/** Installs wrk and redis-server from Debian when missing (the bench machine is ours, as root). */
function ensureTools() {
  const missing = ["wrk", "redis-server"].filter((tool) => spawnSync("which", [tool]).status !== 0);
  if (missing.length === 0) return;
  console.error(`installing ${missing.join(", ")} …`);
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
  execFileSync("apt-get", ["install", "-y", "-qq", ...(missing.includes("redis-server") ? ["redis-server"] : []), ...(missing.includes("wrk") ? ["wrk"] : [])], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}

const children = new Set();
process.on("exit", () => children.forEach((child) => child.kill("SIGKILL")));
process.on("SIGINT", () => process.exit(130));

/** Starts a long-running process pinned to `cpu`; resolves once `ready` appears in its output. */
function start(command, { cpu, ready, env = {}, timeoutMs = 30_000 }) {
  const child = spawn("taskset", ["-c", cpu, ...command], { cwd: root, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command.join(" ")} did not finish starting:\n${output}`)), timeoutMs);
    if (process.env.BENCH_DEBUG) child.stderr.on("data", (chunk) => process.stderr.write(chunk));
    const collect = (chunk) => {
      output += chunk;
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve({ child, output: () => output, stop: () => stop(child) });
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("exit", (code) => reject(new Error(`${command.join(" ")} exited ${code}:\n${output}`)));
  });
}

async function stop(child) {
  if (child.exitCode !== null) return;
  child.kill("SIGKILL");
  await new Promise((resolve) => child.once("exit", resolve));
}

/** Runs a client script to completion on the load core and returns its RESULT line. */
async function runClient(command, env = {}) {
  const started = await start(command, { cpu: LOAD_CPU, ready: /RESULT .*\n/, env, timeoutMs: 180_000 });
  const result = JSON.parse(/RESULT (.*)\n/.exec(started.output())[1]);
  await started.stop();
  return result;
}

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);

let nextPort = Number(process.env.BENCH_PORT ?? 18_000);
/**
 * What `npm start` sets for a Bun broker (package.json; a value in the environment wins):
 * the allocator's purge delay of the README's production checklist. Baselines and clients
 * run with Bun's defaults.
 */
const purgeDelayOfStart = /MIMALLOC_PURGE_DELAY:-(\d+)/.exec(JSON.parse(readFileSync(`${root}package.json`, "utf8")).scripts.start)?.[1];
if (purgeDelayOfStart === undefined) throw new Error("package.json's start script no longer sets MIMALLOC_PURGE_DELAY: update bench/run.mjs");
const BUN_START_ENV = { MIMALLOC_PURGE_DELAY: process.env.MIMALLOC_PURGE_DELAY ?? purgeDelayOfStart };

async function broker(runtime, env = {}, cpu = SERVER_CPU) {
  const port = nextPort++;
  const server = await start(runtimeCommand[runtime](`src/${runtime}.ts`, ["--port", String(port)]), { cpu, ready: /listening on/, env: { ...(runtime === "bun" ? BUN_START_ENV : {}), ...env } });
  return { ...server, url: `http://127.0.0.1:${port}` };
}

async function baseline(runtime, file) {
  const port = nextPort++;
  const server = await start(runtimeCommand[runtime](`bench/servers/${file}`, [String(port)]), { cpu: SERVER_CPU, ready: /listening on/ });
  return { ...server, url: `http://127.0.0.1:${port}` };
}

function wrk(url, script, seconds) {
  const out = execFileSync("taskset", ["-c", LOAD_CPU, "wrk", "-t1", "-c64", `-d${seconds}s`, "-s", `${root}bench/wrk/${script}`, url], { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (non2xx > 0) throw new Error(`${url}: ${non2xx} refused requests\n${out}`);
  return rps;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * The servers up at once (bare Hono+Zod, the lean one, the broker), each warmed up by a
 * second of the same load (not counted), then timed in turns, `ROUNDS` times each: the
 * machine's slow spells then fall on all, and the medians are compared.
 */
async function measurePublish(runtime, script) {
  const servers = [await baseline(runtime, "baseline-publish.ts"), await baseline(runtime, "baseline-publish-lean.ts"), await broker(runtime)];
  for (const server of servers) wrk(server.url, script, 1);
  const rates = servers.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    servers.forEach((server, index) => rates[index].push(wrk(server.url, script, SECONDS)));
  }
  for (const server of servers) await server.stop();
  const [bareRps, leanRps, brokerRps] = rates.map(median);
  const against = (index) => rates[2].map((rps, round) => rps / rates[index][round]);
  return {
    broker: brokerRps,
    baseline: bareRps,
    ratio: brokerRps / bareRps,
    turnRatios: against(0),
    lean: { baseline: leanRps, ratio: brokerRps / leanRps, turnRatios: against(1) },
  };
}

/**
 * Row 3 in turns, `ROUNDS` times each, a fresh server each turn (each client run warms it
 * up first), compared as medians like rows 1–2.
 */
async function measureConsume(runtime) {
  const turns = { broker: [], baseline: [] };
  for (let round = 0; round < ROUNDS; round++) {
    turns.broker.push(await consumeOnBroker(runtime));
    turns.baseline.push(await consumeOnRedis(runtime));
  }
  const middle = (results) => results.find((result) => result.eventsPerSecond === median(results.map((r) => r.eventsPerSecond)));
  const [ours, theirs] = [middle(turns.broker), middle(turns.baseline)];
  return {
    broker: ours.eventsPerSecond,
    baseline: theirs.eventsPerSecond,
    ratio: ours.eventsPerSecond / theirs.eventsPerSecond,
    turnRatios: turns.broker.map((result, round) => result.eventsPerSecond / turns.baseline[round].eventsPerSecond),
    brokerBusy: busyOf(ours),
    baselineBusy: busyOf(theirs),
  };
}

async function consumeOnBroker(runtime) {
  const server = await broker(runtime);
  const result = await runClient(runtimeCommand[runtime]("bench/clients/consume.ts", [server.url, "200000", "50000"]));
  await server.stop();
  return result;
}

async function consumeOnRedis(runtime) {
  const port = String(nextPort++);
  const redis = await start(["redis-server", "--port", port, "--save", "", "--appendonly", "no"], { cpu: SERVER_CPU, ready: /Ready to accept connections/ });
  const result = await runClient(runtimeCommand[runtime]("bench/clients/redis-consume.ts", [port, "200000", "50000"]));
  await redis.stop();
  return result;
}

const busyOf = ({ serverCpuShare, serverKernelShare, clientCpuShare }) => ({ serverCpuShare, serverKernelShare, clientCpuShare });

/** RSS growth per open stream of a server started by `startServer`, at `count` streams. */
async function rssPerStream(runtime, startServer, count) {
  const server = await startServer();
  await sleep(500);
  const before = rssKiB(server.child.pid);
  const clients = await start(runtimeCommand[runtime]("bench/clients/idle.ts", [server.url, String(count)]), { cpu: LOAD_CPU, ready: /RESULT .*\n/ });
  await sleep(1_000);
  const kib = (rssKiB(server.child.pid) - before) / count;
  await clients.stop();
  await server.stop();
  return kib;
}

async function measureIdle(runtime) {
  // Few waiting pulls, so that an open-file limit of 20,000 leaves room for 10,000 streams.
  const env = { BROKER_MAX_WAITING_PULLS: "100" };
  const kibPer1k = await rssPerStream(runtime, () => broker(runtime, env), 1_000);
  const kibPer10k = await rssPerStream(runtime, () => broker(runtime, env), 10_000);
  const baselineKibPer10k = await rssPerStream(runtime, () => baseline(runtime, "baseline-sse.ts"), 10_000);
  return { kibPer1k, kibPer10k, baselineKibPer10k, ratio: kibPer10k / baselineKibPer10k };
}

async function measureFanout(runtime) {
  const server = await broker(runtime, { BROKER_MAX_STREAMS: "20000" });
  const ours = await runClient(runtimeCommand[runtime]("bench/clients/fanout.ts", [server.url, "1000", "100", String(SECONDS)]));
  await server.stop();
  const bare = await baseline(runtime, "baseline-sse.ts");
  const theirs = await runClient(runtimeCommand[runtime]("bench/clients/fanout.ts", [bare.url, "1000", "100", String(SECONDS)]));
  await bare.stop();
  return {
    ...ours,
    baselineP99Ms: theirs.p99Ms,
    p99Ratio: ours.p99Ms / theirs.p99Ms,
    baselineSaturated: theirs.saturatedDeliveriesPerSecond,
    ratio: ours.saturatedDeliveriesPerSecond / theirs.saturatedDeliveriesPerSecond,
  };
}

async function measureCore(runtime) {
  return await runClient(runtimeCommand[runtime]("bench/core.ts"));
}

/** A row's ratio of medians, and the spread of the ratios turn by turn. */
const turnsRatio = ({ ratio, turnRatios }) =>
  turnRatios.length > 1 ? `${fmt(ratio, 2)}× (turns ${fmt(Math.min(...turnRatios), 2)}–${fmt(Math.max(...turnRatios), 2)})` : `${fmt(ratio, 2)}×`;

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "-");

/** How busy a server and its client were, in percent of a core: whose limit a rate is. */
const busy = ({ serverCpuShare, serverKernelShare, clientCpuShare }) =>
  `busy: server ${fmt(serverCpuShare * 100)}% (${fmt(serverKernelShare * 100)}% in the kernel), client ${fmt(clientCpuShare * 100)}%`;

/** The table's rows of one runtime, for the measures that ran (BENCH_ONLY may skip some). */
function rowsOf(runtime, r) {
  const rows = {
    publishOne: () => [
      ["1. publish, 1 event/request (req/s)", fmt(r.publishOne.broker), `bare Hono+Zod ${fmt(r.publishOne.baseline)}`, turnsRatio(r.publishOne), "≥ 0.9×"],
      ["1l. the same, against a lean schema", "", `lean Hono+Zod ${fmt(r.publishOne.lean.baseline)}`, turnsRatio(r.publishOne.lean), "≥ 0.7×"],
    ],
    publishBatch: () => [
      ["2. publish, batches of 100 (events/s)", fmt(r.publishBatch.broker * 100), `bare Hono+Zod ${fmt(r.publishBatch.baseline * 100)}`, turnsRatio(r.publishBatch), "≥ 0.9×"],
      ["2l. the same, against a lean schema", "", `lean Hono+Zod ${fmt(r.publishBatch.lean.baseline * 100)}`, turnsRatio(r.publishBatch.lean), "≥ 0.7×"],
    ],
    consume: () => [[
      "3. acked consumption, 200k events (events/s)",
      `${fmt(r.consume.broker)}; ${busy(r.consume.brokerBusy)}`,
      `Redis Streams ${fmt(r.consume.baseline)}; ${busy(r.consume.baselineBusy)}`,
      turnsRatio(r.consume),
      "≥ 1.5×",
    ]],
    idle: () => [["4. idle SSE streams (KiB RSS each)", `${fmt(r.idle.kibPer1k, 1)} @1k, ${fmt(r.idle.kibPer10k, 1)} @10k`, `bare streamSSE ${fmt(r.idle.baselineKibPer10k, 1)} @10k`, `${fmt(r.idle.ratio, 2)}×`, "≤ 16 @10k"]],
    fanout: () => [
      ["5a. fan-out 1k streams × 100 ev/s", `${fmt(r.fanout.steadyDelivered)}/${fmt(r.fanout.expected)} delivered, ${r.fanout.droppedSteady} dropped, p50 ${fmt(r.fanout.p50Ms, 1)} ms, p99 ${fmt(r.fanout.p99Ms, 1)} ms; ${busy(r.fanout)}`, `bare writeSSE p99 ${fmt(r.fanout.baselineP99Ms, 1)} ms`, `${fmt(r.fanout.p99Ratio, 2)}×`, "0 drops, p99 ≤ 100 ms"],
      ["5b. fan-out saturation (deliveries/s)", fmt(r.fanout.saturatedDeliveriesPerSecond), `bare writeSSE ${fmt(r.fanout.baselineSaturated)}`, `${fmt(r.fanout.ratio, 2)}×`, "≥ 5×"],
    ],
    core: () => [
      ["6. core in-process, 10 subscribers (events/s)", `${fmt(r.core.eventsPerSecond)} (${fmt(r.core.deliveriesPerSecond)} deliveries/s)`, `plain loop ${fmt(r.core.baselineEventsPerSecond)}`, turnsRatio({ ratio: r.core.eventsPerSecond / r.core.baselineEventsPerSecond, turnRatios: r.core.turnRatios }), ""],
      [
        "6b. row 2 in process, no HTTP (events/s)",
        `sendBatch ${fmt(r.core.publish.sendBatch)}; validate+encode ${fmt(r.core.publish.validateEncode)}`,
        `parse+validate ${fmt(r.core.publish.validate)}`,
        `${turnsRatio({ ratio: r.core.publish.sendBatch / r.core.publish.validate, turnRatios: r.core.publish.turnRatios })}; encoding alone ${fmt(r.core.publish.validateEncode / r.core.publish.validate, 2)}×`,
        "",
      ],
      ["7. memory per retained event (bytes)", fmt(r.core.bytesPerEvent), `its JSON ${fmt(r.core.jsonBytes)}`, `${fmt(r.core.ratio, 2)}×`, "≤ 2×"],
      ["8. worst fan-out within the defaults (ms a publish holds the loop)", `1,000 events × 10,000 required ${fmt(r.core.worstFanOut.requiredMs, 1)}; × 10,000 streams ${fmt(r.core.worstFanOut.streamsMs, 1)}`, `nobody subscribed ${fmt(r.core.worstFanOut.aloneMs, 1)}`, `${fmt(r.core.worstFanOut.requiredMs / r.core.worstFanOut.aloneMs, 1)}×; ${fmt(r.core.worstFanOut.streamsMs / r.core.worstFanOut.aloneMs, 1)}×`, "≤ 50 ms"],
    ],
  };
  const own = Object.entries(rows).filter(([measure]) => r[measure] !== undefined).flatMap(([, build]) => build());
  return [...own, ...storageRows(r, { fmt, turnsRatio })].map((row) => [runtime, ...row]);
}

function table(results) {
  const rows = Object.entries(results).flatMap(([runtime, r]) => rowsOf(runtime, r));
  const header = ["runtime", "measure", "event-broker", "baseline", "ratio", "target"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => `| ${cells.map((cell, i) => String(cell).padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

ensureTools();
const storage = storageMeasures({ start, runClient, wrk, median, runtimeCommand, broker, port: () => nextPort++, ROUNDS, SECONDS, SERVER_CPU, LOAD_CPU });
const results = {};
for (const runtime of RUNTIMES) {
  console.error(`\n# ${runtime}`);
  const step = async (name, measure) => {
    if (ONLY && !ONLY.some((word) => name.includes(word))) return undefined;
    console.error(`  ${name} …`);
    return await measure();
  };
  results[runtime] = {
    publishOne: await step("publish, one event per request", () => measurePublish(runtime, "publish-one.lua")),
    publishBatch: await step("publish, batches of 100", () => measurePublish(runtime, "publish-batch.lua")),
    consume: await step("acked consumption vs Redis Streams", () => measureConsume(runtime)),
    idle: await step("idle streams", () => measureIdle(runtime)),
    fanout: await step("fan-out", () => measureFanout(runtime)),
    core: await step("core in-process", () => measureCore(runtime)),
    durablePublish: await step("durable publish, batches of 100", () => storage.durablePublish(runtime)),
    durableConsume: await step("durable acked consumption vs Redis Streams with AOF", () => storage.durableConsume(runtime)),
    restart: await step("durable restart", () => storage.restart(runtime)),
    redisPublish: await step("redis publish, batches of 100", () => storage.redisPublish(runtime)),
    redisConsume: await step("redis acked consumption vs Redis Streams with AOF", () => storage.redisConsume(runtime)),
    fanoutAcross: await step("redis fan-out across instances", () => storage.fanoutAcross(runtime)),
    processes: await step("redis processes, 2 against 1", () => storage.processes(runtime)),
  };
}
const summary = table(results);
console.log(`\n${summary}\n`);
writeFileSync(`${root}bench/results.json`, JSON.stringify({ when: new Date().toISOString(), seconds: SECONDS, results }, null, 2));
console.log("written to bench/results.json");
