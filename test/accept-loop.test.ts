import assert from "node:assert/strict";
import { test } from "node:test";
import { AcceptLoop, type Listener, type ServeConnection } from "../src/accept-loop.ts";
import { eventually, sleep } from "./support/wait.ts";

/** A connection that knows its number, whether it was closed unserved, and whether it brings a request that never ends. */
class FakeConnection {
  refused = false;
  constructor(readonly id: number, readonly busy = false) {}
  close(): void {
    this.refused = true;
  }
}

/** A listener handing out connections on demand, or failures. */
class FakeListener implements Listener<FakeConnection> {
  readonly #queue: (FakeConnection | Error)[] = [];
  #waiting: ((next: FakeConnection | Error) => void) | null = null;
  closed = false;

  push(next: FakeConnection | Error): void {
    if (this.#waiting) this.#waiting(next);
    else this.#queue.push(next);
    this.#waiting = null;
  }

  async accept(): Promise<FakeConnection> {
    const next = this.#queue.shift() ?? (await new Promise<FakeConnection | Error>((resolve) => (this.#waiting = resolve)));
    if (next instanceof Error) throw next;
    return next;
  }

  close(): void {
    this.closed = true;
    this.push(new Error("closed"));
  }
}

/** Serves fake connections: each ends when shut down; `open` lists those still open. */
function fakeServer() {
  const open = new Set<number>();
  const serve: ServeConnection<FakeConnection> = ({ id, busy }, _signal, handle) => {
    open.add(id);
    if (busy) handle(new Request("http://broker.test/events/stream"), () => new Promise(() => {}));
    let end!: () => void;
    const finished = new Promise<void>((resolve) => (end = resolve)).then(() => void open.delete(id));
    return { finished, shutdown: async () => end() };
  };
  return { open, serve };
}

const answer = async () => new Response("ok");

test("AcceptLoop retries when accept fails, warning once, and serves what comes next", async () => {
  const warnings: string[] = [];
  const loop = new AcceptLoop<FakeConnection>({ maxConnections: 10, idleTimeoutMs: 10_000, warn: (line) => warnings.push(line) });
  const listener = new FakeListener();
  const { open, serve } = fakeServer();
  const running = loop.run(listener, serve, answer);
  listener.push(Object.assign(new Error("Too many open files (os error 24)"), { code: "EMFILE" }));
  listener.push(new Error("Too many open files (os error 24)"));
  listener.push(new FakeConnection(1));
  await eventually(async () => open.has(1), 2_000, "connection 1 served");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /accepting a connection failed \(Error: Too many open files/);
  loop.stop();
  await running;
  assert.equal(listener.closed, true);
  await loop.closeAll();
  assert.equal(open.size, 0);
});

test("AcceptLoop at maxConnections makes a newcomer wait for room, then closes the connection idle longest for it, once that idled a second", async () => {
  const loop = new AcceptLoop<FakeConnection>({ maxConnections: 2, idleTimeoutMs: 10_000 });
  const listener = new FakeListener();
  const { open, serve } = fakeServer();
  const running = loop.run(listener, serve, answer);
  listener.push(new FakeConnection(1));
  await sleep(50);
  listener.push(new FakeConnection(2));
  listener.push(new FakeConnection(3));
  await sleep(500);
  assert.deepEqual([...open], [1, 2], "3 waits");
  await eventually(async () => open.has(3), 1_000, "connection 3 served");
  assert.deepEqual([...open].sort(), [2, 3], "the idlest, 1, made room");
  loop.stop();
  await running;
  await loop.closeAll();
});

test("AcceptLoop closes a newcomer that finds no room within two seconds", async () => {
  const loop = new AcceptLoop<FakeConnection>({ maxConnections: 1, idleTimeoutMs: 10_000 });
  const listener = new FakeListener();
  const { open, serve } = fakeServer();
  const running = loop.run(listener, serve, (request, timer) => {
    timer.hold(request);
    return new Promise<Response>(() => {});
  });
  const busy = new FakeConnection(1, true);
  listener.push(busy);
  await eventually(async () => open.has(1), 1_000, "connection 1 served");
  const late = new FakeConnection(2);
  listener.push(late);
  await eventually(async () => late.refused, 3_000, "connection 2 closed unserved");
  loop.stop();
  await running;
});
