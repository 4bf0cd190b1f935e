import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";

/** Servers still running; a failed test must not leave one behind when the runner exits. */
const running = new Set<ChildProcess>();
process.on("exit", () => running.forEach((child) => child.kill("SIGKILL")));

/** Which runtime runs this test file; the server under test is started with the same one. */
export const runtime = process.versions.bun ? "bun" : "deno";

export interface RunningServer {
  url: string;
  readonly child: ChildProcess;
  output: string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** What `npm start` sets for Bun (package.json): its allocator's purge delay, unless the caller set one. */
const purgeDelay = /MIMALLOC_PURGE_DELAY:-(\d+)/.exec(JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).scripts.start)?.[1];
const NPM_START_ENV = runtime === "bun" && purgeDelay !== undefined ? { MIMALLOC_PURGE_DELAY: purgeDelay } : {};

/**
 * Starts `npm start`'s entry point (or Deno's) on a free port, as a separate process, with
 * what `npm start` sets; with `fileLimit`, under `ulimit -n` of that many open files.
 */
export function startServer(env: Record<string, string> = {}, { viaCli = false, fileLimit = 0, port = 0 } = {}): Promise<RunningServer> {
  const entry = viaCli ? ["src/cli.ts", "serve"] : [`src/${runtime}.ts`];
  const args = [...(runtime === "bun" ? entry : ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys", "--allow-run", ...entry]), "--port", String(port)];
  const command = fileLimit ? ["sh", "-c", `ulimit -n ${fileLimit} && exec "$0" "$@"`, process.execPath, ...args] : [process.execPath, ...args];
  const child = spawn(command[0], command.slice(1), {
    env: { ...NPM_START_ENV, ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => {
    running.delete(child);
    resolve(code);
  }));
  return new Promise((resolve, reject) => {
    const server: RunningServer = {
      url: "",
      child,
      output: "",
      async stop(signal = "SIGTERM") {
        // process.kill, not child.kill: Deno 2.9's child.kill reports a signal death even when the child exits 0.
        try {
          if (child.exitCode === null) process.kill(child.pid!, signal);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error; // already gone
        }
        return await exited;
      },
    };
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${server.output}`)), 15_000);
    const collect = (chunk: Buffer) => {
      server.output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(server.output);
      if (match && !server.url) {
        clearTimeout(timer);
        server.url = match[1];
        resolve(server);
      }
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    // A request the server failed to handle is a bug whatever the test checks: show its log line.
    child.stderr!.on("data", (chunk: Buffer) => {
      if (/ failed:/.test(String(chunk))) process.stderr.write(`[server ${child.pid}] ${chunk}`);
    });
    child.once("exit", () => reject(new Error(`server exited:\n${server.output}`)));
  });
}

export function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}
