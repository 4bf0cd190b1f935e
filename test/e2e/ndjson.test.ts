// Streamed ingestion against the real server: curl uploading a pipe, and a shutdown mid-stream.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { SseReader } from "../support/sse.ts";
import { runtime, startServer } from "../support/server-process.ts";
import { sleep } from "../support/wait.ts";

/** `producer | curl -T - -H 'content-type: application/x-ndjson' URL`: the test writes curl's stdin over time. */
function curlUpload(url: string, method: string[] = ["-X", "POST"]) {
  const curl = spawn("curl", ["-sS", ...method, "-T", "-", "-H", "content-type: application/x-ndjson", "-w", "\n%{http_code}", url], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  curl.stdout.on("data", (chunk) => (output += chunk));
  curl.stderr.on("data", (chunk) => (output += chunk));
  let exited = false;
  const answer = new Promise<{ status: number; body: string }>((resolve) =>
    curl.once("exit", () => {
      exited = true;
      const cut = output.lastIndexOf("\n");
      resolve({ status: Number(output.slice(cut + 1)), body: output.slice(0, cut) });
    })
  );
  return { write: (text: string) => curl.stdin.write(text), end: () => curl.stdin.end(), answer, exited: () => exited, kill: () => curl.kill() };
}

test(`${runtime}: lines piped through curl -T - reach a stream within 100 ms each, long before the body ends`, { timeout: 30_000 }, async () => {
  const server = await startServer();
  const reader = new SseReader((await fetch(`${server.url}/events/stream`)).body!);
  await reader.until((message) => message.event === "broker.subscribed");
  const upload = curlUpload(`${server.url}/events`);
  const latenciesMs: number[] = [];
  try {
    for (let n = 1; n <= 8; n++) {
      const text = `${JSON.stringify({ type: "log.line", data: { n } })}\n`;
      if (n === 4) upload.write("not json\n");
      // Line 6 comes in two writes: nothing of it is accepted before its end arrives.
      if (n === 6) {
        upload.write(text.slice(0, 10));
        await sleep(300);
      }
      const written = performance.now();
      upload.write(n === 6 ? text.slice(10) : text);
      const [message] = await reader.until((m) => m.id !== undefined, 2_000);
      latenciesMs.push(Math.round(performance.now() - written));
      assert.equal(JSON.parse(message.data).data.n, n);
      assert.equal(upload.exited(), false, "curl is still sending");
      await sleep(600);
    }
  } finally {
    upload.end();
  }
  assert.ok(latenciesMs.every((ms) => ms < 100), `latencies ${latenciesMs.join(", ")} ms`);
  const { status, body } = await upload.answer;
  assert.equal(status, 200, body);
  const summary = JSON.parse(body);
  assert.deepEqual({ ...summary, errors: summary.errors.map((error: { line: number }) => error.line) }, {
    accepted: 8, first: 1, last: 8, duplicates: 0, rejected: 1, errors: [4],
  });
  await reader.cancel();
  assert.equal(await server.stop(), 0);
});

test(`${runtime}: a shutdown mid-stream answers the producer 503 with what was accepted, and the server exits`, { timeout: 30_000 }, async () => {
  const server = await startServer();
  const upload = curlUpload(`${server.url}/events`);
  upload.write('{"type":"a"}\n{"type":"b"}\n');
  try {
    for (let seq = 0; seq < 2; await sleep(20)) seq = (await (await fetch(`${server.url}/healthz`)).json()).lastSeq;
    const started = Date.now();
    const stopped = server.stop();
    await sleep(500);
    upload.end(); // curl shows the answer once its input ends; Deno 2.9's shutdown waits for that too
    const { status, body } = await upload.answer;
    assert.equal(status, 503, body);
    assert.deepEqual(JSON.parse(body).summary, { accepted: 2, first: 1, last: 2, duplicates: 0, rejected: 0, errors: [] });
    assert.equal(await stopped, 0);
    assert.ok(Date.now() - started < 5_000, `the server took ${Date.now() - started} ms to stop`);
  } finally {
    upload.kill();
  }
});

test(`${runtime}: a line stream silent for longer than bodyIdleTimeoutMs is not cut: tail -f may wait hours for a line`, { timeout: 30_000 }, async () => {
  const server = await startServer({ BROKER_BODY_IDLE_TIMEOUT_MS: "1000" });
  const upload = curlUpload(`${server.url}/events`, []); // curl -T - alone sends PUT, as the contract's example does
  upload.write(`${JSON.stringify({ type: "a" })}\n`);
  await sleep(2_500);
  upload.write(`${JSON.stringify({ type: "b" })}\n`);
  upload.end();
  const { status, body } = await upload.answer;
  assert.equal(status, 200, body);
  assert.equal(JSON.parse(body).accepted, 2);
  assert.equal(await server.stop(), 0);
});
