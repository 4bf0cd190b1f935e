import assert from "node:assert/strict";
import { test } from "node:test";
import { problemOf, type TestApp, testApp } from "../support/app.ts";
import { IN_PROCESS, onlyOn } from "../support/engine-kind.ts";

async function accepted(response: Response) {
  assert.equal(response.status, 202, await response.clone().text());
  return response.json();
}

test("POST /events accepts one JSON event: 202 with accepted, first, last", async () => {
  const app = await testApp();
  assert.deepEqual(await accepted(await app.post("/events", { type: "order.filled", data: { id: 1 } })), { accepted: 1, first: 1, last: 1 });
  await app.close();
});

test("POST /events accepts a JSON array as an atomic batch with consecutive seqs", async () => {
  const app = await testApp();
  await app.post("/events", { type: "a" });
  assert.deepEqual(await accepted(await app.post("/events", [{ type: "a" }, { type: "b" }])), { accepted: 2, first: 2, last: 3 });
  await app.close();
});

test("POST /events reads application/cloudevents+json and application/cloudevents-batch+json", async () => {
  const app = await testApp();
  const event = { specversion: "1.0", id: "1", source: "/s", type: "t" };
  assert.equal((await accepted(await app.post("/events", event, "application/cloudevents+json; charset=utf-8"))).accepted, 1);
  assert.equal((await accepted(await app.post("/events", [{ ...event, id: "2" }, { ...event, id: "3" }], "application/cloudevents-batch+json"))).accepted, 2);
  await problemOf(await app.post("/events", [event], "application/cloudevents+json"), 400);
  await problemOf(await app.post("/events", event, "application/cloudevents-batch+json"), 400);
  await app.close();
});

test("POST /events reads CloudEvents binary mode: ce-* headers, the body as data", async () => {
  const app = await testApp();
  const stream = await app.openStream();
  const response = await app.request("/events", {
    method: "POST",
    headers: { "ce-specversion": "1.0", "ce-type": "order.filled", "ce-id": "o-1", "ce-source": "/shop%20one", "ce-traceparent": "00-1", "content-type": "application/json" },
    body: JSON.stringify({ qty: 2 }),
  });
  assert.equal((await accepted(response)).accepted, 1);
  const event = (await stream.next())[0];
  assert.deepEqual(event, {
    specversion: "1.0", id: "o-1", source: "/shop one", type: "order.filled", time: event.time,
    datacontenttype: "application/json", traceparent: "00-1", seq: 1, data: { qty: 2 },
  });
  await app.close();
});

test("POST /events in binary mode keeps a text body as a string and names bad headers", async () => {
  const app = await testApp();
  const stream = await app.openStream();
  await accepted(await app.request("/events", { method: "POST", headers: { "ce-type": "note", "content-type": "text/plain" }, body: "hello" }));
  assert.equal((await stream.next())[0].data, "hello");
  const problem = await problemOf(await app.request("/events", { method: "POST", headers: { "ce-type": "bad type" }, body: "" }), 400);
  assert.equal(problem.errors?.[0].path, "ce-type");
  await app.close();
});

test("POST /events accepts curl's default form content type and fetch's text/plain when the body is JSON", async () => {
  const app = await testApp();
  assert.equal((await accepted(await app.post("/events", '{"type":"x"}', "application/x-www-form-urlencoded"))).first, 1);
  assert.equal((await accepted(await app.post("/events", '[{"type":"x"}]', "text/plain;charset=UTF-8"))).first, 2);
  await app.close();
});

test("POST /events answers 415 for a content type it cannot read", async () => {
  const app = await testApp();
  await problemOf(await app.post("/events", "<event/>", "application/xml"), 415);
  await problemOf(await app.post("/events", "type=x", "application/x-www-form-urlencoded"), 415);
  assert.equal(await app.lastSeq(), 0);
  await app.close();
});

test("POST /events answers 400 for invalid JSON", async () => {
  const app = await testApp();
  for (const body of ['{"type":', "", "[".repeat(200_000)]) {
    await problemOf(await app.post("/events", body), 400);
  }
  assert.equal(await app.lastSeq(), 0);
  await app.close();
});

