import assert from "node:assert/strict";
import { test } from "node:test";
import { SseParser } from "../../src/client/mod.ts";

test("SseParser joins data lines, reads id, event and retry, and keeps comments", () => {
  const parser = new SseParser();
  const messages = parser.feed("retry: 2000\n\n: ping\n\nevent: broker.gap\nid: 7\ndata: a\ndata: b\n\n");
  assert.deepEqual(messages, [{ data: "", retry: 2000 }, { data: "", comment: "ping" }, { data: "a\nb", event: "broker.gap", id: "7" }]);
});

test("SseParser accepts CR, LF and CRLF line ends, even split across chunks", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.feed("data: one\r"), []);
  assert.deepEqual(parser.feed("\n\r\ndata: two\r\r"), [{ data: "one" }], "a final CR may be half a CRLF: wait");
  assert.deepEqual(parser.feed("data: thr"), [{ data: "two" }]);
  assert.deepEqual(parser.feed("ee\n\n"), [{ data: "three" }]);
});
