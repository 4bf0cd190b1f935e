import assert from "node:assert/strict";
import { test } from "node:test";
import { pullsWaiting } from "../support/http.ts";
import { openStream } from "../support/sse.ts";
import { postJson, runtime, startServer } from "../support/server-process.ts";
import { within } from "../support/wait.ts";

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${runtime}: ${signal} ends streams with broker.closing, answers waiting pulls, and exits 0`, async () => {
    const server = await startServer();
    const { reader: stream } = await openStream(server.url);
    const sub = await (await postJson(`${server.url}/subscriptions`, {})).json();
    const pull = postJson(`${server.url}/subscriptions/${sub.id}/pull`, { waitMs: 60_000 });
    await pullsWaiting(server.url);
    const started = Date.now();
    const exited = server.stop(signal);
    const [closing] = await stream.until((m) => m.event === "broker.closing");
    assert.deepEqual(JSON.parse(closing.data), { reason: "shutdown" });
    assert.equal(await within(stream.next(), 5_000, "the stream's end"), null, "the stream ended");
    const answer = await within(pull, 5_000, "the waiting pull's answer");
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { events: [] });
    assert.equal(await within(exited, 5_000, "the exit"), 0);
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });
}
