/** Serves the broker with Deno: `deno run --allow-net --allow-env --allow-read src/deno.ts [--flag value …]`. */
import { AcceptLoop, type ServeConnection } from "./accept-loop.ts";
import { loadSettingsOrExit } from "./config.ts";
import { isWorker, stopWithSupervisor, superviseWorkers } from "./process-group.ts";
import { Serving } from "./serving.ts";

export async function serveWithDeno(args: readonly string[]): Promise<void> {
  const exit = (code: number) => Deno.exit(code);
  const env = Deno.env.toObject();
  const settings = loadSettingsOrExit(env, args, exit);
  const worker = isWorker(env);
  if (settings.processes > 1 && !worker) return superviseWorkers([Deno.execPath(), "run", ...WORKER_PERMISSIONS, import.meta.url, ...args], settings.processes);
  const serving = await Serving.open(settings, exit);
  const { host, port, headerTimeoutMs } = serving.settings;
  const serveConnection = connectionServer();
  // reusePort is behind --unstable-net, which only workers are started with.
  const listener = serving.listenOrExit(() => Deno.listen({ hostname: host, port, ...(worker ? { reusePort: true } : {}) }), exit);
  for (const line of serving.listening(listener.addr.port)) console.log(line);
  const connections = new AcceptLoop<Deno.Conn>({ maxConnections: serving.budget.maxConnections, idleTimeoutMs: headerTimeoutMs, warn: console.error });
  connections.run(listener, serveConnection, (request, timer) => serving.fetch(request, timer));
  let stopping: Promise<void> | undefined;
  const stop = () => void (stopping ??= serving.shutdown(() => connections.stop(), () => connections.closeAll()).then(() => Deno.exit(0)));
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  if (worker) stopWithSupervisor(stop);
}

const WORKER_PERMISSIONS = ["--unstable-net", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys"];

/**
 * Deno 2.9's `Deno.serve` neither closes a connection whose headers never complete nor
 * survives running out of file descriptors (its accept loop ends the process), and its
 * public API offers no way around either; serving each accepted connection on its own,
 * through the internal that `Deno.serve` is built on, allows both.
 */
function connectionServer(): ServeConnection<Deno.Conn> {
  // deno-lint-ignore no-explicit-any
  const runtime = Deno as any;
  const serveHttpOnConnection = runtime[runtime.internal]?.serveHttpOnConnection;
  if (typeof serveHttpOnConnection !== "function") {
    throw new Error(`Deno ${Deno.version.deno} has no internal serveHttpOnConnection, which the broker needs (it was written for Deno 2.9)`);
  }
  const failed = () => new Response(null, { status: 500 });
  return (connection, signal, handle) =>
    serveHttpOnConnection(connection, signal, (request: Request, info: Deno.ServeHandlerInfo) => handle(request, () => info.completed), failed, () => {});
}

if (import.meta.main) await serveWithDeno(Deno.args);
