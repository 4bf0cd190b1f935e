// The dashboard in a real browser: the npm-shipped Chromium driven by playwright-core.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { mintToken } from "../../src/cli/token.ts";
import { launchChromium } from "../support/browser.ts";
import { postJson, runtime, startServer } from "../support/server-process.ts";
import { sleep } from "../support/wait.ts";

/** Every answer of 400 or more the page receives, as "status path". */
function refusedRequests(page: Page): string[] {
  const refused: string[] = [];
  page.on("response", (response) => {
    if (response.status() >= 400) refused.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  return refused;
}

test(`${runtime}: the dashboard shows live events, filters, pauses and resumes subscriptions`, { timeout: 60_000 }, async () => {
  const server = await startServer();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const refused = refusedRequests(page);
    await page.goto(`${server.url}/`);
    await page.waitForSelector("#status[data-state=live]", { timeout: 5_000 });
    // Headless Chromium loads no icon; a desktop one loads the page's, or /favicon.ico, which was a 404.
    const iconStatus = await page.evaluate(async () => {
      const href = document.querySelector<HTMLLinkElement>("link[rel~=icon]")?.href ?? new URL("/favicon.ico", location.href).href;
      return (await fetch(href)).status;
    });
    assert.equal(iconStatus, 200, "the icon a desktop browser loads is there");

    const started = Date.now();
    await postJson(`${server.url}/events`, [{ type: "order.new", data: { id: 1 } }, { type: "trade.done", data: { px: 9 } }]);
    await page.waitForFunction(() => document.querySelectorAll("#events tbody tr").length === 2, undefined, { timeout: 1_000 });
    assert.ok(Date.now() - started < 1_000, "events appear within a second");
    assert.deepEqual(await page.$$eval("#events tbody tr td:first-child", (cells) => cells.map((cell) => cell.textContent)), ["2", "1"]);

    await page.fill("#filter", "order.*");
    await page.click("#filter-form button");
    await page.waitForSelector("#status[data-state=live]");
    await page.waitForFunction(() => document.querySelectorAll("#events tbody tr").length === 0);
    await postJson(`${server.url}/events`, [{ type: "trade.done" }, { type: "order.filled", data: { id: 1 } }]);
    await page.waitForFunction(() => document.querySelector("#events tbody tr td:nth-child(2)")?.textContent === "order.filled", undefined, { timeout: 1_000 });
    assert.equal(await page.$$eval("#events tbody tr", (rows) => rows.length), 1);

    await page.fill("#attributes", "region=eu");
    await page.click("#filter-form button");
    await page.waitForSelector("#status[data-state=live]");
    await page.waitForFunction(() => document.querySelectorAll("#events tbody tr").length === 0);
    await postJson(`${server.url}/events`, [{ type: "order.new", region: "us" }, { type: "order.new", region: "eu", data: { id: 2 } }]);
    await page.waitForFunction(() => document.querySelectorAll("#events tbody tr").length === 1, undefined, { timeout: 1_000 });
    assert.deepEqual(await page.$$eval("#events tbody tr td:first-child", (cells) => cells.map((cell) => cell.textContent)), ["6"], "only the event from eu");
    await page.fill("#attributes", "");
    await page.click("#filter-form button");
    await page.waitForSelector("#status[data-state=live]");

    const sub = await (await postJson(`${server.url}/subscriptions`, { types: ["order.*"], name: "ledger" })).json();
    const row = `#subscriptions tr[data-id="${sub.id}"]`;
    await page.waitForSelector(row, { timeout: 3_000 });
    await page.click(`${row} button[data-action=pause]`);
    await page.waitForSelector(`${row}[data-paused=true]`, { timeout: 3_000 });
    assert.equal((await (await fetch(`${server.url}/subscriptions/${sub.id}`)).json()).paused, true);
    await page.click(`${row} button[data-action=pause]`);
    await page.waitForSelector(`${row}[data-paused=false]`, { timeout: 3_000 });
    assert.equal((await (await fetch(`${server.url}/subscriptions/${sub.id}`)).json()).paused, false);

    await page.fill("#publish-type", "order.from-page");
    await page.click("#publish-form button");
    await page.waitForFunction(() => document.querySelector("#publish-result")?.textContent?.startsWith("accepted as seq"));
    await page.waitForFunction(() => document.querySelector("#events tbody tr td:nth-child(2)")?.textContent === "order.from-page");

    for (let i = 0; i < 30; i++) await postJson(`${server.url}/events`, Array.from({ length: 20 }, (_, n) => ({ type: "order.bulk", data: { i, n } })));
    await page.waitForFunction(() => Number(document.querySelector("#total")?.textContent) >= 602, undefined, { timeout: 3_000 });
    mkdirSync("test/artifacts", { recursive: true });
    await page.screenshot({ path: `test/artifacts/dashboard-${runtime}.png` });
    assert.deepEqual(refused, [], "no request of the page is refused (a missing /favicon.ico was)");
  } finally {
    await browser.close();
    await server.stop();
  }
});

test(`${runtime}: with access control on, the dashboard says "token needed", not "down", until given a token, then goes live`, { timeout: 60_000 }, async () => {
  const secret = "a-dashboard-test-secret-long-enough-1234";
  const server = await startServer({ BROKER_JWT_SECRET: secret });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const refused = refusedRequests(page);
    await page.goto(`${server.url}/`);
    await page.waitForSelector("#token-field:not([hidden])", { timeout: 5_000 });
    await sleep(1_000); // time for a refused stream to show as "down", as it did
    assert.deepEqual([await page.textContent("#status"), await page.getAttribute("#status", "data-state")], ["token needed", "token"]);
    assert.deepEqual(refused, [], "nothing is asked of the server without a token but /healthz");

    await page.fill("#token", "not-a-token");
    await page.press("#token", "Enter");
    await page.waitForSelector("#status[data-state=refused]", { timeout: 5_000 });
    assert.equal(await page.textContent("#status"), "token refused");

    const token = await mintToken(secret, { sub: "dashboard", publish: ["*"], subscribe: ["*"], ttlSeconds: 600 });
    await page.fill("#token", token);
    await page.press("#token", "Enter");
    await page.waitForSelector("#status[data-state=live]", { timeout: 5_000 });
    assert.equal(await page.textContent("#status"), "live");
    await page.waitForSelector("#subscriptions tbody tr", { timeout: 3_000 }); // its own stream, listed with the token
    const published = await fetch(`${server.url}/events`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: '{"type":"demo.secured"}' });
    assert.equal(published.status, 202);
    await page.waitForFunction(() => document.querySelector("#events tbody tr td:nth-child(2)")?.textContent === "demo.secured", undefined, { timeout: 3_000 });
  } finally {
    await browser.close();
    await server.stop();
  }
});