test("POST /events refuses a body that is not UTF-8 (400), where U+FFFD for its bad bytes would make two producer ids one", async () => {
  const app = await testApp();
  const latin1 = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0));
  const notUtf8 = (id: string) => latin1(`{"type":"u8","source":"/l1","id":"${id}"}`);
  for (const [id, declared] of [["r\xe9sum\xe9", true], ["r\xe8sum\xe8", false]] as const) {
    const body = notUtf8(id);
    const headers = { "content-type": "application/json", ...(declared ? { "content-length": String(body.length) } : {}) };
    const problem = await problemOf(await app.request("/events", { method: "POST", headers, body }), 400);
    assert.deepEqual(problem.errors, [{ path: "", message: "is not valid UTF-8" }]);
  }
  const binary = await problemOf(await app.request("/events", { method: "POST", headers: { "ce-type": "note", "content-type": "text/plain" }, body: latin1("caf\xe9") }), 400);
  assert.deepEqual(binary.errors, [{ path: "body", message: "is not valid UTF-8" }]);
  await problemOf(await app.request("/subscriptions", { method: "POST", headers: { "content-type": "application/json" }, body: latin1('{"name":"caf\xe9"}') }), 400);
  assert.equal(await app.lastSeq(), 0);
  // U+FFFD sent as UTF-8 is a character like any other.
  const replacement = new TextEncoder().encode('{"type":"u8","data":"\uFFFD"}');
  assert.equal((await accepted(await app.request("/events", { method: "POST", headers: { "content-type": "application/json", "content-length": String(replacement.length) }, body: replacement }))).accepted, 1);
  // The same ids sent as UTF-8 are two producers, not one.
  assert.equal((await accepted(await app.post("/events", [{ type: "u8", source: "/l1", id: "r\u00e9sum\u00e9" }, { type: "u8", source: "/l1", id: "r\u00e8sum\u00e8" }]))).accepted, 2);
  assert.equal(await app.lastSeq(), 3);
  await app.close();
});

test("POST /events answers 400 naming each bad field, and accepts nothing of the batch", async () => {
  const app = await testApp();
  const problem = await problemOf(await app.post("/events", [{ type: "ok" }, { type: 7, time: "noon" }]), 400);
  assert.deepEqual(problem.errors?.map((error) => error.path).sort(), ["/1/time", "/1/type"]);
  await problemOf(await app.post("/events", 42), 400);
  await problemOf(await app.post("/events", []), 400);
  assert.equal(await app.lastSeq(), 0);
  await app.close();
});

test("POST /events answers 413 for a body over maxBodyBytes and a batch over maxBatch", async () => {
  const app = await testApp({ maxBodyBytes: 1_000, maxBatch: 3 });
  await problemOf(await app.post("/events", { type: "a", data: "x".repeat(2_000) }), 413);
  await problemOf(await app.post("/events", [{ type: "a" }, { type: "a" }, { type: "a" }, { type: "a" }]), 413);
  assert.equal(await app.lastSeq(), 0);
  await app.close();
});

/** A request body streamed in chunks, without a declared length; counts the chunks read. */
function streamedBody(chunks: Iterable<string>) {
  const source = chunks[Symbol.iterator]();
  const read = { chunks: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = source.next();
      if (next.done) return controller.close();
      read.chunks++;
      controller.enqueue(new TextEncoder().encode(next.value));
    },
    cancel() {
      read.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, read };
}

const postStream = (app: TestApp, stream: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  app.request("/events", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: stream, duplex: "half" } as RequestInit);

test("POST /events reads a streamed body in chunks, and stops reading one at the first chunk over maxBodyBytes", async () => {
  const app = await testApp({ maxBodyBytes: 1_000 });
  const whole = streamedBody(['[{"type":"a","data":"', "x".repeat(500), '"},{"type":"b"}]']);
  assert.equal((await accepted(await postStream(app, whole.stream))).accepted, 2);
  // 4 MB in 10,000 chunks: a reader that does not stop at the bound reads them all and fails here, instead of reading without end.
  const long = streamedBody(Array.from({ length: 10_000 }, () => "x".repeat(400)));
  await problemOf(await postStream(app, long.stream), 413);
  assert.ok(long.read.chunks <= 4, `read ${long.read.chunks} chunks`);
  assert.ok(long.read.cancelled);
  assert.equal(await app.lastSeq(), 2);
  await app.close();
});

test("POST /events refuses a body whose declared length is over maxBodyBytes without reading it", async () => {
  const app = await testApp({ maxBodyBytes: 1_000 });
  const body = streamedBody(['{"type":"a"}']);
  await problemOf(await postStream(app, body.stream, { "content-length": "1001" }), 413);
  assert.equal(body.read.chunks, 0);
  assert.equal(await app.lastSeq(), 0);
  await app.close();
});

