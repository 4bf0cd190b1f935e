import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { eventInputSchema, prepareEvent } from "../../src/broker/event.ts";
import { vouchedEvent } from "../../src/broker/event-fast-path.ts";
import { prepareInputs } from "../../src/broker/publish-input.ts";

const NOW = "2026-12-01T00:00:00.000Z";

/** The JSON an input prepares to, its generated id fixed so two preparations compare. */
function preparedJson(input: Parameters<typeof prepareEvent>[0]): string {
  return JSON.stringify(prepareEvent(input, NOW, () => "generated").attributes);
}

/**
 * The property: whatever the fast path vouches for, Zod accepts, and both prepare the same
 * event; and it vouches for every plain object Zod accepts but those it leaves to Zod on purpose.
 */
function assertAgreesWithZod(input: unknown): boolean {
  const vouched = vouchedEvent(input);
  const zod = eventInputSchema.safeParse(input);
  if (vouched === undefined) {
    if (zod.success && !isLeftToZod(input)) assert.fail(`the fast path left to Zod an event it should vouch for: ${JSON.stringify(input)}`);
    return false;
  }
  if (!zod.success) assert.fail(`the fast path vouched for an input Zod refuses: ${JSON.stringify(input)}`);
  assert.equal(preparedJson(vouched), preparedJson(zod.data));
  return true;
}

/** Inputs the fast path leaves to Zod whatever they hold: rare shapes, not worth a second rule. */
function isLeftToZod(input: unknown): boolean {
  if (Object.getPrototypeOf(input) !== Object.prototype) return true;
  const members = Object.entries(input as object);
  return members.some(([name, value]) => name === "data_base64" || name === "__proto__" || value === undefined);
}

const oddText = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }), // lone surrogates, control characters, astral planes
  fc.string({ unit: "grapheme", maxLength: 300 }),
  fc.constantFrom("", " ", "\u0000", "\ud800", "é", "🎉".repeat(130), "x".repeat(256), "x".repeat(257), "x".repeat(1024), "x".repeat(1025)),
);
const typeText = fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,130}$/), oddText, fc.constantFrom("order.filled", "a", "-a", "a b", "x".repeat(128), "x".repeat(129)));
const timeText = fc.oneof(
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom(
    "2026-11-28T15:00:00Z", "2026-11-28T15:00:00+01:00", "2026-11-28t15:00:00z", "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z",
    "2026-02-30T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T23:59:60Z", "2026-11-28 15:00:00Z", "2026-11-28T15:00:00",
    "2026-11-28T15:00:00.123456789Z", "+002026-11-28T15:00:00Z", "2026-11-28T15:00:00+1:00", "2026-11-28",
  ),
  oddText,
);
const anyValue = fc.oneof(
  fc.anything(),
  fc.constantFrom(undefined, null, Number.NaN, Infinity, -Infinity, -0, 1e308, Number.MAX_SAFE_INTEGER + 2, true, false, "", [], {}),
  oddText,
  fc.double(),
);
const attributeName = fc.oneof(
  fc.constantFrom("specversion", "id", "source", "type", "time", "datacontenttype", "dataschema", "subject", "data", "data_base64", "seq", "deliveries"),
  fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "sorce", "dta", "tyep", "Type", "ID", "di", "date", "type2", "mtime", "12", "0"),
  fc.stringMatching(/^[a-z0-9]{1,21}$/),
  oddText,
);
const memberValue = (name: string) => {
  switch (name) {
    case "type": return fc.oneof(typeText, anyValue);
    case "time": return fc.oneof(timeText, anyValue);
    case "specversion": return fc.oneof(fc.constantFrom("1.0", "1", "1.0 ", "0.3"), anyValue);
    case "data_base64": return fc.oneof(fc.base64String(), anyValue);
    default: return fc.oneof(oddText, anyValue);
  }
};
const member = attributeName.chain((name) => memberValue(name).map((value) => [name, value] as const));

/** Objects of any members, each set with its own value, as JSON.parse would build them (`__proto__` an own member). */
const anyObject = fc.array(member, { maxLength: 12 }).map((members) => {
  const object: Record<string, unknown> = {};
  for (const [name, value] of members) Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
  return object;
});

/** Mostly `usual`, now and then `odd`. */
const mostly = <T, U>(usual: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) => fc.oneof({ arbitrary: usual, weight: 12 }, { arbitrary: odd, weight: 1 });

