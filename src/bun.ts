/** Serves the broker with Bun: `bun src/bun.ts [--flag value …]`. */
import { fileURLToPath } from "node:url";
import { loadSettingsOrExit } from "./config.ts";
import { isWorker, stopWithSupervisor, superviseWorkers } from "./process-group.ts";
import { Serving } from "./serving.ts";

export async function serveWithBun(args: readonly string[]): Promise<void> {
  const exit = (code: number) => process.exit(code);
  const settings = loadSettingsOrExit(Bun.env, args, exit);
  const worker = isWorker(Bun.env);
  if (settings.processes > 1 && !worker) return superviseWorkers([process.execPath, ...ownScript(), ...args], settings.processes);
  const serving = await Serving.open(settings, exit);
  const { host, port } = serving.settings;
  const idleTimeout = serving.idleTimeoutSeconds;
  const server = serving.listenOrExit(() => Bun.serve({
    hostname: host,
    port,
    development: false,
    reusePort: worker, // Bun 1.4 shares a port another process holds unless told not to
    idleTimeout, // Bun closes a connection whose headers take longer, and an idle one
    maxRequestBodySize: Number.MAX_SAFE_INTEGER, // routes bound bodies; Bun's 128 MiB would cut a stream open for hours
    fetch: (request) => serving.fetch(request, timer),
  }), exit);
  const timer = { hold: (held: Request) => server.timeout(held, 0), release: (held: Request) => server.timeout(held, idleTimeout) };
  for (const line of serving.listening(server.port!)) console.log(line);
  let stopped: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  // A terminal's Ctrl-C under `npm start` arrives twice (terminal and npm): the second joins the first.
  const stop = () => void (stopping ??= serving.shutdown(() => (stopped = server.stop()), () => stopped!).then(() => process.exit(0)));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  if (worker) stopWithSupervisor(stop);
}

/** The script to run again in a worker: none in a compiled binary, which is its own script. */
function ownScript(): string[] {
  return import.meta.url.includes("$bunfs") ? [] : [fileURLToPath(import.meta.url)];
}

if (import.meta.main) await serveWithBun(Bun.argv.slice(2));
