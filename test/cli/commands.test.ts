import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import process from "node:process";
import { test } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../support/cli.ts";
import { runtime, startServer } from "../support/server-process.ts";
import { eventually, sleep } from "../support/wait.ts";

test(`${runtime}: broker publish sends one event, or streams NDJSON from stdin and prints the broker's summary`, async () => {
  const server = await startServer();
  const env = { BROKER_URL: server.url };
  const one = await runCli(["publish", "order.new", '{"qty":1}'], env);
  assert.equal(one.code, 0);
  assert.deepEqual(JSON.parse(one.stdout), { accepted: 1, first: 1, last: 1 });
  const lines = Array.from({ length: 25 }, (_, i) => JSON.stringify({ n: i }));
  const many = await runCli(["publish", "tick"], env, [...lines, ""]);
  assert.equal(many.code, 0, many.stderr);
  assert.deepEqual(JSON.parse(many.stdout), { accepted: 25, first: 2, last: 26, duplicates: 0, rejected: 0, errors: [] });
  assert.match(many.stderr, /published 25 events \(seq 2-26\)/);
  const objects = await runCli(["publish"], env, ['{"type":"a"}', '{"type":"b","data":2}']);
  assert.match(objects.stderr, /published 2 events/);
  const bad = await runCli(["publish"], env, ["not json", '{"type":"c"}', '{"type":"bad type"}']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^line 1: is not valid JSON/m);
  assert.match(bad.stderr, /^line 3: \/type /m);
  assert.equal(JSON.parse(bad.stdout).accepted, 1);
  const refused = await runCli(["publish", "bad type"], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /400/);
  const { subscriptions } = await (await fetch(`${server.url}/subscriptions`)).json();
  assert.equal(subscriptions.length, 0);
  const health = await (await fetch(`${server.url}/healthz`)).json();
  assert.equal(health.lastSeq, 29);
  await server.stop();
});

test(`${runtime}: broker publish streams piped lines in one request, each accepted before stdin ends`, async () => {
  const server = await startServer();
  const lastSeq = async () => (await (await fetch(`${server.url}/healthz`)).json()).lastSeq;
  const seenBeforeNext: number[] = [];
  const slowPipe = async function* () {
    for (let n = 1; n <= 4; n++) {
      yield JSON.stringify({ n });
      await eventually(async () => (await lastSeq()) === n, 2_000, `line ${n} accepted`);
      seenBeforeNext.push(n);
      await sleep(350);
    }
  };
  const run = await runCli(["publish", "log.line"], { BROKER_URL: server.url }, slowPipe());
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(seenBeforeNext, [1, 2, 3, 4]);
  assert.match(run.stderr, /^sent 4 lines$/m, "progress once a second");
  assert.deepEqual(JSON.parse(run.stdout), { accepted: 4, first: 1, last: 4, duplicates: 0, rejected: 0, errors: [] });
  await server.stop();
});

