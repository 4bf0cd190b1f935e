import assert from "node:assert/strict";
import { test } from "node:test";
import { HttpProblem } from "../routes/problem.ts";
import { withBodyTimeout } from "../src/body-watch.ts";
import { sleep } from "./support/wait.ts";

/** A request whose body sends `chunks`, `gapMs` apart, then ends (or stays open with `end: false`). */
function trickling(chunks: string[], gapMs: number, end = true): Request {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await sleep(gapMs);
      const chunk = chunks.shift();
      if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
      else if (end) controller.close();
      else await new Promise(() => {});
    },
  });
  return new Request("http://broker.test/events", { method: "POST", body, duplex: "half" } as RequestInit);
}

test("a watched body is read whole however long it takes, while no gap reaches the timeout", async () => {
  const started = Date.now();
  const text = await withBodyTimeout(trickling(["a", "b", "c", "d", "e"], 40), 100).text();
  assert.equal(text, "abcde");
  assert.ok(Date.now() - started >= 200, "took longer than the timeout in all");
});

test("a watched body whose client falls silent fails with a 408 problem", async () => {
  const started = Date.now();
  const reading = withBodyTimeout(trickling(["a"], 10, false), 100).text();
  await assert.rejects(reading, (error: HttpProblem) => error instanceof HttpProblem && error.status === 408 && error.code === "body-timeout");
  assert.ok(Date.now() - started < 1_000);
});

test("a watched body is not timed while its reader pauses", async () => {
  const reader = withBodyTimeout(trickling(["a", "b"], 10), 50).body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "a");
  await sleep(200);
  assert.equal(new TextDecoder().decode((await reader.read()).value), "b");
  assert.equal((await reader.read()).done, true);
});
