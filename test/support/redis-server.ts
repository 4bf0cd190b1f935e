// A redis-server of the tests' own: on a free port, in a temporary directory, stopped when
// done; never one that was already running. Debian's package is installed on first use
// when missing (as root, with apt-get), since npm has no Redis to offer.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

export interface RunningRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly child: ChildProcess;
  /** Stops it (SIGTERM, or `signal`) and waits for it to exit; the directory stays unless `removeDir`. */
  stop(options?: { signal?: NodeJS.Signals; removeDir?: boolean }): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => running.forEach((child) => child.kill("SIGKILL")));

/** Starts redis-server with AOF on, in `dir` (a new temporary directory by default), on `port` (a free one). */
export async function startRedis(options: { dir?: string; port?: number; appendonly?: boolean } = {}): Promise<RunningRedis> {
  const binary = redisServerBinary();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "broker-redis-"));
  const port = options.port ?? (await freePort());
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", options.appendonly === false ? "no" : "yes", "--appendfsync", "everysec", "--protected-mode", "yes"];
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    const collect = (chunk: Buffer) => {
      output += chunk;
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    child.once("exit", (code) => reject(new Error(`redis-server exited ${code}:\n${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    child,
    async stop({ signal = "SIGTERM", removeDir = false } = {}) {
      try {
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal); // Deno 2.9's child.kill drops some signals
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
      }
      if (signal !== "SIGSTOP") await exited;
      running.delete(child);
      if (removeDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

let shared: Promise<RunningRedis> | undefined;

/**
 * One redis-server for the whole test process, started on first use, without AOF or
 * snapshots: it writes nothing to its directory, which goes at once. Killed when the
 * process exits (Deno ends its children itself).
 */
export function sharedRedis(): Promise<RunningRedis> {
  shared ??= startRedis({ appendonly: false }).then((redis) => {
    rmSync(redis.dir, { recursive: true, force: true });
    return redis;
  });
  return shared;
}

function redisServerBinary(): string {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
  if (found) return found;
  if (process.getuid?.() === 0 && spawnSync("sh", ["-c", "command -v apt-get"]).status === 0) {
    execFileSync("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null"], { stdio: "inherit" });
    return redisServerBinary();
  }
  throw new Error("these tests need redis-server on the PATH (Debian: apt-get install redis-server); it is missing and cannot be installed here");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
