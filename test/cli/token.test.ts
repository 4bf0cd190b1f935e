import assert from "node:assert/strict";
import { test } from "node:test";
import { verify } from "hono/jwt";
import { runCli } from "../support/cli.ts";

const secret = "a-test-secret-that-is-long-enough-1234";

const run = (argv: string[], env: Record<string, string> = {}) => runCli(argv, env);

test("broker token mints an HS256 token with the given sub, patterns and lifetime", async () => {
  const { code, stdout } = await run(["token", "--sub", "dash", "--publish", "order.*", "--subscribe", "order.*,trade", "--ttl", "60"], { BROKER_JWT_SECRET: secret });
  assert.equal(code, 0);
  const claims = await verify(stdout.trim(), secret, "HS256");
  assert.equal(claims.sub, "dash");
  assert.deepEqual(claims["broker.publish"], ["order.*"]);
  assert.deepEqual(claims["broker.subscribe"], ["order.*", "trade"]);
  assert.equal((claims.exp as number) - (claims.iat as number), 60);
});

test("broker token refuses without a secret or a sub, with usage, exit 2", async () => {
  const noSecret = await run(["token", "--sub", "x"]);
  assert.equal(noSecret.code, 2);
  assert.match(noSecret.stderr, /BROKER_JWT_SECRET/);
  const noSub = await run(["token"], { BROKER_JWT_SECRET: secret });
  assert.equal(noSub.code, 2);
  assert.match(noSub.stderr, /usage: broker token/);
});

test("broker --help lists the commands; an unknown command exits 2", async () => {
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /token/);
  assert.equal((await run(["nope"])).code, 2);
  assert.match((await run(["token", "--help"])).stdout, /--ttl/);
});

test("broker token refuses a pattern the broker would refuse, naming it, exit 2", async () => {
  const bad = await run(["token", "--sub", "x", "--publish", "order.*,bad type"], { BROKER_JWT_SECRET: secret });
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, "");
  assert.match(bad.stderr, /^broker token: --publish "bad type" must be "\*", an event type, or an event type followed by "\.\*"\n/);
  const prefix = await run(["token", "--sub", "x", "--subscribe", "order*"], { BROKER_JWT_SECRET: secret });
  assert.equal(prefix.code, 2);
  assert.match(prefix.stderr, /--subscribe "order\*"/);
});
