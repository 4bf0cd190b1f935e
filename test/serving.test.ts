import assert from "node:assert/strict";
import { test } from "node:test";
import { settingsSchema } from "../src/config.ts";
import type { ConnectionTimer } from "../src/connection-watch.ts";
import { Serving } from "../src/serving.ts";

const timer: ConnectionTimer = { hold: () => {}, release: () => {} };

test("Serving lowers streams and waiting pulls to fit the open-file limit, and says so at start", async () => {
  const serving = new Serving(settingsSchema.parse({ headerTimeoutMs: 2_500 }), 1_024);
  assert.equal(serving.settings.maxStreams, 480);
  assert.equal(serving.settings.maxWaitingPulls, 240);
  assert.equal(serving.server.broker.options.maxWaitingPulls, 240);
  assert.equal(serving.idleTimeoutSeconds, 3);
  const lines = serving.listening(8787);
  assert.match(lines[0], /^event-broker listening on http:\/\/127\.0\.0\.1:8787 \(state in memory; memory budget /);
  assert.match(lines.at(-1)!, /^warning: the open-file limit/);
  assert.equal(serving.edge.origin, "http://127.0.0.1:8787");
  await serving.server.close();
});

test("Serving.shutdown() stops accepting first, waits for requests in flight, answers 503 to those past the grace, then stops", async () => {
  const serving = new Serving(settingsSchema.parse({ shutdownGraceMs: 300 }), undefined);
  const steps: string[] = [];
  let sendRest!: () => void;
  const trickle = new ReadableStream<Uint8Array>({
    start: (controller) => controller.enqueue(new TextEncoder().encode('{"type":')),
    async pull(controller) {
      await new Promise<void>((resolve) => (sendRest = resolve));
      controller.enqueue(new TextEncoder().encode('"x"}'));
      controller.close();
    },
  });
  const stalled = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new TextEncoder().encode("[")), pull: () => new Promise(() => {}) });
  const post = (body: ReadableStream<Uint8Array>) =>
    serving.fetch(new Request("http://broker.test/events", { method: "POST", headers: { "content-type": "application/json" }, body, duplex: "half" } as RequestInit), timer);
  const finishing = post(trickle);
  const stuck = post(stalled);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const started = Date.now();
  const stopped = serving.shutdown(() => steps.push("stop accepting"), async () => void steps.push("stop server"));
  assert.deepEqual(steps, ["stop accepting"]);
  sendRest();
  assert.equal((await finishing).status, 503, "its body ended after the broker closed");
  const refused = await stuck;
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("connection"), "close");
  await stopped;
  assert.deepEqual(steps, ["stop accepting", "stop server"]);
  assert.ok(Date.now() - started >= 280, `after ${Date.now() - started} ms`);
});

test("Serving.shutdown() waits for a request whose body came with its headers, and lets it answer within the grace", async () => {
  const serving = new Serving(settingsSchema.parse({ shutdownGraceMs: 2_000 }), undefined);
  const steps: string[] = [];
  const text = '{"type":"x"}';
  const late = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      controller.enqueue(new TextEncoder().encode(text));
      controller.close();
    },
  });
  const headers = { "content-type": "application/json", "content-length": String(text.length) };
  const answer = serving.fetch(new Request("http://broker.test/events", { method: "POST", headers, body: late, duplex: "half" } as RequestInit), timer)
    .then((response) => (steps.push(`answered ${response.status}`), response));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const started = Date.now();
  await serving.shutdown(() => steps.push("stop accepting"), async () => void steps.push("stop server"));
  await answer;
  assert.deepEqual(steps, ["stop accepting", "answered 503", "stop server"]);
  assert.ok(Date.now() - started < 1_500, `stopped after ${Date.now() - started} ms: it waited for the request, not for the grace`);
});
