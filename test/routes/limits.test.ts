// Refusals that protect the process's file descriptors, and the log line of a request whose client left.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Hono } from "hono";
import { errorToResponse } from "../../routes/problem.ts";

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
