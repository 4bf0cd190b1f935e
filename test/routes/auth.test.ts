import assert from "node:assert/strict";
import { test } from "node:test";
import { sign } from "hono/jwt";
import { mintToken } from "../../src/cli/token.ts";
import { problemOf, testApp } from "../support/app.ts";
import { listSubscriptions } from "../support/http.ts";
import { isEvent, openStream } from "../support/sse.ts";
import { within } from "../support/wait.ts";

const secret = "a-test-secret-that-is-long-enough-1234";
const token = (sub: string, publish: string[], subscribe: string[], ttlSeconds = 600) =>
  mintToken(secret, { sub, publish, subscribe, ttlSeconds });
const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}`, "content-type": "application/json" });

async function authApp() {
  const app = await testApp({ jwtSecret: secret });
  const as = (jwt: string) => ({
    get: (path: string) => app.request(path, { headers: bearer(jwt) }),
    post: (path: string, body: unknown) => app.request(path, { method: "POST", headers: bearer(jwt), body: JSON.stringify(body) }),
    send: (path: string, method: string, body?: unknown) => app.request(path, { method, headers: bearer(jwt), body: body === undefined ? undefined : JSON.stringify(body) }),
  });
  return { app, as };
}

test("with a secret, requests without a valid token answer 401; /healthz stays open", async () => {
  const { app } = await authApp();
  const missing = await app.post("/events", { type: "a" });
  assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="event-broker"');
  await problemOf(missing, 401);
  await problemOf(await app.request("/subscriptions", { headers: bearer("not.a.jwt") }), 401);
  const forged = await sign({ sub: "x", "broker.publish": ["*"] }, "another-secret-that-is-long-enough-99", "HS256");
  await problemOf(await app.request("/events", { method: "POST", headers: bearer(forged), body: '{"type":"a"}' }), 401);
  const expired = await mintToken(secret, { sub: "x", publish: ["*"], subscribe: [], ttlSeconds: 1 }, Date.now() - 10_000);
  const problem = await problemOf(await app.request("/events", { method: "POST", headers: bearer(expired), body: '{"type":"a"}' }), 401);
  assert.match(String(problem.detail), /expired/);
  assert.equal((await app.request("/healthz")).status, 200);
  assert.equal(await app.lastSeq(), 0);
  await app.close();
});

test("publishing a type outside broker.publish is 403 and accepts nothing of the request", async () => {
  const { app, as } = await authApp();
  const producer = as(await token("shop", ["order.*"], []));
  assert.equal((await producer.post("/events", { type: "order.new" })).status, 202);
  const problem = await problemOf(await producer.post("/events", [{ type: "order.new" }, { type: "payment.done" }]), 403);
  assert.equal(problem.errors?.[0].path, "/1/type");
  assert.equal(await app.lastSeq(), 1);
  await problemOf(await as(await token("nobody", [], [])).post("/events", { type: "order.new" }), 403);
  await app.close();
});

test("the token may come as ?access_token=; a broker_token cookie is no credential", async () => {
  const { app } = await authApp();
  const jwt = await token("u", ["*"], ["*"]);
  assert.equal((await app.request(`/subscriptions?access_token=${jwt}`)).status, 200);
  await problemOf(await app.request("/subscriptions", { headers: { cookie: `broker_token=${jwt}` } }), 401);
  await app.close();
});

test("with access control on, a text/plain POST from a page on another origin is 403 whatever it carries", async () => {
  const { app } = await authApp();
  const jwt = await token("u", ["*"], ["*"]);
  const crossSite = { origin: "http://evil.example", "content-type": "text/plain", cookie: `broker_token=${jwt}` };
  await problemOf(await app.request("/events", { method: "POST", headers: crossSite, body: '{"type":"csrf"}' }), 403);
  await problemOf(await app.request(`/subscriptions?access_token=${jwt}`, { method: "POST", headers: crossSite, body: '{"types":["*"]}' }), 403);
  assert.equal(await app.lastSeq(), 0);
  assert.deepEqual(await app.list(), []);
  await app.close();
});

/** A token with exactly these claims, signed with the test secret. */
const signed = (claims: Record<string, unknown>) => sign({ iat: Math.floor(Date.now() / 1_000), ...claims }, secret, "HS256");

test("a token without sub is 401 saying so: tokens without one cannot share each other's subscriptions", async () => {
  const { app, as } = await authApp();
  for (const claims of [{ "broker.publish": ["*"], "broker.subscribe": ["*"] }, { sub: "", "broker.subscribe": ["x.*"] }]) {
    const problem = await problemOf(await as(await signed(claims)).get("/subscriptions"), 401);
    assert.match(String(problem.detail), /\bsub\b/);
  }
  await app.close();
});

test("grants may be top-level or nested under broker; a token with neither is 401 naming both claims", async () => {
  const { app, as } = await authApp();
  const nested = as(await signed({ sub: "n", broker: { publish: ["order.*"], subscribe: ["order.*"] } }));
  assert.equal((await nested.post("/events", { type: "order.new" })).status, 202);
  await problemOf(await nested.post("/events", { type: "payment.done" }), 403);
  assert.deepEqual((await (await nested.post("/subscriptions", { types: ["*"] })).json()).types, ["order.*"]);
  const publishOnly = as(await signed({ sub: "p", broker: { publish: ["*"] } }));
  assert.equal((await publishOnly.post("/events", { type: "a" })).status, 202);
  await problemOf(await publishOnly.post("/subscriptions", { types: ["a"] }), 403);
  for (const claims of [{ sub: "x" }, { sub: "x", broker: {} }]) {
    const problem = await problemOf(await as(await signed(claims)).get("/subscriptions"), 401);
    assert.match(String(problem.detail), /broker\.publish.*broker\.subscribe/);
    assert.doesNotMatch(String(problem.detail), /\bsub\b/);
  }
  const twice = await problemOf(await as(await signed({ sub: "x", "broker.publish": ["a"], broker: { publish: ["*"] } })).get("/subscriptions"), 401);
  assert.match(String(twice.detail), /broker\.publish twice/);
  await problemOf(await as(await signed({ sub: "x", broker: { subscribe: "*" } })).get("/subscriptions"), 401);
  assert.equal(await app.lastSeq(), 2);
  await app.close();
});

test("a malformed exp, nbf or iat claim is 401 naming the claim as malformed, not as expired", async () => {
  const { app, as } = await authApp();
  const grants = { sub: "x", "broker.publish": ["*"] };
  for (const claim of ["exp", "nbf", "iat"]) {
    for (const value of ["1", "2999999999", null]) {
      const problem = await problemOf(await as(await signed({ ...grants, [claim]: value })).post("/events", { type: "a" }), 401);
      assert.equal(problem.detail, `the token's ${claim} claim is malformed: it must be a number of seconds since the epoch`);
    }
  }
  const later = Math.floor(Date.now() / 1_000) + 600;
  assert.match(String((await problemOf(await as(await signed({ ...grants, nbf: later })).post("/events", { type: "a" }), 401)).detail), /not valid yet/);
  assert.equal((await as(await signed({ ...grants, exp: later })).post("/events", { type: "a" })).status, 202);
  assert.equal(await app.lastSeq(), 1);
  await app.close();
});

