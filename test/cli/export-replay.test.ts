// broker export writes kept events as NDJSON; broker replay publishes such a file, paced,
// keeping id and source so that replaying it twice is harmless; broker tail --filter.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "../support/cli.ts";
import { postJson, runtime, startServer } from "../support/server-process.ts";

test(`${runtime}: broker export writes the kept events, selected by types and filters, and replay puts them into another broker once however often it runs`, { timeout: 60_000 }, async () => {
  const source = await startServer();
  const target = await startServer();
  const dir = mkdtempSync(join(tmpdir(), "broker-export-"));
  try {
    const events = Array.from({ length: 30 }, (_, i) => ({ type: i % 3 === 0 ? "audit.log" : "order.new", source: "/shop", id: `e-${i}`, subject: `orders/${i}`, data: { i } }));
    await postJson(`${source.url}/events`, events);
    const all = await runCli(["export", "--since", "0"], { BROKER_URL: source.url });
    assert.equal(all.code, 0, all.stderr);
    const exported = all.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(exported.map((event) => event.seq), Array.from({ length: 30 }, (_, i) => i + 1));
    const orders = await runCli(["export", "--since", "10", "--types", "order.*", "--filter", '{"any":[{"suffix":{"subject":"4"}},{"suffix":{"subject":"5"}}]}'], { BROKER_URL: source.url });
    assert.deepEqual(orders.stdout.trim().split("\n").map((line) => JSON.parse(line).subject), ["orders/14", "orders/25"]);

    const file = join(dir, "events.ndjson");
    writeFileSync(file, all.stdout);
    const started = Date.now();
    const first = await runCli(["replay", file, "--rate", "100"], { BROKER_URL: target.url });
    assert.equal(first.code, 0, first.stderr);
    assert.ok(Date.now() - started >= 250, `30 events at 100/s took ${Date.now() - started} ms`);
    assert.deepEqual(JSON.parse(first.stdout).accepted, 30);
    const again = await runCli(["replay", file], { BROKER_URL: target.url });
    assert.deepEqual([JSON.parse(again.stdout).accepted, JSON.parse(again.stdout).duplicates], [0, 30], "replaying twice is harmless");
    const copied = await (await fetch(`${target.url}/events?after=0`)).json();
    assert.deepEqual(copied.events.map((event: { id: string; source: string }) => `${event.source} ${event.id}`), exported.map((event) => `${event.source} ${event.id}`));
  } finally {
    await Promise.all([source.stop(), target.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`${runtime}: broker tail --filter prints only the events the filter selects; a filter that is not JSON is a usage error`, { timeout: 30_000 }, async () => {
  const server = await startServer();
  try {
    await postJson(`${server.url}/events`, [{ type: "a", region: "us" }, { type: "a", region: "eu" }, { type: "b", region: "eu" }]);
    const tail = await runCli(["tail", "--since", "0", "--types", "a", "--filter", '{"exact":{"region":"eu"}}', "--count", "1"], { BROKER_URL: server.url });
    assert.equal(tail.code, 0, tail.stderr);
    assert.deepEqual(JSON.parse(tail.stdout).seq, 2);
    const bad = await runCli(["tail", "--filter", "region=eu"], { BROKER_URL: server.url });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--filter must be a filter as JSON/);
  } finally {
    await server.stop();
  }
});
