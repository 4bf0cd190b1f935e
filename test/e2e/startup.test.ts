// What start says when it cannot: one clear line and a non-zero exit, never a stack trace.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { test } from "node:test";
import { runtime, startServer } from "../support/server-process.ts";

/** Runs the entry point with `env` and `args` until it exits by itself. */
function start(env: Record<string, string>, args: string[] = []) {
  const entry = runtime === "bun" ? ["src/bun.ts"] : ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys", "src/deno.ts"];
  const result = spawnSync(process.execPath, [...entry, ...args], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 15_000 });
  return { code: result.status, stderr: result.stderr, stdout: result.stdout };
}

test(`${runtime}: a port another broker holds is refused in one line, and the first goes on serving alone`, { timeout: 30_000 }, async () => {
  const first = await startServer();
  try {
    const { port } = new URL(first.url);
    const second = start({}, ["--port", port]);
    assert.equal(second.code, 1);
    assert.equal(second.stderr.trim(), `event-broker cannot listen on 127.0.0.1:${port}: the port is taken by another process`);
    for (let i = 0; i < 20; i++) await (await fetch(`${first.url}/events`, { method: "POST", body: '{"type":"a"}' })).body?.cancel();
    assert.equal((await (await fetch(`${first.url}/healthz`)).json()).lastSeq, 20, "every request reached the one broker");
  } finally {
    await first.stop();
  }
});

test(`${runtime}: a bad setting or a host that does not resolve is one line naming it, not a stack trace`, { timeout: 30_000 }, () => {
  const port = start({ PORT: "abc" });
  assert.equal(port.code, 2);
  assert.equal(port.stderr, "bad settings:\n  --port / PORT: must be a port: a whole number\n");
  const host = start({ HOST: "bogus.invalid" }, ["--port", "0"]);
  assert.equal(host.code, 1);
  assert.match(host.stderr, /^event-broker cannot listen on bogus\.invalid:0: .+\n$/);
  assert.doesNotMatch(host.stderr, /\n\s+at /, "no stack");
});