/** Events as producers send them: mostly valid, now and then one member off. */
const likelyEvent = fc.record({
  type: mostly(fc.constantFrom("order.filled", "a", "billing:invoice-paid"), typeText),
  id: mostly(fc.stringMatching(/^[!-~]{1,40}$/), oddText),
  source: mostly(fc.constantFrom("/bench/producer", "urn:x"), oddText),
  time: mostly(fc.date({ noInvalidDate: true, min: new Date(0) }).map((date) => date.toISOString()), timeText),
  subject: mostly(fc.string({ minLength: 1 }), oddText),
  data: mostly(fc.jsonValue(), anyValue),
}, { requiredKeys: ["type"] }).chain((event) =>
  fc.array(fc.tuple(mostly(fc.stringMatching(/^[a-z0-9]{1,20}$/), attributeName), mostly(fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.double()), anyValue)), { maxLength: 3 })
    .map((extensions) => Object.assign(Object.fromEntries(extensions), event)));

// First in this file, so that it runs before any valid time has been seen here: the fast
// path once vouched for an empty time then, matching the time it remembers as last valid.
test("the fast path leaves an empty time to Zod, even before it has seen a valid one", () => {
  assert.equal(vouchedEvent({ type: "a", time: "" }), undefined);
  assertAgreesWithZod({ type: "0", time: "" });
});

test("what the fast path vouches for, Zod accepts and prepares to the same JSON: any object, any member", () => {
  fc.assert(fc.property(anyObject, (input) => void assertAgreesWithZod(input)), { numRuns: 3_000 });
});

test("what the fast path vouches for, Zod accepts and prepares to the same JSON: events as producers send them", () => {
  let vouched = 0;
  fc.assert(fc.property(likelyEvent, (input) => void (vouched += Number(assertAgreesWithZod(input)))), { numRuns: 1_500 });
  assert.ok(vouched > 300, `the fast path vouched for only ${vouched} of 1,500 events`);
});

test("the same through JSON text: huge numbers, __proto__, escapes and odd Unicode as JSON.parse gives them", () => {
  const texts = fc.oneof(
    likelyEvent.map((event) => JSON.stringify(event)),
    anyObject.map((object) => JSON.stringify(object) ?? "{}"),
    fc.constantFrom(
      '{"type":"a","ext":1e400}', '{"type":"a","ext":-1e400}', '{"type":"a","__proto__":"x"}', '{"type":"a","__proto__":{"type":"b"}}',
      '{"type":"a","data":1e400}', '{"type":"a","id":"\\ud800"}', '{"type":"a","type":"b c"}', '{"type":"a b","type":"a"}',
      '{"type":"a","data":{"__proto__":1}}', '{"type":"a","x":"\\u0000"}', '{"type":"a","data_base64":"aGk="}', '[{"type":"a"}]', '"a"', "null",
    ),
  );
  fc.assert(fc.property(texts, (text) => void assertAgreesWithZod(JSON.parse(text))), { numRuns: 3_000 });
});

test("the fast path vouches for the common event as it is, and for nothing that is not a plain object", () => {
  const event = { specversion: "1.0", id: "o-1", source: "/shop", type: "order.filled", time: "2026-11-28T15:00:00.000Z", datacontenttype: "application/json", data: { qty: 3 } };
  assert.equal(vouchedEvent(event), event);
  for (const input of [null, "x", 1, [event], new Map(), Object.assign(Object.create(null), event)]) assert.equal(vouchedEvent(input), undefined);
});

test("the fast path measures lengths as Zod does, in code points: 200 emoji are 400 UTF-16 units and within 256", () => {
  for (const id of ["🎉".repeat(200), "🎉".repeat(256), "x".repeat(256)]) {
    assert.ok(eventInputSchema.safeParse({ type: "a", id }).success);
    assert.ok(vouchedEvent({ type: "a", id }), `${id.length} units`);
  }
  for (const id of ["🎉".repeat(257), "x".repeat(257), ""]) assert.equal(vouchedEvent({ type: "a", id }), undefined);
});

test("a batch with one input the fast path leaves to Zod is validated whole by Zod: every bad field named, as without the fast path", () => {
  const good = { type: "a", time: "2026-11-28T15:00:00Z" };
  const run = () => prepareInputs([good, { type: "a", time: "2026-02-30T00:00:00Z" }, good, { type: "b", sorce: "/x" }], (index) => `/${index}`, NOW, () => "id");
  assert.throws(run, (error: Error & { issues?: { path: string }[] }) => {
    assert.deepEqual(error.issues?.map((issue) => issue.path), ["/1/time", "/3/sorce"]);
    return true;
  });
});

test("a batch the fast path vouches for prepares as Zod's copies of it do", () => {
  const inputs = [{ type: "a", zz: 1, subject: "s", "7": true, data: [1] }, { type: "b", id: "x", source: "/s", dataschema: "urn:s", ext: "e" }];
  let id = 0;
  const fast = prepareInputs(inputs, (index) => `/${index}`, NOW, () => `id-${id++}`).map((event) => JSON.stringify(event.attributes));
  id = 0;
  const zod = inputs.map((input) => JSON.stringify(prepareEvent(eventInputSchema.parse(input), NOW, () => `id-${id++}`).attributes));
  assert.deepEqual(fast, zod);
});
