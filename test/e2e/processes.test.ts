// --processes N on Redis: N workers of one broker on one port; a worker that dies is
// replaced, SIGTERM stops them all, and so does the supervisor's death; without Redis or a
// fixed port it is refused at start.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import process from "node:process";
import { test } from "node:test";
import { rawExchange } from "../support/raw-http.ts";
import { startRedis } from "../support/redis-server.ts";
import { postJson, runtime, startServer } from "../support/server-process.ts";
import { eventually } from "../support/wait.ts";

/** The pids of `pid`'s children. */
function childrenOf(pid: number): number[] {
  return spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).map(Number);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts connections on `port`. */
async function listening(port: number): Promise<boolean> {
  return await fetch(`http://127.0.0.1:${port}/healthz`).then(async (response) => (await response.body?.cancel(), true), () => false);
}

test(`${runtime}: --processes 2 serves one broker from two workers on one port, replaces a worker killed with -9, and stops on SIGTERM`, { timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const port = await freePort();
  const group = await startServer({ BROKER_REDIS_URL: redis.url, BROKER_PROCESSES: "2" }, { port });
  try {
    await eventually(async () => childrenOf(group.child.pid!).length === 2, 10_000, "two workers");
    await eventually(async () => (group.output.match(/listening on/g) ?? []).length === 2, 10_000, "both listening");
    const seqs: number[] = [];
    for (let i = 0; i < 41; i++) { // an odd number: two workers cannot have accepted as many each
      const response = await fetch(`${group.url}/events`, { method: "POST", headers: { "content-type": "application/json", connection: "close" }, body: '{"type":"a"}' });
      seqs.push((await response.json()).first);
    }
    assert.deepEqual(seqs, Array.from({ length: 41 }, (_, i) => i + 1), "one seq order across the workers");
    const counts = new Set<string>(); // each worker counts what it accepted: two counts, two workers at work
    for (let i = 0; i < 20; i++) { // each on a connection of its own (fetch may reuse one whatever it is told)
      const metrics = await rawExchange(group.url, `GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      counts.add(/^broker_events_accepted_total (\d+)/m.exec(metrics)![1]);
    }
    assert.equal(counts.size, 2, `connections reached both workers (accepted counts seen: ${[...counts]})`);

    const [victim] = childrenOf(group.child.pid!);
    process.kill(victim, "SIGKILL");
    await eventually(async () => {
      const workers = childrenOf(group.child.pid!);
      return workers.length === 2 && !workers.includes(victim);
    }, 15_000, "a new worker in place of the killed one");
    await eventually(async () => (group.output.match(/listening on/g) ?? []).length === 3, 10_000, "the new worker listening");
    assert.equal((await postJson(`${group.url}/events`, { type: "a" })).status, 202);

    const workers = childrenOf(group.child.pid!);
    assert.equal(await group.stop("SIGTERM"), 0);
    for (const pid of workers) assert.throws(() => process.kill(pid, 0), "every worker stopped");
    assert.equal(await listening(port), false, "the port is free");
  } finally {
    const workers = childrenOf(group.child.pid!); // in case they outlive a failed test
    await group.stop("SIGKILL");
    for (const pid of workers) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await redis.stop({ signal: "SIGKILL", removeDir: true });
  }
});

test(`${runtime}: a supervisor killed with -9 takes its workers with it, and the port is free again`, { timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const port = await freePort();
  const group = await startServer({ BROKER_REDIS_URL: redis.url, BROKER_PROCESSES: "2" }, { port });
  const workers: number[] = [];
  try {
    await eventually(async () => (group.output.match(/listening on/g) ?? []).length === 2, 10_000, "both workers listening");
    workers.push(...childrenOf(group.child.pid!));
    assert.equal(workers.length, 2);
    await group.stop("SIGKILL");
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await eventually(async () => !workers.some(alive), 15_000, "both workers gone");
    assert.equal(await listening(port), false, "the port is free");
  } finally {
    for (const pid of workers) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone, as they should be
      }
    }
    await redis.stop({ signal: "SIGKILL", removeDir: true });
  }
});

test(`${runtime}: --processes above 1 without Redis, or on port 0, is refused at start naming the setting`, { timeout: 30_000 }, async () => {
  await assert.rejects(startServer({ BROKER_PROCESSES: "2" }, { port: await freePort() }), /processes.*BROKER_REDIS_URL/s);
  await assert.rejects(startServer({ BROKER_PROCESSES: "2", BROKER_REDIS_URL: "redis://127.0.0.1:1" }), /processes.*fixed port/s);
});

test(`${runtime}: --processes 2 on a port another broker holds stops in one line, and the other goes on`, { timeout: 30_000 }, async () => {
  const redis = await startRedis();
  const first = await startServer();
  try {
    const port = Number(new URL(first.url).port);
    await assert.rejects(startServer({ BROKER_REDIS_URL: redis.url, BROKER_PROCESSES: "2" }, { port }), /the port is taken by another process/);
    assert.equal((await fetch(`${first.url}/healthz`)).status, 200);
  } finally {
    await first.stop();
    await redis.stop({ signal: "SIGKILL", removeDir: true });
  }
});
