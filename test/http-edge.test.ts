import assert from "node:assert/strict";
import { test } from "node:test";
import { settingsSchema } from "../src/config.ts";
import type { ConnectionTimer } from "../src/connection-watch.ts";
import { Serving } from "../src/serving.ts";
import { sleep } from "./support/wait.ts";

/** The edge of a broker, and a timer recording what it was asked: `hold /path`, `release /path`. */
function edge(settings: Record<string, string> = {}) {
  const serving = new Serving(settingsSchema.parse(settings), undefined);
  serving.edge.origin = "http://127.0.0.1:8787";
  const calls: string[] = [];
  const timer: ConnectionTimer = {
    hold: (request) => calls.push(`hold ${new URL(request.url, "http://x").pathname}`),
    release: (request) => calls.push(`release ${new URL(request.url, "http://x").pathname}`),
  };
  const fetch = (path: string, init?: RequestInit) => serving.fetch(new Request(`http://broker.test${path}`, init), timer);
  /** A JSON POST as it comes off the wire, its length declared. */
  const post = (path: string, body: string) =>
    fetch(path, { method: "POST", headers: { "content-type": "application/json", "content-length": String(new TextEncoder().encode(body).length) }, body });
  return { serving, calls, timer, fetch, post };
}

/** A chunked body: its parts, `gapMs` apart. */
function trickle(parts: string[], gapMs: number): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await sleep(gapMs);
      const part = parts.shift();
      if (part === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(part));
    },
  });
}

/** A request as Bun 1.4 hands over one without Host: its URL has no origin. */
class HostlessRequest extends Request {
  override get url(): string {
    return new URL(super.url).pathname;
  }
}

test("a request whose URL has no origin (Bun, no Host header) is routed with the server's", async () => {
  const { serving, timer } = edge();
  const response = await serving.fetch(new HostlessRequest("http://ignored/healthz"), timer);
  assert.equal(response.status, 200);
  const missing = await serving.fetch(new HostlessRequest("http://ignored/nothing"), timer);
  assert.match((await missing.json()).detail, /nothing is served at GET \/nothing/);
  await serving.server.close();
});

test("a small publish is left to the connection's timer; a chunked one is held while its body is watched", async () => {
  const { serving, calls, fetch, post } = edge();
  const small = await post("/events", '{"type":"a"}');
  assert.equal(small.status, 202);
  assert.deepEqual(calls, []);
  const chunked = await fetch("/events", { method: "POST", headers: { "content-type": "application/json" }, body: trickle(['{"type"', ':"b"}'], 10), duplex: "half" } as RequestInit);
  assert.equal(chunked.status, 202);
  assert.deepEqual(calls, ["hold /events", "release /events"]);
  await serving.server.close();
});

test("a chunked body silent for bodyIdleTimeoutMs is answered 408", async () => {
  const { serving, fetch } = edge({ bodyIdleTimeoutMs: "1000" });
  const silent = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new TextEncoder().encode("[")), pull: () => new Promise(() => {}) });
  const started = Date.now();
  const response = await fetch("/events", { method: "POST", headers: { "content-type": "application/json" }, body: silent, duplex: "half" } as RequestInit);
  assert.equal(response.status, 408);
  assert.equal((await response.json()).type, "/problems/body-timeout");
  assert.ok(Date.now() - started >= 900, `after ${Date.now() - started} ms`);
  await serving.server.close();
});

test("a waiting pull holds its connection's timer and gives it back once answered; a stream keeps it", async () => {
  const { serving, calls, fetch, post } = edge();
  const sub = await (await post("/subscriptions", "{}")).json();
  const pulled = await post(`/subscriptions/${sub.id}/pull`, '{"waitMs":50}');
  assert.equal(pulled.status, 200);
  assert.deepEqual(calls, [`hold /subscriptions/${sub.id}/pull`, `release /subscriptions/${sub.id}/pull`]);
  calls.length = 0;
  const stream = await fetch("/events/stream");
  assert.deepEqual(calls, ["hold /events/stream"]);
  await stream.body!.cancel();
  await serving.server.close();
});
