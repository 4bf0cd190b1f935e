// The ways the README says to run the broker, each stopped the way a supervisor stops it: SIGTERM to the pid it started.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { sharedRedis } from "../support/redis-server.ts";
import { SseReader } from "../support/sse.ts";
import { postJson, runtime } from "../support/server-process.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

interface Launched {
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

/**
 * Runs `command` in its own process group until it prints the address it listens on. The
 * group is killed at the end, so that a process the signal did not reach is not left behind.
 */
async function launched<T>(command: string[], cwd: string, use: (broker: Launched) => Promise<T>, env = process.env): Promise<T> {
  const child = spawn(command[0], command.slice(1), { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => reject(new Error(`${command.join(" ")} did not start:\n${output}`)), 20_000);
      const collect = (chunk: Buffer) => {
        output += chunk;
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      child.stdout!.on("data", collect);
      child.stderr!.on("data", collect);
      exited.then(() => reject(new Error(`${command.join(" ")} exited:\n${output}`)));
    });
    return await use({ url, child, exited });
  } finally {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // the group is gone: every process of it stopped
    }
  }
}

/** Opens a stream, publishes one event, reads it back; then SIGTERM to `pid` must end the stream with broker.closing and exit 0. */
async function servesThenStopsOnSigterm(broker: Launched, pid = broker.child.pid!): Promise<void> {
  const stream = new SseReader((await fetch(`${broker.url}/events/stream?types=deploy.*`)).body!);
  await stream.until((message) => message.event === "broker.subscribed");
  const published = await postJson(`${broker.url}/events`, { type: "deploy.checked", data: { by: "test" } });
  assert.equal(published.status, 202);
  const [event] = await stream.until((message) => message.event === undefined && message.data !== "");
  assert.deepEqual(JSON.parse(event.data).data, { by: "test" });

  process.kill(pid, "SIGTERM");
  assert.equal(await broker.exited, 0, "exit code after SIGTERM");
  const [closing] = await stream.until((message) => message.event === "broker.closing");
  assert.deepEqual(JSON.parse(closing.data), { reason: "shutdown" });
  await assert.rejects(fetch(`${broker.url}/healthz`), "nothing serves on the port any more");
}

test(`${runtime}: npm run build makes a standalone binary that serves (dashboard and Redis scripts included) and exits 0 on SIGTERM`, { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "event-broker-binary-"));
  try {
    const binary = join(dir, "event-broker");
    // `npm run build` as documented, only its output moved out of the tree: bun build takes the last --outfile.
    const build = spawn("npm", ["run", "-s", "build", "--", "--outfile", binary], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    build.stdout!.on("data", (chunk) => (log += chunk));
    build.stderr!.on("data", (chunk) => (log += chunk));
    assert.equal(await new Promise((resolve) => build.once("exit", resolve)), 0, `npm run build failed:\n${log}`);

    // Run from elsewhere than the repository: nothing may be read from the source tree.
    await launched([binary, "--port", "0"], dir, async (broker) => {
      const page = await fetch(`${broker.url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/);
      await servesThenStopsOnSigterm(broker);
    });
    // Its Redis scripts come with it too.
    const redis = await sharedRedis();
    await launched([binary, "--port", "0"], dir, async (broker) => {
      const subscribed = await postJson(`${broker.url}/subscriptions`, {});
      assert.equal(subscribed.status, 201);
      assert.equal((await postJson(`${broker.url}/events`, { type: "a" })).status, 202);
      const pulled = await postJson(`${broker.url}/subscriptions/${(await subscribed.json()).id}/pull`, { waitMs: 0 });
      assert.equal((await pulled.json()).events.length, 1);
    }, { ...process.env, BROKER_REDIS_URL: redis.url, BROKER_REDIS_PREFIX: `binary:${crypto.randomUUID()}:` });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(`${runtime}: SIGTERM to npm's pid reaches the broker that \`npm run ${runtime === "bun" ? "start" : "start:deno"}\` started`, { timeout: 60_000 }, async () => {
  const script = runtime === "bun" ? "start" : "start:deno";
  await launched(["npm", "run", script, "--", "--port", "0"], REPO, (broker) => servesThenStopsOnSigterm(broker));
});

if (runtime === "bun") {
  test("bun: npm start and npm run broker run Bun with its allocator's purge delay at 100 ms, and a delay given by the caller wins", { timeout: 60_000 }, async () => {
    const scripts = [[["start", "--", "--port", "0"], "src/bun.ts"], [["run", "broker", "--", "serve", "--port", "0"], "src/cli.ts"]] as const;
    for (const [args, entry] of scripts) {
      for (const [given, expected] of [[undefined, "100"], ["250", "250"]] as const) {
        const { MIMALLOC_PURGE_DELAY: _, ...env } = process.env;
        if (given !== undefined) env.MIMALLOC_PURGE_DELAY = given;
        await launched(["npm", ...args], REPO, async (broker) => {
          const { command, environment } = runtimeOf(broker.child.pid!);
          assert.match(command, new RegExp(entry), "the process npm started is the runtime itself");
          assert.equal(environment.get("MIMALLOC_PURGE_DELAY"), expected, `npm ${args.join(" ")}`);
        }, env);
      }
    }
  });
}

/** The command line and environment of the runtime npm started: its only child, as the script's shell `exec`s it. */
function runtimeOf(npmPid: number): { command: string; environment: Map<string, string> } {
  const [child] = readFileSync(`/proc/${npmPid}/task/${npmPid}/children`, "utf8").trim().split(" ");
  const command = readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0").join(" ");
  const entries = readFileSync(`/proc/${child}/environ`, "utf8").split("\0").filter(Boolean);
  const pairs = entries.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)] as const);
  return { command, environment: new Map(pairs) };
}