test("POST /events accepts a body of exactly maxBodyBytes, declared or streamed, and refuses one byte more", async () => {
  const app = await testApp({ maxBodyBytes: 1_000 });
  const body = `{"type":"a","data":"${"x".repeat(978)}"}`;
  assert.equal(body.length, 1_000);
  const declared = (text: string) => app.request("/events", { method: "POST", headers: { "content-type": "application/json", "content-length": String(text.length) }, body: text });
  assert.equal((await accepted(await declared(body))).first, 1);
  assert.equal((await accepted(await postStream(app, streamedBody([body.slice(0, 500), body.slice(500)]).stream))).first, 2);
  await problemOf(await declared(body + " "), 413);
  await problemOf(await postStream(app, streamedBody([body, " "]).stream), 413);
  assert.equal(await app.lastSeq(), 2);
  await app.close();
});

test("POST /events answers 503 with Retry-After naming the full subscription, and accepts nothing", async () => {
  const app = await testApp();
  const sub = await app.subscribe({ maxBacklog: 1 });
  await accepted(await app.post("/events", { type: "a" }));
  const response = await app.post("/events", { type: "a" });
  assert.equal(response.headers.get("retry-after"), "1");
  const problem = await problemOf(response, 503);
  assert.equal(problem.subscription, sub.id);
  assert.match(String(problem.detail), new RegExp(sub.id));
  assert.equal(await app.lastSeq(), 1);
  await app.close();
});

test("a rejected request changes nothing: the next accepted seq follows on", async () => {
  const app = await testApp();
  await app.post("/events", { type: "a" });
  await app.post("/events", [{ type: "a" }, { type: "" }]);
  await app.post("/events", "nope", "application/xml");
  assert.equal((await accepted(await app.post("/events", { type: "a" }))).first, 2);
  await app.close();
});

test("unknown routes answer 404 problems", async () => {
  const app = await testApp();
  await problemOf(await app.request("/nothing"), 404);
  await app.close();
});

test("GET /healthz answers 200 while serving and 503 once closing", async () => {
  const app = await testApp();
  assert.equal((await app.request("/healthz")).status, 200);
  await app.close();
  await problemOf(await app.request("/healthz"), 503);
});

test("POST /events delivers deeply nested data intact, and refuses a number JSON cannot carry however deep, naming its path", async () => {
  const app = await testApp({ maxBodyBytes: 4_000_000 });
  const stream = await app.openStream();
  const nested = (depth: number, inner: string) => `${"[".repeat(depth)}${inner}${"]".repeat(depth)}`;
  // 1,000 levels encode on both runtimes whatever the event holds (V8's recursive path stops near 6,000, JavaScriptCore near 40,000).
  await accepted(await app.post("/events", `{"type":"a","data":${nested(1_000, "1")}}`));
  assert.deepEqual((await stream.next(1))[0].data, JSON.parse(nested(1_000, "1")));
  const problem = await problemOf(await app.post("/events", `{"type":"a","data":${nested(1_000, "1e400")}}`), 400);
  assert.deepEqual(problem.errors?.map((error) => error.path), ["/data" + "/0".repeat(1_000)]);
  // Past what the runtime encodes: still a 400 within /data, never a 5xx.
  const deeper = await problemOf(await app.post("/events", `{"type":"a","data":${nested(1_000_000, "1e400")}}`), 400);
  assert.match(deeper.errors?.[0].path ?? "", /^\/data(\/0)*$/);
  assert.equal(await app.lastSeq(), 1, "the refused events were not accepted");
  assert.equal((await accepted(await app.post("/events", { type: "a" }))).first, 2);
  await app.close();
});

test("POST /events answers duplicates with their count and the seqs they already have", async () => {
  const app = await testApp();
  await app.post("/events", { type: "a", source: "/p", id: "o-1" });
  const body = await accepted(await app.post("/events", [{ type: "a", source: "/p", id: "o-1" }, { type: "a", source: "/p", id: "o-2" }, { type: "a", source: "/p", id: "o-2" }]));
  assert.deepEqual(body, { accepted: 1, first: 2, last: 2, duplicates: 2, duplicateSeqs: [1, 2] }, "a twin within the publish has its fresh twin's seq");
  const again = await accepted(await app.post("/events", { type: "a", source: "/p", id: "o-2" }));
  assert.deepEqual(again, { accepted: 0, first: null, last: null, duplicates: 1, duplicateSeqs: [2] });
  await app.close();
});