test("pulling or listing parked events of a subscription with types the token does not grant is 403 and hands nothing", async () => {
  const { app, as } = await authApp();
  const wide = as(await token("payroll", ["*"], ["*"]));
  const narrow = as(await token("payroll", [], ["x.*"]));
  const sub = await (await wide.post("/subscriptions", { types: ["*"] })).json();
  await wide.post("/events", { type: "secret.payroll" });
  await problemOf(await narrow.post(`/subscriptions/${sub.id}/pull`, { waitMs: 0 }), 403);
  await problemOf(await narrow.get(`/subscriptions/${sub.id}/parked`), 403);
  const { events } = await (await wide.post(`/subscriptions/${sub.id}/pull`, { waitMs: 0 })).json();
  assert.deepEqual(events.map((e: { type: string; deliveries: number }) => [e.type, e.deliveries]), [["secret.payroll", 1]]);
  const own = await (await narrow.post("/subscriptions", { types: ["x.*"] })).json();
  assert.equal((await narrow.post(`/subscriptions/${own.id}/pull`, { waitMs: 0 })).status, 200);
  await app.close();
});

test("a stream sees only the types both its filter and the token allow", async () => {
  const { app, as } = await authApp();
  const admin = as(await token("admin", ["*"], ["*"]));
  const watcher = await token("watcher", [], ["order.*", "trade"]);
  const { reader } = await openStream(app, `?types=order.*,payment.*&access_token=${watcher}`);
  await admin.post("/events", [{ type: "payment.done" }, { type: "trade" }, { type: "order.new" }]);
  const messages = await reader.until((m) => m.id === "3");
  assert.deepEqual(messages.filter(isEvent).map((m) => JSON.parse(m.data).type), ["order.new"]);
  await problemOf(await app.request(`/events/stream?types=payment.*&access_token=${watcher}`), 403);
  await reader.cancel();
  await app.close();
});

