// A publish as the journal's row keeps it: the producer pair read back from an event's JSON.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Broker } from "../../src/broker/mod.ts";
import { decodePublish, encodePublish, producerOf } from "../../src/storage/publish-row.ts";

const oddText = fc.oneof(
  fc.string({ minLength: 1, maxLength: 200 }),
  fc.string({ minLength: 1, maxLength: 200, unit: "binary" }), // lone surrogates, control characters, astral planes
  fc.constantFrom('"', "\\", '\\"', '","source":"evil', '\\",\\"source\\":\\"evil', "\u2028", "😀"),
);

test("the producer pair read from an accepted event's JSON is the one the producer sent", () => {
  const broker = new Broker({ dedupeWindowMs: 0 }); // the same pair may come twice
  fc.assert(
    fc.property(oddText, oddText, fc.jsonValue(), (source, id, data) => {
      const { first } = broker.send({ type: "a", source, id, data });
      const [event] = broker.read(first! - 1, 1).events;
      assert.deepEqual(producerOf(event.json), { source, id });
    }),
    { numRuns: 500 },
  );
});

test("JSON of another shape is read whole", () => {
  assert.deepEqual(producerOf('{"source":"/s","id":"i","specversion":"1.0"}'), { source: "/s", id: "i" });
  assert.deepEqual(producerOf('{"specversion":"1.0","id":"i","type":"a","source":"/s"}'), { source: "/s", id: "i" });
});

test("a publish of fewer than 1 KiB of lines is kept as text, one of 1 KiB or more deflated, and both read back as written", () => {
  const publishOf = (lineBytes: number) => [{ type: "a", json: `"${"x".repeat(lineBytes - 4)}"` }]; // "a\n" and the quoted JSON
  for (const [lineBytes, kept] of [[1_023, "string"], [1_024, "object"]] as const) {
    const events = publishOf(lineBytes);
    const row = encodePublish(events);
    assert.equal(typeof row.events, kept, `${lineBytes} bytes of lines`);
    assert.deepEqual(decodePublish({ first: 7, last: 7, accepted_at: 0, ...row }, false).map((event) => [event.seq, event.type, event.json]), [[7, "a", events[0].json]]);
  }
});
