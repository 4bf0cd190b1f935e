import assert from "node:assert/strict";
import { test } from "node:test";
import { type Line, LineSplitter } from "../../routes/ndjson-lines.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

/** Every line the chunks make, the last one included. */
function split(chunks: (string | Uint8Array)[], maxLineBytes = 100): Line[] {
  const splitter = new LineSplitter(maxLineBytes);
  const lines = chunks.flatMap((chunk) => [...splitter.push(typeof chunk === "string" ? bytes(chunk) : chunk)]);
  return [...lines, ...splitter.end()];
}

test("LineSplitter numbers lines from 1 across chunks, with \\n or \\r\\n, blank ones included", () => {
  const lines = split(['{"a":1}\r\n{"b"', ':2}\n\n', "\r\n", 'last']);
  assert.deepEqual(lines, [
    { number: 1, text: '{"a":1}', bytes: 7 },
    { number: 2, text: '{"b":2}', bytes: 7 },
    { number: 3, text: "", bytes: 0 },
    { number: 4, text: "", bytes: 0 },
    { number: 5, text: "last", bytes: 4 },
  ]);
});

test("LineSplitter makes no line of a body that ends with a line break, and none of an empty body", () => {
  assert.deepEqual(split(["a\n"]).map((line) => line.number), [1]);
  assert.deepEqual(split([]), []);
});

test("LineSplitter decodes a character split across chunks and refuses a line that is not UTF-8", () => {
  const euro = bytes("€\n");
  const lines = split([euro.subarray(0, 1), euro.subarray(1), new Uint8Array([0xff, 0x0a])]);
  assert.equal((lines[0] as { text: string }).text, "€");
  assert.deepEqual(lines[1], { number: 2, status: 400, issue: { path: "", message: "is not valid UTF-8" } });
});

test("LineSplitter takes a line of exactly maxLineBytes, with \\n or \\r\\n, and refuses one byte more", () => {
  const exact = "x".repeat(10);
  const lines = split([`${exact}\n${exact}\r\n${exact}x\n${exact}x\r\n`], 10);
  assert.deepEqual(lines.map((line) => ("text" in line ? "ok" : line.status)), ["ok", "ok", 413, 413]);
});

test("LineSplitter drops a line over maxLineBytes as it comes, never holding more than the limit, and goes on", () => {
  const splitter = new LineSplitter(1_000);
  let mostHeld = 0;
  for (let i = 0; i < 1_000; i++) {
    assert.deepEqual([...splitter.push(bytes("y".repeat(300)))], []);
    mostHeld = Math.max(mostHeld, splitter.heldBytes);
  }
  const [tooLong, next] = [...splitter.push(bytes('"end of the long one"\n{"type":"a"}\n'))];
  assert.ok(mostHeld <= 1_001, `held ${mostHeld} bytes`);
  assert.equal(splitter.heldBytes, 0);
  assert.deepEqual(tooLong, { number: 1, status: 413, issue: { path: "", message: "is longer than 1000 bytes (maxBodyBytes bounds each line)" } });
  assert.deepEqual(next, { number: 2, text: '{"type":"a"}', bytes: 12 });
});
