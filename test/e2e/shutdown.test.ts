import assert from "node:assert/strict";
import { test } from "node:test";
import { SseReader } from "../support/sse.ts";
import { postJson, runtime, startServer } from "../support/server-process.ts";

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${runtime}: ${signal} ends streams with broker.closing, answers waiting pulls, and exits 0`, async () => {
    const server = await startServer();
    const stream = new SseReader((await fetch(`${server.url}/events/stream`)).body!);
    await stream.until((m) => m.event === "broker.subscribed");
    const sub = await (await postJson(`${server.url}/subscriptions`, {})).json();
    const pull = postJson(`${server.url}/subscriptions/${sub.id}/pull`, { waitMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const exited = server.stop(signal);
    const [closing] = await stream.until((m) => m.event === "broker.closing");
    assert.deepEqual(JSON.parse(closing.data), { reason: "shutdown" });
    assert.equal(await stream.next(), null, "the stream ended");
    const answer = await pull;
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { events: [] });
    assert.equal(await exited, 0);
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });
}
