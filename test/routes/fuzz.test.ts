// Hostile input: random bytes, deep JSON, huge strings, wrong types, odd headers.
// Never a 5xx, never a crash, and a refused request changes nothing.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { testApp } from "../support/app.ts";

const printable = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
const contentType = fc.oneof(
  fc.constantFrom(
    "application/json", "application/cloudevents+json", "application/cloudevents-batch+json", "text/plain",
    "application/x-www-form-urlencoded", "", "application/xml", "multipart/form-data; boundary=x", "APPLICATION/JSON; charset=latin1",
  ),
  printable,
);
const field = fc.oneof(fc.jsonValue({ maxDepth: 2 }), printable, fc.constantFrom("order.filled", "a.*", "", "*", "1.0"));
const eventLike = fc.dictionary(
  fc.oneof(fc.constantFrom("type", "id", "source", "time", "data", "specversion", "data_base64", "datacontenttype", "seq", "Ext", "ext"), printable),
  field,
  { maxKeys: 6 },
);
const body = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.string({ maxLength: 300 }),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  eventLike.map((event) => JSON.stringify(event)),
  fc.array(eventLike, { maxLength: 5 }).map((events) => JSON.stringify(events)),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => `{"type":"a","data":${"[".repeat(depth)}${"]".repeat(depth)}}`),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => "{".repeat(depth)),
  fc.constantFrom(`{"type":"a","data":"${"x".repeat(70_000)}"}`, `{"type":"${"a".repeat(129)}"}`, "\u0000\uffff", '{"type":"a"}'.repeat(3)),
);
const ceHeaders = fc.dictionary(fc.constantFrom("ce-type", "ce-id", "ce-source", "ce-specversion", "ce-time", "ce-Weird-Name", "ce-data"), printable, { maxKeys: 3 });

test("POST /events under random input: no 5xx, and a refused request accepts nothing", async () => {
  const app = await testApp({ maxBodyBytes: 64_000 });
  await fc.assert(
    fc.asyncProperty(body, contentType, ceHeaders, async (payload, type, headers) => {
      const before = await app.lastSeq();
      const response = await app.request("/events", { method: "POST", headers: { "content-type": type, ...headers }, body: payload });
      const answer = await response.json();
      assert.ok(response.status < 500, `${response.status}: ${JSON.stringify(answer)}`);
      if (response.status === 202) assert.equal(await app.lastSeq(), before + answer.accepted);
      else {
        assert.equal(response.headers.get("content-type"), "application/problem+json");
        assert.equal(await app.lastSeq(), before, "a refused request accepts nothing");
      }
    }),
    { numRuns: 400 },
  );
  const next = await app.post("/events", { type: "after.fuzz" });
  assert.equal((await next.json()).first, await app.lastSeq(), "the next accepted seq follows on");
  await app.close();
});

test("/subscriptions under random input: no 5xx, and a refused request creates nothing", async () => {
  const app = await testApp({ defaultWaitMs: 0, maxWaitMs: 0 });
  const { id } = await (await app.post("/subscriptions", {})).json();
  const randomBody = fc.oneof(body, fc.record({ types: fc.oneof(field, fc.array(field)), name: field, ackTimeoutMs: field, maxBacklog: field, expireAfterMs: field }).map((b) => JSON.stringify(b)));
  const path = fc.constantFrom("/subscriptions", `/subscriptions/${id}/pull`, `/subscriptions/${id}/ack`, `/subscriptions/${id}/nack`, `/subscriptions/${id}/extend`);
  await fc.assert(
    fc.asyncProperty(path, randomBody, contentType, async (target, payload, type) => {
      const count = (await app.list()).length;
      const response = await app.request(target, { method: "POST", headers: { "content-type": type }, body: payload });
      const text = await response.text();
      assert.ok(response.status < 500, `${target} ${response.status}: ${text}`);
      if (response.status >= 400) assert.equal((await app.list()).length, count);
      else if (target === "/subscriptions") for (const created of [JSON.parse(text)].flat()) await app.request(`/subscriptions/${created.id}`, { method: "DELETE" });
    }),
    { numRuns: 300 },
  );
  await app.close();
});

test("GET /events/stream under random query strings and headers: no 5xx, nothing left open", async () => {
  const app = await testApp();
  const query = fc.dictionary(fc.constantFrom("types", "since", "named", "access_token", "x"), fc.oneof(printable, fc.constantFrom("*", "a.*", "1", "-1", "99999999999999999999")), { maxKeys: 3 });
  await fc.assert(
    fc.asyncProperty(query, fc.option(printable), async (params, lastEventId) => {
      const headers: Record<string, string> = lastEventId === null ? {} : { "last-event-id": lastEventId };
      const response = await app.request(`/events/stream?${new URLSearchParams(params)}`, { headers });
      assert.ok(response.status < 500, `${response.status}`);
      await response.body?.cancel();
      assert.equal((await app.list()).length, 0);
    }),
    { numRuns: 300 },
  );
  await app.close();
});
