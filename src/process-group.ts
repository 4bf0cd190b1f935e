/**
 * `--processes N` (with Redis): this process runs N workers of itself on one port, each
 * runtime's reuse-port letting the kernel spread connections over them. It passes SIGTERM
 * and SIGINT on, exits when they have stopped, and starts again a worker that dies after
 * it started or is killed; one that exits by itself while starting (a bad setting, a taken
 * port, Redis out of reach) stops all. Workers stop with it, even when it is killed with -9.
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";

/** Set in a worker's environment: it serves, sharing the port, and starts no workers. */
export const WORKER_ENV = "BROKER_WORKER";
const STARTING_MS = 5_000;
const RESTART_AFTER_MS = 1_000;

export function isWorker(env: Record<string, string | undefined>): boolean {
  return env[WORKER_ENV] === "1";
}

/** Runs `count` workers with `command` until a signal stops them; resolves never, exits the process. */
export function superviseWorkers(command: readonly string[], count: number): Promise<never> {
  const workers = new Set<ChildProcess>();
  let stopping = false;
  const start = () => {
    const startedAt = Date.now();
    // The worker's stdin is a pipe this process holds: it closes when this process ends, however it ends.
    const worker = spawn(command[0], command.slice(1), { stdio: ["pipe", "inherit", "inherit"], env: { ...process.env, [WORKER_ENV]: "1" } });
    workers.add(worker);
    worker.once("exit", (code, signal) => {
      workers.delete(worker);
      if (stopping) return exitOnceAllStopped();
      if (signal === null && Date.now() - startedAt < STARTING_MS) {
        console.error(`event-broker: a worker stopped while starting (${signal ?? `exit ${code}`}); stopping the others`);
        return stop(code || 1);
      }
      console.error(`event-broker: worker ${worker.pid} stopped (${signal ?? `exit ${code}`}); starting another`);
      setTimeout(start, RESTART_AFTER_MS);
    });
  };
  let exitCode = 0;
  const exitOnceAllStopped = () => {
    if (workers.size === 0) process.exit(exitCode);
  };
  const stop = (code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const worker of workers) process.kill(worker.pid!, "SIGTERM"); // Deno 2.9's child.kill drops some signals
    exitOnceAllStopped();
  };
  process.on("SIGTERM", () => stop());
  process.on("SIGINT", () => stop());
  for (let i = 0; i < count; i++) start();
  return new Promise<never>(() => {});
}

/** In a worker: calls `stop` once its supervisor has ended, as its end of the worker's stdin closes. */
export function stopWithSupervisor(stop: () => void): void {
  process.stdin.once("end", stop);
  process.stdin.resume();
}
