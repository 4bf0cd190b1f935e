import assert from "node:assert/strict";
import { test } from "node:test";
import { type TestApp, testApp } from "../support/app.ts";

const preflight = (app: TestApp, headers: string) =>
  app.request("/events", {
    method: "OPTIONS",
    headers: { origin: "https://dash.example", "access-control-request-method": "POST", "access-control-request-headers": headers },
  });

test("a preflight may ask for any ce-* header, extensions included; other headers are not reflected", async () => {
  const app = await testApp({ corsOrigins: "https://dash.example" });
  const response = await preflight(app, "content-type,ce-type,ce-specversion,ce-traceparent,CE-Partitionkey,ce-bad_name,x-evil");
  assert.equal(response.status, 204);
  assert.equal(response.headers.get("access-control-allow-origin"), "https://dash.example");
  const allowed = (response.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(",");
  for (const name of ["content-type", "authorization", "ce-type", "ce-specversion", "ce-traceparent", "ce-partitionkey"]) assert.ok(allowed.includes(name), `${name} in ${allowed}`);
  for (const name of ["ce-bad_name", "x-evil"]) assert.ok(!allowed.includes(name), `${name} in ${allowed}`);
  await app.close();
});

test("binary mode with an extension header works from a listed origin", async () => {
  const app = await testApp({ corsOrigins: "https://dash.example" });
  const response = await app.request("/events", {
    method: "POST",
    headers: { origin: "https://dash.example", "sec-fetch-site": "cross-site", "ce-type": "a", "ce-traceparent": "00-1", "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(response.status, 202);
  assert.equal(response.headers.get("access-control-allow-origin"), "https://dash.example");
  await app.close();
});
