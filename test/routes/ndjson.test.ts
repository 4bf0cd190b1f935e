import assert from "node:assert/strict";
import { test } from "node:test";
import { mintToken } from "../../src/cli/token.ts";
import { problemOf, type TestApp, type TestStream, testApp } from "../support/app.ts";
import { eventually } from "../support/wait.ts";
import { IN_PROCESS, onlyOn } from "../support/engine-kind.ts";

const utf8 = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A request body the test writes to as a producer would, chunk by chunk, over time. */
function producer() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return {
    stream,
    write: (text: string | Uint8Array) => controller.enqueue(typeof text === "string" ? utf8.encode(text) : text),
    end: () => controller.close(),
    breakOff: () => controller.error(new Error("connection reset")),
  };
}

/** A body that makes the next chunk only when the broker reads: counts how far it has read. */
function pulledBody(chunks: string[]) {
  const read = { chunks: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (read.chunks === chunks.length) return controller.close();
      controller.enqueue(utf8.encode(chunks[read.chunks++]));
    },
  }, { highWaterMark: 0 });
  return { stream, read };
}

function postNdjson(app: Pick<TestApp, "request">, body: ReadableStream<Uint8Array> | string, headers: Record<string, string> = {}) {
  return app.request("/events", { method: "POST", headers: { "content-type": "application/x-ndjson", ...headers }, body, duplex: "half" } as RequestInit);
}