test("a required subscription belongs to its creator's sub: 404 to anyone else", async () => {
  const { app, as } = await authApp();
  const [aliceToken, bobToken] = [await token("alice", ["*"], ["*"]), await token("bob", ["*"], ["*"])];
  const [alice, bob] = [as(aliceToken), as(bobToken)];
  const sub = await (await alice.post("/subscriptions", { types: ["a"] })).json();
  for (const [method, path, body] of [
    ["GET", `/subscriptions/${sub.id}`], ["PATCH", `/subscriptions/${sub.id}`, { paused: true }],
    ["POST", `/subscriptions/${sub.id}/pull`, { waitMs: 0 }], ["POST", `/subscriptions/${sub.id}/ack`, { seq: 0 }],
    ["DELETE", `/subscriptions/${sub.id}`],
  ] as [string, string, unknown?][]) {
    await problemOf(await bob.send(path, method, body), 404);
  }
  assert.deepEqual(await listSubscriptions(app, bearer(bobToken)), []);
  assert.deepEqual((await listSubscriptions(app, bearer(aliceToken))).map((listed) => listed.id), [sub.id]);
  assert.equal((await alice.get(`/subscriptions/${sub.id}`)).status, 200);
  await app.close();
});

test("a required subscription's types are narrowed to the token's broker.subscribe", async () => {
  const { app, as } = await authApp();
  const reader = as(await token("r", ["*"], ["order.*"]));
  const sub = await (await reader.post("/subscriptions", { types: ["*"] })).json();
  assert.deepEqual(sub.types, ["order.*"]);
  await reader.post("/events", [{ type: "secret" }, { type: "order.new" }]);
  const { events } = await (await reader.post(`/subscriptions/${sub.id}/pull`, { waitMs: 0 })).json();
  assert.deepEqual(events.map((e: { type: string }) => e.type), ["order.new"]);
  await problemOf(await reader.post("/subscriptions", { types: ["secret"] }), 403);
  await app.close();
});

test("a stream is closed with reason token-expired when its token expires", async () => {
  const { app } = await authApp();
  const shortLived = await mintToken(secret, { sub: "s", publish: [], subscribe: ["*"], ttlSeconds: 1 });
  const { reader } = await openStream(app, `?access_token=${shortLived}`);
  const closing = (await reader.until((m) => m.event === "broker.closing", 3_000)).at(-1)!;
  assert.deepEqual(JSON.parse(closing.data), { reason: "token-expired" });
  assert.equal(await within(reader.next(), 3_000, "the stream's end"), null);
  await app.close();
});

test("CORS answers preflights for configured origins only, with credentials", async () => {
  const app = await testApp({ corsOrigins: "https://dash.example" });
  const preflight = await app.request("/events", {
    method: "OPTIONS",
    headers: { origin: "https://dash.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
  });
  assert.equal(preflight.headers.get("access-control-allow-origin"), "https://dash.example");
  assert.equal(preflight.headers.get("access-control-allow-credentials"), "true");
  assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/i);
  const other = await app.request("/healthz", { headers: { origin: "https://evil.example" } });
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  const stream = await openStream(app, "", { headers: { origin: "https://dash.example" } });
  assert.equal(stream.response.headers.get("access-control-allow-origin"), "https://dash.example");
  await stream.reader.cancel();
  const problem = await app.request("/subscriptions/nope", { headers: { origin: "https://dash.example" } });
  assert.equal(problem.headers.get("access-control-allow-origin"), "https://dash.example");
  await app.close();
});
