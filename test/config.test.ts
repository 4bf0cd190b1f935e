import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, envNameOf, flagNameOf, loadSettings } from "../src/config.ts";

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

test("BROKER_HOSTS is a comma list of host names, lower-cased; a scheme or a port is refused, naming it", () => {
  assert.deepEqual(loadSettings({ BROKER_HOSTS: " Events.Example.com, broker.internal " }, []).hosts, ["events.example.com", "broker.internal"]);
  for (const bad of ["https://events.example.com", "events.example.com:443"]) {
    assert.throws(() => loadSettings({ BROKER_HOSTS: bad }, []), (error: ConfigError) => /--hosts \/ BROKER_HOSTS: must be host names/.test(error.message), bad);
  }
});

test("maxIncomingBytes below maxBodyBytes is refused: a body of that size could never be read", () => {
  assert.throws(() => loadSettings({ BROKER_MAX_BODY_BYTES: "2048", BROKER_MAX_INCOMING_BYTES: "1024" }, []), (error: ConfigError) => /BROKER_MAX_INCOMING_BYTES: must be at least maxBodyBytes/.test(error.message));
  assert.equal(loadSettings({}, []).maxIncomingBytes, 64 * 1024 * 1024);
});