async function summaryOf(response: Response) {
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

/** The data of the next `count` events a stream receives. */
async function dataOf(stream: TestStream, count: number): Promise<unknown[]> {
  return (await stream.next(count)).map((event) => event.data);
}

const line = (data: unknown, type = "tick") => `${JSON.stringify({ type, data })}\n`;
const lines = (...data: unknown[]) => data.map((item) => line(item)).join("");

test("POST /events with application/x-ndjson accepts each line as it arrives, long before the body ends", async () => {
  const app = await testApp();
  const watcher = await app.openStream();
  // A first publish warms the engine up (on Redis: its scripts loaded, its tail running), so that what is timed is the stream's own delay.
  await app.post("/events", { type: "tick", data: 0 });
  assert.deepEqual(await dataOf(watcher, 1), [0]);
  const body = producer();
  let answered = false;
  const answer = Promise.resolve(postNdjson(app, body.stream)).then((response) => ((answered = true), response));
  for (const n of [1, 2, 3]) {
    const written = performance.now();
    body.write(line(n));
    assert.deepEqual(await dataOf(watcher, 1), [n]);
    const ms = performance.now() - written;
    assert.ok(ms < 100, `line ${n} reached a subscriber after ${ms} ms`);
    await sleep(20);
  }
  assert.equal(answered, false);
  body.end();
  assert.deepEqual(await summaryOf(await answer), { accepted: 3, first: 2, last: 4, duplicates: 0, rejected: 0, errors: [] });
  await app.close();
});

test("POST /events with NDJSON groups what has arrived, at most maxBatch lines, each group atomic, never waiting to fill one", async () => {
  const app = await testApp({ maxBatch: 3 });
  const sub = await app.subscribe();
  const body = producer();
  const answer = postNdjson(app, body.stream);
  body.write(lines(1, 2, 3, 4, 5, 6, 7));
  await eventually(async () => (await app.lastSeq()) === 7, 3_000, "the first seven lines accepted");
  body.write(line(8));
  await eventually(async () => (await app.lastSeq()) === 8, 3_000, "a line alone accepted without waiting for more");
  body.write(`${line(9)}${line(10).slice(0, 8)}`);
  await eventually(async () => (await app.lastSeq()) === 9, 3_000, "the complete line of a chunk accepted");
  body.write(line(10).slice(8));
  body.end();
  assert.equal((await summaryOf(await answer)).accepted, 10);
  const units = await app.pull(sub.id, { max: 1_000 });
  assert.deepEqual(units.map((unit) => unit.events.map((event) => JSON.parse(event.json).data)), [[1, 2, 3], [4, 5, 6], [7], [8], [9], [10]]);
  await app.close();
});

test("POST /events with NDJSON refuses each bad line alone, reports it by number, and accepts the rest in order", async () => {
  const app = await testApp({ maxBodyBytes: 100 });
  const watcher = await app.openStream();
  const body = [
    line(1),
    "not json\n",
    line(3),
    '{"type":7,"time":"noon"}\n',
    "   \n",
    '{"type":"tick","data":1e400}\n',
    line("x".repeat(200)),
    line(8).replace("\n", "\r\n"),
    new Uint8Array([0xff, 0xfe, 0x0a]),
    '{"type":"tick","data":[-1e999]}\n',
    '{"type":"tick","data":11}',
  ];
  const chunk = new Uint8Array(body.reduce<number[]>((all, part) => [...all, ...(typeof part === "string" ? utf8.encode(part) : part)], []));
  const summary = await summaryOf(await postNdjson(app, new Response(chunk).body!));
  assert.deepEqual(await dataOf(watcher, 4), [1, 3, 8, 11]);
  assert.deepEqual({ ...summary, errors: undefined }, { accepted: 4, first: 1, last: 4, duplicates: 0, rejected: 6, errors: undefined });
  assert.deepEqual(summary.errors.map(({ line, status, errors }: { line: number; status: number; errors: { path: string }[] }) => [line, status, errors.map((error) => error.path).sort()]), [
    [2, 400, [""]],
    [4, 400, ["/time", "/type"]],
    [6, 400, ["/data"]],
    [7, 413, [""]],
    [9, 400, [""]],
    [10, 400, ["/data/0"]],
  ]);
  assert.match(summary.errors[0].errors[0].message, /is not valid JSON/);
  assert.match(summary.errors[3].errors[0].message, /longer than 100 bytes/);
  await app.close();
});

test("POST /events with NDJSON accepts the good lines of a group that holds a bad one as one atomic group", async () => {
  const app = await testApp();
  const sub = await app.subscribe();
  const summary = await summaryOf(await postNdjson(app, `${line(1)}{"type":"bad type"}\n${line(3)}{"type":"ok","source":""}\n${line(5)}`));
  assert.deepEqual(summary.errors.map((refusal: { line: number }) => refusal.line), [2, 4]);
  const units = await app.pull(sub.id, { max: 1_000 });
  assert.deepEqual(units.map((unit) => unit.events.map((event) => event.seq)), [[1, 2, 3]]);
  await app.close();
});

test("POST /events with NDJSON: maxBodyBytes bounds each line, not the stream", async () => {
  const app = await testApp({ maxBodyBytes: 200 });
  const body = pulledBody(Array.from({ length: 100 }, (_, i) => line(`event ${i} ${"x".repeat(100)}`)));
  const summary = await summaryOf(await postNdjson(app, body.stream, { "content-length": "20000" }));
  assert.equal(summary.accepted, 100);
  assert.equal(summary.rejected, 0);
  await app.close();
});

test("POST /events with NDJSON refuses a group of bad lines with linear work: no line is validated more than three times", async () => {
  const app = await testApp();
  let validated = 0;
  for (const { engine } of app.instances) {
    const sendBatch = engine.sendBatch.bind(engine);
    engine.sendBatch = (events, options) => {
      validated += events.length;
      return sendBatch(events, options);
    };
  }
  const text = `${line("first")}${'{"type":"tick","data":1e400}\n'.repeat(998)}${line("last")}`;
  const summary = await summaryOf(await postNdjson(app, text));
  assert.equal(summary.rejected, 998);
  assert.equal(summary.accepted, 2);
  assert.ok(validated <= 3 * 1_000, `${validated} events validated for 1,000 lines`);
  await app.close();
});

test("POST /events with NDJSON lists the first 100 bad lines by number, ten issues each, and counts them all", async () => {
  const app = await testApp();
  const manyIssues = JSON.stringify(Object.fromEntries([["type", "a"], ...Array.from({ length: 30 }, (_, i) => [`Bad_${i}`, 1])]));
  const text = `${manyIssues}\n${"nope\n".repeat(149)}${line("good")}`;
  const summary = await summaryOf(await postNdjson(app, text));
  assert.equal(summary.rejected, 150);
  assert.equal(summary.accepted, 1);
  assert.deepEqual(summary.errors.map((refusal: { line: number }) => refusal.line), Array.from({ length: 100 }, (_, i) => i + 1));
  assert.equal(summary.errors[0].errors.length, 11);
  assert.deepEqual(summary.errors[0].errors[10], { path: "", message: "and 20 more issues, not listed" });
  await app.close();
});

test("POST /events with NDJSON counts duplicates within a group and across groups", async () => {
  const app = await testApp();
  const event = `${JSON.stringify({ type: "a", source: "/p", id: "o-1" })}\n`;
  const body = producer();
  const answer = postNdjson(app, body.stream);
  body.write(event + event);
  await eventually(async () => (await app.lastSeq()) === 1, 3_000, "the first line accepted");
  body.write(event);
  body.end();
  assert.deepEqual(await summaryOf(await answer), { accepted: 1, first: 1, last: 1, duplicates: 2, rejected: 0, errors: [] });
  await app.close();
});

test("POST /events with NDJSON refuses a line of a type the token may not publish, 403, and accepts the others", async () => {
  const secret = "a-test-secret-that-is-long-enough-1234";
  const app = await testApp({ jwtSecret: secret });
  const token = await mintToken(secret, { sub: "p", publish: ["order.*"], subscribe: [], ttlSeconds: 600 });
  const sub = await app.subscribe();
  const text = `${line(1, "order.new")}${line(2, "audit.read")}${line(3, "audit.read")}${line(4, "order.paid")}`;
  const summary = await summaryOf(await postNdjson(app, text, { authorization: `Bearer ${token}` }));
  const forbidden = { status: 403, errors: [{ path: "/type", message: "is a type this token may not publish" }] };
  assert.deepEqual(summary, { accepted: 2, first: 1, last: 2, duplicates: 0, rejected: 2, errors: [{ line: 2, ...forbidden }, { line: 3, ...forbidden }] });
  const units = await app.pull(sub.id, { max: 1_000 });
  assert.deepEqual(units.map((unit) => unit.events.map((event) => event.seq)), [[1, 2]], "the allowed lines went in as one group");
  await app.close();
});

test("POST /events with NDJSON stops reading while a required backlog is full and resumes when acked, losing and reordering nothing", async () => {
  const app = await testApp();
  const sub = await app.subscribe({ maxBacklog: 2 });
  const body = pulledBody([line(1), line(2), line(3), lines(4, 5, 6, 7, 8), line(9)]);
  const answer = postNdjson(app, body.stream);
  await eventually(async () => (await app.lastSeq()) === 2, 3_000, "two lines accepted");
  await sleep(200);
  assert.equal(await app.lastSeq(), 2);
  assert.equal(body.read.chunks, 3, "read on past a line it could not accept");
  const seen: unknown[] = [];
  while (seen.length < 9) {
    const units = await app.pull(sub.id, { max: 100 });
    for (const unit of units) seen.push(...unit.events.map((event) => JSON.parse(event.json).data));
    if (units.length > 0) await app.ack(sub.id, units.at(-1)!.events.at(-1)!.seq);
    await sleep(5);
  }
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(await summaryOf(await answer), { accepted: 9, first: 1, last: 9, duplicates: 0, rejected: 0, errors: [] });
  await app.close();
});

test("POST /events with NDJSON waits while the memory budget for required backlogs is spent", onlyOn(IN_PROCESS, "Redis keeps required backlogs, not this process's memory budget"), async () => {
  const app = await testApp({ memoryBudgetBytes: 2_097_152, maxBodyBytes: 600_000 });
  const sub = await app.subscribe();
  const answer = postNdjson(app, pulledBody([line("x".repeat(500_000)), line("y".repeat(500_000))]).stream);
  await eventually(async () => (await app.lastSeq()) === 1, 3_000, "the first large line accepted");
  await sleep(100);
  assert.equal(await app.lastSeq(), 1);
  await app.ack(sub.id, (await app.pull(sub.id))[0].events[0].seq);
  assert.equal((await summaryOf(await answer)).accepted, 2);
  await app.close();
});

test("POST /events with NDJSON keeps what was accepted when the connection breaks, and not a line cut short", async () => {
  const app = await testApp();
  const body = producer();
  const answer = postNdjson(app, body.stream);
  body.write(`${line(1)}{"type":"cut"}`);
  await eventually(async () => (await app.lastSeq()) === 1, 3_000, "the first line accepted");
  body.breakOff();
  await answer;
  await sleep(50);
  assert.equal(await app.lastSeq(), 1);
  await app.close();
});

test("POST /events with NDJSON: a partial line that does not fit among the bodies still arriving ends its stream 503 with what it accepted", async () => {
  const app = await testApp({ maxBodyBytes: 1_024, maxIncomingBytes: 1_536 });
  const one = app.one(); // the bound is each process's: every stream here goes to the same one
  const [first, second] = [producer(), producer()];
  const firstAnswer = postNdjson(one, first.stream);
  first.write(line(1) + '{"type":"tick","data":"' + "x".repeat(990)); // a partial line of 1,013 bytes held
  await eventually(async () => (await app.lastSeq()) === 1, 3_000, "the first stream's line accepted");
  await sleep(20); // and what it holds of the next counted, right after
  const secondAnswer = postNdjson(one, second.stream);
  second.write(line(2) + '{"type":"tick","data":"' + "y".repeat(600));
  const problem = await problemOf(await secondAnswer, 503);
  assert.equal(problem.type, "/problems/incoming-full");
  assert.deepEqual(problem.summary, { accepted: 1, first: 2, last: 2, duplicates: 0, rejected: 0, errors: [] });
  first.write('"}\n');
  first.end();
  assert.deepEqual(await summaryOf(await firstAnswer), { accepted: 2, first: 1, last: 3, duplicates: 0, rejected: 0, errors: [] });
  for (let round = 0; round < 2; round++) { // what each held is given back, a last line without its line break too
    const next = producer();
    const answer = postNdjson(one, next.stream);
    next.write('{"type":"tick","data":"' + "z".repeat(990) + '"}');
    next.end();
    assert.equal((await summaryOf(await answer)).accepted, 1, `round ${round}`);
  }
  await app.close();
});

test("POST /events with NDJSON answers 503 with what it accepted when the broker shuts down mid-stream", async () => {
  const app = await testApp();
  const body = producer();
  const answer = postNdjson(app, body.stream);
  body.write(line(1));
  await eventually(async () => (await app.lastSeq()) === 1, 3_000, "the first line accepted");
  await app.close();
  const problem = await problemOf(await answer, 503);
  assert.deepEqual(problem.summary, { accepted: 1, first: 1, last: 1, duplicates: 0, rejected: 0, errors: [] });
});

test("POST /events with NDJSON answers 401 with what it accepted once the token expires mid-stream", async () => {
  const secret = "a-test-secret-that-is-long-enough-1234";
  const app = await testApp({ jwtSecret: secret });
  const token = await mintToken(secret, { sub: "p", publish: ["*"], subscribe: [], ttlSeconds: 2 });
  const body = producer();
  const answer = postNdjson(app, body.stream, { authorization: `Bearer ${token}` });
  body.write(line(1));
  const problem = await problemOf(await answer, 401);
  assert.match(String(problem.detail), /expired/);
  assert.equal((problem.summary as { accepted: number }).accepted, 1);
  await app.close();
});

test("POST /events reads application/jsonl as NDJSON and refuses application/json-seq with 415", async () => {
  const app = await testApp();
  assert.equal((await summaryOf(await postNdjson(app, lines(1, 2), { "content-type": "application/jsonl; charset=utf-8" }))).accepted, 2);
  await problemOf(await postNdjson(app, `\u001e${line(3)}`, { "content-type": "application/json-seq" }), 415);
  assert.equal(await app.lastSeq(), 2);
  await app.close();
});

test("PUT /events is POST /events: curl -T - sends PUT, as the contract's tail -f example does", async () => {
  const app = await testApp();
  const response = await app.request("/events", { method: "PUT", headers: { "content-type": "application/x-ndjson" }, body: '{"type":"a"}\n{"type":"b"}\n' });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).accepted, 2);
  const single = await app.request("/events", { method: "PUT", headers: { "content-type": "application/json" }, body: '{"type":"c"}' });
  assert.equal(single.status, 202);
  assert.equal(await app.lastSeq(), 3);
  await app.close();
});