test("producer pairs that differ only in where a NUL falls, or in a lone surrogate, are different pairs", async () => {
  const app = await testApp();
  const pairs = [["a\u0000b", "c"], ["a", "b\u0000c"], ["a\u0000", "b"], ["\u0000a", "b"], ["a", "\u0000b"], ["a", "\ud800"], ["a", "\ud801"], ["\udc00", "x"], ["\udc01", "x"]];
  for (const [source, id] of pairs) assert.equal((await accepted(await app.post("/events", { type: "a", source, id }))).accepted, 1, JSON.stringify([source, id]));
  const again = await accepted(await app.post("/events", pairs.map(([source, id]) => ({ type: "a", source, id }))));
  assert.deepEqual(again.duplicateSeqs, pairs.map((_, index) => index + 1));
  await app.close();
});

test("the dedupe window forgets a producer's id once dedupeWindowMs has passed, and the oldest ids beyond dedupeMaxEntries", async () => {
  const app = await testApp({ dedupeWindowMs: 1_000, dedupeMaxEntries: 2 });
  const publish = async (id: string) => await accepted(await app.post("/events", { type: "a", source: "/p", id }));
  const twice = await accepted(await app.post("/events", [{ type: "a", source: "/p", id: "x" }, { type: "a", source: "/p", id: "x" }]));
  assert.deepEqual(twice, { accepted: 1, first: 1, last: 1, duplicates: 1, duplicateSeqs: [1] }, "a duplicate within one publish");
  app.clock.advance(999);
  assert.deepEqual((await publish("x")).duplicateSeqs, [1], "still within the window");
  app.clock.advance(1);
  assert.equal((await publish("x")).first, 2, "the window has passed: accepted again");
  await publish("y");
  await publish("z"); // three remembered, two kept: the oldest, x, is forgotten
  assert.deepEqual((await publish("z")).duplicateSeqs, [4]);
  assert.deepEqual((await publish("y")).duplicateSeqs, [3]);
  assert.equal((await publish("x")).first, 5, "forgotten for room");
  await app.close();
});

test("a publish that would take required backlogs past their memory budget answers 503 memory-full with Retry-After, accepting nothing", onlyOn(IN_PROCESS, "Redis keeps required backlogs, not this process's memory budget"), async () => {
  const app = await testApp({ memoryBudgetBytes: 2_097_152, maxBodyBytes: 2_000_000 });
  const { id } = await (await app.post("/subscriptions", {})).json();
  let response = await app.post("/events", { type: "a", data: "x".repeat(500_000) });
  assert.equal(response.status, 202);
  response = await app.post("/events", [{ type: "a", data: "x".repeat(500_000) }, { type: "a" }]);
  const problem = await problemOf(response, 503);
  assert.equal(problem.type, "/problems/memory-full");
  assert.equal(problem.subscription, id);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal(await app.lastSeq(), 1);
  await app.close();
});

test("POST /events refuses inherited property names and __proto__ as extensions, naming each; lowercase ones are kept", async () => {
  const app = await testApp();
  const stream = await app.openStream();
  const inherited = await problemOf(await app.post("/events", [{ type: "a", toString: "x" }, { type: "a", valueOf: 1 }, { type: "a", hasOwnProperty: true }, { type: "a", __defineGetter__: "x" }]), 400);
  assert.deepEqual(inherited.errors?.map((error) => error.path), ["/0/toString", "/1/valueOf", "/2/hasOwnProperty", "/3/__defineGetter__"]);
  for (const [body, path] of [['{"type":"a","__proto__":{"x":1}}', "/__proto__"], ['[{"type":"a"},{"type":"b","__proto__":"s"}]', "/1/__proto__"]]) {
    assert.deepEqual((await problemOf(await app.post("/events", body), 400)).errors?.map((error) => error.path), [path]);
  }
  assert.equal(await app.lastSeq(), 0);
  await accepted(await app.post("/events", { type: "a", tostring: "x", constructor: "y" }));
  const event = (await stream.next())[0];
  assert.deepEqual([event.tostring, event.constructor], ["x", "y"]);
  await app.close();
});

