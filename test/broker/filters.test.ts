// Attribute filters: the CloudEvents Subscriptions API dialects, ANDed with types.
import assert from "node:assert/strict";
import { test } from "node:test";
import { compileFilters, type Filter } from "../../src/broker/filters.ts";
import { ValidationError } from "../../src/broker/mod.ts";
import { brokerOnFakeClock, parsed, seqsOf } from "../support/broker.ts";

const event = { type: "order.filled", source: "/shop/eu", subject: "orders/42", region: "eu", priority: 3, urgent: true };

test("each dialect tests an attribute's text; an absent attribute matches no exact, prefix or suffix", () => {
  const cases: [Filter, boolean][] = [
    [{ exact: { source: "/shop/eu" } }, true],
    [{ exact: { source: "/shop" } }, false],
    [{ exact: { source: "/shop/eu", subject: "orders/42" } }, true],
    [{ exact: { source: "/shop/eu", subject: "orders/43" } }, false],
    [{ prefix: { subject: "orders/" } }, true],
    [{ prefix: { subject: "invoices/" } }, false],
    [{ suffix: { source: "/eu" } }, true],
    [{ exact: { priority: "3", urgent: "true" } }, true],
    [{ exact: { missing: "" } }, false],
    [{ prefix: { missing: "" } }, false],
    [{ not: { exact: { missing: "x" } } }, true],
    [{ all: [{ prefix: { subject: "orders/" } }, { exact: { region: "eu" } }] }, true],
    [{ all: [{ prefix: { subject: "orders/" } }, { exact: { region: "us" } }] }, false],
    [{ any: [{ exact: { region: "us" } }, { exact: { region: "eu" } }] }, true],
    [{ any: [{ exact: { region: "us" } }, { exact: { region: "ap" } }] }, false],
    [{ not: { any: [{ exact: { region: "us" } }] } }, true],
  ];
  for (const [filter, expected] of cases) assert.equal(compileFilters([filter])!.test(event), expected, JSON.stringify(filter));
  assert.equal(compileFilters([{ exact: { region: "eu" } }, { exact: { priority: "4" } }])!.test(event), false, "filters are ANDed");
  assert.equal(compileFilters([]), undefined);
});

test("streams and required subscriptions get only the events their types and filters both select", async () => {
  const { broker } = brokerOnFakeClock();
  const filters: Filter[] = [{ prefix: { subject: "orders/" } }, { not: { exact: { region: "us" } } }];
  const stream = broker.subscribe({ kind: "stream", types: ["order.*"], filters });
  const required = broker.subscribe({ kind: "required", types: ["order.*"], filters });
  const everything = broker.subscribe({ kind: "stream" });
  broker.sendBatch([
    { type: "order.filled", subject: "orders/1", region: "eu" },
    { type: "order.filled", subject: "orders/2", region: "us" },
    { type: "order.new", subject: "invoices/3" },
    { type: "trade.done", subject: "orders/4" },
    { type: "order.new", subject: "orders/5" },
  ]);
  assert.deepEqual(stream.read().map((item) => (item as { seq: number }).seq), [1, 5]);
  assert.deepEqual(seqsOf(await broker.pull(required.id)), [1, 5], "one delivery: what a batch brings comes together");
  assert.equal(everything.read().length, 5);
  broker.close();
});

test("a resumed stream replays only the kept events its filters select", () => {
  const { broker } = brokerOnFakeClock();
  broker.send({ type: "a", source: "/x" });
  broker.send({ type: "a", source: "/y" });
  broker.send({ type: "a", source: "/x", tenant: 7 });
  const stream = broker.subscribe({ kind: "stream", since: 0, filters: [{ exact: { source: "/x" } }] });
  assert.deepEqual(stream.read().map((item) => parsed(item as { json: string }).seq), [1, 3]);
  broker.close();
});

test("subscriptions with equal filters share the events of a publish: counted once", () => {
  const { broker } = brokerOnFakeClock();
  const filters: Filter[] = [{ exact: { region: "eu" } }];
  broker.subscribe({ kind: "required", filters });
  broker.send({ type: "a", region: "eu", data: "x".repeat(1_000) });
  const one = broker.memory.parts.required.used;
  broker.subscribe({ kind: "required", filters });
  broker.subscribe({ kind: "required", filters });
  broker.send({ type: "a", region: "eu", data: "x".repeat(1_000) });
  assert.equal(broker.memory.parts.required.used - one, one + 2 * 8, "the second publish's unit once, a reference for each of three");
  broker.close();
});

test("a bad filter is refused naming the field; one nested too deep is refused before it is walked", () => {
  const { broker } = brokerOnFakeClock();
  const refusal = (filters: unknown) => {
    try {
      broker.subscribe({ kind: "stream", filters: filters as Filter[] });
    } catch (error) {
      assert.ok(error instanceof ValidationError);
      return error.issues.map((issue) => issue.path);
    }
    assert.fail(`accepted ${JSON.stringify(filters)}`);
  };
  assert.deepEqual(refusal([{ exact: { Region: "eu" } }]), ["/filters/0/exact/Region"]);
  assert.deepEqual(refusal([{ exact: { region: 1 } }]), ["/filters/0/exact/region"]);
  assert.ok(refusal([{ sql: "region = 'eu'" }]).includes("/filters/0/sql"));
  assert.deepEqual(refusal([{ exact: { a: "1" }, prefix: { b: "2" } }]), ["/filters/0"]);
  assert.deepEqual(refusal([{ any: [] }]), ["/filters/0/any"]);
  let deep: unknown = { exact: { a: "b" } };
  for (let i = 0; i < 50_000; i++) deep = { not: deep };
  assert.deepEqual(refusal([deep]), ["/filters"]);
  assert.equal(broker.streamCount, 0, "nothing was opened");
  broker.close();
});
