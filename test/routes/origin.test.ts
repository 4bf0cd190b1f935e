import assert from "node:assert/strict";
import { test } from "node:test";
import { crossSiteRefusal } from "../../routes/origin.ts";
import { problemOf, type TestApp, testApp } from "../support/app.ts";

/** What a page on another origin can send without a preflight: a `no-cors` fetch or a form POST. */
const CROSS_SITE_HEADERS: Record<string, string>[] = [
  { origin: "http://evil.example", "sec-fetch-site": "cross-site" },
  { origin: "http://evil.example" },
  { origin: "http://broker.test:8080", "sec-fetch-site": "same-site" },
  { origin: "https://broker.test" },
  { origin: "null", "sec-fetch-site": "cross-site" },
  { origin: "null" },
  { origin: "null", "sec-fetch-site": "same-origin" },
  { "sec-fetch-site": "cross-site" },
  { "sec-fetch-site": "same-site" },
];

const send = (app: TestApp, method: string, path: string, headers: Record<string, string>, body?: string) =>
  app.request(path, { method, headers: { "content-type": "text/plain", ...headers }, body });

test("a POST, PATCH or DELETE from a page on another origin is 403 naming the header, and changes nothing", async () => {
  const app = await testApp();
  const sub = await app.subscribe({ types: ["a"] });
  for (const headers of CROSS_SITE_HEADERS) {
    const problem = await problemOf(await send(app, "POST", "/events", headers, '{"type":"csrf"}'), 403);
    assert.equal(problem.errors?.[0].path, headers.origin === undefined ? "sec-fetch-site" : "origin", JSON.stringify(headers));
    await problemOf(await send(app, "POST", "/subscriptions", headers, '{"types":["*"]}'), 403);
    await problemOf(await send(app, "PATCH", `/subscriptions/${sub.id}`, headers, '{"paused":true}'), 403);
    await problemOf(await send(app, "DELETE", `/subscriptions/${sub.id}`, headers), 403);
  }
  assert.equal(await app.lastSeq(), 0);
  assert.deepEqual((await app.list()).map((s) => [s.id, s.paused]), [[sub.id, false]]);
  await app.close();
});

test("Origin: null is refused even when listed", async () => {
  const app = await testApp({ corsOrigins: "null" });
  const response = await send(app, "POST", "/events", { origin: "null" }, '{"type":"a"}');
  assert.equal(response.headers.get("access-control-allow-origin"), null, "the refused page may not read the refusal");
  const problem = await problemOf(response, 403);
  assert.equal(problem.errors?.[0].path, "origin");
  assert.equal(await app.lastSeq(), 0);
  await app.close();
});

test("a cross-origin request is refused before its body is read", async () => {
  const app = await testApp();
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(new TextEncoder().encode('{"type":"csrf"}'));
      controller.close();
    },
  }, { highWaterMark: 0 });
  const response = await app.request("/events", { method: "POST", headers: { origin: "http://evil.example", "content-type": "text/plain" }, body, duplex: "half" } as RequestInit);
  await problemOf(response, 403);
  assert.equal(pulls, 0);
  await app.close();
});

test("the broker's own origin, listed origins and requests without Origin may publish; reads are never refused", async () => {
  const app = await testApp({ corsOrigins: "https://dash.example" });
  const allowed: Record<string, string>[] = [
    {},
    { origin: "http://broker.test" },
    { origin: "http://broker.test", "sec-fetch-site": "same-origin" },
    // Behind a proxy that ends TLS or rewrites Host the browser's own verdict still holds.
    { origin: "https://broker.example", "sec-fetch-site": "same-origin" },
    { origin: "https://dash.example", "sec-fetch-site": "cross-site" },
    { origin: "https://dash.example" },
  ];
  for (const headers of allowed) {
    const response = await send(app, "POST", "/events", headers, '{"type":"ok"}');
    assert.equal(response.status, 202, `${JSON.stringify(headers)}: ${await response.text()}`);
  }
  assert.equal((await app.request("/subscriptions", { headers: { origin: "http://evil.example", "sec-fetch-site": "cross-site" } })).status, 200);
  assert.equal(await app.lastSeq(), 6);
  await app.close();
});

/** What a page makes its visitor's browser send to what it takes for its own origin. */
const SAME_ORIGIN_HEADERS: Record<string, string>[] = [
  { origin: "http://broker.test", "sec-fetch-site": "same-origin" },
  { "sec-fetch-site": "same-origin" },
  { origin: "http://broker.test" },
];

test("a browser that reaches the broker by a name not its own (DNS rebinding) is 403 naming host, reads included, and changes nothing", async () => {
  const app = await testApp({ hosts: "" }); // broker.test is now a name the broker was not given
  const sub = await app.subscribe({ types: ["a"] });
  for (const headers of SAME_ORIGIN_HEADERS) {
    const problem = await problemOf(await send(app, "POST", "/events", headers, '{"type":"rebound"}'), 403);
    assert.deepEqual(problem.errors?.map((error) => error.path), ["host"], JSON.stringify(headers));
    await problemOf(await send(app, "GET", "/events", headers), 403);
    await problemOf(await send(app, "GET", "/subscriptions", headers), 403);
    await problemOf(await send(app, "DELETE", `/subscriptions/${sub.id}`, headers), 403);
  }
  assert.equal(await app.lastSeq(), 0);
  // No browser sent these: a client naming any host is served as before.
  assert.equal((await send(app, "POST", "/events", {}, '{"type":"a"}')).status, 202);
  assert.deepEqual((await app.list()).map((s) => s.id), [sub.id]);
  await app.close();
});

test("with access control on, a browser may use any name: a rebound page holds no token", async () => {
  const app = await testApp({ hosts: "", jwtSecret: "s".repeat(32) });
  const response = await send(app, "POST", "/events", SAME_ORIGIN_HEADERS[0], '{"type":"a"}');
  assert.equal(response.status, 401, await response.clone().text());
  await app.close();
});

test("names that cannot be rebound, or that the operator gave, pass; so does a listed page's origin", () => {
  const refuse = crossSiteRefusal({ allowedOrigins: ["https://dash.example"], hosts: ["events.example.com"] });
  const browser = (url: string, headers: Record<string, string> = { "sec-fetch-site": "same-origin" }) => refuse(new Request(url, { headers }));
  for (const url of ["http://127.0.0.1:8787/events", "http://[::1]:8787/", "http://localhost:8787/", "http://dash.localhost/", "http://0x7f000001/", "https://EVENTS.example.com/"]) {
    assert.equal(browser(url), undefined, url);
  }
  for (const url of ["http://attacker.example:8787/events", "http://127.0.0.1.nip.io/", "http://localhost.attacker.example/", "http://events.example.com.attacker.example/"]) {
    assert.deepEqual(browser(url)?.errors?.map((error) => error.path), ["host"], url);
  }
  assert.equal(browser("http://attacker.example/events", { origin: "https://dash.example" }), undefined);
  assert.equal(refuse(new Request("http://attacker.example/events")), undefined, "not a browser");
  assert.equal(crossSiteRefusal({ allowedOrigins: [] })(new Request("http://attacker.example/", { headers: { "sec-fetch-site": "same-origin" } })), undefined);
});
