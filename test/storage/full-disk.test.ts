// A durable broker whose disk is full: a publish is refused 503 and nothing of it is
// accepted, while everything already accepted is still served.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { randomBytes } from "node:crypto";
import { LocalEngine } from "../../src/broker/mod.ts";
import { settingsSchema } from "../../src/config.ts";
import { brokerOptionsOf, createBrokerServer } from "../../src/server.ts";
import { SqliteJournal } from "../../src/storage/sqlite-journal.ts";
import { problemOf } from "../support/app.ts";
import { FakeClock } from "../support/fake-clock.ts";

test("a full disk answers a publish 503 storage-unavailable with Retry-After, accepts none of it, and reads go on", async () => {
  const dir = mkdtempSync(join(tmpdir(), "broker-full-"));
  const settings = settingsSchema.parse({});
  const clock = new FakeClock();
  const engine = new LocalEngine({ ...brokerOptionsOf(settings, clock), journal: new SqliteJournal(dir, { sync: "normal", maxPages: 64 }) });
  const server = createBrokerServer(settings, clock, engine);
  const post = (path: string, body: unknown) => server.fetch(new Request(`http://broker.test${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
  try {
    const { id } = await (await post("/subscriptions", {})).json();
    let response: Response;
    let accepted = 0;
    for (response = await post("/events", { type: "a", data: incompressible() }); response.status === 202; response = await post("/events", { type: "a", data: incompressible() })) {
      accepted++;
    }
    const problem = await problemOf(response, 503);
    assert.equal(problem.type, "/problems/storage-unavailable");
    assert.equal(response.headers.get("retry-after"), "1");
    assert.ok(accepted > 10, `${accepted} accepted before the disk filled`);
    assert.equal((await (await server.fetch(new Request("http://broker.test/healthz"))).json()).lastSeq, accepted, "nothing of the refused publish");
    const pulled = await (await post(`/subscriptions/${id}/pull`, { max: 10_000, waitMs: 0 })).json();
    assert.equal(pulled.events.length, accepted, "what was accepted is served");
    assert.equal(pulled.events[0].seq, 1);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** 2,000 characters that deflate cannot shrink much: the journal stores publishes deflated. */
function incompressible(): string {
  return randomBytes(1_500).toString("base64");
}
