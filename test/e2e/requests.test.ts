// Requests as real clients send them: without Host, with a body that trickles, stops, or breaks off.
import assert from "node:assert/strict";
import { test } from "node:test";
import { rawConnection, rawExchange, statusOf } from "../support/raw-http.ts";
import { runtime, startServer } from "../support/server-process.ts";
import { eventually, sleep } from "../support/wait.ts";

test(`${runtime}: a request without Host (HTTP/1.0, or an empty Host) is served like any other`, async () => {
  const server = await startServer();
  const event = '{"type":"no.host"}';
  const answers = {
    "GET /healthz HTTP/1.0": await rawExchange(server.url, "GET /healthz HTTP/1.0\r\n\r\n"),
    "GET /healthz, empty Host": await rawExchange(server.url, "GET /healthz HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n"),
    "POST /events HTTP/1.0": await rawExchange(server.url, `POST /events HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${event.length}\r\n\r\n${event}`),
    "GET /nothing HTTP/1.0": await rawExchange(server.url, "GET /nothing HTTP/1.0\r\n\r\n"),
  };
  assert.deepEqual(Object.fromEntries(Object.entries(answers).map(([what, answer]) => [what, statusOf(answer)])), {
    "GET /healthz HTTP/1.0": 200,
    "GET /healthz, empty Host": 200,
    "POST /events HTTP/1.0": 202,
    "GET /nothing HTTP/1.0": 404,
  });
  assert.match(answers["GET /nothing HTTP/1.0"], /nothing is served at GET \/nothing/);
  assert.doesNotMatch(server.output, /failed/);
  await server.stop();
});

/** Sends the headers of a chunked publish, then one chunk of `body` a second; resolves with the answer. */
function tricklePublish(url: string, parts: string[], gapMs: number): Promise<string> {
  const connection = rawConnection(url, "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
  const timer = setInterval(() => {
    const part = parts.shift();
    if (part === undefined) {
      clearInterval(timer);
      connection.socket.write("0\r\n\r\n");
    } else {
      connection.socket.write(`${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`);
    }
  }, gapMs);
  return connection.closed.then(() => {
    clearInterval(timer);
    return connection.received();
  });
}

test(`${runtime}: a body arriving one chunk a second for 15 s is read to its end and accepted`, async () => {
  const server = await startServer();
  const events = Array.from({ length: 15 }, (_, i) => JSON.stringify({ type: "slow.producer", data: i }));
  const started = Date.now();
  const answer = await tricklePublish(server.url, events.map((event, i) => (i === 0 ? "[" : ",") + event).concat("]"), 1_000);
  assert.equal(statusOf(answer), 202, `answer after ${Date.now() - started} ms: ${JSON.stringify(answer)}`);
  assert.match(answer, /"accepted":15/);
  await server.stop();
});

test(`${runtime}: a body that sends nothing for bodyIdleTimeoutMs is answered 408 problem+json`, async () => {
  const server = await startServer({ BROKER_BODY_IDLE_TIMEOUT_MS: "1500" });
  const started = Date.now();
  const silent = rawConnection(server.url, "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[{\"ty\r\n");
  const closed = await Promise.race([silent.closed.then(({ byServer }) => byServer), sleep(10_000).then(() => false)]);
  const answer = silent.received();
  assert.equal(statusOf(answer), 408, `answer after ${Date.now() - started} ms: ${JSON.stringify(answer)}`);
  assert.match(answer, /application\/problem\+json/);
  assert.match(answer, /"type":"\/problems\/body-timeout"/);
  assert.ok(Date.now() - started >= 1_400, `answered after ${Date.now() - started} ms`);
  // The client keeps its end open: the broker closes the connection itself, and lives on (Deno 2.9 used to end the process here).
  assert.ok(closed, "the broker closed the connection");
  await sleep(1_500);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  silent.close();
  await server.stop();
});

test(`${runtime}: bodies still arriving past maxIncomingBytes are refused 503 and their connections closed; the broker lives on`, async () => {
  const server = await startServer({ BROKER_MAX_BODY_BYTES: "100000", BROKER_MAX_INCOMING_BYTES: "150000" });
  const upload = (declared: number) => rawConnection(server.url, `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n[` + " ".repeat(50_000));
  const held = upload(100_000); // half sent, then silent: 100,000 bytes are its
  await sleep(300);
  const refused = upload(100_000);
  const closed = await Promise.race([refused.closed.then(({ byServer }) => byServer), sleep(5_000).then(() => false)]);
  assert.equal(statusOf(refused.received()), 503, refused.received());
  assert.match(refused.received(), /"type":"\/problems\/incoming-full"/);
  assert.ok(closed, "the broker closed the refused connection");
  held.socket.write(" ".repeat(49_998) + "]");
  await held.statusLine;
  assert.equal(statusOf(held.received()), 400, "the held body was read to its end (an empty batch)");
  await sleep(1_200);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  held.close();
  await server.stop();
});

test(`${runtime}: an upload the client breaks off logs one line`, async () => {
  const server = await startServer();
  for (const declared of [1_000, 200_000]) {
    const upload = rawConnection(server.url, `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n[{"type":"x"}`);
    await sleep(300);
    upload.close();
  }
  await eventually(async () => server.output.split("\n").filter((line) => line.includes("POST /events")).length >= 2, 5_000, "two log lines");
  await sleep(300);
  const logged = server.output.split("\n").filter((line) => line.trim() !== "" && !/listening on|^warning:|^Deno\.serve: request\.signal/.test(line));
  assert.equal(logged.length, 2, `logged:\n${logged.join("\n")}`);
  for (const line of logged) assert.match(line, /^POST \/events: the client left before its request was read/);
  await server.stop();
});
