import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import process from "node:process";
import { test } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../support/cli.ts";
import { runtime, startServer } from "../support/server-process.ts";

test(`${runtime}: broker publish sends one event, or NDJSON from stdin in batches`, async () => {
  const server = await startServer();
  const env = { BROKER_URL: server.url };
  const one = await runCli(["publish", "order.new", '{"qty":1}'], env);
  assert.equal(one.code, 0);
  assert.deepEqual(JSON.parse(one.stdout), { accepted: 1, first: 1, last: 1 });
  const lines = Array.from({ length: 25 }, (_, i) => JSON.stringify({ n: i }));
  const many = await runCli(["publish", "tick", "--batch", "10"], env, [...lines, ""]);
  assert.equal(many.code, 0);
  assert.match(many.stderr, /published 25 events/);
  const objects = await runCli(["publish"], env, ['{"type":"a"}', '{"type":"b","data":2}']);
  assert.match(objects.stderr, /published 2 events/);
  const bad = await runCli(["publish"], env, ["not json"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /line 1 is not JSON/);
  const refused = await runCli(["publish", "bad type"], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /400/);
  const { subscriptions } = await (await fetch(`${server.url}/subscriptions`)).json();
  assert.equal(subscriptions.length, 0);
  const health = await (await fetch(`${server.url}/healthz`)).json();
  assert.equal(health.lastSeq, 28);
  await server.stop();
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
