import assert from "node:assert/strict";
import { test } from "node:test";
import { type TestApp, testApp } from "../support/app.ts";
import { IN_PROCESS, onlyOn } from "../support/engine-kind.ts";
import { sample } from "../support/http.ts";
import { eventually, within } from "../support/wait.ts";

/** Every instance's metrics once each has followed the log; a deployment's counters are the sum of its instances'. */
async function scrapeAll(app: TestApp): Promise<string[]> {
  await app.lastSeq();
  return await Promise.all(app.instances.map(async (instance) => {
    const response = await instance.request("/metrics");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
    return await response.text();
  }));
}

const total = (texts: string[], series: string) => texts.reduce((sum, text) => sum + (sample(text, series) ?? 0), 0);

test("GET /metrics reports accepted, refused, deliveries, drops, backlog, lag and runtime metrics", async () => {
  const app = await testApp({ streamBuffer: 1, maxBodyBytes: 2_000 });
  const { id } = await (await app.post("/subscriptions", { name: "ledger" })).json();
  const stream = await app.openStream();
  await app.post("/events", [{ type: "a" }, { type: "a" }, { type: "a", id: "x" }]);
  await app.post("/events", { type: "a", id: "x" });
  await app.post("/events", { type: "bad type" });
  await app.post("/events", { type: "a", data: "x".repeat(3_000) });
  // The path percent-encoded, as a client may send it: counted as a publish all the same.
  await app.request("/%65vents", { method: "POST", headers: { origin: "http://evil.example", "content-type": "application/json" }, body: '{"type":"a"}' });
  await app.post(`/subscriptions/${id}/pull`, { waitMs: 0 });
  await app.post(`/subscriptions/${id}/ack`, { seq: 1 });
  const texts = await scrapeAll(app);
  assert.equal(total(texts, "broker_events_accepted_total"), 3);
  assert.equal(total(texts, "broker_duplicates_total"), 1);
  assert.equal(total(texts, 'broker_publish_refused_total{reason="invalid"}'), 1);
  assert.equal(total(texts, 'broker_publish_refused_total{reason="body-too-large"}'), 1);
  assert.equal(total(texts, 'broker_publish_refused_total{reason="forbidden"}'), 1, "a publish from a page on another origin");
  assert.equal(total(texts, 'broker_deliveries_total{kind="required"}'), 3);
  assert.equal(total(texts, 'broker_deliveries_total{kind="stream"}'), 1);
  assert.equal(total(texts, "broker_stream_drops_total"), 2);
  assert.equal(total(texts, "broker_open_streams"), 1);
  for (const text of texts) {
    assert.equal(sample(text, `broker_subscription_backlog{subscription="${id}",name="ledger"}`), 2);
    assert.equal(sample(text, `broker_subscription_lag{subscription="${id}",name="ledger"}`), 2);
    assert.ok(sample(text, "process_resident_memory_bytes")! > 0);
    assert.ok(sample(text, "nodejs_heap_size_used_bytes")! > 0);
    assert.doesNotMatch(text, /nodejs_heap_space_size/, "no series that walks the heap on every scrape");
  }
  assert.equal(stream.subscription.dropped, 2);
  await app.close();
});

test("GET /metrics bounds the per-subscription series to the 50 largest backlogs", async () => {
  const app = await testApp();
  for (let i = 0; i < 60; i++) await app.subscribe({ types: [`t${i}`] });
  await app.post("/events", { type: "t59" });
  const text = await (await app.request("/metrics")).text();
  const series = text.split("\n").filter((line) => line.startsWith("broker_subscription_backlog{"));
  assert.equal(series.length, 50);
  assert.ok(series.some((line) => line.endsWith(" 1")), "the one with a backlog is among them");
  await app.close();
});

test("GET /metrics shows how full each part of the memory budget is, and its bound", async () => {
  const app = await testApp({ memoryBudgetBytes: 64 * 1_048_576 });
  await app.post("/subscriptions", {});
  await app.post("/events", { type: "a", data: "x".repeat(10_000) });
  for (const text of await scrapeAll(app)) {
    for (const part of ["required", "streams", "history", "dedupe", "pulls"]) {
      assert.ok(sample(text, `broker_memory_limit_bytes{part="${part}"}`)! > 0, part);
      assert.notEqual(sample(text, `broker_memory_used_bytes{part="${part}"}`), undefined, part);
    }
    assert.ok(sample(text, 'broker_memory_used_bytes{part="history"}')! > 10_000);
  }
  await app.close();
});

test("GET /metrics counts a required backlog in the memory budget of the process that holds it", onlyOn(IN_PROCESS, "Redis keeps required backlogs, not this process's memory budget"), async () => {
  const app = await testApp({ memoryBudgetBytes: 64 * 1_048_576 });
  await app.post("/subscriptions", {});
  await app.post("/events", { type: "a", data: "x".repeat(10_000) });
  const [text] = await scrapeAll(app);
  assert.ok(sample(text, 'broker_memory_used_bytes{part="required"}')! > 10_000);
  await app.close();
});

test("GET /metrics counts waiting pulls in broker_pull_waits, not subscriptions", async () => {
  const app = await testApp();
  const instance = app.one(); // each instance counts its own
  const waiting = await instance.engine.subscribe({});
  await instance.engine.subscribe({});
  const pullWaits = async () => sample(await (await instance.request("/metrics")).text(), "broker_pull_waits");
  assert.equal(await pullWaits(), 0);
  const pulls = [1, 2, 3].map(() => instance.engine.pull(waiting.id, { waitMs: 1_000 }));
  await eventually(async () => (await pullWaits()) === 3, 3_000, "three waiting pulls");
  app.clock.advance(1_000);
  assert.deepEqual(await within(Promise.all(pulls)), [[], [], []]);
  assert.equal(await pullWaits(), 0);
  await app.close();
});