test("POST /events refuses numbers JSON cannot carry, anywhere in the event, naming each by path", async () => {
  const app = await testApp();
  const stream = await app.openStream();
  const one = await problemOf(await app.post("/events", '{"type":"a","data":1e400}'), 400);
  assert.deepEqual(one.errors?.map((error) => error.path), ["/data"]);
  const batch = await problemOf(await app.post("/events", `[{"type":"a"},{"type":"a","data":{"x":[null, -1E+400],"y":${"9".repeat(400)}}}]`), 400);
  assert.deepEqual(batch.errors?.map((error) => error.path), ["/1/data/x/1", "/1/data/y"]);
  const extension = await problemOf(await app.post("/events", `{"type":"a","n":${"1".repeat(300)}0e10}`), 400);
  assert.deepEqual(extension.errors?.map((error) => error.path), ["/n"]);
  const binary = await app.request("/events", { method: "POST", headers: { "ce-type": "a", "content-type": "application/json" }, body: '{"q":1e999}' });
  assert.deepEqual((await problemOf(binary, 400)).errors?.map((error) => error.path), ["body"]);
  assert.equal(await app.lastSeq(), 0);
  await accepted(await app.post("/events", '{"type":"a","data":[1.7e308,1e-400,"x:1e400"]}'));
  assert.deepEqual((await stream.next())[0].data, [1.7e308, 0, "x:1e400"]);
  await app.close();
});

test("POST /events in binary mode names the header whose percent-encoding is bad", async () => {
  const app = await testApp();
  for (const name of ["ce-source", "ce-id", "ce-traceparent"]) {
    const problem = await problemOf(await app.request("/events", { method: "POST", headers: { "ce-type": "a", [name]: "%ff" }, body: "" }), 400);
    assert.deepEqual(problem.errors?.map((error) => error.path), [name]);
  }
  await app.close();
});

test("POST /events refuses an attribute misspelled as an extension, naming the attribute meant; real extensions pass", async () => {
  const app = await testApp();
  const stream = await app.openStream();
  const problem = await problemOf(await app.post("/events", [{ type: "a", source: "/shop" }, { type: "a", sorce: "/shop" }, { type: "a", dta: { qty: 1 } }]), 400);
  assert.deepEqual(problem.errors, [
    { path: "/1/sorce", message: "is not a CloudEvents attribute; did you mean source?" },
    { path: "/2/dta", message: "is not a CloudEvents attribute; did you mean data?" },
  ]);
  const binary = await app.request("/events", { method: "POST", headers: { "ce-type": "a", "ce-subjct": "orders/1" }, body: "" });
  assert.deepEqual((await problemOf(binary, 400)).errors, [{ path: "ce-subjct", message: "is not a CloudEvents attribute; did you mean subject?" }]);
  assert.equal(await app.lastSeq(), 0);
  const extensions = { traceparent: "00-ab", partitionkey: "k", sequence: "7", dataref: "s3://b/k", comexampleextension1: "v" };
  await accepted(await app.post("/events", { type: "a", ...extensions }));
  const { id: _id, time: _time, ...event } = (await stream.next())[0];
  assert.deepEqual(event, { specversion: "1.0", source: "/", type: "a", ...extensions, seq: 1 });
  await app.close();
});

test("GET /events reads kept events a page at a time, selected like a stream, and says how far it read", async () => {
  const app = await testApp({ historySize: 100 });
  await app.post("/events", Array.from({ length: 10 }, (_, i) => ({ type: i % 2 ? "odd" : "even", subject: `n/${i + 1}` })));
  const first = await (await app.request("/events?after=2&limit=4&types=even")).json();
  assert.deepEqual(first.events.map((event: { seq: number }) => event.seq), [3, 5]);
  assert.deepEqual([first.through, first.lastSeq], [6, 10]);
  const filter = encodeURIComponent(JSON.stringify({ suffix: { subject: "/10" } }));
  const second = await (await app.request(`/events?after=${first.through}&filter=${filter}`)).json();
  assert.deepEqual([second.events.map((event: { seq: number }) => event.seq), second.through], [[10], 10]);
  assert.deepEqual((await (await app.request("/events?after=10")).json()).events, []);
  const problem = await problemOf(await app.request("/events?after=x&limit=0"), 400);
  assert.deepEqual(problem.errors?.map((error) => error.path).sort(), ["/after", "/limit"]);
  await app.close();
});

test("GET /events reports the seqs no longer kept as a gap", async () => {
  const app = await testApp({ historySize: 3, retainEvents: 3 });
  for (let i = 0; i < 8; i++) await app.post("/events", { type: "a" }); // one by one: a store may keep a publish whole
  app.clock.advance(1_000); // a sweep applies retention
  await app.lastSeq();
  const page = await (await app.request("/events?after=0")).json();
  assert.deepEqual(page.gap, { from: 1, to: 5 });
  assert.deepEqual(page.events.map((event: { seq: number }) => event.seq), [6, 7, 8]);
  await app.close();
});
