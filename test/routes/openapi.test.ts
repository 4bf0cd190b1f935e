import assert from "node:assert/strict";
import { test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { testApp } from "../support/app.ts";

type Document = { openapi: string; paths: Record<string, Record<string, any>>; components: { schemas: Record<string, object> } };

/** A validator for one schema of the document, with its component $refs resolved. */
function validatorFor(document: Document) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
  (addFormats as unknown as (ajv: Ajv2020) => void)(ajv);
  ajv.addSchema({ $id: "doc", components: document.components });
  const resolve = (schema: unknown): unknown => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/'));
  return (schema: unknown, value: unknown) => {
    const validate = ajv.compile(resolve(schema) as object);
    assert.ok(validate(value), `${JSON.stringify(value)} does not match: ${ajv.errorsText(validate.errors)}`);
  };
}

const bodySchema = (doc: Document, path: string, method: string, type = "application/json") => doc.paths[path][method].requestBody.content[type].schema;
const answerSchema = (doc: Document, path: string, method: string, status: number) => {
  const content = doc.paths[path][method].responses[status].content;
  return (content["application/json"] ?? content["application/problem+json"]).schema;
};

test("GET /openapi.json describes every route, and real requests and answers match it", async () => {
  const app = await testApp();
  const response = await app.request("/openapi.json");
  assert.equal(response.status, 200);
  const doc: Document = await response.json();
  assert.equal(doc.openapi, "3.1.0");
  for (const path of ["/events", "/events/stream", "/subscriptions", "/subscriptions/{id}", "/subscriptions/{id}/pull", "/subscriptions/{id}/ack", "/subscriptions/{id}/nack", "/subscriptions/{id}/extend", "/subscriptions/{id}/parked", "/healthz", "/metrics"]) {
    assert.ok(doc.paths[path], `${path} is documented`);
  }
  const check = validatorFor(doc);

  const event = { type: "order.filled", id: "o-1", source: "/shop", data: { qty: 1 }, traceparent: "00-x" };
  check(bodySchema(doc, "/events", "post"), event);
  check(bodySchema(doc, "/events", "post"), [event, { type: "b" }]);
  const published = await app.post("/events", [event, { type: "b" }]);
  check(answerSchema(doc, "/events", "post", 202), await published.json());

  const spec = { types: ["order.*"], name: "ledger", ackTimeoutMs: 5_000 };
  check(bodySchema(doc, "/subscriptions", "post"), spec);
  const created = await app.post("/subscriptions", spec);
  const subscription = await created.json();
  check(answerSchema(doc, "/subscriptions", "post", 201), subscription);
  await app.post("/events", { ...event, id: "o-2" }); // a new id: the dedupe window drops a repeated one

  const pull = { max: 10, waitMs: 0 };
  check(bodySchema(doc, "/subscriptions/{id}/pull", "post"), pull);
  const pulled = await (await app.post(`/subscriptions/${subscription.id}/pull`, pull)).json();
  assert.equal(pulled.events.length, 1);
  check(answerSchema(doc, "/subscriptions/{id}/pull", "post", 200), pulled);
  check(answerSchema(doc, "/subscriptions/{id}/ack", "post", 200), await (await app.post(`/subscriptions/${subscription.id}/ack`, { seq: 3 })).json());

  assert.ok(doc.paths["/events"].post.requestBody.content["application/x-ndjson"], "NDJSON bodies are documented");
  const streamed = await app.post("/events", `${JSON.stringify(event)}\n{"type":"bad type"}\n`, "application/x-ndjson");
  assert.equal(streamed.status, 200);
  check(answerSchema(doc, "/events", "post", 200), await streamed.json());

  const problem = await (await app.post("/events", { type: "bad type" })).json();
  check(answerSchema(doc, "/events", "post", 400), problem);
  await app.close();
});

test("the document's request schemas refuse what the routes refuse", async () => {
  const app = await testApp();
  const doc: Document = await (await app.request("/openapi.json")).json();
  const ajv = new Ajv2020({ strict: false, logger: false });
  const accepts = (name: string, value: unknown) => ajv.validate(doc.components.schemas[name], value);
  assert.equal(accepts("SubscriptionRequest", { tpyes: ["a"] }), false);
  assert.equal((await app.post("/subscriptions", { tpyes: ["a"] })).status, 400);
  assert.equal(accepts("PullRequest", { waitMs: 60_001 }), false);
  assert.equal(accepts("EventInput", { data: 1 }), false);
  assert.equal(accepts("EventInput", { type: "a b" }), false);
  await app.close();
});
