// SIGTERM while publishes are in flight: each gets an answer, none a cut connection.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type RawConnection, rawConnection, statusOf } from "../support/raw-http.ts";
import { runtime, startServer } from "../support/server-process.ts";
import { sleep } from "../support/wait.ts";

const event = JSON.stringify({ type: "in.flight" });
const declared = `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${event.length}\r\n\r\n`;
const chunked = "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

/** The status each connection was answered with (0 for none) once it closed, or after 8 s. */
function answersOf(connections: RawConnection[]): Promise<number[]> {
  return Promise.all(connections.map(async (connection) => {
    await Promise.race([connection.closed, sleep(8_000)]);
    return statusOf(connection.received());
  }));
}

test(`${runtime}: on SIGTERM every publish in flight is answered 202 or 503, none is cut, and the broker exits 0`, async () => {
  const server = await startServer({ BROKER_SHUTDOWN_GRACE_MS: "1000" });
  const finishing = Array.from({ length: 10 }, () => rawConnection(server.url, declared + event.slice(0, 5)));
  const finishingChunked = Array.from({ length: 10 }, () => rawConnection(server.url, `${chunked}5\r\n${event.slice(0, 5)}\r\n`));
  const stalled = Array.from({ length: 10 }, () => rawConnection(server.url, declared + event.slice(0, 5)));
  await sleep(300);
  const started = Date.now();
  const exited = server.stop("SIGTERM");
  await sleep(200);
  for (const connection of finishing) connection.socket.write(event.slice(5));
  for (const connection of finishingChunked) connection.socket.write(`${(event.length - 5).toString(16)}\r\n${event.slice(5)}\r\n0\r\n\r\n`);
  const answers = { finishing: await answersOf(finishing), finishingChunked: await answersOf(finishingChunked), stalled: await answersOf(stalled) };
  for (const [kind, statuses] of Object.entries(answers)) {
    assert.ok(statuses.every((status) => status === 202 || status === 503), `${kind}: ${statuses.join(" ")} (0 = no answer)\n${server.output}`);
  }
  assert.deepEqual(answers.stalled, Array(10).fill(503));
  assert.equal(await Promise.race([exited, sleep(5_000).then(() => "still running")]), 0);
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
});