test(`${runtime}: the broker command as a program streams a pipe on its stdin: tail -f log | broker publish`, { timeout: 30_000 }, async () => {
  const server = await startServer();
  const lastSeq = async () => (await (await fetch(`${server.url}/healthz`)).json()).lastSeq;
  const command = runtime === "bun" ? [process.execPath, "src/cli.ts"] : [process.execPath, "run", "-A", "src/cli.ts"];
  const cli = spawn(command[0], [...command.slice(1), "publish", "--url", server.url], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  cli.stdout.on("data", (chunk) => (stdout += chunk));
  const exited = new Promise((resolve) => cli.once("exit", resolve));
  try {
    for (let n = 1; n <= 3; n++) {
      cli.stdin.write(`${JSON.stringify({ type: "log.line", data: n })}\n`);
      await eventually(async () => (await lastSeq()) === n, 3_000, `line ${n} accepted while stdin is open`);
    }
    cli.stdin.end();
    assert.equal(await exited, 0);
    assert.deepEqual(JSON.parse(stdout), { accepted: 3, first: 1, last: 3, duplicates: 0, rejected: 0, errors: [] });
  } finally {
    cli.kill();
    await server.stop();
  }
});

test(`${runtime}: broker tail prints events as NDJSON, filtered, resumed with --since`, async () => {
  const server = await startServer();
  const env = { BROKER_URL: server.url };
  await fetch(`${server.url}/events`, { method: "POST", body: JSON.stringify([{ type: "a.x" }, { type: "b" }, { type: "a.y" }]) });
  const tail = await runCli(["tail", "--types", "a.*", "--since", "0", "--count", "2"], env);
  assert.equal(tail.code, 0);
  assert.deepEqual(tail.stdout.trim().split("\n").map((line) => JSON.parse(line).seq), [1, 3]);
  await server.stop();
});

test(`${runtime}: the broker command runs as a program and serve starts the broker`, async () => {
  const run = promisify(execFile);
  const command = runtime === "bun" ? [process.execPath, "src/cli.ts"] : [process.execPath, "run", "-A", "src/cli.ts"];
  const { stdout } = await run(command[0], [...command.slice(1), "--help"]);
  assert.match(stdout, /serve[\s\S]*publish[\s\S]*tail[\s\S]*token/);
  const serveHelp = await run(command[0], [...command.slice(1), "serve", "--help"]);
  assert.match(serveHelp.stdout, /--stream-buffer/);
  const server = await startServer({}, { viaCli: true });
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  assert.equal(await server.stop(), 0);
});

/** Nothing listens on port 1: connecting is refused at once. */
const NOBODY = { BROKER_URL: "http://127.0.0.1:1" };

/** A tail that never ends fails the test instead of hanging it. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

test(`${runtime}: an unreachable broker is one clear line and exit 3, for publish and for tail`, async () => {
  const publish = await runCli(["publish", "order.new", "1"], NOBODY);
  assert.equal(publish.code, 3);
  assert.match(publish.stderr, /^broker publish: cannot reach the broker at http:\/\/127\.0\.0\.1:1: .+\n$/);
  const tail = await within(5_000, runCli(["tail"], NOBODY), "tail");
  assert.equal(tail.code, 3);
  assert.match(tail.stderr, /^broker tail: cannot reach the broker at http:\/\/127\.0\.0\.1:1: .+\n$/);
});

test(`${runtime}: a refusal prints the problem and each of its errors, exit 1`, async () => {
  const server = await startServer();
  const refused = await runCli(["publish", "bad type", "1"], { BROKER_URL: server.url });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^broker publish: refused: 400 .+\n {2}\/type: must be 1-128 characters/);
  await server.stop();
});

test(`${runtime}: broker tail exits 3 when the broker shuts down`, async () => {
  const server = await startServer();
  const tail = runCli(["tail"], { BROKER_URL: server.url });
  await eventually(async () => (await (await fetch(`${server.url}/subscriptions`)).json()).subscriptions.length === 1);
  assert.equal(await server.stop(), 0);
  const { code, stderr } = await within(5_000, tail, "tail");
  assert.equal(code, 3);
  assert.match(stderr, /broker tail: the broker is shutting down\n$/);
});

test(`${runtime}: broker tail says when it reconnects, and gives up with exit 3 after --reconnects failures in a row`, async () => {
  const server = await startServer({ BROKER_RETRY_MS: "20" });
  const env = { BROKER_URL: server.url };
  const tail = runCli(["tail", "--count", "1", "--reconnects", "2"], env);
  const streamIds = async () => (await (await fetch(`${server.url}/subscriptions`)).json()).subscriptions.map((sub: { id: string }) => sub.id);
  await eventually(async () => (await streamIds()).length === 1);
  const [first] = await streamIds();
  await fetch(`${server.url}/subscriptions/${first}`, { method: "DELETE" });
  await eventually(async () => (await streamIds()).some((id: string) => id !== first), 3_000, "the reconnect");
  await server.stop("SIGKILL");
  const { code, stderr } = await within(5_000, tail, "tail");
  assert.equal(code, 3);
  const lines = stderr.trim().split("\n");
  assert.equal(lines[0], '{"kind":"closing","reason":"deleted"}');
  assert.match(lines[1], /^broker tail: lost the connection \(the broker ended the stream\); reconnecting in 20 ms \(attempt 1 of 2\)$/);
  assert.equal(lines[2], "broker tail: reconnected");
  assert.match(lines[3], /^broker tail: lost the connection \(.+\); reconnecting in 20 ms \(attempt 1 of 2\)$/);
  assert.match(lines[4], /^broker tail: could not reconnect \(.+\); reconnecting in 20 ms \(attempt 2 of 2\)$/);
  assert.match(lines[5], /^broker tail: lost the stream from http:\/\/127\.0\.0\.1:\d+ and 2 reconnects in a row failed: .+$/);
  assert.equal(lines.length, 6);
});

test("unknown commands, unknown options, extra arguments and bad numbers are refused with exit 2 before anything is sent", async () => {
  const cases: [string[], RegExp][] = [
    [["bogus"], /^broker: unknown command "bogus"\n\nusage: broker <command>/],
    [["tail", "--typez", "x"], /^broker tail: unknown option --typez\n\nusage: broker tail/],
    [["tail", "-t", "x"], /^broker tail: unknown option -t\n/],
    [["tail", "order.*"], /^broker tail: unexpected argument "order\.\*"\n/],
    [["tail", "--count", "0"], /^broker tail: --count must be a whole number, 1 or more\n/],
    [["tail", "--reconnects", "-1"], /^broker tail: --reconnects must be a whole number, 0 or more\n/],
    [["publish", "a", "1", "2"], /^broker publish: unexpected argument "2"\n/],
    [["publish", "a", "1", "--bacth", "5"], /^broker publish: unknown option --bacth\n/],
    [["token", "--sub", "x", "--subscribes", "a"], /^broker token: unknown option --subscribes\n/],
  ];
  for (const [argv, stderr] of cases) {
    const result = await within(5_000, runCli(argv, NOBODY), argv.join(" "));
    assert.equal(result.code, 2, argv.join(" "));
    assert.match(result.stderr, stderr);
  }
});
