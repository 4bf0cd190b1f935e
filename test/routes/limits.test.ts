// Refusals that protect the process's file descriptors, and the log line of a request whose client left.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Hono } from "hono";
import { errorToResponse } from "../../routes/problem.ts";
import { problemOf, testApp } from "../support/app.ts";
import { eventually } from "../support/wait.ts";

test("a pull beyond maxWaitingPulls of one process is 503 problem+json with Retry-After, and closes its connection", async () => {
  const app = await testApp({ maxWaitingPulls: 1 });
  const one = app.one();
  const sub = await (await app.post("/subscriptions", {})).json();
  const waiting = one.post(`/subscriptions/${sub.id}/pull`, { waitMs: 10_000 });
  const refused = await one.post(`/subscriptions/${sub.id}/pull`, { waitMs: 10_000 });
  const problem = await problemOf(refused, 503);
  assert.equal(problem.type, "/problems/too-many-pulls");
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.equal(refused.headers.get("connection"), "close");
  await app.close();
  assert.equal((await waiting).status, 200);
});

test("a stream beyond maxStreams of one process is 503 problem+json and closes its connection", async () => {
  const app = await testApp({ maxStreams: 1 });
  const one = app.one();
  const open = await one.request("/events/stream");
  const refused = await one.request("/events/stream");
  assert.equal((await problemOf(refused, 503)).type, "/problems/too-many-subscriptions");
  assert.equal(refused.headers.get("connection"), "close");
  await open.body!.cancel();
  await app.close();
});

/** The lines `errorToResponse` logs for `error` thrown by a route, and the answer's status. */
async function logOf(error: unknown): Promise<{ lines: string[]; status: number }> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    const app = new Hono().post("/events", () => {
      throw error;
    });
    app.onError(errorToResponse);
    const { status } = await app.request("/events", { method: "POST" });
    return { lines: lines.flatMap((line) => line.split("\n")), status };
  } finally {
    console.error = original;
  }
}

test("bodies still arriving are bounded all together by maxIncomingBytes: past it 503 with Retry-After, closing the connection; a finished body gives its bytes back", async () => {
  const app = await testApp({ maxBodyBytes: 1_024, maxIncomingBytes: 1_536 });
  const one = app.one();
  /** A body that never declared its length, sent a piece at a time; `waiting` once the broker has read all sent and asks for more. */
  const trickled = () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let asked = false;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c), pull: () => void (asked = true) }, { highWaterMark: 0 });
    const answer = one.request("/events", { method: "POST", headers: { "content-type": "application/json" }, body, duplex: "half" } as RequestInit);
    const write = (text: string) => {
      asked = false;
      controller.enqueue(new TextEncoder().encode(text));
    };
    return { answer, write, end: () => controller.close(), waiting: () => asked };
  };
  // Bodies that are not JSON: read, they are 400; refused before reading, 503.
  const declared = (bytes: number) => one.request("/events", { method: "POST", headers: { "content-type": "application/json", "content-length": String(bytes) }, body: "x".repeat(bytes) });
  const first = trickled();
  first.write("[" + " ".repeat(999)); // 1,000 bytes held
  await eventually(() => first.waiting(), 3_000, "the first body read so far");
  const refused = await declared(1_000);
  const problem = await problemOf(refused, 503);
  assert.equal(problem.type, "/problems/incoming-full");
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.equal(refused.headers.get("connection"), "close");
  assert.equal((await declared(537)).status, 503, "one byte past the bound is refused");
  assert.equal((await declared(536)).status, 400, "a body that fills the bound exactly is read");
  const second = trickled();
  second.write(" ".repeat(600));
  assert.equal((await problemOf(await second.answer, 503)).type, "/problems/incoming-full", "a streamed body that does not fit is refused as it arrives");
  first.write("]");
  first.end();
  assert.equal((await first.answer).status, 400);
  assert.equal((await declared(1_024)).status, 400, "the bodies gave back what they held");
  assert.equal(await app.lastSeq(), 0);
  await app.close();
});

test("an upload whose client left is logged in one line: Bun's AbortError, Deno's BadResource", async () => {
  const bun = new DOMException("The connection was closed.", "AbortError");
  const deno = Object.assign(new Error("Cannot read body as underlying resource unavailable"), { name: "BadResource" });
  for (const error of [bun, deno]) {
    const { lines, status } = await logOf(error);
    assert.deepEqual(lines, [`POST /events: the client left before its request was read (${String(error)})`]);
    assert.equal(status, 400);
  }
});

test("any other failure is a 500 logged with its stack", async () => {
  const { lines, status } = await logOf(new TypeError("boom"));
  assert.equal(status, 500);
  assert.match(lines[0], /^POST \/events failed: TypeError: boom$/);
  assert.ok(lines.length > 1, "the stack follows");
});
