// Many connections against a low open-file limit: the broker refuses what does not fit and keeps serving.
import assert from "node:assert/strict";
import { test } from "node:test";
import { healthStatus, type RawConnection, rawConnection } from "../support/raw-http.ts";
import { postJson, runtime, startServer } from "../support/server-process.ts";
import { eventually, sleep } from "../support/wait.ts";

/** Below what the floods below need: each connection costs the server one descriptor. */
const FILE_LIMIT = 256;

async function closeAll(connections: RawConnection[]): Promise<void> {
  for (const connection of connections) connection.close();
  await Promise.all(connections.map((connection) => connection.closed));
}

test(`${runtime}: under ulimit -n ${FILE_LIMIT}, 300 connections that never finish their headers are closed, and the broker stays up and answers /healthz`, async () => {
  const server = await startServer({ BROKER_HEADER_TIMEOUT_MS: "2000" }, { fileLimit: FILE_LIMIT });
  const flood = Array.from({ length: 300 }, () => rawConnection(server.url, "GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  let closedByServer = 0;
  for (const connection of flood) connection.closed.then(({ byServer }) => byServer && closedByServer++);
  await eventually(async () => (await healthStatus(server.url)) === 200, 20_000, "/healthz answering 200 during the flood");
  // Bun 1.4's timer ticks every 4 s and closes them after 8 s at the soonest.
  await eventually(async () => closedByServer >= 200, 15_000, "the broker closing 200 of the connections");
  assert.equal(await healthStatus(server.url), 200);
  assert.equal(server.child.exitCode, null, `the broker exited:\n${server.output}`);
  assert.equal(await server.stop(), 0);
});

test(`${runtime}: under ulimit -n ${FILE_LIMIT}, streams and waiting pulls beyond what fits are refused with 503, and /healthz answers throughout`, async () => {
  const server = await startServer({}, { fileLimit: FILE_LIMIT });
  const streams = Array.from({ length: 300 }, () => rawConnection(server.url, "GET /events/stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  const lines = await Promise.all(streams.map((c) => Promise.race([c.statusLine, sleep(5_000).then(() => "no answer")])));
  const served = lines.filter((line) => / 200 /.test(line)).length;
  const refused = lines.filter((line) => / 503 /.test(line)).length;
  assert.ok(served > 0 && served < 200, `${served} streams served`);
  assert.equal(served + refused, 300, `every stream answered: ${JSON.stringify(lines.filter((line) => !/ (200|503) /.test(line)).slice(0, 3))}`);
  assert.equal(await healthStatus(server.url), 200, "/healthz while the streams are open");

  const sub = await (await postJson(`${server.url}/subscriptions`, {})).json();
  const pull = JSON.stringify({ waitMs: 30_000 });
  const pulls = Array.from({ length: 100 }, () =>
    rawConnection(server.url, `POST /subscriptions/${sub.id}/pull HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${pull.length}\r\n\r\n${pull}`)
  );
  await sleep(1_000);
  const refusedPulls = pulls.filter((c) => / 503 /.test(c.received()));
  assert.ok(refusedPulls.length > 0 && refusedPulls.length < 100, `${refusedPulls.length} pulls refused`);
  assert.match(refusedPulls[0].received(), /Retry-After: 1/i);
  assert.match(refusedPulls[0].received(), /"type":"\/problems\/too-many-pulls"/);
  assert.equal(await healthStatus(server.url), 200, "/healthz while the pulls wait");

  await closeAll([...streams, ...pulls]);
  assert.equal(await healthStatus(server.url), 200);
  assert.equal(server.child.exitCode, null, `the broker exited:\n${server.output}`);
  assert.match(server.output, /warning: the open-file limit \(ulimit -n\) is about 2\d\d,/);
  assert.equal(await server.stop(), 0);
});
