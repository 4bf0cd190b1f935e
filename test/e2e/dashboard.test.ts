// The dashboard in a real browser: the npm-shipped Chromium driven by playwright-core.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { test } from "node:test";
import { launchChromium } from "../support/browser.ts";
import { postJson, runtime, startServer } from "../support/server-process.ts";

test(`${runtime}: the dashboard shows live events, filters, pauses and resumes subscriptions`, { timeout: 60_000 }, async () => {
  const server = await startServer();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.url}/`);
    await page.waitForSelector("#status[data-state=live]", { timeout: 5_000 });

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
  } finally {
    await browser.close();
    await server.stop();
  }
});
