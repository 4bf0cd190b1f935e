import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ConfigError, envNameOf, flagNameOf, loadSettings, settingsSchema } from "../src/config.ts";

/** The rows of the README's settings table: each setting's variable, flag and default as documented. */
function documentedSettings(): { name: string; env: string; flag: string; fallback: string }[] {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  return [...readme.matchAll(/^\| (\w+) \| `(\w+)` \| `(--[a-z-]+)` \| ([^|]+) \|/gm)].map(([, name, env, flag, fallback]) => ({ name, env, flag, fallback: fallback.trim() }));
}

test("every setting has the variable, flag and default the README's settings table gives it", () => {
  const documented = documentedSettings();
  assert.deepEqual(documented.map((row) => row.name).sort(), Object.keys(settingsSchema.shape).sort(), "one row per setting");
  const defaults: Record<string, unknown> = loadSettings({}, []);
  for (const { name, env, flag, fallback } of documented) {
    assert.equal(envNameOf(name), env, name);
    assert.equal(flagNameOf(name), flag, name);
    if (fallback === "(none)") assert.ok(defaults[name] === undefined || String(defaults[name]) === "", `${name} has no default`);
    else assert.equal(String(defaults[name]), fallback, `${name}'s default`);
  }
});

test("settings come from PORT, HOST and BROKER_* and flags win over the environment", () => {
  const settings = loadSettings({ PORT: "9000", HOST: "0.0.0.0", BROKER_STREAM_BUFFER: "64", BROKER_HEARTBEAT_MS: "500" }, ["--stream-buffer", "32", "--max-batch=5"]);
  assert.equal(settings.port, 9000);
  assert.equal(settings.host, "0.0.0.0");
  assert.equal(settings.streamBuffer, 32);
  assert.equal(settings.heartbeatMs, 500);
  assert.equal(settings.maxBatch, 5);
});

test("env and flag names follow the setting's name", () => {
  assert.equal(envNameOf("streamBufferBytes"), "BROKER_STREAM_BUFFER_BYTES");
  assert.equal(envNameOf("port"), "PORT");
  assert.equal(flagNameOf("maxBodyBytes"), "--max-body-bytes");
});

test("bad settings and unknown flags throw ConfigError naming them", () => {
  assert.throws(() => loadSettings({ BROKER_MAX_BATCH: "lots" }, []), (error: ConfigError) => /BROKER_MAX_BATCH/.test(error.message));
  assert.throws(() => loadSettings({}, ["--stream-bufer", "1"]), (error: ConfigError) => /--stream-bufer/.test(error.message));
  assert.throws(() => loadSettings({}, ["--port"]), ConfigError);
  assert.throws(() => loadSettings({ PORT: "70000" }, []), ConfigError);
});
