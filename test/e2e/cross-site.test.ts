// Cross-site requests from a real browser: a page on another origin tries to publish and
// subscribe through its visitor's browser, with a no-cors fetch and a form POST.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import type { Browser } from "playwright-core";
import { mintToken } from "../../src/cli/token.ts";
import { launchChromium } from "../support/browser.ts";
import { listSubscriptions } from "../support/http.ts";
import { postJson, runtime, startServer } from "../support/server-process.ts";

const secret = "a-test-secret-that-is-long-enough-1234";

/** What a hostile page can send anywhere without a preflight; `broker` is in its query string. */
const ATTACK_PAGE = `<!doctype html>
<form method="POST" enctype="text/plain"><input name='{"type":"csrf.form","pad":"' value='"}'></form>
<script>
  const broker = new URLSearchParams(location.search).get("broker");
  document.forms[0].action = broker + "/events";
  const send = (path, body) => fetch(broker + path, { method: "POST", mode: "no-cors", credentials: "include", headers: { "content-type": "text/plain" }, body });
  window.sent = Promise.all([send("/events", '{"type":"csrf.fetch"}'), send("/subscriptions", '{"types":["*"],"name":"csrf"}')]).then(() => "sent", String);
</script>`;

/** A second origin: the same page from another port, as localhost (cross-site) or 127.0.0.1 (same site). */
async function startPageServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((_, response) => response.writeHead(200, { "content-type": "text/html" }).end(ATTACK_PAGE));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Opens the page at `pageOrigin`, lets it fire its fetches, submits its form; the form's answer status. */
async function attack(browser: Browser, pageOrigin: string, brokerUrl: string, cookie?: string): Promise<number> {
  const context = await browser.newContext();
  try {
    if (cookie) await context.addCookies([{ name: "broker_token", value: cookie, url: brokerUrl }]);
    const page = await context.newPage();
    await page.goto(`${pageOrigin}/?broker=${encodeURIComponent(brokerUrl)}`);
    assert.equal(await page.evaluate(() => (window as unknown as { sent: Promise<string> }).sent), "sent");
    const [answer] = await Promise.all([page.waitForNavigation(), page.evaluate(() => document.forms[0].submit())]);
    return answer!.status();
  } finally {
    await context.close();
  }
}

/** The next seq the broker would give, and the names of the subscriptions `headers` may see. */
async function brokerState(url: string, headers: Record<string, string> = {}) {
  const probe = await fetch(`${url}/events`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: '{"type":"probe"}' });
  const subscriptions = await listSubscriptions(url, headers);
  return { probeSeq: (await probe.json()).first, subscriptions: subscriptions.map((sub) => sub.name) };
}

test(`${runtime}: a page on another origin cannot publish or subscribe through the browser; a listed origin can`, { timeout: 60_000 }, async () => {
  const pages = await startPageServer();
  const open = await startServer();
  const listing = await startServer({ BROKER_CORS_ORIGINS: `http://localhost:${pages.port}` });
  const browser = await launchChromium();
  try {
    for (const pageOrigin of [`http://localhost:${pages.port}`, `http://127.0.0.1:${pages.port}`]) {
      assert.equal(await attack(browser, pageOrigin, open.url), 403, pageOrigin);
    }
    assert.deepEqual(await brokerState(open.url), { probeSeq: 1, subscriptions: [] });
    // The control: the same page, from an origin the broker lists, does get through.
    assert.equal(await attack(browser, `http://localhost:${pages.port}`, listing.url), 202);
    const listed = await brokerState(listing.url);
    assert.deepEqual([listed.probeSeq, listed.subscriptions], [3, ["csrf"]]);
  } finally {
    await browser.close();
    await Promise.all([open.stop(), listing.stop(), pages.close()]);
  }
});

test(`${runtime}: with access control on, a page on the same site cannot ride on the broker_token cookie`, { timeout: 60_000 }, async () => {
  const pages = await startPageServer();
  const server = await startServer({ BROKER_JWT_SECRET: secret });
  const browser = await launchChromium();
  try {
    const token = await mintToken(secret, { sub: "victim", publish: ["*"], subscribe: ["*"], ttlSeconds: 600 });
    // 127.0.0.1 on another port is the same site, so the browser sends even a SameSite=Lax cookie.
    assert.equal(await attack(browser, `http://127.0.0.1:${pages.port}`, server.url, token), 403);
    assert.deepEqual(await brokerState(server.url, { authorization: `Bearer ${token}` }), { probeSeq: 1, subscriptions: [] });
    assert.equal((await postJson(`${server.url}/events`, { type: "a" })).status, 401);
  } finally {
    await browser.close();
    await Promise.all([server.stop(), pages.close()]);
  }
});
