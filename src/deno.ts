/** Serves the broker with Deno: `deno run --allow-net --allow-env src/deno.ts [--flag value …]`. */
import { loadSettingsOrExit } from "./config.ts";
import { createBrokerServer, startupLines } from "./server.ts";

export function serveWithDeno(args: readonly string[]): void {
  const settings = loadSettingsOrExit(Deno.env.toObject(), args, (code) => Deno.exit(code));
  const broker = createBrokerServer(settings);
  const server = Deno.serve({
    hostname: settings.host,
    port: settings.port,
    onListen: ({ port }) => startupLines(settings, port).forEach((line) => console.log(line)),
  }, (request) => broker.app.fetch(request, {}));
  const stop = async () => {
    await broker.close();
    await server.shutdown();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}

if (import.meta.main) serveWithDeno(Deno.args);
